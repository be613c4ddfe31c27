//! `calculus-trader experiment`: every strategy × learned-filter variant judged out of sample —
//! walk-forward (fresh engine per window, only trips opened out of sample counted; fees, latency
//! and slippage on) over every
//! bundled real recording and over seeded synthetic markets with known answers. Per row: round
//! trips, win rate, gross and net PnL, and the 95 % t-interval of the mean net PnL per trip.

pub mod stats;
pub mod synthetic;

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::reader::read_all;
use super::replay::{run_ticks, Setup};
use super::sweep::{self, Combo};
use super::walk_forward;
use crate::config::resolve_path;
use crate::data::Input;
use crate::types::{MarketEvent, SymbolTable, Tick};
use crate::venue::bybit::market::BybitParser;
use stats::MeanCi;
use synthetic::Process;

/// Options of `calculus-trader experiment`.
#[derive(Args, Clone, Debug)]
pub struct ExperimentArgs {
    /// Small and fast: the Bybit recording, one 10-minute seed per synthetic market, 2 windows.
    #[arg(long)]
    pub quick: bool,
    /// First seed of the synthetic markets (seeds s, s+1, ...).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Walk-forward windows per synthetic run.
    #[arg(long, default_value_t = 4)]
    pub windows: usize,
    /// Markdown table written here.
    #[arg(long, default_value = "target/experiment.md")]
    pub out: PathBuf,
    /// Config file (default: config/default.toml, or the copy built into the binary).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Settings every run of the experiment shares on top of the config: 1 bp adverse slippage on
/// every taker fill, and no losing-streak pause (the strategy's edge is under test, not the
/// operator's gate; each part starts a fresh engine anyway).
pub const EXPERIMENT_OVERRIDES: [(&str, &str); 2] = [
    ("backtest.slippage_bps", "1.0"),
    ("risk.limits.max_consecutive_losses", "0"),
];

/// One strategy × filter variant.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Strategy name.
    pub strategy: &'static str,
    /// Learned entry filter on.
    pub learned: bool,
    /// Config keys it sets.
    pub combo: Combo,
}

/// Every strategy × learned filter off / on (`strategy.learned.enabled`; on, it learns from the
/// in-sample part of each window before deciding out of sample).
pub fn variants() -> Vec<Variant> {
    let mut out = Vec::new();
    for strategy in ["calculus", "scalper", "both"] {
        for learned in [false, true] {
            out.push(Variant {
                strategy,
                learned,
                combo: vec![
                    pair("strategy.strategy", strategy),
                    pair(
                        "strategy.learned.enabled",
                        if learned { "true" } else { "false" },
                    ),
                ],
            });
        }
    }
    out
}

