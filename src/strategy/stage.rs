//! The compute stage: the strategy engine plus its timing and counters, and the operator's
//! command ring: [`ComputeStage::poll_commands`] runs between ticks in both topologies (also
//! while no tick arrives). An empty ring costs one atomic load; a check applies at most
//! [`COMMANDS_PER_CHECK`] commands; nothing locks, allocates or makes a syscall (the wall clock
//! is read through the vDSO only when a circuit breaker is applied).

use rust_decimal::Decimal;

use crate::model::layers::Layer;
use crate::ring::Consumer;
use crate::risk::BlockReason;
use crate::telemetry::{Clock, Counter, CounterSet, Stage, StageHistograms};
use crate::types::control::{Command, EngineView, RiskState};
use crate::types::{ExecReport, OrderIntent, RejectReason, Side, Tick};

use super::Engine;

/// Commands applied per check at most (the rest wait for the next check).
pub const COMMANDS_PER_CHECK: usize = 8;

/// Compute stage: the strategy engine plus its timing.
#[derive(Debug)]
pub struct ComputeStage {
    engine: Engine,
    clock: Clock,
    /// Operator commands (the control handle holds the producer).
    commands: Option<Consumer<Command>>,
    /// Monotonic ns at which the circuit breaker lifts (0 = none armed).
    circuit_deadline_ns: u64,
    /// Next step of [`ComputeStage::warm_idle`] (`0..2n`): the symbols' other sides below
    /// `n`, their likeliest sides from `n`.
    warm_cursor: usize,
    /// Per symbol, the side of its last entry (`None`: none yet).
    entry_sides: Vec<Option<Side>>,
    /// Symbol and side of the latest entry (`None`: none yet).
    latest_entry: Option<(usize, Side)>,
}

/// Symbol and side of step `k` (`0..2n`) of a warm-up round over `n` symbols (see
/// [`ComputeStage::warm_idle`]): `sides` per symbol its last entry's side, `latest` the
/// latest entry.
fn warm_target(
    k: usize,
    n: usize,
    sides: &[Option<Side>],
    latest: Option<(usize, Side)>,
) -> (usize, Side) {
    let i = if k < n {
        k
    } else {
        (latest.map_or(n - 1, |(i, _)| i.min(n - 1)) + 1 + k - n) % n
    };
    let likely = sides
        .get(i)
        .copied()
        .flatten()
        .or(latest.map(|(_, side)| side))
        .unwrap_or(Side::Buy);
    match (k < n, likely) {
        (false, side) => (i, side),
        (true, Side::Buy) => (i, Side::Sell),
        (true, Side::Sell) => (i, Side::Buy),
    }
}

