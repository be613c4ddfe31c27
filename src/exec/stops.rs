//! Venue-side stops on Binance: the take-profit and stop-loss of every filled entry are placed
//! as conditional algo orders (`POST /fapi/v1/algoOrder`, `TAKE_PROFIT_MARKET` / `STOP_MARKET`,
//! `closePosition=true`), so a crash or a cut network never leaves a position unprotected.
//!
//! Life of a symbol's stops ([`VenueStops`], one writer: the execution thread):
//! - [`VenueStops::arm`] after an entry's first fill: both legs are due at once and go out on
//!   the exit lane in the same poll (one round trip). Stops already placed for an earlier
//!   entry are cancelled (replaced).
//! - [`VenueStops::disarm`] when the engine's book of the symbol is flat (its own exit filled,
//!   a venue-side exit booked, a reconciliation to zero): the legs still open are cancelled
//!   (`DELETE /fapi/v1/algoOrder?clientAlgoId=`); a leg already gone (-2011 / -2013) or
//!   triggered counts as cancelled.
//! - `closePosition=true` closes whatever the position is when a leg triggers, so a resize
//!   (drift monitor reduce, a partial exit) needs no replacement: the legs always cover the
//!   whole position. A new entry with exits replaces both.
//! - Across a restart: the entry's levels are journaled before it is sent
//!   ([`RecordKind::Exits`](super::journal::RecordKind::Exits)); start-up adopts the legs still
//!   open ([`super::stop_recovery`]) and re-arms the missing ones ([`VenueStops::arm_missing`],
//!   [`super::stop_restore`]).
//! - A placement that fails is retried per its error class: transient (5xx, rate limit,
//!   unknown status, no reply) after [`RETRY_NS`], up to [`MAX_ATTEMPTS`]; a duplicate client
//!   id means the first copy reached the venue (placed); any other refusal (e.g. -2021 "would
//!   immediately trigger") or the attempts used up fails the leg: the executor then closes
//!   the position reduce-only ([`StopEvent::Unprotected`]).
//!
//! Client algo ids are `<prefix><entry seq>-tp|-sl`; a request's transport tag is
//! [`STOP_TAG`]` | seq << 1 | leg`. No allocation after construction.

use crate::types::{Side, SymbolId};
use crate::venue::binance::algo::AlgoReply;
use crate::venue::binance::ExitKind;
use crate::venue::error::ErrorKind;
use crate::venue::order::TriggerBy;
use rust_decimal::Decimal;

/// Tag bit marking a transport request as a stop (algo order) request.
pub const STOP_TAG: u64 = 1 << 61;
/// Placements of one leg before it fails.
pub const MAX_ATTEMPTS: u32 = 4;
/// Delay before a transient failure is retried, ns.
pub const RETRY_NS: u64 = 20_000_000;
/// First sequence of re-armed legs ([`VenueStops::arm_missing`]): apart from every entry's.
pub const REARM_SEQ_BASE: u64 = 1 << 44;

/// Where one leg (TP or SL) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegState {
    /// Nothing at the venue and nothing to do.
    Idle,
    /// Placement due at `due_ns`.
    PlaceDue,
    /// Placement on the wire.
    Placing,
    /// Open at the venue.
    Active,
    /// Cancel due at `due_ns`.
    CancelDue,
    /// Cancel on the wire.
    Cancelling,
}

/// One conditional order.
#[derive(Clone, Copy, Debug)]
struct Leg {
    state: LegState,
    /// Entry sequence in its client algo id.
    seq: u64,
    trigger: Decimal,
    attempts: u32,
    due_ns: u64,
    /// Cancel it as soon as its placement is answered (disarmed meanwhile).
    cancel_after: bool,
    /// The venue's `algoId` once known (0: cancel by client algo id).
    algo_id: u64,
}

const IDLE: Leg = Leg {
    state: LegState::Idle,
    seq: 0,
    trigger: Decimal::ZERO,
    attempts: 0,
    due_ns: 0,
    cancel_after: false,
    algo_id: 0,
};

/// One symbol's legs: the current pair and the pair being replaced.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Side of the position the legs protect.
    side: Side,
    cur: [Leg; 2],
    old: [Leg; 2],
}

