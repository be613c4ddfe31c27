//! The learned entry filter inside the engine, on the bundled real trades: the gate refuses
//! (and counts) entries whose predicted probability is below the threshold, lets them through
//! above it, and the per-tick work with the filter on — features, queueing, labelling,
//! AdaGrad steps, publication for the state file — allocates nothing after warm-up.

use std::sync::Arc;

use calculus_trader::strategy::learned::{LearnedParams, Published, Snapshot};
use calculus_trader::strategy::{Engine, Gate, StrategyParams};
use calculus_trader::types::Tick;

mod common;
use common::alloc::counted;
use common::setup::{eager_params, fill, Replay};

common::alloc::install!();

fn with_filter(threshold: f64, warmup_labels: u64, learning_rate: f64) -> StrategyParams {
    StrategyParams {
        learned: LearnedParams {
            enabled: true,
            threshold,
            warmup_labels,
            learning_rate,
            ..LearnedParams::default()
        },
        ..eager_params()
    }
}

/// Runs `ticks`, filling every intent at once; returns the intents.
fn run(e: &mut Engine, ticks: &[Tick]) -> u64 {
    let mut n = 0;
    for t in ticks {
        if let Some(it) = e.on_tick(t) {
            n += 1;
            fill(e, &it);
        }
    }
    n
}

/// A model whose bias alone decides: `P(win) = σ(bias)` for every entry (a negligible
/// learning rate keeps it there over the run).
fn biased(bias: f64) -> Snapshot {
    let mut s = Snapshot::default();
    s.model.w[0] = bias;
    s
}

#[test]
fn the_gate_refuses_entries_below_the_threshold_and_counts_them() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let mut free = Engine::new(eager_params(), &replay.instruments);
    let baseline = run(&mut free, &ticks);
    assert!(baseline > 20, "the eager strategy trades: {baseline}");

    // P(win) = σ(−10) ≈ 4.5e-5 < 0.5: every entry refused, counted, the gate named.
    let mut e = Engine::new(with_filter(0.5, 0, 1e-12), &replay.instruments);
    e.learned_mut().restore(&biased(-10.0));
    let mut last_gates = 0;
    for t in &ticks {
        if let Some(it) = e.on_tick(t) {
            fill(&mut e, &it);
            panic!("an order went out: {it:?}");
        }
        last_gates += u64::from(e.last_state().gate == Gate::Learned);
    }
    let s = e.stats();
    assert!(s.blocked_learned > 100, "{s:?}");
    assert_eq!(last_gates, s.blocked_learned);
    assert_eq!(s.intents, 0);
    let f = e.learned();
    assert!(f.snapshot().labels[0] > 100, "{:?}", f.snapshot().labels);
    assert_eq!(f.stats().refused, f.stats().checked);

    // P(win) = σ(10): nothing refused, the same orders as without the filter.
    let mut e = Engine::new(with_filter(0.5, 0, 1e-12), &replay.instruments);
    e.learned_mut().restore(&biased(10.0));
    assert_eq!(run(&mut e, &ticks), baseline);
    assert_eq!(e.stats().blocked_learned, 0);
    assert!(e.learned().stats().checked > 100);
}

/// Warm-up: until `warmup_labels` labels are learnt the filter passes everything, even with a
/// model that would refuse all.
#[test]
fn a_cold_filter_passes_everything() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let mut free = Engine::new(eager_params(), &replay.instruments);
    let baseline = run(&mut free, &ticks);
    let mut e = Engine::new(with_filter(0.5, u64::MAX, 1e-12), &replay.instruments);
    e.learned_mut().restore(&biased(-10.0));
    assert_eq!(run(&mut e, &ticks), baseline);
    assert_eq!(e.stats().blocked_learned, 0);
    assert_eq!(e.learned().stats().checked, 0);
}

#[test]
fn the_filter_allocates_nothing_per_tick_after_warm_up() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let mut e = Engine::new(with_filter(0.08, 50, 0.05), &replay.instruments);
    let published = Arc::new(Published::default());
    e.learned_mut().publish_to(published.clone());
    let warm = 8_000;
    run(&mut e, &ticks[..warm]);
    let before = (*e.learned().snapshot(), *e.learned().stats());
    assert!(e.learned().warm(), "{:?}", before.0.labels);
    let (intents, allocations) = counted(|| run(&mut e, &ticks[warm..]));
    let (after, stats) = (*e.learned().snapshot(), *e.learned().stats());
    eprintln!(
        "measured: {intents} intents, labels {:?} -> {:?}, stats {stats:?}",
        before.0.labels, after.labels
    );
    assert!(intents > 0);
    assert!(after.labels[0] > before.0.labels[0], "signal labels learnt");
    assert!(after.labels[1] > before.0.labels[1], "trade labels learnt");
    assert!(stats.refused > before.1.refused, "some entries refused");
    assert!(stats.checked - stats.refused > before.1.checked - before.1.refused);
    assert_eq!(published.load(), Some(after), "published after each update");
    assert_eq!(
        allocations, 0,
        "compute with the filter allocated {allocations} times"
    );
}
