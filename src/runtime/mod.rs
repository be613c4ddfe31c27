//! Threads, pinning, topologies (`fused` / `pipeline`), the monitor and orderly shutdown.

pub mod account;
pub mod affinity;
pub mod check;
pub mod exec_setup;
pub mod fused;
pub mod learned;
pub mod monitor;
pub mod pipeline;
pub mod private_stream;
pub mod shutdown;
pub mod source;
pub mod specs;
pub mod status;
pub mod symbols;
pub mod wait;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::prelude::ToPrimitive;

use crate::config::{resolve_path, Config, Topology, WaitKind};
use crate::control::ControlHandle;
use crate::exchange::{EmbeddedExchange, Recording};
use crate::feed::protocol::Venue;
use crate::strategy::{Engine, StrategyParams};
use crate::telemetry::{
    handoff, handoff_with_view, percentile_table, Clock, CounterSet, Epoch, StageHistograms,
};
use crate::types::SymbolTable;

pub use affinity::AllowedCores;
pub use shutdown::Shutdown;

use self::monitor::{MonitorPlan, MonitorReport};
use self::pipeline::{Pipeline, PipelinePlan};
use self::wait::FeedWait;
use crate::exec::ExecStage;
use crate::feed::stage::{FeedPlan, FeedStage};
use crate::strategy::ComputeStage;

/// The topology actually run, after `auto` and the host are considered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chosen {
    /// One hot thread on this core.
    Fused {
        /// Core of the hot thread.
        hot: usize,
    },
    /// Three threads on these cores (network, compute, execution).
    Pipeline {
        /// Cores of network, compute, execution.
        cores: [usize; 3],
    },
}

impl Chosen {
    /// `fused` or `pipeline`.
    pub fn name(&self) -> &'static str {
        match self {
            Chosen::Fused { .. } => "fused",
            Chosen::Pipeline { .. } => "pipeline",
        }
    }

    /// The cores the hot thread(s) are pinned to.
    pub fn hot_cores(&self) -> Vec<usize> {
        match self {
            Chosen::Fused { hot } => vec![*hot],
            Chosen::Pipeline { cores } => cores.to_vec(),
        }
    }
}

/// Picks the topology: `auto` runs `pipeline` only when at least `min_cores_for_pipeline` cores
/// are allowed and the three configured cores are among them; otherwise `fused`. A configured
/// hot core that is not allowed falls back (with a warning) to the highest allowed core.
pub fn choose_topology(cfg: &Config, allowed: &AllowedCores) -> Chosen {
    let c = &cfg.cores;
    let pipeline_cores = [c.network, c.compute, c.execution];
    let pipeline_fits = allowed.len() >= c.min_cores_for_pipeline
        && pipeline_cores.iter().all(|&k| allowed.contains(k))
        && c.network != c.compute
        && c.compute != c.execution
        && c.network != c.execution;
    let fused = || {
        let hot = if allowed.contains(c.hot) || allowed.is_empty() {
            c.hot
        } else {
            let fallback = allowed.ids().into_iter().max().unwrap_or(0);
            eprintln!(
                "warning: cores.hot = {} is not among the allowed cores {:?}; using core {fallback}",
                c.hot,
                allowed.ids()
            );
            fallback
        };
        Chosen::Fused { hot }
    };
    match cfg.run.topology {
        Topology::Fused => fused(),
        Topology::Pipeline => Chosen::Pipeline {
            cores: pipeline_cores,
        },
        Topology::Auto if pipeline_fits => Chosen::Pipeline {
            cores: pipeline_cores,
        },
        Topology::Auto => fused(),
    }
}

/// Operator commands queued at most (the compute thread drains them between ticks).
pub const COMMAND_RING: usize = 64;

/// The function of a [`ControlHook`].
type HookFn = dyn Fn(Arc<ControlHandle>) -> Result<(), String> + Send + Sync;

/// Called once per run, on the calling thread, with the run's operator handle, after start-up
/// recovery (risk state restored, first status published) and before the monitor and the hot
/// thread(s) start: the place to start the control server (`control::server::spawn(&cfg,
/// handle)`) or any other cold consumer of the handle. An error ends the run before trading.
#[derive(Clone)]
pub struct ControlHook(Arc<HookFn>);

impl ControlHook {
    /// A hook calling `f`.
    pub fn new(
        f: impl Fn(Arc<ControlHandle>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(f))
    }
}

