//! `calculus-trader`: runs the pipeline (default: embedded loopback replay of real trades,
//! paper fills) or reads histogram dumps back (`hist`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use calculus_trader::config::{Config, Topology, DEFAULT_TOML};
use calculus_trader::control;
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::runtime::{choose_topology, AllowedCores};
use calculus_trader::telemetry::{compare_command, hist_command, plot_command};
use calculus_trader::tuning::host::{self, Host};

#[derive(Parser)]
#[command(
    name = "calculus-trader",
    version,
    about = "Low-latency calculus-driven crypto trading pipeline"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline (the default when no subcommand is given).
    Run(RunArgs),
    /// Print p50/p90/p99/p99.9/max and count per stage from interval-log dumps; compare two
    /// dumps (--compare a b) or chart one (--plot <path> --out chart.svg).
    Hist(HistArgs),
    /// Report (and with --apply, fix what can be fixed at runtime) the host settings that matter
    /// for latency: isolated cores, governor, turbo, C-states, THP, IRQ affinity, swap, clock source.
    CheckHost {
        /// Config file whose hot cores are checked (default: config/default.toml or built-in).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Perform the listed sysfs/procfs writes (needs root). Without it nothing is changed.
        #[arg(long)]
        apply: bool,
    },
    /// Run the models over a trade file and write one CSV row of model state per tick.
    Analyze {
        /// Trades: recorded frames (`<ts> <json>`, .gz or plain), a trade CSV, or `timestamp_ms,price`.
        file: PathBuf,
        /// Symbol to export (needed when the file holds several).
        #[arg(long)]
        symbol: Option<String>,
        /// Output CSV.
        #[arg(long)]
        out: PathBuf,
        /// Config file (default: config/default.toml, or the copy built into the binary).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Go/no-go before a run: config, keys (present, accepted, permissions), venue clock,
    /// balance, instrument specs, leverage, host tuning; one OK/WARN/FAIL table, non-zero exit
    /// on any FAIL. Embedded/paper mode checks against the embedded exchange.
    Check {
        /// Config file (default: config/default.toml, or the copy built into the binary).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Inspect (`check`) or repair (`repair`) an order journal.
    Journal {
        #[command(subcommand)]
        action: JournalAction,
    },
    /// Replay historical trades through the strategy with fees, slippage and latency; report, plots, sweeps.
    Backtest(calculus_trader::backtest::BacktestArgs),
    /// Judge every strategy × learned-filter variant out of sample (walk-forward, fees and
    /// slippage on) over the bundled real trades and seeded synthetic markets; writes a table.
    Experiment(calculus_trader::backtest::experiment::ExperimentArgs),
    /// Trade the bundled replay in a loop against the embedded exchange, SIGKILL and restart the
    /// trader at random, then check that positions, client ids, limits and memory hold.
    Soak(SoakArgs),
    /// Control the running process over its local API: pause, resume, start, stop,
    /// emergency-stop, close-all, status. Token from $CT_CONTROL_TOKEN or --token-file.
    Ctl(calculus_trader::control::ctl::CtlArgs),
}

#[derive(Args)]
struct SoakArgs {
    /// Minutes of trading before the last lap (which runs to its end unkilled).
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Seed of the kill schedule (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Replay speed (345 s of recorded trades take 345 / speed seconds).
    #[arg(long, default_value_t = 40.0)]
    speed: f64,
    /// Probability that a trader start is killed at a random moment.
    #[arg(long, default_value_t = 0.6)]
    kill_probability: f64,
    /// Working directory (config, journal, logs); must not hold a journal yet.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// No venue faults (kills and restarts only).
    #[arg(long)]
    no_faults: bool,
    /// Venue whose streams, order entry and codec are soaked: binance | bybit.
    #[arg(long, default_value = "binance")]
    venue: String,
    /// TOML file laid over the trader's configuration last, e.g. config/soak_heavy.toml (a
    /// strategy that trades on most ticks).
    #[arg(long)]
    overlay: Option<PathBuf>,
}

#[derive(Subcommand)]
enum JournalAction {
    /// Summarise the journal (sessions, positions and unfinished orders per symbol) and name
    /// the offset of the first bad record; exits non-zero if one is found. Changes nothing.
    Check {
        /// The journal file.
        #[arg(long)]
        journal: PathBuf,
    },
    /// Print exactly which records a repair drops (everything from the first bad record on, a
    /// torn tail); with --confirm, save them to `<journal>.dropped-<offset>` and truncate.
    Repair {
        /// The journal file.
        #[arg(long)]
        journal: PathBuf,
        /// Really drop the listed records (they are saved next to the journal first).
        #[arg(long)]
        confirm: bool,
    },
}

fn journal(action: &JournalAction) -> Result<(), String> {
    use calculus_trader::exec::journal;
    match action {
        JournalAction::Check { journal: path } => {
            let (text, ok) = journal::check(path)?;
            print!("{text}");
            if ok {
                Ok(())
            } else {
                Err(format!("journal {} has a bad record", path.display()))
            }
        }
        JournalAction::Repair {
            journal: path,
            confirm,
        } => {
            print!("{}", journal::repair(path, *confirm)?);
            Ok(())
        }
    }
}

#[derive(Args)]
struct HistArgs {
    /// A `.hlog` file or a directory of them (e.g. dumps/ or dumps/<run>/).
    #[arg(required_unless_present_any = ["compare", "plot"], conflicts_with_all = ["compare", "plot"])]
    path: Option<PathBuf>,
    /// Two dumps (files or directories) side by side per stage, with the ratio b/a.
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "plot")]
    compare: Option<Vec<PathBuf>>,
    /// Dumps (file or directory) to chart as latency by percentile, one line per stage.
    #[arg(long, value_name = "PATH", requires = "out")]
    plot: Option<PathBuf>,
    /// Chart file to write (.svg).
    #[arg(long, value_name = "FILE.svg", requires = "plot")]
    out: Option<PathBuf>,
}

