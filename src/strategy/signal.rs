//! `[signal]`: which derivatives drive the matrix and the thresholds an entry must clear
//! (MATH.md §4–6).

use serde::Deserialize;

/// Source of the (velocity, acceleration) pair fed to the matrix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VelocitySource {
    /// The Kalman filter's `v`, `a`; dead bands `k_v·sqrt(P_vv)`, `k_a·sqrt(P_aa)`.
    #[default]
    Kalman,
    /// Smoothed finite differences (MATH.md §2); dead bands `strategy.v_band`, `strategy.a_band`.
    FiniteDifference,
}

/// `[signal]`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalParams {
    /// `kalman` or `finite_difference`.
    pub source: VelocitySource,
    /// Kalman dead band: `v ≈ 0` when `|v| < k_v·sqrt(P_vv)`.
    pub k_v: f64,
    /// Kalman dead band: `a ≈ 0` when `|a| < k_a·sqrt(P_aa)`.
    pub k_a: f64,
    /// Entries need `SNR = |v|/sqrt(P_vv) ≥ snr_min`.
    pub snr_min: f64,
    /// Entries need confidence `min(1, SNR/2) ≥ confidence_min`.
    pub confidence_min: f64,
    /// Forecast / drift horizon `h`, seconds.
    pub horizon_s: f64,
}

impl Default for SignalParams {
    fn default() -> Self {
        Self {
            source: VelocitySource::Kalman,
            k_v: 1.0,
            k_a: 1.0,
            snr_min: 1.0,
            confidence_min: 0.6,
            horizon_s: 30.0,
        }
    }
}

impl SignalParams {
    /// Checks every key (`signal.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        for (k, v) in [
            ("k_v", self.k_v),
            ("k_a", self.k_a),
            ("snr_min", self.snr_min),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("signal.{k}: must be ≥ 0, got {v}"));
            }
        }
        if !(0.0..=1.0).contains(&self.confidence_min) {
            return Err(format!(
                "signal.confidence_min: must be in [0, 1], got {}",
                self.confidence_min
            ));
        }
        if !(self.horizon_s.is_finite() && self.horizon_s > 0.0) {
            return Err(format!(
                "signal.horizon_s: must be > 0, got {}",
                self.horizon_s
            ));
        }
        Ok(())
    }
}
