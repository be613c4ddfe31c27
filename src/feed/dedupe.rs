//! Exactly-once, in-order trade delivery per symbol across reconnects, re-subscriptions and
//! the REST fallback: every trade source (each WS connection, REST polls) goes through one
//! [`TradeDedup`] on the network thread before a tick is handed on.
//!
//! Two steps, so that a trade the validator rejects never moves this state:
//! [`TradeDedup::judge`] (no state change) before validation, [`TradeDedup::commit`] after.
//!
//! Rule (per symbol, see [`DedupMode`]): a trade is delivered iff it is strictly after the last
//! delivered one in the venue's trade order; anything at or before it is a repeat (counted,
//! dropped). With sequential ids (Binance `t` / `a`) the order is the id; with opaque ids
//! (Bybit) it is the trade time, plus up to [`RECENT_IDS`] ids delivered at the reference time.
//!
//! The time reference of a symbol is `max(min(T, wall))` over delivered trades (`T` the
//! venue's trade time, `wall` our clock at receipt): a trade stamped ahead of our clock (within
//! the validator's skew) cannot push genuine later trades behind the reference.
//!
//! Resets:
//! - on reconnect ([`TradeDedup::reset`]): the last id is forgotten, the time reference and
//!   the ids delivered at it stay as a floor (a backlog or REST overlap older than what was
//!   delivered is still a repeat); the next trade after the floor restarts the ids;
//! - on a detected gap ([`DedupeVerdict::Gap`], nothing counted as missed): an id jump of more than
//!   [`MAX_ID_JUMP`], or an id at or below the last one on a trade strictly later than the time
//!   reference (ids and times disagree: the remembered id cannot be the venue's);
//! - for a blinded symbol ([`TradeDedup::reseed`]): the next WS trade restarts everything
//!   (the state itself may be what is wrong); REST trades meanwhile use the old state.

use super::protocol::DedupMode;
use crate::types::Tick;

/// Ids remembered at the time reference; more trades in one millisecond than this may let a
/// repeat through (the validator's id window is the second line).
pub const RECENT_IDS: usize = 64;

/// Largest forward id jump taken as missed trades (sequential ids); a larger jump is a detected
/// gap: state reset, nothing counted as missed. 10⁷ trades is days of Binance BTCUSDT.
pub const MAX_ID_JUMP: u64 = 10_000_000;

#[derive(Clone, Debug)]
struct PerSymbol {
    /// A trade was delivered (`last_id` / `recent` valid).
    seen: bool,
    /// The next WS trade restarts the state ([`TradeDedup::reseed`]).
    reseed: bool,
    last_id: u64,
    /// Time reference, Unix ms (0: none).
    ref_ts: u64,
    /// Ids delivered at `ref_ts` (ring; `n_recent` counts all of them).
    recent: [u64; RECENT_IDS],
    n_recent: usize,
}

impl Default for PerSymbol {
    fn default() -> Self {
        Self {
            seen: false,
            reseed: false,
            last_id: 0,
            ref_ts: 0,
            recent: [0; RECENT_IDS],
            n_recent: 0,
        }
    }
}

impl PerSymbol {
    /// Delivered before at the reference time (or older than it).
    fn seen_by_time(&self, t: &Tick) -> bool {
        t.exch_ts_ms < self.ref_ts
            || (t.exch_ts_ms == self.ref_ts
                && self.recent[..self.n_recent.min(RECENT_IDS)].contains(&t.trade_id))
    }
}

/// The judgement on one trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupeVerdict {
    /// New: deliver it. `missed` = trades skipped before it (sequential ids only).
    New {
        /// Ids skipped between the previous delivered trade and this one.
        missed: u64,
    },
    /// New, after a detected gap: the symbol's id memory restarts at this trade on commit.
    Gap,
    /// Already delivered (or older than what was delivered): drop it.
    Repeat,
}

impl DedupeVerdict {
    /// Whether the trade is to be delivered (after validation).
    pub fn is_new(self) -> bool {
        self != DedupeVerdict::Repeat
    }
}

/// Per-symbol filter; fixed memory, no allocation after construction.
#[derive(Clone, Debug)]
pub struct TradeDedup {
    mode: DedupMode,
    per: Vec<PerSymbol>,
}

impl TradeDedup {
    /// A filter for `n_symbols` symbols.
    pub fn new(mode: DedupMode, n_symbols: usize) -> Self {
        Self {
            mode,
            per: vec![PerSymbol::default(); n_symbols],
        }
    }

