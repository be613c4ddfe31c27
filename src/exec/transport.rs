//! Order transport: an HTTP/1.1 keep-alive client driven without blocking by `mio` on the
//! execution thread. Requests are the already-signed bytes from an order builder; responses are
//! parsed incrementally with `httparse`. TLS (rustls, webpki roots) for `https://`; plain
//! `http://` only to loopback addresses (the embedded exchange, test peers), refused elsewhere.
//!
//! One request is on the wire at a time (no pipelining: an ambiguous pipeline after a dropped
//! connection could double-send orders); later requests wait in a pre-allocated queue. A peer
//! that closes the connection (`Connection: close`, idle timeout, restart) costs a reconnect
//! before the next request. A request that was written but got no response (connection lost,
//! timeout) is reported as [`TransportEvent::Failed`] with `written = true` and is NEVER resent
//! here: the caller re-queries the venue by client order id. A request whose bytes never left
//! (connect failed) is reported with `written = false`: the venue never saw it.
//!
//! Steady state (plain HTTP, connection up) allocates nothing: request and receive buffers are
//! reused. `send` only copies the bytes and attempts a non-blocking write; `poll` reads what the
//! socket has. A response's headers ([`Headers`]) are its header block in the receive buffer,
//! parsed again (with `httparse`, on the stack) only when asked: the venues' rate-limit usage
//! and `Retry-After`.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::telemetry::Clock;

/// Transport errors (set-up and protocol); per-request failures are events, not errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The URL is malformed or uses an unsupported scheme.
    BadUrl(String),
    /// Plain `http://` to a host that is not a loopback address.
    PlainToNonLoopback(String),
    /// Name resolution or socket set-up failed.
    Io(String),
    /// The request queue is full (`capacity` requests waiting).
    QueueFull,
    /// A request is larger than the per-request buffer.
    TooLarge(usize),
    /// A blocking request did not complete in time.
    Timeout,
    /// The TLS session with the venue failed (certificate, handshake, alert): host and reason.
    Tls(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::BadUrl(m) => write!(f, "bad venue URL: {m}"),
            TransportError::PlainToNonLoopback(h) => write!(
                f,
                "plain http:// is accepted for loopback addresses only (the embedded exchange, test peers); refusing {h}: use https://"
            ),
            TransportError::Io(m) => write!(f, "transport: {m}"),
            TransportError::Tls(m) => write!(f, "TLS failure: {m}"),
            TransportError::QueueFull => write!(f, "transport: request queue full"),
            TransportError::TooLarge(n) => write!(f, "transport: request of {n} bytes too large"),
            TransportError::Timeout => write!(f, "transport: request timed out"),
        }
    }
}

impl std::error::Error for TransportError {}

/// A parsed venue base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEndpoint {
    /// True for `https://`.
    pub tls: bool,
    /// Host name or IP literal (as written, without brackets).
    pub host: String,
    /// Port (default 443 / 80).
    pub port: u16,
}

impl OrderEndpoint {
    /// Parses `http(s)://host[:port][/]`. Plain `http://` is accepted only when the host is a
    /// loopback IP literal or `localhost` (checked before any name resolution).
    pub fn parse(url: &str) -> Result<Self, TransportError> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(TransportError::BadUrl(format!(
                "{url:?}: expected http:// or https://"
            )));
        };
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() {
            return Err(TransportError::BadUrl(format!("{url:?}: no host")));
        }
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| TransportError::BadUrl(format!("{url:?}: unclosed [")))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| TransportError::BadUrl(format!("{url:?}: bad port {p:?}")))?,
            None if tls => 443,
            None => 80,
        };
        let ep = OrderEndpoint { tls, host, port };
        if !tls && !ep.is_loopback() {
            return Err(TransportError::PlainToNonLoopback(ep.host.clone()));
        }
        Ok(ep)
    }

    /// Whether the host is a loopback IP literal or `localhost`.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }

    /// Resolves the address (blocking DNS for names: call on a cold path). A plain-HTTP
    /// endpoint must resolve to loopback.
    pub fn resolve(&self) -> Result<SocketAddr, TransportError> {
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| TransportError::Io(format!("resolving {}: {e}", self.host)))?
            .next()
            .ok_or_else(|| TransportError::Io(format!("{} resolves to nothing", self.host)))?;
        if !self.tls && !addr.ip().is_loopback() {
            return Err(TransportError::PlainToNonLoopback(self.host.clone()));
        }
        Ok(addr)
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A rustls client config trusting the webpki (Mozilla) roots.
pub fn default_tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    tls_config_with_roots(roots)
}