impl std::fmt::Debug for ControlHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlHook")
    }
}

/// Options of one run beyond the config file.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Print a status line every status interval.
    pub print_status: bool,
    /// Stop after this long even if the feed is still open.
    pub max_duration: Option<Duration>,
    /// `--live`: real orders are allowed (`exec.mode = "live"` refuses to start without it).
    pub live: bool,
    /// Receives the run's [`ControlHandle`] (commands in, status out) before trading starts.
    pub control: Option<ControlHook>,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct RunReport {
    /// The topology that ran.
    pub topology: Chosen,
    /// Latencies and counters.
    pub monitor: MonitorReport,
    /// Final positions and strategy counters.
    pub engine: Engine,
    /// Symbols (the universe), in id order.
    pub symbols: SymbolTable,
    /// Symbols active at start (`venue.symbols`): ids `0..active`.
    pub active: usize,
}

/// Runs the whole pipeline as configured; returns when the feed ends or a stop is requested.
/// Steps: pick and pin the topology → load symbols and specs → start the feed (and the
/// embedded exchange) → build the strategy and the execution side (recovery) → start the
/// monitor → run the hot thread(s) → stop everything.
pub fn run(cfg: &Config, opts: &RunOptions, shutdown: Shutdown) -> Result<RunReport, String> {
    if cfg.exec.mode == crate::exec::ExecMode::Live && !opts.live {
        return Err("exec.mode = \"live\" sends real orders: pass --live to confirm".into());
    }
    // Read the allowed CPUs before any thread pins itself (they are per-thread).
    let allowed = AllowedCores::detect();
    let topology = choose_topology(cfg, &allowed);
    let _caller_mask = pin_cold_work(&allowed, &topology);
    // Once per run: which host checks fail for the hot cores (see `calculus-trader check-host`).
    for warning in
        crate::tuning::host::startup_warnings(&crate::tuning::Host::live(), &topology.hot_cores())
    {
        eprintln!("{warning}");
    }

    // The universe: configured symbols first (ids 0..n, active), then those addable at run time.
    let universe = symbols::load(cfg)?;
    let (symbols, instruments) = (universe.table.clone(), universe.instruments.clone());
    let clock = Clock::new();
    // Before anything connects: a corrupt state file refuses the start (see `load_risk_state`).
    let explicit_state =
        (!cfg.risk.state_file.as_os_str().is_empty()).then(|| resolve_path(&cfg.risk.state_file));
    if let Some(p) = &explicit_state {
        if cfg.risk.state_on_corrupt == crate::risk::config::StateOnCorrupt::Refuse {
            load_risk_state(cfg, p)?;
        }
    }

    let (exchange, target) = feed_target(cfg)?;
    let mut feed = start_feed(cfg, target, exchange.is_some(), &universe, &clock)?;

    let run_id = run_id(topology.name());
    let dump_dir = resolve_dump_dir(&cfg.run.dump_dir).join(&run_id);
    std::fs::create_dir_all(&dump_dir)
        .map_err(|e| format!("cannot create {}: {e}", dump_dir.display()))?;
    let setup = exec_setup::build(
        cfg,
        opts.live,
        &symbols,
        &instruments,
        exchange.as_ref(),
        &clock,
        &dump_dir,
    )?;
    let mut compute = build_compute(cfg, &setup, &universe, &feed, &clock);
    apply_startup(cfg, &setup, &mut compute);
    symbols::subscribe_held(&universe, &mut feed, &setup.replayed.positions);
    let (state_file, handle) =
        operator_setup(cfg, explicit_state, &setup.journal_path, &mut compute)?;
    let learned = learned::setup(cfg, &setup.journal_path, compute.learned_mut())?;
    symbols::attach(&handle, &universe, &mut feed)?;
    let (account, client) = account_setup(cfg, setup.account, &mut compute, &handle, &shutdown)?;
    let rest_exchange = setup.rest;
    let mut executor = setup.executor;
    executor.set_positions(setup.replayed.positions.iter().map(|p| p.qty));
    let journal_failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let exec = ExecStage::new(executor, clock.clone())
        .with_drain_timeout(Duration::from_millis(cfg.exec.drain_timeout_ms))
        .with_warm(cfg.exec.warm_every(), universe.active.len())
        .with_emergency(
            {
                let shutdown = shutdown.clone();
                Box::new(move || shutdown.request())
            },
            journal_failed.clone(),
        );
    let (exec, _spec_refresh) = specs::start_refresh(cfg, &universe, &handle, exec)?;
    let with = (client, rest_exchange.as_ref());
    let (exec, private) = private_stream_setup(cfg, with, &symbols, &handle, &shutdown, exec)?;

    let replay_stats = exchange.as_ref().map(|e| e.stats());
    // Publishes a first status (symbol names) so the hook's consumers can resolve symbols.
    let status = status::StatusKeeper::new(status_plan(
        cfg,
        topology,
        &symbols,
        &feed,
        handle.clone(),
        (state_file, learned.clone()),
    ));
    if let Some(hook) = &opts.control {
        (hook.0)(handle).map_err(|e| format!("control: {e}"))?;
    }
    let (publishers, monitor) =
        spawn_monitor(cfg, opts, topology, &dump_dir, run_id, replay_stats, status)?;
    let watchdog = opts
        .max_duration
        .map(|d| spawn_watchdog(d, shutdown.clone()));

    let hot = HotStages {
        feed,
        compute,
        exec,
        publishers,
    };
    let engine = run_topology(cfg, topology, &allowed, hot, clock, &shutdown)?;
    // Stop the watchdog (if any) and the exchange; the monitor ends once every thread finished.
    shutdown.request();
    for t in [watchdog, account, private].into_iter().flatten() {
        let _ = t.join();
    }
    drop(rest_exchange);
    drop(exchange);
    let monitor = monitor
        .join()
        .map_err(|_| "monitor thread panicked".to_string())?;
    if journal_failed.load(std::sync::atomic::Ordering::Acquire) {
        return Err(
            "the order journal could not be written (disk full?): trading halted after closing the venue positions (see above); the next start reconciles with the venue".into(),
        );
    }
    let monitor = monitor.map_err(|e| format!("writing dumps: {e}"))?;
    Ok(RunReport {
        topology,
        monitor,
        engine,
        symbols,
        active: universe.active.len(),
    })
}

