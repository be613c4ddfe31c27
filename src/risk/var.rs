//! Value at Risk and Expected Shortfall of the open book, parametric and historical, at 95 % and
//! 99 %, over a horizon of `h` bars (square-root-of-time scaling, `√h`).
//!
//! The book is a set of signed notionals `w_a` (quote currency). Its P&L in bar `t` of the
//! rolling window ([`Correlation`]) is `p_t = Σ_a w_a·r_a,t` (log returns; first order in `r`).
//! - **Parametric** (zero mean, normal): `σ_p² = wᵀΣw`, computed as the sample variance of
//!   `p_t` (the sample covariance is bilinear, so this is exactly `wᵀΣ̂w`);
//!   `VaR_α = z_α·σ_p·√h`, `ES_α = σ_p·φ(z_α)/(1 − α)·√h`, `z = 1.645 / 2.326`.
//! - **Historical**: the losses `L_t = −p_t` of the window; with `t = ⌈(1 − α)·c⌉` (c samples),
//!   `VaR_α` is the t-th largest loss and `ES_α` the mean of the t largest, times `√h`.
//!
//! Cost O(k·W) for k symbols in the book, one pass for the mean and one for the variance and
//! the loss tail (a fixed stack array): no allocation.
//!
//! [`PeakJob`] is [`book_risk`] cut into steps of a few window slots (the same operations in
//! the same order, so the same doubles), for the run's peak VaR/ES: the bar-close tick only
//! snapshots the book, later quiet ticks do the O(k·W) work.

use serde::{Deserialize, Serialize};

use std::ops::Range;

use super::correlation::Correlation;
pub use crate::types::control::PortfolioRisk;

/// `z` of the one-sided 95 % normal quantile.
pub const Z95: f64 = 1.644_853_626_951_472_2;
/// `z` of the one-sided 99 % normal quantile.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// Longest loss tail kept for the historical estimate (bounds the window at `MAX_TAIL / 0.05`).
pub const MAX_TAIL: usize = 256;

/// Which estimate the VaR limit uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarMethod {
    /// Normal, from the covariance of the book's symbols.
    Parametric,
    /// Empirical, from the window's joint returns applied to the current notionals.
    Historical,
}

/// Which measure the VaR limit compares with its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarMeasure {
    /// Value at Risk.
    Var,
    /// Expected Shortfall (mean loss beyond the VaR).
    Es,
}

/// Standard normal density `φ(z) = exp(−z²/2)/√(2π)`.
#[inline]
pub fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Parametric `(VaR, ES)` of a zero-mean normal P&L with standard deviation `sigma` at
/// confidence `alpha` with quantile `z`: `(z·σ, σ·φ(z)/(1 − α))`.
#[inline]
pub fn parametric(sigma: f64, z: f64, alpha: f64) -> (f64, f64) {
    (z * sigma, sigma * normal_pdf(z) / (1.0 - alpha))
}

/// Historical `(VaR, ES)` at confidence `alpha` of the P&L samples `pnl` (no allocation; at
/// most [`MAX_TAIL`] tail samples): `t = ⌈(1 − α)·c⌉`, VaR the t-th largest loss, ES the mean
/// of the t largest. `None` without samples.
pub fn historical(pnl: impl Iterator<Item = f64>, alpha: f64) -> Option<(f64, f64)> {
    let mut tail = Tail::<MAX_TAIL>::with_cap(MAX_TAIL);
    let mut c = 0usize;
    for p in pnl {
        tail.push(-p);
        c += 1;
    }
    tail.at(tail_len(c, alpha), c)
}

/// `t = max(1, ⌈(1 − α)·c⌉)`, at most [`MAX_TAIL`].
#[inline]
fn tail_len(c: usize, alpha: f64) -> usize {
    // Rounded to 1e-9 first so that (1 − 0.99)·100 is 1, not 1.0000000000000009.
    let t = (((1.0 - alpha) * c as f64 * 1e9).round() / 1e9).ceil() as usize;
    t.clamp(1, MAX_TAIL)
}

/// The `cap` largest losses seen, in descending order: a push is O(1) once full unless the
/// value enters the tail (then O(cap)). `N` (≤ [`MAX_TAIL`]) slots: only the first `cap` are
/// used, so a short tail in a [`SHORT_TAIL`] store is the same tail with less to zero.
#[derive(Clone, Debug)]
struct Tail<const N: usize> {
    v: [f64; N],
    len: usize,
    cap: usize,
}

/// Slots of the small tail store: enough for windows up to 640 returns at 95 %.
const SHORT_TAIL: usize = 32;

impl<const N: usize> Tail<N> {
    /// An empty tail keeping the `cap` (1 ..= `N`) largest values.
    fn with_cap(cap: usize) -> Self {
        Self {
            v: [0.0; N],
            len: 0,
            cap: cap.clamp(1, N),
        }
    }