/// A rustls client config trusting `roots` (tests: a self-signed loopback CA).
pub fn tls_config_with_roots(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(cfg)
}

/// The header block of one response (status line and header lines, as received), valid until
/// the next poll. Reading it allocates nothing.
#[derive(Clone, Copy)]
pub struct Headers<'a>(&'a [u8]);

impl std::fmt::Debug for Headers<'_> {
    /// Names only (values may carry account details).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        self.for_each(|name, _| {
            l.entry(&name);
        });
        l.finish()
    }
}

impl<'a> Headers<'a> {
    /// A header block: the status line, then `Name: value` lines, then an empty line.
    pub fn new(block: &'a [u8]) -> Self {
        Self(block)
    }

    /// Calls `f` with each header's name and value (leading and trailing blanks removed), in
    /// received order; at most 32 headers (as the response parser reads).
    pub fn for_each(&self, mut f: impl FnMut(&'a str, &'a [u8])) {
        let Some(eol) = self.0.windows(2).position(|w| w == b"\r\n") else {
            return;
        };
        let mut headers = [httparse::EMPTY_HEADER; 32];
        if let Ok(httparse::Status::Complete((_, hs))) =
            httparse::parse_headers(&self.0[eol + 2..], &mut headers)
        {
            for h in hs.iter() {
                f(h.name, h.value.trim_ascii());
            }
        }
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        let mut out = None;
        self.for_each(|n, v| {
            if out.is_none() && n.eq_ignore_ascii_case(name) {
                out = Some(v);
            }
        });
        out
    }
}

/// What [`HttpTransport::poll`] reports.
#[derive(Debug)]
pub enum TransportEvent<'a> {
    /// A complete response to request `tag`.
    Response {
        /// The caller's tag given to [`HttpTransport::send`].
        tag: u64,
        /// HTTP status code.
        status: u16,
        /// The response's headers (valid until the next poll).
        headers: Headers<'a>,
        /// Body bytes (valid until the next poll).
        body: &'a [u8],
        /// `order_rtt`: the `write` call that hands the last request byte to the kernel is
        /// issued → response parsed, ns. Stamped before that call, so a peer that answers while
        /// the writer is still inside `write` (same core: the woken server preempts it) is timed.
        rtt_ns: u64,
    },
    /// Request `tag` got no response. `written`: whether any of its bytes reached the socket
    /// (then the venue may have acted on it: re-query, never resend).
    Failed {
        /// The caller's tag.
        tag: u64,
        /// Whether bytes were written.
        written: bool,
    },
}

/// Counters of one transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// TCP connections opened.
    pub connects: u64,
    /// Connections found closed by the peer (then reopened on demand).
    pub peer_closes: u64,
    /// Requests written in full.
    pub requests: u64,
    /// Responses parsed.
    pub responses: u64,
    /// Requests failed (no response).
    pub failures: u64,
}

struct Conn {
    sock: TcpStream,
    tls: Option<rustls::ClientConnection>,
    established: bool,
    /// The peer announced `Connection: close`: reconnect before the next request.
    closing: bool,
    /// The peer closed its side (EOF seen after data that is still being delivered).
    eof: bool,
}

struct Request {
    tag: u64,
    buf: Vec<u8>,
}

struct Current {
    req: Request,
    written: usize,
    /// Bytes handed to rustls (TLS: plaintext is copied in once).
    tls_queued: bool,
    /// Fully written.
    done: bool,
    /// Clock ns just before the `write` call that completed the request (the peer may answer
    /// before that call returns, so a stamp taken after it can miss the whole round trip).
    done_ns: u64,
}

