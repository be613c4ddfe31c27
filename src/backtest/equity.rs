//! Mark-to-market equity over time: per-trade marks (drawdown, exposure), bar marks (returns
//! for Sharpe/Sortino), funding, and a bounded curve for plots.
//!
//! `value = balance + cash + Σ qᵢ·pᵢ`, with `cash` the signed fill notionals, fees and funding
//! paid, `qᵢ` the filled position and `pᵢ` the last trade price of symbol `i`. Kept in f64 for
//! speed; the exact PnL comes from the engine's `Decimal` positions.

use super::metrics::{Drawdown, DrawdownTracker};
use crate::types::Side;

/// Funding is exchanged every 8 h of Unix time (00:00, 08:00, 16:00 UTC).
pub const FUNDING_INTERVAL_MS: u64 = 8 * 3_600_000;

/// Keeps at most `cap` points of a time series, at least `step_ms` apart; when full, drops
/// every other point and doubles the step (so the curve spans the whole run at bounded memory).
#[derive(Clone, Debug)]
pub struct Decimator {
    step_ms: u64,
    cap: usize,
    points: Vec<(u64, f64)>,
}

impl Decimator {
    /// Starts at `step_ms` spacing with room for `cap` points.
    pub fn new(step_ms: u64, cap: usize) -> Self {
        Self {
            step_ms: step_ms.max(1),
            cap: cap.max(4),
            points: Vec::with_capacity(cap.max(4)),
        }
    }

    /// Offers a point; kept if at least the current step after the last kept one.
    #[inline]
    pub fn push(&mut self, ts_ms: u64, v: f64) {
        if let Some(&(last, _)) = self.points.last() {
            if ts_ms < last + self.step_ms {
                return;
            }
        }
        if self.points.len() == self.cap {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.step_ms *= 2;
        }
        self.points.push((ts_ms, v));
    }

    /// Sets the last point to `(ts_ms, v)` (the series end), replacing a point at the same time.
    pub fn close(&mut self, ts_ms: u64, v: f64) {
        match self.points.last_mut() {
            Some(p) if p.0 == ts_ms => p.1 = v,
            _ => self.points.push((ts_ms, v)),
        }
    }

    /// The kept points in time order.
    pub fn points(&self) -> &[(u64, f64)] {
        &self.points
    }
}

/// Running equity of one account.
#[derive(Clone, Debug)]
pub struct Equity {
    balance: f64,
    value: f64,
    qty: Vec<f64>,
    last: Vec<f64>,
    open: usize,
    start_ms: Option<u64>,
    last_ms: u64,
    in_market_ms: u64,
    bar_ms: u64,
    next_bar_ms: u64,
    bars: Vec<f64>,
    dd: DrawdownTracker,
    funding_rate: f64,
    next_funding_ms: u64,
    funding: f64,
    fees: f64,
    fills: u64,
    curve: Decimator,
}

/// What an [`Equity`] measured over the run.
#[derive(Clone, Debug, Default)]
pub struct EquitySummary {
    /// Starting balance.
    pub balance: f64,
    /// Final value (balance + net PnL).
    pub final_value: f64,
    /// Fees paid (including the final liquidation fee, if charged).
    pub fees: f64,
    /// Funding paid (negative = received).
    pub funding: f64,
    /// Fills booked.
    pub fills: u64,
    /// Equity at every bar boundary; the first mark is the start, the last the end of the data.
    pub bars: Vec<f64>,
    /// Drawdown over every trade mark.
    pub drawdown: Drawdown,
    /// Fraction of the run's time with any open position.
    pub exposure: f64,
    /// First and last trade time, ms.
    pub span_ms: (u64, u64),
    /// Equity curve for plots (bounded).
    pub curve: Vec<(u64, f64)>,
}

impl Equity {
    /// An account of `balance` over `n_symbols`, marking bars every `bar_ms` and paying
    /// `funding_rate` (fraction of notional, per 8 h) on open positions.
    pub fn new(balance: f64, n_symbols: usize, bar_ms: u64, funding_rate: f64) -> Self {
        Self {
            balance,
            value: balance,
            qty: vec![0.0; n_symbols],
            last: vec![0.0; n_symbols],
            open: 0,
            start_ms: None,
            last_ms: 0,
            in_market_ms: 0,
            bar_ms: bar_ms.max(1),
            next_bar_ms: 0,
            bars: Vec::new(),
            dd: DrawdownTracker::default(),
            funding_rate,
            next_funding_ms: 0,
            funding: 0.0,
            fees: 0.0,
            fills: 0,
            curve: Decimator::new(1_000, 4_096),
        }
    }

    #[inline]
    fn advance(&mut self, ts: u64) {
        if self.start_ms.is_some() && ts <= self.last_ms {
            return;
        }
        self.advance_time(ts);
    }

