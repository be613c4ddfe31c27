//! Backtester throughput on the bundled real trades (35,389 Binance USD-M trades, BTCUSDT +
//! ETHUSDT): parsing files into ticks, and the replay loop over pre-parsed ticks (engine with every
//! layer the config enables + simulated venue + accounts), beside the engine alone.
//!
//! `cargo bench --bench backtest -- --warm-up-time 1 --measurement-time 3`

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use calculus_trader::backtest::replay::default_data;
use calculus_trader::backtest::{read_all, Replay, Setup};
use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::strategy::Engine;

fn setup() -> (Setup, Vec<PathBuf>) {
    let cfg = Config::parse(DEFAULT_TOML).unwrap();
    let files = default_data(&cfg);
    (Setup::from_config(&cfg).unwrap(), files)
}

fn parse(c: &mut Criterion) {
    let (s, files) = setup();
    let (ticks, _) = read_all(&files, None, &s.symbols, true).unwrap();
    assert_eq!(ticks.len(), 35_389);
    let mut g = c.benchmark_group("backtest_parse");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ticks.len() as u64));
    g.bench_function("recorded_gz_frames_to_ticks", |b| {
        b.iter(|| read_all(&files, None, &s.symbols, true).unwrap().0.len())
    });
    let csv = [Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trades/BTCUSDT-trades-2024-08-08-head600.csv")];
    g.throughput(Throughput::Elements(600));
    g.bench_function("binance_trades_csv_to_ticks", |b| {
        b.iter(|| read_all(&csv, None, &s.symbols, true).unwrap().0.len())
    });
    g.finish();
}

fn replay(c: &mut Criterion) {
    let (s, files) = setup();
    let (ticks, _) = read_all(&files, None, &s.symbols, true).unwrap();
    let mut r = Replay::new(&s);
    r.run(&ticks);
    assert!(!r.intents().is_empty(), "the loop must decide");
    let mut g = c.benchmark_group("backtest_replay");
    g.throughput(Throughput::Elements(ticks.len() as u64));
    g.bench_function("replay_loop_35389_real_trades", |b| {
        b.iter_batched(
            || Replay::new(&s),
            |mut r| {
                r.run(&ticks);
                r
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("engine_on_tick_alone", |b| {
        b.iter_batched(
            || Engine::new(s.params, &s.instruments),
            |mut e| {
                let mut n = 0u64;
                for t in &ticks {
                    n += e.on_tick(t).is_some() as u64;
                }
                (e, n)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, parse, replay);
criterion_main!(benches);
