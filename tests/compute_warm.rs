//! The entry decision's warm-up (`Engine::warm`, run by the fused hot loop beside the order
//! path's warm-up) is read-only: over the bundled real trades with the budget table's
//! trade-heavy configuration, a shadow long and short entry on every symbol before every tick
//! (layers, plan, filters, intent) gives the same intents, in the same order and bit for bit,
//! the same counters and the same risk and position state (risk gate, trade statistics,
//! positions, working quantities, exit levels) as never warming; and it allocates nothing.
//! The same holds with the model warm-up (`Engine::warm_models`: a tick's model step on a
//! scratch copy of a symbol's model state) before every tick, where every tick's models
//! (`Engine::last_state`) must also be the same bit for bit; and that shadow step computes, fed
//! a tick, exactly the models the tick itself then computes.

use calculus_trader::strategy::TickState;
use calculus_trader::strategy::{Engine, StrategyParams};
use calculus_trader::types::Side;

mod common;
use common::alloc::counted;
use common::setup::{fill, Replay};
use common::trade_heavy::trade_heavy_params;

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

/// FNV-1a of `bytes` into `h`.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h = (*h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
}

/// Intents (their `Debug` text), the engine's counters, its risk and position state
/// ([`state`]) and a hash of every tick's state (`last_state`) after one pass, warming every
/// symbol before each tick when `warm` (the entry shadow, and with `models` also the model
/// shadow first, both sides); also how many warm calls found a tick to plan on.
fn run(
    replay: &Replay,
    params: StrategyParams,
    warm: bool,
    models: bool,
) -> (Vec<String>, String, usize) {
    let mut e = Engine::new(params, &replay.instruments);
    let (mut intents, mut planned) = (Vec::new(), 0);
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for t in replay.ticks() {
        if warm {
            for side in [Side::Buy, Side::Sell] {
                for i in 0..e.n_symbols() {
                    if models {
                        planned += usize::from(e.warm_models(i, side));
                    }
                    planned += usize::from(e.warm(i, side));
                }
            }
        }
        if let Some(it) = e.on_tick(&t) {
            intents.push(format!("{it:?}"));
            fill(&mut e, &it);
        }
        fnv(&mut h, format!("{:?}", e.last_state()).as_bytes());
    }
    let stats = format!("{:?}\n{}\nstates {h:x}", e.stats(), state(&e));
    (intents, stats, planned)
}

#[test]
fn warming_the_entry_decision_changes_no_decision() {
    let replay = Replay::load();
    for params in trade_heavy_params() {
        let (cold, cold_stats, _) = run(&replay, params, false, false);
        for models in [false, true] {
            let (warm, warm_stats, planned) = run(&replay, params, true, models);
            assert!(cold.len() > 1_000, "the trade-heavy config trades");
            assert!(planned > 10_000, "the warm-up planned: {planned}");
            assert_eq!(warm, cold, "intents differ (models {models})");
            assert_eq!(
                warm_stats, cold_stats,
                "counters, risk/position or tick state differ (models {models})"
            );
        }
    }
}

/// The model fields of a tick state (what the model step computes, before any decision).
fn models_of(s: &TickState) -> String {
    format!(
        "{:?} {} {} {:?} {:?} {} {} {} {} {} {} {} {} {} {} {} {} {}",
        s.symbol,
        s.ts_ms,
        s.price,
        s.case,
        s.kalman,
        s.smoothed,
        s.fd_velocity,
        s.fd_acceleration,
        s.velocity,
        s.acceleration,
        s.v_band,
        s.a_band,
        s.snr,
        s.snr_a,
        s.evidence,
        s.confidence,
        s.log_move,
        s.scalper,
    )
}

/// The model shadow runs the tick's own model step on a faithful copy: fed a tick before the
/// engine takes it, it computes exactly (bit for bit) the models the tick then computes,
/// scalper bars included (`strategy = both`), across gaps that reset a symbol.
#[test]
fn the_model_shadow_computes_the_ticks_own_models() {
    let replay = Replay::load();
    for params in trade_heavy_params() {
        let mut e = Engine::new(params, &replay.instruments);
        let mut compared = 0;
        for t in replay.ticks() {
            let shadow = e.warm_models_on(&t).map(|s| models_of(&s));
            if let Some(it) = e.on_tick(&t) {
                fill(&mut e, &it);
            }
            let Some(shadow) = shadow else { continue };
            assert_eq!(shadow, models_of(e.last_state()), "tick {t:?}");
            compared += 1;
        }
        assert!(compared > 10_000, "compared {compared}");
    }
}

/// The model warm-up allocates nothing (its scratch is allocated with the engine): rounds over
/// both sides of every symbol after a first one.
#[test]
fn warming_the_models_allocates_nothing() {
    let replay = Replay::load();
    let [_, both] = trade_heavy_params();
    let mut e = Engine::new(both, &replay.instruments);
    for t in replay.ticks().iter().take(20_000) {
        if let Some(it) = e.on_tick(t) {
            fill(&mut e, &it);
        }
    }
    let n = e.n_symbols();
    let side = |k: usize| if k % 2 == 0 { Side::Buy } else { Side::Sell };
    let first = (0..2 * n)
        .filter(|&k| e.warm_models(k % n, side(k / n)))
        .count();
    assert!(first > 0, "no symbol had a tick");
    let (modeled, allocs) = counted(|| {
        (0..1_000)
            .filter(|&k| e.warm_models(k % n, side(k / n)))
            .count()
    });
    assert!(modeled > 0, "no symbol had a tick");
    assert_eq!(allocs, 0, "the model warm-up allocated");
}

#[test]
fn warming_the_entry_decision_allocates_nothing() {
    let replay = Replay::load();
    let [calculus, _] = trade_heavy_params();
    let mut e = Engine::new(calculus, &replay.instruments);
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
    let [calculus, _] = trade_heavy_params();
    let mut e = Engine::new(calculus, &replay.instruments);
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

/// The idle work (`Engine::idle_work`: the bar close's peak VaR job, a step per idle turn)
/// allocates nothing: its buffers are allocated with the engine. Run to completion between
/// ticks over the trade-heavy replay, where a position is open at most bar closes.
#[test]
fn the_idle_work_allocates_nothing() {
    let replay = Replay::load();
    let [calculus, _] = trade_heavy_params();
    let mut e = Engine::new(calculus, &replay.instruments);
    let (mut steps, mut allocs) = (0, 0);
    for t in replay.ticks().iter().take(30_000) {
        if let Some(it) = e.on_tick(t) {
            fill(&mut e, &it);
        }
        let (n, a) = counted(|| {
            let mut n = 0;
            while e.idle_work() {
                n += 1;
            }
            n
        });
        steps += n;
        allocs += a;
    }
    assert!(steps > 1_000, "{steps} idle steps: no peak VaR job ran");
    assert_eq!(allocs, 0, "the idle work allocated");
}
