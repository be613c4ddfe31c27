//! ATR(n), Wilder, on time bars built from trades.
//!
//! Input: each closed bar's high, low and close (trade prices inside the bar; a bar without
//! trades is flat at the previous close). True range `TR = max(h − l, |h − c_prev|, |l − c_prev|)`
//! (`h − l` for the first bar). `ATR_n = mean(TR_1..TR_n)`, then `ATR ← (ATR·(n − 1) + TR)/n`.

/// Incremental Wilder ATR.
#[derive(Clone, Copy, Debug)]
pub struct Atr {
    n: u32,
    count: u32,
    prev_close: f64,
    acc: f64,
}

impl Atr {
    /// ATR over `n ≥ 1` bars.
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1) as u32,
            count: 0,
            prev_close: f64::NAN,
            acc: 0.0,
        }
    }

    /// `TR` of a bar given the previous close (NaN for the first bar).
    #[inline]
    pub fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
        if prev_close.is_nan() {
            high - low
        } else {
            (high - low)
                .max((high - prev_close).abs())
                .max((low - prev_close).abs())
        }
    }

    /// Adds a closed bar; returns the ATR once `n` bars were seen.
    #[inline]
    pub fn push(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let tr = Self::true_range(high, low, self.prev_close);
        self.prev_close = close;
        let n = self.n as f64;
        if self.count < self.n {
            self.count += 1;
            self.acc += tr;
            if self.count == self.n {
                self.acc /= n;
            }
        } else {
            self.acc = (self.acc * (n - 1.0) + tr) / n;
        }
        self.value()
    }

    /// The current ATR (price units), `None` before `n` bars.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        (self.count >= self.n).then_some(self.acc)
    }
}
