//! Rolling window of per-symbol bar returns: rolling σ, pairwise correlation and the joint
//! returns the portfolio VaR ([`super::var`]) applies to the open book.
//!
//! Returns are log returns over bars of `bar_ms` exchange time, `r_i = ln(p_i,close / p_i,prev)`
//! (a symbol without a trade in the bar has `r_i = 0`; a gap of several bars is one sample).
//! The last `W` returns of each symbol sit in a ring shared by all symbols (one slot per bar
//! close), so slot `s` holds the *joint* returns of bar `s`.
//!
//! Cost, with `m` symbols that have had a price (never the whole universe):
//! - a tick is O(1) (store the price);
//! - a bar close is **O(m)**: per symbol one ring write and the running sums `Σr`, `Σr²` of its
//!   window (add the new return, subtract the evicted one). No pair is touched: the old
//!   `m(m+1)/2` EWMA pair updates per bar (≈ 6 ms at 1,000 symbols) are gone;
//! - `σ_i` is O(1) from the running sums;
//! - `ρ_ij` is computed on demand, O(W) two-pass over the common window, only for the pairs
//!   that matter: an entry candidate against the k open positions (O(k·W) per entry
//!   considered, independent of m);
//! - the book's VaR is O(k·W) on demand (one pass over the joint returns).
//!
//! Running sums drift by rounding only (each evicted value is subtracted exactly as it was
//! added); the variance is clamped at 0. Buffers (`n × W` f64) are allocated once at
//! construction; nothing allocates afterwards.

use std::ops::Range;

/// `2⁻⁶⁴`: the unit of [`sq_fixed`].
const SQ_UNIT: f64 = 1.0 / 18_446_744_073_709_551_616.0;

/// `⌈r²·2⁶⁴⌉` for a finite return (`|r| < 1,500`, the log of any ratio of finite positive
/// floats, so `< 2⁸⁶`; a ring of ≤ 5,120 such terms fits a `u128`). Deterministic: the
/// value subtracted on eviction equals the value added.
#[inline]
fn sq_fixed(r: f64) -> u128 {
    (r * r * 18_446_744_073_709_551_616.0).ceil() as u128
}

/// Rolling window of the configured symbols' bar returns.
#[derive(Clone, Debug)]
pub struct Correlation {
    n: usize,
    bar_ms: u64,
    window: usize,
    min_bars: u32,
    /// Index of the bar being filled (`u64::MAX` before the first price).
    bar: u64,
    /// `(bar + 1)·bar_ms` saturated, the start of the next bar: a tick before it is in the
    /// current bar (`ts / bar_ms ≤ bar`) with no division.
    next_ms: u64,
    /// Last price in the current bar (0 = none yet).
    last: Vec<f64>,
    /// Log price at the previous bar close (NaN = none yet).
    close: Vec<f64>,
    /// Ring of returns, symbol-major: `ret[i·W + slot]` (0 before the symbol's first return).
    ret: Vec<f64>,
    /// `Σr` over each symbol's window.
    sum: Vec<f64>,
    /// `Σr²` over each symbol's window.
    sum2: Vec<f64>,
    /// `Σ ⌈r²·2⁶⁴⌉` over each symbol's whole ring, exact in integers (no drift): an upper
    /// bound of `Σr²` over any of its windows ([`Correlation::ring_sq_bound`]).
    sq: Vec<u128>,
    /// `√ring_sq_bound(i)` per symbol, set where `sq` changes (the VaR pre-check reads it per
    /// entry: no `u128` → f64 conversion or root there).
    sq_root: Vec<f64>,
    /// Returns recorded per symbol (saturating).
    count: Vec<u32>,
    /// Slot the next bar close writes.
    head: usize,
    /// Bar closes so far.
    bars: u64,
    /// Per-symbol cells updated by bar closes so far (the O(m)-per-bar claim, counted).
    updates: u64,
    /// Pair moments updated by bar closes so far (always 0: pairs are computed on demand).
    pair_updates: u64,
    /// Symbols that have had a price, in first-price order (capacity `n`: never reallocates).
    seen: Vec<usize>,
}

