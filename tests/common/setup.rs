//! The bundled real replay (Binance USD-M BTCUSDT + ETHUSDT, 2024-08-08 23:54–24:00 UTC) with
//! the default config's symbols and instrument specs, fills handed back to an engine, and an
//! eager strategy with a paper executor.

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::exchange::Recording;
use calculus_trader::exec::{BinanceOrderBuilder, Executor, PaperVenue};
use calculus_trader::feed::SymbolTable;
use calculus_trader::model::DerivParams;
use calculus_trader::strategy::{
    CaseActions, Engine, SignalParams, StrategyParams, VelocitySource,
};
use calculus_trader::types::{
    instrument::load_specs, ExecReport, Instrument, OrderIntent, ReportStatus, Tick,
};
use calculus_trader::venue::binance::market::trades_of;
use rust_decimal::Decimal;

use super::files::{replay_file, root};
use super::values::d;

/// The bundled BTC + ETH replay, loaded with the default config.
pub struct Replay {
    /// The default config (`config/default.toml`).
    pub cfg: Config,
    /// Both recordings' frames, merged in receive order.
    pub rec: Recording,
    /// `cfg.venue.symbols` (BTCUSDT = 0, ETHUSDT = 1).
    pub symbols: SymbolTable,
    /// Binance instrument specs of those symbols, from `cfg.venue.instruments`.
    pub instruments: Vec<Instrument>,
}

impl Replay {
    /// Loads the replay, the symbol table and the instrument specs.
    pub fn load() -> Self {
        let root = root();
        let cfg = Config::parse(DEFAULT_TOML).unwrap();
        let rec = Recording::load(&[
            root.join("data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
            root.join("data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
        ])
        .unwrap();
        let symbols = SymbolTable::new(&cfg.venue.symbols).unwrap();
        let instruments = binance_instruments(&cfg, &symbols);
        Self {
            cfg,
            rec,
            symbols,
            instruments,
        }
    }

    /// The replay's trades, parsed as the pipeline parses them, in receive order.
    pub fn ticks(&self) -> Vec<Tick> {
        trades_of(
            self.rec.frames.iter().map(|f| f.text.as_str()),
            &self.symbols,
        )
    }
}

/// Reports `it` filled in full at its reference price rounded to 2 dp, without fee.
pub fn fill(e: &mut Engine, it: &OrderIntent) {
    e.on_report(&ExecReport {
        symbol: it.symbol,
        client_seq: it.client_seq,
        side: it.side(),
        status: ReportStatus::Filled,
        price: Decimal::from_f64_retain(it.ref_price).unwrap().round_dp(2),
        qty: it.qty(),
        fee: Decimal::ZERO,
        at: Default::default(),
    });
}

/// Binance specs of `symbols` from `cfg.venue.instruments` (the bundled specs file).
pub fn binance_instruments(cfg: &Config, symbols: &SymbolTable) -> Vec<Instrument> {
    load_specs(
        &root().join(&cfg.venue.instruments),
        "binance",
        symbols.names(),
    )
    .unwrap()
}

/// An eager strategy (finite differences, no gates, no cooldown, 5 warm-up steps) with the
/// risk layer on but loose limits (no loss-streak, daily-loss, drawdown or emergency stop), so
/// that entries are asked for often and fee losses never pause it.
pub fn eager_params() -> StrategyParams {
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
    params
}

/// An executor of `instruments` with paper fills (taker fee 0.0004, 1 bp slippage) and Binance
/// orders signed with a dummy key.
pub fn paper_executor(instruments: Vec<Instrument>, symbols: &SymbolTable) -> Executor {
    Executor::new(
        instruments,
        symbols.names().to_vec(),
        BinanceOrderBuilder::new("k", b"s", "fapi.binance.com", 5000, "ct-"),
        PaperVenue {
            taker_fee: "0.0004".parse().unwrap(),
            slippage_bps: 1.0,
        },
    )
}

/// The bundled real BTCUSDT `@trade` frames (2024-08-08) in recorded order, each with its price.
pub fn btc_trade_frames() -> Vec<(String, Decimal)> {
    let rec =
        Recording::load(&[replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz")]).unwrap();
    let st = rec.stream_index("btcusdt@trade").unwrap();
    rec.frames
        .iter()
        .filter(|f| f.stream == st)
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
            (f.text.clone(), d(v["data"]["p"].as_str().unwrap()))
        })
        .collect()
}