#[derive(Args, Clone, Default)]
struct RunArgs {
    /// Config file (default: config/default.toml, or the copy built into the binary).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Override replay.speed (1 = recorded pace, N = N× faster, 0 = as fast as possible).
    #[arg(long)]
    speed: Option<f64>,
    /// Override run.topology.
    #[arg(long, value_parser = ["auto", "fused", "pipeline"])]
    topology: Option<String>,
    /// Override run.dump_dir.
    #[arg(long)]
    dump_dir: Option<PathBuf>,
    /// Stop after this many seconds (Ctrl-C works too).
    #[arg(long)]
    duration: Option<f64>,
    /// No per-second status lines.
    #[arg(long, short)]
    quiet: bool,
    /// Allow real (non-loopback) order endpoints. Without it only paper trading, the embedded
    /// exchange and loopback peers run; with it, real endpoints also need API keys
    /// (BYBIT_API_KEY/BYBIT_API_SECRET, BINANCE_API_KEY/BINANCE_API_SECRET or a 0600 key file).
    #[arg(long)]
    live: bool,
    /// Override [control] listen: the dashboard / control API address (`127.0.0.1:0` = any free port).
    #[arg(long, value_name = "ADDR")]
    control_listen: Option<std::net::SocketAddr>,
    /// Do not serve the dashboard and control API (overrides [control] enabled).
    #[arg(long)]
    no_control: bool,
    /// Trade the N most liquid symbols of the venue's 24 h tickers instead of venue.symbols
    /// (needs the venue's specs: live mode or venue.specs.source = "venue").
    #[arg(long, value_name = "N")]
    symbols: Option<usize>,
    /// Use the bundled instrument specs even in live mode (venue.specs.offline = true).
    #[arg(long)]
    offline_specs: bool,
}

