//! `calculus-trader soak` end to end: a short soak (kills and restarts included) passes and
//! prints its summary line; a second soak on the same directory refuses to reuse the journal.

mod common;
use common::files::bin;

#[test]
fn short_soak_with_kills_passes_and_prints_its_summary() {
    let dir = std::env::temp_dir().join(format!("ct-soak-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = bin()
        .args(["soak", "--minutes", "0.15", "--speed", "60", "--seed", "7"])
        .args(["--kill-probability", "1"])
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("soak: "))
        .expect("summary line");
    assert!(line.starts_with("soak: PASS"), "{line}");
    assert!(line.contains("0 duplicate ids, 0 unfinished"), "{line}");
    // Kill probability 1: every lap but the last was killed at least once.
    let killed: u32 = line
        .split(" killed")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.trim().parse().ok())
        .expect("kill count");
    assert!(killed >= 1, "{line}");

    // The journal exists now: a second soak there refuses to start.
    let again = bin()
        .args(["soak", "--minutes", "0"])
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("starts from an empty journal"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn soak_refuses_out_of_range_arguments() {
    for (arg, key) in [
        ("--minutes=-1", "--minutes"),
        ("--speed=0", "--speed"),
        ("--kill-probability=2", "--kill-probability"),
    ] {
        let out = bin().args(["soak", arg]).output().unwrap();
        assert!(!out.status.success(), "{arg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{arg}: {err}");
    }
}
