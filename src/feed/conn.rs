//! All market-data connections of one venue on one mio event loop: connect, TLS and upgrade
//! driven by readiness, subscribe on open, heartbeats, dead-link detection and reconnect with
//! exponential backoff and jitter (at least the `Retry-After` of a refused upgrade). Parser-agnostic: bytes in, frames out ([`ConnEvent`]).
//!
//! The loop never blocks on anything but `epoll_wait` (`Poll::poll`): sockets are
//! non-blocking, DNS is resolved once at start-up, log lines go to the cold thread through an
//! SPSC ring, and the REST fallback wakes the loop through a `mio::Waker`.
//!
//! A caller that spins (polls without waiting) does not spin through `epoll_wait`: while every
//! live link is open, each poll reads the open sockets directly (one non-blocking `recv` per
//! idle socket, read until `WouldBlock` as edge-triggered readiness requires, TLS plaintext
//! already decrypted served first) and `epoll_wait` runs once per timer tick (1 ms) to drain
//! the readiness queue. Connecting links (TCP connect, TLS, upgrade progress by readiness) and
//! callers that wait (`park`) use `epoll_wait` on every poll as before. Counted:
//! [`ConnStats::socket_reads`], [`ConnStats::socket_writes`], [`ConnStats::epoll_waits`].
//!
//! Per connection (a "link"): `Wait(until) → Connecting → Open → (fail) → Wait(now + backoff)`,
//! or `Ended` after the embedded exchange's end-of-replay close code (or [`Connections::close_all`]).
//! A link is declared dead when no frame at all (data, pong, ping) arrived for `dead_after`.

use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll, Token, Waker};

use super::backoff::Backoff;
use super::protocol::{Heartbeat, LinkPlan, Venue};
use super::ws::{IoCalls, Phase, WsConn, WsError, WsTarget};
use crate::ring::Producer;
use crate::telemetry::Clock;
use crate::types::SymbolId;

/// The waker's token (links use `Token(index)`).
const WAKER: Token = Token(usize::MAX);
/// Timers are checked at most this often (ns); deadlines are milliseconds anyway.
const TIMER_TICK_NS: u64 = 1_000_000;

/// Connection behaviour.
#[derive(Clone, Debug)]
pub struct ConnSettings {
    /// The venue (subscribe shape, heartbeat).
    pub venue: Venue,
    /// Client heartbeat period, ns.
    pub heartbeat_ns: u64,
    /// No frame for this long on an open link → it is dead (reconnect), ns.
    pub dead_after_ns: u64,
    /// TCP + TLS + upgrade must finish within this, ns.
    pub connect_timeout_ns: u64,
    /// First reconnect delay, ms.
    pub backoff_base_ms: u64,
    /// Longest reconnect delay, ms.
    pub backoff_cap_ms: u64,
    /// Random fraction of each delay, [0, 1].
    pub backoff_jitter: f64,
    /// A close frame with this code ends the link for good (embedded exchange: end of replay).
    pub end_close_code: Option<u16>,
}

/// What the loop reports to its owner.
#[derive(Debug)]
pub enum ConnEvent<'a> {
    /// A data frame (text or binary) of link `link`, read from the socket at `recv_ns`.
    Frame {
        /// Link index.
        link: usize,
        /// Payload; reused buffer, may be rewritten in place.
        data: &'a mut [u8],
        /// Monotonic ns of the read that completed it.
        recv_ns: u64,
    },
    /// Link `link` is open and its subscriptions were sent.
    Up {
        /// Link index.
        link: usize,
    },
    /// Link `link` is down (reconnect scheduled unless `ended`).
    Down {
        /// Link index.
        link: usize,
        /// The link ended for good (no reconnect).
        ended: bool,
    },
}

