//! The backtest makes the live pipeline's decisions: on the bundled real recordings it emits the
//! same intents (signals, sides, sizes, in order) as the engine driven the way the fused stage
//! drives it, and ends with the same exact positions as a real paper run of the pipeline.

use std::path::PathBuf;

use calculus_trader::backtest::replay::default_data;
use calculus_trader::backtest::{read_all, run_ticks, Outcome, Setup};
use calculus_trader::config::{resolve_path, Config, DEFAULT_TOML};
use calculus_trader::exchange::Recording;
use calculus_trader::exec::{BinanceOrderBuilder, Executor, PaperVenue};
use calculus_trader::feed::SymbolTable;
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::strategy::Engine;
use calculus_trader::types::{instrument::load_specs, OrderIntent, Tick};
use calculus_trader::venue::binance::market::trades_of;

fn config(latency_ms: u64) -> Config {
    let mut cfg = Config::parse(DEFAULT_TOML).unwrap();
    cfg.backtest.latency_ms = latency_ms;
    cfg
}

fn ticks(cfg: &Config) -> Vec<Tick> {
    let setup = Setup::from_config(cfg).unwrap();
    let (ticks, read) = read_all(&default_data(cfg), None, &setup.symbols, true).unwrap();
    assert_eq!(read.ticks, 35_389);
    ticks
}

fn backtest(cfg: &Config, ticks: &[Tick]) -> Outcome {
    run_ticks(&Setup::from_config(cfg).unwrap(), ticks)
}

/// What a decision is, without the wall-clock stamps.
fn decision(i: &OrderIntent) -> (u16, bool, String, u64, bool, u8, u64) {
    (
        i.symbol.0,
        i.side() == calculus_trader::types::Side::Buy,
        i.qty().to_string(),
        i.ref_price.to_bits(),
        i.reduce_only(),
        i.case().number(),
        i.client_seq,
    )
}

/// The fused stage's loop without the socket: recorded frame → live parser → engine → executor
/// → engine.
fn fused_like(cfg: &Config) -> (Vec<OrderIntent>, Engine) {
    let symbols = SymbolTable::new(&cfg.venue.symbols).unwrap();
    let instruments = load_specs(
        &resolve_path(&cfg.venue.instruments),
        &cfg.venue.name,
        symbols.names(),
    )
    .unwrap();
    let files: Vec<PathBuf> = cfg.replay.files.iter().map(|f| resolve_path(f)).collect();
    let rec = Recording::load(&files).unwrap();
    let mut engine = Engine::new(
        calculus_trader::strategy::StrategyParams::from_config(cfg),
        &instruments,
    );
    let mut exec = Executor::new(
        instruments,
        symbols.names().to_vec(),
        BinanceOrderBuilder::new("k", b"s", "localhost", 5000, "t-"),
        PaperVenue {
            taker_fee: cfg.taker_fee().unwrap(),
            slippage_bps: cfg.paper.slippage_bps,
        },
    );
    let mut intents = Vec::new();
    for t in trades_of(rec.frames.iter().map(|f| f.text.as_str()), &symbols) {
        if let Some(intent) = engine.on_tick(&t) {
            intents.push(intent);
            let r = exec.execute(&intent, t.exch_ts_ms, |_| {});
            engine.on_report(&r);
        }
    }
    (intents, engine)
}

#[test]
fn backtest_intents_equal_the_fused_stage_decisions_at_any_latency() {
    let cfg = config(0);
    let (want, engine) = fused_like(&cfg);
    assert!(want.len() >= 5, "the real data must produce decisions");
    let want: Vec<_> = want.iter().map(decision).collect();
    let data = ticks(&cfg);
    let o = backtest(&cfg, &data);
    let got: Vec<_> = o.intents.iter().map(decision).collect();
    assert_eq!(got, want);
    for i in 0..engine.n_symbols() {
        assert_eq!(o.engine.position(i), engine.position(i), "symbol {i}");
    }
    assert_eq!(o.engine.stats(), engine.stats());
    // Decisions use the working position (fills + orders in flight), so a slower venue changes
    // fill prices, not decisions.
    let slow = backtest(&config(250), &data);
    assert_eq!(slow.intents.iter().map(decision).collect::<Vec<_>>(), want);
    assert_ne!(
        slow.fills
            .iter()
            .map(|f| f.price.to_bits())
            .collect::<Vec<_>>(),
        o.fills
            .iter()
            .map(|f| f.price.to_bits())
            .collect::<Vec<_>>(),
        "250 ms later the fills must see other prices"
    );
}

#[test]
fn backtest_ends_with_the_positions_of_a_paper_run_of_the_pipeline() {
    let dump = std::env::temp_dir().join(format!("ct-bt-paper-{}", std::process::id()));
    let text = DEFAULT_TOML
        .replace("topology = \"auto\"", "topology = \"fused\"")
        .replace("speed = 10.0", "speed = 0.0")
        .replace("hot = \"spin\"", "hot = \"spin_yield\"")
        // In-process paper fills at the deciding tick, as the backtest at latency 0.
        .replace("mode = \"embedded\"", "mode = \"paper\"")
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dump.display().to_string()),
        );
    let mut cfg = Config::parse(&text).unwrap();
    cfg.backtest.latency_ms = 0;
    let live = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
    let o = backtest(&cfg, &ticks(&cfg));
    assert_eq!(live.engine.stats().ticks, 35_389);
    for i in 0..o.engine.n_symbols() {
        assert_eq!(o.engine.position(i), live.engine.position(i), "symbol {i}");
    }
    assert_eq!(o.engine.stats(), live.engine.stats());
    std::fs::remove_dir_all(&dump).ok();
}
