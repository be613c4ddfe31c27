//! `calculus-trader`: runs the pipeline (default: embedded loopback replay of real trades,
//! paper fills) or reads histogram dumps back (`hist`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use calculus_trader::config::{Config, Topology, DEFAULT_TOML};
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::telemetry::hist_command;

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
    /// Print p50/p90/p99/p99.9/max and count per stage from interval-log dumps.
    Hist {
        /// A `.hlog` file or a directory of them (e.g. dumps/ or dumps/<run>/).
        path: PathBuf,
    },
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
    let opts = RunOptions {
        print_status: !args.quiet,
        max_duration: args.duration.map(Duration::from_secs_f64),
        ..RunOptions::default() // `live`: the venue branch's --live flag
    };
    let report = runtime::run(&cfg, &opts, Shutdown::with_signals())?;
    print!("{}", runtime::summary(&report));
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Hist { path }) => hist_command(&path)
            .map(|t| print!("{t}"))
            .map_err(|e| e.to_string()),
        Some(Command::Run(args)) => run(&args),
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
