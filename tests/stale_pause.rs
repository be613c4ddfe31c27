//! Stale-feed pause end to end over loopback: the embedded exchange replays real BTCUSDT +
//! ETHUSDT trades, the stream is stalled on command, the feed marks the symbols stale (REST
//! fallback keeps ticks coming), and the engine — reading the feed's health lock-free — refuses
//! every new entry of a paused symbol (counted in `blocked_stale`) while exits still go out;
//! once the stream is back the symbol trades again. Driven like the fused topology (feed →
//! compute → execution on one thread) so every intent can be checked against the health the
//! engine saw; a second test runs the real pipeline threads. Every wait is bounded; nothing is
//! timed.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::exchange::server::{Fault, END_OF_REPLAY};
use calculus_trader::exchange::{EmbeddedExchange, Recording};
use calculus_trader::exec::ExecStage;
use calculus_trader::exec::{BinanceOrderBuilder, Executor, PaperVenue};
use calculus_trader::feed::liveness::SymbolState;
use calculus_trader::feed::protocol::Venue;
use calculus_trader::feed::settings::FeedConfig;
use calculus_trader::feed::stage::{FeedPlan, FeedStage};
use calculus_trader::feed::ws::WsStatus;
use calculus_trader::feed::SymbolTable;
use calculus_trader::model::DerivParams;
use calculus_trader::ring::WaitStrategy;
use calculus_trader::runtime::pipeline::{Pipeline, PipelinePlan};
use calculus_trader::runtime::wait::FeedWait;
use calculus_trader::runtime::{AllowedCores, Shutdown};
use calculus_trader::strategy::ComputeStage;
use calculus_trader::strategy::{
    CaseActions, Engine, SignalParams, StrategyParams, VelocitySource,
};
use calculus_trader::telemetry::{
    handoff, Clock, Counter, CounterSet, Epoch, Stage, StageHistograms,
};
use calculus_trader::types::{instrument::load_specs, Instrument, SymbolId};