impl Current {
    /// `req`, nothing of it written yet.
    fn new(req: Request) -> Self {
        Self {
            req,
            written: 0,
            tls_queued: false,
            done: false,
            done_ns: 0,
        }
    }
}

/// Per-request buffer capacity; a signed order is well under 1 KiB.
pub(crate) const REQUEST_CAP: usize = 4096;
/// Receive buffer capacity (grows only for unusually large responses, cold queries).
const RECV_CAP: usize = 64 * 1024;

/// Non-blocking HTTP/1.1 keep-alive client for one venue endpoint. See the module docs.
pub struct HttpTransport {
    ep: OrderEndpoint,
    addr: SocketAddr,
    tls_cfg: Option<Arc<rustls::ClientConfig>>,
    poll: Poll,
    events: Events,
    conn: Option<Conn>,
    queue: VecDeque<Request>,
    free: Vec<Vec<u8>>,
    current: Option<Current>,
    recv: Vec<u8>,
    scratch: Box<[u8; 16 * 1024]>,
    /// Start of the unconsumed part of `recv`.
    consumed: usize,
    timeout_ns: u64,
    clock: Clock,
    stats: TransportStats,
    /// The last TLS failure (`host: reason`), until a blocking request reports it.
    tls_failure: Option<String>,
    /// A write error met by [`HttpTransport::write_now`], handled by the next poll as if that
    /// poll had met it.
    deferred_write_error: Option<std::io::Error>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("ep", &self.ep)
            .field("addr", &self.addr)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

const TOKEN: Token = Token(0);

enum Parsed {
    Incomplete,
    Done {
        status: u16,
        /// Header block `head_start..body_start` (status line through the empty line).
        head_start: usize,
        body_start: usize,
        body_end: usize,
        total: usize,
        close: bool,
    },
    Bad,
}

/// The transport's readiness queue (an epoll fd): readable when one of its sockets is ready, so
/// a pool can wait on several transports at once (see `lanes`).
impl std::os::fd::AsRawFd for HttpTransport {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.poll.as_raw_fd()
    }
}

impl HttpTransport {
    /// A transport to `url` (resolved now; no connection yet). `capacity` requests may wait;
    /// a written request with no response after `response_timeout` fails.
    pub fn new(
        url: &str,
        capacity: usize,
        response_timeout: Duration,
        clock: Clock,
    ) -> Result<Self, TransportError> {
        Self::with_tls(url, capacity, response_timeout, clock, None)
    }

