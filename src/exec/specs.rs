//! Instrument specs from the venues' own endpoints (cold path, start-up only): Bybit
//! `GET /v5/market/instruments-info?category=linear` and Binance `GET /fapi/v1/exchangeInfo`,
//! parsed into [`Instrument`]s; fetched over HTTPS (ureq + rustls) when configured, cached to
//! disk with an atomic write, falling back to the cache and then to the bundled specs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::keys::check_transport;
use crate::types::{instrument::load_specs, Instrument};
use crate::venue::binance::{self, BinanceApi};
use crate::venue::bybit::{self, BybitApi};
use crate::venue::{SpecRows, Venue};

/// Where specs come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpecSource {
    /// `venue` in `exec.mode = "live"`, `bundled` otherwise (the default).
    #[default]
    Auto,
    /// The bundled table only (no network).
    Bundled,
    /// The venue's endpoint at start-up, then a fresh-enough cache; outside live mode then
    /// the bundled table.
    Venue,
}

/// `[venue.specs]`: where instrument specs come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpecsConfig {
    /// `auto` (default), `bundled` or `venue`.
    pub source: SpecSource,
    /// Use the bundled table whatever `source` says (also `--offline-specs`): the only way to
    /// trade live without the venue's specs.
    pub offline: bool,
    /// Oldest cache live mode trades on when the venue cannot be reached, seconds (the cache
    /// keeps its fetch time); an older or undated cache leaves the symbols untraded.
    pub max_cache_age_s: f64,
    /// Seconds between spec refreshes on a cold thread (`source` = venue); 0 = never.
    pub refresh_s: f64,
    /// REST base URL of the instruments endpoint; empty = `exec.rest_url` when that is a URL
    /// (see [`SpecsConfig::with_exec_url`]), else the venue's mainnet (`https://api.bybit.com`,
    /// `https://fapi.binance.com`). Plain `http://` only to loopback.
    pub rest_url: String,
    /// Cache file of the last good reply (written atomically); `{venue}` is replaced by the
    /// venue name.
    pub cache: PathBuf,
    /// HTTP timeout, seconds.
    pub timeout_s: f64,
    /// Trust of the spec requests (`venue.ca_file`); not a config key, set at start-up.
    #[serde(skip)]
    pub tls: Option<ureq::tls::TlsConfig>,
}

impl Default for SpecsConfig {
    fn default() -> Self {
        Self {
            source: SpecSource::Auto,
            offline: false,
            max_cache_age_s: 86_400.0,
            refresh_s: 3_600.0,
            rest_url: String::new(),
            cache: PathBuf::from("cache/instruments_{venue}.json"),
            timeout_s: 10.0,
            tls: None,
        }
    }
}

impl SpecsConfig {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.timeout_s.is_finite() && self.timeout_s > 0.0 && self.timeout_s <= 300.0) {
            return Err(format!(
                "venue.specs.timeout_s must be in (0, 300], got {}",
                self.timeout_s
            ));
        }
        if !self.rest_url.is_empty() {
            check_transport(&self.rest_url).map_err(|e| format!("venue.specs.rest_url: {e}"))?;
        }
        if self.cache.as_os_str().is_empty() {
            return Err("venue.specs.cache must name a file".into());
        }
        if !(self.max_cache_age_s.is_finite() && self.max_cache_age_s >= 0.0) {
            return Err(format!(
                "venue.specs.max_cache_age_s must be ≥ 0, got {}",
                self.max_cache_age_s
            ));
        }
        if !(self.refresh_s == 0.0 || (self.refresh_s >= 0.1 && self.refresh_s <= 86_400.0)) {
            return Err(format!(
                "venue.specs.refresh_s must be 0 (off) or in [0.1, 86400], got {}",
                self.refresh_s
            ));
        }
        Ok(())
    }

    /// The source in effect: `offline` forces `bundled`; `auto` is `venue` when `live`.
    pub fn effective(&self, live: bool) -> SpecSource {
        match (self.offline, self.source) {
            (true, _) => SpecSource::Bundled,
            (false, SpecSource::Auto) if live => SpecSource::Venue,
            (false, SpecSource::Auto) => SpecSource::Bundled,
            (false, s) => s,
        }
    }

    /// The cache path for `venue`.
    pub fn cache_path(&self, venue: Venue) -> PathBuf {
        PathBuf::from(
            self.cache
                .to_string_lossy()
                .replace("{venue}", venue.name()),
        )
    }

    /// These settings with `rest_url` defaulting to `exec_rest_url` when that is an
    /// `http(s)://` URL (live mode: the specs come from the host orders go to, e.g. a testnet).
    pub fn with_exec_url(&self, exec_rest_url: &str) -> Self {
        let mut c = self.clone();
        if c.rest_url.is_empty() && exec_rest_url.starts_with("http") {
            c.rest_url = exec_rest_url.to_string();
        }
        c
    }

    /// The REST base URL for `venue`.
    pub fn base_url(&self, venue: Venue) -> String {
        if self.rest_url.is_empty() {
            venue.mainnet_rest_url().to_string()
        } else {
            self.rest_url.trim_end_matches('/').to_string()
        }
    }
}

