//! Loopback REST order entry of the embedded exchange, speaking Binance USD-M: signed requests
//! are verified exactly like the venue does (HMAC-SHA256 over query string + body, `X-MBX-APIKEY`,
//! `timestamp`/`recvWindow`), then handed to the [`Matching`] engine.
//!
//! Endpoints (all signed except `time`):
//! - `POST /fapi/v1/order` — `MARKET` (answered as `newOrderRespType=RESULT`: the fill is in the
//!   response), `STOP_MARKET` / `TAKE_PROFIT_MARKET` with `stopPrice`, `quantity` or
//!   `closePosition=true`, `reduceOnly`, `newClientOrderId`.
//! - `GET /fapi/v1/order` (`origClientOrderId` or `orderId`), `DELETE /fapi/v1/order`,
//!   `GET /fapi/v1/openOrders`.
//! - `GET /fapi/v1/userTrades?symbol=` — fills, including TP/SL fills triggered by the replay
//!   (this is how a client learns about them: poll it, or query the order by client id).
//! - `GET /fapi/v2/positionRisk`, `GET /fapi/v2/balance`, `GET /fapi/v1/time`.
//!
//! Bybit v5 (`POST /v5/order/create`, `GET /v5/order/realtime`, `GET /v5/position/list`) is
//! served on the same port and matching engine, verified with `X-BAPI-*` headers (see the
//! `bybit` module).
//!
//! Errors are the venue's JSON (`{"code":-1022,"msg":"Signature for this request is not valid."}`)
//! with the venue's HTTP status (400, or 401 for key errors). One thread per connection,
//! HTTP/1.1 keep-alive; `max_requests_per_connection` closes a connection after N responses
//! (`Connection: close`), as real front ends do, which exercises client reconnects.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::market::{MarketState, TradeListener};
use super::orders::{OrderRequest, OrderError, OrderKind, SimOrder, SimVenue};
use crate::exec::Signer;
use crate::feed::Side;

/// API key and secret the embedded exchange accepts, generated at start (never stored).
#[derive(Clone)]
pub struct SimCredentials {
    /// API key (`X-MBX-APIKEY`), 64 hex chars.
    pub api_key: String,
    /// HMAC secret, 64 hex chars.
    pub secret: String,
}

impl std::fmt::Debug for SimCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimCredentials { api_key: <redacted>, secret: <redacted> }")
    }
}

impl SimCredentials {
    /// Fresh random credentials from the system RNG.
    pub fn generate() -> std::io::Result<Self> {
        let rng = SystemRandom::new();
        let hex = || -> std::io::Result<String> {
            let mut b = [0u8; 32];
            rng.fill(&mut b)
                .map_err(|_| std::io::Error::other("system RNG failed"))?;
            Ok(b.iter().map(|x| format!("{x:02x}")).collect())
        };
        Ok(Self {
            api_key: hex()?,
            secret: hex()?,
        })
    }
}

/// Server options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestOptions {
    /// Close each connection after this many responses (0 = never).
    pub max_requests_per_connection: usize,
    /// Largest accepted `recvWindow`, ms (Binance: 60000).
    pub max_recv_window_ms: u64,
    /// Simulated latency between matching a new order and sending its reply (the order is
    /// already filled at the exchange while the client waits: the crash-recovery window).
    pub order_reply_delay: Duration,
}

impl Default for RestOptions {
    fn default() -> Self {
        Self {
            max_requests_per_connection: 0,
            max_recv_window_ms: 60_000,
            order_reply_delay: Duration::ZERO,
        }
    }
}

/// Counters of the REST server.
#[derive(Debug, Default)]
pub struct OrderEntryStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
}

/// A running REST order server. Dropping it stops the accept loop and the connection threads.
pub struct RestExchange {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    venue: Arc<SimVenue>,
    stats: Arc<OrderEntryStats>,
    creds: SimCredentials,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    venue: Arc<SimVenue>,
    signer: Signer,
    api_key: String,
    opts: RestOptions,
    stop: Arc<AtomicBool>,
    stats: Arc<OrderEntryStats>,
}

