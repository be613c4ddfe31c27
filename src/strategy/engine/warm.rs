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
//!
//! Before that, a tick runs its model step (derivatives, Kalman, layer windows, indicators, the
//! scalper's bars, the matrix case), which the entry shadow does not: after a quiet second that
//! code and the symbol's model data are cold too. [`Engine::warm_models`] runs the tick's own
//! out-of-line model step (`step_models`, `#[inline(never)]`) on a scratch copy of the symbol's
//! model state (allocated once with the engine, refreshed by plain copies), fed the symbol's
//! last tick 1 ms later; the copy reads the real state into the cache, the step writes only the
//! scratch.

use std::hint::black_box;

use super::{entry_levels_and_size, entry_violation, leader_moves, step_models, Engine, Hot};
use crate::model::layers::{LayerQuery, LayerState};
use crate::strategy::scalper::ScalperState;
use crate::strategy::TickState;
use crate::types::{Case, IntentFields, OrderIntent, Side, Tick};

/// Scratch model state of one symbol for [`Engine::warm_models`]: allocated once with the
/// engine, overwritten by plain copies (`Copy` types, no allocation) before every shadow step.
#[derive(Debug)]
pub(super) struct ModelShadow {
    hot: Hot,
    layers: LayerState,
    /// The symbol's scalper state, when the scalper is on.
    scalper: Option<ScalperState>,
}

impl ModelShadow {
    /// A shadow holding `hot`, `layers` and `scalper` (fresh states: every shadow step
    /// overwrites them with the symbol's own first).
    pub(super) fn new(hot: Hot, layers: LayerState, scalper: Option<ScalperState>) -> Box<Self> {
        Box::new(Self {
            hot,
            layers,
            scalper,
        })
    }
}

impl Engine {
    /// Runs one tick's model step (`step_models`: derivatives, Kalman, layer windows and
    /// indicators, the scalper's bars, the matrix case) on a scratch copy of symbol `i`'s model
    /// state, fed its last tick again 1 ms later (a `side` taker trade of one unit, so the flow
    /// window adds it), and throws the result away. The copy reads the symbol's model data
    /// into the cache and the step runs the one out-of-line copy of the code every tick runs;
    /// the engine's own state is not written (only the scratch, `ModelShadow`). Returns
    /// whether the symbol had a tick. No allocation, no system call.
    pub fn warm_models(&mut self, i: usize, side: Side) -> bool {
        let (Some(slot), Some(last)) = (self.slots.get(i), self.lasts.get(i)) else {
            return false;
        };
        if !(slot.hot.started && last.price.is_finite() && last.price > 0.0) {
            return false;
        }
        // 1 ms after the symbol's latest time: a step that advances time, never a reset.
        let ts = (slot.hot.kalman.last_ts_ms())
            .max(slot.hot.deriv.last_ts_ms())
            .max(last.ts_ms)
            + 1;
        let t = Tick {
            symbol: last.symbol,
            side,
            price: last.price,
            qty: 1.0,
            exch_ts_ms: ts,
            ..Tick::default()
        };
        black_box(self.warm_models_on(black_box(&t))).is_some()
    }

    /// The shadow model step of [`Engine::warm_models`] on the tick `t` of its symbol: the
    /// models (`TickState` before any decision field is filled) that `t` would give, computed
    /// on a scratch copy of the symbol's model state; `None` for an unknown symbol or a price
    /// without a finite logarithm. Nothing of the engine's own state changes.
    pub fn warm_models_on(&mut self, t: &Tick) -> Option<TickState> {
        let i = t.symbol.index();
        let slot = self.slots.get(i)?;
        let w = &mut *self.shadow;
        w.hot = slot.hot;
        w.layers = slot.layers;
        w.scalper = self.scalpers.get(i).copied();
        let mut st = TickState::default();
        let (m, _) = step_models(
            &self.params,
            &mut w.hot,
            &mut w.layers,
            w.scalper.as_mut(),
            t,
            &mut st,
        );
        m.map(|m| *m.st)
    }

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
                // As `decide_calculus`: only the drift layer reads it (the order's own drift
                // baseline is computed at its booking).
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
