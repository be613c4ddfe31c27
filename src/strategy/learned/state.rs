//! The learned filter's state file: weights, AdaGrad accumulators, label counts and the
//! prequential confusion counts, so a restart continues learning where it stopped.
//!
//! Written by a cold thread (the monitor, and once at the end of a run) from the compute
//! thread's [`super::Published`] state, atomically like the risk state
//! ([`crate::risk::state`]): `<file>.tmp`, fsync, rename, fsync of the directory. Floats are
//! written as the hex of their IEEE-754 bits, so a reload predicts bit for bit the same. Read
//! once at start-up: a missing file is a cold model; a corrupt one (bad JSON, unknown or
//! missing keys, other version, other feature names, a bad float) is an error naming the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::risk::state;

use super::{Confusion, Snapshot, N, NAMES};

/// Format version written and accepted.
const VERSION: u32 = 1;

/// The file's JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    /// Unix ms of the write (informational).
    written_ms: u64,
    /// Feature names in index order.
    features: Vec<String>,
    /// `[signal, trade]` labels learnt from.
    labels: [u64; 2],
    /// `[tp, fp, fn, tn]` per source (`signal`, `trade`).
    confusion: [[u64; 4]; 2],
    /// Weights, hex of the f64 bits.
    weights: Vec<String>,
    /// AdaGrad sums of squared gradients, hex of the f64 bits.
    adagrad: Vec<String>,
}

/// The default state file of the journal at `journal`: `<journal>.learned.json`.
pub fn default_path(journal: &Path) -> PathBuf {
    state::beside(journal, ".learned.json")
}

fn floats(name: &str, v: &[String]) -> Result<[f64; N], String> {
    if v.len() != N {
        return Err(format!("{name}: {} values (expected {N})", v.len()));
    }
    let mut out = [0.0; N];
    for (o, s) in out.iter_mut().zip(v) {
        let bits =
            u64::from_str_radix(s, 16).map_err(|e| format!("{name}: {s:?} is not hex: {e}"))?;
        *o = f64::from_bits(bits);
        if !o.is_finite() {
            return Err(format!("{name}: {s:?} is not a finite number"));
        }
    }
    Ok(out)
}

/// Reads `path`: `Ok(None)` when it does not exist, an error naming the file when it cannot be
/// read or is not a valid state.
pub fn load(path: &Path) -> Result<Option<Snapshot>, String> {
    const WHAT: &str = "learned filter state";
    let Some(f) = state::read_versioned::<StateFile>(path, WHAT, |f| f.version, VERSION)? else {
        return Ok(None);
    };
    let bad = |why: String| state::corrupt(WHAT, path, why);
    if f.features.iter().map(String::as_str).ne(NAMES) {
        return Err(bad(format!(
            "features {:?} are not this build's {NAMES:?}",
            f.features
        )));
    }
    let mut s = Snapshot {
        labels: f.labels,
        confusion: f.confusion.map(Confusion::from_array),
        ..Snapshot::default()
    };
    s.model.w = floats("weights", &f.weights).map_err(bad)?;
    s.model.g2 = floats("adagrad", &f.adagrad).map_err(bad)?;
    if s.model.g2.iter().any(|g| *g < 0.0) {
        return Err(bad("adagrad: a negative sum of squares".into()));
    }
    Ok(Some(s))
}

/// Writes `s` to `path` atomically (tmp file, fsync, rename, fsync of the directory);
/// `now_ms` is recorded as the write time.
pub fn save(path: &Path, s: &Snapshot, now_ms: u64) -> std::io::Result<()> {
    let hex = |v: &[f64; N]| v.iter().map(|x| format!("{:016x}", x.to_bits())).collect();
    let f = StateFile {
        version: VERSION,
        written_ms: now_ms,
        features: NAMES.iter().map(|n| n.to_string()).collect(),
        labels: s.labels,
        confusion: s.confusion.map(Confusion::to_array),
        weights: hex(&s.model.w),
        adagrad: hex(&s.model.g2),
    };
    state::write_json(path, &f)
}
