//! `--symbols N`: the N most liquid symbols by the venue's 24 h tickers (Binance
//! `GET /fapi/v1/ticker/24hr` `quoteVolume`, Bybit `GET /v5/market/tickers?category=linear`
//! `turnover24h`), among those with a usable spec (cold path, start-up only).

use std::time::Duration;

use super::keys::check_transport;
use super::specs::{agent_with, http_get};
use crate::venue::{binance, bybit, Venue};

/// `(symbol, 24 h quote volume)` of every ticker row of `venue` at `base_url`, trusting `tls`
/// (`venue.ca_file`; default: the bundled roots).
pub fn fetch(
    venue: Venue,
    base_url: &str,
    timeout: Duration,
    tls: ureq::tls::TlsConfig,
) -> Result<Vec<(String, f64)>, String> {
    check_transport(base_url).map_err(|e| e.to_string())?;
    let base = base_url.trim_end_matches('/');
    let path = match venue {
        Venue::Binance => binance::tickers::PATH,
        Venue::Bybit => bybit::tickers::PATH,
    };
    let body = http_get(&agent_with(timeout, tls), &format!("{base}{path}"))?;
    match venue {
        Venue::Binance => binance::tickers::parse(&body),
        Venue::Bybit => bybit::tickers::parse(&body),
    }
}

/// The `n` symbols of `volumes` with the highest volume that `ok` accepts (e.g. a spec that
/// parses: listed and trading, within the leverage cap), highest first (ties by name); an
/// error when fewer than `n` qualify.
pub fn top(
    mut volumes: Vec<(String, f64)>,
    n: usize,
    ok: impl Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    volumes.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let picked: Vec<String> = volumes
        .into_iter()
        .filter(|(s, _)| crate::types::symbols::valid_name(s) && ok(s))
        .map(|(s, _)| s.to_ascii_uppercase())
        .take(n)
        .collect();
    if picked.len() < n {
        return Err(format!(
            "--symbols {n}: the venue's tickers name only {} trading symbol(s) with a usable spec",
            picked.len()
        ));
    }
    Ok(picked)
}
