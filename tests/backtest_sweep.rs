//! Sweeps and walk-forward: key resolution with clear errors, the combination grid, parallel
//! results equal to single runs, ranking, and windows that partition the data.

use calculus_trader::backtest::sweep::{self, SweepSpec};
use calculus_trader::backtest::walk_forward;
use calculus_trader::backtest::{run_ticks, Setup};
use calculus_trader::config::DEFAULT_TOML;
use calculus_trader::types::{Side, SymbolId, Tick};

fn base() -> toml::Table {
    toml::from_str(DEFAULT_TOML).unwrap()
}

/// A deterministic wavy BTCUSDT series (accelerating up and down swings), 10 trades/s.
fn waves(n: usize) -> Vec<Tick> {
    (0..n)
        .map(|i| {
            let t = i as f64 / 10.0;
            let x = 60_000f64.ln() + 0.004 * (t / 40.0).sin() + 0.001 * (t / 7.0).sin();
            Tick {
                symbol: SymbolId(0),
                side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
                price: (x.exp() * 10.0).round() / 10.0,
                qty: 0.01,
                exch_ts_ms: 1_723_161_600_000 + i as u64 * 100,
                trade_id: i as u64,
                ..Tick::default()
            }
        })
        .collect()
}

#[test]
fn short_names_resolve_and_bad_keys_list_the_valid_ones() {
    let keys = sweep::sweepable_keys(&base());
    assert_eq!(sweep::resolve_key("lambda", &keys).unwrap(), "model.lambda");
    assert_eq!(
        sweep::resolve_key("model.tau_s", &keys).unwrap(),
        "model.tau_s"
    );
    assert_eq!(
        sweep::resolve_key("latency_ms", &keys).unwrap(),
        "backtest.latency_ms"
    );
    let err = sweep::resolve_key("nope", &keys).unwrap_err();
    assert!(
        err.contains("nope") && err.contains("model.lambda") && err.contains("strategy.v_band"),
        "{err}"
    );
    let err = sweep::resolve_key("fee", &keys).unwrap_err();
    assert!(
        err.contains("ambiguous") && err.contains("paper.taker_fee"),
        "{err}"
    );
    assert!(!keys
        .iter()
        .any(|k| k.starts_with("venue.") || k.starts_with("cores.")));
}

#[test]
fn specs_expand_to_the_full_grid_with_typed_values() {
    let args = [
        "lambda=0.5,0.6,0.75".to_string(),
        "warmup_steps=10,50".to_string(),
    ];
    let specs = sweep::parse_specs(&args, &base()).unwrap();
    assert_eq!(
        specs[0],
        SweepSpec {
            key: "model.lambda".into(),
            values: vec!["0.5".into(), "0.6".into(), "0.75".into()]
        }
    );
    let combos = sweep::combinations(&specs);
    assert_eq!(combos.len(), 6);
    assert_eq!(sweep::label(&combos[1]), "lambda=0.5 warmup_steps=50");
    let cfg = sweep::apply(&base(), &combos[5]).unwrap();
    assert_eq!(cfg.model.lambda, 0.75);
    assert_eq!(cfg.strategy.warmup_steps, 50);
    let bad = sweep::parse_specs(&["lambda=abc".to_string()], &base()).unwrap();
    let err = sweep::apply(&base(), &sweep::combinations(&bad)[0]).unwrap_err();
    assert!(err.contains("lambda=abc"), "{err}");
    let out_of_range = sweep::parse_specs(&["lambda=1.5".to_string()], &base()).unwrap();
    let err = sweep::apply(&base(), &sweep::combinations(&out_of_range)[0]).unwrap_err();
    assert!(err.contains("model.lambda"), "{err}");
    assert!(sweep::parse_specs(&["lambda".to_string()], &base()).is_err());
}

