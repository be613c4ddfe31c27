//! Orders over the venue's order-entry WebSocket (Bybit `/v5/trade`, Binance `/ws-fapi/v1`) on
//! the execution thread's `mio` loop, beside the REST lanes ([`super::lanes::OrderLanes`] routes
//! entries and exits here while the link is up and falls back to REST while it is down).
//!
//! Life of the link: `Down → Connecting` (TCP, TLS, upgrade: `feed::ws::WsConn`) `→ Authing`
//! (Bybit `auth`; Binance with an Ed25519 key `session.logon`; Binance with an HMAC key signs
//! each request, so it is up at once) `→ Up`; every reconnect authenticates again. A request is
//! the REST request the builder signed, re-framed by the venue's `ws_order` module (after a
//! `session.logon` without `apiKey` and `signature`: no signing on the WebSocket path); its
//! `reqId` / `id` is the transport tag, and replies are matched by it in any order. The reply body is
//! handed on in its REST shape, so the executor reads it with the same parser.
//!
//! Failures never guess: when the socket drops (error, close, heartbeat silence) every request
//! on it is reported [`TransportEvent::Failed`] with `written = true` — the executor queries the
//! order by client id over REST until its outcome is known; a request unanswered after the
//! response timeout is reported the same way (a late reply is ignored). The link reconnects with
//! a doubling back-off (100 ms → 5 s); an `auth` / `session.logon` refusal is reported in
//! [`WsOrderConn::last_error`] and retried after 30 s, REST carrying the orders meanwhile.
//!
//! Heartbeat: Bybit `{"op":"ping"}`, Binance a ping frame, every `heartbeat` of silence; no
//! byte for three heartbeats drops the link. Binance's pings are answered with pongs.
//!
//! Frames are written and read here (RFC 6455: client frames masked, server frames not;
//! fragments joined) in pre-allocated buffers: after warm-up a request, its reply and the
//! heartbeat allocate nothing.

use std::io::{ErrorKind, Read, Write};

use mio::{Registry, Token};

use super::transport::{Headers, TransportEvent};
use crate::feed::ws::{Transport, WsConn, WsTarget};
use crate::telemetry::Clock;
use crate::venue::ed25519::Ed25519Signer;
use crate::venue::sign::Signer;
use crate::venue::ws_api::WsReply;
use crate::venue::{binance, bybit};

/// Largest frame read or written, bytes.
const FRAME_CAP: usize = 64 * 1024;
/// Reconnect back-off bounds and the wait after an `auth` refusal, ns.
const BACKOFF_MIN_NS: u64 = 100_000_000;
const BACKOFF_MAX_NS: u64 = 5_000_000_000;
const AUTH_RETRY_NS: u64 = 30_000_000_000;
/// Connect + upgrade + auth must finish within this, ns.
const OPEN_TIMEOUT_NS: u64 = 5_000_000_000;
/// While nothing is in flight the socket is serviced at most this often, ns.
const IDLE_SERVICE_NS: u64 = 20_000_000;

/// Which venue's order-entry API, with the key that signs for it.
pub enum WsVenue {
    /// Bybit v5 `/v5/trade`: authenticated once per connection.
    Bybit {
        /// API key.
        api_key: String,
        /// HMAC key of the secret.
        signer: Signer,
    },
    /// Binance USD-M `/ws-fapi/v1`: every request signed.
    Binance {
        /// API key.
        api_key: String,
        /// HMAC key of the secret.
        signer: Signer,
    },
    /// Binance USD-M `/ws-fapi/v1` with an Ed25519 API key: `session.logon` once per
    /// connection, requests unsigned after it.
    BinanceEd25519 {
        /// API key (of type Ed25519).
        api_key: String,
        /// Its private key.
        key: Ed25519Signer,
    },
}

impl std::fmt::Debug for WsVenue {
    /// The venue only (the key stays out of logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WsVenue::Bybit { .. } => "WsVenue::Bybit",
            WsVenue::Binance { .. } => "WsVenue::Binance",
            WsVenue::BinanceEd25519 { .. } => "WsVenue::BinanceEd25519",
        })
    }
}

/// Phase of the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsPhase {
    /// No socket; reconnects at the back-off deadline.
    Down,
    /// TCP, TLS or upgrade in progress.
    Connecting,
    /// Upgraded, `auth` / `session.logon` sent, reply awaited.
    Authing,
    /// Orders may go.
    Up,
}

