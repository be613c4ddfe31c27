//! `calculus-trader soak`: the real binary trading in a loop against the embedded exchange,
//! killed with SIGKILL at random moments and restarted on the same journal, then checked.
//!
//! This process hosts the exchange (the WebSocket replay of the bundled real trades and the
//! REST order entry, which keeps the venue's positions and counts every client order id it
//! receives) and runs the trader as a child process over loopback. A *lap* is one replay of
//! the recording; when a lap's replay ends a new one starts (a new replay server and order
//! server over the same venue state), until the time is up. Inside a lap the child is killed
//! at a random moment with probability `kill_probability` per start, and restarted with the
//! same journal: it must recover every unfinished order by client id, never resend one.
//!
//! The child runs the default configuration with [`RISK`] laid over it (a larger account,
//! fixed 1 000 USDT entries, one position at a time): every loss limit keeps its default
//! fraction, but fees no longer reach them within hours, so the trader trades for the whole run;
//! the losing-streak pause is off (it survives restarts, and nobody resumes it here). The risk
//! state file beside the journal is written and restored across every kill.
//!
//! At the end (after a last lap that runs to its end unkilled) it checks the invariants, each a
//! function of what was recorded (unit-tested on synthetic data):
//! - the journal's positions equal the exchange's, symbol by symbol, to the last decimal:
//!   quantity, average entry, cost, realized PnL, fees and fill count (`==`; both book fills
//!   with [`Position::apply_fill`]); on a difference both fill lists are written to
//!   `positions-<symbol>.txt` in the soak's directory;
//! - every client order id reached the exchange once;
//! - no order is left unfinished in the journal;
//! - the risk limits held on the exchange's book, sampled every 20 ms during the run and at the
//!   end: open positions ≤ `risk.limits.max_positions`, each |notional| ≤ `max_symbol_exposure`
//!   × equity (5 % slack for price moves after entry), equity ≥ balance × (1 −
//!   `emergency_drawdown`) − 5 % slack (also across restarts);
//! - trading never stopped: every quarter of the laps sent orders (order requests that reached
//!   the exchange, whatever a fault then did with them);
//! - memory is flat: in each run that was not killed, the median RSS of its last quarter is at
//!   most 1.2 × the median of its first quarter plus 4 MiB;
//! - every run that was not killed exited 0.
//!
//! With `faults`, every lap's order entry injects [`FAULTS`] (5xx with and without the fill,
//! 429, timeouts, resets after read, partial fills, duplicate acks).
//!
//! Randomness is a splitmix64 stream from `seed` (printed, so a failing soak can be re-run).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use crate::config::{resolve_path, Config, DEFAULT_TOML};
use crate::exchange::fault_plan::FaultPlan;
use crate::exchange::orders::{Matching, SimVenue};
use crate::exchange::rest_orders::{RestOptions, SimCredentials};
use crate::exchange::{EmbeddedExchange, Recording, RestExchange};
use crate::exec::journal::{FsyncPolicy, Journal, Record, RecordKind};
use crate::exec::FillModel;
use crate::risk::config::LimitsConfig;
use crate::types::instrument::load_specs;
use crate::types::Position;
use crate::venue::{binance, bybit, Venue as VenueName};

/// The symbols the bundled Binance replay carries.
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
/// Longest a single child run may take before the soak fails it.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// RSS sampling period of a child.
const RSS_EVERY: Duration = Duration::from_millis(250);
/// Period of the exchange-book samples of the risk limits.
const BOOK_EVERY: Duration = Duration::from_millis(20);

/// What `soak` runs.
#[derive(Clone, Debug)]
pub struct SoakOptions {
    /// Wall-clock minutes of trading before the last (unkilled) lap.
    pub minutes: f64,
    /// Seed of the kill schedule and reply delays.
    pub seed: u64,
    /// Replay speed (recorded pace × speed); 345 s of trades take 345 / speed seconds.
    pub speed: f64,
    /// Probability that a child start is killed at a random moment.
    pub kill_probability: f64,
    /// Inject venue faults into order entry ([`FAULTS`]).
    pub faults: bool,
    /// Working directory: config, journal, child logs, dumps.
    pub dir: PathBuf,
    /// The venue whose streams, order entry and codec the laps use.
    pub venue: VenueName,
    /// TOML laid over the child's configuration last (it wins), and over the soak's own view
    /// of the limits: e.g. [`HEAVY`], a strategy that trades on most ticks.
    pub overlay: Option<String>,
}

/// A trade-heavy strategy for `soak --overlay` (the file says why): finite differences,
/// per-tick smoothing, no cooldown, exits a few ticks away, so venue-side stops trigger
/// often and orders cross their own exits' replies and position checks.
pub const HEAVY: &str = include_str!("../config/soak_heavy.toml");

/// The soak's fault plan (`seed` is set per lap): unknown outcomes with and without the fill,
/// rate limits, reply timeouts, resets after the request was read, partial fills and duplicate
/// acks on orders; rate limits and timeouts on status queries. (418 is left out: without the
/// `Retry-After` value the limiter backs off 120 s, longer than a lap.)
pub const FAULTS: &str = include_str!("../config/soak_faults.toml");

/// The soak trader's account and risk settings, laid over the default configuration (the
/// file says why).
pub const RISK: &str = include_str!("../config/soak_risk.toml");

