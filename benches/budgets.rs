//! The latency-budget check: measures every stage and the end-to-end path with the production
//! clock and histograms, then prints ONE table (measured p50/p99/p99.9, budget, PASS/FAIL, ratio
//! against the obvious alternative) and writes it as markdown to `target/budgets.md`.
//!
//! Run: `cargo bench --bench budgets` (profile `vm`), `BUDGET_PROFILE=tuned cargo bench --bench
//! budgets` or `cargo bench --bench budgets -- --profile tuned`. `BUDGET_SCALE=N` multiplies
//! every sample count and run length (default 1: about 30 s here). `BUDGET_CONTROL=1` runs the
//! product rows (`socket_to_order`) with the control server up and an operator client reading
//! `/api/status` and `/metrics` every 100 ms. `BUDGET_ONLY=compute` stops after the compute rows; `BUDGET_ONLY=order_rtt` measures only the
//! REST vs WebSocket `order_rtt` rows; `BUDGET_ONLY=tick_to_order` only the fused in-process
//! `tick_to_order` rows (max rate, 10 %); `BUDGET_ONLY=warm` only the sparse-order, sparse-compute
//! and default paced-run rows; `BUDGET_ONLY=sparse_compute` only the sparse-compute pair; `BUDGET_ONLY=sign` only the hot-loop `sign` row; `BUDGET_ONLY=journal` only the journal append row; `BUDGET_ONLY=hop` only
//! the floor and the ring hop rows.
//! It never fails on a slow host: a FAIL is reported, the exit status stays 0.
//!
//! Method (all timestamps from `telemetry::Clock`, the TSC clock production uses, recorded into
//! `StageHistograms`, the production histograms):
//! - `parse`: the real Binance trade frame of `tests/fixtures/`, copied into a reused buffer
//!   (simd-json parses in place; the copy is outside the timed region, as the socket read is in
//!   production), parsed by `BinanceParser`. Alternative: `serde_json` into borrowed structs
//!   with the same fields, same `Tick` built.
//! - `compute`: `ComputeStage::on_tick` over the 35 k real BTCUSDT/ETHUSDT trades of `data/replay`,
//!   three passes (each shifted forward in venue time), fills fed back as in `fused`; five
//!   timed runs of them. The note splits the row into the ticks that decide an order and the
//!   rest, and gives each tick's least time over the runs (what is left once the VM's
//!   preemptions and interrupts are gone: the code's own share of the tail).
//!   `compute (strategy = both)`: the same with the scalper's bar rules beside the matrix;
//!   `compute (both + learned filter)`: that with the learned entry filter on too
//!   (`[strategy.learned]`, warm after 50 labels), judged against the compute budget.
//!   `compute, 1 tick in 10`: every tenth tick (a thin market), the engine's idle work run
//!   between ticks as the hot loop's idle turns do, against the same ticks without it.
//! - `sign`: `ExecStage::on_intent` (round, build, HMAC-SHA256 sign, hex) over the intents that run
//!   produced, cycled.
//! - `md_hop`/`order_hop`: ping-pong between two pinned threads. The sender stamps the item with
//!   the shared TSC clock, the receiver records `now - stamp` (one-way, exactly as the pipeline
//!   records hops), then echoes; the sender waits for the echo, so each hop crosses an idle ring.
//!   The round trip / 2 is shown beside it as a clock-independent cross-check. The core-to-core
//!   floor of the same run is an `AtomicU64` ping-pong timed the same way (the sender's stamp in
//!   the word, the echo's clock read, its histogram write after the pong); every hop row's
//!   one-way p50 is judged against `hop_floor_ratio` (1.5) × the floor's one-way p50, and the
//!   note gives the RTT/2 ratio too. Queues are concrete types (no dynamic call), as in the
//!   pipeline. Alternative: crossbeam `ArrayQueue`.
//! - `tick_to_order`: the production `fused::run` and `Pipeline::spawn` (real threads, rings,
//!   waits from `config/default.toml`) fed by `runtime::source::MemoryFeed` (real trade frames from
//!   memory through the production parser) instead of a socket. Fixed-rate runs stamp each frame's
//!   scheduled time as its receive time, so falling behind shows up as latency.
//! - throughput: the max-rate capacity `C`, then the highest of 0.95·C, 0.9·C, ... that is
//!   sustained (no ring-full event, last frame taken within 5% of its schedule); latency is then
//!   measured at 10%, 50% and 90% of that rate.
//!
//! Strategy: `Setup::bench_config`, the default config made to trade often (~9% of real ticks
//! produce an order, the default config ~0.03%); only those record `sign`/`tick_to_order`.
//! - `order_rtt`: production `ExecStage` on the venue route to the in-process embedded REST
//!   exchange over loopback HTTP keep-alive, one order in flight at a time.
//! - `socket_to_order`: the whole product as `cargo run` runs it (embedded exchange replaying over
//!   a loopback WebSocket at 100x the recorded pace, orders over loopback HTTP), both topologies:
//!   socket read -> order bytes handed to the transport's `write()`; judged against its own
//!   `socket_to_order` budget (PERFORMANCE.md: p50 ≤ 8 µs, p99 ≤ 15 µs on the VM), not the
//!   in-process `tick_to_order` one.
//! - `feed syscalls per tick`: the same loopback product (fused) at full rate and at 100x pace;
//!   the feed loop's own socket reads, writes and `epoll_wait` calls over its ticks (counters the
//!   loop keeps at each call site; no budget, reported only).
//! - `order_compute sparse, cold/warm`: `ComputeStage::on_tick` of deciding ticks a simulated
//!   quiet period apart (1 ms sleep + a cache sweep, then the 8 ticks before the deciding one,
//!   untimed), with one compute warm-up round (`ComputeStage::warm_idle`) before the tick or
//!   none, interleaved in one run (no budget; the paced run's `order_compute` is its real-run
//!   counterpart).
//!
//! Clock resolution: a `now_ns` pair costs ~10-25 ns (printed as "timer" above the table) and is
//! inside every measured value, exactly as in production; quanta's TSC resolution is < 1 ns, so
//! no stage needs batching to be resolved.

#[path = "../tests/common/trade_heavy.rs"]
#[allow(dead_code)] // `trade_heavy_params`: the bench builds its strategies from its own config
mod trade_heavy;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use calculus_trader::config::Topology;
use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::exchange::orders::{Matching, SimVenue};
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exchange::{MarketState, Recording, RestExchange};
use calculus_trader::exec::rate_limit::RateLimits;
use calculus_trader::exec::ExecStage;
use calculus_trader::exec::{
    BinanceOrderBuilder, BinanceVenue, Executor, HttpTransport, OrderVenue, PaperVenue,
};
use calculus_trader::feed::ws::{WsError, WsStatus};
use calculus_trader::feed::SymbolTable;
use calculus_trader::feed::{MarketEvent, VenueParser};
use calculus_trader::ring;
use calculus_trader::runtime::pipeline::{Pipeline, PipelinePlan};
use calculus_trader::runtime::source::{MemoryFeed, Pace, TickSource};
use calculus_trader::runtime::wait::FeedWait;
use calculus_trader::runtime::{fused, AllowedCores, RunOptions, Shutdown};
use calculus_trader::strategy::ComputeStage;
use calculus_trader::strategy::{Engine, EngineStats, StrategyKind, StrategyParams};
use calculus_trader::telemetry::{
    format_ns, handoff, Clock, Counter, CounterSet, Epoch, Stage, StageHistograms,
};
use calculus_trader::tuning::budgets::{
    format_rate, render_markdown, render_text, BudgetFile, Judge, Measured, Row, ThroughputRow,
};
use calculus_trader::types::{
    instrument::load_specs, ExecReport, Instrument, IntentFields, OrderIntent, Side, Tick,
};
use calculus_trader::venue::binance::market::BinanceParser;
use crossbeam::queue::ArrayQueue;
use hdrhistogram::Histogram;
use serde::Deserialize;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
const TRADE_FIXTURE: &str = "tests/fixtures/binance/ws_combined_trade_real_BTCUSDT_2024.json";
/// The real Bybit v5 capture (2026-08-09); its first single-trade `publicTrade` frame is the
/// Bybit parse sample.
const BYBIT_CAPTURE: &str =
    "data/replay/bybit_v5_linear_public_BTCUSDT_ETHUSDT_2026-08-09.jsonl.gz";
const PAPER_KEY: &str = "bench-api-key";
const PAPER_SECRET: &[u8] = b"bench-secret-not-a-real-key";

fn main() {
    if let Err(e) = run() {
        eprintln!("budgets bench: {e}");
        std::process::exit(2);
    }
}

/// `--profile X` / `--profile=X` after `--`, else `BUDGET_PROFILE`, else `vm`. Other arguments
/// (cargo passes `--bench`) are ignored.
fn profile_name() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for (i, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix("--profile=") {
            return v.to_owned();
        }
        if a == "--profile" {
            if let Some(v) = args.get(i + 1) {
                return v.clone();
            }
        }
    }
    std::env::var("BUDGET_PROFILE").unwrap_or_else(|_| "vm".into())
}

fn scale() -> f64 {
    std::env::var("BUDGET_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0)
}

/// `BUDGET_ONLY=compute`: stop after the compute rows and print them (the rows before them,
/// parse and md_hop, still run).
fn only_compute() -> bool {
    std::env::var("BUDGET_ONLY").is_ok_and(|v| v == "compute")
}

/// `BUDGET_ONLY=order_rtt`: after the compute run that yields the intents, only the REST vs
/// WebSocket `order_rtt` rows (same run, interleaved) are measured and printed.
fn only_order_rtt() -> bool {
    std::env::var("BUDGET_ONLY").is_ok_and(|v| v == "order_rtt")
}

fn progress(what: &str) {
    eprintln!("budgets: {what}");
}

/// Everything the stages need, loaded once.
struct Setup {
    cfg: Config,
    symbols: SymbolTable,
    instruments: Vec<Instrument>,
    trade_frames: Vec<Box<[u8]>>,
    ticks: Vec<Tick>,
    clock: Clock,
    allowed: AllowedCores,
}

impl Setup {
    fn load(allowed: AllowedCores) -> Result<Self, String> {
        let cfg = Config::parse(DEFAULT_TOML).map_err(|e| e.to_string())?;
        let symbols = SymbolTable::new(&cfg.venue.symbols).map_err(|e| e.to_string())?;
        let instruments = load_specs(
            &Path::new(MANIFEST).join(&cfg.venue.instruments),
            &cfg.venue.name,
            symbols.names(),
        )?;
        let files: Vec<PathBuf> = cfg
            .replay
            .files
            .iter()
            .map(|f| Path::new(MANIFEST).join(f))
            .collect();
        let rec = Recording::load(&files)?;
        let trade_frames: Vec<Box<[u8]>> = rec
            .frames
            .iter()
            .filter(|f| rec.streams[f.stream as usize].ends_with("@trade"))
            .map(|f| f.text.as_bytes().to_vec().into_boxed_slice())
            .collect();
        let mut parser = BinanceParser::new();
        let mut ticks = Vec::with_capacity(trade_frames.len());
        for f in &trade_frames {
            let mut buf = f.to_vec();
            let _ = parser.parse(&mut buf, &symbols, |ev| {
                if let MarketEvent::Trade(t) = ev {
                    ticks.push(t);
                }
            });
        }
        if ticks.is_empty() {
            return Err("no trades in the replay files".into());
        }
        Ok(Self {
            cfg,
            symbols,
            instruments,
            trade_frames,
            ticks,
            clock: Clock::new(),
            allowed,
        })
    }

    /// The default config made to trade often, so that `tick_to_order`, `sign` and `order_rtt`
    /// get thousands of samples from the 35 k real trades (the default config sends ~10 orders):
    /// finite-difference derivatives with per-tick smoothing (`tau_s = 0`), no cooldown, tight
    /// exits (0.12 % / 0.06 %), the drift, regime and TP-first layers and the loss-streak,
    /// drawdown, daily-loss and correlation stops off. Every other layer and risk check runs.
    fn bench_config(&self) -> Config {
        let mut cfg = self.cfg.clone();
        trade_heavy::trade_heavy(&mut cfg);
        cfg
    }

    /// [`Setup::bench_config`]'s strategy.
    fn params(&self) -> StrategyParams {
        StrategyParams::from_config(&self.bench_config())
    }

    /// Venue-time span of the ticks plus one second: the shift applied per replay cycle.
    fn cycle_ms(&self) -> u64 {
        let first = self.ticks.iter().map(|t| t.exch_ts_ms).min().unwrap_or(0);
        let last = self.ticks.iter().map(|t| t.exch_ts_ms).max().unwrap_or(0);
        last - first + 1_000
    }

    fn compute_stage(&self, params: StrategyParams) -> ComputeStage {
        ComputeStage::new(Engine::new(params, &self.instruments), self.clock.clone())
    }

    fn exec_stage(&self) -> ExecStage {
        let builder = BinanceOrderBuilder::new(
            PAPER_KEY,
            PAPER_SECRET,
            &self.cfg.venue.rest_host,
            self.cfg.venue.recv_window_ms,
            "bench-",
        );
        let paper = PaperVenue {
            taker_fee: self.cfg.taker_fee().expect("default taker fee parses"),
            slippage_bps: self.cfg.paper.slippage_bps,
        };
        ExecStage::new(
            Executor::new(
                self.instruments.clone(),
                self.symbols.names().to_vec(),
                builder,
                paper,
            ),
            self.clock.clone(),
        )
    }

    /// Two distinct allowed cores for a two-thread test (`None` when only one is allowed).
    fn two_cores(&self) -> Option<(usize, usize)> {
        let ids = self.allowed.ids();
        (ids.len() >= 2).then(|| (ids[0], ids[1]))
    }
}

fn pin(core: usize) {
    core_affinity::set_for_current(core_affinity::CoreId { id: core });
}

fn new_hist() -> Histogram<u64> {
    StageHistograms::new().get(Stage::Parse).clone()
}

// ---------------------------------------------------------------- timer, parse, compute, sign

fn timer_floor(clock: &Clock, n: usize) -> Histogram<u64> {
    let mut h = new_hist();
    for _ in 0..n {
        let t0 = clock.now_ns();
        let t1 = clock.now_ns();
        h.saturating_record(t1.saturating_sub(t0));
    }
    h
}

#[derive(Deserialize)]
struct SerdeFrame<'a> {
    #[serde(borrow)]
    data: SerdeTrade<'a>,
}