impl Correlation {
    /// A window for `n` symbols, bars of `bar_ms` ms, the last `window_bars` returns; a pair's
    /// correlation is reported after `min_bars` common samples.
    pub fn new(n: usize, bar_ms: u64, window_bars: usize, min_bars: u32) -> Self {
        let window = window_bars.max(2);
        Self {
            n,
            bar_ms: bar_ms.max(1),
            window,
            min_bars: min_bars.max(2),
            bar: u64::MAX,
            next_ms: 0,
            last: vec![0.0; n],
            close: vec![f64::NAN; n],
            ret: vec![0.0; n * window],
            sum: vec![0.0; n],
            sum2: vec![0.0; n],
            sq: vec![0; n],
            sq_root: vec![0.0; n],
            count: vec![0; n],
            head: 0,
            bars: 0,
            updates: 0,
            pair_updates: 0,
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
        // `ts < (bar + 1)·bar_ms` iff `ts / bar_ms ≤ bar`; a saturated `next_ms` only sends
        // the tick to the exact test below.
        if self.bar == u64::MAX || ts_ms >= self.next_ms {
            let k = ts_ms / self.bar_ms;
            if self.bar == u64::MAX {
                self.bar = k;
            } else if k > self.bar {
                self.close_bar();
                self.bar = k;
            }
            self.next_ms = self.bar.saturating_add(1).saturating_mul(self.bar_ms);
        }
        if self.last[i] == 0.0 {
            self.seen.push(i);
        }
        self.last[i] = price;
    }

    /// True when [`Correlation::on_price`] with these arguments would close a bar (move the
    /// returns window). O(1).
    #[inline]
    pub fn closes_bar(&self, i: usize, price: f64, ts_ms: u64) -> bool {
        i < self.n
            && price.is_finite()
            && price > 0.0
            && self.bar != u64::MAX
            && ts_ms >= self.next_ms
            && ts_ms / self.bar_ms > self.bar
    }

    /// Symbols that have had a price, in first-price order: the only ones with returns.
    #[inline]
    pub fn seen(&self) -> &[usize] {
        &self.seen
    }

    /// O(m): one ring write and two running-sum updates per seen symbol.
    fn close_bar(&mut self) {
        let (w, s) = (self.window, self.head);
        for &i in &self.seen {
            let x = self.last[i].ln();
            let r = x - self.close[i];
            self.close[i] = x;
            if !r.is_finite() {
                continue;
            }
            let cell = &mut self.ret[i * w + s];
            let old = *cell;
            *cell = r;
            self.sum[i] += r - old;
            self.sum2[i] += r * r - old * old;
            self.sq[i] = self.sq[i] - sq_fixed(old) + sq_fixed(r);
            self.sq_root[i] = self.ring_sq_bound(i).sqrt();
            self.count[i] = self.count[i].saturating_add(1);
            self.updates += 1;
        }
        self.head = (s + 1) % w;
        self.bars += 1;
    }

    /// Returns of symbol `i` in the window: `min(recorded, W)`.
    #[inline]
    pub fn samples(&self, i: usize) -> usize {
        self.count
            .get(i)
            .map_or(0, |&c| (c as usize).min(self.window))
    }

    /// The ring slots of the last `c ≤ W` bars, as at most two ranges (oldest first).
    #[inline]
    pub fn slots(&self, c: usize) -> [Range<usize>; 2] {
        let (w, h) = (self.window, self.head);
        let c = c.min(w);
        if c <= h {
            [h - c..h, 0..0]
        } else {
            [w - (c - h)..w, 0..h]
        }
    }

    /// Symbol `i`'s ring of returns (`W` slots, index by [`Correlation::slots`]); empty for an
    /// unknown symbol.
    #[inline]
    pub fn returns(&self, i: usize) -> &[f64] {
        if i < self.n {
            &self.ret[i * self.window..(i + 1) * self.window]
        } else {
            &[]
        }
    }

    /// Rolling σ of symbol `i`'s bar log returns (sample, `c − 1`), O(1) from the running sums;
    /// `None` before `min_bars` returns.
    #[inline]
    pub fn sigma(&self, i: usize) -> Option<f64> {
        let c = self.samples(i);
        if c < self.min_bars as usize {
            return None;
        }
        let cf = c as f64;
        let var = (self.sum2[i] - self.sum[i] * self.sum[i] / cf) / (cf - 1.0);
        Some(var.max(0.0).sqrt())
    }

    /// An upper bound of `Σr²` over any window of symbol `i`'s returns (the whole ring's
    /// squares, summed exactly in integers; relative error ≤ 2⁻⁵² from the float conversions):
    /// O(1). 0 for an unknown symbol.
    #[inline]
    pub fn ring_sq_bound(&self, i: usize) -> f64 {
        self.sq.get(i).map_or(0.0, |&q| q as f64 * SQ_UNIT)
    }

    /// `ring_sq_bound(i).sqrt()`, the same double, kept from the last bar close: O(1), one
    /// load. 0 for an unknown symbol.
    #[inline]
    pub fn ring_sq_bound_sqrt(&self, i: usize) -> f64 {
        self.sq_root.get(i).copied().unwrap_or(0.0)
    }

    /// Sample covariance, variance of `i` and of `j` over their common window (two-pass,
    /// O(W)); `None` before `min_bars` common samples.
    pub fn moments(&self, i: usize, j: usize) -> Option<(f64, f64, f64)> {
        if i >= self.n || j >= self.n {
            return None;
        }
        let c = self.samples(i).min(self.samples(j));
        if c < self.min_bars as usize {
            return None;
        }
        let (x, y) = (self.returns(i), self.returns(j));
        let slots = self.slots(c);
        let (mut sx, mut sy) = (0.0, 0.0);
        for r in slots.clone() {
            sx += x[r.clone()].iter().sum::<f64>();
            sy += y[r].iter().sum::<f64>();
        }
        let (mx, my) = (sx / c as f64, sy / c as f64);
        let (mut cxy, mut cxx, mut cyy) = (0.0, 0.0, 0.0);
        for r in slots {
            for (a, b) in x[r.clone()].iter().zip(&y[r]) {
                let (dx, dy) = (a - mx, b - my);
                cxy += dx * dy;
                cxx += dx * dx;
                cyy += dy * dy;
            }
        }
        let d = (c - 1) as f64;
        Some((cxy / d, cxx / d, cyy / d))
    }

    /// `ρ_ij` in [−1, 1] over the common window, on demand in O(W); `None` before `min_bars`
    /// common samples or with zero variance.
    #[inline]
    pub fn corr(&self, i: usize, j: usize) -> Option<f64> {
        let (cxy, cxx, cyy) = self.moments(i, j)?;
        let v = cxx * cyy;
        if v.is_nan() || v <= 0.0 {
            return None;
        }
        Some((cxy / v.sqrt()).clamp(-1.0, 1.0))
    }

    /// Samples needed before σ, ρ or VaR are reported.
    #[inline]
    pub fn min_bars(&self) -> usize {
        self.min_bars as usize
    }

    /// Window length `W`, bars.
    #[inline]
    pub fn window(&self) -> usize {
        self.window
    }

    /// Bar closes so far.
    #[inline]
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// Per-symbol cells updated by bar closes so far (one per seen symbol with a return per
    /// bar: O(m) per bar).
    #[inline]
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Pair moments updated by bar closes so far: 0 by construction (pairs are on demand).
    #[inline]
    pub fn pair_updates(&self) -> u64 {
        self.pair_updates
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

    /// The bar-start shortcut closes bars exactly where `ts / bar_ms > bar` does: late ticks,
    /// ticks on a boundary, gaps of several bars, a width that divides nothing, and times
    /// near `u64::MAX` (where `(bar + 1)·bar_ms` saturates).
    #[test]
    fn bars_close_where_the_division_says() {
        for bar_ms in [1u64, 7, 1_000, 60_000, u64::MAX / 3] {
            let mut c = Correlation::new(2, bar_ms, 8, 2);
            let (mut bar, mut bars) = (u64::MAX, 0u64);
            let mut ts = 1_000_000u64;
            let mut rng = 0x2545_f491_4f6c_dd1du64;
            for k in 0..4_000u64 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ts = match rng % 8 {
                    0 => ts.saturating_sub(rng % 3_000),
                    1 => (ts / bar_ms).saturating_add(1).saturating_mul(bar_ms),
                    2 => ts.saturating_add(rng % 200_000),
                    3 if k > 3_900 => u64::MAX - rng % 5,
                    _ => ts.saturating_add(rng % 400),
                };
                let want = bar != u64::MAX && ts / bar_ms > bar;
                assert_eq!(c.closes_bar(0, 100.0, ts), want, "bar_ms {bar_ms}, ts {ts}");
                c.on_price((k % 2) as usize, 100.0 + (k % 5) as f64, ts);
                if bar == u64::MAX || want {
                    bars += u64::from(want);
                    bar = ts / bar_ms;
                }
                assert_eq!(c.bars(), bars, "bar_ms {bar_ms}, ts {ts}");
            }
            assert!(
                bars > 10 || bar_ms > 1 << 40,
                "bar_ms {bar_ms}: {bars} closes"
            );
        }
    }

    /// The root kept at each bar close is the bound's root recomputed, bit for bit, through
    /// the ring's wrap (returns leaving it), for a symbol with returns and one without.
    #[test]
    fn the_kept_root_of_the_ring_bound_is_the_recomputed_one() {
        let mut c = Correlation::new(3, 1_000, 8, 2);
        for bars in [1u64, 5, 8, 9, 30] {
            feed(&mut c, bars, |k| {
                (0.001 * (k as f64).sin(), -0.0007 * (k % 3) as f64)
            });
            for i in 0..4 {
                let want = c.ring_sq_bound(i).sqrt();
                assert_eq!(
                    c.ring_sq_bound_sqrt(i).to_bits(),
                    want.to_bits(),
                    "{bars} {i}"
                );
            }
            assert!(c.ring_sq_bound_sqrt(0) > 0.0);
        }
    }

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
        let mut c = Correlation::new(2, 1_000, 20, 10);
        feed(&mut c, 50, |k| {
            let a = 1e-4 * ((k * 7 % 5) as f64 - 2.0);
            (a, 3.0 * a)
        });
        assert!((c.corr(0, 1).unwrap() - 1.0).abs() < 1e-9);
        let mut c = Correlation::new(2, 1_000, 20, 10);
        feed(&mut c, 50, |k| {
            let a = 1e-4 * ((k * 7 % 5) as f64 - 2.0);
            (a, -0.5 * a)
        });
        assert!((c.corr(0, 1).unwrap() + 1.0).abs() < 1e-9);
    }

