//! The one reader of recorded trade files (`data/replay/*.gz`, trade CSV dumps) used by
//! `backtest`, `analyze` and the embedded exchange's replay: opens a file plain or gzip (detected
//! from the magic bytes `1f 8b`, whatever the name), and turns every read failure into an error
//! naming the file and the byte offset, so a truncated or corrupt file stops the run instead of
//! looking like a short one. Also the recorders' timestamp normalisation ([`to_ns`]).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

/// Normalises a recorder timestamp to ns from its magnitude (ns ≥ 1e17, µs ≥ 1e14, else ms).
pub fn to_ns(ts: u64) -> u64 {
    if ts >= 100_000_000_000_000_000 {
        ts
    } else if ts >= 100_000_000_000_000 {
        ts.saturating_mul(1_000)
    } else {
        ts.saturating_mul(1_000_000)
    }
}

/// Counts the bytes read from disk: into `pos` (this file's offset) and `progress` (optional,
/// shared by every file of a run, for progress bars).
struct Counting {
    inner: File,
    pos: Arc<AtomicU64>,
    progress: Option<Arc<AtomicU64>>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(b) = &self.progress {
            b.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// A recorded file's decompressed bytes. Every read error (truncated or corrupt gzip, disk
/// error) comes back as one `io::Error` whose message names the file and the byte offsets
/// (`path: truncated or corrupt gzip at byte 1234 of 5678 (after 9012 decompressed bytes): …`);
/// a truncated gzip member is an error, never an early end of file.
pub struct Input {
    path: PathBuf,
    len: u64,
    gz: bool,
    disk_pos: Arc<AtomicU64>,
    out_pos: u64,
    inner: BufReader<Box<dyn Read + Send>>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("path", &self.path)
            .field("gz", &self.gz)
            .field("out_pos", &self.out_pos)
            .finish()
    }
}

impl Input {
    /// Opens `path`; `progress` (optional) counts the bytes read from disk.
    pub fn open(path: &Path, progress: Option<Arc<AtomicU64>>) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let disk_pos = Arc::new(AtomicU64::new(0));
        let mut raw = BufReader::new(Counting {
            inner: file,
            pos: disk_pos.clone(),
            progress,
        });
        let gz = raw
            .fill_buf()
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn Read + Send> = if gz {
            Box::new(MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        Ok(Self {
            path: path.to_path_buf(),
            len,
            gz,
            disk_pos,
            out_pos: 0,
            inner: BufReader::with_capacity(1 << 16, inner),
        })
    }

    /// Decompressed bytes handed out so far (the offset of the next line).
    pub fn offset(&self) -> u64 {
        self.out_pos
    }

    /// Reads one line (with its `\n`, if any) into `buf` (cleared first); `Ok(0)` at the end.
    pub fn read_line(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        buf.clear();
        self.read_until(b'\n', buf)
    }

    /// The error message of a failed read: file, byte offsets and cause.
    fn located(&self, e: std::io::Error) -> std::io::Error {
        let at = self.disk_pos.load(Ordering::Relaxed).min(self.len);
        let what = if self.gz {
            format!(
                "truncated or corrupt gzip at byte {at} of {} (after {} decompressed bytes)",
                self.len, self.out_pos
            )
        } else {
            format!("read error at byte {} of {}", self.out_pos, self.len)
        };
        std::io::Error::new(e.kind(), format!("{}: {what}: {e}", self.path.display()))
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| self.located(e))?;
        self.out_pos += n as u64;
        Ok(n)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        // Two steps so the error path can borrow `self` (the buffer borrow ends first).
        if let Err(e) = self.inner.fill_buf() {
            return Err(self.located(e));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.out_pos += amt as u64;
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::test_dir::TestDir;
    use std::io::Write;

    fn gz(body: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(body).unwrap();
        e.finish().unwrap()
    }

    fn tmp(dir: &TestDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn lines(p: &Path) -> std::io::Result<Vec<String>> {
        let mut i = Input::open(p, None).unwrap();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while i.read_line(&mut buf)? > 0 {
            out.push(String::from_utf8_lossy(&buf).trim_end().to_string());
        }
        Ok(out)
    }

    #[test]
    fn timestamps_are_normalised_by_magnitude() {
        assert_eq!(to_ns(1_723_161_240_010), 1_723_161_240_010_000_000);
        assert_eq!(to_ns(1_723_161_240_010_123), 1_723_161_240_010_123_000);
        assert_eq!(to_ns(1_723_161_240_010_123_456), 1_723_161_240_010_123_456);
        assert_eq!(to_ns(1_723_161_255_030_314_667), 1_723_161_255_030_314_667);
        assert_eq!(to_ns(1_680_652_800_123_456), 1_680_652_800_123_456_000);
        assert_eq!(to_ns(1_680_652_800_123), 1_680_652_800_123_000_000);
    }

    #[test]
    fn gzip_is_detected_by_magic_and_plain_read_as_is() {
        let dir = TestDir::new("data-magic");
        let body = b"a,1\nb,2\n";
        assert_eq!(
            lines(&tmp(&dir, "x.csv", &gz(body))).unwrap(),
            ["a,1", "b,2"]
        );
        assert_eq!(lines(&tmp(&dir, "x.gz", body)).unwrap(), ["a,1", "b,2"]);
    }

    #[test]
    fn truncated_gzip_names_file_and_offset() {
        let body: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{i},{i}\n").into_bytes())
            .collect();
        let z = gz(&body);
        let cut = z.len() / 2;
        let dir = TestDir::new("data-cut");
        let p = tmp(&dir, "cut.csv.gz", &z[..cut]);
        let e = lines(&p).unwrap_err().to_string();
        assert!(e.contains("cut.csv.gz"), "{e}");
        assert!(
            e.contains(&format!("truncated or corrupt gzip at byte {cut} of {cut}")),
            "{e}"
        );
    }
}