    #[cold]
    fn start(&mut self, ts: u64) {
        self.start_ms = Some(ts);
        self.last_ms = ts;
        self.next_bar_ms = (ts / self.bar_ms + 1) * self.bar_ms;
        self.next_funding_ms = (ts / FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS;
        self.bars.push(self.value);
    }

    fn advance_time(&mut self, ts: u64) {
        if self.start_ms.is_none() {
            self.start(ts);
            return;
        }
        if self.open > 0 {
            self.in_market_ms += ts - self.last_ms;
        }
        while ts >= self.next_bar_ms {
            self.bars.push(self.value);
            self.next_bar_ms += self.bar_ms;
        }
        while ts >= self.next_funding_ms {
            if self.funding_rate != 0.0 {
                let notional: f64 = self.qty.iter().zip(&self.last).map(|(q, p)| q * p).sum();
                let pay = notional * self.funding_rate;
                self.funding += pay;
                self.value -= pay;
            }
            self.next_funding_ms += FUNDING_INTERVAL_MS;
        }
        self.last_ms = ts;
    }

    /// Marks symbol `i` at trade price `price` at `ts_ms`.
    #[inline]
    pub fn mark(&mut self, i: usize, price: f64, ts_ms: u64) {
        self.advance(ts_ms);
        self.value += self.qty[i] * (price - self.last[i]);
        self.last[i] = price;
        self.dd.push(ts_ms, self.value);
        self.curve.push(ts_ms, self.value);
    }

    /// Books a fill of symbol `i` (after its [`Equity::mark`]): `value += s·(p_last − price) − fee`;
    /// `new_qty` is the filled position afterwards (from the exact accounting).
    pub fn fill(&mut self, i: usize, side: Side, price: f64, qty: f64, fee: f64, new_qty: f64) {
        let signed = side.sign() * qty;
        self.value += signed * (self.last[i] - price) - fee;
        self.fees += fee;
        self.fills += 1;
        let was_open = self.qty[i] != 0.0;
        self.qty[i] = new_qty;
        match (was_open, new_qty != 0.0) {
            (false, true) => self.open += 1,
            (true, false) => self.open -= 1,
            _ => {}
        }
    }

    /// Charges a cost (e.g. the exit fee of positions still open at the end) as a fee.
    pub fn charge_fee(&mut self, fee: f64) {
        self.value -= fee;
        self.fees += fee;
    }

    /// Filled position of symbol `i`.
    pub fn qty(&self, i: usize) -> f64 {
        self.qty[i]
    }

    /// Last trade price of symbol `i`.
    pub fn last_price(&self, i: usize) -> f64 {
        self.last[i]
    }

    /// Current value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Closes the series at the last trade: final bar (if time passed since the last boundary),
    /// drawdown, exposure.
    pub fn finish(mut self) -> EquitySummary {
        let start = self.start_ms.unwrap_or(0);
        let end = self.last_ms;
        let last_boundary = self.next_bar_ms.saturating_sub(self.bar_ms);
        if self.start_ms.is_some() && (end > last_boundary || self.bars.len() < 2) {
            self.bars.push(self.value);
        }
        self.dd.push(end, self.value);
        self.curve.close(end, self.value);
        let span = end.saturating_sub(start);
        EquitySummary {
            balance: self.balance,
            final_value: self.value,
            fees: self.fees,
            funding: self.funding,
            fills: self.fills,
            bars: self.bars,
            drawdown: self.dd.finish(end),
            exposure: if span > 0 {
                self.in_market_ms as f64 / span as f64
            } else {
                0.0
            },
            span_ms: (start, end),
            curve: self.curve.points().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_fills_bars_and_exposure() {
        let mut e = Equity::new(1_000.0, 1, 60_000, 0.0);
        e.mark(0, 100.0, 0);
        e.fill(0, Side::Buy, 100.0, 2.0, 0.1, 2.0);
        e.mark(0, 101.0, 30_000); // +2
        e.mark(0, 99.0, 60_000); // bar boundary: mark before this trade = 1001.9
        e.fill(0, Side::Sell, 99.0, 2.0, 0.1, 0.0);
        e.mark(0, 120.0, 120_000); // flat: no change
        let s = e.finish();
        assert!((s.final_value - (1_000.0 - 2.0 - 0.2)).abs() < 1e-9);
        assert_eq!(s.bars.len(), 3);
        assert!((s.bars[1] - 1_001.9).abs() < 1e-9);
        assert!((s.exposure - 0.5).abs() < 1e-12, "{}", s.exposure);
        assert!((s.fees - 0.2).abs() < 1e-12);
        // Peak 1001.9 at 30 s, trough 997.8 at 60 s, never recovered.
        assert!((s.drawdown.max_abs - 4.1).abs() < 1e-9);
        assert_eq!(s.drawdown.max_duration_ms, 90_000);
    }

    #[test]
    fn funding_is_paid_by_longs_every_8h() {
        let mut e = Equity::new(1_000.0, 1, 60_000, 0.0001);
        e.mark(0, 100.0, FUNDING_INTERVAL_MS - 1_000);
        e.fill(0, Side::Buy, 100.0, 10.0, 0.0, 10.0);
        e.mark(0, 100.0, FUNDING_INTERVAL_MS + 1_000);
        let s = e.finish();
        assert!((s.funding - 0.1).abs() < 1e-12);
        assert!((s.final_value - 999.9).abs() < 1e-9);
    }

    #[test]
    fn decimator_stays_bounded_and_spans_the_run() {
        let mut d = Decimator::new(1, 8);
        for t in 0..1_000 {
            d.push(t, t as f64);
        }
        d.close(999, 999.0);
        assert!(d.points().len() <= 9);
        assert_eq!(d.points()[0].0, 0);
        assert_eq!(d.points().last().unwrap().0, 999);
    }
}
