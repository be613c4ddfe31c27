//! The 95 % Student-t confidence interval of a mean: `x̄ ± t₀.₉₇₅,ₙ₋₁ · s/√n`, `s` the sample
//! standard deviation (n − 1). Trades are treated as independent draws.

use crate::backtest::metrics::mean_std;

/// `t₀.₉₇₅` for 1..=30 degrees of freedom (standard tables).
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// `t₀.₉₇₅` with `df` degrees of freedom: the table up to 30, beyond it the Cornish–Fisher
/// expansion around z = 1.959964 (error < 1e-4 for df > 30).
pub fn t975(df: usize) -> f64 {
    if df == 0 {
        return f64::INFINITY;
    }
    if df <= T975.len() {
        return T975[df - 1];
    }
    let z: f64 = 1.959_964;
    let n = df as f64;
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * n)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * n * n * n)
}

/// Mean and its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanCi {
    /// Sample mean.
    pub mean: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl MeanCi {
    /// The t-interval of `x`; fewer than 2 values give an unbounded interval.
    pub fn of(x: &[f64]) -> Self {
        let (mean, sd) = mean_std(x);
        if x.len() < 2 {
            return Self {
                mean,
                lo: f64::NEG_INFINITY,
                hi: f64::INFINITY,
            };
        }
        let half = t975(x.len() - 1) * sd / (x.len() as f64).sqrt();
        Self {
            mean,
            lo: mean - half,
            hi: mean + half,
        }
    }

    /// The interval excludes 0.
    pub fn significant(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_interval() {
        // x = 1, 2, 3, 4, 10: mean 4, s² = (9 + 4 + 1 + 0 + 36)/4 = 12.5, s/√5 = √2.5 = 1.581139;
        // t₀.₉₇₅,₄ = 2.776: half-width 4.389242.
        let ci = MeanCi::of(&[1.0, 2.0, 3.0, 4.0, 10.0]);
        assert!((ci.mean - 4.0).abs() < 1e-12);
        assert!((ci.lo - (4.0 - 4.389_242)).abs() < 1e-5, "{ci:?}");
        assert!((ci.hi - (4.0 + 4.389_242)).abs() < 1e-5, "{ci:?}");
        assert!(!ci.significant());
        // Shifted by 10: excludes 0.
        let ci = MeanCi::of(&[11.0, 12.0, 13.0, 14.0, 20.0]);
        assert!(ci.significant() && ci.lo > 0.0);
    }

    #[test]
    fn expansion_meets_the_table() {
        // Tables: t₀.₉₇₅ = 2.0395 (31), 2.0211 (40), 2.0003 (60), 1.9799 (120).
        for (df, want) in [(31, 2.0395), (40, 2.0211), (60, 2.0003), (120, 1.9799)] {
            assert!((t975(df) - want).abs() < 2e-4, "df {df}: {}", t975(df));
        }
        assert_eq!(t975(4), 2.776);
        assert!(MeanCi::of(&[1.0]).lo.is_infinite());
    }
}