    /// Over a window that is a multiple of 4, `r₀ = ±a` alternating each bar and
    /// `r₁ = r₀ + b·(+1, +1, −1, −1, …)` (orthogonal, zero-mean patterns):
    /// `ρ = a / sqrt(a² + b²)`, `σ₀ = a·sqrt(W/(W − 1))`.
    #[test]
    fn orthogonal_patterns_match_the_closed_form() {
        let (a, b, w) = (2e-4, 1e-4, 40usize);
        let mut c = Correlation::new(2, 1_000, w, 5);
        // 101 bars: the window holds the last 40 returns (a multiple of 4 in both patterns).
        feed(&mut c, 100, |k| {
            let s = if k % 2 == 0 { 1.0 } else { -1.0 };
            let t = if (k / 2) % 2 == 0 { 1.0 } else { -1.0 };
            (a * s, a * s + b * t)
        });
        let want = a / (a * a + b * b).sqrt();
        let rho = c.corr(0, 1).unwrap();
        assert!((rho - want).abs() < 1e-9, "{rho} vs {want}");
        let s0 = c.sigma(0).unwrap();
        let want_s0 = a * (w as f64 / (w as f64 - 1.0)).sqrt();
        assert!((s0 - want_s0).abs() < 1e-12, "{s0} vs {want_s0}");
        assert_eq!(c.samples(0), w);
    }

