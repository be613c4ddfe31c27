//! The account of a venue order route (the embedded REST exchange, a loopback one, or the live
//! venue), on cold threads only: at start the venue clock offset, the wallet balance, and each
//! symbol's margin mode and leverage (a symbol whose cap is below the configured leverage is
//! refused); then a thread that measures the clock again every `exec.account.clock_interval_s`
//! (at once after a timestamp error) and reads the balance every
//! `exec.account.balance_interval_s` (at once after an insufficient-margin refusal), handing it
//! to the compute thread as [`Command::Balance`] through the operator command ring (no lock on
//! the hot path: the ring is SPSC, the control handle's producer lock is taken on cold threads
//! only). Every signed request is stamped with the venue clock and, on a timestamp error
//! (Binance -1021, Bybit 10002), resent once after a re-sync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;

use crate::control::ControlHandle;
use crate::exec::account_config::{AccountConfig, MarginMode};
use crate::exec::clock::{local_unix_ms, AccountLink, ClockSync};
use crate::types::control::Command;
use crate::types::SymbolId;
use crate::venue::api::{ApiError, ApiRequest, Method};
use crate::venue::binance::{self, BinanceApi};
use crate::venue::bybit::{self, BybitApi};
use crate::venue::error::{ErrorKind, VenueError};
use crate::venue::Venue;

/// The venue's request builder.
enum Api {
    Binance(BinanceApi),
    Bybit(BybitApi),
}

/// Signed account requests to one venue (blocking, cold threads only).
pub struct AccountClient {
    agent: ureq::Agent,
    base: String,
    api: Api,
    timeout: Duration,
    link: Arc<AccountLink>,
}

impl std::fmt::Debug for AccountClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A symbol's start-up preparation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// Margin mode and leverage are set (one line saying what the venue answered).
    Ready(String),
    /// Not traded: why.
    Refused(String),
}

impl AccountClient {
    /// A client of `venue` at `base` signing with `api_key` / `secret`, stamping with `link`'s
    /// clock.
    pub fn new(
        venue: Venue,
        base: &str,
        (api_key, secret): (&str, &[u8]),
        recv_window_ms: u64,
        timeout: Duration,
        link: Arc<AccountLink>,
    ) -> Self {
        Self {
            agent: ureq::Agent::config_builder()
                .timeout_connect(Some(timeout))
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .build()
                .into(),
            base: base.trim_end_matches('/').to_string(),
            api: match venue {
                Venue::Binance => Api::Binance(BinanceApi::new(api_key, secret, recv_window_ms)),
                Venue::Bybit => Api::Bybit(BybitApi::new(api_key, secret, recv_window_ms)),
            },
            timeout,
            link,
        }
    }

    /// The link shared with the executor.
    pub fn link(&self) -> &Arc<AccountLink> {
        &self.link
    }

    fn venue(&self) -> Venue {
        match self.api {
            Api::Binance(_) => Venue::Binance,
            Api::Bybit(_) => Venue::Bybit,
        }
    }

    /// The same client trusting `tls` (`venue.ca_file`, see
    /// [`crate::feed::tls::VenueTrust::ureq`]).
    pub fn with_tls(mut self, tls: ureq::tls::TlsConfig) -> Self {
        self.agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_connect(Some(self.timeout))
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        self
    }

