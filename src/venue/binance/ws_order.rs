//! Binance USD-M WebSocket API (`/ws-fapi/v1`), client side: order frames rendered from the
//! REST request the builder signed (`POST /fapi/v1/order` → `order.place`, `DELETE` →
//! `order.cancel`, `GET` → `order.status`, `PUT` → `order.modify`): its params plus `apiKey`,
//! re-signed as the WebSocket API documents (`signature = hex(HMAC_SHA256(secret, every param
//! but signature, sorted by name, as k=v joined by &))`; INT params `timestamp`,
//! `recvWindow`, `orderId` as JSON integers, the rest as strings), and the reply reader. No
//! allocation after the buffers grew to an order's size.
//!
//! With an Ed25519 API key the session logs on once (`session.logon`: `apiKey`, `timestamp`,
//! `signature = base64(Ed25519(apiKey=…&timestamp=…))`); its order frames then carry the
//! params without `apiKey` and `signature` ([`session_order_frame`]).

use crate::venue::ed25519::{Ed25519Signer, SIG_B64_LEN};
use crate::venue::sign::Signer;
use crate::venue::ws_api::{field, int, push_u64, unquote, RestParts, WsReply};

/// Most params one request carries.
const MAX_PARAMS: usize = 32;

/// The order frame of REST request `req` under `id` into `out` (`payload`: scratch for the
/// signed string); `false` (nothing written) when `req` is not an order request or a value is
/// percent-encoded (it then stays on REST).
pub fn order_frame(
    req: &[u8],
    id: u64,
    api_key: &str,
    signer: &Signer,
    payload: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> bool {
    let mut params: [(&[u8], &[u8]); MAX_PARAMS] = [(b"", b""); MAX_PARAMS];
    let Some((method, n)) = method_and_params(req, Some(api_key), &mut params) else {
        return false;
    };
    let params = &mut params[..n];
    params.sort_unstable_by(|a, b| a.0.cmp(b.0));
    query_string(params, payload);
    let mut sig = [0u8; 64];
    signer.sign_hex(payload, &mut sig);
    write_frame(out, id, method, params, Some(&sig));
    true
}

/// The order frame of REST request `req` under `id` on a logged-on session: its params without
/// `apiKey` and `signature` (the session's key authorises it); `false` as [`order_frame`].
pub fn session_order_frame(req: &[u8], id: u64, out: &mut Vec<u8>) -> bool {
    let mut params: [(&[u8], &[u8]); MAX_PARAMS] = [(b"", b""); MAX_PARAMS];
    let Some((method, n)) = method_and_params(req, None, &mut params) else {
        return false;
    };
    write_frame(out, id, method, &params[..n], None);
    true
}

/// The id of the `session.logon` request (order ids are numbers).
pub const LOGON_ID: &str = "logon";

/// `{"id":"logon","method":"session.logon","params":{"apiKey","signature","timestamp"}}` into
/// `out`, signed with `key` over `apiKey=<key>&timestamp=<ms>` (`payload`: scratch).
pub fn logon_frame(
    api_key: &str,
    key: &Ed25519Signer,
    timestamp_ms: u64,
    payload: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    let mut ts = itoa::Buffer::new();
    let ts = ts.format(timestamp_ms).as_bytes();
    let params: [(&[u8], &[u8]); 2] = [(b"apiKey", api_key.as_bytes()), (b"timestamp", ts)];
    query_string(&params, payload);
    let mut sig = [0u8; SIG_B64_LEN];
    key.sign_base64(payload, &mut sig);
    out.clear();
    out.extend_from_slice(b"{\"id\":\"");
    out.extend_from_slice(LOGON_ID.as_bytes());
    out.extend_from_slice(b"\",\"method\":\"session.logon\",\"params\":{\"apiKey\":\"");
    out.extend_from_slice(api_key.as_bytes());
    out.extend_from_slice(b"\",\"signature\":\"");
    out.extend_from_slice(&sig);
    out.extend_from_slice(b"\",\"timestamp\":");
    out.extend_from_slice(ts);
    out.extend_from_slice(b"}}");
}

/// `k=v` of `params` joined by `&` into `payload` (the signed string).
fn query_string(params: &[(&[u8], &[u8])], payload: &mut Vec<u8>) {
    payload.clear();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            payload.push(b'&');
        }
        payload.extend_from_slice(k);
        payload.push(b'=');
        payload.extend_from_slice(v);
    }
}

