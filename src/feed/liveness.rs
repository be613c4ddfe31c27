//! Per-symbol feed health: stale detection, trading pause and REST-fallback demand.
//!
//! States of a symbol (owned by the network thread):
//! - `Waiting`: subscribed, no message yet. After `stale_after` without one it becomes
//!   `Silent` (logged and counted once; a symbol the venue or replay has no data for must not
//!   break the run, so it is neither stale nor polled over REST while its connection is up).
//! - `Live`: a WS message arrived within `stale_after`. The only tradable state.
//! - `Stale`: its connection is up but no message for `stale_after` → paused, REST fallback on;
//!   likewise when every trade of the symbol was rejected (validation) for `stale_after`
//!   ("blinded": only an accepted trade makes it `Live` again, other messages do not).
//! - `Down`: its connection is down → paused, REST fallback on.
//! - `Recovering`: the connection is back, no message yet; the fallback stays on until the
//!   first WS message (→ `Live`, fallback off) or `stale_after` passes (→ `Stale`).
//! - `Unsubscribed`: known to the symbol table but not subscribed (not configured, or removed
//!   at run time): never stale, never polled, not tradable, its late messages dropped.
//!   [`Liveness::subscribe`] makes it `Waiting` (or `Down` while its connection is down).
//!
//! How compute learns about it — [`SymbolHealth`]: one atomic byte per symbol, written by the
//! network thread with `Release` *before* it hands on the next tick of that symbol, read by
//! compute with `Acquire` after it took a tick (no lock, no syscall, one load). So when
//! compute processes a tick it sees the symbol's state as of that tick or later: a symbol that
//! resumes is marked `Live` before its first new tick is handed on, and a pause set while
//! older ticks still sit in a ring is seen no later than the next tick. Ticks from the REST
//! fallback arrive while the symbol is paused: models may use them, trading must not.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use crate::types::SymbolId;

/// Feed state of one symbol; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SymbolState {
    /// Subscribed, nothing received yet.
    Waiting = 0,
    /// Data flowing: tradable.
    Live = 1,
    /// Connection up but silent too long: paused, REST fallback.
    Stale = 2,
    /// Connection down: paused, REST fallback.
    Down = 3,
    /// Reconnected, waiting for the first WS message: paused, REST fallback.
    Recovering = 4,
    /// Never had data within `stale_after` of subscribing: paused, no fallback.
    Silent = 5,
    /// Not subscribed: no data expected, not tradable, no fallback.
    Unsubscribed = 6,
}

impl SymbolState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => SymbolState::Live,
            2 => SymbolState::Stale,
            3 => SymbolState::Down,
            4 => SymbolState::Recovering,
            5 => SymbolState::Silent,
            6 => SymbolState::Unsubscribed,
            _ => SymbolState::Waiting,
        }
    }

    /// Whether orders may be sent for a symbol in this state (only `Live`).
    pub fn tradable(self) -> bool {
        self == SymbolState::Live
    }

    /// Whether the REST fallback should poll a symbol in this state.
    pub fn wants_rest(self) -> bool {
        matches!(
            self,
            SymbolState::Stale | SymbolState::Down | SymbolState::Recovering
        )
    }

    /// Lower-case name for logs.
    pub fn name(self) -> &'static str {
        match self {
            SymbolState::Waiting => "waiting",
            SymbolState::Live => "live",
            SymbolState::Stale => "stale",
            SymbolState::Down => "down",
            SymbolState::Recovering => "recovering",
            SymbolState::Silent => "silent",
            SymbolState::Unsubscribed => "unsubscribed",
        }
    }
}

/// Shared, lock-free view of every symbol's state (see the module doc for the ordering).
#[derive(Debug)]
pub struct SymbolHealth {
    state: Box<[AtomicU8]>,
    rest_wanted: Box<[AtomicBool]>,
}