/// The monitor thread; it returns its report once every publisher is dropped.
type MonitorThread = std::thread::JoinHandle<std::io::Result<MonitorReport>>;

/// One monitor publisher per hot thread of `topology`, and the monitor thread collecting them
/// (status lines, interval dumps to `dump_dir/stages.hlog`).
fn spawn_monitor(
    cfg: &Config,
    opts: &RunOptions,
    topology: Chosen,
    dump_dir: &Path,
    run_id: String,
    replay_stats: Option<Arc<crate::exchange::ReplayStats>>,
    status: status::StatusKeeper,
) -> Result<(Vec<crate::telemetry::Publisher>, MonitorThread), String> {
    let epoch = Epoch::default();
    // The thread running the engine carries its status view.
    let (names, engine_thread): (&[&'static str], usize) = match topology {
        Chosen::Fused { .. } => (&["hot"], 0),
        Chosen::Pipeline { .. } => (&["network", "compute", "execution"], 1),
    };
    let n_symbols = status.n_symbols();
    let (publishers, collectors): (Vec<_>, Vec<_>) = names
        .iter()
        .enumerate()
        .map(|(k, n)| {
            if k == engine_thread {
                handoff_with_view(n, &epoch, n_symbols)
            } else {
                handoff(n, &epoch)
            }
        })
        .unzip();
    let plan = MonitorPlan {
        status_interval: Duration::from_secs_f64(cfg.run.status_interval_s),
        dump_interval: Duration::from_secs_f64(cfg.run.dump_interval_s),
        hlog_path: dump_dir.join("stages.hlog"),
        run_name: run_id,
        print_status: opts.print_status,
        status: Some(status),
    };
    let monitor = std::thread::Builder::new()
        .name("monitor".into())
        .spawn(move || monitor::run(plan, collectors, epoch, replay_stats))
        .map_err(|e| format!("cannot start monitor: {e}"))?;
    Ok((publishers, monitor))
}

/// What the monitor needs for the operator status and the risk state file.
fn status_plan(
    cfg: &Config,
    topology: Chosen,
    symbols: &SymbolTable,
    feed: &FeedStage,
    handle: Arc<ControlHandle>,
    (state_file, learned): (PathBuf, Option<learned::LearnedFile>),
) -> status::StatusPlan {
    status::StatusPlan {
        handle,
        names: symbols.names().iter().map(|n| n.to_string()).collect(),
        health: Some(feed.health()),
        mode: mode_name(cfg.exec.mode).to_string(),
        venue: cfg.venue.name.clone(),
        topology: topology.name().to_string(),
        state_file: Some(state_file),
        learned,
    }
}

/// Restores the saved risk state (after the journal's PnL was booked) from `explicit` or the
/// file beside `journal`, and connects a new command ring to `compute`. Returns the state
/// file's path and the operator handle holding the ring's producer.
fn operator_setup(
    cfg: &Config,
    explicit: Option<PathBuf>,
    journal: &Path,
    compute: &mut ComputeStage,
) -> Result<(PathBuf, Arc<ControlHandle>), String> {
    let state_file = explicit.unwrap_or_else(|| crate::risk::state::default_path(journal));
    if let Some(saved) = load_risk_state(cfg, &state_file)? {
        compute.restore_risk_state(&saved);
        println!(
            "start-up: risk state restored from {}: {}",
            state_file.display(),
            describe_state(&saved)
        );
    }
    let (cmd_tx, cmd_rx) =
        crate::ring::channel(COMMAND_RING).map_err(|e| format!("command ring: {e}"))?;
    compute.set_commands(cmd_rx);
    Ok((state_file, Arc::new(ControlHandle::new(cmd_tx))))
}

/// The saved risk state at `path`: `None` when there is none; a corrupt file is an error
/// (start refused) unless `risk.state_on_corrupt = "fresh"`, which warns and starts fresh.
fn load_risk_state(
    cfg: &Config,
    path: &Path,
) -> Result<Option<crate::types::control::RiskState>, String> {
    use crate::risk::config::StateOnCorrupt;
    match crate::risk::state::load(path) {
        Ok(s) => Ok(s),
        Err(e) if cfg.risk.state_on_corrupt == StateOnCorrupt::Fresh => {
            eprintln!("warning: {e}; starting from a fresh risk state (risk.state_on_corrupt = \"fresh\")");
            Ok(None)
        }
        Err(e) => Err(format!(
            "{e}: refusing to start (inspect or move the file away, or set risk.state_on_corrupt = \"fresh\")"
        )),
    }
}

/// One line on a restored risk state: what blocks entries, the loss streak, the peak.
fn describe_state(s: &crate::types::control::RiskState) -> String {
    let mut blocks = Vec::new();
    for (on, name) in [
        (
            s.halted,
            "HALTED by an emergency stop (entries refused until resumed)",
        ),
        (s.stopped, "stopped (until start)"),
        (s.paused, "paused by an operator"),
        (s.loss_pause, "paused after a losing streak (until resumed)"),
        (s.drawdown_pause, "paused by drawdown (until resumed)"),
        (s.daily_blocked, "daily loss limit reached"),
        (s.circuit_until_ms > 0, "circuit breaker"),
    ] {
        if on {
            blocks.push(name);
        }
    }
    let state = if blocks.is_empty() {
        "running".to_string()
    } else {
        blocks.join(", ")
    };
    format!(
        "{state}; loss streak {}, peak equity {}",
        s.loss_streak, s.peak_equity
    )
}

/// Where the feed connects: WebSocket URL, REST fallback URL, TLS (for `wss://`).
struct FeedTarget {
    ws_url: String,
    rest_url: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    rest_tls: ureq::tls::TlsConfig,
}

/// The feed's target: the embedded exchange (started here) when `venue.ws_url = "embedded"`,
/// else the configured venue, whose REST fallback is `feed.rest_url`, the same loopback peer,
/// or the venue's mainnet REST.
fn feed_target(cfg: &Config) -> Result<(Option<EmbeddedExchange>, FeedTarget), String> {
    if cfg.venue.ws_url == "embedded" {
        let ex = start_embedded(cfg)?;
        let target = FeedTarget {
            ws_url: ex.url(),
            rest_url: ex.rest_url(),
            tls: None,
            rest_tls: Default::default(),
        };
        return Ok((Some(ex), target));
    }
    let ws = crate::feed::endpoint::Endpoint::parse(&cfg.venue.ws_url)?;
    let loopback = crate::feed::endpoint::is_loopback_host(&ws.host);
    let rest_url = if !cfg.feed.rest_url.is_empty() {
        cfg.feed.rest_url.clone()
    } else if loopback {
        // A loopback peer (another process's embedded exchange, a test) serves REST on the
        // same port: never fall back to the real venue from a loopback run.
        let scheme = if ws.tls { "https" } else { "http" };
        format!("{scheme}://{}:{}", ws.host, ws.port)
    } else {
        cfg.venue().mainnet_rest_url().to_string()
    };
    let trust = cfg.venue_trust()?;
    let tls = if cfg.venue.ws_url.starts_with("wss://") {
        Some(trust.rustls()?)
    } else {
        None
    };
    let target = FeedTarget {
        ws_url: cfg.venue.ws_url.clone(),
        rest_url,
        tls,
        rest_tls: trust.ureq(),
    };
    Ok((None, target))
}

/// Starts the embedded exchange replaying `replay.files` (Binance trades re-encoded as Bybit
/// messages when the venue is Bybit) on loopback, and says so.
fn start_embedded(cfg: &Config) -> Result<EmbeddedExchange, String> {
    let venue = cfg.venue();
    let files: Vec<PathBuf> = cfg.replay.files.iter().map(|f| resolve_path(f)).collect();
    let mut rec = Recording::load(&files)?;
    let mut source = format!("real {} frames", venue_label(venue));
    if venue == Venue::Bybit && rec.has_binance_streams() {
        let (bybit, n) = rec.to_bybit();
        rec = bybit;
        source = format!(
            "{n} real Binance USD-M trades RE-ENCODED as Bybit v5 publicTrade messages (plus any real Bybit frames)"
        );
    }
    let bind = cfg
        .replay
        .bind
        .parse()
        .map_err(|e| format!("replay.bind: {e}"))?;
    let ex = EmbeddedExchange::start_venue(bind, Arc::new(rec), venue, cfg.replay.speed)
        .map_err(|e| format!("embedded exchange: {e}"))?;
    let speed = if cfg.replay.speed > 0.0 {
        format!("{}x recorded pace", cfg.replay.speed)
    } else {
        "as fast as possible".to_string()
    };
    println!(
        "embedded exchange on {} replaying {source} from {} file(s), {}; REST fallback at {}; loopback only",
        ex.url(),
        cfg.replay.files.len(),
        speed,
        ex.rest_url()
    );
    Ok(ex)
}

/// Starts the feed stage on `target`. The embedded exchange (ours, or another process's on
/// loopback) ends its replay with a close code; a real venue's close is always a disconnect to
/// recover from.
fn start_feed(
    cfg: &Config,
    target: FeedTarget,
    own_exchange: bool,
    universe: &symbols::Universe,
    clock: &Clock,
) -> Result<FeedStage, String> {
    let replay_peer = own_exchange
        || crate::feed::endpoint::Endpoint::parse(&target.ws_url)
            .is_ok_and(|e| crate::feed::endpoint::is_loopback_host(&e.host));
    FeedStage::start_active(
        FeedPlan {
            venue: cfg.venue(),
            ws_url: target.ws_url,
            rest_url: target.rest_url,
            feed: cfg.feed.clone(),
            tls: target.tls,
            rest_tls: target.rest_tls,
            end_close_code: replay_peer.then_some(crate::exchange::server::END_OF_REPLAY),
            record_feed_delay: !own_exchange,
            validation: cfg.validation.clone(),
        },
        universe.table.clone(),
        &universe.active,
        clock.clone(),
    )
}

/// Prints the route and what start-up recovery did, restores the journal's positions into the
/// strategy, and under `[risk.reconcile] policy = "report"` blocks new entries on every symbol
/// left different from the venue until an operator resolves it (exits still go out); under
/// `"adopt"`, on every symbol it could not adopt (the venue reported no entry and no mark).
fn apply_startup(cfg: &Config, setup: &exec_setup::ExecSetup, compute: &mut ComputeStage) {
    println!("{}", setup.banner);
    if let Some(st) = &setup.startup {
        let learnt = st.recovered_fills + st.recovered_missing + st.venue_fills;
        if learnt > 0 || !st.mismatches.is_empty() {
            println!(
                "start-up: {} unfinished order(s) found filled, {} not at the venue (not resent); {} execution(s) of the venue's own booked at its price; {} position mismatch(es), {} adopted, {} closed",
                st.recovered_fills,
                st.recovered_missing,
                st.venue_fills,
                st.mismatches.len(),
                st.adopted,
                st.closed
            );
        }
        for o in &st.foreign_open_orders {
            println!("start-up: open venue order not placed by this system: {o}");
        }
    }
    let restored = exec_setup::restore_engine(compute, &setup.replayed);
    if restored > 0 {
        println!("start-up: {restored} journaled fill(s) restored into the positions");
    }
    if let Some(st) = &setup.startup {
        let s = &st.stops;
        if s.adopted + s.cancelled + s.foreign.len() > 0 {
            println!(
                "start-up: venue-side stops: {} adopted, {} stale cancelled, not ours: {:?}",
                s.adopted, s.cancelled, s.foreign
            );
        }
        let r = &st.restored;
        if !r.restored.is_empty() {
            println!(
                "start-up: venue-side stops missing at the venue re-placed from the journal: {:?}",
                r.restored
            );
        }
        for n in &r.unreconciled {
            println!("start-up: {n}: the venue's position is not the journal's: no venue-side stop set from the journal");
        }
        for n in &r.without_levels {
            println!("start-up: {n}: open position without journaled exit levels: no venue-side stop re-placed");
        }
        let left: &[crate::exec::recovery::Mismatch] =
            if cfg.risk.reconcile.policy == crate::risk::config::ReconcilePolicy::Report {
                &st.mismatches
            } else {
                // The adopt policy's differences it could not adopt (no venue entry or mark).
                &st.unadopted
            };
        for m in left {
            compute.set_unreconciled(m.symbol.index());
            println!(
                "start-up: {} entries blocked (unreconciled: venue {} vs ours {})",
                m.name, m.venue, m.ours
            );
        }
    }
}

/// The compute stage: the engine for the universe (inactive symbols off), pausing entries
/// while a symbol's feed is not live; on a venue route its equity starts from the venue's
/// wallet, never `risk.balance`.
fn build_compute(
    cfg: &Config,
    setup: &exec_setup::ExecSetup,
    universe: &symbols::Universe,
    feed: &FeedStage,
    clock: &Clock,
) -> ComputeStage {
    let mut params = StrategyParams::from_config(cfg);
    if let Some(a) = &setup.account {
        params.risk.balance = account::starting_balance(a.balance.0, &setup.replayed);
    }
    let mut engine = Engine::new(params, &universe.instruments);
    symbols::deactivate_inactive(universe, &mut engine);
    // Lock-free read of the feed's state.
    engine.set_feed_health(feed.health());
    ComputeStage::new(engine, clock.clone())
}

/// A venue route's account at start: prints what was set, gives compute the venue's balance
/// and the refused symbols, lets the control handle prepare a symbol added at run time
/// (leverage, margin mode), and starts the account thread (clock and balance refreshes) until
/// `shutdown`.
fn account_setup(
    cfg: &Config,
    account: Option<account::AccountStart>,
    compute: &mut ComputeStage,
    handle: &Arc<ControlHandle>,
    shutdown: &Shutdown,
) -> Result<AccountThread, String> {
    let Some(a) = account else {
        return Ok((None, None));
    };
    for l in &a.lines {
        println!("start-up: {l}");
    }
    let (wallet, available) = a.balance;
    compute.apply_command(crate::types::control::Command::Balance { wallet, available });
    a.client.link().balance_read();
    for (id, why) in &a.refused {
        eprintln!("warning: {why}");
        compute.apply_command(crate::types::control::Command::RefuseSymbol(*id));
    }
    let client = Arc::new(a.client);
    handle.set_preparer(account::preparer(
        client.clone(),
        &cfg.exec.account,
        cfg.risk.max_leverage,
    ));
    let stop = shutdown.clone();
    let thread = account::spawn(
        client.clone(),
        &cfg.exec.account,
        a.names,
        handle.clone(),
        move || stop.requested(),
    )?;
    Ok((Some(thread), Some(client)))
}

/// The account thread and the client it shares (venue routes).
type AccountThread = (
    Option<std::thread::JoinHandle<()>>,
    Option<Arc<account::AccountClient>>,
);

/// `[exec.private_stream] enabled` (absent: in live mode) on a venue route: the private stream's thread, its events
/// into `exec` through an SPSC ring, until `shutdown`.
fn private_stream_setup(
    cfg: &Config,
    (client, rest): (
        Option<Arc<account::AccountClient>>,
        Option<&crate::exchange::RestExchange>,
    ),
    symbols: &crate::types::SymbolTable,
    handle: &Arc<ControlHandle>,
    shutdown: &Shutdown,
    exec: ExecStage,
) -> Result<(ExecStage, Option<std::thread::JoinHandle<()>>), String> {
    let ps = &cfg.exec.private_stream;
    let live = cfg.exec.mode == crate::exec::ExecMode::Live;
    let Some(client) = client.filter(|_| ps.enabled.unwrap_or(live)) else {
        return Ok((exec, None));
    };
    let rest_url = rest.map_or(cfg.exec.rest_url.clone(), |r| r.url());
    let base = private_stream::base_url(ps, cfg.venue(), live, &rest_url);
    let tls = if base.starts_with("wss://") {
        Some(cfg.venue_trust()?.rustls()?)
    } else {
        None
    };
    let (tx, rx) = crate::ring::channel(private_stream::RING).map_err(|e| e.to_string())?;
    let stream = private_stream::PrivateStream::new(
        ps,
        (cfg.venue(), &base, tls),
        client,
        symbols.clone(),
        tx,
        Some(handle.clone()),
    )
    .map_err(|e| format!("exec.private_stream: {e}"))?;
    let stop = shutdown.clone();
    let thread = private_stream::spawn(stream, move || stop.requested())?;
    Ok((exec.with_account_events(rx), Some(thread)))
}

/// Requests a stop after `d` (checked every 20 ms; ends early once a stop is requested).
fn spawn_watchdog(d: Duration, s: Shutdown) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < d && !s.requested() {
            std::thread::sleep(Duration::from_millis(20));
        }
        s.request();
    })
}

