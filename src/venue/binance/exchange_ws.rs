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
//!
//! Frames are read with the allocation-free field scanner (`venue::ws_api`), params borrowed
//! from the frame; a reply is the REST body spliced into the envelope (no re-parse).

use serde_json::json;

use super::exchange::{check_timestamp, err, signed_route};
use crate::exchange::rest_orders::{now_ms, Shared};
use crate::exchange::trade_ws::{Answer, Routed};
use crate::venue::ed25519::verify_base64;
use crate::venue::ws_api::{fields, unquote};

/// Answers one text frame of a `/ws-fapi/v1` session (`logged_on`: the session's
/// `session.logon` state).
pub(crate) fn request(sh: &Shared, logged_on: &mut bool, text: &str) -> Answer {
    let frame = text.as_bytes();
    // One pass over the top-level fields (`params`, the longest, is scanned once).
    let (mut id, mut method, mut raw_params) = (None, None, None);
    for (k, v) in fields(frame) {
        match k {
            b"id" if id.is_none() => id = Some(v),
            b"method" if method.is_none() => method = Some(v),
            b"params" if raw_params.is_none() => raw_params = Some(v),
            _ => {}
        }
    }
    let id = id
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("null")
        .to_string();
    let method = method.map(unquote).unwrap_or(b"");
    let http = match method {
        b"order.place" => "POST",
        b"order.cancel" => "DELETE",
        b"order.status" => "GET",
        b"order.modify" => "PUT",
        b"session.logon" => {
            let (status, body) = logon(sh, logged_on, raw_params);
            return Answer::Reply(wrap(&id, status, &body));
        }
        _ => {
            let m = String::from_utf8_lossy(method);
            let (status, body) = err(400, -1100, &format!("Unknown method {m:?}."));
            return Answer::Reply(wrap(&id, status, &body));
        }
    };
    let Some(params) = params_of(raw_params) else {
        let (status, body) = err(400, -1102, "Mandatory parameter 'params' was not sent.");
        return Answer::Reply(wrap(&id, status, &body));
    };
    let unsigned = !params
        .iter()
        .any(|(k, _)| *k == "signature" || *k == "apiKey");
    let checked = if *logged_on && unsigned {
        let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
        check_timestamp(sh, &params, now)
    } else {
        authenticate(sh, &params)
    };
    if let Err((status, body)) = checked {
        return Answer::Reply(wrap(&id, status, &body));
    }
    let mut target = String::with_capacity(text.len());
    target.push_str("/fapi/v1/order?");
    push_query(&mut target, &params, &["apiKey", "signature"]);
    let routed = Routed {
        method: http,
        target,
        body: String::new(),
    };
    Answer::Order(
        routed,
        Box::new(move |status, body| wrap(&id, status, body)),
    )
}

/// Params an order request carries, at most, before a params `Vec` grows.
const PARAMS_CAP: usize = 16;

/// The params object `raw` as (name, value) pairs sorted by name, values as the venue reads
/// them (strings without their quotes, numbers as written); `None` when it is not an object.
fn params_of(raw: Option<&[u8]>) -> Option<Vec<(&str, &str)>> {
    let raw = raw.filter(|r| r.starts_with(b"{"))?;
    // Sized for an order's params at once (a `collect` of unknown length regrows 4 → 8 → 16).
    let mut params: Vec<(&str, &str)> = Vec::with_capacity(PARAMS_CAP);
    params.extend(fields(raw).filter_map(|(k, v)| {
        Some((
            std::str::from_utf8(k).ok()?,
            std::str::from_utf8(unquote(v)).ok()?,
        ))
    }));
    params.sort_unstable();
    Some(params)
}

/// `k=v` of `params` but those named in `skip`, joined by `&`, onto `out`.
fn push_query(out: &mut String, params: &[(&str, &str)], skip: &[&str]) {
    let mut first = true;
    for (k, v) in params.iter().filter(|(k, _)| !skip.contains(k)) {
        if !first {
            out.push('&');
        }
        first = false;
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// `session.logon`: the account's API key, its Ed25519 signature over the other params sorted
/// by name, and the timestamp; on success the session is logged on. `(status, REST-shaped body)`.
fn logon(sh: &Shared, logged_on: &mut bool, raw: Option<&[u8]>) -> (u16, String) {
    let Some(p) = params_of(raw) else {
        return err(400, -1102, "Mandatory parameter 'params' was not sent.");
    };
    let get = |k: &str| p.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
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
    let mut payload = String::new();
    push_query(&mut payload, &p, &["signature"]);
    if !verify_base64(&public, payload.as_bytes(), sig.as_bytes()) {
        return err(400, -1022, "Signature for this request is not valid.");
    }
    let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
    if let Err(e) = check_timestamp(sh, &p, now) {
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
fn authenticate(sh: &Shared, params: &[(&str, &str)]) -> Result<(), (u16, String)> {
    let get = |k: &str| params.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
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
    let mut payload = String::with_capacity(512);
    push_query(&mut payload, params, &["signature"]);
    if !sh.signer.verify_hex(payload.as_bytes(), sig.as_bytes()) {
        return Err(err(400, -1022, "Signature for this request is not valid."));
    }
    let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
    check_timestamp(sh, params, now)
}

/// The reply frame of request `id` (its raw JSON) from a REST reply: the REST body spliced in
/// as `result` (200) or `error`.
fn wrap(id: &str, status: u16, rest_body: &str) -> String {
    let body = match rest_body.trim() {
        "" => "null",
        b => b,
    };
    let mut out = String::with_capacity(body.len() + id.len() + 64);
    out.push_str("{\"id\":");
    out.push_str(id);
    out.push_str(",\"status\":");
    out.push_str(itoa::Buffer::new().format(status));
    if status == 200 {
        out.push_str(",\"result\":");
        out.push_str(body);
        out.push_str(",\"rateLimits\":[]}");
    } else {
        out.push_str(",\"error\":");
        out.push_str(body);
        out.push('}');
    }
    out
}

/// Serves an authenticated order method on the matching engine (REST reply shape).
pub(crate) fn route(sh: &Shared, r: &Routed, now: u64) -> (u16, String) {
    let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
    let mut params: Vec<(&str, &str)> = Vec::with_capacity(PARAMS_CAP);
    params.extend(query.split('&').filter_map(|kv| kv.split_once('=')));
    signed_route(sh, r.method, path, &params, now)
}