/// Counters (one writer: the execution thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StopCounters {
    /// Legs the venue accepted.
    pub placed: u64,
    /// Legs cancelled (or found gone when cancelled).
    pub cancelled: u64,
    /// Placements retried after a transient failure.
    pub retries: u64,
    /// Legs that could not be placed.
    pub failed: u64,
    /// Positions closed by the engine because a stop could not be placed.
    pub unprotected_closes: u64,
    /// Venue-side stop fills booked.
    pub venue_fills: u64,
}

/// What a reply did that the executor must act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopEvent {
    /// Nothing.
    None,
    /// `symbol`'s leg could not be placed (venue `code`, 0 = no answer): close it.
    Unprotected {
        /// Symbol.
        symbol: SymbolId,
        /// Venue error code of the last refusal (0: no answer).
        code: i64,
    },
}

/// A request to send: leg `kind` of the entry `seq` on `symbol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopRequest {
    /// Symbol.
    pub symbol: SymbolId,
    /// Side of the position protected.
    pub position_side: Side,
    /// TP or SL.
    pub kind: ExitKind,
    /// Entry sequence (client algo id).
    pub seq: u64,
    /// Trigger price.
    pub trigger: Decimal,
    /// Placement (else cancel).
    pub place: bool,
    /// The venue's `algoId` (cancel by it when non-zero, else by client algo id).
    pub algo_id: u64,
    /// Transport tag.
    pub tag: u64,
}

/// Every symbol's venue-side stops.
#[derive(Debug)]
pub struct VenueStops {
    slots: Vec<Slot>,
    /// Trigger price source (`workingType`).
    pub trigger_by: TriggerBy,
    counters: StopCounters,
    /// Symbols whose leg failed, with the venue code, not yet taken by the executor.
    unprotected: Vec<(SymbolId, i64)>,
    /// Calls of [`Self::arm_missing`] so far.
    rearms: u64,
}

fn kind_of(leg: usize) -> ExitKind {
    if leg == 0 {
        ExitKind::TakeProfit
    } else {
        ExitKind::StopLoss
    }
}

fn leg_of(kind: ExitKind) -> usize {
    match kind {
        ExitKind::TakeProfit => 0,
        ExitKind::StopLoss => 1,
    }
}

/// The transport tag of leg `leg` of entry `seq`.
pub fn tag_of(seq: u64, leg: usize) -> u64 {
    STOP_TAG | (seq << 1) | leg as u64
}

