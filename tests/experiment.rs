//! `calculus-trader experiment`: the synthetic markets' known answers under the experiment's
//! settings (walk-forward, fees, latency, slippage) and the command end to end.

use calculus_trader::backtest::experiment::{
    self, evaluate, synthetic::Process, synthetic_market, variants, ExperimentArgs, TREND,
};
use calculus_trader::config::DEFAULT_TOML;

fn base() -> toml::Table {
    toml::from_str(DEFAULT_TOML).unwrap()
}

fn calculus() -> experiment::Variant {
    variants()
        .into_iter()
        .find(|v| v.strategy == "calculus" && !v.learned)
        .unwrap()
}

#[test]
fn random_walk_control_shows_no_edge_for_the_default_strategy() {
    let m = synthetic_market("rw", Process::RandomWalk, &[1, 2, 3, 4, 5, 6], 3_600.0, 4);
    // Frictionless (no fee, no slippage): a martingale's trips average 0, so the CI holds 0.
    let mut free = calculus();
    free.combo.extend([
        ("backtest.taker_fee".to_string(), "0".to_string()),
        ("backtest.slippage_bps".to_string(), "0.0".to_string()),
    ]);
    let r = evaluate(&base(), &m, &free).unwrap();
    assert!(r.trades >= 30, "too few trips to judge: {}", r.trades);
    let ci = r.ci();
    assert!(ci.lo < 0.0 && ci.hi > 0.0, "frictionless CI {ci:?}");
    // With the experiment's fees and slippage: no positive edge, and fees are paid.
    let r = evaluate(&base(), &m, &calculus()).unwrap();
    let ci = r.ci();
    assert!(
        ci.lo <= 0.0,
        "net CI {ci:?}: an edge on a random walk means a bug"
    );
    assert!(r.net < r.gross, "fees are paid");
}

#[test]
fn trend_makes_money_before_fees_for_the_calculus_strategy() {
    let m = synthetic_market("trend", TREND, &[1, 2], 1_800.0, 2);
    let r = evaluate(&base(), &m, &calculus()).unwrap();
    assert!(r.trades >= 5, "{} trips", r.trades);
    assert!(r.gross > 0.0, "gross {}", r.gross);
}

#[test]
fn quick_experiment_runs_end_to_end() {
    let dir = std::env::temp_dir().join(format!("ct_experiment_{}", std::process::id()));
    let out = dir.join("experiment.md");
    let args = ExperimentArgs {
        quick: true,
        seed: 1,
        windows: 2,
        out: out.clone(),
        config: None,
        quiet: true,
    };
    let text = experiment::run(&args).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    for v in variants() {
        for market in [
            "bybit BTC+ETH",
            "random walk (control)",
            "trend",
            "mean-reverting",
            "all real data",
        ] {
            assert!(
                text.lines()
                    .any(|l| l.contains(market) && l.contains(&format!("| {} |", v.strategy))),
                "no row for {market} / {}",
                v.strategy
            );
        }
    }
    assert!(text.contains("calculus-trader experiment --quick"));
    std::fs::remove_dir_all(&dir).ok();
}