/// The fields `BinanceParser` reads, for the serde_json alternative.
#[derive(Deserialize)]
struct SerdeTrade<'a> {
    #[serde(rename = "e")]
    kind: &'a str,
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "p")]
    price: &'a str,
    #[serde(rename = "q")]
    qty: &'a str,
    #[serde(rename = "T")]
    trade_ms: u64,
    #[serde(rename = "t")]
    trade_id: u64,
    #[serde(rename = "m")]
    maker: bool,
}

fn serde_tick(frame: &[u8], symbols: &SymbolTable) -> Option<Tick> {
    let f: SerdeFrame<'_> = serde_json::from_slice(frame).ok()?;
    let d = f.data;
    if d.kind != "trade" {
        return None;
    }
    Some(Tick {
        symbol: symbols.lookup(d.symbol)?,
        side: if d.maker { Side::Sell } else { Side::Buy },
        price: d.price.parse().ok()?,
        qty: d.qty.parse().ok()?,
        exch_ts_ms: d.trade_ms,
        trade_id: d.trade_id,
        recv_ns: 0,
        parsed_ns: 0,
    })
}

/// The Binance fixture trade frame.
fn binance_trade_frame() -> Result<Vec<u8>, String> {
    let path = Path::new(MANIFEST).join(TRADE_FIXTURE);
    let frame = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(frame.trim_ascii().to_vec())
}

/// The first single-trade Bybit `publicTrade` frame of the real capture.
fn bybit_trade_frame() -> Result<Vec<u8>, String> {
    use std::io::BufRead;
    let path = Path::new(MANIFEST).join(BYBIT_CAPTURE);
    let f = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("\"publicTrade.") && l.matches("\"T\":").count() == 1)
        .map(String::into_bytes)
        .ok_or_else(|| format!("{}: no single-trade publicTrade frame", path.display()))
}

#[derive(Deserialize)]
struct SerdeBybitFrame<'a> {
    #[serde(borrow)]
    data: Vec<SerdeBybitTrade<'a>>,
}

/// The fields the Bybit parser reads, for the serde_json alternative.
#[derive(Deserialize)]
struct SerdeBybitTrade<'a> {
    #[serde(rename = "T")]
    trade_ms: u64,
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "S")]
    side: &'a str,
    #[serde(rename = "v")]
    qty: &'a str,
    #[serde(rename = "p")]
    price: &'a str,
    #[serde(rename = "i")]
    id: &'a str,
}

fn serde_bybit_tick(frame: &[u8], symbols: &SymbolTable) -> Option<Tick> {
    let f: SerdeBybitFrame<'_> = serde_json::from_slice(frame).ok()?;
    let d = f.data.first()?;
    Some(Tick {
        symbol: symbols.lookup(d.symbol)?,
        side: if d.side == "Sell" {
            Side::Sell
        } else {
            Side::Buy
        },
        price: d.price.parse().ok()?,
        qty: d.qty.parse().ok()?,
        exch_ts_ms: d.trade_ms,
        trade_id: calculus_trader::venue::bybit::market::trade_id_hash(d.id),
        recv_ns: 0,
        parsed_ns: 0,
    })
}

/// A serde_json mirror of a venue parser: frame → the same `Tick`.
type SerdeParse = fn(&[u8], &SymbolTable) -> Option<Tick>;

/// (ours, serde_json) parse latencies of one real single-trade frame of `venue`: the
/// production parser (fast path first, general simd-json parser as fallback) against
/// `serde_json` into borrowed structs with the same fields, building the same `Tick`.
fn bench_parse(
    s: &Setup,
    venue: &str,
    frame: &[u8],
    serde_parse: SerdeParse,
    n: usize,
) -> Result<(StageHistograms, Histogram<u64>), String> {
    let mut parser = VenueParser::for_venue(venue, &s.symbols).map_err(|e| e.to_string())?;
    let mut buf = frame.to_vec();
    let mut hists = StageHistograms::new();
    let mut serde = new_hist();
    // Interleave in blocks so host drift hits both alike.
    for _ in 0..(n / 1000).max(1) {
        for _ in 0..1000 {
            buf.copy_from_slice(frame);
            let t0 = s.clock.now_ns();
            let mut trades = 0u32;
            let r = parser.parse(&mut buf, &s.symbols, |ev| {
                trades += matches!(black_box(ev), MarketEvent::Trade(_)) as u32;
            });
            let t1 = s.clock.now_ns();
            if black_box(r).is_err() || trades != 1 {
                return Err(format!(
                    "{venue}: the sample frame did not parse as one trade"
                ));
            }
            hists.record(Stage::Parse, t1 - t0);
        }
        for _ in 0..1000 {
            let t0 = s.clock.now_ns();
            let t = serde_parse(black_box(frame), &s.symbols);
            let t1 = s.clock.now_ns();
            if black_box(t).is_none() {
                return Err(format!("{venue}: serde_json mirror failed"));
            }
            serde.saturating_record(t1 - t0);
        }
    }
    Ok((hists, serde))
}

/// The whole product over loopback, as `cargo run` runs it: the embedded exchange replays the
/// real frames over a WebSocket at `speed`× the recorded pace, the feed thread reads the socket
/// (`recv_ns` is stamped at the read), and orders go as signed HTTP requests to the embedded
/// order exchange. `tick_to_order` here is socket read → signed order bytes handed to the
/// transport's `write()`. Strategy as in [`Setup::params`] so there are enough orders.
fn run_loopback(
    s: &Setup,
    topology: Topology,
    speed: f64,
) -> Result<calculus_trader::runtime::RunReport, String> {
    let mut cfg = s.bench_config();
    cfg.replay.speed = speed;
    cfg.run.topology = topology;
    cfg.run.dump_dir = target_dir().join("budgets-dumps");
    cfg.replay.files = cfg
        .replay
        .files
        .iter()
        .map(|f| Path::new(MANIFEST).join(f))
        .collect();
    cfg.venue.instruments = Path::new(MANIFEST).join(&cfg.venue.instruments);
    let operator = OperatorLoad::default();
    let opts = RunOptions {
        print_status: false,
        max_duration: Some(Duration::from_secs(120)),
        live: false,
        control: with_control().then(|| operator.hook(&cfg)),
    };
    let report = calculus_trader::runtime::run(&cfg, &opts, Shutdown::default());
    operator.finish();
    report
}

/// `BUDGET_CONTROL=1`: the product rows run with the control server up and an operator client
/// polling it (the "budget table no worse with the server running" comparison).
fn with_control() -> bool {
    std::env::var("BUDGET_CONTROL").is_ok_and(|v| v == "1")
}

/// The control server of a loopback run plus a client that reads `/api/status` and `/metrics`
/// every 100 ms (ten times the dashboard's once-per-second stream) until the run ends.
#[derive(Default)]
struct OperatorLoad {
    server: Arc<Mutex<Option<calculus_trader::control::Server>>>,
    done: Arc<std::sync::atomic::AtomicBool>,
    polls: Arc<AtomicU64>,
}

impl OperatorLoad {
    fn hook(&self, cfg: &Config) -> calculus_trader::runtime::ControlHook {
        let mut server_cfg = cfg.control_server();
        server_cfg.listen = "127.0.0.1:0".parse().expect("loopback address");
        server_cfg.token_file = target_dir().join("budgets-control.token");
        let (keep, done, polls) = (self.server.clone(), self.done.clone(), self.polls.clone());
        calculus_trader::runtime::ControlHook::new(move |h| {
            let server = calculus_trader::control::spawn(&server_cfg, h)?;
            let base = server.url();
            *keep.lock().map_err(|_| "poisoned")? = Some(server);
            let (done, polls) = (done.clone(), polls.clone());
            thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    for path in ["api/status", "metrics"] {
                        if ureq::get(format!("{base}{path}")).call().is_ok() {
                            polls.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            });
            Ok(())
        })
    }

    fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        if let Ok(mut s) = self.server.lock() {
            if s.take().is_some() {
                progress(&format!(
                    "control server was up; operator client made {} reads",
                    self.polls.load(Ordering::Relaxed)
                ));
            }
        }
    }
}

/// A Binance executor over `transport` for the setup's instruments, session 1, 8 orders pending
/// at most, and Binance's rate limits lifted: the bench times round trips, not the venue's
/// order-rate limit (2000 back-to-back orders would meet its 300 per 10 s from the 240th).
fn unthrottled_executor(
    s: &Setup,
    names: Vec<String>,
    route: OrderVenue,
    transport: impl Into<calculus_trader::exec::OrderLanes>,
    fill: PaperVenue,
) -> Executor {
    let mut exec = Executor::venue(s.instruments.clone(), names, route, transport, fill, 1, 8);
    exec.set_rate_limits(unthrottled(RateLimits::binance_usdm()));
    exec
}

/// An embedded exchange listing the setup's symbols (10 M USDT of balance), each priced at its
/// first real trade, the fill model it matches with, and the symbols' names.
fn embedded_exchange(
    s: &Setup,
    opts: RestOptions,
) -> Result<(RestExchange, PaperVenue, Vec<String>), String> {
    let names: Vec<String> = s.symbols.names().iter().map(|n| n.to_string()).collect();
    let fill = PaperVenue {
        taker_fee: s.cfg.taker_fee().map_err(|e| e.to_string())?,
        slippage_bps: 0.0,
    };
    let listed = names.iter().cloned().zip(s.instruments.iter().copied());
    let venue = Arc::new(SimVenue::new(Matching::new(
        listed.collect(),
        fill.model(),
        rust_decimal::Decimal::from(10_000_000),
    )));
    let market = Arc::new(MarketState::default());
    let loopback = "127.0.0.1:0".parse().expect("loopback address");
    let server = RestExchange::start(loopback, venue, Some(&market), opts)
        .map_err(|e| format!("embedded REST exchange: {e}"))?;
    for t in &s.ticks {
        let name = &names[t.symbol.index()];
        if market.last(name).is_none() {
            let px = rust_decimal::Decimal::from_f64_retain(t.price).ok_or("price not finite")?;
            market.on_trade(name, px, t.exch_ts_ms);
        }
    }
    Ok((server, fill, names))
}