    /// Empties the tail and sets its capacity to `cap` (1 ..= `N`): the same tail as
    /// [`Tail::with_cap`] without zeroing the slots (a slot is read only once written).
    fn reset(&mut self, cap: usize) {
        self.len = 0;
        self.cap = cap.clamp(1, N);
    }

    /// Inserts `x` keeping the `cap` largest, descending.
    #[inline]
    fn push(&mut self, x: f64) {
        let cap = self.cap;
        if self.len == cap && x <= self.v[cap - 1] {
            return;
        }
        let mut k = self.len.min(cap - 1);
        while k > 0 && self.v[k - 1] < x {
            self.v[k] = self.v[k - 1];
            k -= 1;
        }
        self.v[k] = x;
        self.len = (self.len + 1).min(cap);
    }

    /// `(t-th largest, mean of the t largest)` of `c` samples.
    fn at(&self, t: usize, c: usize) -> Option<(f64, f64)> {
        let t = t.min(self.len).min(c);
        if t == 0 {
            return None;
        }
        let es = self.v[..t].iter().sum::<f64>() / t as f64;
        Some((self.v[t - 1], es))
    }
}

/// VaR and ES of the book `weights()` (`(symbol, signed notional)`, quote currency; a symbol
/// appears once) over the common window of its symbols, scaled to `h` bars by `√h`. `None`
/// when the book is empty or its symbols have fewer than `min_bars` common returns. O(k·W), no
/// allocation: the P&L once into a stack buffer for windows up to `ONE_PASS` (512) bars (`Buffered`),
/// else twice by blocks (`Blocks`); the same values either way.
pub fn book_risk<F, I>(corr: &Correlation, weights: F, h: f64) -> Option<PortfolioRisk>
where
    F: Fn() -> I,
    I: Iterator<Item = (usize, f64)>,
{
    let mut c = usize::MAX;
    let mut gross = 0.0;
    for (i, w) in weights().filter(|(_, w)| *w != 0.0) {
        c = c.min(corr.samples(i));
        gross += w.abs();
    }
    if c == usize::MAX || c < corr.min_bars().max(2) {
        return None;
    }
    let slots = corr.slots(c);
    if c <= ONE_PASS {
        let mut buf = [pnl_zero(); ONE_PASS];
        let pnl = Buffered::of(corr, &weights, slots, &mut buf[..c]);
        risk_of(&pnl, (c, gross, h))
    } else {
        let pnl = Blocks {
            corr,
            weights: &weights,
            slots,
        };
        risk_of(&pnl, (c, gross, h))
    }
}

/// [`book_risk`] of `c` samples of `pnl`: the mean, then `Σ(p − mean)²` and the loss tail.
#[inline]
fn risk_of(pnl: &impl Pnl, (c, gross, h): (usize, f64, f64)) -> Option<PortfolioRisk> {
    let mut sum = 0.0;
    pnl.each(|p| sum += p);
    let mean = sum / c as f64;
    // The 95 % tail is the longer one; the 99 % figures are its first entries. A short one
    // (every window up to 640 returns) in the small store: the same tail, less to zero.
    let cap = tail_len(c, 0.95);
    if cap <= SHORT_TAIL {
        let tail = Tail::<SHORT_TAIL>::with_cap(cap);
        book_figures(pnl, (c, gross, mean, h), tail)
    } else {
        let tail = Tail::<MAX_TAIL>::with_cap(cap);
        book_figures(pnl, (c, gross, mean, h), tail)
    }
}

/// The second pass of [`book_risk`]: `Σ(p − mean)²` and the loss tail over `pnl`, then the
/// figures of `c` samples (gross notional `gross`) scaled to `h` bars.
#[inline]
fn book_figures<const N: usize>(
    pnl: &impl Pnl,
    (c, gross, mean, h): (usize, f64, f64, f64),
    mut tail: Tail<N>,
) -> Option<PortfolioRisk> {
    let mut ss = 0.0;
    pnl.each(|p| {
        ss += (p - mean) * (p - mean);
        tail.push(-p);
    });
    figures(c, gross, h, ss, &tail)
}

/// The figures of `c` samples (gross notional `gross`) from `ss = Σ(p − mean)²` and the loss
/// tail, scaled to `h` bars.
#[inline]
fn figures<const N: usize>(
    c: usize,
    gross: f64,
    h: f64,
    ss: f64,
    tail: &Tail<N>,
) -> Option<PortfolioRisk> {
    let sigma = (ss / (c - 1) as f64).sqrt();
    let rh = h.max(1.0).sqrt();
    let (pv95, pe95) = parametric(sigma * rh, Z95, 0.95);
    let (pv99, pe99) = parametric(sigma * rh, Z99, 0.99);
    let (hv95, he95) = tail.at(tail_len(c, 0.95), c)?;
    let (hv99, he99) = tail.at(tail_len(c, 0.99), c)?;
    Some(PortfolioRisk {
        samples: c as u32,
        gross,
        sigma: sigma * rh,
        var_parametric: [pv95, pv99],
        es_parametric: [pe95, pe99],
        var_historical: [hv95 * rh, hv99 * rh],
        es_historical: [he95 * rh, he99 * rh],
    })
}

