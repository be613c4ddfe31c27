//! Loopback REST order entry of the embedded exchange, speaking Binance USD-M: signed requests
//! are verified exactly like the venue does (HMAC-SHA256 over query string + body, `X-MBX-APIKEY`,
//! `timestamp`/`recvWindow`), then handed to the [`Matching`](super::orders::Matching) engine.
//!
//! Endpoints (all signed except `time`):
//! - `POST /fapi/v1/order` — `MARKET` (answered as `newOrderRespType=RESULT`: the fill is in the
//!   response), `reduceOnly`, `newClientOrderId`; conditional types answer -4120 (as the venue
//!   since 2025-12-09).
//! - `POST` / `GET` / `DELETE /fapi/v1/algoOrder`, `GET /fapi/v1/openAlgoOrders`,
//!   `DELETE /fapi/v1/algoOpenOrders` — `STOP_MARKET` / `TAKE_PROFIT_MARKET` conditional orders
//!   (`venue::binance::algo`).
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
//! Rate-limit headers, as the venues send them: Binance `X-MBX-USED-WEIGHT-1M` on every
//! response (each request weighs 1) and `X-MBX-ORDER-COUNT-10S` / `-1M` on accepted orders,
//! counted per calendar interval; Bybit `X-Bapi-Limit`, `X-Bapi-Limit-Status` (requests left)
//! and `X-Bapi-Limit-Reset-Timestamp` (the window's end when none is left, else now) on
//! `/v5/order/create` replies, per window of [`RestOptions::bybit_window`]; `Retry-After` on
//! throttled replies. [`RestOptions::other_usage`] is added to every count (another process
//! of the same account). The limits are reported, not enforced.
//!
//! Errors are the venue's JSON (`{"code":-1022,"msg":"Signature for this request is not valid."}`)
//! with the venue's HTTP status (400, or 401 for key errors). One thread per connection,
//! HTTP/1.1 keep-alive; `max_requests_per_connection` closes a connection after N responses
//! (`Connection: close`), as real front ends do, which exercises client reconnects.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};

use super::account::AccountOptions;
use super::market::{MarketState, TradeListener};
use super::orders::SimVenue;
use super::private_stream::{self, PrivateState};
use super::trade_ws::{self, TradeWsState};
use crate::exchange::fault_plan::{Fault, FaultPlan, RequestKind};
use crate::venue::sign::Signer;
use crate::venue::{binance, bybit};

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
#[derive(Clone, Debug)]
pub struct RestOptions {
    /// Close each connection after this many responses (0 = never).
    pub max_requests_per_connection: usize,
    /// Largest accepted `recvWindow`, ms (Binance: 60000).
    pub max_recv_window_ms: u64,
    /// Simulated latency between matching a new order and sending its reply (the order is
    /// already filled at the exchange while the client waits: the crash-recovery window).
    pub order_reply_delay: Duration,
    /// Faults injected into order, status-query and position requests (see
    /// [`crate::exchange::fault_plan`]); `None` answers every request normally.
    pub faults: Option<Arc<FaultPlan>>,
    /// Usage the rate-limit headers report on top of this server's own count in every
    /// interval (another process of the same account and IP).
    pub other_usage: u32,
    /// Bybit order-create limit per window (`X-Bapi-Limit`; documented default 10).
    pub bybit_order_limit: u32,
    /// Bybit's rate-limit window (documented: one second).
    pub bybit_window: Duration,
    /// What the account endpoints report (permissions, leverage cap, clock offset, paging).
    pub account: AccountOptions,
    /// The Ed25519 public key registered for the account's API key (Binance `session.logon`
    /// on `/ws-fapi/v1`); `None`: logon is refused, requests must be HMAC-signed.
    pub ed25519_public_key: Option<[u8; 32]>,
}

