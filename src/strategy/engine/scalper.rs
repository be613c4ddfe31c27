//! The scalper's side of a tick: feeding its bar state, and its decision
//! ([`crate::strategy::scalper`], combination rules in [`crate::strategy::choice`]).

use super::{flip_fallback, Decision, Gate, StrategyParams, TickCx, TickState};
use crate::model::layers::LayerState;
use crate::strategy::choice::Owner;
use crate::strategy::scalper::ScalperSink;
use crate::strategy::scalper::ScalperState;
use crate::types::Tick;

/// Feeds the trade `t` (log price `x`) to the layer windows and indicators; with the scalper
/// on, every bar the trade closes also goes to the scalper's state, with the flow imbalance
/// before the trade.
#[inline]
pub(super) fn update_layers(
    p: &StrategyParams,
    layers: &mut LayerState,
    scalper: Option<&mut ScalperState>,
    t: &Tick,
    x: f64,
) {
    let trade = (t.side.sign(), t.qty);
    if let Some(state) = scalper {
        let mut sink = ScalperSink {
            state,
            params: &p.scalper,
            flow: layers.flow.imbalance(),
        };
        layers.update_with(&p.layers, x, t.price, trade, t.exch_ts_ms, &mut sink);
    } else {
        layers.update_with(&p.layers, x, t.price, trade, t.exch_ts_ms, &mut ());
    }
}

impl TickCx<'_> {
    /// The scalper's decision: its last bar's signal, unless already used by an entry, wants
    /// that side (an opposite signal flips a scalper position); the feed-health pause and the
    /// cooldown apply. `alone`: no matrix decision was taken on this tick (`st` is the
    /// scalper's to fill even when it wants no change).
    #[inline]
    pub(super) fn decide_scalper(
        &mut self,
        st: &mut TickState,
        held: i8,
        alone: bool,
    ) -> Option<Decision> {
        let want = match self.scalper.as_deref() {
            Some(s) if s.signal().ready && !s.signal().consumed => s.signal().side,
            _ => 0,
        };
        if want == 0 || want == held {
            if alone {
                st.target = held;
                st.gate = Gate::NoChange;
            }
            return None;
        }
        self.stats.scalper_signals += 1;
        st.target = want;
        let mut target = want;
        if self.stale() {
            st.gate = Gate::Stale;
            target = flip_fallback(st, held, target)?;
        } else if !self.learned_allows(st) {
            self.stats.blocked_learned += 1;
            st.gate = Gate::Learned;
            target = flip_fallback(st, held, target)?;
        }
        self.after_cooldown(st, held, target, Owner::Scalper)
    }
}
