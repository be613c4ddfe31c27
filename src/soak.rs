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
//! At the end (after a last lap that runs to its end unkilled) it checks the invariants:
//! - the journal's positions equal the exchange's, symbol by symbol: quantity, fees and fill
//!   count exactly, average entry and realized PnL to 1e-12 (average-cost division rounds at
//!   Decimal's 28th digit differently for one fill of 2q and two of q);
//! - every client order id reached the exchange once;
//! - no order is left unfinished in the journal;
//! - the risk limits hold on the exchange's book (open positions ≤ `risk.limits.max_positions`,
//!   each |notional| ≤ `max_symbol_exposure` × equity, 5 % slack for price moves after entry)
//!   and across restarts (equity ≥ balance × (1 − `emergency_drawdown`) − 5 % slack);
//! - memory is flat: in each run that was not killed, the median RSS of its last quarter is at
//!   most 1.2 × the median of its first quarter plus 4 MiB;
//! - every run that was not killed exited 0.
//!
//! With `faults`, every lap's order entry injects [`FAULTS`] (5xx with and without the fill,
//! 429, timeouts, resets after read, partial fills, duplicate acks).
//!
//! Randomness is a splitmix64 stream from `seed` (printed, so a failing soak can be re-run).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::config::{resolve_path, Config, DEFAULT_TOML};
use crate::exchange::fault_plan::FaultPlan;
use crate::exchange::orders::{Matching, SimVenue};
use crate::exchange::rest_orders::{RestOptions, SimCredentials};
use crate::exchange::{EmbeddedExchange, Recording, RestExchange};
use crate::exec::journal::{FsyncPolicy, Journal};
use crate::exec::FillModel;
use crate::types::instrument::load_specs;

/// The symbols the bundled Binance replay carries.
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
/// Longest a single child run may take before the soak fails it.
const RUN_LIMIT: Duration = Duration::from_secs(600);
/// RSS sampling period of a child.
const RSS_EVERY: Duration = Duration::from_millis(250);

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
}

/// The soak's fault plan (`seed` is set per lap): unknown outcomes with and without the fill,
/// rate limits, reply timeouts, resets after the request was read, partial fills and duplicate
/// acks on orders; rate limits and timeouts on status queries. (418 is left out: without the
/// `Retry-After` value the limiter backs off 120 s, longer than a lap.)
pub const FAULTS: &str = include_str!("../config/soak_faults.toml");

/// One child run.
#[derive(Clone, Debug, Default)]
struct RunRecord {
    killed: bool,
    exit_ok: bool,
    rss_kib: Vec<u64>,
    log: PathBuf,
}