impl Default for RestOptions {
    fn default() -> Self {
        Self {
            max_requests_per_connection: 0,
            max_recv_window_ms: 60_000,
            order_reply_delay: Duration::ZERO,
            faults: None,
            other_usage: 0,
            bybit_order_limit: 10,
            bybit_window: Duration::from_secs(1),
            account: AccountOptions::default(),
            ed25519_public_key: None,
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
    /// Signed requests refused for their timestamp (Binance -1021, Bybit 10002).
    pub timestamp_rejects: AtomicU64,
    /// Positions liquidated by [`crate::exchange::fault_plan::Fault::Liquidation`].
    pub liquidations: AtomicU64,
    /// New-order requests that reached order entry (REST or the trade WebSocket), whatever
    /// the fault plan then did with them: what the trader sent.
    pub order_requests: AtomicU64,
}

/// A running REST order server. Dropping it stops the accept loop and the connection threads.
#[derive(Debug)]
pub struct RestExchange {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    venue: Arc<SimVenue>,
    stats: Arc<OrderEntryStats>,
    creds: SimCredentials,
    private: Arc<PrivateState>,
    trade: Arc<TradeWsState>,
    thread: Option<JoinHandle<()>>,
}

pub(crate) struct Shared {
    pub(crate) venue: Arc<SimVenue>,
    pub(crate) signer: Signer,
    pub(crate) api_key: String,
    pub(crate) opts: RestOptions,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) stats: Arc<OrderEntryStats>,
    /// Requests seen per [`RequestKind`] (order, query, position, executions): the fault
    /// plan's index.
    pub(crate) kind_counts: [AtomicU64; 4],
    /// A [`Fault::DuplicateAck`] order's client id and reply, answered once more to the next
    /// status query of that order.
    pub(crate) duplicate: Mutex<Option<(String, String)>>,
    /// Rate-limit usage per interval (see the module documentation).
    pub(crate) usage: Mutex<UsageCounts>,
    /// The private streams' listenKey and cut epoch ([`super::private_stream`]).
    pub(crate) private: Arc<PrivateState>,
    /// The order-entry sockets' cut epoch and outage ([`super::trade_ws`]).
    pub(crate) trade: Arc<TradeWsState>,
}

/// Requests counted per interval: `(interval number, count)` for Binance's weight per minute,
/// orders per 10 s and per minute, and Bybit's order-create window.
#[derive(Debug, Default)]
pub(crate) struct UsageCounts {
    weight_1m: (u64, u32),
    orders_10s: (u64, u32),
    orders_1m: (u64, u32),
    bybit: (u64, u32),
}

/// Counts one unit in the interval of `len_ms` holding `now_ms`; returns the interval's count.
fn count_in(slot: &mut (u64, u32), now_ms: u64, len_ms: u64) -> u32 {
    let k = now_ms / len_ms.max(1);
    if slot.0 != k {
        *slot = (k, 0);
    }
    slot.1 += 1;
    slot.1
}

/// The rate-limit header lines of the reply to `method target` (HTTP `status`, throttled with
/// `retry_after` s when given) at `now_ms`, counting the request.
fn rate_headers(
    sh: &Shared,
    method: &str,
    target: &str,
    status: u16,
    retry_after: Option<u32>,
    now_ms: u64,
) -> String {
    let Ok(mut u) = sh.usage.lock() else {
        return String::new();
    };
    let other = sh.opts.other_usage;
    let order = request_kind(method, target) == Some(RequestKind::Order);
    let mut out = String::new();
    if target.starts_with("/v5/") {
        if order {
            let limit = sh.opts.bybit_order_limit;
            let len = (sh.opts.bybit_window.as_millis() as u64).max(1);
            let used = count_in(&mut u.bybit, now_ms, len) + other;
            let (left, reset) = match retry_after {
                Some(s) => (0, now_ms + u64::from(s) * 1_000),
                None if used >= limit => (0, (now_ms / len + 1) * len),
                None => (limit - used, now_ms),
            };
            out = format!(
                "X-Bapi-Limit: {limit}\r\nX-Bapi-Limit-Status: {left}\r\nX-Bapi-Limit-Reset-Timestamp: {reset}\r\n"
            );
        }
    } else {
        let w = count_in(&mut u.weight_1m, now_ms, 60_000) + other;
        out = format!("X-MBX-USED-WEIGHT-1M: {w}\r\n");
        if order && status == 200 {
            let o10 = count_in(&mut u.orders_10s, now_ms, 10_000) + other;
            let o1m = count_in(&mut u.orders_1m, now_ms, 60_000) + other;
            out.push_str(&format!(
                "X-MBX-ORDER-COUNT-10S: {o10}\r\nX-MBX-ORDER-COUNT-1M: {o1m}\r\n"
            ));
        }
    }
    if let Some(s) = retry_after {
        out.push_str(&format!("Retry-After: {s}\r\n"));
    }
    out
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
        let private = Arc::new(PrivateState::default());
        let trade = Arc::new(TradeWsState::default());
        let shared = Arc::new(Shared {
            venue: venue.clone(),
            signer: Signer::new(creds.secret.as_bytes()),
            api_key: creds.api_key.clone(),
            opts,
            stop: stop.clone(),
            stats: stats.clone(),
            kind_counts: Default::default(),
            duplicate: Mutex::new(None),
            usage: Mutex::new(UsageCounts::default()),
            private: private.clone(),
            trade: trade.clone(),
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
            private,
            trade,
            thread: Some(thread),
        })
    }