impl SymbolHealth {
    /// All `n` symbols `Waiting`.
    pub fn new(n: usize) -> Arc<Self> {
        Arc::new(Self {
            state: (0..n).map(|_| AtomicU8::new(0)).collect(),
            rest_wanted: (0..n).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// State of `s` (Acquire: pairs with the network thread's Release).
    #[inline]
    pub fn state(&self, s: SymbolId) -> SymbolState {
        self.state.get(s.index()).map_or(SymbolState::Waiting, |a| {
            SymbolState::from_u8(a.load(Ordering::Acquire))
        })
    }

    /// Whether orders may be sent for `s` now.
    #[inline]
    pub fn tradable(&self, s: SymbolId) -> bool {
        self.state(s).tradable()
    }

    /// Whether the REST fallback should poll `s`.
    pub fn rest_wanted(&self, s: SymbolId) -> bool {
        self.rest_wanted
            .get(s.index())
            .is_some_and(|a| a.load(Ordering::Acquire))
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.state.len()
    }

    /// True when there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    fn publish(&self, s: usize, st: SymbolState) {
        self.state[s].store(st as u8, Ordering::Release);
        self.rest_wanted[s].store(st.wants_rest(), Ordering::Release);
    }
}

/// A state change of one symbol, for logging and counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The symbol.
    pub symbol: SymbolId,
    /// State before.
    pub from: SymbolState,
    /// State after.
    pub to: SymbolState,
    /// How long the symbol had been without a WS message, ns (0 if never had one).
    pub quiet_ns: u64,
    /// The symbol is blinded: every trade rejected for `stale_after` (messages kept coming).
    pub rejected: bool,
}

#[derive(Clone, Copy, Debug)]
struct PerSymbol {
    state: SymbolState,
    ever_seen: bool,
    /// Last WS message, or when the current wait began (subscribe / reconnect).
    since_ns: u64,
    last_msg_ns: u64,
    /// First trade rejection since the last accepted trade (None: not rejecting).
    rejecting_since_ns: Option<u64>,
    /// Latest trade rejection.
    last_rejected_ns: u64,
    /// Stale because its trades are rejected; cleared by an accepted trade.
    blinded: bool,
    /// Blinded and its trade-checking state not yet restarted ([`Liveness::take_reset`]).
    reset_due: bool,
}

/// The network thread's side: decides transitions and publishes them to [`SymbolHealth`].
#[derive(Debug)]
pub struct Liveness {
    stale_after_ns: u64,
    per: Vec<PerSymbol>,
    health: Arc<SymbolHealth>,
}

impl Liveness {
    /// `n` symbols, all `Waiting` since `now_ns`, stale after `stale_after_ns` of silence.
    pub fn new(n: usize, stale_after_ns: u64, now_ns: u64) -> Self {
        Self {
            stale_after_ns,
            per: vec![
                PerSymbol {
                    state: SymbolState::Waiting,
                    ever_seen: false,
                    since_ns: now_ns,
                    last_msg_ns: 0,
                    rejecting_since_ns: None,
                    last_rejected_ns: 0,
                    blinded: false,
                    reset_due: false,
                };
                n
            ],
            health: SymbolHealth::new(n),
        }
    }

    /// The shared view (for compute, the REST poller, status).
    pub fn health(&self) -> Arc<SymbolHealth> {
        self.health.clone()
    }

    /// `n` symbols of which only `active` are subscribed (`Waiting` since `now_ns`); the
    /// others start `Unsubscribed`, without a transition.
    pub fn with_active(n: usize, active: &[SymbolId], stale_after_ns: u64, now_ns: u64) -> Self {
        let mut l = Self::new(n, stale_after_ns, now_ns);
        let mut on = vec![false; n];
        for s in active {
            if let Some(x) = on.get_mut(s.index()) {
                *x = true;
            }
        }
        for (i, on) in on.into_iter().enumerate() {
            if !on {
                l.per[i].state = SymbolState::Unsubscribed;
                l.health.publish(i, SymbolState::Unsubscribed);
            }
        }
        l
    }

    /// Current state of `s`.
    pub fn state(&self, s: SymbolId) -> SymbolState {
        self.per[s.index()].state
    }

    /// Whether `s` is subscribed (its messages are expected). One load.
    #[inline]
    pub fn subscribed(&self, s: SymbolId) -> bool {
        self.per
            .get(s.index())
            .is_some_and(|p| p.state != SymbolState::Unsubscribed)
    }

