//! The private-stream thread (cold, unpinned: it sleeps in `epoll_wait`): the venue's private
//! WebSocket on the feed's mio machinery ([`Connections`]: connect, TLS, heartbeats, dead-link
//! detection, reconnect with backoff and jitter), its frames parsed by
//! `venue::<name>::private` into [`AccountEvent`]s and pushed into an SPSC ring the execution
//! stage drains between orders (no lock on the hot path).
//!
//! - Bybit `/v5/private`: `auth` (a fresh `expires` before every attempt) and the subscription
//!   to `order`, `execution`, `position`, `wallet` are sent on open; heartbeat `{"op":"ping"}`.
//!   A refused `auth` is reported as such ([`StreamState::AuthRefused`], an error line naming
//!   the venue's message) and retried with the backoff.
//! - Binance user data: `POST /fapi/v1/listenKey` at start, the stream at `/ws/<listenKey>`,
//!   `PUT` keepalive every `keepalive_s` (a lapsed key: a new `POST`, the link reconnects), and
//!   `listenKeyExpired` handled the same way.
//! - After every gap (first connect, reconnect) the venue's positions are read over REST and
//!   handed to execution as [`AccountEvent::Resync`] (it reconciles what it booked), the
//!   balance is read again, then [`AccountEvent::Link`]`(true)`; a drop sends `Link(false)`
//!   (execution books venue-side closes by the REST fallback alone meanwhile).
//! - Balance: Bybit `wallet` → [`Command::Balance`] to compute at once; Binance's
//!   `ACCOUNT_UPDATE` has no available balance → the account thread reads it
//!   ([`crate::exec::clock::AccountLink::request_balance`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use super::account::AccountClient;
use crate::control::ControlHandle;
use crate::exec::clock::local_unix_ms;
use crate::exec::private_config::PrivateStreamConfig;
use crate::feed::conn::{ConnEvent, ConnSettings, Connections};
use crate::feed::protocol::LinkPlan;
use crate::feed::ws::WsTarget;
use crate::ring::{Consumer, Producer};
use crate::telemetry::Clock;
use crate::types::control::Command;
use crate::types::{AccountEvent, SymbolId, SymbolTable};
use crate::venue::api::Method;
use crate::venue::private::PrivateFrame;
use crate::venue::{binance, bybit, Venue};

/// Capacity of the ring to execution (events; a full ring is a gap: re-sync).
pub const RING: usize = 4096;

/// Where the stream is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Connecting (or waiting to reconnect).
    Connecting,
    /// Open, authenticated and subscribed, re-synced.
    Up,
    /// The venue refused the authentication: its message.
    AuthRefused(String),
    /// Down: why.
    Down(String),
}

/// Counters of the private stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrivateStats {
    /// Account events handed to execution.
    pub events: u64,
    /// Events dropped for a full ring (each followed by a re-sync).
    pub dropped: u64,
    /// REST re-syncs done.
    pub resyncs: u64,
    /// Authentications refused.
    pub auth_refused: u64,
    /// Frames not understood.
    pub bad_frames: u64,
    /// listenKey keepalives sent.
    pub keepalives: u64,
    /// New listenKeys after an expiry.
    pub new_keys: u64,
}

/// The private stream of one venue account (see the module doc).
pub struct PrivateStream {
    conns: Connections,
    logs: Consumer<String>,
    venue: Venue,
    client: Arc<AccountClient>,
    symbols: SymbolTable,
    tx: Producer<AccountEvent>,
    handle: Option<Arc<ControlHandle>>,
    base: String,
    keepalive_every: Duration,
    keepalive_at: Instant,
    /// How far ahead of the venue clock a Bybit `auth` expires, ms.
    auth_lead_ms: u64,
    state: StreamState,
    stats: PrivateStats,
    resync_due: Option<Instant>,
}

impl std::fmt::Debug for PrivateStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateStream")
            .field("base", &self.base)
            .field("state", &self.state)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// What one poll saw.