/// Slots of the window each [`PeakJob::step`] of an idle turn or a quiet tick works through.
/// A job is `2c ≤ 600` slots (the P&L, then the spread and tail), so 25 steps finish it. At
/// 48, a step took a quiet tick past the 500 ns compute budget (README, seventeenth wave).
pub const PEAK_STEP: usize = 24;

/// Where a [`PeakJob`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PeakPhase {
    /// Nothing pending.
    Idle,
    /// Filling the P&L buffer and its running sum.
    Pnl,
    /// `Σ(p − mean)²` and the loss tail.
    Spread,
}

/// [`book_risk`] of the book at one bar close, computed a few slots at a time on the hot
/// loop's idle turns and on later quiet ticks (the run's peak VaR/ES, a report figure: no
/// limit reads it). The same operations in the same order as [`book_risk`] on the weights
/// snapshot taken at the bar close, so the same doubles, bit for bit, provided the returns
/// window does not move before the job is done: the owner finishes it ([`PeakJob::step`] with
/// `usize::MAX`) before the next bar close. Buffers are allocated at construction (`n`
/// weights, `W` slots); nothing allocates after.
#[derive(Clone, Debug)]
pub struct PeakJob {
    /// The book's non-zero `(symbol, signed notional)` at the bar close, in book order.
    weights: Vec<(usize, f64)>,
    /// `p_t` of the window's slots, oldest first (the first `pos` of `c` during `Pnl`).
    pnl: Vec<f64>,
    /// The window's ring slots ([`Correlation::slots`] of `c`).
    slots: [Range<usize>; 2],
    /// Joint samples of the window.
    c: usize,
    /// `Σ|w|` in weight order.
    gross: f64,
    /// VaR horizon, bars.
    h: f64,
    phase: PeakPhase,
    /// Next sample (0 ..= `c`) of the current phase.
    pos: usize,
    /// `Σp` of the first `pos` samples (from `+0`, as [`book_risk`]).
    sum: f64,
    /// `sum / c` once `Pnl` is done.
    mean: f64,
    /// `Σ(p − mean)²` of the first `pos` samples during `Spread`.
    ss: f64,
    /// The loss tail so far, capacity `tail_len(c, 0.95)`.
    tail: Tail<MAX_TAIL>,
}

impl PeakJob {
    /// An idle job for `n` symbols and a window of `window` bars.
    pub fn new(n: usize, window: usize) -> Self {
        Self {
            weights: Vec::with_capacity(n),
            pnl: vec![0.0; window],
            slots: [0..0, 0..0],
            c: 0,
            gross: 0.0,
            h: 1.0,
            phase: PeakPhase::Idle,
            pos: 0,
            sum: 0.0,
            mean: 0.0,
            ss: 0.0,
            tail: Tail::with_cap(1),
        }
    }

    /// True while a bar's figures are being computed.
    #[inline]
    pub fn pending(&self) -> bool {
        self.phase != PeakPhase::Idle
    }

    /// Starts [`book_risk`]`(corr, weights, h)` (dropping any unfinished job): O(k), the
    /// weights copied (at most `n`, a symbol once). Stays idle where [`book_risk`] is `None`
    /// for lack of samples.
    pub fn start(
        &mut self,
        corr: &Correlation,
        weights: impl Iterator<Item = (usize, f64)>,
        h: f64,
    ) {
        self.weights.clear();
        self.phase = PeakPhase::Idle;
        let (mut c, mut gross) = (usize::MAX, 0.0);
        for (i, w) in weights.filter(|(_, w)| *w != 0.0) {
            c = c.min(corr.samples(i));
            gross += w.abs();
            self.weights.push((i, w));
        }
        if c == usize::MAX || c < corr.min_bars().max(2) || c > self.pnl.len() {
            return;
        }
        self.slots = corr.slots(c);
        (self.c, self.gross, self.h) = (c, gross, h);
        (self.phase, self.pos, self.sum, self.ss) = (PeakPhase::Pnl, 0, 0.0, 0.0);
        self.tail.reset(tail_len(c, 0.95));
    }

    /// Works through at most `budget` samples of `corr`'s window (the window of the bar
    /// close [`PeakJob::start`] saw); the figures when the job completes, `None` otherwise.
    pub fn step(&mut self, corr: &Correlation, budget: usize) -> Option<PortfolioRisk> {
        let mut left = budget;
        if self.phase == PeakPhase::Pnl {
            left -= self.fill_pnl(corr, left);
            if self.pos < self.c {
                return None;
            }
            self.mean = self.sum / self.c as f64;
            (self.phase, self.pos) = (PeakPhase::Spread, 0);
        }
        if self.phase != PeakPhase::Spread || left == 0 {
            return None;
        }
        let end = self.c.min(self.pos.saturating_add(left));
        let mean = self.mean;
        for &p in &self.pnl[self.pos..end] {
            self.ss += (p - mean) * (p - mean);
            self.tail.push(-p);
        }
        self.pos = end;
        if end < self.c {
            return None;
        }
        self.phase = PeakPhase::Idle;
        figures(self.c, self.gross, self.h, self.ss, &self.tail)
    }