    /// `s` was just subscribed at `now_ns` on a connection that is open (`link_open`) or not:
    /// `Waiting` (a fresh wait, nothing seen yet) or `Down`. No-op when already subscribed.
    pub fn subscribe(
        &mut self,
        s: SymbolId,
        link_open: bool,
        now_ns: u64,
        out: &mut Vec<Transition>,
    ) {
        let i = s.index();
        if !self
            .per
            .get(i)
            .is_some_and(|p| p.state == SymbolState::Unsubscribed)
        {
            return;
        }
        let p = &mut self.per[i];
        p.since_ns = now_ns;
        p.ever_seen = false;
        p.rejecting_since_ns = None;
        p.blinded = false;
        p.reset_due = false;
        let to = if link_open {
            SymbolState::Waiting
        } else {
            SymbolState::Down
        };
        out.extend(self.set(i, to, now_ns));
    }

    /// `s` was unsubscribed at `now_ns`: `Unsubscribed` (not tradable, never stale).
    pub fn unsubscribe(&mut self, s: SymbolId, now_ns: u64, out: &mut Vec<Transition>) {
        if s.index() < self.per.len() {
            out.extend(self.set(s.index(), SymbolState::Unsubscribed, now_ns));
        }
    }

    fn set(&mut self, i: usize, to: SymbolState, now_ns: u64) -> Option<Transition> {
        let p = &mut self.per[i];
        if p.state == to {
            return None;
        }
        let from = p.state;
        let quiet_ns = if p.ever_seen {
            now_ns.saturating_sub(p.last_msg_ns)
        } else {
            0
        };
        p.state = to;
        self.health.publish(i, to);
        Some(Transition {
            symbol: SymbolId(i as u16),
            from,
            to,
            quiet_ns,
            rejected: p.blinded,
        })
    }

    /// A WS message for `s` at `now_ns` (call before handing its tick on). Returns the
    /// transition when the symbol was not `Live`.
    /// A blinded symbol (see [`Liveness::on_trade_rejected`]) stays paused: only
    /// [`Liveness::on_trade_accepted`] revives it.
    #[inline]
    pub fn on_ws_message(&mut self, s: SymbolId, now_ns: u64) -> Option<Transition> {
        let i = s.index();
        let p = self.per.get_mut(i)?;
        p.since_ns = now_ns;
        if p.blinded {
            return None;
        }
        if p.state == SymbolState::Live {
            p.last_msg_ns = now_ns;
            return None;
        }
        let t = self.set(i, SymbolState::Live, now_ns);
        let p = &mut self.per[i];
        p.ever_seen = true;
        p.last_msg_ns = now_ns;
        t
    }

    /// A WS trade of `s` passed validation at `now_ns` (call instead of
    /// [`Liveness::on_ws_message`]): ends a rejection episode.
    #[inline]
    pub fn on_trade_accepted(&mut self, s: SymbolId, now_ns: u64) -> Option<Transition> {
        let p = self.per.get_mut(s.index())?;
        p.rejecting_since_ns = None;
        p.blinded = false;
        self.on_ws_message(s, now_ns)
    }

    /// True once per blinded episode of `s`: the caller restarts the symbol's de-duplication
    /// and validation state (in case that state, not the trades, is what is wrong).
    #[inline]
    pub fn take_reset(&mut self, s: SymbolId) -> bool {
        self.per
            .get_mut(s.index())
            .is_some_and(|p| std::mem::take(&mut p.reset_due))
    }

    /// A WS trade of `s` was rejected by validation (or dropped as a repeat) at `now_ns`:
    /// proof the link is up, not that the symbol is usable. Rejections spanning `stale_after`
    /// with no accepted trade between blind the symbol (stale at the next [`Liveness::check`]). After `stale_after` of nothing but rejections the symbol
    /// goes `Stale` ([`Liveness::check`]).
    #[inline]
    pub fn on_trade_rejected(&mut self, s: SymbolId, now_ns: u64) {
        if let Some(p) = self.per.get_mut(s.index()) {
            p.rejecting_since_ns.get_or_insert(now_ns);
            p.last_rejected_ns = now_ns;
            p.since_ns = now_ns;
        }
    }

    /// The connection carrying `symbols` went down.
    pub fn on_link_down(&mut self, symbols: &[SymbolId], now_ns: u64, out: &mut Vec<Transition>) {
        for s in symbols {
            out.extend(self.set(s.index(), SymbolState::Down, now_ns));
        }
    }

