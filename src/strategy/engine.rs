//! The compute stage's decision engine: per-symbol derivatives → matrix case → target position
//! → order intent. Owns the positions.
//!
//! Decisions use the *working* position (fills plus orders in flight), tracked exactly, so they
//! are a pure function of the tick stream: the same ticks give the same orders whether fills
//! come back at once (fused) or later from another thread (pipeline) or venue.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::intent::OrderIntent;
use super::matrix::{classify, Action, Case, CaseActions};
use super::signal::{SignalParams, VelocitySource};
use super::snapshot::{Gate, TickState};
use crate::config::Config;
use crate::exec::report::{ExecReport, ReportStatus};
use crate::exec::Instrument;
use crate::feed::{Side, Tick};
use crate::model::forecast::{drift, forecast_price};
use crate::model::indicators::IndicatorValues;
use crate::model::layers::{Layer, LayerParams, LayerQuery, LayerState, MAX_LEADERS};
use crate::model::snr::{confidence, snr};
use crate::model::{DerivParams, Derivatives, Kalman, KalmanParams};
use crate::risk::{Position, Sizing};

/// Strategy parameters (from `[model]`, `[kalman]`, `[signal]`, `[strategy]`, `[layers]`,
/// `[indicators]` and `[risk]` in the config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrategyParams {
    /// Smoothing and derivative parameters (its `reset_gap_s` resets every estimator).
    pub deriv: DerivParams,
    /// Finite-difference dead band for `v ≈ 0`, 1/s (`signal.source = "finite_difference"`).
    pub v_band: f64,
    /// Finite-difference dead band for `a ≈ 0`, 1/s².
    pub a_band: f64,
    /// Time steps a symbol must see after a (re)start before it may trade.
    pub warmup_steps: u32,
    /// Minimum exchange time between two orders of one symbol, ms.
    pub cooldown_ms: u64,
    /// Action of each case.
    pub actions: CaseActions,
    /// Entry sizing.
    pub sizing: Sizing,
    /// Kalman filter.
    pub kalman: KalmanParams,
    /// Derivative source, dead-band multipliers, SNR/confidence thresholds, horizon.
    pub signal: SignalParams,
    /// Confirmation layers and indicators.
    pub layers: LayerParams,
}

impl Default for StrategyParams {
    /// The documented defaults of `config/default.toml` for BTCUSDT and ETHUSDT.
    fn default() -> Self {
        let cfg = Config::parse(crate::config::DEFAULT_TOML).expect("bundled config is valid");
        Self::from_config(&cfg)
    }
}

impl StrategyParams {
    /// Builds the parameters from a validated config; cross-asset leaders are resolved against
    /// `venue.symbols` (in `SymbolId` order).
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            deriv: DerivParams {
                lambda: cfg.model.lambda,
                tau_s: (cfg.model.tau_s > 0.0).then_some(cfg.model.tau_s),
                reset_gap_s: cfg.model.reset_gap_s,
            },
            v_band: cfg.strategy.v_band,
            a_band: cfg.strategy.a_band,
            warmup_steps: cfg.strategy.warmup_steps,
            cooldown_ms: cfg.strategy.cooldown_ms,
            actions: cfg.case_actions(),
            sizing: Sizing {
                order_notional: cfg.risk.order_notional,
                balance: cfg.risk.balance,
                max_leverage: cfg.risk.max_leverage,
            },
            kalman: cfg.kalman,
            signal: cfg.signal,
            layers: cfg.layers.params(&cfg.venue.symbols, cfg.indicators),
        }
    }

    /// The same parameters with every confirmation layer and the indicators switched off.
    pub fn without_layers(mut self) -> Self {
        let l = &mut self.layers;
        l.ou.enabled = false;
        l.drift.enabled = false;
        l.flow.enabled = false;
        l.cross.enabled = false;
        l.regime.enabled = false;
        l.tp_first.enabled = false;
        l.indicators.enabled = false;
        l.indicators.confirm = false;
        self
    }
}

/// Counters the monitor reads (one writer: the compute thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Ticks processed.
    pub ticks: u64,
    /// Decisions wanting a different position than the working one.
    pub signals: u64,
    /// Intents emitted.
    pub intents: u64,
    /// Signals suppressed by the per-symbol cooldown.
    pub blocked_cooldown: u64,
    /// Signals not sent because the floored quantity breaks a venue filter, per [`crate::exec::RejectReason::index`].
    pub filtered: [u64; 3],
    /// Fills applied.
    pub fills: u64,
    /// Rejections received from execution.
    pub rejects: u64,
    /// Ticks per matrix case (index = [`super::Case::index`]), counted once warm.
    pub cases: [u64; 8],
    /// Entry signals blocked: `SNR < signal.snr_min`.
    pub blocked_snr: u64,
    /// Entry signals blocked: confidence `< signal.confidence_min`.
    pub blocked_confidence: u64,
    /// Entry signals vetoed, per layer ([`Layer::index`]); a signal vetoed by two layers counts
    /// in both.
    pub blocked_layers: [u64; Layer::COUNT],
    /// Per-symbol state resets after a gap longer than `model.reset_gap_s`.
    pub resets: u64,
    /// Ticks ignored because the price has no finite logarithm.
    pub bad_ticks: u64,
}

