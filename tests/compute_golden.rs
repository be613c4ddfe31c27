//! The per-tick compute path decides exactly as before its speed-ups (issue 17, compute p50 with
//! strategy = both + learned filter): the budget table's compute configuration (the default
//! config made to trade often, `tests/common/trade_heavy.rs`, which the bench includes) over three passes
//! of the bundled real trades, every intent filled at once, for strategy = calculus, both, and
//! both with the learned filter (warm after 50 labels). Each run must produce the same intents
//! (an FNV-1a hash of their `Debug` text), the same counters and, with the filter, the same
//! model weights (bit for bit) as the code before the optimisation.
//!
//! The same runs with the idle compute warm-up's shadows (the model step on a scratch copy,
//! `Engine::warm_models`, and the entry, `Engine::warm`) and the idle work (the peak VaR job's
//! steps, `Engine::idle_work`, until none is left) before every tick must give the same
//! values: neither changes a decision, and the run's peak VaR/ES is the same, bit for bit.
//!
//! The expected values were obtained by running this test on the unchanged code (branch
//! `compute50` at main 875380e, before any change under `src/`) and copying the printed values.

use calculus_trader::strategy::{Engine, StrategyParams};
use calculus_trader::types::{Side, Tick};

mod common;
use common::setup::{fill, Replay};
use common::trade_heavy::trade_heavy_params;

/// What one run produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    intents: u64,
    intents_hash: u64,
    signals: u64,
    scalper_signals: u64,
    scalper_entries: u64,
    blocked_learned: u64,
    blocked_layers: u64,
    learned_checked: u64,
    learned_refused: u64,
    weights_hash: u64,
}

fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h = (*h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
}

/// One run; with `warm`, the idle warm-up's shadows (`Engine::warm_models` and `Engine::warm`,
/// both sides of every symbol) and the idle work until none is left before every tick, which
/// must change nothing. Also returns the run's peak VaR/ES (its `Debug` text: the doubles'
/// shortest round-trip digits) and the idle work steps taken.
fn run(
    replay: &Replay,
    ticks: &[Tick],
    params: StrategyParams,
    warm: bool,
) -> (Outcome, String, u64) {
    let mut e = Engine::new(params, &replay.instruments);
    let first = ticks.iter().map(|t| t.exch_ts_ms).min().unwrap();
    let last = ticks.iter().map(|t| t.exch_ts_ms).max().unwrap();
    let cycle = last - first + 1_000;
    let (mut intents, mut h, mut idle_steps) = (0, 0xcbf2_9ce4_8422_2325u64, 0);
    for pass in 0..3 {
        for t in ticks {
            let t = Tick {
                exch_ts_ms: t.exch_ts_ms + pass * cycle,
                ..*t
            };
            if warm {
                for i in 0..e.n_symbols() {
                    e.warm_models(i, Side::Sell);
                    e.warm(i, Side::Sell);
                    e.warm_models(i, Side::Buy);
                    e.warm(i, Side::Buy);
                }
                while e.idle_work() {
                    idle_steps += 1;
                }
            }
            if let Some(it) = e.on_tick(&t) {
                intents += 1;
                fnv(&mut h, format!("{it:?}").as_bytes());
                fill(&mut e, &it);
            }
        }
    }
    let s = e.stats();
    let mut w = 0xcbf2_9ce4_8422_2325u64;
    for v in e.learned().snapshot().model.w {
        fnv(&mut w, &v.to_bits().to_le_bytes());
    }
    let peak = format!("{:?}", e.risk_gate().peak_risk());
    let outcome = Outcome {
        intents,
        intents_hash: h,
        signals: s.signals,
        scalper_signals: s.scalper_signals,
        scalper_entries: s.scalper_entries,
        blocked_learned: s.blocked_learned,
        blocked_layers: s.blocked_layers.iter().sum(),
        learned_checked: e.learned().stats().checked,
        learned_refused: e.learned().stats().refused,
        weights_hash: w,
    };
    (outcome, peak, idle_steps)
}

#[test]
fn compute_decides_exactly_as_before_for_every_strategy() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let [calculus, both] = trade_heavy_params();
    let mut learned = both;
    learned.learned.enabled = true;
    learned.learned.warmup_labels = 50;
    // A lower threshold, so that the filter also lets entries through.
    let mut permissive = learned;
    permissive.learned.threshold = 0.3;
    let params = [calculus, both, learned, permissive];
    let plain: Vec<_> = params.map(|p| run(&replay, &ticks, p, false)).into();
    for (o, peak, _) in &plain {
        eprintln!("{o:?}\n  peak {peak}");
    }
    // The compute warm-up and the idle work on: the same golden values and peak figures.
    let warm: Vec<_> = params.map(|p| run(&replay, &ticks, p, true)).into();
    for (k, ((_, peak, none), (_, warm_peak, steps))) in plain.iter().zip(&warm).enumerate() {
        eprintln!("run {k}: {steps} idle steps");
        assert_eq!(*none, 0);
        // The filtered runs hold a position at few bar closes; the first two at many.
        if k < 2 {
            assert!(
                peak.contains("samples: 300"),
                "run {k}: no full-window peak: {peak}"
            );
            assert!(*steps > 1_000, "run {k}: {steps} idle steps");
        }
        assert_eq!(
            warm_peak, peak,
            "run {k}: the idle work changed the peak VaR/ES"
        );
    }
    let got: Vec<&Outcome> = plain.iter().map(|(o, _, _)| o).collect();
    let warmed: Vec<&Outcome> = warm.iter().map(|(o, _, _)| o).collect();
    let want = [
        Outcome {
            intents: 6455,
            intents_hash: 11266444580236583281,
            signals: 41455,
            scalper_signals: 0,
            scalper_entries: 0,
            blocked_learned: 0,
            blocked_layers: 16742,
            learned_checked: 0,
            learned_refused: 0,
            weights_hash: 15567473145155401509,
        },
        Outcome {
            intents: 6205,
            intents_hash: 12657126887869019792,
            signals: 36467,
            scalper_signals: 2497,
            scalper_entries: 40,
            blocked_learned: 0,
            blocked_layers: 14953,
            learned_checked: 0,
            learned_refused: 0,
            weights_hash: 15567473145155401509,
        },
        Outcome {
            intents: 98,
            intents_hash: 13772251962491349981,
            signals: 81403,
            scalper_signals: 10594,
            scalper_entries: 0,
            blocked_learned: 74656,
            blocked_layers: 17292,
            learned_checked: 91723,
            learned_refused: 91723,
            weights_hash: 568967271363337961,
        },
        Outcome {
            intents: 124,
            intents_hash: 11079461534200844014,
            signals: 80281,
            scalper_signals: 9267,
            scalper_entries: 13,
            blocked_learned: 72564,
            blocked_layers: 16922,
            learned_checked: 89274,
            learned_refused: 89261,
            weights_hash: 18098172121485546490,
        },
    ];
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(*g, w, "run {k}");
    }
    for (k, (g, w)) in warmed.iter().zip(&want).enumerate() {
        assert_eq!(*g, w, "run {k} with the compute warm-up and the idle work");
    }
}
