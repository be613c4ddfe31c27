//! Bybit v5 replies: order (create and realtime query), positions, open orders.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::venue::bybit::market::trade_id_hash;
use crate::venue::reply::{FirstOf, OrderReply, VenueOpenOrder, VenueStatus, VenueTrade};

#[derive(Deserialize)]
struct BybitReplyJson<'a> {
    #[serde(rename = "retCode")]
    ret_code: i64,
    #[serde(default, borrow)]
    result: Option<BybitResultJson<'a>>,
}

#[derive(Deserialize)]
struct BybitResultJson<'a> {
    #[serde(default, rename = "orderId", borrow)]
    order_id: Option<&'a str>,
    #[serde(default, borrow)]
    list: Option<FirstOf<BybitOrderRowJson<'a>>>,
}

#[derive(Deserialize)]
struct BybitOrderRowJson<'a> {
    #[serde(default, rename = "orderId", borrow)]
    order_id: Option<&'a str>,
    #[serde(default, rename = "orderStatus", borrow)]
    order_status: Option<&'a str>,
    #[serde(default, rename = "avgPrice", borrow)]
    avg_price: Option<&'a str>,
    #[serde(default, rename = "cumExecQty", borrow)]
    cum_exec_qty: Option<&'a str>,
}

#[derive(Deserialize)]
struct BybitPositionReplyJson<'a> {
    #[serde(rename = "retCode")]
    ret_code: i64,
    #[serde(borrow)]
    result: BybitPositionListJson<'a>,
}

#[derive(Deserialize)]
struct BybitPositionListJson<'a> {
    #[serde(borrow)]
    list: FirstOf<BybitPositionRowJson<'a>>,
}

#[derive(Deserialize)]
struct BybitPositionRowJson<'a> {
    #[serde(borrow)]
    side: &'a str,
    #[serde(borrow)]
    size: &'a str,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct BybitListReplyJson<T> {
    #[serde(rename = "retCode")]
    ret_code: i64,
    #[serde(default, rename = "retMsg")]
    ret_msg: String,
    #[serde(default)]
    result: Option<BybitRowsJson<T>>,
}

/// `result` of a list reply; an error reply's `result: {}` has no `list`, so its `retCode` /
/// `retMsg` are what the caller sees.
#[derive(Deserialize)]
struct BybitRowsJson<T> {
    #[serde(default = "Vec::new")]
    list: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitOpenOrderJson {
    symbol: String,
    #[serde(default)]
    order_link_id: String,
    order_id: String,
    #[serde(default)]
    order_status: String,
}

/// A Bybit decimal string (`""` is zero).
fn bybit_dec(s: &str) -> Option<Decimal> {
    if s.is_empty() {
        Some(Decimal::ZERO)
    } else {
        Decimal::from_str(s).ok()
    }
}

/// A venue order id as a number, read as `execId`s are ([`trade_id_hash`]): a numeric
/// `orderId` as is, a UUID (the venue's linear orders, `"9aac161b-8ed6-450d-9cab-c5cc67c21784"`)
/// as its hash, `""` as 0 (no id). The order reply, the executions read and the open orders
/// read the same order as the same number, so an execution of a booked order of ours is known
/// by its id (it was 0 for every UUID, which matched every other UUID order's execution too).
pub fn order_id(s: &str) -> u64 {
    trade_id_hash(s)
}

/// Reads a Bybit v5 order reply: `POST /v5/order/create` (`result.orderId` → accepted) or
/// `GET /v5/order/realtime` (`result.list[0]`: `Filled`/`PartiallyFilled` with `cumExecQty > 0`
/// → filled at `avgPrice`; `New`/`Created`/`Untriggered`/`Triggered` → working; cancelled,
/// rejected or deactivated without a fill → closed; empty list → not found). `retCode` 110001
/// → not found, 10000/10016 (server busy / internal) → unknown, other non-zero → error (also
/// with a 4xx status: a 429 carries `retCode` 10006); 5xx → unknown.
/// `orderId` reads as [`order_id`] (linear orders' ids are UUIDs). No allocation.
pub fn parse_order(status: u16, body: &[u8]) -> OrderReply {
    if status >= 500 {
        return OrderReply::Unknown;
    }
    let Ok(j) = serde_json::from_slice::<BybitReplyJson<'_>>(body) else {
        return OrderReply::Unknown;
    };
    if status != 200 && j.ret_code == 0 {
        return OrderReply::Unknown;
    }
    match j.ret_code {
        0 => {}
        110001 => return OrderReply::NotFound,
        10000 | 10016 => return OrderReply::Unknown,
        code => return OrderReply::Error { code },
    }
    let Some(res) = j.result else {
        return OrderReply::Unknown;
    };
    let id = |s: Option<&str>| s.map_or(0, order_id);
    let Some(list) = res.list else {
        return match res.order_id {
            Some(_) => OrderReply::Accepted {
                order_id: id(res.order_id),
            },
            None => OrderReply::Unknown,
        };
    };
    let Some(row) = list.0 else {
        return OrderReply::NotFound;
    };
    let order_id = id(row.order_id);
    let dec = |v: Option<&str>| v.and_then(bybit_dec).unwrap_or(Decimal::ZERO);
    let (price, qty) = (dec(row.avg_price), dec(row.cum_exec_qty));
    let filled = price > Decimal::ZERO && qty > Decimal::ZERO;
    let status = match row.order_status.unwrap_or("") {
        "Filled" => VenueStatus::Filled,
        "PartiallyFilled" => VenueStatus::PartiallyFilled,
        "Cancelled" | "PartiallyFilledCanceled" => VenueStatus::Cancelled,
        "Rejected" => VenueStatus::Rejected,
        "Deactivated" => VenueStatus::Expired,
        "New" | "Created" | "Untriggered" | "Triggered" => {
            return OrderReply::Accepted { order_id }
        }
        _ => return OrderReply::Unknown,
    };
    match status {
        _ if filled => OrderReply::Filled {
            status,
            order_id,
            price,
            qty,
        },
        VenueStatus::Filled | VenueStatus::PartiallyFilled => OrderReply::Accepted { order_id },
        _ => OrderReply::Closed,
    }
}