    /// As [`HttpTransport::new`] with an explicit TLS config (default: webpki roots).
    pub fn with_tls(
        url: &str,
        capacity: usize,
        response_timeout: Duration,
        clock: Clock,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, TransportError> {
        let ep = OrderEndpoint::parse(url)?;
        let addr = ep.resolve()?;
        let tls_cfg = if ep.tls {
            Some(tls.unwrap_or_else(default_tls_config))
        } else {
            None
        };
        let capacity = capacity.max(1);
        Ok(Self {
            ep,
            addr,
            tls_cfg,
            poll: Poll::new().map_err(|e| TransportError::Io(e.to_string()))?,
            events: Events::with_capacity(8),
            conn: None,
            queue: VecDeque::with_capacity(capacity),
            free: (0..capacity + 1)
                .map(|_| Vec::with_capacity(REQUEST_CAP))
                .collect(),
            current: None,
            recv: Vec::with_capacity(RECV_CAP),
            scratch: Box::new([0u8; 16 * 1024]),
            consumed: 0,
            timeout_ns: response_timeout.as_nanos().min(u64::MAX as u128) as u64,
            clock,
            stats: TransportStats::default(),
            tls_failure: None,
            deferred_write_error: None,
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &OrderEndpoint {
        &self.ep
    }

    /// Counters.
    pub fn stats(&self) -> &TransportStats {
        &self.stats
    }

    /// Requests queued or on the wire.
    #[inline]
    pub fn in_flight(&self) -> usize {
        self.queue.len() + usize::from(self.current.is_some())
    }

    /// Whether an idle keep-alive connection is open. Checks for a peer close (one
    /// non-blocking peek) and drops a closed connection, so the next request reconnects.
    pub fn connection_open(&mut self) -> bool {
        if self.conn.is_none() {
            return false;
        }
        if self.current.is_some() {
            return true;
        }
        if self.conn.as_ref().is_some_and(|c| c.closing) || !self.idle_conn_alive() {
            if !self.conn.as_ref().is_some_and(|c| c.closing) {
                self.stats.peer_closes += 1;
            }
            self.drop_conn();
            return false;
        }
        true
    }

    /// Queues the request `bytes` under `tag` and starts writing it if the wire is free.
    /// Never blocks. Fails only when the queue is full or the request is too large.
    pub fn send(&mut self, tag: u64, bytes: &[u8]) -> Result<(), TransportError> {
        if bytes.len() > REQUEST_CAP {
            return Err(TransportError::TooLarge(bytes.len()));
        }
        let Some(mut buf) = self.free.pop() else {
            return Err(TransportError::QueueFull);
        };
        buf.clear();
        buf.extend_from_slice(bytes);
        self.queue.push_back(Request { tag, buf });
        Ok(())
    }

    /// Writes the first queued request now when the connection is established and the wire is
    /// free, so an order's bytes leave before the caller's counters and histograms. Otherwise,
    /// or on a closed keep-alive connection, the next poll sends it as before. A write error is
    /// kept for that poll, which fails the request exactly as if it had met the error itself.
    /// No allocation; system calls: the liveness peek and the write.
    pub fn write_now(&mut self) {
        if self.current.is_some() || self.deferred_write_error.is_some() || self.queue.is_empty() {
            return;
        }
        if !self
            .conn
            .as_ref()
            .is_some_and(|c| c.established && !c.closing)
        {
            return;
        }
        if !self.idle_conn_alive() {
            self.stats.peer_closes += 1;
            self.drop_conn();
            return;
        }
        let Some(req) = self.queue.pop_front() else {
            return;
        };
        self.current = Some(Current::new(req));
        match self.write_current() {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => self.deferred_write_error = Some(e),
        }
    }

    /// Copies `bytes` into the buffer the next [`HttpTransport::send`] takes and leaves it
    /// there, unsent (warm-up). Nothing is queued; no allocation (`bytes` over the buffer's
    /// capacity are ignored), no system call.
    #[inline]
    pub fn warm(&mut self, bytes: &[u8]) {
        if let Some(buf) = self.free.last_mut() {
            if bytes.len() <= buf.capacity() {
                buf.clear();
                buf.extend_from_slice(bytes);
                std::hint::black_box(&buf[..]);
                buf.clear();
            }
        }
    }

    /// Drives the connection: connects, writes, reads and parses; reports each finished
    /// request to `on_event`. Waits up to `timeout` for socket readiness only when nothing
    /// progressed (`None` or zero: no wait). Returns the number of events reported.
    pub fn poll<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        timeout: Option<Duration>,
        mut on_event: F,
    ) -> usize {
        if self.current.is_none() && self.queue.is_empty() {
            return 0;
        }
        let mut n = self.progress(&mut on_event);
        if n == 0 {
            if let Some(t) = timeout.filter(|t| !t.is_zero()) {
                if self.conn.is_some() {
                    let _ = self.poll.poll(&mut self.events, Some(t));
                }
                n = self.progress(&mut on_event);
            }
        }
        n
    }

    /// Sends one request and waits for its response (cold path: start-up queries).
    /// Returns `(status, body)`.
    pub fn request_blocking(
        &mut self,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        const TAG: u64 = u64::MAX;
        self.send(TAG, bytes)?;
        let deadline = std::time::Instant::now() + timeout;
        let mut out: Option<Result<(u16, Vec<u8>), TransportError>> = None;
        while out.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout);
            }
            self.poll(Some(left.min(Duration::from_millis(20))), |ev| match ev {
                TransportEvent::Response {
                    tag: TAG,
                    status,
                    body,
                    ..
                } => out = Some(Ok((status, body.to_vec()))),
                TransportEvent::Failed { tag: TAG, .. } => {
                    out = Some(Err(TransportError::Io("no response".into())))
                }
                _ => {}
            });
        }
        if let (Some(Err(_)), Some(m)) = (&out, self.tls_failure.take()) {
            return Err(TransportError::Tls(m));
        }
        out.unwrap_or(Err(TransportError::Timeout))
    }

