//! Take-profit-first confirmation (MATH.md §7): `P(TP before SL)` for the trade's side from the
//! two-barrier formula, and a positive expected value after costs:
//! `P·tp − (1 − P)·sl − cost > 0`.

use crate::model::barrier::{expected_value, p_tp_first};

crate::model::params::params! {
    /// `[layers.tp_first]`.
    pub struct TpFirstParams in "layers.tp_first" {
        /// Use this layer.
        pub enabled: bool = true,
        /// Take-profit distance, fraction of the entry price.
        pub tp: f64 = 0.008 => unit_open,
        /// Stop-loss distance, fraction of the entry price.
        pub sl: f64 = 0.005 => unit_open,
        /// Round-trip cost, fraction of notional.
        pub cost: f64 = 0.0009 => non_negative,
    }
}

impl TpFirstParams {
    /// `P(TP first)` for `side` with log-price drift `mu` (1/s) and volatility `sigma` (1/√s).
    #[inline]
    pub fn probability(&self, side: f64, mu: f64, sigma: f64) -> f64 {
        p_tp_first(side, mu, sigma, self.tp, self.sl)
    }
}

/// Positive expected value after costs.
#[inline]
pub fn confirms(p: &TpFirstParams, prob: f64) -> bool {
    expected_value(prob, p.tp, p.sl, p.cost) > 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_drift_in_the_trade_direction() {
        let p = TpFirstParams::default();
        let sigma = 1e-4;
        // Driftless: P = L/(U+L) ≈ 0.385, EV < 0.
        assert!(!confirms(&p, p.probability(1.0, 0.0, sigma)));
        // A 1e-5/s drift with σ = 1e-4/√s: 2μL/σ² ≈ 10, P ≈ 1.
        assert!(confirms(&p, p.probability(1.0, 1e-5, sigma)));
        assert!(!confirms(&p, p.probability(-1.0, 1e-5, sigma)));
        assert!(confirms(&p, p.probability(-1.0, -1e-5, sigma)));
    }
}
