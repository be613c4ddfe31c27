//! The operator status, on the monitor thread (cold): turns the compute thread's published
//! [`EngineView`] into a [`StatusView`] (names from the symbol table, decimals as strings,
//! stage percentiles of the last interval, counters by name, feed state per symbol) and
//! publishes it through the [`ControlHandle`]; logs the engine's run-state changes; and writes
//! the risk state file whenever the persisted state changed (`risk::state::save`, atomic), and
//! the learned filter's when it learnt something.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::control::ControlHandle;
use crate::feed::liveness::SymbolHealth;
use crate::model::layers::Layer;
use crate::telemetry::{CounterSet, StageHistograms};
use crate::types::control::{
    EngineView, FeedView, LimitView, RiskState, RunState, StageView, StatusView, SymbolView,
};
use crate::types::SymbolId;

/// What the monitor needs to publish the operator status.
#[derive(Debug)]
pub struct StatusPlan {
    /// Where the status goes (and commands come from).
    pub handle: Arc<ControlHandle>,
    /// Venue symbol names, in `SymbolId` order.
    pub names: Vec<String>,
    /// Feed health per symbol (lock-free reads).
    pub health: Option<Arc<SymbolHealth>>,
    /// `embedded`, `paper` or `live`.
    pub mode: String,
    /// `binance` or `bybit`.
    pub venue: String,
    /// `fused` or `pipeline`.
    pub topology: String,
    /// The risk state file the monitor keeps up to date.
    pub state_file: Option<PathBuf>,
    /// The learned filter's state file the monitor keeps up to date.
    pub learned: Option<super::learned::LearnedFile>,
}