/// A data set: one or more independent trade sequences (seeds) under one config.
#[derive(Clone, Debug)]
pub struct Market {
    /// Row label.
    pub name: String,
    /// Real recording (pooled into the "all real" row).
    pub real: bool,
    /// Config keys for this data (venue).
    pub combo: Combo,
    /// Trade sequences, each cut into walk-forward windows on its own.
    pub runs: Vec<Vec<Tick>>,
    /// Walk-forward windows per run (the 6–7-minute recordings: 1, an in-sample warm-up then
    /// the out-of-sample rest).
    pub windows: usize,
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// `seeds` seeded runs of `process`, `duration_s` each, cut into `windows` windows.
pub fn synthetic_market(
    name: &str,
    process: Process,
    seeds: &[u64],
    duration_s: f64,
    windows: usize,
) -> Market {
    Market {
        name: name.to_string(),
        real: false,
        combo: Vec::new(),
        runs: seeds
            .iter()
            .map(|&s| synthetic::generate(process, s, duration_s))
            .collect(),
        windows,
    }
}

/// The three synthetic markets: the random-walk control, a trend, a mean-reverting process.
pub fn synthetic_markets(
    first_seed: u64,
    n_seeds: u64,
    duration_s: f64,
    windows: usize,
) -> Vec<Market> {
    let seeds: Vec<u64> = (first_seed..first_seed + n_seeds).collect();
    let m = |name, p| synthetic_market(name, p, &seeds, duration_s, windows);
    vec![
        m("random walk (control)", Process::RandomWalk),
        m("trend μ=±1e-4/s", TREND),
        m("mean-reverting θ=0.01/s", MEAN_REVERTING),
    ]
}

/// The trending market's process: ±36 %/h drift against σ ≈ 0.78 %/√h.
pub const TREND: Process = Process::Trend { mu: 1e-4 };
/// The mean-reverting market's process: half-life 69 s, stationary sd ≈ 0.09 %.
pub const MEAN_REVERTING: Process = Process::MeanReverting { theta: 0.01 };

/// Bundled real recordings: (label, files, venue).
pub const REAL_DATA: [(&str, &[&str], &str); 3] = [
    (
        "binance BTC+ETH 2024-08-08 23:54",
        &[
            "data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz",
            "data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz",
        ],
        "binance",
    ),
    (
        "binance BTC 2023-04-05 00:00",
        &["data/replay/binance_usdm_BTCUSDT_2023-04-05_0000-0007.gz"],
        "binance",
    ),
    (
        "bybit BTC+ETH 2026-08-09",
        &["data/replay/bybit_v5_linear_public_BTCUSDT_ETHUSDT_2026-08-09.jsonl.gz"],
        "bybit",
    ),
];

/// Reads the real recordings (`quick`: the small Bybit one only).
pub fn real_markets(base: &toml::Table, quick: bool) -> Result<Vec<Market>, String> {
    REAL_DATA
        .iter()
        .filter(|(_, _, venue)| !quick || *venue == "bybit")
        .map(|(name, files, venue)| {
            let combo = vec![pair("venue.name", venue)];
            let setup = Setup::from_config(&sweep::apply(base, &combo)?)?;
            let paths: Vec<PathBuf> = files
                .iter()
                .map(|f| resolve_path(std::path::Path::new(f)))
                .collect();
            let ticks = if *venue == "bybit" {
                bybit_frames(&paths, &setup.symbols)?
            } else {
                read_all(&paths, None, &setup.symbols, false)?.0
            };
            Ok(Market {
                name: name.to_string(),
                real: true,
                combo,
                runs: vec![ticks],
                windows: 1,
            })
        })
        .collect()
}

/// The trades of recorded Bybit v5 public frames (one JSON frame a line), parsed by the live
/// parser, in file order.
fn bybit_frames(paths: &[PathBuf], symbols: &SymbolTable) -> Result<Vec<Tick>, String> {
    let mut parser = BybitParser::for_symbols(symbols);
    let mut out = Vec::new();
    for p in paths {
        let mut input = Input::open(p, None)?;
        let mut line = Vec::new();
        while input
            .read_line(&mut line)
            .map_err(|e| format!("{}: {e}", p.display()))?
            > 0
        {
            // Non-trade frames and acks are skipped; a bad frame only loses its own trades.
            let _ = parser.parse(&mut line, symbols, |e| {
                if let MarketEvent::Trade(t) = e {
                    out.push(t);
                }
            });
        }
    }
    Ok(out)
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Market label.
    pub market: String,
    /// Strategy name.
    pub strategy: &'static str,
    /// Learned filter on.
    pub learned: bool,
    /// Round trips opened out of sample and closed within the window.
    pub trades: usize,
    /// Trips with net > 0.
    pub wins: usize,
    /// PnL of those trips before fees, USDT.
    pub gross: f64,
    /// PnL of those trips after fees and slippage, USDT.
    pub net: f64,
    /// Net PnL of each trip, USDT.
    pub trip_net: Vec<f64>,
    /// Gross PnL of each trip, USDT.
    pub trip_gross: Vec<f64>,
}

impl Row {
    /// 95 % t-interval of the mean net PnL per trip.
    pub fn ci(&self) -> MeanCi {
        MeanCi::of(&self.trip_net)
    }
}

/// Runs `variant` over every walk-forward window of every run of `market`: one engine per window
/// over its in-sample part (warm-up, the learned filter's training) and on into its out-of-sample
/// part; round trips opened out of sample count, and the book still open at the window's end
/// (closed at its last prices).
pub fn evaluate(base: &toml::Table, market: &Market, variant: &Variant) -> Result<Row, String> {
    let mut combo: Combo = EXPERIMENT_OVERRIDES
        .iter()
        .map(|(k, v)| pair(k, v))
        .collect();
    combo.extend(market.combo.iter().cloned());
    combo.extend(variant.combo.iter().cloned());
    let cfg = sweep::apply(base, &combo)?;
    let setup = Setup::from_config(&cfg)?;
    let mut row = Row {
        market: market.name.clone(),
        strategy: variant.strategy,
        learned: variant.learned,
        trades: 0,
        wins: 0,
        gross: 0.0,
        net: 0.0,
        trip_net: Vec::new(),
        trip_gross: Vec::new(),
    };
    for ticks in &market.runs {
        for w in walk_forward::windows(ticks, market.windows, cfg.backtest.walk_forward_in_sample)?
        {
            let o = run_ticks(&setup, &ticks[w.in_sample.0..w.out_of_sample.1]);
            let mut trip = |gross: f64, net: f64| {
                row.gross += gross;
                row.net += net;
                row.trip_net.push(net);
                row.trip_gross.push(gross);
            };
            for t in o.trips.iter().filter(|t| t.entry_ms >= w.times_ms.1) {
                trip(t.gross, t.net);
            }
            // The book still open at the window's end, closed at its last prices with the taker
            // fee (dropping it would bias the sample: winners are held longer than losers).
            let closed_gross: f64 = o.trips.iter().map(|t| t.gross).sum();
            let closed_net: f64 = o.trips.iter().map(|t| t.net).sum();
            if (o.gross_pnl - closed_gross).abs() > 1e-9 {
                trip(o.gross_pnl - closed_gross, o.net_pnl - closed_net);
            }
        }
    }
    row.trades = row.trip_net.len();
    row.wins = row.trip_net.iter().filter(|&&x| x > 0.0).count();
    Ok(row)
}

/// Rows of every real market pooled per variant.
fn pooled_real(rows: &[Row], markets: &[Market]) -> Vec<Row> {
    let real: Vec<&str> = markets
        .iter()
        .filter(|m| m.real)
        .map(|m| m.name.as_str())
        .collect();
    let mut out: Vec<Row> = Vec::new();
    for r in rows.iter().filter(|r| real.contains(&r.market.as_str())) {
        match out
            .iter_mut()
            .find(|p| p.strategy == r.strategy && p.learned == r.learned)
        {
            Some(p) => {
                p.trades += r.trades;
                p.wins += r.wins;
                p.gross += r.gross;
                p.net += r.net;
                p.trip_net.extend_from_slice(&r.trip_net);
                p.trip_gross.extend_from_slice(&r.trip_gross);
            }
            None => out.push(Row {
                market: "all real data".into(),
                ..r.clone()
            }),
        }
    }
    out
}

fn fmt_ci(ci: &MeanCi) -> String {
    if ci.lo.is_finite() {
        format!("[{:+.3}, {:+.3}]", ci.lo, ci.hi)
    } else {
        "n/a".into()
    }
}

/// The Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| market | strategy | learned filter | trips | win % | gross PnL | net PnL | mean net/trip | 95 % CI (t) | edge |\n|---|---|---|---:|---:|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let ci = r.ci();
        let win = if r.trades > 0 {
            format!("{:.1}", 100.0 * r.wins as f64 / r.trades as f64)
        } else {
            "–".into()
        };
        let edge = match (ci.significant(), ci.mean > 0.0) {
            (true, true) => "**yes (+)**",
            (true, false) => "no (significant loss)",
            (false, _) => "no",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:+.2} | {:+.2} | {:+.3} | {} | {} |\n",
            r.market,
            r.strategy,
            if r.learned { "on" } else { "off" },
            r.trades,
            win,
            r.gross,
            r.net,
            ci.mean,
            fmt_ci(&ci),
            edge
        ));
    }
    s
}

