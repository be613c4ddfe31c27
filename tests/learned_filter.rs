//! The learned entry filter inside the engine, on the bundled real trades: the gate refuses
//! (and counts) entries whose predicted probability is below the threshold, lets them through
//! above it, and the per-tick work with the filter on — features, queueing, labelling,
//! AdaGrad steps, publication for the state file — allocates nothing after warm-up; across
//! whole runs the state file is written, restored and, when corrupt, refuses the start.

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

/// A whole run (embedded exchange, paper fills, eager strategy, filter on) writes the state
/// file beside its journal; a second run on the same journal restores it and keeps learning;
/// a corrupt file refuses the start, naming the file.
#[test]
fn the_state_file_survives_a_restart_and_a_corrupt_one_refuses_the_start() {
    use calculus_trader::config::{Config, DEFAULT_TOML};
    use calculus_trader::runtime::{self, RunOptions, Shutdown};
    use calculus_trader::strategy::learned::state;
    use calculus_trader::strategy::VelocitySource;
    use std::time::Duration;

    let dir = common::files::temp_dir("learned-run");
    let mut cfg = Config::parse(DEFAULT_TOML).unwrap();
    cfg.run.dump_dir = dir.join("dumps");
    cfg.replay.speed = 0.0;
    cfg.exec.journal = dir.join("orders.journal");
    cfg.signal.source = VelocitySource::FiniteDifference;
    cfg.signal.snr_min = 0.0;
    cfg.signal.confidence_min = 0.0;
    cfg.strategy.cooldown_ms = 0;
    cfg.strategy.learned.enabled = true;
    cfg.strategy.learned.warmup_labels = 20;
    let opts = RunOptions {
        max_duration: Some(Duration::from_secs(60)),
        ..RunOptions::default()
    };
    let file = state::default_path(&cfg.exec.journal);
    let r1 = runtime::run(&cfg, &opts, Shutdown::default()).unwrap();
    let saved = state::load(&file).unwrap().expect("written");
    assert_eq!(&saved, r1.engine.learned().snapshot(), "the final state");
    assert!(saved.labels[0] > 20, "{:?}", saved.labels);
    let r2 = runtime::run(&cfg, &opts, Shutdown::default()).unwrap();
    let again = r2.engine.learned().snapshot();
    assert!(
        again.labels[0] > saved.labels[0],
        "continued from the saved labels: {:?} then {:?}",
        saved.labels,
        again.labels
    );
    assert_eq!(state::load(&file).unwrap().as_ref(), Some(again));
    std::fs::write(&file, "{\"version\": 1, \"weights\": ").unwrap();
    let e = runtime::run(&cfg, &opts, Shutdown::default()).unwrap_err();
    assert!(
        e.contains("corrupt")
            && e.contains("orders.journal.learned.json")
            && e.contains("refusing"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The experiment's config (README "Learned filter") stays valid as the config grows.
#[test]
fn the_experiment_config_parses() {
    let path = common::files::root().join("config/learned_active.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let cfg = calculus_trader::config::Config::parse(&text).unwrap();
    assert!(!cfg.strategy.learned.enabled && cfg.strategy.cooldown_ms == 1000);
}
