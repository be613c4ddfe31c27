//! Stage histograms on disk in HdrHistogram's standard interval-log format (`.hlog`), readable
//! by the Java, Python and Rust HdrHistogram tools as well as by [`read_interval_logs`].

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, IntervalLogWriterError, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::stage::StageHistograms;

/// File extension of interval logs, without the dot.
pub const HLOG_EXTENSION: &str = "hlog";

/// Key under which [`read_interval_logs`] files intervals that carry no tag.
pub const UNTAGGED: &str = "(untagged)";

/// Column legend of the Java `HistogramLogWriter`, which some tools expect before the data.
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// An interval log being appended to: one line per non-empty stage per interval, tagged with the
/// stage name, holding that stage's histogram (values in nanoseconds) for the interval.
pub struct IntervalLog {
    path: PathBuf,
    file: File,
    base_time: SystemTime,
    serializer: V2DeflateSerializer,
    pending: Vec<u8>,
}

impl std::fmt::Debug for IntervalLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalLog")
            .field("path", &self.path)
            .field("base_time", &self.base_time)
            .finish_non_exhaustive()
    }
}

impl IntervalLog {
    /// Creates (or truncates) `path` and writes the headers; interval offsets count from now.
    pub fn create(path: &Path, run_name: &str) -> io::Result<Self> {
        Self::create_with_base_time(path, run_name, SystemTime::now())
    }

    /// Creates (or truncates) `path` and writes the headers; interval offsets count from
    /// `base_time`, which is written as both the log's StartTime and BaseTime.
    pub fn create_with_base_time(
        path: &Path,
        run_name: &str,
        base_time: SystemTime,
    ) -> io::Result<Self> {
        let mut log = Self {
            path: path.to_owned(),
            file: File::create(path)?,
            base_time,
            serializer: V2DeflateSerializer::new(),
            pending: Vec::new(),
        };
        // StartTime equal to BaseTime matters: readers such as Python's `HistogramLogReader`
        // silently skip intervals that start before StartTime.
        IntervalLogWriterBuilder::new()
            .add_comment(&format!("calculus-trader telemetry, run: {run_name}"))
            .add_comment("Stage latencies in nanoseconds, one interval per stage, Tag=<stage>")
            .add_comment("[Histogram log format version 1.3]")
            .with_start_time(base_time)
            .with_base_time(base_time)
            .begin_log_with(&mut log.pending, &mut log.serializer)?;
        log.pending.extend_from_slice(LEGEND.as_bytes());
        log.write_pending()?;
        Ok(log)
    }

    /// Appends one interval: a line per non-empty stage of `hists`, starting `start_offset_s`
    /// seconds after the base time and lasting `duration_s` seconds.
    ///
    /// The lines reach the OS in one write before this returns, so a crash loses at most the
    /// interval being written. Fails with `InvalidInput` for a negative or non-finite time.
    pub fn write_interval(
        &mut self,
        start_offset_s: f64,
        duration_s: f64,
        hists: &StageHistograms,
    ) -> io::Result<()> {
        let start = seconds_to_duration("start offset", start_offset_s)?;
        let duration = seconds_to_duration("duration", duration_s)?;
        // A builder without headers writes nothing: it only lends a writer over our buffer.
        let mut writer = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.pending, &mut self.serializer)?;
        for (stage, histogram) in hists.iter().filter(|(_, h)| !h.is_empty()) {
            let tag = Tag::new(stage.name());
            writer
                .write_histogram(histogram, start, duration, tag)
                .map_err(|e| match e {
                    IntervalLogWriterError::IoError(e) => e,
                    IntervalLogWriterError::SerializeError(e) => io::Error::other(e),
                })?;
        }
        self.write_pending()
    }

    /// Where this log is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The instant interval offsets count from.
    pub fn base_time(&self) -> SystemTime {
        self.base_time
    }

    fn write_pending(&mut self) -> io::Result<()> {
        // Whole intervals in a single write keep the file parseable up to the last complete
        // interval if the process dies mid-dump.
        let result = self.file.write_all(&self.pending);
        self.pending.clear();
        result
    }
}

fn seconds_to_duration(what: &str, seconds: f64) -> io::Result<Duration> {
    if seconds < 0.0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interval {what} is negative: {seconds} s"),
        ));
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interval {what} of {seconds} s: {e}"),
        )
    })
}

