//! Bybit v5 order-entry WebSocket (`/v5/trade`), client side: the session's `auth` frame, the
//! order frames rendered from the REST request the builder signed (`POST /v5/order/create` →
//! `order.create`, `/cancel` → `order.cancel`, `/amend` → `order.amend`: `args` is the REST
//! body, `header` carries its `X-BAPI-TIMESTAMP` / `X-BAPI-RECV-WINDOW`; the REST signature is
//! not sent — the socket is authenticated once), and the reply reader. No allocation after the
//! buffers grew to an order's size.

use crate::venue::sign::Signer;
use crate::venue::ws_api::{field, int, push_u64, unquote, RestParts, WsReply};

/// The application heartbeat (Bybit closes a socket silent for about a minute; send every 20 s).
pub const PING: &[u8] = br#"{"op":"ping"}"#;

/// `{"reqId":"auth","op":"auth","args":[key, expires_ms, hex(HMAC(secret,
/// "GET/realtime" + expires_ms))]}` into `out`.
pub fn auth_frame(api_key: &str, signer: &Signer, expires_ms: u64, out: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    let exp = digits.format(expires_ms).as_bytes();
    let mut sig = [0u8; 64];
    signer.sign_parts_hex(&[b"GET/realtime", exp], &mut sig);
    out.clear();
    out.extend_from_slice(br#"{"reqId":"auth","op":"auth","args":[""#);
    out.extend_from_slice(api_key.as_bytes());
    out.extend_from_slice(b"\",");
    out.extend_from_slice(exp);
    out.extend_from_slice(b",\"");
    out.extend_from_slice(&sig);
    out.extend_from_slice(b"\"]}");
}

/// The order frame of REST request `req` under `reqId` = `id` into `out`; `false` (nothing
/// written) when `req` has no order-entry op (queries stay on REST).
pub fn order_frame(req: &[u8], id: u64, out: &mut Vec<u8>) -> bool {
    let Some(p) = RestParts::split(req) else {
        return false;
    };
    let op: &[u8] = match (p.method, p.path) {
        (b"POST", b"/v5/order/create") => b"order.create",
        (b"POST", b"/v5/order/cancel") => b"order.cancel",
        (b"POST", b"/v5/order/amend") => b"order.amend",
        _ => return false,
    };
    let (Some(ts), Some(rw)) = (
        p.header(b"X-BAPI-TIMESTAMP"),
        p.header(b"X-BAPI-RECV-WINDOW"),
    ) else {
        return false;
    };
    out.clear();
    out.extend_from_slice(br#"{"reqId":""#);
    push_u64(out, id);
    out.extend_from_slice(br#"","header":{"X-BAPI-TIMESTAMP":""#);
    out.extend_from_slice(ts);
    out.extend_from_slice(br#"","X-BAPI-RECV-WINDOW":""#);
    out.extend_from_slice(rw);
    out.extend_from_slice(br#""},"op":""#);
    out.extend_from_slice(op);
    out.extend_from_slice(br#"","args":["#);
    out.extend_from_slice(p.body);
    out.extend_from_slice(b"]}");
    true
}

/// Reads one frame: an order op's reply (its `data` and `retCode` rewritten into `body` as the
/// REST reply `{"retCode":…,"result":…}`, status 200 as REST answers), the `auth` reply, or
/// anything else (pong).
pub fn read_reply(frame: &[u8], body: &mut Vec<u8>) -> WsReply {
    let op = field(frame, b"op").map(unquote).unwrap_or(b"");
    let code = field(frame, b"retCode").and_then(int);
    if op == b"auth" {
        return WsReply::Auth {
            code: code.unwrap_or(-1),
        };
    }
    if !op.starts_with(b"order.") {
        return WsReply::Other;
    }
    let Some(id) = field(frame, b"reqId").and_then(int) else {
        return WsReply::Other;
    };
    body.clear();
    body.extend_from_slice(br#"{"retCode":"#);
    match field(frame, b"retCode") {
        Some(c) => body.extend_from_slice(c),
        None => body.extend_from_slice(b"-1"),
    }
    body.extend_from_slice(br#","result":"#);
    body.extend_from_slice(field(frame, b"data").unwrap_or(b"{}"));
    body.push(b'}');
    WsReply::Order {
        id: id as u64,
        status: 200,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_request_becomes_an_order_create_frame() {
        let req = b"POST /v5/order/create HTTP/1.1\r\nHost: h\r\nX-BAPI-API-KEY: k\r\nX-BAPI-SIGN: s\r\nX-BAPI-SIGN-TYPE: 2\r\nX-BAPI-TIMESTAMP: 1700000000000\r\nX-BAPI-RECV-WINDOW: 5000\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{\"category\":\"linear\",\"symbol\":\"BTCUSDT\"}";
        let mut out = Vec::new();
        assert!(order_frame(req, 7, &mut out));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["reqId"], "7");
        assert_eq!(v["op"], "order.create");
        assert_eq!(v["header"]["X-BAPI-TIMESTAMP"], "1700000000000");
        assert_eq!(v["header"]["X-BAPI-RECV-WINDOW"], "5000");
        assert_eq!(v["args"][0]["symbol"], "BTCUSDT");
        let query = b"GET /v5/order/realtime?category=linear HTTP/1.1\r\nX-BAPI-TIMESTAMP: 1\r\nX-BAPI-RECV-WINDOW: 5\r\n\r\n";
        assert!(!order_frame(query, 8, &mut out));
    }

    #[test]
    fn replies_are_read_in_the_documented_shape() {
        // The documented order.create reply (Bybit v5 "Websocket Trade Guideline").
        let f = br#"{"reqId":"12","retCode":0,"retMsg":"OK","op":"order.create","data":{"orderId":"1321003749386327552","orderLinkId":"spot-test-postonly"},"header":{"X-Bapi-Limit":"20","X-Bapi-Limit-Status":"19","X-Bapi-Limit-Reset-Timestamp":"1711001595207","Traceid":"x","Timenow":"1711001595209"},"connId":"cnmkhs3p8ahmq5hd4t8g-2h"}"#;
        let mut body = Vec::new();
        assert_eq!(
            read_reply(f, &mut body),
            WsReply::Order {
                id: 12,
                status: 200
            }
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["retCode"], 0);
        assert_eq!(v["result"]["orderId"], "1321003749386327552");
        let auth = br#"{"retCode":10004,"retMsg":"Invalid sign","op":"auth","connId":"c"}"#;
        assert_eq!(read_reply(auth, &mut body), WsReply::Auth { code: 10004 });
        let pong = br#"{"retCode":0,"retMsg":"OK","op":"pong","data":["1"],"connId":"c"}"#;
        assert_eq!(read_reply(pong, &mut body), WsReply::Other);
    }
}