    /// Judges `t` (from a WS stream when `from_ws`, else the REST fallback) against what was
    /// delivered; changes nothing.
    #[inline]
    pub fn judge(&self, t: &Tick, from_ws: bool) -> DedupeVerdict {
        let Some(s) = self.per.get(t.symbol.index()) else {
            return DedupeVerdict::Repeat;
        };
        if from_ws && s.reseed {
            return DedupeVerdict::Gap;
        }
        if !s.seen || self.mode == DedupMode::TimeAndId {
            return if s.seen_by_time(t) {
                DedupeVerdict::Repeat
            } else {
                DedupeVerdict::New { missed: 0 }
            };
        }
        match self.mode {
            DedupMode::SequentialIds => {
                if t.trade_id <= s.last_id {
                    if t.exch_ts_ms > s.ref_ts {
                        DedupeVerdict::Gap
                    } else {
                        DedupeVerdict::Repeat
                    }
                } else {
                    let missed = t.trade_id - s.last_id - 1;
                    if missed > MAX_ID_JUMP {
                        DedupeVerdict::Gap
                    } else {
                        DedupeVerdict::New { missed }
                    }
                }
            }
            DedupMode::TimeAndId => DedupeVerdict::New { missed: 0 },
        }
    }

    /// Records `t` (judged new, then accepted by validation; `wall_ms` = our Unix ms at receipt,
    /// 0 if unknown) as the last delivered trade of its symbol.
    #[inline]
    pub fn commit(&mut self, t: &Tick, verdict: DedupeVerdict, wall_ms: u64) {
        let Some(s) = self.per.get_mut(t.symbol.index()) else {
            return;
        };
        let ts = if wall_ms > 0 {
            t.exch_ts_ms.min(wall_ms)
        } else {
            t.exch_ts_ms
        };
        if verdict == DedupeVerdict::Gap {
            s.reseed = false;
        }
        if verdict == DedupeVerdict::Gap || ts > s.ref_ts {
            s.ref_ts = ts;
            s.n_recent = 0;
        }
        s.seen = true;
        s.last_id = t.trade_id;
        s.recent[s.n_recent % RECENT_IDS] = t.trade_id;
        s.n_recent = s.n_recent.saturating_add(1);
    }

    /// [`TradeDedup::judge`] then, when new, [`TradeDedup::commit`].
    #[inline]
    pub fn check(&mut self, t: &Tick, from_ws: bool, wall_ms: u64) -> DedupeVerdict {
        let v = self.judge(t, from_ws);
        if v.is_new() {
            self.commit(t, v, wall_ms);
        }
        v
    }

    /// Forgets the last id of each of `symbols` (reconnect); the time floor stays.
    pub fn reset(&mut self, symbols: &[crate::types::SymbolId]) {
        for s in symbols {
            if let Some(p) = self.per.get_mut(s.index()) {
                p.seen = false;
            }
        }
    }