/// Reads a one-symbol `GET /v5/position/list?symbol=` reply: the signed size (`Sell` < 0; no
/// row = flat), `None` when the reply is an error or not understood. No allocation.
pub fn parse_position(body: &[u8]) -> Option<Decimal> {
    let r: BybitPositionReplyJson<'_> = serde_json::from_slice(body).ok()?;
    if r.ret_code != 0 {
        return None;
    }
    match r.result.list.0 {
        None => Some(Decimal::ZERO),
        Some(p) => {
            let size = bybit_dec(p.size)?;
            Some(if p.side == "Sell" { -size } else { size })
        }
    }
}

#[derive(Deserialize)]
struct BybitExecListJson {
    #[serde(rename = "retCode")]
    ret_code: i64,
    #[serde(default, rename = "retMsg")]
    ret_msg: String,
    result: Option<BybitExecResultJson>,
}

#[derive(Deserialize)]
struct BybitExecResultJson {
    /// Absent from an error reply (`"result": {}`): the `retCode` says why.
    #[serde(default)]
    list: Vec<BybitExecJson>,
    #[serde(default, rename = "nextPageCursor")]
    next_page_cursor: String,
}

#[derive(Deserialize)]
struct BybitExecJson {
    #[serde(rename = "orderId")]
    order_id: String,
    #[serde(default, rename = "orderLinkId")]
    order_link_id: String,
    side: String,
    #[serde(rename = "execId")]
    exec_id: String,
    #[serde(rename = "execPrice")]
    exec_price: String,
    #[serde(rename = "execQty")]
    exec_qty: String,
    #[serde(rename = "execFee")]
    exec_fee: String,
    #[serde(rename = "execTime")]
    exec_time: String,
    #[serde(default, rename = "execType")]
    exec_type: String,
}

/// Reads a `GET /v5/execution/list` reply (cold path): the trades (`execType` `Trade`,
/// `BustTrade`, `AdlTrade`; funding and settlement rows are no executions of an order),
/// oldest first (the venue lists the newest first). A malformed row is an error.
pub fn parse_executions(body: &[u8]) -> Result<Vec<VenueTrade>, String> {
    parse_executions_page(body).map(|(t, _)| t)
}

