//! The embedded exchange's Binance USD-M WebSocket API (`/ws-fapi/v1`): `order.place`,
//! `order.cancel`, `order.status` and `order.modify`, each signed like the venue documents
//! (`apiKey` and `timestamp` among the params; `signature = hex(HMAC_SHA256(secret, every other
//! param sorted by name, as k=v joined by &))`), answered with the request's `id`:
//! `{"id","status":200,"result":<the REST body>,"rateLimits":[]}` or
//! `{"id","status":<HTTP status>,"error":{"code","msg"}}`.
//!
//! `session.logon` (`apiKey`, `timestamp`, `signature = base64(Ed25519(the other params sorted
//! by name as k=v&…))`, verified against the account's registered Ed25519 public key) marks the
//! session logged on: its requests may then omit `apiKey` and `signature` (`timestamp` is still
//! checked). A bad signature is `-1022`, an unknown key or one without a registered Ed25519
//! public key `-2015`; an unsigned request on a session not logged on is refused
//! as a request without its mandatory `apiKey` / `signature`.

use serde_json::{json, Value};

use super::exchange::{check_timestamp, err, signed_route};
use crate::exchange::rest_orders::{now_ms, Shared};
use crate::exchange::trade_ws::{Answer, Routed};
use crate::venue::ed25519::verify_base64;

/// Answers one text frame of a `/ws-fapi/v1` session (`logged_on`: the session's
/// `session.logon` state).
pub(crate) fn request(sh: &Shared, logged_on: &mut bool, text: &str) -> Answer {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let id = v["id"].clone();
    let method = v["method"].as_str().unwrap_or("");
    let http = match method {
        "order.place" => "POST",
        "order.cancel" => "DELETE",
        "order.status" => "GET",
        "order.modify" => "PUT",
        "session.logon" => {
            let (status, body) = logon(sh, logged_on, &v["params"]);
            return Answer::Reply(wrap(&id, status, &body));
        }
        _ => {
            let (status, body) = err(400, -1100, &format!("Unknown method {method:?}."));
            return Answer::Reply(wrap(&id, status, &body));
        }
    };
    let Some(obj) = v["params"].as_object() else {
        let (status, body) = err(400, -1102, "Mandatory parameter 'params' was not sent.");
        return Answer::Reply(wrap(&id, status, &body));
    };
    let mut params: Vec<(String, String)> = obj
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect();
    params.sort();
    let unsigned = !params
        .iter()
        .any(|(k, _)| k == "signature" || k == "apiKey");
    let checked = if *logged_on && unsigned {
        let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        check_timestamp(sh, &borrowed, now)
    } else {
        authenticate(sh, &params)
    };
    if let Err((status, body)) = checked {
        return Answer::Reply(wrap(&id, status, &body));
    }
    let query: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "apiKey" && k != "signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let routed = Routed {
        method: http,
        target: format!("/fapi/v1/order?{}", query.join("&")),
        body: String::new(),
    };
    Answer::Order(
        routed,
        Box::new(move |status, body| wrap(&id, status, body)),
    )
}

/// `session.logon`: the account's API key, its Ed25519 signature over the other params sorted
/// by name, and the timestamp; on success the session is logged on. `(status, REST-shaped body)`.
fn logon(sh: &Shared, logged_on: &mut bool, params: &Value) -> (u16, String) {
    let Some(obj) = params.as_object() else {
        return err(400, -1102, "Mandatory parameter 'params' was not sent.");
    };
    let mut p: Vec<(String, String)> = obj
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect();
    p.sort();
    let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    match get("apiKey") {
        None => {
            return err(
                400,
                -1102,
                "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.",
            )
        }
        Some(k) if k != sh.api_key => {
            return err(
                401,
                -2015,
                "Invalid API-key, IP, or permissions for action.",
            )
        }
        Some(_) => {}
    }
    let Some(public) = sh.opts.ed25519_public_key else {
        return err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        );
    };
    let Some(sig) = get("signature") else {
        return err(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        );
    };
    let payload: Vec<String> = p
        .iter()
        .filter(|(k, _)| k != "signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !verify_base64(&public, payload.join("&").as_bytes(), sig.as_bytes()) {
        return err(400, -1022, "Signature for this request is not valid.");
    }
    let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
    let borrowed: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if let Err(e) = check_timestamp(sh, &borrowed, now) {
        return e;
    }
    *logged_on = true;
    let result = json!({
        "apiKey": sh.api_key,
        "authorizedSince": now,
        "connectedSince": now,
        "returnRateLimits": false,
        "serverTime": now,
    });
    (200, result.to_string())
}

/// Key, signature over the sorted params (all but `signature`) and timestamp.
fn authenticate(sh: &Shared, params: &[(String, String)]) -> Result<(), (u16, String)> {
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match get("apiKey") {
        None => return Err(err(401, -2014, "API-key format invalid.")),
        Some(k) if k != sh.api_key => {
            return Err(err(
                401,
                -2015,
                "Invalid API-key, IP, or permissions for action.",
            ))
        }
        Some(_) => {}
    }
    let Some(sig) = get("signature") else {
        return Err(err(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ));
    };
    let payload: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !sh
        .signer
        .verify_hex(payload.join("&").as_bytes(), sig.as_bytes())
    {
        return Err(err(400, -1022, "Signature for this request is not valid."));
    }
    let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
    let borrowed: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    check_timestamp(sh, &borrowed, now)
}

/// The reply frame of request `id` from a REST reply.
fn wrap(id: &Value, status: u16, rest_body: &str) -> String {
    let body: Value = serde_json::from_str(rest_body).unwrap_or(Value::Null);
    if status == 200 {
        json!({"id": id, "status": 200, "result": body, "rateLimits": []}).to_string()
    } else {
        json!({"id": id, "status": status, "error": body}).to_string()
    }
}

/// Serves an authenticated order method on the matching engine (REST reply shape).
pub(crate) fn route(sh: &Shared, r: &Routed, now: u64) -> (u16, String) {
    let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
    let params: Vec<(&str, &str)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    signed_route(sh, r.method, path, &params, now)
}
