//! Walk-forward: the data's time span cut into N equal consecutive windows, each split into an
//! in-sample part (the first `walk_forward_in_sample` of its time) and an out-of-sample rest.
//! With a sweep, the best combination in-sample (by net PnL) is the one run out-of-sample; the
//! out-of-sample rows are the honest estimate. Every part starts a fresh engine and account
//! (its own warm-up), so no state leaks from one part into the next.

use super::replay::{run_ticks, Setup};
use super::report::Metrics;
use super::sweep::{self, Combo};
use crate::types::Tick;

/// One window: tick index ranges and times of its two parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// In-sample ticks `[start, end)`.
    pub in_sample: (usize, usize),
    /// Out-of-sample ticks `[start, end)`.
    pub out_of_sample: (usize, usize),
    /// Window start, split and end, Unix ms.
    pub times_ms: (u64, u64, u64),
}

/// Cuts `ticks` (in replay order) into `n` windows of equal time, each split at `is_frac`.
pub fn windows(ticks: &[Tick], n: usize, is_frac: f64) -> Result<Vec<Window>, String> {
    if n == 0 {
        return Err("--walk-forward needs N ≥ 1".into());
    }
    let (Some(first), Some(last)) = (ticks.first(), ticks.last()) else {
        return Err("walk-forward: no trades".into());
    };
    let t0 = first.exch_ts_ms;
    let span = last.exch_ts_ms.saturating_sub(t0);
    if span < n as u64 * 2 {
        return Err(format!(
            "walk-forward: {span} ms of data cannot be cut into {n} windows"
        ));
    }
    // First index at or after time `b`, scanning forward from `from`.
    let index_at = |from: usize, b: u64| {
        from + ticks[from..]
            .iter()
            .position(|t| t.exch_ts_ms >= b)
            .unwrap_or(ticks.len() - from)
    };
    let mut out = Vec::with_capacity(n);
    let mut start_i = 0;
    for k in 0..n as u64 {
        let ws = t0 + span * k / n as u64;
        let we = t0 + span * (k + 1) / n as u64;
        let split = ws + ((we - ws) as f64 * is_frac) as u64;
        let split_i = index_at(start_i, split);
        let end_i = if k + 1 == n as u64 {
            ticks.len()
        } else {
            index_at(split_i, we)
        };
        out.push(Window {
            in_sample: (start_i, split_i),
            out_of_sample: (split_i, end_i),
            times_ms: (ws, split, we),
        });
        start_i = end_i;
    }
    Ok(out)
}

/// The result of one window.
#[derive(Clone, Debug)]
pub struct WindowResult {
    /// The window.
    pub window: Window,
    /// The combination run out-of-sample (empty without a sweep).
    pub chosen: Combo,
    /// In-sample metrics of the chosen combination.
    pub in_sample: Metrics,
    /// Out-of-sample metrics.
    pub out_of_sample: Metrics,
}

fn evaluate(base: &toml::Table, combo: &Combo, ticks: &[Tick]) -> Result<Metrics, String> {
    let cfg = sweep::apply(base, combo)?;
    let setup = Setup::from_config(&cfg)?;
    let o = run_ticks(&setup, ticks);
    Ok(Metrics::of(
        &o.strategy,
        o.net_pnl,
        o.gross_pnl,
        &o.trips,
        o.bar_s,
    ))
}

/// Runs every window: picks the best of `combos` in-sample (the only one when there is one),
/// then runs it out-of-sample.
pub fn run(
    base: &toml::Table,
    combos: &[Combo],
    ticks: &[Tick],
    n: usize,
    is_frac: f64,
) -> Result<Vec<WindowResult>, String> {
    let default = [Vec::new()];
    let combos = if combos.is_empty() {
        &default[..]
    } else {
        combos
    };
    windows(ticks, n, is_frac)?
        .into_iter()
        .map(|w| {
            let is = &ticks[w.in_sample.0..w.in_sample.1];
            let oos = &ticks[w.out_of_sample.0..w.out_of_sample.1];
            let (chosen, in_sample) = if combos.len() > 1 {
                let best = sweep::run(base, combos, is)?
                    .into_iter()
                    .next()
                    .ok_or("empty sweep")?;
                (best.combo, best.metrics)
            } else {
                (combos[0].clone(), evaluate(base, &combos[0], is)?)
            };
            let out_of_sample = evaluate(base, &chosen, oos)?;
            Ok(WindowResult {
                window: w,
                chosen,
                in_sample,
                out_of_sample,
            })
        })
        .collect()
}

/// The per-window table, with the out-of-sample total.
pub fn table(rows: &[WindowResult]) -> String {
    let mut s = format!(
        "\n== walk-forward: {} windows (in-sample → out-of-sample, fresh engine per part)\n{:>3}  {:>9} {:>9}  {:<30} {:>12} {:>8} {:>6}  {:>12} {:>8} {:>6}\n",
        rows.len(),
        "#",
        "IS ticks",
        "OOS ticks",
        "parameters",
        "IS net",
        "IS Shrp",
        "IS tr",
        "OOS net",
        "OOS Shrp",
        "OOS tr"
    );
    let mut total = 0.0;
    for (i, r) in rows.iter().enumerate() {
        let w = &r.window;
        total += r.out_of_sample.net_pnl;
        let params = if r.chosen.is_empty() {
            "(config)".to_string()
        } else {
            sweep::label(&r.chosen)
        };
        s.push_str(&format!(
            "{:>3}  {:>9} {:>9}  {:<30} {:>12.4} {:>8.2} {:>6}  {:>12.4} {:>8.2} {:>6}\n",
            i + 1,
            w.in_sample.1 - w.in_sample.0,
            w.out_of_sample.1 - w.out_of_sample.0,
            params,
            r.in_sample.net_pnl,
            r.in_sample.sharpe,
            r.in_sample.trades,
            r.out_of_sample.net_pnl,
            r.out_of_sample.sharpe,
            r.out_of_sample.trades
        ));
    }
    s.push_str(&format!(
        "out-of-sample net PnL, all windows: {total:.4} (in-sample rows are optimistic when a sweep chose them)\n"
    ));
    s
}