impl RestExchange {
    /// Serves `venue` on `bind` (loopback only; port 0 = any free port) with fresh credentials.
    /// If `market` is given, `venue` is subscribed to its replayed trades.
    pub fn start(
        bind: SocketAddr,
        venue: Arc<SimVenue>,
        market: Option<&MarketState>,
        opts: RestOptions,
    ) -> std::io::Result<Self> {
        Self::start_with(bind, venue, market, opts, SimCredentials::generate()?)
    }

    /// As [`RestExchange::start`] with given credentials (a test hands them to a child process).
    pub fn start_with(
        bind: SocketAddr,
        venue: Arc<SimVenue>,
        market: Option<&MarketState>,
        opts: RestOptions,
        creds: SimCredentials,
    ) -> std::io::Result<Self> {
        if !bind.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the embedded exchange binds loopback addresses only, not {bind}"),
            ));
        }
        if let Some(m) = market {
            let w: Weak<dyn TradeListener> =
                Arc::downgrade(&(venue.clone() as Arc<dyn TradeListener>));
            m.subscribe(w);
        }
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(OrderEntryStats::default());
        let shared = Arc::new(Shared {
            venue: venue.clone(),
            signer: Signer::new(creds.secret.as_bytes()),
            api_key: creds.api_key.clone(),
            opts,
            stop: stop.clone(),
            stats: stats.clone(),
        });
        let thread = std::thread::Builder::new()
            .name("sim-rest".into())
            .spawn(move || accept_loop(listener, shared))?;
        Ok(Self {
            addr,
            stop,
            venue,
            stats,
            creds,
            thread: Some(thread),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The credentials it accepts (in-process hand-over; never logged).
    pub fn credentials(&self) -> &SimCredentials {
        &self.creds
    }

    /// The matching engine (tests inspect positions, orders and received client ids).
    pub fn venue(&self) -> &Arc<SimVenue> {
        &self.venue
    }

    /// Server counters.
    pub fn stats(&self) -> &OrderEntryStats {
        &self.stats
    }

    /// Stops accepting and waits for the accept thread.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RestExchange {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                let s = shared.clone();
                conns.retain(|h| !h.is_finished());
                match std::thread::Builder::new()
                    .name("sim-rest-conn".into())
                    .spawn(move || {
                        if let Err(e) = connection(stream, &s) {
                            if !matches!(
                                e.kind(),
                                std::io::ErrorKind::ConnectionReset
                                    | std::io::ErrorKind::BrokenPipe
                            ) {
                                eprintln!("embedded exchange REST: connection ended: {e}");
                            }
                        }
                    }) {
                    Ok(h) => conns.push(h),
                    Err(e) => eprintln!("embedded exchange REST: cannot spawn: {e}"),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => {
                eprintln!("embedded exchange REST: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    for h in conns {
        let _ = h.join();
    }
}

const MAX_REQUEST: usize = 64 * 1024;

fn connection(mut stream: TcpStream, sh: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let mut served = 0usize;
    loop {
        // Parse as many complete requests as the buffer holds (pipelining tolerated).
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            let head_len = match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => break,
                Err(e) => {
                    let body = json!({"code": -1100, "msg": format!("Illegal characters found in a parameter: {e}")}).to_string();
                    write_response(&mut stream, 400, &body, true)?;
                    return Ok(());
                }
            };
            let mut content_len = 0usize;
            let mut api_key = None;
            let mut bybit = BybitAuth::default();
            let mut close = false;
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    content_len = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                } else if h.name.eq_ignore_ascii_case("x-mbx-apikey") {
                    api_key = std::str::from_utf8(h.value).ok().map(str::to_string);
                } else if h.name.len() > 7 && h.name[..7].eq_ignore_ascii_case("x-bapi-") {
                    let v = std::str::from_utf8(h.value).ok().map(str::to_string);
                    match h.name[7..].to_ascii_lowercase().as_str() {
                        "api-key" => bybit.api_key = v,
                        "timestamp" => bybit.timestamp = v,
                        "recv-window" => bybit.recv_window = v,
                        "sign" => bybit.sign = v,
                        _ => {}
                    }
                } else if h.name.eq_ignore_ascii_case("connection") {
                    close = h.value.eq_ignore_ascii_case(b"close");
                }
            }
            if head_len + content_len > MAX_REQUEST {
                write_response(
                    &mut stream,
                    413,
                    "{\"code\":-1000,\"msg\":\"Request too large.\"}",
                    true,
                )?;
                return Ok(());
            }
            if buf.len() < head_len + content_len {
                break;
            }
            let method = req.method.unwrap_or("").to_string();
            let target = req.path.unwrap_or("").to_string();
            let body = String::from_utf8_lossy(&buf[head_len..head_len + content_len]).into_owned();
            buf.drain(..head_len + content_len);
            let (status, resp) = if target.starts_with("/v5/") {
                bybit::handle(sh, &method, &target, &bybit, &body, now_ms())
            } else {
                handle(sh, &method, &target, api_key.as_deref(), &body, now_ms())
            };
            if method == "POST"
                && target.starts_with("/fapi/v1/order")
                && !sh.opts.order_reply_delay.is_zero()
            {
                std::thread::sleep(sh.opts.order_reply_delay);
            }
            served += 1;
            sh.stats.requests.fetch_add(1, Ordering::Relaxed);
            let last = close
                || (sh.opts.max_requests_per_connection > 0
                    && served >= sh.opts.max_requests_per_connection);
            write_response(&mut stream, status, &resp, last)?;
            if last {
                return Ok(());
            }
        }
        if sh.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn write_response(s: &mut TcpStream, status: u16, body: &str, close: bool) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body.as_bytes());
    s.write_all(&out)?;
    s.flush()
}

