//! `[signal]`: which derivatives drive the matrix and the thresholds an entry must clear
//! (MATH.md §4–6).

use serde::Deserialize;

use crate::types::Case;

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
    /// Kalman dead band: `v ≈ 0` when `SNR_v = |v|/sqrt(P_vv) < k_v`.
    pub k_v: f64,
    /// Kalman dead band: `a ≈ 0` when `SNR_a = |a|/sqrt(P_aa) < k_a`.
    pub k_a: f64,
    /// Entries need the case's evidence ([`SignalParams::evidence`]) `≥ snr_min`.
    pub snr_min: f64,
    /// Entries need confidence `min(1, evidence/2) ≥ confidence_min`.
    pub confidence_min: f64,
    /// Forecast / drift horizon `h`, seconds.
    pub horizon_s: f64,
}

impl Default for SignalParams {
    fn default() -> Self {
        Self {
            source: VelocitySource::Kalman,
            k_v: 0.5,
            k_a: 0.25,
            snr_min: 1.0,
            confidence_min: 0.25,
            horizon_s: 30.0,
        }
    }
}

impl SignalParams {
    /// The evidence an entry of `case` is gated on, in standard errors of `v`: `SNR_v` for
    /// cases 1–4 (and the rest), `SNR_a·k_v/k_a` for cases 5–6, where `v ≈ 0` by definition and
    /// the acceleration is what the case acts on (MATH.md §4). Scaling by the ratio of the dead
    /// bands asks every case for the same multiple of its own band: with the defaults
    /// (`k_v = 0.5`, `k_a = 0.25`, `snr_min = 1`) an entry needs its estimate at twice its band.
    #[inline]
    pub fn evidence(&self, case: Case, snr_v: f64, snr_a: f64) -> f64 {
        if matches!(case, Case::Bottoming | Case::Topping) {
            if self.k_a > 0.0 {
                snr_a * self.k_v / self.k_a
            } else {
                snr_a
            }
        } else {
            snr_v
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_the_snr_of_the_estimate_the_case_acts_on_in_band_units() {
        let p = SignalParams::default();
        assert_eq!(p.evidence(Case::AcceleratingUp, 1.5, 9.0), 1.5);
        assert_eq!(p.evidence(Case::DeceleratingDown, 0.7, 9.0), 0.7);
        // Cases 5–6: SNR_a at twice its band (2·k_a) is worth twice the v band (2·k_v).
        assert_eq!(p.evidence(Case::Bottoming, 0.1, 2.0 * p.k_a), 2.0 * p.k_v);
        assert_eq!(p.evidence(Case::Topping, 0.1, 0.25), 0.5);
        // The default gate asks every case for twice its own band; the confidence gate sits at
        // the band edge, so it never binds before the SNR gate.
        assert_eq!(p.snr_min, 2.0 * p.k_v);
        assert_eq!(p.confidence_min, p.k_v / 2.0);
        let flat = SignalParams { k_a: 0.0, ..p };
        assert_eq!(flat.evidence(Case::Bottoming, 0.1, 0.3), 0.3);
    }
}
