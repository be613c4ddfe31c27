//! The learned filter's feature vector: what the engine already computed on the tick of an
//! entry signal, oriented along the entry's side and squashed to O(1) ranges (fixed scales, no
//! running statistics, so a saved model reads the same features after a restart).

use crate::model::indicators::IndicatorValues;
use crate::model::layers::{Layer, LayerVerdict};
use crate::strategy::TickState;
use crate::types::Case;

/// Number of features (index 0 is the bias).
pub const N: usize = 32;

/// A feature vector.
pub type Features = [f64; N];

/// Feature names, in index order (written to the state file; a file with other names is refused).
pub const NAMES: [&str; N] = [
    "bias",
    "side",
    "snr_v_along_side",
    "snr_a_along_side",
    "ln_evidence",
    "drift_along_side",
    "ln_nis",
    "case_1",
    "case_2",
    "case_3",
    "case_4",
    "case_5",
    "case_6",
    "layer_ou",
    "layer_drift",
    "layer_flow",
    "layer_cross",
    "layer_regime",
    "layer_tp_first",
    "layer_indicators",
    "ou_z_along_side",
    "flow_along_side",
    "efficiency",
    "volatility",
    "p_tp",
    "strength",
    "rsi_along_side",
    "macd_along_side",
    "bollinger_along_side",
    "ln_volume_ratio",
    "time_of_day_sin",
    "time_of_day_cos",
];

/// Milliseconds per UTC day.
const DAY_MS: u64 = 86_400_000;

/// +1 pass, −1 reject, 0 off or not asked.
#[inline]
fn verdict(v: LayerVerdict) -> f64 {
    match v {
        LayerVerdict::Pass => 1.0,
        LayerVerdict::Reject => -1.0,
        LayerVerdict::Off | LayerVerdict::NotApplicable => 0.0,
    }
}

/// `a / b`, 0 when `b` is not a positive finite number.
#[inline]
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 && b.is_finite() {
        a / b
    } else {
        0.0
    }
}

/// The features of an entry of direction `side` (±1) on the tick `st`, with the symbol's
/// indicators `ind`. Every value is finite and within [−1, 1] except the bias and
/// `ln_evidence` / `ln_nis` (logarithms, ≥ 0). Scales: SNRs /4, drift /10 bp, OU z /2,
/// 30-s volatility /10 bp, MACD histogram /ATR, Bollinger position /half-width.
#[inline]
pub fn features(st: &TickState, ind: &IndicatorValues, side: i8) -> Features {
    FeatureCache::default().features(st, ind, side)
}

/// The bar features of one side (`rsi`, `macd`, `bollinger`, `ln_volume_ratio`) and the inputs
/// they were computed from.
#[derive(Clone, Copy, Debug, Default)]
struct BarFeatures {
    /// Bits of `[rsi, macd.histogram, atr, close, bands.mid, bands.upper, volume_ratio]`.
    key: [u64; 7],
    /// The side they were computed for (`None`: empty).
    side: Option<i8>,
    x: [f64; 4],
}

/// A symbol's last values of the features that change at most once per bar (indicators), per
/// millisecond (time of day) or with the regime's σ: recomputed only when their inputs' bits
/// change, so [`FeatureCache::features`] equals [`features()`] bit for bit.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeatureCache {
    /// Per side (index 0: short or none, 1: long).
    bars: [BarFeatures; 2],
    /// `(ts_ms, sin, cos)` of the last time of day (`None`: empty).
    day: Option<(u64, f64, f64)>,
    /// `(σ bits, volatility feature)` (`None`: empty).
    sigma: Option<(u64, f64)>,
}

/// Indices of the features computed per tick (`tanh` / `ln_1p` of tick values): 2–6 and 20.
pub const PER_TICK: [usize; 6] = [2, 3, 4, 5, 6, 20];