/// What every tick of a symbol reads and writes: the filters and the decision state (≤ 256 B).
#[derive(Clone, Copy, Debug)]
struct Hot {
    kalman: Kalman,
    deriv: Derivatives,
    last_price: f64,
    last_order_ms: u64,
    /// Filled quantity plus the signed quantity of orders in flight.
    working: Decimal,
    steps_seen: u32,
    started: bool,
}

/// One symbol's state: the hot part first, then what only signals and fills touch (instrument,
/// position), then the layer windows (≤ 4 KiB in all).
#[derive(Clone, Copy, Debug)]
struct Slot {
    hot: Hot,
    instrument: Instrument,
    position: Position,
    layers: LayerState,
}

/// Per-symbol state in a fixed array indexed by `SymbolId`; nothing allocates per tick.
pub struct Engine {
    params: StrategyParams,
    slots: Vec<Slot>,
    next_seq: u64,
    stats: EngineStats,
    last: TickState,
}

/// -1, 0 or +1 for a signed quantity.
#[inline]
fn direction(q: Decimal) -> i8 {
    if q.is_zero() {
        0
    } else if q.is_sign_positive() {
        1
    } else {
        -1
    }
}

/// Leaders' momentum as seen by symbol `i` (0 for itself, absent or disabled leaders).
#[inline]
fn leader_moves(p: &LayerParams, slots: &[Slot], i: usize) -> [f64; MAX_LEADERS] {
    let mut m = [0.0; MAX_LEADERS];
    if p.cross.enabled {
        for (out, leader) in m.iter_mut().zip(p.cross.leaders) {
            if let Some(s) = leader
                .map(usize::from)
                .filter(|&j| j != i)
                .and_then(|j| slots.get(j))
            {
                *out = s.layers.momentum.momentum();
            }
        }
    }
    m
}

impl Engine {
    /// An engine for the symbols whose instruments are `instruments` (in `SymbolId` order).
    pub fn new(params: StrategyParams, instruments: &[Instrument]) -> Self {
        Self {
            params,
            slots: instruments
                .iter()
                .map(|&instrument| Slot {
                    hot: Hot {
                        kalman: Kalman::default(),
                        deriv: Derivatives::default(),
                        last_price: 0.0,
                        last_order_ms: 0,
                        working: Decimal::ZERO,
                        steps_seen: 0,
                        started: false,
                    },
                    instrument,
                    position: Position::default(),
                    layers: LayerState::new(&params.layers),
                })
                .collect(),
            next_seq: 1,
            stats: EngineStats::default(),
            last: TickState::default(),
        }
    }

