//! Bybit v5 `POST /v5/order/create` requests (linear perpetuals): exact JSON body, v5 HMAC
//! signature and HTTP/1.1 bytes, all written into buffers reused across orders.
//!
//! Recipe (Bybit v5 "authentication"): `X-BAPI-SIGN = hex(HMAC_SHA256(secret, timestamp +
//! api_key + recv_window + payload))` where payload is the exact JSON body sent (POST) or the
//! exact query string (GET); headers `X-BAPI-API-KEY`, `X-BAPI-SIGN`, `X-BAPI-SIGN-TYPE: 2`,
//! `X-BAPI-TIMESTAMP`, `X-BAPI-RECV-WINDOW`.

use rust_decimal::Decimal;

use crate::types::instrument::Instrument;
use crate::types::Side;
use crate::venue::order::{
    prepare, valid_client_prefix, NewOrder, OrderFields, OrderReject, Prepared, TriggerBy,
};
use crate::venue::reply::EntryExits;
use crate::venue::sign::{Credentials, Signer};

use super::body::{self, Link};
use super::template::BybitTemplates;

/// Bybit's spelling of a side (`Buy` / `Sell`).
#[inline]
pub fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "Buy",
        Side::Sell => "Sell",
    }
}

/// Path of the order endpoint.
pub const BYBIT_ORDER_PATH: &str = "/v5/order/create";

/// Builds signed Bybit v5 linear order requests into reused buffers; orders of the symbols
/// given to [`Self::set_symbols`] come from pre-rendered templates (same bytes).
pub struct BybitOrderBuilder {
    creds: Credentials,
    client_prefix: String,
    /// `,"orderLinkId":"<client_prefix>`.
    link: Link,
    body: Vec<u8>,
    request: Vec<u8>,
    /// Where the body starts in `request`.
    body_start: usize,
    sig: [u8; 64],
    exits: (Option<Decimal>, Option<Decimal>),
    templates: BybitTemplates,
    /// The last order came from a template.
    templated: bool,
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
            creds: Credentials::new(api_key, secret, host, recv_window_ms),
            client_prefix: client_prefix.to_string(),
            link: body::link(client_prefix),
            body: Vec::with_capacity(512),
            request: Vec::with_capacity(1024),
            body_start: 0,
            sig: [0; 64],
            exits: (None, None),
            templates: BybitTemplates::new(),
            templated: false,
        })
    }

    /// Renders the order templates of `names` (every side and order type; cold, allocates),
    /// replacing any rendered before: call at start-up and whenever the traded symbols change.
    /// Orders of other symbols are written field by field, to the same bytes.
    pub fn set_symbols<S: AsRef<str>>(&mut self, names: &[S]) {
        self.templates
            .render(&self.creds, &self.client_prefix, names);
    }

    /// True when the last order was written from a template.
    pub fn last_templated(&self) -> bool {
        self.templated
    }

    /// Rounds `o` to `inst`, writes the JSON body and the signed HTTP/1.1 request, and returns
    /// the request bytes. Body key order: `price`, `timeInForce` (limit only), `category`,
    /// `symbol`, `side`, `orderType`, `qty`, then `reduceOnly`, `orderLinkId`, `takeProfit`,
    /// `stopLoss`, `tpslMode`, `tpTriggerBy`, `slTriggerBy` when set (the triggers not when
    /// `LastPrice`, Bybit's default: `venue::bybit::body`). No allocation once the buffers have
    /// reached their working size.
    #[inline]
    pub fn build(&mut self, inst: &Instrument, o: &NewOrder<'_>) -> Result<&[u8], OrderReject> {
        let p = prepare(inst, o)?;
        self.exits = (p.take_profit, p.stop_loss);
        let signer = &self.creds.signer;
        self.templated = self.templates.write(signer, o, &p, &mut self.sig).is_some();
        if !self.templated {
            self.write_fields(o, &p);
        }
        Ok(self.last_request())
    }

    /// [`Self::build`] field by field (no template), from the rounded `p`.
    fn write_fields(&mut self, o: &NewOrder<'_>, p: &Prepared) {
        let b = &mut self.body;
        b.clear();
        b.push(b'{');
        body::limit_price(b, o, p);
        body::segment(b, o.symbol, o.side, o.order_type);
        body::rest(b, o, p, &self.link);
        let c = &self.creds;
        write_signed_request(
            &mut self.request,
            &mut self.sig,
            &c.signer,
            SignedParts {
                method: "POST",
                path: BYBIT_ORDER_PATH,
                query: b"",
                host: &c.host,
                api_key: &c.api_key,
                recv_window: c.recv_window.as_bytes(),
                timestamp_ms: o.timestamp_ms,
                body: &self.body,
            },
        );
        self.body_start = self.request.len() - self.body.len();
    }

    /// The full HTTP request bytes of the last successful [`Self::build`].
    pub fn last_request(&self) -> &[u8] {
        if self.templated {
            self.templates.request()
        } else {
            &self.request
        }
    }

    /// The take-profit and stop-loss (on the tick, as sent) of the last successful build.
    pub fn last_exits(&self) -> (Option<Decimal>, Option<Decimal>) {
        self.exits
    }

    /// The JSON body of the last request.
    pub fn last_body(&self) -> &[u8] {
        if self.templated {
            self.templates.body()
        } else {
            &self.request[self.body_start..]
        }
    }

    /// The `X-BAPI-SIGN` of the last request (lowercase hex).
    pub fn last_signature(&self) -> &[u8; 64] {
        &self.sig
    }
}

