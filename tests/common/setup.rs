//! The bundled real replay (Binance USD-M BTCUSDT + ETHUSDT, 2024-08-08 23:54–24:00 UTC) with
//! the default config's symbols and instrument specs, and fills handed back to an engine.

use std::path::PathBuf;

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::exchange::Recording;
use calculus_trader::feed::SymbolTable;
use calculus_trader::strategy::Engine;
use calculus_trader::types::{
    instrument::load_specs, ExecReport, Instrument, OrderIntent, ReportStatus, Tick,
};
use calculus_trader::venue::binance::market::trades_of;
use rust_decimal::Decimal;

/// The crate root (`CARGO_MANIFEST_DIR`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

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
        let instruments = load_specs(
            &root.join(&cfg.venue.instruments),
            "binance",
            symbols.names(),
        )
        .unwrap();
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
        side: it.side,
        status: ReportStatus::Filled,
        price: Decimal::from_f64_retain(it.ref_price).unwrap().round_dp(2),
        qty: it.qty,
        fee: Decimal::ZERO,
    });
}
