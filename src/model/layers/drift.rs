//! Drift predictor: the expected move over the horizon (MATH.md §5) must agree in sign with the
//! trade and exceed the round-trip cost.

use serde::Deserialize;

/// `[layers.drift]`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftLayerParams {
    /// Use this layer.
    pub enabled: bool,
    /// Round-trip cost as a fraction of notional (two taker fees + half-spread).
    pub cost: f64,
}

impl Default for DriftLayerParams {
    fn default() -> Self {
        Self {
            enabled: true,
            cost: 0.0009,
        }
    }
}

impl DriftLayerParams {
    /// Checks every key (`layers.drift.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        if self.cost.is_finite() && self.cost >= 0.0 {
            Ok(())
        } else {
            Err(format!("layers.drift.cost: must be ≥ 0, got {}", self.cost))
        }
    }
}

/// `side·d > cost` with `d = exp(v·h + ½·a·h²) − 1` the expected drift.
#[inline]
pub fn confirms(p: &DriftLayerParams, side: f64, drift: f64) -> bool {
    side * drift > p.cost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_must_beat_cost_in_the_trade_direction() {
        let p = DriftLayerParams::default();
        assert!(confirms(&p, 1.0, 0.001));
        assert!(!confirms(&p, 1.0, 0.0005));
        assert!(!confirms(&p, -1.0, 0.001));
        assert!(confirms(&p, -1.0, -0.001));
        assert!(!confirms(&p, 1.0, f64::NAN));
    }
}
