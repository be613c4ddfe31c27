//! `calculus-trader analyze` as a user runs it: the CSV columns against analytic values, the
//! real trade fixture, and errors that name the file and line.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

mod common;
use common::files::temp_dir;

const BIN: &str = env!("CARGO_BIN_EXE_calculus-trader");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn analyze(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(ROOT)
        .arg("analyze")
        .args(args)
        .output()
        .unwrap()
}

/// Header and rows of a CSV (rows as column → value maps).
fn read_csv(p: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let text = std::fs::read_to_string(p).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{l}");
            header
                .iter()
                .cloned()
                .zip(f.iter().map(|s| s.to_string()))
                .collect()
        })
        .collect();
    (header, rows)
}

fn num(r: &HashMap<String, String>, k: &str) -> f64 {
    r[k].parse().unwrap_or_else(|_| panic!("{k} = {:?}", r[k]))
}

fn rel(a: f64, b: f64) -> f64 {
    (a / b - 1.0).abs()
}

/// `ln p = ln 100 + c·t` at 10 trades/s for 600 s in a plain `timestamp_ms,price` CSV. With the
/// default config (Kalman, λ_t = 1 − exp(−dt/τ) with τ = 5 s, h = 30 s) the last row must show:
/// both velocities = c and both accelerations = 0 (1e-9); `kalman_price` = price (1e-9 relative);
/// `smoothed` = the EMA of a ramp, lagging by `c·dt·(1 − λ)/λ` in ln p; `forecast` =
/// `p·exp(c·30)`; `confidence = min(1, snr/2)`; case `steady` (a ≈ 0 inside its band).
#[test]
fn columns_match_the_analytic_answers_of_a_log_linear_path() {
    let dir = temp_dir("analyze-linear");
    let input = dir.join("linear.csv");
    let out = dir.join("states.csv");
    let c = 1e-4;
    let mut text = String::from("timestamp_ms,price\n");
    for i in 0..6000u64 {
        let t = i as f64 * 0.1;
        text.push_str(&format!(
            "{},{}\n",
            1_700_000_000_000 + i * 100,
            (100f64.ln() + c * t).exp()
        ));
    }
    std::fs::write(&input, text).unwrap();
    let o = analyze(&[input.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (header, rows) = read_csv(&out);
    let fixed = [
        "ts_ms",
        "price",
        "smoothed",
        "kalman_price",
        "kalman_velocity",
        "kalman_acceleration",
        "velocity",
        "acceleration",
        "snr",
        "confidence",
        "forecast",
        "case",
        "signal",
        "innovation",
        "innovation_var",
        "nis",
        "noise_level",
        "noise_r",
        "noise_q_jerk",
        "snr_a",
        "gate",
    ];
    assert_eq!(&header[..21], &fixed);
    // Default config: six layers on, the indicator composite off.
    assert_eq!(
        &header[21..],
        &[
            "layer_ou",
            "layer_drift",
            "layer_flow",
            "layer_cross",
            "layer_regime",
            "layer_tp_first"
        ]
    );
    assert_eq!(rows.len(), 6000);
    let r = rows.last().unwrap();
    let p = num(r, "price");
    assert_eq!(r["ts_ms"], (1_700_000_000_000u64 + 5999 * 100).to_string());
    for k in ["kalman_velocity", "velocity"] {
        assert!((num(r, k) - c).abs() < 1e-9, "{k} = {}", r[k]);
    }
    for k in ["kalman_acceleration", "acceleration"] {
        assert!(num(r, k).abs() < 1e-9, "{k} = {}", r[k]);
    }
    assert!(rel(num(r, "kalman_price"), p) < 1e-9);
    let lambda = 1.0 - (-0.1f64 / 5.0).exp();
    let lag = c * 0.1 * (1.0 - lambda) / lambda;
    assert!(
        rel(num(r, "smoothed"), p * (-lag).exp()) < 1e-9,
        "smoothed {}",
        r["smoothed"]
    );
    assert!(rel(num(r, "forecast"), p * (c * 30.0).exp()) < 1e-9);
    let snr = num(r, "snr");
    assert!(snr > 0.0);
    assert!((num(r, "confidence") - (snr / 2.0).min(1.0)).abs() < 1e-12);
    assert_eq!(r["case"], "steady");
    // Every row is finite and every verdict one of the documented words.
    for row in &rows {
        for k in &fixed[1..11] {
            assert!(num(row, k).is_finite());
        }
        for k in &fixed[13..20] {
            assert!(num(row, k).is_finite());
        }
        // The filter's check: S > 0, NIS = y²/S, R = ρ·L with the default ρ = 1.
        let (y, s) = (num(row, "innovation"), num(row, "innovation_var"));
        assert!(s > 0.0 && num(row, "noise_level") > 0.0);
        assert!((num(row, "nis") - y * y / s).abs() <= 1e-9 * (1.0 + num(row, "nis")));
        assert_eq!(row["noise_r"], row["noise_level"]);
        for k in &header[21..] {
            assert!(["pass", "reject", "na"].contains(&row[k.as_str()].as_str()));
        }
        assert!(["-1", "0", "1"].contains(&row["signal"].as_str()));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn real_bybit_fixture_exports_the_chosen_symbol_only() {
    let dir = temp_dir("analyze-bybit");
    let input =
        format!("{ROOT}/tests/fixtures/trades/bybit_linear_trades_BTCUSDT_ETHUSDT_2026-08-09.csv");
    let out = dir.join("eth.csv");
    let o = analyze(&[
        &input,
        "--symbol",
        "ETHUSDT",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, rows) = read_csv(&out);
    let eth: Vec<f64> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .filter(|l| l.contains(",ETHUSDT,"))
        .map(|l| l.split(',').nth(5).unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows.len(), eth.len());
    for (r, p) in rows.iter().zip(&eth) {
        assert_eq!(num(r, "price"), *p);
    }
    // Two symbols and no --symbol: refused, naming both.
    let o = analyze(&[&input, "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("BTCUSDT") && err.contains("ETHUSDT") && err.contains("--symbol"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn malformed_row_is_reported_with_file_and_line() {
    let dir = temp_dir("analyze-bad");
    let input = dir.join("bad.csv");
    std::fs::write(&input, "timestamp_ms,price\n1000,100.0\n2000,1o1.0\n").unwrap();
    let o = analyze(&[
        input.to_str().unwrap(),
        "--out",
        dir.join("o.csv").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.csv:3") && err.contains("1o1.0"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}