/// The stages the hot thread(s) run, and one monitor publisher per hot thread.
struct HotStages {
    feed: FeedStage,
    compute: ComputeStage,
    exec: ExecStage,
    publishers: Vec<crate::telemetry::Publisher>,
}

/// Runs the stages on the chosen topology until the feed ends or a stop is requested; returns
/// the engine (final positions and counters).
fn run_topology(
    cfg: &Config,
    topology: Chosen,
    allowed: &AllowedCores,
    hot: HotStages,
    clock: Clock,
    shutdown: &Shutdown,
) -> Result<Engine, String> {
    let HotStages {
        feed,
        compute,
        exec,
        mut publishers,
    } = hot;
    let wait_park = Duration::from_micros(cfg.wait.park_timeout_us);
    match topology {
        Chosen::Fused { hot } => {
            let publisher = publishers.pop().expect("one publisher");
            let wait = FeedWait::new(cfg.wait.hot, cfg.wait.spin_yield_spins, wait_park);
            let allowed_h = allowed.clone();
            let sd = shutdown.clone();
            let handle = std::thread::Builder::new()
                .name("hot".into())
                .spawn(move || {
                    affinity::pin_current("hot", hot, &allowed_h);
                    let mut feed = feed;
                    let mut compute = compute;
                    let mut exec = exec;
                    fused::run(&mut feed, &mut compute, &mut exec, publisher, wait, &sd)
                        .map(|()| compute.into_engine())
                })
                .map_err(|e| format!("cannot start hot thread: {e}"))?;
            Ok(handle
                .join()
                .map_err(|_| "hot thread panicked".to_string())?
                .map_err(|e| e.to_string())?)
        }
        Chosen::Pipeline { cores } => {
            let [p_n, p_c, p_e]: [_; 3] = publishers
                .try_into()
                .map_err(|_| "three publishers expected".to_string())?;
            let plan = PipelinePlan {
                cores,
                network_wait: FeedWait::new(cfg.wait.network, cfg.wait.spin_yield_spins, wait_park),
                compute_wait: cfg.wait_strategy(cfg.wait.compute),
                execution_wait: cfg.wait_strategy(cfg.wait.execution),
                rings: [cfg.rings.md, cfg.rings.order, cfg.rings.fill],
            };
            warn_spin_on_shared_cores(cfg, allowed);
            Pipeline::spawn(
                plan,
                allowed,
                feed,
                compute,
                exec,
                [p_n, p_c, p_e],
                clock,
                shutdown.clone(),
            )
            .map_err(|e| format!("cannot start pipeline: {e}"))?
            .join()
        }
    }
}

