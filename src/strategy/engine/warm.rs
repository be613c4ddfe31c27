//! Keeping the entry decision warm while idle: the planning of a shadow entry (exit levels in
//! ticks, sizing, both risk-gate checks: correlation pairs and the VaR bound, or its pass over
//! the returns window near the budget) on a symbol's last tick, thrown away. The caller
//! plans both sides every round, the symbol's likeliest side last
//! ([`crate::strategy::ComputeStage::warm_idle`]): a short's levels (take-profit below, stop
//! above) and its gate checks take other branches than a long's, and a warm-up of longs only
//! left a first short entry planning cold (about 11 µs against 2 µs on the default paced run).
//! The fused hot loop runs it beside the order path's warm-up
//! ([`crate::exec::ExecStage::warm_idle`]), so an entry seconds after the last one finds that
//! code and data cached. Read-only: nothing is counted or kept, so every
//! decision is the same with and without it.

use std::hint::black_box;

use super::{entry_levels_and_size, Engine};
use crate::types::Side;

impl Engine {
    /// Plans a shadow entry on the `side` of symbol `i` at its last tick state (a buy opens a
    /// long, a sell a short), as an entry signal on that tick would, and discards the plan.
    /// Returns whether the symbol had a tick to plan on. `&self`: no state changes; no
    /// allocation, no system call.
    pub fn warm(&self, i: usize, side: Side) -> bool {
        debug_assert!(self.pending.is_none(), "book_pending first");
        let (Some(slot), Some(st)) = (self.slots.get(i), self.lasts.get(i)) else {
            return false;
        };
        if !(st.price.is_finite() && st.price > 0.0) {
            return false;
        }
        let ind = slot.layers.indicators.values();
        let vol = if ind.ready && ind.atr > 0.0 {
            ind.atr
        } else {
            st.layers.sigma * self.params.signal.horizon_s.sqrt() * st.price
        };
        if !vol.is_finite() {
            return false;
        }
        let planned = entry_levels_and_size(
            &self.params.risk,
            &self.gate,
            &self.trade_stats,
            &slot.instrument,
            slot.venue_max_leverage,
            vol,
            st,
            (
                i,
                if side == Side::Buy { 1 } else { -1 },
                side,
                slot.hot.working.abs(),
            ),
        );
        black_box(planned.is_ok());
        true
    }
}