/// [`parse_executions`] and the page's `nextPageCursor` (empty on the last page: the venue
/// pages the newest first, so the next page holds older executions).
pub fn parse_executions_page(body: &[u8]) -> Result<(Vec<VenueTrade>, String), String> {
    let j: BybitExecListJson =
        serde_json::from_slice(body).map_err(|e| format!("execution/list reply: {e}"))?;
    if j.ret_code != 0 {
        return Err(format!(
            "execution/list: retCode {} {}",
            j.ret_code, j.ret_msg
        ));
    }
    let (rows, next) = j
        .result
        .map(|r| (r.list, r.next_page_cursor))
        .unwrap_or_default();
    let num = |what: &str, v: &str| {
        Decimal::from_str(v).map_err(|e| format!("execution/list reply: {what} {v:?}: {e}"))
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if !matches!(
            r.exec_type.as_str(),
            "Trade" | "BustTrade" | "AdlTrade" | ""
        ) {
            continue;
        }
        let side = match r.side.as_str() {
            "Buy" => crate::types::Side::Buy,
            "Sell" => crate::types::Side::Sell,
            other => return Err(format!("execution/list reply: side {other:?}")),
        };
        out.push(VenueTrade {
            // The private stream's id of the same execution (a number as is, else its
            // hash): an execution booked from one is known to the other.
            id: trade_id_hash(&r.exec_id),
            order_id: order_id(&r.order_id),
            client_id: r.order_link_id,
            listed: match r.exec_id.parse::<u64>().is_ok() && r.order_id.parse::<u64>().is_ok() {
                true => Default::default(),
                false => (r.exec_id.clone(), r.order_id.clone()),
            },
            side,
            price: num("execPrice", &r.exec_price)?,
            qty: num("execQty", &r.exec_qty)?,
            fee: num("execFee", &r.exec_fee)?,
            time_ms: r
                .exec_time
                .parse()
                .map_err(|e| format!("execution/list reply: execTime {:?}: {e}", r.exec_time))?,
        });
    }
    out.reverse();
    Ok((out, next))
}

