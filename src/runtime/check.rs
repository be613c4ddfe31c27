//! `calculus-trader check`: the go/no-go check before a run. One table of `OK` / `WARN` /
//! `FAIL` rows: the config, the API keys (present, key file 0600, accepted by the venue), the
//! key's permissions, the venue's reachability and clock skew, the balance against one entry's
//! margin, the instrument specs of every symbol (status, differences from the bundled table),
//! the venue's leverage cap against `risk.max_leverage`, and the host tuning. Every venue call
//! is a read-only `GET`. In `embedded` / `paper` mode it runs against the embedded exchange,
//! started here as a run starts it. Keys and secrets are never printed.

use std::path::Path;
use std::time::{Duration, Instant};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::exec_setup::start_embedded_rest;
use super::{choose_topology, AllowedCores};
use crate::config::{resolve_path, Config, DEFAULT_TOML};
use crate::exchange::rest_orders::RestOptions;
use crate::exchange::RestExchange;
use crate::exec::clock::{local_unix_ms, ClockSync};
use crate::exec::keys::{check_key_file_mode, check_transport, ApiKeys, Secret};
use crate::exec::specs::VenueSpecs;
use crate::exec::ExecMode;
use crate::risk::config::SizingMethod;
use crate::tuning::host::{self, Host, Status};
use crate::types::instrument::load_specs;
use crate::types::Instrument;
use crate::venue::api::{ApiError, ApiRequest};
use crate::venue::binance::{self, BinanceApi};
use crate::venue::bybit::{self, BybitApi};
use crate::venue::Venue;

/// A row's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Ready.
    Ok,
    /// Runs, but look at it.
    Warn,
    /// Do not start.
    Fail,
}

impl Verdict {
    /// `OK`, `WARN`, `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// What was checked (`config`, `keys`, `clock`, …, `host <name>`).
    pub check: String,
    /// Verdict.
    pub verdict: Verdict,
    /// What was found, with the venue's code and message on a refusal.
    pub detail: String,
}

/// The whole check.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Rows in check order.
    pub rows: Vec<Row>,
}

impl CheckReport {
    fn push(&mut self, check: &str, verdict: Verdict, detail: impl Into<String>) {
        self.rows.push(Row {
            check: check.to_string(),
            verdict,
            detail: detail.into(),
        });
    }

    /// The row named `check`.
    pub fn row(&self, check: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.check == check)
    }

    /// Rows with `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }

    /// `true` when no row is `FAIL` (go).
    pub fn go(&self) -> bool {
        self.count(Verdict::Fail) == 0
    }

    /// The table: a header, one line per row, and the verdict line.
    pub fn render(&self) -> String {
        let w = self
            .rows
            .iter()
            .map(|r| r.check.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut out = format!("{:<w$}  {:<6}  DETAIL\n", "CHECK", "RESULT");
        for r in &self.rows {
            out.push_str(&format!(
                "{:<w$}  {:<6}  {}\n",
                r.check,
                r.verdict.label(),
                r.detail
            ));
        }
        let (f, wn) = (self.count(Verdict::Fail), self.count(Verdict::Warn));
        out.push_str(&if f == 0 {
            format!(
                "GO: {} check(s), {wn} warning(s), no failure\n",
                self.rows.len()
            )
        } else {
            format!("NO-GO: {f} failure(s), {wn} warning(s)\n")
        });
        out
    }
}