/// The `X-BAPI-*` headers of a Bybit v5 request.
#[derive(Default, Debug)]
struct BybitAuth {
    api_key: Option<String>,
    timestamp: Option<String>,
    recv_window: Option<String>,
    sign: Option<String>,
}

/// Bybit v5 linear order entry on the same matching engine: `POST /v5/order/create` (Market,
/// with optional `takeProfit` / `stopLoss` placed as close-position triggers `<orderLinkId>-tp`
/// / `-sl` attached to the position like `tpslMode=Full`: a later entry's replace them, and they
/// expire when the position closes or flips),
/// `GET /v5/order/realtime` (by `orderLinkId` or `orderId`), `GET /v5/position/list`.
/// Signature `hex(HMAC_SHA256(secret, timestamp + api_key + recv_window + payload))` with payload
/// the JSON body (POST) or the query string (GET); checked before the time window
/// (`server − recv_window ≤ timestamp < server + 1000`). Replies are HTTP 200 with `retCode`.
mod bybit {
    use super::*;

    fn reply(code: i64, msg: &str, result: Value, now: u64) -> (u16, String) {
        (
            200,
            json!({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now})
                .to_string(),
        )
    }

    fn fail(code: i64, msg: &str, now: u64) -> (u16, String) {
        reply(code, msg, json!({}), now)
    }

    fn order_error(e: &OrderError, now: u64) -> (u16, String) {
        match e {
            OrderError::UnknownSymbol => fail(10001, "params error: symbol invalid", now),
            OrderError::Filter(f) => fail(10001, &format!("Qty or price invalid ({f})"), now),
            OrderError::MinNotional(n) => fail(
                110094,
                &format!(
                    "Order does not meet minimum order value {}USDT",
                    n.normalize()
                ),
                now,
            ),
            OrderError::ReduceOnly => fail(
                110017,
                "current position is zero, cannot fix reduce-only order qty",
                now,
            ),
            OrderError::Duplicate => fail(110072, "OrderLinkedID is duplicate", now),
            OrderError::NotFound => fail(110001, "Order does not exist", now),
            OrderError::Param(m) => fail(10001, m, now),
            OrderError::NoPrice => fail(10016, "Internal error", now),
        }
    }

