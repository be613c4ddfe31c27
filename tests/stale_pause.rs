//! Stale-feed pause end to end over loopback: the embedded exchange replays real BTCUSDT +
//! ETHUSDT trades, the stream is stalled on command, the feed marks the symbols stale (REST
//! fallback keeps ticks coming), and the engine — reading the feed's health lock-free — refuses
//! every new entry of a paused symbol (counted in `blocked_stale`) while exits still go out;
//! once the stream is back the symbol trades again. Driven like the fused topology (feed →
//! compute → execution on one thread) so every intent can be checked against the health the
//! engine saw; a second test runs the real pipeline threads. Every wait is bounded; nothing is
//! timed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::exchange::server::Fault;
use calculus_trader::exchange::EmbeddedExchange;
use calculus_trader::exec::ExecStage;
use calculus_trader::feed::liveness::SymbolState;
use calculus_trader::feed::protocol::Venue;
use calculus_trader::feed::ws::WsStatus;
use calculus_trader::feed::SymbolTable;
use calculus_trader::ring::WaitStrategy;
use calculus_trader::runtime::pipeline::{Pipeline, PipelinePlan};
use calculus_trader::runtime::wait::FeedWait;
use calculus_trader::runtime::{AllowedCores, Shutdown};
use calculus_trader::strategy::ComputeStage;
use calculus_trader::strategy::Engine;
use calculus_trader::telemetry::{
    handoff, Clock, Counter, CounterSet, Epoch, Stage, StageHistograms,
};
use calculus_trader::types::{Instrument, SymbolId};

mod common;
use common::feed::{binance_replay, fast_settings, start_feed, LIMIT};
use common::setup::{binance_instruments, eager_params, paper_executor};

fn symbols() -> SymbolTable {
    SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
}

/// The eager strategy (see [`eager_params`]): entries are asked for often, including on the
/// REST ticks of a stall.
fn eager_engine(instruments: &[Instrument]) -> Engine {
    Engine::new(eager_params(), instruments)
}

fn exec_stage(instruments: Vec<Instrument>, symbols: &SymbolTable, clock: &Clock) -> ExecStage {
    ExecStage::new(paper_executor(instruments, symbols), clock.clone())
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
    let rec = binance_replay(30.0);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = symbols();
    let inst = binance_instruments(&Config::parse(DEFAULT_TOML).unwrap(), &symbols);
    let clock = Clock::new();
    let mut f = start_feed(&ex, Venue::Binance, &symbols, fast_settings(), &clock);
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
                    if let Some(report) = exec.on_intent(it, it.decided_ns(), h) {
                        compute.on_report(&report);
                    }
                    compute.book_pending();
                }
                seen.push(Seen {
                    symbol: t.symbol,
                    tradable,
                    intent: intent.map(|it| it.reduce_only()),
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
    let rec = binance_replay(20.0);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = symbols();
    let inst = binance_instruments(&Config::parse(DEFAULT_TOML).unwrap(), &symbols);
    let clock = Clock::new();
    let f = start_feed(&ex, Venue::Binance, &symbols, fast_settings(), &clock);
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
