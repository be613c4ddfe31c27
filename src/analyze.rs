//! `calculus-trader analyze`: runs the engine over a trade file and writes one CSV row per tick
//! of the chosen symbol with every model output (what the original offered as
//! `analyze_price_curve` / `filter_price_series`).
//!
//! Inputs (plain or `.gz`, detected from the first line):
//! - recorded frames `<receive ts> <combined-stream JSON>` (`data/replay/*.gz`): `trade` and
//!   `aggTrade` events are used, other streams and REST snapshots skipped;
//! - trade CSVs with a header (`../shared/data/trades/**`): time from `trade_time_ms`,
//!   `timestamp_ms` or `ts_ms`; `price`; optional `qty`/`size`; optional aggressor side from
//!   `is_buyer_maker` (true = taker sold) or `taker_side` (`Buy`/`Sell`); optional `symbol`;
//! - a plain `timestamp_ms,price` CSV, with or without that header. Without a side column the
//!   trades carry no volume (order flow and volume ratio see none).
//!
//! Columns: `ts_ms, price, smoothed, kalman_price, kalman_velocity, kalman_acceleration,
//! velocity, acceleration, snr, confidence, forecast, case, signal, innovation, innovation_var,
//! nis, noise_level, noise_r, noise_q_jerk, snr_a, gate`, then `layer_<name>` for
//! each enabled layer (`pass`, `reject`, or `na` when the case proposes no entry). `smoothed`,
//! `kalman_price` and `forecast` are prices (`exp` of the log-price estimates); velocities are
//! `d(ln p)/dt` in 1/s and accelerations `d²(ln p)/dt²` in 1/s² (`velocity`, `acceleration`:
//! finite differences of §2; `kalman_*`: the filter of §3); `snr`, `confidence` and `forecast`
//! use the source chosen by `signal.source`; `case` is the matrix case name; `signal` is the
//! emitted order (+1 buy, −1 sell, 0 none), each order filled at once at the trade price.
//! The filter's check (MATH.md §3): `innovation` `y = ln p − x⁻` and `innovation_var` `S` of the
//! one-step prediction (log price²), `nis = y²/S`; the calibrated noises `noise_level` (`L`, the
//! per-trade variance of ln p), `noise_r` (`R = ρ·L`) and `noise_q_jerk` (`L/(m_dt·τ⁴)`, 1/s⁵);
//! `snr_a = |a|/sqrt(P_aa)`; `gate` why no order was sent (see `strategy::Gate::name`).
//!
//! The summary line adds, over the ticks after the calibration's warm-up (`1/kalman.level_alpha`
//! trades of the symbol): the mean NIS (≈ 1 when calibrated), the share of the ticks whose
//! prices fell inside the 95 % band `x⁻ ± 1.96·√S`, the share at any clamp (`L` at a safety
//! bound, or `|v|`, `|a|` at `v_max`, `a_max`), the median SNR, the lag-1 autocorrelation of
//! `y/√S` (0 when the innovations are white), and the ticks per matrix case.

use std::io::{BufWriter, Write};
use std::path::Path;

use rust_decimal::Decimal;

use crate::config::{resolve_path, Config, DEFAULT_TOML};
use crate::data::Input;
use crate::model::layers::Layer;
use crate::model::KalmanParams;
use crate::strategy::{Engine, StrategyParams, TickState};
use crate::types::{
    instrument::load_specs, Case, ExecReport, FillTime, Instrument, ReportStatus, Side, SymbolId,
    Tick,
};
use crate::venue::binance;

/// The fixed leading columns of the export.
pub const COLUMNS: [&str; 21] = [
    "ts_ms",
    "price",
    "smoothed",
    "kalman_price",
    "kalman_velocity",
    "kalman_acceleration",
    "velocity",
    "acceleration",
    "snr",
    "confidence",
    "forecast",
    "case",
    "signal",
    "innovation",
    "innovation_var",
    "nis",
    "noise_level",
    "noise_r",
    "noise_q_jerk",
    "snr_a",
    "gate",
];