fn mode_name(m: crate::exec::ExecMode) -> &'static str {
    match m {
        crate::exec::ExecMode::Embedded => "embedded",
        crate::exec::ExecMode::Paper => "paper",
        crate::exec::ExecMode::Live => "live",
    }
}

fn venue_label(v: Venue) -> &'static str {
    match v {
        Venue::Binance => "Binance USD-M",
        Venue::Bybit => "Bybit v5 linear",
    }
}

/// Pins the calling (main) thread, and so every cold thread it spawns later (they inherit its
/// mask), to the first allowed core that no hot thread uses; the guard puts its mask back.
fn pin_cold_work(allowed: &AllowedCores, topology: &Chosen) -> affinity::MaskGuard {
    let guard = affinity::MaskGuard::take();
    let hot = topology.hot_cores();
    match allowed.ids().into_iter().find(|c| !hot.contains(c)) {
        Some(cold) => {
            core_affinity::set_for_current(core_affinity::CoreId { id: cold });
        }
        None => eprintln!(
            "warning: no core left for cold work (allowed {:?}, hot {hot:?}); monitor and replay share the hot cores",
            allowed.ids()
        ),
    }
    guard
}

fn warn_spin_on_shared_cores(cfg: &Config, allowed: &AllowedCores) {
    let spinning = [cfg.wait.network, cfg.wait.compute, cfg.wait.execution]
        .iter()
        .filter(|w| **w == WaitKind::Spin)
        .count();
    if spinning > 0 && allowed.len() < cfg.cores.min_cores_for_pipeline {
        eprintln!(
            "warning: pipeline with {spinning} spinning thread(s) on {} allowed core(s): expect millisecond preemptions; use fused or spin_yield/park",
            allowed.len()
        );
    }
}