/// One child run.
#[derive(Clone, Debug, Default)]
struct RunRecord {
    killed: bool,
    exit_ok: bool,
    rss_kib: Vec<u64>,
    log: PathBuf,
}

/// The exchange's book at its worst over the run (samples every [`BOOK_EVERY`] and at the end).
#[derive(Clone, Debug, Default, PartialEq)]
struct BookPeaks {
    /// Samples taken.
    samples: u64,
    /// Most symbols holding a position at once.
    max_open: usize,
    /// Largest |notional| / equity of one symbol, with the symbol.
    max_exposure: (f64, String),
    /// Lowest equity (balance + unrealized), USDT.
    min_equity: f64,
}

impl BookPeaks {
    /// Takes one sample of `m`'s positions, marked at their last trade.
    fn sample(&mut self, m: &Matching) {
        let equity = (m.balance() + m.unrealized()).to_f64().unwrap_or(0.0);
        let book: Vec<(String, f64)> = m
            .positions()
            .into_iter()
            .filter(|(_, p, _)| !p.qty.is_zero())
            .map(|(n, p, mark)| (n, (p.qty * mark).abs().to_f64().unwrap_or(f64::INFINITY)))
            .collect();
        self.observe(equity, &book);
    }

    /// Records equity and the open positions' |notional| (symbol, USDT).
    fn observe(&mut self, equity: f64, open: &[(String, f64)]) {
        self.min_equity = if self.samples == 0 {
            equity
        } else {
            self.min_equity.min(equity)
        };
        self.samples += 1;
        self.max_open = self.max_open.max(open.len());
        for (name, notional) in open {
            let frac = notional / equity.max(f64::MIN_POSITIVE);
            if frac > self.max_exposure.0 {
                self.max_exposure = (frac, name.clone());
            }
        }
    }
}

/// What the soak saw and whether every invariant held.
#[derive(Debug, Default)]
pub struct SoakReport {
    /// Venue soaked (`binance`, `bybit`).
    pub venue: &'static str,
    /// Seed used.
    pub seed: u64,
    /// Faults were injected.
    pub faults: bool,
    /// Wall time of the whole soak, seconds.
    pub elapsed_s: f64,
    /// Laps (replays of the recording) started.
    pub laps: u32,
    /// Child starts.
    pub runs: u32,
    /// Child runs ended with SIGKILL.
    pub kills: u32,
    /// Orders the exchange received.
    pub orders: usize,
    /// Order requests the trader sent in each quarter of the laps (in lap order).
    pub orders_by_quarter: Vec<usize>,
    /// Fills the exchange made.
    pub fills: usize,
    /// Client order ids received more than once.
    pub duplicate_ids: usize,
    /// Orders the journal still holds unfinished at the end.
    pub unfinished: usize,
    /// Final positions per symbol: (name, journal qty, exchange qty).
    pub positions: Vec<(String, Decimal, Decimal)>,
    /// Most positions open at once on the exchange, and `risk.limits.max_positions`.
    pub max_open: (usize, u32),
    /// Median RSS of the first and last quarter of the longest unkilled run, KiB.
    pub rss_kib: (u64, u64),
    /// Every broken invariant, in words.
    pub failures: Vec<String>,
}

impl SoakReport {
    /// True when no invariant broke.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for SoakReport {
    /// One summary line (then one line per failure).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pos: Vec<String> = self
            .positions
            .iter()
            .map(|(n, ours, theirs)| {
                if ours == theirs {
                    format!("{n} {ours}")
                } else {
                    format!("{n} {ours}≠{theirs}")
                }
            })
            .collect();
        let quarters: Vec<String> = self
            .orders_by_quarter
            .iter()
            .map(|n| n.to_string())
            .collect();
        write!(
            f,
            "soak: {} — {}, {:.1} min, seed {}, faults {}, {} laps, {} runs ({} killed), {} orders \
             (by quarter {}), {} fills, positions equal [{}], {} duplicate ids, {} unfinished, \
             ≤ {} of {} positions open, RSS {:.1}→{:.1} MiB",
            if self.passed() { "PASS" } else { "FAIL" },
            self.venue,
            self.elapsed_s / 60.0,
            self.seed,
            if self.faults { "on" } else { "off" },
            self.laps,
            self.runs,
            self.kills,
            self.orders,
            quarters.join("/"),
            self.fills,
            pos.join(", "),
            self.duplicate_ids,
            self.unfinished,
            self.max_open.0,
            self.max_open.1,
            self.rss_kib.0 as f64 / 1024.0,
            self.rss_kib.1 as f64 / 1024.0,
        )?;
        for why in &self.failures {
            write!(f, "\nsoak: FAIL {why}")?;
        }
        Ok(())
    }
}

/// splitmix64: a small, well-mixed deterministic stream.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The venue state every lap's servers share.
struct Venue {
    which: VenueName,
    rec: Arc<Recording>,
    venue: Arc<SimVenue>,
    creds: SimCredentials,
    names: Vec<String>,
    instruments_file: PathBuf,
}

/// What the laps recorded for the checks.
#[derive(Default)]
struct Observed {
    runs: Vec<RunRecord>,
    /// Order requests the trader sent during each lap (faulted ones too).
    lap_orders: Vec<usize>,
    book: BookPeaks,
}