/// The monitor's status side: the plan and what it last logged and saved.
#[derive(Debug)]
pub struct StatusKeeper {
    plan: StatusPlan,
    start: Instant,
    last_state: Option<(RunState, &'static str)>,
    saved: Option<RiskState>,
    save_failed: bool,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl StatusKeeper {
    /// A keeper for `plan`; publishes a first status (symbol names, no data yet) at once so
    /// that [`ControlHandle::symbol_id`] answers from the start.
    pub fn new(plan: StatusPlan) -> Self {
        let k = Self {
            plan,
            start: Instant::now(),
            last_state: None,
            saved: None,
            save_failed: false,
        };
        let mut v = k.base_view();
        v.symbols = k
            .plan
            .names
            .iter()
            .map(|n| SymbolView {
                symbol: n.clone(),
                active: true,
                signal: "none".into(),
                gate: "warmup".into(),
                position: "0".into(),
                unrealized_pnl: "0".into(),
                ..SymbolView::default()
            })
            .collect();
        k.plan.handle.publish(v);
        k
    }

    /// Symbols in the status.
    pub fn n_symbols(&self) -> usize {
        self.plan.names.len()
    }

    fn base_view(&self) -> StatusView {
        StatusView {
            mode: self.plan.mode.clone(),
            venue: self.plan.venue.clone(),
            topology: self.plan.topology.clone(),
            uptime_s: self.start.elapsed().as_secs_f64(),
            state: RunState::Running.name().into(),
            ..StatusView::default()
        }
    }

    /// One status interval: publishes the status built from `view` (when the engine published
    /// one), logs a run-state change, saves the risk state when it changed. `step` holds the
    /// interval's stage latencies.
    pub fn update(
        &mut self,
        view: Option<&EngineView>,
        counters: &CounterSet,
        step: &StageHistograms,
    ) {
        // Also on the monitor's last round, once the compute thread has stopped: the final state.
        if let Some(l) = &mut self.plan.learned {
            l.save_if_changed();
        }
        let Some(view) = view else {
            return;
        };
        self.log_change(view);
        self.save(&view.risk);
        let status = self.status(view, counters, step);
        self.plan.handle.publish(status);
    }

    /// Prints a line when the engine's run state or its reason changed.
    fn log_change(&mut self, v: &EngineView) {
        let now = (v.state, v.reason);
        if self.last_state == Some(now) {
            return;
        }
        let first = self.last_state.is_none();
        self.last_state = Some(now);
        if first && v.state == RunState::Running {
            return;
        }
        let why = if v.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", v.reason)
        };
        let verb = match v.state {
            RunState::Running if first => "running",
            RunState::Running => "resumed: entries allowed",
            RunState::Paused => "paused: no new entries",
            RunState::Stopped => "stopped: no new entries until start",
            RunState::Halted => "HALTED: no new entries until an operator resumes",
            RunState::CircuitBreaker => "circuit breaker: no new entries until it lifts",
        };
        println!("engine {verb}{why}, loss streak {}", v.risk.loss_streak);
    }

    /// Writes the state file when the persisted state differs from the last one written.
    fn save(&mut self, s: &RiskState) {
        let Some(path) = &self.plan.state_file else {
            return;
        };
        if self.saved.as_ref() == Some(s) {
            return;
        }
        match crate::risk::state::save(path, s, unix_ms()) {
            Ok(()) => {
                self.saved = Some(*s);
                self.save_failed = false;
            }
            Err(e) if !self.save_failed => {
                self.save_failed = true;
                eprintln!(
                    "warning: cannot write the risk state {}: {e} (retried each status interval)",
                    path.display()
                );
            }
            Err(_) => {}
        }
    }

    /// The full status view.
    fn status(&self, v: &EngineView, counters: &CounterSet, step: &StageHistograms) -> StatusView {
        let mut s = self.base_view();
        s.state = v.state.name().into();
        s.state_reason = (!v.reason.is_empty()).then(|| v.reason.to_string());
        s.circuit_breaker_until_ms =
            (v.risk.circuit_until_ms > 0).then_some(v.risk.circuit_until_ms);
        s.balance = v.balance.to_string();
        s.available_balance = v.available.map(|a| a.to_string());
        s.equity = v.equity.round_dp(8).to_string();
        s.day_pnl = v.day_pnl.round_dp(8).to_string();
        s.realized_pnl = v.realized.round_dp(8).to_string();
        s.unrealized_pnl = v.unrealized.round_dp(8).to_string();
        s.drawdown = v.drawdown.round_dp(8).to_string();
        s.loss_streak = v.risk.loss_streak;
        s.settings = v.risk.settings;
        s.portfolio = v.portfolio;
        s.limits = v
            .limits
            .iter()
            .map(|l| LimitView {
                name: l.name.to_string(),
                limit: l.limit.round_dp(8).normalize().to_string(),
                used: l.used.round_dp(8).normalize().to_string(),
            })
            .collect();
        s.counters = counters
            .nonzero()
            .map(|(n, c)| (n.to_string(), c))
            .collect();
        s.stages = step
            .reported()
            .filter(|(_, h)| !h.is_empty())
            .map(|(st, h)| StageView {
                stage: st.name().to_string(),
                count: h.len(),
                p50_ns: h.value_at_quantile(0.5),
                p99_ns: h.value_at_quantile(0.99),
                p999_ns: h.value_at_quantile(0.999),
            })
            .collect();
        s.feeds = self
            .plan
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| FeedView {
                symbol: n.clone(),
                state: self
                    .plan
                    .health
                    .as_ref()
                    .map_or("live", |h| h.state(SymbolId(i as u16)).name())
                    .to_string(),
            })
            .collect();
        s.symbols = self.symbols(v);
        s
    }