    /// The connection carrying `symbols` is back and subscribed.
    pub fn on_link_up(&mut self, symbols: &[SymbolId], now_ns: u64, out: &mut Vec<Transition>) {
        for s in symbols {
            let i = s.index();
            let p = &mut self.per[i];
            p.since_ns = now_ns;
            let to = match p.state {
                SymbolState::Down | SymbolState::Stale if p.ever_seen => SymbolState::Recovering,
                SymbolState::Down => SymbolState::Waiting,
                other => other,
            };
            out.extend(self.set(i, to, now_ns));
        }
    }

    /// Time-based transitions at `now_ns` (`Live`/`Recovering` → `Stale`, `Waiting` → `Silent`;
    /// `Live`, `Recovering`, `Waiting` or `Silent` → `Stale` when rejected trades span `stale_after`
    /// with none accepted).
    pub fn check(&mut self, now_ns: u64, out: &mut Vec<Transition>) {
        for i in 0..self.per.len() {
            let p = self.per[i];
            let rejecting = p
                .rejecting_since_ns
                .is_some_and(|r| p.last_rejected_ns.saturating_sub(r) >= self.stale_after_ns);
            if rejecting
                && matches!(
                    p.state,
                    SymbolState::Live
                        | SymbolState::Recovering
                        | SymbolState::Waiting
                        | SymbolState::Silent
                )
            {
                self.per[i].blinded = true;
                self.per[i].reset_due = true;
                out.extend(self.set(i, SymbolState::Stale, now_ns));
                continue;
            }
            if now_ns.saturating_sub(p.since_ns) < self.stale_after_ns {
                continue;
            }
            let to = match p.state {
                SymbolState::Live | SymbolState::Recovering => SymbolState::Stale,
                SymbolState::Waiting => SymbolState::Silent,
                _ => continue,
            };
            out.extend(self.set(i, to, now_ns));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn live_goes_stale_then_recovers_on_the_next_message() {
        let mut l = Liveness::new(2, 100 * MS, 0);
        let h = l.health();
        let mut out = Vec::new();
        let t = l.on_ws_message(SymbolId(0), 10 * MS).unwrap();
        assert_eq!((t.from, t.to), (SymbolState::Waiting, SymbolState::Live));
        assert!(h.tradable(SymbolId(0)));
        l.check(109 * MS, &mut out);
        assert!(out.iter().all(|t| t.symbol != SymbolId(0)), "not yet stale");
        // Symbol 1 never had data: silent, not stale, not polled.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].to, SymbolState::Silent);
        assert!(!h.rest_wanted(SymbolId(1)));
        out.clear();
        l.check(111 * MS, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].to, SymbolState::Stale);
        assert_eq!(out[0].quiet_ns, 101 * MS);
        assert!(!h.tradable(SymbolId(0)));
        assert!(h.rest_wanted(SymbolId(0)));
        out.clear();
        l.check(500 * MS, &mut out);
        assert!(out.is_empty(), "each transition is reported once");
        let t = l.on_ws_message(SymbolId(0), 600 * MS).unwrap();
        assert_eq!((t.from, t.to), (SymbolState::Stale, SymbolState::Live));
        assert!(h.tradable(SymbolId(0)) && !h.rest_wanted(SymbolId(0)));
        // A silent symbol that finally trades becomes live.
        assert_eq!(
            l.on_ws_message(SymbolId(1), 601 * MS).unwrap().to,
            SymbolState::Live
        );
    }

    #[test]
    fn a_symbol_whose_every_trade_is_rejected_goes_stale_once_and_recovers_on_an_accepted_one() {
        let mut l = Liveness::new(1, 100 * MS, 0);
        let h = l.health();
        let s = SymbolId(0);
        let mut out = Vec::new();
        l.on_trade_accepted(s, MS);
        assert!(h.tradable(s));
        for k in 0..20 {
            l.on_trade_rejected(s, (10 + 5 * k) * MS);
            l.check((10 + 5 * k) * MS, &mut out);
        }
        assert!(out.is_empty(), "rejecting for < stale_after: {out:?}");
        l.on_trade_rejected(s, 111 * MS);
        l.check(111 * MS, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].to, out[0].rejected), (SymbolState::Stale, true));
        assert!(!h.tradable(s) && h.rest_wanted(s));
        assert!(l.take_reset(s) && !l.take_reset(s), "once per episode");
        out.clear();
        // Other messages (quotes) do not revive it; more rejections report nothing new.
        assert_eq!(l.on_ws_message(s, 120 * MS), None);
        l.on_trade_rejected(s, 300 * MS);
        l.check(300 * MS, &mut out);
        assert!(out.is_empty() && !h.tradable(s));
        let t = l.on_trade_accepted(s, 310 * MS).unwrap();
        assert_eq!((t.from, t.to), (SymbolState::Stale, SymbolState::Live));
        assert!(h.tradable(s) && !h.rest_wanted(s));
        l.check(400 * MS, &mut out);
        assert!(out.is_empty(), "the episode ended: {out:?}");
    }

