//! The embedded order exchange over loopback for tests: real bundled instrument specs, a fill
//! model, a starting balance, and the market state that prices its fills.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use calculus_trader::exchange::orders::{Matching, SimVenue};
use calculus_trader::exchange::rest_orders::{RestOptions, SimCredentials};
use calculus_trader::exchange::{MarketState, RestExchange};
use calculus_trader::exec::FillModel;
use calculus_trader::types::{instrument::load_specs, Instrument};
use rust_decimal::Decimal;

/// `names` with their bundled Binance specs (`data/instruments/instrument_specs_8_symbols.json`).
pub fn listed(names: &[&str]) -> Vec<(String, Instrument)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let inst = load_specs(
        &root.join("data/instruments/instrument_specs_8_symbols.json"),
        "binance",
        &names,
    )
    .unwrap();
    names.into_iter().zip(inst).collect()
}

/// A running embedded order exchange and the market state its fills are priced from.
pub struct Exchange {
    /// Last replayed trade per symbol (feed it with `on_frame` / `on_trade`).
    pub market: Arc<MarketState>,
    /// The REST server (orders, queries, positions).
    pub server: RestExchange,
}

/// Starts an exchange listing `listed` with `taker_fee` and `slippage_bps` (exact decimal
/// strings) and a 10 000 USDT balance; `creds` = fixed keys, `None` = fresh random ones.
pub fn start(
    listed: Vec<(String, Instrument)>,
    taker_fee: &str,
    slippage_bps: &str,
    creds: Option<SimCredentials>,
) -> Exchange {
    let venue = Arc::new(SimVenue::new(Matching::new(
        listed,
        FillModel {
            taker_fee: Decimal::from_str(taker_fee).unwrap(),
            slippage_bps: Decimal::from_str(slippage_bps).unwrap(),
        },
        Decimal::from(10_000),
    )));
    let market = Arc::new(MarketState::default());
    let bind = "127.0.0.1:0".parse().unwrap();
    let server = match creds {
        Some(c) => RestExchange::start_with(bind, venue, Some(&market), RestOptions::default(), c),
        None => RestExchange::start(bind, venue, Some(&market), RestOptions::default()),
    }
    .unwrap();
    Exchange { market, server }
}