#[derive(Default)]
struct Seen {
    up: bool,
    down: bool,
    auth: Option<Result<(), String>>,
    subscribed: bool,
    expired: bool,
    overflow: bool,
    balance: Option<(Decimal, Option<Decimal>)>,
}

impl PrivateStream {
    /// A stream of `venue` at `base` (`ws[s]://host[:port]`, the path is the venue's), events
    /// to `tx`, balance changes to `handle`'s compute (when given). Binance: opens the
    /// listenKey now (blocking, start-up).
    pub fn new(
        cfg: &PrivateStreamConfig,
        (venue, base, tls): (Venue, &str, Option<Arc<rustls::ClientConfig>>),
        client: Arc<AccountClient>,
        symbols: SymbolTable,
        tx: Producer<AccountEvent>,
        handle: Option<Arc<ControlHandle>>,
    ) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_string();
        let url = match venue {
            Venue::Bybit => format!("{base}/v5/private"),
            Venue::Binance => format!("{base}/ws/{}", client.listen_key(Method::Post)?),
        };
        let tls = tls.filter(|_| url.starts_with("wss://"));
        let target = WsTarget::new(&url, tls).map_err(|e| format!("private stream: {e}"))?;
        let settings = ConnSettings {
            venue,
            heartbeat_ns: (cfg.heartbeat_s * 1e9) as u64,
            dead_after_ns: (cfg.dead_after_s * 1e9) as u64,
            connect_timeout_ns: 10_000_000_000,
            backoff_base_ms: cfg.backoff_base_ms,
            backoff_cap_ms: cfg.backoff_cap_ms,
            backoff_jitter: 0.2,
            end_close_code: None,
        };
        let (log_tx, logs) = crate::ring::channel::<String>(256).map_err(|e| e.to_string())?;
        let plan = LinkPlan {
            symbols: Vec::new(),
            topics: Vec::new(),
        };
        let conns = Connections::new(target, vec![plan], settings, Clock::new(), log_tx)
            .map_err(|e| format!("private stream: {e}"))?;
        let mut s = Self {
            conns,
            logs,
            venue,
            client,
            symbols,
            tx,
            handle,
            base,
            keepalive_every: Duration::from_secs_f64(cfg.keepalive_s),
            keepalive_at: Instant::now(),
            auth_lead_ms: cfg.backoff_cap_ms + 30_000,
            state: StreamState::Connecting,
            stats: PrivateStats::default(),
            resync_due: None,
        };
        s.prepare_requests()?;
        Ok(s)
    }

    /// Where the stream is.
    pub fn state(&self) -> &StreamState {
        &self.state
    }

    /// Counters so far.
    pub fn stats(&self) -> PrivateStats {
        self.stats
    }

    /// The requests sent on (re)connect: Bybit a fresh `auth` and the subscription.
    fn prepare_requests(&mut self) -> Result<(), String> {
        if self.venue == Venue::Bybit {
            let expires = self.client.link().clock.venue_ms(local_unix_ms()) + self.auth_lead_ms;
            let auth = self.client.bybit_auth(expires)?;
            self.conns
                .set_requests(0, vec![auth, bybit::private::subscribe_request()]);
        }
        Ok(())
    }

    /// Waits up to `timeout` for frames and handles what came, the keepalive and a due re-sync.
    pub fn step(&mut self, timeout: Duration) {
        let mut seen = Seen::default();
        let (venue, symbols, tx, stats) =
            (self.venue, &self.symbols, &mut self.tx, &mut self.stats);
        let r = self.conns.poll(Some(timeout), |ev| match ev {
            ConnEvent::Up { .. } => seen.up = true,
            ConnEvent::Down { .. } => seen.down = true,
            ConnEvent::Frame { data, .. } => on_frame(venue, data, symbols, tx, stats, &mut seen),
        });
        if let Err(e) = r {
            eprintln!("warning: private stream: {e}");
        }
        self.handle_seen(seen);
        while let Some(line) = self.logs.pop() {
            println!("private stream: {line}");
        }
        if self.venue == Venue::Binance && self.keepalive_at.elapsed() >= self.keepalive_every {
            self.keepalive();
        }
        if self.resync_due.is_some_and(|t| Instant::now() >= t) {
            self.resync();
        }
    }

    fn handle_seen(&mut self, seen: Seen) {
        if seen.down {
            self.set_down("disconnected");
            if let Err(e) = self.prepare_requests() {
                eprintln!("warning: private stream: {e}");
            }
        }
        if seen.up && self.venue == Venue::Binance {
            self.resync_due = Some(Instant::now());
        }
        match seen.auth {
            Some(Err(msg)) => {
                self.stats.auth_refused += 1;
                eprintln!("error: private stream: Bybit refused the authentication ({msg}): check exec keys (API key and secret, read permission on the account); retrying with backoff");
                self.state = StreamState::AuthRefused(msg);
                self.conns.kill(0, "authentication refused");
            }
            Some(Ok(())) => {}
            None => {}
        }
        if seen.subscribed {
            self.resync_due = Some(Instant::now());
        }
        if seen.overflow {
            self.resync_due = Some(Instant::now());
        }
        if seen.expired {
            self.new_listen_key("listenKeyExpired");
        }
        if let Some((wallet, available)) = seen.balance {
            match (available, &self.handle) {
                (Some(available), Some(h)) => {
                    if h.send(Command::Balance { wallet, available }).is_ok() {
                        self.client.link().balance_read();
                    }
                }
                _ => self.client.link().request_balance(),
            }
        }
    }

    fn set_down(&mut self, why: &str) {
        if self.state == StreamState::Up {
            self.push(AccountEvent::Link(false));
        }
        if !matches!(self.state, StreamState::AuthRefused(_)) {
            self.state = StreamState::Down(why.to_string());
        }
        self.resync_due = None;
    }

    fn push(&mut self, ev: AccountEvent) {
        if self.tx.push(ev).is_err() {
            self.stats.dropped += 1;
        } else {
            self.stats.events += 1;
        }
    }

    /// The venue's positions over REST into execution, then the link is up.
    fn resync(&mut self) {
        let list = match self.client.positions() {
            Ok(l) => l,
            Err(e) => {
                eprintln!("warning: private stream: re-sync: {e}; retrying in 1 s");
                self.resync_due = Some(Instant::now() + Duration::from_secs(1));
                return;
            }
        };
        self.resync_due = None;
        for (i, name) in self.symbols.names().to_vec().iter().enumerate() {
            let (qty, mark) = list
                .iter()
                .find(|p| &p.symbol == name)
                .map_or((Decimal::ZERO, Decimal::ZERO), |p| (p.qty, p.mark_price));
            self.push(AccountEvent::Resync {
                symbol: SymbolId(i as u16),
                qty,
                mark,
            });
        }
        self.client.link().request_balance();
        self.stats.resyncs += 1;
        if self.state != StreamState::Up {
            println!(
                "private stream: up ({}), positions re-synced over REST",
                self.base
            );
        }
        self.state = StreamState::Up;
        self.push(AccountEvent::Link(true));
    }

    /// Binance `PUT /fapi/v1/listenKey`; a lapsed key gets a new one.
    fn keepalive(&mut self) {
        self.keepalive_at = Instant::now();
        match self.client.listen_key(Method::Put) {
            Ok(_) => self.stats.keepalives += 1,
            Err(e) => self.new_listen_key(&e),
        }
    }

    /// Opens a new listenKey and reconnects to it.
    fn new_listen_key(&mut self, why: &str) {
        match self.client.listen_key(Method::Post) {
            Ok(key) => {
                self.stats.new_keys += 1;
                self.keepalive_at = Instant::now();
                let url = format!("{}/ws/{key}", self.base);
                if let Err(e) = self.conns.set_url(&url) {
                    eprintln!("warning: private stream: {e}");
                }
                println!("private stream: {why}: new listenKey, reconnecting");
                self.conns.kill(0, why);
                self.set_down(why);
            }
            Err(e) => eprintln!("warning: private stream: {why}; a new listenKey failed: {e}"),
        }
    }
}

