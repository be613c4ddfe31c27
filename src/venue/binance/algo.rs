//! Binance USD-M Algo Order API (conditional `STOP_MARKET` / `TAKE_PROFIT_MARKET` orders, the
//! only way to place them since 2025-12-09): the embedded exchange's endpoints and the client's
//! reply reader.
//!
//! Embedded exchange: `POST /fapi/v1/algoOrder` (`algoType=CONDITIONAL`, `type`, `triggerPrice`,
//! `quantity` + `reduceOnly` or `closePosition=true`, `workingType`, `clientAlgoId`),
//! `GET` / `DELETE /fapi/v1/algoOrder` (`algoId` or `clientAlgoId`), `GET /fapi/v1/openAlgoOrders`
//! and `DELETE /fapi/v1/algoOpenOrders`. Conditional orders wait in the matching engine and
//! trigger on the replayed trade price for both `workingType`s (mark = last trade); an order
//! that would trigger at once is refused (-2021, as the venue does); a triggered order fills
//! as a market order (reduce-only: never beyond the position; nothing to reduce → `EXPIRED`).
//! `algoId` is the matching engine's order id, which is also the triggered order's
//! `actualOrderId` (`GET /fapi/v1/order?orderId=` gives its fill).

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};

use super::exchange::{err, error_code, kind_of, kind_str};
use super::order::side_str;
use crate::exchange::orders::{OrderError, OrderKind, OrderRequest, OrderStatus, SimOrder};
use crate::exchange::rest_orders::{param, Shared};
use crate::types::Side;

/// `-4120`: the answer of `POST /fapi/v1/order` to a conditional type since 2025-12-09.
pub fn unsupported_on_order_endpoint() -> (u16, String) {
    err(
        400,
        -4120,
        "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
    )
}

/// Binance `algoStatus` of a conditional order: held → `NEW`, filled → `FINISHED`, cancelled
/// → `CANCELED`, triggered with nothing to reduce → `EXPIRED`.
pub fn algo_status_str(st: OrderStatus) -> &'static str {
    match st {
        OrderStatus::New => "NEW",
        OrderStatus::Filled => "FINISHED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
    }
}

/// A conditional order in the venue's algo-order shape.
pub fn algo_json(o: &SimOrder) -> Value {
    let triggered = matches!(o.status, OrderStatus::Filled | OrderStatus::Expired);
    json!({
        "algoId": o.id, "clientAlgoId": o.client_id, "algoType": "CONDITIONAL",
        "orderType": kind_str(o.kind), "symbol": o.symbol, "side": side_str(o.side),
        "positionSide": "BOTH", "timeInForce": "GTC", "quantity": o.qty.to_string(),
        "algoStatus": algo_status_str(o.status), "triggerPrice": o.stop_price.to_string(),
        "price": "0", "closePosition": o.close_position, "reduceOnly": o.reduce_only,
        "priceProtect": false, "createTime": o.update_ms, "updateTime": o.update_ms,
        "triggerTime": if triggered { o.update_ms } else { 0 },
        "actualOrderId": if triggered { o.id.to_string() } else { String::new() },
        "executedQty": o.executed_qty.to_string(), "avgPrice": o.avg_price.to_string(),
    })
}

fn algo_err(e: &OrderError) -> (u16, String) {
    let (code, msg) = error_code(e);
    err(400, code, &msg)
}

fn missing(k: &str) -> (u16, String) {
    err(
        400,
        -1102,
        &format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."),
    )
}

/// Whether a conditional order of `kind` on `side` at `trigger` would trigger at `last` at once.
fn immediate(kind: OrderKind, side: Side, trigger: Decimal, last: Option<Decimal>) -> bool {
    last.is_some_and(|p| kind.triggers(side, trigger, p))
}