/// Reads a `GET /v5/order/realtime` open-orders reply (cold path): working orders only.
pub fn parse_open_orders(body: &[u8]) -> Result<Vec<VenueOpenOrder>, String> {
    let r: BybitListReplyJson<BybitOpenOrderJson> =
        serde_json::from_slice(body).map_err(|e| format!("/v5/order/realtime reply: {e}"))?;
    if r.ret_code != 0 {
        return Err(format!(
            "/v5/order/realtime: retCode {} ({})",
            r.ret_code, r.ret_msg
        ));
    }
    Ok(r.result
        .map_or_else(Vec::new, |x| x.list)
        .into_iter()
        .filter(|o| {
            matches!(
                o.order_status.as_str(),
                "New" | "PartiallyFilled" | "Untriggered" | "Created" | "Triggered"
            )
        })
        .map(|o| VenueOpenOrder {
            symbol: o.symbol,
            client_id: o.order_link_id,
            order_id: order_id(&o.order_id),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error reply (`"result": {}`, no `list`) is said by its `retCode`, not as a missing
    /// field.
    #[test]
    fn an_executions_error_reply_is_said_by_its_ret_code() {
        let body = br#"{"retCode":10016,"retMsg":"Internal error","result":{},"retExtInfo":{},"time":1733400000300}"#;
        assert_eq!(
            parse_executions(body).unwrap_err(),
            "execution/list: retCode 10016 Internal error"
        );
    }

    /// The shape of Bybit's documented `GET /v5/execution/list` reply (newest first, string
    /// numbers, UUID ids); funding rows are skipped, the rest come back oldest first.
    #[test]
    fn executions_are_read_oldest_first_without_funding_rows() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","nextPageCursor":"","list":[
          {"symbol":"BTCUSDT","orderId":"b0a5c1f2-0000-4c6e-9a1e-3f0d2b8c9e11","orderLinkId":"","side":"Buy","execId":"e2","execPrice":"61200.5","execQty":"0.010","execFee":"0.367203","execTime":"1733400000200","execType":"Trade","stopOrderType":"StopLoss"},
          {"symbol":"BTCUSDT","orderId":"f","orderLinkId":"","side":"Sell","execId":"f1","execPrice":"0","execQty":"0","execFee":"0.01","execTime":"1733400000150","execType":"Funding"},
          {"symbol":"BTCUSDT","orderId":"1321003749386327552","orderLinkId":"ct7-3","side":"Sell","execId":"101","execPrice":"61800","execQty":"0.010","execFee":"0.3708","execTime":"1733400000100","execType":"Trade"}]},"time":1733400000300}"#;
        let t = parse_executions(body).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].id, t[0].order_id, t[0].client_id.as_str()),
            (101, 1321003749386327552, "ct7-3")
        );
        assert_eq!(
            (t[1].order_id, t[1].side, t[1].price),
            (
                order_id("b0a5c1f2-0000-4c6e-9a1e-3f0d2b8c9e11"),
                crate::types::Side::Buy,
                "61200.5".parse().unwrap()
            )
        );
        assert_ne!(t[1].order_id, 0);
        assert_eq!(
            (t[1].qty, t[1].fee, t[1].time_ms),
            (
                "0.010".parse().unwrap(),
                "0.367203".parse().unwrap(),
                1733400000200
            )
        );
        assert!(parse_executions(br#"{"retCode":10001,"retMsg":"bad","result":{}}"#).is_err());
        // A UUID execId reads as the private stream reads it (it was another hash: an
        // execution booked from the stream was not known to the executions read).
        assert_eq!(t[1].id, trade_id_hash("e2"));
    }

    /// The recorded private-stream execution's UUID `orderId`, as each read lists it.
    const UUID: &str = "9aac161b-8ed6-450d-9cab-c5cc67c21784";

    #[test]
    fn a_uuid_order_id_is_one_nonzero_number_in_every_read() {
        let created = format!(
            r#"{{"retCode":0,"retMsg":"OK","result":{{"orderId":"{UUID}","orderLinkId":"ct1-1"}},"time":1}}"#
        );
        let realtime = |status: &str| {
            format!(
                r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","nextPageCursor":"","list":[{{"orderId":"{UUID}","orderLinkId":"ct1-1","symbol":"BTCUSDT","orderStatus":"{status}","avgPrice":"","cumExecQty":"0","qty":"0.010"}}]}},"time":1}}"#
            )
        };
        let execs = format!(
            r#"{{"retCode":0,"retMsg":"OK","result":{{"nextPageCursor":"","category":"linear","list":[{{"symbol":"BTCUSDT","orderId":"5cf98598-39a7-459e-97bf-76ca765ee020","orderLinkId":"","side":"Sell","execId":"e2","execPrice":"61000","execQty":"0.010","execFee":"0.36","execTime":"1733400000300","execType":"Trade","stopOrderType":"StopLoss"}},{{"symbol":"BTCUSDT","orderId":"{UUID}","orderLinkId":"ct1-1","side":"Buy","execId":"e1","execPrice":"61200.5","execQty":"0.010","execFee":"0.36","execTime":"1733400000200","execType":"Trade"}}]}},"time":1}}"#
        );
        let id = order_id(UUID);
        assert_ne!(id, 0);
        assert_eq!(
            parse_order(200, created.as_bytes()),
            OrderReply::Accepted { order_id: id }
        );
        assert_eq!(
            parse_order(200, realtime("New").as_bytes()),
            OrderReply::Accepted { order_id: id }
        );
        let open = parse_open_orders(realtime("Untriggered").as_bytes()).unwrap();
        assert_eq!(open[0].order_id, id);
        let t = parse_executions(execs.as_bytes()).unwrap();
        // Listed newest first, read oldest first: ours, then the venue's stop, another order
        // (another number: it was 0 for both, so the stop's close read as an execution of ours).
        assert_eq!(t[0].order_id, id);
        assert_ne!(t[1].order_id, id);
        assert_ne!(t[1].order_id, 0);
        // The operator's logs name them as the venue lists them.
        assert_eq!(t[0].ids(), format!("e1 (order {UUID})"));
        // A numeric id keeps its value; no id is 0.
        assert_eq!(order_id("1321003749386327552"), 1321003749386327552);
        assert_eq!(order_id(""), 0);
    }

    #[test]
    fn an_error_with_an_empty_result_keeps_its_code_and_message() {
        let e = parse_open_orders(
            br#"{"retCode":10005,"retMsg":"Permission denied, please check your API key permissions.","result":{},"retExtInfo":{},"time":1}"#,
        )
        .unwrap_err();
        assert!(
            e.contains("10005") && e.contains("Permission denied"),
            "{e}"
        );
        let ok = parse_open_orders(br#"{"retCode":0,"retMsg":"OK","result":{"list":[]}}"#);
        assert_eq!(ok.unwrap().len(), 0);
    }
}