    /// Processes one tick; returns an intent when the target position differs from the working
    /// one and every gate passes. `decided_ns` is left 0 for the caller to stamp.
    ///
    /// Order of work: gap check (a gap longer than `reset_gap_s` resets the symbol), then the
    /// estimators (finite differences, Kalman, layer windows, indicators) on every tick, then
    /// — once warm — the matrix case, the action, and for entries the SNR, confidence and layer
    /// gates. An entry that is blocked while the opposite position is held becomes an exit.
    /// Exits are never gated. [`Engine::last_state`] holds what this tick computed.
    #[inline]
    pub fn on_tick(&mut self, t: &Tick) -> Option<OrderIntent> {
        let Self {
            params: p,
            slots,
            next_seq,
            stats,
            last,
        } = self;
        stats.ticks += 1;
        let i = t.symbol.index();
        let moves = leader_moves(&p.layers, slots, i);
        let slot = slots.get_mut(i)?;
        let x = t.price.ln();
        if !x.is_finite() {
            stats.bad_ticks += 1;
            return None;
        }
        let ts = t.exch_ts_ms;
        let prev_ts = slot.hot.deriv.last_ts_ms();
        if slot.hot.started
            && ts.saturating_sub(slot.hot.kalman.last_ts_ms()) as f64 * 1e-3 > p.deriv.reset_gap_s
        {
            slot.layers.reset(&p.layers);
            stats.resets += 1;
        }
        slot.hot.started = true;
        let e = slot.hot.deriv.update(&p.deriv, t.price, ts);
        let k = slot
            .hot
            .kalman
            .update(&p.kalman, x, ts, p.deriv.reset_gap_s);
        slot.layers
            .update(&p.layers, x, t.price, t.side.sign(), t.qty, ts);
        slot.hot.last_price = t.price;

        let sp = &p.signal;
        let (v, a, v_band, a_band) = match sp.source {
            VelocitySource::Kalman => (k.v, k.a, sp.k_v * k.p_vv.sqrt(), sp.k_a * k.p_aa.sqrt()),
            VelocitySource::FiniteDifference => (e.velocity, e.acceleration, p.v_band, p.a_band),
        };
        let snr = snr(v, k.p_vv);
        let mut st = TickState {
            symbol: t.symbol,
            ts_ms: ts,
            price: t.price,
            smoothed: e.smoothed,
            kalman: k,
            fd_velocity: e.velocity,
            fd_acceleration: e.acceleration,
            velocity: v,
            acceleration: a,
            v_band,
            a_band,
            snr,
            confidence: confidence(snr),
            forecast: forecast_price(t.price, v, a, sp.horizon_s),
            drift: drift(v, a, sp.horizon_s),
            case: classify(v, a, v_band, a_band),
            ..TickState::default()
        };

        if !e.ready || k.steps < 2 {
            slot.hot.steps_seen = 0;
            st.layers = slot.layers.idle_report(&p.layers);
            *last = st;
            return None;
        }
        if ts > prev_ts {
            slot.hot.steps_seen = slot.hot.steps_seen.saturating_add(1);
        }
        if slot.hot.steps_seen < p.warmup_steps {
            st.layers = slot.layers.idle_report(&p.layers);
            *last = st;
            return None;
        }
        st.warm = true;
        let case = st.case;
        stats.cases[case.index()] += 1;
        let held = direction(slot.hot.working);
        let action = p.actions.of(case);
        let entry_side: i8 = match action {
            Action::Buy => 1,
            Action::Sell => -1,
            _ => 0,
        };
        st.layers = if entry_side != 0 {
            slot.layers.evaluate(
                &p.layers,
                &LayerQuery {
                    side: entry_side as f64,
                    trend_entry: matches!(case, Case::AcceleratingUp | Case::AcceleratingDown),
                    x,
                    v,
                    drift: st.drift,
                    leader_moves: moves,
                },
            )
        } else {
            slot.layers.idle_report(&p.layers)
        };
        let mut target = match action {
            Action::Buy => 1,
            Action::Sell => -1,
            Action::ExitLong if held == 1 => 0,
            Action::ExitShort if held == -1 => 0,
            _ => held,
        };
        st.target = target;
        if target == held {
            st.gate = Gate::NoChange;
            *last = st;
            return None;
        }
        stats.signals += 1;
        if target != 0 {
            let gate = if st.snr < sp.snr_min {
                stats.blocked_snr += 1;
                Gate::Snr
            } else if st.confidence < sp.confidence_min {
                stats.blocked_confidence += 1;
                Gate::Confidence
            } else if !st.layers.confirmed() {
                for (n, v) in stats.blocked_layers.iter_mut().zip(st.layers.verdicts) {
                    *n += u64::from(v == crate::model::layers::Verdict::Reject);
                }
                Gate::Layers
            } else {
                Gate::None
            };
            if gate != Gate::None {
                st.gate = gate;
                if held == -target {
                    target = 0;
                    st.target = 0;
                } else {
                    st.target = held;
                    *last = st;
                    return None;
                }
            }
        }
        if slot.hot.last_order_ms != 0 && ts < slot.hot.last_order_ms + p.cooldown_ms {
            stats.blocked_cooldown += 1;
            st.gate = Gate::Cooldown;
            *last = st;
            return None;
        }
        let inst = &slot.instrument;
        let close = slot.hot.working.abs();
        let open = if target == 0 {
            Decimal::ZERO
        } else {
            inst.floor_qty(p.sizing.entry_qty(t.price))
        };
        let reduce_only = target == 0;
        let qty = close + open;
        if let Some(reason) = inst.violation(qty, t.price, reduce_only) {
            stats.filtered[reason.index()] += 1;
            st.gate = Gate::Filter;
            *last = st;
            return None;
        }
        slot.hot.last_order_ms = ts;
        let side = if target > held { Side::Buy } else { Side::Sell };
        slot.hot.working += signed(side, qty);
        let client_seq = *next_seq;
        *next_seq += 1;
        stats.intents += 1;
        st.signal = if side == Side::Buy { 1 } else { -1 };
        st.gate = Gate::None;
        *last = st;
        Some(OrderIntent {
            symbol: t.symbol,
            side,
            qty,
            ref_price: t.price,
            reduce_only,
            case,
            client_seq,
            tick_recv_ns: t.recv_ns,
            decided_ns: 0,
        })
    }

