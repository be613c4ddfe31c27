//! The embedded exchange's Bybit v5 order-entry WebSocket (`/v5/trade`): `auth`, then
//! `order.create` / `order.cancel` / `order.amend` answered with the request's `reqId`:
//! `{"reqId","retCode","retMsg","op","data":<the REST result>,"retExtInfo":{},"header":{…},
//! "connId"}`.

use serde_json::{json, Value};

use super::exchange::{create, fail, reply};
use crate::exchange::rest_orders::{now_ms, Shared};
use crate::exchange::trade_ws::{Answer, Routed};

/// Answers one text frame of a `/v5/trade` session (`authed`: the session's auth state).
pub(crate) fn request(sh: &Shared, authed: &mut bool, conn_id: &str, text: &str) -> Answer {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let op = v["op"].as_str().unwrap_or("").to_string();
    let req_id = v["reqId"].as_str().map(str::to_string);
    let frame = |code: i64, msg: &str, data: Value| {
        let mut o = json!({"retCode": code, "retMsg": msg, "op": op, "connId": conn_id});
        if let Some(id) = &req_id {
            o["reqId"] = json!(id);
        }
        if !data.is_null() {
            o["data"] = data;
        }
        o.to_string()
    };
    match op.as_str() {
        "auth" if *authed => Answer::Reply(frame(20001, "Repeat auth", Value::Null)),
        "auth" => match crate::exchange::private_stream::verify_auth(sh, &v["args"]) {
            Ok(()) => {
                *authed = true;
                Answer::Reply(frame(0, "OK", Value::Null))
            }
            Err(msg) if msg == "Invalid apikey" => Answer::Reply(frame(10003, msg, Value::Null)),
            Err(msg) if msg == "Invalid sign" => Answer::Reply(frame(10004, msg, Value::Null)),
            Err(msg) => Answer::Reply(frame(10001, msg, Value::Null)),
        },
        "ping" => {
            let mut o = json!({"retCode": 0, "retMsg": "OK", "op": "pong",
                "data": [now_ms().to_string()], "connId": conn_id});
            if let Some(id) = &req_id {
                o["reqId"] = json!(id);
            }
            Answer::Reply(o.to_string())
        }
        "order.create" | "order.cancel" | "order.amend" if !*authed => {
            Answer::Reply(frame(10003, "Request not authorized", Value::Null))
        }
        "order.create" | "order.cancel" | "order.amend" => {
            let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
            if let Err((code, msg)) = check_header(sh, &v["header"], now) {
                return Answer::Reply(frame(code, &msg, json!({})));
            }
            let path = match op.as_str() {
                "order.create" => "/v5/order/create",
                "order.cancel" => "/v5/order/cancel",
                _ => "/v5/order/amend",
            };
            let routed = Routed {
                method: "POST",
                target: path.to_string(),
                body: v["args"][0].to_string(),
            };
            let (op, conn_id, req_id) = (op.clone(), conn_id.to_string(), req_id.clone());
            Answer::Order(
                routed,
                Box::new(move |_status, body| wrap(&op, &conn_id, req_id.as_deref(), body)),
            )
        }
        _ => Answer::Reply(frame(10001, "Params Error: unknown op", Value::Null)),
    }
}

/// The reply frame of an order op from its REST reply body.
fn wrap(op: &str, conn_id: &str, req_id: Option<&str>, rest_body: &str) -> String {
    let r: Value = serde_json::from_str(rest_body).unwrap_or(Value::Null);
    let mut o = json!({
        "retCode": r["retCode"], "retMsg": r["retMsg"], "op": op,
        "data": r.get("result").cloned().unwrap_or(json!({})), "retExtInfo": {},
        "header": {"Timenow": now_ms().to_string()}, "connId": conn_id
    });
    if let Some(id) = req_id {
        o["reqId"] = json!(id);
    }
    o.to_string()
}

/// `X-BAPI-TIMESTAMP` / `X-BAPI-RECV-WINDOW`: `server - window <= ts < server + 1000`.
fn check_header(sh: &Shared, h: &Value, now: u64) -> Result<(), (i64, String)> {
    let num = |k: &str| {
        h[k].as_u64()
            .or_else(|| h[k].as_str().and_then(|s| s.parse().ok()))
    };
    let Some(ts) = num("X-BAPI-TIMESTAMP") else {
        return Err((10001, "params error: X-BAPI-TIMESTAMP missing".into()));
    };
    let rw = num("X-BAPI-RECV-WINDOW").unwrap_or(5_000);
    if ts >= now + 1_000 || now.saturating_sub(ts) > rw {
        sh.stats
            .timestamp_rejects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err((
            10002,
            format!("invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{now}],recv_window[{rw}]"),
        ));
    }
    Ok(())
}

/// Serves an authenticated order op on the matching engine (REST reply shape).
pub(crate) fn route(sh: &Shared, r: &Routed, now: u64) -> (u16, String) {
    match r.target.as_str() {
        "/v5/order/create" => create(sh, &r.body, now),
        "/v5/order/cancel" => cancel(sh, &r.body, now, false),
        _ => cancel(sh, &r.body, now, true),
    }
}

/// `order.cancel` by `orderLinkId` or `orderId`; `order.amend` of a resting order is not
/// served (market orders never rest): `amend` answers 110001 for a finished order and 10001
/// for a resting one.
fn cancel(sh: &Shared, body: &str, now: u64, amend: bool) -> (u16, String) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let (Some(symbol), true) = (v["symbol"].as_str(), v["category"] == "linear") else {
        return fail(10001, "params error: category and symbol required", now);
    };
    let link = v["orderLinkId"].as_str();
    let id = v["orderId"]
        .as_str()
        .and_then(super::exchange::id_from_uuid);
    sh.venue.with(|m| {
        let found = match (link, id) {
            (Some(l), _) => m.order_by_client(symbol, l).cloned(),
            (None, Some(i)) => m.order_by_id(symbol, i).cloned(),
            (None, None) => return fail(10001, "params error: orderId or orderLinkId", now),
        };
        let open = found
            .as_ref()
            .filter(|o| o.status == crate::exchange::orders::OrderStatus::New);
        match (open, amend) {
            (None, _) => fail(110001, "order not exists or too late to cancel", now),
            (Some(_), true) => fail(
                10001,
                "params error: the embedded exchange does not amend",
                now,
            ),
            (Some(o), false) => match m.cancel(symbol, &o.client_id.clone(), now) {
                Ok(o) => reply(
                    0,
                    "OK",
                    json!({"orderId": super::exchange::uuid_from_id(o.id), "orderLinkId": o.client_id}),
                    now,
                ),
                Err(_) => fail(110001, "order not exists or too late to cancel", now),
            },
        }
    })
}
