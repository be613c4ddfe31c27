//! Order lanes: a pool of [`HttpTransport`] keep-alive connections to one venue endpoint, split
//! into three lanes so that no order waits behind another's reply.
//!
//! - [`Lane::Entry`]: `K` connections (`exec.order_connections`), one request on each at a time;
//!   when all `K` are busy an entry waits in the lane's queue for whichever connection frees
//!   first (never behind one hung reply). When that queue is full too the lane is full:
//!   [`OrderLanes::has_room`] says so, and the execution stage holds the intent (takes no
//!   later one) until it has room; [`OrderLanes::send`] would refuse the entry with
//!   [`TransportError::QueueFull`] and count it (`refused`).
//! - [`Lane::Exit`]: exits and cancels on their own connections. When they are all busy the
//!   request waits in the lane's pre-allocated queue and goes out as soon as one frees; it is
//!   never refused for lack of a slot (past the reserved capacity the queue grows, counted).
//! - [`Lane::Query`]: order-status and position queries, queued the same way.
//!
//! [`OrderLanes::send_after`] holds a request in its lane's queue until an earlier request got
//! its reply (or failed): the executor keeps one symbol's orders in order across connections
//! (an exit must not reach the venue before the entry it closes), as one connection did. With
//! [`OrderLanes::poll_gated`] the caller may answer a reply or failure with [`Release::Drop`]
//! (its outcome is unknown): the entries held behind it are then taken back, never written, and
//! reported as failed with `written = false`; exits held behind it still go.
//!
//! Each connection keeps one request on the wire (no pipelining: after a drop an ambiguous
//! pipeline could double-send). [`OrderLanes::poll`] drives every busy connection without
//! waiting and blocks, on one readiness queue holding every connection's, only when nothing
//! progressed. [`OrderLanes::take_dispatched`] names the requests that the last `send` or
//! `poll` handed to a connection (the executor starts an order's reply clock there, not while
//! it waited in a lane). Buffers and queues are pre-allocated: no allocation in steady state.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::transport::{
    HttpTransport, TransportError, TransportEvent, TransportStats, REQUEST_CAP,
};
use super::ws_order::WsOrderConn;
use crate::telemetry::Clock;

/// What happens to the requests held behind one that got its reply or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// They may go.
    Go,
    /// Held entries are dropped (reported failed, never written); held exits and queries go.
    Drop,
}

/// Which connections a request uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// New positions: refused when every entry connection is busy.
    Entry = 0,
    /// Exits and cancels: never refused, never behind an entry.
    Exit = 1,
    /// Order-status and position queries.
    Query = 2,
}

impl Lane {
    /// All lanes, in [`OrderLanes::lane_stats`] order.
    pub const ALL: [Lane; 3] = [Lane::Entry, Lane::Exit, Lane::Query];

    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            Lane::Entry => "entry",
            Lane::Exit => "exit",
            Lane::Query => "query",
        }
    }
}

/// Counters of one lane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneStats {
    /// Requests accepted (handed to a connection or queued).
    pub sent: u64,
    /// Requests that waited in the lane queue for a free connection.
    pub queued: u64,
    /// Requests refused because the lane was full (entries only).
    pub refused: u64,
    /// Times the lane queue outgrew its reserved capacity (an allocation; exits are never dropped).
    pub grown: u64,
}

/// Shape of a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneConfig {
    /// Entry connections (`exec.order_connections`, 1..=16).
    pub entry_connections: usize,
    /// Exit/cancel connections.
    pub exit_connections: usize,
    /// Query connections.
    pub query_connections: usize,
    /// Reserved queue slots of each lane (entries: beyond them entries are refused).
    pub queue_capacity: usize,
}

impl LaneConfig {
    /// `entry_connections` for entries, two for exits, one for queries, `queue_capacity` slots.
    pub fn new(entry_connections: usize, queue_capacity: usize) -> Self {
        Self {
            entry_connections: entry_connections.max(1),
            exit_connections: 2,
            query_connections: 1,
            queue_capacity: queue_capacity.max(1),
        }
    }
}