fn resolve_dump_dir(p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    }
}

/// `<unix seconds>-<pid>-<topology>`: unique per run, sortable by time.
fn run_id(topology: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs}-{}-{topology}", std::process::id())
}

/// The end-of-run summary: per-stage percentiles, counters, positions and PnL.
pub fn summary(r: &RunReport) -> String {
    let m = &r.monitor;
    let mut s = format!(
        "\n== run summary ({} topology, {:.1} s)\n\nstage latencies (ns clock, HdrHistogram):\n{}",
        r.topology.name(),
        m.elapsed.as_secs_f64(),
        percentile_table(m.total.reported().map(|(st, h)| (st.name(), h)))
    );
    s.push_str("\ncounters: ");
    let counters: Vec<String> = m
        .counters
        .nonzero()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    s.push_str(&counters.join(" "));
    s.push_str("\n\npositions (exact decimals; PnL in USDT):\n");
    s.push_str(&format!(
        "{:<10} {:>8} {:>14} {:>14} {:>14} {:>12} {:>12}\n",
        "symbol", "fills", "position", "entry", "realized", "fees", "unrealized"
    ));
    let mut net = 0.0;
    for i in 0..r.engine.n_symbols() {
        let p = r.engine.position(i).copied().unwrap_or_default();
        if i >= r.active && p.fills == 0 && p.qty.is_zero() {
            continue; // a universe symbol never traded in this run
        }
        let unreal = r.engine.unrealized(i);
        net += (p.realized - p.fees).to_f64().unwrap_or(0.0) + unreal;
        s.push_str(&format!(
            "{:<10} {:>8} {:>14} {:>14} {:>14} {:>12} {:>12.4}\n",
            r.symbols.name(crate::types::SymbolId(i as u16)),
            p.fills,
            p.qty.to_string(),
            p.entry.round_dp(4).to_string(),
            p.realized.round_dp(4).to_string(),
            p.fees.round_dp(4).to_string(),
            unreal
        ));
    }
    s.push_str(&format!(
        "net PnL after fees (marked at last trade): {net:.4} USDT\n"
    ));
    s.push_str(&format!(
        "\ndumps: {} (HdrHistogram interval log) and {}\nread them with: calculus-trader hist {}\n",
        m.hlog_path.display(),
        m.table_path.display(),
        m.hlog_path
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ));
    s
}

/// Counter totals of a finished run (tests).
pub fn counters(r: &RunReport) -> &CounterSet {
    &r.monitor.counters
}

/// All stage latencies of a finished run (tests).
pub fn latencies(r: &RunReport) -> &StageHistograms {
    &r.monitor.total
}