fn load_config(args: &RunArgs) -> Result<Config, String> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => {
            let default = Path::new("config/default.toml");
            if default.exists() {
                Config::load(default).map_err(|e| e.to_string())?
            } else {
                Config::parse(DEFAULT_TOML).map_err(|e| format!("built-in config: {e}"))?
            }
        }
    };
    if let Some(s) = args.speed {
        cfg.replay.speed = s;
    }
    if let Some(t) = &args.topology {
        cfg.run.topology = match t.as_str() {
            "fused" => Topology::Fused,
            "pipeline" => Topology::Pipeline,
            _ => Topology::Auto,
        };
    }
    if let Some(d) = &args.dump_dir {
        cfg.run.dump_dir = d.clone();
    }
    cfg.venue.live = args.live;
    if let Some(a) = args.control_listen {
        cfg.control.listen = a;
    }
    if args.no_control {
        cfg.control.enabled = false;
    }
    if let Some(n) = args.symbols {
        cfg.venue.top_symbols = n;
    }
    cfg.venue.specs.offline |= args.offline_specs;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn run(args: &RunArgs) -> Result<(), String> {
    let cfg = load_config(args)?;
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            return Err(format!(
                "--duration must be a positive number of seconds, got {d}"
            ));
        }
    }
    // The server and the signal thread live until the run returns.
    let operator: Arc<Mutex<Vec<Box<dyn Send>>>> = Arc::default();
    let opts = RunOptions {
        print_status: !args.quiet,
        max_duration: args.duration.map(Duration::from_secs_f64),
        live: args.live,
        control: cfg
            .control
            .enabled
            .then(|| operator_hook(cfg.control_server(), operator.clone())),
    };
    let report = runtime::run(&cfg, &opts, Shutdown::with_signals())?;
    drop(operator);
    print!("{}", runtime::summary(&report));
    Ok(())
}

/// Starts the dashboard / control API and the SIGUSR1 (pause) / SIGUSR2 (resume) handlers once
/// the engine's handle exists, and prints where the dashboard is (never the token itself).
fn operator_hook(
    server_cfg: control::ServerConfig,
    keep: Arc<Mutex<Vec<Box<dyn Send>>>>,
) -> runtime::ControlHook {
    runtime::ControlHook::new(move |handle| {
        let server = control::spawn(&server_cfg, handle.clone())?;
        eprintln!(
            "dashboard and control API: {}  ({}; open {}#token=<token>)",
            server.url(),
            server.token_note(),
            server.url()
        );
        let signals = control::spawn_signal_controls(handle)?;
        let mut k = keep
            .lock()
            .map_err(|_| "control state poisoned".to_string())?;
        k.push(Box::new(server));
        k.push(Box::new(signals));
        Ok(())
    })
}

fn hist(args: &HistArgs) -> Result<(), String> {
    if let Some([a, b]) = args.compare.as_deref() {
        print!("{}", compare_command(a, b).map_err(|e| e.to_string())?);
    } else if let (Some(path), Some(out)) = (&args.plot, &args.out) {
        let n = plot_command(path, out)?;
        println!("wrote {} ({n} series)", out.display());
    } else if let Some(path) = &args.path {
        print!("{}", hist_command(path).map_err(|e| e.to_string())?);
    }
    Ok(())
}

fn check_host(config: Option<PathBuf>, apply: bool) -> Result<(), String> {
    let cfg = load_config(&RunArgs {
        config,
        ..RunArgs::default()
    })?;
    // The cores the run would pin its hot thread(s) to on this host.
    let topology = choose_topology(&cfg, &AllowedCores::detect());
    let pinned = topology.hot_cores();
    println!(
        "INFO    config        {} topology, hot cores {:?}",
        topology.name(),
        pinned
    );
    let findings = host::check_host(&Host::live(), &pinned);
    print!("{}", host::render(&findings, &pinned));
    let writes: Vec<_> = findings.iter().flat_map(|f| &f.fixes).collect();
    if !apply {
        for w in &writes {
            println!("would apply: {}", host::describe_write(w));
        }
        return Ok(());
    }
    if writes.is_empty() {
        println!("--apply: nothing to write");
        return Ok(());
    }
    if !host::is_root() {
        return Err(format!(
            "--apply needs root for {} write(s); rerun with sudo (nothing was changed)",
            writes.len()
        ));
    }
    for line in host::apply(&findings) {
        println!("{line}");
    }
    println!(
        "runtime writes do not survive a reboot; see tuning/README.md for the persistent settings"
    );
    Ok(())
}