/// The WebSocket method of order request `req` and its params (with `apiKey` first when given)
/// in `params`; `None` when it has no WebSocket form.
fn method_and_params<'a>(
    req: &'a [u8],
    api_key: Option<&'a str>,
    params: &mut [(&'a [u8], &'a [u8]); MAX_PARAMS],
) -> Option<(&'static [u8], usize)> {
    let p = RestParts::split(req)?;
    let method: &'static [u8] = match (p.method, p.path) {
        (b"POST", b"/fapi/v1/order") => b"order.place",
        (b"DELETE", b"/fapi/v1/order") => b"order.cancel",
        (b"GET", b"/fapi/v1/order") => b"order.status",
        (b"PUT", b"/fapi/v1/order") => b"order.modify",
        _ => return None,
    };
    Some((method, collect_params(&p, api_key, params)?))
}

/// `apiKey` (when given) and the params of the query and the body but `signature` into
/// `params`; their count, `None` when there are too many or a value is encoded or needs JSON
/// escaping.
fn collect_params<'a>(
    p: &RestParts<'a>,
    api_key: Option<&'a str>,
    params: &mut [(&'a [u8], &'a [u8]); MAX_PARAMS],
) -> Option<usize> {
    let mut n = 0;
    if let Some(k) = api_key {
        params[0] = (b"apiKey", k.as_bytes());
        n = 1;
    }
    let amp = |b: &u8| *b == b'&';
    for kv in p.query.split(amp).chain(p.body.split(amp)) {
        let Some(eq) = kv.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (k, v) = (&kv[..eq], &kv[eq + 1..]);
        if k == b"signature" {
            continue;
        }
        if n == MAX_PARAMS || v.iter().any(|&b| matches!(b, b'%' | b'+' | b'"' | b'\\')) {
            return None;
        }
        params[n] = (k, v);
        n += 1;
    }
    Some(n)
}

/// `{"id":"<id>","method":"<method>","params":{…,"signature":"<sig>"}}` into `out` (no
/// `signature` without `sig`); INT params as JSON integers.
fn write_frame(
    out: &mut Vec<u8>,
    id: u64,
    method: &[u8],
    params: &[(&[u8], &[u8])],
    sig: Option<&[u8]>,
) {
    out.clear();
    out.extend_from_slice(b"{\"id\":\"");
    push_u64(out, id);
    out.extend_from_slice(b"\",\"method\":\"");
    out.extend_from_slice(method);
    out.extend_from_slice(b"\",\"params\":{");
    for (k, v) in params {
        out.push(b'"');
        out.extend_from_slice(k);
        out.extend_from_slice(b"\":");
        let int = matches!(*k, b"timestamp" | b"recvWindow" | b"orderId")
            && !v.is_empty()
            && v.iter().all(u8::is_ascii_digit);
        if int {
            out.extend_from_slice(v);
        } else {
            out.push(b'"');
            out.extend_from_slice(v);
            out.push(b'"');
        }
        out.push(b',');
    }
    match sig {
        Some(sig) => {
            out.extend_from_slice(b"\"signature\":\"");
            out.extend_from_slice(sig);
            out.extend_from_slice(b"\"}}");
        }
        None => {
            if out.last() == Some(&b',') {
                out.pop();
            }
            out.extend_from_slice(b"}}");
        }
    }
}

