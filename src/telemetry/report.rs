//! Human-readable percentile tables of stage latencies, for dumps and for `calculus-trader hist`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use super::hlog::{read_interval_logs, HlogError};
use super::stage::Stage;

/// Column headers of [`percentile_table`], after the stage name and count.
const PERCENTILE_COLUMNS: [(&str, f64); 4] =
    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

/// Formats a duration given in nanoseconds for a human reader.
///
/// Below 1000 ns the exact count is shown (`412 ns`). From there on the value is rounded to three
/// significant digits and shown in the largest of µs, ms and s that keeps it at 1 or more
/// (`3.21 µs`, `45.6 µs`, `1.20 ms`, `2.50 s`); rounding may carry into the next unit
/// (999 999 ns is `1.00 ms`).
pub fn format_ns(ns: u64) -> String {
    if ns < 1_000 {
        return format!("{ns} ns");
    }
    let rounded = round_to_3_significant_digits(ns);
    let (unit, per_unit) = match rounded {
        ..1_000_000 => ("µs", 1e3),
        1_000_000..1_000_000_000 => ("ms", 1e6),
        _ => ("s", 1e9),
    };
    let value = rounded as f64 / per_unit;
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

/// `ns` rounded half up to three significant digits; u128 so that rounding up near `u64::MAX`
/// cannot overflow.
fn round_to_3_significant_digits(ns: u64) -> u128 {
    let ns = u128::from(ns);
    let step = 10_u128.pow(ns.ilog10().saturating_sub(2));
    (ns + step / 2) / step * step
}

/// Renders an aligned table with one row per `(stage name, histogram)` of latencies in
/// nanoseconds: `stage  count  p50  p90  p99  p99.9  max`, values as by [`format_ns`] and `-`
/// for an empty histogram.
///
/// Percentiles and max are HdrHistogram bucket upper bounds, so they may read up to 1% high.
pub fn percentile_table<'a>(hists: impl Iterator<Item = (&'a str, &'a Histogram<u64>)>) -> String {
    let header: Vec<String> = ["stage", "count"]
        .into_iter()
        .chain(PERCENTILE_COLUMNS.iter().map(|(name, _)| *name))
        .chain(["max"])
        .map(str::to_owned)
        .collect();
    let mut rows = vec![header];
    for (name, histogram) in hists {
        let mut row = vec![name.to_owned(), histogram.len().to_string()];
        row.extend(percentile_cells(histogram));
        rows.push(row);
    }
    aligned_table(&rows)
}

/// The quantiles shown by [`percentile_table`] (p50, p90, p99, p99.9), as fractions.
pub(crate) const TABLE_QUANTILES: [f64; 4] = [
    PERCENTILE_COLUMNS[0].1,
    PERCENTILE_COLUMNS[1].1,
    PERCENTILE_COLUMNS[2].1,
    PERCENTILE_COLUMNS[3].1,
];

/// The p50, p90, p99, p99.9 and max cells of one [`percentile_table`] row, formatted by
/// [`format_ns`], or `-` each for an empty histogram.
pub(crate) fn percentile_cells(histogram: &Histogram<u64>) -> Vec<String> {
    if histogram.is_empty() {
        return vec!["-".to_owned(); PERCENTILE_COLUMNS.len() + 1];
    }
    PERCENTILE_COLUMNS
        .iter()
        .map(|&(_, quantile)| format_ns(histogram.value_at_quantile(quantile)))
        .chain([format_ns(histogram.max())])
        .collect()
}

/// Renders rows of cells as an aligned table: first column left-aligned, the others
/// right-aligned, two spaces apart, one line per row.
pub(crate) fn aligned_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    for row in rows {
        for (column, (cell, &width)) in row.iter().zip(&widths).enumerate() {
            // Names read best left-aligned, numbers right-aligned so their units line up.
            let _ = match column {
                0 => write!(table, "{cell:<width$}"),
                _ => write!(table, "  {cell:>width$}"),
            };
        }
        table.push('\n');
    }
    table
}

/// Where the percentile file for the interval log `hlog_path` goes: beside it, with the
/// extension `percentiles.txt` (`run.hlog` → `run.percentiles.txt`).
pub fn percentile_path_for(hlog_path: &Path) -> PathBuf {
    hlog_path.with_extension("percentiles.txt")
}

