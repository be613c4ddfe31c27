//! The compute stage: the strategy engine plus its timing and counters.

use rust_decimal::Decimal;

use crate::model::layers::Layer;
use crate::risk::BlockReason;
use crate::telemetry::{Clock, Counter, CounterSet, Stage, StageHistograms};
use crate::types::{ExecReport, OrderIntent, RejectReason, Tick};

use super::Engine;

/// Compute stage: the strategy engine plus its timing.
#[derive(Debug)]
pub struct ComputeStage {
    engine: Engine,
    clock: Clock,
}

impl ComputeStage {
    /// Wraps an engine.
    pub fn new(engine: Engine, clock: Clock) -> Self {
        Self { engine, clock }
    }

    /// Runs the models and the decision on `t`; `start_ns` is when compute got the tick.
    /// Records `compute`; stamps `decided_ns` on the intent.
    #[inline]
    pub fn on_tick(
        &mut self,
        t: &Tick,
        start_ns: u64,
        hists: &mut StageHistograms,
    ) -> Option<OrderIntent> {
        let intent = self.engine.on_tick(t);
        let end = self.clock.now_ns();
        hists.record(Stage::Compute, end.saturating_sub(start_ns));
        intent.map(|mut i| {
            i.decided_ns = end;
            i
        })
    }

    /// Applies an execution report to the positions.
    #[inline]
    pub fn on_report(&mut self, r: &ExecReport) {
        self.engine.on_report(r);
    }

    /// Writes this stage's counter totals.
    pub fn fill_counters(&self, c: &mut CounterSet) {
        let s = self.engine.stats();
        c.set(Counter::Signals, s.signals);
        c.set(Counter::Intents, s.intents);
        c.set(Counter::BlockedCooldown, s.blocked_cooldown);
        c.set(
            Counter::FilteredMinQty,
            s.filtered[RejectReason::BelowMinQty.index()],
        );
        c.set(
            Counter::FilteredMinNotional,
            s.filtered[RejectReason::BelowMinNotional.index()],
        );
        c.set(
            Counter::FilteredMaxQty,
            s.filtered[RejectReason::AboveMaxQty.index()],
        );
        c.set(Counter::BlockedSnr, s.blocked_snr);
        c.set(Counter::BlockedConfidence, s.blocked_confidence);
        for (layer, counter) in [
            (Layer::Ou, Counter::BlockedOu),
            (Layer::Drift, Counter::BlockedDrift),
            (Layer::Flow, Counter::BlockedFlow),
            (Layer::Cross, Counter::BlockedCross),
            (Layer::Regime, Counter::BlockedRegime),
            (Layer::TpFirst, Counter::BlockedTpFirst),
            (Layer::Indicators, Counter::BlockedIndicators),
        ] {
            c.set(counter, s.blocked_layers[layer.index()]);
        }
        c.set(Counter::ModelResets, s.resets);
        for r in BlockReason::ALL {
            c.set(r.counter(), s.risk_blocked[r.index()]);
        }
        c.set(Counter::DriftReduces, s.drift_reduces);
        c.set(Counter::DriftExits, s.drift_exits);
        c.set(Counter::ExitTakeProfit, s.exit_take_profit);
        c.set(Counter::ExitStopLoss, s.exit_stop_loss);
        c.set(Counter::EmergencyStops, s.emergency_stops);
        c.set(Counter::BlockedStale, s.blocked_stale);
    }

    /// Books the journal's realized PnL and fees into the risk gate (see
    /// [`Engine::restore_account`]).
    pub fn restore_account(&mut self, pnl: Decimal, fees: Decimal) {
        self.engine.restore_account(pnl, fees);
    }

    /// Refuses new entries on symbol index `symbol` (left unreconciled with the venue at
    /// start-up); exits still go out.
    pub fn set_unreconciled(&mut self, symbol: usize) {
        self.engine.set_unreconciled(symbol, true);
    }

    /// The engine (positions, stats), e.g. for the final report.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Gives the engine back.
    pub fn into_engine(self) -> Engine {
        self.engine
    }
}