/// Trades read from a file: symbol names (index = `SymbolId`) and ticks in file order.
#[derive(Clone, Debug, Default)]
pub struct TradeFile {
    /// Distinct symbols in order of first appearance.
    pub symbols: Vec<String>,
    /// The trades.
    pub ticks: Vec<Tick>,
}

/// What an analysis run did.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyzeSummary {
    /// Symbol written.
    pub symbol: String,
    /// Rows written (ticks of that symbol).
    pub rows: u64,
    /// Orders the engine emitted for that symbol.
    pub signals: u64,
    /// The filter's calibration check after warm-up.
    pub filter: FilterCheck,
    /// Ticks of the symbol per matrix case once warm (index = [`Case::index`]).
    pub cases: [u64; 8],
}

/// The Kalman filter's one-step check over the ticks after the calibration's warm-up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterCheck {
    /// Ticks skipped as warm-up (`⌈1/level_alpha⌉`).
    pub warmup: u64,
    /// Ticks checked.
    pub ticks: u64,
    /// Mean of `y²/S`.
    pub mean_nis: f64,
    /// Share of ticks with `|y| ≤ 1.96·√S` (the 95 % band).
    pub coverage: f64,
    /// Share of ticks at any clamp (`L` at a safety bound, `|v| = v_max` or `|a| = a_max`).
    pub clamped: f64,
    /// Median `SNR_v`.
    pub snr_median: f64,
    /// Median `SNR_a`.
    pub snr_a_median: f64,
    /// Lag-1 autocorrelation of the normalised innovations `y/√S` (0 for a white sequence,
    /// which an optimal filter gives; trades of one sweep moving on in the same direction
    /// make it positive).
    pub innovation_autocorr: f64,
}

/// Lag-1 autocorrelation of `e` (0 when fewer than 2 values or no variance).
fn lag1_autocorr(e: &[f64]) -> f64 {
    let n = e.len() as f64;
    let m = e.iter().sum::<f64>() / n;
    let var: f64 = e.iter().map(|x| (x - m) * (x - m)).sum();
    let cov: f64 = e.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
    if e.len() < 2 || var <= 0.0 {
        0.0
    } else {
        cov / var
    }
}

/// Accumulates [`FilterCheck`] (cold path: keeps the SNRs for the medians).
#[derive(Default)]
struct FilterAcc {
    seen: u64,
    nis: f64,
    covered: u64,
    clamped: u64,
    snr: Vec<f64>,
    snr_a: Vec<f64>,
    /// Normalised innovations `y/√S`.
    e: Vec<f64>,
}

impl FilterAcc {
    fn add(&mut self, s: &TickState, k: &KalmanParams, warmup: u64) {
        self.seen += 1;
        let e = &s.kalman;
        if self.seen <= warmup || e.innovation_var <= 0.0 {
            return;
        }
        self.nis += e.nis;
        self.covered += u64::from(e.innovation.abs() <= 1.96 * e.innovation_var.sqrt());
        self.clamped += u64::from(e.clamped || e.v.abs() >= k.v_max || e.a.abs() >= k.a_max);
        self.snr.push(s.snr);
        self.snr_a.push(s.snr_a);
        self.e.push(e.innovation / e.innovation_var.sqrt());
    }

    fn finish(mut self, warmup: u64) -> FilterCheck {
        let n = self.snr.len();
        let share = |c: u64| if n == 0 { 0.0 } else { c as f64 / n as f64 };
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        FilterCheck {
            warmup,
            ticks: n as u64,
            mean_nis: if n == 0 { 0.0 } else { self.nis / n as f64 },
            coverage: share(self.covered),
            clamped: share(self.clamped),
            snr_median: median(&mut self.snr),
            snr_a_median: median(&mut self.snr_a),
            innovation_autocorr: lag1_autocorr(&self.e),
        }
    }
}

struct Symbols<'a> {
    names: &'a mut Vec<String>,
}

impl Symbols<'_> {
    fn id(&mut self, name: &str) -> SymbolId {
        let i = match self.names.iter().position(|s| s == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        SymbolId(i as u16)
    }
}