impl std::fmt::Debug for BybitOrderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybitOrderBuilder")
            .field("host", &self.creds.host)
            .field("client_prefix", &self.client_prefix)
            .finish_non_exhaustive()
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

/// The one Bybit v5 signing recipe: `sig = hex(HMAC_SHA256(secret, timestamp + api_key +
/// recv_window + payload))`, payload the exact query string (GET) or JSON body (POST).
#[inline]
pub fn sign(
    signer: &Signer,
    timestamp: &[u8],
    api_key: &[u8],
    recv_window: &[u8],
    payload: &[u8],
    sig: &mut [u8; 64],
) {
    signer.sign_parts_hex(&[timestamp, api_key, recv_window, payload], sig);
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
    sign(
        signer,
        ts,
        p.api_key.as_bytes(),
        p.recv_window,
        payload,
        sig,
    );
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

/// Bybit v5 linear: the order builder plus order-status and account queries signed with the
/// same key (`GET …?<query>`, `X-BAPI-SIGN = hex(HMAC(secret, ts + key + recv_window + query))`).
///
/// Market orders are acknowledged (`{"orderId","orderLinkId"}`) before they are matched, so a
/// fill is learnt from `GET /v5/order/realtime?orderLinkId=…` (queried at once after the ack).
pub struct BybitVenue {
    builder: BybitOrderBuilder,
    query: Vec<u8>,
    request: Vec<u8>,
    sig: [u8; 64],
}

impl std::fmt::Debug for BybitVenue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BybitVenue")
            .field("builder", &self.builder)
            .finish_non_exhaustive()
    }
}

impl BybitVenue {
    /// A venue for `host` signing with `secret`; `client_prefix` (`ct<session>-`) starts every
    /// `orderLinkId`. Errors on a bad prefix, key or host.
    pub fn new(
        api_key: &str,
        secret: &[u8],
        host: &str,
        recv_window_ms: u64,
        client_prefix: &str,
    ) -> Result<Self, String> {
        Ok(Self {
            builder: BybitOrderBuilder::new(api_key, secret, host, recv_window_ms, client_prefix)?,
            query: Vec::with_capacity(256),
            request: Vec::with_capacity(1024),
            sig: [0; 64],
        })
    }

    /// The take-profit and stop-loss of the last built order, on the tick, as sent.
    pub fn last_exits(&self) -> (Option<Decimal>, Option<Decimal>) {
        self.builder.last_exits()
    }

    /// Renders the order templates of `names` ([`BybitOrderBuilder::set_symbols`]).
    pub fn set_symbols<S: AsRef<str>>(&mut self, names: &[S]) {
        self.builder.set_symbols(names);
    }

    /// True when the last order came from a template.
    pub fn last_templated(&self) -> bool {
        self.builder.last_templated()
    }

    /// The request bytes of the last order built ([`Self::build_order`]).
    #[inline]
    pub fn last_order(&self) -> &[u8] {
        self.builder.last_request()
    }

    fn signed_get(&mut self, path: &str, ts_ms: u64) -> &[u8] {
        let c = &self.builder.creds;
        write_signed_request(
            &mut self.request,
            &mut self.sig,
            &c.signer,
            SignedParts {
                method: "GET",
                path,
                query: &self.query,
                host: &c.host,
                api_key: &c.api_key,
                recv_window: c.recv_window.as_bytes(),
                timestamp_ms: ts_ms,
                body: b"",
            },
        );
        &self.request
    }