    /// The P&L of up to `budget` more samples, symbol-major within each ring range (each
    /// `p_t` the left-to-right sum from [`pnl_zero`] in weight order, as [`Buffered`]) and
    /// their running sum; returns the samples done.
    fn fill_pnl(&mut self, corr: &Correlation, budget: usize) -> usize {
        let start = self.pos;
        let end = self.c.min(start.saturating_add(budget));
        let mut off = 0;
        for r in self.slots.clone() {
            // Samples `off .. off + r.len()` are ring slots `r`.
            let (lo, hi) = (start.max(off), end.min(off + r.len()));
            if lo < hi {
                let s = r.start + (lo - off);
                let buf = &mut self.pnl[lo..hi];
                buf.fill(pnl_zero());
                for &(i, w) in &self.weights {
                    for (x, r) in buf.iter_mut().zip(&corr.returns(i)[s..s + (hi - lo)]) {
                        *x += w * r;
                    }
                }
                for &p in buf.iter() {
                    self.sum += p;
                }
            }
            off += r.len();
        }
        self.pos = end;
        end - start
    }

    /// The figures the pending job will give, computed now from its weights snapshot (the
    /// same doubles, as long as the window has not moved); `None` when idle. O(k·W).
    pub fn pending_risk(&self, corr: &Correlation) -> Option<PortfolioRisk> {
        if !self.pending() {
            return None;
        }
        book_risk(corr, || self.weights.iter().copied(), self.h)
    }
}

/// Windows of at most this many samples get their P&L computed once, into a 4 KiB stack
/// buffer ([`Buffered`]); longer ones by blocks at each pass ([`Blocks`]).
const ONE_PASS: usize = 512;

/// The start of each slot's P&L sum: `f64`'s `Sum` identity (as in `iter().sum()`).
#[inline]
fn pnl_zero() -> f64 {
    std::iter::empty::<f64>().sum()
}

/// The book's P&L `p_t` over a window, slot by slot, oldest first.
trait Pnl {
    /// Calls `f` with each `p_t` in order.
    fn each(&self, f: impl FnMut(f64));
}

/// P&L computed by blocks at each call ([`for_each_pnl`]).
struct Blocks<'a, F> {
    corr: &'a Correlation,
    weights: &'a F,
    slots: [Range<usize>; 2],
}

impl<F, I> Pnl for Blocks<'_, F>
where
    F: Fn() -> I,
    I: Iterator<Item = (usize, f64)>,
{
    #[inline]
    fn each(&self, f: impl FnMut(f64)) {
        for_each_pnl(self.corr, self.weights, self.slots.clone(), f);
    }
}

/// P&L computed once into a buffer: each `p_t` the same left-to-right sum from [`pnl_zero`]
/// in weight order as [`for_each_pnl`]'s, bit for bit.
struct Buffered<'a>(&'a [f64]);

impl<'a> Buffered<'a> {
    /// Fills `buf` (one slot per sample of `slots`, all [`pnl_zero`]) with the P&L.
    #[inline]
    fn of<F, I>(
        corr: &Correlation,
        weights: &F,
        slots: [Range<usize>; 2],
        buf: &'a mut [f64],
    ) -> Self
    where
        F: Fn() -> I,
        I: Iterator<Item = (usize, f64)>,
    {
        let mut off = 0;
        for r in slots {
            let n = r.len();
            for (i, w) in weights().filter(|(_, w)| *w != 0.0) {
                for (x, r) in buf[off..off + n]
                    .iter_mut()
                    .zip(&corr.returns(i)[r.clone()])
                {
                    *x += w * r;
                }
            }
            off += n;
        }
        Self(buf)
    }
}

impl Pnl for Buffered<'_> {
    #[inline]
    fn each(&self, mut f: impl FnMut(f64)) {
        self.0.iter().for_each(|&x| f(x));
    }
}

/// `measure(&book_risk(corr, weights, h)?, method, measure, level)`, the same double, computing
/// only that figure over the same P&L: parametric, the mean and `Σ(p − mean)²` without the loss
/// tail; historical, the loss tail without the mean and variance. `None` exactly when
/// [`book_risk`] is. O(k·W), no allocation.
pub fn book_measure<F, I>(
    corr: &Correlation,
    weights: F,
    h: f64,
    (method, measure, level): (VarMethod, VarMeasure, usize),
) -> Option<f64>
where
    F: Fn() -> I,
    I: Iterator<Item = (usize, f64)>,
{
    let mut c = usize::MAX;
    for (i, _) in weights().filter(|(_, w)| *w != 0.0) {
        c = c.min(corr.samples(i));
    }
    if c == usize::MAX || c < corr.min_bars().max(2) {
        return None;
    }
    let slots = corr.slots(c);
    let figure = (method, measure, level.min(1));
    if c <= ONE_PASS && method == VarMethod::Parametric {
        let mut buf = [pnl_zero(); ONE_PASS];
        let pnl = Buffered::of(corr, &weights, slots, &mut buf[..c]);
        measure_of(&pnl, c, h, figure)
    } else {
        let pnl = Blocks {
            corr,
            weights: &weights,
            slots,
        };
        measure_of(&pnl, c, h, figure)
    }
}

