//! Keeping the entry decision warm while idle: a shadow of what a tick deciding an entry runs
//! after the models (the layer verdicts for the entry's side, exit levels in ticks, sizing, both
//! risk-gate checks: correlation pairs and the VaR bound, or its pass over the returns window
//! near the budget; the venue filters of the sum; the packed intent) on a symbol's last tick,
//! thrown away. The shadow calls the real decision's own out-of-line functions
//! (`LayerState::evaluate`, `entry_levels_and_size`, `Instrument::violation`,
//! `OrderIntent::new`, each `#[inline(never)]` so that fat LTO keeps one copy that both call),
//! so it warms the code a deciding tick runs, not a copy of it. The caller plans both sides
//! every round, the symbol's likeliest side last
//! ([`crate::strategy::ComputeStage::warm_idle`]): a short's levels (take-profit below, stop
//! above) and its gate checks take other branches than a long's, and a warm-up of longs only
//! left a first short entry planning cold (about 11 µs against 2 µs on the default paced run).
//! The fused hot loop runs it beside the order path's warm-up
//! ([`crate::exec::ExecStage::warm_idle`]), so an entry seconds after the last one finds that
//! code and data cached. Read-only: nothing is counted or kept (no position, risk state,
//! counter, sequence number or pending booking), so every decision is the same with and
//! without it.

use std::hint::black_box;

use super::{entry_levels_and_size, entry_violation, leader_moves, Engine};
use crate::model::layers::LayerQuery;
use crate::types::{Case, IntentFields, OrderIntent, Side};

impl Engine {
    /// Plans a shadow entry on the `side` of symbol `i` at its last tick state (a buy opens a
    /// long, a sell a short), as an entry signal on that tick would: the layers asked about the
    /// side (`decide_calculus`), levels, size and gate checks (`plan_entry`), the filters of
    /// `close + open` and the intent (`emit`), all discarded. Returns whether the symbol had a
    /// tick to plan on. `&self`: no state changes; no allocation, no system call.
    pub fn warm(&self, i: usize, side: Side) -> bool {
        debug_assert!(self.pending.is_none(), "book_pending first");
        let (Some(slot), Some(last)) = (self.slots.get(i), self.lasts.get(i)) else {
            return false;
        };
        if !(last.price.is_finite() && last.price > 0.0) {
            return false;
        }
        let target: i8 = if side == Side::Buy { 1 } else { -1 };
        let lp = &self.params.layers;
        let mut st = *last;
        st.layers = slot.layers.evaluate(
            lp,
            &LayerQuery {
                side: f64::from(target),
                trend_entry: matches!(st.case, Case::AcceleratingUp | Case::AcceleratingDown),
                x: st.price.ln(),
                v: st.velocity,
                drift: if lp.drift.enabled { st.drift() } else { 0.0 },
                leader_log_moves: leader_moves(lp, &self.slots, i),
            },
        );
        let ind = slot.layers.indicators.values();
        let vol = if ind.ready && ind.atr > 0.0 {
            ind.atr
        } else {
            st.layers.sigma * self.params.signal.horizon_s.sqrt() * st.price
        };
        if !vol.is_finite() {
            return false;
        }
        let (inst, close) = (&slot.instrument, slot.hot.working.abs());
        let planned = entry_levels_and_size(
            &self.params.risk,
            &self.gate,
            &self.trade_stats,
            inst,
            slot.venue_max_leverage,
            vol,
            &st,
            (i, target, side, close),
        );
        if let Ok((lv, open)) = planned {
            let qty = close + open;
            black_box(entry_violation(inst, close, open, qty, st.price));
            black_box(OrderIntent::new(IntentFields {
                symbol: st.symbol,
                side,
                qty,
                ref_price: st.price,
                reduce_only: false,
                case: st.case,
                client_seq: self.next_seq,
                tick_recv_ns: 0,
                decided_ns: 0,
                take_profit: Some(lv.take_profit),
                stop_loss: Some(lv.stop_loss),
            }));
        }
        true
    }
}
