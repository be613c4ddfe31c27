//! Latency budgets (`tuning/budgets.toml`) and the PASS/FAIL table the budget bench prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::telemetry::{format_ns, Stage};

/// The budget file: one [`Profile`] per host class (`vm`, `tuned`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFile {
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
}

/// The budgets of one host class. Every latency in nanoseconds.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What host this profile is for.
    pub description: String,
    /// `parse`: frame bytes → `Tick`.
    pub parse: Budget,
    /// `md_hop`: network → compute ring hop.
    pub md_hop: Budget,
    /// `compute`: models + decision per tick.
    pub compute: Budget,
    /// `order_hop`: compute → execution ring hop.
    pub order_hop: Budget,
    /// `sign`: order build + round + sign + hex.
    pub sign: Budget,
    /// `tick_to_order`: bytes in buffer → signed order, in process.
    pub tick_to_order: Budget,
    /// Sustained throughput.
    pub throughput: ThroughputBudget,
    /// `order_rtt`: order request written → venue reply parsed, over loopback to the embedded
    /// exchange (optional: absent = reported without a budget).
    #[serde(default)]
    pub order_rtt: Option<Budget>,
    /// Ring hops are judged against the core-to-core floor of the same run: p50 ≤ this × the
    /// floor's p50 (the fixed `md_hop`/`order_hop` p50 is then not used; their p99 still is).
    #[serde(default)]
    pub hop_floor_ratio: Option<f64>,
    /// `socket_to_order`: socket read → order bytes handed to `write()`, the whole product over
    /// loopback (its own target, looser than the in-process `tick_to_order`).
    #[serde(default)]
    pub socket_to_order: Option<Budget>,
    /// `journal_append`: one order-journal record appended on the order path (optional).
    #[serde(default)]
    pub journal_append: Option<Budget>,
    /// `sparse_sign`: `sign` of an order after a quiet period, the order path kept warm
    /// (`exec.warm_every_us`), with the journal and the order lanes (optional).
    #[serde(default)]
    pub sparse_sign: Option<Budget>,
    /// `paced_tick_to_order`: `tick_to_order` of the default config at its default pace over
    /// loopback (orders seconds apart; optional).
    #[serde(default)]
    pub paced_tick_to_order: Option<Budget>,
}

/// Upper bounds on a stage's percentiles, ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Largest acceptable median, ns.
    pub p50_ns: u64,
    /// Largest acceptable 99th percentile, ns.
    pub p99_ns: u64,
    /// Largest acceptable 99.9th percentile, ns (optional).
    pub p999_ns: Option<u64>,
}

/// Lower bound on sustained throughput.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputBudget {
    /// Ticks per second the pipeline must sustain without ring overflow.
    pub min_ticks_per_s: f64,
}