/// `POST /fapi/v1/algoOrder`.
pub(crate) fn new_algo_order(sh: &Shared, params: &[(&str, &str)], now: u64) -> (u16, String) {
    match param(params, "algoType") {
        Some("CONDITIONAL") => {}
        Some(_) => return err(400, -1116, "Invalid algoType."),
        None => return missing("algoType"),
    }
    let Some(symbol) = param(params, "symbol") else {
        return missing("symbol");
    };
    let side = match param(params, "side") {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        Some(_) => return err(400, -1117, "Invalid side."),
        None => return missing("side"),
    };
    let kind = match param(params, "type") {
        Some("STOP_MARKET" | "TAKE_PROFIT_MARKET") => kind_of(param(params, "type").unwrap_or("")),
        Some(_) => return err(400, -1116, "Invalid orderType."),
        None => return missing("type"),
    };
    let Some(kind) = kind else {
        return err(400, -1116, "Invalid orderType.");
    };
    let dec = |k: &str| param(params, k).map(Decimal::from_str);
    let qty = match dec("quantity") {
        Some(Ok(q)) => Some(q),
        Some(Err(_)) => return missing("quantity"),
        None => None,
    };
    let Some(Ok(trigger)) = dec("triggerPrice") else {
        return missing("triggerPrice");
    };
    match param(params, "workingType") {
        None | Some("MARK_PRICE" | "CONTRACT_PRICE") => {}
        Some(_) => return err(400, -1116, "Invalid workingType."),
    }
    let order = OrderRequest {
        symbol,
        side,
        kind,
        qty,
        stop_price: Some(trigger),
        reduce_only: param(params, "reduceOnly") == Some("true"),
        close_position: param(params, "closePosition") == Some("true"),
        client_id: param(params, "clientAlgoId").unwrap_or(""),
    };
    sh.venue.with(|m| {
        let off_tick = m
            .instrument(symbol)
            .is_some_and(|i| !(trigger % i.tick_size).is_zero());
        if off_tick {
            return algo_err(&OrderError::Filter("PRICE_FILTER"));
        }
        if immediate(kind, side, trigger, m.last_price(symbol)) {
            return err(400, -2021, "Order would immediately trigger.");
        }
        match m.place(&order, now) {
            Ok(o) => (200, algo_json(&o).to_string()),
            Err(e) => algo_err(&e),
        }
    })
}

/// `GET` / `DELETE /fapi/v1/algoOrder` by `algoId` or `clientAlgoId`.
pub(crate) fn query_or_cancel_algo(
    sh: &Shared,
    cancel: bool,
    params: &[(&str, &str)],
    now: u64,
) -> (u16, String) {
    let client = param(params, "clientAlgoId");
    let id = param(params, "algoId").and_then(|v| v.parse::<u64>().ok());
    sh.venue.with(|m| {
        let found = m.orders().iter().find(|o| {
            o.kind != OrderKind::Market
                && (client == Some(o.client_id.as_str()) || id == Some(o.id))
        });
        let Some(o) = found.cloned() else {
            return err(400, -2013, "Order does not exist.");
        };
        if !cancel {
            return (200, algo_json(&o).to_string());
        }
        match m.cancel(&o.symbol, &o.client_id, now) {
            Ok(o) => (
                200,
                json!({"algoId": o.id, "clientAlgoId": o.client_id, "code": "200", "msg": "success"})
                    .to_string(),
            ),
            Err(_) => err(400, -2011, "Unknown order sent."),
        }
    })
}

/// `GET /fapi/v1/openAlgoOrders` (optionally one symbol).
pub(crate) fn open_algo_orders(sh: &Shared, symbol: Option<&str>) -> (u16, String) {
    sh.venue.with(|m| {
        let v: Vec<Value> = m
            .open_orders(symbol)
            .filter(|o| o.kind != OrderKind::Market)
            .map(algo_json)
            .collect();
        (200, Value::Array(v).to_string())
    })
}

/// `DELETE /fapi/v1/algoOpenOrders?symbol=`: cancels every open conditional order of `symbol`.
pub(crate) fn cancel_all_algo(sh: &Shared, symbol: &str, now: u64) -> (u16, String) {
    sh.venue.with(|m| {
        let ids: Vec<String> = m
            .open_orders(Some(symbol))
            .filter(|o| o.kind != OrderKind::Market)
            .map(|o| o.client_id.clone())
            .collect();
        for c in ids {
            let _ = m.cancel(symbol, &c, now);
        }
        (
            200,
            json!({"code": 200, "msg": "The operation of cancel all open order is done."})
                .to_string(),
        )
    })
}

#[derive(Deserialize)]
struct AlgoReplyJson<'a> {
    #[serde(default, rename = "algoId")]
    algo_id: Option<u64>,
    #[serde(default, rename = "algoStatus", borrow)]
    algo_status: Option<&'a str>,
    #[serde(default)]
    code: Option<Value0>,
}

/// `code` is a number in errors and a string (`"200"`) in cancel replies; read without
/// allocating (an untagged enum would buffer).
enum Value0 {
    Num(i64),
    Text,
}

impl<'de> Deserialize<'de> for Value0 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Value0;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value0, E> {
                Ok(Value0::Num(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value0, E> {
                Ok(i64::try_from(v).map_or(Value0::Text, Value0::Num))
            }
            fn visit_str<E>(self, _: &str) -> Result<Value0, E> {
                Ok(Value0::Text)
            }
        }
        d.deserialize_any(V)
    }
}

/// What a reply to an algo-order request says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlgoReply {
    /// Placed or found, still waiting for its trigger (`algoStatus` `NEW`).
    Working {
        /// `algoId`.
        algo_id: u64,
    },
    /// Triggered (`TRIGGERING`, `TRIGGERED`, `FINISHED`).
    Triggered {
        /// `algoId`.
        algo_id: u64,
    },
    /// Cancelled, expired or rejected, or a cancel acknowledged.
    Closed,
    /// A venue error `code` (`-2013` / `-2011`: no such open order).
    Error {
        /// Venue error code.
        code: i64,
    },
    /// 5xx, or a body that is not understood.
    Unknown,
}

