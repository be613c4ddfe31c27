//! WebSocket client over a non-blocking mio TCP stream (tungstenite for the framing), stamping
//! every read with the monotonic clock so each frame carries its socket receive time.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::{Message, WebSocket};

use crate::telemetry::Clock;

const SOCKET: Token = Token(0);

/// A TCP stream that remembers when its last read returned bytes (monotonic ns).
pub struct TimedStream {
    inner: TcpStream,
    clock: Clock,
    last_read_ns: u64,
}

impl Read for TimedStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.last_read_ns = self.clock.now_ns();
        }
        Ok(n)
    }
}

impl Write for TimedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Errors of the WebSocket client.
#[derive(Debug)]
pub enum WsError {
    /// The URL is not a `ws://host:port/path` we can reach (TLS comes with the market-data issue).
    Url(String),
    /// TCP connect or WebSocket handshake failed or timed out.
    Connect(String),
    /// The connection failed after it was established.
    Io(String),
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsError::Url(m) => write!(f, "bad WebSocket URL: {m}"),
            WsError::Connect(m) => write!(f, "WebSocket connect failed: {m}"),
            WsError::Io(m) => write!(f, "WebSocket I/O error: {m}"),
        }
    }
}

impl std::error::Error for WsError {}

/// Whether the connection is still open after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsStatus {
    /// Open; more frames may come.
    Open,
    /// The peer closed the connection (close frame or EOF).
    Closed,
}

/// One WebSocket connection driven by its own mio `Poll`.
pub struct WsClient {
    poll: Poll,
    events: Events,
    ws: WebSocket<TimedStream>,
    frame: Vec<u8>,
}

/// Resolves a `ws://` URL to a socket address. `wss://` is refused for now, clearly.
pub fn resolve(url: &str) -> Result<SocketAddr, WsError> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| WsError::Url(format!("{url}: only ws:// is supported by this build")))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .to_socket_addrs()
        .map_err(|e| WsError::Url(format!("{url}: {e}")))?
        .next()
        .ok_or_else(|| WsError::Url(format!("{url}: no address")))
}

impl WsClient {
    /// Connects and completes the handshake within `timeout` (cold path: start-up).
    pub fn connect(url: &str, clock: Clock, timeout: Duration) -> Result<Self, WsError> {
        let addr = resolve(url)?;
        let deadline = Instant::now() + timeout;
        let mut poll = Poll::new().map_err(|e| WsError::Connect(e.to_string()))?;
        let mut events = Events::with_capacity(64);
        let mut stream =
            TcpStream::connect(addr).map_err(|e| WsError::Connect(format!("{addr}: {e}")))?;
        poll.registry()
            .register(&mut stream, SOCKET, Interest::READABLE | Interest::WRITABLE)
            .map_err(|e| WsError::Connect(e.to_string()))?;
        // Non-blocking connect: wait until writable, then ask the socket whether it worked.
        loop {
            wait(&mut poll, &mut events, deadline)?;
            if let Some(e) = stream
                .take_error()
                .map_err(|e| WsError::Connect(e.to_string()))?
            {
                return Err(WsError::Connect(format!("{addr}: {e}")));
            }
            match stream.peer_addr() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                Err(e) => return Err(WsError::Connect(format!("{addr}: {e}"))),
            }
        }
        stream
            .set_nodelay(true)
            .map_err(|e| WsError::Connect(e.to_string()))?;
        let request = url
            .into_client_request()
            .map_err(|e| WsError::Url(format!("{url}: {e}")))?;
        let timed = TimedStream {
            inner: stream,
            clock,
            last_read_ns: 0,
        };
        let mut attempt = tungstenite::client(request, timed);
        let ws = loop {
            match attempt {
                Ok((ws, _response)) => break ws,
                Err(HandshakeError::Interrupted(mid)) => {
                    wait(&mut poll, &mut events, deadline)?;
                    attempt = mid.handshake();
                }
                Err(HandshakeError::Failure(e)) => {
                    return Err(WsError::Connect(format!("{url}: {e}")))
                }
            }
        };
        Ok(Self {
            poll,
            events,
            ws,
            frame: Vec::with_capacity(64 * 1024),
        })
    }

    /// Queues a text message and flushes what the socket takes now.
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        match self.ws.send(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(WsError::Io(e.to_string())),
        }
    }

    /// Waits up to `timeout` for the socket (`Some(ZERO)` or `None` = do not wait; read directly),
    /// then hands every complete data frame to `on_frame(payload, recv_ns)` until the socket is
    /// drained. The payload buffer is reused and may be rewritten in place by the callee.
    #[inline]
    pub fn poll_frames<F: FnMut(&mut [u8], u64)>(
        &mut self,
        timeout: Option<Duration>,
        mut on_frame: F,
    ) -> Result<WsStatus, WsError> {
        if let Some(t) = timeout.filter(|t| !t.is_zero()) {
            self.poll
                .poll(&mut self.events, Some(t))
                .map_err(|e| WsError::Io(e.to_string()))?;
            if self.events.is_empty() {
                return Ok(WsStatus::Open);
            }
        }
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let recv_ns = self.ws.get_ref().last_read_ns;
                    self.frame.clear();
                    self.frame.extend_from_slice(t.as_bytes());
                    on_frame(&mut self.frame, recv_ns);
                }
                Ok(Message::Binary(b)) => {
                    let recv_ns = self.ws.get_ref().last_read_ns;
                    self.frame.clear();
                    self.frame.extend_from_slice(&b);
                    on_frame(&mut self.frame, recv_ns);
                }
                Ok(Message::Close(_)) => return Ok(WsStatus::Closed),
                Ok(_) => {} // ping/pong: tungstenite queues the pong itself
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(WsStatus::Open)
                }
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => return Ok(WsStatus::Closed),
                Err(e) => return Err(WsError::Io(e.to_string())),
            }
        }
    }

    /// Starts a clean close (best effort: the peer may already be gone).
    pub fn close(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

fn wait(poll: &mut Poll, events: &mut Events, deadline: Instant) -> Result<(), WsError> {
    let now = Instant::now();
    if now >= deadline {
        return Err(WsError::Connect("timed out".into()));
    }
    poll.poll(events, Some(deadline - now))
        .map_err(|e| WsError::Connect(e.to_string()))
}
