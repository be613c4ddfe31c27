//! The entry decision's warm-up (`Engine::warm`, run by the fused hot loop beside the order
//! path's warm-up) is read-only: over the bundled real trades with the budget table's
//! trade-heavy configuration, a shadow long and short entry on every symbol before every tick
//! (layers, plan, filters, intent) gives the same intents, in the same order and bit for bit,
//! the same counters and the same risk and position state (risk gate, trade statistics,
//! positions, working quantities, exit levels) as never warming; and it allocates nothing.

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::strategy::{Engine, StrategyKind, StrategyParams};
use calculus_trader::types::Side;

mod common;
use common::alloc::counted;
use common::setup::{fill, Replay};
use common::trade_heavy::trade_heavy;

common::alloc::install!();

/// The risk and position state after a run (`Debug` text): the risk gate, the trade
/// statistics, and per symbol the position, the working quantity and the exit levels.
fn state(e: &Engine) -> String {
    let mut s = format!("{:?}\n{:?}", e.risk_gate(), e.trade_stats());
    for i in 0..e.n_symbols() {
        s += &format!(
            "\n{i}: {:?} {} {:?}",
            e.position(i),
            e.working(i),
            e.exit_levels(i)
        );
    }
    s
}

/// Intents (their `Debug` text), the engine's counters and its risk and position state
/// ([`state`]) after one pass, warming every symbol before each tick when `warm`; also how
/// many warm calls found a tick to plan on.
fn run(replay: &Replay, params: StrategyParams, warm: bool) -> (Vec<String>, String, usize) {
    let mut e = Engine::new(params, &replay.instruments);
    let (mut intents, mut planned) = (Vec::new(), 0);
    for t in replay.ticks() {
        if warm {
            for side in [Side::Buy, Side::Sell] {
                planned += (0..e.n_symbols()).filter(|&i| e.warm(i, side)).count();
            }
        }
        if let Some(it) = e.on_tick(&t) {
            intents.push(format!("{it:?}"));
            fill(&mut e, &it);
        }
    }
    (intents, format!("{:?}\n{}", e.stats(), state(&e)), planned)
}

#[test]
fn warming_the_entry_decision_changes_no_decision() {
    let replay = Replay::load();
    let mut cfg = Config::parse(DEFAULT_TOML).unwrap();
    trade_heavy(&mut cfg);
    let calculus = StrategyParams::from_config(&cfg);
    let both = StrategyParams {
        strategy: StrategyKind::Both,
        ..calculus
    };
    for params in [calculus, both] {
        let (cold, cold_stats, _) = run(&replay, params, false);
        let (warm, warm_stats, planned) = run(&replay, params, true);
        assert!(cold.len() > 1_000, "the trade-heavy config trades");
        assert!(planned > 10_000, "the warm-up planned: {planned}");
        assert_eq!(warm, cold, "intents differ");
        assert_eq!(
            warm_stats, cold_stats,
            "counters or risk/position state differ"
        );
    }
}

#[test]
fn warming_the_entry_decision_allocates_nothing() {
    let replay = Replay::load();
    let mut cfg = Config::parse(DEFAULT_TOML).unwrap();
    trade_heavy(&mut cfg);
    let mut e = Engine::new(StrategyParams::from_config(&cfg), &replay.instruments);
    for t in replay.ticks().iter().take(20_000) {
        if let Some(it) = e.on_tick(t) {
            fill(&mut e, &it);
        }
    }
    let n = e.n_symbols();
    let side = |k: usize| if k % 2 == 0 { Side::Buy } else { Side::Sell };
    let (planned, allocs) = counted(|| (0..1_000).filter(|&k| e.warm(k % n, side(k / n))).count());
    assert!(planned > 0, "no symbol had a tick");
    assert_eq!(allocs, 0, "the entry warm-up allocated");
}

/// The compute stage's idle warm-up (`ComputeStage::warm_idle`, what the fused hot loop calls
/// beside the order path's shadow): rounds over both sides of every symbol allocate nothing.
#[test]
fn the_compute_stage_warm_up_allocates_nothing() {
    use calculus_trader::strategy::ComputeStage;
    use calculus_trader::telemetry::Clock;

    let replay = Replay::load();
    let mut cfg = Config::parse(DEFAULT_TOML).unwrap();
    trade_heavy(&mut cfg);
    let mut e = Engine::new(StrategyParams::from_config(&cfg), &replay.instruments);
    let mut entries = 0;
    for t in replay.ticks().iter().take(20_000) {
        if let Some(it) = e.on_tick(t) {
            entries += usize::from(!it.reduce_only());
            fill(&mut e, &it);
        }
    }
    assert!(entries > 0, "no entry to warm after");
    let mut c = ComputeStage::new(e, Clock::new());
    let (planned, allocs) = counted(|| (0..1_000).filter(|_| c.warm_idle()).count());
    assert!(planned > 0, "no symbol had a tick");
    assert_eq!(allocs, 0, "the compute stage's warm-up allocated");
}