/// Writes to `path` a header line naming `run_name` and the time span (`start` plus
/// `duration`), followed by [`percentile_table`] of `hists` (latencies in nanoseconds).
///
/// The file is written under a temporary name and renamed over `path`, so a reader sees the old
/// or the new table, never a half-written one. It is not fsynced: a lost table after a power
/// failure is acceptable, a monitor thread stalled on the disk is not.
pub fn write_percentile_file<'a>(
    path: &Path,
    run_name: &str,
    start: SystemTime,
    duration: Duration,
    hists: impl Iterator<Item = (&'a str, &'a Histogram<u64>)>,
) -> io::Result<()> {
    let contents = format!(
        "run {run_name}: {} .. {} ({:.3} s)\n{}",
        utc_timestamp(start),
        utc_timestamp(start + duration),
        duration.as_secs_f64(),
        percentile_table(hists)
    );
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    fs::write(&temporary, contents)?;
    fs::rename(&temporary, path)
}

/// Implements `calculus-trader hist <file-or-dir>`: the [`percentile_table`] of every tag in the
/// interval log(s) at `path` (see [`read_interval_logs`]), known stages first in pipeline order,
/// then any other tags alphabetically.
pub fn hist_command(path: &Path) -> Result<String, HlogError> {
    let by_tag = read_interval_logs(path)?;
    Ok(percentile_table(
        tag_order(by_tag.keys())
            .into_iter()
            .map(|tag| (tag, &by_tag[tag])),
    ))
}

/// The report order of histogram tags: known stages in pipeline order, then any other tags
/// alphabetically (the order of the `BTreeMap` keys given).
pub(crate) fn tag_order<'a>(tags: impl Iterator<Item = &'a String> + Clone) -> Vec<&'a str> {
    let stages = Stage::ALL
        .iter()
        .filter_map(|stage| tags.clone().find(|t| *t == stage.name()));
    let others = tags.clone().filter(|t| Stage::from_name(t).is_none());
    stages.chain(others).map(String::as_str).collect()
}

/// `time` as ISO 8601 UTC with milliseconds (`2023-11-14T22:13:20.000Z`); times before the Unix
/// epoch show as the epoch.
pub fn utc_timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_date(seconds / 86_400);
    let second_of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Gregorian (year, month, day) of `days` since 1970-01-01, after Howard Hinnant's
