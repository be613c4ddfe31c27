//! Bybit v5 `POST /v5/order/create` requests (linear perpetuals): exact JSON body, v5 HMAC
//! signature and HTTP/1.1 bytes, all written into buffers reused across orders.
//!
//! Recipe (Bybit v5 "authentication"): `X-BAPI-SIGN = hex(HMAC_SHA256(secret, timestamp +
//! api_key + recv_window + payload))` where payload is the exact JSON body sent (POST) or the
//! exact query string (GET); headers `X-BAPI-API-KEY`, `X-BAPI-SIGN`, `X-BAPI-SIGN-TYPE: 2`,
//! `X-BAPI-TIMESTAMP`, `X-BAPI-RECV-WINDOW`.

use super::order_request::{prepare, valid_client_prefix, NewOrder, OrderReject, OrderType};
use super::sign::Signer;
use crate::types::{instrument::write_decimal, Instrument, Side};

/// Bybit's spelling of a side (`Buy` / `Sell`).
#[inline]
pub fn bybit_side(s: Side) -> &'static str {
    match s {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    }
}

/// Path of the order endpoint.
pub const BYBIT_ORDER_PATH: &str = "/v5/order/create";

/// Builds signed Bybit v5 linear order requests into reused buffers.
pub struct BybitOrderBuilder {
    signer: Signer,
    api_key: String,
    host: String,
    recv_window: String,
    client_prefix: String,
    body: Vec<u8>,
    request: Vec<u8>,
    sig: [u8; 64],
    exits: (Option<rust_decimal::Decimal>, Option<rust_decimal::Decimal>),
}

impl std::fmt::Debug for BybitOrderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybitOrderBuilder")
            .field("host", &self.host)
            .field("client_prefix", &self.client_prefix)
            .finish_non_exhaustive()
    }
}

impl BybitOrderBuilder {
    /// A builder for `host` signing with `secret`; `client_prefix` (≤ 16 of `[A-Za-z0-9_-]`)
    /// starts every `orderLinkId`. `recv_window_ms` is sent as `X-BAPI-RECV-WINDOW`.
    pub fn new(
        api_key: &str,
        secret: &[u8],
        host: &str,
        recv_window_ms: u64,
        client_prefix: &str,
    ) -> Result<Self, String> {
        if !valid_client_prefix(client_prefix) {
            return Err(format!(
                "client order id prefix {client_prefix:?} must be at most 16 of [A-Za-z0-9_-]"
            ));
        }
        if api_key.bytes().any(|b| b.is_ascii_control() || b == b' ') || host.is_empty() {
            return Err("api key must be printable without spaces and host non-empty".into());
        }
        Ok(Self {
            signer: Signer::new(secret),
            api_key: api_key.to_string(),
            host: host.to_string(),
            recv_window: recv_window_ms.to_string(),
            client_prefix: client_prefix.to_string(),
            body: Vec::with_capacity(512),
            request: Vec::with_capacity(1024),
            sig: [0; 64],
            exits: (None, None),
        })
    }

