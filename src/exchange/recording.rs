//! Recorded exchange frames, gzip or plain, one per line, in either format:
//! - `<local receive timestamp> <combined-stream frame JSON>` (the hftbacktest collector's
//!   Binance files in `data/replay/`), stream = the frame's `stream`;
//! - `<raw Bybit v5 frame JSON>` (the Bybit capture), stream = its `topic`, time = its `ts`
//!   (kept monotonic so arrival order is preserved); `op` replies (acks, pongs) are skipped.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::data::{to_ns, Input};
use crate::venue::{binance, bybit, recorded};

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

#[derive(Deserialize)]
struct TopicOnly<'a> {
    #[serde(borrow)]
    topic: Option<&'a str>,
    ts: Option<u64>,
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
        let input = Input::open(path, None).map_err(|e| format!("recording: {e}"))?;
        let mut bybit_ts_ms = 0u64;
        for (n, line) in input.lines().enumerate() {
            let line = line.map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
            if line.starts_with('{') {
                // Bybit capture: raw frames, time from `ts`.
                match serde_json::from_str::<TopicOnly<'_>>(&line) {
                    Ok(TopicOnly {
                        topic: Some(topic),
                        ts: Some(ts),
                    }) => {
                        bybit_ts_ms = bybit_ts_ms.max(ts);
                        let idx = self.intern(topic);
                        self.frames.push(RecordedFrame {
                            recv_ns: bybit_ts_ms.saturating_mul(1_000_000),
                            stream: idx,
                            text: line,
                        });
                    }
                    _ => self.skipped += 1,
                }
                continue;
            }
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
            let idx = self.intern(stream);
            let recv_ns = to_ns(ts);
            self.frames.push(RecordedFrame {
                recv_ns,
                stream: idx,
                text: json.to_string(),
            });
        }
        Ok(())
    }

    fn intern(&mut self, stream: &str) -> u16 {
        match self.streams.iter().position(|s| s == stream) {
            Some(i) => i as u16,
            None => {
                self.streams.push(stream.to_string());
                (self.streams.len() - 1) as u16
            }
        }
    }

    /// Whether any stream is a Binance combined stream (`btcusdt@trade`).
    pub fn has_binance_streams(&self) -> bool {
        self.streams.iter().any(|s| recorded::is_binance_stream(s))
    }

    /// The recording as Bybit v5 would send it: every Binance `@trade` frame re-encoded as a
    /// one-trade `publicTrade.<SYMBOL>` snapshot (`T`, `s`, `S` = taker side from `m`, `v`,
    /// `p`, `L`, `i` = a UUID-shaped id carrying the Binance trade id, `BT`), other Binance
    /// streams dropped, Bybit frames kept. Returns the recording and the frames re-encoded.
    pub fn to_bybit(&self) -> (Recording, usize) {
        let mut out = Recording {
            skipped: self.skipped,
            ..Default::default()
        };
        let mut n = 0;
        let mut last_price: Vec<Option<String>> = vec![None; self.streams.len()];
        for f in &self.frames {
            let name = &self.streams[f.stream as usize];
            if !recorded::is_binance_stream(name) {
                let idx = out.intern(name);
                out.frames.push(RecordedFrame {
                    stream: idx,
                    ..f.clone()
                });
                continue;
            }
            if !recorded::is_binance_trade_stream(name) {
                continue;
            }
            let Some(t) = binance::exchange::recorded_trade(&f.text) else {
                out.skipped += 1;
                continue;
            };
            let prev = last_price[f.stream as usize].replace(t.price.to_string());
            let (topic, text) = bybit::exchange::public_trade_frame(&t, prev.as_deref());
            let idx = out.intern(&topic);
            out.frames.push(RecordedFrame {
                recv_ns: f.recv_ns,
                stream: idx,
                text,
            });
            n += 1;
        }
        (out, n)
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
    fn bybit_capture_lines_use_topic_and_ts_and_skip_acks() {
        let dir = std::env::temp_dir().join(format!("ct-rec-bybit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("bybit.jsonl");
        std::fs::write(
            &a,
            concat!(
                "{\"success\":true,\"ret_msg\":\"\",\"conn_id\":\"x\",\"op\":\"subscribe\"}\n",
                "{\"topic\":\"tickers.BTCUSDT\",\"type\":\"snapshot\",\"data\":{},\"cs\":1,\"ts\":1000}\n",
                "{\"topic\":\"publicTrade.BTCUSDT\",\"type\":\"snapshot\",\"ts\":990,\"data\":[]}\n",
            ),
        )
        .unwrap();
        let r = Recording::load(&[a]).unwrap();
        assert_eq!(r.skipped, 1);
        assert_eq!(r.streams, vec!["tickers.BTCUSDT", "publicTrade.BTCUSDT"]);
        // Arrival order is kept although the second frame's ts is earlier.
        assert_eq!(
            r.frames.iter().map(|f| f.recv_ns).collect::<Vec<_>>(),
            vec![1_000_000_000, 1_000_000_000]
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn binance_trades_reencode_as_bybit_public_trades() {
        let dir = std::env::temp_dir().join(format!("ct-rec-reenc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("b.txt");
        // Real frames (BTCUSDT 2024-08-08, data/replay).
        std::fs::write(&a, concat!(
            "1723161255088169167 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":5123107839020,\"s\":\"BTCUSDT\",\"b\":\"61800.20\",\"B\":\"2.507\",\"a\":\"61800.30\",\"A\":\"2.510\",\"T\":1723161256313,\"E\":1723161256313}}\n",
            "1723161255088176367 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161256322,\"T\":1723161256322,\"s\":\"BTCUSDT\",\"t\":5266583935,\"p\":\"61800.30\",\"q\":\"0.006\",\"X\":\"MARKET\",\"m\":false}}\n",
        )).unwrap();
        let (r, n) = Recording::load(&[a]).unwrap().to_bybit();
        assert_eq!(n, 1);
        assert_eq!(r.streams, vec!["publicTrade.BTCUSDT"]);
        let v: serde_json::Value = serde_json::from_str(&r.frames[0].text).unwrap();
        assert_eq!(v["topic"], "publicTrade.BTCUSDT");
        assert_eq!(v["ts"], 1723161256322u64);
        let d = &v["data"][0];
        assert_eq!(
            (d["S"].as_str(), d["p"].as_str(), d["v"].as_str()),
            (Some("Buy"), Some("61800.30"), Some("0.006"))
        );
        assert_eq!(d["T"], 1723161256322u64);
        let id = d["i"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert!(id.ends_with(&format!("{:012x}", 5266583935u64)));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn truncated_bundled_bybit_capture_names_file_and_offset() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/replay/bybit_v5_linear_public_BTCUSDT_ETHUSDT_2026-08-09.jsonl.gz");
        let bytes = std::fs::read(&src).unwrap();
        assert!(Recording::load(std::slice::from_ref(&src)).is_ok());
        let dir = std::env::temp_dir().join(format!("ct-rec-cut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for cut in [bytes.len() / 3, bytes.len() - 4] {
            let p = dir.join(format!("cut{cut}.jsonl.gz"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let err = Recording::load(&[p]).unwrap_err();
            assert!(
                err.contains(&format!("cut{cut}.jsonl.gz"))
                    && err.contains(&format!("truncated or corrupt gzip at byte {cut} of {cut}")),
                "{err}"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_file_error_names_the_path() {
        let err = Recording::load(&[PathBuf::from("/nonexistent/rec.gz")]).unwrap_err();
        assert!(err.contains("/nonexistent/rec.gz"), "{err}");
    }
}