    /// The signed market order: [`BybitOrderBuilder::build`] with `orderLinkId =
    /// <prefix><seq>`, `reduceOnly` on exits and, on entries, `exits` as position TP/SL
    /// (`tpslMode=Full`, `LastPrice` triggers: the trade prices the engine's own exits watch;
    /// Bybit's default, so not written);
    /// an exit trigger on the wrong side of `ref_price` is dropped (the engine's client-side exit
    /// still holds). `ref_price` (on the tick) is the notional reference. No allocation.
    #[inline]
    pub fn build_order(
        &mut self,
        inst: &Instrument,
        o: &OrderFields<'_>,
        ref_price: Decimal,
        exits: EntryExits,
    ) -> Result<&[u8], OrderReject> {
        let mut n = NewOrder::market(o.symbol, o.side, o.quantity, ref_price);
        n.reduce_only = o.reduce_only;
        n.client_seq = Some(o.client_seq);
        n.trigger_by = TriggerBy::LastPrice;
        n.timestamp_ms = o.timestamp_ms;
        if !o.reduce_only {
            n.take_profit = exits.take_profit;
            n.stop_loss = exits.stop_loss;
        }
        let mut r = self.builder.build(inst, &n).map(|_| ());
        if r == Err(OrderReject::InvalidTrigger) {
            n.take_profit = None;
            n.stop_loss = None;
            r = self.builder.build(inst, &n).map(|_| ());
        }
        r?;
        Ok(self.builder.last_request())
    }

