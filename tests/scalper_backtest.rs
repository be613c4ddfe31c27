//! The scalper (`strategy = "scalper"` and `"both"`) over the bundled real trades: it trades,
//! every scalper entry carries a stop at 1.5 ATR and a take-profit at 3 ATR rounded to the
//! tick toward the entry, the backtest (library and CLI, sweep included) honours the switch,
//! and the per-tick compute allocates nothing after warm-up.

use calculus_trader::backtest::{run_ticks, Setup};
use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::strategy::{Engine, StrategyKind, StrategyParams};
use calculus_trader::types::{OrderIntent, Side, Tick};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

mod common;
use common::alloc::counted;
use common::files::bin;
use common::setup::{fill, Replay};

common::alloc::install!();

fn config(strategy: &str) -> Config {
    Config::parse(&DEFAULT_TOML.replace(
        "strategy = \"calculus\"",
        &format!("strategy = \"{strategy}\""),
    ))
    .unwrap()
}

/// Expected `(stop, take-profit)` of an entry at `entry` in direction `dir` with ATR `atr` on
/// `tick`: distances `1.5·ATR` and `3·ATR`, each level rounded toward the entry.
fn expected_levels(dir: i8, entry: Decimal, atr: f64, tick: Decimal) -> (Decimal, Decimal) {
    let sl = Decimal::from_f64(1.5 * atr).unwrap();
    let tp = Decimal::from_f64(3.0 * atr).unwrap();
    if dir > 0 {
        (
            ((entry - sl) / tick).ceil() * tick,
            ((entry + tp) / tick).floor() * tick,
        )
    } else {
        (
            ((entry + sl) / tick).floor() * tick,
            ((entry - tp) / tick).ceil() * tick,
        )
    }
}

/// Runs `strategy` over the bundled trades with fills at once; checks every scalper entry's
/// levels against the ATR of the bar it was decided on. Returns the engine and the scalper
/// entries.
fn run_checked(strategy: &str) -> (Engine, Vec<OrderIntent>) {
    let replay = Replay::load();
    let params = StrategyParams::from_config(&config(strategy));
    let mut engine = Engine::new(params, &replay.instruments);
    let mut entries = Vec::new();
    for t in replay.ticks() {
        let before = engine.stats().scalper_entries;
        let Some(it) = engine.on_tick(&t) else {
            continue;
        };
        if engine.stats().scalper_entries > before {
            let i = t.symbol.index();
            let atr = engine.indicators(i).unwrap().atr;
            let inst = replay.instruments[i];
            let entry = inst.price_on_tick(t.price);
            let dir = if it.side() == Side::Buy { 1 } else { -1 };
            let (sl, tp) = expected_levels(dir, entry, atr, inst.tick_size);
            assert!(atr > 0.0 && !it.reduce_only());
            assert_eq!(
                (it.stop_loss(), it.take_profit()),
                (Some(sl), Some(tp)),
                "entry {entry} dir {dir} ATR {atr}"
            );
            // Reward:risk of the rounded levels stays near 2:1 (≥ the risk layer's 1.5).
            let rr = (tp - entry).abs() / (entry - sl).abs();
            assert!(rr >= Decimal::new(15, 1), "{rr}");
            entries.push(it);
        }
        fill(&mut engine, &it);
    }
    (engine, entries)
}

#[test]
fn scalper_trades_the_real_replay_with_atr_stops() {
    let (engine, entries) = run_checked("scalper");
    let s = engine.stats();
    assert!(!entries.is_empty(), "the scalper never traded: {s:?}");
    assert_eq!(s.scalper_entries, entries.len() as u64);
    // Only the scalper decides: no matrix entry or exit.
    assert_eq!(s.case_entries.iter().sum::<u64>(), 0, "{s:?}");
    assert_eq!(s.case_exits.iter().sum::<u64>(), 0, "{s:?}");
    // Its positions leave by their levels (or a flip), never by the drift monitor.
    assert_eq!(s.drift_exits + s.drift_reduces, 0, "{s:?}");
}

#[test]
fn both_lets_either_strategy_open() {
    let (engine, entries) = run_checked("both");
    let s = engine.stats();
    assert!(!entries.is_empty(), "{s:?}");
    let (_, calculus_only) = {
        let replay = Replay::load();
        let mut e = Engine::new(
            StrategyParams::from_config(&config("calculus")),
            &replay.instruments,
        );
        let mut n = 0u64;
        for t in replay.ticks() {
            if let Some(it) = e.on_tick(&t) {
                n += 1;
                fill(&mut e, &it);
            }
        }
        assert_eq!(e.stats().scalper_entries, 0);
        (e, n)
    };
    // Both strategies together send more orders than the matrix alone.
    assert!(
        s.intents > calculus_only,
        "{} vs {calculus_only}",
        s.intents
    );
}

#[test]
fn backtest_honours_the_strategy_switch() {
    let replay = Replay::load();
    let ticks: Vec<Tick> = replay.ticks();
    let mut trades = Vec::new();
    for name in ["calculus", "scalper", "both"] {
        let setup = Setup::from_config(&config(name)).unwrap();
        assert_eq!(setup.params.strategy.name(), name);
        let o = run_ticks(&setup, &ticks);
        let s = o.engine.stats();
        if name == "calculus" {
            assert_eq!(s.scalper_entries, 0);
        } else {
            assert!(s.scalper_entries > 0, "{name}: {s:?}");
            assert!(!o.trips.is_empty(), "{name}: no round trip");
        }
        trades.push(o.intents);
    }
    // Different strategies, different orders; `both` sends the orders of either.
    assert_ne!(trades[0], trades[1]);
    assert!(trades[2].len() > trades[0].len());
    assert_eq!(
        StrategyParams::from_config(&Config::parse(DEFAULT_TOML).unwrap()).strategy,
        StrategyKind::Calculus,
        "calculus stays the default"
    );
}

#[test]
fn backtest_cli_sweeps_the_strategy() {
    let o = bin()
        .args([
            "backtest",
            "--quiet",
            "--sweep",
            "strategy=calculus,scalper,both",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for name in ["strategy=calculus", "strategy=scalper", "strategy=both"] {
        assert!(stdout.contains(name), "{name} missing:\n{stdout}");
    }
}

#[test]
fn scalper_compute_allocates_nothing_after_warm_up() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    for name in ["scalper", "both"] {
        let mut params = StrategyParams::from_config(&config(name));
        params.cooldown_ms = 0;
        let mut engine = Engine::new(params, &replay.instruments);
        let run = |engine: &mut Engine, ticks: &[Tick]| {
            let mut n = 0u64;
            for t in ticks {
                if let Some(it) = engine.on_tick(t) {
                    n += 1;
                    fill(engine, &it);
                }
            }
            n
        };
        // Warm-up: the first two thirds (the scalper needs 300 s of bars before it trades).
        let warm = ticks.len() * 2 / 3;
        run(&mut engine, &ticks[..warm]);
        let before = engine.stats().scalper_entries;
        let (orders, allocations) = counted(|| run(&mut engine, &ticks[warm..]));
        assert!(
            engine.stats().scalper_entries > before && orders > 0,
            "{name}: the measured part must trade"
        );
        assert_eq!(
            allocations, 0,
            "{name}: compute allocated {allocations} times"
        );
    }
}