    /// Cuts every private-stream session open now (TCP closed without a close frame), as a
    /// network failure would; clients reconnect.
    pub fn drop_private_streams(&self) {
        self.private.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts (`true`: every session cut, upgrades answered 503) or ends an outage of the
    /// private streams.
    pub fn private_outage(&self, on: bool) {
        self.private.outage.store(on, Ordering::Relaxed);
        if on {
            self.drop_private_streams();
        }
    }

    /// Expires the Binance listenKey: its sessions get `listenKeyExpired` and close, a `PUT`
    /// answers -1125, the next `POST` opens a new key.
    pub fn expire_listen_key(&self) {
        *self
            .private
            .listen_key
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Cuts every order-entry WebSocket session open now (TCP closed without a close frame).
    pub fn drop_trade_sockets(&self) {
        self.trade.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts (`true`: every order-entry session cut, upgrades answered 503) or ends an outage
    /// of the order-entry WebSockets; REST keeps serving.
    pub fn trade_ws_outage(&self, on: bool) {
        self.trade.outage.store(on, Ordering::Relaxed);
        if on {
            self.drop_trade_sockets();
        }
    }

    /// Order-entry WebSocket sessions opened and order requests received on them so far.
    pub fn trade_ws_counts(&self) -> (u64, u64) {
        (
            self.trade.sessions.load(Ordering::Relaxed),
            self.trade.requests.load(Ordering::Relaxed),
        )
    }

    /// Private-stream sessions opened so far.
    pub fn private_sessions(&self) -> u64 {
        self.private.sessions.load(Ordering::Relaxed)
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

    /// The counters, shareable with another thread.
    pub fn stats_handle(&self) -> Arc<OrderEntryStats> {
        self.stats.clone()
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
    if let Some(path) = websocket_path(&stream)? {
        if private_stream::is_private_path(&path) {
            return private_stream::session(stream, sh, &path).map_err(std::io::Error::other);
        }
        if trade_ws::is_trade_path(&path) {
            return trade_ws::session(stream, sh, &path).map_err(std::io::Error::other);
        }
    }
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
            let mut bybit = bybit::exchange::BybitAuth::default();
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
            let dispatch = |now: u64| {
                if target.split('?').next() == Some("/fapi/v1/listenKey") {
                    private_stream::listen_key(sh, &method, api_key.as_deref())
                } else if target.starts_with("/v5/") {
                    bybit::exchange::handle(sh, &method, &target, &bybit, &body, now)
                } else {
                    binance::exchange::handle(sh, &method, &target, api_key.as_deref(), &body, now)
                }
            };
            let (status, resp, retry_after) =
                match with_fault(sh, &method, &target, &body, dispatch) {
                    Served::Reply(status, resp, retry_after) => (status, resp, retry_after),
                    Served::Silent => return wait_for_close(&mut stream, sh),
                    Served::Reset => return stream.shutdown(std::net::Shutdown::Both),
                };
            if method == "POST"
                && (target.starts_with("/fapi/v1/order") || target.starts_with("/v5/order/create"))
                && !sh.opts.order_reply_delay.is_zero()
            {
                std::thread::sleep(sh.opts.order_reply_delay);
            }
            served += 1;
            sh.stats.requests.fetch_add(1, Ordering::Relaxed);
            let last = close
                || (sh.opts.max_requests_per_connection > 0
                    && served >= sh.opts.max_requests_per_connection);
            let extra = rate_headers(sh, &method, &target, status, retry_after, now_ms());
            write_response_with(&mut stream, status, &resp, last, &extra)?;
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

/// The path of a WebSocket upgrade request at the start of `stream` (peeked, not consumed);
/// `None` for a plain HTTP request.
fn websocket_path(stream: &TcpStream) -> std::io::Result<Option<String>> {
    let mut head = [0u8; 2048];
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let n = match stream.peek(&mut head) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                0
            }
            Err(e) => return Err(e),
        };
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&head[..n]) {
            Ok(httparse::Status::Complete(_)) => {
                let upgrade = req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("upgrade")
                        && h.value.eq_ignore_ascii_case(b"websocket")
                });
                return Ok(upgrade.then(|| req.path.unwrap_or("").to_string()));
            }
            Ok(httparse::Status::Partial) if n < head.len() => {}
            _ => return Ok(None),
        }
        if std::time::Instant::now() > deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn write_response(s: &mut TcpStream, status: u16, body: &str, close: bool) -> std::io::Result<()> {
    write_response_with(s, status, body, close, "")
}

/// What serving one request produced.
pub(crate) enum Served {
    /// Reply with HTTP status, body and an optional `Retry-After`, s.
    Reply(u16, String, Option<u32>),
    /// Never reply (the connection stays open until the client closes it).
    Silent,
    /// Close the connection without replying.
    Reset,
}

/// A position reply with every row's entry price set to 0 ([`Fault::NoEntry`]): Binance's
/// array of rows (`entryPrice` `"0.0"`), Bybit's `result.list` (`avgPrice` `"0"`). A body that
/// is not JSON is returned as it is.
fn without_entries(body: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(body) else {
        return body.to_string();
    };
    let rows = match &mut v {
        Value::Array(rows) => Some(rows),
        Value::Object(o) => o
            .get_mut("result")
            .and_then(|r| r.get_mut("list"))
            .and_then(Value::as_array_mut),
        _ => None,
    };
    for row in rows.into_iter().flatten() {
        for (field, zero) in [("entryPrice", "0.0"), ("avgPrice", "0")] {
            if let Some(e) = row.get_mut(field) {
                *e = Value::String(zero.into());
            }
        }
    }
    v.to_string()
}

/// The fault plan's kind of a request: new order, order-status query or position query.
fn request_kind(method: &str, target: &str) -> Option<RequestKind> {
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("POST", "/fapi/v1/order" | "/v5/order/create") => Some(RequestKind::Order),
        ("GET", "/fapi/v1/order" | "/v5/order/realtime") => Some(RequestKind::Query),
        ("GET", "/fapi/v2/positionRisk" | "/v5/position/list") => Some(RequestKind::Position),
        ("GET", "/fapi/v1/userTrades" | "/v5/execution/list") => Some(RequestKind::Executions),
        _ => None,
    }
}

/// Serves one request through the fault plan (see [`crate::exchange::fault_plan`] for what each
/// fault does); `dispatch(now_ms)` applies it and renders the venue's reply.
pub(crate) fn with_fault(
    sh: &Shared,
    method: &str,
    target: &str,
    body: &str,
    dispatch: impl Fn(u64) -> (u16, String),
) -> Served {
    let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
    let kind = request_kind(method, target);
    if kind == Some(RequestKind::Order) {
        sh.stats.order_requests.fetch_add(1, Ordering::Relaxed);
    }
    let fault = match (kind, &sh.opts.faults) {
        (Some(k), Some(plan)) => {
            let i = sh.kind_counts[k as usize].fetch_add(1, Ordering::Relaxed);
            plan.fault_for(i, k)
        }
        _ => Fault::None,
    };
    let bybit = target.starts_with("/v5/");
    let reply = |(status, body): (u16, String)| Served::Reply(status, body, None);
    match fault {
        Fault::Http5xxUnknown { filled } => {
            if filled {
                dispatch(now);
            }
            if bybit {
                reply((200, json!({"retCode": 10016, "retMsg": "Internal error", "result": {}, "retExtInfo": {}, "time": now}).to_string()))
            } else {
                reply((503, "{\"code\":-1007,\"msg\":\"Timeout waiting for response from backend server. Send status unknown; execution status unknown.\"}".into()))
            }
        }
        Fault::RateLimit {
            status,
            retry_after_s,
        } => {
            let body = if bybit {
                json!({"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}, "time": now}).to_string()
            } else {
                "{\"code\":-1003,\"msg\":\"Too many requests; please use the websocket for live updates.\"}".into()
            };
            Served::Reply(status, body, Some(retry_after_s))
        }
        Fault::Timeout { applied } => {
            if applied {
                dispatch(now);
            }
            Served::Silent
        }
        Fault::ResetAfterRead { applied } => {
            if applied {
                dispatch(now);
            }
            Served::Reset
        }
        Fault::Hang { ms } => {
            let r = dispatch(now);
            std::thread::sleep(Duration::from_millis(u64::from(ms)));
            reply(r)
        }
        Fault::PartialFill { fraction } => {
            sh.venue.with(|m| m.partial_fill_next(Some(fraction)));
            let r = dispatch(now);
            sh.venue.with(|m| m.partial_fill_next(None));
            reply(r)
        }
        Fault::DuplicateAck => {
            let r = dispatch(now);
            if let (Ok(mut d), Some(id)) = (sh.duplicate.lock(), client_id_of(body)) {
                *d = Some((id.to_string(), r.1.clone()));
            }
            reply(r)
        }
        Fault::ClockSkew { ms } => reply(dispatch(now.saturating_add_signed(i64::from(ms)))),
        Fault::NoEntry if kind == Some(RequestKind::Position) => {
            let (status, body) = dispatch(now);
            reply((status, without_entries(&body)))
        }
        Fault::NoEntry => reply(dispatch(now)),
        Fault::Liquidation => {
            let r = dispatch(now);
            let n = sh.venue.with(|m| {
                let open: Vec<String> = m
                    .positions()
                    .into_iter()
                    .filter(|(_, p, _)| !p.qty.is_zero())
                    .map(|(s, _, _)| s)
                    .collect();
                open.iter()
                    .filter(|s| {
                        matches!(
                            super::liquidation::force_liquidation(m, s, now),
                            Ok(Some(_))
                        )
                    })
                    .count()
            });
            sh.stats.liquidations.fetch_add(n as u64, Ordering::Relaxed);
            reply(r)
        }
        Fault::None => {
            if kind == Some(RequestKind::Query) {
                if let Ok(mut d) = sh.duplicate.lock() {
                    let ours = d
                        .as_ref()
                        .is_some_and(|(id, _)| queried_client_id(target) == Some(id.as_str()));
                    if let Some((_, stale)) = d.take_if(|_| ours) {
                        return reply((200, stale));
                    }
                }
            }
            reply(dispatch(now))
        }
    }
}

/// The client order id a status query names (Binance `origClientOrderId=`, Bybit
/// `orderLinkId=`), whole: `ct1-7` is not `ct1-70`.
fn queried_client_id(target: &str) -> Option<&str> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        matches!(k, "origClientOrderId" | "orderLinkId").then_some(v)
    })
}

