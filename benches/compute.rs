//! Per-tick cost of the calculus engine over real recorded BTCUSDT trades
//! (`data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz`, 21 313 trades).
//!
//! - `kalman_update`: one Kalman predict + update (the 3×3 algebra by hand).
//! - `kalman_and_derivatives`: Kalman + finite-difference derivatives, including the per-symbol
//!   state lookup (the PERFORMANCE.md "Kalman + derivatives" row: ≤ 50 ns p50).
//! - `engine_on_tick_all_layers`: `Engine::on_tick` for one symbol with the Kalman source, every
//!   confirmation layer, the indicators and their composite gate on; intents are filled at once
//!   (≤ 150 ns p50).
//! - `learned_decision`: the learned filter's decision on an entry (features from the tick
//!   state and indicators, dot product, sigmoid) over the engine's real tick states (< 1 µs).
//!
//! Each criterion iteration is one tick, cycling through the trades; every lap shifts the
//! timestamps by the recording's span + 1 s so time keeps moving forward (no reset, no dt = 0
//! artefacts). Before criterion runs, a per-tick TSC pass prints p50/p99 of each function (clock
//! overhead measured and subtracted), since criterion reports means of batches.
//!
//! Run: `cargo bench --bench compute -- --warm-up-time 1 --measurement-time 3`
//! Instruction counts: `CT_CALLGRIND=N` runs N Kalman updates and exits; under
//! `valgrind --tool=callgrind`, (Ir(N) − Ir(0)) / N is the count per update.

use std::hint::black_box;
use std::path::PathBuf;

use calculus_trader::exchange::Recording;
use calculus_trader::feed::SymbolTable;
use calculus_trader::model::indicators::IndicatorValues;
use calculus_trader::model::{DerivParams, Derivatives, Kalman, KalmanParams};
use calculus_trader::strategy::{Engine, StrategyParams, TickState};
use calculus_trader::telemetry::Clock;
use calculus_trader::types::{ExecReport, Instrument, ReportStatus, Tick};
use calculus_trader::venue::binance::market::trades_of;
use criterion::{criterion_group, Criterion};
use rust_decimal::Decimal;

fn btc_ticks() -> Vec<Tick> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let rec =
        Recording::load(&[root.join("data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz")])
            .expect("bundled recording");
    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let ticks: Vec<Tick> = trades_of(rec.frames.iter().map(|f| f.text.as_str()), &symbols);
    assert_eq!(ticks.len(), 21_313, "the bundled BTCUSDT trades");
    ticks
}

/// Cycles through the ticks, shifting time forward by one recording span per lap.
struct Feed {
    ticks: Vec<Tick>,
    i: usize,
    offset: u64,
    span: u64,
}

impl Feed {
    fn new(ticks: Vec<Tick>) -> Self {
        let span = ticks.last().unwrap().exch_ts_ms - ticks[0].exch_ts_ms + 1_000;
        Self {
            ticks,
            i: 0,
            offset: 0,
            span,
        }
    }

    #[inline]
    fn next(&mut self) -> Tick {
        let mut t = self.ticks[self.i];
        t.exch_ts_ms += self.offset;
        self.i += 1;
        if self.i == self.ticks.len() {
            self.i = 0;
            self.offset += self.span;
        }
        t
    }
}

fn instrument() -> Instrument {
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("120"), d("100")).unwrap()
}

fn all_layers() -> StrategyParams {
    let mut p = StrategyParams::default();
    p.layers.indicators.enabled = true;
    p.layers.indicators.confirm = true;
    p
}

struct KalmanOnly {
    kf: Kalman,
    kp: KalmanParams,
}

impl KalmanOnly {
    #[inline]
    fn step(&mut self, t: &Tick) -> f64 {
        self.kf.update(&self.kp, t.price.ln(), t.exch_ts_ms, 60.0).v
    }
}

/// Per-symbol state as the engine keeps it: an array indexed by symbol.
struct KalmanDeriv {
    slots: Vec<(Kalman, Derivatives)>,
    kp: KalmanParams,
    dp: DerivParams,
}

impl KalmanDeriv {
    #[inline]
    fn step(&mut self, t: &Tick) -> f64 {
        let (kf, d) = &mut self.slots[t.symbol.index()];
        let k = kf.update(&self.kp, t.price.ln(), t.exch_ts_ms, self.dp.reset_gap_s);
        let e = d.update(&self.dp, t.price, t.exch_ts_ms);
        k.v + e.velocity
    }
}

#[inline]
fn engine_step(e: &mut Engine, t: &Tick) -> bool {
    match e.on_tick(t) {
        Some(it) => {
            e.on_report(&ExecReport {
                symbol: it.symbol,
                client_seq: it.client_seq,
                side: it.side(),
                status: ReportStatus::Filled,
                price: Decimal::from_f64_retain(it.ref_price).unwrap_or_default(),
                qty: it.qty(),
                fee: Decimal::ZERO,
                at: Default::default(),
            });
            true
        }
        None => false,
    }
}

fn kalman_only() -> KalmanOnly {
    KalmanOnly {
        kf: Kalman::default(),
        kp: KalmanParams::default(),
    }
}

