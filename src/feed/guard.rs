//! The admission of one parsed event on the network thread: de-duplication, validation and
//! per-symbol liveness, in the order that keeps a bad trade from blinding a symbol.
//!
//! WS trade: [`TradeDedup::judge`] (a repeat is dropped and counted) → [`Validator::check_trade`]
//! (a rejection is counted and moves neither the de-duplication nor the ordering state) →
//! [`TradeDedup::commit`] → [`Liveness::on_trade_accepted`]. A dropped or rejected trade only
//! runs the liveness rejection clock ([`Liveness::on_trade_rejected`]): a symbol whose every
//! trade is dropped for `stale_after` goes stale (paused, REST fallback, warning), and its
//! de-duplication and validation state restart once ([`Liveness::take_reset`]), so a state
//! poisoned by a bad trade heals at the next good one.
//! REST fallback trades are de-duplicated only (they never make a symbol live).

use super::dedupe::{DedupeVerdict, TradeDedup};
use super::liveness::{Liveness, Transition};
use super::protocol::DedupMode;
use super::validate::{Reject, ValidationConfig, Validator};
use crate::telemetry::{Counter, CounterSet};
use crate::types::event::MarketEvent;
use crate::types::{SymbolId, Tick};

/// The counter of a validation rejection.
pub fn reject_counter(r: Reject) -> Counter {
    match r {
        Reject::FutureTimestamp => Counter::RejectFutureTs,
        Reject::OutOfOrder => Counter::RejectOutOfOrder,
        Reject::Duplicate => Counter::RejectDuplicate,
        Reject::Spike => Counter::RejectSpike,
    }
}

/// De-duplication and validation state of one feed (network thread; no allocation).
#[derive(Clone, Debug)]
pub struct FeedGuard {
    dedup: TradeDedup,
    validator: Validator,
}

impl FeedGuard {
    /// For `n_symbols` symbols of a venue with `mode` trade ids.
    pub fn new(mode: DedupMode, cfg: ValidationConfig, n_symbols: usize) -> Self {
        let validator = Validator::new(cfg, n_symbols);
        Self {
            dedup: TradeDedup::new(mode, n_symbols),
            validator: match mode {
                DedupMode::SequentialIds => validator.with_id_order(),
                DedupMode::TimeAndId => validator,
            },
        }
    }

    /// Admits (true: hand it on) or drops a WS event received at `recv_ns` (monotonic) /
    /// `wall_ms` (Unix ms), counting drops and noting liveness transitions in `out`.
    #[inline]
    pub fn admit_ws(
        &mut self,
        ev: &MarketEvent,
        recv_ns: u64,
        wall_ms: u64,
        live: &mut Liveness,
        counts: &mut CounterSet,
        out: &mut Vec<Transition>,
    ) -> bool {
        match ev {
            MarketEvent::Trade(t) => {
                if live.take_reset(t.symbol) {
                    self.dedup.reseed(t.symbol);
                    self.validator.reset_symbol(t.symbol);
                }
                let verdict = self.dedup.judge(t, true);
                if !verdict.is_new() {
                    // Proof of life (a backlog after a stall), but it runs the rejection
                    // clock: a stream of nothing but repeats blinds the symbol.
                    counts.add(Counter::DedupDropped, 1);
                    live.on_trade_rejected(t.symbol, recv_ns);
                    out.extend(live.on_ws_message(t.symbol, recv_ns));
                    return false;
                }
                if let Err(r) = self.validator.check_trade(t, wall_ms) {
                    counts.add(reject_counter(r), 1);
                    live.on_trade_rejected(t.symbol, recv_ns);
                    return false;
                }
                self.commit(t, verdict, wall_ms, counts);
                out.extend(live.on_trade_accepted(t.symbol, recv_ns));
                true
            }
            MarketEvent::Quote(q) => {
                out.extend(live.on_ws_message(q.symbol, recv_ns));
                match self.validator.check_quote(q, wall_ms) {
                    Ok(()) => true,
                    Err(r) => {
                        counts.add(reject_counter(r), 1);
                        false
                    }
                }
            }
        }
    }

    /// Admits (true) or drops a REST fallback trade (de-duplication only); `wall_ms` = now.
    #[inline]
    pub fn admit_rest(&mut self, t: &Tick, wall_ms: u64, counts: &mut CounterSet) -> bool {
        let verdict = self.dedup.judge(t, false);
        if !verdict.is_new() {
            counts.add(Counter::DedupDropped, 1);
            return false;
        }
        self.commit(t, verdict, wall_ms, counts);
        true
    }

    /// `s` was (re)subscribed at run time: its de-duplication and validation state restart.
    pub fn reset_symbol(&mut self, s: SymbolId) {
        self.dedup.reset(&[s]);
        self.validator.reset_symbol(s);
    }

    /// The link carrying `symbols` (re)connected: their last trade ids are forgotten.
    pub fn on_link_up(&mut self, symbols: &[SymbolId]) {
        self.dedup.reset(symbols);
    }

    fn commit(&mut self, t: &Tick, verdict: DedupeVerdict, wall_ms: u64, counts: &mut CounterSet) {
        self.dedup.commit(t, verdict, wall_ms);
        match verdict {
            DedupeVerdict::New { missed } => counts.add(Counter::FeedMissedTrades, missed),
            DedupeVerdict::Gap => counts.add(Counter::DedupResets, 1),
            DedupeVerdict::Repeat => {}
        }
    }
}