/// `order_rtt` against the embedded exchange over loopback: the production `ExecStage` (journal
/// off, venue route, keep-alive HTTP transport) sends `n` real-sized market orders to the
/// in-process `RestExchange` (signature check, filters, matching at the last real trade price),
/// alternating sides so the position stays flat, and records each reply's round trip (request
/// written → reply parsed) with the production histograms. One order in flight at a time.
fn bench_order_rtt(
    s: &Setup,
    intents: &[OrderIntent],
    n: usize,
) -> Result<(StageHistograms, u64), String> {
    let (server, fill, names) = embedded_exchange(s, RestOptions::default())?;
    let url = server.url();
    let c = server.credentials().clone();
    let host = url.trim_start_matches("http://").to_string();
    let rw = s.cfg.venue.recv_window_ms;
    let builder = BinanceOrderBuilder::new(&c.api_key, c.secret.as_bytes(), &host, rw, "ct1-");
    let route = OrderVenue::Binance(BinanceVenue::new(builder));
    let http = HttpTransport::new(&url, 8, Duration::from_secs(5), s.clock.clone())
        .map_err(|e| format!("transport: {e}"))?;
    let exec = unthrottled_executor(s, names, route, http, fill);
    let mut stage = ExecStage::new(exec, s.clock.clone());
    let template = intents
        .iter()
        .find(|i| !i.reduce_only())
        .copied()
        .ok_or("no entry intent to template the orders on")?;
    let mut hists = StageHistograms::new();
    let mut filled = 0u64;
    for i in 0..n {
        let it = OrderIntent::new(IntentFields {
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            reduce_only: false,
            client_seq: i as u64 + 1,
            ..template.fields()
        });
        if let Some(r) = stage.on_intent(&it, s.clock.now_ns(), &mut hists) {
            return Err(format!("order {i} not sent: {:?}", r.status));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut done = false;
        while !done {
            if Instant::now() > deadline {
                return Err(format!("order {i}: no reply within 5 s"));
            }
            stage.poll(Some(Duration::from_millis(1)), &mut hists, |r| {
                done = true;
                filled += matches!(r.status, calculus_trader::types::ReportStatus::Filled) as u64;
            });
        }
    }
    drop(stage);
    drop(server);
    Ok((hists, filled))
}

/// `limits` with every order and weight limit raised to 100 000 per window (far above the
/// 2000 orders sent; the limiter keeps one timestamp per unit, so not `u32::MAX`).
fn unthrottled(mut limits: RateLimits) -> RateLimits {
    for l in limits.orders.iter_mut().flatten() {
        l.limit = 100_000;
    }
    limits.weight.limit = 100_000;
    limits
}

/// Compute over the real ticks (default strategy), `passes` times; returns the histograms and
/// every intent produced (for the sign bench).
/// Ticks per clock pair in the batched compute cross-check.
const COMPUTE_BLOCK: usize = 256;

/// Median over blocks of [`COMPUTE_BLOCK`] ticks of the mean ns per tick of `Engine::on_tick`
/// (one clock pair per block), to cross-check the per-tick values against clock-read overhead
/// and reordering; the median drops the blocks a preemption landed in.
fn bench_compute_batched(s: &Setup, params: StrategyParams, passes: u64) -> u64 {
    let mut engine = Engine::new(params, &s.instruments);
    let cycle_ms = s.cycle_ms();
    let ticks: Vec<Tick> = (0..passes)
        .flat_map(|pass| {
            s.ticks.iter().map(move |t| Tick {
                exch_ts_ms: t.exch_ts_ms + pass * cycle_ms,
                ..*t
            })
        })
        .collect();
    let mut per_tick = new_hist();
    for block in ticks.chunks_exact(COMPUTE_BLOCK) {
        let t0 = s.clock.now_ns();
        for t in block {
            // Intents are dropped (no fill fed back): the decisions differ a little from the
            // per-tick run, their cost does not.
            black_box(engine.on_tick(black_box(t)));
        }
        let t1 = s.clock.now_ns();
        per_tick.saturating_record((t1 - t0) / COMPUTE_BLOCK as u64);
    }
    p50(&per_tick)
}

/// Timed runs of the compute rows' ticks ([`bench_compute`]).
const COMPUTE_RUNS: usize = 5;

/// The compute stage's histogram of one bench run split by tick: the ticks that decided an
/// order and every other tick.
struct ComputeSplit {
    deciding: StageHistograms,
    other: StageHistograms,
    /// Each tick's least time over the timed runs, timed around `on_tick` (preemptions,
    /// interrupts and a neighbour's cache traffic removed, unless they hit every run):
    /// deciding ticks and the rest.
    least: [Histogram<u64>; 2],
    /// The same least times by what the tick did ([`TickKind`], in its order).
    least_by_kind: [Histogram<u64>; TickKind::COUNT],
}

/// What a tick of the compute rows did, from the engine's counters around it (untimed run).
#[derive(Clone, Copy)]
enum TickKind {
    /// Decided an entry (or a flip): levels, size, both gate checks, the intent.
    Entry,
    /// Decided a reduce-only exit.
    Exit,
    /// Planned an entry that the gate or the venue filter refused.
    Refused,
    /// Everything else: the model step alone, or a layer or signal gate said no.
    Other,
}

impl TickKind {
    const COUNT: usize = 4;
    const NAMES: [&'static str; Self::COUNT] = ["entries", "exits", "refused entries", "the rest"];

    /// The kind of a tick from its intent and the engine's counters before (`b`) and after (`a`).
    fn of(intent: Option<&OrderIntent>, b: &EngineStats, a: &EngineStats) -> Self {
        let sum = |x: &[u64]| x.iter().sum::<u64>();
        match intent {
            Some(i) if i.reduce_only() => TickKind::Exit,
            Some(_) => TickKind::Entry,
            None if sum(&a.filtered) > sum(&b.filtered)
                || sum(&a.risk_blocked) > sum(&b.risk_blocked) =>
            {
                TickKind::Refused
            }
            None => TickKind::Other,
        }
    }
}

impl ComputeSplit {
    /// `deciding` and `other` merged: the stage's histogram over every tick.
    fn all(&self) -> StageHistograms {
        let mut all = StageHistograms::new();
        all.add(&self.deciding);
        all.add(&self.other);
        all
    }

    /// The deciding ticks' share and percentiles beside the other ticks', and how many ticks of
    /// each class are above `budget_ns`: which ticks a p99 over budget is made of.
    fn note(&self, budget_ns: u64) -> String {
        let (d, o) = (
            self.deciding.get(Stage::Compute),
            self.other.get(Stage::Compute),
        );
        let total = (d.len() + o.len()).max(1);
        let over = |h: &Histogram<u64>| h.len() - h.count_between(0, budget_ns);
        let pct = |n: u64| 100.0 * n as f64 / total as f64;
        let [ld, lo] = &self.least;
        let mut least = ld.clone();
        least.add(lo).expect("same bounds");
        format!(
            "deciding ticks ({:.1} %): p50 {} p99 {}, other ticks p50 {} p99 {}; above {}: {:.1} % of ticks deciding, {:.1} % other; each tick's least of {COMPUTE_RUNS} runs: p99 {} (deciding p50 {} p99 {}, other p99 {}), above {}: {:.1} % deciding, {:.1} % other",
            pct(d.len()),
            format_ns(p50(d)),
            format_ns(d.value_at_quantile(0.99)),
            format_ns(p50(o)),
            format_ns(o.value_at_quantile(0.99)),
            format_ns(budget_ns),
            pct(over(d)),
            pct(over(o)),
            format_ns(least.value_at_quantile(0.99)),
            format_ns(p50(ld)),
            format_ns(ld.value_at_quantile(0.99)),
            format_ns(lo.value_at_quantile(0.99)),
            format_ns(budget_ns),
            100.0 * over(ld) as f64 / least.len().max(1) as f64,
            100.0 * over(lo) as f64 / least.len().max(1) as f64,
        ) + &self.kinds_note(budget_ns, least.len())
    }

    /// `; least by kind: entries (3.7 %) p50 … p99 …, above …: …% of ticks; …` over `total` ticks.
    fn kinds_note(&self, budget_ns: u64, total: u64) -> String {
        let pct = |n: u64| 100.0 * n as f64 / total.max(1) as f64;
        let parts: Vec<String> = TickKind::NAMES
            .iter()
            .zip(&self.least_by_kind)
            .filter(|(_, h)| !h.is_empty())
            .map(|(name, h)| {
                let over = h.len() - h.count_between(0, budget_ns);
                format!(
                    "{name} ({:.1} %) p50 {} p99 {}, {:.1} % of ticks above {}",
                    pct(h.len()),
                    format_ns(p50(h)),
                    format_ns(h.value_at_quantile(0.99)),
                    pct(over),
                    format_ns(budget_ns),
                )
            })
            .collect();
        format!("; least by kind: {}", parts.join("; "))
    }
}

/// Compute over the real ticks as the hot loop runs it: the `compute` stage (tick → intent),
/// the hand-over (paper execution), then the intent's booking into the decision book and the
/// gate ([`ComputeStage::book_pending`]), timed on its own in the returned histogram (one
/// sample per intent) so the cost moved after the hand-over stays visible. An untimed run of
/// the same ticks first finds the deciding ones (decisions are deterministic), so each timed
/// tick records into its class's histogram ([`ComputeSplit`]); the ticks run
/// [`COMPUTE_RUNS`] times, each on a fresh stage (intents and bookings from the first).
fn bench_compute(
    s: &Setup,
    params: StrategyParams,
    passes: usize,
) -> (ComputeSplit, Vec<OrderIntent>, Histogram<u64>) {
    let cycle_ms = s.cycle_ms();
    let ticks = || {
        (0..passes as u64).flat_map(move |pass| {
            // Later passes continue in venue time, as `MemoryFeed` cycles do.
            s.ticks.iter().map(move |t| Tick {
                exch_ts_ms: t.exch_ts_ms + pass * cycle_ms,
                ..*t
            })
        })
    };
    let mut deciding = Vec::with_capacity(s.ticks.len() * passes);
    let mut booking = new_hist();
    let mut split = ComputeSplit {
        deciding: StageHistograms::new(),
        other: StageHistograms::new(),
        least: [new_hist(), new_hist()],
        least_by_kind: std::array::from_fn(|_| new_hist()),
    };
    let mut exec_hists = StageHistograms::new();
    let mut intents = Vec::new();
    let mut least = Vec::new();
    let mut kinds = Vec::with_capacity(s.ticks.len() * passes);
    for run in 0..=COMPUTE_RUNS {
        let timed = run > 0;
        let mut scratch = StageHistograms::new();
        let mut compute = s.compute_stage(params);
        let mut exec = s.exec_stage();
        for (k, t) in ticks().enumerate() {
            let hists = match (timed, deciding.get(k)) {
                (false, _) => &mut scratch,
                (true, Some(true)) => &mut split.deciding,
                (true, _) => &mut split.other,
            };
            // The counters before the tick, in the untimed run only (a copy of a few hundred
            // bytes would be in the timed region's cache otherwise).
            let before = (!timed).then(|| *compute.engine().stats());
            let start = s.clock.now_ns();
            let decided = compute.on_tick(black_box(&t), start, hists);
            let took = s.clock.now_ns().saturating_sub(start);
            if let Some(b) = before {
                kinds.push(TickKind::of(decided.as_ref(), &b, compute.engine().stats()));
            }
            if !timed {
                deciding.push(decided.is_some());
                least.push(u64::MAX);
            } else {
                least[k] = least[k].min(took);
                assert_eq!(
                    decided.is_some(),
                    deciding[k],
                    "tick {k}: the two runs differ"
                );
            }
            if let Some(it) = decided {
                // Paper route: the report comes back at once (applied after the booking).
                let report = exec.on_intent(&it, s.clock.now_ns(), &mut exec_hists);
                let b0 = s.clock.now_ns();
                compute.book_pending();
                if run == 1 {
                    booking.saturating_record(s.clock.now_ns().saturating_sub(b0));
                    intents.push(it);
                }
                if let Some(r) = report {
                    compute.on_report(&r);
                }
            }
        }
    }
    for (k, &ns) in least.iter().enumerate() {
        split.least[usize::from(!deciding[k])].saturating_record(ns);
        split.least_by_kind[kinds[k] as usize].saturating_record(ns);
    }
    (split, intents, booking)
}

/// One tick in this many for the sparse compute row.
const SPARSE_TICKS: usize = 10;

/// The compute stage over every `every`-th tick of the trade-heavy run (three passes, fills
/// fed back), with `idle` the engine's idle work run to completion between ticks, untimed, as
/// the hot loop's idle turns do ([`ComputeStage::idle_work`]); else that work stays on the
/// quiet ticks and the bar closes. The `compute` histogram.
fn bench_compute_sparse(s: &Setup, every: usize, idle: bool) -> Histogram<u64> {
    let mut hists = StageHistograms::new();
    let mut exec_hists = StageHistograms::new();
    let mut compute = s.compute_stage(s.params());
    let mut exec = s.exec_stage();
    let cycle_ms = s.cycle_ms();
    for pass in 0..3 {
        for t in s.ticks.iter().step_by(every) {
            let t = Tick {
                exch_ts_ms: t.exch_ts_ms + pass * cycle_ms,
                ..*t
            };
            while idle && compute.idle_work() {}
            if let Some(it) = compute.on_tick(black_box(&t), s.clock.now_ns(), &mut hists) {
                let report = exec.on_intent(&it, s.clock.now_ns(), &mut exec_hists);
                compute.book_pending();
                if let Some(r) = report {
                    compute.on_report(&r);
                }
            }
        }
    }
    hists.get(Stage::Compute).clone()
}

/// One tick that decides an order (kept out of line so callgrind attributes its instructions):
/// through `cg_entry` when it decides an entry, `cg_exit` when a reduce-only exit.
#[inline(never)]
fn cg_deciding(
    c: &mut ComputeStage,
    t: &Tick,
    h: &mut StageHistograms,
    entry: bool,
) -> Option<OrderIntent> {
    if entry {
        cg_entry(c, t, h)
    } else {
        cg_exit(c, t, h)
    }
}

/// One tick that decides an entry.
#[inline(never)]
fn cg_entry(c: &mut ComputeStage, t: &Tick, h: &mut StageHistograms) -> Option<OrderIntent> {
    c.on_tick(black_box(t), 0, h)
}

/// One tick that decides an exit.
#[inline(never)]
fn cg_exit(c: &mut ComputeStage, t: &Tick, h: &mut StageHistograms) -> Option<OrderIntent> {
    // Not the same body as `cg_entry`, so the two are not merged into one symbol.
    black_box(2u8);
    c.on_tick(black_box(t), 0, h)
}

/// One tick that decides nothing.
#[inline(never)]
fn cg_quiet(c: &mut ComputeStage, t: &Tick, h: &mut StageHistograms) -> Option<OrderIntent> {
    // Not the same body as `cg_deciding`, so the two are not merged into one symbol.
    black_box(1u8);
    c.on_tick(black_box(t), 0, h)
}

/// One intent through the execution stage (paper fill), kept out of line for callgrind.
#[inline(never)]
fn cg_sign(
    e: &mut ExecStage,
    it: &OrderIntent,
    h: &mut StageHistograms,
) -> Option<calculus_trader::types::ExecReport> {
    e.on_intent(black_box(it), 0, h)
}

/// One booking after the hand-over.
#[inline(never)]
fn cg_booking(c: &mut ComputeStage) {
    c.book_pending();
}

/// `BUDGET_ONLY=callgrind`: instruction counts of the trade-heavy compute under
/// `valgrind --tool=callgrind` (one pass, paper fills). A first pass finds the deciding ticks;
/// the second sends each of them through `cg_deciding` (which calls `cg_entry` for an entry,
/// `cg_exit` for an exit), every other tick through `cg_quiet` and each booking through
/// `cg_booking`, so `callgrind_annotate --inclusive=yes` divided by the counts printed here
/// gives instructions per call.
fn callgrind_compute(s: &Setup) -> Result<(), String> {
    let ticks = &s.ticks;
    let mut h = StageHistograms::new();
    let mut eh = StageHistograms::new();
    let mut deciding = Vec::with_capacity(ticks.len());
    let mut entries = Vec::with_capacity(ticks.len());
    for pass in 0..2 {
        let mut compute = s.compute_stage(s.params());
        let mut exec = s.exec_stage();
        for (k, t) in ticks.iter().enumerate() {
            let it = if pass == 0 {
                let it = compute.on_tick(t, 0, &mut h);
                deciding.push(it.is_some());
                entries.push(it.as_ref().is_some_and(|i| !i.reduce_only()));
                it
            } else if deciding[k] {
                cg_deciding(&mut compute, t, &mut h, entries[k])
            } else {
                cg_quiet(&mut compute, t, &mut h)
            };
            if pass == 1 && it.is_some() != deciding[k] {
                return Err(format!("tick {k}: decision differs between passes"));
            }
            if let Some(it) = it {
                let report = if pass == 1 {
                    cg_sign(&mut exec, &it, &mut eh)
                } else {
                    exec.on_intent(&it, 0, &mut eh)
                };
                if pass == 1 {
                    cg_booking(&mut compute);
                } else {
                    compute.book_pending();
                }
                if let Some(r) = report {
                    compute.on_report(&r);
                }
            }
        }
    }
    let n = deciding.iter().filter(|&&d| d).count();
    let e = entries.iter().filter(|&&d| d).count();
    println!(
        "callgrind: {} ticks, {n} deciding (cg_deciding, cg_sign, cg_booking: {e} entries through cg_entry, {} exits through cg_exit), {} quiet (cg_quiet)",
        ticks.len(),
        n - e,
        ticks.len() - n
    );
    Ok(())
}

/// The note's part on the booking after the hand-over.
fn booking_note(b: &Histogram<u64>) -> String {
    format!(
        "booking after the hand-over (not in this row): p50 {} p99 {} over {} intents",
        format_ns(p50(b)),
        format_ns(b.value_at_quantile(0.99)),
        b.len()
    )
}

fn bench_sign(s: &Setup, intents: &[OrderIntent], n: usize) -> StageHistograms {
    let mut hists = StageHistograms::new();
    let mut exec = s.exec_stage();
    if intents.is_empty() {
        return hists;
    }
    for i in 0..n {
        let mut it = intents[i % intents.len()];
        it.client_seq = i as u64 + 1;
        let start = s.clock.now_ns();
        it.set_tick_recv_ns(start);
        black_box(exec.on_intent(&it, start, &mut hists));
    }
    hists
}

// ---------------------------------------------------------------- hops

/// A single-producer single-consumer queue for the hop ping-pong.
trait HopQueue<T>: Send + 'static {
    fn try_push(&mut self, v: T) -> Result<(), T>;
    fn try_pop(&mut self) -> Option<T>;
}

struct OursTx<T>(ring::Producer<T>);
struct OursRx<T>(ring::Consumer<T>);
impl<T: Send + 'static> HopQueue<T> for OursTx<T> {
    fn try_push(&mut self, v: T) -> Result<(), T> {
        self.0.push(v)
    }
    fn try_pop(&mut self) -> Option<T> {
        None
    }
}
impl<T: Send + 'static> HopQueue<T> for OursRx<T> {
    fn try_push(&mut self, v: T) -> Result<(), T> {
        Err(v)
    }
    fn try_pop(&mut self) -> Option<T> {
        self.0.pop()
    }
}
struct Shared<T>(Arc<ArrayQueue<T>>);
impl<T: Send + 'static> HopQueue<T> for Shared<T> {
    fn try_push(&mut self, v: T) -> Result<(), T> {
        self.0.push(v)
    }
    fn try_pop(&mut self) -> Option<T> {
        self.0.pop()
    }
}