/// [`book_measure`] of `c` samples of `pnl` (level index `l` ≤ 1).
#[inline]
fn measure_of(
    pnl: &impl Pnl,
    c: usize,
    h: f64,
    (method, measure, l): (VarMethod, VarMeasure, usize),
) -> Option<f64> {
    let rh = h.max(1.0).sqrt();
    if method == VarMethod::Historical {
        let cap = tail_len(c, 0.95);
        let (v, e) = if cap <= SHORT_TAIL {
            loss_tail(pnl, Tail::<SHORT_TAIL>::with_cap(cap), c, l)?
        } else {
            loss_tail(pnl, Tail::<MAX_TAIL>::with_cap(cap), c, l)?
        };
        let figure = if measure == VarMeasure::Var { v } else { e };
        return Some(figure * rh);
    }
    let mut sum = 0.0;
    pnl.each(|p| sum += p);
    let mean = sum / c as f64;
    let mut ss = 0.0;
    pnl.each(|p| ss += (p - mean) * (p - mean));
    let sigma = (ss / (c - 1) as f64).sqrt();
    let (z, alpha) = if l == 0 { (Z95, 0.95) } else { (Z99, 0.99) };
    let (v, e) = parametric(sigma * rh, z, alpha);
    Some(if measure == VarMeasure::Var { v } else { e })
}

/// The loss tail of [`book_risk`] (`tail` of its capacity) over `pnl`: `(VaR, ES)` at level
/// index `l` of `c` samples, before the `√h` scaling.
#[inline]
fn loss_tail<const N: usize>(
    pnl: &impl Pnl,
    mut tail: Tail<N>,
    c: usize,
    l: usize,
) -> Option<(f64, f64)> {
    pnl.each(|p| tail.push(-p));
    tail.at(tail_len(c, if l == 0 { 0.95 } else { 0.99 }), c)
}

/// Slots per block of [`for_each_pnl`] (a 1 KiB stack buffer, zeroed at each call: the
/// default 300-bar window is three blocks).
const PNL_BLOCK: usize = 128;

/// Calls `f` with the book's P&L `p_t = Σ_a w_a·r_a,t` of each slot of `slots`, oldest first.
/// Symbol-major over blocks of [`PNL_BLOCK`] slots: each `p_t` is the same left-to-right sum
/// (from `f64`'s `Sum` identity, in weight order) as `weights().map(w·r).sum()`, bit for bit.
#[inline]
fn for_each_pnl<F, I>(
    corr: &Correlation,
    weights: &F,
    slots: [Range<usize>; 2],
    mut f: impl FnMut(f64),
) where
    F: Fn() -> I,
    I: Iterator<Item = (usize, f64)>,
{
    let zero = pnl_zero();
    let mut buf = [0.0; PNL_BLOCK];
    for r in slots {
        let mut s = r.start;
        while s < r.end {
            let e = (s + PNL_BLOCK).min(r.end);
            let p = &mut buf[..e - s];
            p.fill(zero);
            for (i, w) in weights().filter(|(_, w)| *w != 0.0) {
                for (x, r) in p.iter_mut().zip(&corr.returns(i)[s..e]) {
                    *x += w * r;
                }
            }
            p.iter().for_each(|&x| f(x));
            s = e;
        }
    }
}

/// The figure of `r` the limit compares: `method` and `measure` at level index `level`
/// (0 = 95 %, 1 = 99 %).
#[inline]
pub fn measure(r: &PortfolioRisk, method: VarMethod, measure: VarMeasure, level: usize) -> f64 {
    let l = level.min(1);
    match (method, measure) {
        (VarMethod::Parametric, VarMeasure::Var) => r.var_parametric[l],
        (VarMethod::Parametric, VarMeasure::Es) => r.es_parametric[l],
        (VarMethod::Historical, VarMeasure::Var) => r.var_historical[l],
        (VarMethod::Historical, VarMeasure::Es) => r.es_historical[l],
    }
}

/// Relative slack of [`measure_bound`] over the float rounding of both it and [`book_risk`]
/// (at most about `(W + k + 10)·2⁻⁵³ < 10⁻¹²` for a window `W ≤ 5,120` and `k` symbols).
const BOUND_SLACK: f64 = 1.0 + 1e-6;

