//! Rolling correlation of per-symbol returns on fixed time bars, for the correlation cap.
//!
//! Returns are log returns over bars of `bar_ms` exchange time, `r_i = ln(p_i,close / p_i,prev)`
//! (a symbol without a trade in the bar has `r_i = 0`; a gap of several bars is one sample).
//! Moments are RiskMetrics-style zero-mean EWMAs with decay `λ = 0.5^(1/half-life)`:
//! `C_ij ← λ·C_ij + (1 − λ)·r_i·r_j`, and `ρ_ij = C_ij / sqrt(C_ii·C_jj)`.
//!
//! Cost: a tick is O(1) (store the price). A bar close updates the `m(m+1)/2` pairs of the `m`
//! symbols that have had a price (8 traded symbols = 36 multiply-adds per bar), whatever the
//! number `n` of known symbols: symbols never traded (not subscribed) cost nothing per bar.
//! Buffers are allocated once at construction; nothing allocates afterwards.

/// EWMA correlation of the configured symbols' bar returns.
#[derive(Clone, Debug)]
pub struct Correlation {
    n: usize,
    bar_ms: u64,
    lambda: f64,
    min_bars: u32,
    /// Index of the bar being filled (`u64::MAX` before the first price).
    bar: u64,
    /// Last price in the current bar (0 = none yet).
    last: Vec<f64>,
    /// Log price at the previous bar close (NaN = none yet).
    close: Vec<f64>,
    /// This bar's returns (scratch, NaN = no return).
    ret: Vec<f64>,
    /// EWMA second moments, `n × n`, row-major; the diagonal holds the variances.
    cov: Vec<f64>,
    /// Samples per pair, `n × n`.
    count: Vec<u32>,
    /// Symbols that have had a price, in first-price order (capacity `n`: never reallocates).
    seen: Vec<usize>,
}

impl Correlation {
    /// A tracker for `n` symbols, bars of `bar_ms` ms, EWMA half-life `halflife_bars` bars; a
    /// pair's correlation is reported after `min_bars` common samples.
    pub fn new(n: usize, bar_ms: u64, halflife_bars: f64, min_bars: u32) -> Self {
        Self {
            n,
            bar_ms: bar_ms.max(1),
            lambda: 0.5f64.powf(1.0 / halflife_bars.max(f64::MIN_POSITIVE)),
            min_bars: min_bars.max(1),
            bar: u64::MAX,
            last: vec![0.0; n],
            close: vec![f64::NAN; n],
            ret: vec![f64::NAN; n],
            cov: vec![0.0; n * n],
            count: vec![0; n * n],
            seen: Vec::with_capacity(n),
        }
    }

    /// Records a trade of symbol `i` at `price` and exchange time `ts_ms`; closes the previous
    /// bar first when `ts_ms` falls in a later one. Late ticks (an earlier bar) count in the
    /// current bar. Invalid symbols or prices are ignored.
    #[inline]
    pub fn on_price(&mut self, i: usize, price: f64, ts_ms: u64) {
        if i >= self.n || !(price.is_finite() && price > 0.0) {
            return;
        }
        let k = ts_ms / self.bar_ms;
        if self.bar == u64::MAX {
            self.bar = k;
        } else if k > self.bar {
            self.close_bar();
            self.bar = k;
        }
        if self.last[i] == 0.0 {
            self.seen.push(i);
        }
        self.last[i] = price;
    }

    /// Symbols that have had a price, in first-price order: the only ones with returns, so the
    /// only ones a correlation can exist for.
    #[inline]
    pub fn seen(&self) -> &[usize] {
        &self.seen
    }

    fn close_bar(&mut self) {
        let n = self.n;
        for &i in &self.seen {
            let x = if self.last[i] > 0.0 {
                self.last[i].ln()
            } else {
                f64::NAN
            };
            self.ret[i] = x - self.close[i];
            if x.is_finite() {
                self.close[i] = x;
            }
        }
        let (l, w) = (self.lambda, 1.0 - self.lambda);
        for (a, &i) in self.seen.iter().enumerate() {
            let ri = self.ret[i];
            if !ri.is_finite() {
                continue;
            }
            for &j in &self.seen[a..] {
                let rj = self.ret[j];
                if !rj.is_finite() {
                    continue;
                }
                let c = l * self.cov[i * n + j] + w * ri * rj;
                self.cov[i * n + j] = c;
                self.cov[j * n + i] = c;
                let k = self.count[i * n + j].saturating_add(1);
                self.count[i * n + j] = k;
                self.count[j * n + i] = k;
            }
        }
    }

