//! The embedded order exchange over loopback for tests: real bundled instrument specs, a fill
//! model, a starting balance, and the market state that prices its fills; the bundled real
//! replay served over WebSocket; and the config that trades live against both.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use calculus_trader::config::DEFAULT_TOML;
use calculus_trader::exchange::orders::{Matching, SimVenue};
use calculus_trader::exchange::rest_orders::{RestOptions, SimCredentials};
use calculus_trader::exchange::{EmbeddedExchange, MarketState, Recording, RestExchange};
use calculus_trader::exec::FillModel;
use calculus_trader::types::{instrument::load_specs, Instrument};
use calculus_trader::venue::Venue;
use rust_decimal::Decimal;

use super::files::{replay_file, root};

/// `venue`'s (`"binance"` / `"bybit"`) specs of `names`, from the bundled
/// `data/instruments/instrument_specs_8_symbols.json`.
pub fn bundled_specs(venue: &str, names: &[&str]) -> Vec<Instrument> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    load_specs(
        &root().join("data/instruments/instrument_specs_8_symbols.json"),
        venue,
        &names,
    )
    .unwrap()
}

/// `names` with their bundled Binance specs ([`bundled_specs`]).
pub fn listed(names: &[&str]) -> Vec<(String, Instrument)> {
    listed_on(Venue::Binance, names)
}

/// `names` with `venue`'s bundled specs ([`bundled_specs`]).
pub fn listed_on(venue: Venue, names: &[&str]) -> Vec<(String, Instrument)> {
    let inst = bundled_specs(venue.name(), names);
    names.iter().map(|s| s.to_string()).zip(inst).collect()
}

/// The id the trader reads for the embedded exchange's order or trade `id`: Binance lists the
/// number, Bybit a UUID carrying it (`orderId`, `execId`; read as its hash, as the real
/// venue's linear ids).
pub fn read_id(venue: Venue, id: u64) -> u64 {
    match venue {
        Venue::Binance => id,
        Venue::Bybit => calculus_trader::venue::bybit::trade_id_hash(
            &calculus_trader::venue::bybit::exchange::uuid_from_id(id),
        ),
    }
}

/// The environment variables the trader reads `venue`'s API key and secret from (README,
/// `config/default.toml`).
pub fn key_env(venue: Venue) -> (&'static str, &'static str) {
    match venue {
        Venue::Binance => ("BINANCE_API_KEY", "BINANCE_API_SECRET"),
        Venue::Bybit => ("BYBIT_API_KEY", "BYBIT_API_SECRET"),
    }
}

/// A running embedded order exchange and the market state its fills are priced from.
pub struct Exchange {
    /// Last replayed trade per symbol (feed it with `on_frame` / `on_trade`).
    pub market: Arc<MarketState>,
    /// The REST server (orders, queries, positions).
    pub server: RestExchange,
}

/// What an exchange may differ in beyond its listing and fill model.
pub struct Options {
    /// Starting USDT balance (default 10 000).
    pub balance: Decimal,
    /// Fixed keys; `None` = fresh random ones.
    pub creds: Option<SimCredentials>,
    /// Server behaviour (reply delays, limits); default = answer at once.
    pub rest: RestOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            balance: Decimal::from(10_000),
            creds: None,
            rest: RestOptions::default(),
        }
    }
}

/// Starts an exchange listing `listed` with `taker_fee` and `slippage_bps` (exact decimal
/// strings) and a 10 000 USDT balance; `creds` = fixed keys, `None` = fresh random ones.
pub fn start(
    listed: Vec<(String, Instrument)>,
    taker_fee: &str,
    slippage_bps: &str,
    creds: Option<SimCredentials>,
) -> Exchange {
    start_with(
        listed,
        taker_fee,
        slippage_bps,
        Options {
            creds,
            ..Options::default()
        },
    )
}

/// [`start`] with every [`Options`] field chosen by the caller.
pub fn start_with(
    listed: Vec<(String, Instrument)>,
    taker_fee: &str,
    slippage_bps: &str,
    opts: Options,
) -> Exchange {
    let market = Arc::new(MarketState::default());
    let server = serve(&market, listed, taker_fee, slippage_bps, opts);
    Exchange { market, server }
}

/// The REST order server of an exchange whose fills are priced from `market` (e.g. a replay
/// server's, so orders fill at the replayed trades).
pub fn serve(
    market: &MarketState,
    listed: Vec<(String, Instrument)>,
    taker_fee: &str,
    slippage_bps: &str,
    opts: Options,
) -> RestExchange {
    let venue = Arc::new(SimVenue::new(Matching::new(
        listed,
        FillModel {
            taker_fee: Decimal::from_str(taker_fee).unwrap(),
            slippage_bps: Decimal::from_str(slippage_bps).unwrap(),
        },
        opts.balance,
    )));
    let bind = "127.0.0.1:0".parse().unwrap();
    match opts.creds {
        Some(c) => RestExchange::start_with(bind, venue, Some(market), opts.rest, c),
        None => RestExchange::start(bind, venue, Some(market), opts.rest),
    }
    .unwrap()
}

/// The bundled real BTCUSDT + ETHUSDT Binance trades (2024-08-08 23:54–24:00 UTC) served over
/// WebSocket at `speed` times real time (0 = as fast as possible).
pub fn replay_server(speed: f64) -> EmbeddedExchange {
    replay_server_on(Venue::Binance, speed)
}