/// The default configuration with [`RISK`] and then `extra` laid over it, as TOML.
fn soak_toml(extra: Option<&str>) -> Result<toml::Table, String> {
    let mut doc: toml::Table = DEFAULT_TOML.parse().map_err(|e| format!("{e}"))?;
    let over: toml::Table = RISK.parse().map_err(|e| format!("soak risk: {e}"))?;
    overlay(&mut doc, over);
    if let Some(text) = extra {
        overlay(&mut doc, parse_overlay(text)?);
    }
    Ok(doc)
}

/// The `--overlay` text as a TOML table.
fn parse_overlay(text: &str) -> Result<toml::Table, String> {
    text.parse().map_err(|e| format!("soak overlay: {e}"))
}

/// Lays `over` onto `doc`: tables merge key by key, any other value replaces.
fn overlay(doc: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (doc.get_mut(&k), v) {
            (Some(toml::Value::Table(d)), toml::Value::Table(o)) => overlay(d, o),
            (_, v) => {
                doc.insert(k, v);
            }
        }
    }
}

/// The soak's configuration (default + [`RISK`] + `extra`), parsed.
fn soak_config(extra: Option<&str>) -> Result<Config, String> {
    let text = toml::to_string(&soak_toml(extra)?).map_err(|e| format!("{e}"))?;
    Config::parse(&text).map_err(|e| format!("soak config: {e}"))
}

/// Runs the soak with the binary at `exe` as the trader. `Err` only when it cannot start
/// (files, ports); broken invariants are in the report.
pub fn run(opts: &SoakOptions, exe: &Path) -> Result<SoakReport, String> {
    let t0 = Instant::now();
    std::fs::create_dir_all(opts.dir.join("runs"))
        .map_err(|e| format!("soak dir {}: {e}", opts.dir.display()))?;
    let journal = opts.dir.join("orders.journal");
    if journal.exists() {
        return Err(format!(
            "{} exists: a soak starts from an empty journal (pick another --dir)",
            journal.display()
        ));
    }
    let base = soak_config(opts.overlay.as_deref())?;
    let v = venue(&base, opts.venue)?;
    let mut rng = Rng(opts.seed);
    let mut report = SoakReport {
        venue: opts.venue.name(),
        seed: opts.seed,
        faults: opts.faults,
        ..SoakReport::default()
    };
    let mut seen = Observed::default();
    let deadline = t0 + Duration::from_secs_f64(opts.minutes * 60.0);
    loop {
        let last = Instant::now() >= deadline;
        report.laps += 1;
        let before = v.venue.with(|m| m.orders().len());
        let sent = lap(opts, exe, &v, &journal, &mut rng, last, &mut seen)?;
        let after = v.venue.with(|m| m.orders().len());
        seen.lap_orders.push(sent);
        eprintln!(
            "soak: lap {} done at {:.0} s: {} runs, {} killed, {} orders ({} this lap, {sent} sent)",
            report.laps,
            t0.elapsed().as_secs_f64(),
            seen.runs.len(),
            seen.runs.iter().filter(|r| r.killed).count(),
            after,
            after - before
        );
        if last {
            break;
        }
    }
    report.elapsed_s = t0.elapsed().as_secs_f64();
    v.venue.with(|m| seen.book.sample(m));
    check(&base, &v, &journal, &seen, &opts.dir, &mut report);
    Ok(report)
}

/// The exchange's shared state: the recording, the matching engine with the bundled specs and
/// the soak account's balance, fresh credentials.
fn venue(base: &Config, which: VenueName) -> Result<Venue, String> {
    let files: Vec<PathBuf> = base.replay.files.iter().map(|f| resolve_path(f)).collect();
    let rec = Recording::load(&files)?;
    // Bybit laps replay the same trades re-encoded as v5 publicTrade messages.
    let rec = match which {
        VenueName::Binance => rec,
        VenueName::Bybit => rec.to_bybit().0,
    };
    let names: Vec<String> = SYMBOLS.iter().map(|s| s.to_string()).collect();
    let instruments_file = resolve_path(&base.venue.instruments);
    let inst = load_specs(&instruments_file, which.name(), &names)?;
    let fee = base.taker_fee().map_err(|e| e.to_string())?;
    let balance = Decimal::from_f64(base.risk.balance).ok_or("soak risk.balance")?;
    let venue = Arc::new(SimVenue::new(Matching::new(
        names.iter().cloned().zip(inst).collect(),
        FillModel {
            taker_fee: fee,
            slippage_bps: Decimal::ONE,
        },
        balance,
    )));
    let creds = SimCredentials::generate().map_err(|e| format!("credentials: {e}"))?;
    Ok(Venue {
        which,
        rec: Arc::new(rec),
        venue,
        creds,
        names,
        instruments_file,
    })
}

