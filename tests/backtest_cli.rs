//! `calculus-trader backtest` end to end: report table, report.json and SVG plots from real
//! fixture trades; sweep and walk-forward tables; clear errors for bad keys and rows.

use std::path::PathBuf;

mod common;
use common::files::{bin, fixture_path};

/// `tests/fixtures/trades/<name>`, as an argument.
fn fixture(name: &str) -> String {
    fixture_path("trades").join(name).display().to_string()
}

fn out_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ct-bt-cli-{tag}-{}", std::process::id()))
}

#[test]
fn backtest_writes_report_json_and_plots() {
    let out = out_dir("report");
    let o = bin()
        .args(["backtest", "--quiet", "--out"])
        .arg(&out)
        .arg("--data")
        .args([
            fixture("BTCUSDT-trades-2024-08-08-head600.csv"),
            fixture("ETHUSDT-aggTrades-2024-08-08-head.csv.gz"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("buy & hold") && stdout.contains("max drawdown"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["ticks"], 600 + 349);
    assert_eq!(json["files"][1][1], "binance-aggtrades");
    assert!(json["strategy"]["sharpe"].is_number());
    assert!(json["buy_and_hold"]["net_pnl"].is_number());
    for svg in ["equity.svg", "trades_BTCUSDT.svg", "trades_ETHUSDT.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("polyline"),
            "{svg}"
        );
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn sweep_and_walk_forward_print_their_tables() {
    let o = bin()
        .args(["backtest", "--quiet", "--data"])
        .arg(fixture("BTCUSDT-trades-2024-08-08-head600.csv"))
        .args(["--sweep", "lambda=0.5,0.75", "v_band=1e-5,2e-5"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.contains("4 combinations") && stdout.contains("biased"),
        "{stdout}"
    );
    let o = bin()
        .args(["backtest", "--quiet", "--walk-forward", "2", "--data"])
        .arg(fixture("BTCUSDT-trades-2024-08-08-head600.csv"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("walk-forward: 2 windows"), "{stdout}");
}

#[test]
fn unknown_sweep_key_and_strict_bad_row_fail_clearly() {
    let o = bin()
        .args([
            "backtest",
            "--quiet",
            "--sweep",
            "no_such_key=0.5,1.0",
            "--data",
        ])
        .arg(fixture("BTCUSDT-plain-head600.csv"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("no_such_key") && stderr.contains("model.lambda"),
        "{stderr}"
    );
    let bad = std::env::temp_dir().join(format!("BTCUSDT-cli-bad-{}.csv", std::process::id()));
    std::fs::write(
        &bad,
        "timestamp_ms,price\n1723161256322,61800.3\n1723161256323,x\n",
    )
    .unwrap();
    let o = bin()
        .args(["backtest", "--quiet", "--strict", "--out"])
        .arg(out_dir("strict"))
        .arg("--data")
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains(&format!("{}:3:", bad.display())),
        "{stderr}"
    );
    std::fs::remove_file(&bad).ok();
}