fn kalman_deriv() -> KalmanDeriv {
    let p = StrategyParams::default();
    KalmanDeriv {
        slots: vec![(Kalman::default(), Derivatives::default()); 8],
        kp: p.kalman,
        dp: p.deriv,
    }
}

/// p50 / p99 / p99.9 of one call, ns, over `n` ticks after `n` warm-up ticks.
fn percentiles(name: &str, ticks: &[Tick], mut f: impl FnMut(&Tick)) {
    let clock = Clock::new();
    let mut feed = Feed::new(ticks.to_vec());
    for _ in 0..ticks.len() {
        f(&feed.next());
    }
    let n = 200_000;
    let mut overhead = Vec::with_capacity(n);
    for _ in 0..n {
        let a = clock.now_ns();
        let b = clock.now_ns();
        overhead.push(b - a);
    }
    overhead.sort_unstable();
    let base = overhead[n / 2];
    let mut d = Vec::with_capacity(n);
    for _ in 0..n {
        let t = feed.next();
        let a = clock.now_ns();
        f(&t);
        let b = clock.now_ns();
        d.push((b - a).saturating_sub(base));
    }
    d.sort_unstable();
    println!(
        "{name:<28} per tick (TSC, clock overhead {base} ns subtracted): p50 {} ns  p99 {} ns  p99.9 {} ns",
        d[n / 2],
        d[n * 99 / 100],
        d[n * 999 / 1000]
    );
}

fn bench(c: &mut Criterion) {
    let ticks = btc_ticks();
    let mut g = c.benchmark_group("compute_per_tick");

    let mut feed = Feed::new(ticks.clone());
    let mut k = kalman_only();
    g.bench_function("kalman_update", |b| {
        b.iter(|| {
            let t = feed.next();
            black_box(k.step(black_box(&t)))
        })
    });

    let mut feed = Feed::new(ticks.clone());
    let mut kd = kalman_deriv();
    g.bench_function("kalman_and_derivatives", |b| {
        b.iter(|| {
            let t = feed.next();
            black_box(kd.step(black_box(&t)))
        })
    });

    let mut feed = Feed::new(ticks.clone());
    let mut e = Engine::new(all_layers(), &[instrument()]);
    g.bench_function("engine_on_tick_all_layers", |b| {
        b.iter(|| {
            let t = feed.next();
            black_box(engine_step(&mut e, black_box(&t)))
        })
    });

    let (states, filter) = learned_states(&ticks);
    let mut k = 0;
    g.bench_function("learned_decision", |b| {
        b.iter(|| {
            k = (k + 1) % states.len();
            let (st, ind) = &states[k];
            black_box(filter.predict(black_box(st), ind, 1))
        })
    });
    g.finish();
}

/// The engine's tick states and indicators over `ticks`, and a filter with non-zero weights.
fn learned_states(
    ticks: &[Tick],
) -> (
    Vec<(TickState, IndicatorValues)>,
    calculus_trader::strategy::learned::LearnedFilter,
) {
    use calculus_trader::strategy::learned::{LearnedFilter, LearnedParams, Snapshot, N};
    let mut e = Engine::new(all_layers(), &[instrument()]);
    let states = ticks
        .iter()
        .map(|t| {
            engine_step(&mut e, t);
            (*e.last_state(), *e.indicators(0).expect("one symbol"))
        })
        .collect();
    let p = LearnedParams {
        enabled: true,
        ..LearnedParams::default()
    };
    let mut f = LearnedFilter::new(p, 0.0004, 1);
    let mut s = Snapshot::default();
    s.model.w = std::array::from_fn(|j| (j as f64 - N as f64 / 2.0) * 0.01);
    f.restore(&s);
    (states, f)
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(n) = std::env::var("CT_CALLGRIND") {
        let n: usize = n.parse().expect("CT_CALLGRIND=<updates>");
        let ticks = btc_ticks();
        let mut feed = Feed::new(ticks);
        let prepared: Vec<Tick> = (0..n).map(|_| feed.next()).collect();
        let mut k = kalman_only();
        let mut acc = 0.0;
        for t in &prepared {
            acc += k.step(black_box(t));
        }
        println!("{n} Kalman updates, checksum {acc}");
        return;
    }
    let ticks = btc_ticks();
    let mut k = kalman_only();
    percentiles("kalman_update", &ticks, |t| {
        black_box(k.step(t));
    });
    let mut kd = kalman_deriv();
    percentiles("kalman_and_derivatives", &ticks, |t| {
        black_box(kd.step(t));
    });
    let mut e = Engine::new(all_layers(), &[instrument()]);
    percentiles("engine_on_tick_all_layers", &ticks, |t| {
        black_box(engine_step(&mut e, t));
    });
    let (states, filter) = learned_states(&ticks);
    let mut k = 0;
    percentiles("learned_decision", &ticks, |_| {
        k = (k + 1) % states.len();
        let (st, ind) = &states[k];
        black_box(filter.predict(st, ind, 1));
    });
    benches();
    Criterion::default().configure_from_args().final_summary();
}