    /// What the last call to [`Engine::on_tick`] computed (model outputs, layer verdicts,
    /// decision), for analysis and export.
    #[inline]
    pub fn last_state(&self) -> &TickState {
        &self.last
    }

    /// The parameters in use.
    pub fn params(&self) -> &StrategyParams {
        &self.params
    }

    /// Indicator values of symbol index `i` as of its last closed bar.
    pub fn indicators(&self, i: usize) -> Option<&IndicatorValues> {
        self.slots.get(i).map(|s| s.layers.indicators.values())
    }

    /// Applies a fill to the position, or undoes a rejected order's share of the working position.
    pub fn on_report(&mut self, r: &ExecReport) {
        let Some(slot) = self.slots.get_mut(r.symbol.index()) else {
            return;
        };
        match r.status {
            ReportStatus::Filled => {
                slot.position.apply_fill(r.side, r.price, r.qty, r.fee);
                self.stats.fills += 1;
            }
            ReportStatus::Rejected(_) => {
                slot.hot.working -= signed(r.side, r.qty);
                self.stats.rejects += 1;
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The filled position of symbol index `i`.
    pub fn position(&self, i: usize) -> Option<&Position> {
        self.slots.get(i).map(|s| &s.position)
    }

    /// The working position (filled + in flight) of symbol index `i`.
    pub fn working(&self, i: usize) -> Decimal {
        self.slots.get(i).map_or(Decimal::ZERO, |s| s.hot.working)
    }

    /// Last trade price seen for symbol index `i` (0 before any).
    pub fn last_price(&self, i: usize) -> f64 {
        self.slots.get(i).map_or(0.0, |s| s.hot.last_price)
    }

    /// Unrealized PnL of symbol `i` at its last trade price (quote currency, for display).
    pub fn unrealized(&self, i: usize) -> f64 {
        self.slots.get(i).map_or(0.0, |s| {
            let mark = s.instrument.price_on_tick(s.hot.last_price);
            s.position.unrealized(mark).to_f64().unwrap_or(0.0)
        })
    }

    /// Number of symbols.
    pub fn n_symbols(&self) -> usize {
        self.slots.len()
    }
}

#[inline]
fn signed(side: Side, qty: Decimal) -> Decimal {
    match side {
        Side::Buy => qty,
        Side::Sell => -qty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::report::RejectReason;
    use crate::feed::SymbolId;
    use crate::strategy::Case;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn params() -> StrategyParams {
        StrategyParams {
            deriv: DerivParams::default(),
            v_band: 1e-5,
            a_band: 1e-6,
            warmup_steps: 3,
            cooldown_ms: 0,
            actions: CaseActions::default(),
            sizing: Sizing {
                order_notional: 1_000.0,
                balance: 10_000.0,
                max_leverage: 5.0,
            },
            kalman: KalmanParams::default(),
            // These tests pin the finite-difference path with no entry gates; the Kalman path
            // and the gates have their own tests (tests/model_analytic.rs).
            signal: SignalParams {
                source: VelocitySource::FiniteDifference,
                snr_min: 0.0,
                confidence_min: 0.0,
                ..SignalParams::default()
            },
            layers: StrategyParams::default().without_layers().layers,
        }
    }

    fn engine() -> Engine {
        let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        Engine::new(params(), &[inst])
    }

    fn tick(i: u64, price: f64) -> Tick {
        Tick {
            symbol: SymbolId(0),
            price,
            qty: 1.0,
            exch_ts_ms: 1_000_000 + i * 1_000,
            ..Tick::default()
        }
    }

    fn fill_of(i: &OrderIntent) -> ExecReport {
        ExecReport {
            symbol: i.symbol,
            client_seq: i.client_seq,
            side: i.side,
            status: ReportStatus::Filled,
            price: Decimal::from_f64_retain(i.ref_price).unwrap().round_dp(2),
            qty: i.qty,
            fee: Decimal::ZERO,
        }
    }

    /// Feeds ln p = f(t) at 1 s steps from tick `from`; returns the first intent.
    fn first_intent(
        e: &mut Engine,
        from: u64,
        n: u64,
        f: impl Fn(f64) -> f64,
    ) -> Option<(OrderIntent, u64)> {
        (from..from + n).find_map(|i| {
            e.on_tick(&tick(i, f((i - from) as f64).exp()))
                .map(|it| (it, i))
        })
    }

    /// An accelerating rise (x = x0 + ½·k·t²) must produce a BUY of the configured notional,
    /// floored to the step.
    #[test]
    fn accelerating_uptrend_buys_the_configured_notional() {
        let mut e = engine();
        let (intent, i) =
            first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).expect("an intent");
        let price = e.last_price(0);
        assert_eq!(i, 4, "first tick after warm-up");
        assert_eq!(intent.side, Side::Buy);
        assert_eq!(intent.case, Case::AcceleratingUp);
        assert!(!intent.reduce_only);
        let want = ((1_000.0 / price) / 0.01).floor() * 0.01;
        assert_eq!(intent.qty.to_f64().unwrap(), (want * 100.0).round() / 100.0);
        assert_eq!(
            e.working(0),
            intent.qty,
            "in flight counts toward the working position"
        );
        // Still rising: no second buy while long (working), fill or no fill.
        assert!(first_intent(&mut e, 5, 10, |t| 100f64.ln()
            + 1e-4 * (t + 5.0) * (t + 5.0))
        .is_none());
    }

    /// Long, then the rise decelerates (case 2): an exact reduce-only exit of the position.
    #[test]
    fn decelerating_uptrend_exits_a_long_exactly() {
        let mut e = engine();
        let (buy, i) = first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).unwrap();
        e.on_report(&fill_of(&buy));
        assert_eq!(e.position(0).unwrap().qty, buy.qty);
        let base = e.last_price(0).ln();
        let (exit, _) = first_intent(&mut e, i + 1, 40, |t| {
            base + 2e-3 * (t + 1.0) - 0.5 * 1e-4 * (t + 1.0) * (t + 1.0)
        })
        .expect("an exit");
        assert_eq!(exit.side, Side::Sell);
        assert!(exit.reduce_only);
        assert_eq!(exit.case, Case::DeceleratingUp);
        assert_eq!(exit.qty, buy.qty);
        e.on_report(&fill_of(&exit));
        assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);
        assert_eq!(e.working(0), Decimal::ZERO);
    }

    #[test]
    fn rejection_undoes_the_working_position_and_is_counted() {
        let mut e = engine();
        let (sell, _) = first_intent(&mut e, 0, 40, |t| 100f64.ln() - 1e-4 * t * t).unwrap();
        assert_eq!(sell.side, Side::Sell);
        assert_eq!(sell.case, Case::AcceleratingDown);
        assert_eq!(e.working(0), -sell.qty);
        e.on_report(&ExecReport {
            status: ReportStatus::Rejected(RejectReason::BelowMinNotional),
            ..fill_of(&sell)
        });
        assert_eq!(e.stats().rejects, 1);
        assert_eq!(e.working(0), Decimal::ZERO);
        assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);
    }

