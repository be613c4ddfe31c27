//! Simple and exponential moving averages, O(1) per value.

use super::ring::Ring;

/// SMA(n) = mean of the last `n` values: a running sum over a ring, recomputed from the ring
/// once per `n` values so rounding never accumulates.
#[derive(Clone, Copy, Debug)]
pub struct Sma {
    ring: Ring,
    sum: f64,
}

impl Sma {
    /// SMA over `n` values (`1 ≤ n ≤ 32`).
    pub fn new(n: usize) -> Self {
        Self {
            ring: Ring::new(n),
            sum: 0.0,
        }
    }

    /// Adds `x`; returns the SMA once `n` values were seen.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let out = self.ring.push(x);
        self.sum += x - out.unwrap_or(0.0);
        if self.ring.wrapped() {
            self.sum = self.ring.values().iter().sum();
        }
        self.value()
    }

    /// The current SMA, `None` before `n` values.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        self.ring
            .full()
            .then(|| self.sum / self.ring.window() as f64)
    }
}

/// EMA(n) with `α = 2/(n + 1)`, seeded by the SMA of the first `n` values:
/// `e_n = mean(x_1..x_n)`, then `e_t = e_{t−1} + α·(x_t − e_{t−1})`.
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    alpha: f64,
    n: u32,
    count: u32,
    /// Sum of the seed values, then the EMA.
    acc: f64,
}

impl Ema {
    /// EMA over period `n ≥ 1`.
    pub fn new(n: usize) -> Self {
        let n = n.max(1) as u32;
        Self {
            alpha: 2.0 / (n as f64 + 1.0),
            n,
            count: 0,
            acc: 0.0,
        }
    }

    /// Adds `x`; returns the EMA once seeded.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        if self.count < self.n {
            self.count += 1;
            self.acc += x;
            if self.count == self.n {
                self.acc /= self.n as f64;
            }
        } else {
            self.acc += self.alpha * (x - self.acc);
        }
        self.value()
    }

    /// The current EMA, `None` before `n` values.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        (self.count >= self.n).then_some(self.acc)
    }
}