    /// Rounds `o` to `inst`, writes the JSON body and the signed HTTP/1.1 request, and returns
    /// the request bytes. Body key order: `price`, `timeInForce` (limit only), `category`,
    /// `symbol`, `side`, `orderType`, `qty`, then `reduceOnly`, `orderLinkId`, `takeProfit`,
    /// `stopLoss`, `tpslMode`, `tpTriggerBy`, `slTriggerBy` when set. No allocation once the
    /// buffers have reached their working size.
    pub fn build(&mut self, inst: &Instrument, o: &NewOrder<'_>) -> Result<&[u8], OrderReject> {
        let p = prepare(inst, o)?;
        self.exits = (p.take_profit, p.stop_loss);
        let b = &mut self.body;
        b.clear();
        b.push(b'{');
        if let (OrderType::Limit, Some(price)) = (o.order_type, p.price) {
            b.extend_from_slice(b"\"price\":\"");
            write_decimal(b, price, true);
            b.extend_from_slice(b"\",\"timeInForce\":\"");
            b.extend_from_slice(o.time_in_force.bybit().as_bytes());
            b.extend_from_slice(b"\",");
        }
        b.extend_from_slice(b"\"category\":\"linear\",\"symbol\":\"");
        b.extend_from_slice(o.symbol.as_bytes());
        b.extend_from_slice(b"\",\"side\":\"");
        b.extend_from_slice(bybit_side(o.side).as_bytes());
        b.extend_from_slice(b"\",\"orderType\":\"");
        b.extend_from_slice(match o.order_type {
            OrderType::Market => &b"Market"[..],
            OrderType::Limit => &b"Limit"[..],
        });
        b.extend_from_slice(b"\",\"qty\":\"");
        write_decimal(b, p.qty, true);
        b.push(b'"');
        if o.reduce_only {
            b.extend_from_slice(b",\"reduceOnly\":true");
        }
        if let Some(seq) = o.client_seq {
            b.extend_from_slice(b",\"orderLinkId\":\"");
            b.extend_from_slice(self.client_prefix.as_bytes());
            b.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
            b.push(b'"');
        }
        if let Some(tp) = p.take_profit {
            b.extend_from_slice(b",\"takeProfit\":\"");
            write_decimal(b, tp, true);
            b.push(b'"');
        }
        if let Some(sl) = p.stop_loss {
            b.extend_from_slice(b",\"stopLoss\":\"");
            write_decimal(b, sl, true);
            b.push(b'"');
        }
        if p.take_profit.is_some() || p.stop_loss.is_some() {
            // Full: the exits close the whole position at market when triggered.
            b.extend_from_slice(b",\"tpslMode\":\"Full\"");
            if p.take_profit.is_some() {
                b.extend_from_slice(b",\"tpTriggerBy\":\"");
                b.extend_from_slice(o.trigger_by.bybit().as_bytes());
                b.push(b'"');
            }
            if p.stop_loss.is_some() {
                b.extend_from_slice(b",\"slTriggerBy\":\"");
                b.extend_from_slice(o.trigger_by.bybit().as_bytes());
                b.push(b'"');
            }
        }
        b.push(b'}');
        write_signed_request(
            &mut self.request,
            &mut self.sig,
            &self.signer,
            SignedParts {
                method: "POST",
                path: BYBIT_ORDER_PATH,
                query: b"",
                host: &self.host,
                api_key: &self.api_key,
                recv_window: self.recv_window.as_bytes(),
                timestamp_ms: o.timestamp_ms,
                body: &self.body,
            },
        );
        Ok(&self.request)
    }

    /// The full HTTP request bytes of the last successful [`Self::build`].
    pub fn last_request(&self) -> &[u8] {
        &self.request
    }

    /// The take-profit and stop-loss (on the tick, as sent) of the last successful build.
    pub fn last_exits(&self) -> (Option<rust_decimal::Decimal>, Option<rust_decimal::Decimal>) {
        self.exits
    }

    /// The JSON body of the last request.
    pub fn last_body(&self) -> &[u8] {
        &self.body
    }

    /// The `X-BAPI-SIGN` of the last request (lowercase hex).
    pub fn last_signature(&self) -> &[u8; 64] {
        &self.sig
    }
}

/// The parts of one Bybit v5 signed request.
#[derive(Clone, Copy, Debug)]
pub struct SignedParts<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Path, e.g. `/v5/order/create`.
    pub path: &'a str,
    /// Query string without `?` (GET payload), empty for POST.
    pub query: &'a [u8],
    /// Host header.
    pub host: &'a str,
    /// `X-BAPI-API-KEY`.
    pub api_key: &'a str,
    /// `X-BAPI-RECV-WINDOW` as decimal text.
    pub recv_window: &'a [u8],
    /// `X-BAPI-TIMESTAMP`, Unix ms on the venue clock.
    pub timestamp_ms: u64,
    /// JSON body (POST payload), empty for GET.
    pub body: &'a [u8],
}