/// Why interval logs could not be read; every variant names the offending path.
#[derive(Debug)]
pub enum HlogError {
    /// The file or directory could not be read.
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A line is not a valid interval-log entry or its histogram does not decode.
    Garbled {
        /// The offending file.
        path: PathBuf,
        /// 1-based line number in that file.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// A directory was given but holds no `.hlog` files.
    NoLogs {
        /// The directory searched.
        path: PathBuf,
    },
}

impl fmt::Display for HlogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HlogError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            HlogError::Garbled { path, line, reason } => write!(
                f,
                "{}:{line}: not a valid HdrHistogram interval log: {reason}",
                path.display()
            ),
            HlogError::NoLogs { path } => write!(
                f,
                "{}: no .{HLOG_EXTENSION} files in this directory or its subdirectories",
                path.display()
            ),
        }
    }
}

impl std::error::Error for HlogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HlogError::Io { source, .. } => Some(source),
            HlogError::Garbled { .. } | HlogError::NoLogs { .. } => None,
        }
    }
}

/// Reads `path` (one `.hlog` file, or a directory whose `*.hlog` files and those of its direct
/// subdirectories are read in path order) and sums all intervals per tag.
///
/// Values are in the logs' unit (nanoseconds for ours). Intervals without a tag are filed under
/// [`UNTAGGED`]. An unterminated last line, as left by a crash mid-write, is skipped when the
/// lines before it are intact.
pub fn read_interval_logs(path: &Path) -> Result<BTreeMap<String, Histogram<u64>>, HlogError> {
    let io_error = |source| HlogError::Io {
        path: path.to_owned(),
        source,
    };
    let files = if fs::metadata(path).map_err(io_error)?.is_dir() {
        let files = hlog_files_in(path)?;
        if files.is_empty() {
            return Err(HlogError::NoLogs {
                path: path.to_owned(),
            });
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut by_tag = BTreeMap::new();
    let mut deserializer = Deserializer::new();
    for file in &files {
        accumulate_file(file, &mut deserializer, &mut by_tag)?;
    }
    Ok(by_tag)
}

/// The `.hlog` files in `dir` and in its direct subdirectories, sorted by path.
fn hlog_files_in(dir: &Path) -> Result<Vec<PathBuf>, HlogError> {
    let list = |dir: &Path| -> Result<Vec<PathBuf>, HlogError> {
        let io_error = |source| HlogError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error)? {
            paths.push(entry.map_err(io_error)?.path());
        }
        Ok(paths)
    };
    let is_hlog = |p: &Path| p.is_file() && p.extension().is_some_and(|e| e == HLOG_EXTENSION);
    let mut files = Vec::new();
    for entry in list(dir)? {
        if entry.is_dir() {
            files.extend(list(&entry)?.into_iter().filter(|p| is_hlog(p)));
        } else if is_hlog(&entry) {
            files.push(entry);
        }
    }
    files.sort();
    Ok(files)
}

fn accumulate_file(
    path: &Path,
    deserializer: &mut Deserializer,
    by_tag: &mut BTreeMap<String, Histogram<u64>>,
) -> Result<(), HlogError> {
    let bytes = fs::read(path).map_err(|source| HlogError::Io {
        path: path.to_owned(),
        source,
    })?;
    let garbled = |line, reason| HlogError::Garbled {
        path: path.to_owned(),
        line,
        reason,
    };
    let terminated_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (terminated, unterminated) = bytes.split_at(terminated_len);
    let mut line_count = 0;
    for (index, line) in terminated.split_inclusive(|&b| b == b'\n').enumerate() {
        accumulate_line(line, deserializer, by_tag).map_err(|reason| garbled(index + 1, reason))?;
        line_count = index + 1;
    }
    if !unterminated.is_empty() {
        let mut last_line = unterminated.to_vec();
        last_line.push(b'\n');
        let result = accumulate_line(&last_line, deserializer, by_tag);
        // A lone unterminated line has no intact lines vouching for the file being a log.
        if line_count == 0 {
            result.map_err(|reason| garbled(1, reason))?;
        }
    }
    Ok(())
}

/// Adds the interval on `line` (which ends in `\n`), if it holds one, to its tag's total.
fn accumulate_line(
    line: &[u8],
    deserializer: &mut Deserializer,
    by_tag: &mut BTreeMap<String, Histogram<u64>>,
) -> Result<(), String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    for entry in IntervalLogIterator::new(line) {
        let interval = match entry {
            Ok(LogEntry::Interval(interval)) => interval,
            Ok(LogEntry::StartTime(_) | LogEntry::BaseTime(_)) => continue,
            Err(_) => return Err(format!("unrecognised line {:?}", preview(line))),
        };
        let payload = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| format!("histogram payload is not base64: {e}"))?;
        let histogram: Histogram<u64> = deserializer
            .deserialize(&mut payload.as_slice())
            .map_err(|e| format!("histogram payload does not decode: {e:?}"))?;
        let tag = interval.tag().map_or(UNTAGGED, |t| t.as_str());
        match by_tag.entry(tag.to_owned()) {
            Entry::Vacant(slot) => {
                let mut total = histogram;
                // Foreign logs may widen their range from one interval to the next.
                total.auto(true);
                slot.insert(total);
            }
            Entry::Occupied(mut slot) => slot
                .get_mut()
                .add(&histogram)
                .map_err(|e| format!("cannot add interval to tag {tag:?}: {e:?}"))?,
        }
    }
    Ok(())
}