/// One replay of the recording: children started (and some killed) until the replay ends.
/// `last`: no kills, the run must end on its own.
fn lap(
    opts: &SoakOptions,
    exe: &Path,
    v: &Venue,
    journal: &Path,
    rng: &mut Rng,
    last: bool,
    seen: &mut Observed,
) -> Result<usize, String> {
    let loopback = "127.0.0.1:0".parse().expect("loopback address");
    let replay = EmbeddedExchange::start_venue(loopback, v.rec.clone(), v.which, opts.speed)
        .map_err(|e| format!("replay server: {e}"))?;
    // A reply delay of up to 300 ms: the order is filled at the exchange while the reply is on
    // its way, so a kill then leaves an intent whose outcome only the exchange knows.
    let delay = Duration::from_millis((rng.unit() * 300.0) as u64);
    let stats = replay.stats();
    let faults = if opts.faults {
        let plan = format!("seed = {}\n{FAULTS}", rng.next_u64() >> 1);
        Some(Arc::new(
            FaultPlan::from_toml(&plan).map_err(|e| format!("soak fault plan: {e:?}"))?,
        ))
    } else {
        None
    };
    let rest = RestExchange::start_with(
        loopback,
        v.venue.clone(),
        Some(&stats.market),
        RestOptions {
            order_reply_delay: delay,
            faults,
            ..RestOptions::default()
        },
        v.creds.clone(),
    )
    .map_err(|e| format!("order server: {e}"))?;
    let cfg = opts.dir.join("config.toml");
    std::fs::write(
        &cfg,
        child_config(opts, v, &replay.url(), &rest.url(), journal)?,
    )
    .map_err(|e| format!("{}: {e}", cfg.display()))?;
    loop {
        let kill_after = (!last && rng.unit() < opts.kill_probability)
            .then(|| Duration::from_secs_f64(0.5 + rng.unit() * 6.0));
        let log = opts
            .dir
            .join("runs")
            .join(format!("{}.log", seen.runs.len() + 1));
        let r = run_child(exe, &cfg, v, &log, kill_after, &mut seen.book)?;
        let ended = !r.killed;
        seen.runs.push(r);
        if ended {
            // What the trader sent this lap, faulted or not ("trading never stopped"): a lap
            // whose only orders a fault dropped still traded.
            let sent = rest.stats().order_requests.load(Ordering::Relaxed);
            return Ok(sent as usize);
        }
    }
}

/// The child's configuration: the soak's (default + [`RISK`]) pointed at this lap's servers,
/// with the soak's journal, two symbols, a parked hot thread (the exchange shares the two
/// cores), a long recvWindow and drain (replies may be delayed); then the overlay, if any.
fn child_config(
    opts: &SoakOptions,
    v: &Venue,
    ws_url: &str,
    rest_url: &str,
    journal: &Path,
) -> Result<String, String> {
    let mut doc = soak_toml(None)?;
    let set = |doc: &mut toml::Table, section: &str, key: &str, val: toml::Value| {
        if let Some(toml::Value::Table(t)) = doc.get_mut(section) {
            t.insert(key.to_string(), val);
        }
    };
    let s = |x: &str| toml::Value::String(x.to_string());
    set(&mut doc, "run", "topology", s("fused"));
    let dumps = opts.dir.join("dumps");
    set(&mut doc, "run", "dump_dir", s(&dumps.display().to_string()));
    set(&mut doc, "venue", "name", s(v.which.name()));
    let host = match v.which {
        VenueName::Binance => binance::endpoint::MAINNET_REST_URL,
        VenueName::Bybit => bybit::endpoint::MAINNET_REST_URL,
    };
    set(
        &mut doc,
        "venue",
        "rest_host",
        s(host.trim_start_matches("https://")),
    );
    set(&mut doc, "venue", "ws_url", s(ws_url));
    set(
        &mut doc,
        "venue",
        "recv_window_ms",
        toml::Value::Integer(60_000),
    );
    set(
        &mut doc,
        "venue",
        "instruments",
        s(&v.instruments_file.display().to_string()),
    );
    let symbols = v.names.iter().map(|n| s(n)).collect();
    set(&mut doc, "venue", "symbols", toml::Value::Array(symbols));
    set(&mut doc, "wait", "hot", s("park"));
    set(&mut doc, "exec", "rest_url", s(rest_url));
    set(
        &mut doc,
        "exec",
        "journal",
        s(&journal.display().to_string()),
    );
    set(
        &mut doc,
        "exec",
        "drain_timeout_ms",
        toml::Value::Integer(30_000),
    );
    set(
        &mut doc,
        "strategy",
        "cooldown_ms",
        toml::Value::Integer(2_000),
    );
    if let Some(text) = &opts.overlay {
        overlay(&mut doc, parse_overlay(text)?);
    }
    let text = toml::to_string(&doc).map_err(|e| format!("{e}"))?;
    Config::parse(&text).map_err(|e| format!("soak child config: {e}"))?;
    Ok(text)
}

/// Starts the trader, samples its RSS and the exchange's book, kills it after `kill_after`
/// (if given and it is still running) and waits for it.
fn run_child(
    exe: &Path,
    cfg: &Path,
    v: &Venue,
    log: &Path,
    kill_after: Option<Duration>,
    book: &mut BookPeaks,
) -> Result<RunRecord, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child: Child = Command::new(exe)
        .arg("--config")
        .arg(cfg)
        .arg("--quiet")
        .env(v.which.key_env_names().0, &v.creds.api_key)
        .env(v.which.key_env_names().1, &v.creds.secret)
        .stdout(out)
        .stderr(err)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let started = Instant::now();
    let mut rec = RunRecord {
        log: log.to_path_buf(),
        ..RunRecord::default()
    };
    let mut next_sample = started;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            rec.exit_ok = status.success();
            return Ok(rec);
        }
        let now = Instant::now();
        if now >= next_sample {
            if let Some(kib) = rss_kib(child.id()) {
                rec.rss_kib.push(kib);
            }
            next_sample = now + RSS_EVERY;
        }
        v.venue.with(|m| book.sample(m));
        let overdue = now.duration_since(started) > RUN_LIMIT;
        if overdue || kill_after.is_some_and(|k| now.duration_since(started) >= k) {
            // SIGKILL on Unix: no chance to flush or clean up.
            let _ = child.kill();
            let _ = child.wait();
            rec.killed = !overdue;
            rec.exit_ok = false;
            return Ok(rec);
        }
        std::thread::sleep(BOOK_EVERY);
    }
}