fn positive(v: &str, what: &str, at: &str) -> Result<f64, String> {
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{at}: {what} {v:?} is not a number"))?;
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(format!("{at}: {what} must be a positive number, got {v:?}"))
    }
}

fn non_negative(v: &str, what: &str, at: &str) -> Result<f64, String> {
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| format!("{at}: {what} {v:?} is not a number"))?;
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(format!("{at}: {what} must be ≥ 0, got {v:?}"))
    }
}

fn timestamp(v: &str, at: &str) -> Result<u64, String> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| format!("{at}: timestamp {v:?} is not a whole number of milliseconds"))
}

/// Column indices of a headed trade CSV.
struct CsvLayout {
    n: usize,
    ts: usize,
    price: usize,
    qty: Option<usize>,
    maker: Option<usize>,
    taker: Option<usize>,
    symbol: Option<usize>,
}

impl CsvLayout {
    fn from_header(fields: &[&str], at: &str) -> Result<Self, String> {
        let find = |names: &[&str]| {
            fields
                .iter()
                .position(|f| names.iter().any(|n| f.trim().eq_ignore_ascii_case(n)))
        };
        let ts = find(&["trade_time_ms", "timestamp_ms", "ts_ms", "time_ms"]).ok_or_else(|| {
            format!("{at}: no time column (trade_time_ms, timestamp_ms or ts_ms) in the header")
        })?;
        let price = find(&["price"]).ok_or_else(|| format!("{at}: no `price` column"))?;
        Ok(Self {
            n: fields.len(),
            ts,
            price,
            qty: find(&["qty", "size", "quantity"]),
            maker: find(&["is_buyer_maker"]),
            taker: find(&["taker_side", "side"]),
            symbol: find(&["symbol"]),
        })
    }
}

/// The trade of a recorded `<receive ts> <combined-stream JSON>` line; `None` for other streams.
fn frame_tick(line: &str, at: &str, syms: &mut Symbols<'_>) -> Result<Option<Tick>, String> {
    let (ts, json) = line
        .split_once(' ')
        .filter(|(a, _)| a.bytes().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| format!("{at}: expected `<timestamp> <json>`"))?;
    ts.parse::<u64>()
        .map_err(|_| format!("{at}: bad receive timestamp {ts:?}"))?;
    let Some(t) = binance::exchange::recorded_frame(json).map_err(|e| format!("{at}: {e}"))? else {
        return Ok(None);
    };
    Ok(Some(Tick {
        symbol: syms.id(t.symbol),
        side: t.taker,
        price: positive(t.price, "price", at)?,
        qty: positive(t.qty, "quantity", at)?,
        exch_ts_ms: t.trade_ms,
        ..Tick::default()
    }))
}

/// The trade of one CSV row laid out as `l`.
fn csv_tick(
    fields: &[&str],
    l: &CsvLayout,
    at: &str,
    syms: &mut Symbols<'_>,
    default_symbol: &str,
) -> Result<Tick, String> {
    if fields.len() != l.n {
        return Err(format!(
            "{at}: expected {} comma-separated fields, got {}",
            l.n,
            fields.len()
        ));
    }
    let side = match (l.maker, l.taker) {
        (Some(i), _) => match fields[i].trim() {
            "true" | "True" | "1" => Some(Side::Sell),
            "false" | "False" | "0" => Some(Side::Buy),
            v => return Err(format!("{at}: is_buyer_maker {v:?} is not true/false")),
        },
        (None, Some(i)) => match fields[i].trim() {
            s if s.eq_ignore_ascii_case("buy") => Some(Side::Buy),
            s if s.eq_ignore_ascii_case("sell") => Some(Side::Sell),
            v => return Err(format!("{at}: taker side {v:?} is not Buy/Sell")),
        },
        (None, None) => None,
    };
    let qty = match (l.qty, side) {
        (Some(i), Some(_)) => non_negative(fields[i], "quantity", at)?,
        _ => 0.0,
    };
    let symbol = match l.symbol {
        Some(i) => syms.id(fields[i].trim()),
        None => syms.id(default_symbol),
    };
    Ok(Tick {
        symbol,
        side: side.unwrap_or(Side::Buy),
        price: positive(fields[l.price], "price", at)?,
        qty,
        exch_ts_ms: timestamp(fields[l.ts], at)?,
        ..Tick::default()
    })
}