/// `soak`: runs [`calculus_trader::soak::run`] with this binary as the trader.
fn soak(a: &SoakArgs) -> Result<(), String> {
    if !(a.minutes.is_finite() && (0.0..=1440.0).contains(&a.minutes)) {
        return Err(format!("--minutes {} is outside [0, 1440]", a.minutes));
    }
    if !(a.speed.is_finite() && (1.0..=1000.0).contains(&a.speed)) {
        return Err(format!("--speed {} is outside [1, 1000]", a.speed));
    }
    if !(0.0..=1.0).contains(&a.kill_probability) {
        return Err(format!(
            "--kill-probability {} is outside [0, 1]",
            a.kill_probability
        ));
    }
    let venue = calculus_trader::venue::Venue::from_name(&a.venue)
        .ok_or_else(|| format!("--venue {:?}: binance or bybit", a.venue))?;
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("calculus-trader-soak-{}", std::process::id()))
    });
    let overlay = match &a.overlay {
        Some(p) => Some(
            std::fs::read_to_string(p).map_err(|e| format!("--overlay {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let exe = std::env::current_exe().map_err(|e| format!("own binary: {e}"))?;
    eprintln!(
        "soak: {} min at {}x, seed {seed}, kill probability {}, dir {}{}",
        a.minutes,
        a.speed,
        a.kill_probability,
        dir.display(),
        a.overlay
            .as_ref()
            .map_or(String::new(), |p| format!(", overlay {}", p.display()))
    );
    let opts = calculus_trader::soak::SoakOptions {
        minutes: a.minutes,
        seed,
        speed: a.speed,
        kill_probability: a.kill_probability,
        faults: !a.no_faults,
        dir,
        venue,
        overlay,
    };
    let report = calculus_trader::soak::run(&opts, &exe)?;
    println!("{report}");
    if report.passed() {
        Ok(())
    } else {
        Err("soak failed".into())
    }
}

fn main() -> ExitCode {
    // First: a tuned build (`cargo tuned ...`, compiled for AVX2) on a CPU without AVX2 exits
    // here with the missing features named instead of dying of SIGILL later.
    calculus_trader::tuning::cpu::refuse_missing();
    let cli = Cli::parse();
    // A file-size limit (`ulimit -f`) must be a write error (the journal's emergency exit
    // flattens the positions), not SIGXFSZ killing a process that holds them.
    if let Err(e) = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    ) {
        eprintln!("warning: cannot handle SIGXFSZ: {e}");
    }
    let result = match cli.command {
        Some(Command::Hist(args)) => hist(&args),
        Some(Command::CheckHost { config, apply }) => check_host(config, apply),
        Some(Command::Analyze {
            file,
            symbol,
            out,
            config,
        }) => calculus_trader::analyze::run_cli(&file, symbol.as_deref(), &out, config.as_deref())
            .map(|s| println!("{s}")),
        Some(Command::Run(args)) => run(&args),
        Some(Command::Check { config }) => runtime::check::cli(config.as_deref()),
        Some(Command::Journal { action }) => journal(&action),
        Some(Command::Backtest(args)) => calculus_trader::backtest::cli::run(&args),
        Some(Command::Experiment(args)) => {
            calculus_trader::backtest::experiment::run(&args).map(|s| print!("{s}"))
        }
        Some(Command::Soak(args)) => soak(&args),
        Some(Command::Ctl(args)) => calculus_trader::control::ctl::cli(&args),
        None => run(&cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
