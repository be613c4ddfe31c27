//! RSI(n) with Wilder smoothing.

/// `RSI = 100 − 100/(1 + G/L)` with `G`, `L` Wilder averages of gains and losses of consecutive
/// closes: seeded by the simple mean of the first `n` changes, then `G ← (G·(n − 1) + g)/n`.
/// `L = 0` gives 100 (50 when `G = 0` too).
#[derive(Clone, Copy, Debug)]
pub struct Rsi {
    n: u32,
    changes: u32,
    prev: f64,
    gain: f64,
    loss: f64,
    started: bool,
}

impl Rsi {
    /// RSI over `n ≥ 1` changes.
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1) as u32,
            changes: 0,
            prev: 0.0,
            gain: 0.0,
            loss: 0.0,
            started: false,
        }
    }

    /// Adds a close; returns the RSI once `n` changes were seen.
    #[inline]
    pub fn push(&mut self, close: f64) -> Option<f64> {
        if !self.started {
            self.started = true;
            self.prev = close;
            return None;
        }
        let d = close - self.prev;
        self.prev = close;
        let (g, l) = (d.max(0.0), (-d).max(0.0));
        let n = self.n as f64;
        if self.changes < self.n {
            self.changes += 1;
            self.gain += g;
            self.loss += l;
            if self.changes == self.n {
                self.gain /= n;
                self.loss /= n;
            }
        } else {
            self.gain = (self.gain * (n - 1.0) + g) / n;
            self.loss = (self.loss * (n - 1.0) + l) / n;
        }
        self.value()
    }

    /// The current RSI in `[0, 100]`, `None` before `n` changes.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        if self.changes < self.n {
            return None;
        }
        Some(if self.loss > 0.0 {
            100.0 - 100.0 / (1.0 + self.gain / self.loss)
        } else if self.gain > 0.0 {
            100.0
        } else {
            50.0
        })
    }
}
