//! Drift predictor: the expected move over the horizon (MATH.md §5) must agree in sign with the
//! trade and exceed the round-trip cost.

crate::model::params::params! {
    /// `[layers.drift]`.
    pub struct DriftLayerParams in "layers.drift" {
        /// Use this layer.
        pub enabled: bool = true,
        /// Round-trip cost as a fraction of notional (two taker fees + half-spread).
        pub cost: f64 = 0.0009 => non_negative,
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
