//! The backtest report: metrics of the strategy and of buy-and-hold side by side, reject counts
//! per layer, data and model summary, honest warnings; a printed table and JSON.
//!
//! Returns are simple returns of the equity marked every `bar_s` seconds of exchange time (the
//! last, partial bar included); Sharpe and Sortino are annualised with
//! `sqrt(365·86400 / bar_s)` — `sqrt(525600)` for the default 1-minute bars, crypto trading 24/7.
//! Drawdown is measured on every trade's mark. Win rate, average win/loss, profit factor and the
//! t-statistic are over closed round trips, net of fees.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::equity::EquitySummary;
use super::fills::FillStats;
use super::metrics::{periods_per_year, profit_factor, returns, sharpe, sortino, t_stat};
use super::reader::{Format, ReadStats};
use super::replay::{Outcome, Setup};
use super::trades::RoundTrip;
use crate::model::layers::Layer;
use crate::risk::{BlockReason, PortfolioRisk};
use crate::strategy::EngineStats;
use crate::types::{Case, RejectReason};

/// Below this many bar returns, Sharpe and Sortino are flagged as not meaningful.
pub const MIN_BARS: usize = 30;
/// Below this many closed trades, trade statistics are flagged as noise.
pub const MIN_TRADES: usize = 30;

/// Performance of one account.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Metrics {
    /// Net PnL after fees and funding, quote currency.
    pub net_pnl: f64,
    /// PnL before fees and funding.
    pub gross_pnl: f64,
    /// `net_pnl / balance`, percent.
    pub return_pct: f64,
    /// Annualised Sharpe ratio of bar returns.
    pub sharpe: f64,
    /// Annualised Sortino ratio of bar returns.
    pub sortino: f64,
    /// Deepest drawdown, quote currency.
    pub max_drawdown: f64,
    /// Deepest drawdown, percent of the peak.
    pub max_drawdown_pct: f64,
    /// Duration of the deepest drawdown (peak → recovery or end), s.
    pub max_drawdown_duration_s: f64,
    /// Longest time under a previous peak, s.
    pub longest_underwater_s: f64,
    /// Closed round trips.
    pub trades: usize,
    /// Fraction of closed trades with net PnL > 0 (None without trades).
    pub win_rate: Option<f64>,
    /// Mean net PnL of winning trades.
    pub avg_win: Option<f64>,
    /// Mean net PnL of losing trades (negative).
    pub avg_loss: Option<f64>,
    /// Σ wins / |Σ losses| (None without a losing trade).
    pub profit_factor: Option<f64>,
    /// t-statistic of the mean net PnL per trade (|t| < 2: no evidence of an edge).
    pub trade_t_stat: f64,
    /// Fraction of time with an open position.
    pub exposure: f64,
    /// Fills.
    pub fills: u64,
    /// Fees paid, quote currency (incl. the exit fee of positions open at the end).
    pub fees: f64,
    /// Funding paid, quote currency.
    pub funding: f64,
    /// Bar returns used for Sharpe/Sortino.
    pub bar_returns: usize,
}

