//! Instrument specs from the venues' own endpoints (cold path, start-up only): Bybit
//! `GET /v5/market/instruments-info?category=linear` and Binance `GET /fapi/v1/exchangeInfo`,
//! parsed into [`Instrument`]s; fetched over HTTPS (ureq + rustls) when configured, cached to
//! disk with an atomic write, falling back to the cache and then to the bundled specs.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::instrument::{load_specs, Instrument};
use super::keys::check_transport;
use crate::venue::binance::BinanceApi;
use crate::venue::bybit::BybitApi;
use crate::venue::Venue;

/// Where specs come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpecSource {
    /// The bundled table only (no network): the default, and what the embedded run uses.
    #[default]
    Bundled,
    /// The venue's endpoint at start-up, then the cache, then the bundled table.
    Venue,
}

/// `[venue.specs]`: where instrument specs come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpecsConfig {
    /// `bundled` (default) or `venue`.
    pub source: SpecSource,
    /// REST base URL of the instruments endpoint; empty = the venue's mainnet
    /// (`https://api.bybit.com`, `https://fapi.binance.com`). Plain `http://` only to loopback.
    pub rest_url: String,
    /// Cache file of the last good reply (written atomically); `{venue}` is replaced by the
    /// venue name.
    pub cache: PathBuf,
    /// HTTP timeout, seconds.
    pub timeout_s: f64,
}