    /// `POST /v5/position/trading-stop` setting `symbol`'s position take-profit / stop-loss
    /// (`tpslMode=Full`, `positionIdx=0`, `LastPrice` triggers as the entries' own; a level
    /// left `None` is not sent, so the venue keeps it), signed.
    pub fn build_trading_stop(
        &mut self,
        symbol: &str,
        (tp, sl): (Option<Decimal>, Option<Decimal>),
        ts_ms: u64,
    ) -> &[u8] {
        let mut body = format!(
            r#"{{"category":"linear","symbol":"{symbol}","tpslMode":"Full","positionIdx":0"#
        );
        if let Some(tp) = tp {
            body.push_str(&format!(
                r#","takeProfit":"{tp}","tpTriggerBy":"LastPrice""#
            ));
        }
        if let Some(sl) = sl {
            body.push_str(&format!(r#","stopLoss":"{sl}","slTriggerBy":"LastPrice""#));
        }
        body.push('}');
        let c = &self.builder.creds;
        write_signed_request(
            &mut self.request,
            &mut self.sig,
            &c.signer,
            SignedParts {
                method: "POST",
                path: "/v5/position/trading-stop",
                query: b"",
                host: &c.host,
                api_key: &c.api_key,
                recv_window: c.recv_window.as_bytes(),
                timestamp_ms: ts_ms,
                body: body.as_bytes(),
            },
        );
        &self.request
    }

    /// `GET /v5/order/realtime?category=linear&symbol=…&orderLinkId=ct<session>-<seq>`, signed.
    /// No allocation.
    pub fn build_query_order(&mut self, symbol: &str, session: u32, seq: u64, ts_ms: u64) -> &[u8] {
        let q = &mut self.query;
        q.clear();
        q.extend_from_slice(b"category=linear&symbol=");
        q.extend_from_slice(symbol.as_bytes());
        q.extend_from_slice(b"&orderLinkId=ct");
        q.extend_from_slice(itoa::Buffer::new().format(session).as_bytes());
        q.push(b'-');
        q.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
        self.signed_get("/v5/order/realtime", ts_ms)
    }

    /// `GET /v5/position/list?category=linear&symbol=…`, signed. No allocation.
    pub fn build_position(&mut self, symbol: &str, ts_ms: u64) -> &[u8] {
        self.query.clear();
        self.query.extend_from_slice(b"category=linear&symbol=");
        self.query.extend_from_slice(symbol.as_bytes());
        self.signed_get("/v5/position/list", ts_ms)
    }

    /// `GET /v5/position/list?category=linear&settleCoin=USDT`, signed.
    pub fn build_positions(&mut self, ts_ms: u64) -> &[u8] {
        self.query.clear();
        self.query
            .extend_from_slice(b"category=linear&settleCoin=USDT");
        self.signed_get("/v5/position/list", ts_ms)
    }

    /// `GET /v5/execution/list?category=linear&symbol=<symbol>&startTime=<start_ms>&limit=100
    /// [&cursor=<cursor>]`, signed: one page of the account's executions of `symbol` from
    /// `start_ms` on, newest first (100, the documented maximum; the venue answers at most 7
    /// days from `startTime`). `cursor` (empty: the first page) is the previous page's
    /// `nextPageCursor`, passed as the venue gave it (it comes URL-encoded).
    pub fn build_executions(
        &mut self,
        symbol: &str,
        start_ms: u64,
        cursor: &str,
        ts_ms: u64,
    ) -> &[u8] {
        self.query.clear();
        self.query.extend_from_slice(b"category=linear&symbol=");
        self.query.extend_from_slice(symbol.as_bytes());
        self.query.extend_from_slice(b"&startTime=");
        self.query
            .extend_from_slice(itoa::Buffer::new().format(start_ms).as_bytes());
        self.query.extend_from_slice(b"&limit=100");
        if !cursor.is_empty() {
            self.query.extend_from_slice(b"&cursor=");
            self.query.extend_from_slice(cursor.as_bytes());
        }
        self.signed_get("/v5/execution/list", ts_ms)
    }

    /// `GET /v5/order/realtime?category=linear&settleCoin=USDT&openOnly=0`, signed.
    pub fn build_open_orders(&mut self, ts_ms: u64) -> &[u8] {
        self.query.clear();
        self.query
            .extend_from_slice(b"category=linear&settleCoin=USDT&openOnly=0");
        self.signed_get("/v5/order/realtime", ts_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::order::TimeInForce;

    #[test]
    fn debug_prints_neither_key_nor_secret() {
        let (key, secret) = ("XXXXXXXXXX-api-key", "YYYYYYYYYY-secret");
        let v = BybitVenue::new(key, secret.as_bytes(), "api.bybit.com", 5000, "ct1-").unwrap();
        let s = format!("{v:?}");
        assert!(s.contains("api.bybit.com"), "{s}");
        assert!(!s.contains(key) && !s.contains(secret), "{s}");
    }

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
            r#"{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Market","qty":"0.016","orderLinkId":"ct-42","takeProfit":"61200","stopLoss":"59400.1","tpslMode":"Full"}"#
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

    /// Triggers other than `LastPrice` (Bybit's documented default, left out) are sent, each
    /// only with its level.
    #[test]
    fn mark_and_index_triggers_are_written_with_their_levels() {
        let mut b = BybitOrderBuilder::new("k", b"s", "h", 5000, "ct-").unwrap();
        let mut o = NewOrder::market("BTCUSDT", Side::Sell, d("0.02"), d("60000"));
        o.take_profit = Some(d("59000.05"));
        o.stop_loss = Some(d("61000.05"));
        o.trigger_by = TriggerBy::MarkPrice;
        let (_, body) = split(b.build(&btc(), &o).unwrap());
        assert!(
            body.ends_with(r#""takeProfit":"59000.1","stopLoss":"61000","tpslMode":"Full","tpTriggerBy":"MarkPrice","slTriggerBy":"MarkPrice"}"#),
            "{body}"
        );
        o.stop_loss = None;
        o.trigger_by = TriggerBy::IndexPrice;
        let (_, body) = split(b.build(&btc(), &o).unwrap());
        assert!(
            body.ends_with(
                r#""takeProfit":"59000.1","tpslMode":"Full","tpTriggerBy":"IndexPrice"}"#
            ),
            "{body}"
        );
        o.trigger_by = TriggerBy::LastPrice;
        let (_, body) = split(b.build(&btc(), &o).unwrap());
        assert!(
            body.ends_with(r#""takeProfit":"59000.1","tpslMode":"Full"}"#),
            "{body}"
        );
    }

    #[test]
    fn reduce_only_limit_sell_rounds_the_price_up_to_the_tick() {
        let mut b = BybitOrderBuilder::new("k", b"s", "h", 20000, "x").unwrap();
        let mut o = NewOrder::limit("BTCUSDT", Side::Sell, d("2.5"), d("61800.31"));
        o.reduce_only = true;
        o.time_in_force = TimeInForce::PostOnly;
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
