//! One WebSocket connection as a non-blocking state machine over a mio TCP stream (tungstenite
//! for the framing, rustls for `wss://`), driven by readiness events of a shared `Poll`:
//! `Idle → Connecting (TCP) → Handshaking (TLS + HTTP upgrade) → Open → Idle`.
//!
//! Every read is stamped with the monotonic clock ([`TimedStream`]), so each frame carries the
//! time its last bytes came off the socket (for TLS: the ciphertext read that completed it).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::endpoint::Endpoint;
use super::tls::TlsStream;
use crate::telemetry::Clock;

/// Socket system calls issued by the connections of one event loop: every `read` (`recv`,
/// returning data, 0 or `EAGAIN`) and `write` (`send`) on a connected socket. Written only by
/// the thread that drives the loop (a plain load + store, no read-modify-write); read anywhere.
#[derive(Debug, Default)]
pub struct IoCalls {
    reads: AtomicU64,
    writes: AtomicU64,
}

impl IoCalls {
    #[inline]
    fn bump(c: &AtomicU64) {
        c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }

    /// Socket reads so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Socket writes so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}

/// A TCP stream that remembers when its last read returned bytes (monotonic ns) and counts
/// its system calls ([`IoCalls`]).
#[derive(Debug)]
pub struct TimedStream {
    inner: TcpStream,
    clock: Clock,
    last_read_ns: u64,
    io: Arc<IoCalls>,
}

impl TimedStream {
    /// Monotonic ns of the last read that returned bytes.
    #[inline]
    pub fn last_read_ns(&self) -> u64 {
        self.last_read_ns
    }
}

impl Read for TimedStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        IoCalls::bump(&self.io.reads);
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last_read_ns = self.clock.now_ns();
        }
        Ok(n)
    }
}

impl Write for TimedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        IoCalls::bump(&self.io.writes);
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        // A no-op for a TCP stream (no system call).
        self.inner.flush()
    }
}

/// Plain TCP (loopback `ws://`) or TLS (`wss://`) under tungstenite.
#[derive(Debug)]
pub enum Transport {
    /// `ws://`.
    Plain(TimedStream),
    /// `wss://`.
    Tls(Box<TlsStream<TimedStream>>),
}

impl Transport {
    /// The timed socket.
    #[inline]
    pub fn timed(&self) -> &TimedStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => t.get_ref(),
        }
    }

    fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => &mut s.inner,
            Transport::Tls(t) => &mut t.get_mut().inner,
        }
    }
}

impl Read for Transport {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(t) => t.flush(),
        }
    }
}

/// Errors of the WebSocket layer.
#[derive(Debug)]
pub enum WsError {
    /// The URL is not one we may connect to.
    Url(String),
    /// TCP connect, TLS or WebSocket handshake failed.
    Connect(String),
    /// The connection failed after it was established (or the event loop failed).
    Io(String),
    /// The upgrade was refused with HTTP 429 (rate limit) or 418 (IP ban); `retry_after_ms`
    /// from the `Retry-After` header (delta-seconds), None when absent or not a number.
    Refused {
        /// HTTP status.
        status: u16,
        /// The wait the venue asked for, ms.
        retry_after_ms: Option<u64>,
    },
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsError::Url(m) => write!(f, "bad WebSocket URL: {m}"),
            WsError::Connect(m) => write!(f, "WebSocket connect failed: {m}"),
            WsError::Io(m) => write!(f, "WebSocket I/O error: {m}"),
            WsError::Refused {
                status,
                retry_after_ms,
            } => match retry_after_ms {
                Some(ms) => write!(
                    f,
                    "WebSocket upgrade refused with HTTP {status}, Retry-After {} s",
                    ms / 1000
                ),
                None => write!(
                    f,
                    "WebSocket upgrade refused with HTTP {status}, no usable Retry-After"
                ),
            },
        }
    }
}

impl std::error::Error for WsError {}