/// Every instrument of one venue reply, by symbol. A row that does not parse keeps its error,
/// so a bad row of a symbol we do not trade does not block the ones we do.
#[derive(Clone, Debug)]
pub struct VenueSpecs {
    /// Venue.
    pub venue: Venue,
    rows: SpecRows,
}

impl VenueSpecs {
    /// Parses a Bybit `instruments-info` reply (one page) or a Binance `exchangeInfo` reply.
    pub fn parse(venue: Venue, body: &[u8]) -> Result<Self, String> {
        let rows = match venue {
            Venue::Bybit => bybit::spec::parse_instruments(body)?.0,
            Venue::Binance => binance::spec::parse_exchange_info(body)?,
        };
        Ok(Self { venue, rows })
    }

    /// Number of symbols in the reply.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// `true` when the reply listed no symbols.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The instrument of `symbol` (exact venue spelling, case-insensitive).
    pub fn get(&self, symbol: &str) -> Result<Instrument, String> {
        match self.rows.get(&symbol.to_ascii_uppercase()) {
            Some(r) => r.clone(),
            None => Err(format!(
                "{} lists no instrument {symbol}",
                self.venue.name()
            )),
        }
    }

    /// The symbols whose row parsed into an instrument, in symbol order.
    pub fn tradable(&self) -> impl Iterator<Item = &str> + '_ {
        self.rows
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(k, _)| k.as_str())
    }

    /// The instruments of `symbols`, in order; the first failure names the symbol.
    pub fn resolve(&self, symbols: &[String]) -> Result<Vec<Instrument>, String> {
        symbols.iter().map(|s| self.get(s)).collect()
    }
}

/// Reads a gzip or plain JSON file (the bundled captures are gzip).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("{} is not valid gzip: {e}", path.display()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Persist the rename itself.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A blocking HTTP agent with `timeout` for connect and the whole request (cold path),
/// trusting `tls` (`venue.ca_file`, see [`crate::feed::tls::VenueTrust::ureq`]).
pub(crate) fn agent_with(timeout: Duration, tls: ureq::tls::TlsConfig) -> ureq::Agent {
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(timeout))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// `GET url`: the body of a 200 reply, else an error naming the status and the body's head.
pub(crate) fn http_get(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let (status, body) = super::http::reply(agent.get(url).call(), url, &format!("GET {url}"))?;
    if status != 200 {
        let head = &body[..body.len().min(4096)];
        return Err(format!(
            "GET {url}: HTTP {status}: {}",
            String::from_utf8_lossy(head).trim()
        ));
    }
    Ok(body)
}

/// Fetches the venue's instruments reply from `base_url` (blocking, start-up only). Bybit pages
/// are merged into one reply of the same shape, so the cache parses like a fresh reply.
pub fn fetch(venue: Venue, base_url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    fetch_with(venue, base_url, timeout, Default::default())
}

/// [`fetch`] trusting `tls` (`venue.ca_file`, see [`crate::feed::tls::VenueTrust::ureq`]).
pub fn fetch_with(
    venue: Venue,
    base_url: &str,
    timeout: Duration,
    tls: ureq::tls::TlsConfig,
) -> Result<Vec<u8>, String> {
    check_transport(base_url).map_err(|e| e.to_string())?;
    let agent = agent_with(timeout, tls);
    let base = base_url.trim_end_matches('/');
    match venue {
        Venue::Binance => {
            let body = http_get(
                &agent,
                &format!("{base}{}", BinanceApi::exchange_info().path_and_query),
            )?;
            VenueSpecs::parse(venue, &body)?;
            Ok(body)
        }
        Venue::Bybit => {
            let mut pages = bybit::spec::InstrumentPages::default();
            let mut cursor = String::new();
            for _ in 0..20 {
                let req = BybitApi::instruments(Some(&cursor));
                let body = http_get(&agent, &format!("{base}{}", req.path_and_query))?;
                let next = pages.add(&body)?;
                if next.is_empty() || next == cursor {
                    return pages.merged();
                }
                cursor = next;
            }
            Err("instruments-info: more than 20 pages".into())
        }
    }
}