    fn connect(&mut self) -> std::io::Result<()> {
        let mut sock = TcpStream::connect(self.addr)?;
        sock.set_nodelay(true)?;
        self.poll
            .registry()
            .register(&mut sock, TOKEN, Interest::READABLE | Interest::WRITABLE)?;
        let tls = match &self.tls_cfg {
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from(self.ep.host.clone())
                    .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
                Some(
                    rustls::ClientConnection::new(cfg.clone(), name)
                        .map_err(std::io::Error::other)?,
                )
            }
            None => None,
        };
        self.stats.connects += 1;
        self.recv.clear();
        self.consumed = 0;
        self.conn = Some(Conn {
            sock,
            tls,
            established: false,
            closing: false,
            eof: false,
        });
        Ok(())
    }

    /// Keeps (and prints) a rustls error as this endpoint's TLS failure, naming the host.
    /// Cold: a failed connection.
    fn note_tls_failure(&mut self, e: &std::io::Error) {
        if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            let msg = format!("{}: {t}", self.ep.host);
            eprintln!("order transport: TLS failure talking to {msg}");
            self.tls_failure = Some(msg);
        }
    }

    fn drop_conn(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = self.poll.registry().deregister(&mut c.sock);
        }
        self.recv.clear();
        self.consumed = 0;
    }

    /// Fails the current request (and, when the connection cannot be made, the queue).
    fn fail_current<F: FnMut(TransportEvent<'_>)>(&mut self, on_event: &mut F) -> usize {
        match self.current.take() {
            Some(cur) => {
                let written = cur.written > 0 || cur.tls_queued;
                self.stats.failures += 1;
                on_event(TransportEvent::Failed {
                    tag: cur.req.tag,
                    written,
                });
                self.free.push(cur.req.buf);
                1
            }
            None => 0,
        }
    }

    fn fail_queue<F: FnMut(TransportEvent<'_>)>(&mut self, on_event: &mut F) -> usize {
        let mut n = 0;
        while let Some(r) = self.queue.pop_front() {
            self.stats.failures += 1;
            on_event(TransportEvent::Failed {
                tag: r.tag,
                written: false,
            });
            self.free.push(r.buf);
            n += 1;
        }
        n
    }

    fn progress<F: FnMut(TransportEvent<'_>)>(&mut self, on_event: &mut F) -> usize {
        let mut events = 0;
        loop {
            // Start the next request once the wire is free.
            if self.current.is_none() {
                let Some(req) = self.queue.pop_front() else {
                    return events;
                };
                if self.conn.as_ref().is_some_and(|c| c.closing) {
                    self.drop_conn();
                }
                if self.conn.is_some() && !self.idle_conn_alive() {
                    self.stats.peer_closes += 1;
                    self.drop_conn();
                }
                self.current = Some(Current::new(req));
            }
            if self.conn.is_none() {
                if let Err(e) = self.connect() {
                    eprintln!("order transport: cannot connect to {}: {e}", self.addr);
                    events += self.fail_current(on_event);
                    events += self.fail_queue(on_event);
                    return events;
                }
            }
            let written = match self.deferred_write_error.take() {
                Some(e) => Err(e),
                None => self.write_current(),
            };
            match written {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return events,
                Err(e) => {
                    self.note_tls_failure(&e);
                    // Connect refused or reset while writing.
                    let never_sent = self
                        .current
                        .as_ref()
                        .is_some_and(|c| c.written == 0 && !c.tls_queued)
                        && !self.conn.as_ref().is_some_and(|c| c.established);
                    self.drop_conn();
                    events += self.fail_current(on_event);
                    if never_sent {
                        events += self.fail_queue(on_event);
                    }
                    return events;
                }
            }
            // Fully written: read the response.
            match self.read_response(on_event) {
                Ok(true) => {
                    events += 1;
                    continue;
                }
                Ok(false) => {
                    if let Some(cur) = &self.current {
                        if cur.done
                            && self.clock.now_ns().saturating_sub(cur.done_ns) > self.timeout_ns
                        {
                            self.drop_conn();
                            events += self.fail_current(on_event);
                            continue;
                        }
                    }
                    return events;
                }
                Err(e) => {
                    self.note_tls_failure(&e);
                    self.stats.peer_closes += 1;
                    self.drop_conn();
                    events += self.fail_current(on_event);
                    continue;
                }
            }
        }
    }

    /// An idle keep-alive connection: true unless the peer closed it (EOF / error).
    fn idle_conn_alive(&mut self) -> bool {
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        if !c.established {
            return true;
        }
        if let Some(tls) = c.tls.as_mut() {
            // TLS: a close_notify or EOF shows up as a read result.
            return match tls.read_tls(&mut c.sock) {
                Ok(0) => false,
                Ok(_) => tls.process_new_packets().is_ok(),
                Err(e) if e.kind() == ErrorKind::WouldBlock => true,
                Err(_) => false,
            };
        }
        let mut probe = [0u8; 1];
        match c.sock.peek(&mut probe) {
            Ok(0) => false,
            Ok(_) => true, // unsolicited bytes: kept and parsed (and rejected) as a response later
            Err(e) if e.kind() == ErrorKind::WouldBlock => true,
            Err(_) => false,
        }
    }

    /// Writes what is left of the current request. `Ok` once fully written.
    fn write_current(&mut self) -> std::io::Result<()> {
        let (Some(c), Some(cur)) = (self.conn.as_mut(), self.current.as_mut()) else {
            return Ok(());
        };
        if cur.done {
            return Ok(());
        }
        if !c.established {
            if let Some(e) = c.sock.take_error()? {
                return Err(e);
            }
            match c.sock.peer_addr() {
                Ok(_) => c.established = true,
                Err(e) if e.kind() == ErrorKind::NotConnected => {
                    return Err(ErrorKind::WouldBlock.into())
                }
                Err(e) => return Err(e),
            }
        }
        match c.tls.as_mut() {
            None => {
                while cur.written < cur.req.buf.len() {
                    cur.done_ns = self.clock.now_ns();
                    match c.sock.write(&cur.req.buf[cur.written..]) {
                        Ok(0) => return Err(ErrorKind::WriteZero.into()),
                        Ok(n) => cur.written += n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Some(tls) => {
                if !cur.tls_queued {
                    tls.writer().write_all(&cur.req.buf)?;
                    cur.tls_queued = true;
                }
                // Handshake records and the request both leave through write_tls; read_tls
                // feeds the handshake replies.
                loop {
                    while tls.wants_write() {
                        cur.done_ns = self.clock.now_ns();
                        match tls.write_tls(&mut c.sock) {
                            Ok(n) => cur.written += n,
                            Err(e) if e.kind() == ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if !tls.is_handshaking() {
                        break;
                    }
                    match tls.read_tls(&mut c.sock) {
                        Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                        Ok(_) => {
                            tls.process_new_packets().map_err(std::io::Error::other)?;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        cur.done = true;
        self.stats.requests += 1;
        Ok(())
    }

    /// Reads and parses; `Ok(true)` when the current request's response was delivered.
    fn read_response<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        on_event: &mut F,
    ) -> std::io::Result<bool> {
        loop {
            match self.parse() {
                Parsed::Done {
                    status,
                    head_start,
                    body_start,
                    body_end,
                    total,
                    close,
                } => {
                    let cur = self.current.take().expect("a request is on the wire");
                    let rtt = self.clock.now_ns().saturating_sub(cur.done_ns);
                    self.stats.responses += 1;
                    on_event(TransportEvent::Response {
                        tag: cur.req.tag,
                        status,
                        headers: Headers(&self.recv[head_start..body_start]),
                        body: &self.recv[body_start..body_end],
                        rtt_ns: rtt,
                    });
                    self.free.push(cur.req.buf);
                    self.consumed = total;
                    if self.consumed == self.recv.len() {
                        self.recv.clear();
                        self.consumed = 0;
                    }
                    if close {
                        if let Some(c) = self.conn.as_mut() {
                            c.closing = true;
                        }
                    }
                    return Ok(true);
                }
                Parsed::Bad => return Err(ErrorKind::InvalidData.into()),
                Parsed::Incomplete => {}
            }
            if self.read_some()? == 0 {
                return Ok(false);
            }
        }
    }

    /// Reads what the socket has into `recv`; 0 when nothing is available now.
    fn read_some(&mut self) -> std::io::Result<usize> {
        if self.consumed > 0 {
            self.recv.drain(..self.consumed);
            self.consumed = 0;
        }
        let Some(c) = self.conn.as_mut() else {
            return Err(ErrorKind::NotConnected.into());
        };
        let mut total = 0;
        match c.tls.as_mut() {
            None => loop {
                match c.sock.read(&mut self.scratch[..]) {
                    Ok(0) => {
                        // Deliver what arrived before the close; report the EOF next time.
                        if total > 0 && !c.eof {
                            c.eof = true;
                            return Ok(total);
                        }
                        return Err(ErrorKind::UnexpectedEof.into());
                    }
                    Ok(n) => {
                        self.recv.extend_from_slice(&self.scratch[..n]);
                        total += n;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(total),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            },
            Some(tls) => {
                let mut peer_eof = false;
                loop {
                    match tls.read_tls(&mut c.sock) {
                        Ok(0) => {
                            peer_eof = true;
                            break;
                        }
                        Ok(_) => {
                            tls.process_new_packets().map_err(std::io::Error::other)?;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                if peer_eof {
                    tls.process_new_packets().map_err(std::io::Error::other)?;
                } else {
                    while tls.wants_write() {
                        match tls.write_tls(&mut c.sock) {
                            Ok(_) => {}
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e),
                        }
                    }
                }
                // Plaintext that arrived before a close is delivered first; the close (with or
                // without close_notify) is reported on the next read.
                let (n, closed) = drain_plain(tls, &mut self.recv, &mut self.scratch[..])?;
                total += n;
                if (closed || peer_eof) && total == 0 {
                    return Err(ErrorKind::UnexpectedEof.into());
                }
                Ok(total)
            }
        }
    }

    fn parse(&mut self) -> Parsed {
        let base = self.consumed;
        let buf = &self.recv[base..];
        if buf.is_empty() {
            return Parsed::Incomplete;
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let head = match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Parsed::Incomplete,
            Err(_) => return Parsed::Bad,
        };
        let status = resp.code.unwrap_or(0);
        let mut len: Option<usize> = None;
        let mut chunked = false;
        let mut close = resp.version == Some(0);
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                len = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok());
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h
                    .value
                    .windows(7)
                    .any(|w| w.eq_ignore_ascii_case(b"chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                if h.value.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if h.value.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
        if chunked {
            let start = base + head;
            return match dechunk_in_place(&mut self.recv[start..]) {
                Some((data_len, used)) => Parsed::Done {
                    status,
                    head_start: base,
                    body_start: start,
                    body_end: start + data_len,
                    total: start + used,
                    close,
                },
                None => Parsed::Incomplete,
            };
        }
        let len = len.unwrap_or(0);
        if buf.len() < head + len {
            return Parsed::Incomplete;
        }
        Parsed::Done {
            status,
            head_start: base,
            body_start: base + head,
            body_end: base + head + len,
            total: base + head + len,
            close,
        }
    }
}

/// Moves decrypted plaintext into `recv`: `(bytes, peer closed)`.
fn drain_plain(
    tls: &mut rustls::ClientConnection,
    recv: &mut Vec<u8>,
    scratch: &mut [u8],
) -> std::io::Result<(usize, bool)> {
    let mut total = 0;
    loop {
        match tls.reader().read(scratch) {
            Ok(0) => return Ok((total, true)),
            Ok(n) => {
                recv.extend_from_slice(&scratch[..n]);
                total += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok((total, false)),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok((total, true)),
            Err(e) => return Err(e),
        }
    }
}

/// Decodes a complete chunked body in place: the chunk data is moved together at the front of
/// `b`. Returns `(data length, bytes of b used by the encoded body)`, or `None` while the body
/// (through the terminating `0` chunk and its trailer) is incomplete or malformed.
fn dechunk_in_place(b: &mut [u8]) -> Option<(usize, usize)> {
    // Pass 1: find the end without touching the bytes.
    let mut pos = 0;
    loop {
        let line_end = pos + b[pos..].windows(2).position(|w| w == b"\r\n")?;
        let size_txt = std::str::from_utf8(&b[pos..line_end]).ok()?;
        let size = usize::from_str_radix(size_txt.split(';').next()?.trim(), 16).ok()?;
        let data = line_end + 2;
        if size == 0 {
            // Trailer section ends with an empty line.
            let mut t = data;
            loop {
                let e = t + b[t..].windows(2).position(|w| w == b"\r\n")?;
                if e == t {
                    let used = e + 2;
                    // Pass 2: compact the data.
                    let (mut src, mut dst) = (0, 0);
                    loop {
                        let le = src + b[src..].windows(2).position(|w| w == b"\r\n")?;
                        let txt = std::str::from_utf8(&b[src..le]).ok()?;
                        let n = usize::from_str_radix(txt.split(';').next()?.trim(), 16).ok()?;
                        if n == 0 {
                            return Some((dst, used));
                        }
                        b.copy_within(le + 2..le + 2 + n, dst);
                        dst += n;
                        src = le + 2 + n + 2;
                    }
                }
                t = e + 2;
            }
        }
        if b.len() < data + size + 2 || &b[data + size..data + size + 2] != b"\r\n" {
            return None;
        }
        pos = data + size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_plain_http_is_loopback_only() {
        let e = OrderEndpoint::parse("https://fapi.binance.com").unwrap();
        assert_eq!(
            (e.tls, e.port, e.host.as_str()),
            (true, 443, "fapi.binance.com")
        );
        assert_eq!(e.host_header(), "fapi.binance.com");
        let e = OrderEndpoint::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!((e.tls, e.port), (false, 8080));
        assert_eq!(e.host_header(), "127.0.0.1:8080");
        assert!(OrderEndpoint::parse("http://[::1]:9000")
            .unwrap()
            .is_loopback());
        assert!(OrderEndpoint::parse("http://localhost:1").is_ok());
        for bad in [
            "http://fapi.binance.com",
            "http://10.0.0.1:80",
            "http://[2001:db8::1]:80",
        ] {
            let err = OrderEndpoint::parse(bad).unwrap_err();
            assert!(
                matches!(err, TransportError::PlainToNonLoopback(_)),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("loopback"), "{err}");
        }
        assert!(matches!(
            OrderEndpoint::parse("ftp://x"),
            Err(TransportError::BadUrl(_))
        ));
        assert!(matches!(
            OrderEndpoint::parse("http://127.0.0.1:99999"),
            Err(TransportError::BadUrl(_))
        ));
    }

    #[test]
    fn headers_are_read_from_the_block_case_insensitively() {
        let block = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\nRetry-After:  30 \r\nX-MBX-USED-WEIGHT-1M: 2399\r\n\r\n";
        let h = Headers::new(block);
        assert_eq!(h.get("retry-after"), Some(&b"30"[..]));
        assert_eq!(h.get("x-mbx-used-weight-1m"), Some(&b"2399"[..]));
        assert_eq!(h.get("X-Bapi-Limit"), None);
        let mut names = Vec::new();
        h.for_each(|n, _| names.push(n));
        assert_eq!(
            names,
            ["Content-Length", "Retry-After", "X-MBX-USED-WEIGHT-1M"]
        );
    }

    #[test]
    fn chunked_bodies_are_decoded_in_place() {
        let mut b = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nNEXT".to_vec();
        let (n, used) = dechunk_in_place(&mut b).unwrap();
        assert_eq!(&b[..n], b"hello, world");
        assert_eq!(&b[used..], b"NEXT");
        assert_eq!(dechunk_in_place(&mut b"5\r\nhel".to_vec()), None);
        assert_eq!(dechunk_in_place(&mut b"5\r\nhello\r\n0\r\n".to_vec()), None);
        let mut t = b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n".to_vec();
        assert_eq!(dechunk_in_place(&mut t), Some((3, t.len())));
    }
}