    #[test]
    fn entry_below_min_notional_is_filtered_not_sent() {
        let mut p = params();
        p.sizing.order_notional = 4.0; // below the 5 USDT minimum
        let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        let mut e = Engine::new(p, &[inst]);
        assert!(first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).is_none());
        assert!(e.stats().filtered[RejectReason::BelowMinNotional.index()] > 0);
        assert_eq!(e.stats().intents, 0);
    }

    #[test]
    fn flat_prices_never_trade() {
        let mut e = engine();
        for i in 0..1000 {
            assert!(e.on_tick(&tick(i, 100.0)).is_none());
        }
        assert_eq!(e.stats().cases[Case::Neutral.index()], 1000 - 4);
    }

    #[test]
    fn unknown_symbol_index_is_ignored() {
        let mut e = engine();
        let mut t = tick(0, 100.0);
        t.symbol = SymbolId(5);
        assert!(e.on_tick(&t).is_none());
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;
    use std::mem::size_of;

    /// PERFORMANCE.md budgets: hot state ≤ 256 B per symbol, everything with the layer windows
    /// ≤ 4 KiB. (Sizes, not timings.)
    #[test]
    fn per_symbol_state_fits_its_budgets() {
        assert!(size_of::<Hot>() <= 256, "hot {}", size_of::<Hot>());
        assert!(size_of::<Slot>() <= 4096, "slot {}", size_of::<Slot>());
        eprintln!(
            "per-symbol state: hot {} B (Kalman {}, derivatives {}), + instrument {} + position {}, layers {} B, slot {} B",
            size_of::<Hot>(),
            size_of::<Kalman>(),
            size_of::<Derivatives>(),
            size_of::<Instrument>(),
            size_of::<Position>(),
            size_of::<LayerState>(),
            size_of::<Slot>()
        );
    }
}
