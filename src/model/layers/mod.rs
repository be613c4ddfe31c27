//! Confirmation layers (MATH.md §7): each a small estimator with its own switch. A matrix
//! signal becomes an entry only when every enabled layer confirms it; each veto is counted per
//! layer. All state is per symbol, inline (no heap), updated in O(1) per tick.

pub mod cross;
pub mod drift;
pub mod flow;
pub mod ou;
pub mod regime;
pub mod tp_first;

use serde::Deserialize;

use crate::model::indicators::{BarSink, IndicatorParams, Indicators};

pub use cross::{CrossConfig, CrossParams, MomentumState, MAX_LEADERS};
pub use drift::DriftLayerParams;
pub use flow::{FlowParams, FlowState};
pub use ou::{OuFit, OuParams, OuState};
pub use regime::{RegimeParams, RegimeState};
pub use tp_first::TpFirstParams;

/// A layer's answer for one proposed entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LayerVerdict {
    /// The layer is switched off.
    #[default]
    Off,
    /// No entry was proposed on this tick (nothing to confirm).
    NotApplicable,
    /// Confirms the entry.
    Pass,
    /// Vetoes the entry.
    Reject,
}

impl LayerVerdict {
    /// CSV / report spelling.
    pub fn name(self) -> &'static str {
        match self {
            LayerVerdict::Off => "off",
            LayerVerdict::NotApplicable => "na",
            LayerVerdict::Pass => "pass",
            LayerVerdict::Reject => "reject",
        }
    }
}

crate::types::named::named_enum! {
    /// The layers, in evaluation and counter order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Layer {
        /// Ornstein–Uhlenbeck z-score.
        Ou => "ou",
        /// Expected drift beats costs.
        Drift => "drift",
        /// Aggressor-side volume imbalance.
        Flow => "flow",
        /// Leaders' momentum.
        Cross => "cross",
        /// Trending regime for trend entries.
        Regime => "regime",
        /// Take-profit-first probability and expected value.
        TpFirst => "tp_first",
        /// Composite strength of the classic indicators.
        Indicators => "indicators",
    }
}

/// `[layers]` as written in the config.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LayersConfig {
    /// `[layers.ou]`.
    pub ou: OuParams,
    /// `[layers.drift]`.
    pub drift: DriftLayerParams,
    /// `[layers.flow]`.
    pub flow: FlowParams,
    /// `[layers.cross]`.
    pub cross: CrossConfig,
    /// `[layers.regime]`.
    pub regime: RegimeParams,
    /// `[layers.tp_first]`.
    pub tp_first: TpFirstParams,
}

impl LayersConfig {
    /// Checks every key (`layers.<layer>.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        self.ou.validate()?;
        self.drift.validate()?;
        self.flow.validate()?;
        self.cross.validate()?;
        self.regime.validate()?;
        self.tp_first.validate()
    }

    /// Runtime parameters; cross-asset leaders resolved against the traded `symbols`.
    pub fn params<S: AsRef<str>>(&self, symbols: &[S], indicators: IndicatorParams) -> LayerParams {
        LayerParams {
            ou: self.ou,
            drift: self.drift,
            flow: self.flow,
            cross: self.cross.params(symbols),
            regime: self.regime,
            tp_first: self.tp_first,
            indicators,
            keep_flow: false,
        }
    }
}

/// Runtime layer parameters (`Copy`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerParams {
    /// OU.
    pub ou: OuParams,
    /// Drift.
    pub drift: DriftLayerParams,
    /// Order flow.
    pub flow: FlowParams,
    /// Cross-asset.
    pub cross: CrossParams,
    /// Regime (its volatility also feeds the take-profit layer).
    pub regime: RegimeParams,
    /// Take-profit first.
    pub tp_first: TpFirstParams,
    /// Indicators and their composite confirmation.
    pub indicators: IndicatorParams,
    /// Keep the taker-flow window even with the flow layer off (the scalper's order-flow rule
    /// reads it).
    pub keep_flow: bool,
}

impl Default for LayerParams {
    fn default() -> Self {
        LayersConfig::default().params(&["BTCUSDT", "ETHUSDT"], IndicatorParams::default())
    }
}