    #[test]
    fn link_down_pauses_and_recovery_waits_for_data() {
        let mut l = Liveness::new(3, 100 * MS, 0);
        let h = l.health();
        let mut out = Vec::new();
        l.on_ws_message(SymbolId(0), MS);
        let link = [SymbolId(0), SymbolId(1)];
        l.on_link_down(&link, 5 * MS, &mut out);
        assert_eq!(out.len(), 2);
        assert!(h.rest_wanted(SymbolId(0)) && h.rest_wanted(SymbolId(1)));
        assert!(!h.rest_wanted(SymbolId(2)), "other link unaffected");
        out.clear();
        l.on_link_up(&link, 50 * MS, &mut out);
        assert_eq!(l.state(SymbolId(0)), SymbolState::Recovering);
        assert_eq!(l.state(SymbolId(1)), SymbolState::Waiting, "never had data");
        assert!(h.rest_wanted(SymbolId(0)) && !h.rest_wanted(SymbolId(1)));
        out.clear();
        l.check(151 * MS, &mut out);
        assert!(out
            .iter()
            .any(|t| t.symbol == SymbolId(0) && t.to == SymbolState::Stale));
        l.on_ws_message(SymbolId(0), 160 * MS);
        assert!(h.tradable(SymbolId(0)) && !h.rest_wanted(SymbolId(0)));
    }

    #[test]
    fn unsubscribed_symbols_are_never_stale_and_subscribing_starts_a_fresh_wait() {
        let mut l = Liveness::with_active(3, &[SymbolId(0)], 100 * MS, 0);
        let h = l.health();
        let mut out = Vec::new();
        assert_eq!(h.state(SymbolId(1)), SymbolState::Unsubscribed);
        assert!(!l.subscribed(SymbolId(1)) && l.subscribed(SymbolId(0)));
        l.check(1_000 * MS, &mut out);
        assert_eq!(
            out.len(),
            1,
            "only the subscribed symbol goes silent: {out:?}"
        );
        assert_eq!(out[0].symbol, SymbolId(0));
        out.clear();
        l.subscribe(SymbolId(1), true, 1_000 * MS, &mut out);
        assert_eq!(
            (out[0].from, out[0].to),
            (SymbolState::Unsubscribed, SymbolState::Waiting)
        );
        l.subscribe(SymbolId(2), false, 1_000 * MS, &mut out);
        assert_eq!(
            l.state(SymbolId(2)),
            SymbolState::Down,
            "its link is not up yet"
        );
        out.clear();
        l.subscribe(SymbolId(1), true, 1_050 * MS, &mut out);
        assert!(out.is_empty(), "already subscribed: no-op");
        l.check(1_099 * MS, &mut out);
        assert!(out.is_empty(), "the wait starts at the subscription");
        l.on_ws_message(SymbolId(1), 1_099 * MS);
        assert!(h.tradable(SymbolId(1)));
        l.unsubscribe(SymbolId(1), 1_100 * MS, &mut out);
        assert!(!h.tradable(SymbolId(1)) && !h.rest_wanted(SymbolId(1)));
        out.clear();
        l.check(10_000 * MS, &mut out);
        assert!(out.iter().all(|t| t.symbol != SymbolId(1)), "{out:?}");
    }
}