    /// Sends `req`; `(HTTP status, body)`. The error names the path, never the query.
    fn send(&self, req: &ApiRequest) -> Result<(u16, Vec<u8>), String> {
        let path = req.path_and_query.split('?').next().unwrap_or("");
        let url = format!("{}{}", self.base, req.path_and_query);
        let what = format!("{} {path}", req.method.as_str());
        let result = match req.method {
            Method::Post | Method::Put => {
                let mut r = if req.method == Method::Post {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                for (k, v) in &req.headers {
                    r = r.header(*k, v.as_str());
                }
                r.send(&req.body[..])
            }
            Method::Get | Method::Delete => {
                let mut r = if req.method == Method::Get {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                for (k, v) in &req.headers {
                    r = r.header(*k, v.as_str());
                }
                r.call()
            }
        };
        crate::exec::http::reply(result, &url, &what)
    }

    /// The venue's error in a reply, if any.
    fn venue_error(&self, status: u16, body: &[u8]) -> Option<VenueError> {
        match self.venue() {
            Venue::Binance => VenueError::from_binance(status, body),
            Venue::Bybit => VenueError::from_bybit(status, body),
        }
    }

    /// A signed request built by `build` for the venue time now; on a timestamp error the
    /// clock is re-synced and the request resent once (the venue did not act on it).
    fn signed(
        &self,
        build: impl Fn(&Api, u64) -> Result<ApiRequest, String>,
    ) -> Result<(u16, Vec<u8>), String> {
        let ts = self.link.clock.venue_ms(local_unix_ms());
        let (status, body) = self.send(&build(&self.api, ts)?)?;
        match self.venue_error(status, &body) {
            Some(e) if e.kind == ErrorKind::Timestamp => {
                eprintln!("note: {e}; re-syncing the venue clock and resending once");
                self.sync_clock()?;
                let ts = self.link.clock.venue_ms(local_unix_ms());
                self.send(&build(&self.api, ts)?)
            }
            _ => Ok((status, body)),
        }
    }

    /// Measures the venue clock offset (three round trips to the time endpoint, the fastest
    /// wins: [`ClockSync`]) and stores it in the link. Returns `(offset ms, round trip ms)`.
    pub fn sync_clock(&self) -> Result<(i64, u64), String> {
        let mut c = ClockSync::new();
        for _ in 0..3 {
            let req = match self.api {
                Api::Binance(_) => BinanceApi::server_time(),
                Api::Bybit(_) => BybitApi::server_time(),
            };
            let t0 = local_unix_ms();
            let (status, body) = self.send(&req)?;
            let t1 = local_unix_ms();
            let server = match self.api {
                Api::Binance(_) => binance::api::parse_time(status, &body),
                Api::Bybit(_) => bybit::api::parse_time(status, &body),
            }
            .map_err(|e| format!("venue time: {e}"))?;
            c.add_sample(t0, server, t1);
        }
        self.link.clock.store(c.offset_ms());
        Ok((c.offset_ms(), c.best_rtt_ms().unwrap_or(0)))
    }

    /// The wallet: `(wallet balance, available balance)`, USDT. Binance `GET /fapi/v2/balance`
    /// (the USDT row's `balance`, `availableBalance`); Bybit `GET /v5/account/wallet-balance`
    /// (`totalWalletBalance` of USDT's `walletBalance`, `totalAvailableBalance`).
    pub fn balance(&self) -> Result<(Decimal, Decimal), String> {
        let (status, body) = self.signed(|api, ts| {
            Ok(match api {
                Api::Binance(a) => a.wallet_balance(ts),
                Api::Bybit(a) => a.wallet_balance(ts),
            })
        })?;
        let w = match self.api {
            Api::Binance(_) => binance::api::parse_wallet(status, &body),
            Api::Bybit(_) => bybit::api::parse_wallet(status, &body),
        }
        .map_err(|e| format!("balance: {e}"))?;
        let usdt = w.asset("USDT");
        let wallet = usdt.map(|a| a.wallet_balance).unwrap_or(Decimal::ZERO);
        let available = w
            .total_available
            .or_else(|| usdt.and_then(|a| a.available))
            .unwrap_or(wallet);
        Ok((wallet, available))
    }

    /// The venue's positions (Binance `GET /fapi/v2/positionRisk`, Bybit
    /// `GET /v5/position/list?category=linear&settleCoin=USDT`): the private stream's re-sync.
    pub fn positions(&self) -> Result<Vec<crate::venue::reply::VenuePosition>, String> {
        let (status, body) = self.signed(|api, ts| {
            Ok(match api {
                Api::Binance(a) => a.signed(Method::Get, "/fapi/v2/positionRisk", "", ts),
                Api::Bybit(a) => {
                    a.signed_get("/v5/position/list", "category=linear&settleCoin=USDT", ts)
                }
            })
        })?;
        match self.api {
            Api::Binance(_) => binance::api::parse_positions(status, &body),
            Api::Bybit(_) => bybit::api::parse_positions(status, &body),
        }
        .map_err(|e| format!("positions: {e}"))
    }

    /// Binance `POST` (open: the active key or a new one) or `PUT` (keepalive)
    /// `/fapi/v1/listenKey` with the API key; the key (`PUT`: the one kept alive, `""`).
    pub fn listen_key(&self, method: Method) -> Result<String, String> {
        let Api::Binance(a) = &self.api else {
            return Err("a listenKey is Binance's".into());
        };
        let (status, body) =
            self.send(&binance::private::listen_key_request(method, a.api_key()))?;
        if let Some(e) = self.venue_error(status, &body) {
            return Err(format!("listenKey {}: {e}", method.as_str()));
        }
        match method {
            Method::Post => binance::private::parse_listen_key(&body)
                .ok_or_else(|| "listenKey: reply without a key".to_string()),
            _ => Ok(String::new()),
        }
    }

    /// Bybit's private-stream `auth` request valid until venue time `expires_ms`.
    pub fn bybit_auth(&self, expires_ms: u64) -> Result<String, String> {
        match &self.api {
            Api::Bybit(a) => Ok(a.ws_auth(expires_ms)),
            Api::Binance(_) => Err("the auth request is Bybit's".into()),
        }
    }

    /// The venue's highest leverage per symbol of `names` (`None`: not published): Binance
    /// `initialLeverage` of the first bracket (`GET /fapi/v1/leverageBracket`, every symbol in
    /// one request), Bybit `leverageFilter.maxLeverage` (instruments-info, every page).
    pub fn leverage_caps(&self, names: &[String]) -> Result<Vec<Option<Decimal>>, String> {
        match self.api {
            Api::Binance(_) => {
                let (status, body) = self.signed(|api, ts| match api {
                    Api::Binance(a) => a.leverage_brackets(None, ts),
                    Api::Bybit(_) => Err("not Binance".into()),
                })?;
                let caps = binance::account::parse_leverage_brackets(status, &body)
                    .map_err(|e| format!("leverage brackets: {e}"))?;
                Ok(names
                    .iter()
                    .map(|n| {
                        caps.iter()
                            .find(|(s, _)| s.eq_ignore_ascii_case(n))
                            .map(|(_, l)| Decimal::from(*l))
                    })
                    .collect())
            }
            Api::Bybit(_) => {
                let body = crate::exec::specs::fetch_with(
                    Venue::Bybit,
                    &self.base,
                    self.timeout,
                    self.agent.config().tls_config().clone(),
                )?;
                let specs = crate::exec::specs::VenueSpecs::parse(Venue::Bybit, &body)?;
                Ok(names
                    .iter()
                    .map(|n| specs.get(n).ok().and_then(|i| i.max_leverage))
                    .collect())
            }
        }
    }

    /// Sets the margin mode: Binance per symbol (`POST /fapi/v1/marginType`; `-4046` = already
    /// so); Bybit account-wide on a unified account (`POST /v5/account/set-margin-mode`, sent
    /// once: `symbol = None`). Returns what the venue said.
    pub fn set_margin_mode(
        &self,
        symbol: Option<&str>,
        mode: MarginMode,
    ) -> Result<String, String> {
        match (&self.api, symbol) {
            (Api::Binance(_), Some(s)) => {
                let (status, body) = self.signed(|api, ts| match api {
                    Api::Binance(a) => a.set_margin_type(s, mode.binance(), ts),
                    Api::Bybit(_) => Err("not Binance".into()),
                })?;
                match binance::account::parse_margin_type(status, &body) {
                    Ok(true) => Ok(format!("marginType {}", mode.binance())),
                    Ok(false) => Ok(format!("marginType already {}", mode.binance())),
                    Err(e) => Err(format!("marginType {}: {e}", mode.binance())),
                }
            }
            (Api::Bybit(_), None) => {
                let (status, body) = self.signed(|api, ts| match api {
                    Api::Bybit(a) => a.set_margin_mode(mode.bybit(), ts),
                    Api::Binance(_) => Err("not Bybit".into()),
                })?;
                bybit::api::parse_ack(status, &body)
                    .map(|_| format!("account margin mode {}", mode.bybit()))
                    .map_err(|e| format!("set-margin-mode {}: {e}", mode.bybit()))
            }
            _ => Ok(String::new()),
        }
    }

    /// Sets `symbol`'s leverage (Bybit `110043` = already so: success).
    fn set_leverage(&self, symbol: &str, leverage: u32) -> Result<String, ApiError> {
        let (status, body) = self
            .signed(|api, ts| match api {
                Api::Binance(a) => a.set_leverage(symbol, leverage, ts),
                Api::Bybit(a) => a.set_leverage(symbol, Decimal::from(leverage), ts),
            })
            .map_err(ApiError::Malformed)?;
        match self.api {
            Api::Binance(_) => {
                binance::api::parse_leverage(status, &body).map(|l| format!("leverage {l}x"))
            }
            Api::Bybit(_) => bybit::api::parse_ack(status, &body).map(|changed| {
                if changed {
                    format!("leverage {leverage}x")
                } else {
                    format!("leverage already {leverage}x")
                }
            }),
        }
    }

    /// Before `symbol`'s first entry: the venue's cap (`cap`, from
    /// [`AccountClient::leverage_caps`]) must reach `leverage` (else refused), then the margin
    /// mode (Binance; Bybit's is account-wide) and the leverage are set.
    pub fn prepare_symbol(
        &self,
        symbol: &str,
        cap: Option<Decimal>,
        leverage: u32,
        mode: MarginMode,
    ) -> Prepared {
        let Some(cap) = cap else {
            return Prepared::Refused(format!(
                "{symbol}: the venue publishes no leverage cap for it: not traded"
            ));
        };
        if cap < Decimal::from(leverage) {
            return Prepared::Refused(format!(
                "{symbol}: the venue allows at most {}x, below the configured leverage {leverage}x (exec.account.leverage / risk.max_leverage): not traded",
                cap.normalize()
            ));
        }
        let margin = if self.venue() == Venue::Binance {
            match self.set_margin_mode(Some(symbol), mode) {
                Ok(m) => m,
                Err(e) => return Prepared::Refused(format!("{symbol}: {e}: not traded")),
            }
        } else {
            String::new()
        };
        match self.set_leverage(symbol, leverage) {
            Ok(l) if margin.is_empty() => Prepared::Ready(format!("{symbol}: {l}")),
            Ok(l) => Prepared::Ready(format!("{symbol}: {margin}, {l}")),
            Err(e) => Prepared::Refused(format!(
                "{symbol}: set leverage {leverage}x: {e}: not traded"
            )),
        }
    }
}

/// What the start-up account steps found.
#[derive(Debug)]
pub struct AccountStart {
    /// The client (moved to the account thread).
    pub client: AccountClient,
    /// `(wallet, available)` at start.
    pub balance: (Decimal, Decimal),
    /// Symbols not traded, with why.
    pub refused: Vec<(SymbolId, String)>,
    /// Every symbol of the run, in id order.
    pub names: Vec<String>,
    /// One line per step, for the start banner.
    pub lines: Vec<String>,
}

/// Start-up: clock, balance, margin mode and leverage of the first `active` symbols of `names`
/// (those trading at start; the others are readied when added, [`preparer`]).
pub fn start(
    client: AccountClient,
    cfg: &AccountConfig,
    max_leverage: f64,
    names: &[String],
    active: usize,
) -> Result<AccountStart, String> {
    let (off, rtt) = client
        .sync_clock()
        .map_err(|e| format!("venue clock: {e}"))?;
    let mut lines = vec![format!(
        "venue clock offset {off:+} ms (round trip {rtt} ms)"
    )];
    let balance = client.balance().map_err(|e| format!("wallet: {e}"))?;
    lines.push(format!(
        "wallet {} USDT, available {} USDT (entries are sized from the available balance)",
        balance.0.normalize(),
        balance.1.normalize()
    ));
    if client.venue() == Venue::Bybit {
        let m = client.set_margin_mode(None, cfg.margin_mode)?;
        lines.push(format!("{m} (account-wide on a unified account)"));
    }
    let leverage = cfg.leverage_for(max_leverage);
    let active = &names[..active.min(names.len())];
    let caps = client.leverage_caps(active)?;
    let mut refused = Vec::new();
    for (i, (name, cap)) in active.iter().zip(caps).enumerate() {
        match client.prepare_symbol(name, cap, leverage, cfg.margin_mode) {
            Prepared::Ready(l) => lines.push(l),
            Prepared::Refused(why) => refused.push((SymbolId(i as u16), why)),
        }
    }
    Ok(AccountStart {
        client,
        balance,
        refused,
        lines,
        names: names.to_vec(),
    })
}

/// What the control handle runs before a symbol added at run time trades: its cap checked,
/// margin mode and leverage set ([`AccountClient::prepare_symbol`]); the refusal's message.
pub fn preparer(
    client: Arc<AccountClient>,
    cfg: &AccountConfig,
    max_leverage: f64,
) -> crate::control::handle::PrepareFn {
    let (leverage, mode) = (cfg.leverage_for(max_leverage), cfg.margin_mode);
    Box::new(move |_, name| {
        let cap = client.leverage_caps(&[name.to_string()])?.pop().flatten();
        match client.prepare_symbol(name, cap, leverage, mode) {
            Prepared::Ready(l) => {
                println!("{l}");
                Ok(())
            }
            Prepared::Refused(why) => Err(why),
        }
    })
}

/// The risk gate's starting balance on a venue route: the venue's `wallet` less the journal's
/// net realized PnL (booked again at start-up restoration), so that the engine's equity starts
/// at the wallet: `wallet − Σ(realized − fees)`.
pub fn starting_balance(wallet: Decimal, replayed: &crate::exec::journal::Replayed) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    let net: Decimal = replayed.positions.iter().map(|p| p.realized - p.fees).sum();
    (wallet - net).to_f64().unwrap_or(0.0)
}

/// Polling step of the account thread, ms.
const STEP: Duration = Duration::from_millis(20);

/// The account thread: clock and balance refreshes, refused symbols reported, until `stop`.
pub fn spawn(
    client: Arc<AccountClient>,
    cfg: &AccountConfig,
    names: Vec<String>,
    handle: Arc<ControlHandle>,
    stop: impl Fn() -> bool + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, String> {
    let clock_every = Duration::from_secs_f64(cfg.clock_interval_s);
    let balance_every = Duration::from_secs_f64(cfg.balance_interval_s);
    std::thread::Builder::new()
        .name("account".into())
        .spawn(move || {
            let (mut clock_at, mut balance_at) = (Instant::now(), Instant::now());
            while !stop() {
                std::thread::sleep(STEP);
                let link = client.link().clone();
                if link.clock.resync_requested() || clock_at.elapsed() >= clock_every {
                    clock_at = Instant::now();
                    if let Err(e) = client.sync_clock() {
                        eprintln!("warning: venue clock: {e}");
                    }
                }
                if link.balance_requested() || balance_at.elapsed() >= balance_every {
                    balance_at = Instant::now();
                    refresh_balance(&client, &handle);
                }
                for (i, name) in names.iter().enumerate() {
                    if link.take_refused(i) {
                        eprintln!("warning: {name}: the venue refused an entry for its leverage or risk limit: no more entries on {name} this run");
                        let _ = handle.send(Command::RefuseSymbol(SymbolId(i as u16)));
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start the account thread: {e}"))
}

/// Reads the wallet and hands it to the compute thread.
fn refresh_balance(client: &AccountClient, handle: &ControlHandle) {
    match client.balance() {
        Ok((wallet, available)) => {
            if handle.send(Command::Balance { wallet, available }).is_ok() {
                client.link().balance_read();
            }
        }
        Err(e) => eprintln!("warning: {e}"),
    }
}