impl Metrics {
    /// Metrics of an equity series with its closed trades.
    pub fn of(eq: &EquitySummary, net: f64, gross: f64, trips: &[RoundTrip], bar_s: u64) -> Self {
        let r = returns(&eq.bars);
        let ppy = periods_per_year(bar_s as f64);
        let pnl: Vec<f64> = trips.iter().map(|t| t.net).collect();
        let wins: Vec<f64> = pnl.iter().copied().filter(|p| *p > 0.0).collect();
        let losses: Vec<f64> = pnl.iter().copied().filter(|p| *p <= 0.0).collect();
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        Self {
            net_pnl: net,
            gross_pnl: gross,
            return_pct: if eq.balance > 0.0 {
                100.0 * net / eq.balance
            } else {
                0.0
            },
            sharpe: sharpe(&r, ppy),
            sortino: sortino(&r, ppy),
            max_drawdown: eq.drawdown.max_abs,
            max_drawdown_pct: 100.0 * eq.drawdown.max_frac,
            max_drawdown_duration_s: eq.drawdown.max_duration_ms as f64 / 1e3,
            longest_underwater_s: eq.drawdown.longest_underwater_ms as f64 / 1e3,
            trades: pnl.len(),
            win_rate: (!pnl.is_empty()).then(|| wins.len() as f64 / pnl.len() as f64),
            avg_win: mean(&wins),
            avg_loss: mean(
                &losses
                    .iter()
                    .copied()
                    .filter(|p| *p < 0.0)
                    .collect::<Vec<_>>(),
            ),
            profit_factor: profit_factor(&pnl),
            trade_t_stat: t_stat(&pnl),
            exposure: eq.exposure,
            fills: eq.fills,
            fees: eq.fees,
            funding: eq.funding,
            bar_returns: r.len(),
        }
    }
}

/// One engine or venue counter.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Count {
    /// Counter name (`filtered.below_min_notional`, `blocked_cooldown`, ...).
    pub name: String,
    /// Value.
    pub value: u64,
}

/// Final position of one symbol.
#[derive(Clone, Debug, Serialize)]
pub struct SymbolSummary {
    /// Venue symbol.
    pub symbol: String,
    /// Fills.
    pub fills: u64,
    /// Position at the end (exact decimal).
    pub position: String,
    /// Realized PnL (exact decimal).
    pub realized: String,
    /// Fees paid on fills (exact decimal).
    pub fees: String,
}

/// The whole report (serialised to `report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Input files and their formats.
    pub files: Vec<(String, String)>,
    /// Reader counts (ticks, malformed rows, ...).
    pub read: ReadStats,
    /// Trades replayed.
    pub ticks: u64,
    /// First and last trade time, Unix ms.
    pub span_ms: (u64, u64),
    /// Execution model: latency, slippage, fee, bar length.
    pub model: ModelSummary,
    /// The strategy.
    pub strategy: Metrics,
    /// Buy-and-hold on the same data.
    pub buy_and_hold: Metrics,
    /// Signals not sent or orders not filled, per layer and reason.
    pub rejects: Vec<Count>,
    /// Every engine counter (flattened from `EngineStats`).
    pub engine: Vec<Count>,
    /// Venue counters.
    pub venue: FillStats,
    /// Final positions.
    pub positions: Vec<SymbolSummary>,
    /// VaR/ES of the open book: its peak over the run and at the end.
    pub portfolio: PortfolioSummary,
    /// Reasons not to trust the numbers.
    pub warnings: Vec<String>,
}

/// Portfolio risk over the run (quote currency over the VaR horizon; see `risk::var`).
#[derive(Clone, Debug, Serialize)]
pub struct PortfolioSummary {
    /// Element-wise peak of the open book's VaR/ES, computed at each bar close with positions.
    pub peak: PortfolioRisk,
    /// The book at the end of the data (zero when flat).
    pub end: PortfolioRisk,
    /// Entries refused by the VaR limit.
    pub blocked_var: u64,
    /// Full Kelly fraction `f* = p − (1 − p)/b` of the closed trades (None before any).
    pub kelly: Option<f64>,
}

/// The execution model and statistics conventions used.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    /// Decision → fill delay, ms.
    pub latency_ms: u64,
    /// Slippage, ticks.
    pub slippage_ticks: u32,
    /// Slippage, bps.
    pub slippage_bps: f64,
    /// Fee of the strategy's fills.
    pub fee: String,
    /// Funding per 8 h.
    pub funding_rate_8h: f64,
    /// Bar length for returns, s.
    pub bar_s: u64,
    /// `sqrt(periods per year)` applied to Sharpe and Sortino.
    pub annualisation: f64,
}