/// Connection counters (network thread only); saturating, never wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Handshakes completed (first connect and reconnects).
    pub connects: u64,
    /// Open links lost (error, peer close, dead link).
    pub disconnects: u64,
    /// Connection attempts started.
    pub attempts: u64,
    /// Attempts that failed before the link opened.
    pub connect_failures: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Open links declared dead for silence.
    pub dead: u64,
    /// Subscribe requests sent (on open, on reconnect, and for symbols added at run time).
    pub subscribes: u64,
    /// Unsubscribe requests sent (symbols removed at run time).
    pub unsubscribes: u64,
    /// Log lines dropped (log ring full).
    pub logs_dropped: u64,
    /// `read` system calls on connected sockets (data, EOF or `EAGAIN`).
    pub socket_reads: u64,
    /// `write` system calls on connected sockets.
    pub socket_writes: u64,
    /// `epoll_wait` system calls (`Poll::poll`).
    pub epoll_waits: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkPhase {
    Wait { until_ns: u64 },
    Connecting,
    Open,
    Ended,
}

struct Link {
    ws: WsConn,
    plan: LinkPlan,
    subscribe: Vec<String>,
    phase: LinkPhase,
    backoff: Backoff,
    since_ns: u64,
    last_rx_ns: u64,
    next_hb_ns: u64,
    got_data: bool,
    /// Last Up/Down reported: None before the first report.
    reported_up: Option<bool>,
    addr_i: usize,
    /// The last drive stopped before the socket ran dry ([`super::ws::Driven::more`]): drive
    /// it on the next poll whatever the readiness events say.
    pending: bool,
}

/// The event loop of a venue's connections; see the module doc.
pub struct Connections {
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    target: WsTarget,
    settings: ConnSettings,
    clock: Clock,
    links: Vec<Link>,
    next_timer_ns: u64,
    stats: ConnStats,
    io: Arc<IoCalls>,
    logs: Producer<String>,
    ended: usize,
    /// Id of the next (un)subscribe request.
    req_id: u64,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("target", &self.target)
            .field("stats", &self.stats)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// One link per plan, all connecting on the first [`Connections::poll`]. Log lines go to
    /// `logs` (printed by the cold thread).
    pub fn new(
        target: WsTarget,
        plans: Vec<LinkPlan>,
        settings: ConnSettings,
        clock: Clock,
        logs: Producer<String>,
    ) -> Result<Self, WsError> {
        let poll = Poll::new().map_err(|e| WsError::Io(format!("poll: {e}")))?;
        let waker = Arc::new(
            Waker::new(poll.registry(), WAKER).map_err(|e| WsError::Io(format!("waker: {e}")))?,
        );
        let mut req_id = 1;
        let io = Arc::new(IoCalls::default());
        let links = plans
            .into_iter()
            .enumerate()
            .map(|(i, plan)| new_link(i, plan, &settings, &clock, &io, &mut req_id))
            .collect();
        Ok(Self {
            poll,
            events: Events::with_capacity(256),
            waker,
            target,
            settings,
            clock,
            links,
            next_timer_ns: 0,
            stats: ConnStats::default(),
            io,
            logs,
            ended: 0,
            req_id,
        })
    }

    /// Adds link `plan` (connecting at the next timer tick); returns its index.
    pub fn add_link(&mut self, plan: LinkPlan) -> usize {
        let i = self.links.len();
        let link = new_link(
            i,
            plan,
            &self.settings,
            &self.clock,
            &self.io,
            &mut self.req_id,
        );
        self.links.push(link);
        self.next_timer_ns = 0;
        i
    }

    /// Replaces the requests link `i` sends when it (re)connects (a private stream's fresh
    /// `auth` before each attempt); the link's topics are left as they are.
    pub fn set_requests(&mut self, i: usize, requests: Vec<String>) {
        self.links[i].subscribe = requests;
    }

    /// Points every later connection attempt at `url` on the same host and port (a private
    /// stream's new listenKey); the addresses resolved at start stay.
    pub fn set_url(&mut self, url: &str) -> Result<(), WsError> {
        let e = super::ws::check_url(url)?;
        let t = &self.target.endpoint;
        if (e.tls, &e.host, e.port) != (t.tls, &t.host, t.port) {
            return Err(WsError::Url(format!(
                "{url}: not the host of {}",
                self.target.endpoint.url
            )));
        }
        self.target.endpoint = e;
        Ok(())
    }