/// The tick values the per-tick features are computed from (`s` = the side as ±1).
#[derive(Clone, Copy, Debug)]
struct PerTickInputs {
    s: f64,
    velocity: f64,
    acceleration: f64,
    p_vv: f64,
    p_aa: f64,
    evidence: f64,
    /// The drift's log move ([`TickState::drift`] = its `exp_m1`).
    log_move: f64,
    nis: f64,
    ou_z: f64,
}

/// A feature vector whose per-tick features ([`PER_TICK`]) may still be pending.
#[derive(Clone, Copy, Debug)]
pub struct Partial {
    /// The features; those of [`PER_TICK`] are 0 while pending.
    pub x: Features,
    /// The inputs of the pending features (`None` once computed).
    tick: Option<PerTickInputs>,
}

impl Partial {
    /// No features yet (all 0, nothing pending).
    pub const EMPTY: Partial = Partial {
        x: [0.0; N],
        tick: None,
    };

    /// True once every feature is computed.
    #[inline]
    pub fn complete(&self) -> bool {
        self.tick.is_none()
    }

    /// Computes the pending features: [`features()`]'s vector, bit for bit.
    #[inline]
    pub fn finish(&mut self) -> &Features {
        if let Some(t) = self.tick.take() {
            let x = &mut self.x;
            x[2] = (t.s * ratio(t.velocity, t.p_vv.sqrt()) / 4.0).tanh();
            x[3] = (t.s * ratio(t.acceleration, t.p_aa.sqrt()) / 4.0).tanh();
            x[4] = t.evidence.max(0.0).ln_1p() / 4.0;
            x[5] = (t.s * t.log_move.exp_m1() / 1e-3).tanh();
            x[6] = t.nis.max(0.0).ln_1p() / 4.0;
            x[20] = (t.s * t.ou_z / 2.0).tanh();
            for j in PER_TICK {
                if !x[j].is_finite() {
                    x[j] = 0.0;
                }
            }
        }
        &self.x
    }

    /// The complete vector.
    #[inline]
    pub fn finished(mut self) -> Features {
        self.finish();
        self.x
    }
}