impl LayerParams {
    /// Whether `layer` is switched on.
    #[inline]
    pub fn enabled(&self, layer: Layer) -> bool {
        match layer {
            Layer::Ou => self.ou.enabled,
            Layer::Drift => self.drift.enabled,
            Layer::Flow => self.flow.enabled,
            Layer::Cross => self.cross.enabled,
            Layer::Regime => self.regime.enabled,
            Layer::TpFirst => self.tp_first.enabled,
            Layer::Indicators => self.indicators.enabled && self.indicators.confirm,
        }
    }
}

/// What the layers are asked about: a proposed entry and the model's view.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerQuery {
    /// +1 long entry, −1 short entry.
    pub side: f64,
    /// True for a trend entry (cases 1 and 4), which needs a trending regime.
    pub trend_entry: bool,
    /// Log price now.
    pub x: f64,
    /// Velocity used for the drift, 1/s.
    pub v: f64,
    /// Expected drift over the horizon, fraction (read by the drift layer only; the engine
    /// passes 0 while that layer is off).
    pub drift: f64,
    /// Leaders' log moves `ΣΔ` over the cross window (0 when absent or self); the cross layer
    /// turns them into fractions only when it is evaluated.
    pub leader_log_moves: [f64; MAX_LEADERS],
}

/// The layers' verdicts and the values behind them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerReport {
    /// Per [`Layer::index`].
    pub verdicts: [LayerVerdict; Layer::COUNT],
    /// OU z-score of the log price (0 when the fit is not mean-reverting).
    pub ou_z: f64,
    /// Order-flow imbalance in [−1, 1].
    pub imbalance: f64,
    /// Efficiency ratio in [0, 1].
    pub efficiency: f64,
    /// Rolling volatility of log price, 1/√s.
    pub sigma: f64,
    /// `P(TP before SL)` for the proposed side.
    pub p_tp: f64,
    /// Composite indicator strength for the proposed side.
    pub strength: f64,
}

impl LayerReport {
    /// True when no enabled layer vetoed.
    #[inline]
    pub fn confirmed(&self) -> bool {
        !self.verdicts.contains(&LayerVerdict::Reject)
    }
}

/// One symbol's layer state (OU, flow, momentum, regime/volatility, indicators).
#[derive(Clone, Copy, Debug)]
pub struct LayerState {
    /// OU estimator.
    pub ou: OuState,
    /// Taker volumes.
    pub flow: FlowState,
    /// Momentum (read by other symbols when this one is a leader).
    pub momentum: MomentumState,
    /// Efficiency ratio and volatility.
    pub regime: RegimeState,
    /// Classic indicators on bars.
    pub indicators: Indicators,
}

impl LayerState {
    /// Fresh state.
    pub fn new(p: &LayerParams) -> Self {
        Self {
            ou: OuState::default(),
            flow: FlowState::default(),
            momentum: MomentumState::default(),
            regime: RegimeState::default(),
            indicators: Indicators::new(&p.indicators),
        }
    }

    /// Feeds one trade (log price `x`, `price`, taker `side` ±1, `qty`). Disabled layers keep
    /// no state; the regime's volatility is always kept (the take-profit layer uses it), and
    /// momentum always too (another symbol may lead with it).
    #[inline]
    pub fn update(&mut self, p: &LayerParams, x: f64, price: f64, side: f64, qty: f64, ts_ms: u64) {
        self.update_with(p, x, price, (side, qty), ts_ms, &mut ());
    }

    /// [`LayerState::update`] with `(side, qty)` of the trade, handing every closed indicator
    /// bar to `sink`.
    #[inline]
    pub fn update_with<S: BarSink>(
        &mut self,
        p: &LayerParams,
        x: f64,
        price: f64,
        (side, qty): (f64, f64),
        ts_ms: u64,
        sink: &mut S,
    ) {
        if p.ou.enabled {
            self.ou.update(&p.ou, x, ts_ms);
        }
        if p.flow.enabled || p.keep_flow || p.enabled(Layer::Indicators) {
            self.flow.update(&p.flow, side, qty, ts_ms);
        }
        if p.cross.enabled {
            self.momentum.update(&p.cross, x, ts_ms);
        }
        self.regime.update(&p.regime, x, ts_ms);
        if p.indicators.enabled {
            self.indicators
                .update_with(&p.indicators, price, qty, ts_ms, sink);
        }
    }

