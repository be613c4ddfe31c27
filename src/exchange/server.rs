//! Loopback exchange replaying recorded frames over each venue's own WebSocket protocol, plus
//! the REST recent-trades endpoint the feed's fallback polls, on the same port.
//!
//! - Binance USD-M (`/stream`): subscribe with `{"method":"SUBSCRIBE","params":[..],"id":N}`
//!   (ack `{"result":null,"id":N}`) or `/stream?streams=a/b`, unsubscribe likewise with
//!   `"UNSUBSCRIBE"`; ping frames are answered with pongs, and the server pings clients every
//!   few seconds as Binance does.
//! - Bybit v5 (`/v5/public/linear`): `{"op":"subscribe","args":[..],"req_id":..}` → ack
//!   `{"success":true,"ret_msg":"","conn_id":..,"req_id":..,"op":"subscribe"}` (likewise
//!   `"op":"unsubscribe"`);
//!   `{"op":"ping"}` → `{"success":true,"ret_msg":"pong","conn_id":..,"req_id":..,"op":"ping"}`.
//! - REST: Binance `GET /fapi/v1/trades?symbol=&limit=`, Bybit
//!   `GET /v5/market/recent-trade?category=linear&symbol=&limit=`: the newest trades the market
//!   has reached (see below), in the venues' response shapes.
//!
//! Market time: frames are sent byte for byte at the recorded pace divided by `speed` from the
//! first subscription (0 = as fast as the client reads). Each stream's position persists across
//! sessions, so a reconnecting client resumes where it left off and every frame is sent once
//! (a dropped TCP connection still delivers what was written before the FIN). A stream first
//! subscribed mid-run starts from its beginning: its frames the market clock already passed
//! are sent at once, then it follows the pace. After an unsubscribe acknowledgement no frame of
//! that stream is sent on the session; a session left with no stream waits for a subscription.
//! When a session has sent every frame of its streams it closes with code [`END_OF_REPLAY`].
//!
//! Faults ([`EmbeddedExchange::inject`]) act on the sessions open at that moment.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

use super::recording::Recording;
use crate::venue::Venue;
use crate::venue::{binance, bybit, recorded};

/// Close code sent when a session's streams are exhausted (private-use range 4000–4999).
pub const END_OF_REPLAY: u16 = 4000;

/// How often the Binance flavour pings its clients.
const SERVER_PING: Duration = Duration::from_secs(5);

/// Counters of the replay, readable from any thread.
#[derive(Debug, Default)]
pub struct ReplayStats {
    /// Data frames written to clients (replayed, duplicated or garbage).
    pub frames_sent: AtomicU64,
    /// Frames that the subscribed streams hold in total (grows as clients subscribe).
    pub frames_total: AtomicU64,
    /// WebSocket sessions accepted.
    pub connections: AtomicU64,
    /// Subscribe requests acknowledged.
    pub subscribes: AtomicU64,
    /// Unsubscribe requests acknowledged.
    pub unsubscribes: AtomicU64,
    /// Application pings (`{"op":"ping"}`) answered.
    pub pings: AtomicU64,
    /// REST requests served.
    pub rest_requests: AtomicU64,
    /// Faults injected.
    pub faults: AtomicU64,
    /// Last replayed trade per symbol, updated just before each frame is sent (order matching).
    pub market: super::market::MarketState,
}

/// A fault to inject into the sessions open now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close every open session's TCP connection without a close frame (the bytes already
    /// written still arrive, then EOF) — like a venue dropping the link.
    Drop,
    /// Stop sending (and reading: pings go unanswered) for this long, socket kept open. The
    /// market keeps moving: afterwards the backlog is sent, and REST serves it meanwhile.
    Stall(Duration),
    /// Send this many garbage text frames (not JSON) before the next data frame.
    Garbage(u32),
    /// Send the last this-many data frames again (each session).
    Duplicate(u32),
    /// Answer the next WebSocket upgrade with this HTTP status (429, 418) and
    /// `Retry-After: retry_after_s`.
    RefuseUpgrade {
        /// HTTP status.
        status: u16,
        /// `Retry-After` value, s.
        retry_after_s: u32,
    },
    /// Rewrite the next `frames` trade frames sent (a bad trade on a real frame): trade id
    /// (Binance `t`) replaced by `id` when given, trade time (`T`) set by `time`.
    Tamper {
        /// Trade frames to rewrite.
        frames: u32,
        /// Replacement trade id.
        id: Option<u64>,
        /// Trade time rewrite.
        time: TradeTime,
    },
}