/// Resident set size of process `pid`, KiB (`VmRSS` in `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Median of `v` (0 when empty).
fn median(v: &[u64]) -> u64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    s.get(s.len() / 2).copied().unwrap_or(0)
}

/// Checks every invariant into `report`.
fn check(
    base: &Config,
    v: &Venue,
    journal: &Path,
    seen: &Observed,
    dir: &Path,
    report: &mut SoakReport,
) {
    report.runs = seen.runs.len() as u32;
    report.kills = seen.runs.iter().filter(|r| r.killed).count() as u32;
    check_exits(&seen.runs, report);
    let (orders, fills, received) = v.venue.with(|m| {
        (
            m.orders().len(),
            m.trades().len(),
            m.received_client_ids().clone(),
        )
    });
    report.orders = orders;
    report.fills = fills;
    check_client_ids(&received, report);
    check_limits(&base.risk.limits, base.risk.balance, &seen.book, report);
    check_trading(&seen.lap_orders, report);
    check_journal(v, journal, dir, report);
    check_memory(&seen.runs, report);
}

/// Every run that was not killed exited 0 within [`RUN_LIMIT`].
fn check_exits(runs: &[RunRecord], report: &mut SoakReport) {
    for r in runs.iter().filter(|r| !r.killed && !r.exit_ok) {
        report.failures.push(format!(
            "a run that was not killed failed or overran (log {})",
            r.log.display()
        ));
    }
}

/// Every client order id reached the exchange once (`received`: requests per id).
fn check_client_ids(received: &HashMap<String, u32>, report: &mut SoakReport) {
    let mut dup: Vec<(&String, &u32)> = received.iter().filter(|(_, n)| **n > 1).collect();
    dup.sort();
    report.duplicate_ids = dup.len();
    if !dup.is_empty() {
        report
            .failures
            .push(format!("client ids sent more than once: {dup:?}"));
    }
}

/// The risk limits against the exchange's book at its worst over the run (`balance`: the
/// starting balance, USDT).
fn check_limits(limits: &LimitsConfig, balance: f64, book: &BookPeaks, report: &mut SoakReport) {
    report.max_open = (book.max_open, limits.max_positions);
    if book.max_open > limits.max_positions as usize {
        report.failures.push(format!(
            "{} positions open at once > risk.limits.max_positions {}",
            book.max_open, limits.max_positions
        ));
    }
    let floor = balance * (1.0 - limits.emergency_drawdown - 0.05);
    if limits.emergency_drawdown > 0.0 && book.min_equity < floor {
        report.failures.push(format!(
            "equity {:.2} fell below the emergency drawdown floor {floor:.2} (balance {balance}, \
             risk.limits.emergency_drawdown {}, 5 % slack)",
            book.min_equity, limits.emergency_drawdown
        ));
    }
    let (frac, name) = &book.max_exposure;
    if *frac > limits.max_symbol_exposure * 1.05 {
        report.failures.push(format!(
            "{name}: |notional| reached {frac:.3} × equity > risk.limits.max_symbol_exposure {} \
             (5 % slack)",
            limits.max_symbol_exposure
        ));
    }
}

/// Trading went on for the whole run: the laps, split into four quarters in lap order (one
/// group when there are fewer than four laps), each sent orders.
fn check_trading(lap_orders: &[usize], report: &mut SoakReport) {
    let n = lap_orders.len();
    let groups = if n >= 4 { 4 } else { 1 };
    report.orders_by_quarter = (0..groups)
        .map(|g| {
            lap_orders[g * n / groups..(g + 1) * n / groups]
                .iter()
                .sum()
        })
        .collect();
    if let Some(q) = report.orders_by_quarter.iter().position(|&o| o == 0) {
        report.failures.push(format!(
            "trading stopped: no orders in quarter {} of the laps (orders per lap {lap_orders:?})",
            q + 1
        ));
    }
}

/// The journal's positions against the exchange's, and unfinished orders; on a difference the
/// fill lists go to `dir/positions-<symbol>.txt`.
fn check_journal(v: &Venue, journal: &Path, dir: &Path, report: &mut SoakReport) {
    let (_j, replayed) = match Journal::open(journal, &v.names, FsyncPolicy::Never) {
        Ok(x) => x,
        Err(e) => {
            report.failures.push(format!("journal: {e}"));
            return;
        }
    };
    check_unfinished(replayed.pending.len(), report);
    let ours: Vec<Position> = (0..v.names.len()).map(|i| replayed.position(i)).collect();
    let adopted: Vec<bool> = (0..v.names.len())
        .map(|i| {
            replayed
                .fills
                .iter()
                .any(|r| r.kind == RecordKind::Adopt && r.symbol.index() == i)
        })
        .collect();
    let theirs: Vec<Position> = v
        .names
        .iter()
        .map(|n| v.venue.with(|m| m.position(n)))
        .collect();
    for i in compare_positions(&v.names, &ours, &theirs, &adopted, report) {
        let path = dir.join(format!("positions-{}.txt", v.names[i]));
        let text = fill_lists(v, &replayed.fills, i);
        if std::fs::write(&path, text).is_ok() {
            report
                .failures
                .push(format!("fill lists in {}", path.display()));
        }
    }
}

