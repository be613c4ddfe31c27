//! Bollinger bands (n, k): `mid = SMA(n)`, `upper/lower = mid ± k·σ`, σ the population standard
//! deviation of the last `n` closes, from running sums of values centred on a reference that is
//! re-set to the current mean once per `n` values (re-centring keeps `Σx² − (Σx)²/n` exact
//! enough when the price is far from zero).

use super::ring::Ring;

/// Middle, upper and lower band.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bands {
    /// SMA(n).
    pub mid: f64,
    /// `mid + k·σ`.
    pub upper: f64,
    /// `mid − k·σ`.
    pub lower: f64,
}

/// Incremental Bollinger bands.
#[derive(Clone, Copy, Debug)]
pub struct Bollinger {
    ring: Ring,
    k: f64,
    reference: f64,
    sum: f64,
    sum_sq: f64,
}

impl Bollinger {
    /// Bands over `n` closes (`1 ≤ n ≤ 32`) at `k` standard deviations.
    pub fn new(n: usize, k: f64) -> Self {
        Self {
            ring: Ring::new(n),
            k,
            reference: f64::NAN,
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// Adds a close; returns the bands once `n` closes were seen.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<Bands> {
        if self.reference.is_nan() {
            self.reference = x;
        }
        let c = x - self.reference;
        if let Some(old) = self.ring.push(x) {
            let o = old - self.reference;
            self.sum -= o;
            self.sum_sq -= o * o;
        }
        self.sum += c;
        self.sum_sq += c * c;
        if self.ring.wrapped() {
            let n = self.ring.values().len() as f64;
            self.reference = self.ring.values().iter().sum::<f64>() / n;
            let r = self.reference;
            self.sum = self.ring.values().iter().map(|v| v - r).sum();
            self.sum_sq = self.ring.values().iter().map(|v| (v - r) * (v - r)).sum();
        }
        self.value()
    }

    /// The current bands, `None` before `n` closes.
    #[inline]
    pub fn value(&self) -> Option<Bands> {
        if !self.ring.full() {
            return None;
        }
        let n = self.ring.window() as f64;
        let m = self.sum / n;
        let sd = (self.sum_sq / n - m * m).max(0.0).sqrt();
        let mid = self.reference + m;
        Some(Bands {
            mid,
            upper: mid + self.k * sd,
            lower: mid - self.k * sd,
        })
    }
}
