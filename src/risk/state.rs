//! The risk state file: what must survive a restart — the UTC day and its starting equity,
//! peak equity, the losing streak, the daily block, pauses (losing streak, drawdown,
//! operator), the emergency halt, operator stop, circuit breaker end and the settings in force.
//!
//! Written by a cold thread (the monitor) whenever the state changed, atomically: the JSON goes
//! to `<file>.tmp`, is fsynced, renamed over the file, and the directory is fsynced — a crash
//! leaves either the old or the new file, never a torn one. Read once at start-up: a missing
//! file is a fresh state; a corrupt one is an error naming the file (see
//! [`super::config::StateOnCorrupt`]). Decimals are written as exact strings.

use std::io::Write;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::types::control::{RiskState, Settings};

/// Format version written and accepted.
const VERSION: u32 = 1;

/// The file's JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    /// Unix ms of the write (informational).
    written_ms: u64,
    /// UTC day (`unix_ms / 86 400 000`) of `day_start_equity`; `None` before any event.
    day: Option<u64>,
    day_start_equity: String,
    peak_equity: String,
    loss_streak: u32,
    daily_blocked: bool,
    loss_pause: bool,
    drawdown_pause: bool,
    halted: bool,
    stopped: bool,
    paused: bool,
    circuit_until_ms: u64,
    settings: Settings,
}

/// The default state file of the journal at `journal`: `<journal>.risk.json`.
pub fn default_path(journal: &Path) -> PathBuf {
    beside(journal, ".risk.json")
}

/// `<journal><suffix>`: a state file kept beside the journal.
pub fn beside(journal: &Path, suffix: &str) -> PathBuf {
    let mut s = journal.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Why the state file `path` of kind `what` cannot be used although it was read.
pub fn corrupt(what: &str, path: &Path, why: impl std::fmt::Display) -> String {
    format!("{what} {} is corrupt: {why}", path.display())
}

/// Reads the versioned JSON state file `path` of kind `what`: `Ok(None)` when it does not
/// exist; an error naming the file when it cannot be read, is not JSON of `T`, or its
/// `version(&T)` is not `expected`.
pub fn read_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    version: impl Fn(&T) -> u32,
    expected: u32,
) -> Result<Option<T>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{what} {}: {e}", path.display())),
    };
    let f: T = serde_json::from_str(&text).map_err(|e| corrupt(what, path, e))?;
    match version(&f) {
        v if v == expected => Ok(Some(f)),
        v => Err(corrupt(
            what,
            path,
            format!("version {v} (expected {expected})"),
        )),
    }
}

/// Writes `f` as pretty JSON to `path` with [`write_atomically`].
pub fn write_json<T: Serialize>(path: &Path, f: &T) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(f).map_err(std::io::Error::other)?;
    write_atomically(path, &text)
}

/// Reads `path`: `Ok(None)` when it does not exist, an error naming the file when it cannot be
/// read or is not a valid state (bad JSON, unknown or missing keys, other version, a money
/// value that is not an exact decimal).
pub fn load(path: &Path) -> Result<Option<RiskState>, String> {
    const WHAT: &str = "risk state";
    let Some(f) = read_versioned::<StateFile>(path, WHAT, |f| f.version, VERSION)? else {
        return Ok(None);
    };
    let bad = |why: String| corrupt(WHAT, path, why);
    let dec = |name: &str, v: &str| {
        v.parse::<Decimal>()
            .map_err(|e| bad(format!("{name} = {v:?}: {e}")))
    };
    Ok(Some(RiskState {
        day: f.day.unwrap_or(u64::MAX),
        day_start_equity: dec("day_start_equity", &f.day_start_equity)?,
        peak_equity: dec("peak_equity", &f.peak_equity)?,
        loss_streak: f.loss_streak,
        daily_blocked: f.daily_blocked,
        loss_pause: f.loss_pause,
        drawdown_pause: f.drawdown_pause,
        halted: f.halted,
        stopped: f.stopped,
        paused: f.paused,
        circuit_until_ms: f.circuit_until_ms,
        settings: f.settings,
    }))
}

/// Writes `s` to `path` atomically (tmp file, fsync, rename, fsync of the directory);
/// `now_ms` is recorded as the write time.
pub fn save(path: &Path, s: &RiskState, now_ms: u64) -> std::io::Result<()> {
    let f = StateFile {
        version: VERSION,
        written_ms: now_ms,
        day: (s.day != u64::MAX).then_some(s.day),
        day_start_equity: s.day_start_equity.to_string(),
        peak_equity: s.peak_equity.to_string(),
        loss_streak: s.loss_streak,
        daily_blocked: s.daily_blocked,
        loss_pause: s.loss_pause,
        drawdown_pause: s.drawdown_pause,
        halted: s.halted,
        stopped: s.stopped,
        paused: s.paused,
        circuit_until_ms: s.circuit_until_ms,
        settings: s.settings,
    };
    write_json(path, &f)
}

/// Writes `text` and a newline to `path` so that a reader (or a crash) sees the old file or the
/// new one, never a mix: a synced `<path>.tmp` renamed over `path`, then the directory synced.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(&dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("risk-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_saved_state_reads_back_exactly_and_a_missing_file_is_fresh() {
        let d = dir("roundtrip");
        let p = d.join("x.journal.risk.json");
        assert_eq!(load(&p).unwrap(), None);
        let s = RiskState {
            day: 20_427,
            day_start_equity: "10000.123456789".parse().unwrap(),
            peak_equity: "10250.5".parse().unwrap(),
            loss_streak: 4,
            loss_pause: true,
            halted: true,
            circuit_until_ms: 1_764_900_000_000,
            settings: Settings {
                tp_pct: 1.25,
                max_positions: 3,
                ..Settings::default()
            },
            ..RiskState::default()
        };
        save(&p, &s, 1).unwrap();
        assert_eq!(load(&p).unwrap(), Some(s));
        assert!(!d.join("x.journal.risk.json.tmp").exists());
        let fresh = RiskState { day: u64::MAX, ..s };
        save(&p, &fresh, 2).unwrap();
        assert_eq!(load(&p).unwrap().unwrap().day, u64::MAX);
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn corrupt_files_are_errors_naming_the_file() {
        let d = dir("corrupt");
        let p = d.join("s.json");
        for text in ["{not json", "{}", r#"{"version": 2}"#, ""] {
            std::fs::write(&p, text).unwrap();
            let e = load(&p).unwrap_err();
            assert!(e.contains("corrupt") && e.contains("s.json"), "{text}: {e}");
        }
        save(&p, &RiskState::default(), 0).unwrap();
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("\"peak_equity\": \"0\"", "\"peak_equity\": \"ten\"");
        std::fs::write(&p, text).unwrap();
        assert!(load(&p).unwrap_err().contains("peak_equity"));
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn the_default_file_sits_beside_the_journal() {
        assert_eq!(
            default_path(Path::new("journals/binance-ab.journal")),
            PathBuf::from("journals/binance-ab.journal.risk.json")
        );
    }
}