/// Parses one frame: account events into the ring, replies and balance into `seen`.
fn on_frame(
    venue: Venue,
    data: &[u8],
    symbols: &SymbolTable,
    tx: &mut Producer<AccountEvent>,
    stats: &mut PrivateStats,
    seen: &mut Seen,
) {
    let mut on = |ev: AccountEvent| {
        match ev {
            AccountEvent::Balance { wallet, available } => seen.balance = Some((wallet, available)),
            AccountEvent::Expired => seen.expired = true,
            _ => {}
        }
        if tx.push(ev).is_err() {
            stats.dropped += 1;
            seen.overflow = true;
        } else {
            stats.events += 1;
        }
    };
    let r = match venue {
        Venue::Bybit => bybit::private::parse(data, symbols, &mut on),
        Venue::Binance => binance::private::parse(data, symbols, &mut on),
    };
    match r {
        Ok(PrivateFrame::Auth(true)) => seen.auth = Some(Ok(())),
        Ok(PrivateFrame::Auth(false)) => seen.auth = Some(Err(ret_msg(data))),
        Ok(PrivateFrame::Subscribed(ok)) => seen.subscribed |= ok,
        Ok(PrivateFrame::Events { overflow, .. }) => seen.overflow |= overflow > 0,
        Ok(_) => {}
        Err(_) => stats.bad_frames += 1,
    }
}