/// Upper bound on any single test's run (a loaded 2-core machine is slow, never this slow).
const LIMIT: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first `seconds` of the real BTCUSDT + ETHUSDT recordings.
fn recording(seconds: f64) -> Recording {
    let mut r = Recording::load(&[
        root().join("data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        root().join("data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ])
    .unwrap();
    let t0 = r.frames[0].recv_ns;
    let end = t0 + (seconds * 1e9) as u64;
    r.frames.retain(|f| f.recv_ns < end);
    r
}

fn symbols() -> SymbolTable {
    SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
}

fn instruments(symbols: &SymbolTable) -> Vec<Instrument> {
    let cfg = Config::parse(DEFAULT_TOML).unwrap();
    load_specs(
        &root().join(&cfg.venue.instruments),
        "binance",
        symbols.names(),
    )
    .unwrap()
}

/// Short heartbeat / stale / REST settings: a 1.5 s stall makes the symbols stale (150 ms) and
/// the REST fallback (every 40 ms) delivers trades during it.
fn fast_settings() -> FeedConfig {
    FeedConfig {
        heartbeat_ms: 200,
        dead_after_ms: 5_000,
        connect_timeout_ms: 5_000,
        stale_after_ms: 150,
        reconnect_base_ms: 10,
        reconnect_max_ms: 200,
        reconnect_jitter: 0.5,
        rest_poll_ms: 40,
        rest_limit: 1000,
        ..FeedConfig::default()
    }
}

fn feed(ex: &EmbeddedExchange, symbols: &SymbolTable, clock: &Clock) -> FeedStage {
    FeedStage::start(
        FeedPlan {
            venue: Venue::Binance,
            ws_url: ex.url(),
            rest_url: ex.rest_url(),
            feed: fast_settings(),
            tls: None,
            end_close_code: Some(END_OF_REPLAY),
            record_feed_delay: false,
            validation: Default::default(),
        },
        symbols.clone(),
        clock.clone(),
    )
    .unwrap()
}

/// An eager strategy (finite differences, no gates, no cooldown, short warm-up, loose risk
/// limits) so that entries are asked for often, including on the REST ticks of a stall.
fn eager_engine(instruments: &[Instrument]) -> Engine {
    let mut params = StrategyParams {
        deriv: DerivParams {
            lambda: 0.75,
            tau_s: Some(1.0),
            reset_gap_s: 60.0,
        },
        v_band: 1e-6,
        a_band: 1e-7,
        warmup_steps: 5,
        cooldown_ms: 0,
        actions: CaseActions::default(),
        signal: SignalParams {
            source: VelocitySource::FiniteDifference,
            snr_min: 0.0,
            confidence_min: 0.0,
            ..SignalParams::default()
        },
        ..StrategyParams::default().without_layers()
    };
    let l = &mut params.risk.limits;
    l.max_consecutive_losses = 0;
    l.daily_loss = Decimal::ONE;
    l.drawdown_reduce = Decimal::ONE;
    l.drawdown_pause = Decimal::ONE;
    l.emergency_drawdown = Decimal::ZERO;
    Engine::new(params, instruments)
}

fn exec_stage(instruments: Vec<Instrument>, symbols: &SymbolTable, clock: &Clock) -> ExecStage {
    ExecStage::new(
        Executor::new(
            instruments,
            symbols.names().to_vec(),
            BinanceOrderBuilder::new("k", b"s", "fapi.binance.com", 5000, "ct-"),
            PaperVenue {
                taker_fee: "0.0004".parse().unwrap(),
                slippage_bps: 1.0,
            },
        ),
        clock.clone(),
    )
}

/// What compute did on one tick, with the feed state it saw.
#[derive(Clone, Copy, Debug)]
struct Seen {
    symbol: SymbolId,
    tradable: bool,
    /// An intent was emitted: `Some(reduce_only)`.
    intent: Option<bool>,
    /// The engine refused an entry on this tick because of the feed.
    blocked: bool,
}

#[test]
fn stalled_stream_pauses_entries_of_stale_symbols_and_resumes_after() {
    let rec = recording(30.0);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = symbols();
    let inst = instruments(&symbols);
    let clock = Clock::new();
    let mut f = feed(&ex, &symbols, &clock);
    let health = f.health();
    let mut engine = eager_engine(&inst);
    engine.set_feed_health(health.clone());
    let mut compute = ComputeStage::new(engine, clock.clone());
    let mut exec = exec_stage(inst, &symbols, &clock);
    let mut hists = StageHistograms::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut stalled = false;
    let btc = SymbolId(0);
    let t0 = Instant::now();
    loop {
        let (_, status) = f
            .poll(Some(Duration::from_millis(2)), &mut hists, |t, h| {
                // Same thread as the feed (fused): the state read here is the one the engine
                // reads inside `on_tick`.
                let tradable = health.tradable(t.symbol);
                let before = compute.engine().stats().blocked_stale;
                let intent = compute.on_tick(t, t.parsed_ns, h);
                let blocked = compute.engine().stats().blocked_stale > before;
                if let Some(it) = &intent {
                    assert_eq!(it.symbol, t.symbol);
                    // Paper route: the report comes back at once.
                    if let Some(report) = exec.on_intent(it, it.decided_ns, h) {
                        compute.on_report(&report);
                    }
                }
                seen.push(Seen {
                    symbol: t.symbol,
                    tradable,
                    intent: intent.map(|it| it.reduce_only),
                    blocked,
                });
            })
            .unwrap();
        if !stalled && seen.len() >= 500 {
            stalled = true;
            ex.inject(Fault::Stall(Duration::from_millis(1500)));
        }
        if status == WsStatus::Closed {
            break;
        }
        assert!(
            t0.elapsed() < LIMIT,
            "feed did not finish: {:?}",
            f.counters()
        );
    }
    assert!(stalled);
    // `parse` per venue: all of this feed's parses are Binance ones.
    assert!(hists.total_count(Stage::Parse) > 0);
    assert_eq!(
        hists.total_count(Stage::ParseBinance),
        hists.total_count(Stage::Parse)
    );
    assert_eq!(hists.total_count(Stage::ParseBybit), 0);
    let mut c = CounterSet::default();
    f.fill_counters(&mut c);
    compute.fill_counters(&mut c);
    assert!(
        c.get(Counter::FeedStale) >= 1,
        "the stall was detected: {c:?}"
    );
    assert!(
        c.get(Counter::RestTicks) > 0,
        "REST ticks during the stall: {c:?}"
    );

    // While a symbol was not tradable: no entry for it, only (possibly) reduce-only exits.
    for s in seen.iter().filter(|s| !s.tradable) {
        assert_ne!(
            s.intent,
            Some(false),
            "entry sent on a paused symbol: {s:?}"
        );
    }
    // A blocked entry happens only on a paused symbol, and there were some for BTCUSDT.
    assert!(seen.iter().filter(|s| s.blocked).all(|s| !s.tradable));
    let blocked_btc = seen.iter().filter(|s| s.blocked && s.symbol == btc).count();
    eprintln!(
        "ticks {} (paused {}), blocked entries {blocked_btc} BTCUSDT / {} all, exits while paused {}",
        seen.len(),
        seen.iter().filter(|s| !s.tradable).count(),
        seen.iter().filter(|s| s.blocked).count(),
        seen.iter().filter(|s| !s.tradable && s.intent.is_some()).count()
    );
    assert!(blocked_btc > 0, "entries of stale BTCUSDT refused: {c:?}");
    // The counter in the status output is the engine's count.
    let blocked_all = seen.iter().filter(|s| s.blocked).count() as u64;
    assert_eq!(c.get(Counter::BlockedStale), blocked_all);
    assert_eq!(compute.engine().stats().blocked_stale, blocked_all);

    // Resumed: after BTCUSDT's last paused tick it is tradable again and enters again.
    let last_paused = seen
        .iter()
        .rposition(|s| s.symbol == btc && !s.tradable)
        .unwrap();
    let after = &seen[last_paused + 1..];
    assert!(after.iter().filter(|s| s.symbol == btc).all(|s| s.tradable));
    assert!(
        after
            .iter()
            .any(|s| s.symbol == btc && s.intent == Some(false)),
        "BTCUSDT entries resumed after the stall"
    );
    assert!(c.get(Counter::FeedRecovered) >= 1);
    assert_eq!(health.state(btc), SymbolState::Live);
}

/// The same pause across threads: the pipeline's compute thread reads the health the network
/// thread writes. The stall is injected once the exchange has sent enough frames.
#[test]
fn pipeline_compute_thread_sees_the_pause() {
    let rec = recording(20.0);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = symbols();
    let inst = instruments(&symbols);
    let clock = Clock::new();
    let f = feed(&ex, &symbols, &clock);
    let health = f.health();
    let mut engine = eager_engine(&inst);
    engine.set_feed_health(health.clone());
    let compute = ComputeStage::new(engine, clock.clone());
    let exec = exec_stage(inst, &symbols, &clock);
    let epoch = Epoch::default();
    let publishers = ["network", "compute", "execution"].map(|n| handoff(n, &epoch).0);
    let allowed = AllowedCores::detect();
    let core = allowed.ids().into_iter().next().unwrap_or(0);
    let plan = PipelinePlan {
        cores: [core; 3],
        network_wait: FeedWait::new(
            calculus_trader::config::WaitKind::Park,
            100,
            Duration::from_micros(500),
        ),
        compute_wait: WaitStrategy::Park { timeout_us: 500 },
        execution_wait: WaitStrategy::Park { timeout_us: 500 },
        rings: [4096, 1024, 1024],
    };
    let shutdown = Shutdown::default();
    let pipeline = Pipeline::spawn(
        plan,
        &allowed,
        f,
        compute,
        exec,
        publishers,
        clock,
        shutdown.clone(),
    )
    .unwrap();
    let stats = ex.stats();
    let t0 = Instant::now();
    while stats.frames_sent.load(Ordering::Relaxed) < 1_000 {
        assert!(t0.elapsed() < LIMIT, "replay did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    ex.inject(Fault::Stall(Duration::from_millis(1500)));
    let mut saw_stale = false;
    while !saw_stale {
        saw_stale = health.state(SymbolId(0)) == SymbolState::Stale
            || health.state(SymbolId(1)) == SymbolState::Stale;
        assert!(t0.elapsed() < LIMIT, "no symbol went stale");
        std::thread::sleep(Duration::from_millis(1));
    }
    let engine = pipeline.join().unwrap();
    eprintln!("pipeline engine stats: {:?}", engine.stats());
    assert!(
        engine.stats().blocked_stale > 0,
        "compute refused entries while stale: {:?}",
        engine.stats()
    );
    assert!(engine.stats().intents > 0);
    assert_eq!(health.state(SymbolId(0)), SymbolState::Live, "live again");
}