#[test]
fn parallel_sweep_equals_single_runs_and_is_ranked() {
    let ticks = waves(6_000);
    let args = [
        "tau_s=2,5,10".to_string(),
        "cooldown_ms=1000,5000".to_string(),
    ];
    let combos = sweep::combinations(&sweep::parse_specs(&args, &base()).unwrap());
    let rows = sweep::run(&base(), &combos, &ticks).unwrap();
    assert_eq!(rows.len(), 6);
    assert!(rows
        .windows(2)
        .all(|w| w[0].metrics.net_pnl >= w[1].metrics.net_pnl));
    for r in &rows {
        let cfg = sweep::apply(&base(), &r.combo).unwrap();
        let o = run_ticks(&Setup::from_config(&cfg).unwrap(), &ticks);
        assert_eq!(r.metrics.net_pnl, o.net_pnl, "{}", sweep::label(&r.combo));
        assert_eq!(r.metrics.trades, o.trips.len());
    }
    assert!(
        rows.iter().any(|r| r.metrics.trades > 0),
        "the series must be traded"
    );
    let table = sweep::table(&rows);
    assert!(table.contains("biased"), "{table}");
}

#[test]
fn walk_forward_windows_partition_the_data_in_time_order() {
    let ticks = waves(6_000); // 600 s
    let w = walk_forward::windows(&ticks, 3, 0.75).unwrap();
    assert_eq!(w.len(), 3);
    assert_eq!(w[0].in_sample.0, 0);
    assert_eq!(w[2].out_of_sample.1, ticks.len());
    for k in 0..3 {
        assert_eq!(w[k].in_sample.1, w[k].out_of_sample.0);
        if k > 0 {
            assert_eq!(w[k - 1].out_of_sample.1, w[k].in_sample.0);
        }
        // 200 s windows: 150 s in-sample, 50 s out-of-sample at 10 trades/s.
        let is = w[k].in_sample.1 - w[k].in_sample.0;
        let oos = w[k].out_of_sample.1 - w[k].out_of_sample.0;
        assert!((1_495..=1_505).contains(&is), "{is}");
        assert!((495..=505).contains(&oos), "{oos}");
    }
    assert!(walk_forward::windows(&ticks, 0, 0.7).is_err());
    assert!(walk_forward::windows(&[], 2, 0.7).is_err());
}

#[test]
fn walk_forward_runs_the_in_sample_winner_out_of_sample() {
    let ticks = waves(6_000);
    let args = ["tau_s=2,10".to_string()];
    let combos = sweep::combinations(&sweep::parse_specs(&args, &base()).unwrap());
    let rows = walk_forward::run(&base(), &combos, &ticks, 2, 0.7).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let is = &ticks[r.window.in_sample.0..r.window.in_sample.1];
        let best = sweep::run(&base(), &combos, is).unwrap().remove(0);
        assert_eq!(r.chosen, best.combo);
        let oos = &ticks[r.window.out_of_sample.0..r.window.out_of_sample.1];
        let cfg = sweep::apply(&base(), &r.chosen).unwrap();
        let o = run_ticks(&Setup::from_config(&cfg).unwrap(), oos);
        assert_eq!(r.out_of_sample.net_pnl, o.net_pnl);
    }
    assert!(walk_forward::table(&rows).contains("out-of-sample net PnL"));
}

/// On the bundled real trades (default config, every layer on) the SNR threshold binds: the
/// sweep's results differ, and a stricter threshold never trades more.
#[test]
fn snr_sweep_changes_the_result_on_the_bundled_trades() {
    use calculus_trader::backtest::read_all;
    use calculus_trader::backtest::replay::default_data;
    use calculus_trader::config::Config;
    let cfg = Config::parse(DEFAULT_TOML).unwrap();
    let setup = Setup::from_config(&cfg).unwrap();
    let (ticks, _) = read_all(&default_data(&cfg), None, &setup.symbols, true).unwrap();
    let args = ["snr=0.5,1,2,3".to_string()];
    let combos = sweep::combinations(&sweep::parse_specs(&args, &base()).unwrap());
    let rows = sweep::run(&base(), &combos, &ticks).unwrap();
    let by_snr = |v: &str| {
        rows.iter()
            .find(|r| sweep::label(&r.combo) == format!("snr_min={v}"))
            .unwrap()
            .metrics
            .clone()
    };
    let m: Vec<_> = ["0.5", "1", "2", "3"].iter().map(|v| by_snr(v)).collect();
    let mut pnls: Vec<String> = m.iter().map(|x| format!("{:.6}", x.net_pnl)).collect();
    pnls.dedup();
    assert!(pnls.len() >= 3, "net PnL per threshold: {pnls:?}");
    assert!(m.windows(2).all(|w| w[1].trades <= w[0].trades), "{m:?}");
    assert!(m[0].trades > m[3].trades, "{m:?}");
}