/// Reads a reply to `POST` / `GET` / `DELETE /fapi/v1/algoOrder`. No allocation.
pub fn parse_algo_reply(status: u16, body: &[u8]) -> AlgoReply {
    let Ok(j) = serde_json::from_slice::<AlgoReplyJson<'_>>(body) else {
        return AlgoReply::Unknown;
    };
    if status != 200 {
        return match j.code {
            Some(Value0::Num(code)) if status < 500 => AlgoReply::Error { code },
            _ => AlgoReply::Unknown,
        };
    }
    let Some(algo_id) = j.algo_id else {
        return AlgoReply::Unknown;
    };
    match j.algo_status {
        Some("NEW") => AlgoReply::Working { algo_id },
        Some("TRIGGERING" | "TRIGGERED" | "FINISHED") => AlgoReply::Triggered { algo_id },
        // A cancel acknowledgement has no status.
        None | Some("CANCELED" | "EXPIRED" | "REJECTED") => AlgoReply::Closed,
        Some(_) => AlgoReply::Unknown,
    }
}

/// One open conditional order (`GET /fapi/v1/openAlgoOrders` row).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct OpenAlgoOrder {
    /// `algoId`.
    #[serde(rename = "algoId")]
    pub algo_id: u64,
    /// `clientAlgoId`.
    #[serde(rename = "clientAlgoId")]
    pub client_algo_id: String,
    /// Symbol.
    pub symbol: String,
    /// `BUY` / `SELL`.
    pub side: String,
    /// `STOP_MARKET`, `TAKE_PROFIT_MARKET`, …
    #[serde(rename = "orderType")]
    pub order_type: String,
    /// Trigger price (decimal string).
    #[serde(rename = "triggerPrice")]
    pub trigger_price: String,
    /// Close-all flag.
    #[serde(rename = "closePosition", default)]
    pub close_position: bool,
}

/// Reads a `GET /fapi/v1/openAlgoOrders` reply (cold path).
pub fn parse_open_algo_orders(body: &[u8]) -> Result<Vec<OpenAlgoOrder>, String> {
    serde_json::from_slice(body).map_err(|e| format!("openAlgoOrders reply: {e}"))
}

/// `(session, seq, kind)` of a client algo id `ct<session>-<seq>-tp|-sl` (ours), else `None`.
pub fn our_algo_id(id: &str) -> Option<(u32, u64, super::ExitKind)> {
    let rest = id.strip_prefix("ct")?;
    let (rest, kind) = if let Some(r) = rest.strip_suffix("-tp") {
        (r, super::ExitKind::TakeProfit)
    } else {
        (rest.strip_suffix("-sl")?, super::ExitKind::StopLoss)
    };
    let (session, seq) = rest.split_once('-')?;
    Some((session.parse().ok()?, seq.parse().ok()?, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algo_replies_are_classified() {
        let new = br#"{"algoId":2146760,"clientAlgoId":"6B2I9XVcJpCjqPAJ4YoFX7","algoType":"CONDITIONAL","orderType":"TAKE_PROFIT","symbol":"BNBUSDT","side":"SELL","positionSide":"BOTH","timeInForce":"GTC","quantity":"0.01","algoStatus":"NEW","triggerPrice":"750.000","price":"750.000","workingType":"CONTRACT_PRICE"}"#;
        assert_eq!(
            parse_algo_reply(200, new),
            AlgoReply::Working { algo_id: 2146760 }
        );
        let cancel = br#"{"algoId":2146760,"clientAlgoId":"x","code":"200","msg":"success"}"#;
        assert_eq!(parse_algo_reply(200, cancel), AlgoReply::Closed);
        let e = br#"{"code":-2021,"msg":"Order would immediately trigger."}"#;
        assert_eq!(parse_algo_reply(400, e), AlgoReply::Error { code: -2021 });
        assert_eq!(parse_algo_reply(502, b"<html>"), AlgoReply::Unknown);
        let done = br#"{"algoId":5,"algoStatus":"FINISHED","actualOrderId":"5"}"#;
        assert_eq!(
            parse_algo_reply(200, done),
            AlgoReply::Triggered { algo_id: 5 }
        );
    }

    #[test]
    fn our_client_algo_ids_are_recognised() {
        use super::super::ExitKind;
        assert_eq!(our_algo_id("ct3-17-sl"), Some((3, 17, ExitKind::StopLoss)));
        assert_eq!(our_algo_id("ct1-2-tp"), Some((1, 2, ExitKind::TakeProfit)));
        assert_eq!(our_algo_id("ct1-2"), None);
        assert_eq!(our_algo_id("web-2-sl"), None);
    }
}