/// Reads a trade file in any of the supported formats. `default_symbol` names the symbol of
/// files without a symbol column. Errors name the file, line and byte offset; a truncated or
/// corrupt gzip is an error (see [`Input`]).
pub fn read_trades(path: &Path, default_symbol: &str) -> Result<TradeFile, String> {
    let mut out = TradeFile::default();
    let mut syms = Symbols {
        names: &mut out.symbols,
    };
    let mut layout: Option<CsvLayout> = None;
    let mut frames: Option<bool> = None;
    let mut input = Input::open(path, None)?;
    let mut raw = Vec::new();
    for n in 1.. {
        let offset = input.offset();
        let at = format!("{}:{n}", path.display());
        let located = |e: String| format!("{e} (line starts at byte {offset})");
        if input.read_line(&mut raw).map_err(|e| e.to_string())? == 0 {
            break;
        }
        let line = std::str::from_utf8(&raw).map_err(|e| located(format!("{at}: {e}")))?;
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let is_frames = *frames.get_or_insert_with(|| {
            line.split_once(' ')
                .is_some_and(|(a, b)| a.bytes().all(|c| c.is_ascii_digit()) && b.starts_with('{'))
        });
        if is_frames {
            if let Some(t) = frame_tick(line, &at, &mut syms).map_err(located)? {
                out.ticks.push(t);
            }
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let l = match &layout {
            Some(l) => l,
            None => {
                let headerless = fields.len() == 2
                    && fields[0].trim().parse::<u64>().is_ok()
                    && fields[1].trim().parse::<f64>().is_ok();
                let l = if headerless {
                    CsvLayout {
                        n: 2,
                        ts: 0,
                        price: 1,
                        qty: None,
                        maker: None,
                        taker: None,
                        symbol: None,
                    }
                } else {
                    CsvLayout::from_header(&fields, &at).map_err(located)?
                };
                layout = Some(l);
                if !headerless {
                    continue;
                }
                layout.as_ref().expect("just set")
            }
        };
        out.ticks
            .push(csv_tick(&fields, l, &at, &mut syms, default_symbol).map_err(located)?);
    }
    if out.ticks.is_empty() {
        return Err(format!("{}: no trades found", path.display()));
    }
    Ok(out)
}

/// A permissive instrument for symbols missing from the spec table (analysis only: orders are
/// never sent).
fn permissive() -> Instrument {
    Instrument::new(
        Decimal::new(1, 8),
        Decimal::new(1, 8),
        Decimal::ZERO,
        Decimal::new(1, 0) * Decimal::from(1_000_000_000u64),
        Decimal::ZERO,
    )
    .expect("positive increments")
}

fn fmt_f(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        // The engine guarantees finite outputs; this only keeps the CSV parseable if not.
        "nan".to_string()
    }
}

/// One CSV row of `s` (the fixed [`COLUMNS`], then each layer's verdict).
fn csv_row(s: &TickState, layers: &[Layer]) -> String {
    let k = &s.kalman;
    let mut row = format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        s.ts_ms,
        fmt_f(s.price),
        fmt_f(s.smoothed.exp()),
        fmt_f(s.kalman.x.exp()),
        fmt_f(s.kalman.v),
        fmt_f(s.kalman.a),
        fmt_f(s.fd_velocity),
        fmt_f(s.fd_acceleration),
        fmt_f(s.snr),
        fmt_f(s.confidence),
        fmt_f(s.forecast()),
        s.case.name(),
        s.signal,
        fmt_f(k.innovation),
        fmt_f(k.innovation_var),
        fmt_f(k.nis),
        fmt_f(k.level),
        fmt_f(k.r),
        fmt_f(k.q_jerk),
        fmt_f(s.snr_a),
        s.gate.name()
    );
    for l in layers {
        row.push(',');
        row.push_str(s.layers.verdicts[l.index()].name());
    }
    row
}

