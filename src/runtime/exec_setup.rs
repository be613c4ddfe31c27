//! Builds the execution side of a run from `[exec]`: the order route (embedded loopback
//! exchange, another loopback exchange, paper, live), the journal and its replay, start-up
//! recovery and reconciliation, and the strategy's restored positions. Wiring that reads the
//! config and starts the embedded exchange, so it lives in `runtime`, not `exec`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::config::{resolve_path, Config};
use crate::exchange::orders::{Matching, SimVenue};
use crate::exchange::rest_orders::RestOptions;
use crate::exchange::{EmbeddedExchange, RestExchange};
use crate::exec::exec_config::account_journal;
use crate::exec::journal::{client_prefix, next_session, Record, RecordKind, Replayed};
use crate::exec::keys::{ApiKeys, LiveGate};
use crate::exec::lanes::WS_TOKEN;
use crate::exec::order_ws_config::{load_ed25519_key, OrderTransport};
use crate::exec::recovery::{startup, StartupReport};
use crate::exec::transport::OrderEndpoint;
use crate::exec::{
    BinanceOrderBuilder, BinanceVenue, BybitVenue, ExecMode, Executor, Journal, LaneConfig,
    OrderLanes, OrderVenue, PaperVenue, Signer, WsOrderConn, WsVenue,
};
use crate::feed::protocol::Venue;
use crate::feed::ws::WsTarget;
use crate::strategy::ComputeStage;
use crate::telemetry::Clock;
use crate::types::SymbolTable;
use crate::types::{ExecReport, FillTime, Instrument, RejectReason, ReportStatus, Side};

/// Paper credentials: paper orders are signed exactly as for the venue, with a key that is
/// not a secret (nothing is sent).
const PAPER_API_KEY: &str = "paper-api-key";
const PAPER_SECRET: &[u8] = b"paper-secret-not-a-real-key";

/// The execution side of a run.
#[derive(Debug)]
pub struct ExecSetup {
    /// The executor (route, journal, session).
    pub executor: Executor,
    /// The embedded REST exchange, when this run started one (keep it alive for the run).
    pub rest: Option<RestExchange>,
    /// The journal as replayed at start, after recovery (positions, fills).
    pub replayed: Replayed,
    /// What start-up recovery and reconciliation did (venue routes only).
    pub startup: Option<StartupReport>,
    /// One line describing the route, for the start banner.
    pub banner: String,
    /// The order journal's path (the risk state file sits beside it by default).
    pub journal_path: PathBuf,
    /// Venue routes: what the start-up account steps found (clock, balance, leverage, margin
    /// mode, refused symbols) and the client the account thread goes on with.
    pub account: Option<super::account::AccountStart>,
}

/// Builds the executor per `cfg.exec`. `live_allowed` is the `--live` flag; `exchange` the
/// embedded replay (its market state prices the embedded order exchange); `run_dir` holds the
/// per-run journal when `exec.journal` is empty.
pub fn build(
    cfg: &Config,
    live_allowed: bool,
    symbols: &SymbolTable,
    instruments: &[Instrument],
    exchange: Option<&EmbeddedExchange>,
    clock: &Clock,
    run_dir: &Path,
) -> Result<ExecSetup, String> {
    let x = &cfg.exec;
    let paper = PaperVenue {
        taker_fee: cfg.taker_fee().map_err(|e| e.to_string())?,
        slippage_bps: cfg.paper.slippage_bps,
    };
    let ephemeral = run_dir.join("orders.journal");
    let explicit = (!x.journal.as_os_str().is_empty()).then(|| resolve_path(&x.journal));
    let names = symbols.names().to_vec();
    let format = OrderFormat::of(cfg);
    let journal_or_run = || explicit.clone().unwrap_or_else(|| ephemeral.clone());
    let route = match x.mode {
        ExecMode::Paper => {
            return paper_setup(cfg, names, instruments, paper, format, &journal_or_run());
        }
        ExecMode::Embedded if x.rest_url == "embedded" => {
            embedded_route(cfg, &names, instruments, exchange, format, journal_or_run())?
        }
        ExecMode::Embedded => loopback_route(cfg, format, journal_or_run())?,
        ExecMode::Live => live_route(cfg, live_allowed, format, explicit.clone())?,
    };
    venue_setup(cfg, route, names, instruments, paper, format, clock)
}

/// A signed REST route: where orders go, with which keys, and the journal that records them.
struct Route {
    url: String,
    api_key: String,
    secret: Vec<u8>,
    banner: String,
    journal_path: PathBuf,
    /// The embedded REST exchange this route started, if any.
    rest: Option<RestExchange>,
}

