//! Performance statistics as pure functions of an equity series or of per-trade PnLs.

use serde::Serialize;

/// Seconds in a (365-day) year: crypto trades 24/7, so a year has 525 600 one-minute bars.
pub const YEAR_S: f64 = 365.0 * 86_400.0;

/// Simple returns `r_i = E_i / E_{i−1} − 1` of consecutive equity marks.
pub fn returns(equity: &[f64]) -> Vec<f64> {
    equity
        .windows(2)
        .map(|w| if w[0] != 0.0 { w[1] / w[0] - 1.0 } else { 0.0 })
        .collect()
}

/// Mean and sample standard deviation (n − 1); `(mean, 0)` for fewer than two values.
pub fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

/// Periods per year of bars of `bar_s` seconds (24/7): `365·86400 / bar_s`.
pub fn periods_per_year(bar_s: f64) -> f64 {
    YEAR_S / bar_s
}

/// Annualised Sharpe ratio (risk-free rate 0): `mean(r) / std(r) · sqrt(periods_per_year)`,
/// sample std (n − 1); 0 when the std is 0 or there are fewer than two returns.
pub fn sharpe(r: &[f64], periods_per_year: f64) -> f64 {
    let (m, s) = mean_std(r);
    if s > 0.0 {
        m / s * periods_per_year.sqrt()
    } else {
        0.0
    }
}

/// Annualised Sortino ratio (target 0): `mean(r) / sqrt(Σ min(r,0)² / n) · sqrt(periods_per_year)`;
/// 0 when no return is negative (undefined) or `r` is empty.
pub fn sortino(r: &[f64], periods_per_year: f64) -> f64 {
    if r.is_empty() {
        return 0.0;
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let dd = (r.iter().map(|v| v.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    if dd > 0.0 {
        mean / dd * periods_per_year.sqrt()
    } else {
        0.0
    }
}

/// `Σ wins / |Σ losses|` of per-trade PnLs; `None` when there is no losing trade.
pub fn profit_factor(pnl: &[f64]) -> Option<f64> {
    let wins: f64 = pnl.iter().filter(|p| **p > 0.0).sum();
    let losses: f64 = pnl.iter().filter(|p| **p < 0.0).sum();
    (losses < 0.0).then(|| wins / -losses)
}

/// t-statistic of the mean: `mean / (std / sqrt(n))`; 0 for fewer than two values or zero std.
pub fn t_stat(x: &[f64]) -> f64 {
    let (m, s) = mean_std(x);
    if s > 0.0 {
        m / (s / (x.len() as f64).sqrt())
    } else {
        0.0
    }
}

/// The deepest drawdown of an equity series and how long it lasted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Drawdown {
    /// Largest `peak − value` seen, quote currency.
    pub max_abs: f64,
    /// Largest `(peak − value) / peak`, a fraction.
    pub max_frac: f64,
    /// Time from the peak before the deepest (absolute) drawdown to the recovery to that peak,
    /// or to the end of the series if it never recovered, ms.
    pub max_duration_ms: u64,
    /// Longest time spent below a previous peak, ms.
    pub longest_underwater_ms: u64,
}

/// Streaming drawdown: `push` every mark in time order, then `finish` at the series end.
#[derive(Clone, Copy, Debug, Default)]
pub struct DrawdownTracker {
    peak: f64,
    peak_ms: u64,
    started: bool,
    episode_depth: f64,
    dd: Drawdown,
}

impl DrawdownTracker {
    /// Adds the mark `value` at `ts_ms`.
    #[inline]
    pub fn push(&mut self, ts_ms: u64, value: f64) {
        if !self.started {
            self.started = true;
            self.peak = value;
            self.peak_ms = ts_ms;
            return;
        }
        if value >= self.peak {
            if self.episode_depth > 0.0 {
                self.close_episode(ts_ms);
            }
            self.peak = value;
            self.peak_ms = ts_ms;
            return;
        }
        let depth = self.peak - value;
        if depth > self.episode_depth {
            self.episode_depth = depth;
        }
        if depth > self.dd.max_abs {
            self.dd.max_abs = depth;
        }
        if self.peak > 0.0 {
            self.dd.max_frac = self.dd.max_frac.max(depth / self.peak);
        }
    }

    fn close_episode(&mut self, ts_ms: u64) {
        let len = ts_ms.saturating_sub(self.peak_ms);
        self.dd.longest_underwater_ms = self.dd.longest_underwater_ms.max(len);
        if self.episode_depth >= self.dd.max_abs {
            self.dd.max_duration_ms = len;
        }
        self.episode_depth = 0.0;
    }

    /// The result, closing a drawdown still open at `end_ms`.
    pub fn finish(mut self, end_ms: u64) -> Drawdown {
        if self.episode_depth > 0.0 {
            self.close_episode(end_ms);
        }
        self.dd
    }
}

/// Drawdown of `(ts_ms, value)` marks in time order (the series ends at the last mark).
pub fn max_drawdown(points: &[(u64, f64)]) -> Drawdown {
    let mut t = DrawdownTracker::default();
    for &(ts, v) in points {
        t.push(ts, v);
    }
    t.finish(points.last().map_or(0, |p| p.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_inputs_give_zeros() {
        assert_eq!(sharpe(&[], 1.0), 0.0);
        assert_eq!(sortino(&[], 1.0), 0.0);
        assert_eq!(t_stat(&[1.0]), 0.0);
        assert_eq!(profit_factor(&[1.0, 2.0]), None);
        assert_eq!(max_drawdown(&[]), Drawdown::default());
    }
}