    fn symbols(&self, v: &EngineView) -> Vec<SymbolView> {
        self.plan
            .names
            .iter()
            .zip(&v.symbols)
            .map(|(name, r)| SymbolView {
                symbol: name.clone(),
                active: r.active,
                price: r.price,
                v: r.v,
                a: r.a,
                snr: r.snr,
                case: (r.case > 0).then_some(r.case),
                signal: match (r.signal, r.target) {
                    (0, _) => "none",
                    (_, 1) => "long",
                    (_, -1) => "short",
                    _ => "flat",
                }
                .to_string(),
                gate: r.gate.to_string(),
                layers: Layer::ALL
                    .iter()
                    .zip(r.layers)
                    .filter_map(|(l, cell)| cell.map(|p| (l.name().to_string(), p)))
                    .collect(),
                position: r.position.normalize().to_string(),
                entry_price: if r.position.is_zero() {
                    String::new()
                } else {
                    r.entry.round_dp(8).normalize().to_string()
                },
                unrealized_pnl: r.unrealized.round_dp(8).to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::channel;
    use crate::telemetry::{Counter, Stage};
    use crate::types::control::Command;

    #[test]
    fn the_engine_view_becomes_the_status_and_the_state_file_is_written_when_it_changes() {
        let dir = std::env::temp_dir().join(format!("status-keeper-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = dir.join("s.risk.json");
        let (tx, _rx) = channel::<Command>(2).unwrap();
        let handle = Arc::new(ControlHandle::new(tx));
        let mut k = StatusKeeper::new(StatusPlan {
            handle: handle.clone(),
            names: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            health: None,
            mode: "embedded".into(),
            venue: "binance".into(),
            topology: "fused".into(),
            state_file: Some(file.clone()),
            learned: None,
        });
        assert_eq!(
            handle.symbol_id("ETHUSDT"),
            Some(SymbolId(1)),
            "names at once"
        );
        assert_eq!(handle.status().symbols[1].position, "0");

        let mut v = EngineView::new(2);
        v.state = RunState::Paused;
        v.reason = "operator_pause";
        v.equity = "10012.50".parse().unwrap();
        v.risk.loss_streak = 2;
        v.risk.paused = true;
        let r = &mut v.symbols[0];
        (r.signal, r.target, r.case, r.gate) = (1, 1, 3, "none");
        r.layers[0] = Some(true);
        r.layers[2] = Some(false);
        r.position = "0.010".parse().unwrap();
        r.entry = "61800.30".parse().unwrap();
        v.symbols[1].signal = -1;
        v.symbols[1].target = 0;
        let mut counters = CounterSet::default();
        counters.set(Counter::OperatorCommands, 3);
        let mut step = StageHistograms::new();
        step.record(Stage::Compute, 1_000);
        k.update(Some(&v), &counters, &step);

        let s = handle.status();
        assert_eq!(
            (s.state.as_str(), s.state_reason.as_deref()),
            ("paused", Some("operator_pause"))
        );
        assert_eq!((s.equity.as_str(), s.loss_streak), ("10012.50", 2));
        assert_eq!(s.symbols[0].signal, "long");
        assert_eq!(s.symbols[1].signal, "flat", "a sell to flat");
        assert_eq!(s.symbols[0].case, Some(3));
        assert_eq!(s.symbols[1].case, None);
        assert_eq!(
            s.symbols[0].layers,
            vec![("ou".to_string(), true), ("flow".to_string(), false)]
        );
        assert_eq!(
            (
                s.symbols[0].position.as_str(),
                s.symbols[0].entry_price.as_str()
            ),
            ("0.01", "61800.3")
        );
        assert_eq!(s.symbols[1].entry_price, "", "flat: no entry price");
        assert_eq!(s.counters.get("operator_commands"), Some(&3));
        assert_eq!(s.stages.len(), 1);
        assert_eq!(s.stages[0].stage, "compute");
        assert_eq!(s.limits.len(), v.limits.len());

        assert_eq!(crate::risk::state::load(&file).unwrap(), Some(v.risk));
        std::fs::remove_file(&file).unwrap();
        k.update(Some(&v), &counters, &step);
        assert!(!file.exists(), "unchanged: not written again");
        v.risk.loss_streak = 3;
        k.update(Some(&v), &counters, &step);
        assert_eq!(
            crate::risk::state::load(&file)
                .unwrap()
                .unwrap()
                .loss_streak,
            3
        );
        k.update(None, &counters, &step);
        std::fs::remove_dir_all(&dir).ok();
    }
}