/// A kind of queue for the ping-pong: its two ends as concrete types, so each hop runs the
/// queue's own inlined push and pop as the pipeline does (no dynamic call in the timed path).
trait HopPair<T> {
    type Tx: HopQueue<T>;
    type Rx: HopQueue<T>;
    fn new() -> (Self::Tx, Self::Rx);
}

/// Ours: `ring::channel` of `CAP` slots (64 bytes each).
struct Ring<const CAP: usize>;
impl<T: Send + 'static, const CAP: usize> HopPair<T> for Ring<CAP> {
    type Tx = OursTx<T>;
    type Rx = OursRx<T>;
    fn new() -> (Self::Tx, Self::Rx) {
        let (tx, rx) = ring::channel::<T>(CAP).expect("power of two");
        (OursTx(tx), OursRx(rx))
    }
}

/// Ours at the hop rows' capacity, 1024 slots (64 KiB per ring: the two rings of a
/// ping-pong do not stay in a 32-48 KiB L1 data cache).
type Ours = Ring<1024>;

/// Ours at 64 slots (4 KiB per ring): every slot stays in L1, the rest is the same code.
type OursSmall = Ring<64>;

/// The alternative: crossbeam `ArrayQueue`, capacity 1024.
struct Alt;
impl<T: Send + 'static> HopPair<T> for Alt {
    type Tx = Shared<T>;
    type Rx = Shared<T>;
    fn new() -> (Self::Tx, Self::Rx) {
        let q = Arc::new(ArrayQueue::new(1024));
        (Shared(q.clone()), Shared(q))
    }
}

/// Spins between checks of the wall-clock deadline in the senders' waits: a clock read on
/// every spin would delay noticing the echo by up to one read.
const SPINS_PER_DEADLINE_CHECK: u32 = 1 << 12;

/// One-way and round-trip/2 latencies of a ping-pong.
struct HopTimes {
    /// Receive time minus the sender's stamp (shared TSC), per item.
    one_way: Histogram<u64>,
    /// Round trip / 2, measured by the sender alone.
    half_rtt: Histogram<u64>,
}

/// Waits (spinning) until `done()`, panicking after 30 s: the peer thread stopped answering
/// (on a loaded host other pinned spinners can starve it for seconds; 30 s is not that).
fn spin_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut spins = 0u32;
    while !done() {
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins % SPINS_PER_DEADLINE_CHECK == 0 && Instant::now() > deadline {
            panic!("hop echo thread stopped answering");
        }
    }
}

/// Runs `echo` on a thread pinned to the second of the two cores and `sender` on one pinned
/// to the first (both spawned: pinning the main thread would leave it, and every thread it
/// spawns later such as the loopback run's embedded exchange, on one core); returns the
/// echo's histogram as the one-way times and the sender's as the round trips / 2.
fn on_two_cores(
    s: &Setup,
    echo: impl FnOnce() -> Histogram<u64> + Send,
    sender: impl FnOnce() -> Histogram<u64> + Send,
) -> HopTimes {
    let cores = s.two_cores();
    thread::scope(|sc| {
        let echo = sc.spawn(move || {
            if let Some((_, b)) = cores {
                pin(b);
            }
            echo()
        });
        let sender = sc.spawn(move || {
            if let Some((a, _)) = cores {
                pin(a);
            }
            sender()
        });
        let half_rtt = sender.join().expect("hop sender thread");
        HopTimes {
            one_way: echo.join().expect("hop echo thread"),
            half_rtt,
        }
    })
}

/// Ping-pong of `n` items through queue kind `Q`: the echo takes each item, reads the clock,
/// sends it back, then records `now − stamp` (the histogram write after the pong, as the
/// floor's echo does, so it is not inside the round trip).
fn hop_pingpong<T: Copy + Send + 'static, Q: HopPair<T>>(
    s: &Setup,
    n: usize,
    make: impl Fn(u64) -> T + Send,
    stamp: fn(&T) -> u64,
) -> HopTimes {
    let (mut ping_tx, mut ping_rx) = Q::new();
    let (mut pong_tx, mut pong_rx) = Q::new();
    let (echo_clock, clock) = (s.clock.clone(), s.clock.clone());
    let echo = move || {
        let mut one_way = new_hist();
        let mut got = 0;
        while got < n {
            if let Some(v) = ping_rx.try_pop() {
                let now = echo_clock.now_ns();
                let mut back = v;
                while let Err(b) = pong_tx.try_push(back) {
                    back = b;
                    std::hint::spin_loop();
                }
                one_way.saturating_record(now.saturating_sub(stamp(&v)));
                got += 1;
            } else {
                std::hint::spin_loop();
            }
        }
        one_way
    };
    let sender = move || {
        let mut half_rtt = new_hist();
        for _ in 0..n {
            let t0 = clock.now_ns();
            let mut v = make(t0);
            while let Err(b) = ping_tx.try_push(v) {
                v = b;
            }
            spin_until(|| pong_rx.try_pop().is_some());
            half_rtt.saturating_record(clock.now_ns().saturating_sub(t0) / 2);
        }
        half_rtt
    };
    on_two_cores(s, echo, sender)
}

/// Core-to-core floor: one `AtomicU64` bounced between the two threads, timed as the hops
/// are. The sender stores its clock stamp (shifted left, low bit set: "ping"); the echo reads
/// the clock, stores the value with the low bit cleared ("pong"), then records `now − stamp`;
/// the sender times the round trip. Each side of a hop moves that one line and nothing else.
fn floor_pingpong(s: &Setup, n: usize) -> HopTimes {
    let cell = AtomicU64::new(0);
    let (echo_clock, clock) = (s.clock.clone(), s.clock.clone());
    let cell = &cell;
    let echo = move || {
        let mut one_way = new_hist();
        let mut last = 0;
        for _ in 0..n {
            let v = loop {
                let v = cell.load(Ordering::Acquire);
                if v & 1 == 1 && v != last {
                    break v;
                }
                std::hint::spin_loop();
            };
            let now = echo_clock.now_ns();
            cell.store(v & !1, Ordering::Release);
            last = v;
            one_way.saturating_record(now.saturating_sub(v >> 1));
        }
        one_way
    };
    let sender = move || {
        let mut h = new_hist();
        let mut prev = 0;
        for _ in 0..n {
            // Strictly increasing stamps: the echo tells a new ping from the last one.
            let t0 = clock.now_ns().max(prev + 1);
            prev = t0;
            let ping = (t0 << 1) | 1;
            cell.store(ping, Ordering::Release);
            spin_until(|| cell.load(Ordering::Acquire) == ping & !1);
            h.saturating_record(clock.now_ns().saturating_sub(t0) / 2);
        }
        h
    };
    on_two_cores(s, echo, sender)
}

/// `BUDGET_ONLY=hop`: only the hop rows (floor, md_hop, order_hop, all in the same run).
fn only_hop() -> bool {
    std::env::var("BUDGET_ONLY").is_ok_and(|v| v == "hop")
}

/// The hop rows' note: the one-way p50 against the one-way floor of the same run (the
/// verdict), and the clock-independent cross-check, round trip / 2 against the floor's.
fn hop_note(ours: &HopTimes, floor: &HopTimes) -> String {
    let (ow, fow) = (p50(&ours.one_way), p50(&floor.one_way).max(1));
    let (rt, frt) = (p50(&ours.half_rtt), p50(&floor.half_rtt).max(1));
    format!(
        "one-way, shared TSC: {:.2}x the one-way floor ({}); RTT/2 p50 {} = {:.2}x the floor's RTT/2 ({})",
        ow as f64 / fow as f64,
        format_ns(fow),
        format_ns(rt),
        rt as f64 / frt as f64,
        format_ns(frt)
    )
}

