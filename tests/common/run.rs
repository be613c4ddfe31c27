//! A whole run of the trader driven by a script holding its control handle (statuses seen,
//! commands sent), an eager strategy config, and the 0600 key file an operator would give.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use calculus_trader::config::Config;
use calculus_trader::control::ControlHandle;
use calculus_trader::exchange::rest_orders::SimCredentials;
use calculus_trader::runtime::{self, ControlHook, RunOptions, Shutdown};
use calculus_trader::types::control::StatusView;
use calculus_trader::venue::Venue;

/// `text` with an eager strategy: finite differences, no SNR/confidence gate, no confirmation
/// layer, no cooldown, a parking hot thread (entries are asked for often).
pub fn eager_toml(text: &str) -> String {
    let mut section = String::new();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('[') {
            section = line.split(']').next().unwrap_or("").to_string();
        }
        let line = if section.starts_with("[layers.") && line.starts_with("enabled = true") {
            "enabled = false"
        } else if line.starts_with("source = \"kalman\"") {
            "source = \"finite_difference\""
        } else if line.starts_with("snr_min =") {
            "snr_min = 0.0"
        } else if line.starts_with("confidence_min =") {
            "confidence_min = 0.0"
        } else if line.starts_with("cooldown_ms =") {
            "cooldown_ms = 0"
        } else if line.starts_with("hot = \"spin\"") {
            "hot = \"park\""
        } else {
            line
        };
        out.push_str(line);
        out.push('\n');
    }
    assert!(out.contains("snr_min = 0.0") && !out.contains("source = \"kalman\""));
    out
}

/// Polls `h`'s status every 20 ms until `done` or `limit`; the last status seen.
pub fn wait_status(
    h: &ControlHandle,
    limit: Duration,
    done: impl Fn(&StatusView) -> bool,
) -> StatusView {
    let t0 = Instant::now();
    loop {
        let s = h.status();
        if done(&s) || t0.elapsed() > limit {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Counter `name` of a status (0 when absent).
pub fn counter(s: &StatusView, name: &str) -> u64 {
    s.counters.get(name).copied().unwrap_or(0)
}

/// Every symbol flat in a status.
pub fn flat(s: &StatusView) -> bool {
    s.symbols.iter().all(|v| v.position == "0")
}

/// Runs the trader with `script` on a thread given the handle (it requests the stop).
pub fn run_with(
    cfg: &Config,
    script: impl Fn(Arc<ControlHandle>) -> Vec<StatusView> + Send + Sync + 'static,
) -> (runtime::RunReport, Vec<StatusView>) {
    let shutdown = Shutdown::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(script);
    let (sd, seen2) = (shutdown.clone(), seen.clone());
    let opts = RunOptions {
        max_duration: Some(Duration::from_secs(60)),
        control: Some(ControlHook::new(move |h| {
            let (sd, seen, script) = (sd.clone(), seen2.clone(), script.clone());
            std::thread::spawn(move || {
                let out = script(h);
                *seen.lock().unwrap() = out;
                sd.request();
            });
            Ok(())
        })),
        ..RunOptions::default()
    };
    let r = runtime::run(cfg, &opts, shutdown).unwrap();
    // The script thread finished (it requested the stop that ended the run), or the
    // watchdog ended it: wait for its statuses either way.
    let t0 = Instant::now();
    while seen.lock().unwrap().is_empty() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = std::mem::take(&mut *seen.lock().unwrap());
    (r, out)
}

/// Writes `venue`'s keys `c` as a `keys.toml` under `dir`, readable by its owner only.
pub fn write_key_file(venue: Venue, c: &SimCredentials, dir: &Path) -> PathBuf {
    let path = dir.join("keys.toml");
    std::fs::write(
        &path,
        format!(
            "[{}]\napi_key = \"{}\"\napi_secret = \"{}\"\n",
            venue.name(),
            c.api_key,
            c.secret
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}