/// Signs `parts` (`sign = HMAC(timestamp + api_key + recv_window + (query | body))`) into
/// `sig` and writes the HTTP/1.1 request into `out` (cleared first).
#[inline]
pub fn write_signed_request(
    out: &mut Vec<u8>,
    sig: &mut [u8; 64],
    signer: &Signer,
    p: SignedParts<'_>,
) {
    let mut ts = itoa::Buffer::new();
    let ts = ts.format(p.timestamp_ms).as_bytes();
    let payload = if p.body.is_empty() { p.query } else { p.body };
    signer.sign_parts_hex(&[ts, p.api_key.as_bytes(), p.recv_window, payload], sig);
    out.clear();
    out.extend_from_slice(p.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(p.path.as_bytes());
    if !p.query.is_empty() {
        out.push(b'?');
        out.extend_from_slice(p.query);
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(p.host.as_bytes());
    out.extend_from_slice(b"\r\nX-BAPI-API-KEY: ");
    out.extend_from_slice(p.api_key.as_bytes());
    out.extend_from_slice(b"\r\nX-BAPI-SIGN: ");
    out.extend_from_slice(sig);
    out.extend_from_slice(b"\r\nX-BAPI-SIGN-TYPE: 2\r\nX-BAPI-TIMESTAMP: ");
    out.extend_from_slice(ts);
    out.extend_from_slice(b"\r\nX-BAPI-RECV-WINDOW: ");
    out.extend_from_slice(p.recv_window);
    if p.method == "POST" {
        out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(p.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(p.body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::order_request::TriggerBy;
    use rust_decimal::Decimal;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn btc() -> Instrument {
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5"))
            .unwrap()
            .with_limits(d("1500"), Some(d("100")))
    }

    fn split(req: &[u8]) -> (String, String) {
        let text = String::from_utf8(req.to_vec()).unwrap();
        let (h, b) = text.split_once("\r\n\r\n").unwrap();
        (h.to_string(), b.to_string())
    }

    #[test]
    fn market_order_with_exits_is_signed_over_the_exact_body() {
        let mut b =
            BybitOrderBuilder::new("key1", b"secret", "api.bybit.com", 5000, "ct-").unwrap();
        let mut o = NewOrder::market("BTCUSDT", Side::Buy, d("0.01699"), d("60000"));
        o.client_seq = Some(42);
        o.take_profit = Some(d("61200.07"));
        o.stop_loss = Some(d("59400.01"));
        o.trigger_by = TriggerBy::LastPrice;
        o.timestamp_ms = 1_700_000_000_000;
        let (head, body) = split(b.build(&btc(), &o).unwrap());
        assert_eq!(
            body,
            r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"0.016","orderLinkId":"ct-42","takeProfit":"61200","stopLoss":"59400.1","tpslMode":"Full","tpTriggerBy":"LastPrice","slTriggerBy":"LastPrice"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["qty"], "0.016");
        assert!(head.starts_with("POST /v5/order/create HTTP/1.1\r\nHost: api.bybit.com\r\n"));
        assert!(head.contains("\r\nX-BAPI-API-KEY: key1\r\n"));
        assert!(head.contains("\r\nX-BAPI-TIMESTAMP: 1700000000000\r\n"));
        assert!(head.contains("\r\nX-BAPI-RECV-WINDOW: 5000\r\n"));
        assert!(head.contains("\r\nX-BAPI-SIGN-TYPE: 2\r\n"));
        assert!(head.ends_with(&format!("Content-Length: {}", body.len())));
        let sig = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("X-BAPI-SIGN: "))
            .unwrap();
        let payload = format!("1700000000000key15000{body}");
        assert!(Signer::new(b"secret").verify_hex(payload.as_bytes(), sig.as_bytes()));
        assert_eq!(sig.as_bytes(), b.last_signature());
    }

    #[test]
    fn reduce_only_limit_sell_rounds_the_price_up_to_the_tick() {
        let mut b = BybitOrderBuilder::new("k", b"s", "h", 20000, "x").unwrap();
        let mut o = NewOrder::limit("BTCUSDT", Side::Sell, d("2.5"), d("61800.31"));
        o.reduce_only = true;
        o.time_in_force = crate::exec::order_request::TimeInForce::PostOnly;
        let (head, body) = split(b.build(&btc(), &o).unwrap());
        assert_eq!(
            body,
            r#"{"price":"61800.4","timeInForce":"PostOnly","category":"linear","symbol":"BTCUSDT","side":"Sell","orderType":"Limit","qty":"2.5","reduceOnly":true}"#
        );
        assert!(head.contains("X-BAPI-RECV-WINDOW: 20000\r\n"));
    }

    #[test]
    fn rejected_orders_write_nothing_new() {
        let mut b = BybitOrderBuilder::new("k", b"s", "h", 5000, "x").unwrap();
        let o = NewOrder::market("BTCUSDT", Side::Buy, d("0.0009"), d("60000"));
        assert!(b.build(&btc(), &o).is_err());
        assert!(b.last_body().is_empty());
    }

    #[test]
    fn bad_prefix_is_refused() {
        assert!(BybitOrderBuilder::new("k", b"s", "h", 5000, "bad\"prefix").is_err());
    }
}