/// [`replay_server`] speaking `venue`'s public stream (Bybit: the same trades re-encoded as
/// v5 `publicTrade` messages, as `config/bybit.toml` replays them).
pub fn replay_server_on(venue: Venue, speed: f64) -> EmbeddedExchange {
    let rec = Recording::load(&[
        replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        replay_file("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ])
    .unwrap();
    let rec = match venue {
        Venue::Binance => rec,
        Venue::Bybit => rec.to_bybit().0,
    };
    EmbeddedExchange::start_venue("127.0.0.1:0".parse().unwrap(), Arc::new(rec), venue, speed)
        .unwrap()
}

/// The exchange a live run trades against: the bundled replay over WebSocket and, priced by
/// it, order entry listing BTCUSDT + ETHUSDT at taker fee 0.0004 and `slippage_bps`.
pub struct Hosted {
    /// The WebSocket replay ([`replay_server`]).
    pub replay: EmbeddedExchange,
    /// The REST order entry ([`serve`]) on the replay's market state.
    pub rest: RestExchange,
}

/// Starts [`Hosted`]: the replay at `speed` times real time, order entry with `opts`.
pub fn hosted(speed: f64, slippage_bps: &str, opts: Options) -> Hosted {
    hosted_on(Venue::Binance, speed, slippage_bps, opts)
}

/// [`hosted`] for `venue`: its public stream and its bundled specs.
pub fn hosted_on(venue: Venue, speed: f64, slippage_bps: &str, opts: Options) -> Hosted {
    let replay = replay_server_on(venue, speed);
    let rest = serve(
        &replay.stats().market,
        listed_on(venue, &["BTCUSDT", "ETHUSDT"]),
        "0.0004",
        slippage_bps,
        opts,
    );
    Hosted { replay, rest }
}

/// The default config trading live against `replay` (WebSocket) and `rest` (orders) on
/// loopback: fused topology, a 60 s receive window (a loaded machine is slow to sign).
pub fn hosted_toml(replay: &EmbeddedExchange, rest: &RestExchange) -> String {
    DEFAULT_TOML
        .replace(
            "ws_url = \"embedded\"",
            &format!("ws_url = \"{}\"", replay.url()),
        )
        .replace(
            "rest_url = \"embedded\"",
            &format!("rest_url = \"{}\"", rest.url()),
        )
        .replace("topology = \"auto\"", "topology = \"fused\"")
        .replace("recv_window_ms = 5000", "recv_window_ms = 60000")
}

/// [`hosted_binary_toml`] trading on `venue` (Bybit: `venue.name = "bybit"`, its order format,
/// keys from `BYBIT_API_KEY`/`BYBIT_API_SECRET`).
pub fn hosted_binary_toml_on(
    venue: Venue,
    replay: &EmbeddedExchange,
    rest: &RestExchange,
    journal: Option<&Path>,
    dir: &Path,
) -> String {
    on_venue(venue, hosted_binary_toml(replay, rest, journal, dir))
}

/// A config text derived from `config/default.toml` made to trade on `venue` (Bybit:
/// `venue.name = "bybit"`, the Host header `api.bybit.com`).
pub fn on_venue(venue: Venue, text: String) -> String {
    match venue {
        Venue::Binance => text,
        Venue::Bybit => {
            let text = text
                .replace("name = \"binance\" ", "name = \"bybit\"  ")
                .replace(
                    "rest_host = \"fapi.binance.com\"",
                    "rest_host = \"api.bybit.com\"",
                );
            assert!(text.contains("name = \"bybit\""), "default.toml changed");
            text
        }
    }
}

/// [`hosted_toml`] for the real binary: a parking hot thread, `journal` (`None` = the default
/// fresh one) and dumps under `dir/dumps`.
pub fn hosted_binary_toml(
    replay: &EmbeddedExchange,
    rest: &RestExchange,
    journal: Option<&Path>,
    dir: &Path,
) -> String {
    hosted_toml(replay, rest)
        .replace(
            "journal = \"\"",
            &match journal {
                Some(j) => format!("journal = {:?}", j.display().to_string()),
                None => "journal = \"\"".to_string(),
            },
        )
        .replace("hot = \"spin\"", "hot = \"park\"")
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dir.join("dumps").display().to_string()),
        )
        // Tests run traders side by side: each control server on a free port, its token in `dir`.
        .replace("listen = \"127.0.0.1:8787\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "token_file = \"state/control.token\"",
            &format!(
                "token_file = {:?}",
                dir.join("control.token").display().to_string()
            ),
        )
}

/// The first fault plan of the one-rule table `rule` (its `[[rule]]` lines) whose seed makes
/// `fits` true: a test that needs "request 1 of that kind fails, the others do not" gets
/// exactly that, whatever the hash.
pub fn seeded_plan(
    rule: &str,
    fits: impl Fn(&calculus_trader::exchange::fault_plan::FaultPlan) -> bool,
) -> Arc<calculus_trader::exchange::fault_plan::FaultPlan> {
    use calculus_trader::exchange::fault_plan::FaultPlan;
    (0u64..)
        .map(|seed| FaultPlan::from_toml(&format!("seed = {seed}\n[[rule]]\n{rule}")).unwrap())
        .find(|p| fits(p))
        .map(Arc::new)
        .unwrap()
}
