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
    let s = f64::from(side.signum());
    let k = &st.kalman;
    let l = &st.layers;
    let mut x = [0.0; N];
    x[0] = 1.0;
    x[1] = s;
    x[2] = (s * ratio(st.velocity, k.p_vv.sqrt()) / 4.0).tanh();
    x[3] = (s * ratio(st.acceleration, k.p_aa.sqrt()) / 4.0).tanh();
    x[4] = st.evidence.max(0.0).ln_1p() / 4.0;
    x[5] = (s * st.drift / 1e-3).tanh();
    x[6] = k.nis.max(0.0).ln_1p() / 4.0;
    let case = st.case.index();
    if case < Case::Steady.index() {
        x[7 + case] = 1.0;
    }
    for layer in Layer::ALL {
        x[13 + layer.index()] = verdict(l.verdicts[layer.index()]);
    }
    x[20] = (s * l.ou_z / 2.0).tanh();
    x[21] = s * l.imbalance.clamp(-1.0, 1.0);
    x[22] = l.efficiency.clamp(0.0, 1.0);
    x[23] = (l.sigma * 30f64.sqrt() / 1e-3).tanh();
    x[24] = l.p_tp.clamp(0.0, 1.0);
    x[25] = l.strength.clamp(0.0, 1.0);
    if ind.ready {
        x[26] = s * ((ind.rsi - 50.0) / 50.0).clamp(-1.0, 1.0);
        x[27] = (s * ratio(ind.macd.histogram, ind.atr)).tanh();
        let half = ind.bands.upper - ind.bands.mid;
        x[28] = (s * ratio(ind.close - ind.bands.mid, half)).tanh();
        x[29] = if ind.volume_ratio > 0.0 {
            ind.volume_ratio.ln().tanh()
        } else {
            0.0
        };
    }
    let phase = (st.ts_ms % DAY_MS) as f64 / DAY_MS as f64 * std::f64::consts::TAU;
    x[30] = phase.sin();
    x[31] = phase.cos();
    for v in &mut x {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
    x
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
            drift: 2e-3,
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
