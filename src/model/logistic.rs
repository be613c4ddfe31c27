//! Online logistic regression with AdaGrad steps and L2, over a fixed-size feature array:
//! `p = σ(w·x)`, one update per labelled sample, no allocation.
//!
//! Update on `(x, y)`, `y ∈ {0, 1}`: `g_j = (p − y)·x_j + l2·w_j` (no L2 on the bias `j = 0`),
//! `G_j += g_j²`, `w_j −= lr·g_j / (√G_j + ε)` with `ε = 1e-8`.

/// AdaGrad's `ε` in the step denominator.
pub const ADAGRAD_EPS: f64 = 1e-8;

/// `σ(z) = 1 / (1 + e^(−z))`.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `σ(z) ≥ threshold` decided on the log-odds `z` where that is certain: `z` against
/// `logit(threshold) ± δ`, `δ = 1e-6·(1 + |logit|)` (σ moves by ≥ 1e-13 over `δ` for a threshold
/// in [1e-6, 1 − 1e-6], far above σ's rounding), and by evaluating σ inside that band, for a NaN
/// `z` and for any other threshold: the same answer as `sigmoid(z) >= threshold`, without the
/// `exp` on almost every call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    p: f64,
    /// `(lo, hi)`: `z ≤ lo` is below, `z ≥ hi` at or above the threshold.
    band: Option<(f64, f64)>,
}

impl Threshold {
    /// The decision `σ(z) ≥ p`.
    pub fn new(p: f64) -> Self {
        let band = (1e-6..=1.0 - 1e-6).contains(&p).then(|| {
            let z = (p / (1.0 - p)).ln();
            let d = 1e-6 * (1.0 + z.abs());
            (z - d, z + d)
        });
        Self { p, band }
    }

    /// `lo`: every `z ≤ lo` is below the threshold (`None` when the band is not used).
    #[inline]
    pub fn below(&self) -> Option<f64> {
        self.band.map(|(lo, _)| lo)
    }

    /// `sigmoid(z) >= p`.
    #[inline]
    pub fn reached(&self, z: f64) -> bool {
        match self.band {
            Some((_, hi)) if z >= hi => true,
            Some((lo, _)) if z <= lo => false,
            _ => sigmoid(z) >= self.p,
        }
    }
}

/// Weights and AdaGrad accumulators of an `N`-feature model (feature 0 is the bias).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Logistic<const N: usize> {
    /// Weights `w`.
    pub w: [f64; N],
    /// Sums of squared gradients `G`.
    pub g2: [f64; N],
}

impl<const N: usize> Default for Logistic<N> {
    fn default() -> Self {
        Self {
            w: [0.0; N],
            g2: [0.0; N],
        }
    }
}

impl<const N: usize> Logistic<N> {
    /// `P(y = 1 | x) = σ(w·x)`.
    #[inline]
    pub fn predict(&self, x: &[f64; N]) -> f64 {
        sigmoid(self.score(x))
    }

    /// The log-odds `w·x`, summed in index order.
    #[inline]
    pub fn score(&self, x: &[f64; N]) -> f64 {
        // `Iterator::sum`'s fold from −0.0, written as an index loop (no iterator adapters on
        // the per-tick path).
        let mut z = -0.0;
        #[allow(clippy::needless_range_loop)]
        for j in 0..N {
            z += self.w[j] * x[j];
        }
        z
    }