/// The trade time of a [`Fault::Tamper`]ed frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TradeTime {
    /// As recorded.
    #[default]
    Recorded,
    /// This many ms after the recorded time.
    Later(u64),
    /// This many ms ahead of the wall clock at sending.
    AheadOfWall(u64),
}

#[derive(Debug, Default)]
struct FaultState {
    drop_epoch: u64,
    stall_until: Option<Instant>,
    garbage_epoch: u64,
    garbage: u32,
    dup_epoch: u64,
    dup: u32,
    refuse: Option<(u16, u32)>,
    tamper_left: u32,
    tamper_id: Option<u64>,
    tamper_time: TradeTime,
}

#[derive(Debug)]
struct Market {
    /// Per stream: index of the next frame of that stream to send.
    resume: Vec<usize>,
    /// Streams any client subscribed.
    subscribed: Vec<bool>,
    /// Replay clock: wall instant of the first subscription and the recording time then.
    clock: Option<(Instant, u64)>,
}

struct Shared {
    rec: Arc<Recording>,
    venue: Venue,
    speed: f64,
    stop: AtomicBool,
    stats: Arc<ReplayStats>,
    market: Mutex<Market>,
    faults: Mutex<FaultState>,
    next_conn_id: AtomicU64,
}

impl Shared {
    fn market(&self) -> std::sync::MutexGuard<'_, Market> {
        self.market.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn faults(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `text` rewritten by a pending [`Fault::Tamper`] when it is a trade frame.
    fn tampered(&self, text: &str) -> Option<String> {
        if !recorded::is_trade_frame(text) {
            return None;
        }
        let (id, time) = {
            let mut f = self.faults();
            if f.tamper_left == 0 {
                return None;
            }
            f.tamper_left -= 1;
            (f.tamper_id, f.tamper_time)
        };
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        recorded::rewrite_trade(text, id, |t| match time {
            TradeTime::Recorded => t,
            TradeTime::Later(ms) => t.saturating_add(ms),
            TradeTime::AheadOfWall(ms) => wall_ms.saturating_add(ms),
        })
    }

    /// Wall time at which frame `i` is due (None: as fast as possible).
    fn due(&self, clock: (Instant, u64), i: usize) -> Option<Instant> {
        (self.speed > 0.0).then(|| {
            let dt = self.rec.frames[i].recv_ns.saturating_sub(clock.1);
            clock.0 + Duration::from_secs_f64(dt as f64 * 1e-9 / self.speed)
        })
    }
}

/// A running embedded exchange. Dropping it stops the server threads.
pub struct EmbeddedExchange {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EmbeddedExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedExchange")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EmbeddedExchange {
    /// A Binance-flavoured exchange (see [`EmbeddedExchange::start_venue`]).
    pub fn start(bind: SocketAddr, recording: Arc<Recording>, speed: f64) -> std::io::Result<Self> {
        Self::start_venue(bind, recording, Venue::Binance, speed)
    }