    /// Whether link `i` is open (subscriptions sent on it take effect now).
    pub fn is_open(&self, i: usize) -> bool {
        self.links
            .get(i)
            .is_some_and(|l| l.phase == LinkPhase::Open)
    }

    /// Whether link `i` ended for good (end of replay, shutdown): it carries nothing new.
    pub fn is_ended(&self, i: usize) -> bool {
        !self
            .links
            .get(i)
            .is_some_and(|l| l.phase != LinkPhase::Ended)
    }

    /// Adds `symbol` and its `topics` to link `i`: subscribed now when the link is open (a
    /// failed write reconnects it, which subscribes the whole set), and on every reconnect.
    pub fn add_symbol(&mut self, i: usize, symbol: SymbolId, topics: Vec<String>) {
        let venue = self.settings.venue;
        let link = &mut self.links[i];
        let now = venue.subscribe_requests(&topics, &mut self.req_id);
        link.plan.symbols.push(symbol);
        link.plan.topics.extend(topics);
        link.subscribe = venue.subscribe_requests(&link.plan.topics, &mut self.req_id);
        self.send_now(i, &now, true);
    }

    /// Removes `symbol` and its `topics` from link `i`: unsubscribed now when the link is open,
    /// and left out of every later (re)subscription.
    pub fn remove_symbol(&mut self, i: usize, symbol: SymbolId, topics: &[String]) {
        let venue = self.settings.venue;
        let link = &mut self.links[i];
        link.plan.symbols.retain(|&s| s != symbol);
        link.plan.topics.retain(|t| !topics.contains(t));
        link.subscribe = venue.subscribe_requests(&link.plan.topics, &mut self.req_id);
        let now = venue.unsubscribe_requests(topics, &mut self.req_id);
        self.send_now(i, &now, false);
    }

