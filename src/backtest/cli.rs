//! `calculus-trader backtest`: arguments, data loading with a progress bar, and the modes
//! (single run with report and plots, `--sweep`, `--walk-forward`), and `--learned`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::reader::{read_all, Format, TradeStream};
use super::replay::{default_data, Replay, Setup};
use super::report::Report;
use super::{learned, plot, sweep, walk_forward};
use crate::config::{Config, DEFAULT_TOML};

/// Options of `calculus-trader backtest`.
#[derive(Args, Clone, Debug, Default)]
pub struct BacktestArgs {
    /// Trade files, gzip or plain (default: the config's `[replay]` files, the bundled real trades).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Config file (default: config/default.toml, or the copy built into the binary).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Input format instead of detection: binance-trades, binance-aggtrades, bybit, recorded, trades-csv, plain.
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// Stop at the first malformed row instead of counting and skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Output directory for report.json and the SVG plots (default: backtest.out_dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Walk-forward: N windows, each in-sample then out-of-sample, reported separately.
    #[arg(long, value_name = "N")]
    pub walk_forward: Option<usize>,
    /// Parameter sweep: key=v1,v2 ... (e.g. lambda=0.5,0.6 v_band=1e-5,2e-5), run in parallel.
    #[arg(long, num_args = 1.., value_name = "KEY=V1,V2")]
    pub sweep: Vec<String>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Judge the learned entry filter: replay without and with it (prequential, out of sample),
    /// print its confusion matrix, precision/recall/F1 and both results (windows: --walk-forward N, default 4).
    #[arg(long)]
    pub learned: bool,
}

/// The config text: `--config`, else config/default.toml, else the built-in copy.
pub(crate) fn config_text(path: Option<&Path>) -> Result<(String, String), String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| (t, p.display().to_string()))
            .map_err(|e| format!("cannot read config {}: {e}", p.display()))
    };
    match path {
        Some(p) => read(p),
        None => {
            let default = Path::new("config/default.toml");
            if default.exists() {
                read(default)
            } else {
                Ok((DEFAULT_TOML.to_string(), "built-in config".into()))
            }
        }
    }
}

fn progress(total: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed} {msg}")
    {
        pb.set_style(style);
    }
    pb
}

fn total_size(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// Runs the subcommand.
pub fn run(args: &BacktestArgs) -> Result<(), String> {
    let (text, origin) = config_text(args.config.as_deref())?;
    let cfg = Config::parse(&text).map_err(|e| format!("{origin}: {e}"))?;
    let base: toml::Table = toml::from_str(&text).map_err(|e| format!("{origin}: {e}"))?;
    let files = if args.data.is_empty() {
        default_data(&cfg)
    } else {
        args.data.clone()
    };
    let format = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()?;
    let setup = Setup::from_config(&cfg)?;
    let out = args.out.clone().unwrap_or(cfg.backtest.out_dir.clone());

    if args.learned || args.walk_forward.is_some() || !args.sweep.is_empty() {
        let specs = sweep::parse_specs(&args.sweep, &base)?;
        let combos = sweep::combinations(&specs);
        let pb = if args.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        pb.set_message(format!("reading {} file(s)", files.len()));
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        let (ticks, read) = read_all(&files, format, &setup.symbols, args.strict)?;
        pb.finish_and_clear();
        eprintln!(
            "read {} trades ({} malformed rows skipped, {} of other symbols)",
            read.ticks, read.bad_rows, read.other_symbol_rows
        );
        for e in &read.first_errors {
            eprintln!("  {e}");
        }
        if args.learned {
            let e = learned::evaluate(&setup, &ticks, args.walk_forward.unwrap_or(4))?;
            print!("{}", learned::table(&e));
        } else if let Some(n) = args.walk_forward {
            let rows = walk_forward::run(
                &base,
                &combos,
                &ticks,
                n,
                cfg.backtest.walk_forward_in_sample,
            )?;
            print!("{}", walk_forward::table(&rows));
            if combos.len() > 1 {
                println!("{}", sweep::BIAS_WARNING);
            }
        } else {
            let rows = sweep::run(&base, &combos, &ticks)?;
            print!("{}", sweep::table(&rows));
        }
        return Ok(());
    }

    let bytes = Arc::new(AtomicU64::new(0));
    let mut stream = TradeStream::open(
        &files,
        format,
        &setup.symbols,
        args.strict,
        Some(bytes.clone()),
    )?;
    let pb = progress(total_size(&files), args.quiet);
    let mut replay = Replay::new(&setup);
    let mut n: u64 = 0;
    while let Some(t) = stream.next_tick()? {
        replay.on_tick(&t);
        n += 1;
        if n & 0xFFFF == 0 {
            pb.set_position(bytes.load(Ordering::Relaxed));
            pb.set_message(format!("{n} trades, {} bad rows", stream.stats().bad_rows));
        }
    }
    pb.finish_and_clear();
    let formats = stream.formats();
    let read = stream.stats().clone();
    let outcome = replay.finish();
    let report = Report::build(&outcome, &setup, &formats, &read);
    print!("{}", report.table());
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let json = out.join("report.json");
    report.write_json(&json)?;
    let mut written = vec![json];
    written.push(plot::equity_chart(&outcome, &out)?);
    written.extend(plot::trade_charts(&outcome, &out)?);
    println!("\nwrote:");
    for p in written {
        println!("  {}", p.display());
    }
    Ok(())
}