impl BudgetFile {
    /// Parses budget TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let file: BudgetFile = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        for (name, p) in &file.profiles {
            for stage in Stage::ALL {
                let Some(b) = p.budget(stage) else { continue };
                if b.p50_ns == 0 || b.p99_ns < b.p50_ns || b.p999_ns.is_some_and(|x| x < b.p99_ns) {
                    return Err(format!(
                        "{origin}: profiles.{name}.{stage}: need 0 < p50_ns <= p99_ns <= p999_ns"
                    ));
                }
            }
            for (key, b) in [
                ("socket_to_order", p.socket_to_order),
                ("sparse_sign", p.sparse_sign),
                ("paced_tick_to_order", p.paced_tick_to_order),
            ] {
                if b.is_some_and(|b| b.p50_ns == 0 || b.p99_ns < b.p50_ns) {
                    return Err(format!(
                        "{origin}: profiles.{name}.{key}: need 0 < p50_ns <= p99_ns"
                    ));
                }
            }
            if p.hop_floor_ratio.is_some_and(|r| r.is_nan() || r < 1.0) {
                return Err(format!(
                    "{origin}: profiles.{name}.hop_floor_ratio must be >= 1"
                ));
            }
            if p.throughput.min_ticks_per_s.is_nan() || p.throughput.min_ticks_per_s <= 0.0 {
                return Err(format!(
                    "{origin}: profiles.{name}.throughput.min_ticks_per_s must be > 0"
                ));
            }
        }
        Ok(file)
    }

    /// Reads and parses the budget file at `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The profile called `name`, or an error listing the available ones.
    pub fn profile(&self, name: &str) -> Result<&Profile, String> {
        self.profiles.get(name).ok_or_else(|| {
            format!(
                "unknown budget profile {name:?}; available: {}",
                self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

impl Profile {
    /// The budget of `stage`; `None` for stages no host profile can bound (`feed_delay` is the
    /// network path to the venue, not our code).
    pub fn budget(&self, stage: Stage) -> Option<Budget> {
        match stage {
            Stage::Parse => Some(self.parse),
            Stage::MdHop => Some(self.md_hop),
            Stage::Compute => Some(self.compute),
            Stage::OrderHop => Some(self.order_hop),
            Stage::Sign => Some(self.sign),
            Stage::TickToOrder => Some(self.tick_to_order),
            Stage::OrderRtt => self.order_rtt,
            // Each venue's parse meets the one parse budget.
            Stage::ParseBinance | Stage::ParseBybit => Some(self.parse),
            Stage::FeedDelay | Stage::FeedDelayBinance | Stage::FeedDelayBybit => None,
            // Breakdowns of `tick_to_order` and `compute`, reported beside them.
            Stage::ParsedToOrder | Stage::OrderCompute => None,
        }
    }

    /// The budget `row` is held to: its stage's, `socket_to_order`'s, or for a ring hop with a
    /// measured floor the stage's p99 and a p50 of `hop_floor_ratio × floor p50`.
    pub fn budget_of(&self, row: &Row) -> Option<Budget> {
        match row.judge {
            Judge::Stage => self.budget(row.stage),
            Judge::SocketToOrder => self.socket_to_order,
            Judge::JournalAppend => self.journal_append,
            Judge::SparseSign => self.sparse_sign,
            Judge::PacedTickToOrder => self.paced_tick_to_order,
            Judge::BelowPeer { peer_p50_ns } => Some(Budget {
                p50_ns: peer_p50_ns.saturating_sub(1),
                p99_ns: u64::MAX,
                p999_ns: None,
            }),
            Judge::FloorRatio { floor_p50_ns } => {
                let b = self.budget(row.stage)?;
                Some(match self.hop_floor_ratio {
                    Some(r) => Budget {
                        p50_ns: (floor_p50_ns.max(1) as f64 * r).round() as u64,
                        ..b
                    },
                    None => b,
                })
            }
        }
    }
}

/// Which budget a [`Row`] is judged against (see [`Profile::budget_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judge {
    /// The row's stage budget.
    Stage,
    /// A ring hop: one-way p50 against `hop_floor_ratio ×` the one-way core-to-core floor
    /// measured the same way in the same run (p50, ns).
    FloorRatio {
        /// The floor's p50 in this run, ns.
        floor_p50_ns: u64,
    },
    /// The whole product over loopback: the `socket_to_order` budget.
    SocketToOrder,
    /// One journal record appended: the `journal_append` budget.
    JournalAppend,
    /// An order after a quiet period, path kept warm: the `sparse_sign` budget.
    SparseSign,
    /// The default config's own run at its default pace: the `paced_tick_to_order` budget.
    PacedTickToOrder,
    /// Faster than an alternative measured in the same run (WebSocket `order_rtt` against
    /// REST's): p50 strictly below `peer_p50_ns`, no tail budget.
    BelowPeer {
        /// The alternative's p50 in this run, ns.
        peer_p50_ns: u64,
    },
}

/// Measured percentiles of one row, ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measured {
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Number of samples.
    pub count: u64,
}

impl Measured {
    /// The p50/p99/p99.9 of an HdrHistogram of nanoseconds (bucket upper bounds); `None` when
    /// it is empty.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Option<Self> {
        (!h.is_empty()).then(|| Self {
            p50_ns: h.value_at_quantile(0.5),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            count: h.len(),
        })
    }
}

/// PASS when every budgeted percentile is within budget, FAIL otherwise, `n/a` unmeasured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetVerdict {
    /// Within budget.
    Pass,
    /// Over budget.
    Fail,
    /// Nothing measured.
    NotMeasured,
}