    /// One AdaGrad step on `(x, y)`; returns the prediction made before the step.
    #[inline]
    pub fn update(&mut self, x: &[f64; N], y: bool, lr: f64, l2: f64) -> f64 {
        let p = self.predict(x);
        let err = p - f64::from(u8::from(y));
        for (j, ((w, g2), x)) in self.w.iter_mut().zip(&mut self.g2).zip(x).enumerate() {
            let reg = if j == 0 { 0.0 } else { l2 * *w };
            let g = err * x + reg;
            *g2 += g * g;
            *w -= lr * g / (g2.sqrt() + ADAGRAD_EPS);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Around, inside and far from the band, for thresholds in and out of the banded range and
    /// NaN: the same answer as evaluating σ.
    #[test]
    fn threshold_answers_exactly_as_the_sigmoid() {
        for p in [
            0.0,
            1e-9,
            1e-6,
            0.05,
            0.3,
            0.5,
            0.5 + 1e-12,
            0.7,
            0.999_999,
            1.0,
        ] {
            let t = Threshold::new(p);
            let z0 = if p > 0.0 && p < 1.0 {
                (p / (1.0 - p)).ln()
            } else {
                0.0
            };
            let mut zs = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -800.0, 800.0];
            for k in -2000..=2000 {
                zs.push(z0 + f64::from(k) * 1e-9 * (1.0 + z0.abs()));
                zs.push(z0 + f64::from(k) * 1e-2);
            }
            let mut z = z0;
            for _ in 0..200 {
                zs.extend([z, -z]);
                z = f64::from_bits(z.to_bits() + 1);
            }
            for z in zs {
                assert_eq!(t.reached(z), sigmoid(z) >= p, "p {p}, z {z:e}");
            }
        }
    }

    /// From zero weights, `p = ½`; with `y = 1`, `g_j = −½·x_j`, `G_j = ¼·x_j²` and
    /// `w_j = lr·½|x_j|/(½|x_j| + ε)·sign(x_j)`; a second step adds L2 on the non-bias weights.
    #[test]
    fn one_step_matches_the_hand_computed_weights() {
        let mut m = Logistic::<3>::default();
        let x = [1.0, 2.0, -0.5];
        let p = m.update(&x, true, 0.1, 0.0);
        assert_eq!(p, 0.5);
        let want = [
            0.1 * 0.5 / (0.5 + 1e-8),
            0.1 * 1.0 / (1.0 + 1e-8),
            -0.1 * 0.25 / (0.25 + 1e-8),
        ];
        for (w, e) in m.w.iter().zip(want) {
            assert!((w - e).abs() < 1e-15, "{w} vs {e}");
        }
        assert_eq!(m.g2, [0.25, 1.0, 0.0625]);
        // Second step, y = 0, l2 = 0.5: z = w·x, p = σ(z), g_j = p·x_j + 0.5·w_j (j > 0).
        let w0 = m.w;
        let z = w0[0] + 2.0 * w0[1] - 0.5 * w0[2];
        let p2 = 1.0 / (1.0 + (-z).exp());
        let g = [p2, p2 * 2.0 + 0.5 * w0[1], -0.5 * p2 + 0.5 * w0[2]];
        let g2 = [0.25 + g[0] * g[0], 1.0 + g[1] * g[1], 0.0625 + g[2] * g[2]];
        assert_eq!(m.update(&x, false, 0.1, 0.5), p2);
        for j in 0..3 {
            let e = w0[j] - 0.1 * g[j] / (g2[j].sqrt() + 1e-8);
            assert!((m.w[j] - e).abs() < 1e-15, "w{j}: {} vs {e}", m.w[j]);
        }
    }

    /// A linearly separable problem (label = `x1 + 0.5·x2 > 0.1` on a deterministic
    /// pseudo-random cloud): trained prequentially, the last half is > 0.9 accurate.
    #[test]
    fn converges_on_a_separable_problem() {
        let mut m = Logistic::<3>::default();
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut uniform = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let (n, mut right) = (4_000, 0);
        for k in 0..n {
            let x = [1.0, uniform(), uniform()];
            let y = x[1] + 0.5 * x[2] > 0.1;
            let p = m.update(&x, y, 0.5, 1e-5);
            if k >= n / 2 && (p >= 0.5) == y {
                right += 1;
            }
        }
        let acc = right as f64 / (n / 2) as f64;
        assert!(acc > 0.9, "accuracy {acc}");
        assert!(m.w[1] > 0.0 && m.w[2] > 0.0 && m.w[0] < 0.0, "{:?}", m.w);
    }
}