    fn order_row(o: &SimOrder) -> Value {
        let status = match o.status {
            super::super::orders::OrderStatus::New => "New",
            super::super::orders::OrderStatus::Filled => "Filled",
            super::super::orders::OrderStatus::Canceled => "Cancelled",
            super::super::orders::OrderStatus::Expired => "Deactivated",
        };
        json!({
            "orderId": o.id.to_string(), "orderLinkId": o.client_id, "symbol": o.symbol,
            "side": match o.side { Side::Buy => "Buy", Side::Sell => "Sell" },
            "orderType": "Market", "orderStatus": status, "qty": o.qty.to_string(),
            "avgPrice": o.avg_price.to_string(), "cumExecQty": o.executed_qty.to_string(),
            "cumExecValue": o.cum_quote.to_string(), "cumExecFee": o.fee.to_string(),
            "reduceOnly": o.reduce_only, "triggerPrice": o.stop_price.to_string(),
            "updatedTime": o.update_ms.to_string()
        })
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Create {
        category: String,
        symbol: String,
        side: String,
        order_type: String,
        qty: String,
        #[serde(default)]
        order_link_id: Option<String>,
        #[serde(default)]
        reduce_only: Option<bool>,
        #[serde(default)]
        take_profit: Option<String>,
        #[serde(default)]
        stop_loss: Option<String>,
    }

    pub(super) fn handle(
        sh: &Shared,
        method: &str,
        target: &str,
        auth: &BybitAuth,
        body: &str,
        now: u64,
    ) -> (u16, String) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if method == "GET" && path == "/v5/market/time" {
            return reply(
                0,
                "OK",
                json!({"timeSecond": (now / 1000).to_string(), "timeNano": (now as u128 * 1_000_000).to_string()}),
                now,
            );
        }
        let Some(key) = auth.api_key.as_deref() else {
            return fail(10003, "API key is invalid.", now);
        };
        if key != sh.api_key {
            return fail(10003, "API key is invalid.", now);
        }
        let (Some(ts), Some(sign)) = (auth.timestamp.as_deref(), auth.sign.as_deref()) else {
            return fail(
                10004,
                "Error sign, please check your signature generation algorithm.",
                now,
            );
        };
        let rw = auth.recv_window.as_deref().unwrap_or("5000");
        let payload = if method == "GET" { query } else { body };
        let signed = format!("{ts}{key}{rw}{payload}");
        if !sh.signer.verify_hex(signed.as_bytes(), sign.as_bytes()) {
            return fail(
                10004,
                "Error sign, please check your signature generation algorithm.",
                now,
            );
        }
        let (Ok(ts_ms), Ok(rw_ms)) = (ts.parse::<u64>(), rw.parse::<u64>()) else {
            return fail(10001, "params error: timestamp or recv_window invalid", now);
        };
        if ts_ms >= now + 1_000 || now.saturating_sub(ts_ms) > rw_ms {
            return fail(
                10002,
                &format!("invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts_ms}],server_timestamp[{now}],recv_window[{rw_ms}]"),
                now,
            );
        }
        let q: Vec<(&str, &str)> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        match (method, path) {
            ("POST", "/v5/order/create") => create(sh, body, now),
            ("GET", "/v5/order/realtime") => {
                let symbol = param(&q, "symbol");
                let link = param(&q, "orderLinkId");
                let id = param(&q, "orderId").and_then(|v| v.parse::<u64>().ok());
                sh.venue.with(|m| {
                    let list: Vec<Value> = m
                        .orders()
                        .iter()
                        .filter(|o| symbol.map_or(true, |s| o.symbol == s))
                        .filter(|o| link.map_or(true, |l| o.client_id == l))
                        .filter(|o| id.map_or(true, |i| o.id == i))
                        .map(order_row)
                        .collect();
                    reply(0, "OK", json!({"category": "linear", "list": list}), now)
                })
            }
            ("GET", "/v5/position/list") => sh.venue.with(|m| {
                let symbol = param(&q, "symbol");
                let list: Vec<Value> = m
                    .positions()
                    .into_iter()
                    .filter(|(s, _, _)| symbol.map_or(true, |x| x == s))
                    .map(|(s, p, mark)| {
                        json!({
                            "symbol": s,
                            "side": if p.qty > Decimal::ZERO { "Buy" } else if p.qty < Decimal::ZERO { "Sell" } else { "" },
                            "size": p.qty.abs().to_string(), "avgPrice": p.entry.to_string(),
                            "markPrice": mark.to_string(),
                            "unrealisedPnl": p.unrealized(mark).to_string(),
                            "cumRealisedPnl": (p.realized - p.fees).to_string(), "positionIdx": 0
                        })
                    })
                    .collect();
                reply(0, "OK", json!({"category": "linear", "list": list}), now)
            }),
            _ => (404, json!({"retCode": 10404, "retMsg": "Not found"}).to_string()),
        }
    }

