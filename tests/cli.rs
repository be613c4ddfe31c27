//! The binary as a user runs it: bad config is refused by key name, SIGTERM exits 0 with a
//! summary and dumps, `hist` reads the dumps back.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::files::temp_dir;

const BIN: &str = env!("CARGO_BIN_EXE_calculus-trader");

fn default_toml() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap()
}

#[test]
fn unknown_config_key_is_refused_naming_the_key() {
    let dir = temp_dir("cli-badkey");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        default_toml().replace("[risk]\n", "[risk]\nmax_levrage = 50\n"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_levrage"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn sigterm_drains_flushes_and_exits_zero_then_hist_reads_the_dumps() {
    let dir = temp_dir("cli-sigterm");
    let mut child = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--speed",
            "1",
            "--control-listen",
            "127.0.0.1:0",
            "--dump-dir",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until a status line reports ticks flowing, then ask politely. Readiness,
    // not a fixed sleep: a loaded machine may take seconds to start the binary.
    let stdout_pipe = child.stdout.take().unwrap();
    let (line_tx, line_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout_pipe).lines() {
            let Ok(line) = line else { break };
            all.push_str(&line);
            all.push('\n');
            let _ = line_tx.send(line);
        }
        all
    });
    let t0 = Instant::now();
    loop {
        let left = Duration::from_secs(90).saturating_sub(t0.elapsed());
        match line_rx.recv_timeout(left) {
            Ok(line) if ticks_in_status(&line) > 0 => break,
            Ok(_) => {}
            Err(e) => panic!("no status line with ticks within 90 s: {e}"),
        }
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().unwrap();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        e.read_to_string(&mut stderr).ok();
    }
    assert!(status.success(), "exit {status:?}\n{stdout}\n{stderr}");
    assert!(stdout.contains("run summary"), "{stdout}");
    assert!(
        stdout.contains("ticks/s"),
        "status lines expected: {stdout}"
    );

    let hist = Command::new(BIN).arg("hist").arg(&dir).output().unwrap();
    assert!(hist.status.success());
    let table = String::from_utf8_lossy(&hist.stdout);
    let parse_row = table
        .lines()
        .find(|l| l.starts_with("parse"))
        .expect("parse row");
    let count: u64 = parse_row
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(count > 0, "{table}");
    std::fs::remove_dir_all(dir).ok();
}

/// The cumulative `ticks N` field of a status line (0 for other lines).
fn ticks_in_status(line: &str) -> u64 {
    line.split('|')
        .map(str::trim)
        .find_map(|f| f.strip_prefix("ticks ").map(str::trim))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn hist_on_a_missing_path_fails_with_the_path() {
    let out = Command::new(BIN)
        .args(["hist", "/nonexistent/dumps"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dumps"));
}

#[test]
fn check_host_reports_every_check_with_a_status_and_changes_nothing() {
    let out = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check-host")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let checks: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("would apply: "))
        .filter(|l| !l.contains(" warning(s) for hot cores "))
        .map(|l| {
            let mut w = l.split_whitespace();
            let status = w.next().unwrap_or("");
            assert!(
                ["OK", "WARN", "INFO", "UNKNOWN"].contains(&status),
                "line without a status: {l:?}"
            );
            w.next().unwrap_or("")
        })
        .collect();
    assert_eq!(
        checks,
        [
            "config",
            "isolcpus",
            "nohz_full",
            "rcu_nocbs",
            "isolated",
            "governor",
            "turbo",
            "c-states",
            "thp",
            "irq-affinity",
            "swap",
            "clocksource"
        ]
    );
    assert!(text.contains("topology, hot cores"), "{text}");
}

#[test]
fn hist_compare_and_plot_from_the_command_line() {
    use calculus_trader::telemetry::{IntervalLog, Stage, StageHistograms};
    let dir = temp_dir("cli-hist-flags");
    let (a, b) = (dir.join("a.hlog"), dir.join("b.hlog"));
    let mut h = StageHistograms::new();
    h.record(Stage::Parse, 300);
    IntervalLog::create(&a, "a")
        .unwrap()
        .write_interval(0.0, 1.0, &h)
        .unwrap();
    h.record(Stage::Parse, 300);
    h.record(Stage::Parse, 900);
    IntervalLog::create(&b, "b")
        .unwrap()
        .write_interval(0.0, 1.0, &h)
        .unwrap();

    let out = Command::new(BIN)
        .args(["hist", "--compare"])
        .args([&a, &b])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // b's max is 3x a's (900 vs 300, within bucket precision: 903/301 = 3.00).
    let ratio: Vec<&str> = text.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(
        ratio,
        ["b/a", "1.00", "3.00", "3.00", "3.00", "3.00"],
        "{text}"
    );

    let svg = dir.join("chart.svg");
    let out = Command::new(BIN)
        .args(["hist", "--plot"])
        .arg(&b)
        .arg("--out")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(1 series)"));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("parse"));

    let out = Command::new(BIN)
        .args(["hist", "--plot"])
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "--plot without --out must be refused"
    );
    std::fs::remove_dir_all(dir).ok();
}