/// `order_hop`: `OrderIntent`s stamped from `template` through ours vs `ArrayQueue`, judged
/// against a floor measured right before it (the full table times this row after the compute
/// rows, a minute after the `md_hop` floor; the VM may have moved the threads meanwhile).
fn order_hop_row(s: &Setup, hops: usize, template: Option<OrderIntent>) -> Option<Row> {
    progress("order_hop: floor, ring vs ArrayQueue ping-pong");
    let make = intent_stamped(template?);
    let floor = &floor_pingpong(s, hops);
    let ours = hop_pingpong::<_, Ours>(s, hops, &make, |i| i.decided_ns());
    let alt = hop_pingpong::<_, Alt>(s, hops, &make, |i| i.decided_ns());
    Some(Row {
        judge: Judge::FloorRatio {
            floor_p50_ns: p50(&floor.one_way).max(1),
        },
        ..row(
            "order_hop",
            Stage::OrderHop,
            &ours.one_way,
            Some(("ArrayQueue".into(), ratio(&ours.one_way, &alt.one_way))),
            hop_note(&ours, floor),
        )
    })
}

fn tick_stamped(t: u64) -> Tick {
    Tick {
        parsed_ns: t,
        price: 61_800.3,
        qty: 0.006,
        ..Tick::default()
    }
}

/// `template` without a tick time, so `t` is carried as the absolute decision time.
fn intent_stamped(template: OrderIntent) -> impl Fn(u64) -> OrderIntent {
    let template = OrderIntent::new(IntentFields {
        tick_recv_ns: 0,
        decided_ns: 0,
        ..template.fields()
    });
    move |t| {
        let mut it = template;
        it.set_decided_ns(t);
        it
    }
}

// ---------------------------------------------------------------- end to end

#[derive(Clone, Copy, Debug, PartialEq)]
enum Topo {
    Fused,
    Pipeline,
}

impl Topo {
    fn name(self) -> &'static str {
        match self {
            Topo::Fused => "fused",
            Topo::Pipeline => "pipeline",
        }
    }
}

/// What the memory feed reports when its thread drops it.
#[derive(Clone, Copy, Debug, Default)]
struct FeedReport {
    sent: u64,
    started_ns: u64,
    finished_ns: u64,
    /// Involuntary context switches of the thread that ran the feed (fused: the hot thread;
    /// pipeline: the network thread), from `/proc/thread-self/status`.
    preempted: u64,
}

/// `nonvoluntary_ctxt_switches` of the calling thread (0 where unavailable).
fn preemptions_of_this_thread() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `MemoryFeed` that hands its delivery times back when dropped (the pipeline owns it).
struct Reporting {
    feed: MemoryFeed,
    out: Arc<Mutex<FeedReport>>,
}

impl TickSource for Reporting {
    #[inline]
    fn poll<F: FnMut(&Tick, &mut StageHistograms)>(
        &mut self,
        timeout: Option<Duration>,
        hists: &mut StageHistograms,
        on_tick: F,
    ) -> Result<(u64, WsStatus), WsError> {
        self.feed.poll(timeout, hists, on_tick)
    }
    fn close(&mut self) {
        self.feed.close();
    }
    fn fill_counters(&self, c: &mut CounterSet) {
        self.feed.fill_counters(c);
    }
}

impl Drop for Reporting {
    fn drop(&mut self) {
        if let Ok(mut r) = self.out.lock() {
            *r = FeedReport {
                sent: self.feed.sent(),
                started_ns: self.feed.started_ns().unwrap_or(0),
                finished_ns: self.feed.finished_ns(),
                preempted: preemptions_of_this_thread(),
            };
        }
    }
}

struct E2e {
    hists: StageHistograms,
    counters: CounterSet,
    feed: FeedReport,
}

impl E2e {
    fn ring_full(&self) -> u64 {
        self.counters.get(Counter::MdRingFull)
            + self.counters.get(Counter::OrderRingFull)
            + self.counters.get(Counter::FillRingFull)
    }

    /// Frames per second actually taken.
    fn rate(&self) -> f64 {
        let secs = self.feed.finished_ns.saturating_sub(self.feed.started_ns) as f64 * 1e-9;
        if secs > 0.0 {
            self.feed.sent as f64 / secs
        } else {
            0.0
        }
    }

    /// Kept the schedule of `per_second` (last frame taken within 5% + 2 ms of its due time)
    /// without any ring-full event.
    fn sustained(&self, per_second: f64) -> bool {
        let scheduled = self.feed.sent.saturating_sub(1) as f64 / per_second * 1e9;
        let took = self.feed.finished_ns.saturating_sub(self.feed.started_ns) as f64;
        self.ring_full() == 0 && took <= scheduled * 1.05 + 2e6
    }
}

fn run_e2e(s: &Setup, topo: Topo, pace: Pace, total: u64) -> Result<E2e, String> {
    let out = Arc::new(Mutex::new(FeedReport::default()));
    let feed = Reporting {
        feed: MemoryFeed::new(
            s.trade_frames.clone(),
            s.symbols.clone(),
            s.clock.clone(),
            pace,
            total,
        ),
        out: out.clone(),
    };
    let compute = s.compute_stage(s.params());
    let exec = s.exec_stage();
    let epoch = Epoch::default();
    let shutdown = Shutdown::default();
    let cfg = &s.cfg;
    let park = Duration::from_micros(cfg.wait.park_timeout_us);
    let mut collectors = Vec::new();
    match topo {
        Topo::Fused => {
            let (publisher, collector) = handoff("hot", &epoch);
            collectors.push(collector);
            let wait = FeedWait::new(cfg.wait.hot, cfg.wait.spin_yield_spins, park);
            let hot = fused_core(s);
            let handle = thread::Builder::new()
                .name("hot".into())
                .spawn(move || {
                    if let Some(c) = hot {
                        pin(c);
                    }
                    let (mut feed, mut compute, mut exec) = (feed, compute, exec);
                    fused::run(
                        &mut feed,
                        &mut compute,
                        &mut exec,
                        publisher,
                        wait,
                        &shutdown,
                    )
                })
                .map_err(|e| e.to_string())?;
            handle
                .join()
                .map_err(|_| "hot thread panicked".to_string())?
                .map_err(|e| e.to_string())?;
        }
        Topo::Pipeline => {
            let (pubs, cols): (Vec<_>, Vec<_>) = ["network", "compute", "execution"]
                .into_iter()
                .map(|n| handoff(n, &epoch))
                .unzip();
            collectors = cols;
            let publishers: [_; 3] = pubs.try_into().map_err(|_| "three publishers")?;
            let plan = PipelinePlan {
                cores: pipeline_cores(s),
                network_wait: FeedWait::new(cfg.wait.network, cfg.wait.spin_yield_spins, park),
                compute_wait: cfg.wait_strategy(cfg.wait.compute),
                execution_wait: cfg.wait_strategy(cfg.wait.execution),
                rings: [cfg.rings.md, cfg.rings.order, cfg.rings.fill],
            };
            Pipeline::spawn(
                plan,
                &s.allowed,
                feed,
                compute,
                exec,
                publishers,
                s.clock.clone(),
                shutdown,
            )
            .map_err(|e| e.to_string())?
            .join()?;
        }
    }
    let mut hists = StageHistograms::new();
    let mut counters = CounterSet::default();
    for mut c in collectors {
        c.collect(&mut hists);
        counters.merge_max(c.counters());
    }
    let feed = *out.lock().map_err(|_| "feed report poisoned")?;
    Ok(E2e {
        hists,
        counters,
        feed,
    })
}

/// The fused hot core: the configured one if allowed, else the last allowed core.
fn fused_core(s: &Setup) -> Option<usize> {
    let ids = s.allowed.ids();
    if ids.contains(&s.cfg.cores.hot) {
        Some(s.cfg.cores.hot)
    } else {
        ids.last().copied()
    }
}

/// The configured pipeline cores when allowed; on a smaller host network gets the first core
/// and compute + execution share the second (they then take turns through their waits).
fn pipeline_cores(s: &Setup) -> [usize; 3] {
    let c = &s.cfg.cores;
    let want = [c.network, c.compute, c.execution];
    let ids = s.allowed.ids();
    if want.iter().all(|k| ids.contains(k)) {
        return want;
    }
    match ids.as_slice() {
        [] => want,
        [only] => [*only; 3],
        [a, b] => [*a, *b, *b],
        [a, b, c, ..] => [*a, *b, *c],
    }
}

fn pipeline_note(s: &Setup) -> String {
    let [n, c, e] = pipeline_cores(s);
    format!("cores {n}/{c}/{e}")
}

/// Per-record latency of the production journal (a copy into the shared mapping) and of the
/// obvious alternative, one `write(2)` of the encoded record to an append-only file, in
/// alternating blocks on the same directory (`target/bench-journal`).
fn bench_journal_append(n: usize) -> Result<(Histogram<u64>, Histogram<u64>), String> {
    use calculus_trader::exec::journal::RECORD_LEN;
    use calculus_trader::exec::journal::{FsyncPolicy, Journal, Record, RecordKind, SymbolName};
    use std::io::Write;
    let dir = target_dir().join("bench-journal");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let names = vec!["BTCUSDT".to_string()];
    let clock = Clock::new();
    let (mut mapped, mut written) = (new_hist(), new_hist());
    let mut rec = Record::new(
        RecordKind::Fill,
        calculus_trader::types::SymbolId(0),
        Side::Buy,
        1,
        0,
    );
    rec.qty = rust_decimal::Decimal::new(1, 3);
    rec.price = rust_decimal::Decimal::new(600_001, 1);
    let name = SymbolName::new("BTCUSDT").ok_or("name")?;
    for block in 0..4 {
        let path = dir.join(format!("mapped-{block}.journal"));
        let (mut j, _) = Journal::open(&path, &names, FsyncPolicy::Never)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("written-{block}.journal")))
            .map_err(|e| e.to_string())?;
        for i in 0..n / 4 {
            rec.seq = i as u64;
            let t0 = clock.now_ns();
            j.append(&rec).map_err(|e| e.to_string())?;
            let t1 = clock.now_ns();
            // Between orders, as the execution stage does: grows the room, faults pages in.
            j.reserve().map_err(|e| e.to_string())?;
            let mut buf = [0u8; RECORD_LEN];
            rec.encode(&name, &mut buf);
            f.write_all(&buf).map_err(|e| e.to_string())?;
            let t2 = clock.now_ns();
            let _ = mapped.record((t1 - t0).max(1));
            let _ = written.record((t2 - t1).max(1));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((mapped, written))
}

// ---------------------------------------------------------------- syscalls per tick

/// The feed loop's system calls per tick over loopback: the product run as in
/// `socket_to_order` (fused, the configured `spin` wait) at full rate (`speed = 0`: frames back
/// to back) and at 100x pace (mostly idle between frames). Counted by the loop itself at each
/// call site that is one system call: socket `read`s (data, EOF or `EAGAIN`), socket `write`s
/// and `epoll_wait`s of the feed's connections (`feed_socket_reads`, `feed_socket_writes`,
/// `feed_epoll_waits`); not the order transport, the exchange's threads or start-up.
fn syscalls_per_tick_row(s: &Setup) -> Result<Row, String> {
    let mut parts = Vec::new();
    for speed in [0.0, 100.0] {
        progress(&format!("syscalls per tick: loopback run at speed {speed}"));
        let r = run_loopback(s, Topology::Fused, speed)?;
        let c = &r.monitor.counters;
        let ticks = c.get(Counter::Ticks).max(1);
        let (reads, writes, polls) = (
            c.get(Counter::FeedSocketReads),
            c.get(Counter::FeedSocketWrites),
            c.get(Counter::FeedEpollWaits),
        );
        parts.push(format!(
            "speed {speed}: {:.2} per tick ({reads} reads + {writes} writes + {polls} epoll_wait over {} ticks)",
            (reads + writes + polls) as f64 / ticks as f64,
            c.get(Counter::Ticks)
        ));
    }
    Ok(Row {
        label: "feed syscalls per tick (loopback run)".into(),
        stage: Stage::FeedDelay,
        judge: Judge::Stage,
        measured: None,
        versus: None,
        note: parts.join("; "),
    })
}

// ---------------------------------------------------------------- sparse orders, warm vs cold

/// Bytes written through the cache between sparse orders: more than this VM class's last-level
/// cache, so the order path's data and most of its TLB entries are gone, as after seconds of
/// other work.
const EVICT_BYTES: usize = 32 << 20;

