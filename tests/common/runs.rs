//! Whole runs (`runtime::run`) against the embedded exchange serving the venue's endpoints
//! (specs, tickers, account, orders, private streams), trading the bundled real tape.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use calculus_trader::config::Config;
use calculus_trader::exchange::{EmbeddedExchange, Recording, RestExchange};
use calculus_trader::exec::specs::{read_maybe_gz, SpecSource, VenueSpecs};
use calculus_trader::exec::Venue;
use calculus_trader::runtime::RunReport;
use calculus_trader::types::{Instrument, SymbolId};

use super::exchange::{hosted_toml, key_env};
use super::files::{replay_file, root};

/// The bundled real instruments reply of `venue` (Bybit instruments-info 2026-08-09, Binance
/// exchangeInfo 2021-07-21).
pub fn capture(venue: Venue) -> Vec<u8> {
    let name = match venue {
        Venue::Bybit => "bybit_v5_instruments_info_linear_2026-08-09.json.gz",
        Venue::Binance => "binance_usdm_exchangeInfo_2021-07-21.json.gz",
    };
    read_maybe_gz(&root().join("data/instruments").join(name)).unwrap()
}

/// Every tradable instrument of the bundled capture of `venue`, `first` leading (in that
/// order: the embedded exchange ranks its tickers' volumes by listing order), the rest in
/// capture order.
pub fn listing(venue: Venue, first: &[&str]) -> Vec<(String, Instrument)> {
    let specs = VenueSpecs::parse(venue, &capture(venue)).unwrap();
    let mut v: Vec<(String, Instrument)> = first
        .iter()
        .map(|s| (s.to_string(), specs.get(s).unwrap()))
        .collect();
    for s in specs.tradable() {
        if !first.contains(&s) {
            v.push((s.to_string(), specs.get(s).unwrap()));
        }
    }
    v
}

/// The bundled BTCUSDT + ETHUSDT trades (2024-08-08) replayed at `speed` (0 = as fast as
/// read); BTCUSDT
/// renamed `btc` when given (a dated contract trading on the same tape).
pub fn replay(venue: Venue, btc: Option<&str>, speed: f64) -> EmbeddedExchange {
    let mut rec = Recording::load(&[
        replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        replay_file("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ])
    .unwrap();
    if let Some(name) = btc {
        let lower = name.to_ascii_lowercase();
        for s in rec.streams.iter_mut() {
            *s = s.replace("btcusdt@", &format!("{lower}@"));
        }
        for f in rec.frames.iter_mut() {
            f.text = f
                .text
                .replace("btcusdt@", &format!("{lower}@"))
                .replace("\"BTCUSDT\"", &format!("\"{name}\""));
        }
    }
    let rec = match venue {
        Venue::Binance => rec,
        Venue::Bybit => rec.to_bybit().0,
    };
    EmbeddedExchange::start_venue("127.0.0.1:0".parse().unwrap(), Arc::new(rec), venue, speed)
        .unwrap()
}

/// A 0600 key file holding `rest`'s keys for `venue`.
pub fn key_file(dir: &Path, rest: &RestExchange, venue: Venue) -> PathBuf {
    let c = rest.credentials();
    let p = dir.join("keys.toml");
    std::fs::write(
        &p,
        format!(
            "[{}]\napi_key = \"{}\"\napi_secret = \"{}\"\n",
            venue.name(),
            c.api_key,
            c.secret
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// A run of `symbols` on `venue` trading against `replay` + `rest`, specs from `rest`
/// (`source = "venue"`, cache in `dir`).
pub fn config(
    venue: Venue,
    replay: &EmbeddedExchange,
    rest: &RestExchange,
    dir: &Path,
    symbols: &[&str],
) -> Config {
    let mut text = hosted_toml(replay, rest)
        .replace("hot = \"spin\"", "hot = \"spin_yield\"")
        .replace("cooldown_ms = 5000", "cooldown_ms = 0");
    if venue == Venue::Bybit {
        text = text
            .replacen("name = \"binance\"", "name = \"bybit\"", 1)
            .replace(
                "rest_host = \"fapi.binance.com\"",
                "rest_host = \"api.bybit.com\"",
            );
    }
    let mut cfg = Config::parse(&text).unwrap();
    cfg.venue.symbols = symbols.iter().map(|s| s.to_string()).collect();
    cfg.venue.specs.source = SpecSource::Venue;
    cfg.venue.specs.rest_url = rest.url();
    cfg.venue.specs.cache = dir.join("instruments_{venue}.json");
    cfg.venue.specs.timeout_s = 5.0;
    cfg.exec.key_file = key_file(dir, rest, venue);
    cfg.run.dump_dir = dir.join("dumps");
    cfg.risk.limits.max_consecutive_losses = 0;
    cfg
}

/// Env keys would win over the key file: such an environment cannot run these tests.
pub fn env_has_keys() -> bool {
    [Venue::Binance, Venue::Bybit]
        .iter()
        .any(|&v| std::env::var_os(key_env(v).0).is_some())
}

/// Every symbol's engine position equals the exchange's, and the totals of fills agree.
pub fn assert_positions_equal(r: &RunReport, rest: &RestExchange) {
    for i in 0..r.symbols.len() {
        let name = r.symbols.name(SymbolId(i as u16));
        let ours = r.engine.position(i).unwrap().qty;
        let venue = rest.venue().with(|m| m.position(name).qty);
        assert_eq!(ours, venue, "{name}: engine {ours}, exchange {venue}");
    }
}