/// Everything the experiment runs, with the settings it ran with.
#[derive(Debug)]
pub struct Plan {
    /// Data sets.
    pub markets: Vec<Market>,
    /// Variants.
    pub variants: Vec<Variant>,
    /// Walk-forward windows per synthetic run.
    pub windows: usize,
    /// In-sample fraction of each window (`backtest.walk_forward_in_sample`).
    pub is_frac: f64,
}

impl Plan {
    /// The plan of `args` over `base`.
    pub fn new(base: &toml::Table, args: &ExperimentArgs) -> Result<Self, String> {
        let (seeds, duration_s, windows) = if args.quick {
            (1, 600.0, 2)
        } else {
            (6, 3_600.0, args.windows)
        };
        let mut markets = real_markets(base, args.quick)?;
        markets.extend(synthetic_markets(args.seed, seeds, duration_s, windows));
        Ok(Self {
            markets,
            variants: variants(),
            windows,
            is_frac: sweep::apply(base, &Vec::new())?
                .backtest
                .walk_forward_in_sample,
        })
    }

    /// Runs every market × variant in parallel; rows in market, then variant order.
    pub fn run(&self, base: &toml::Table, pb: &ProgressBar) -> Result<Vec<Row>, String> {
        let jobs: Vec<(&Market, &Variant)> = self
            .markets
            .iter()
            .flat_map(|m| self.variants.iter().map(move |v| (m, v)))
            .collect();
        pb.set_length(jobs.len() as u64);
        let mut rows = jobs
            .par_iter()
            .map(|(m, v)| {
                let r = evaluate(base, m, v);
                pb.inc(1);
                pb.set_message(format!("{} / {}", m.name, v.strategy));
                r
            })
            .collect::<Result<Vec<Row>, String>>()?;
        rows.extend(pooled_real(&rows, &self.markets));
        Ok(rows)
    }
}