/// Reads one frame: a reply to request `id` (its `result`, or its `error` `{"code","msg"}`,
/// copied into `body` as the REST reply body, with the reply's `status`), or anything else.
pub fn read_reply(frame: &[u8], body: &mut Vec<u8>) -> WsReply {
    if field(frame, b"id").map(unquote) == Some(LOGON_ID.as_bytes()) {
        let ok = field(frame, b"status").and_then(int) == Some(200);
        let code = field(frame, b"error")
            .and_then(|e| field(e, b"code"))
            .and_then(int);
        return WsReply::Auth {
            code: if ok { 0 } else { code.unwrap_or(-1) },
        };
    }
    let (Some(id), Some(status)) = (
        field(frame, b"id").and_then(int),
        field(frame, b"status").and_then(int),
    ) else {
        return WsReply::Other;
    };
    let payload = if status == 200 {
        field(frame, b"result")
    } else {
        field(frame, b"error")
    };
    body.clear();
    body.extend_from_slice(payload.unwrap_or(b"{}"));
    WsReply::Order {
        id: id as u64,
        status: u16::try_from(status).unwrap_or(500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_signature_example_is_reproduced() {
        // Binance USD-M "WebSocket API General Info": params sorted by name, HMAC over k=v&…;
        // rebuilt here from a REST-shaped request with the same params.
        let req = b"POST /fapi/v1/order HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nsymbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.1&price=42088.0&timeInForce=GTC&recvWindow=5000&timestamp=1705311512994&signature=00";
        let signer = Signer::new(b"secret");
        let (mut payload, mut out) = (Vec::new(), Vec::new());
        assert!(order_frame(req, 3, "key", &signer, &mut payload, &mut out));
        assert_eq!(
            std::str::from_utf8(&payload).unwrap(),
            "apiKey=key&price=42088.0&quantity=0.1&recvWindow=5000&side=BUY&symbol=BTCUSDT&timeInForce=GTC&timestamp=1705311512994&type=LIMIT"
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "3");
        assert_eq!(v["method"], "order.place");
        assert_eq!(v["params"]["timestamp"], 1705311512994u64);
        assert_eq!(v["params"]["recvWindow"], 5000);
        assert_eq!(v["params"]["quantity"], "0.1");
        let mut want = [0u8; 64];
        signer.sign_hex(&payload, &mut want);
        assert_eq!(
            v["params"]["signature"],
            std::str::from_utf8(&want).unwrap()
        );
    }

    #[test]
    fn the_logon_is_signed_with_ed25519_and_orders_after_it_carry_no_signature() {
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap();
        let key = Ed25519Signer::from_pkcs8(doc.as_ref()).unwrap();
        let (mut payload, mut out) = (Vec::new(), Vec::new());
        logon_frame("key", &key, 1649729878532, &mut payload, &mut out);
        assert_eq!(&payload[..], b"apiKey=key&timestamp=1649729878532");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], LOGON_ID);
        assert_eq!(v["method"], "session.logon");
        assert_eq!(v["params"]["apiKey"], "key");
        assert_eq!(v["params"]["timestamp"], 1649729878532u64);
        let sig = v["params"]["signature"].as_str().unwrap();
        assert!(crate::venue::ed25519::verify_base64(
            &key.public_key(),
            &payload,
            sig.as_bytes()
        ));
        let req = b"POST /fapi/v1/order HTTP/1.1\r\nHost: h\r\n\r\nsymbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.1&recvWindow=5000&timestamp=1705311512994&signature=00";
        assert!(session_order_frame(req, 4, &mut out));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["method"], "order.place");
        assert_eq!(v["id"], "4");
        let p = v["params"].as_object().unwrap();
        let keys: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "quantity",
                "recvWindow",
                "side",
                "symbol",
                "timestamp",
                "type"
            ],
            "no apiKey, no signature"
        );
        assert_eq!(p["timestamp"], 1705311512994u64);
        let ok = br#"{"id":"logon","status":200,"result":{"apiKey":"key"}}"#;
        let bad = br#"{"id":"logon","status":400,"error":{"code":-1022,"msg":"Signature for this request is not valid."}}"#;
        let mut body = Vec::new();
        assert_eq!(read_reply(ok, &mut body), WsReply::Auth { code: 0 });
        assert_eq!(read_reply(bad, &mut body), WsReply::Auth { code: -1022 });
    }

    #[test]
    fn replies_carry_the_result_or_the_error() {
        let ok = br#"{"id":"9","status":200,"result":{"orderId":325078477,"status":"FILLED","avgPrice":"42088.0","executedQty":"0.1"},"rateLimits":[{"rateLimitType":"ORDERS","count":1}]}"#;
        let mut body = Vec::new();
        assert_eq!(
            read_reply(ok, &mut body),
            WsReply::Order { id: 9, status: 200 }
        );
        assert!(body.starts_with(br#"{"orderId":325078477"#));
        let err = br#"{"id":"10","status":400,"error":{"code":-2010,"msg":"Account has insufficient balance for requested action."}}"#;
        assert_eq!(
            read_reply(err, &mut body),
            WsReply::Order {
                id: 10,
                status: 400
            }
        );
        assert_eq!(
            &body[..],
            br#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#
        );
    }
}
