//! Paths of the crate's bundled data and fixtures, fresh scratch folders, and the built binary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The crate root (`CARGO_MANIFEST_DIR`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `data/replay/<name>`: a bundled real recording.
pub fn replay_file(name: &str) -> PathBuf {
    root().join("data/replay").join(name)
}

/// `tests/fixtures/<rel>`.
pub fn fixture_path(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// The bytes of `tests/fixtures/<rel>`.
pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap()
}

/// A fresh, empty folder `ct-<tag>-<pid>-<n>` under the system temp dir; `n` counts the calls
/// of this process, so two calls never share a folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ct-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The built `calculus-trader` binary, ready for arguments.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_calculus-trader"))
}

/// The bundled real Bybit v5 linear public capture (BTCUSDT + ETHUSDT, 2026-08-09), one frame a
/// line, in `data/replay/`.
pub const BYBIT_CAPTURE: &str = "bybit_v5_linear_public_BTCUSDT_ETHUSDT_2026-08-09.jsonl.gz";

/// The frames of [`BYBIT_CAPTURE`], in recorded order.
pub fn bybit_capture_lines() -> Vec<String> {
    let f = std::fs::File::open(replay_file(BYBIT_CAPTURE)).unwrap();
    BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map(Result::unwrap)
        .collect()
}