/// No order is left unfinished (`pending`: journaled intents without a final record).
fn check_unfinished(pending: usize, report: &mut SoakReport) {
    report.unfinished = pending;
    if pending > 0 {
        report
            .failures
            .push(format!("{pending} orders unfinished in the journal"));
    }
}

/// Positions equal to the last decimal, symbol by symbol; returns the indices that differ.
/// A symbol with an adoption (`adopted`: reconciled from the venue's position, whose endpoint
/// reports no fees or fills) is compared on quantity, entry, cost and realized PnL only.
fn compare_positions(
    names: &[String],
    ours: &[Position],
    theirs: &[Position],
    adopted: &[bool],
    report: &mut SoakReport,
) -> Vec<usize> {
    let money = |p: Position| (p.qty, p.entry, p.cost, p.realized);
    let mut differ = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (o, t) = (ours[i], theirs[i]);
        report.positions.push((name.clone(), o.qty, t.qty));
        let same = if adopted[i] {
            money(o) == money(t)
        } else {
            o == t
        };
        if !same {
            report
                .failures
                .push(format!("{name}: journal {o:?} ≠ exchange {t:?}"));
            differ.push(i);
        }
    }
    differ
}

/// Symbol `i`'s fills as the journal and the exchange hold them, one per line.
fn fill_lists(v: &Venue, journal_fills: &[Record], i: usize) -> String {
    let mut text = String::from("# journal: kind session seq side qty price fee\n");
    for r in journal_fills.iter().filter(|r| r.symbol.index() == i) {
        text += &format!(
            "{:?} {} {} {:?} {} {} {}\n",
            r.kind, r.session, r.seq, r.side, r.qty, r.price, r.fee
        );
    }
    text += "# exchange: trade order side qty price fee\n";
    v.venue.with(|m| {
        for t in m.trades().iter().filter(|t| t.symbol == v.names[i]) {
            text += &format!(
                "{} {} {:?} {} {} {}\n",
                t.id, t.order_id, t.side, t.qty, t.price, t.commission
            );
        }
    });
    text
}