impl BudgetVerdict {
    /// `PASS`, `FAIL` or `n/a`.
    pub fn label(self) -> &'static str {
        match self {
            BudgetVerdict::Pass => "PASS",
            BudgetVerdict::Fail => "FAIL",
            BudgetVerdict::NotMeasured => "n/a",
        }
    }
}

/// `measured.p50 <= budget.p50 && measured.p99 <= budget.p99 && (p99.9 within if budgeted)`.
pub fn verdict(measured: Option<Measured>, budget: Budget) -> BudgetVerdict {
    match measured {
        None => BudgetVerdict::NotMeasured,
        Some(m)
            if m.p50_ns <= budget.p50_ns
                && m.p99_ns <= budget.p99_ns
                && budget.p999_ns.map_or(true, |b| m.p999_ns <= b) =>
        {
            BudgetVerdict::Pass
        }
        Some(_) => BudgetVerdict::Fail,
    }
}

/// One line of the budget table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What was measured (`parse`, `tick_to_order fused max-rate`, ...).
    pub label: String,
    /// The stage measured (and budget, unless `judge` says otherwise).
    pub stage: Stage,
    /// Which budget the row is held to.
    pub judge: Judge,
    /// Percentiles, if measured.
    pub measured: Option<Measured>,
    /// `(alternative, our p50 / its p50)` where an alternative was benched.
    pub versus: Option<(String, f64)>,
    /// Free-text remark (sample count, floor, method).
    pub note: String,
}

/// A throughput line: sustained rate vs the profile's minimum.
#[derive(Clone, Debug, PartialEq)]
pub struct ThroughputRow {
    /// Topology measured.
    pub label: String,
    /// Highest sustained ticks/s found (no ring overflow, schedule kept), if measured.
    pub ticks_per_s: Option<f64>,
    /// Free-text remark.
    pub note: String,
}

/// Column headers of the budget table.
const HEADER: [&str; 9] = [
    "stage",
    "p50",
    "p99",
    "p99.9",
    "budget p50",
    "budget p99",
    "verdict",
    "vs alt",
    "note",
];

fn row_cells(row: &Row, profile: &Profile) -> Vec<String> {
    let Some(budget) = profile.budget_of(row) else {
        let m = |f: fn(&Measured) -> u64| {
            row.measured
                .as_ref()
                .map_or("-".into(), |m| format_ns(f(m)))
        };
        return vec![
            row.label.clone(),
            m(|m| m.p50_ns),
            m(|m| m.p99_ns),
            m(|m| m.p999_ns),
            "-".into(),
            "-".into(),
            "no budget".into(),
            String::new(),
            row.note.clone(),
        ];
    };
    let v = verdict(row.measured, budget);
    let (p50, p99, p999) = match row.measured {
        Some(m) => (
            format_ns(m.p50_ns),
            format_ns(m.p99_ns),
            format_ns(m.p999_ns),
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    let budget_p99 = match budget.p999_ns {
        Some(b) => format!("{} (p99.9 {})", format_ns(budget.p99_ns), format_ns(b)),
        None if budget.p99_ns == u64::MAX => "-".into(),
        None => format_ns(budget.p99_ns),
    };
    let versus = row
        .versus
        .as_ref()
        .map(|(name, ratio)| format!("{ratio:.2}x {name}"))
        .unwrap_or_default();
    let budget_p50 = match (row.judge, profile.hop_floor_ratio) {
        (Judge::FloorRatio { .. }, Some(r)) => {
            format!("{} ({r}x floor)", format_ns(budget.p50_ns))
        }
        (Judge::BelowPeer { peer_p50_ns }, _) => format!("< {}", format_ns(peer_p50_ns)),
        _ => format_ns(budget.p50_ns),
    };
    vec![
        row.label.clone(),
        p50,
        p99,
        p999,
        budget_p50,
        budget_p99,
        v.label().into(),
        versus,
        row.note.clone(),
    ]
}

fn throughput_cells(row: &ThroughputRow, profile: &Profile) -> Vec<String> {
    let min = profile.throughput.min_ticks_per_s;
    let (rate, v) = match row.ticks_per_s {
        Some(r) => (
            format_rate(r),
            if r >= min {
                BudgetVerdict::Pass
            } else {
                BudgetVerdict::Fail
            },
        ),
        None => ("-".into(), BudgetVerdict::NotMeasured),
    };
    vec![
        row.label.clone(),
        rate,
        String::new(),
        String::new(),
        format!(">= {}", format_rate(min)),
        String::new(),
        v.label().into(),
        String::new(),
        row.note.clone(),
    ]
}

/// `1.23 M/s`, `456 K/s`, `789/s`.
pub fn format_rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.0} K/s", per_s / 1e3)
    } else {
        format!("{per_s:.0}/s")
    }
}

