//! `backtest` and `analyze` on truncated or corrupt gzip recordings (real bundled files cut at
//! several offsets, or with one byte flipped): each run stops within a time bound with a
//! non-zero exit and an error naming the file and the byte offset — no spin, no partial success.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::files::temp_dir;

const BIN: &str = env!("CARGO_BIN_EXE_calculus-trader");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A run over a few MB must end well within this (the bug spun forever).
const LIMIT: Duration = Duration::from_secs(120);

/// Runs the binary with `args`; kills it and fails the test if it outlives [`LIMIT`].
fn run(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(BIN)
        .current_dir(ROOT)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > LIMIT {
            child.kill().ok();
            child.wait().ok();
            panic!("{args:?} still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.success(), err)
}

/// Variants of `src`: cut at a quarter, a half and 4 bytes before the end (inside the gzip
/// trailer), and one byte flipped in the middle; each with the disk offset its error must name
/// (0: the flipped file, whose garbled line or failed checksum is named with its offset).
fn damaged(src: &Path, dir: &Path) -> Vec<(PathBuf, u64)> {
    let bytes = std::fs::read(src).unwrap();
    let name = src.file_name().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    for cut in [bytes.len() / 4, bytes.len() / 2, bytes.len() - 4] {
        let p = dir.join(format!("cut{cut}-{name}"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        out.push((p, cut as u64));
    }
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let p = dir.join(format!("flip-{name}"));
    std::fs::write(&p, &flipped).unwrap();
    out.push((p, 0));
    out
}

fn assert_stops(ok: bool, err: &str, file: &Path, cut: u64) {
    assert!(!ok, "exit 0 on {}: {err}", file.display());
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(err.contains(&*name), "error does not name the file: {err}");
    assert!(
        err.contains("byte "),
        "error does not name the offset: {err}"
    );
    if cut > 0 {
        assert!(
            err.contains(&format!("truncated or corrupt gzip at byte {cut} of {cut}")),
            "expected offset {cut}: {err}"
        );
    }
}

/// Runs the binary on every [`damaged`] variant of each of `sources`, with the arguments
/// `args(file, out)` (`out`: `dir/<out>`), and asserts each run stops naming file and offset.
fn assert_every_damaged_copy_stops(
    tag: &str,
    sources: &[&str],
    out: &str,
    args: impl Fn(&str, &str) -> Vec<String>,
) {
    let dir = temp_dir(tag);
    let out = dir.join(out);
    for src in sources {
        for (file, cut) in damaged(&Path::new(ROOT).join(src), &dir) {
            let args = args(file.to_str().unwrap(), out.to_str().unwrap());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (ok, err) = run(&args);
            assert_stops(ok, &err, &file, cut);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn backtest_stops_on_damaged_recordings_and_csv_dumps() {
    let sources = [
        "data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz",
        "tests/fixtures/trades/binance_usdm_BTCUSDT_2024-08-08_head600_trades.csv.gz",
        "tests/fixtures/trades/ETHUSDT-aggTrades-2024-08-08-head.csv.gz",
    ];
    assert_every_damaged_copy_stops("truncated-bt", &sources, "out", |file, out| {
        ["backtest", "--quiet", "--out", out, "--data", file]
            .map(String::from)
            .to_vec()
    });
}

#[test]
fn analyze_stops_on_damaged_recordings_and_csv_dumps() {
    let sources = [
        "data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz",
        "tests/fixtures/trades/binance_usdm_BTCUSDT_2024-08-08_head600_trades.csv.gz",
    ];
    assert_every_damaged_copy_stops("truncated-an", &sources, "out.csv", |file, out| {
        ["analyze", file, "--out", out].map(String::from).to_vec()
    });
}

#[test]
fn intact_files_still_run() {
    let dir = temp_dir("truncated-ok");
    let out = dir.join("out");
    let file =
        Path::new(ROOT).join("tests/fixtures/trades/ETHUSDT-aggTrades-2024-08-08-head.csv.gz");
    let (ok, err) = run(&[
        "backtest",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--data",
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