    /// Writes `requests` on link `i` if it is open; a failed write fails the link (the
    /// reconnect sends the link's current subscriptions).
    fn send_now(&mut self, i: usize, requests: &[String], subscribe: bool) {
        if !self.is_open(i) {
            return;
        }
        let mut err = None;
        let mut sent = 0;
        for r in requests {
            match self.links[i].ws.send_text(r) {
                Ok(()) => sent += 1,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let n = if subscribe {
            &mut self.stats.subscribes
        } else {
            &mut self.stats.unsubscribes
        };
        *n = n.saturating_add(sent);
        if let Some(e) = err {
            let now = self.clock.now_ns();
            let mut ignore = |_: ConnEvent<'_>| {};
            self.fail(i, now, &format!("(un)subscribe: {e}"), 0, &mut ignore);
        }
    }

    /// Wakes a blocked [`Connections::poll`] from another thread (REST fallback ticks).
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// The link plans, by link index.
    pub fn plans(&self) -> impl Iterator<Item = &LinkPlan> + '_ {
        self.links.iter().map(|l| &l.plan)
    }

    /// The plan of link `i`.
    pub fn plan(&self, i: usize) -> &LinkPlan {
        &self.links[i].plan
    }

    /// Number of links.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// True without links.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Counters so far.
    pub fn stats(&self) -> ConnStats {
        ConnStats {
            socket_reads: self.io.reads(),
            socket_writes: self.io.writes(),
            ..self.stats
        }
    }

    /// True once every link ended for good.
    pub fn all_ended(&self) -> bool {
        self.ended == self.links.len()
    }

    /// Links open now.
    pub fn open_links(&self) -> usize {
        self.links
            .iter()
            .filter(|l| l.phase == LinkPhase::Open)
            .count()
    }

    /// Hands a log line to the cold thread (never blocks; counted when the ring is full).
    pub fn log(&mut self, line: String) {
        if self.logs.push(line).is_err() {
            self.stats.logs_dropped = self.stats.logs_dropped.saturating_add(1);
        }
    }

    /// Sends a close frame on every link and ends them (shutdown).
    pub fn close_all(&mut self) {
        let registry = self.poll.registry();
        for l in &mut self.links {
            if l.phase != LinkPhase::Ended {
                l.ws.close(registry);
                l.phase = LinkPhase::Ended;
                self.ended += 1;
            }
        }
    }

    /// Drops link `i`'s socket abruptly as if the network failed (tests, operator action);
    /// the normal reconnect path follows.
    pub fn kill(&mut self, i: usize, reason: &str) {
        let now = self.clock.now_ns();
        let mut ignore = |_: ConnEvent<'_>| {};
        self.fail(i, now, reason, 0, &mut ignore);
    }

    /// Runs timers, reads what the sockets have and reports frames and link changes to `on`.
    ///
    /// Without a wait (`timeout` `None` or zero) and no link connecting: reads every open link
    /// directly, and calls `epoll_wait` (zero timeout) only on a timer tick. Otherwise waits for
    /// readiness up to `timeout` and drives every ready link and every link left with unread
    /// frames by the last poll (see the module doc).
    #[inline]
    pub fn poll<F: FnMut(ConnEvent<'_>)>(
        &mut self,
        timeout: Option<Duration>,
        mut on: F,
    ) -> Result<(), WsError> {
        let now = self.clock.now_ns();
        let tick = now >= self.next_timer_ns;
        if tick {
            self.timers(now, &mut on);
            self.next_timer_ns = now + TIMER_TICK_NS;
        }
        let no_wait = !matches!(timeout, Some(t) if !t.is_zero());
        if no_wait && !tick && !self.any_connecting() {
            self.sweep(&mut on);
            return Ok(());
        }
        let any_pending = self.links.iter().any(|l| l.pending);
        let wait = match timeout {
            Some(t) if !t.is_zero() && !any_pending => {
                let to_timer = self.next_timer_ns.saturating_sub(self.clock.now_ns());
                t.min(Duration::from_nanos(to_timer.max(100_000)))
            }
            _ => Duration::ZERO,
        };
        self.stats.epoll_waits = self.stats.epoll_waits.saturating_add(1);
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(WsError::Io(format!("poll: {e}")));
            }
        }
        if no_wait {
            // Every open link and the connecting ones the events name, each once.
            for i in 0..self.links.len() {
                let go = match self.links[i].phase {
                    LinkPhase::Open => true,
                    LinkPhase::Connecting => self.events.iter().any(|e| e.token() == Token(i)),
                    _ => false,
                };
                if go {
                    self.drive(i, &mut on);
                }
            }
        } else if !self.events.is_empty() || any_pending {
            self.drive_ready(&mut on);
        }
        Ok(())
    }

    /// Whether a link is connecting (its progress comes as readiness events).
    #[inline]
    fn any_connecting(&self) -> bool {
        self.links.iter().any(|l| l.phase == LinkPhase::Connecting)
    }

    /// Drives every open link once: reads until `WouldBlock` (or the per-drive frame cap) and
    /// flushes queued writes. No readiness needed: a read of an idle socket returns `EAGAIN`.
    #[inline]
    fn sweep<F: FnMut(ConnEvent<'_>)>(&mut self, on: &mut F) {
        for i in 0..self.links.len() {
            if self.links[i].phase == LinkPhase::Open {
                self.drive(i, on);
            }
        }
    }

    /// Drives the links the last `epoll_wait` reported and those left with unread frames.
    fn drive_ready<F: FnMut(ConnEvent<'_>)>(&mut self, on: &mut F) {
        // Tokens first: driving a link needs `&mut self`. Links with unread frames left from
        // the last poll first, then the ready ones (each once).
        let mut ready = [usize::MAX; 64];
        let mut n = 0;
        let mut overflow = false;
        for (i, l) in self.links.iter().enumerate() {
            if l.pending {
                if n < ready.len() {
                    ready[n] = i;
                    n += 1;
                } else {
                    overflow = true;
                }
            }
        }
        for ev in self.events.iter() {
            let Token(t) = ev.token();
            if t == WAKER.0 || self.links.get(t).is_some_and(|l| l.pending) {
                continue;
            }
            if n < ready.len() {
                ready[n] = t;
                n += 1;
            } else {
                overflow = true;
            }
        }
        for &i in &ready[..n] {
            self.drive(i, on);
        }
        if overflow {
            // More ready links than the array holds: drive all (reads stop at WouldBlock).
            for i in 0..self.links.len() {
                self.drive(i, on);
            }
        }
    }

    fn drive<F: FnMut(ConnEvent<'_>)>(&mut self, i: usize, on: &mut F) {
        let Some(link) = self.links.get_mut(i) else {
            return;
        };
        link.pending = false;
        if !matches!(link.phase, LinkPhase::Connecting | LinkPhase::Open) {
            return;
        }
        let r = link.ws.drive(&self.target, |data, recv_ns| {
            on(ConnEvent::Frame {
                link: i,
                data,
                recv_ns,
            })
        });
        let now = self.clock.now_ns();
        match r {
            Ok(d) => {
                if d.opened {
                    self.on_open(i, now, on);
                }
                let link = &mut self.links[i];
                link.pending =
                    d.more && matches!(link.phase, LinkPhase::Connecting | LinkPhase::Open);
                if d.frames > 0 {
                    link.last_rx_ns = now;
                    if !link.got_data {
                        link.got_data = true;
                        link.backoff.reset();
                    }
                }
                if let Some(code) = d.closed {
                    if Some(code) == self.settings.end_close_code {
                        link.ws.reset(self.poll.registry());
                        link.phase = LinkPhase::Ended;
                        link.reported_up = Some(false);
                        self.ended += 1;
                        let line = format!(
                            "feed[{}] link {i}: server closed with code {code} (end of replay); link ended",
                            self.settings.venue.name()
                        );
                        self.log(line);
                        on(ConnEvent::Down {
                            link: i,
                            ended: true,
                        });
                    } else {
                        self.fail(i, now, &format!("server closed (code {code})"), 0, on);
                    }
                }
            }
            Err(e) => {
                let floor = e
                    .refused_wait_ns(self.links[i].backoff.cap_ns())
                    .unwrap_or(0);
                self.fail(i, now, &e.to_string(), floor, on)
            }
        }
    }

    fn on_open<F: FnMut(ConnEvent<'_>)>(&mut self, i: usize, now: u64, on: &mut F) {
        let hb = self.settings.heartbeat_ns;
        let link = &mut self.links[i];
        link.phase = LinkPhase::Open;
        link.since_ns = now;
        link.last_rx_ns = now;
        link.next_hb_ns = now + hb;
        link.got_data = false;
        let mut sent = 0;
        let mut err = None;
        for s in &link.subscribe {
            match link.ws.send_text(s) {
                Ok(()) => sent += 1,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        self.stats.subscribes = self.stats.subscribes.saturating_add(sent);
        if let Some(e) = err {
            self.fail(i, now, &format!("subscribe: {e}"), 0, on);
            return;
        }
        self.stats.connects = self.stats.connects.saturating_add(1);
        let link = &mut self.links[i];
        link.reported_up = Some(true);
        let line = format!(
            "feed[{}] link {i}: connected to {} after {} attempt(s); subscribed {} topic(s) in {sent} request(s)",
            self.settings.venue.name(),
            self.target.endpoint.url,
            link.backoff.attempts() + 1,
            link.plan.topics.len()
        );
        self.log(line);
        on(ConnEvent::Up { link: i });
    }

    /// Link `i` failed: reset it and schedule the next attempt after the backoff, but no
    /// sooner than `floor_ns` (a refusal's `Retry-After`).
    fn fail<F: FnMut(ConnEvent<'_>)>(
        &mut self,
        i: usize,
        now: u64,
        reason: &str,
        floor_ns: u64,
        on: &mut F,
    ) {
        let registry = self.poll.registry();
        let link = &mut self.links[i];
        if link.phase == LinkPhase::Ended {
            return;
        }
        let was_open = link.phase == LinkPhase::Open;
        link.pending = false;
        link.ws.reset(registry);
        let delay = link.backoff.next_delay_at_least_ns(floor_ns);
        link.phase = LinkPhase::Wait {
            until_ns: now + delay,
        };
        let attempt = link.backoff.attempts();
        let report = link.reported_up != Some(false);
        link.reported_up = Some(false);
        if was_open {
            self.stats.disconnects = self.stats.disconnects.saturating_add(1);
        } else {
            self.stats.connect_failures = self.stats.connect_failures.saturating_add(1);
        }
        let line = format!(
            "feed[{}] link {i}: {} ({reason}); reconnect attempt {attempt} in {:.0} ms",
            self.settings.venue.name(),
            if was_open {
                "disconnected"
            } else {
                "connect failed"
            },
            delay as f64 / 1e6
        );
        self.log(line);
        if report {
            on(ConnEvent::Down {
                link: i,
                ended: false,
            });
        }
    }

    fn timers<F: FnMut(ConnEvent<'_>)>(&mut self, now: u64, on: &mut F) {
        for i in 0..self.links.len() {
            let link = &mut self.links[i];
            match link.phase {
                LinkPhase::Wait { until_ns } if now >= until_ns => {
                    let addrs = &self.target.addrs;
                    let addr = addrs[link.addr_i % addrs.len()];
                    link.addr_i += 1;
                    self.stats.attempts = self.stats.attempts.saturating_add(1);
                    match link.ws.start(self.poll.registry(), addr) {
                        Ok(()) => {
                            link.phase = LinkPhase::Connecting;
                            link.since_ns = now;
                        }
                        Err(e) => self.fail(i, now, &e.to_string(), 0, on),
                    }
                }
                LinkPhase::Connecting
                    if now.saturating_sub(link.since_ns) > self.settings.connect_timeout_ns =>
                {
                    let phase = link.ws.phase();
                    self.fail(
                        i,
                        now,
                        &format!(
                            "connect timed out after {} ms ({phase:?})",
                            self.settings.connect_timeout_ns / 1_000_000
                        ),
                        0,
                        on,
                    );
                }
                LinkPhase::Open => {
                    if now.saturating_sub(link.last_rx_ns) > self.settings.dead_after_ns {
                        self.stats.dead = self.stats.dead.saturating_add(1);
                        let quiet = (now - link.last_rx_ns) / 1_000_000;
                        self.fail(
                            i,
                            now,
                            &format!("no frame for {quiet} ms, heartbeat unanswered"),
                            0,
                            on,
                        );
                    } else if now >= link.next_hb_ns {
                        link.next_hb_ns = now + self.settings.heartbeat_ns;
                        let r = match self.settings.venue.heartbeat() {
                            Heartbeat::PingFrame => link.ws.send_ping(),
                            Heartbeat::Text(t) => link.ws.send_text(t),
                        };
                        match r {
                            Ok(()) => {
                                self.stats.heartbeats = self.stats.heartbeats.saturating_add(1)
                            }
                            Err(e) => self.fail(i, now, &format!("heartbeat: {e}"), 0, on),
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The subscribe requests link `i` sends when it (re)connects (tests, status).
    pub fn subscriptions(&self, i: usize) -> &[String] {
        &self.links[i].subscribe
    }

    /// Phase of link `i` (tests, status).
    pub fn link_open(&self, i: usize) -> bool {
        self.links[i].phase == LinkPhase::Open && self.links[i].ws.phase() == Phase::Open
    }
}

/// Link `i` of `plan`, waiting to connect; its subscribe requests numbered from `*req_id`.
fn new_link(
    i: usize,
    plan: LinkPlan,
    settings: &ConnSettings,
    clock: &Clock,
    io: &Arc<IoCalls>,
    req_id: &mut u64,
) -> Link {
    Link {
        ws: WsConn::new(Token(i), clock.clone(), io.clone()),
        subscribe: settings.venue.subscribe_requests(&plan.topics, req_id),
        plan,
        phase: LinkPhase::Wait { until_ns: 0 },
        backoff: Backoff::new(
            settings.backoff_base_ms,
            settings.backoff_cap_ms,
            settings.backoff_jitter,
            0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
        ),
        since_ns: 0,
        last_rx_ns: 0,
        next_hb_ns: 0,
        got_data: false,
        reported_up: None,
        addr_i: i,
        pending: false,
    }
}
