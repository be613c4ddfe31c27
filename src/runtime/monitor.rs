//! The monitor thread (cold, blocking waits): asks the hot threads for their snapshots every
//! status interval, prints a status line, appends interval-log dumps and keeps run totals;
//! publishes the operator status, logs run-state changes and keeps the risk state file
//! (see [`super::status`]).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::exchange::ReplayStats;
use crate::telemetry::{
    format_ns, percentile_path_for, write_percentile_file, Collector, Counter, CounterSet, Epoch,
    IntervalLog, Stage, StageHistograms,
};

/// Monitor settings.
#[derive(Debug)]
pub struct MonitorPlan {
    /// Seconds between status lines (and snapshot requests).
    pub status_interval: Duration,
    /// Seconds between interval-log dumps.
    pub dump_interval: Duration,
    /// The interval log (`.hlog`) to append to.
    pub hlog_path: PathBuf,
    /// Run name written into the dumps.
    pub run_name: String,
    /// Print status lines.
    pub print_status: bool,
    /// The operator status and the risk state file (`None`: neither).
    pub status: Option<super::status::StatusKeeper>,
}

/// What the monitor saw over the whole run.
#[derive(Debug)]
pub struct MonitorReport {
    /// All stage latencies of the run, ns.
    pub total: StageHistograms,
    /// Final counter totals of all threads.
    pub counters: CounterSet,
    /// The interval log written.
    pub hlog_path: PathBuf,
    /// The percentile table written beside it.
    pub table_path: PathBuf,
    /// Wall time the run took.
    pub elapsed: Duration,
}

/// How long to wait for threads to answer a snapshot request before printing anyway.
const ANSWER_WAIT: Duration = Duration::from_millis(50);