    #[test]
    fn needs_min_bars_and_ignores_bad_input() {
        let mut c = Correlation::new(2, 1_000, 100, 30);
        feed(&mut c, 29, |k| (1e-4 * k as f64, 1e-4 * (k % 3) as f64));
        assert_eq!(c.corr(0, 1), None, "29 samples < 30");
        assert_eq!(c.sigma(0), None);
        c.on_price(1, f64::NAN, 999_999);
        c.on_price(7, 1.0, 999_999);
        assert_eq!(c.corr(0, 5), None);
        let mut flat = Correlation::new(2, 1_000, 20, 2);
        feed(&mut flat, 5, |_| (0.0, 1e-4));
        assert_eq!(flat.corr(0, 1), None, "zero variance");
    }

    #[test]
    fn untraded_symbols_of_a_large_universe_change_nothing() {
        let r = |k: u64| {
            let a = 1e-4 * ((k * 7 % 5) as f64 - 2.0);
            (a, 0.5 * a + 1e-4 * ((k * 3 % 4) as f64 - 1.5))
        };
        let mut two = Correlation::new(2, 1_000, 50, 10);
        feed(&mut two, 60, r);
        // The same two series as symbols 0 and 1 of 500 known symbols, 498 never traded.
        let mut big = Correlation::new(500, 1_000, 50, 10);
        feed(&mut big, 60, r);
        assert_eq!(big.seen(), &[0, 1]);
        assert_eq!(big.corr(0, 1), two.corr(0, 1));
        assert!(two.corr(0, 1).is_some());
        assert_eq!(big.corr(0, 499), None);
    }

    #[test]
    fn slots_cover_the_last_bars_across_the_wrap() {
        let mut c = Correlation::new(1, 1_000, 5, 2);
        for k in 0..8u64 {
            c.on_price(0, 100.0 + k as f64, k * 1_000);
        }
        // 7 bar closes: head at 7 % 5 = 2.
        assert_eq!(c.slots(3), [4..5, 0..2]);
        assert_eq!(c.slots(2), [0..2, 0..0]);
        assert_eq!(c.slots(9), [2..5, 0..2]);
    }
}
