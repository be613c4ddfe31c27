//! Latency telemetry: how long each stage of every tick takes, in nanoseconds.
//!
//! Hot threads read a [`Clock`] (TSC, no syscall) around each [`Stage`] and record the
//! differences into their own [`StageHistograms`], which never lock, allocate or panic. A
//! monitor thread periodically receives those histograms, appends them to an [`IntervalLog`]
//! (HdrHistogram's standard `.hlog` format, one tagged interval per stage) and refreshes a
//! human-readable table beside it ([`write_percentile_file`]); `calculus-trader hist` reads the
//! logs back ([`hist_command`]). [`WallClock`] turns clock readings into Unix time for exchange
//! request timestamps.
//!
//! ```
//! use calculus_trader::telemetry::{Clock, IntervalLog, Stage, StageHistograms};
//!
//! // Start-up, off the hot path: calibrate the clock, allocate the histograms.
//! let clock = Clock::new();
//! let mut hists = StageHistograms::new();
//!
//! // Hot path: two clock reads and a counter increment per stage.
//! let parse_start = clock.now_ns();
//! // ... parse the message ...
//! hists.record_between(Stage::Parse, parse_start, clock.now_ns());
//!
//! // Monitor thread, once per interval.
//! let path = std::env::temp_dir().join(format!("telemetry-doc-{}.hlog", std::process::id()));
//! let mut log = IntervalLog::create(&path, "doc-example")?;
//! log.write_interval(0.0, 10.0, &hists)?;
//! hists.reset();
//! print!("{}", calculus_trader::telemetry::hist_command(&path).unwrap());
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod clock;
mod compare;
mod counters;
mod handoff;
mod hlog;
mod plot;
mod report;
mod stage;
#[cfg(test)]
pub(crate) mod test_dir;

pub use clock::{Clock, WallClock};
pub use compare::{compare_command, compare_table, format_ratio};
pub use counters::{Counter, CounterSet};
pub use handoff::{handoff, handoff_with_view, Collector, Epoch, Publisher, Snapshot};
pub use hlog::{read_interval_logs, HlogError, IntervalLog, HLOG_EXTENSION, UNTAGGED};
pub use plot::{
    nines, percentile_label, plot_command, plot_percentiles, quantile_at, series_points,
};
pub use report::{
    format_ns, hist_command, percentile_path_for, percentile_table, utc_timestamp,
    write_percentile_file,
};
pub use stage::{
    Stage, StageHistograms, HIGHEST_TRACKABLE_NS, LOWEST_DISCERNIBLE_NS, SIGNIFICANT_DIGITS,
};