/// `civil_from_days`, which counts in 400-year eras starting on March 1st so that leap days
/// fall at the end of each year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    let days = days + 719_468; // from 0000-03-01
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::hlog::IntervalLog;
    use crate::telemetry::stage::StageHistograms;
    use crate::telemetry::test_dir::TestDir;

    fn one_to_thousand() -> Histogram<u64> {
        let mut hists = StageHistograms::new();
        for ns in 1..=1000 {
            hists.record(Stage::Parse, ns);
        }
        hists.get(Stage::Parse).clone()
    }

    /// Splits a table into rows of cells; cells are separated by two or more spaces.
    fn cells(table: &str) -> Vec<Vec<String>> {
        table
            .lines()
            .map(|line| {
                line.split("  ")
                    .map(str::trim)
                    .filter(|cell| !cell.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn format_ns_shows_whole_nanoseconds_below_a_microsecond() {
        assert_eq!(format_ns(0), "0 ns");
        assert_eq!(format_ns(412), "412 ns");
        assert_eq!(format_ns(999), "999 ns");
    }

    #[test]
    fn format_ns_shows_three_significant_digits_in_the_largest_fitting_unit() {
        assert_eq!(format_ns(1_000), "1.00 µs");
        assert_eq!(format_ns(3_210), "3.21 µs");
        assert_eq!(format_ns(3_214), "3.21 µs");
        assert_eq!(format_ns(3_215), "3.22 µs");
        assert_eq!(format_ns(45_600), "45.6 µs");
        assert_eq!(format_ns(456_700), "457 µs");
        assert_eq!(format_ns(1_200_000), "1.20 ms");
        assert_eq!(format_ns(2_500_000_000), "2.50 s");
        assert_eq!(format_ns(60_000_000_000), "60.0 s");
    }

    #[test]
    fn format_ns_rounding_carries_into_the_next_unit() {
        assert_eq!(format_ns(999_499), "999 µs");
        assert_eq!(format_ns(999_500), "1.00 ms");
        assert_eq!(format_ns(999_999_999), "1.00 s");
        assert_eq!(format_ns(u64::MAX), "18400000000 s");
    }

    #[test]
    fn table_shows_percentiles_of_known_values_within_bucket_precision() {
        let histogram = one_to_thousand();
        let table = percentile_table([("parse", &histogram)].into_iter());

        let rows = cells(&table);
        assert_eq!(
            rows[0],
            ["stage", "count", "p50", "p90", "p99", "p99.9", "max"]
        );
        // HdrHistogram reports the upper edge of the value's bucket (2 ns wide at 500, 4 ns
        // wide from 512 on): 500 → 501, 900 → 903, 990 → 991, 999 → 999, 1000 → 1003.
        assert_eq!(
            rows[1],
            ["parse", "1000", "501 ns", "903 ns", "991 ns", "999 ns", "1.00 µs"]
        );
    }

    #[test]
    fn table_shows_dashes_for_empty_stages() {
        let empty = StageHistograms::new();
        let table = percentile_table([("sign", empty.get(Stage::Sign))].into_iter());
        assert_eq!(cells(&table)[1], ["sign", "0", "-", "-", "-", "-", "-"]);
    }

    #[test]
    fn table_columns_are_aligned() {
        let mut hists = StageHistograms::new();
        hists.record(Stage::Parse, 412);
        hists.record(Stage::TickToOrder, 2_500_000_000);
        let table = percentile_table(hists.iter().map(|(stage, h)| (stage.name(), h)));

        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 1 + Stage::COUNT);
        let width = lines[0].chars().count();
        for line in &lines {
            assert_eq!(line.chars().count(), width, "{line:?}");
            assert!(!line.ends_with(' '));
        }
        let max_column = lines[0].rfind("max").unwrap() + "max".len();
        assert_eq!(width, lines[0][..max_column].chars().count());
    }

    #[test]
    fn percentile_file_has_run_header_and_table_and_no_leftover_temporary() {
        let dir = TestDir::new("percentile-file");
        let hlog = dir.path().join("run.hlog");
        let path = percentile_path_for(&hlog);
        assert_eq!(path, dir.path().join("run.percentiles.txt"));
        let histogram = one_to_thousand();
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);

        fs::write(&path, "previous table").unwrap();
        write_percentile_file(
            &path,
            "paper-1",
            start,
            Duration::from_millis(60_500),
            [("parse", &histogram)].into_iter(),
        )
        .unwrap();

        let contents = fs::read_to_string(&path).unwrap();
        let (header, table) = contents.split_once('\n').unwrap();
        assert_eq!(
            header,
            "run paper-1: 2023-11-14T22:13:20.000Z .. 2023-11-14T22:14:20.500Z (60.500 s)"
        );
        assert_eq!(table, percentile_table([("parse", &histogram)].into_iter()));
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn utc_timestamps_handle_epoch_and_leap_days() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc_timestamp(leap_day), "2000-02-29T00:00:00.000Z");
        let new_year = UNIX_EPOCH + Duration::from_millis(1_735_689_599_999);
        assert_eq!(utc_timestamp(new_year), "2024-12-31T23:59:59.999Z");
    }

    #[test]
    fn hist_command_round_trips_log_to_the_same_table() {
        let dir = TestDir::new("hist-command");
        let path = dir.path().join("run.hlog");
        let mut hists = StageHistograms::new();
        for ns in 1..=1000 {
            hists.record(Stage::TickToOrder, ns * 1_000);
            hists.record(Stage::Parse, ns);
        }
        hists.record(Stage::Sign, 7_000);
        let mut log = IntervalLog::create(&path, "hist").unwrap();
        log.write_interval(0.0, 1.0, &hists).unwrap();
        log.write_interval(1.0, 1.0, &hists).unwrap();
        let mut expected = hists.clone();
        expected.add(&hists);

        let table = hist_command(&path).unwrap();

        let non_empty = expected.iter().filter(|(_, h)| !h.is_empty());
        assert_eq!(
            table,
            percentile_table(non_empty.map(|(stage, h)| (stage.name(), h)))
        );
        let stage_order: Vec<_> = cells(&table)[1..].iter().map(|r| r[0].clone()).collect();
        assert_eq!(stage_order, ["parse", "sign", "tick_to_order"]);
    }

    #[test]
    fn hist_command_lists_unknown_tags_after_stages() {
        let dir = TestDir::new("hist-unknown-tags");
        let path = dir.path().join("mixed.hlog");
        let mut hists = StageHistograms::new();
        hists.record(Stage::Sign, 10);
        let mut log = IntervalLog::create(&path, "mixed").unwrap();
        log.write_interval(0.0, 1.0, &hists).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let sign_line = text.lines().find(|l| l.starts_with("Tag=sign,")).unwrap();
        let extra = format!(
            "{}\n{}\n",
            sign_line.replacen("sign", "aaa_custom", 1),
            sign_line.replacen("sign", "zzz_custom", 1)
        );
        fs::write(&path, text + &extra).unwrap();

        let table = hist_command(&path).unwrap();

        let tags: Vec<_> = cells(&table)[1..].iter().map(|r| r[0].clone()).collect();
        assert_eq!(tags, ["sign", "aaa_custom", "zzz_custom"]);
    }

    #[test]
    fn hist_command_reports_unreadable_input_with_its_path() {
        let dir = TestDir::new("hist-garbage");
        let path = dir.path().join("bad.hlog");
        fs::write(&path, "definitely not\na log\n").unwrap();
        let err = hist_command(&path).unwrap_err();
        assert!(err.to_string().contains("bad.hlog"), "{err}");
    }
}