impl Default for SpecsConfig {
    fn default() -> Self {
        Self {
            source: SpecSource::Bundled,
            rest_url: String::new(),
            cache: PathBuf::from("cache/instruments_{venue}.json"),
            timeout_s: 10.0,
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
        Ok(())
    }

    /// The cache path for `venue`.
    pub fn cache_path(&self, venue: Venue) -> PathBuf {
        PathBuf::from(
            self.cache
                .to_string_lossy()
                .replace("{venue}", venue.name()),
        )
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
    rows: BTreeMap<String, Result<Instrument, String>>,
}

fn dec(sym: &str, field: &str, v: &str) -> Result<Decimal, String> {
    Decimal::from_str(v).map_err(|_| format!("{sym}: {field} {v:?} is not a decimal"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitRow {
    symbol: String,
    #[serde(default)]
    status: String,
    price_filter: BybitPriceFilter,
    lot_size_filter: BybitLotFilter,
    leverage_filter: Option<BybitLeverageFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitPriceFilter {
    tick_size: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitLotFilter {
    qty_step: String,
    min_order_qty: String,
    max_order_qty: String,
    max_mkt_order_qty: Option<String>,
    min_notional_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitLeverageFilter {
    max_leverage: String,
}

impl BybitRow {
    fn instrument(&self) -> Result<Instrument, String> {
        let s = self.symbol.as_str();
        if !self.status.is_empty() && self.status != "Trading" {
            return Err(format!("{s}: status {:?}, not Trading", self.status));
        }
        let l = &self.lot_size_filter;
        let max_qty = dec(s, "lotSizeFilter.maxOrderQty", &l.max_order_qty)?;
        let max_mkt = match l.max_mkt_order_qty.as_deref() {
            Some(v) if !v.is_empty() => dec(s, "lotSizeFilter.maxMktOrderQty", v)?,
            _ => max_qty,
        };
        let min_notional = match l.min_notional_value.as_deref() {
            Some(v) if !v.is_empty() => dec(s, "lotSizeFilter.minNotionalValue", v)?,
            _ => Decimal::ZERO,
        };
        let max_lev = match &self.leverage_filter {
            Some(f) if !f.max_leverage.is_empty() => {
                Some(dec(s, "leverageFilter.maxLeverage", &f.max_leverage)?)
            }
            _ => None,
        };
        Instrument::new(
            dec(s, "priceFilter.tickSize", &self.price_filter.tick_size)?,
            dec(s, "lotSizeFilter.qtyStep", &l.qty_step)?,
            dec(s, "lotSizeFilter.minOrderQty", &l.min_order_qty)?,
            max_mkt,
            min_notional,
        )
        .map(|i| i.with_limits(max_qty, max_lev))
        .map_err(|e| format!("{s}: {e}"))
    }
}

#[derive(Deserialize)]
struct BinanceRow {
    symbol: String,
    #[serde(default)]
    status: String,
    filters: Vec<serde_json::Value>,
}

impl BinanceRow {
    fn filter(&self, kind: &str) -> Option<&serde_json::Value> {
        self.filters
            .iter()
            .find(|f| f.get("filterType").and_then(|t| t.as_str()) == Some(kind))
    }

    fn field(&self, kind: &str, key: &str) -> Result<Option<Decimal>, String> {
        match self.filter(kind).and_then(|f| f.get(key)) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(t) => dec(&self.symbol, &format!("{kind}.{key}"), t).map(Some),
                None => Err(format!("{}: {kind}.{key} is not a string", self.symbol)),
            },
        }
    }

    fn instrument(&self) -> Result<Instrument, String> {
        let s = self.symbol.as_str();
        if !self.status.is_empty() && self.status != "TRADING" {
            return Err(format!("{s}: status {:?}, not TRADING", self.status));
        }
        let need = |v: Option<Decimal>, what: &str| v.ok_or_else(|| format!("{s}: no {what}"));
        let tick = need(
            self.field("PRICE_FILTER", "tickSize")?,
            "PRICE_FILTER.tickSize",
        )?;
        let step = need(self.field("LOT_SIZE", "stepSize")?, "LOT_SIZE.stepSize")?;
        let min_qty = need(self.field("LOT_SIZE", "minQty")?, "LOT_SIZE.minQty")?;
        let max_qty = need(self.field("LOT_SIZE", "maxQty")?, "LOT_SIZE.maxQty")?;
        let m_step = self.field("MARKET_LOT_SIZE", "stepSize")?.unwrap_or(step);
        let m_min = self.field("MARKET_LOT_SIZE", "minQty")?.unwrap_or(min_qty);
        let m_max = self.field("MARKET_LOT_SIZE", "maxQty")?.unwrap_or(max_qty);
        // USD-M publishes `notional`; older/spot-style replies `minNotional`.
        let min_notional = match self.field("MIN_NOTIONAL", "notional")? {
            Some(n) => n,
            None => self
                .field("MIN_NOTIONAL", "minNotional")?
                .unwrap_or(Decimal::ZERO),
        };
        // One step must satisfy both lot filters: the coarser when it is a multiple of the finer.
        let step = if m_step > step && (m_step % step).is_zero() {
            m_step
        } else {
            step
        };
        Instrument::new(tick, step, min_qty.max(m_min), m_max, min_notional)
            .map(|i| i.with_limits(max_qty, None))
            .map_err(|e| format!("{s}: {e}"))
    }
}

impl VenueSpecs {
    /// Parses a Bybit `instruments-info` reply (one page) or a Binance `exchangeInfo` reply.
    pub fn parse(venue: Venue, body: &[u8]) -> Result<Self, String> {
        let rows = match venue {
            Venue::Bybit => Self::bybit_rows(body)?.0,
            Venue::Binance => {
                #[derive(Deserialize)]
                struct Info {
                    symbols: Vec<BinanceRow>,
                }
                if let Some(e) = super::venue_error::VenueError::from_binance(200, body) {
                    return Err(e.to_string());
                }
                let info: Info = serde_json::from_slice(body)
                    .map_err(|e| format!("exchangeInfo is malformed: {e}"))?;
                info.symbols
                    .iter()
                    .map(|r| (r.symbol.clone(), r.instrument()))
                    .collect()
            }
        };
        Ok(Self { venue, rows })
    }

    /// Rows of one Bybit page and its `nextPageCursor` (empty at the end).
    #[allow(clippy::type_complexity)]
    fn bybit_rows(
        body: &[u8],
    ) -> Result<(BTreeMap<String, Result<Instrument, String>>, String), String> {
        if let Some(e) = super::venue_error::VenueError::from_bybit(200, body) {
            return Err(e.to_string());
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            list: Vec<BybitRow>,
            #[serde(default)]
            next_page_cursor: String,
        }
        #[derive(Deserialize)]
        struct Envelope {
            result: Page,
        }
        let env: Envelope = serde_json::from_slice(body)
            .map_err(|e| format!("instruments-info is malformed: {e}"))?;
        let rows = env
            .result
            .list
            .iter()
            .map(|r| (r.symbol.clone(), r.instrument()))
            .collect();
        Ok((rows, env.result.next_page_cursor))
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

fn http_get(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, String> {
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
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
    check_transport(base_url).map_err(|e| e.to_string())?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(timeout))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
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
            let mut all: Vec<serde_json::Value> = Vec::new();
            let mut cursor = String::new();
            for _ in 0..20 {
                let req = BybitApi::instruments(Some(&cursor));
                let body = http_get(&agent, &format!("{base}{}", req.path_and_query))?;
                let (_, next) = VenueSpecs::bybit_rows(&body)?;
                let v: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                if let Some(list) = v["result"]["list"].as_array() {
                    all.extend(list.iter().cloned());
                }
                if next.is_empty() || next == cursor {
                    let merged = serde_json::json!({
                        "retCode": 0,
                        "retMsg": "OK",
                        "result": {"category": "linear", "list": all, "nextPageCursor": ""},
                    });
                    return serde_json::to_vec(&merged).map_err(|e| e.to_string());
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

/// Instruments for `symbols` on `venue` per `cfg`: `bundled` reads `bundled` (the spec table)
/// only; `venue` fetches, caches and parses, falling back to the cache and then to `bundled`.
/// Returns the instruments, where they came from, and a note per fallback taken.
pub fn load_instruments(
    venue: Venue,
    cfg: &SpecsConfig,
    bundled: &Path,
    symbols: &[String],
) -> Result<(Vec<Instrument>, SpecOrigin, Vec<String>), String> {
    let mut notes = Vec::new();
    if cfg.source == SpecSource::Venue {
        let url = cfg.base_url(venue);
        let cache = cfg.cache_path(venue);
        let timeout = Duration::from_secs_f64(cfg.timeout_s);
        match fetch(venue, &url, timeout)
            .and_then(|b| VenueSpecs::parse(venue, &b).map(|s| (b, s)))
            .and_then(|(b, s)| s.resolve(symbols).map(|v| (b, v)))
        {
            Ok((body, v)) => {
                if let Err(e) = write_atomic(&cache, &body) {
                    notes.push(format!("specs fetched but not cached: {e}"));
                }
                return Ok((v, SpecOrigin::Venue(url), notes));
            }
            Err(e) => notes.push(format!(
                "specs from {url} unavailable ({e}); trying the cache"
            )),
        }
        match read_maybe_gz(&cache)
            .and_then(|b| VenueSpecs::parse(venue, &b))
            .and_then(|s| s.resolve(symbols))
        {
            Ok(v) => return Ok((v, SpecOrigin::Cache(cache), notes)),
            Err(e) => notes.push(format!(
                "specs cache {} unusable ({e}); using the bundled specs",
                cache.display()
            )),
        }
    }
    let v = load_specs(bundled, venue.name(), symbols)?;
    Ok((v, SpecOrigin::Bundled(bundled.to_path_buf()), notes))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(full.venue.specs.source, SpecSource::Bundled);
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