/// Runs the monitor until every collector's thread has finished.
pub fn run(
    plan: MonitorPlan,
    mut collectors: Vec<Collector>,
    epoch: Epoch,
    replay: Option<Arc<ReplayStats>>,
) -> std::io::Result<MonitorReport> {
    let start = Instant::now();
    let start_wall = SystemTime::now();
    let mut log = IntervalLog::create_with_base_time(&plan.hlog_path, &plan.run_name, start_wall)?;
    let table_path = percentile_path_for(&plan.hlog_path);
    let mut step = StageHistograms::new();
    let mut interval = StageHistograms::new();
    let mut total = StageHistograms::new();
    let mut counters = CounterSet::default();
    let mut last_ticks = 0u64;
    let mut last_status = start;
    let mut keeper = plan.status;
    let mut interval_start = start;
    loop {
        let done = sleep_until_due(&collectors, last_status + plan.status_interval);
        epoch.bump();
        let asked = Instant::now();
        loop {
            let mut all = true;
            for c in collectors.iter_mut() {
                if c.collect(&mut step) == 0 && !c.is_finished() {
                    all = false;
                }
            }
            if all || asked.elapsed() >= ANSWER_WAIT {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let finished = done || collectors.iter().all(Collector::is_finished);
        if finished {
            for c in collectors.iter_mut() {
                c.collect(&mut step);
            }
        }
        for c in &collectors {
            counters.merge_max(c.counters());
        }
        let now = Instant::now();
        let secs = now.duration_since(last_status).as_secs_f64().max(1e-9);
        if plan.print_status {
            println!(
                "{}",
                status_line(
                    now.duration_since(start),
                    secs,
                    last_ticks,
                    &counters,
                    &step,
                    replay.as_deref()
                )
            );
        }
        if let Some(k) = keeper.as_mut() {
            let view = collectors.iter().find_map(Collector::view);
            k.update(view, &counters, &step);
        }
        last_ticks = counters.get(Counter::Ticks);
        last_status = now;
        interval.add(&step);
        total.add(&step);
        step.reset();
        if finished || now.duration_since(interval_start) >= plan.dump_interval {
            let offset = interval_start.duration_since(start).as_secs_f64();
            let length = now.duration_since(interval_start).as_secs_f64();
            log.write_interval(offset, length, &interval)?;
            write_percentile_file(
                &table_path,
                &plan.run_name,
                start_wall,
                now.duration_since(start),
                total.reported().map(|(s, h)| (s.name(), h)),
            )?;
            interval.reset();
            interval_start = now;
        }
        if finished {
            break;
        }
    }
    Ok(MonitorReport {
        total,
        counters,
        hlog_path: plan.hlog_path,
        table_path,
        elapsed: start.elapsed(),
    })
}

/// Sleeps in short steps until `due`, returning early (true) once every thread has finished.
fn sleep_until_due(collectors: &[Collector], due: Instant) -> bool {
    loop {
        if collectors.iter().all(Collector::is_finished) {
            return true;
        }
        let now = Instant::now();
        if now >= due {
            return false;
        }
        std::thread::sleep((due - now).min(Duration::from_millis(20)));
    }
}

fn status_line(
    since_start: Duration,
    secs: f64,
    last_ticks: u64,
    c: &CounterSet,
    step: &StageHistograms,
    replay: Option<&ReplayStats>,
) -> String {
    let ticks = c.get(Counter::Ticks);
    let rate = (ticks - last_ticks.min(ticks)) as f64 / secs;
    let t2o = step.get(Stage::TickToOrder);
    let p99 = if t2o.is_empty() {
        "-".to_string()
    } else {
        format_ns(t2o.value_at_quantile(0.99))
    };
    let rejects = [
        Counter::FilteredMinQty,
        Counter::FilteredMinNotional,
        Counter::FilteredMaxQty,
        Counter::RejectMinQty,
        Counter::RejectMinNotional,
        Counter::RejectMaxQty,
    ]
    .iter()
    .map(|k| c.get(*k))
    .sum::<u64>();
    let bad = c.get(Counter::RejectJson)
        + c.get(Counter::RejectMissingField)
        + c.get(Counter::RejectBadNumber)
        + c.get(Counter::RejectNonPositive)
        + c.get(Counter::RejectUnknownSymbol);
    let mut line = format!(
        "[{:>6.1}s] ticks/s {:>7.0} | ticks {:>7} | signals {:>5} | orders {:>4} | fills {:>4} | rejects {:>3} | bad frames {:>3} | p99 tick_to_order {:>9}",
        since_start.as_secs_f64(),
        rate,
        ticks,
        c.get(Counter::Signals),
        c.get(Counter::Orders),
        c.get(Counter::Fills),
        rejects,
        bad,
        p99,
    );
    let (stale, blocked) = (c.get(Counter::FeedStale), c.get(Counter::BlockedStale));
    if stale + blocked > 0 {
        line.push_str(&format!(" | feed_stale {stale} blocked_stale {blocked}"));
    }
    // Order outcomes that need an operator's eye, once any happened.
    let venue_side = [
        (Counter::RejectVenue, "venue_rejects"),
        (Counter::OrdersUnknown, "unknown"),
        (Counter::OrdersReconciled, "reconciled"),
        (Counter::RateThrottled, "throttled"),
    ];
    if venue_side.iter().any(|(k, _)| c.get(*k) > 0) {
        let parts: Vec<String> = venue_side
            .iter()
            .map(|(k, name)| format!("{name} {}", c.get(*k)))
            .collect();
        line.push_str(&format!(" | {}", parts.join(" ")));
    }
    if let Some(r) = replay {
        let sent = r.frames_sent.load(Ordering::Relaxed);
        let total = r.frames_total.load(Ordering::Relaxed);
        line.push_str(&format!(" | replay {sent}/{total}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_shows_the_stale_pause_only_once_it_happened() {
        let step = StageHistograms::new();
        let mut c = CounterSet::default();
        c.set(Counter::Ticks, 100);
        let quiet = status_line(Duration::from_secs(1), 1.0, 0, &c, &step, None);
        assert!(!quiet.contains("stale"), "{quiet}");
        c.set(Counter::FeedStale, 2);
        c.set(Counter::BlockedStale, 7);
        let line = status_line(Duration::from_secs(2), 1.0, 100, &c, &step, None);
        assert!(line.ends_with("| feed_stale 2 blocked_stale 7"), "{line}");
    }

    #[test]
    fn status_line_shows_venue_rejects_unknown_orders_and_reconciliations_once_any_happened() {
        let step = StageHistograms::new();
        let mut c = CounterSet::default();
        c.set(Counter::Ticks, 100);
        let quiet = status_line(Duration::from_secs(1), 1.0, 0, &c, &step, None);
        assert!(!quiet.contains("unknown"), "{quiet}");
        c.set(Counter::OrdersUnknown, 3);
        c.set(Counter::OrdersReconciled, 1);
        let line = status_line(Duration::from_secs(2), 1.0, 100, &c, &step, None);
        assert!(
            line.ends_with("| venue_rejects 0 unknown 3 reconciled 1 throttled 0"),
            "{line}"
        );
    }
}