/// Unix ms from the wall clock.
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ComputeStage {
    /// Wraps an engine.
    pub fn new(engine: Engine, clock: Clock) -> Self {
        let n = engine.n_symbols();
        Self {
            engine,
            clock,
            commands: None,
            circuit_deadline_ns: 0,
            warm_cursor: 0,
            entry_sides: vec![None; n],
            latest_entry: None,
        }
    }

    /// Called by the fused hot loop when the order path's warm-up ran a step: plans a shadow
    /// entry ([`Engine::warm`]), so the decision path is as warm as the order path. Both sides
    /// of every symbol per round of `2n` calls, the likeliest side last, as the order path's
    /// round ([`crate::exec::Executor::warm_step`]): first each symbol's other side, then each
    /// symbol's likeliest side (that of its last entry, else of the latest entry of any
    /// symbol, else a long), ending with the symbol of the latest entry; each likeliest-side
    /// step first runs the symbol's model step on a scratch copy ([`Engine::warm_models`]).
    /// Changes none of the engine's decision state; no allocation, no system call.
    #[inline]
    pub fn warm_idle(&mut self) -> bool {
        let n = self.engine.n_symbols();
        if n == 0 {
            return false;
        }
        let k = self.warm_cursor % (2 * n);
        self.warm_cursor = (k + 1) % (2 * n);
        let (i, side) = warm_target(k, n, &self.entry_sides, self.latest_entry);
        if k >= n {
            // The likeliest side's step also runs the symbol's model step on a scratch copy
            // (`Engine::warm_models`), as a tick does before it decides.
            self.engine.warm_models(i, side);
        }
        self.engine.warm(i, side)
    }

    /// Takes operator commands from `rx` (see [`ComputeStage::poll_commands`]).
    pub fn set_commands(&mut self, rx: Consumer<Command>) {
        self.commands = Some(rx);
    }

    /// Between ticks: applies up to [`COMMANDS_PER_CHECK`] queued operator commands, and lifts
    /// a circuit breaker whose time has come (monotonic clock). Returns the number applied.
    /// Then the caller sends [`ComputeStage::next_operator_close`] until `None`.
    #[inline]
    pub fn poll_commands(&mut self) -> usize {
        if self.circuit_deadline_ns != 0 {
            self.check_circuit();
        }
        let Some(rx) = self.commands.as_mut() else {
            return 0;
        };
        let mut n = 0;
        while n < COMMANDS_PER_CHECK {
            let Some(c) = rx.pop() else {
                break;
            };
            self.engine.apply_command(c);
            n += 1;
        }
        if n > 0 {
            self.arm_circuit();
        }
        n
    }

    /// True when a command waits in the ring (for idle waits).
    #[inline]
    pub fn has_commands(&mut self) -> bool {
        self.commands.as_mut().is_some_and(|rx| !rx.is_empty()) || self.engine.has_operator_close()
    }

    /// Lifts the breaker once the monotonic clock passes its deadline, or forgets the deadline
    /// when a `Resume` lifted it already.
    #[cold]
    fn check_circuit(&mut self) {
        if self.engine.circuit_until_ms().is_none() {
            self.circuit_deadline_ns = 0;
        } else if self.clock.now_ns() >= self.circuit_deadline_ns {
            self.engine.lift_circuit();
            self.circuit_deadline_ns = 0;
        }
    }

    /// Converts a circuit breaker's wall-clock end into a deadline of the monotonic clock:
    /// `now_ns + (until_ms − wall_ms)·10⁶` (an end already past lifts at the next check).
    #[cold]
    fn arm_circuit(&mut self) {
        match self.engine.circuit_until_ms() {
            Some(until) => {
                let left_ns = until.saturating_sub(wall_ms()).saturating_mul(1_000_000);
                self.circuit_deadline_ns = self.clock.now_ns().saturating_add(left_ns).max(1);
            }
            None => self.circuit_deadline_ns = 0,
        }
    }

    /// True while an operator close waits to be sent (one integer compare).
    #[inline]
    pub fn has_operator_close(&self) -> bool {
        self.engine.has_operator_close()
    }

    /// The next reduce-only close an operator command asked for (see
    /// [`Engine::next_operator_close`]), stamped `decided_ns`; `None` when none is due.
    #[inline]
    pub fn next_operator_close(&mut self) -> Option<OrderIntent> {
        if !self.engine.has_operator_close() {
            return None;
        }
        self.engine.next_operator_close().map(|mut i| {
            i.set_decided_ns(self.clock.now_ns());
            i
        })
    }

    /// Restores a saved risk state at start-up (see [`Engine::restore_risk_state`]) and arms a
    /// circuit breaker still in force.
    pub fn restore_risk_state(&mut self, s: &RiskState) {
        self.engine.restore_risk_state(s, wall_ms());
        self.arm_circuit();
    }

    /// Applies `c` at once (start-up, before the command ring is read).
    pub fn apply_command(&mut self, c: Command) {
        self.engine.apply_command(c);
    }

    /// Writes the engine's status view in place (publish time; no allocation).
    pub fn fill_view(&self, v: &mut EngineView) {
        self.engine.fill_view(v);
    }

    /// Runs the models and the decision on `t`; `start_ns` is when compute got the tick.
    /// Records `compute` (tick → intent ready to hand over; and `order_compute` when it decided
    /// an order); stamps `decided_ns` on the intent. An intent's booking into the decision book
    /// and the risk gate is left pending: the caller hands the intent over, then calls
    /// [`ComputeStage::book_pending`] (the next tick, report or command books it first if the
    /// caller did not).
    #[inline]
    pub fn on_tick(
        &mut self,
        t: &Tick,
        start_ns: u64,
        hists: &mut StageHistograms,
    ) -> Option<OrderIntent> {
        let intent = self.engine.decide_tick(t);
        let end = self.clock.now_ns();
        let took = end.saturating_sub(start_ns);
        hists.record(Stage::Compute, took);
        intent.map(|mut i| {
            hists.record(Stage::OrderCompute, took);
            i.set_decided_ns(end);
            if !i.reduce_only() {
                self.note_entry(i.symbol.index(), i.side());
            }
            i
        })
    }

    /// Remembers an entry's side for the warm-up's order ([`ComputeStage::warm_idle`]).
    #[inline]
    fn note_entry(&mut self, i: usize, side: Side) {
        if let Some(s) = self.entry_sides.get_mut(i) {
            *s = Some(side);
        }
        self.latest_entry = Some((i, side));
    }

    /// A turn of the hot loop with no tick: the engine's idle work ([`Engine::idle_work`]).
    /// Returns whether there was some (the caller then skips its wait or warm-up this turn).
    #[inline]
    pub fn idle_work(&mut self) -> bool {
        self.engine.idle_work()
    }

    /// Books the intent the last [`ComputeStage::on_tick`] returned (see
    /// [`crate::strategy::Engine::book_pending`]); call it right after handing the intent over.
    /// Not in the `compute` histogram (the budget bench measures it in a row of its own).
    #[inline]
    pub fn book_pending(&mut self) {
        self.engine.book_pending();
    }

    /// Applies an execution report to the positions.
    #[inline]
    pub fn on_report(&mut self, r: &ExecReport) {
        self.engine.on_report(r);
    }

    /// Writes this stage's counter totals.
    pub fn fill_counters(&self, c: &mut CounterSet) {
        let s = self.engine.stats();
        c.set(Counter::Signals, s.signals + s.scalper_signals);
        c.set(Counter::Intents, s.intents);
        c.set(
            Counter::Entries,
            s.case_entries.iter().sum::<u64>() + s.scalper_entries,
        );
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
        c.set(Counter::FillsRebooked, s.fills_rebooked);
        c.set(Counter::FillsBeyondLog, s.fills_beyond_log);
        c.set(Counter::ExitTakeProfit, s.exit_take_profit);
        c.set(Counter::ExitStopLoss, s.exit_stop_loss);
        c.set(Counter::EmergencyStops, s.emergency_stops);
        c.set(Counter::BlockedStale, s.blocked_stale);
        c.set(Counter::BlockedLearned, s.blocked_learned);
        let o = self.engine.operator_stats();
        c.set(Counter::OperatorCommands, o.commands);
        c.set(Counter::OperatorCloses, o.closes);
        c.set(Counter::OperatorSettings, o.settings);
        c.set(Counter::OperatorIgnored, o.ignored);
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

    /// The learned entry filter, to restore or publish its state (start-up).
    pub fn learned_mut(&mut self) -> &mut crate::strategy::learned::LearnedFilter {
        self.engine.learned_mut()
    }

    /// The engine (positions, stats), e.g. for the final report.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Gives the engine back (with any pending booking applied).
    pub fn into_engine(mut self) -> Engine {
        self.engine.book_pending();
        self.engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `2n` targets of one round.
    fn round(
        n: usize,
        sides: &[Option<Side>],
        latest: Option<(usize, Side)>,
    ) -> Vec<(usize, Side)> {
        (0..2 * n)
            .map(|k| warm_target(k, n, sides, latest))
            .collect()
    }

    #[test]
    fn a_round_plans_both_sides_of_each_symbol_the_likeliest_last() {
        use Side::{Buy, Sell};
        // No entry yet: shorts first, longs last, symbol order.
        assert_eq!(
            round(3, &[None; 3], None),
            [
                (0, Sell),
                (1, Sell),
                (2, Sell),
                (0, Buy),
                (1, Buy),
                (2, Buy)
            ]
        );
        // Symbol 0 went long, symbol 2 short (the latest): each symbol's own side last,
        // symbol 1 (no entry) on the latest entry's side, the round ending on symbol 2.
        let sides = [Some(Buy), None, Some(Sell)];
        assert_eq!(
            round(3, &sides, Some((2, Sell))),
            [
                (0, Sell),
                (1, Buy),
                (2, Buy),
                (0, Buy),
                (1, Sell),
                (2, Sell)
            ]
        );
        // Every (symbol, side) once per round.
        let mut all = round(3, &sides, Some((0, Buy)));
        assert_eq!(all.last(), Some(&(0, Buy)));
        all.sort_by_key(|&(i, s)| (i, s == Sell));
        assert_eq!(
            all,
            [
                (0, Buy),
                (0, Sell),
                (1, Buy),
                (1, Sell),
                (2, Buy),
                (2, Sell)
            ]
        );
    }
}