/// Where the specs in use came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecOrigin {
    /// Fetched from the venue now (and cached).
    Venue(String),
    /// The on-disk cache of an earlier fetch.
    Cache(PathBuf),
    /// The bundled table.
    Bundled(PathBuf),
}

/// Unix ms of the wall clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The cache document: `{"fetched_ms": <Unix ms>, "reply": <the venue's reply>}`.
pub fn cache_doc(body: &[u8], fetched_ms: u64) -> Result<Vec<u8>, String> {
    let reply: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("reply is not JSON: {e}"))?;
    serde_json::to_vec(&serde_json::json!({"fetched_ms": fetched_ms, "reply": reply}))
        .map_err(|e| e.to_string())
}

/// Reads a spec cache: the reply and its fetch time (Unix ms). A bare reply (a cache written
/// before fetch times were kept, a copied capture) has none.
pub fn read_cache(path: &Path) -> Result<(Vec<u8>, Option<u64>), String> {
    let raw = read_maybe_gz(path)?;
    let v: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    match (v.get("fetched_ms").and_then(|t| t.as_u64()), v.get("reply")) {
        (Some(t), Some(r)) => Ok((serde_json::to_vec(r).map_err(|e| e.to_string())?, Some(t))),
        _ => Ok((raw, None)),
    }
}

/// Fetches the venue's reply, checks it parses, caches it with its fetch time.
pub fn fetch_and_cache(
    venue: Venue,
    cfg: &SpecsConfig,
) -> Result<(VenueSpecs, Vec<String>), String> {
    let url = cfg.base_url(venue);
    let timeout = Duration::from_secs_f64(cfg.timeout_s);
    let body = fetch_with(venue, &url, timeout, cfg.tls.clone().unwrap_or_default())?;
    let specs = VenueSpecs::parse(venue, &body)?;
    let mut notes = Vec::new();
    let cache = cfg.cache_path(venue);
    if let Err(e) = cache_doc(&body, now_ms()).and_then(|d| write_atomic(&cache, &d)) {
        notes.push(format!("specs fetched but not cached: {e}"));
    }
    Ok((specs, notes))
}

/// The cached reply when it is younger than `max_age` (`None` = any age, undated included).
fn cached_specs(
    venue: Venue,
    cache: &Path,
    max_age: Option<Duration>,
) -> Result<VenueSpecs, String> {
    let (body, fetched) = read_cache(cache)?;
    if let Some(max) = max_age {
        let Some(t) = fetched else {
            return Err("it has no fetch time".into());
        };
        let age = Duration::from_millis(now_ms().saturating_sub(t));
        if age > max {
            return Err(format!(
                "fetched {} s ago, older than venue.specs.max_cache_age_s = {}",
                age.as_secs(),
                max.as_secs()
            ));
        }
    }
    VenueSpecs::parse(venue, &body)
}

/// The venue's whole spec reply (`source = venue`): fetched now (and cached with its fetch
/// time), else the cache when no older than `max_age` (`None` = any age), whichever resolves
/// every symbol of `required`; `None` when neither does. Also a note per fallback taken.
pub fn load_venue_specs(
    venue: Venue,
    cfg: &SpecsConfig,
    required: &[String],
    max_age: Option<Duration>,
) -> (Option<(VenueSpecs, SpecOrigin)>, Vec<String>) {
    let url = cfg.base_url(venue);
    let cache = cfg.cache_path(venue);
    let mut notes = Vec::new();
    match fetch_and_cache(venue, cfg).and_then(|(s, n)| s.resolve(required).map(|_| (s, n))) {
        Ok((s, n)) => {
            notes.extend(n);
            return (Some((s, SpecOrigin::Venue(url))), notes);
        }
        Err(e) => notes.push(format!(
            "specs from {url} unavailable ({e}); trying the cache"
        )),
    }
    match cached_specs(venue, &cache, max_age).and_then(|s| s.resolve(required).map(|_| s)) {
        Ok(s) => return (Some((s, SpecOrigin::Cache(cache))), notes),
        Err(e) => notes.push(format!("specs cache {} unusable ({e})", cache.display())),
    }
    (None, notes)
}