    /// The next WS trade of `symbol` restarts its whole state (a blinded symbol).
    pub fn reseed(&mut self, symbol: crate::types::SymbolId) {
        if let Some(p) = self.per.get_mut(symbol.index()) {
            p.reseed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SymbolId;

    fn t(sym: u16, id: u64, ts: u64) -> Tick {
        Tick {
            symbol: SymbolId(sym),
            trade_id: id,
            exch_ts_ms: ts,
            ..Default::default()
        }
    }

    const NEW: DedupeVerdict = DedupeVerdict::New { missed: 0 };
    const REPEAT: DedupeVerdict = DedupeVerdict::Repeat;
    const GAP: DedupeVerdict = DedupeVerdict::Gap;

    /// Checks stream (WS) trades `(symbol, id, exchange ms, expected verdict)` in order.
    fn ws(d: &mut TradeDedup, steps: &[(u16, u64, u64, DedupeVerdict)]) {
        for (i, &(sym, id, ts, want)) in steps.iter().enumerate() {
            let got = d.check(&t(sym, id, ts), true, 0);
            assert_eq!(got, want, "step {i}: symbol {sym}, id {id}, {ts} ms");
        }
    }

    #[test]
    fn sequential_ids_pass_once_in_order_and_count_gaps() {
        let mut d = TradeDedup::new(DedupMode::SequentialIds, 2);
        ws(
            &mut d,
            &[
                (0, 100, 1, NEW),
                (0, 101, 1, NEW),
                (0, 101, 1, REPEAT),
                (0, 99, 1, REPEAT),
                (0, 105, 2, DedupeVerdict::New { missed: 3 }),
                // Symbols are independent.
                (1, 7, 1, NEW),
                // An unknown symbol.
                (9, 1, 1, REPEAT),
            ],
        );
    }

    #[test]
    fn time_and_id_handles_same_millisecond_batches() {
        let mut d = TradeDedup::new(DedupMode::TimeAndId, 1);
        // A Bybit batch: three trades in one ms, then the same batch again (resubscribe).
        ws(
            &mut d,
            &[
                (0, 11, 500, NEW),
                (0, 12, 500, NEW),
                (0, 13, 500, NEW),
                (0, 11, 500, REPEAT),
                (0, 12, 500, REPEAT),
                (0, 13, 500, REPEAT),
                (0, 14, 500, NEW),
                // Older than delivered.
                (0, 1, 499, REPEAT),
                (0, 11, 501, NEW),
                (0, 14, 500, REPEAT),
            ],
        );
    }

    #[test]
    fn judging_changes_nothing() {
        let mut d = TradeDedup::new(DedupMode::SequentialIds, 1);
        d.check(&t(0, 10, 5), true, 0);
        assert_eq!(d.judge(&t(0, u64::MAX, 5), true), GAP);
        // Not committed (e.g. rejected by validation): the next genuine trade is plain new.
        assert_eq!(d.judge(&t(0, 11, 5), true), NEW);
    }

    #[test]
    fn a_poisoned_id_heals_at_the_next_later_trade_without_counting_missed() {
        let mut d = TradeDedup::new(DedupMode::SequentialIds, 1);
        d.check(&t(0, 10, 5), true, 0);
        ws(
            &mut d,
            &[
                // No u64 wrap.
                (0, u64::MAX, 5, GAP),
                // Same ms: ambiguous.
                (0, 11, 5, REPEAT),
                // Later time, lower id.
                (0, 12, 6, GAP),
                (0, 13, 6, NEW),
                (0, 12, 6, REPEAT),
            ],
        );
    }

    #[test]
    fn after_a_reset_the_next_ws_trade_restarts_the_state() {
        let mut d = TradeDedup::new(DedupMode::SequentialIds, 1);
        // Poisoned: an id far ahead, stamped an hour after the stream.
        d.check(&t(0, 1_000, 50), true, 0);
        // Then blind.
        ws(
            &mut d,
            &[(0, u64::MAX, 3_600_050, GAP), (0, 1_001, 51, REPEAT)],
        );
        d.reseed(SymbolId(0));
        // REST copies are still judged by the old state until the stream speaks.
        assert_eq!(d.check(&t(0, 1_001, 51), false, 0), REPEAT);
        ws(&mut d, &[(0, 1_002, 52, GAP), (0, 1_003, 52, NEW)]);
        assert_eq!(d.check(&t(0, 1_002, 52), false, 0), REPEAT);
        ws(&mut d, &[(0, 1_005, 53, DedupeVerdict::New { missed: 1 })]);
    }

    #[test]
    fn reset_forgets_the_last_id_but_keeps_the_time_floor() {
        let mut d = TradeDedup::new(DedupMode::SequentialIds, 1);
        d.check(&t(0, 1_000, 50), true, 0);
        d.check(&t(0, 1_001, 50), true, 0);
        d.reset(&[SymbolId(0)]);
        ws(
            &mut d,
            &[
                // A backlog after the reconnect: older or already delivered at the floor.
                (0, 990, 49, REPEAT),
                (0, 1_001, 50, REPEAT),
                // The first trade after the floor restarts the ids, whatever the old last id.
                (0, 7, 51, NEW),
                (0, 9, 51, DedupeVerdict::New { missed: 1 }),
            ],
        );
    }

    #[test]
    fn a_trade_ahead_of_the_wall_clock_moves_the_reference_only_to_the_wall() {
        let mut d = TradeDedup::new(DedupMode::TimeAndId, 1);
        let wall = 1_000_000;
        assert!(d.check(&t(0, 1, wall + 4_000), true, wall).is_new());
        // Genuine trades of the next 4 s are after the reference (the wall at receipt).
        assert!(d.check(&t(0, 2, wall + 1), true, wall + 1).is_new());
        assert!(d.check(&t(0, 3, wall + 2_000), true, wall + 2_000).is_new());
        // (A repeat of the early trade itself is after the reference: the validator's id
        // window drops it.)
        assert_eq!(
            d.check(&t(0, 9, wall + 1_999), true, wall + 3_000),
            DedupeVerdict::Repeat
        );
    }
}
