//! MACD(fast, slow, signal): `macd = EMA_fast − EMA_slow`, `signal = EMA_signal(macd)` (seeded
//! by the SMA of its first values), `histogram = macd − signal`.

use super::ma::Ema;

/// MACD line, signal line and histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MacdValue {
    /// `EMA_fast − EMA_slow`.
    pub macd: f64,
    /// EMA of `macd`.
    pub signal: f64,
    /// `macd − signal`.
    pub histogram: f64,
}

/// Incremental MACD.
#[derive(Clone, Copy, Debug)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// MACD with the given periods (classic 12, 26, 9).
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        Self {
            fast: Ema::new(fast),
            slow: Ema::new(slow),
            signal: Ema::new(signal),
        }
    }

    /// Adds a close; returns the values once the signal line is seeded.
    #[inline]
    pub fn push(&mut self, close: f64) -> Option<MacdValue> {
        let f = self.fast.push(close);
        let s = self.slow.push(close);
        let (Some(f), Some(s)) = (f, s) else {
            return None;
        };
        let macd = f - s;
        let signal = self.signal.push(macd)?;
        Some(MacdValue {
            macd,
            signal,
            histogram: macd - signal,
        })
    }
}