/// The venue's `ret_msg` of a refused request (cold: an auth failure).
fn ret_msg(data: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v["ret_msg"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(data).into_owned())
}

/// The stream's base URL: `exec.private_stream.url`; else the stream host paired with the order
/// route's REST host (Binance `fapi.binance.com` → `wss://fstream.binance.com`,
/// `testnet.binancefuture.com` → `wss://stream.binancefuture.com`; Bybit `api.bybit.com` →
/// `wss://stream.bybit.com`, `api-testnet.bybit.com` → `wss://stream-testnet.bybit.com`); else,
/// for any other host (the embedded exchange, a loopback or test venue), the REST host itself
/// over `ws://` (`wss://` for `https://`). `live` with an empty REST URL: the venue's mainnet.
pub fn base_url(cfg: &PrivateStreamConfig, venue: Venue, live: bool, rest_url: &str) -> String {
    if !cfg.url.is_empty() {
        return cfg.url.clone();
    }
    let (tls, rest) = match rest_url.strip_prefix("https://") {
        Some(r) => (true, r),
        None => (false, rest_url.strip_prefix("http://").unwrap_or(rest_url)),
    };
    let host = rest.trim_end_matches('/');
    let known = match host {
        "fapi.binance.com" => Some("wss://fstream.binance.com"),
        "testnet.binancefuture.com" => Some("wss://stream.binancefuture.com"),
        "api.bybit.com" | "api.bytick.com" => Some("wss://stream.bybit.com"),
        "api-testnet.bybit.com" => Some("wss://stream-testnet.bybit.com"),
        "" if live => Some(match venue {
            Venue::Bybit => "wss://stream.bybit.com",
            Venue::Binance => "wss://fstream.binance.com",
        }),
        _ => None,
    };
    match (known, tls) {
        (Some(k), _) => k.into(),
        (None, true) => format!("wss://{host}"),
        (None, false) => format!("ws://{host}"),
    }
}

/// Runs `stream` on its own thread until `stop`.
pub fn spawn(
    mut stream: PrivateStream,
    stop: impl Fn() -> bool + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name("private-stream".into())
        .spawn(move || {
            while !stop() {
                stream.step(Duration::from_millis(20));
            }
            stream.conns.close_all();
        })
        .map_err(|e| format!("cannot start the private-stream thread: {e}"))
}