/// Memory is flat within each unkilled run.
fn check_memory(runs: &[RunRecord], report: &mut SoakReport) {
    let mut longest = 0;
    for r in runs.iter().filter(|r| !r.killed && r.rss_kib.len() >= 8) {
        let q = r.rss_kib.len() / 4;
        let (first, last) = (
            median(&r.rss_kib[..q]),
            median(&r.rss_kib[r.rss_kib.len() - q..]),
        );
        if last as f64 > first as f64 * 1.2 + 4096.0 {
            report.failures.push(format!(
                "memory grew within a run: {first} KiB → {last} KiB (log {})",
                r.log.display()
            ));
        }
        if r.rss_kib.len() > longest {
            longest = r.rss_kib.len();
            report.rss_kib = (first, last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_unit_is_in_range() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        for _ in 0..1000 {
            let x = a.unit();
            assert_eq!(x, b.unit());
            assert!((0.0..1.0).contains(&x));
        }
        assert_ne!(Rng(1).next_u64(), Rng(2).next_u64());
    }

    #[test]
    fn the_soak_fault_plan_is_valid() {
        FaultPlan::from_toml(&format!("seed = 3\n{FAULTS}")).unwrap();
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[5, 1, 3]), 3);
        assert_eq!(median(&[4, 1, 3, 2]), 3);
        assert_eq!(median(&[]), 0);
    }

    #[test]
    fn memory_growth_within_a_run_fails_and_flat_passes() {
        let run = |rss: Vec<u64>| RunRecord {
            killed: false,
            exit_ok: true,
            rss_kib: rss,
            log: PathBuf::from("x.log"),
        };
        let mut flat = SoakReport::default();
        check_memory(&[run(vec![10_000; 16])], &mut flat);
        assert!(flat.passed(), "{flat}");
        assert_eq!(flat.rss_kib, (10_000, 10_000));
        let mut grew = SoakReport::default();
        let rising: Vec<u64> = (0..16).map(|i| 10_000 + i * 2_000).collect();
        check_memory(&[run(rising)], &mut grew);
        assert!(!grew.passed());
        assert!(grew.to_string().contains("memory grew"), "{grew}");
    }

    /// A Binance lap's child configuration with `overlay`, on fixed test URLs and journal,
    /// with the venue and options it came from.
    fn lap_config(overlay: Option<&str>) -> (Venue, SoakOptions, Config) {
        let base = soak_config(overlay).unwrap();
        let v = venue(&base, VenueName::Binance).unwrap();
        let opts = test_options(overlay);
        let text = child_config(
            &opts,
            &v,
            "ws://127.0.0.1:9/stream",
            "http://127.0.0.1:9",
            Path::new("/tmp/j"),
        )
        .unwrap();
        (v, opts, Config::parse(&text).unwrap())
    }

    /// Options of a Binance soak with `overlay`, for the child-config tests.
    fn test_options(overlay: Option<&str>) -> SoakOptions {
        SoakOptions {
            minutes: 0.0,
            seed: 1,
            speed: 50.0,
            kill_probability: 0.5,
            faults: true,
            dir: std::env::temp_dir(),
            venue: VenueName::Binance,
            overlay: overlay.map(str::to_string),
        }
    }

    #[test]
    fn child_config_is_valid_points_at_the_lap_and_carries_the_soak_risk() {
        let (v, opts, cfg) = lap_config(None);
        let base = soak_config(None).unwrap();
        assert_eq!(cfg.venue.ws_url, "ws://127.0.0.1:9/stream");
        assert_eq!(cfg.exec.rest_url, "http://127.0.0.1:9");
        assert_eq!(cfg.venue.symbols, vec!["BTCUSDT", "ETHUSDT"]);
        assert_eq!(cfg.exec.journal, PathBuf::from("/tmp/j"));
        // The soak account (config/soak_risk.toml); the loss limits keep the defaults.
        let default = Config::parse(DEFAULT_TOML).unwrap();
        assert_eq!(cfg.risk.balance, 100_000.0);
        assert_eq!(cfg.risk.order_notional, 1_000.0);
        assert_eq!(cfg.risk.limits.max_positions, 1);
        let (a, b) = (&cfg.risk.limits, &default.risk.limits);
        assert_eq!(
            (a.daily_loss, a.drawdown_pause, a.emergency_drawdown),
            (b.daily_loss, b.drawdown_pause, b.emergency_drawdown)
        );
        // The losing-streak pause is off: it survives restarts now and no operator resumes it
        // in the soak (config/soak_risk.toml says why).
        assert_eq!((a.max_consecutive_losses, b.max_consecutive_losses), (0, 5));
        assert_eq!(cfg.risk.sizing, {
            let mut s = default.risk.sizing.clone();
            s.method = cfg.risk.sizing.method;
            s
        });
        assert_ne!(cfg.risk.sizing.method, default.risk.sizing.method);
        // The exchange's account is the soak's.
        assert_eq!(v.venue.with(|m| m.balance()), Decimal::from(100_000));
        assert_eq!(cfg.venue.name, "binance");
        // A Bybit soak: the child speaks Bybit, with Bybit's specs and host.
        let by = venue(&base, VenueName::Bybit).unwrap();
        let text = child_config(
            &opts,
            &by,
            "ws://127.0.0.1:9/v5/public/linear",
            "http://127.0.0.1:9",
            Path::new("/tmp/j"),
        )
        .unwrap();
        let cfg = Config::parse(&text).unwrap();
        assert_eq!(
            (cfg.venue.name.as_str(), cfg.venue.rest_host.as_str()),
            ("bybit", "api.bybit.com")
        );
        assert!(by.rec.streams.iter().all(|s| s.starts_with("publicTrade.")));
    }

    #[test]
    fn the_heavy_overlay_is_laid_last_and_keeps_the_soak_account() {
        let (v, opts, cfg) = lap_config(Some(HEAVY));
        // The overlay wins over the soak's own 2 s cooldown.
        assert_eq!(cfg.strategy.cooldown_ms, 0);
        assert_eq!(cfg.model.tau_s, 0.0);
        assert_eq!(cfg.risk.exits.sl_fraction, 0.0006);
        assert!(!cfg.layers.drift.enabled && !cfg.layers.regime.enabled);
        // The soak's account and servers stay.
        assert_eq!(cfg.risk.order_notional, 1_000.0);
        assert_eq!(cfg.risk.limits.max_positions, 1);
        assert_eq!(cfg.exec.rest_url, "http://127.0.0.1:9");
        // A broken overlay is a clear error, not a default run.
        let bad = SoakOptions {
            overlay: Some("[strategy\ncooldown_ms = 0".into()),
            ..opts
        };
        let e = child_config(&bad, &v, "ws://x", "http://x", Path::new("/tmp/j")).unwrap_err();
        assert!(e.contains("soak overlay"), "{e}");
    }

    #[test]
    fn overlay_merges_tables_and_replaces_values() {
        let mut doc: toml::Table = "[a]\nx = 1\ny = 2\n[a.b]\nz = 3\n[c]\nw = 4\n"
            .parse()
            .unwrap();
        overlay(&mut doc, "[a]\ny = 5\n[a.b]\nq = 6\n".parse().unwrap());
        let want: toml::Table = "[a]\nx = 1\ny = 5\n[a.b]\nz = 3\nq = 6\n[c]\nw = 4\n"
            .parse()
            .unwrap();
        assert_eq!(doc, want);
    }

    #[test]
    fn a_run_not_killed_must_exit_zero() {
        let run = |killed, exit_ok| RunRecord {
            killed,
            exit_ok,
            ..RunRecord::default()
        };
        let mut ok = SoakReport::default();
        check_exits(&[run(true, false), run(false, true)], &mut ok);
        assert!(ok.passed(), "{ok}");
        let mut bad = SoakReport::default();
        check_exits(&[run(false, false)], &mut bad);
        assert!(!bad.passed());
    }

    #[test]
    fn a_client_id_received_twice_fails() {
        let ids = |v: &[(&str, u32)]| -> HashMap<String, u32> {
            v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        let mut ok = SoakReport::default();
        check_client_ids(&ids(&[("ct1-1", 1), ("ct1-2", 1)]), &mut ok);
        assert!(ok.passed(), "{ok}");
        let mut bad = SoakReport::default();
        check_client_ids(&ids(&[("ct1-1", 1), ("ct1-2", 2)]), &mut bad);
        assert_eq!(bad.duplicate_ids, 1);
        assert!(bad.to_string().contains("ct1-2"), "{bad}");
    }

    #[test]
    fn an_unfinished_order_fails() {
        let mut ok = SoakReport::default();
        check_unfinished(0, &mut ok);
        assert!(ok.passed());
        let mut bad = SoakReport::default();
        check_unfinished(2, &mut bad);
        assert_eq!(bad.unfinished, 2);
        assert!(!bad.passed());
    }

    #[test]
    fn positions_must_be_equal_to_the_last_decimal() {
        let names = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        let mut p = Position::default();
        p.apply_fill(
            crate::types::Side::Buy,
            "61800.3".parse().unwrap(),
            "0.003".parse().unwrap(),
            "0.0741".parse().unwrap(),
        );
        let both = [p, Position::default()];
        let plain = [false, false];
        let mut ok = SoakReport::default();
        assert!(compare_positions(&names, &both, &both, &plain, &mut ok).is_empty());
        assert!(ok.passed(), "{ok}");
        // One unit in the 23rd decimal of the entry (the last Decimal holds at this price).
        let mut off = p;
        off.entry += Decimal::new(1, 23);
        assert_ne!(off.entry, p.entry);
        let mut bad = SoakReport::default();
        let differ = compare_positions(
            &names,
            &[off, Position::default()],
            &both,
            &[true, false],
            &mut bad,
        );
        assert_eq!(differ, vec![0]);
        assert!(bad.to_string().contains("BTCUSDT: journal"), "{bad}");
        let mut fees = p;
        fees.fees += Decimal::new(1, 8);
        let mut bad = SoakReport::default();
        let theirs = [fees, Position::default()];
        assert_eq!(
            compare_positions(&names, &both, &theirs, &plain, &mut bad),
            vec![0]
        );
        // After an adoption fees and fill count are the venue's alone: not compared.
        let mut adopted = SoakReport::default();
        let differ = compare_positions(&names, &both, &theirs, &[true, false], &mut adopted);
        assert!(differ.is_empty(), "{adopted}");
    }

    #[test]
    fn book_peaks_keep_the_worst_sample() {
        let mut b = BookPeaks::default();
        b.observe(100_000.0, &[("BTCUSDT".into(), 1_000.0)]);
        b.observe(99_000.0, &[]);
        b.observe(
            99_500.0,
            &[("BTCUSDT".into(), 500.0), ("ETHUSDT".into(), 1_990.0)],
        );
        assert_eq!(b.samples, 3);
        assert_eq!(b.max_open, 2);
        assert_eq!(b.min_equity, 99_000.0);
        assert_eq!(b.max_exposure.1, "ETHUSDT");
        assert!((b.max_exposure.0 - 0.02).abs() < 1e-12);
    }

    #[test]
    fn each_risk_limit_breach_fails() {
        let limits = LimitsConfig {
            max_positions: 1,
            max_symbol_exposure: 2.5,
            emergency_drawdown: 0.2,
            ..LimitsConfig::default()
        };
        let within = BookPeaks {
            samples: 10,
            max_open: 1,
            max_exposure: (2.6, "BTCUSDT".into()),
            min_equity: 76_000.0,
        };
        let mut ok = SoakReport::default();
        check_limits(&limits, 100_000.0, &within, &mut ok);
        assert!(ok.passed(), "{ok}");
        assert_eq!(ok.max_open, (1, 1));
        for (breach, words) in [
            (
                BookPeaks {
                    max_open: 2,
                    ..within.clone()
                },
                "max_positions",
            ),
            (
                BookPeaks {
                    max_exposure: (2.7, "ETHUSDT".into()),
                    ..within.clone()
                },
                "ETHUSDT: |notional|",
            ),
            (
                BookPeaks {
                    min_equity: 74_000.0,
                    ..within.clone()
                },
                "emergency drawdown floor",
            ),
        ] {
            let mut bad = SoakReport::default();
            check_limits(&limits, 100_000.0, &breach, &mut bad);
            assert_eq!(bad.failures.len(), 1, "{bad}");
            assert!(bad.to_string().contains(words), "{bad}");
        }
    }

    #[test]
    fn trading_that_stops_fails() {
        let mut ok = SoakReport::default();
        check_trading(&[5, 0, 3, 4, 0, 2, 1, 6], &mut ok);
        assert!(ok.passed(), "{ok}");
        assert_eq!(ok.orders_by_quarter, vec![5, 7, 2, 7]);
        let mut stopped = SoakReport::default();
        check_trading(&[9, 8, 7, 6, 1, 0, 0, 0], &mut stopped);
        assert_eq!(stopped.orders_by_quarter, vec![17, 13, 1, 0]);
        assert!(stopped.to_string().contains("trading stopped"), "{stopped}");
        let mut short = SoakReport::default();
        check_trading(&[0, 3], &mut short);
        assert_eq!(short.orders_by_quarter, vec![3]);
        assert!(short.passed());
        let mut none = SoakReport::default();
        check_trading(&[0, 0], &mut none);
        assert!(!none.passed());
    }
}
