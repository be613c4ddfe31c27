//! Bybit v5 private stream (`wss://stream.bybit.com/v5/private`): the `auth` request, the
//! subscription, and the `order`, `execution`, `position` and `wallet` topics parsed into
//! [`AccountEvent`]s without allocating (borrowed strings, inline batches).

use serde::Deserialize;

use crate::types::{
    AccountEvent, OrderOrigin, OrderUpdate, ParseError, StreamFill, SymbolId, SymbolTable,
    VenueStatus,
};
use crate::venue::bybit::market::trade_id_hash;
use crate::venue::private::{client_id, dec, side, Batch, PrivateFrame, SkipSeq};
use crate::venue::sign::Signer;

/// The topics this program subscribes to.
pub const TOPICS: [&str; 4] = ["order", "execution", "position", "wallet"];

/// The `auth` request: `{"op":"auth","args":[api_key, expires_ms, hex(HMAC(secret,
/// "GET/realtime" + expires_ms))]}`. Cold path (once per connection).
pub fn auth_request(api_key: &str, secret: &[u8], expires_ms: u64) -> String {
    let mut sig = [0u8; 64];
    let payload = format!("GET/realtime{expires_ms}");
    Signer::new(secret).sign_hex(payload.as_bytes(), &mut sig);
    let sig = std::str::from_utf8(&sig).unwrap_or_default();
    format!(r#"{{"op":"auth","args":["{api_key}",{expires_ms},"{sig}"]}}"#)
}

/// The subscription to [`TOPICS`].
pub fn subscribe_request() -> String {
    format!(
        r#"{{"op":"subscribe","args":["{}"]}}"#,
        TOPICS.join("\",\"")
    )
}

/// The heartbeat, every 20 s.
pub const PING: &str = r#"{"op":"ping"}"#;

#[derive(Deserialize)]
struct FrameJson<'a> {
    #[serde(default, borrow)]
    op: Option<&'a str>,
    #[serde(default)]
    success: Option<bool>,
    #[serde(default, borrow)]
    topic: Option<&'a str>,
    #[serde(default, rename = "creationTime")]
    creation_time: u64,
    #[serde(default, borrow)]
    data: Option<Batch<RowJson<'a>>>,
}

/// The union of the fields used from the four topics' rows.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RowJson<'a> {
    #[serde(borrow)]
    category: &'a str,
    #[serde(borrow)]
    symbol: &'a str,
    #[serde(borrow)]
    side: &'a str,
    #[serde(rename = "orderLinkId", borrow)]
    order_link_id: &'a str,
    #[serde(rename = "orderStatus", borrow)]
    order_status: &'a str,
    #[serde(rename = "cumExecQty", borrow)]
    cum_exec_qty: &'a str,
    #[serde(rename = "avgPrice", borrow)]
    avg_price: &'a str,
    #[serde(rename = "createType", borrow)]
    create_type: &'a str,
    #[serde(rename = "stopOrderType", borrow)]
    stop_order_type: &'a str,
    #[serde(rename = "updatedTime", borrow)]
    updated_time: &'a str,
    #[serde(rename = "execId", borrow)]
    exec_id: &'a str,
    #[serde(rename = "execPrice", borrow)]
    exec_price: &'a str,
    #[serde(rename = "execQty", borrow)]
    exec_qty: &'a str,
    #[serde(rename = "execFee", borrow)]
    exec_fee: &'a str,
    #[serde(rename = "execType", borrow)]
    exec_type: &'a str,
    #[serde(rename = "execTime", borrow)]
    exec_time: &'a str,
    #[serde(borrow)]
    size: &'a str,
    #[serde(rename = "entryPrice", borrow)]
    entry_price: &'a str,
    #[serde(rename = "totalWalletBalance", borrow)]
    total_wallet_balance: &'a str,
    #[serde(rename = "totalAvailableBalance", borrow)]
    total_available_balance: &'a str,
    /// Arrays of objects, skipped without allocating (see [`SkipSeq`]).
    #[serde(rename = "extraFees")]
    _extra_fees: SkipSeq,
    #[serde(rename = "coin")]
    _coin: SkipSeq,
}

/// Parses one frame of the private stream; every account event goes to `on`.
pub fn parse(
    frame: &[u8],
    symbols: &SymbolTable,
    on: &mut impl FnMut(AccountEvent),
) -> Result<PrivateFrame, ParseError> {
    let f: FrameJson<'_> = serde_json::from_slice(frame).map_err(|_| ParseError::Json)?;
    match (f.op, f.topic) {
        (Some("auth"), _) => return Ok(PrivateFrame::Auth(f.success == Some(true))),
        (Some("subscribe"), _) => return Ok(PrivateFrame::Subscribed(f.success == Some(true))),
        (Some("pong" | "ping"), _) => return Ok(PrivateFrame::Pong),
        (_, None) => return Ok(PrivateFrame::Other),
        _ => {}
    }
    let topic = f.topic.unwrap_or_default();
    // `order.linear` and friends are the category-specific forms of the same topics.
    let kind = topic.split('.').next().unwrap_or_default();
    let Some(rows) = f.data else {
        return Err(ParseError::MissingField("data"));
    };
    let (mut events, mut skipped) = (0, 0);
    for row in rows.iter() {
        let event = match kind {
            "wallet" => wallet(row)?,
            _ if !row.category.is_empty() && row.category != "linear" => None,
            _ => match symbols.lookup(row.symbol) {
                None => None,
                Some(symbol) => match kind {
                    "order" => Some(order(row, symbol, f.creation_time)?),
                    "execution" => execution(row, symbol, f.creation_time)?,
                    "position" => Some(position(row, symbol)?),
                    _ => return Ok(PrivateFrame::Other),
                },
            },
        };
        match event {
            Some(e) => {
                on(e);
                events += 1;
            }
            None => skipped += 1,
        }
    }
    Ok(PrivateFrame::Events {
        events,
        skipped,
        overflow: rows.overflow,
    })
}