    /// Binds `bind` (loopback only; port 0 = ephemeral) and serves `recording` in `venue`'s
    /// protocol at `speed` (1 = recorded pace, 0 = as fast as clients read).
    pub fn start_venue(
        bind: SocketAddr,
        recording: Arc<Recording>,
        venue: Venue,
        speed: f64,
    ) -> std::io::Result<Self> {
        if !bind.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the embedded exchange binds loopback addresses only, not {bind}"),
            ));
        }
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let n_streams = recording.streams.len();
        let shared = Arc::new(Shared {
            rec: recording,
            venue,
            speed,
            stop: AtomicBool::new(false),
            stats: Arc::new(ReplayStats::default()),
            market: Mutex::new(Market {
                resume: vec![0; n_streams],
                subscribed: vec![false; n_streams],
                clock: None,
            }),
            faults: Mutex::new(FaultState::default()),
            next_conn_id: AtomicU64::new(1),
        });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sim-exchange".into())
            .spawn(move || accept_loop(listener, s2))?;
        Ok(Self {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The WebSocket URL clients connect to (`/stream` or `/v5/public/linear`).
    pub fn url(&self) -> String {
        format!("ws://{}{}", self.addr, self.shared.venue.embedded_ws_path())
    }

    /// The REST base URL (`http://127.0.0.1:port`).
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replay counters.
    pub fn stats(&self) -> Arc<ReplayStats> {
        self.shared.stats.clone()
    }

    /// Injects `fault` into the sessions open now (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        self.shared.stats.faults.fetch_add(1, Ordering::Relaxed);
        let mut f = self.shared.faults();
        match fault {
            Fault::Drop => f.drop_epoch += 1,
            Fault::Stall(d) => f.stall_until = Some(Instant::now() + d),
            Fault::Garbage(n) => {
                f.garbage_epoch += 1;
                f.garbage = n;
            }
            Fault::Duplicate(n) => {
                f.dup_epoch += 1;
                f.dup = n;
            }
            Fault::RefuseUpgrade {
                status,
                retry_after_s,
            } => f.refuse = Some((status, retry_after_s)),
            Fault::Tamper { frames, id, time } => {
                f.tamper_left = frames;
                f.tamper_id = id;
                f.tamper_time = time;
            }
        }
    }

    /// Stops the server and waits for its threads.
    pub fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmbeddedExchange {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let s = shared.clone();
                match std::thread::Builder::new()
                    .name("sim-session".into())
                    .spawn(move || {
                        if let Err(e) = connection(stream, &s) {
                            if !s.stop.load(Ordering::Relaxed) {
                                eprintln!("embedded exchange: session ended: {e}");
                            }
                        }
                    }) {
                    Ok(h) => sessions.push(h),
                    Err(e) => eprintln!("embedded exchange: cannot start a session: {e}"),
                }
                sessions.retain(|h| !h.is_finished());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => {
                eprintln!("embedded exchange: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    for h in sessions {
        let _ = h.join();
    }
}

/// Reads the request head without consuming it; routes to REST or WebSocket.
fn connection(stream: TcpStream, shared: &Shared) -> Result<(), String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    let n = loop {
        match stream.peek(&mut head) {
            Ok(0) => return Ok(()),
            Ok(n) if head[..n].windows(4).any(|w| w == b"\r\n\r\n") || n == head.len() => break n,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("peek: {e}")),
        }
        if Instant::now() > deadline || shared.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let text = String::from_utf8_lossy(&head[..n]).to_ascii_lowercase();
    if text.contains("upgrade: websocket") {
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        session(stream, shared)
    } else {
        rest(stream, shared)
    }
}

// ---------------------------------------------------------------------------------------------
// REST

fn rest(mut stream: TcpStream, shared: &Shared) -> Result<(), String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("rest read: {e}"))?;
        if n == 0 || buf.len() > 16 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    shared.stats.rest_requests.fetch_add(1, Ordering::Relaxed);
    let head = String::from_utf8_lossy(&buf);
    let target = head
        .lines()
        .next()
        .and_then(|l| {
            let mut it = l.split(' ');
            (it.next() == Some("GET")).then(|| it.next()).flatten()
        })
        .unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
    };
    let limit = param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(500)
        .clamp(1, 1000);
    let (status, body) = match (shared.venue, path, param("symbol")) {
        (Venue::Binance, "/fapi/v1/trades", Some(sym)) => {
            let frames = reached_frames(shared, &binance::endpoint::topic("trade", sym));
            (200, binance::exchange::recent_trades_reply(&frames, limit))
        }
        (Venue::Bybit, "/v5/market/recent-trade", Some(sym))
            if param("category") == Some("linear") =>
        {
            let frames = reached_frames(shared, &bybit::endpoint::topic("publicTrade", sym));
            (200, bybit::exchange::recent_trades_reply(&frames, limit))
        }
        (Venue::Binance, _, _) => (400, binance::exchange::PARAMS_ERROR.to_string()),
        (Venue::Bybit, _, _) => (200, bybit::exchange::PARAMS_ERROR.to_string()),
    };
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(resp.as_bytes())
        .map_err(|e| format!("rest write: {e}"))?;
    let _ = stream.flush();
    Ok(())
}

