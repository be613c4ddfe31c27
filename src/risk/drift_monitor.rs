//! The drift position monitor (MATH.md §8, the original's "drift rebalancing"): every `check_s`
//! of exchange time, compare the forecast drift `d = exp(v·h + ½·a·h²) − 1` (MATH.md §5) with the
//! baseline stored at entry.
//!
//! With `s` = +1 long / −1 short, aligned drift `α = s·d` and baseline `β = s·d₀`:
//! 1. **Flip**: `α < 0` and `|d| > flip_epsilon` → exit the whole position (reduce-only).
//! 2. **Decay**: `β − α > decay_abs` (the original's absolute rule, 0.05 %), or
//!    `α < decay_ratio·β` with `β > 0` (relative rule) → reduce by `reduce_fraction`
//!    (reduce-only), and the current drift becomes the new baseline.
//!
//! A rule whose threshold is 0 is off. O(1), no allocation.

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use super::config::DriftConfig;
use super::sizing::floor_to_step;
use crate::types::Instrument;

/// Monitor thresholds (from `[risk.drift]`); `Copy`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriftParams {
    /// Run the monitor at all.
    pub enabled: bool,
    /// Exchange time between two checks of a position, ms.
    pub check_ms: u64,
    /// Flip threshold on |d| (fraction).
    pub flip_epsilon: f64,
    /// Absolute decay threshold (fraction); 0 = off.
    pub decay_abs: f64,
    /// Relative decay threshold (fraction of the baseline); 0 = off.
    pub decay_ratio: f64,
    /// Fraction of the position a reduction closes, exact.
    pub reduce_fraction: Decimal,
}

impl DriftParams {
    /// From a validated `[risk.drift]` section.
    pub fn from_config(c: &DriftConfig) -> Self {
        Self {
            enabled: c.enabled,
            check_ms: (c.check_s * 1_000.0).round() as u64,
            flip_epsilon: c.flip_epsilon,
            decay_abs: c.decay_abs,
            decay_ratio: c.decay_ratio,
            reduce_fraction: Decimal::from_f64(c.reduce_fraction).unwrap_or(Decimal::ONE),
        }
    }
}

/// What to do with the position after a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriftAction {
    /// Nothing (no check due, monitor off or flat, or the drift holds).
    Hold,
    /// Close `reduce_fraction` of the position, reduce-only ([`reduce_qty`] gives the quantity).
    Reduce,
    /// Close the whole position, reduce-only: the drift flipped against it.
    Exit,
}

/// One position's monitor state. Owned by the engine's per-symbol slot.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DriftMonitor {
    /// +1 long, −1 short, 0 = not monitoring.
    side: i8,
    /// Drift baseline `d₀` (signed fraction).
    baseline: f64,
    /// Exchange time of the next check, ms.
    next_check_ms: u64,
}

impl DriftMonitor {
    /// Starts monitoring a position opened in `side` (+1 / −1) at exchange time `ts_ms` with
    /// forecast drift `d0`.
    #[inline]
    pub fn start(&mut self, p: &DriftParams, side: i8, d0: f64, ts_ms: u64) {
        self.side = side.signum();
        self.baseline = d0;
        self.next_check_ms = ts_ms.saturating_add(p.check_ms);
    }

    /// Stops monitoring (the position is flat).
    #[inline]
    pub fn stop(&mut self) {
        self.side = 0;
    }

    /// The current baseline drift.
    #[inline]
    pub fn baseline(&self) -> f64 {
        self.baseline
    }

    /// Whether a position is being monitored.
    #[inline]
    pub fn active(&self) -> bool {
        self.side != 0
    }

    /// Feeds the current forecast drift `d` at exchange time `ts_ms`; decides only when a check
    /// is due (then the next one is `check_ms` later). A non-finite `d` holds.
    #[inline]
    pub fn on_drift(&mut self, p: &DriftParams, d: f64, ts_ms: u64) -> DriftAction {
        if !p.enabled || self.side == 0 || ts_ms < self.next_check_ms || !d.is_finite() {
            return DriftAction::Hold;
        }
        self.next_check_ms = ts_ms.saturating_add(p.check_ms);
        let s = f64::from(self.side);
        let aligned = s * d;
        let base = s * self.baseline;
        if aligned < 0.0 && d.abs() > p.flip_epsilon {
            self.side = 0;
            return DriftAction::Exit;
        }
        let abs_decay = p.decay_abs > 0.0 && base - aligned > p.decay_abs;
        let rel_decay = p.decay_ratio > 0.0 && base > 0.0 && aligned < p.decay_ratio * base;
        if abs_decay || rel_decay {
            self.baseline = d;
            return DriftAction::Reduce;
        }
        DriftAction::Hold
    }
}