/// The budget table as aligned plain text: one line per row, then the throughput lines.
pub fn render_text(
    profile_name: &str,
    profile: &Profile,
    rows: &[Row],
    tp: &[ThroughputRow],
) -> String {
    let mut table: Vec<Vec<String>> = vec![HEADER.iter().map(|s| s.to_string()).collect()];
    table.extend(rows.iter().map(|r| row_cells(r, profile)));
    table.extend(tp.iter().map(|r| throughput_cells(r, profile)));
    let mut widths = vec![0; HEADER.len()];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("budget profile: {profile_name} ({})\n", profile.description);
    for row in &table {
        let mut line = String::new();
        for (i, (cell, &w)) in row.iter().zip(&widths).enumerate() {
            let _ = match i {
                0 => write!(line, "{cell:<w$}"),
                8 => write!(line, "  {cell}"),
                6 | 7 => write!(line, "  {cell:<w$}"),
                _ => write!(line, "  {cell:>w$}"),
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The same table as GitHub markdown (for `target/budgets.md` and the README).
pub fn render_markdown(
    profile_name: &str,
    profile: &Profile,
    rows: &[Row],
    tp: &[ThroughputRow],
) -> String {
    let mut out = format!(
        "Budget profile `{profile_name}` ({}).\n\n| {} |\n|{}|\n",
        profile.description,
        HEADER.join(" | "),
        ["---", "---:", "---:", "---:", "---:", "---:", "---", "---", "---"].join("|")
    );
    let lines = rows
        .iter()
        .map(|r| row_cells(r, profile))
        .chain(tp.iter().map(|r| throughput_cells(r, profile)));
    for cells in lines {
        let cells: Vec<String> = cells.into_iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../tuning/budgets.toml");

    fn m(p50: u64, p99: u64, p999: u64) -> Option<Measured> {
        Some(Measured {
            p50_ns: p50,
            p99_ns: p99,
            p999_ns: p999,
            count: 100,
        })
    }

    #[test]
    fn shipped_budgets_carry_the_performance_md_targets() {
        let f = BudgetFile::parse(SHIPPED, "budgets.toml").unwrap();
        let vm = f.profile("vm").unwrap();
        let tuned = f.profile("tuned").unwrap();
        // PERFORMANCE.md "Targets": VM parse <= 250/350, compute <= 150/500, sign <= 400/500,
        // tick_to_order <= 0.8/1.2/5 us; tuned hop <= 80/150, tick_to_order <= 0.6/0.9/1.5 us.
        assert_eq!((vm.parse.p50_ns, vm.parse.p99_ns), (250, 350));
        assert_eq!((vm.compute.p50_ns, vm.compute.p99_ns), (150, 500));
        assert_eq!((vm.sign.p50_ns, vm.sign.p99_ns), (400, 500));
        assert_eq!(
            vm.tick_to_order,
            Budget {
                p50_ns: 800,
                p99_ns: 1200,
                p999_ns: Some(5000)
            }
        );
        assert_eq!((tuned.md_hop.p50_ns, tuned.md_hop.p99_ns), (80, 150));
        assert_eq!(tuned.tick_to_order.p999_ns, Some(1500));
        assert_eq!(vm.throughput.min_ticks_per_s, 250_000.0);
        assert_eq!(tuned.throughput.min_ticks_per_s, 1_000_000.0);
        // Tuned is never looser than the VM.
        for stage in Stage::ALL {
            let (Some(t), Some(v)) = (tuned.budget(stage), vm.budget(stage)) else {
                continue;
            };
            assert!(t.p50_ns <= v.p50_ns, "{stage}");
            assert!(t.p99_ns <= v.p99_ns, "{stage}");
        }
    }

    #[test]
    fn unknown_profile_and_keys_are_reported() {
        let f = BudgetFile::parse(SHIPPED, "budgets.toml").unwrap();
        let err = f.profile("laptop").unwrap_err();
        assert!(err.contains("tuned") && err.contains("vm"), "{err}");
        let bad = SHIPPED.replacen("p50_ns = 250", "p50_ns = 250\nmedian = 1", 1);
        let err = BudgetFile::parse(&bad, "x.toml").unwrap_err();
        assert!(err.contains("x.toml") && err.contains("median"), "{err}");
    }

    #[test]
    fn inverted_budget_is_rejected() {
        let bad = SHIPPED.replacen("p99_ns = 350", "p99_ns = 100", 1);
        let err = BudgetFile::parse(&bad, "b.toml").unwrap_err();
        assert!(err.contains("profiles.vm.parse"), "{err}");
    }

    #[test]
    fn verdict_needs_every_budgeted_percentile_within() {
        let b = Budget {
            p50_ns: 100,
            p99_ns: 200,
            p999_ns: Some(500),
        };
        assert_eq!(verdict(m(100, 200, 500), b), BudgetVerdict::Pass);
        assert_eq!(verdict(m(101, 150, 300), b), BudgetVerdict::Fail);
        assert_eq!(verdict(m(90, 201, 300), b), BudgetVerdict::Fail);
        assert_eq!(verdict(m(90, 150, 501), b), BudgetVerdict::Fail);
        assert_eq!(verdict(None, b), BudgetVerdict::NotMeasured);
        let no_tail = Budget { p999_ns: None, ..b };
        assert_eq!(verdict(m(90, 150, 1_000_000), no_tail), BudgetVerdict::Pass);
    }

    #[test]
    fn measured_of_histogram_reads_its_quantiles() {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let got = Measured::of(&h).unwrap();
        // Bucket upper bounds at 2 significant digits (see telemetry::report tests).
        assert_eq!(
            (got.p50_ns, got.p99_ns, got.p999_ns, got.count),
            (501, 991, 999, 1000)
        );
        h.reset();
        assert_eq!(Measured::of(&h), None);
    }

    #[test]
    fn hops_are_judged_against_the_floor_and_socket_rows_against_their_own_budget() {
        let f = BudgetFile::parse(SHIPPED, "budgets.toml").unwrap();
        let vm = f.profile("vm").unwrap();
        // PERFORMANCE.md: ring hop p50 <= 1.5 x the floor; socket -> write() p50 <= 8 us, p99 <= 15 us.
        assert_eq!(vm.hop_floor_ratio, Some(1.5));
        let hop = |p50, floor| Row {
            label: "md_hop".into(),
            stage: Stage::MdHop,
            judge: Judge::FloorRatio {
                floor_p50_ns: floor,
            },
            measured: m(p50, 200, 300),
            versus: None,
            note: String::new(),
        };
        // 100 ns passes the fixed 315 ns p50 but is 4x a 25 ns floor: FAIL.
        assert_eq!(vm.budget_of(&hop(100, 25)).unwrap().p50_ns, 38);
        assert!(render_text("vm", vm, &[hop(100, 25)], &[]).contains("FAIL"));
        assert!(render_text("vm", vm, &[hop(37, 25)], &[]).contains("PASS"));
        let socket = |p50, p99| Row {
            label: "socket_to_order".into(),
            stage: Stage::TickToOrder,
            judge: Judge::SocketToOrder,
            measured: m(p50, p99, p99),
            versus: None,
            note: String::new(),
        };
        // 7 us would FAIL the 0.8 us in-process budget; it passes its own.
        assert!(render_text("vm", vm, &[socket(7_000, 14_000)], &[]).contains("PASS"));
        assert!(render_text("vm", vm, &[socket(7_000, 41_000)], &[]).contains("FAIL"));
        let bad = SHIPPED.replacen("hop_floor_ratio = 1.5", "hop_floor_ratio = 0.5", 1);
        assert!(BudgetFile::parse(&bad, "b.toml")
            .unwrap_err()
            .contains("hop_floor_ratio"));
    }

    #[test]
    fn a_row_judged_against_its_peer_passes_only_strictly_below_it() {
        let f = BudgetFile::parse(SHIPPED, "budgets.toml").unwrap();
        let vm = f.profile("vm").unwrap();
        // PERFORMANCE / issue 16: WebSocket order_rtt below REST order_rtt in the same run.
        let ws = |p50| Row {
            label: "order_rtt websocket".into(),
            stage: Stage::OrderRtt,
            judge: Judge::BelowPeer {
                peer_p50_ns: 147_000,
            },
            measured: m(p50, 9_000_000, 9_000_000),
            versus: None,
            note: String::new(),
        };
        assert_eq!(
            verdict(ws(146_999).measured, vm.budget_of(&ws(0)).unwrap()),
            BudgetVerdict::Pass
        );
        assert_eq!(
            verdict(ws(147_000).measured, vm.budget_of(&ws(0)).unwrap()),
            BudgetVerdict::Fail
        );
        let text = render_text("vm", vm, &[ws(112_000)], &[]);
        assert!(text.contains("PASS") && text.contains("< 147"), "{text}");
        assert!(render_text("vm", vm, &[ws(150_000)], &[]).contains("FAIL"));
    }

    #[test]
    fn tables_show_verdicts_ratios_and_throughput() {
        let f = BudgetFile::parse(SHIPPED, "budgets.toml").unwrap();
        let vm = f.profile("vm").unwrap();
        let rows = vec![
            Row {
                label: "parse".into(),
                stage: Stage::Parse,
                judge: Judge::Stage,
                measured: m(240, 300, 400),
                versus: Some(("serde_json".into(), 0.8)),
                note: "n=1000".into(),
            },
            Row {
                label: "sign".into(),
                stage: Stage::Sign,
                judge: Judge::Stage,
                measured: m(900, 1200, 1500),
                versus: None,
                note: String::new(),
            },
        ];
        let tp = vec![ThroughputRow {
            label: "throughput fused".into(),
            ticks_per_s: Some(1_500_000.0),
            note: String::new(),
        }];
        let text = render_text("vm", vm, &rows, &tp);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("budget profile: vm"));
        assert!(lines[2].starts_with("parse") && lines[2].contains("PASS"));
        assert!(lines[2].contains("0.80x serde_json"));
        assert!(lines[3].starts_with("sign") && lines[3].contains("FAIL"));
        assert!(lines[4].contains("1.50 M/s") && lines[4].contains(">= 250 K/s"));
        assert!(lines[4].contains("PASS"));

        let md = render_markdown("vm", vm, &rows, &tp);
        let md_rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(md_rows.len(), 2 + rows.len() + tp.len());
        assert!(md_rows[2].contains("| 240 ns | 300 ns | 400 ns | 250 ns | 350 ns | PASS |"));
    }

    #[test]
    fn format_rate_picks_a_unit() {
        assert_eq!(format_rate(1_234_567.0), "1.23 M/s");
        assert_eq!(format_rate(456_400.0), "456 K/s");
        assert_eq!(format_rate(789.0), "789/s");
    }
}
