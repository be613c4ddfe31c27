//! `backtest --learned`: the learned entry filter ([`crate::strategy::learned`]) judged out of
//! sample. The same trades are replayed twice, without and with the filter; the filter starts
//! cold and learns online, predicting every label *before* learning from it (prequential), so
//! each decision and each counted prediction uses only the past — a walk-forward with a
//! window of one sample. Reported: the confusion matrix, precision, recall and F1 of the
//! predictions made once warm (signal labels and closed-trade labels), and net PnL after fees,
//! trades and mean net per trade (± 1.96 standard errors) of both runs, also per time window.

use super::replay::{run_ticks, Outcome, Setup};
use crate::strategy::learned::{Confusion, LearnedStats, Snapshot};
use crate::types::Tick;

/// One run's trading result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Arm {
    /// Net PnL after fees (and funding), quote currency.
    pub net_pnl: f64,
    /// Closed round trips.
    pub trades: usize,
    /// Round trips with net > 0.
    pub wins: usize,
    /// Mean net per round trip.
    pub mean: f64,
    /// 1.96 standard errors of the mean (NaN below two trades).
    pub ci95: f64,
    /// Net of the round trips closed in each window.
    pub per_window: Vec<f64>,
}

/// The comparison.
#[derive(Clone, Debug)]
pub struct LearnedEval {
    /// The engine without the filter.
    pub without: Arm,
    /// With the filter.
    pub with: Arm,
    /// The filter's model and prequential counts at the end.
    pub filter: Snapshot,
    /// The filter's gate counters.
    pub stats: LearnedStats,
    /// Labels needed before the filter refuses anything.
    pub warmup_labels: u64,
    /// Threshold on `P(win)`.
    pub threshold: f64,
    /// Window bounds, Unix ms (`windows + 1` values).
    pub bounds: Vec<u64>,
}

fn arm(o: &Outcome, bounds: &[u64]) -> Arm {
    let nets: Vec<f64> = o.trips.iter().map(|t| t.net).collect();
    let n = nets.len();
    let mean = nets.iter().sum::<f64>() / n.max(1) as f64;
    let ci95 = if n >= 2 {
        let var = nets.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        1.96 * (var / n as f64).sqrt()
    } else {
        f64::NAN
    };
    let mut per_window = vec![0.0; bounds.len().saturating_sub(1)];
    for t in &o.trips {
        let k = bounds[1..].partition_point(|&b| b <= t.exit_ms);
        if let Some(w) = per_window.get_mut(k.min(bounds.len().saturating_sub(2))) {
            *w += t.net;
        }
    }
    Arm {
        net_pnl: o.net_pnl,
        trades: n,
        wins: nets.iter().filter(|x| **x > 0.0).count(),
        mean,
        ci95,
        per_window,
    }
}

/// Replays `ticks` without and with the filter (`setup`'s other learned parameters), with
/// `windows` equal time windows for the per-window rows.
pub fn evaluate(setup: &Setup, ticks: &[Tick], windows: usize) -> Result<LearnedEval, String> {
    let (Some(first), Some(last)) = (ticks.first(), ticks.last()) else {
        return Err("--learned: no trades".into());
    };
    let w = windows.max(1) as u64;
    let (t0, span) = (first.exch_ts_ms, last.exch_ts_ms - first.exch_ts_ms + 1);
    let bounds: Vec<u64> = (0..=w).map(|k| t0 + span * k / w).collect();
    let mut off = setup.clone();
    off.params.learned.enabled = false;
    let mut on = setup.clone();
    on.params.learned.enabled = true;
    let o_off = run_ticks(&off, ticks);
    let o_on = run_ticks(&on, ticks);
    let f = o_on.engine.learned();
    Ok(LearnedEval {
        without: arm(&o_off, &bounds),
        with: arm(&o_on, &bounds),
        filter: *f.snapshot(),
        stats: *f.stats(),
        warmup_labels: on.params.learned.warmup_labels,
        threshold: on.params.learned.threshold,
        bounds,
    })
}

fn confusion_rows(name: &str, c: &Confusion) -> String {
    format!(
        "  {name:<14} n {:>6}  tp {:>5} fp {:>5} fn {:>5} tn {:>5}  precision {:.3} (base rate {:.3})  recall {:.3}  F1 {:.3}\n",
        c.total(),
        c.tp,
        c.fp,
        c.fn_,
        c.tn,
        c.precision(),
        c.base_rate(),
        c.recall(),
        c.f1()
    )
}

fn arm_row(name: &str, a: &Arm) -> String {
    format!(
        "  {name:<14} net {:>+12.4}  trades {:>4}  wins {:>4}  mean/trade {:>+10.4} ± {:.4}\n",
        a.net_pnl, a.trades, a.wins, a.mean, a.ci95
    )
}

/// The report: labels, confusion matrices, the two runs, per-window nets, the verdict.
pub fn table(e: &LearnedEval) -> String {
    let f = &e.filter;
    let mut s = format!(
        "learned filter (prequential: each label predicted before it is learnt; threshold {}, warm-up {} labels)\n  labels: {} signal, {} trade; once warm: {} entries checked, {} refused; {} samples dropped\n",
        e.threshold,
        e.warmup_labels,
        f.labels[0],
        f.labels[1],
        e.stats.checked,
        e.stats.refused,
        e.stats.dropped
    );
    if f.total_labels() < e.warmup_labels {
        s.push_str("  the filter never got warm: it passed every entry\n");
    }
    s.push_str("confusion once warm (predicted = P(win) >= threshold):\n");
    s.push_str(&confusion_rows("signals", &f.confusion[0]));
    s.push_str(&confusion_rows("closed trades", &f.confusion[1]));
    s.push_str("backtest, fees and slippage on (± = 1.96 standard errors of the mean):\n");
    s.push_str(&arm_row("no filter", &e.without));
    s.push_str(&arm_row("learned filter", &e.with));
    s.push_str("net per window (by exit time):\n");
    let mut better = 0;
    for (k, (a, b)) in e
        .without
        .per_window
        .iter()
        .zip(&e.with.per_window)
        .enumerate()
    {
        better += usize::from(b > a);
        s.push_str(&format!(
            "  window {}  [{} .. {})  no filter {:>+10.4}  filter {:>+10.4}\n",
            k + 1,
            e.bounds[k],
            e.bounds[k + 1],
            a,
            b
        ));
    }
    let (w, o) = (&e.with, &e.without);
    let fewer = 1.0 - w.trades as f64 / o.trades.max(1) as f64;
    let per_trade = if w.trades == 0 || o.trades == 0 {
        "not comparable (a run without trades)"
    } else if w.mean - w.ci95 > o.mean + o.ci95 {
        "better (95 % intervals apart)"
    } else if w.mean + w.ci95 < o.mean - o.ci95 {
        "WORSE (95 % intervals apart)"
    } else {
        "no significant difference"
    };
    s.push_str(&format!(
        "verdict: net {} no filter ({:+.4} vs {:+.4}; better in {better} of {} windows) with {:.0} % fewer trades; mean net per trade: {per_trade}\n",
        if w.net_pnl > o.net_pnl { "beats" } else { "does NOT beat" },
        w.net_pnl,
        o.net_pnl,
        o.per_window.len(),
        100.0 * fewer
    ));
    s
}