impl VenueStops {
    /// No stops yet for `symbols` symbols; mark-price triggers.
    pub fn new(symbols: usize) -> Self {
        let slot = Slot {
            side: Side::Buy,
            cur: [IDLE; 2],
            old: [IDLE; 2],
        };
        Self {
            slots: vec![slot; symbols],
            trigger_by: TriggerBy::MarkPrice,
            counters: StopCounters::default(),
            unprotected: Vec::with_capacity(symbols),
            rearms: 0,
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> StopCounters {
        self.counters
    }

    /// Whether a symbol waits for its unprotected position to be closed.
    pub fn has_unprotected(&self) -> bool {
        !self.unprotected.is_empty()
    }

    /// The next symbol whose stop could not be placed, with the venue's last code.
    pub fn take_unprotected(&mut self) -> Option<(SymbolId, i64)> {
        self.unprotected.pop()
    }

    /// Puts back a symbol whose close could not be sent yet (no room): tried again next poll.
    pub fn requeue_unprotected(&mut self, symbol: SymbolId, code: i64) {
        self.unprotected.push((symbol, code));
    }

    /// A reference price for closing `symbol`: its stop-loss level, else its take-profit.
    pub fn reference(&self, symbol: SymbolId) -> Decimal {
        let s = &self.slots[symbol.index()];
        if s.cur[1].trigger.is_zero() {
            s.cur[0].trigger
        } else {
            s.cur[1].trigger
        }
    }

    /// Counts an engine close of an unprotected position.
    pub fn count_unprotected_close(&mut self) {
        self.counters.unprotected_closes += 1;
    }

    /// Counts a venue-side stop fill booked.
    pub fn count_venue_fill(&mut self) {
        self.counters.venue_fills += 1;
    }

    /// Whether any leg has a request due or on the wire.
    pub fn busy(&self) -> bool {
        self.in_flight() > 0
    }

    /// The states of the legs in flight (diagnostics).
    pub fn leg_states(&self) -> Vec<LegState> {
        self.slots
            .iter()
            .flat_map(|s| s.cur.iter().chain(s.old.iter()))
            .map(|l| l.state)
            .filter(|st| !matches!(st, LegState::Idle | LegState::Active))
            .collect()
    }

    /// Legs with a request due or on the wire (the executor counts them in flight, so its
    /// callers keep polling until they are answered).
    pub fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .flat_map(|s| s.cur.iter().chain(s.old.iter()))
            .filter(|l| !matches!(l.state, LegState::Idle | LegState::Active))
            .count()
    }

    /// Whether `symbol` has its legs open at the venue (every level it was armed with).
    pub fn protected(&self, symbol: SymbolId) -> bool {
        let s = &self.slots[symbol.index()];
        s.cur.iter().any(|l| l.state == LegState::Active)
            && s.cur
                .iter()
                .all(|l| matches!(l.state, LegState::Idle | LegState::Active))
    }

    /// Arms `symbol` with the exits `(tp, sl)` of entry `seq` (position side `side`), due at
    /// `now_ns`; legs of an earlier entry are cancelled.
    pub fn arm(
        &mut self,
        symbol: SymbolId,
        seq: u64,
        side: Side,
        (tp, sl): (Option<Decimal>, Option<Decimal>),
        now_ns: u64,
    ) {
        self.disarm(symbol, now_ns);
        let s = &mut self.slots[symbol.index()];
        // The legs being cancelled move aside (a third pair in a row is not kept: its
        // cancels are already on their way or it was idle).
        for k in 0..2 {
            if s.cur[k].state != LegState::Idle {
                s.old[k] = s.cur[k];
            }
        }
        s.side = side;
        for (k, level) in [tp, sl].into_iter().enumerate() {
            s.cur[k] = match level {
                Some(trigger) => Leg {
                    state: LegState::PlaceDue,
                    seq,
                    trigger,
                    due_ns: now_ns,
                    ..IDLE
                },
                None => IDLE,
            };
        }
    }

    /// Adopts an open venue stop found at start-up: leg `kind` of entry `seq` (its `algoId`),
    /// protecting `symbol`'s position on `side`, open at `trigger`.
    pub fn adopt(
        &mut self,
        symbol: SymbolId,
        (seq, kind, algo_id): (u64, ExitKind, u64),
        side: Side,
        trigger: Decimal,
    ) {
        let s = &mut self.slots[symbol.index()];
        s.side = side;
        s.cur[leg_of(kind)] = Leg {
            state: LegState::Active,
            seq,
            trigger,
            algo_id,
            ..IDLE
        };
    }

    /// Arms the legs of `symbol` that nothing holds (start-up re-protection after
    /// [`Self::adopt`], a reconciliation that found an entry filled): each level of `(tp, sl)`
    /// whose leg is idle is due at `now_ns`, protecting a position on `side`, under a sequence
    /// of its own ([`REARM_SEQ_BASE`]` + rearm << 16 + symbol`, a fresh client algo id every
    /// time). Returns the legs armed.
    pub fn arm_missing(
        &mut self,
        symbol: SymbolId,
        side: Side,
        (tp, sl): (Option<Decimal>, Option<Decimal>),
        now_ns: u64,
    ) -> usize {
        self.rearms += 1;
        let seq = REARM_SEQ_BASE + (self.rearms << 16) + symbol.index() as u64;
        let s = &mut self.slots[symbol.index()];
        s.side = side;
        let mut armed = 0;
        for (k, level) in [tp, sl].into_iter().enumerate() {
            if let (Some(trigger), LegState::Idle) = (level, s.cur[k].state) {
                s.cur[k] = Leg {
                    state: LegState::PlaceDue,
                    seq,
                    trigger,
                    due_ns: now_ns,
                    ..IDLE
                };
                armed += 1;
            }
        }
        armed
    }

    /// Cancels `symbol`'s current legs (the position is flat in the engine's book).
    pub fn disarm(&mut self, symbol: SymbolId, now_ns: u64) {
        for l in self.slots[symbol.index()].cur.iter_mut() {
            match l.state {
                LegState::PlaceDue => *l = IDLE,
                LegState::Placing => l.cancel_after = true,
                LegState::Active => {
                    l.state = LegState::CancelDue;
                    l.due_ns = now_ns;
                }
                _ => {}
            }
        }
    }

    /// The legs of `symbol` as `(set, leg)` pairs: set 0 the current pair, 1 the replaced.
    fn leg_mut(&mut self, symbol: usize, set: usize, leg: usize) -> &mut Leg {
        let s = &mut self.slots[symbol];
        if set == 0 {
            &mut s.cur[leg]
        } else {
            &mut s.old[leg]
        }
    }

    /// The next request due at `now_ns`, marked on the wire (call [`Self::unsent`] if it could
    /// not be sent).
    pub fn next_due(&mut self, now_ns: u64) -> Option<StopRequest> {
        for i in 0..self.slots.len() {
            for set in 0..2 {
                for leg in 0..2 {
                    let side = self.slots[i].side;
                    let l = self.leg_mut(i, set, leg);
                    let place = match l.state {
                        LegState::PlaceDue => true,
                        LegState::CancelDue => false,
                        _ => continue,
                    };
                    if l.due_ns > now_ns {
                        continue;
                    }
                    l.state = if place {
                        LegState::Placing
                    } else {
                        LegState::Cancelling
                    };
                    l.attempts += u32::from(place);
                    return Some(StopRequest {
                        symbol: SymbolId(i as u16),
                        position_side: side,
                        kind: kind_of(leg),
                        seq: l.seq,
                        trigger: l.trigger,
                        place,
                        algo_id: l.algo_id,
                        tag: tag_of(l.seq, leg),
                    });
                }
            }
        }
        None
    }

    /// The leg a tag names: `(symbol, set, leg)`.
    fn find(&self, tag: u64) -> Option<(usize, usize, usize)> {
        let (seq, leg) = ((tag & !STOP_TAG) >> 1, (tag & 1) as usize);
        self.slots.iter().enumerate().find_map(|(i, s)| {
            [&s.cur, &s.old]
                .iter()
                .position(|p| p[leg].seq == seq && p[leg].state != LegState::Idle)
                .map(|set| (i, set, leg))
        })
    }

    /// Request `r` never left the process (its lane was full): due again after [`RETRY_NS`],
    /// without using one of its attempts.
    pub fn unsent(&mut self, r: &StopRequest, now_ns: u64) {
        let Some((i, set, leg)) = self.find(r.tag) else {
            return;
        };
        let l = self.leg_mut(i, set, leg);
        match l.state {
            LegState::Placing => {
                l.state = LegState::PlaceDue;
                l.attempts = l.attempts.saturating_sub(1);
            }
            LegState::Cancelling => l.state = LegState::CancelDue,
            _ => return,
        }
        l.due_ns = now_ns + RETRY_NS;
    }

    /// Applies the reply to request `tag` (`AlgoReply::Unknown` also for a transport failure);
    /// `kind_of_code` classifies venue error codes.
    pub fn on_reply(
        &mut self,
        tag: u64,
        reply: AlgoReply,
        kind_of_code: impl Fn(i64) -> ErrorKind,
        now_ns: u64,
    ) -> StopEvent {
        let Some((i, set, leg)) = self.find(tag) else {
            return StopEvent::None;
        };
        let c = &mut self.counters;
        let l = match set {
            0 => &mut self.slots[i].cur[leg],
            _ => &mut self.slots[i].old[leg],
        };
        match l.state {
            LegState::Placing => {
                let ev = place_reply(l, c, reply, kind_of_code, now_ns, SymbolId(i as u16));
                if let StopEvent::Unprotected { symbol, code } = ev {
                    if !self.unprotected.iter().any(|u| u.0 == symbol) {
                        self.unprotected.push((symbol, code));
                    }
                }
                ev
            }
            LegState::Cancelling => {
                match reply {
                    AlgoReply::Unknown => {
                        l.state = LegState::CancelDue;
                        l.due_ns = now_ns + RETRY_NS;
                    }
                    // Cancelled, already gone (-2011 / -2013) or triggered: nothing is left
                    // open (a refusal for another reason is not retried blindly).
                    _ => {
                        c.cancelled += 1;
                        *l = IDLE;
                    }
                }
                StopEvent::None
            }
            _ => StopEvent::None,
        }
    }
}

/// Applies a placement reply to leg `l`.
fn place_reply(
    l: &mut Leg,
    c: &mut StopCounters,
    reply: AlgoReply,
    kind_of_code: impl Fn(i64) -> ErrorKind,
    now_ns: u64,
    symbol: SymbolId,
) -> StopEvent {
    let (retry, code) = match reply {
        AlgoReply::Working { algo_id } | AlgoReply::Triggered { algo_id } => {
            c.placed += 1;
            l.algo_id = algo_id;
            l.state = LegState::Active;
            if l.cancel_after {
                l.cancel_after = false;
                l.state = LegState::CancelDue;
                l.due_ns = now_ns;
            }
            return StopEvent::None;
        }
        AlgoReply::Error { code } => match kind_of_code(code) {
            ErrorKind::DuplicateClientId => {
                return place_reply(
                    l,
                    c,
                    AlgoReply::Working { algo_id: 0 },
                    kind_of_code,
                    now_ns,
                    symbol,
                )
            }
            ErrorKind::RateLimited | ErrorKind::UnknownStatus | ErrorKind::Timestamp => {
                (true, code)
            }
            _ => (false, code),
        },
        AlgoReply::Closed | AlgoReply::Unknown => (true, 0),
    };
    if l.cancel_after {
        // Disarmed meanwhile: nothing to protect any more (a copy that did reach the venue
        // is found by the cancel).
        l.state = LegState::CancelDue;
        l.cancel_after = false;
        l.due_ns = now_ns;
        return StopEvent::None;
    }
    if retry && l.attempts < MAX_ATTEMPTS {
        c.retries += 1;
        l.state = LegState::PlaceDue;
        l.due_ns = now_ns + RETRY_NS;
        return StopEvent::None;
    }
    c.failed += 1;
    // A copy may still have reached the venue: cancel it by its client id.
    l.state = LegState::CancelDue;
    l.due_ns = now_ns;
    StopEvent::Unprotected { symbol, code }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::binance::error::binance_kind;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn arm_places_both_legs_at_once_and_disarm_cancels_them() {
        let mut st = VenueStops::new(2);
        st.arm(
            SymbolId(1),
            7,
            Side::Buy,
            (Some(d("62000")), Some(d("61000"))),
            5,
        );
        let a = st.next_due(5).unwrap();
        let b = st.next_due(5).unwrap();
        assert!(st.next_due(5).is_none());
        assert_eq!(
            (a.kind, a.place, a.trigger),
            (ExitKind::TakeProfit, true, d("62000"))
        );
        assert_eq!(
            (b.kind, b.seq, b.symbol),
            (ExitKind::StopLoss, 7, SymbolId(1))
        );
        let w = AlgoReply::Working { algo_id: 1 };
        st.on_reply(a.tag, w, binance_kind, 6);
        assert!(!st.protected(SymbolId(1)), "one leg still on the wire");
        st.on_reply(b.tag, w, binance_kind, 6);
        assert!(st.protected(SymbolId(1)));
        assert!(!st.busy());
        st.disarm(SymbolId(1), 9);
        let c = st.next_due(9).unwrap();
        assert!(!c.place);
        st.on_reply(c.tag, AlgoReply::Error { code: -2011 }, binance_kind, 9);
        let c2 = st.next_due(9).unwrap();
        st.on_reply(c2.tag, AlgoReply::Closed, binance_kind, 9);
        assert!(!st.busy());
        assert_eq!(st.counters().cancelled, 2);
    }

    #[test]
    fn transient_failures_retry_and_refusals_fail_the_position() {
        let mut st = VenueStops::new(1);
        st.arm(SymbolId(0), 3, Side::Sell, (None, Some(d("100"))), 0);
        let r = st.next_due(0).unwrap();
        // Rate limited: retried after the delay, not before.
        assert_eq!(
            st.on_reply(r.tag, AlgoReply::Error { code: -1003 }, binance_kind, 0),
            StopEvent::None
        );
        assert!(st.next_due(RETRY_NS - 1).is_none());
        let r = st.next_due(RETRY_NS).unwrap();
        assert!(r.place);
        // Would immediately trigger: not retried; the position is unprotected.
        let ev = st.on_reply(
            r.tag,
            AlgoReply::Error { code: -2021 },
            binance_kind,
            RETRY_NS,
        );
        assert_eq!(
            ev,
            StopEvent::Unprotected {
                symbol: SymbolId(0),
                code: -2021
            }
        );
        assert_eq!(st.counters().retries, 1);
        assert_eq!(st.counters().failed, 1);
        // Its client id is cancelled in case a copy reached the venue.
        assert!(!st.next_due(RETRY_NS).unwrap().place);
    }

    #[test]
    fn a_request_that_never_left_is_due_again_without_using_an_attempt() {
        let mut st = VenueStops::new(1);
        st.arm(SymbolId(0), 3, Side::Buy, (Some(d("100")), None), 0);
        for k in 0..2 * MAX_ATTEMPTS as u64 {
            let r = st.next_due(k * RETRY_NS).unwrap();
            st.unsent(&r, k * RETRY_NS);
            assert!(st.next_due(k * RETRY_NS).is_none());
        }
        let r = st.next_due(2 * MAX_ATTEMPTS as u64 * RETRY_NS).unwrap();
        st.on_reply(r.tag, AlgoReply::Working { algo_id: 9 }, binance_kind, 0);
        assert!(st.protected(SymbolId(0)));
        assert_eq!(st.counters().failed, 0);
    }

    #[test]
    fn no_answer_is_retried_up_to_the_budget() {
        let mut st = VenueStops::new(1);
        st.arm(SymbolId(0), 3, Side::Buy, (Some(d("100")), None), 0);
        let mut now = 0;
        for _ in 1..MAX_ATTEMPTS {
            let r = st.next_due(now).unwrap();
            assert_eq!(
                st.on_reply(r.tag, AlgoReply::Unknown, binance_kind, now),
                StopEvent::None
            );
            now += RETRY_NS;
        }
        let r = st.next_due(now).unwrap();
        assert_eq!(
            st.on_reply(r.tag, AlgoReply::Unknown, binance_kind, now),
            StopEvent::Unprotected {
                symbol: SymbolId(0),
                code: 0
            }
        );
    }

    #[test]
    fn arm_missing_places_only_the_legs_nothing_holds() {
        let mut st = VenueStops::new(1);
        st.adopt(
            SymbolId(0),
            (4, ExitKind::StopLoss, 77),
            Side::Sell,
            d("105"),
        );
        let n = st.arm_missing(SymbolId(0), Side::Sell, (Some(d("90")), Some(d("106"))), 3);
        assert_eq!(n, 1, "the adopted stop-loss stays");
        let r = st.next_due(3).unwrap();
        assert_eq!(
            (r.kind, r.seq, r.trigger, r.position_side, r.place),
            (
                ExitKind::TakeProfit,
                REARM_SEQ_BASE + (1 << 16),
                d("90"),
                Side::Sell,
                true
            )
        );
        assert!(st.next_due(3).is_none());
        st.on_reply(r.tag, AlgoReply::Working { algo_id: 5 }, binance_kind, 4);
        assert!(st.protected(SymbolId(0)));
        assert_eq!(st.reference(SymbolId(0)), d("105"));
    }

    #[test]
    fn rearm_replaces_the_earlier_legs() {
        let mut st = VenueStops::new(1);
        st.arm(
            SymbolId(0),
            1,
            Side::Buy,
            (Some(d("110")), Some(d("90"))),
            0,
        );
        for _ in 0..2 {
            let r = st.next_due(0).unwrap();
            st.on_reply(r.tag, AlgoReply::Working { algo_id: 1 }, binance_kind, 0);
        }
        st.arm(
            SymbolId(0),
            2,
            Side::Buy,
            (Some(d("120")), Some(d("95"))),
            1,
        );
        let mut reqs = Vec::new();
        while let Some(r) = st.next_due(1) {
            reqs.push((r.seq, r.place, r.kind));
        }
        reqs.sort_by_key(|r| (r.0, r.1));
        assert_eq!(
            reqs,
            vec![
                (1, false, ExitKind::TakeProfit),
                (1, false, ExitKind::StopLoss),
                (2, true, ExitKind::TakeProfit),
                (2, true, ExitKind::StopLoss),
            ]
        );
    }
}