/// Runs the engine (parameters from `cfg`, cross-asset leaders resolved among the file's
/// symbols) over `input` and writes the CSV of `symbol` (or of the file's only symbol) to `out`.
pub fn analyze(
    input: &Path,
    symbol: Option<&str>,
    out: &Path,
    cfg: &Config,
) -> Result<AnalyzeSummary, String> {
    let trades = read_trades(input, symbol.unwrap_or("SYMBOL"))?;
    let chosen = match symbol {
        Some(s) => trades
            .symbols
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "{}: no trades of {s} (symbols in the file: {})",
                    input.display(),
                    trades.symbols.join(", ")
                )
            })?,
        None if trades.symbols.len() == 1 => 0,
        None => {
            return Err(format!(
                "{}: several symbols ({}); choose one with --symbol",
                input.display(),
                trades.symbols.join(", ")
            ))
        }
    };
    let specs = resolve_path(&cfg.venue.instruments);
    let instruments: Vec<Instrument> = trades
        .symbols
        .iter()
        .map(|s| {
            load_specs(&specs, &cfg.venue.name, std::slice::from_ref(s))
                .ok()
                .and_then(|v| v.first().copied())
                .unwrap_or_else(permissive)
        })
        .collect();
    let mut params = StrategyParams::from_config(cfg);
    params.layers.cross = cfg.layers.cross.params(&trades.symbols);
    let layers: Vec<Layer> = Layer::ALL
        .into_iter()
        .filter(|l| params.layers.enabled(*l))
        .collect();
    let mut engine = Engine::new(params, &instruments);

    let file =
        std::fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut w = BufWriter::new(file);
    let werr = |e: std::io::Error| format!("writing {}: {e}", out.display());
    let mut header = COLUMNS.join(",");
    for l in &layers {
        header.push_str(",layer_");
        header.push_str(l.name());
    }
    writeln!(w, "{header}").map_err(werr)?;
    let mut summary = AnalyzeSummary {
        symbol: trades.symbols[chosen].clone(),
        rows: 0,
        signals: 0,
        filter: FilterCheck::default(),
        cases: [0; 8],
    };
    let warmup = (1.0 / cfg.kalman.level_alpha).ceil() as u64;
    let mut acc = FilterAcc::default();
    for t in &trades.ticks {
        if let Some(it) = engine.on_tick(t) {
            engine.on_report(&ExecReport {
                symbol: it.symbol,
                client_seq: it.client_seq,
                side: it.side(),
                status: ReportStatus::Filled,
                price: Decimal::from_f64_retain(it.ref_price).unwrap_or_default(),
                qty: it.qty(),
                fee: Decimal::ZERO,
                at: FillTime::None,
            });
        }
        if t.symbol.index() != chosen {
            continue;
        }
        let s = engine.last_state();
        let row = csv_row(s, &layers);
        writeln!(w, "{row}").map_err(werr)?;
        summary.rows += 1;
        summary.signals += u64::from(s.signal != 0);
        if s.warm {
            summary.cases[s.case.index()] += 1;
        }
        acc.add(s, &cfg.kalman, warmup);
    }
    w.flush().map_err(werr)?;
    summary.filter = acc.finish(warmup);
    Ok(summary)
}