/// The start of `line`, short enough for an error message.
fn preview(line: &[u8]) -> String {
    const MAX_CHARS: usize = 60;
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::stage::Stage;
    use crate::telemetry::test_dir::TestDir;

    fn sample_hists(scale: u64) -> StageHistograms {
        let mut hists = StageHistograms::new();
        for ns in 1..=1000 {
            hists.record(Stage::Parse, ns * scale);
        }
        hists.record(Stage::Sign, 12_345 * scale);
        hists
    }

    #[test]
    fn interval_log_round_trips_counts_per_stage() {
        let dir = TestDir::new("round-trip");
        let path = dir.path().join("run.hlog");
        let mut log = IntervalLog::create(&path, "round-trip").unwrap();
        log.write_interval(0.0, 1.0, &sample_hists(1)).unwrap();
        log.write_interval(1.0, 1.0, &sample_hists(2)).unwrap();

        let by_tag = read_interval_logs(&path).unwrap();

        let mut expected = sample_hists(1);
        expected.add(&sample_hists(2));
        assert_eq!(by_tag.keys().collect::<Vec<_>>(), ["parse", "sign"]);
        for stage in [Stage::Parse, Stage::Sign] {
            let read = &by_tag[stage.name()];
            let written = expected.get(stage);
            assert_eq!(read.len(), written.len());
            for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(read.value_at_quantile(q), written.value_at_quantile(q));
            }
        }
    }

    #[test]
    fn empty_stages_and_empty_intervals_write_no_lines() {
        let dir = TestDir::new("empty-stages");
        let path = dir.path().join("run.hlog");
        let mut log = IntervalLog::create(&path, "empty").unwrap();
        log.write_interval(0.0, 1.0, &StageHistograms::new())
            .unwrap();
        let mut one_stage = StageHistograms::new();
        one_stage.record(Stage::Compute, 300);
        log.write_interval(1.0, 1.0, &one_stage).unwrap();

        let text = fs::read_to_string(&path).unwrap();
        let intervals: Vec<_> = text.lines().filter(|l| l.starts_with("Tag=")).collect();
        assert_eq!(intervals.len(), 1);
        assert!(intervals[0].starts_with("Tag=compute,1.000,1.000,"));
    }

    #[test]
    fn header_names_the_run_and_sets_equal_start_and_base_time() {
        let dir = TestDir::new("header");
        let path = dir.path().join("run.hlog");
        let base = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        IntervalLog::create_with_base_time(&path, "paper-btc-1", base).unwrap();

        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("#calculus-trader telemetry, run: paper-btc-1\n"));
        assert!(text.contains("#[StartTime: 1700000000.250 (seconds since epoch)]\n"));
        assert!(text.contains("#[BaseTime: 1700000000.250 (seconds since epoch)]\n"));
        assert!(text.ends_with(LEGEND));
    }

    #[test]
    fn negative_or_non_finite_offsets_are_rejected() {
        let dir = TestDir::new("bad-offsets");
        let mut log = IntervalLog::create(&dir.path().join("run.hlog"), "bad").unwrap();
        let hists = sample_hists(1);
        for (start, duration) in [(-1.0, 1.0), (0.0, f64::INFINITY), (f64::NAN, 1.0)] {
            let err = log.write_interval(start, duration, &hists).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn garbage_file_is_an_error_naming_the_path() {
        let dir = TestDir::new("garbage");
        let path = dir.path().join("garbage.hlog");
        fs::write(
            &path,
            b"hello, this is not\x00\xff an interval log\nsecond line\n",
        )
        .unwrap();

        let err = read_interval_logs(&path).unwrap_err();

        assert!(matches!(err, HlogError::Garbled { line: 1, .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn corrupt_histogram_payload_is_an_error_naming_path_and_line() {
        let dir = TestDir::new("corrupt-payload");
        let path = dir.path().join("run.hlog");
        fs::write(
            &path,
            "#comment\nTag=parse,0.000,1.000,5.000,SGVsbG8gd29ybGQ=\n",
        )
        .unwrap();

        let err = read_interval_logs(&path).unwrap_err();

        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}:2:", path.display())),
            "{message}"
        );
    }

    #[test]
    fn single_unterminated_garbage_line_is_an_error() {
        let dir = TestDir::new("one-line-garbage");
        let path = dir.path().join("x.hlog");
        fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            read_interval_logs(&path),
            Err(HlogError::Garbled { line: 1, .. })
        ));
    }

    #[test]
    fn truncated_last_line_is_skipped_keeping_earlier_intervals() {
        let dir = TestDir::new("truncated");
        let path = dir.path().join("run.hlog");
        let mut log = IntervalLog::create(&path, "crash").unwrap();
        log.write_interval(0.0, 1.0, &sample_hists(1)).unwrap();
        log.write_interval(1.0, 1.0, &sample_hists(1)).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, &text[..text.len() - 40]).unwrap();

        let by_tag = read_interval_logs(&path).unwrap();

        assert_eq!(by_tag["parse"].len(), 2000);
        assert_eq!(
            by_tag["sign"].len(),
            1,
            "second interval's sign line was cut"
        );
    }

    #[test]
    fn missing_path_is_an_io_error_naming_it() {
        let dir = TestDir::new("missing");
        let path = dir.path().join("nope.hlog");
        let err = read_interval_logs(&path).unwrap_err();
        assert!(matches!(err, HlogError::Io { .. }));
        assert!(err.to_string().contains("nope.hlog"));
    }

    #[test]
    fn directory_reads_hlogs_one_level_deep_and_ignores_other_files() {
        let dir = TestDir::new("directory");
        let nested = dir.path().join("thread-1");
        fs::create_dir(&nested).unwrap();
        let deeper = nested.join("too-deep");
        fs::create_dir(&deeper).unwrap();
        for path in [
            dir.path().join("a.hlog"),
            nested.join("b.hlog"),
            deeper.join("c.hlog"),
        ] {
            let mut log = IntervalLog::create(&path, "dir").unwrap();
            log.write_interval(0.0, 1.0, &sample_hists(1)).unwrap();
        }
        fs::write(dir.path().join("notes.txt"), "not a log").unwrap();

        let by_tag = read_interval_logs(dir.path()).unwrap();

        assert_eq!(by_tag["parse"].len(), 2000);
        assert_eq!(by_tag["sign"].len(), 2);
    }

    #[test]
    fn directory_without_hlogs_is_an_error() {
        let dir = TestDir::new("no-logs");
        let err = read_interval_logs(dir.path()).unwrap_err();
        assert!(matches!(err, HlogError::NoLogs { .. }), "{err:?}");
    }

    #[test]
    fn untagged_intervals_are_filed_under_untagged() {
        let dir = TestDir::new("untagged");
        let path = dir.path().join("foreign.hlog");
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).unwrap();
        histogram.record(77).unwrap();
        let mut text = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .begin_log_with(&mut text, &mut serializer)
            .unwrap()
            .write_histogram(&histogram, Duration::ZERO, Duration::from_secs(1), None)
            .unwrap();
        fs::write(&path, text).unwrap();

        let by_tag = read_interval_logs(&path).unwrap();

        assert_eq!(by_tag[UNTAGGED].len(), 1);
    }

    #[test]
    fn stage_names_are_valid_tags() {
        for stage in Stage::ALL {
            assert!(Tag::new(stage.name()).is_some(), "{stage}");
        }
    }
}