/// The client order id of a new-order body (Binance form `newClientOrderId=`, Bybit JSON
/// `"orderLinkId":"…"`).
fn client_id_of(body: &str) -> Option<&str> {
    if let Some(i) = body.find("newClientOrderId=") {
        let v = &body[i + "newClientOrderId=".len()..];
        return v.split('&').next();
    }
    let i = body.find("\"orderLinkId\":\"")?;
    let v = &body[i + "\"orderLinkId\":\"".len()..];
    v.split('"').next()
}

/// Keeps a connection open without replying until the client closes it (or the server stops).
fn wait_for_close(stream: &mut TcpStream, sh: &Shared) -> std::io::Result<()> {
    let mut chunk = [0u8; 1024];
    while !sh.stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn write_response_with(
    s: &mut TcpStream,
    status: u16,
    body: &str,
    close: bool,
    extra: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        413 => "Payload Too Large",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}{}\r\n",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body.as_bytes());
    s.write_all(&out)?;
    s.flush()
}

/// The last value of parameter `k` (a repeated key: the last one wins, like the venues).
pub(crate) fn param<'a>(params: &[(&'a str, &'a str)], k: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(key, _)| *key == k)
        .map(|(_, v)| *v)
}

/// Unix ms now (the exchange clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::queried_client_id;

    #[test]
    fn a_status_query_names_its_client_id_whole() {
        let q = |t| queried_client_id(t);
        let b = "/fapi/v1/order?symbol=BTCUSDT&origClientOrderId=ct1-70&timestamp=1&signature=ab";
        assert_eq!(q(b), Some("ct1-70"));
        assert_ne!(q(b), Some("ct1-7"), "a prefix is another order");
        let y = "/v5/order/realtime?category=linear&symbol=BTCUSDT&orderLinkId=ct2-5";
        assert_eq!(q(y), Some("ct2-5"));
        assert_eq!(q("/fapi/v1/order?symbol=BTCUSDT&orderId=13"), None);
        assert_eq!(q("/fapi/v1/order"), None);
    }
}