    /// Asks every enabled layer about `q`. Out of line: one copy for the deciding tick and the
    /// idle warm-up's shadow entry (`Engine::warm`).
    #[inline(never)]
    pub fn evaluate(&self, p: &LayerParams, q: &LayerQuery) -> LayerReport {
        let mut r = LayerReport {
            imbalance: self.flow.imbalance(),
            efficiency: self.regime.efficiency(),
            sigma: self.regime.sigma(&p.regime),
            ..LayerReport::default()
        };
        let verdict = |on: bool, ok: bool| match (on, ok) {
            (false, _) => LayerVerdict::Off,
            (true, true) => LayerVerdict::Pass,
            (true, false) => LayerVerdict::Reject,
        };
        if p.ou.enabled {
            r.ou_z = self.ou.z(&p.ou, q.x);
        }
        r.verdicts[Layer::Ou.index()] = verdict(p.ou.enabled, ou::confirms(&p.ou, q.side, r.ou_z));
        r.verdicts[Layer::Drift.index()] =
            verdict(p.drift.enabled, drift::confirms(&p.drift, q.side, q.drift));
        r.verdicts[Layer::Flow.index()] =
            verdict(p.flow.enabled, flow::confirms(&p.flow, q.side, r.imbalance));
        r.verdicts[Layer::Cross.index()] = verdict(
            p.cross.enabled,
            cross::confirms(&p.cross, q.side, &q.leader_log_moves),
        );
        r.verdicts[Layer::Regime.index()] = verdict(
            p.regime.enabled,
            !q.trend_entry || regime::is_trending(&p.regime, r.efficiency),
        );
        if p.tp_first.enabled {
            r.p_tp = p.tp_first.probability(q.side, q.v, r.sigma);
        }
        r.verdicts[Layer::TpFirst.index()] =
            verdict(p.tp_first.enabled, tp_first::confirms(&p.tp_first, r.p_tp));
        let ind_on = p.enabled(Layer::Indicators);
        if ind_on {
            r.strength = self.indicators.strength(q.side, r.imbalance);
        }
        r.verdicts[Layer::Indicators.index()] =
            verdict(ind_on, r.strength >= p.indicators.threshold);
        r
    }

    /// Verdicts when no entry is proposed: `NotApplicable` for enabled layers, `Off` otherwise.
    #[inline]
    pub fn idle_report(&self, p: &LayerParams) -> LayerReport {
        let mut r = LayerReport {
            imbalance: self.flow.imbalance(),
            efficiency: self.regime.efficiency(),
            sigma: self.regime.sigma(&p.regime),
            ..LayerReport::default()
        };
        for l in Layer::ALL {
            if p.enabled(l) {
                r.verdicts[l.index()] = LayerVerdict::NotApplicable;
            }
        }
        r
    }

    /// Forgets everything (after a gap).
    pub fn reset(&mut self, p: &LayerParams) {
        *self = Self::new(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enabled_layer_answers_and_any_veto_blocks() {
        let p = LayerParams::default();
        let mut st = LayerState::new(&p);
        for k in 0..100u64 {
            let x = 100f64.ln() + 1e-4 * k as f64;
            st.update(&p, x, x.exp(), 1.0, 1.0, k * 1000);
        }
        let q = LayerQuery {
            side: 1.0,
            trend_entry: true,
            x: 100f64.ln() + 99e-4,
            v: 1e-4,
            drift: 0.003,
            leader_log_moves: [0.0, 0.0],
        };
        let r = st.evaluate(&p, &q);
        assert_eq!(r.verdicts[Layer::Indicators.index()], LayerVerdict::Off);
        assert!(r.confirmed(), "{r:?}");
        assert!((r.imbalance - 1.0).abs() < 1e-12);
        let short = st.evaluate(
            &p,
            &LayerQuery {
                side: -1.0,
                drift: -0.003,
                ..q
            },
        );
        assert_eq!(short.verdicts[Layer::Flow.index()], LayerVerdict::Reject);
        assert_eq!(short.verdicts[Layer::TpFirst.index()], LayerVerdict::Reject);
        assert!(!short.confirmed());
        let idle = st.idle_report(&p);
        assert_eq!(
            idle.verdicts[Layer::Ou.index()],
            LayerVerdict::NotApplicable
        );
        assert_eq!(idle.verdicts[Layer::Indicators.index()], LayerVerdict::Off);
    }

    #[test]
    fn state_fits_the_per_symbol_budget() {
        assert!(
            std::mem::size_of::<LayerState>() <= 3 * 1024,
            "{}",
            std::mem::size_of::<LayerState>()
        );
    }
}
