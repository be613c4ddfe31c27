//! Binance USD-M replies: order (new order and status query), positions, open orders.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::venue::reply::{FirstOf, OrderReply, VenueOpenOrder, VenueStatus, VenueTrade};

#[derive(Deserialize)]
struct BinanceOrderJson<'a> {
    #[serde(default, borrow)]
    status: Option<&'a str>,
    #[serde(default, rename = "orderId")]
    order_id: Option<u64>,
    #[serde(default, rename = "avgPrice", borrow)]
    avg_price: Option<&'a str>,
    #[serde(default, rename = "executedQty", borrow)]
    executed_qty: Option<&'a str>,
    #[serde(default)]
    code: Option<i64>,
}

#[derive(Deserialize)]
struct BinanceOpenOrderJson {
    symbol: String,
    #[serde(rename = "clientOrderId")]
    client_order_id: String,
    #[serde(rename = "orderId")]
    order_id: u64,
}

#[derive(Deserialize)]
struct BinanceUserTradeJson {
    id: u64,
    #[serde(rename = "orderId")]
    order_id: u64,
    side: String,
    price: String,
    qty: String,
    commission: String,
    time: u64,
}

#[derive(Deserialize)]
struct BinancePositionRowJson<'a> {
    #[serde(rename = "positionAmt", borrow)]
    position_amt: &'a str,
}

/// Reads a Binance USD-M order reply (`POST /fapi/v1/order` or `GET /fapi/v1/order`):
/// any status with a positive executed quantity → filled at `avgPrice` (with the status), `NEW`
/// → working, cancelled/expired/rejected without a fill → closed; `code` -2013 → not found, other codes →
/// error, 5xx or an unreadable body → unknown. No allocation.
pub fn parse_order(status: u16, body: &[u8]) -> OrderReply {
    let Ok(j) = serde_json::from_slice::<BinanceOrderJson<'_>>(body) else {
        return OrderReply::Unknown;
    };
    if let Some(code) = j.code.filter(|_| status != 200) {
        return if code == -2013 {
            OrderReply::NotFound
        } else {
            OrderReply::Error { code }
        };
    }
    if status != 200 {
        return OrderReply::Unknown;
    }
    let order_id = j.order_id.unwrap_or(0);
    let dec = |v: Option<&str>| v.and_then(|s| Decimal::from_str(s).ok());
    let status = match j.status {
        Some("FILLED") => VenueStatus::Filled,
        Some("PARTIALLY_FILLED") => VenueStatus::PartiallyFilled,
        Some("NEW") => return OrderReply::Accepted { order_id },
        Some("CANCELED") => VenueStatus::Cancelled,
        Some("EXPIRED") | Some("EXPIRED_IN_MATCH") => VenueStatus::Expired,
        Some("REJECTED") => VenueStatus::Rejected,
        _ => return OrderReply::Unknown,
    };
    match (dec(j.avg_price), dec(j.executed_qty)) {
        (Some(price), Some(qty)) if qty > Decimal::ZERO && price > Decimal::ZERO => {
            OrderReply::Filled {
                status,
                order_id,
                price,
                qty,
            }
        }
        _ if matches!(status, VenueStatus::Filled | VenueStatus::PartiallyFilled) => {
            OrderReply::Accepted { order_id }
        }
        _ => OrderReply::Closed,
    }
}

/// Reads a one-symbol `GET /fapi/v2/positionRisk?symbol=` reply: the signed `positionAmt` (no
/// row = flat), `None` when not understood. No allocation.
pub fn parse_position(body: &[u8]) -> Option<Decimal> {
    let rows: FirstOf<BinancePositionRowJson<'_>> = serde_json::from_slice(body).ok()?;
    match rows.0 {
        None => Some(Decimal::ZERO),
        Some(r) => Decimal::from_str(r.position_amt).ok(),
    }
}

/// Reads a `GET /fapi/v1/userTrades` reply (cold path): the rows in the venue's order (by
/// trade id); a row with an unknown side or a malformed number is an error, never skipped.
pub fn parse_user_trades(body: &[u8]) -> Result<Vec<VenueTrade>, String> {
    // A refusal (`{"code":-1007,"msg":"…"}`) is said by its code; the status is not known here.
    if let Some(e) = crate::venue::error::VenueError::from_binance(200, body) {
        return Err(format!("userTrades: code {} {}", e.code, e.msg));
    }
    let rows: Vec<BinanceUserTradeJson> =
        serde_json::from_slice(body).map_err(|e| format!("userTrades reply: {e}"))?;
    let num = |what: &str, v: &str| {
        Decimal::from_str(v).map_err(|e| format!("userTrades reply: {what} {v:?}: {e}"))
    };
    rows.into_iter()
        .map(|r| {
            let side = match r.side.as_str() {
                "BUY" => crate::types::Side::Buy,
                "SELL" => crate::types::Side::Sell,
                other => return Err(format!("userTrades reply: side {other:?}")),
            };
            Ok(VenueTrade {
                id: r.id,
                order_id: r.order_id,
                client_id: String::new(),
                side,
                price: num("price", &r.price)?,
                qty: num("qty", &r.qty)?,
                fee: num("commission", &r.commission)?,
                time_ms: r.time,
                listed: Default::default(),
            })
        })
        .collect()
}

/// Reads a `GET /fapi/v1/openOrders` reply (cold path).
pub fn parse_open_orders(body: &[u8]) -> Result<Vec<VenueOpenOrder>, String> {
    let rows: Vec<BinanceOpenOrderJson> =
        serde_json::from_slice(body).map_err(|e| format!("openOrders reply: {e}"))?;
    Ok(rows
        .into_iter()
        .map(|r| VenueOpenOrder {
            symbol: r.symbol,
            client_id: r.client_order_id,
            order_id: r.order_id,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused `userTrades` read (the venue's error object, not a list) is said by its
    /// code and message.
    #[test]
    fn a_refused_user_trades_read_is_said_by_its_code() {
        let body = br#"{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}"#;
        let e = parse_user_trades(body).unwrap_err();
        assert!(
            e.starts_with("userTrades: code -1007 Timeout waiting"),
            "{e}"
        );
        assert!(parse_user_trades(b"[]").unwrap().is_empty());
    }
}