/// Paper route: orders are built and signed as for the venue, filled in-process; unfinished
/// paper orders in the journal are dropped (nothing to query).
fn paper_setup(
    cfg: &Config,
    names: Vec<String>,
    instruments: &[Instrument],
    paper: PaperVenue,
    format: OrderFormat,
    journal_path: &Path,
) -> Result<ExecSetup, String> {
    let (journal, replayed, session) = open_journal(journal_path, &names, &cfg.exec)?;
    let prefix = client_prefix(session);
    let venue = format.venue(
        PAPER_API_KEY,
        PAPER_SECRET,
        &cfg.venue.rest_host,
        cfg.venue.recv_window_ms,
        &prefix,
    )?;
    let mut exec = Executor::paper_with(instruments.to_vec(), names, venue, paper);
    exec.set_session(session);
    exec.set_journal(journal);
    if !replayed.pending.is_empty() {
        eprintln!(
            "warning: {} unfinished paper order(s) in {}: paper fills are in-process, nothing to query; dropped",
            replayed.pending.len(),
            journal_path.display()
        );
    }
    Ok(ExecSetup {
        executor: exec,
        rest: None,
        replayed,
        startup: None,
        banner: format!(
            "orders: paper ({} format, in-process fills), journal {}",
            format.name(),
            journal_path.display()
        ),
        journal_path: journal_path.to_path_buf(),
        account: None,
    })
}

/// `exec.rest_url = "embedded"`: starts the embedded REST order exchange on loopback (fresh
/// keys), priced by the embedded replay's market and funded with `risk.balance`.
fn embedded_route(
    cfg: &Config,
    names: &[String],
    instruments: &[Instrument],
    exchange: Option<&EmbeddedExchange>,
    format: OrderFormat,
    journal_path: PathBuf,
) -> Result<Route, String> {
    let ex = exchange.ok_or(
        "exec.rest_url = \"embedded\" needs the embedded replay (venue.ws_url = \"embedded\")",
    )?;
    let server = start_embedded_rest(
        cfg,
        names,
        instruments,
        Some(&ex.stats().market),
        RestOptions {
            max_requests_per_connection: cfg.exec.sim_max_requests_per_connection,
            ed25519_public_key: embedded_ed25519_public_key(cfg)?,
            ..RestOptions::default()
        },
    )?;
    let url = server.url();
    let c = server.credentials().clone();
    let banner = format!(
        "orders: signed {} REST over loopback to the embedded exchange at {url} (fresh keys)",
        format.name(),
    );
    Ok(Route {
        url,
        api_key: c.api_key,
        secret: c.secret.into_bytes(),
        banner,
        journal_path,
        rest: Some(server),
    })
}

/// The Ed25519 public key the embedded exchange registers for its test account: that of the
/// configured key file (Binance over the order WebSocket), so `session.logon` succeeds.
fn embedded_ed25519_public_key(cfg: &Config) -> Result<Option<[u8; 32]>, String> {
    let ws = cfg.exec.order_transport == OrderTransport::Websocket && cfg.venue() == Venue::Binance;
    match cfg.exec.order_ws.ed25519_key_path().filter(|_| ws) {
        Some(path) => Ok(Some(load_ed25519_key(&resolve_path(&path))?.public_key())),
        None => Ok(None),
    }
}

/// The embedded REST exchange on loopback (fresh keys) listing `names` with `instruments`,
/// filling with the paper fill model, funded with `risk.balance`, priced by `market` (the
/// embedded replay's) when given.
pub fn start_embedded_rest(
    cfg: &Config,
    names: &[String],
    instruments: &[Instrument],
    market: Option<&crate::exchange::MarketState>,
    opts: RestOptions,
) -> Result<RestExchange, String> {
    let paper = PaperVenue {
        taker_fee: cfg.taker_fee().map_err(|e| e.to_string())?,
        slippage_bps: cfg.paper.slippage_bps,
    };
    let listed: Vec<(String, Instrument)> = names
        .iter()
        .cloned()
        .zip(instruments.iter().copied())
        .collect();
    let venue = Arc::new(SimVenue::new(Matching::new(
        listed,
        paper.model(),
        Decimal::from_f64_retain(cfg.risk.balance)
            .map(|b| b.round_dp(8))
            .unwrap_or_default(),
    )));
    let bind: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    RestExchange::start(bind, venue, market, opts)
        .map_err(|e| format!("embedded REST exchange: {e}"))
}