/// What the soak saw and whether every invariant held.
#[derive(Debug, Default)]
pub struct SoakReport {
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
    /// Fills the exchange made.
    pub fills: usize,
    /// Client order ids received more than once.
    pub duplicate_ids: usize,
    /// Orders the journal still holds unfinished at the end.
    pub unfinished: usize,
    /// Final positions per symbol: (name, journal qty, exchange qty).
    pub positions: Vec<(String, Decimal, Decimal)>,
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
        write!(
            f,
            "soak: {} — {:.1} min, seed {}, faults {}, {} laps, {} runs ({} killed), {} orders, {} fills, \
             positions equal [{}], {} duplicate ids, {} unfinished, RSS {:.1}→{:.1} MiB",
            if self.passed() { "PASS" } else { "FAIL" },
            self.elapsed_s / 60.0,
            self.seed,
            if self.faults { "on" } else { "off" },
            self.laps,
            self.runs,
            self.kills,
            self.orders,
            self.fills,
            pos.join(", "),
            self.duplicate_ids,
            self.unfinished,
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
    rec: Arc<Recording>,
    venue: Arc<SimVenue>,
    creds: SimCredentials,
    names: Vec<String>,
    instruments_file: PathBuf,
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
    let base = Config::parse(DEFAULT_TOML).map_err(|e| e.to_string())?;
    let v = venue(&base)?;
    let mut rng = Rng(opts.seed);
    let mut report = SoakReport {
        seed: opts.seed,
        faults: opts.faults,
        ..SoakReport::default()
    };
    let mut runs: Vec<RunRecord> = Vec::new();
    let deadline = t0 + Duration::from_secs_f64(opts.minutes * 60.0);
    loop {
        let last = Instant::now() >= deadline;
        report.laps += 1;
        lap(opts, exe, &v, &journal, &mut rng, last, &mut runs)?;
        eprintln!(
            "soak: lap {} done at {:.0} s: {} runs, {} killed, {} orders",
            report.laps,
            t0.elapsed().as_secs_f64(),
            runs.len(),
            runs.iter().filter(|r| r.killed).count(),
            v.venue.with(|m| m.orders().len())
        );
        if last {
            break;
        }
    }
    report.elapsed_s = t0.elapsed().as_secs_f64();
    check(&base, &v, &journal, &runs, &mut report);
    Ok(report)
}

/// The exchange's shared state: the recording, the matching engine with the bundled specs,
/// fresh credentials.
fn venue(base: &Config) -> Result<Venue, String> {
    let files: Vec<PathBuf> = base.replay.files.iter().map(|f| resolve_path(f)).collect();
    let rec = Recording::load(&files)?;
    let names: Vec<String> = SYMBOLS.iter().map(|s| s.to_string()).collect();
    let instruments_file = resolve_path(&base.venue.instruments);
    let inst = load_specs(&instruments_file, "binance", &names)?;
    let fee = base.taker_fee().map_err(|e| e.to_string())?;
    let venue = Arc::new(SimVenue::new(Matching::new(
        names.iter().cloned().zip(inst).collect(),
        FillModel {
            taker_fee: fee,
            slippage_bps: Decimal::ONE,
        },
        Decimal::from(10_000),
    )));
    let creds = SimCredentials::generate().map_err(|e| format!("credentials: {e}"))?;
    Ok(Venue {
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
    runs: &mut Vec<RunRecord>,
) -> Result<(), String> {
    let loopback = "127.0.0.1:0".parse().expect("loopback address");
    let replay = EmbeddedExchange::start(loopback, v.rec.clone(), opts.speed)
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
            .join(format!("{}.log", runs.len() + 1));
        let r = run_child(exe, &cfg, &v.creds, &log, kill_after)?;
        let ended = !r.killed;
        runs.push(r);
        if ended {
            return Ok(());
        }
    }
}

/// The child's configuration: the default one pointed at this lap's servers, with the soak's
/// journal, two symbols, a parked hot thread (the exchange shares the two cores), a long
/// recvWindow and drain (replies may be delayed) and a small risk per trade.
fn child_config(
    opts: &SoakOptions,
    v: &Venue,
    ws_url: &str,
    rest_url: &str,
    journal: &Path,
) -> Result<String, String> {
    let mut doc: toml::Table = DEFAULT_TOML.parse().map_err(|e| format!("{e}"))?;
    let set = |doc: &mut toml::Table, section: &str, key: &str, val: toml::Value| {
        if let Some(toml::Value::Table(t)) = doc.get_mut(section) {
            t.insert(key.to_string(), val);
        }
    };
    let s = |x: &str| toml::Value::String(x.to_string());
    set(&mut doc, "run", "topology", s("fused"));
    let dumps = opts.dir.join("dumps");
    set(&mut doc, "run", "dump_dir", s(&dumps.display().to_string()));
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
    let text = toml::to_string(&doc).map_err(|e| format!("{e}"))?;
    Config::parse(&text).map_err(|e| format!("soak child config: {e}"))?;
    Ok(text)
}

/// Starts the trader, samples its RSS, kills it after `kill_after` (if given and it is still
/// running) and waits for it.
fn run_child(
    exe: &Path,
    cfg: &Path,
    creds: &SimCredentials,
    log: &Path,
    kill_after: Option<Duration>,
) -> Result<RunRecord, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child: Child = Command::new(exe)
        .arg("--config")
        .arg(cfg)
        .arg("--quiet")
        .env("BINANCE_API_KEY", &creds.api_key)
        .env("BINANCE_API_SECRET", &creds.secret)
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
        let overdue = now.duration_since(started) > RUN_LIMIT;
        if overdue || kill_after.is_some_and(|k| now.duration_since(started) >= k) {
            // SIGKILL on Unix: no chance to flush or clean up.
            let _ = child.kill();
            let _ = child.wait();
            rec.killed = !overdue;
            rec.exit_ok = false;
            return Ok(rec);
        }
        std::thread::sleep(Duration::from_millis(20));
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
fn check(base: &Config, v: &Venue, journal: &Path, runs: &[RunRecord], report: &mut SoakReport) {
    report.runs = runs.len() as u32;
    report.kills = runs.iter().filter(|r| r.killed).count() as u32;
    for r in runs.iter().filter(|r| !r.killed && !r.exit_ok) {
        report.failures.push(format!(
            "a run that was not killed failed or overran (log {})",
            r.log.display()
        ));
    }
    check_venue(base, v, report);
    check_journal(v, journal, report);
    check_memory(runs, report);
}

/// Client ids, order counts and the risk limits on the exchange's book.
fn check_venue(base: &Config, v: &Venue, report: &mut SoakReport) {
    let (orders, fills, dup, book, equity) = v.venue.with(|m| {
        let dup: Vec<(String, u32)> = m
            .received_client_ids()
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        (
            m.orders().len(),
            m.trades().len(),
            dup,
            m.positions(),
            m.balance() + m.unrealized(),
        )
    });
    report.orders = orders;
    report.fills = fills;
    report.duplicate_ids = dup.len();
    if !dup.is_empty() {
        report
            .failures
            .push(format!("client ids sent more than once: {dup:?}"));
    }
    let limits = &base.risk.limits;
    let open = book.iter().filter(|(_, p, _)| !p.qty.is_zero()).count();
    if open > limits.max_positions as usize {
        report.failures.push(format!(
            "{open} open positions > risk.limits.max_positions {}",
            limits.max_positions
        ));
    }
    let equity = equity.to_f64().unwrap_or(0.0);
    let start = base.risk.balance;
    let floor = start * (1.0 - limits.emergency_drawdown - 0.05);
    if limits.emergency_drawdown > 0.0 && equity < floor {
        report.failures.push(format!(
            "equity {equity:.2} fell below the emergency drawdown floor {floor:.2} (balance {start}, \
             risk.limits.emergency_drawdown {}, 5 % slack)",
            limits.emergency_drawdown
        ));
    }
    let equity = equity.max(0.0);
    for (name, p, mark) in &book {
        let notional = (p.qty * *mark).abs().to_f64().unwrap_or(f64::INFINITY);
        if notional > limits.max_symbol_exposure * equity * 1.05 {
            report.failures.push(format!(
                "{name}: |notional| {notional:.2} > {} × equity {equity:.2}",
                limits.max_symbol_exposure
            ));
        }
    }
}

/// The journal's positions against the exchange's, and unfinished orders.
fn check_journal(v: &Venue, journal: &Path, report: &mut SoakReport) {
    let (_j, replayed) = match Journal::open(journal, &v.names, FsyncPolicy::Never) {
        Ok(x) => x,
        Err(e) => {
            report.failures.push(format!("journal: {e}"));
            return;
        }
    };
    report.unfinished = replayed.pending.len();
    if !replayed.pending.is_empty() {
        report.failures.push(format!(
            "{} orders unfinished in the journal: {:?}",
            replayed.pending.len(),
            replayed.pending
        ));
    }
    for (i, name) in v.names.iter().enumerate() {
        let ours = replayed.position(i);
        let theirs = v.venue.with(|m| m.position(name));
        report.positions.push((name.clone(), ours.qty, theirs.qty));
        // Quantity, fees and fill count exactly; entry and realized PnL to 1e-12 USDT: average
        // cost divides, and one fill of 2q and two fills of q can differ at Decimal's 28th
        // digit (seen: 8e-26 after partial fills).
        let close = |a: Decimal, b: Decimal| (a - b).abs() <= Decimal::new(1, 12);
        let same = ours.qty == theirs.qty
            && close(ours.entry, theirs.entry)
            && close(ours.realized, theirs.realized)
            && ours.fees == theirs.fees
            && ours.fills == theirs.fills;
        if !same {
            report
                .failures
                .push(format!("{name}: journal {ours:?} ≠ exchange {theirs:?}"));
        }
    }
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

    #[test]
    fn child_config_is_valid_and_points_at_the_lap() {
        let base = Config::parse(DEFAULT_TOML).unwrap();
        let v = venue(&base).unwrap();
        let opts = SoakOptions {
            minutes: 0.0,
            seed: 1,
            speed: 50.0,
            kill_probability: 0.5,
            faults: true,
            dir: std::env::temp_dir(),
        };
        let text = child_config(
            &opts,
            &v,
            "ws://127.0.0.1:9/stream",
            "http://127.0.0.1:9",
            Path::new("/tmp/j"),
        )
        .unwrap();
        let cfg = Config::parse(&text).unwrap();
        assert_eq!(cfg.venue.ws_url, "ws://127.0.0.1:9/stream");
        assert_eq!(cfg.exec.rest_url, "http://127.0.0.1:9");
        assert_eq!(cfg.venue.symbols, vec!["BTCUSDT", "ETHUSDT"]);
        assert_eq!(cfg.exec.journal, PathBuf::from("/tmp/j"));
    }
}