/// Instruments for `symbols` on `venue` per `cfg` outside live mode: `bundled` reads `bundled`
/// (the spec table) only; `venue` fetches, caches and parses, falling back to the cache and then to `bundled`
/// ([`load_venue_specs`]). Returns the instruments, where they came from, and a note per
/// fallback taken.
pub fn load_instruments(
    venue: Venue,
    cfg: &SpecsConfig,
    bundled: &Path,
    symbols: &[String],
) -> Result<(Vec<Instrument>, SpecOrigin, Vec<String>), String> {
    let mut notes = Vec::new();
    if cfg.effective(false) == SpecSource::Venue {
        let (found, n) = load_venue_specs(venue, cfg, symbols, None);
        notes = n;
        if let Some((s, origin)) = found {
            return Ok((s.resolve(symbols)?, origin, notes));
        }
    }
    let v = load_specs(bundled, venue.name(), symbols)?;
    Ok((v, SpecOrigin::Bundled(bundled.to_path_buf()), notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn bybit_row_maps_every_filter() {
        let body = br#"{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":[
          {"symbol":"BTCUSDT","status":"Trading","priceFilter":{"minPrice":"0.10","maxPrice":"1999999.80","tickSize":"0.10"},
           "lotSizeFilter":{"maxOrderQty":"1190.000","minOrderQty":"0.001","qtyStep":"0.001","maxMktOrderQty":"500.000","minNotionalValue":"5"},
           "leverageFilter":{"minLeverage":"1","maxLeverage":"100.00","leverageStep":"0.01"}},
          {"symbol":"BADUSDT","status":"Trading","priceFilter":{"tickSize":"x"},
           "lotSizeFilter":{"maxOrderQty":"1","minOrderQty":"1","qtyStep":"1"}}],"nextPageCursor":""}}"#;
        let s = VenueSpecs::parse(Venue::Bybit, body).unwrap();
        let i = s.get("BTCUSDT").unwrap();
        assert_eq!(i.tick_size, d("0.10"));
        assert_eq!(i.max_market_qty, d("500.000"));
        assert_eq!(i.max_qty, d("1190.000"));
        assert_eq!(i.max_leverage, Some(d("100.00")));
        let e = s.get("BADUSDT").unwrap_err();
        assert!(e.contains("BADUSDT") && e.contains("tickSize"), "{e}");
        assert!(s.get("NOPE").unwrap_err().contains("NOPE"));
    }

    #[test]
    fn a_venue_error_reply_is_not_an_empty_spec_table() {
        let e = VenueSpecs::parse(
            Venue::Bybit,
            br#"{"retCode":10001,"retMsg":"Not supported symbols","result":{}}"#,
        )
        .unwrap_err();
        assert!(e.contains("10001"), "{e}");
        let e = VenueSpecs::parse(Venue::Binance, br#"{"code":-1121,"msg":"Invalid symbol."}"#)
            .unwrap_err();
        assert!(e.contains("-1121"), "{e}");
    }

    #[test]
    fn config_section_rejects_unknown_keys_and_keeps_defaults() {
        let c: SpecsConfig = toml::from_str("source = \"venue\"").unwrap();
        assert_eq!(c.source, SpecSource::Venue);
        assert_eq!(c.timeout_s, 10.0);
        let e = toml::from_str::<SpecsConfig>("sorce = \"venue\"").unwrap_err();
        assert!(e.to_string().contains("sorce"), "{e}");
        let full = crate::config::Config::parse(crate::config::DEFAULT_TOML).unwrap();
        assert_eq!(full.venue.specs.source, SpecSource::Auto);
        assert_eq!(full.venue.specs.effective(false), SpecSource::Bundled);
        assert_eq!(full.venue.specs.effective(true), SpecSource::Venue);
        let offline = SpecsConfig {
            offline: true,
            source: SpecSource::Venue,
            ..SpecsConfig::default()
        };
        assert_eq!(offline.effective(true), SpecSource::Bundled);
        assert!(!full.venue.live, "--live is never set from a file");
    }

    #[test]
    fn cache_path_and_url_defaults() {
        let c = SpecsConfig::default();
        assert_eq!(
            c.cache_path(Venue::Bybit),
            PathBuf::from("cache/instruments_bybit.json")
        );
        assert_eq!(c.base_url(Venue::Binance), "https://fapi.binance.com");
        assert!(c.validate().is_ok());
        let bad = SpecsConfig {
            rest_url: "http://api.bybit.com".into(),
            ..SpecsConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("rest_url"));
    }
}