/// Counters of the link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsOrderStats {
    /// Links that came up.
    pub ups: u64,
    /// Links lost (error, close, silence).
    pub drops: u64,
    /// `auth` / `session.logon` refusals.
    pub auth_failures: u64,
    /// Requests written.
    pub sent: u64,
    /// Replies matched to a request.
    pub replies: u64,
    /// Requests reported failed (link lost or timed out).
    pub failed: u64,
}

/// One order-entry WebSocket; see the module docs.
pub struct WsOrderConn {
    venue: WsVenue,
    target: WsTarget,
    conn: WsConn,
    link: Option<Transport>,
    phase: WsPhase,
    since_ns: u64,
    retry_at_ns: u64,
    backoff_ns: u64,
    next_addr: usize,
    /// Requests on the wire: (tag, sent at ns).
    inflight: Vec<(u64, u64)>,
    depth: usize,
    json: Vec<u8>,
    payload: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    rbuf: Vec<u8>,
    rlen: usize,
    msg: Vec<u8>,
    body: Vec<u8>,
    last_rx_ns: u64,
    last_ping_ns: u64,
    next_service_ns: u64,
    heartbeat_ns: u64,
    timeout_ns: u64,
    mask: u32,
    clock: Clock,
    stats: WsOrderStats,
    last_error: Option<String>,
}

impl std::fmt::Debug for WsOrderConn {
    /// Phase and load only (buffers hold signed orders, the venue holds keys).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsOrderConn")
            .field("phase", &self.phase)
            .field("in_flight", &self.inflight.len())
            .finish_non_exhaustive()
    }
}

impl WsOrderConn {
    /// A link to `target` for `venue` (token `token` in the owner's `Poll`), at most `depth`
    /// requests in flight, each answered within `timeout_ns`; heartbeat after `heartbeat_ns`
    /// of silence. Starts down: [`Self::service`] connects.
    pub fn new(
        venue: WsVenue,
        target: WsTarget,
        token: Token,
        depth: usize,
        timeout_ns: u64,
        heartbeat_ns: u64,
        clock: Clock,
    ) -> Self {
        let depth = depth.max(1);
        Self {
            venue,
            target,
            // Its socket calls are its own, not the feed loop's (uncounted).
            conn: WsConn::new(token, clock.clone(), Default::default()),
            link: None,
            phase: WsPhase::Down,
            since_ns: 0,
            retry_at_ns: 0,
            backoff_ns: BACKOFF_MIN_NS,
            next_addr: 0,
            inflight: Vec::with_capacity(depth),
            depth,
            json: Vec::with_capacity(4096),
            payload: Vec::with_capacity(4096),
            out: Vec::with_capacity(FRAME_CAP),
            out_pos: 0,
            rbuf: vec![0; FRAME_CAP],
            rlen: 0,
            msg: Vec::with_capacity(FRAME_CAP),
            body: Vec::with_capacity(FRAME_CAP),
            last_rx_ns: 0,
            last_ping_ns: 0,
            next_service_ns: 0,
            heartbeat_ns: heartbeat_ns.max(1_000_000),
            timeout_ns,
            mask: 0x9e37_79b9 ^ (clock.now_ns() as u32 | 1),
            clock,
            stats: WsOrderStats::default(),
            last_error: None,
        }
    }

    /// Current phase.
    pub fn phase(&self) -> WsPhase {
        self.phase
    }

    /// Whether a request may go now (up, with room).
    #[inline]
    pub fn has_room(&self) -> bool {
        self.phase == WsPhase::Up && self.inflight.len() < self.depth
    }

    /// Requests on the wire.
    #[inline]
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// Counters.
    pub fn stats(&self) -> WsOrderStats {
        self.stats
    }

    /// The last failure of the link (connect, auth, drop), for the operator; `None` so far.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Sends REST request `req` as a WebSocket request under `tag`. `false` (nothing sent)
    /// when the link is not up, full, or `req` has no WebSocket form: the caller uses REST.
    /// A write error drops the link (this request then fails as `written`, with the others).
    pub fn try_send(&mut self, tag: u64, req: &[u8]) -> bool {
        if !self.has_room() {
            return false;
        }
        let framed = match &self.venue {
            WsVenue::Bybit { .. } => bybit::ws_order::order_frame(req, tag, &mut self.json),
            WsVenue::Binance { api_key, signer } => binance::ws_order::order_frame(
                req,
                tag,
                api_key,
                signer,
                &mut self.payload,
                &mut self.json,
            ),
            WsVenue::BinanceEd25519 { .. } => {
                binance::ws_order::session_order_frame(req, tag, &mut self.json)
            }
        };
        if !framed || self.json.len() + 14 > FRAME_CAP - (self.out.len() - self.out_pos) {
            return false;
        }
        let now = self.clock.now_ns();
        self.inflight.push((tag, now));
        self.stats.sent += 1;
        self.write_frame(0x1);
        true
    }

