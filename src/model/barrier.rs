//! Probability that the take-profit is hit before the stop-loss, from the two-barrier
//! first-passage formula for Brownian motion with drift of log price (MATH.md §7).

/// `ln(expm1(z))` for `z > 0`, stable for large `z` (`= z + ln(1 − e^{−z})`).
#[inline]
fn ln_expm1(z: f64) -> f64 {
    if z > 30.0 {
        z + (-(-z).exp()).ln_1p()
    } else {
        z.exp_m1().ln()
    }
}

/// `P(TP first)` for a position on `side` (+1 long, −1 short) with log-price drift `mu` (1/s)
/// and volatility `sigma` (1/√s); `tp` and `sl` are fractions of the entry price (> 0).
///
/// For a long, `U = ln(1 + tp)` above and `L = −ln(1 − sl)` below; for a short the take-profit
/// is the price *falling* by `tp`, so `U = −ln(1 − tp)`, `L = ln(1 + sl)` and the drift
/// favouring it is `−mu`. With `k = 2μ/σ²`:
/// `P = (1 − e^{−kL}) / (1 − e^{−k(U+L)})`, and `L/(U + L)` as `k → 0`. Evaluated in log space
/// so it stays in `[0, 1]` for any drift; non-finite or degenerate inputs give the driftless value.
#[inline]
pub fn p_tp_first(side: f64, mu: f64, sigma: f64, tp: f64, sl: f64) -> f64 {
    let (u, l) = if side >= 0.0 {
        ((tp).ln_1p(), -(-sl).ln_1p())
    } else {
        (-(-tp).ln_1p(), sl.ln_1p())
    };
    if !(u > 0.0 && l > 0.0 && u.is_finite() && l.is_finite()) {
        return 0.0;
    }
    let driftless = l / (u + l);
    let k = 2.0 * side.signum() * mu / (sigma * sigma);
    if !k.is_finite() || k.abs() * (u + l) < 1e-9 {
        return driftless;
    }
    let p = if k > 0.0 {
        // (1 − e^{−kL}) / (1 − e^{−k(U+L)}): both terms in (0, 1], no overflow.
        (-(-k * l).exp_m1()) / (-(-k * (u + l)).exp_m1())
    } else {
        // = expm1(mL) / expm1(m(U+L)) with m = −k > 0, in log space.
        let m = -k;
        (ln_expm1(m * l) - ln_expm1(m * (u + l))).exp()
    };
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        driftless
    }
}

/// Expected value of the trade per unit notional: `P·tp − (1 − P)·sl − cost`.
#[inline]
pub fn expected_value(p: f64, tp: f64, sl: f64, cost: f64) -> f64 {
    p * tp - (1.0 - p) * sl - cost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driftless_probability_is_distance_ratio() {
        let (tp, sl) = (0.01, 0.005);
        let u = 0.01f64.ln_1p();
        let l = -(-0.005f64).ln_1p();
        assert!((p_tp_first(1.0, 0.0, 1e-4, tp, sl) - l / (u + l)).abs() < 1e-12);
        // Short: the take-profit is a fall of 1 %, the stop a rise of 0.5 %.
        let u = -(-0.01f64).ln_1p();
        let l = 0.005f64.ln_1p();
        assert!((p_tp_first(-1.0, 0.0, 1e-4, tp, sl) - l / (u + l)).abs() < 1e-12);
    }

    #[test]
    fn matches_the_closed_form_for_moderate_drift() {
        let (mu, sigma, tp, sl): (f64, f64, f64, f64) = (2e-5, 1e-3, 0.008, 0.005);
        let u = tp.ln_1p();
        let l = -(-sl).ln_1p();
        let k = 2.0 * mu / (sigma * sigma);
        let want = (1.0 - (-k * l).exp()) / (1.0 - (-k * (u + l)).exp());
        assert!((p_tp_first(1.0, mu, sigma, tp, sl) - want).abs() < 1e-12);
        // The same drift is against a short: symmetric formula with −μ.
        let ul = (-(-tp).ln_1p(), sl.ln_1p());
        let k = -k;
        let want_s = (1.0 - (-k * ul.1).exp()) / (1.0 - (-k * (ul.0 + ul.1)).exp());
        assert!((p_tp_first(-1.0, mu, sigma, tp, sl) - want_s).abs() < 1e-12);
        assert!(want_s < want);
    }

    #[test]
    fn strong_drift_saturates_without_overflow() {
        let up = p_tp_first(1.0, 1e-2, 1e-5, 0.01, 0.01);
        assert!((up - 1.0).abs() < 1e-12);
        let down = p_tp_first(1.0, -1e-2, 1e-5, 0.01, 0.01);
        assert!((0.0..1e-12).contains(&down), "{down}");
        assert!(p_tp_first(-1.0, -1e-2, 1e-5, 0.01, 0.01) > 1.0 - 1e-12);
        assert!(p_tp_first(1.0, f64::NAN, 1e-5, 0.01, 0.01).is_finite());
        assert_eq!(p_tp_first(1.0, 1e-3, 1e-4, 0.0, 0.01), 0.0);
    }

    #[test]
    fn log_space_branch_matches_direct_formula() {
        let (mu, sigma, tp, sl): (f64, f64, f64, f64) = (-3e-6, 2e-4, 0.008, 0.005);
        let u = tp.ln_1p();
        let l = -(-sl).ln_1p();
        let k = 2.0 * mu / (sigma * sigma);
        let want = (1.0 - (-k * l).exp()) / (1.0 - (-k * (u + l)).exp());
        assert!((p_tp_first(1.0, mu, sigma, tp, sl) - want).abs() < 1e-12);
    }

    #[test]
    fn expected_value_after_costs() {
        assert!((expected_value(0.5, 0.01, 0.005, 0.001) - 0.0015).abs() < 1e-15);
    }
}
