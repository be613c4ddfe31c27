//! Report statistics against values computed by hand (derivations in the comments).

use calculus_trader::backtest::metrics::{
    max_drawdown, mean_std, periods_per_year, profit_factor, returns, sharpe, sortino, t_stat,
};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{a} vs {b}");
}

#[test]
fn one_minute_bars_annualise_with_525600_periods() {
    close(periods_per_year(60.0), 525_600.0);
    close(periods_per_year(3_600.0), 8_760.0);
}

#[test]
fn returns_are_simple_returns_of_consecutive_marks() {
    let r = returns(&[100.0, 110.0, 99.0]);
    close(r[0], 0.1);
    close(r[1], -0.1);
}

#[test]
fn sharpe_of_four_returns() {
    // r = [1 %, −0.5 %, 2 %, 0]: mean 0.00625; deviations 0.00375, −0.01125, 0.01375, −0.00625;
    // Σ squares 3.6875e-4, / (n − 1) = 1.2291667e-4, std 0.011086778; per period 0.563734;
    // with 4 periods a year × sqrt(4) = 1.127469.
    let r = [0.01, -0.005, 0.02, 0.0];
    let (m, s) = mean_std(&r);
    close(m, 0.00625);
    close(s * s, 3.6875e-4 / 3.0);
    close(sharpe(&r, 4.0), 0.00625 / (3.6875e-4f64 / 3.0).sqrt() * 2.0);
    assert!((sharpe(&r, 4.0) - 1.127469).abs() < 1e-6);
    assert_eq!(
        sharpe(&[0.01, 0.01], 4.0),
        0.0,
        "zero variance: undefined, reported 0"
    );
}

#[test]
fn sortino_uses_the_downside_deviation_over_all_periods() {
    // Downside: only −0.005 → sqrt(0.005² / 4) = 0.0025; 0.00625 / 0.0025 = 2.5; × sqrt(4) = 5.
    let r = [0.01, -0.005, 0.02, 0.0];
    close(sortino(&r, 4.0), 5.0);
    assert_eq!(
        sortino(&[0.01, 0.02], 4.0),
        0.0,
        "no downside: undefined, reported 0"
    );
}

#[test]
fn max_drawdown_depth_and_duration() {
    // Peak 120 at t=1, trough 90 (−30, −25 %), back above 120 at t=4 (125): 3 ms under water.
    // Then peak 125 at t=4, trough 100 (−25, −20 %), never recovered: 2 ms to the end at t=6.
    let pts = [
        (0, 100.0),
        (1, 120.0),
        (2, 90.0),
        (3, 110.0),
        (4, 125.0),
        (5, 100.0),
        (6, 105.0),
    ];
    let d = max_drawdown(&pts);
    close(d.max_abs, 30.0);
    close(d.max_frac, 0.25);
    assert_eq!(d.max_duration_ms, 3);
    assert_eq!(d.longest_underwater_ms, 3);
    // The deepest drawdown is the last one and never recovers: its duration runs to the end.
    let pts = [
        (0, 100.0),
        (10, 95.0),
        (20, 101.0),
        (30, 150.0),
        (40, 100.0),
        (100, 120.0),
    ];
    let d = max_drawdown(&pts);
    close(d.max_abs, 50.0);
    close(d.max_frac, 50.0 / 150.0);
    assert_eq!(d.max_duration_ms, 70);
    assert_eq!(d.longest_underwater_ms, 70);
    // Monotone rise: no drawdown.
    assert_eq!(max_drawdown(&[(0, 1.0), (1, 2.0)]).max_abs, 0.0);
}

#[test]
fn profit_factor_and_t_stat() {
    // Wins 10 + 3 = 13, losses 5 + 2 = 7.
    close(profit_factor(&[10.0, -5.0, 3.0, -2.0]).unwrap(), 13.0 / 7.0);
    assert_eq!(profit_factor(&[1.0]), None);
    // [1, 2, 3, 4]: mean 2.5, std sqrt(5/3), t = 2.5 / (std / 2) = 3.872983.
    close(
        t_stat(&[1.0, 2.0, 3.0, 4.0]),
        2.5 / ((5.0f64 / 3.0).sqrt() / 2.0),
    );
    assert!((t_stat(&[1.0, 2.0, 3.0, 4.0]) - 3.872983).abs() < 1e-6);
}