    /// Drives the link without blocking: connect, upgrade, auth, reads, replies (to
    /// `on_event`), heartbeat, timeouts, reconnect. While nothing is in flight the socket is
    /// serviced at most every 20 ms (a clock read otherwise). Returns the events reported.
    pub fn service<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        registry: &Registry,
        on_event: &mut F,
    ) -> usize {
        let now = self.clock.now_ns();
        if self.inflight.is_empty() && self.phase == WsPhase::Up && now < self.next_service_ns {
            return 0;
        }
        self.next_service_ns = now + IDLE_SERVICE_NS;
        match self.phase {
            WsPhase::Down => {
                if now >= self.retry_at_ns {
                    self.start(registry, now);
                }
                0
            }
            WsPhase::Connecting => {
                self.drive_open(registry, now);
                0
            }
            WsPhase::Authing | WsPhase::Up => self.drive_link(registry, now, on_event),
        }
    }

    fn start(&mut self, registry: &Registry, now: u64) {
        let addrs = &self.target.addrs;
        if addrs.is_empty() {
            self.fail_open(registry, now, "no address".into());
            return;
        }
        let addr = addrs[self.next_addr % addrs.len()];
        self.next_addr += 1;
        match self.conn.start(registry, addr) {
            Ok(()) => {
                self.phase = WsPhase::Connecting;
                self.since_ns = now;
            }
            Err(e) => self.fail_open(registry, now, e.to_string()),
        }
    }

    fn drive_open(&mut self, registry: &Registry, now: u64) {
        match self.conn.drive(&self.target, |_, _| {}) {
            Ok(d) if d.opened => {
                self.link = self.conn.take_transport();
                self.out.clear();
                self.out_pos = 0;
                self.rlen = 0;
                self.last_rx_ns = now;
                self.last_ping_ns = now;
                self.since_ns = now;
                match &self.venue {
                    WsVenue::Bybit { api_key, signer } => {
                        bybit::ws_order::auth_frame(
                            api_key,
                            signer,
                            unix_ms() + 10_000,
                            &mut self.json,
                        );
                        self.phase = WsPhase::Authing;
                        self.write_frame(0x1);
                    }
                    WsVenue::BinanceEd25519 { api_key, key } => {
                        binance::ws_order::logon_frame(
                            api_key,
                            key,
                            unix_ms(),
                            &mut self.payload,
                            &mut self.json,
                        );
                        self.phase = WsPhase::Authing;
                        self.write_frame(0x1);
                    }
                    WsVenue::Binance { .. } => self.up(),
                }
            }
            Ok(_) if now.saturating_sub(self.since_ns) > OPEN_TIMEOUT_NS => {
                self.fail_open(registry, now, "connect timed out".into())
            }
            Ok(_) => {}
            Err(e) => self.fail_open(registry, now, e.to_string()),
        }
    }

    fn up(&mut self) {
        self.phase = WsPhase::Up;
        self.backoff_ns = BACKOFF_MIN_NS;
        self.stats.ups += 1;
    }

    fn fail_open(&mut self, registry: &Registry, now: u64, why: String) {
        self.conn.reset(registry);
        self.link = None;
        self.phase = WsPhase::Down;
        self.retry_at_ns = now + self.backoff_ns;
        self.backoff_ns = (self.backoff_ns * 2).min(BACKOFF_MAX_NS);
        self.last_error = Some(format!(
            "order WebSocket {}: {why}",
            self.target.endpoint.url
        ));
    }

    /// Drops the link: every request on it fails as written (its outcome is unknown).
    fn drop_link<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        registry: &Registry,
        now: u64,
        why: &str,
        on_event: &mut F,
    ) -> usize {
        self.stats.drops += 1;
        self.fail_open(registry, now, why.to_string());
        let n = self.inflight.len();
        for (tag, _) in self.inflight.drain(..) {
            on_event(TransportEvent::Failed { tag, written: true });
        }
        self.stats.failed += n as u64;
        n
    }

    fn drive_link<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        registry: &Registry,
        now: u64,
        on_event: &mut F,
    ) -> usize {
        if let Err(why) = self.flush_out() {
            return self.drop_link(registry, now, &why, on_event);
        }
        let mut n = 0;
        match self.read_frames(on_event) {
            Ok(k) => n += k,
            Err(why) => return n + self.drop_link(registry, now, &why, on_event),
        }
        let now = self.clock.now_ns();
        if self.phase == WsPhase::Authing && now.saturating_sub(self.since_ns) > OPEN_TIMEOUT_NS {
            return n + self.drop_link(registry, now, "auth timed out", on_event);
        }
        if self.phase == WsPhase::Down {
            return n;
        }
        let silent = now.saturating_sub(self.last_rx_ns);
        if silent > 3 * self.heartbeat_ns {
            return n + self.drop_link(registry, now, "heartbeat lost", on_event);
        }
        if silent > self.heartbeat_ns && now.saturating_sub(self.last_ping_ns) > self.heartbeat_ns {
            self.last_ping_ns = now;
            match self.venue {
                WsVenue::Bybit { .. } => {
                    self.json.clear();
                    self.json.extend_from_slice(bybit::ws_order::PING);
                    self.write_frame(0x1);
                }
                WsVenue::Binance { .. } | WsVenue::BinanceEd25519 { .. } => {
                    self.json.clear();
                    self.write_frame(0x9);
                }
            }
        }
        n + self.expire(now, on_event)
    }

    /// Requests older than the response timeout fail as written.
    fn expire<F: FnMut(TransportEvent<'_>)>(&mut self, now: u64, on_event: &mut F) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < self.inflight.len() {
            let (tag, sent) = self.inflight[i];
            if now.saturating_sub(sent) > self.timeout_ns {
                self.inflight.swap_remove(i);
                self.stats.failed += 1;
                on_event(TransportEvent::Failed { tag, written: true });
                n += 1;
            } else {
                i += 1;
            }
        }
        n
    }

    /// Frames `self.json` with `opcode` (masked, as a client must) and writes what the socket
    /// takes now.
    fn write_frame(&mut self, opcode: u8) {
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        let len = self.json.len();
        self.out.push(0x80 | opcode);
        if len < 126 {
            self.out.push(0x80 | len as u8);
        } else if len <= usize::from(u16::MAX) {
            self.out.push(0x80 | 126);
            self.out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.out.push(0x80 | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        // xorshift32: a fresh mask per frame (RFC 6455 §5.3).
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        let mask = self.mask.to_be_bytes();
        self.out.extend_from_slice(&mask);
        let start = self.out.len();
        self.out.extend_from_slice(&self.json);
        for (i, b) in self.out[start..].iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
        // A write error surfaces at the next service (the link is dropped there).
        let _ = self.flush_out();
    }

    fn flush_out(&mut self) -> Result<(), String> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        while self.out_pos < self.out.len() {
            match link.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err("socket closed on write".into()),
                Ok(k) => self.out_pos += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        match link.flush() {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(format!("flush: {e}")),
        }
    }

    /// Reads what the socket has and handles every complete frame. `Err` = the link is lost.
    fn read_frames<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        on_event: &mut F,
    ) -> Result<usize, String> {
        let mut n = 0;
        loop {
            let Some(link) = self.link.as_mut() else {
                return Ok(n);
            };
            if self.rlen == self.rbuf.len() {
                return Err("frame larger than the read buffer".into());
            }
            match link.read(&mut self.rbuf[self.rlen..]) {
                Ok(0) => return Err("closed by the venue".into()),
                Ok(k) => {
                    self.rlen += k;
                    self.last_rx_ns = self.clock.now_ns();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read: {e}")),
            }
            n += self.parse_frames(on_event)?;
        }
    }

    /// Handles the complete frames at the start of the read buffer; keeps a partial one.
    fn parse_frames<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        on_event: &mut F,
    ) -> Result<usize, String> {
        let mut n = 0;
        let mut at = 0;
        while let Some((op, fin, start, end)) = frame_at(&mut self.rbuf[at..self.rlen])? {
            let (start, end) = (at + start, at + end);
            at = end;
            match op {
                0x1 | 0x2 => {
                    self.msg.clear();
                    self.msg.extend_from_slice(&self.rbuf[start..end]);
                    if fin {
                        n += self.on_message(on_event);
                    }
                }
                0x0 => {
                    self.msg.extend_from_slice(&self.rbuf[start..end]);
                    if fin {
                        n += self.on_message(on_event);
                    }
                }
                0x8 => return Err("close frame from the venue".into()),
                0x9 => {
                    self.json.clear();
                    self.json.extend_from_slice(&self.rbuf[start..end]);
                    self.write_frame(0xA);
                }
                _ => {}
            }
        }
        self.rbuf.copy_within(at..self.rlen, 0);
        self.rlen -= at;
        Ok(n)
    }

    /// One complete message in `self.msg`: a reply (to its request), the auth answer, or life.
    fn on_message<F: FnMut(TransportEvent<'_>)>(&mut self, on_event: &mut F) -> usize {
        let reply = match self.venue {
            WsVenue::Bybit { .. } => bybit::ws_order::read_reply(&self.msg, &mut self.body),
            WsVenue::Binance { .. } | WsVenue::BinanceEd25519 { .. } => {
                binance::ws_order::read_reply(&self.msg, &mut self.body)
            }
        };
        match reply {
            WsReply::Order { id, status } => {
                let Some(i) = self.inflight.iter().position(|&(t, _)| t == id) else {
                    return 0;
                };
                let (tag, sent) = self.inflight.swap_remove(i);
                self.stats.replies += 1;
                on_event(TransportEvent::Response {
                    tag,
                    status,
                    headers: Headers::new(b""),
                    body: &self.body,
                    rtt_ns: self.clock.now_ns().saturating_sub(sent),
                });
                1
            }
            WsReply::Auth { code: 0 } if self.phase == WsPhase::Authing => {
                self.up();
                0
            }
            WsReply::Auth { code } => {
                self.stats.auth_failures += 1;
                let url = &self.target.endpoint.url;
                let why = match self.venue {
                    WsVenue::BinanceEd25519 { .. } => format!(
                        "order WebSocket {url}: session.logon refused by the venue (code {code}): check the API key and the Ed25519 key file (exec.order_ws.ed25519_key_file); orders go over REST"
                    ),
                    _ => format!(
                        "order WebSocket {url}: auth refused by the venue (retCode {code}): check the API key and secret; orders go over REST"
                    ),
                };
                eprintln!("warning: {why}");
                if let Some(link) = self.link.take() {
                    drop(link);
                }
                self.phase = WsPhase::Down;
                self.retry_at_ns = self.clock.now_ns() + AUTH_RETRY_NS;
                self.last_error = Some(why);
                0
            }
            WsReply::Other => 0,
        }
    }

    /// Connects and waits (cold: start-up) until the link is up or `timeout_ns` passed.
    pub fn open_blocking(&mut self, registry: &Registry, timeout_ns: u64) -> bool {
        let end = self.clock.now_ns() + timeout_ns;
        while self.clock.now_ns() < end {
            self.next_service_ns = 0;
            self.service(registry, &mut |_| {});
            if self.phase == WsPhase::Up {
                return true;
            }
            if self.phase == WsPhase::Down && self.retry_at_ns > end {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        false
    }
}

/// The frame at the start of `b`: `(opcode, fin, payload start, frame end)`, the payload
/// unmasked in place; `None` while incomplete. `Err` for a frame the buffer cannot hold.
fn frame_at(b: &mut [u8]) -> Result<Option<(u8, bool, usize, usize)>, String> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (fin, op) = (b[0] & 0x80 != 0, b[0] & 0x0f);
    let masked = b[1] & 0x80 != 0;
    let (len, mut hdr) = match b[1] & 0x7f {
        126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
        127 if b.len() >= 10 => (
            u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")),
            10,
        ),
        126 | 127 => return Ok(None),
        l => (u64::from(l), 2),
    };
    if len > FRAME_CAP as u64 {
        return Err(format!("frame of {len} bytes"));
    }
    let mask_at = hdr;
    if masked {
        hdr += 4;
    }
    let end = hdr + len as usize;
    if b.len() < end {
        return Ok(None);
    }
    if masked {
        let m = [b[mask_at], b[mask_at + 1], b[mask_at + 2], b[mask_at + 3]];
        for (i, x) in b[hdr..end].iter_mut().enumerate() {
            *x ^= m[i & 3];
        }
    }
    Ok(Some((op, fin, hdr, end)))
}

/// Unix ms now (the `auth` expiry).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_whole_and_unmasked() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello", and the masked one.
        let mut plain = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(frame_at(&mut plain).unwrap(), Some((1, true, 2, 7)));
        assert_eq!(&plain[2..7], b"Hello");
        let mut masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(frame_at(&mut masked).unwrap(), Some((1, true, 6, 11)));
        assert_eq!(&masked[6..11], b"Hello");
        // A fragmented first frame "Hel" (FIN clear) and an incomplete frame.
        let mut frag = [0x01, 0x03, 0x48, 0x65, 0x6c];
        assert_eq!(frame_at(&mut frag).unwrap(), Some((1, false, 2, 5)));
        assert_eq!(frame_at(&mut plain[..4]).unwrap(), None);
        // 256 bytes with the 16-bit length.
        let mut long = vec![0x82, 0x7e, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0u8, 256));
        assert_eq!(frame_at(&mut long).unwrap(), Some((2, true, 4, 260)));
    }
}