/// Non-finite values become 0.
#[inline]
fn finite(x: &mut Features) {
    for v in x {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
}

impl FeatureCache {
    /// [`features()`] of `(st, ind, side)`, reusing the bar, time-of-day and volatility
    /// features when their inputs are bit-identical to the last call's.
    #[inline]
    pub fn features(&mut self, st: &TickState, ind: &IndicatorValues, side: i8) -> Features {
        self.partial(st, ind, side).finished()
    }

    /// Every feature but the per-tick ones of [`PER_TICK`] (left at 0 until
    /// [`Partial::finish`]), each already made finite.
    #[inline]
    pub fn partial(&mut self, st: &TickState, ind: &IndicatorValues, side: i8) -> Partial {
        let mut out = Partial::EMPTY;
        self.fill_partial(&mut out, st, ind, side);
        out
    }

    /// [`FeatureCache::partial`] written into `out` (no copy of the vector).
    #[inline]
    pub fn fill_partial(
        &mut self,
        out: &mut Partial,
        st: &TickState,
        ind: &IndicatorValues,
        side: i8,
    ) {
        let s = f64::from(side.signum());
        let l = &st.layers;
        let x = &mut out.x;
        *x = [0.0; N];
        x[0] = 1.0;
        x[1] = s;
        let case = st.case.index();
        if case < Case::Steady.index() {
            x[7 + case] = 1.0;
        }
        for layer in Layer::ALL {
            x[13 + layer.index()] = verdict(l.verdicts[layer.index()]);
        }
        x[21] = s * l.imbalance.clamp(-1.0, 1.0);
        x[22] = l.efficiency.clamp(0.0, 1.0);
        x[23] = self.volatility(l.sigma);
        x[24] = l.p_tp.clamp(0.0, 1.0);
        x[25] = l.strength.clamp(0.0, 1.0);
        if ind.ready {
            x[26..30].copy_from_slice(&self.bar(ind, side.signum()));
        }
        let (sin, cos) = self.time_of_day(st.ts_ms);
        x[30] = sin;
        x[31] = cos;
        finite(x);
        out.tick = Some(PerTickInputs {
            s,
            velocity: st.velocity,
            acceleration: st.acceleration,
            p_vv: st.kalman.p_vv,
            p_aa: st.kalman.p_aa,
            evidence: st.evidence,
            log_move: st.log_move,
            nis: st.kalman.nis,
            ou_z: l.ou_z,
        });
    }

    /// `tanh(σ·√30 / 10 bp)`.
    #[inline]
    fn volatility(&mut self, sigma: f64) -> f64 {
        match self.sigma {
            Some((bits, v)) if bits == sigma.to_bits() => v,
            _ => {
                let v = (sigma * 30f64.sqrt() / 1e-3).tanh();
                self.sigma = Some((sigma.to_bits(), v));
                v
            }
        }
    }

    /// `(sin, cos)` of the UTC time of day of `ts_ms` as a phase.
    #[inline]
    fn time_of_day(&mut self, ts_ms: u64) -> (f64, f64) {
        match self.day {
            Some((ts, sin, cos)) if ts == ts_ms => (sin, cos),
            _ => {
                let phase = (ts_ms % DAY_MS) as f64 / DAY_MS as f64 * std::f64::consts::TAU;
                let (sin, cos) = (phase.sin(), phase.cos());
                self.day = Some((ts_ms, sin, cos));
                (sin, cos)
            }
        }
    }

    /// The bar features of side `s` (±1, 0 treated as its own side) from ready indicators.
    #[inline]
    fn bar(&mut self, ind: &IndicatorValues, s: i8) -> [f64; 4] {
        let v = [
            ind.rsi,
            ind.macd.histogram,
            ind.atr,
            ind.close,
            ind.bands.mid,
            ind.bands.upper,
            ind.volume_ratio,
        ];
        let slot = &mut self.bars[usize::from(s > 0)];
        let key = v.map(f64::to_bits);
        if slot.side != Some(s) || slot.key != key {
            let sf = f64::from(s);
            let half = ind.bands.upper - ind.bands.mid;
            slot.x = [
                sf * ((ind.rsi - 50.0) / 50.0).clamp(-1.0, 1.0),
                (sf * ratio(ind.macd.histogram, ind.atr)).tanh(),
                (sf * ratio(ind.close - ind.bands.mid, half)).tanh(),
                if ind.volume_ratio > 0.0 {
                    ind.volume_ratio.ln().tanh()
                } else {
                    0.0
                },
            ];
            slot.key = key;
            slot.side = Some(s);
        }
        slot.x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_layer_order_and_features_are_bounded() {
        for layer in Layer::ALL {
            assert_eq!(NAMES[13 + layer.index()], format!("layer_{}", layer.name()));
        }
        let mut st = TickState {
            velocity: 3e-5,
            acceleration: -1e-6,
            evidence: 10.0,
            log_move: 2e-3,
            case: Case::DeceleratingUp,
            ts_ms: 6 * 3_600_000,
            ..TickState::default()
        };
        st.kalman.p_vv = 1e-10;
        st.kalman.p_aa = 1e-12;
        st.kalman.nis = f64::NAN;
        let x = features(&st, &IndicatorValues::default(), -1);
        assert_eq!(x[0], 1.0);
        assert_eq!(x[1], -1.0);
        assert!((x[2] - (-3.0f64 / 4.0).tanh()).abs() < 1e-12, "{}", x[2]);
        assert!((x[3] - (1.0f64 / 4.0).tanh()).abs() < 1e-12);
        assert_eq!(x[6], 0.0, "a NaN input becomes 0");
        assert_eq!(x[8], 1.0, "case 2 one-hot");
        assert_eq!(x[7] + x[9] + x[10] + x[11] + x[12], 0.0);
        assert!(
            (x[30] - 1.0).abs() < 1e-12 && x[31].abs() < 1e-12,
            "06:00 UTC"
        );
        assert!(x.iter().all(|v| v.is_finite()));
    }
}
