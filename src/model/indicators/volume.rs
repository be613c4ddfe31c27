//! Volume ratio: the volume of the bar just closed over the mean volume of the `n` bars before
//! it (`v_t / mean(v_{t−n}..v_{t−1})`); 0 when that mean is 0.

use super::ma::Sma;

/// Incremental volume ratio.
#[derive(Clone, Copy, Debug)]
pub struct VolumeRatio {
    mean: Sma,
    last: Option<f64>,
}

impl VolumeRatio {
    /// Ratio against the mean of the previous `n` bars (`1 ≤ n ≤ 32`).
    pub fn new(n: usize) -> Self {
        Self {
            mean: Sma::new(n),
            last: None,
        }
    }

    /// Adds a bar's volume; returns the ratio once `n` earlier bars exist.
    #[inline]
    pub fn push(&mut self, v: f64) -> Option<f64> {
        let r = self.mean.value().map(|m| if m > 0.0 { v / m } else { 0.0 });
        self.mean.push(v);
        self.last = r;
        r
    }

    /// The last ratio.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.last
    }
}