    fn create(sh: &Shared, body: &str, now: u64) -> (u16, String) {
        let c: Create = match serde_json::from_str(body) {
            Ok(c) => c,
            Err(e) => return fail(10001, &format!("params error: {e}"), now),
        };
        if c.category != "linear" {
            return fail(10001, "params error: category only support linear", now);
        }
        let side = match c.side.as_str() {
            "Buy" => Side::Buy,
            "Sell" => Side::Sell,
            _ => return fail(10001, "params error: side invalid", now),
        };
        if c.order_type != "Market" {
            return fail(
                10001,
                "params error: the embedded exchange takes Market orders",
                now,
            );
        }
        let Ok(qty) = Decimal::from_str(&c.qty) else {
            return fail(10001, "params error: qty invalid", now);
        };
        let link = c.order_link_id.unwrap_or_default();
        let order = OrderRequest {
            symbol: &c.symbol,
            side,
            kind: OrderKind::Market,
            qty: Some(qty),
            stop_price: None,
            reduce_only: c.reduce_only.unwrap_or(false),
            close_position: false,
            client_id: &link,
        };
        let exit = match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        let mut legs = Vec::new();
        for (kind, px, tag) in [
            (OrderKind::TakeProfitMarket, &c.take_profit, "tp"),
            (OrderKind::StopMarket, &c.stop_loss, "sl"),
        ] {
            if let Some(px) = px {
                match Decimal::from_str(px) {
                    Ok(p) => legs.push((kind, p, tag)),
                    Err(_) => return fail(10001, "params error: takeProfit/stopLoss invalid", now),
                }
            }
        }
        sh.venue.with(|m| match m.place(&order, now) {
            Ok(o) => {
                let mut ids = Vec::new();
                for (kind, px, tag) in legs {
                    let id = format!("{}-{tag}", o.client_id);
                    if let Ok(leg) = m.place(
                        &OrderRequest {
                            symbol: &c.symbol,
                            side: exit,
                            kind,
                            qty: None,
                            stop_price: Some(px),
                            reduce_only: false,
                            close_position: true,
                            client_id: &id,
                        },
                        now,
                    ) {
                        ids.push(leg.id);
                    }
                }
                if !ids.is_empty() {
                    m.attach_position_exits(&c.symbol, &ids, now);
                }
                reply(
                    0,
                    "OK",
                    json!({"orderId": o.id.to_string(), "orderLinkId": o.client_id}),
                    now,
                )
            }
            Err(e) => order_error(&e, now),
        })
    }
}

/// Unix ms now (the exchange clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn err(status: u16, code: i64, msg: &str) -> (u16, String) {
    (status, json!({"code": code, "msg": msg}).to_string())
}

fn order_err(e: &OrderError) -> (u16, String) {
    let (code, msg) = e.binance();
    err(400, code, &msg)
}

/// Removes `signature=<v>` from a parameter string; returns (rest, signature).
fn split_signature(s: &str) -> (String, Option<&str>) {
    let mut sig = None;
    let mut kept: Vec<&str> = Vec::new();
    for kv in s.split('&').filter(|kv| !kv.is_empty()) {
        match kv.strip_prefix("signature=") {
            Some(v) => sig = Some(v),
            None => kept.push(kv),
        }
    }
    (kept.join("&"), sig)
}

fn param<'a>(params: &[(&'a str, &'a str)], k: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(key, _)| *key == k)
        .map(|(_, v)| *v)
}