/// Flattens a `#[derive(Debug)]` struct of counters into `name = value` pairs (`a: [1, 2]` →
/// `a[0]`, `a[1]`; nested structs → `outer.inner`), so counters added to [`EngineStats`] by
/// other layers appear in the report without changes here. Non-integer leaves are skipped.
pub fn flatten_debug(s: &str) -> Vec<Count> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    value(b, &mut i, "", &mut out);
    out
}

fn skip_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && (b[*i].is_ascii_whitespace() || b[*i] == b',') {
        *i += 1;
    }
}

fn ident(b: &[u8], i: &mut usize) -> String {
    let start = *i;
    while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] == b'.') {
        *i += 1;
    }
    String::from_utf8_lossy(&b[start..*i]).into_owned()
}

fn value(b: &[u8], i: &mut usize, name: &str, out: &mut Vec<Count>) {
    skip_ws(b, i);
    let Some(&c) = b.get(*i) else { return };
    let join = |k: &str| {
        if name.is_empty() {
            k.to_string()
        } else {
            format!("{name}.{k}")
        }
    };
    match c {
        b'[' => {
            *i += 1;
            let mut k = 0;
            loop {
                skip_ws(b, i);
                match b.get(*i) {
                    None => return,
                    Some(b']') => {
                        *i += 1;
                        return;
                    }
                    _ => {
                        value(b, i, &format!("{name}[{k}]"), out);
                        k += 1;
                    }
                }
            }
        }
        b'"' => {
            *i += 1;
            while *i < b.len() && b[*i] != b'"' {
                *i += if b[*i] == b'\\' { 2 } else { 1 };
            }
            *i += 1;
        }
        _ => {
            let word = ident(b, i);
            if word.is_empty() {
                *i += 1;
                return;
            }
            if let Ok(v) = word.parse::<u64>() {
                out.push(Count {
                    name: name.to_string(),
                    value: v,
                });
                return;
            }
            skip_ws(b, i);
            match b.get(*i) {
                Some(b'{') => {
                    *i += 1;
                    loop {
                        skip_ws(b, i);
                        match b.get(*i) {
                            None => return,
                            Some(b'}') => {
                                *i += 1;
                                return;
                            }
                            _ => {
                                let field = ident(b, i);
                                skip_ws(b, i);
                                if b.get(*i) == Some(&b':') {
                                    *i += 1;
                                }
                                if field.is_empty() {
                                    *i += 1;
                                    continue;
                                }
                                value(b, i, &join(&field), out);
                            }
                        }
                    }
                }
                Some(b'(') => {
                    *i += 1;
                    value(b, i, name, out);
                    skip_ws(b, i);
                    if b.get(*i) == Some(&b')') {
                        *i += 1;
                    }
                }
                _ => {}
            }
        }
    }
}

/// Engine counters with readable names for the known arrays (reject reasons, layers, matrix
/// cases, risk block reasons).
pub fn engine_counters(s: &EngineStats) -> Vec<Count> {
    flatten_debug(&format!("{s:?}"))
        .into_iter()
        .map(|c| {
            let rename = |prefix: &str, names: &dyn Fn(usize) -> Option<&'static str>| {
                let rest = c.name.strip_prefix(prefix)?.strip_prefix('[')?;
                let k: usize = rest.strip_suffix(']')?.parse().ok()?;
                Some(format!("{prefix}.{}", names(k)?))
            };
            let name = rename("filtered", &|k| RejectReason::ALL.get(k).map(|r| r.name()))
                .or_else(|| rename("blocked_layers", &|k| Layer::ALL.get(k).map(|l| l.name())))
                .or_else(|| risk_block_name(&c.name))
                .or_else(|| {
                    let case = |k: usize| Case::ALL.get(k).map(|c| c.name());
                    rename("cases", &case)
                        .or_else(|| rename("case_entries", &case))
                        .or_else(|| rename("case_exits", &case))
                })
                .unwrap_or(c.name.clone());
            Count {
                name,
                value: c.value,
            }
        })
        .collect()
}