struct LaneState {
    /// Connection indices `first..first + count`.
    first: usize,
    count: usize,
    /// Reserved queue slots (entries beyond them are refused).
    cap: usize,
    /// Requests waiting for a free connection of the lane: tag, bytes and the tag
    /// of a request whose reply must come first (an exit held behind its symbol's entry).
    wait: VecDeque<(u64, Vec<u8>, Option<u64>)>,
    free: Vec<Vec<u8>>,
    stats: LaneStats,
}

/// A pool of order connections in three lanes. See the module docs.
pub struct OrderLanes {
    conns: Vec<HttpTransport>,
    lanes: [LaneState; 3],
    /// Requests one connection may hold (1 in a pool; the transport's queue when shared).
    depth: usize,
    poll: Poll,
    events: Events,
    /// Tags handed to a connection by the last `send` / `send_after` / `poll` (bounded: each
    /// call clears it first).
    dispatched: Vec<u64>,
    /// The order-entry WebSocket: entries and exits go on it while it is up, on REST while it
    /// is down (`exec.order_transport = "websocket"`); queries always go on REST.
    ws: Option<WsOrderConn>,
}

/// The order WebSocket's token in the lanes' `Poll` (HTTP connections use their index).
pub const WS_TOKEN: Token = Token(1 << 30);