/// `exec.mode = "embedded"` with a URL: another loopback exchange, keys from the environment
/// or the key file.
fn loopback_route(
    cfg: &Config,
    format: OrderFormat,
    journal_path: PathBuf,
) -> Result<Route, String> {
    let keys = load_keys(cfg, format)?;
    let banner = format!(
        "orders: signed {} REST to the loopback exchange at {}, keys from {}",
        format.name(),
        cfg.exec.rest_url,
        keys.origin,
    );
    Ok(Route {
        url: cfg.exec.rest_url.clone(),
        api_key: keys.api_key.expose().to_string(),
        secret: keys.secret.expose().as_bytes().to_vec(),
        banner,
        journal_path,
        rest: None,
    })
}

/// `exec.mode = "live"`: needs `--live`, keys, and a real venue endpoint ([`LiveGate`]); never
/// runs on a fresh journal: by default the account's persistent one.
fn live_route(
    cfg: &Config,
    live_allowed: bool,
    format: OrderFormat,
    explicit: Option<PathBuf>,
) -> Result<Route, String> {
    let x = &cfg.exec;
    if !live_allowed {
        return Err("exec.mode = \"live\" sends real orders: pass --live to confirm".into());
    }
    let keys = load_keys(cfg, format)?;
    LiveGate { live: live_allowed }
        .check_orders(cfg.venue(), &x.rest_url, Some(&keys))
        .map_err(|e| format!("exec.rest_url: {e}"))?;
    let banner = format!(
        "orders: LIVE {} to {}, keys from {}",
        format.name(),
        x.rest_url,
        keys.origin,
    );
    let (k, s) = (
        keys.api_key.expose().to_string(),
        keys.secret.expose().as_bytes().to_vec(),
    );
    let journal_path = explicit.unwrap_or_else(|| {
        let venue = format.env_prefix().to_ascii_lowercase();
        account_journal(&resolve_path(&x.journal_dir), &venue, &k)
    });
    Ok(Route {
        url: x.rest_url.clone(),
        api_key: k,
        secret: s,
        banner,
        journal_path,
        rest: None,
    })
}

/// A venue route's executor: opens the journal, signs for the route's host, opens the order
/// lanes (HTTP keep-alive connections), and runs start-up recovery and reconciliation before trading.
fn venue_setup(
    cfg: &Config,
    route: Route,
    names: Vec<String>,
    instruments: &[Instrument],
    paper: PaperVenue,
    format: OrderFormat,
    clock: &Clock,
) -> Result<ExecSetup, String> {
    let x = &cfg.exec;
    let (journal, mut replayed, session) = open_journal(&route.journal_path, &names, x)?;
    let prefix = client_prefix(session);
    let banner = format!("{}, journal {}", route.banner, route.journal_path.display());
    let host = OrderEndpoint::parse(&route.url)
        .map_err(|e| format!("exec.rest_url: {e}"))?
        .host_header();
    let venue = format.venue(
        &route.api_key,
        &route.secret,
        &host,
        cfg.venue.recv_window_ms,
        &prefix,
    )?;
    // Entries on `exec.order_connections` connections, exits and queries on their own.
    let mut transport = OrderLanes::new(
        &route.url,
        LaneConfig::new(x.order_connections, x.max_in_flight),
        Duration::from_millis(x.response_timeout_ms),
        clock.clone(),
        Some(cfg.venue_trust()?.rustls()?),
    )
    .map_err(|e| format!("exec.rest_url: {e}"))?;
    if x.order_transport == OrderTransport::Websocket {
        open_order_ws(cfg, &route, &mut transport, clock)?;
    }
    let mut exec = Executor::venue(
        instruments.to_vec(),
        names,
        venue,
        transport,
        paper,
        session,
        x.max_in_flight,
    );
    exec.set_stop_trigger(x.stop_trigger.trigger_by());
    exec.set_position_audit(Duration::from_millis(x.position_audit_ms));
    exec.set_journal(journal);
    let account = account_start(cfg, &route, exec.names())?;
    let link = account.client.link().clone();
    exec.set_account_link(link.clone());
    let venue_ms = move || link.clock.venue_ms(unix_ms());
    let report = startup(
        &mut exec,
        &mut replayed,
        cfg.risk.reconcile.policy,
        &venue_ms,
        Duration::from_millis(x.response_timeout_ms),
    )?;
    Ok(ExecSetup {
        executor: exec,
        rest: route.rest,
        replayed,
        startup: Some(report),
        banner,
        journal_path: route.journal_path,
        account: Some(account),
    })
}