/// `sign` of orders one quiet period apart, warming off and on in the same run, interleaved:
/// the production `ExecStage` on the venue route (mapped journal, order lanes) to the embedded
/// exchange over loopback. A quiet period of 1-10 s is simulated, not slept: 1 ms of sleep (the
/// core idles or runs other work) and [`EVICT_BYTES`] written through the cache. A warm sample
/// then runs one warm-up round (`ExecStage::warm_idle` twice per symbol, both sides, as the
/// idle hot loop does) right before the order; a cold one does not. `sign` = intent taken -> signed bytes (journal
/// intent record, build, round, HMAC); the reply is awaited off the clock.
fn bench_sparse_orders(
    s: &Setup,
    intents: &[OrderIntent],
    n: usize,
) -> Result<(Histogram<u64>, Histogram<u64>), String> {
    use calculus_trader::exec::journal::{FsyncPolicy, Journal};
    use calculus_trader::exec::{LaneConfig, OrderLanes};
    let (server, fill, names) = embedded_exchange(s, RestOptions::default())?;
    let url = server.url();
    let c = server.credentials().clone();
    let host = url.trim_start_matches("http://").to_string();
    let rw = s.cfg.venue.recv_window_ms;
    let builder = BinanceOrderBuilder::new(&c.api_key, c.secret.as_bytes(), &host, rw, "ct1-");
    let route = OrderVenue::Binance(BinanceVenue::new(builder));
    let x = &s.cfg.exec;
    let lanes = OrderLanes::new(
        &url,
        LaneConfig::new(x.order_connections, x.max_in_flight),
        Duration::from_secs(5),
        s.clock.clone(),
        None,
    )
    .map_err(|e| format!("order lanes: {e}"))?;
    let mut exec = unthrottled_executor(s, names.clone(), route, lanes, fill);
    let dir = target_dir().join("bench-sparse");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (journal, _) = Journal::open(
        &dir.join("orders.journal"),
        &names,
        FsyncPolicy::Interval(Duration::from_millis(x.fsync_interval_ms)),
    )?;
    exec.set_journal(journal);
    let mut stage =
        ExecStage::new(exec, s.clock.clone()).with_warm(Duration::from_nanos(1), names.len());
    let template = intents
        .iter()
        .find(|i| !i.reduce_only())
        .copied()
        .ok_or("no entry intent to template the orders on")?;
    let mut evict = vec![0u8; EVICT_BYTES];
    // `SPARSE_QUIET=0` (a profiling knob): no quiet period, the orders back to back.
    let quiet = std::env::var("SPARSE_QUIET").map_or(true, |v| v != "0");
    let (mut cold, mut warm) = (new_hist(), new_hist());
    let mut hists = StageHistograms::new();
    for i in 0..n {
        // Emptied before the quiet period, off the clock: zeroing every stage's histogram
        // writes tens of KiB and would evict what the warm-up just brought into the caches.
        hists.reset();
        if quiet {
            thread::sleep(Duration::from_millis(1));
            for (j, b) in evict.iter_mut().step_by(64).enumerate() {
                *b = b.wrapping_add(j as u8);
            }
            black_box(&evict);
        }
        let warming = i % 2 == 1;
        if warming {
            // One round: both sides of every symbol, one shadow per idle check.
            for _ in 0..2 * names.len() {
                stage.warm_idle();
            }
        }
        let it = OrderIntent::new(IntentFields {
            side: if (i / 2) % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            client_seq: i as u64 + 1,
            ..template.fields()
        });
        let sent = if warming {
            sparse_order_warm(&mut stage, it, &mut hists)
        } else {
            sparse_order_cold(&mut stage, it, &mut hists)
        };
        if let Some(r) = sent {
            return Err(format!("sparse order {i} not sent: {:?}", r.status));
        }
        let signed = hists.get(Stage::Sign).max();
        let _ = if warming { &mut warm } else { &mut cold }.record(signed.max(1));
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut done = false;
        while !done {
            if Instant::now() > deadline {
                return Err(format!("sparse order {i}: no reply within 5 s"));
            }
            stage.poll(Some(Duration::from_millis(1)), &mut hists, |_| done = true);
        }
    }
    drop(stage);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((cold, warm))
}

/// A sparse order after a warm-up round, on the clock (a symbol of its own, so that
/// `valgrind --toggle-collect=*sparse_order_warm*` profiles exactly the timed order).
#[inline(never)]
fn sparse_order_warm(
    stage: &mut ExecStage,
    mut it: OrderIntent,
    hists: &mut StageHistograms,
) -> Option<ExecReport> {
    // Distinct bodies, so the linker does not fold the two markers into one symbol.
    black_box(1u8);
    // Stamped as the hot loop stamps an intent it takes: with the stage's clock (warm), not
    // the setup's (cold after the quiet period, and no part of the order path).
    let start = stage.clock().now_ns();
    it.set_tick_recv_ns(start);
    stage.on_intent(&it, start, hists)
}

/// [`sparse_order_warm`] for a sparse order without a warm-up round.
#[inline(never)]
fn sparse_order_cold(
    stage: &mut ExecStage,
    mut it: OrderIntent,
    hists: &mut StageHistograms,
) -> Option<ExecReport> {
    // Distinct bodies, so the linker does not fold the two markers into one symbol.
    black_box(0u8);
    // Stamped as the hot loop stamps an intent it takes: with the stage's clock (warm), not
    // the setup's (cold after the quiet period, and no part of the order path).
    let start = stage.clock().now_ns();
    it.set_tick_recv_ns(start);
    stage.on_intent(&it, start, hists)
}

/// Ticks replayed between the quiet period and a timed deciding tick (see
/// [`bench_sparse_compute`]).
const SPARSE_LEAD: usize = 8;

/// `order_compute` of deciding ticks one quiet period apart, warming off and on in the same run,
/// interleaved: the trade-heavy strategy over the real trades (paper fills fed back, as in
/// [`bench_compute`]). A first pass finds the ticks that decide an order; the second replays the
/// same ticks and, [`SPARSE_LEAD`] ticks before each of `n` deciding ticks (evenly spread, with
/// no other deciding tick among those), sleeps 1 ms and writes [`EVICT_BYTES`] through the
/// cache (the quiet period, as for the sparse orders). Those lead ticks then run untimed, as
/// the trades just before an order do in a paced run (the models path is warm again, what only
/// a deciding tick runs is not); a warm sample then runs one compute warm-up round
/// (`ComputeStage::warm_idle` twice per symbol, as the idle hot loop does) right before its
/// tick, a cold one does not. `order_compute` = tick taken -> intent ready (models, decision,
/// planning, the intent). The warm-up changes no decision (`tests/compute_warm.rs`),
/// so every timed tick decides again: an error otherwise. Returns (cold, warm, entries timed).
fn bench_sparse_compute(
    s: &Setup,
    n: usize,
) -> Result<(Histogram<u64>, Histogram<u64>, usize), String> {
    let (mut h, mut exec_h) = (StageHistograms::new(), StageHistograms::new());
    let deciding: Vec<usize> = {
        let (mut c, mut e) = (s.compute_stage(s.params()), s.exec_stage());
        let mut found = Vec::new();
        for (j, t) in s.ticks.iter().enumerate() {
            if let Some(it) = c.on_tick(t, 0, &mut h) {
                let r = e.on_intent(&it, 0, &mut exec_h);
                c.book_pending();
                if let Some(r) = r {
                    c.on_report(&r);
                }
                found.push(j);
            }
        }
        found
    };
    // Deciding ticks with `SPARSE_LEAD` quiet ticks before them (none of which decides).
    let quiet: Vec<usize> = deciding
        .windows(2)
        .filter(|w| w[1] - w[0] > SPARSE_LEAD)
        .map(|w| w[1])
        .collect();
    let stride = (quiet.len() / n.max(1)).max(1);
    let timed: Vec<usize> = quiet.iter().step_by(stride).take(n).copied().collect();
    let (mut c, mut e) = (s.compute_stage(s.params()), s.exec_stage());
    let symbols = c.engine().n_symbols();
    let mut evict = vec![0u8; EVICT_BYTES];
    let (mut cold, mut warm) = (new_hist(), new_hist());
    let mut entries = 0;
    let mut next = 0;
    for (j, t) in s.ticks.iter().enumerate() {
        let on_clock = timed.get(next) == Some(&j);
        let warming = on_clock && next % 2 == 1;
        if timed.get(next) == Some(&(j + SPARSE_LEAD)) {
            // Emptied before the quiet period, off the clock (see `bench_sparse_orders`).
            h.reset();
            thread::sleep(Duration::from_millis(1));
            for (k, b) in evict.iter_mut().step_by(64).enumerate() {
                *b = b.wrapping_add(k as u8);
            }
            black_box(&evict);
        }
        if warming {
            sparse_compute_warm_up(&mut c, symbols);
        }
        let start = s.clock.now_ns();
        let got = match (on_clock, warming) {
            (true, true) => sparse_compute_warm(&mut c, t, start, &mut h),
            (true, false) => sparse_compute_cold(&mut c, t, start, &mut h),
            (false, _) => c.on_tick(black_box(t), start, &mut h),
        };
        if on_clock {
            let Some(it) = got else {
                return Err(format!("tick {j} decided in the first pass, not after a quiet period (warming {warming})"));
            };
            entries += usize::from(!it.reduce_only());
            let took = h.get(Stage::OrderCompute).max().max(1);
            let _ = if warming { &mut warm } else { &mut cold }.record(took);
            next += 1;
        }
        if let Some(it) = got {
            let r = e.on_intent(&it, s.clock.now_ns(), &mut exec_h);
            c.book_pending();
            if let Some(r) = r {
                c.on_report(&r);
            }
        }
    }
    Ok((cold, warm, entries))
}

/// One compute warm-up round (`ComputeStage::warm_idle` twice per symbol, as the idle hot loop
/// runs it), out of line so that `valgrind --toggle-collect=*sparse_compute_warm_up*` counts it.
#[inline(never)]
fn sparse_compute_warm_up(c: &mut ComputeStage, symbols: usize) {
    for _ in 0..2 * symbols {
        c.warm_idle();
    }
}

/// A timed deciding tick after a warm-up round ([`bench_sparse_compute`]), out of line so that
/// `valgrind --toggle-collect=*sparse_compute_warm*` (with `--cache-sim=yes`) profiles exactly
/// the timed ticks.
#[inline(never)]
fn sparse_compute_warm(
    c: &mut ComputeStage,
    t: &Tick,
    start: u64,
    h: &mut StageHistograms,
) -> Option<OrderIntent> {
    // Distinct bodies, so the linker does not fold the two markers into one symbol.
    black_box(1u8);
    c.on_tick(black_box(t), start, h)
}

/// [`sparse_compute_warm`] for a timed deciding tick without a warm-up round.
#[inline(never)]
fn sparse_compute_cold(
    c: &mut ComputeStage,
    t: &Tick,
    start: u64,
    h: &mut StageHistograms,
) -> Option<OrderIntent> {
    // Distinct bodies, so the linker does not fold the two markers into one symbol.
    black_box(0u8);
    c.on_tick(black_box(t), start, h)
}

/// The sparse-compute pair: `order_compute` of deciding ticks a quiet period apart, the compute
/// warm-up off and on ([`bench_sparse_compute`]).
fn sparse_compute_rows(s: &Setup, k: f64) -> Result<Vec<Row>, String> {
    let n = ((200.0 * k) as usize).max(20) * 2;
    progress(&format!(
        "sparse compute: {n} deciding ticks a simulated quiet period apart, warming off/on interleaved"
    ));
    let (cold, warm, entries) = bench_sparse_compute(s, n)?;
    let note = format!(
        "trade-heavy strategy over the real trades; {SPARSE_LEAD} ticks before each timed deciding tick ({entries} entries of {n}) 1 ms sleep + {} MiB written through the cache; tick -> intent",
        EVICT_BYTES >> 20
    );
    Ok(vec![
        row(
            "order_compute sparse, cold (warming off)",
            Stage::OrderCompute,
            &cold,
            None,
            note.clone(),
        ),
        row(
            "order_compute sparse, warm (warming on)",
            Stage::OrderCompute,
            &warm,
            Some(("cold".into(), ratio(&warm, &cold))),
            format!(
                "{note}; one compute warm-up round (both sides of each symbol) before the tick"
            ),
        ),
    ])
}

/// The default config as `cargo run --release` runs it (its own strategy, pace and warm-up),
/// over loopback: the embedded exchange's WebSocket replay and REST orders.
fn run_default_paced(s: &Setup) -> Result<calculus_trader::runtime::RunReport, String> {
    let mut cfg = s.cfg.clone();
    cfg.run.dump_dir = target_dir().join("budgets-dumps");
    cfg.replay.files = cfg
        .replay
        .files
        .iter()
        .map(|f| Path::new(MANIFEST).join(f))
        .collect();
    cfg.venue.instruments = Path::new(MANIFEST).join(&cfg.venue.instruments);
    let opts = RunOptions {
        print_status: false,
        max_duration: Some(Duration::from_secs(120)),
        live: false,
        control: None,
    };
    calculus_trader::runtime::run(&cfg, &opts, Shutdown::default())
}