/// The `analyze` subcommand: loads the config (`config`, else `config/default.toml` if present,
/// else the built-in default), runs [`analyze`] and returns a one-line summary.
pub fn run_cli(
    input: &Path,
    symbol: Option<&str>,
    out: &Path,
    config: Option<&Path>,
) -> Result<String, String> {
    let cfg = match config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None if Path::new("config/default.toml").exists() => {
            Config::load(Path::new("config/default.toml")).map_err(|e| e.to_string())?
        }
        None => Config::parse(DEFAULT_TOML).map_err(|e| e.to_string())?,
    };
    let s = analyze(input, symbol, out, &cfg)?;
    let f = &s.filter;
    let cases: Vec<String> = Case::ALL
        .iter()
        .map(|c| format!("{} {}", c.name(), s.cases[c.index()]))
        .collect();
    Ok(format!(
        "{}: {} rows of {} written to {} ({} orders)\n\
         kalman after {} warm-up ticks ({} checked): mean NIS {:.3}, 95 % band coverage {:.2} %, \
         at a clamp {:.2} %, median SNR_v {:.3}, median SNR_a {:.3}, \
         lag-1 autocorrelation of y/√S {:.3}\n\
         ticks per case (warm): {}",
        input.display(),
        s.rows,
        s.symbol,
        out.display(),
        s.signals,
        f.warmup,
        f.ticks,
        f.mean_nis,
        100.0 * f.coverage,
        100.0 * f.clamped,
        f.snr_median,
        f.snr_a_median,
        f.innovation_autocorr,
        cases.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, body: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ct-analyze-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn reads_plain_headed_and_frame_formats() {
        let p = tmp("plain.csv", "1000,100.5\n2000,100.6\n");
        let f = read_trades(&p, "X").unwrap();
        assert_eq!(f.symbols, vec!["X"]);
        assert_eq!(f.ticks.len(), 2);
        assert_eq!((f.ticks[1].exch_ts_ms, f.ticks[1].price), (2000, 100.6));
        let p = tmp(
            "bybit.csv",
            "msg_ts_ms,trade_time_ms,symbol,trade_id,taker_side,price,size\n1,5,BTCUSDT,a,Sell,65114.20,0.004\n2,6,ETHUSDT,b,Buy,1922.5,1.3\n",
        );
        let f = read_trades(&p, "X").unwrap();
        assert_eq!(f.symbols, vec!["BTCUSDT", "ETHUSDT"]);
        assert_eq!(f.ticks[0].side, Side::Sell);
        assert_eq!(f.ticks[0].exch_ts_ms, 5);
        assert_eq!(f.ticks[1].qty, 1.3);
        let p = tmp(
            "frames.txt",
            "1723161255088169167 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\"}}\n1723161255088176367 {\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161256322,\"T\":1723161256322,\"s\":\"BTCUSDT\",\"t\":5266583935,\"p\":\"61800.30\",\"q\":\"0.006\",\"X\":\"MARKET\",\"m\":false}}\n",
        );
        let f = read_trades(&p, "X").unwrap();
        assert_eq!(f.ticks.len(), 1);
        assert_eq!(f.ticks[0].price, 61800.30);
        assert_eq!(f.ticks[0].side, Side::Buy);
        assert_eq!(f.ticks[0].exch_ts_ms, 1723161256322);
    }

    #[test]
    fn lag1_autocorrelation_of_known_sequences() {
        // ±1 alternating: Σ(e_i·e_{i+1}) = −(n − 1), Σe² = n.
        let alt: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        assert!((lag1_autocorr(&alt) + 0.99).abs() < 1e-12);
        let runs: Vec<f64> = (0..100).map(|i| if i < 50 { 1.0 } else { -1.0 }).collect();
        assert!((lag1_autocorr(&runs) - 0.97).abs() < 1e-12);
        assert_eq!(lag1_autocorr(&[2.0; 10]), 0.0);
        assert_eq!(lag1_autocorr(&[]), 0.0);
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let p = tmp("bad.csv", "timestamp_ms,price\n1000,100\n2000,abc\n");
        let e = read_trades(&p, "X").unwrap_err();
        assert!(e.contains("bad.csv:3") && e.contains("abc"), "{e}");
        let p = tmp("neg.csv", "1000,100\n2000,-1\n");
        assert!(read_trades(&p, "X").unwrap_err().contains("neg.csv:2"));
        let p = tmp("short.csv", "timestamp_ms,price\n1000\n");
        assert!(read_trades(&p, "X").unwrap_err().contains("short.csv:2"));
        let p = tmp("frame.txt", "1 {\"data\":{\"e\":\"trade\",\"s\":\"A\"}}\n");
        let e = read_trades(&p, "X").unwrap_err();
        assert!(e.contains("frame.txt:1") && e.contains("`m`"), "{e}");
        let p = tmp("json.txt", "1 {\"data\":\n");
        assert!(read_trades(&p, "X")
            .unwrap_err()
            .contains("json.txt:1: invalid JSON"));
    }
}
