//! A time-bucketed ring: `N` buckets of `width_ms` each, `K` values per bucket, with running
//! sums over the whole ring. O(1) per tick; the sums are recomputed from the buckets each time
//! a bucket rolls over (N·K additions at most once per bucket width), so rounding never
//! accumulates. No heap: the buckets live inline.

/// `N` time buckets of `K` values each; bucket `b` covers exchange time `[b·w, (b+1)·w)`.
///
/// The window is the current (partial) bucket plus the `N − 1` before it, i.e. between
/// `(N − 1)·w` and `N·w` of exchange time.
#[derive(Clone, Copy, Debug)]
pub struct BucketRing<const N: usize, const K: usize> {
    vals: [[f64; K]; N],
    sums: [f64; K],
    /// Index of the current bucket in `vals`, `< N`.
    cur: u32,
    /// Number of the current bucket (`ts_ms / width_ms`).
    bucket: u64,
    /// `(bucket + 1)·width` (saturating): a later stamp below it is still in the current bucket,
    /// known without a division.
    next_ms: u64,
    /// The width `next_ms` was computed with (`next_ms` is 0 for a width beyond `u32`).
    width_ms: u32,
    /// Buckets rolled since the last reset (saturating), so callers know how full it is.
    filled: u32,
    started: bool,
}

impl<const N: usize, const K: usize> Default for BucketRing<N, K> {
    fn default() -> Self {
        Self {
            vals: [[0.0; K]; N],
            sums: [0.0; K],
            cur: 0,
            bucket: 0,
            next_ms: 0,
            width_ms: 0,
            filled: 0,
            started: false,
        }
    }
}

/// `(bucket + 1)·w`, saturating; 0 (no fast path) when the width was not kept.
#[inline]
fn next_start(bucket: u64, w: u64, kept: bool) -> u64 {
    if kept {
        bucket.saturating_add(1).saturating_mul(w)
    } else {
        0
    }
}

impl<const N: usize, const K: usize> BucketRing<N, K> {
    /// Moves to the bucket of `ts_ms`, zeroing the buckets that leave the window. Returns the
    /// number of buckets that closed (0 while still in the same bucket; at most `N` are
    /// cleared whatever the gap). Older timestamps stay in the current bucket.
    #[inline]
    pub fn advance(&mut self, ts_ms: u64, width_ms: u64) -> u64 {
        // `ts / w ≤ bucket` iff `ts < (bucket + 1)·w`: the common case costs no division.
        if self.started && ts_ms < self.next_ms && width_ms == u64::from(self.width_ms) {
            return 0;
        }
        let w = width_ms.max(1);
        let b = ts_ms / w;
        let narrow = u32::try_from(width_ms);
        self.width_ms = narrow.unwrap_or(0);
        if !self.started {
            self.started = true;
            self.bucket = b;
            self.next_ms = next_start(b, w, narrow.is_ok());
            return 0;
        }
        if b <= self.bucket {
            self.next_ms = next_start(self.bucket, w, narrow.is_ok());
            return 0;
        }
        let steps = b - self.bucket;
        for _ in 0..steps.min(N as u64) {
            self.cur = (self.cur + 1) % N as u32;
            self.vals[self.cur as usize] = [0.0; K];
        }
        self.bucket = b;
        self.next_ms = next_start(b, w, narrow.is_ok());
        self.filled = self
            .filled
            .saturating_add(steps.min(u32::MAX as u64) as u32);
        self.sums = [0.0; K];
        for v in &self.vals {
            for (sum, x) in self.sums.iter_mut().zip(v) {
                *sum += x;
            }
        }
        steps
    }

    /// Adds `x` to value `k` of the current bucket.
    #[inline]
    pub fn add(&mut self, k: usize, x: f64) {
        self.vals[self.cur as usize][k] += x;
        self.sums[k] += x;
    }

    /// Sets value `k` of the current bucket to `x`.
    #[inline]
    pub fn set(&mut self, k: usize, x: f64) {
        let old = self.vals[self.cur as usize][k];
        self.vals[self.cur as usize][k] = x;
        self.sums[k] += x - old;
    }

    /// Value `k` of the current bucket.
    #[inline]
    pub fn current(&self, k: usize) -> f64 {
        self.vals[self.cur as usize][k]
    }

    /// Sum of value `k` over the window.
    #[inline]
    pub fn sum(&self, k: usize) -> f64 {
        self.sums[k]
    }

    /// Buckets closed since the last reset (saturating); `≥ N − 1` means the window is full.
    #[inline]
    pub fn filled(&self) -> u32 {
        self.filled
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The close of the current bucket and of the one before, for per-bucket log returns
/// `Δ = close − previous close` kept in a [`BucketRing`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BarCloses {
    prev_close: f64,
    close: f64,
    started: bool,
}

impl BarCloses {
    /// Advances `ring` to `ts_ms` (buckets of `width_ms`) and takes `x` as the current bucket's
    /// close. Returns `Δ = x − previous bucket's close`, or `None` for the first price (the
    /// ring is only positioned).
    #[inline]
    pub fn update<const N: usize, const K: usize>(
        &mut self,
        ring: &mut BucketRing<N, K>,
        x: f64,
        ts_ms: u64,
        width_ms: u64,
    ) -> Option<f64> {
        if !self.started {
            self.started = true;
            self.prev_close = x;
            self.close = x;
            ring.advance(ts_ms, width_ms);
            return None;
        }
        if ring.advance(ts_ms, width_ms) > 0 {
            self.prev_close = self.close;
        }
        self.close = x;
        Some(x - self.prev_close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cover_exactly_the_last_n_buckets() {
        let mut r = BucketRing::<4, 1>::default();
        for s in 0..10u64 {
            r.advance(s * 1000 + 500, 1000);
            r.add(0, (s + 1) as f64);
        }
        // Buckets 6..=9 hold 7, 8, 9, 10.
        assert_eq!(r.sum(0), 34.0);
        assert_eq!(r.current(0), 10.0);
        // A gap longer than the window clears everything.
        assert_eq!(r.advance(100_000, 1000), 91);
        assert_eq!(r.sum(0), 0.0);
        // Older time stays in the current bucket.
        r.add(0, 1.0);
        assert_eq!(r.advance(50_000, 1000), 0);
        r.add(0, 1.0);
        assert_eq!(r.sum(0), 2.0);
    }

    #[test]
    fn set_replaces_the_current_value() {
        let mut r = BucketRing::<3, 2>::default();
        r.advance(0, 10);
        r.set(1, 5.0);
        r.set(1, 2.0);
        r.advance(10, 10);
        r.set(1, 1.0);
        assert_eq!(r.sum(1), 3.0);
    }
}