/// `risk_blocked[k]` → the reason's live counter name (`blocked_max_positions`, as the summary).
fn risk_block_name(name: &str) -> Option<String> {
    let k: usize = name
        .strip_prefix("risk_blocked[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    Some(BlockReason::ALL.get(k)?.name().to_string())
}

/// Whether a counter counts signals stopped by a layer (cooldown, filters, risk, confirmations)
/// or orders the venue refused.
fn is_reject(name: &str) -> bool {
    ["block", "filter", "reject", "veto", "limit", "deny"]
        .iter()
        .any(|k| name.contains(k))
}

impl Report {
    /// Builds the report of `o`, read from `files`.
    pub fn build(
        o: &Outcome,
        setup: &Setup,
        files: &[(PathBuf, Format)],
        read: &ReadStats,
    ) -> Self {
        let bar_s = o.bar_s;
        let strategy = Metrics::of(&o.strategy, o.net_pnl, o.gross_pnl, &o.trips, bar_s);
        let bh_net = o.baseline.final_value - o.baseline.balance;
        let buy_and_hold = Metrics::of(
            &o.baseline,
            bh_net,
            bh_net + o.baseline.fees + o.baseline.funding,
            &[],
            bar_s,
        );
        let engine = engine_counters(o.engine.stats());
        let mut rejects: Vec<Count> = engine
            .iter()
            .filter(|c| is_reject(&c.name))
            .cloned()
            .collect();
        for r in RejectReason::ALL {
            rejects.push(Count {
                name: format!("venue.{}", r.name()),
                value: o.sim_rejects[r.index()],
            });
        }
        let positions = (0..o.engine.n_symbols())
            .map(|i| {
                let p = o.engine.position(i).copied().unwrap_or_default();
                SymbolSummary {
                    symbol: o.names[i].clone(),
                    fills: p.fills,
                    position: p.qty.to_string(),
                    realized: p.realized.to_string(),
                    fees: p.fees.to_string(),
                }
            })
            .collect();
        let mut warnings = Vec::new();
        if strategy.bar_returns < MIN_BARS {
            warnings.push(format!(
                "only {} bar returns of {} s: Sharpe and Sortino are not meaningful (need ≥ {MIN_BARS})",
                strategy.bar_returns, bar_s
            ));
        }
        if strategy.trades < MIN_TRADES {
            warnings.push(format!(
                "only {} closed trades: win rate, profit factor and the t-statistic are noise (need ≥ {MIN_TRADES})",
                strategy.trades
            ));
        }
        if strategy.trades >= 2 && strategy.trade_t_stat.abs() < 2.0 {
            warnings.push(format!(
                "per-trade t-statistic {:.2}: no statistically significant edge (|t| < 2)",
                strategy.trade_t_stat
            ));
        }
        if read.bad_rows > 0 {
            warnings.push(format!(
                "{} malformed rows skipped; first: {}",
                read.bad_rows,
                read.first_errors.first().cloned().unwrap_or_default()
            ));
        }
        if read.out_of_order_rows > 0 {
            warnings.push(format!(
                "{} rows earlier than the previous row of their file (kept in file order; the merge assumes sorted files)",
                read.out_of_order_rows
            ));
        }
        if o.sim.unfilled_at_end > 0 {
            warnings.push(format!(
                "{} orders still pending (latency) when the data ended: never filled",
                o.sim.unfilled_at_end
            ));
        }
        Self {
            files: files
                .iter()
                .map(|(p, f)| (p.display().to_string(), f.name().to_string()))
                .collect(),
            read: read.clone(),
            ticks: o.ticks,
            span_ms: o.strategy.span_ms,
            model: ModelSummary {
                latency_ms: setup.model.latency_ms,
                slippage_ticks: setup.model.slippage_ticks,
                slippage_bps: setup.model.paper.slippage_bps,
                fee: setup.model.paper.taker_fee.to_string(),
                funding_rate_8h: setup.bt.funding_rate_8h,
                bar_s,
                annualisation: periods_per_year(bar_s as f64).sqrt(),
            },
            strategy,
            buy_and_hold,
            rejects,
            engine,
            venue: o.sim,
            positions,
            portfolio: PortfolioSummary {
                peak: o.engine.risk_gate().peak_risk(),
                end: o.engine.risk_gate().book_risk(None).unwrap_or_default(),
                blocked_var: o.engine.stats().risk_blocked[BlockReason::PortfolioVar.index()],
                kelly: o.engine.trade_stats().kelly(),
            },
            warnings,
        }
    }

    /// The printed table.
    pub fn table(&self) -> String {
        let mut s = self.table_header();
        s.push_str(&format!(
            "\n{:<28} {:>14} {:>14}\n",
            "metric", "strategy", "buy & hold"
        ));
        for (k, x, y) in self.metric_rows() {
            s.push_str(&format!("{k:<28} {x:>14} {y:>14}\n"));
        }
        self.push_rejects_positions_warnings(&mut s);
        s
    }

    /// Data span, fill model and skipped rows.
    fn table_header(&self) -> String {
        let mut s = String::new();
        let span_s = (self.span_ms.1.saturating_sub(self.span_ms.0)) as f64 / 1e3;
        s.push_str(&format!(
            "\n== backtest: {} trades from {} file(s) over {:.1} s (Unix ms {} → {})\n",
            self.ticks,
            self.files.len(),
            span_s,
            self.span_ms.0,
            self.span_ms.1
        ));
        s.push_str(&format!(
            "fill model: latency {} ms, slippage {} ticks + {} bps, fee {}, funding {}/8h; returns on {} s bars, annualised ×{:.1} (sqrt of bars per 365-day year)\n",
            self.model.latency_ms,
            self.model.slippage_ticks,
            self.model.slippage_bps,
            self.model.fee,
            self.model.funding_rate_8h,
            self.model.bar_s,
            self.model.annualisation
        ));
        if self.read.bad_rows + self.read.other_symbol_rows > 0 {
            s.push_str(&format!(
                "rows skipped: {} malformed, {} of other symbols\n",
                self.read.bad_rows, self.read.other_symbol_rows
            ));
        }
        s
    }

    /// `(metric, strategy, buy & hold)` rows of the table.
    fn metric_rows(&self) -> Vec<(&'static str, String, String)> {
        let (a, b) = (&self.strategy, &self.buy_and_hold);
        let opt = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |x| format!("{x:.d$}"));
        // Rows reported for both: (metric, value, decimals).
        let both = |name: &'static str, v: fn(&Metrics) -> f64, dp: usize| {
            (name, format!("{:.dp$}", v(a)), format!("{:.dp$}", v(b)))
        };
        vec![
            both("net PnL", |m| m.net_pnl, 4),
            both("gross PnL (before fees)", |m| m.gross_pnl, 4),
            both("return %", |m| m.return_pct, 4),
            both("Sharpe (annualised)", |m| m.sharpe, 2),
            both("Sortino (annualised)", |m| m.sortino, 2),
            both("max drawdown", |m| m.max_drawdown, 4),
            both("max drawdown %", |m| m.max_drawdown_pct, 4),
            both("max drawdown duration s", |m| m.max_drawdown_duration_s, 1),
            ("trades (round trips)", a.trades.to_string(), "-".into()),
            ("win rate", opt(a.win_rate, 3), "-".into()),
            ("average win", opt(a.avg_win, 4), "-".into()),
            ("average loss", opt(a.avg_loss, 4), "-".into()),
            ("profit factor", opt(a.profit_factor, 3), "-".into()),
            (
                "t-stat per trade",
                format!("{:.2}", a.trade_t_stat),
                "-".into(),
            ),
            (
                "exposure",
                format!("{:.3}", a.exposure),
                format!("{:.3}", b.exposure),
            ),
            ("fills", a.fills.to_string(), b.fills.to_string()),
            (
                "fees paid",
                format!("{:.4}", a.fees),
                format!("{:.4}", b.fees),
            ),
            (
                "funding paid",
                format!("{:.4}", a.funding),
                format!("{:.4}", b.funding),
            ),
            (
                "bar returns",
                a.bar_returns.to_string(),
                b.bar_returns.to_string(),
            ),
        ]
    }

    /// VaR and ES of the open book: peak over the run and at the end, both methods and levels.
    fn push_portfolio(&self, s: &mut String) {
        let p = &self.portfolio;
        s.push_str(&format!(
            "\nportfolio risk of the open book (quote currency over the VaR horizon; {} entries refused by the VaR limit; Kelly f* {}):\n",
            p.blocked_var,
            p.kelly.map_or("-".to_string(), |k| format!("{k:.3}"))
        ));
        s.push_str(&format!(
            "  {:<6} {:>7} {:>12} {:>12} {:>12} {:>12} {:>12}\n",
            "", "samples", "VaR95 par", "VaR99 par", "ES99 par", "VaR99 hist", "ES99 hist"
        ));
        for (name, r) in [("peak", &p.peak), ("end", &p.end)] {
            s.push_str(&format!(
                "  {:<6} {:>7} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4}\n",
                name,
                r.samples,
                r.var_parametric[0],
                r.var_parametric[1],
                r.es_parametric[1],
                r.var_historical[1],
                r.es_historical[1]
            ));
        }
    }

    /// Reject counters, final positions and warnings.
    fn push_rejects_positions_warnings(&self, s: &mut String) {
        self.push_portfolio(s);
        s.push_str("\nrejects per layer / reason:\n");
        for c in &self.rejects {
            s.push_str(&format!("  {:<36} {:>10}\n", c.name, c.value));
        }
        s.push_str("\nfinal positions:\n");
        for p in &self.positions {
            s.push_str(&format!(
                "  {:<10} fills {:>5}  position {:>12}  realized {:>14}  fees {:>12}\n",
                p.symbol, p.fills, p.position, p.realized, p.fees
            ));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
    }

    /// Writes the report as pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_counters_flattens_arrays_and_nested_structs() {
        let c = flatten_debug(
            "Stats { ticks: 10, filtered: [1, 0, 2], risk: Risk { daily_loss: 3, name: \"x\" }, ratio: 0.5, on: true, opt: Some(4) }",
        );
        let got: Vec<(String, u64)> = c.into_iter().map(|c| (c.name, c.value)).collect();
        let want: Vec<(String, u64)> = [
            ("ticks", 10),
            ("filtered[0]", 1),
            ("filtered[1]", 0),
            ("filtered[2]", 2),
            ("risk.daily_loss", 3),
            ("opt", 4),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn engine_counters_name_reasons_and_cases() {
        let mut s = EngineStats::default();
        s.filtered[RejectReason::BelowMinNotional.index()] = 7;
        s.blocked_cooldown = 3;
        let c = engine_counters(&s);
        let get = |n: &str| c.iter().find(|c| c.name == n).map(|c| c.value);
        assert_eq!(get("filtered.below_min_notional"), Some(7));
        assert_eq!(get("blocked_cooldown"), Some(3));
        assert!(c.iter().any(|c| c.name.starts_with("cases.")));
        assert!(c.iter().any(|c| c.name == "blocked_layers.flow"), "{c:?}");
        let mut s = EngineStats::default();
        s.risk_blocked[BlockReason::MaxPositions.index()] = 5;
        let c = engine_counters(&s);
        let get = |n: &str| c.iter().find(|c| c.name == n).map(|c| c.value);
        assert_eq!(get("blocked_max_positions"), Some(5), "{c:?}");
        assert!(
            !c.iter().any(|c| c.name.contains('[')),
            "index-named counter: {c:?}"
        );
        assert!(is_reject("blocked_cooldown") && !is_reject("ticks"));
    }
}
