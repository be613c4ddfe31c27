//! A fixed-capacity ring of the last `n ≤ CAP` values (no heap), the window store of the
//! moving-window indicators.

/// Largest window any moving-window indicator may use.
pub const CAP: usize = 32;

/// The last `n` values pushed (`1 ≤ n ≤ CAP`).
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    buf: [f64; CAP],
    n: u8,
    /// Next write position, `< n`.
    head: u8,
    /// Values held, `≤ n`.
    len: u8,
}

impl Ring {
    /// An empty ring of window `n` (clamped to `1..=CAP`).
    pub fn new(n: usize) -> Self {
        Self {
            buf: [0.0; CAP],
            n: n.clamp(1, CAP) as u8,
            head: 0,
            len: 0,
        }
    }

    /// Pushes `x`; returns the value that left the window, if the ring was full.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let h = self.head as usize;
        let out = (self.len == self.n).then_some(self.buf[h]);
        self.buf[h] = x;
        self.head = if h + 1 == self.n as usize {
            0
        } else {
            h as u8 + 1
        };
        if self.len < self.n {
            self.len += 1;
        }
        out
    }

    /// True when `n` values are held.
    #[inline]
    pub fn full(&self) -> bool {
        self.len == self.n
    }

    /// True when the next push overwrites slot 0 (once per `n` pushes: the moment to recompute
    /// running sums from the stored values).
    #[inline]
    pub fn wrapped(&self) -> bool {
        self.head == 0
    }

    /// Window length `n`.
    #[inline]
    pub fn window(&self) -> usize {
        self.n as usize
    }

    /// The values held (unordered).
    #[inline]
    pub fn values(&self) -> &[f64] {
        &self.buf[..self.len as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_n_and_reports_evictions() {
        let mut r = Ring::new(3);
        assert_eq!(r.push(1.0), None);
        assert_eq!(r.push(2.0), None);
        assert_eq!(r.push(3.0), None);
        assert!(r.full() && r.wrapped());
        assert_eq!(r.push(4.0), Some(1.0));
        let mut v = r.values().to_vec();
        v.sort_by(f64::total_cmp);
        assert_eq!(v, vec![2.0, 3.0, 4.0]);
    }
}