/// What the check may be told beyond the config.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Behaviour of the embedded exchange started in `embedded` / `paper` mode (tests play the
    /// venue's refusals with it).
    pub embedded: RestOptions,
    /// Keys handed over in-process instead of the environment / key file (tests).
    pub keys: Option<ApiKeys>,
    /// Host whose tuning is checked.
    pub host: Host,
    /// Timeout of each venue request.
    pub timeout: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            embedded: RestOptions::default(),
            keys: None,
            host: Host::live(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The config at `path`, else `config/default.toml` when present, else the built-in copy
/// (as a run loads it); validated. Returns it with where it came from.
pub fn load_config(path: Option<&Path>) -> Result<(Config, String), String> {
    let (cfg, from) = match path {
        Some(p) => (Config::load(p), p.display().to_string()),
        None if Path::new("config/default.toml").exists() => (
            Config::load(Path::new("config/default.toml")),
            "config/default.toml".to_string(),
        ),
        None => (Config::parse(DEFAULT_TOML), "built-in config".to_string()),
    };
    let cfg = cfg.map_err(|e| format!("{from}: {e}"))?;
    cfg.validate().map_err(|e| format!("{from}: {e}"))?;
    Ok((cfg, from))
}

/// `calculus-trader check`: prints the table; an error when any row is `FAIL`.
pub fn cli(config: Option<&Path>) -> Result<(), String> {
    let report = run(config, &CheckOptions::default());
    print!("{}", report.render());
    if report.go() {
        Ok(())
    } else {
        Err(format!(
            "no-go: {} check(s) failed",
            report.count(Verdict::Fail)
        ))
    }
}

/// Runs every check against the config at `config` (see [`load_config`]).
pub fn run(config: Option<&Path>, opts: &CheckOptions) -> CheckReport {
    let mut report = CheckReport::default();
    let cfg = match load_config(config) {
        Ok((cfg, from)) => {
            report.push(
                "config",
                Verdict::Ok,
                format!(
                    "{from}: valid ({}, {} symbol(s), exec.mode {})",
                    cfg.venue().name(),
                    cfg.venue.symbols.len(),
                    format!("{:?}", cfg.exec.mode).to_ascii_lowercase()
                ),
            );
            cfg
        }
        Err(e) => {
            report.push("config", Verdict::Fail, e);
            return report;
        }
    };
    venue_checks(&cfg, opts, &mut report);
    host_rows(&cfg, &opts.host, &mut report);
    report
}

/// Where the venue checks go and with which keys.
struct Target {
    base: String,
    keys: Option<ApiKeys>,
    /// The embedded exchange started for the check (kept alive while it runs).
    _embedded: Option<RestExchange>,
}

/// The `keys` row and the target: the embedded exchange (fresh keys) in `embedded` / `paper`
/// mode, else `exec.rest_url` with the keys from the environment or the key file.
fn target(cfg: &Config, opts: &CheckOptions, report: &mut CheckReport) -> Option<Target> {
    let venue = cfg.venue();
    let file =
        (!cfg.exec.key_file.as_os_str().is_empty()).then(|| resolve_path(&cfg.exec.key_file));
    if let Some(f) = &file {
        if let Err(e) = check_key_file_mode(f) {
            report.push("keys", Verdict::Fail, e.to_string());
            return None;
        }
    }
    if cfg.exec.mode == ExecMode::Paper || cfg.exec.rest_url == "embedded" {
        return match embedded_target(cfg, opts) {
            Ok((t, detail)) => {
                report.push("keys", Verdict::Ok, detail);
                Some(t)
            }
            Err(e) => {
                report.push("keys", Verdict::Fail, e);
                None
            }
        };
    }
    let loaded = match opts.keys.clone() {
        Some(k) => Ok(Some(k)),
        None => ApiKeys::load(venue, file.as_deref()).map_err(|e| e.to_string()),
    };
    let keys = match loaded {
        Ok(Some(k)) => {
            report.push("keys", Verdict::Ok, format!("present, from {}", k.origin));
            Some(k)
        }
        Ok(None) => {
            let (k, s) = venue.key_env_names();
            report.push(
                "keys",
                Verdict::Fail,
                format!("{k} / {s} are not set and no key file has a [{}] table (exec.key_file, mode 0600)", venue.name()),
            );
            None
        }
        Err(e) => {
            report.push("keys", Verdict::Fail, e);
            None
        }
    };
    if let Err(e) = check_transport(&cfg.exec.rest_url) {
        report.push(CLOCK, Verdict::Fail, format!("exec.rest_url: {e}"));
        return None;
    }
    Some(Target {
        base: cfg.exec.rest_url.trim_end_matches('/').to_string(),
        keys,
        _embedded: None,
    })
}

/// The embedded exchange listing the bundled specs of the configured symbols, funded with
/// `risk.balance`, behaving as `opts.embedded` says; its fresh keys (or the test's). Returns the
/// target and the `keys` row's detail.
fn embedded_target(cfg: &Config, opts: &CheckOptions) -> Result<(Target, String), String> {
    let names = &cfg.venue.symbols;
    let specs = load_specs(
        &resolve_path(&cfg.venue.instruments),
        cfg.venue().name(),
        names,
    )
    .map_err(|e| format!("embedded exchange: {e}"))?;
    let server = start_embedded_rest(cfg, names, &specs, None, opts.embedded.clone())?;
    let c = server.credentials();
    let keys = opts.keys.clone().unwrap_or_else(|| ApiKeys {
        venue: cfg.venue(),
        api_key: Secret::new(c.api_key.clone()),
        secret: Secret::new(c.secret.clone()),
        origin: "the embedded exchange".into(),
    });
    let mode = format!("{:?}", cfg.exec.mode).to_ascii_lowercase();
    let detail = format!(
        "{mode} mode: signed with keys from {} (no API keys needed)",
        keys.origin
    );
    let t = Target {
        base: server.url(),
        keys: Some(keys),
        _embedded: Some(server),
    };
    Ok((t, detail))
}

/// Row names of the venue checks, in order.
const CLOCK: &str = "venue clock";
const ACCEPTED: &str = "keys accepted";
const PERMISSIONS: &str = "permissions";
const BALANCE: &str = "balance";
const SPECS: &str = "specs";
const LEVERAGE: &str = "leverage";

/// Signed read-only requests to one venue, stamped with the venue's clock.
struct Client {
    agent: ureq::Agent,
    base: String,
    venue: Venue,
    api: Option<Api>,
    clock: ClockSync,
    recv_window_ms: u64,
}

/// The venue's request builder, signing with the checked keys.
enum Api {
    Binance(BinanceApi),
    Bybit(BybitApi),
}

impl Client {
    fn new(cfg: &Config, t: &Target, timeout: Duration, tls: ureq::tls::TlsConfig) -> Self {
        let recv = cfg.venue.recv_window_ms;
        let api = t.keys.as_ref().map(|k| {
            let (key, secret) = (k.api_key.expose(), k.secret.expose().as_bytes());
            match cfg.venue() {
                Venue::Binance => Api::Binance(BinanceApi::new(key, secret, recv)),
                Venue::Bybit => Api::Bybit(BybitApi::new(key, secret, recv)),
            }
        });
        Self {
            agent: ureq::Agent::config_builder()
                .tls_config(tls)
                .timeout_connect(Some(timeout))
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .build()
                .into(),
            base: t.base.clone(),
            venue: cfg.venue(),
            api,
            clock: ClockSync::new(),
            recv_window_ms: recv,
        }
    }

    /// Sends `req` (a GET); `(HTTP status, body)`. The error names the path, not the query.
    fn get(&self, req: &ApiRequest) -> Result<(u16, Vec<u8>), String> {
        let path = req.path_and_query.split('?').next().unwrap_or("");
        let mut r = self
            .agent
            .get(format!("{}{}", self.base, req.path_and_query));
        for (k, v) in &req.headers {
            r = r.header(*k, v.as_str());
        }
        let url = format!("{}{}", self.base, req.path_and_query);
        crate::exec::http::reply(r.call(), &url, &format!("GET {path}"))
    }

    /// Venue time now (local clock + the measured offset), Unix ms.
    fn ts(&self) -> u64 {
        self.clock.venue_ms(local_unix_ms())
    }
}

/// A venue reply error as a row detail (the venue's code and message for a refusal).
fn api_err(e: ApiError) -> String {
    e.to_string()
}

/// Every venue row: keys, clock, keys accepted, permissions, balance, specs, leverage.
fn venue_checks(cfg: &Config, opts: &CheckOptions, report: &mut CheckReport) {
    let Some(t) = target(cfg, opts, report) else {
        return;
    };
    let tls = match cfg.venue_trust() {
        Ok(trust) => trust.ureq(),
        Err(e) => {
            for name in [CLOCK, ACCEPTED, PERMISSIONS, BALANCE, SPECS, LEVERAGE] {
                report.push(name, Verdict::Fail, format!("not checked: {e}"));
            }
            return;
        }
    };
    let mut c = Client::new(cfg, &t, opts.timeout, tls);
    if !clock_row(&mut c, report) {
        for name in [ACCEPTED, PERMISSIONS, BALANCE, SPECS, LEVERAGE] {
            report.push(name, Verdict::Fail, "not checked: the venue is unreachable");
        }
        return;
    }
    let refused = match account(&c) {
        Err(e) => {
            report.push(ACCEPTED, Verdict::Fail, e);
            Some(if c.api.is_some() {
                "not checked: the keys were refused"
            } else {
                "not checked: no API keys"
            })
        }
        Ok(read) => {
            report.push(
                ACCEPTED,
                Verdict::Ok,
                format!("signed {} accepted", read.what),
            );
            permissions_row(&c, read.flags, report);
            balance_row(cfg, read.available, report);
            None
        }
    };
    if let Some(why) = refused {
        report.push(PERMISSIONS, Verdict::Fail, why);
        report.push(BALANCE, Verdict::Fail, why);
    }
    let specs = specs_row(cfg, &c, opts.timeout, report);
    match refused {
        Some(why) => report.push(LEVERAGE, Verdict::Fail, why),
        None => leverage_row(cfg, &c, specs.as_ref(), report),
    }
}

/// A time reply's parser: `(HTTP status, body)` → server time, Unix ms.
type TimeParser = fn(u16, &[u8]) -> Result<u64, ApiError>;

/// Reachability and clock skew: three round trips to the time endpoint; the offset is
/// `server − midpoint of the request` of the fastest one. `false` when unreachable.
fn clock_row(c: &mut Client, report: &mut CheckReport) -> bool {
    let (req, parse): (ApiRequest, TimeParser) = match c.venue {
        Venue::Binance => (BinanceApi::server_time(), binance::api::parse_time),
        Venue::Bybit => (BybitApi::server_time(), bybit::api::parse_time),
    };
    for _ in 0..3 {
        let t0 = local_unix_ms();
        let reply = c.get(&req);
        let t1 = local_unix_ms();
        match reply.map(|(st, body)| parse(st, &body).map_err(api_err)) {
            Ok(Ok(server)) => {
                c.clock.add_sample(t0, server, t1);
            }
            Ok(Err(e)) | Err(e) => {
                report.push(CLOCK, Verdict::Fail, format!("{} unreachable: {e}", c.base));
                return false;
            }
        }
    }
    let (off, rtt, recv) = (
        c.clock.offset_ms(),
        c.clock.best_rtt_ms().unwrap_or(0),
        c.recv_window_ms,
    );
    let skew = off.unsigned_abs();
    let verdict = if skew > recv {
        Verdict::Fail
    } else if skew > recv / 2 {
        Verdict::Warn
    } else {
        Verdict::Ok
    };
    let advice = match verdict {
        Verdict::Ok => String::new(),
        _ => "; sync the host clock (chrony/NTP)".to_string(),
    };
    report.push(
        CLOCK,
        verdict,
        format!(
            "{} reachable; clock offset {off:+} ms (server − request midpoint), round trip {rtt} ms, recvWindow {recv} ms{advice}",
            c.base
        ),
    );
    true
}

/// What the signed account read returned.
struct AccountRead {
    /// The request, for the row.
    what: &'static str,
    /// Available balance, USDT (Bybit: `totalAvailableBalance`, USD).
    available: Decimal,
    /// Binance `(canTrade, canWithdraw)` from the same reply.
    flags: Option<(bool, bool)>,
}

/// The signed account read that proves the keys: Binance `GET /fapi/v2/account`, Bybit
/// `GET /v5/account/wallet-balance`.
fn account(c: &Client) -> Result<AccountRead, String> {
    match &c.api {
        Some(Api::Binance(api)) => {
            let (st, body) = c.get(&api.account(c.ts()))?;
            let a = binance::account::parse_account(st, &body).map_err(api_err)?;
            Ok(AccountRead {
                what: "GET /fapi/v2/account",
                available: a.available_balance,
                flags: Some((a.can_trade, a.can_withdraw)),
            })
        }
        Some(Api::Bybit(api)) => {
            let (st, body) = c.get(&api.wallet_balance(c.ts()))?;
            let w = bybit::api::parse_wallet(st, &body).map_err(api_err)?;
            let available = w
                .total_available
                .or_else(|| w.asset("USDT").and_then(|a| a.available))
                .unwrap_or(Decimal::ZERO);
            Ok(AccountRead {
                what: "GET /v5/account/wallet-balance",
                available,
                flags: None,
            })
        }
        None => Err("no API keys".into()),
    }
}

/// Trading must be enabled (else `FAIL`); withdrawals should not be (else `WARN`). Binance:
/// `canTrade` / `canWithdraw` of `GET /fapi/v2/account` (the key's own restrictions are
/// documented only on the spot host's `GET /sapi/v1/account/apiRestrictions`); Bybit:
/// `GET /v5/user/query-api`.
fn permissions_row(c: &Client, binance_flags: Option<(bool, bool)>, report: &mut CheckReport) {
    let (trade, withdraw, what) = match (&c.api, binance_flags) {
        (Some(Api::Binance(_)), Some((t, w))) => (
            t,
            w,
            format!(
                "canTrade={t}, canWithdraw={w} (GET /fapi/v2/account; the key's own withdrawal permission is documented only at {} on the spot host: keep \"Enable Withdrawals\" off)",
                binance::account::API_RESTRICTIONS_PATH
            ),
        ),
        (Some(Api::Bybit(api)), _) => {
            let read = c
                .get(&api.query_api(c.ts()))
                .and_then(|(st, b)| bybit::account::parse_query_api(st, &b).map_err(api_err));
            match read {
                Ok(p) => (
                    p.can_trade(),
                    p.can_withdraw(),
                    format!(
                        "readOnly={}, ContractTrade={:?}, Wallet={:?} (GET /v5/user/query-api)",
                        u8::from(p.read_only),
                        p.contract_trade,
                        p.wallet
                    ),
                ),
                Err(e) => {
                    report.push(PERMISSIONS, Verdict::Fail, format!("GET /v5/user/query-api: {e}"));
                    return;
                }
            }
        }
        _ => return,
    };
    let (verdict, head) = match (trade, withdraw) {
        (false, _) => (Verdict::Fail, "trading disabled for this key"),
        (true, true) => (
            Verdict::Warn,
            "withdrawals enabled: a trading key should not withdraw",
        ),
        (true, false) => (Verdict::Ok, "trading enabled, withdrawals disabled"),
    };
    report.push(PERMISSIONS, verdict, format!("{head}: {what}"));
}

/// Margin one entry needs at the config's sizing, USDT: notional / `risk.max_leverage`, the
/// notional being `order_notional` (fixed_notional) or `balance · min(risk_per_trade,
/// max_risk_per_trade) / sl_fraction` (fixed_fractional, the stop at its floor distance),
/// capped at `balance · max_leverage`. Returns `(margin, notional)`.
pub fn entry_margin(cfg: &Config) -> (f64, f64) {
    let r = &cfg.risk;
    let notional = match r.sizing.method {
        SizingMethod::FixedNotional => r.order_notional,
        SizingMethod::FixedFractional => {
            let risk = r.sizing.risk_per_trade.min(r.limits.max_risk_per_trade);
            r.balance * risk / r.exits.sl_fraction
        }
    }
    .min(r.balance * r.max_leverage);
    (notional / r.max_leverage, notional)
}

/// `FAIL` when nothing is available; `WARN` when less than one entry's margin, or less than the
/// `risk.balance` the sizing assumes.
fn balance_row(cfg: &Config, available: Decimal, report: &mut CheckReport) {
    let (margin, notional) = entry_margin(cfg);
    let avail = available.to_f64().unwrap_or(0.0);
    let base = format!(
        "available {} USDT; one entry needs ≈ {margin:.2} USDT margin (notional {notional:.2} at leverage {})",
        available.normalize(),
        cfg.risk.max_leverage
    );
    let (verdict, detail) = if available <= Decimal::ZERO {
        (Verdict::Fail, format!("{base}: nothing to trade with"))
    } else if avail < margin {
        (Verdict::Warn, format!("{base}: not enough for one entry"))
    } else if avail < cfg.risk.balance {
        (
            Verdict::Warn,
            format!(
                "{base}; risk.balance {} is above what is available: sizes would be too large",
                cfg.risk.balance
            ),
        )
    } else {
        (Verdict::Ok, base)
    };
    report.push(BALANCE, verdict, detail);
}

/// Every configured symbol listed and trading at the venue (`FAIL` otherwise); `WARN` listing
/// the fields that differ from the bundled table. Returns the venue's specs.
fn specs_row(
    cfg: &Config,
    c: &Client,
    timeout: Duration,
    report: &mut CheckReport,
) -> Option<VenueSpecs> {
    let started = Instant::now();
    let tls = c.agent.config().tls_config().clone();
    let specs = crate::exec::specs::fetch_with(c.venue, &c.base, timeout, tls)
        .and_then(|body| VenueSpecs::parse(c.venue, &body));
    let specs = match specs {
        Ok(s) => s,
        Err(e) => {
            report.push(SPECS, Verdict::Fail, e);
            return None;
        }
    };
    let bundled = resolve_path(&cfg.venue.instruments);
    let (mut bad, mut diffs) = (Vec::new(), Vec::new());
    for sym in &cfg.venue.symbols {
        match specs.get(sym) {
            Err(e) => bad.push(e),
            Ok(live) => match load_specs(&bundled, c.venue.name(), std::slice::from_ref(sym)) {
                Ok(b) => diffs.extend(spec_diff(sym, &b[0], &live)),
                Err(_) => diffs.push(format!("{sym}: not in the bundled table")),
            },
        }
    }
    let n = cfg.venue.symbols.len();
    let took = started.elapsed().as_millis();
    let (verdict, detail) = if !bad.is_empty() {
        (Verdict::Fail, format!("not tradable: {}", bad.join("; ")))
    } else if !diffs.is_empty() {
        (
            Verdict::Warn,
            format!(
                "{n} symbol(s) trading; the venue's specs differ from the bundled table: {}",
                diffs.join("; ")
            ),
        )
    } else {
        (
            Verdict::Ok,
            format!(
                "{n} symbol(s) trading, specs as bundled ({} listed, {took} ms)",
                specs.len()
            ),
        )
    };
    report.push(SPECS, verdict, detail);
    Some(specs)
}

/// The fields of `venue` that differ from `bundled`, as `SYMBOL field bundled→venue`.
fn spec_diff(sym: &str, bundled: &Instrument, venue: &Instrument) -> Vec<String> {
    let pairs = [
        ("tickSize", bundled.tick_size, venue.tick_size),
        ("qtyStep", bundled.qty_step, venue.qty_step),
        ("minQty", bundled.min_qty, venue.min_qty),
        ("maxQty", bundled.max_qty, venue.max_qty),
        ("maxMarketQty", bundled.max_market_qty, venue.max_market_qty),
        ("minNotional", bundled.min_notional, venue.min_notional),
    ];
    let mut out: Vec<String> = pairs
        .iter()
        .filter(|(_, b, v)| b != v)
        .map(|(f, b, v)| format!("{sym} {f} {}→{}", b.normalize(), v.normalize()))
        .collect();
    if let (Some(b), Some(v)) = (bundled.max_leverage, venue.max_leverage) {
        if b != v {
            out.push(format!(
                "{sym} maxLeverage {}→{}",
                b.normalize(),
                v.normalize()
            ));
        }
    }
    out
}

/// The venue's highest leverage per configured symbol must reach `risk.max_leverage`:
/// Binance `initialLeverage` of the first bracket (`GET /fapi/v1/leverageBracket`), Bybit
/// `leverageFilter.maxLeverage` (instruments-info).
fn leverage_row(cfg: &Config, c: &Client, specs: Option<&VenueSpecs>, report: &mut CheckReport) {
    let caps: Result<Vec<(String, f64)>, String> = match &c.api {
        Some(Api::Binance(api)) => api
            .leverage_brackets(None, c.ts())
            .and_then(|r| c.get(&r))
            .and_then(|(st, b)| binance::account::parse_leverage_brackets(st, &b).map_err(api_err))
            .map(|v| v.into_iter().map(|(s, l)| (s, f64::from(l))).collect()),
        Some(Api::Bybit(_)) => match specs {
            Some(s) => Ok(cfg
                .venue
                .symbols
                .iter()
                .filter_map(|sym| {
                    let l = s.get(sym).ok()?.max_leverage?.to_f64()?;
                    Some((sym.clone(), l))
                })
                .collect()),
            None => Err("not checked: no instrument specs".into()),
        },
        None => Err("not checked: no API keys".into()),
    };
    let caps = match caps {
        Ok(c) => c,
        Err(e) => {
            report.push(LEVERAGE, Verdict::Fail, e);
            return;
        }
    };
    let want = cfg.risk.max_leverage;
    let mut low = Vec::new();
    let mut lowest: Option<(&str, f64)> = None;
    for sym in &cfg.venue.symbols {
        match caps.iter().find(|(s, _)| s.eq_ignore_ascii_case(sym)) {
            None => low.push(format!("{sym}: no leverage cap published")),
            Some((_, l)) if *l < want => low.push(format!("{sym} allows {l}x")),
            Some((_, l)) => {
                if lowest.map_or(true, |(_, m)| *l < m) {
                    lowest = Some((sym, *l));
                }
            }
        }
    }
    if low.is_empty() {
        let (s, l) = lowest.unwrap_or(("-", 0.0));
        report.push(
            LEVERAGE,
            Verdict::Ok,
            format!("every symbol allows ≥ risk.max_leverage {want}x (lowest: {s} {l}x)"),
        );
    } else {
        report.push(
            LEVERAGE,
            Verdict::Fail,
            format!("below risk.max_leverage {want}x: {}", low.join("; ")),
        );
    }
}

/// `check-host` for the hot cores the run would pin, one row per finding: `WARN` (never `FAIL`)
/// for a setting that costs latency or cannot be read.
fn host_rows(cfg: &Config, host: &Host, report: &mut CheckReport) {
    let pinned = choose_topology(cfg, &AllowedCores::detect()).hot_cores();
    for f in host::check_host(host, &pinned) {
        let verdict = match f.status {
            Status::Ok | Status::Info => Verdict::Ok,
            Status::Warn | Status::Unknown => Verdict::Warn,
        };
        let detail = match f.status {
            Status::Unknown => format!("unknown: {}", f.detail),
            _ => f.detail,
        };
        report.push(&format!("host {}", f.check), verdict, detail);
    }
}
