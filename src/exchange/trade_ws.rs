//! The embedded exchange's order-entry WebSockets, served on the REST port and matched by the
//! same engine ([`super::orders::Matching`]) as the REST endpoints, so a position is the same
//! whichever transport placed its orders.
//!
//! - Bybit v5 `/v5/trade`: `auth` (`[api_key, expires_ms, hex(HMAC(secret, "GET/realtime" +
//!   expires_ms))]`, as the private stream), then `order.create` / `order.cancel` /
//!   `order.amend` with `header` `X-BAPI-TIMESTAMP` / `X-BAPI-RECV-WINDOW` (checked like the
//!   REST headers) and one order in `args`; replies carry the request's `reqId`
//!   (`venue::bybit::exchange_ws`). `{"op":"ping"}` → `pong`.
//! - Binance USD-M `/ws-fapi/v1`: `order.place` / `order.cancel` / `order.status` /
//!   `order.modify`, each signed (`apiKey`, `timestamp`, `signature = hex(HMAC(secret, the
//!   other params sorted by name as k=v&…))`), or unsigned after an Ed25519 `session.logon`;
//!   replies carry the request's `id` (`venue::binance::exchange_ws`). The server pings.
//!
//! Requests go through the same fault plan as REST ([`super::rest_orders`]): a `Timeout` is
//! never answered, a `ResetAfterRead` drops the socket (after matching the order when it says
//! so). [`TradeWsState`] cuts sessions and refuses upgrades during an outage (tests).

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use super::rest_orders::{with_fault, Served, Shared};
use crate::venue::{binance, bybit};

/// Bytes a session's read() asks for (and zero-fills first), at most: a few order frames.
const READ_BUFFER: usize = 4 * 1024;

/// Shared state of the order-entry sockets.
#[derive(Debug, Default)]
pub(crate) struct TradeWsState {
    /// Bumped by a cut: every session open before it drops its connection.
    pub(crate) epoch: AtomicU64,
    /// Upgrades refused (503) while set.
    pub(crate) outage: AtomicBool,
    /// Sessions opened so far.
    pub(crate) sessions: AtomicU64,
    /// Order requests (create, place, cancel, amend, status) received.
    pub(crate) requests: AtomicU64,
}

/// Bybit `/v5/trade` or Binance `/ws-fapi/v1`.
pub(crate) fn is_trade_path(path: &str) -> bool {
    path == "/v5/trade" || path == "/ws-fapi/v1"
}

/// One venue request rendered as the REST route that serves it: method, target, body.
pub(crate) struct Routed {
    /// HTTP method of the equivalent REST request.
    pub(crate) method: &'static str,
    /// Path and query of the equivalent REST request.
    pub(crate) target: String,
    /// Body of the equivalent REST request.
    pub(crate) body: String,
}

/// Renders an order request's reply frame from its REST reply `(status, body)`.
pub(crate) type Wrap = Box<dyn Fn(u16, &str) -> String>;

/// What a session does with one text frame.
pub(crate) enum Answer {
    /// Reply with this frame.
    Reply(String),
    /// Serve this order request through the fault plan; `wrap(status, rest_body)` renders the
    /// reply frame.
    Order(Routed, Wrap),
}

/// Serves one order-entry session on `stream` (the upgrade request still unread).
pub(crate) fn session(stream: TcpStream, sh: &Shared, path: &str) -> Result<(), String> {
    if sh.trade.outage.load(Ordering::Relaxed) {
        let _ = std::io::Write::write_all(
            &mut &stream,
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return Ok(());
    }
    let bybit = path == "/v5/trade";
    let conn_id = format!(
        "trade-{}",
        sh.trade.sessions.fetch_add(1, Ordering::Relaxed)
    );
    let epoch = sh.trade.epoch.load(Ordering::Relaxed);
    // tungstenite's default read buffer (128 KiB) is zero-filled before every read(): on each
    // request and each 5 ms timeout. Order frames are < 1 KiB; a larger frame still reads whole
    // (the buffer grows to its length).
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let mut ws = tungstenite::accept_with_config(stream, Some(config))
        .map_err(|e| format!("trade handshake: {e}"))?;
    // Blocking reads with a short timeout: a request is answered as soon as it arrives.
    ws.get_ref()
        .set_read_timeout(Some(Duration::from_millis(5)))
        .map_err(|e| e.to_string())?;
    let mut authed = false;
    let mut last_ping = Instant::now();
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ok(());
        }
        if sh.trade.epoch.load(Ordering::Relaxed) != epoch {
            let _ = ws.get_mut().shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        if !bybit && last_ping.elapsed() >= Duration::from_secs(5) {
            last_ping = Instant::now();
            let _ = ws.write(Message::Ping(Default::default()));
            flush(&mut ws)?;
        }
        let text = match ws.read() {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Ok(_) => {
                flush(&mut ws)?;
                continue;
            }
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                flush(&mut ws)?;
                continue;
            }
            Err(e) => return Err(format!("trade read: {e}")),
        };
        let answer = if bybit {
            bybit::exchange_ws::request(sh, &mut authed, &conn_id, text.as_str())
        } else {
            binance::exchange_ws::request(sh, &mut authed, text.as_str())
        };
        let reply = match answer {
            Answer::Reply(r) => r,
            Answer::Order(r, wrap) => {
                sh.trade.requests.fetch_add(1, Ordering::Relaxed);
                let dispatch = |now| route(sh, bybit, &r, now);
                match with_fault(sh, r.method, &r.target, &r.body, dispatch) {
                    Served::Reply(status, body, _) => {
                        if r.method == "POST" && !sh.opts.order_reply_delay.is_zero() {
                            std::thread::sleep(sh.opts.order_reply_delay);
                        }
                        wrap(status, &body)
                    }
                    Served::Silent => continue,
                    Served::Reset => {
                        let _ = ws.get_mut().shutdown(std::net::Shutdown::Both);
                        return Ok(());
                    }
                }
            }
        };
        match ws.send(Message::text(reply)) {
            Ok(()) => {}
            Err(e) => return Err(format!("trade send: {e}")),
        }
    }
}

/// The REST route of an order request, after the socket's own authentication.
fn route(sh: &Shared, bybit: bool, r: &Routed, now: u64) -> (u16, String) {
    if bybit {
        bybit::exchange_ws::route(sh, r, now)
    } else {
        binance::exchange_ws::route(sh, r, now)
    }
}

fn flush(ws: &mut WebSocket<TcpStream>) -> Result<(), String> {
    match ws.flush() {
        Ok(()) => Ok(()),
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("trade flush: {e}")),
    }
}
