//! The dashboard against the real engine: the default run (bundled real trades, embedded
//! exchange) serves the page; headless Chromium loads it, sees ticks arrive, clicks Pause, and
//! the engine sends no new entry while ticks keep coming. Skipped with a loud message where no
//! Chromium is installed.

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use calculus_trader::config::Config;
use calculus_trader::control::{self, Server};
use calculus_trader::runtime::{self, ControlHook, RunOptions, Shutdown};
use common::browser::Browser;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);
/// Ticks the engine must process after the pause with no entry among them.
const TICKS_AFTER_PAUSE: u64 = 300;

/// `GET /api/status` from inside the page (same origin; reads need no token on loopback).
fn status(b: &mut Browser) -> Value {
    let text = b.eval("(async () => JSON.stringify(await (await fetch('/api/status')).json()))()");
    serde_json::from_str(text.as_str().expect("status text")).expect("status JSON")
}

fn counter(s: &Value, name: &str) -> u64 {
    s["counters"][name].as_u64().unwrap_or(0)
}

/// Polls the status until `cond` holds (bounded by [`WAIT`]).
fn status_until(b: &mut Browser, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let s = status(b);
        if cond(&s) {
            return s;
        }
        assert!(
            start.elapsed() < WAIT,
            "{what} not seen within {WAIT:?}: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn config(dir: &Path) -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cfg = Config::load(&root.join("config/default.toml")).unwrap();
    cfg.control.listen = "127.0.0.1:0".parse().unwrap();
    cfg.control.token_file = dir.join("control.token");
    cfg.control.token_env = "CT_TEST_CONTROL_TOKEN_NEVER_SET".into();
    cfg.run.dump_dir = dir.join("dumps");
    cfg.replay.speed = 10.0;
    cfg
}

#[test]
fn pause_clicked_on_the_page_stops_new_entries_of_the_running_engine() {
    let dir = common::files::temp_dir("dashboard-e2e");
    let Some(mut b) = Browser::launch(&dir.join("profile"), 390, 844) else {
        eprintln!("!!!! SKIPPED: no Chromium in PATH (apt-get install chromium): the dashboard was not driven against the engine !!!!");
        return;
    };
    let cfg = config(&dir);
    let server_cfg = cfg.control_server();
    let (url_tx, url_rx) = mpsc::channel::<String>();
    let keep: Arc<Mutex<Option<Server>>> = Arc::default();
    let kept = keep.clone();
    let hook = ControlHook::new(move |h| {
        let s = control::spawn(&server_cfg, h)?;
        url_tx.send(s.url()).ok();
        *kept.lock().unwrap() = Some(s);
        Ok(())
    });
    let shutdown = Shutdown::default();
    let stop = shutdown.clone();
    let run = std::thread::spawn(move || {
        let opts = RunOptions {
            max_duration: Some(Duration::from_secs(120)),
            control: Some(hook),
            ..RunOptions::default()
        };
        runtime::run(&cfg, &opts, stop)
    });
    let url = url_rx
        .recv_timeout(WAIT)
        .expect("the run started its server");
    let token = std::fs::read_to_string(dir.join("control.token")).unwrap();
    b.navigate(&format!("{url}#token={}", token.trim()));

    // Ticks arrive on the page, and the strategy has entered at least once.
    b.wait_for(
        "Number(document.getElementById('tick-count').textContent) > 0",
        WAIT,
    );
    status_until(&mut b, "a first entry", |s| counter(s, "entries") > 0);

    b.eval("document.getElementById('pause').click()");
    b.wait_for(
        "document.getElementById('state').textContent === 'paused'",
        WAIT,
    );
    let paused = status(&mut b);
    assert_eq!(paused["state"], "paused", "{paused}");
    let (entries0, ticks0) = (counter(&paused, "entries"), counter(&paused, "ticks"));
    let later = status_until(&mut b, "ticks after the pause", |s| {
        counter(s, "ticks") >= ticks0 + TICKS_AFTER_PAUSE
    });
    assert_eq!(
        counter(&later, "entries"),
        entries0,
        "an entry was sent while paused: {later}"
    );
    b.screenshot(&dir.join("dashboard-e2e-phone.png"));

    shutdown.request();
    let report = run.join().unwrap().unwrap();
    drop(keep);
    assert_eq!(
        runtime::counters(&report).get(calculus_trader::telemetry::Counter::Entries),
        entries0,
        "the run's final entry count moved after the pause"
    );
}