/// An upper bound, in O(1), of `measure(book_risk(..), method, measure, level)` from
/// `s = Σ_a |w_a|·√Q_a`, where `Q_a ≥ Σ_t r_a,t²` over the common window of `c ≥ 2` samples
/// ([`super::correlation::Correlation::ring_sq_bound`]). By Minkowski's inequality
/// `√(Σ_t p_t²) ≤ s`, so `σ_p ≤ s/√(c − 1)` (the sample variance is at most `Σ p_t²/(c − 1)`)
/// and every loss `|p_t| ≤ s`; VaR and ES scale those by `√h` and the parametric factors.
/// A limit that this bound keeps is kept by the exact figure too: the check can skip the
/// O(k·W) pass.
#[inline]
pub fn measure_bound(
    s: f64,
    c: usize,
    h: f64,
    method: VarMethod,
    measure: VarMeasure,
    level: usize,
) -> f64 {
    let rh = h.max(1.0).sqrt();
    let (z, alpha) = if level.min(1) == 0 {
        (Z95, 0.95)
    } else {
        (Z99, 0.99)
    };
    let sigma = s / ((c.max(2) - 1) as f64).sqrt();
    let figure = match (method, measure) {
        (VarMethod::Parametric, VarMeasure::Var) => z * sigma,
        (VarMethod::Parametric, VarMeasure::Es) => sigma * normal_pdf(z) / (1.0 - alpha),
        (VarMethod::Historical, _) => s,
    };
    figure * rh * BOUND_SLACK
}