/// The venue route's account before trading: clock offset, wallet, margin mode and leverage
/// of every symbol (see [`super::account::start`]).
fn account_start(
    cfg: &Config,
    route: &Route,
    names: &[String],
) -> Result<super::account::AccountStart, String> {
    let link = Arc::new(crate::exec::clock::AccountLink::new(names.len()));
    let client = super::account::AccountClient::new(
        cfg.venue(),
        &route.url,
        (&route.api_key, &route.secret),
        cfg.venue.recv_window_ms,
        Duration::from_millis(cfg.exec.response_timeout_ms.max(1_000)),
        link,
    )
    .with_tls(cfg.venue_trust()?.ureq());
    // `venue.symbols` are the universe's first ids, the ones trading at start.
    let active = cfg.venue.symbols.len();
    super::account::start(
        client,
        &cfg.exec.account,
        cfg.risk.max_leverage,
        names,
        active,
    )
}

/// Opens, locks and replays the journal at `path` for the configured symbols `names`, refuses
/// it while a symbol no longer configured holds a position or an unfinished order, and
/// journals this process's session (see [`next_session`]).
fn open_journal(
    path: &Path,
    names: &[String],
    x: &crate::exec::exec_config::ExecConfig,
) -> Result<(Journal, Replayed, u32), String> {
    let (mut journal, mut replayed) = Journal::open(path, names, x.fsync_policy())?;
    let open: Vec<String> = replayed
        .unconfigured_open()
        .map(|u| {
            format!(
                "{} (position {}, {} unfinished order(s))",
                u.name, u.position.qty, u.pending
            )
        })
        .collect();
    if !open.is_empty() {
        return Err(format!(
            "journal {} holds symbols that are not in venue.symbols nor venue.universe: {}; add them back to venue.symbols (order does not matter) to reconcile and close them",
            path.display(),
            open.join(", ")
        ));
    }
    for u in &replayed.unconfigured {
        eprintln!(
            "note: journal {}: symbol {} is no longer configured (flat, nothing open)",
            path.display(),
            u.name
        );
    }
    let session = next_session(replayed.last_session, unix_ms());
    let mut rec = Record::new(
        RecordKind::Session,
        crate::types::SymbolId(0),
        Side::Buy,
        session,
        session as u64,
    );
    rec.aux = unix_ms();
    journal
        .append(&rec)
        .map_err(|e| format!("journal {}: {e}", path.display()))?;
    replayed.apply(&rec);
    Ok((journal, replayed, session))
}

/// The order wire format of a run: `venue.name` (Bybit v5 or Binance USD-M) in every mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderFormat {
    /// Binance USD-M `POST /fapi/v1/order`, keys `BINANCE_API_KEY` / `BINANCE_API_SECRET`.
    Binance,
    /// Bybit v5 `POST /v5/order/create`, keys `BYBIT_API_KEY` / `BYBIT_API_SECRET`.
    Bybit,
}

impl OrderFormat {
    /// The format of `cfg.venue()`.
    pub fn of(cfg: &Config) -> Self {
        match cfg.venue() {
            Venue::Bybit => OrderFormat::Bybit,
            Venue::Binance => OrderFormat::Binance,
        }
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            OrderFormat::Binance => "Binance",
            OrderFormat::Bybit => "Bybit v5",
        }
    }

    /// Prefix of the key environment variables (`<P>_API_KEY`, `<P>_API_SECRET`).
    pub fn env_prefix(self) -> &'static str {
        match self {
            OrderFormat::Binance => "BINANCE",
            OrderFormat::Bybit => "BYBIT",
        }
    }

    /// The request builder signing with `api_key` / `secret` for `host`.
    pub fn venue(
        self,
        api_key: &str,
        secret: &[u8],
        host: &str,
        recv_window_ms: u64,
        prefix: &str,
    ) -> Result<OrderVenue, String> {
        Ok(match self {
            OrderFormat::Binance => OrderVenue::Binance(BinanceVenue::new(
                BinanceOrderBuilder::new(api_key, secret, host, recv_window_ms, prefix),
            )),
            OrderFormat::Bybit => OrderVenue::Bybit(
                BybitVenue::new(api_key, secret, host, recv_window_ms, prefix)
                    .map_err(|e| format!("Bybit order signer: {e}"))?,
            ),
        })
    }
}

