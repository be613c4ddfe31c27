//! Recorded exchange frames: `<local receive timestamp> <raw frame JSON>` per line, gzip or
//! plain (the hftbacktest collector's format in `data/replay/`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::Deserialize;

/// One recorded frame, kept byte for byte.
#[derive(Clone, Debug)]
pub struct RecordedFrame {
    /// Local receive time of the recorder, ns (normalised from µs or ms where needed).
    pub recv_ns: u64,
    /// Index into [`Recording::streams`] (`btcusdt@trade`, ...).
    pub stream: u16,
    /// The frame text exactly as recorded.
    pub text: String,
}

/// Frames of one or more recording files, merged in receive-time order.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Stream names seen, indexed by [`RecordedFrame::stream`].
    pub streams: Vec<String>,
    /// The frames, sorted by `recv_ns` (stable: file order kept for equal times).
    pub frames: Vec<RecordedFrame>,
    /// Lines that were not `<ts> <combined-stream frame>` (e.g. REST snapshots), per file.
    pub skipped: usize,
}

#[derive(Deserialize)]
struct StreamOnly<'a> {
    #[serde(borrow)]
    stream: Option<&'a str>,
}

/// Normalises a recorder timestamp to ns from its magnitude (ns ≥ 1e17, µs ≥ 1e14, else ms).
fn to_ns(ts: u64) -> u64 {
    if ts >= 100_000_000_000_000_000 {
        ts
    } else if ts >= 100_000_000_000_000 {
        ts.saturating_mul(1_000)
    } else {
        ts.saturating_mul(1_000_000)
    }
}

impl Recording {
    /// Loads `files` (`.gz` or plain) and merges them by receive time.
    pub fn load(files: &[PathBuf]) -> Result<Self, String> {
        let mut rec = Recording::default();
        for f in files {
            rec.load_one(f)?;
        }
        rec.frames.sort_by_key(|f| f.recv_ns);
        Ok(rec)
    }

    fn load_one(&mut self, path: &Path) -> Result<(), String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open recording {}: {e}", path.display()))?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        for (n, line) in BufReader::with_capacity(1 << 20, reader)
            .lines()
            .enumerate()
        {
            let line = line.map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
            let Some((ts, json)) = line.split_once(' ') else {
                self.skipped += 1;
                continue;
            };
            let (
                Ok(ts),
                Ok(StreamOnly {
                    stream: Some(stream),
                }),
            ) = (
                ts.parse::<u64>(),
                serde_json::from_str::<StreamOnly<'_>>(json),
            )
            else {
                self.skipped += 1;
                continue;
            };
            let idx = match self.streams.iter().position(|s| s == stream) {
                Some(i) => i,
                None => {
                    self.streams.push(stream.to_string());
                    self.streams.len() - 1
                }
            };
            let recv_ns = to_ns(ts);
            self.frames.push(RecordedFrame {
                recv_ns,
                stream: idx as u16,
                text: json.to_string(),
            });
        }
        Ok(())
    }

    /// Index of stream `name`, if recorded.
    pub fn stream_index(&self, name: &str) -> Option<u16> {
        self.streams
            .iter()
            .position(|s| s == name)
            .map(|i| i as u16)
    }

    /// Number of frames of the streams in `subscribed` (stream indices).
    pub fn count_in(&self, subscribed: &[bool]) -> usize {
        self.frames
            .iter()
            .filter(|f| subscribed.get(f.stream as usize).copied().unwrap_or(false))
            .count()
    }

    /// Receive-time span of all frames, seconds.
    pub fn span_s(&self) -> f64 {
        match (self.frames.first(), self.frames.last()) {
            (Some(a), Some(b)) => (b.recv_ns - a.recv_ns) as f64 * 1e-9,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_normalised_by_magnitude() {
        assert_eq!(to_ns(1_723_161_255_030_314_667), 1_723_161_255_030_314_667);
        assert_eq!(to_ns(1_680_652_800_123_456), 1_680_652_800_123_456_000);
        assert_eq!(to_ns(1_680_652_800_123), 1_680_652_800_123_000_000);
    }

    #[test]
    fn loads_merges_and_skips_non_frames() {
        let dir = std::env::temp_dir().join(format!("ct-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.txt");
        let b = dir.join("b.txt");
        std::fs::write(&a, "30 {\"stream\":\"x@trade\",\"data\":{}}\n10 {\"stream\":\"x@trade\",\"data\":{\"k\":1}}\nbad line\n").unwrap();
        std::fs::write(
            &b,
            "20 {\"stream\":\"y@trade\",\"data\":{}}\n25 {\"lastUpdateId\":1}\n",
        )
        .unwrap();
        let r = Recording::load(&[a, b]).unwrap();
        let order: Vec<u64> = r.frames.iter().map(|f| f.recv_ns / 1_000_000).collect();
        assert_eq!(order, vec![10, 20, 30]);
        assert_eq!(
            r.frames[0].text,
            "{\"stream\":\"x@trade\",\"data\":{\"k\":1}}"
        );
        assert_eq!(r.skipped, 2);
        assert_eq!(r.streams, vec!["x@trade", "y@trade"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let err = Recording::load(&[PathBuf::from("/nonexistent/rec.gz")]).unwrap_err();
        assert!(err.contains("/nonexistent/rec.gz"), "{err}");
    }
}