/// The report: the command, the settings, the table and how to read it.
pub fn report(plan: &Plan, rows: &[Row], args: &ExperimentArgs) -> String {
    let cmd = if args.quick {
        "calculus-trader experiment --quick".to_string()
    } else {
        format!(
            "calculus-trader experiment --seed {} --windows {}",
            args.seed, args.windows
        )
    };
    let synth_runs = plan
        .markets
        .iter()
        .find(|m| !m.real)
        .map_or(0, |m| m.runs.len());
    format!(
        "Regenerate: `{cmd}` (written to `{}`).\n\n\
         Walk-forward: {} windows per synthetic run, 1 per real recording (6–7 minutes each); a fresh engine per window runs through its first \
         {:.0} % (in sample: warm-up and training) and on; round trips opened in the \
         out-of-sample rest count, and the book open at the window's end is closed at its last prices. Fees (config taker fee), latency \
         and 1 bp adverse slippage on every fill; losing-streak pause off. Synthetic markets: {synth_runs} \
         seeded runs each (BTCUSDT tick, ≈ 10 trades/s). PnL in USDT on a 10,000 USDT account; \
         CI = 95 % Student-t interval of the mean net PnL per trip; edge = the interval excludes 0.\n\n{}",
        args.out.display(),
        plan.windows,
        100.0 * plan.is_frac,
        table(rows)
    )
}

fn progress(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}") {
        pb.set_style(style);
    }
    pb
}

/// Runs the subcommand: prints the report and writes it to `args.out`.
pub fn run(args: &ExperimentArgs) -> Result<String, String> {
    let (text, origin) = super::cli::config_text(args.config.as_deref())?;
    let base: toml::Table = toml::from_str(&text).map_err(|e| format!("{origin}: {e}"))?;
    let pb = progress(args.quiet);
    pb.set_message("reading data");
    let plan = Plan::new(&base, args)?;
    let rows = plan.run(&base, &pb)?;
    pb.finish_and_clear();
    let out = report(&plan, &rows, args);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&args.out, &out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    Ok(out)
}