    /// `ρ_ij` in [−1, 1], or `None` before `min_bars` common samples or with zero variance.
    #[inline]
    pub fn corr(&self, i: usize, j: usize) -> Option<f64> {
        let n = self.n;
        if i >= n || j >= n || self.count[i * n + j] < self.min_bars {
            return None;
        }
        let v = self.cov[i * n + i] * self.cov[j * n + j];
        if v.is_nan() || v <= 0.0 {
            return None;
        }
        Some((self.cov[i * n + j] / v.sqrt()).clamp(-1.0, 1.0))
    }

    /// Number of symbols.
    #[inline]
    pub fn len(&self) -> usize {
        self.n
    }

    /// No symbols.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds log returns `r(k)` for symbols 0 and 1 as prices at 1 s bars.
    fn feed(c: &mut Correlation, bars: u64, r: impl Fn(u64) -> (f64, f64)) {
        let (mut x0, mut x1) = (100f64.ln(), 2_000f64.ln());
        c.on_price(0, x0.exp(), 0);
        c.on_price(1, x1.exp(), 0);
        for k in 1..=bars {
            let (a, b) = r(k);
            x0 += a;
            x1 += b;
            c.on_price(0, x0.exp(), k * 1_000 + 10);
            c.on_price(1, x1.exp(), k * 1_000 + 20);
        }
        // Close the last bar.
        c.on_price(0, x0.exp(), (bars + 1) * 1_000 + 10);
    }

    #[test]
    fn proportional_returns_correlate_one_and_opposite_minus_one() {
        let mut c = Correlation::new(2, 1_000, 20.0, 10);
        feed(&mut c, 50, |k| {
            let a = 1e-4 * ((k * 7 % 5) as f64 - 2.0);
            (a, 3.0 * a)
        });
        assert!((c.corr(0, 1).unwrap() - 1.0).abs() < 1e-9);
        let mut c = Correlation::new(2, 1_000, 20.0, 10);
        feed(&mut c, 50, |k| {
            let a = 1e-4 * ((k * 7 % 5) as f64 - 2.0);
            (a, -0.5 * a)
        });
        assert!((c.corr(0, 1).unwrap() + 1.0).abs() < 1e-9);
    }

    /// r₀ = a constant, r₁ = ±b alternating, last sample +: ρ = Σλ^m(−1)^m / Σλ^m over K samples
    /// `= (1 − λ)(1 − (−λ)^K) / ((1 + λ)(1 − λ^K))`.
    #[test]
    fn alternating_against_constant_matches_the_closed_form() {
        let h = 10.0;
        let lambda = 0.5f64.powf(1.0 / h);
        let bars = 41u64;
        let mut c = Correlation::new(2, 1_000, h, 5);
        feed(&mut c, bars, |k| {
            (2e-4, if k % 2 == 1 { 1e-4 } else { -1e-4 })
        });
        let kk = bars as i32;
        let want = (1.0 - lambda) * (1.0 - (-lambda).powi(kk))
            / ((1.0 + lambda) * (1.0 - lambda.powi(kk)));
        assert!(
            (c.corr(0, 1).unwrap() - want).abs() < 1e-9,
            "{:?} vs {want}",
            c.corr(0, 1)
        );
    }

    #[test]
    fn needs_min_bars_and_ignores_bad_input() {
        let mut c = Correlation::new(2, 1_000, 20.0, 30);
        feed(&mut c, 29, |k| (1e-4 * k as f64, 1e-4));
        assert_eq!(c.corr(0, 1), None, "29 samples < 30");
        c.on_price(1, f64::NAN, 999_999);
        c.on_price(7, 1.0, 999_999);
        assert_eq!(c.corr(0, 5), None);
        let mut flat = Correlation::new(2, 1_000, 20.0, 1);
        feed(&mut flat, 5, |_| (0.0, 1e-4));
        assert_eq!(flat.corr(0, 1), None, "zero variance");
    }

    #[test]
    fn untraded_symbols_of_a_large_universe_change_nothing() {
        let r = |k: u64| {
            let a = 1e-4 * ((k * 7 % 5) as f64 - 2.0);
            (a, 0.5 * a + 1e-4 * ((k * 3 % 4) as f64 - 1.5))
        };
        let mut two = Correlation::new(2, 1_000, 20.0, 10);
        feed(&mut two, 60, r);
        // The same two series as symbols 0 and 1 of 500 known symbols, 498 never traded.
        let mut big = Correlation::new(500, 1_000, 20.0, 10);
        feed(&mut big, 60, r);
        assert_eq!(big.seen(), &[0, 1]);
        assert_eq!(big.corr(0, 1), two.corr(0, 1));
        assert!(two.corr(0, 1).is_some());
        assert_eq!(big.corr(0, 499), None);
    }
}