impl WsError {
    /// For a refused upgrade (429 / 418), the least wait before the next attempt: the
    /// `Retry-After` in ns, or `fallback_ns` when the venue gave none. None for other errors.
    pub fn refused_wait_ns(&self, fallback_ns: u64) -> Option<u64> {
        match self {
            WsError::Refused { retry_after_ms, .. } => {
                Some(retry_after_ms.map_or(fallback_ns, |ms| ms.saturating_mul(1_000_000)))
            }
            _ => None,
        }
    }
}

/// `Retry-After` as delta-seconds, ms (an HTTP-date is not accepted: None).
fn retry_after_ms(headers: &tungstenite::http::HeaderMap) -> Option<u64> {
    let v = headers.get(tungstenite::http::header::RETRY_AFTER)?;
    let secs: u64 = v.to_str().ok()?.trim().parse().ok()?;
    Some(secs.saturating_mul(1000))
}

/// Whether the feed is still running after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsStatus {
    /// Open or reconnecting; more frames may come.
    Open,
    /// Finished: every connection ended for good (end of a replay, or closed on request).
    Closed,
}

/// Parses and checks a WebSocket URL: `wss://` anywhere, `ws://` only to loopback hosts.
pub fn check_url(url: &str) -> Result<Endpoint, WsError> {
    let e = Endpoint::parse(url).map_err(WsError::Url)?;
    if !e.url.starts_with("ws") {
        return Err(WsError::Url(format!("{url}: expected ws:// or wss://")));
    }
    Ok(e)
}

/// Where and how a connection connects.
#[derive(Debug, Clone)]
pub struct WsTarget {
    /// The URL.
    pub endpoint: Endpoint,
    /// Resolved addresses (at start-up); connection attempts rotate through them.
    pub addrs: Vec<SocketAddr>,
    /// TLS client config for `wss://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl WsTarget {
    /// Parses and resolves `url` (blocking DNS: start-up only); `tls` is required for `wss://`.
    pub fn new(url: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Self, WsError> {
        let endpoint = check_url(url)?;
        if endpoint.tls && tls.is_none() {
            return Err(WsError::Url(format!("{url}: wss:// needs a TLS config")));
        }
        let addrs = endpoint.resolve().map_err(WsError::Url)?;
        Ok(Self {
            endpoint,
            addrs,
            tls,
        })
    }
}

enum State {
    Idle,
    Connecting(TcpStream),
    Handshaking(MidHandshake<ClientHandshake<Transport>>),
    Open(WebSocket<Transport>),
}

/// Connection phase, as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No socket.
    Idle,
    /// TCP, TLS or upgrade in progress.
    Connecting,
    /// Frames flow.
    Open,
}

/// What one [`WsConn::drive`] call saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Driven {
    /// The handshake completed during this call.
    pub opened: bool,
    /// Frames of any kind read (data, ping, pong, close): proof of life.
    pub frames: u32,
    /// The peer closed: `Some(code)` from its close frame (1005 when it sent none).
    pub closed: Option<u16>,
    /// The call stopped before the socket ran dry (handshake just completed, or
    /// [`MAX_FRAMES_PER_DRIVE`] frames read): drive again soon without waiting for readiness
    /// (edge-triggered: no new event comes for bytes already received).
    pub more: bool,
}

/// Most frames one [`WsConn::drive`] call reads, so a link that never runs dry cannot starve
/// the other links and the loop's timers (≈ 0.1–0.5 ms of work at 0.1–0.5 µs per frame).
pub const MAX_FRAMES_PER_DRIVE: u32 = 1024;

/// Bytes one socket read asks for. tungstenite zero-fills this much of its read buffer before
/// every read (its 128 KiB default costs microseconds per read, idle or not); 4 KiB holds
/// about 15 trade frames, and larger frames still arrive whole (the buffer grows to the frame).
pub const READ_CHUNK: usize = 4 * 1024;

/// One WebSocket connection; see the module doc.
pub struct WsConn {
    token: Token,
    clock: Clock,
    io: Arc<IoCalls>,
    state: State,
    frame: Vec<u8>,
}

impl std::fmt::Debug for WsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConn")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

fn is_would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