/// Frames of `stream` the market has reached: at `speed` > 0 by wall time since the first
/// subscription, else as far as sessions have sent.
fn reached(shared: &Shared, stream: u16) -> Vec<usize> {
    let m = shared.market();
    let frames = &shared.rec.frames;
    let limit_idx = match (shared.speed > 0.0, m.clock) {
        (true, Some(clock)) => {
            let now = Instant::now();
            frames.partition_point(|f| {
                let dt = f.recv_ns.saturating_sub(clock.1);
                clock.0 + Duration::from_secs_f64(dt as f64 * 1e-9 / shared.speed) <= now
            })
        }
        (true, None) => 0,
        (false, _) => m.resume[stream as usize],
    };
    drop(m);
    frames[..limit_idx]
        .iter()
        .enumerate()
        .filter(|(_, f)| f.stream == stream)
        .map(|(i, _)| i)
        .collect()
}

/// The recorded frames of `topic` the market has reached, oldest first.
fn reached_frames<'a>(shared: &'a Shared, topic: &str) -> Vec<&'a str> {
    match shared.rec.stream_index(topic) {
        Some(stream) => reached(shared, stream)
            .into_iter()
            .map(|i| shared.rec.frames[i].text.as_str())
            .collect(),
        None => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket sessions

/// A client request on the market-data WebSocket, as a venue's reader understood it, with the
/// reply the venue sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsRequest {
    /// Subscribe to `topics` (venue stream names).
    Subscribe {
        /// Stream names.
        topics: Vec<String>,
        /// The acknowledgement.
        reply: String,
    },
    /// Unsubscribe from `topics` (venue stream names).
    Unsubscribe {
        /// Stream names.
        topics: Vec<String>,
        /// The acknowledgement.
        reply: String,
    },
    /// An application-level ping.
    Ping {
        /// The pong.
        reply: String,
    },
    /// Anything else.
    Invalid {
        /// The error reply.
        reply: String,
    },
}

struct Session<'a> {
    shared: &'a Shared,
    ws: WebSocket<TcpStream>,
    conn_id: String,
    subscribed: Vec<bool>,
    any: bool,
    cursor: usize,
    sent: Vec<usize>,
    unflushed: usize,
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock)
}

fn session(stream: TcpStream, shared: &Shared) -> Result<(), String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut path_streams = String::new();
    let refuse = shared.faults().refuse.take();
    #[allow(clippy::result_large_err)] // tungstenite's callback signature, not ours
    let ws = tungstenite::accept_hdr(stream, |req: &Request, resp: Response| {
        if let Some((status, secs)) = refuse {
            let mut r = tungstenite::handshake::server::ErrorResponse::new(Some(
                "rate limited".to_string(),
            ));
            *r.status_mut() = tungstenite::http::StatusCode::from_u16(status)
                .unwrap_or(tungstenite::http::StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut().insert(
                tungstenite::http::header::RETRY_AFTER,
                tungstenite::http::HeaderValue::from(secs),
            );
            return Err(r);
        }
        if let Some(q) = req.uri().query() {
            if let Some(list) = q.split('&').find_map(|kv| kv.strip_prefix("streams=")) {
                path_streams = list.to_string();
            }
        }
        Ok(resp)
    })
    .map_err(|e| format!("handshake: {e}"))?;
    ws.get_ref()
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    let (drop_epoch, garbage_epoch, dup_epoch) = {
        let f = shared.faults();
        (f.drop_epoch, f.garbage_epoch, f.dup_epoch)
    };
    let id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
    let mut s = Session {
        shared,
        ws,
        conn_id: format!("{:08x}-7e57-4000-8000-{:012x}", std::process::id(), id),
        subscribed: vec![false; shared.rec.streams.len()],
        any: false,
        cursor: usize::MAX,
        sent: Vec::new(),
        unflushed: 0,
    };
    for st in path_streams
        .split('/')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect::<Vec<_>>()
    {
        s.subscribe(&st);
    }
    s.run(drop_epoch, garbage_epoch, dup_epoch)
}

