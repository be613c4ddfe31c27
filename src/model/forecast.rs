//! Taylor forecast of the price and the expected drift over a horizon (MATH.md §5).

/// Clamp of the forecast exponent `v·h + ½·a·h²` (log price): ±0.5 is a ±65 % / −39 % move,
/// far beyond any horizon the strategy uses, and keeps `exp` finite for any input.
pub const MAX_LOG_MOVE: f64 = 0.5;

/// `v·h + ½·a·h²` with `v` in 1/s, `a` in 1/s², `h` in s; clamped to `±MAX_LOG_MOVE`, 0 if not finite.
#[inline]
pub fn log_move(v: f64, a: f64, h: f64) -> f64 {
    let m = v * h + 0.5 * a * h * h;
    if m.is_finite() {
        m.clamp(-MAX_LOG_MOVE, MAX_LOG_MOVE)
    } else {
        0.0
    }
}

/// Forecast price `p·exp(m)` for the log move `m` = [`log_move`] (same unit as `p`).
#[inline]
pub fn forecast_price(p: f64, m: f64) -> f64 {
    p * m.exp()
}

/// Drift over the horizon `d = exp(m) − 1` for the log move `m` = [`log_move`], a fraction of
/// the price.
#[inline]
pub fn drift(m: f64) -> f64 {
    m.exp_m1()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forecast_follows_the_taylor_expansion() {
        let (p, v, a, h): (f64, f64, f64, f64) = (100.0, 1e-4, 2e-6, 30.0);
        let want = p * (v * h + 0.5 * a * h * h).exp();
        let m = log_move(v, a, h);
        assert!((forecast_price(p, m) - want).abs() < 1e-12);
        assert!((drift(m) - (want / p - 1.0)).abs() < 1e-15);
    }

    #[test]
    fn extreme_inputs_stay_finite() {
        assert!((forecast_price(1.0, log_move(1e300, 0.0, 30.0)) - 0.5f64.exp()).abs() < 1e-12);
        assert_eq!(drift(log_move(f64::NAN, 0.0, 30.0)), 0.0);
    }
}
