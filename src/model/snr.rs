//! Signal-to-noise of the velocity estimate and the confidence derived from it (MATH.md §4).

/// `SNR = |v| / sqrt(P_vv)`: the velocity in units of its own standard error (dimensionless,
/// independent of the price scale). 0 when the variance is not positive or either input is not
/// finite, so no NaN leaves.
#[inline]
pub fn snr(v: f64, p_vv: f64) -> f64 {
    let r = v.abs() / p_vv.sqrt();
    if r.is_finite() && p_vv > 0.0 {
        r
    } else {
        0.0
    }
}

/// Base confidence `c = min(1, SNR / 2)`, in `[0, 1]` (the engine passes the case's evidence,
/// `strategy::SignalParams::evidence`).
#[inline]
pub fn confidence(snr: f64) -> f64 {
    if snr.is_finite() {
        (0.5 * snr).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snr_is_velocity_over_its_standard_error() {
        assert!((snr(-3e-5, 1e-10) - 3.0).abs() < 1e-12);
        assert_eq!(snr(1e-5, 0.0), 0.0);
        assert_eq!(snr(f64::NAN, 1.0), 0.0);
        assert_eq!(snr(1.0, f64::NAN), 0.0);
    }

    #[test]
    fn confidence_is_half_snr_capped_at_one() {
        assert_eq!(confidence(1.2), 0.6);
        assert_eq!(confidence(5.0), 1.0);
        assert_eq!(confidence(0.0), 0.0);
        assert_eq!(confidence(f64::INFINITY), 0.0);
    }
}