impl WsConn {
    /// An idle connection that registers its socket under `token` and counts its socket
    /// system calls into `io`.
    pub fn new(token: Token, clock: Clock, io: Arc<IoCalls>) -> Self {
        Self {
            token,
            clock,
            io,
            state: State::Idle,
            frame: Vec::with_capacity(64 * 1024),
        }
    }

    /// Current phase.
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Idle => Phase::Idle,
            State::Connecting(_) | State::Handshaking(_) => Phase::Connecting,
            State::Open(_) => Phase::Open,
        }
    }

    /// Starts a non-blocking TCP connect to `addr`; the rest is driven by [`WsConn::drive`].
    pub fn start(&mut self, registry: &Registry, addr: SocketAddr) -> Result<(), WsError> {
        self.reset(registry);
        let mut stream =
            TcpStream::connect(addr).map_err(|e| WsError::Connect(format!("{addr}: {e}")))?;
        registry
            .register(
                &mut stream,
                self.token,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| WsError::Connect(format!("register: {e}")))?;
        self.state = State::Connecting(stream);
        Ok(())
    }

    /// Drops the socket without a close handshake.
    pub fn reset(&mut self, registry: &Registry) {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => {}
            State::Connecting(mut s) => {
                let _ = registry.deregister(&mut s);
            }
            // Closing the descriptor removes it from the epoll set.
            State::Handshaking(_) => {}
            State::Open(mut ws) => {
                let _ = registry.deregister(ws.get_mut().tcp_mut());
            }
        }
    }

    /// Sends a close frame (best effort) and drops the socket.
    pub fn close(&mut self, registry: &Registry) {
        if let State::Open(ws) = &mut self.state {
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        self.reset(registry);
    }

    /// Takes the open connection's transport out: the caller frames messages itself from here
    /// on (its socket stays registered under this connection's token). `None` unless open.
    /// Bytes read past the handshake response are dropped: for peers that send nothing before
    /// the client's first frame (the order-entry WebSockets).
    pub fn take_transport(&mut self) -> Option<Transport> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Open(ws) => Some(ws.into_inner()),
            other => {
                self.state = other;
                None
            }
        }
    }

    /// Queues a text message and flushes what the socket takes now.
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.send(Message::text(text))
    }

    /// Queues a ping frame (empty payload).
    pub fn send_ping(&mut self) -> Result<(), WsError> {
        self.send(Message::Ping(Default::default()))
    }

    fn send(&mut self, m: Message) -> Result<(), WsError> {
        let State::Open(ws) = &mut self.state else {
            return Err(WsError::Io("not open".into()));
        };
        match ws.send(m) {
            Ok(()) => Ok(()),
            Err(e) if is_would_block(&e) => Ok(()),
            Err(e) => Err(WsError::Io(e.to_string())),
        }
    }

    /// Advances the connection after a readiness event (or speculatively: it is cheap when
    /// nothing is ready). Returns right after the handshake completes, and after at most
    /// [`MAX_FRAMES_PER_DRIVE`] frames ([`Driven::more`]: call again without waiting for
    /// readiness). Every complete data frame goes to `on_frame(payload, recv_ns)`; the
    /// payload buffer is reused and may be rewritten in place by the callee. An error means the
    /// connection is unusable (the caller resets it and reconnects).
    #[inline]
    pub fn drive<F: FnMut(&mut [u8], u64)>(
        &mut self,
        target: &WsTarget,
        mut on_frame: F,
    ) -> Result<Driven, WsError> {
        let mut out = Driven::default();
        if let State::Connecting(stream) = &mut self.state {
            if let Some(e) = stream
                .take_error()
                .map_err(|e| WsError::Connect(e.to_string()))?
            {
                return Err(WsError::Connect(e.to_string()));
            }
            match stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(out),
                Err(e) => return Err(WsError::Connect(e.to_string())),
            }
            let State::Connecting(stream) = std::mem::replace(&mut self.state, State::Idle) else {
                unreachable!("checked above")
            };
            stream
                .set_nodelay(true)
                .map_err(|e| WsError::Connect(e.to_string()))?;
            let timed = TimedStream {
                inner: stream,
                clock: self.clock.clone(),
                last_read_ns: 0,
                io: self.io.clone(),
            };
            let transport = match &target.tls {
                Some(cfg) if target.endpoint.tls => Transport::Tls(Box::new(
                    TlsStream::new(cfg.clone(), &target.endpoint.host, timed)
                        .map_err(WsError::Connect)?,
                )),
                _ => Transport::Plain(timed),
            };
            let request = target
                .endpoint
                .url
                .as_str()
                .into_client_request()
                .map_err(|e| WsError::Url(format!("{}: {e}", target.endpoint.url)))?;
            let config = WebSocketConfig::default().read_buffer_size(READ_CHUNK);
            let hs = tungstenite::client::client_with_config(request, transport, Some(config));
            out.opened = self.handshake_step(hs, target)?;
        } else if let State::Handshaking(_) = &self.state {
            let State::Handshaking(mid) = std::mem::replace(&mut self.state, State::Idle) else {
                unreachable!("checked above")
            };
            out.opened = self.handshake_step(mid.handshake(), target)?;
        }
        if out.opened {
            // Let the owner send its subscriptions and report the link up before any frame
            // (the server may already have sent some) is handed on.
            out.more = true;
            return Ok(out);
        }
        let State::Open(ws) = &mut self.state else {
            return Ok(out);
        };
        loop {
            if out.frames >= MAX_FRAMES_PER_DRIVE {
                out.more = true;
                return Ok(out);
            }
            match ws.read() {
                Ok(Message::Text(t)) => {
                    out.frames += 1;
                    let recv_ns = ws.get_ref().timed().last_read_ns;
                    self.frame.clear();
                    self.frame.extend_from_slice(t.as_bytes());
                    on_frame(&mut self.frame, recv_ns);
                }
                Ok(Message::Binary(b)) => {
                    out.frames += 1;
                    let recv_ns = ws.get_ref().timed().last_read_ns;
                    self.frame.clear();
                    self.frame.extend_from_slice(&b);
                    on_frame(&mut self.frame, recv_ns);
                }
                Ok(Message::Close(c)) => {
                    out.frames += 1;
                    out.closed = Some(c.map_or(1005, |f| u16::from(f.code)));
                    let _ = ws.flush();
                    return Ok(out);
                }
                // Ping: tungstenite queues the pong and sends it on the next read/flush.
                Ok(_) => out.frames += 1,
                Err(e) if is_would_block(&e) => {
                    // Writable readiness or a queued pong: push out what is buffered.
                    match ws.flush() {
                        Ok(()) => {}
                        Err(e) if is_would_block(&e) => {}
                        Err(e) => return Err(WsError::Io(e.to_string())),
                    }
                    return Ok(out);
                }
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => {
                    out.closed = Some(u16::from(CloseCode::Status));
                    return Ok(out);
                }
                Err(e) => return Err(WsError::Io(e.to_string())),
            }
        }
    }

    fn handshake_step(
        &mut self,
        r: Result<
            (
                WebSocket<Transport>,
                tungstenite::handshake::client::Response,
            ),
            HandshakeError<ClientHandshake<Transport>>,
        >,
        target: &WsTarget,
    ) -> Result<bool, WsError> {
        match r {
            Ok((ws, _)) => {
                self.state = State::Open(ws);
                Ok(true)
            }
            Err(HandshakeError::Interrupted(mid)) => {
                self.state = State::Handshaking(mid);
                Ok(false)
            }
            Err(HandshakeError::Failure(tungstenite::Error::Http(resp)))
                if matches!(resp.status().as_u16(), 418 | 429) =>
            {
                Err(WsError::Refused {
                    status: resp.status().as_u16(),
                    retry_after_ms: retry_after_ms(resp.headers()),
                })
            }
            Err(HandshakeError::Failure(tungstenite::Error::Io(e))) if tls_error(&e).is_some() => {
                let why = tls_error(&e).map_or_else(String::new, |t| t.to_string());
                Err(WsError::Connect(format!(
                    "TLS failure talking to {}: {why}",
                    target.endpoint.host
                )))
            }
            Err(HandshakeError::Failure(e)) => Err(WsError::Connect(e.to_string())),
        }
    }
}

/// The rustls error inside an I/O error, if that is what it carries.
fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
}