impl Session<'_> {
    /// The recorded stream of `topic` (Binance stream names are lower case).
    fn stream_of(&self, topic: &str) -> Option<u16> {
        let name = match self.shared.venue {
            Venue::Binance => topic.to_ascii_lowercase(),
            Venue::Bybit => topic.to_string(),
        };
        self.shared.rec.stream_index(&name)
    }

    /// Stops sending `topic`'s frames; a session left with no recorded stream idles until the
    /// next subscription (it does not end the replay).
    fn unsubscribe(&mut self, topic: &str) {
        if let Some(i) = self.stream_of(topic) {
            self.subscribed[i as usize] = false;
            if !self.subscribed.contains(&true) {
                self.any = false;
            }
        }
    }

    fn subscribe(&mut self, topic: &str) {
        let Some(i) = self.stream_of(topic) else {
            self.any = true; // subscribed, nothing recorded for it
            return;
        };
        self.any = true;
        self.subscribed[i as usize] = true;
        let mut m = self.shared.market();
        let start = m.resume[i as usize];
        self.cursor = self.cursor.min(start);
        if !m.subscribed[i as usize] {
            m.subscribed[i as usize] = true;
            let n = self.shared.rec.count_in(&m.subscribed);
            self.shared
                .stats
                .frames_total
                .store(n as u64, Ordering::Relaxed);
        }
        if m.clock.is_none() && !self.shared.rec.frames.is_empty() {
            m.clock = Some((
                Instant::now(),
                self.shared.rec.frames[start.min(self.shared.rec.frames.len() - 1)].recv_ns,
            ));
        }
    }

    fn send(&mut self, text: String) -> Result<(), String> {
        match self.ws.send(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => Err(format!("send: {e}")),
        }
    }

    /// Handles client requests; Err when the client is gone.
    fn read_requests(&mut self) -> Result<bool, String> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => self.on_request(t.as_str())?,
                Ok(Message::Close(_)) => return Ok(false),
                Ok(_) => {} // ping → tungstenite queues the pong
                Err(e) if would_block(&e) => return Ok(true),
                Err(tungstenite::Error::ConnectionClosed) => return Ok(false),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn on_request(&mut self, text: &str) -> Result<(), String> {
        let request = match self.shared.venue {
            Venue::Binance => binance::exchange::ws_request(text),
            Venue::Bybit => bybit::exchange::ws_request(text, &self.conn_id),
        };
        match request {
            WsRequest::Subscribe { topics, reply } => {
                for t in &topics {
                    self.subscribe(t);
                }
                self.shared.stats.subscribes.fetch_add(1, Ordering::Relaxed);
                self.send(reply)
            }
            WsRequest::Unsubscribe { topics, reply } => {
                for t in &topics {
                    self.unsubscribe(t);
                }
                self.shared
                    .stats
                    .unsubscribes
                    .fetch_add(1, Ordering::Relaxed);
                self.send(reply)
            }
            WsRequest::Ping { reply } => {
                self.shared.stats.pings.fetch_add(1, Ordering::Relaxed);
                self.send(reply)
            }
            WsRequest::Invalid { reply } => self.send(reply),
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        match self.ws.flush() {
            Ok(()) => {
                self.unflushed = 0;
                Ok(())
            }
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => Err(format!("flush: {e}")),
        }
    }

    fn write_frame(&mut self, text: &str) -> Result<(), String> {
        match self.ws.write(Message::text(text)) {
            Ok(()) => {}
            Err(e) if would_block(&e) => {}
            // tungstenite's write buffer is full: flush until it takes the frame.
            Err(tungstenite::Error::WriteBufferFull(m)) => {
                let mut m = *m;
                loop {
                    self.flush()?;
                    std::thread::sleep(Duration::from_micros(200));
                    match self.ws.write(m) {
                        Ok(()) => break,
                        Err(tungstenite::Error::WriteBufferFull(back)) => m = *back,
                        Err(e) if would_block(&e) => break,
                        Err(e) => return Err(format!("write: {e}")),
                    }
                }
            }
            Err(e) => return Err(format!("write: {e}")),
        }
        self.shared
            .stats
            .frames_sent
            .fetch_add(1, Ordering::Relaxed);
        self.unflushed += 1;
        if self.unflushed >= 64 {
            self.flush()?;
        }
        Ok(())
    }

    fn run(
        &mut self,
        mut drop_epoch: u64,
        mut garbage_epoch: u64,
        mut dup_epoch: u64,
    ) -> Result<(), String> {
        let shared = self.shared;
        let frames = &shared.rec.frames;
        let mut last_ping = Instant::now();
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                let _ = self.ws.close(None);
                let _ = self.ws.flush();
                return Ok(());
            }
            // Faults.
            let (stalled, garbage, dup, dropped) = {
                let mut f = shared.faults();
                let stalled = f.stall_until.is_some_and(|t| Instant::now() < t);
                if f.stall_until.is_some() && !stalled {
                    f.stall_until = None;
                }
                let garbage = (f.garbage_epoch != garbage_epoch).then_some(f.garbage);
                let dup = (f.dup_epoch != dup_epoch).then_some(f.dup);
                garbage_epoch = f.garbage_epoch;
                dup_epoch = f.dup_epoch;
                let dropped = f.drop_epoch != drop_epoch;
                drop_epoch = f.drop_epoch;
                (stalled, garbage, dup, dropped)
            };
            if dropped {
                return self.drop_link();
            }
            if stalled {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if !self.read_requests()? {
                return Ok(());
            }
            if shared.venue == Venue::Binance && last_ping.elapsed() >= SERVER_PING {
                last_ping = Instant::now();
                let _ = self.ws.write(Message::Ping(Default::default()));
                self.flush()?;
            }
            if let Some(n) = garbage {
                for k in 0..n {
                    self.write_frame(&format!("garbage frame {k} {{\"not\": json"))?;
                }
                self.flush()?;
            }
            if let Some(n) = dup {
                let from = self.sent.len().saturating_sub(n as usize);
                let again: Vec<usize> = self.sent[from..].to_vec();
                for i in again {
                    self.write_frame(&frames[i].text)?;
                }
                self.flush()?;
            }
            if !self.any {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            // Send what is due, in batches, then look at requests and faults again.
            let mut batch = 0;
            let mut wait: Option<Duration> = None;
            while self.cursor < frames.len() && batch < 256 {
                let i = self.cursor;
                let f = &frames[i];
                let st = f.stream as usize;
                if !self.subscribed[st] {
                    self.cursor += 1;
                    continue;
                }
                let clock = {
                    let m = shared.market();
                    if i < m.resume[st] {
                        drop(m);
                        self.cursor += 1;
                        continue; // sent by an earlier session
                    }
                    m.clock
                };
                if let Some(due) = clock.and_then(|c| shared.due(c, i)) {
                    let now = Instant::now();
                    if due > now {
                        wait = Some(due - now);
                        break;
                    }
                }
                // Order matching sees the trade just before the client does.
                shared.stats.market.on_frame(&f.text);
                match shared.tampered(&f.text) {
                    Some(t) => self.write_frame(&t)?,
                    None => self.write_frame(&f.text)?,
                }
                shared.market().resume[st] = i + 1;
                self.sent.push(i);
                if self.sent.len() > 4096 {
                    self.sent.drain(..2048);
                }
                self.cursor += 1;
                batch += 1;
            }
            self.flush()?;
            if self.cursor >= frames.len() || (self.cursor == usize::MAX) {
                return self.finish();
            }
            if batch == 0 {
                let nap = wait.unwrap_or(Duration::from_millis(1));
                std::thread::sleep(nap.min(Duration::from_millis(2)));
            }
        }
    }

    /// Flushes what was written, then half-closes (FIN after the data, no close frame) and
    /// drains the client's bytes until it hangs up, so the kernel never answers with a reset
    /// that would discard data still in flight.
    fn drop_link(&mut self) -> Result<(), String> {
        self.flush_all()?;
        let sock = self.ws.get_mut();
        let _ = sock.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(_) => break,
            }
        }
        Ok(())
    }

    fn flush_all(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.unflushed > 0 && Instant::now() < deadline {
            self.flush()?;
            if self.unflushed > 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        Ok(())
    }

    /// Every frame of this session's streams was sent: close with [`END_OF_REPLAY`].
    fn finish(&mut self) -> Result<(), String> {
        // Make sure everything written reaches the client before the close frame.
        self.flush_all()?;
        let _ = self.ws.close(Some(CloseFrame {
            code: CloseCode::from(END_OF_REPLAY),
            reason: "end of replay".into(),
        }));
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(_) => {}
                Err(e) if would_block(&e) => {
                    let _ = self.ws.flush();
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => break,
            }
        }
        Ok(())
    }
}