fn ms(v: &str, fallback: u64) -> u64 {
    v.parse().unwrap_or(fallback)
}

/// Who made the order: `createType` first, then the execution type, then `stopOrderType`.
fn origin(row: &RowJson<'_>) -> OrderOrigin {
    match (row.create_type, row.exec_type) {
        (_, "BustTrade") | ("CreateByLiq" | "CreateByTakeOver_PassThrough", _) => {
            OrderOrigin::Liquidation
        }
        (_, "AdlTrade") | ("CreateByAdl_PassThrough", _) => OrderOrigin::Adl,
        (
            "CreateByTakeProfit"
            | "CreateByStopLoss"
            | "CreateByTrailingStop"
            | "CreateByPartialTakeProfit"
            | "CreateByPartialStopLoss"
            | "CreateByStopOrder",
            _,
        ) => OrderOrigin::VenueStop,
        ("", _)
            if matches!(
                row.stop_order_type,
                "TakeProfit"
                    | "StopLoss"
                    | "TrailingStop"
                    | "PartialTakeProfit"
                    | "PartialStopLoss"
            ) =>
        {
            OrderOrigin::VenueStop
        }
        _ => OrderOrigin::Client,
    }
}

fn status(v: &str) -> Result<VenueStatus, ParseError> {
    Ok(match v {
        "New" | "Untriggered" | "Created" | "Triggered" | "Active" => VenueStatus::New,
        "PartiallyFilled" => VenueStatus::PartiallyFilled,
        "Filled" => VenueStatus::Filled,
        "Cancelled" | "PartiallyFilledCanceled" => VenueStatus::Cancelled,
        "Rejected" => VenueStatus::Rejected,
        "Deactivated" => VenueStatus::Expired,
        _ => return Err(ParseError::MissingField("orderStatus")),
    })
}

fn order(row: &RowJson<'_>, symbol: SymbolId, ts: u64) -> Result<AccountEvent, ParseError> {
    Ok(AccountEvent::Order(OrderUpdate {
        symbol,
        client_id: client_id(row.order_link_id),
        side: side(row.side)?,
        status: status(row.order_status)?,
        cum_qty: dec("cumExecQty", row.cum_exec_qty)?,
        avg_price: dec("avgPrice", row.avg_price)?,
        origin: origin(row),
        ts_ms: ms(row.updated_time, ts),
    }))
}

/// A trade execution; funding, settlement and delivery rows are not fills (`None`).
fn execution(
    row: &RowJson<'_>,
    symbol: SymbolId,
    ts: u64,
) -> Result<Option<AccountEvent>, ParseError> {
    if !matches!(row.exec_type, "Trade" | "BustTrade" | "AdlTrade") {
        return Ok(None);
    }
    let qty = dec("execQty", row.exec_qty)?;
    let price = dec("execPrice", row.exec_price)?;
    if qty <= rust_decimal::Decimal::ZERO || price <= rust_decimal::Decimal::ZERO {
        return Err(ParseError::NonPositive);
    }
    Ok(Some(AccountEvent::Fill(StreamFill {
        symbol,
        client_id: client_id(row.order_link_id),
        side: side(row.side)?,
        price,
        qty,
        fee: dec("execFee", row.exec_fee)?,
        trade_id: trade_id_hash(row.exec_id),
        origin: origin(row),
        ts_ms: ms(row.exec_time, ts),
    })))
}

/// One-way position: `side` `Buy` long, `Sell` short, empty flat.
fn position(row: &RowJson<'_>, symbol: SymbolId) -> Result<AccountEvent, ParseError> {
    let size = dec("size", row.size)?;
    let qty = match row.side {
        "Buy" => size,
        "Sell" => -size,
        _ => rust_decimal::Decimal::ZERO,
    };
    Ok(AccountEvent::Position {
        symbol,
        qty,
        entry: dec("entryPrice", row.entry_price)?,
    })
}

/// The unified account's totals (`None` for an account without them).
fn wallet(row: &RowJson<'_>) -> Result<Option<AccountEvent>, ParseError> {
    if row.total_wallet_balance.is_empty() {
        return Ok(None);
    }
    let available = match row.total_available_balance {
        "" => None,
        v => Some(dec("totalAvailableBalance", v)?),
    };
    Ok(Some(AccountEvent::Balance {
        wallet: dec("totalWalletBalance", row.total_wallet_balance)?,
        available,
    }))
}