/// The sparse-order pair (warming off vs on, same run) and the default paced run's own
/// `tick_to_order`.
fn warm_rows(s: &Setup, intents: &[OrderIntent], k: f64) -> Result<Vec<Row>, String> {
    let n = ((200.0 * k) as usize).max(20) * 2;
    progress(&format!(
        "sparse orders: {n} orders a simulated quiet period apart, warming off/on interleaved"
    ));
    let (cold, warm) = bench_sparse_orders(s, intents, n)?;
    let quiet = format!(
        "orders a quiet period apart (1 ms sleep + {} MiB written through the cache, standing in for 1-10 s), journal + lanes to the embedded exchange",
        EVICT_BYTES >> 20
    );
    let mut rows = vec![
        Row {
            judge: Judge::SparseSign,
            ..row(
                "sign sparse, cold (warming off)",
                Stage::Sign,
                &cold,
                None,
                quiet.clone(),
            )
        },
        Row {
            judge: Judge::SparseSign,
            ..row(
                "sign sparse, warm (warming on)",
                Stage::Sign,
                &warm,
                Some(("cold".into(), ratio(&warm, &cold))),
                format!(
                    "{quiet}; one warm-up round (a shadow per symbol and side) before each order"
                ),
            )
        },
    ];
    rows.extend(sparse_compute_rows(s, k)?);
    if std::env::var("BUDGET_ONLY").is_ok_and(|v| v == "sparse") {
        return Ok(rows);
    }
    progress("default paced run: config/default.toml at its own pace over loopback");
    let r = run_default_paced(s)?;
    let h = &r.monitor.total;
    rows.push(Row {
        judge: Judge::PacedTickToOrder,
        ..row(
            "tick_to_order default paced run",
            Stage::TickToOrder,
            h.get(Stage::TickToOrder),
            None,
            format!(
                "config/default.toml as run (speed {}x, warm_every_us {}): {} ticks, {} orders, {} shadows; socket read -> signed bytes; order_compute p50 {}, sign p50 {}",
                s.cfg.replay.speed,
                s.cfg.exec.warm_every_us,
                r.monitor.counters.get(Counter::Ticks),
                h.total_count(Stage::TickToOrder),
                r.monitor.counters.get(Counter::WarmShadows),
                format_ns(p50(h.get(Stage::OrderCompute))),
                format_ns(p50(h.get(Stage::Sign)))
            ),
        )
    });
    rows.push(row(
        "parsed_to_order default paced run",
        Stage::ParsedToOrder,
        h.get(Stage::ParsedToOrder),
        None,
        format!(
            "the same orders from their tick's own parse (the frames ahead of it in its socket read left out); tick_to_order - parsed_to_order p50 {}",
            format_ns(p50(h.get(Stage::TickToOrder)).saturating_sub(p50(h.get(Stage::ParsedToOrder))))
        ),
    ));
    Ok(rows)
}

// ---------------------------------------------------------------- order-path selectors

/// The `journal append` row: `n` appends to the mapped journal vs `write(2)`.
fn journal_row(n: usize) -> Result<Row, String> {
    progress("journal append: mapped (production) vs write(2)");
    let (mapped, written) = bench_journal_append(n)?;
    Ok(Row {
        judge: Judge::JournalAppend,
        ..row(
            "journal append",
            Stage::Sign,
            &mapped,
            Some(("write(2)".into(), ratio(&mapped, &written))),
            format!(
                "one 112-byte record into the mapped journal, no system call (`reserve` between appends, untimed, as the execution stage calls it between orders: grows the room, faults the next 16 pages in); write(2) of the same record p50 {} p99 {}",
                format_ns(p50(&written)),
                format_ns(written.value_at_quantile(0.99))
            ),
        )
    })
}

/// `BUDGET_ONLY=tick_to_order`: only the fused in-process `tick_to_order` rows, at max rate
/// and at a fixed 10 % of that run's rate. `BUDGET_ONLY=warm`: only the sparse-order pair and
/// the default paced run. `None` for any other selector (the whole table runs).
fn only_order_path(s: &Setup, k: f64) -> Result<Option<Vec<Row>>, String> {
    match std::env::var("BUDGET_ONLY").as_deref() {
        Ok("journal") => Ok(Some(vec![journal_row((50_000.0 * k) as usize)?])),
        Ok("tick_to_order") => {
            progress("tick_to_order fused: max rate, then a fixed 10% of it");
            let max = run_e2e(s, Topo::Fused, Pace::MaxRate, (300_000.0 * k) as u64)?;
            let rate = max.rate() * 0.1;
            let total = (rate * 0.5 * k).max(20_000.0) as u64;
            let fixed = run_e2e(s, Topo::Fused, Pace::Fixed { per_second: rate }, total)?;
            let label = format!("tick_to_order fused @10% ({})", format_rate(rate));
            Ok(Some(
                [
                    ("tick_to_order fused max-rate".to_string(), max),
                    (label, fixed),
                ]
                .into_iter()
                .map(|(label, r)| {
                    row(
                        &label,
                        Stage::TickToOrder,
                        r.hists.get(Stage::TickToOrder),
                        None,
                        format!(
                            "{} orders of {} ticks; parsed_to_order p50 {}, sign p50 {}, compute p50 {} p99 {} (all ticks); feed thread preempted {}x",
                            r.hists.total_count(Stage::TickToOrder),
                            r.counters.get(Counter::Ticks),
                            format_ns(p50(r.hists.get(Stage::ParsedToOrder))),
                            format_ns(p50(r.hists.get(Stage::Sign))),
                            format_ns(p50(r.hists.get(Stage::Compute))),
                            format_ns(r.hists.get(Stage::Compute).value_at_quantile(0.99)),
                            r.feed.preempted
                        ),
                    )
                })
                .collect(),
            ))
        }
        Ok("sparse_compute") => sparse_compute_rows(s, k).map(Some),
        Ok("warm" | "sparse") => {
            let (_, intents, _) = bench_compute(s, s.params(), 1);
            warm_rows(s, &intents, k).map(Some)
        }
        Ok("sign") => {
            let (_, intents, _) = bench_compute(s, s.params(), 1);
            let sign = bench_sign(s, &intents, (100_000.0 * k) as usize);
            Ok(Some(vec![row(
                "sign",
                Stage::Sign,
                sign.get(Stage::Sign),
                None,
                format!("{} distinct real intents, cycled", intents.len()),
            )]))
        }
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------- table

fn row(
    label: &str,
    stage: Stage,
    h: &Histogram<u64>,
    versus: Option<(String, f64)>,
    note: String,
) -> Row {
    Row {
        label: label.into(),
        stage,
        judge: Judge::Stage,
        measured: Measured::of(h),
        versus,
        note,
    }
}

fn p50(h: &Histogram<u64>) -> u64 {
    h.value_at_quantile(0.5)
}

fn ratio(ours: &Histogram<u64>, alt: &Histogram<u64>) -> f64 {
    p50(ours) as f64 / p50(alt).max(1) as f64
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(MANIFEST).join("target"))
}

fn run() -> Result<(), String> {
    // Read the allowed CPUs before any thread pins itself (they are per-thread).
    let allowed = AllowedCores::detect();
    let profile_name = profile_name();
    let budgets = BudgetFile::load(&Path::new(MANIFEST).join("tuning/budgets.toml"))?;
    let profile = budgets.profile(&profile_name)?.clone();
    let k = scale();
    let n = |base: f64| (base * k) as usize;
    let wall = Instant::now();

    progress("loading real trades from data/replay");
    let s = Setup::load(allowed)?;
    if std::env::var("BUDGET_ONLY").is_ok_and(|v| v == "callgrind") {
        return callgrind_compute(&s);
    }
    let mut rows = Vec::new();
    let mut tp_rows = Vec::new();

    let timer = timer_floor(&s.clock, n(100_000.0));

    let samples: [(&str, &str, Vec<u8>, SerdeParse); 2] = [
        (
            "binance",
            "real trade frame",
            binance_trade_frame()?,
            serde_tick,
        ),
        (
            "bybit",
            "real single-trade publicTrade frame",
            bybit_trade_frame()?,
            serde_bybit_tick,
        ),
    ];
    for (venue, what, frame, serde_parse) in samples {
        progress(&format!(
            "parse {venue}: simd-json (production) vs serde_json"
        ));
        let (parse, serde) = bench_parse(&s, venue, &frame, serde_parse, n(200_000.0))?;
        rows.push(row(
            &format!("parse {venue}"),
            Stage::Parse,
            parse.get(Stage::Parse),
            Some(("serde_json".into(), ratio(parse.get(Stage::Parse), &serde))),
            format!(
                "serde_json p50 {} p99 {}; {what}",
                format_ns(p50(&serde)),
                format_ns(serde.value_at_quantile(0.99))
            ),
        ));
    }

    if let Some(rows) = only_order_path(&s, k)? {
        println!(
            "\n{}",
            render_text(&profile_name, &profile, &rows, &tp_rows)
        );
        return Ok(());
    }

    progress("md_hop: ring vs ArrayQueue ping-pong, floor");
    let hops = n(100_000.0);
    let floor = floor_pingpong(&s, hops);
    let md_ours = hop_pingpong::<_, Ours>(&s, hops, tick_stamped, |t| t.parsed_ns);
    let md_alt = hop_pingpong::<_, Alt>(&s, hops, tick_stamped, |t| t.parsed_ns);
    let md_small = hop_pingpong::<_, OursSmall>(&s, hops, tick_stamped, |t| t.parsed_ns);
    // Every one-way hop row (these and the pipeline's own) is judged against the one-way floor.
    let on_floor = Judge::FloorRatio {
        floor_p50_ns: p50(&floor.one_way).max(1),
    };
    rows.push(Row {
        judge: on_floor,
        ..row(
            "md_hop",
            Stage::MdHop,
            &md_ours.one_way,
            Some((
                "ArrayQueue".into(),
                ratio(&md_ours.one_way, &md_alt.one_way),
            )),
            hop_note(&md_ours, &floor),
        )
    });
    rows.push(Row {
        judge: on_floor,
        ..row(
            "md_hop, 64-slot ring",
            Stage::MdHop,
            &md_small.one_way,
            Some((
                "1024 slots".into(),
                ratio(&md_small.one_way, &md_ours.one_way),
            )),
            format!(
                "the same hop through a 4 KiB ring (its slots stay in L1; 1024 slots are 64 KiB); {}",
                hop_note(&md_small, &floor)
            ),
        )
    });
    if only_hop() {
        let (_, intents, _) = bench_compute(&s, s.params(), 1);
        rows.extend(order_hop_row(&s, hops, intents.first().copied()));
        println!(
            "\n{}",
            render_text(&profile_name, &profile, &rows, &tp_rows)
        );
        return Ok(());
    }

    progress("compute: Engine::on_tick over real trades");
    let (split, intents, booking) = bench_compute(&s, s.params(), n(3.0).max(1));
    let compute = split.all();
    let over = profile.compute.p99_ns;
    if only_order_rtt() {
        rows.extend(order_rtt_rest_vs_websocket(&s, &intents, n(2_000.0))?);
        println!(
            "\n{}",
            render_text(&profile_name, &profile, &rows, &tp_rows)
        );
        return Ok(());
    }
    let batched = bench_compute_batched(&s, s.params(), n(3.0).max(1) as u64);
    rows.push(row(
        "compute",
        Stage::Compute,
        compute.get(Stage::Compute),
        None,
        format!(
            "{} real BTCUSDT/ETHUSDT trades; {}; batched: {batched} ns/tick (median of {COMPUTE_BLOCK}-tick blocks, one clock pair each, booking included); {}",
            s.ticks.len(),
            split.note(over),
            booking_note(&booking)
        ),
    ));
    progress("compute, strategy = both: the matrix and the scalper");
    let both = StrategyParams {
        strategy: StrategyKind::Both,
        ..s.params()
    };
    let (split, _, booking) = bench_compute(&s, both, n(3.0).max(1));
    let compute_both = split.all();
    let batched = bench_compute_batched(&s, both, n(3.0).max(1) as u64);
    rows.push(row(
        "compute (strategy = both)",
        Stage::Compute,
        compute_both.get(Stage::Compute),
        None,
        format!(
            "the same trades with the scalper's bar rules beside the matrix (either opens); {}; batched: {batched} ns/tick; {}",
            split.note(over),
            booking_note(&booking)
        ),
    ));

    progress("compute, strategy = both with the learned filter");
    let mut learned = both;
    learned.learned.enabled = true;
    learned.learned.warmup_labels = 50;
    let (split, _, booking) = bench_compute(&s, learned, n(3.0).max(1));
    let with_filter = split.all();
    rows.push(row(
        "compute (both + learned filter)",
        Stage::Compute,
        with_filter.get(Stage::Compute),
        None,
        format!(
            "strategy = both with [strategy.learned] on (warm after 50 labels): features + dot product per entry signal, labelling and AdaGrad steps; {}; {}",
            split.note(over),
            booking_note(&booking)
        ),
    ));

    progress("compute, 1 tick in 10: idle work between ticks vs none");
    let [on, off] = [true, false].map(|idle| bench_compute_sparse(&s, SPARSE_TICKS, idle));
    let over_2us = |h: &Histogram<u64>| h.len() - h.count_between(0, 2_000);
    rows.push(row(
        "compute, 1 tick in 10 (idle work on)",
        Stage::Compute,
        &on,
        Some(("no idle work".into(), ratio(&on, &off))),
        format!(
            "every {SPARSE_TICKS}th tick of the trade-heavy run (~10 a second, a thin market), the peak VaR job stepped on idle turns between ticks (untimed, as the hot loop does) vs on quiet ticks only: p99 {} vs {}, ticks over 2 µs {} vs {} of {}",
            format_ns(on.value_at_quantile(0.99)),
            format_ns(off.value_at_quantile(0.99)),
            over_2us(&on),
            over_2us(&off),
            on.len(),
        ),
    ));
    if only_compute() {
        println!(
            "\n{}",
            render_text(&profile_name, &profile, &rows, &tp_rows)
        );
        return Ok(());
    }

    rows.extend(order_hop_row(&s, hops, intents.first().copied()));

    rows.push(journal_row(n(50_000.0))?);

    progress("sign: build + round + HMAC-SHA256 + hex");
    let sign = bench_sign(&s, &intents, n(100_000.0));
    rows.push(row(
        "sign",
        Stage::Sign,
        sign.get(Stage::Sign),
        None,
        format!("{} distinct real intents, cycled", intents.len()),
    ));

    progress("order_rtt: market orders to the embedded exchange over loopback HTTP");
    let (rtt, filled) = bench_order_rtt(&s, &intents, n(2_000.0))?;
    rows.push(row(
        "order_rtt",
        Stage::OrderRtt,
        rtt.get(Stage::OrderRtt),
        None,
        format!(
            "{} market orders, {filled} filled; request written -> reply parsed (signature check + matching in the embedded exchange's thread); sign p50 {}",
            rtt.total_count(Stage::OrderRtt),
            format_ns(p50(rtt.get(Stage::Sign)))
        ),
    ));

    progress("order_rtt: REST lanes vs the order WebSocket, same exchange, interleaved");
    rows.extend(order_rtt_rest_vs_websocket(&s, &intents, n(2_000.0))?);
    rows.extend(warm_rows(&s, &intents, k)?);

    for (topology, name) in [(Topology::Fused, "fused"), (Topology::Pipeline, "pipeline")] {
        let speed = 100.0;
        progress(&format!(
            "socket -> order: the product over loopback, {name}, {speed}x recorded pace"
        ));
        let r = run_loopback(&s, topology, speed)?;
        let h = &r.monitor.total;
        rows.push(Row {
            judge: Judge::SocketToOrder,
            ..row(
                &format!("socket_to_order {name} (loopback run)"),
                Stage::TickToOrder,
                h.get(Stage::TickToOrder),
                None,
                format!(
                    "socket read -> order bytes to write(), the real run at {speed}x pace: {} ticks, {} orders; order_rtt p50 {} p99 {}",
                    r.monitor.counters.get(Counter::Ticks),
                    h.total_count(Stage::TickToOrder),
                    format_ns(p50(h.get(Stage::OrderRtt))),
                    format_ns(h.get(Stage::OrderRtt).value_at_quantile(0.99))
                ),
            )
        });
    }

    rows.push(syscalls_per_tick_row(&s)?);

    for topo in [Topo::Fused, Topo::Pipeline] {
        progress(&format!("tick_to_order {}: max rate", topo.name()));
        let max = run_e2e(&s, topo, Pace::MaxRate, n(300_000.0) as u64)?;
        let capacity = max.rate();
        let where_ = match topo {
            Topo::Fused => format!(
                "core {}",
                fused_core(&s).map_or("-".into(), |c| c.to_string())
            ),
            Topo::Pipeline => pipeline_note(&s),
        };
        rows.push(row(
            &format!("tick_to_order {} max-rate", topo.name()),
            Stage::TickToOrder,
            max.hists.get(Stage::TickToOrder),
            None,
            format!(
                "{}; {} orders of {} ticks; took {}; ring-full {}; feed thread preempted {}x",
                where_,
                max.hists.total_count(Stage::TickToOrder),
                max.counters.get(Counter::Ticks),
                format_rate(capacity),
                max.ring_full(),
                max.feed.preempted
            ),
        ));
        // Highest sustained rate, searched downwards from the max-rate capacity.
        let run_s = 0.25 * k;
        let mut sustained = None;
        for f in [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1] {
            let rate = capacity * f;
            if rate < 1_000.0 {
                break;
            }
            progress(&format!(
                "{}: trying {} sustained",
                topo.name(),
                format_rate(rate)
            ));
            let r = run_e2e(
                &s,
                topo,
                Pace::Fixed { per_second: rate },
                (rate * run_s) as u64,
            )?;
            if r.sustained(rate) {
                sustained = Some(rate);
                break;
            }
        }
        tp_rows.push(ThroughputRow {
            label: format!("throughput {}", topo.name()),
            ticks_per_s: sustained,
            note: format!(
                "max sustained: no ring full, schedule kept; max-rate capacity {}",
                format_rate(capacity)
            ),
        });
        if let Some(rate) = sustained {
            for f in [0.1, 0.5, 0.9] {
                let r_rate = rate * f;
                progress(&format!(
                    "{}: latency at {}",
                    topo.name(),
                    format_rate(r_rate)
                ));
                let total = (r_rate * 0.5 * k).max(20_000.0) as u64;
                let r = run_e2e(&s, topo, Pace::Fixed { per_second: r_rate }, total)?;
                rows.push(row(
                    &format!(
                        "tick_to_order {} @{:.0}% ({})",
                        topo.name(),
                        f * 100.0,
                        format_rate(r_rate)
                    ),
                    Stage::TickToOrder,
                    r.hists.get(Stage::TickToOrder),
                    None,
                    format!(
                        "{} orders; ring-full {}; feed thread preempted {}x{}",
                        r.hists.total_count(Stage::TickToOrder),
                        r.ring_full(),
                        r.feed.preempted,
                        if r.sustained(r_rate) {
                            ""
                        } else {
                            "; fell behind schedule"
                        }
                    ),
                ));
                if topo == Topo::Pipeline && f == 0.5 {
                    for stage in [Stage::MdHop, Stage::OrderHop] {
                        rows.push(Row {
                            judge: on_floor,
                            ..row(
                                &format!("{stage} pipeline @50%"),
                                stage,
                                r.hists.get(stage),
                                None,
                                "inside the running pipeline".into(),
                            )
                        });
                    }
                }
            }
        }
    }

    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let header = format!(
        "timer (two now_ns reads): p50 {}, p99 {}; cores allowed {:?}; load average {loadavg}; BUDGET_SCALE={k}; {:.1} s",
        format_ns(p50(&timer)),
        format_ns(timer.value_at_quantile(0.99)),
        s.allowed.ids(),
        wall.elapsed().as_secs_f64()
    );
    let text = render_text(&profile_name, &profile, &rows, &tp_rows);
    println!("\n{header}\n{text}");
    let md = format!(
        "{}\n\n{header}. Generated by `cargo bench --bench budgets` (BUDGET_PROFILE={profile_name}).\n",
        render_markdown(&profile_name, &profile, &rows, &tp_rows).trim_end()
    );
    let dir = target_dir();
    let md_path = dir.join("budgets.md");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&md_path, md)) {
        Ok(()) => println!("markdown table written to {}", md_path.display()),
        Err(e) => eprintln!("budgets: cannot write {}: {e}", md_path.display()),
    }
    Ok(())
}