/// Element-wise maximum of two reports (samples and gross too): the peak over a run.
pub fn peak(a: &PortfolioRisk, b: &PortfolioRisk) -> PortfolioRisk {
    let m2 = |x: [f64; 2], y: [f64; 2]| [x[0].max(y[0]), x[1].max(y[1])];
    PortfolioRisk {
        samples: a.samples.max(b.samples),
        gross: a.gross.max(b.gross),
        sigma: a.sigma.max(b.sigma),
        var_parametric: m2(a.var_parametric, b.var_parametric),
        es_parametric: m2(a.es_parametric, b.es_parametric),
        var_historical: m2(a.var_historical, b.var_historical),
        es_historical: m2(a.es_historical, b.es_historical),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_constants() {
        // φ(1.645)/0.05 ≈ 2.063, φ(2.326)/0.01 ≈ 2.665 (standard tables).
        let (v, e) = parametric(1.0, Z95, 0.95);
        assert!(
            (v - 1.6449).abs() < 1e-4 && (e - 2.0627).abs() < 1e-4,
            "{v} {e}"
        );
        let (v, e) = parametric(1.0, Z99, 0.99);
        assert!(
            (v - 2.3263).abs() < 1e-4 && (e - 2.6652).abs() < 1e-4,
            "{v} {e}"
        );
    }

    /// Losses 1..=100 (P&L −1..−100): at 95 % t = 5: VaR = 96, ES = (96+…+100)/5 = 98;
    /// at 99 % t = 1: VaR = ES = 100.
    #[test]
    fn historical_on_a_hand_made_series() {
        let pnl = || (1..=100).map(|k| -(k as f64));
        assert_eq!(historical(pnl(), 0.95), Some((96.0, 98.0)));
        assert_eq!(historical(pnl(), 0.99), Some((100.0, 100.0)));
        // Order does not matter; gains are never in the tail.
        let mixed = (1..=100).map(|k| if k % 2 == 0 { k as f64 } else { -(k as f64) });
        // Losses 1, 3, …, 99 and gains: t = 5 of 100 → 91, ES (91+93+95+97+99)/5 = 95.
        assert_eq!(historical(mixed, 0.95), Some((91.0, 95.0)));
        assert_eq!(historical(std::iter::empty(), 0.95), None);
    }

    /// Three symbols over 400 one-second bars of a deterministic random walk (W = 300).
    fn walk() -> Correlation {
        walk_of(300, 400)
    }

    /// Three symbols over `bars` one-second bars of a deterministic random walk (W = `w`).
    /// Windows short of `min_bars`, filling, full and wrapped; one-pass (≤ 512) and two-pass
    /// (513, 2 000) sizes.
    fn test_walks() -> [Correlation; 7] {
        [
            walk_of(300, 40),
            walk_of(300, 61),
            walk_of(300, 200),
            walk_of(300, 400),
            walk_of(512, 700),
            walk_of(513, 700),
            walk_of(2_000, 2_150),
        ]
    }

    /// A xorshift64 stream from `seed`.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    fn walk_of(w: usize, bars: u64) -> Correlation {
        let mut c = Correlation::new(3, 1_000, w, 60);
        let (mut p, mut seed) = ([100.0f64, 50.0, 10.0], 0x9e37_79b9_7f4a_7c15u64);
        for bar in 0..bars {
            for (i, px) in p.iter_mut().enumerate() {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let u = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                *px *= 1.0 + 0.002 * u * (i + 1) as f64;
                c.on_price(i, *px, bar * 1_000 + 10 * i as u64);
            }
        }
        c
    }

    /// The pre-block `book_risk` P&L: `weights().filter(w ≠ 0).map(w·r).sum()` per slot.
    fn naive_pnl(c: &Correlation, w: &[(usize, f64)], s: usize) -> f64 {
        w.iter()
            .filter(|(_, w)| *w != 0.0)
            .map(|&(i, w)| w * c.returns(i)[s])
            .sum()
    }

    #[test]
    fn book_pnl_blocks_equal_the_per_slot_sums_bit_for_bit() {
        let c = walk();
        let w = [(2, -7_000.0), (0, 12_345.678), (1, 0.0), (1, 3.25e3)];
        let weights = || w.iter().copied();
        let slots = c.slots(300);
        let mut got = Vec::new();
        for_each_pnl(&c, &weights, slots.clone(), |p| got.push(p.to_bits()));
        let want: Vec<u64> = slots
            .into_iter()
            .flatten()
            .map(|s| naive_pnl(&c, &w, s).to_bits())
            .collect();
        assert_eq!(got.len(), 300);
        assert_eq!(got, want);
    }

    /// `book_risk`'s historical figures are [`historical`] of the per-slot P&L, bit for bit,
    /// with a short tail (W = 300: 15 at 95 %) and a long one (W = 2 000: 100, past the small
    /// store), the window wrapping the ring and spanning several P&L blocks.
    #[test]
    fn book_risk_tails_are_historical_of_the_pnl() {
        for (w, bars) in [(300, 400), (2_000, 2_150)] {
            let c = walk_of(w, bars);
            let wt = [(2, -7_000.0), (0, 12_345.678), (1, 3.25e3)];
            let r = book_risk(&c, || wt.iter().copied(), 1.0).unwrap();
            assert_eq!(r.samples as usize, w);
            let pnl: Vec<f64> = c
                .slots(w)
                .into_iter()
                .flatten()
                .map(|s| naive_pnl(&c, &wt, s))
                .collect();
            for (k, alpha) in [0.95, 0.99].into_iter().enumerate() {
                let (v, e) = historical(pnl.iter().copied(), alpha).unwrap();
                assert_eq!(
                    r.var_historical[k].to_bits(),
                    v.to_bits(),
                    "W {w} α {alpha}"
                );
                assert_eq!(r.es_historical[k].to_bits(), e.to_bits(), "W {w} α {alpha}");
            }
        }
    }

    /// The two-pass `book_risk` (before the one-pass buffer): the P&L by blocks at each pass.
    fn two_pass(c: &Correlation, w: &[(usize, f64)], h: f64) -> Option<PortfolioRisk> {
        let weights = || w.iter().copied();
        let n = weights()
            .filter(|(_, w)| *w != 0.0)
            .map(|(i, _)| c.samples(i))
            .min()?;
        if n < c.min_bars().max(2) {
            return None;
        }
        let gross = weights()
            .filter(|(_, w)| *w != 0.0)
            .map(|(_, w)| w.abs())
            .sum();
        let pnl = Blocks {
            corr: c,
            weights: &weights,
            slots: c.slots(n),
        };
        risk_of(&pnl, (n, gross, h))
    }

    /// `book_risk` is the two-pass one and `book_measure` its `measure`, bit for bit (or both
    /// `None`): random books of up to four weights (zeros, repeats, signs, magnitudes
    /// 10⁻³..10⁷) on windows short of `min_bars`, filling, full and wrapped, one-pass (≤ 512)
    /// and two-pass (513, 2 000), every method, measure and level, horizons 0..120 bars.
    #[test]
    fn book_measure_is_the_measure_of_book_risk() {
        use VarMeasure::{Es, Var};
        use VarMethod::{Historical, Parametric};
        let walks = test_walks();
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        let (mut some, mut cases) = (0, 0);
        for k in 0..30_000 {
            let c = &walks[k % walks.len()];
            let n = 1 + (next() % 4) as usize;
            let mut w = [(0usize, 0.0f64); 4];
            for x in w.iter_mut().take(n) {
                let mag = 10f64.powf((next() % 10_000) as f64 / 1_000.0 - 3.0);
                let sign = if next() % 2 == 0 { 1.0 } else { -1.0 };
                let v = if next() % 8 == 0 { 0.0 } else { sign * mag };
                *x = ((next() % 3) as usize, v);
            }
            let w = &w[..n];
            let h = (next() % 121) as f64;
            let method = if next() % 2 == 0 {
                Parametric
            } else {
                Historical
            };
            let m = if next() % 2 == 0 { Var } else { Es };
            let level = (next() % 3) as usize;
            let full = two_pass(c, w, h);
            let bits = |r: PortfolioRisk| {
                let f = [r.gross, r.sigma, r.var_parametric[0], r.var_parametric[1]];
                let g = [r.es_parametric, r.var_historical, r.es_historical].concat();
                (
                    r.samples,
                    f.map(f64::to_bits),
                    g.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                )
            };
            assert_eq!(
                book_risk(c, || w.iter().copied(), h).map(bits),
                full.map(bits),
                "{w:?} h {h}"
            );
            let want = full.map(|r| measure(&r, method, m, level));
            let got = book_measure(c, || w.iter().copied(), h, (method, m, level));
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "{w:?} h {h} {method:?} {m:?} {level}"
            );
            some += usize::from(got.is_some());
            cases += 1;
        }
        assert!(some > cases / 2, "{some} of {cases}");
    }

    /// A [`PeakJob`] worked through in random budgets (1 slot to all at once) gives
    /// [`book_risk`] of its weights, bit for bit: random books of up to four weights (zeros,
    /// repeats, signs, magnitudes 10⁻³..10⁷) on windows short of `min_bars`, filling, full and
    /// wrapped, one-pass (≤ 512) and two-pass (513, 2 000) sizes, horizons 0..120 bars; and
    /// [`PeakJob::pending_risk`] is the same figure at every point of the job.
    #[test]
    fn peak_job_in_steps_is_book_risk_bit_for_bit() {
        let walks = test_walks();
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let bits = |r: PortfolioRisk| {
            let f = [r.gross, r.sigma, r.var_parametric[0], r.var_parametric[1]];
            let g = [r.es_parametric, r.var_historical, r.es_historical].concat();
            (
                r.samples,
                f.map(f64::to_bits),
                g.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            )
        };
        let (mut some, mut steps) = (0, 0);
        for k in 0..3_000 {
            let c = &walks[k % walks.len()];
            let mut job = PeakJob::new(3, c.window());
            let n = 1 + (next() % 4) as usize;
            let mut w = [(0usize, 0.0f64); 4];
            for x in w.iter_mut().take(n) {
                let mag = 10f64.powf((next() % 10_000) as f64 / 1_000.0 - 3.0);
                let sign = if next() % 2 == 0 { 1.0 } else { -1.0 };
                let v = if next() % 8 == 0 { 0.0 } else { sign * mag };
                // Distinct symbols, as in a book.
                *x = ((next() % 3) as usize, v);
            }
            let mut w = w[..n].to_vec();
            w.sort_by_key(|x| x.0);
            w.dedup_by_key(|x| x.0);
            let h = (next() % 121) as f64;
            let want = book_risk(c, || w.iter().copied(), h).map(bits);
            job.start(c, w.iter().copied(), h);
            assert_eq!(job.pending(), want.is_some(), "{w:?}");
            let mut got = None;
            while job.pending() {
                assert_eq!(job.pending_risk(c).map(bits), want, "{w:?} h {h}");
                let budget = match next() % 4 {
                    0 => 1,
                    1 => 1 + (next() % 64) as usize,
                    2 => PEAK_STEP,
                    _ => usize::MAX,
                };
                got = job.step(c, budget);
                steps += 1;
                assert_eq!(job.pending(), got.is_none());
            }
            assert_eq!(got.map(bits), want, "{w:?} h {h}");
            some += usize::from(want.is_some());
        }
        assert!(some > 1_500 && steps > 5_000, "{some} jobs, {steps} steps");
    }

    #[test]
    fn ring_squares_bound_the_window_tightly() {
        let c = walk();
        for i in 0..3 {
            let exact: f64 = c.returns(i).iter().map(|r| r * r).sum();
            let b = c.ring_sq_bound(i);
            assert!(
                b >= exact && b <= exact * (1.0 + 1e-9),
                "{i}: {b} vs {exact}"
            );
        }
    }

    #[test]
    fn measure_bound_is_above_every_figure_and_tight_for_one_symbol() {
        use VarMeasure::{Es, Var};
        use VarMethod::{Historical, Parametric};
        let c = walk();
        let books: [&[(usize, f64)]; 4] = [
            &[(0, 10_000.0)],
            &[(0, 10_000.0), (1, -20_000.0)],
            &[(0, 5_000.0), (1, 5_000.0), (2, -30_000.0)],
            &[(2, 1.0), (0, -1e6)],
        ];
        let h = 60.0;
        for w in books {
            let r = book_risk(&c, || w.iter().copied(), h).unwrap();
            let s: f64 = w
                .iter()
                .map(|&(i, x)| x.abs() * c.ring_sq_bound(i).sqrt())
                .sum();
            for (method, m, level) in [
                (Parametric, Var, 0),
                (Parametric, Var, 1),
                (Parametric, Es, 0),
                (Parametric, Es, 1),
                (Historical, Var, 0),
                (Historical, Var, 1),
                (Historical, Es, 0),
                (Historical, Es, 1),
            ] {
                let exact = measure(&r, method, m, level);
                let bound = measure_bound(s, r.samples as usize, h, method, m, level);
                assert!(
                    exact <= bound,
                    "{w:?} {method:?} {m:?} {level}: {exact} > {bound}"
                );
            }
        }
        // One symbol: Σr² ≈ (c − 1)·σ² when the mean return is ~0, so the parametric bound is
        // within a few per cent of the figure.
        let w = [(0usize, 10_000.0)];
        let r = book_risk(&c, || w.iter().copied(), h).unwrap();
        let s = 10_000.0 * c.ring_sq_bound(0).sqrt();
        let bound = measure_bound(s, 300, h, Parametric, Var, 1);
        assert!(bound < 1.05 * r.var_parametric[1], "{bound} vs {r:?}");
    }
}