/// Answers one request: `(HTTP status, JSON body)`.
fn handle(
    sh: &Shared,
    method: &str,
    target: &str,
    api_key: Option<&str>,
    body: &str,
    now: u64,
) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method == "GET" && path == "/fapi/v1/time" {
        return (200, json!({"serverTime": now}).to_string());
    }
    if method == "GET" && path == "/fapi/v1/ping" {
        return (200, "{}".into());
    }
    // Authentication, exactly in the venue's order: key, signature, timestamp window.
    match api_key {
        None => return err(401, -2014, "API-key format invalid."),
        Some(k) if k != sh.api_key => {
            return err(
                401,
                -2015,
                "Invalid API-key, IP, or permissions for action.",
            )
        }
        Some(_) => {}
    }
    let (q_rest, q_sig) = split_signature(query);
    let (b_rest, b_sig) = split_signature(body);
    let Some(sig) = q_sig.or(b_sig) else {
        return err(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        );
    };
    // totalParams = query string concatenated with the body (no separator), as Binance signs.
    let total = format!("{q_rest}{b_rest}");
    if !sh.signer.verify_hex(total.as_bytes(), sig.as_bytes()) {
        return err(400, -1022, "Signature for this request is not valid.");
    }
    let params: Vec<(&str, &str)> = q_rest
        .split('&')
        .chain(b_rest.split('&'))
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let Some(ts) = param(&params, "timestamp").and_then(|t| t.parse::<u64>().ok()) else {
        return err(
            400,
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        );
    };
    let recv_window = match param(&params, "recvWindow").map(str::parse::<u64>) {
        None => 5_000,
        Some(Ok(w)) if w <= sh.opts.max_recv_window_ms => w,
        Some(_) => return err(400, -1131, "recvWindow must be less than 60000"),
    };
    if ts >= now + 1_000 || now.saturating_sub(ts) > recv_window {
        return err(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        );
    }
    let symbol = param(&params, "symbol");
    match (method, path) {
        ("POST", "/fapi/v1/order") => new_order(sh, &params, now),
        ("GET", "/fapi/v1/order") | ("DELETE", "/fapi/v1/order") => {
            let Some(symbol) = symbol else {
                return err(
                    400,
                    -1102,
                    "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                );
            };
            let client = param(&params, "origClientOrderId");
            let id = param(&params, "orderId").and_then(|v| v.parse::<u64>().ok());
            sh.venue.with(|m| {
                let found = match (client, id) {
                    (Some(c), _) => m.order_by_client(symbol, c).cloned(),
                    (None, Some(i)) => m.order_by_id(symbol, i).cloned(),
                    (None, None) => {
                        return err(
                            400,
                            -1102,
                            "Either orderId or origClientOrderId must be sent.",
                        )
                    }
                };
                let Some(o) = found else {
                    return order_err(&OrderError::NotFound);
                };
                if method == "DELETE" {
                    match m.cancel(symbol, &o.client_id, now) {
                        Ok(o) => (200, order_json(&o).to_string()),
                        Err(_) => err(400, -2011, "Unknown order sent."),
                    }
                } else {
                    (200, order_json(&o).to_string())
                }
            })
        }
        ("GET", "/fapi/v1/openOrders") => sh.venue.with(|m| {
            let v: Vec<Value> = m.open_orders(symbol).map(order_json).collect();
            (200, Value::Array(v).to_string())
        }),
        ("GET", "/fapi/v1/userTrades") => {
            let Some(symbol) = symbol else {
                return err(
                    400,
                    -1102,
                    "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                );
            };
            sh.venue.with(|m| {
                let v: Vec<Value> = m
                    .trades()
                    .iter()
                    .filter(|t| t.symbol == symbol)
                    .map(|t| {
                        json!({
                            "symbol": t.symbol, "id": t.id, "orderId": t.order_id,
                            "side": t.side.binance(), "price": t.price.to_string(),
                            "qty": t.qty.to_string(), "realizedPnl": t.realized_pnl.to_string(),
                            "quoteQty": (t.price * t.qty).to_string(),
                            "commission": t.commission.to_string(), "commissionAsset": "USDT",
                            "time": t.time_ms, "positionSide": "BOTH",
                            "buyer": t.side == Side::Buy, "maker": false
                        })
                    })
                    .collect();
                (200, Value::Array(v).to_string())
            })
        }
        ("GET", "/fapi/v2/positionRisk") => sh.venue.with(|m| {
            let v: Vec<Value> = m
                .positions()
                .into_iter()
                .filter(|(s, _, _)| symbol.map_or(true, |x| x == s))
                .map(|(s, p, mark)| {
                    json!({
                        "symbol": s, "positionAmt": p.qty.to_string(),
                        "entryPrice": p.entry.to_string(), "markPrice": mark.to_string(),
                        "unRealizedProfit": p.unrealized(mark).to_string(),
                        "leverage": "1", "marginType": "cross", "positionSide": "BOTH",
                        "updateTime": now
                    })
                })
                .collect();
            (200, Value::Array(v).to_string())
        }),
        ("GET", "/fapi/v2/balance") => sh.venue.with(|m| {
            let bal = m.balance();
            let upnl = m.unrealized();
            (
                200,
                json!([{
                    "accountAlias": "embedded", "asset": "USDT",
                    "balance": bal.to_string(), "crossWalletBalance": bal.to_string(),
                    "crossUnPnl": upnl.to_string(), "availableBalance": (bal + upnl).to_string(),
                    "maxWithdrawAmount": bal.to_string(), "marginAvailable": true, "updateTime": now
                }])
                .to_string(),
            )
        }),
        _ => err(
            404,
            -5000,
            &format!("Path {path}, Method {method} is invalid"),
        ),
    }
}

fn new_order(sh: &Shared, params: &[(&str, &str)], now: u64) -> (u16, String) {
    let missing = |k: &str| {
        err(
            400,
            -1102,
            &format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."),
        )
    };
    let Some(symbol) = param(params, "symbol") else {
        return missing("symbol");
    };
    let side = match param(params, "side") {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        Some(_) => return err(400, -1117, "Invalid side."),
        None => return missing("side"),
    };
    let kind = match param(params, "type").map(OrderKind::from_binance) {
        Some(Some(k)) => k,
        Some(None) => return err(400, -1116, "Invalid orderType."),
        None => return missing("type"),
    };
    let dec = |k: &str| -> Result<Option<Decimal>, (u16, String)> {
        match param(params, k) {
            None => Ok(None),
            Some(v) => Decimal::from_str(v).map(Some).map_err(|_| {
                err(
                    400,
                    -1102,
                    &format!(
                        "Mandatory parameter '{k}' was not sent, was empty/null, or malformed."
                    ),
                )
            }),
        }
    };
    let qty = match dec("quantity") {
        Ok(q) => q,
        Err(e) => return e,
    };
    let stop_price = match dec("stopPrice") {
        Ok(q) => q,
        Err(e) => return e,
    };
    let order = OrderRequest {
        symbol,
        side,
        kind,
        qty,
        stop_price,
        reduce_only: param(params, "reduceOnly") == Some("true"),
        close_position: param(params, "closePosition") == Some("true"),
        client_id: param(params, "newClientOrderId").unwrap_or(""),
    };
    match sh.venue.with(|m| m.place(&order, now)) {
        Ok(o) => (200, order_json(&o).to_string()),
        Err(e) => order_err(&e),
    }
}

/// An order in Binance's response shape (`newOrderRespType=RESULT`).
pub fn order_json(o: &SimOrder) -> Value {
    json!({
        "orderId": o.id, "symbol": o.symbol, "status": o.status.binance(),
        "clientOrderId": o.client_id, "price": "0", "avgPrice": o.avg_price.to_string(),
        "origQty": o.qty.to_string(), "executedQty": o.executed_qty.to_string(),
        "cumQty": o.executed_qty.to_string(), "cumQuote": o.cum_quote.to_string(),
        "timeInForce": "GTC", "type": o.kind.binance(), "reduceOnly": o.reduce_only,
        "closePosition": o.close_position, "side": o.side.binance(), "positionSide": "BOTH",
        "stopPrice": o.stop_price.to_string(), "workingType": "CONTRACT_PRICE",
        "priceProtect": false, "origType": o.kind.binance(), "updateTime": o.update_ms
    })
}