// ---------------------------------------------------------------- order_rtt: REST vs WebSocket

/// `order_rtt` over the REST lanes and over the order WebSocket (Binance `/ws-fapi/v1`, HMAC
/// signed per request, and logged on once with an Ed25519 key) in the same run, against one
/// in-process embedded exchange: three production `ExecStage`s (journal off), `n` market
/// orders each, sent in rotation one order at a time (REST, WebSocket, WebSocket logged on,
/// REST, …) so all meet the same host load, however it varies (blocks of 50 let a busy
/// neighbour tilt one transport); sides switch every 100 orders. While a reply is pending the
/// stage is polled as the production exec loop does (no wait, `yield_now` when nothing
/// progressed): a wait in `epoll_wait` let the kernel's choice of CPU for each exchange thread
/// (beside the idle client, or across vCPUs) decide the p50, sticky per connection for a whole
/// run. Before the next order the stage's stop orders are answered (untimed). Returns the
/// WebSocket rows (with their ratio to REST; issue 16 asks for a ratio below 1) and the REST row.
fn order_rtt_rest_vs_websocket(
    s: &Setup,
    intents: &[OrderIntent],
    n: usize,
) -> Result<Vec<Row>, String> {
    use calculus_trader::exec::{LaneConfig, OrderLanes, Signer, WsOrderConn, WsVenue};
    let rng = ::ring::rand::SystemRandom::new();
    let pkcs8 = ::ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| "Ed25519 key generation failed")?;
    let ed_key = || calculus_trader::venue::ed25519::Ed25519Signer::from_pkcs8(pkcs8.as_ref());
    let opts = RestOptions {
        ed25519_public_key: Some(ed_key()?.public_key()),
        ..RestOptions::default()
    };
    let (server, fill, names) = embedded_exchange(s, opts)?;
    let (url, c) = (server.url(), server.credentials().clone());
    let host = url.trim_start_matches("http://").to_string();
    let timeout = Duration::from_secs(5);
    // 0: REST, 1: WebSocket signed per request, 2: WebSocket after an Ed25519 session.logon.
    let stage = |prefix: &str, ws: u8| -> Result<ExecStage, String> {
        let rw = s.cfg.venue.recv_window_ms;
        let b = BinanceOrderBuilder::new(&c.api_key, c.secret.as_bytes(), &host, rw, prefix);
        let cfg = LaneConfig::new(1, 8);
        let mut lanes = OrderLanes::new(&url, cfg, timeout, s.clock.clone(), None)
            .map_err(|e| format!("lanes: {e}"))?;
        if ws > 0 {
            let target =
                calculus_trader::feed::ws::WsTarget::new(&format!("ws://{host}/ws-fapi/v1"), None)
                    .map_err(|e| e.to_string())?;
            let venue = if ws == 1 {
                WsVenue::Binance {
                    api_key: c.api_key.clone(),
                    signer: Signer::new(c.secret.as_bytes()),
                }
            } else {
                WsVenue::BinanceEd25519 {
                    api_key: c.api_key.clone(),
                    key: ed_key()?,
                }
            };
            let token = calculus_trader::exec::lanes::WS_TOKEN;
            let nanos = timeout.as_nanos() as u64;
            let conn = WsOrderConn::new(
                venue,
                target,
                token,
                8,
                nanos,
                20_000_000_000,
                s.clock.clone(),
            );
            lanes.set_websocket(conn);
            if !lanes.open_websocket(timeout) {
                return Err("the order WebSocket did not come up".into());
            }
        }
        let route = OrderVenue::Binance(BinanceVenue::new(b));
        let exec = unthrottled_executor(s, names.clone(), route, lanes, fill);
        Ok(ExecStage::new(exec, s.clock.clone()))
    };
    let mut stages = [stage("ct1-", 0)?, stage("ct2-", 1)?, stage("ct3-", 2)?];
    let mut hists = [
        StageHistograms::new(),
        StageHistograms::new(),
        StageHistograms::new(),
    ];
    let template = intents
        .iter()
        .find(|i| !i.reduce_only())
        .copied()
        .ok_or("no entry intent to template the orders on")?;
    for i in 0..3 * n {
        let k = i % 3;
        let it = OrderIntent::new(IntentFields {
            side: if (i / 100) % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            reduce_only: false,
            client_seq: i as u64 + 1,
            ..template.fields()
        });
        let (st, h) = (&mut stages[k], &mut hists[k]);
        if let Some(r) = st.on_intent(&it, s.clock.now_ns(), h) {
            return Err(format!("order {i} not sent: {:?}", r.status));
        }
        let deadline = Instant::now() + timeout;
        let mut done = false;
        while !done {
            if Instant::now() > deadline {
                return Err(format!("order {i}: no reply within 5 s"));
            }
            if st.poll(None, h, |_| done = true) == 0 {
                std::thread::yield_now();
            }
        }
        // Quiesce before the next transport's order: the venue-side stop orders this fill
        // placed or cancelled (REST, this stage's exit lanes) are answered first, so no timed
        // order shares the exchange's CPUs with another stage's requests (untimed).
        while st.in_flight() > 0 {
            if Instant::now() > deadline {
                return Err(format!("order {i}: stop orders unanswered within 5 s"));
            }
            if st.poll(None, h, |_| {}) == 0 {
                std::thread::yield_now();
            }
        }
    }
    let rest = hists[0].get(Stage::OrderRtt);
    let (ws, logon) = (hists[1].get(Stage::OrderRtt), hists[2].get(Stage::OrderRtt));
    // Judged: p50 strictly below REST's of this run (the issue's "WebSocket below REST").
    let below_rest = |r: Row| Row {
        judge: Judge::BelowPeer {
            peer_p50_ns: p50(rest),
        },
        ..r
    };
    let verdict = |h: &Histogram<u64>| {
        if p50(h) < p50(rest) {
            "below"
        } else {
            "NOT below"
        }
    };
    Ok(vec![
        below_rest(row(
            "order_rtt websocket",
            Stage::OrderRtt,
            ws,
            Some(("REST".into(), ratio(ws, rest))),
            format!(
                "{} orders over /ws-fapi/v1 (signed per request), interleaved with as many over REST: WebSocket p50 {} REST p50",
                ws.len(),
                verdict(ws)
            ),
        )),
        below_rest(row(
            "order_rtt websocket ed25519",
            Stage::OrderRtt,
            logon,
            Some(("REST".into(), ratio(logon, rest))),
            format!(
                "{} orders over /ws-fapi/v1 after one Ed25519 session.logon (unsigned requests), same run: p50 {} REST p50",
                logon.len(),
                verdict(logon)
            ),
        )),
        row(
            "order_rtt rest (same run)",
            Stage::OrderRtt,
            rest,
            None,
            format!("{} orders over one REST keep-alive lane, interleaved with the WebSocket ones", rest.len()),
        ),
    ])
}