/// Quantity a reduction closes: `floor(|pos| · fraction / step) · step`, or the whole `|pos|`
/// when that part or the remainder would be below the venue's min qty (a remainder that small
/// could not be closed later).
#[inline]
pub fn reduce_qty(position: Decimal, fraction: Decimal, inst: &Instrument) -> Decimal {
    let pos = position.abs();
    let q = floor_to_step(pos * fraction, inst.qty_step);
    if q < inst.min_qty || pos - q < inst.min_qty || q.is_zero() {
        pos
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn params() -> DriftParams {
        DriftParams::from_config(&DriftConfig::default())
    }

    /// The original's walk-through (seed 002): long with d₀ = +0.124 %; at +30 s d = +0.064 %
    /// (weakened by 0.06 % > 0.05 %) → reduce 50 %, baseline +0.064 %; at +60 s d = −0.010 %
    /// (|d| > 0.001 %) → exit.
    #[test]
    fn original_walk_through_reduces_then_exits() {
        let mut p = params();
        p.decay_ratio = 0.0; // the original's absolute rule alone
        let mut m = DriftMonitor::default();
        m.start(&p, 1, 0.00124, 1_000_000);
        assert_eq!(
            m.on_drift(&p, 0.00064, 1_010_000),
            DriftAction::Hold,
            "not due"
        );
        assert_eq!(m.on_drift(&p, 0.00064, 1_030_000), DriftAction::Reduce);
        assert_eq!(m.baseline(), 0.00064);
        assert_eq!(m.on_drift(&p, -0.00010, 1_060_000), DriftAction::Exit);
        assert!(!m.active());
        assert_eq!(m.on_drift(&p, -0.01, 1_200_000), DriftAction::Hold);
    }

    #[test]
    fn absolute_decay_threshold_is_strict_and_strengthening_holds() {
        let mut p = params();
        p.decay_ratio = 0.0;
        let mut m = DriftMonitor::default();
        m.start(&p, 1, 0.002, 0);
        // Weakened by 0.0004 ≤ 0.0005: hold.
        assert_eq!(m.on_drift(&p, 0.0016, 30_000), DriftAction::Hold);
        // Strengthened: hold, baseline unchanged.
        assert_eq!(m.on_drift(&p, 0.004, 60_000), DriftAction::Hold);
        assert_eq!(m.baseline(), 0.002);
    }

    #[test]
    fn relative_decay_below_a_fraction_of_the_entry_drift() {
        let mut p = params();
        p.decay_abs = 0.0; // relative rule alone, ratio 0.5
        let mut m = DriftMonitor::default();
        m.start(&p, -1, -0.0004, 0); // short, drift −0.04 %
        assert_eq!(
            m.on_drift(&p, -0.00021, 30_000),
            DriftAction::Hold,
            "52 % of d₀"
        );
        assert_eq!(
            m.on_drift(&p, -0.00019, 60_000),
            DriftAction::Reduce,
            "47.5 % of d₀"
        );
        assert_eq!(m.baseline(), -0.00019);
        // Drift up through zero: against the short.
        assert_eq!(m.on_drift(&p, 0.00002, 90_000), DriftAction::Exit);
    }

    #[test]
    fn flip_within_epsilon_is_noise() {
        let p = params();
        let mut m = DriftMonitor::default();
        m.start(&p, 1, 0.00001, 0);
        // −0.0005 % against the long, but |d| ≤ 0.001 %: no flip; ratio rule: −5e-6 < 0.5·1e-5 → reduce.
        assert_eq!(m.on_drift(&p, -0.000005, 30_000), DriftAction::Reduce);
        let mut off = p;
        off.enabled = false;
        m.start(&off, 1, 0.001, 0);
        assert_eq!(m.on_drift(&off, -1.0, 1_000_000), DriftAction::Hold);
    }

    #[test]
    fn reduce_quantity_is_on_the_step_and_never_leaves_dust() {
        let inst = Instrument::new(d("0.1"), d("0.001"), d("0.001"), d("100"), d("5")).unwrap();
        let half = d("0.5");
        assert_eq!(reduce_qty(d("0.00645"), half, &inst), d("0.003"));
        assert_eq!(reduce_qty(d("-0.010"), half, &inst), d("0.005"));
        // 0.0015 · 0.5 = 0.00075 floors to 0 (< min qty): close all.
        assert_eq!(reduce_qty(d("0.0015"), half, &inst), d("0.0015"));
        // Min qty 0.003, 80 %: 0.010 → 0.008 would leave 0.002 < min qty: close all.
        let coarse = Instrument::new(d("0.1"), d("0.001"), d("0.003"), d("100"), d("5")).unwrap();
        assert_eq!(reduce_qty(d("0.010"), d("0.8"), &coarse), d("0.010"));
        assert_eq!(reduce_qty(d("0.020"), d("0.8"), &coarse), d("0.016"));
    }

    #[test]
    fn params_from_default_config() {
        let p = params();
        assert!(p.enabled);
        assert_eq!(p.check_ms, 30_000);
        assert_eq!(p.reduce_fraction, d("0.5"));
        assert_eq!(p.flip_epsilon, 1e-5);
    }
}