/// Sets the order WebSocket (`exec.order_transport = "websocket"`) on `lanes` and waits up to
/// `exec.order_ws.open_timeout_s` for it; a link that is not up yet is a warning: orders go
/// over REST until it is.
fn open_order_ws(
    cfg: &Config,
    route: &Route,
    lanes: &mut OrderLanes,
    clock: &Clock,
) -> Result<(), String> {
    let x = &cfg.exec;
    let url = x.order_ws.resolve(cfg.venue(), &route.url)?;
    let tls = Some(cfg.venue_trust()?.rustls()?);
    let target = WsTarget::new(&url, tls).map_err(|e| format!("exec.order_ws.url: {e}"))?;
    let (api_key, signer) = (route.api_key.clone(), Signer::new(&route.secret));
    let venue = match (cfg.venue(), x.order_ws.ed25519_key_path()) {
        (Venue::Bybit, None) => WsVenue::Bybit { api_key, signer },
        (Venue::Bybit, Some(_)) => {
            return Err(
                "exec.order_ws.ed25519_key_file: Ed25519 session logon is Binance only".into(),
            )
        }
        (Venue::Binance, None) => WsVenue::Binance { api_key, signer },
        (Venue::Binance, Some(path)) => WsVenue::BinanceEd25519 {
            api_key: Some(&x.order_ws.ed25519_api_key)
                .filter(|k| !k.is_empty())
                .cloned()
                .unwrap_or(api_key),
            key: load_ed25519_key(&resolve_path(&path))?,
        },
    };
    lanes.set_websocket(WsOrderConn::new(
        venue,
        target,
        WS_TOKEN,
        x.max_in_flight,
        x.response_timeout_ms.saturating_mul(1_000_000),
        (x.order_ws.heartbeat_s * 1e9) as u64,
        clock.clone(),
    ));
    if !lanes.open_websocket(Duration::from_secs_f64(x.order_ws.open_timeout_s)) {
        let why = lanes.websocket().and_then(WsOrderConn::last_error);
        eprintln!(
            "warning: the order WebSocket {url} is not up ({}); orders go over REST until it is",
            why.unwrap_or("no answer yet")
        );
    }
    Ok(())
}

/// Rebuilds the strategy's positions from the journal's fills (and adoptions), then makes its
/// working position equal to them.
///
/// Stand-in until the strategy exposes `Engine::restore`: the engine only learns positions from
/// reports, and only moves its working position on intents and rejections, so each restored
/// non-zero position is followed by one compensating rejection report of the opposite side
/// (counted once in the engine's `rejects`). The lead swaps this for `Engine::restore`.
pub fn restore_engine(compute: &mut ComputeStage, replayed: &Replayed) -> usize {
    let mut n = 0;
    for r in &replayed.fills {
        compute.on_report(&ExecReport {
            symbol: r.symbol,
            client_seq: r.seq,
            side: r.side,
            status: if r.at_entry() {
                ReportStatus::Adopted
            } else {
                ReportStatus::Filled
            },
            price: r.price,
            qty: r.qty,
            fee: r.fee,
            at: r.fill_time(),
        });
        n += 1;
    }
    // The risk gate books PnL when the engine decides; fills from earlier runs reach it here,
    // or every restart would start the limits from a fresh balance.
    let pnl = replayed.positions.iter().map(|p| p.realized).sum();
    let fees = replayed.positions.iter().map(|p| p.fees).sum();
    compute.restore_account(pnl, fees);
    for (i, p) in replayed.positions.iter().enumerate() {
        if p.qty.is_zero() {
            continue;
        }
        // working -= signed(side, qty): a Sell of +q raises working by q.
        let side = if p.qty > Decimal::ZERO {
            Side::Sell
        } else {
            Side::Buy
        };
        compute.on_report(&ExecReport {
            symbol: crate::types::SymbolId(i as u16),
            client_seq: 0,
            side,
            status: ReportStatus::Rejected(RejectReason::Lost),
            price: Decimal::ZERO,
            qty: p.qty.abs(),
            fee: Decimal::ZERO,
            at: FillTime::None,
        });
    }
    n
}

/// The venue's keys: `BYBIT_API_KEY`/`BYBIT_API_SECRET` or `BINANCE_API_KEY`/`BINANCE_API_SECRET`
/// from the environment, else `exec.key_file` (mode 0600/0400). Never printed: the messages
/// name only where keys were looked for.
fn load_keys(cfg: &Config, format: OrderFormat) -> Result<ApiKeys, String> {
    let file =
        (!cfg.exec.key_file.as_os_str().is_empty()).then(|| resolve_path(&cfg.exec.key_file));
    let p = format.env_prefix();
    ApiKeys::load(cfg.venue(), file.as_deref())
        .map_err(|e| format!("keys: {e}"))?
        .ok_or_else(|| match &file {
            Some(f) => format!(
                "keys: {p}_API_KEY / {p}_API_SECRET are not set and {} has no [{}] table",
                f.display(),
                p.to_ascii_lowercase()
            ),
            None => format!(
                "keys: {p}_API_KEY / {p}_API_SECRET are not set (or give exec.key_file, a 0600 key file)"
            ),
        })
}

/// Unix ms from the system clock (request timestamps the venue checks).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