impl std::fmt::Debug for OrderLanes {
    /// Connection count and per-lane load only (request buffers may hold signed orders).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderLanes")
            .field("connections", &self.conns.len())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl OrderLanes {
    /// A pool to `url` shaped by `cfg`; each reply awaited at most `response_timeout`.
    pub fn new(
        url: &str,
        cfg: LaneConfig,
        response_timeout: Duration,
        clock: Clock,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, TransportError> {
        let n = cfg.entry_connections + cfg.exit_connections.max(1) + cfg.query_connections.max(1);
        let conns = (0..n)
            .map(|_| HttpTransport::with_tls(url, 1, response_timeout, clock.clone(), tls.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let e = cfg.entry_connections;
        let x = cfg.exit_connections.max(1);
        let q = cfg.query_connections.max(1);
        let cap = cfg.queue_capacity;
        Self::build(
            conns,
            [
                LaneState::new(0, e, cap),
                LaneState::new(e, x, cap),
                LaneState::new(e + x, q, cap),
            ],
            1,
        )
    }

    /// One shared connection for every lane (requests queue in the transport, as before lanes).
    pub fn shared(t: HttpTransport) -> Self {
        Self::build(
            vec![t],
            [
                LaneState::new(0, 1, 0),
                LaneState::new(0, 1, 0),
                LaneState::new(0, 1, 0),
            ],
            usize::MAX,
        )
        .expect("a readiness queue for one connection")
    }

    fn build(
        conns: Vec<HttpTransport>,
        lanes: [LaneState; 3],
        depth: usize,
    ) -> Result<Self, TransportError> {
        let poll = Poll::new().map_err(|e| TransportError::Io(e.to_string()))?;
        for (i, c) in conns.iter().enumerate() {
            poll.registry()
                .register(&mut SourceFd(&c.as_raw_fd()), Token(i), Interest::READABLE)
                .map_err(|e| TransportError::Io(e.to_string()))?;
        }
        let events = Events::with_capacity(conns.len() + 1);
        let dispatched =
            Vec::with_capacity(conns.len() + lanes.iter().map(|l| l.cap).sum::<usize>() + 64);
        Ok(Self {
            conns,
            lanes,
            depth,
            poll,
            events,
            dispatched,
            ws: None,
        })
    }

    /// Sends entries and exits over `ws` (registered under [`WS_TOKEN`]) while it is up.
    pub fn set_websocket(&mut self, ws: WsOrderConn) {
        self.ws = Some(ws);
    }

    /// The order WebSocket, when one is set.
    pub fn websocket(&self) -> Option<&WsOrderConn> {
        self.ws.as_ref()
    }

    /// Connects the order WebSocket and waits until it is up (cold: start-up); `false` when
    /// none is set or it did not come up within `timeout` (orders then go over REST until it
    /// does).
    pub fn open_websocket(&mut self, timeout: Duration) -> bool {
        let Self { ws, poll, .. } = self;
        ws.as_mut()
            .is_some_and(|w| w.open_blocking(poll.registry(), timeout.as_nanos() as u64))
    }

    /// Services the order WebSocket while nothing is in flight (heartbeat, reconnect): a clock
    /// read when nothing is due.
    #[inline]
    pub fn keep_alive(&mut self) {
        let Self { ws, poll, .. } = self;
        if let Some(w) = ws.as_mut() {
            w.service(poll.registry(), &mut |_| {});
        }
    }

    /// Copies `bytes` into the request buffer the next [`OrderLanes::send_after`] on `lane`
    /// would take (the first connection with room, as there) and leaves it unsent: the warm-up
    /// of [`crate::exec::Executor::warm`]. No allocation, no system call.
    #[inline]
    pub fn warm(&mut self, lane: Lane, bytes: &[u8]) {
        let l = &self.lanes[lane as usize];
        let depth = self.depth;
        let free = (l.first..l.first + l.count).find(|&i| self.conns[i].in_flight() < depth);
        if let Some(i) = free {
            self.conns[i].warm(bytes);
        }
    }

    /// Sends `bytes` under `tag` on `lane`. Never blocks. Entries: `QueueFull` when every entry
    /// connection is busy (counted). Exits and queries wait for a free connection instead.
    pub fn send(&mut self, lane: Lane, tag: u64, bytes: &[u8]) -> Result<(), TransportError> {
        self.send_after(lane, tag, bytes, None)
    }

    /// As [`OrderLanes::send`]; with `after`, the request waits until request `after` (sent
    /// earlier on another lane and not yet answered) got its response or failed, so an exit
    /// never overtakes the entry it closes (an entry held so waits in its lane's queue).
    pub fn send_after(
        &mut self,
        lane: Lane,
        tag: u64,
        bytes: &[u8],
        after: Option<u64>,
    ) -> Result<(), TransportError> {
        self.dispatched.clear();
        if bytes.len() > REQUEST_CAP {
            return Err(TransportError::TooLarge(bytes.len()));
        }
        // One shared connection answers in order already: nothing to hold.
        let after = after.filter(|_| self.depth != usize::MAX);
        let l = &mut self.lanes[lane as usize];
        if l.wait.is_empty() && after.is_none() && lane != Lane::Query {
            if let Some(ws) = self.ws.as_mut().filter(|w| w.has_room()) {
                if ws.try_send(tag, bytes) {
                    l.stats.sent += 1;
                    self.dispatched.push(tag);
                    return Ok(());
                }
            }
        }
        if l.wait.is_empty() && after.is_none() {
            let free =
                (l.first..l.first + l.count).find(|&i| self.conns[i].in_flight() < self.depth);
            if let Some(i) = free {
                self.conns[i].send(tag, bytes)?;
                self.conns[i].write_now();
                l.stats.sent += 1;
                self.dispatched.push(tag);
                return Ok(());
            }
        }
        if lane == Lane::Entry && l.wait.len() >= l.cap {
            l.stats.refused += 1;
            return Err(TransportError::QueueFull);
        }
        let mut buf = l.free.pop().unwrap_or_else(|| {
            l.stats.grown += 1;
            Vec::with_capacity(REQUEST_CAP)
        });
        buf.clear();
        buf.extend_from_slice(bytes);
        l.wait.push_back((tag, buf, after));
        l.stats.sent += 1;
        l.stats.queued += 1;
        Ok(())
    }

    /// Drives every connection (connects, writes, reads, parses) and reports each finished
    /// request to `on_event`; moves waiting requests to connections that freed. Waits up to
    /// `timeout` for any socket only when nothing progressed. Returns the events reported.
    pub fn poll<F: FnMut(TransportEvent<'_>)>(
        &mut self,
        timeout: Option<Duration>,
        mut on_event: F,
    ) -> usize {
        self.poll_gated(timeout, |ev| {
            on_event(ev);
            Release::Go
        })
    }

    /// As [`OrderLanes::poll`]; `on_event` says for each reply or failure whether the entries
    /// held behind that request may go ([`Release`]). A dropped entry is reported to
    /// `on_event` as failed with `written = false` (its own answer is ignored).
    pub fn poll_gated<F: FnMut(TransportEvent<'_>) -> Release>(
        &mut self,
        timeout: Option<Duration>,
        mut on_event: F,
    ) -> usize {
        self.dispatched.clear();
        if self.in_flight() == 0 {
            self.keep_alive();
            return 0;
        }
        let mut n = self.progress(&mut on_event);
        if n == 0 {
            if let Some(t) = timeout.filter(|t| !t.is_zero()) {
                let _ = self.poll.poll(&mut self.events, Some(t));
                n = self.progress(&mut on_event);
            }
        }
        n
    }

    fn progress<F: FnMut(TransportEvent<'_>) -> Release>(&mut self, on_event: &mut F) -> usize {
        let mut n = 0;
        loop {
            self.dispatch();
            let mut round = 0;
            let Self {
                conns,
                lanes,
                ws,
                poll,
                ..
            } = self;
            if let Some(w) = ws.as_mut() {
                round +=
                    w.service(poll.registry(), &mut |ev| {
                        let (TransportEvent::Response { tag, .. }
                        | TransportEvent::Failed { tag, .. }) = ev;
                        let drop = on_event(ev) == Release::Drop;
                        release(lanes, tag, drop, &mut |t| {
                            on_event(TransportEvent::Failed {
                                tag: t,
                                written: false,
                            });
                        });
                    });
            }
            for c in conns.iter_mut() {
                if c.in_flight() > 0 {
                    round += c.poll(None, |ev| {
                        let (TransportEvent::Response { tag, .. }
                        | TransportEvent::Failed { tag, .. }) = ev;
                        let drop = on_event(ev) == Release::Drop;
                        release(lanes, tag, drop, &mut |t| {
                            on_event(TransportEvent::Failed {
                                tag: t,
                                written: false,
                            });
                        });
                    });
                }
            }
            n += round;
            if round == 0 || self.lanes.iter().all(|l| l.wait.is_empty()) {
                return n;
            }
        }
    }

    /// Hands waiting requests that are not held to free connections of their lane, oldest first.
    fn dispatch(&mut self) {
        for (li, l) in self.lanes.iter_mut().enumerate() {
            let mut k = 0;
            while k < l.wait.len() {
                if l.wait[k].2.is_some() {
                    k += 1;
                    continue;
                }
                let ws = self.ws.as_mut().filter(|w| w.has_room());
                if let Some(w) = ws.filter(|_| li != Lane::Query as usize) {
                    let (tag, buf, _) = &l.wait[k];
                    if w.try_send(*tag, buf) {
                        let (tag, buf, _) = l.wait.remove(k).expect("index in range");
                        l.free.push(buf);
                        self.dispatched.push(tag);
                        continue;
                    }
                }
                let Some(i) =
                    (l.first..l.first + l.count).find(|&i| self.conns[i].in_flight() < self.depth)
                else {
                    break;
                };
                let (tag, buf, _) = l.wait.remove(k).expect("index in range");
                // Sizes were checked on entry and the connection is free: cannot fail.
                let _ = self.conns[i].send(tag, &buf);
                l.free.push(buf);
                self.dispatched.push(tag);
            }
        }
    }

    /// Hands each request tag that the last `send`, `send_after` or `poll` passed to a
    /// connection to `f`, oldest first.
    pub fn take_dispatched(&mut self, mut f: impl FnMut(u64)) {
        for &tag in &self.dispatched {
            f(tag);
        }
        self.dispatched.clear();
    }

    /// Whether `lane` takes a request now: a connection is free or a reserved queue slot is.
    pub fn has_room(&self, lane: Lane) -> bool {
        let l = &self.lanes[lane as usize];
        let ws = lane != Lane::Query && self.ws.as_ref().is_some_and(WsOrderConn::has_room);
        l.wait.len() < l.cap
            || (l.wait.is_empty()
                && (ws
                    || self.conns[l.first..l.first + l.count]
                        .iter()
                        .any(|c| c.in_flight() < self.depth)))
    }

    /// Requests waiting in a lane, queued in a connection or on the wire.
    pub fn in_flight(&self) -> usize {
        self.conns
            .iter()
            .map(HttpTransport::in_flight)
            .sum::<usize>()
            + self.lanes.iter().map(|l| l.wait.len()).sum::<usize>()
            + self.ws.as_ref().map_or(0, WsOrderConn::in_flight)
    }

    /// Requests of `lane` waiting or on the wire.
    pub fn lane_in_flight(&self, lane: Lane) -> usize {
        let l = &self.lanes[lane as usize];
        self.conns[l.first..l.first + l.count]
            .iter()
            .map(HttpTransport::in_flight)
            .sum::<usize>()
            + l.wait.len()
    }

    /// Counters of `lane`.
    pub fn lane_stats(&self, lane: Lane) -> LaneStats {
        self.lanes[lane as usize].stats
    }

    /// Connection counters summed over the pool.
    pub fn stats(&self) -> TransportStats {
        self.conns.iter().fold(TransportStats::default(), |a, c| {
            let s = c.stats();
            TransportStats {
                connects: a.connects + s.connects,
                peer_closes: a.peer_closes + s.peer_closes,
                requests: a.requests + s.requests,
                responses: a.responses + s.responses,
                failures: a.failures + s.failures,
            }
        })
    }

    /// The first query connection (cold path: blocking start-up requests).
    pub fn query_transport(&mut self) -> &mut HttpTransport {
        let i = self.lanes[Lane::Query as usize].first;
        &mut self.conns[i]
    }
}

/// Releases the requests held behind request `tag` (it got its response or failed).
/// With `drop`, the entries held behind it are removed and handed to `dropped` (and what was
/// held behind those is dropped or released the same way).
fn release<F: FnMut(u64)>(lanes: &mut [LaneState; 3], tag: u64, drop: bool, dropped: &mut F) {
    for li in 0..lanes.len() {
        let mut k = 0;
        while k < lanes[li].wait.len() {
            if lanes[li].wait[k].2 != Some(tag) {
                k += 1;
                continue;
            }
            if !(drop && li == Lane::Entry as usize) {
                lanes[li].wait[k].2 = None;
                k += 1;
                continue;
            }
            let l = &mut lanes[li];
            let (t, buf, _) = l.wait.remove(k).expect("index in range");
            l.free.push(buf);
            dropped(t);
            release(lanes, t, true, dropped);
            // The cascade may have removed entries before `k`: scan this lane again.
            k = 0;
        }
    }
}

impl LaneState {
    fn new(first: usize, count: usize, queue_capacity: usize) -> Self {
        Self {
            first,
            count,
            cap: queue_capacity,
            wait: VecDeque::with_capacity(queue_capacity),
            free: (0..queue_capacity)
                .map(|_| Vec::with_capacity(REQUEST_CAP))
                .collect(),
            stats: LaneStats::default(),
        }
    }
}

impl From<HttpTransport> for OrderLanes {
    fn from(t: HttpTransport) -> Self {
        Self::shared(t)
    }
}
