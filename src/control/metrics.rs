//! `GET /metrics`: the status view in the Prometheus text exposition format 0.0.4. Counters
//! are `calculus_trader_<name>_total`; per-symbol labels only on position, PnL and feed gauges;
//! stage latency is a summary in seconds over the last status interval.

use std::fmt::Write;

use crate::types::control::StatusView;

/// `Content-Type` of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric name starts with this.
const PREFIX: &str = "calculus_trader_";

/// The states `StatusView::state` takes: one 0/1 sample each (bounded labels).
const STATES: [&str; 5] = ["running", "paused", "stopped", "halted", "circuit_breaker"];

/// The whole exposition of `s`.
pub fn render(s: &StatusView) -> String {
    let mut out = String::with_capacity(4096);
    render_account(&mut out, s);
    render_symbols(&mut out, s);
    render_limits(&mut out, s);
    render_portfolio(&mut out, s);
    render_counters(&mut out, s);
    render_stages(&mut out, s);
    out
}

/// Account-wide gauges, the run state and the settings.
fn render_account(out: &mut String, s: &StatusView) {
    let gauges = [
        ("uptime_seconds", "Seconds since start.", s.uptime_s),
        (
            "balance",
            "Account balance, quote currency.",
            num(&s.balance),
        ),
        (
            "equity",
            "Balance plus unrealized PnL, quote currency.",
            num(&s.equity),
        ),
        (
            "day_pnl",
            "PnL of the current UTC day, quote currency.",
            num(&s.day_pnl),
        ),
        (
            "realized_pnl",
            "Realized PnL net of fees, quote currency.",
            num(&s.realized_pnl),
        ),
        ("drawdown", "(peak - equity) / peak.", num(&s.drawdown)),
        (
            "loss_streak",
            "Losing trades in a row.",
            f64::from(s.loss_streak),
        ),
    ];
    for (name, help, v) in gauges {
        header(out, name, help, "gauge");
        sample(out, name, &[], v);
    }
    header(
        out,
        "running",
        "1 when entries are allowed (state running).",
        "gauge",
    );
    sample(
        out,
        "running",
        &[],
        f64::from(u8::from(s.state == "running")),
    );
    header(
        out,
        "state",
        "1 for the current run state, 0 for the others.",
        "gauge",
    );
    for st in STATES {
        sample(
            out,
            "state",
            &[("state", st)],
            f64::from(u8::from(s.state == st)),
        );
    }
    let set = &s.settings;
    header(out, "setting", "Operator settings in force.", "gauge");
    for (name, v) in [
        ("tp_pct", set.tp_pct),
        ("sl_pct", set.sl_pct),
        ("max_positions", f64::from(set.max_positions)),
        ("position_notional", set.position_notional),
        ("leverage_cap", set.leverage_cap),
        ("risk_per_trade", set.risk_per_trade),
    ] {
        sample(out, "setting", &[("setting", name)], v);
    }
}

/// Per-symbol position, unrealized PnL and feed state.
fn render_symbols(out: &mut String, s: &StatusView) {
    header(
        out,
        "position",
        "Signed position per symbol, base quantity.",
        "gauge",
    );
    for v in &s.symbols {
        sample(out, "position", &[("symbol", &v.symbol)], num(&v.position));
    }
    header(
        out,
        "unrealized_pnl",
        "Unrealized PnL per symbol, quote currency.",
        "gauge",
    );
    for v in &s.symbols {
        let pnl = num(&v.unrealized_pnl);
        sample(out, "unrealized_pnl", &[("symbol", &v.symbol)], pnl);
    }
    header(
        out,
        "feed_live",
        "1 when the symbol's feed is live, 0 when stale or down.",
        "gauge",
    );
    for f in &s.feeds {
        let live = f64::from(u8::from(f.state == "live"));
        sample(out, "feed_live", &[("symbol", &f.symbol)], live);
    }
}

/// Each risk limit and its use.
fn render_limits(out: &mut String, s: &StatusView) {
    header(out, "limit", "Risk limit (its own unit).", "gauge");
    for l in &s.limits {
        sample(out, "limit", &[("limit", &l.name)], num(&l.limit));
    }
    header(
        out,
        "limit_used",
        "How much of the risk limit is used (same unit).",
        "gauge",
    );
    for l in &s.limits {
        sample(out, "limit_used", &[("limit", &l.name)], num(&l.used));
    }
}

/// VaR and ES of the open book by method and level, and the σ of its P&L (quote currency over
/// the VaR horizon; 0 while flat or warming up).
fn render_portfolio(out: &mut String, s: &StatusView) {
    let p = &s.portfolio;
    for (name, help, param, hist) in [
        (
            "portfolio_var",
            "Value at Risk of the open book, quote currency over the VaR horizon.",
            p.var_parametric,
            p.var_historical,
        ),
        (
            "portfolio_es",
            "Expected Shortfall of the open book, quote currency over the VaR horizon.",
            p.es_parametric,
            p.es_historical,
        ),
    ] {
        header(out, name, help, "gauge");
        for (method, v) in [("parametric", param), ("historical", hist)] {
            for (level, x) in [("0.95", v[0]), ("0.99", v[1])] {
                sample(out, name, &[("method", method), ("level", level)], x);
            }
        }
    }
    header(
        out,
        "portfolio_sigma",
        "Standard deviation of the open book's P&L, quote currency over the VaR horizon.",
        "gauge",
    );
    sample(out, "portfolio_sigma", &[], p.sigma);
}

/// One counter per status counter, `<name>_total`; of two names equal once sanitized, the
/// first (in name order) is kept.
fn render_counters(out: &mut String, s: &StatusView) {
    let mut seen = std::collections::BTreeSet::new();
    for (name, v) in &s.counters {
        let base = sanitize(name);
        let base = base.strip_suffix("_total").unwrap_or(&base);
        let help = format!("Counter {name} since start.");
        // The 0.0.4 format names the family after the samples (`_total` included).
        let family = format!("{base}_total");
        if !seen.insert(family.clone()) {
            continue;
        }
        header(out, &family, &help, "counter");
        sample(out, &family, &[], *v as f64);
    }
}

/// Stage latency quantiles (seconds) and sample counts of the last status interval.
fn render_stages(out: &mut String, s: &StatusView) {
    let name = "stage_latency_seconds";
    let help = "Stage latency over the last status interval, seconds (_count: samples in it).";
    header(out, name, help, "summary");
    for st in &s.stages {
        for (q, ns) in [
            ("0.5", st.p50_ns),
            ("0.99", st.p99_ns),
            ("0.999", st.p999_ns),
        ] {
            let labels = [("stage", st.stage.as_str()), ("quantile", q)];
            sample(out, name, &labels, ns as f64 * 1e-9);
        }
        let count = format!("{name}_count");
        sample(out, &count, &[("stage", &st.stage)], st.count as f64);
    }
}

/// `# HELP` and `# TYPE` lines.
fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {PREFIX}{name} {help}");
    let _ = writeln!(out, "# TYPE {PREFIX}{name} {kind}");
}

/// One sample line: `name{l="v",...} value`.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], v: f64) {
    let _ = write!(out, "{PREFIX}{name}");
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, val)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(val));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&float(v));
    out.push('\n');
}

/// Label value escaping: `\` → `\\`, `"` → `\"`, newline → `\n`.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric name part: `[a-zA-Z0-9_]` kept, everything else `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A decimal string as f64 (`NaN` when empty or not a number).
fn num(s: &str) -> f64 {
    s.trim().parse().unwrap_or(f64::NAN)
}

/// Go-style float text: `NaN`, `+Inf`, `-Inf`, else Rust's shortest round-trip form.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::control::{FeedView, LimitView, StageView, SymbolView};

    fn view() -> StatusView {
        let mut s = StatusView {
            state: "paused".into(),
            balance: "10000.50".into(),
            loss_streak: 3,
            ..Default::default()
        };
        s.symbols.push(SymbolView {
            symbol: "BT\"C\\X\n".into(),
            position: "-0.25".into(),
            ..Default::default()
        });
        s.feeds.push(FeedView {
            symbol: "ETHUSDT".into(),
            state: "live".into(),
        });
        s.limits.push(LimitView {
            name: "max_positions".into(),
            limit: "5".into(),
            used: "2".into(),
        });
        s.portfolio.var_historical = [12.5, 20.0];
        s.counters.insert("blocked_ou".into(), 7);
        s.counters.insert("orders.sent_total".into(), 9);
        s.counters.insert("orders_sent".into(), 11);
        s.stages.push(StageView {
            stage: "compute".into(),
            count: 100,
            p50_ns: 1500,
            p99_ns: 2_000_000,
            p999_ns: 3_000_000_000,
        });
        s
    }

    #[test]
    fn exact_lines() {
        let text = render(&view());
        for line in [
            "# TYPE calculus_trader_balance gauge",
            "calculus_trader_balance 10000.5",
            "calculus_trader_loss_streak 3",
            "calculus_trader_running 0",
            "calculus_trader_state{state=\"paused\"} 1",
            "calculus_trader_state{state=\"running\"} 0",
            "calculus_trader_equity NaN",
            "calculus_trader_position{symbol=\"BT\\\"C\\\\X\\n\"} -0.25",
            "calculus_trader_feed_live{symbol=\"ETHUSDT\"} 1",
            "calculus_trader_limit{limit=\"max_positions\"} 5",
            "calculus_trader_limit_used{limit=\"max_positions\"} 2",
            "calculus_trader_portfolio_var{method=\"historical\",level=\"0.99\"} 20",
            "calculus_trader_portfolio_var{method=\"parametric\",level=\"0.95\"} 0",
            "# TYPE calculus_trader_portfolio_es gauge",
            "# TYPE calculus_trader_blocked_ou_total counter",
            "calculus_trader_blocked_ou_total 7",
            "calculus_trader_orders_sent_total 9",
            "# TYPE calculus_trader_stage_latency_seconds summary",
            "calculus_trader_stage_latency_seconds{stage=\"compute\",quantile=\"0.5\"} 0.0000015",
            "calculus_trader_stage_latency_seconds{stage=\"compute\",quantile=\"0.99\"} 0.002",
            "calculus_trader_stage_latency_seconds{stage=\"compute\",quantile=\"0.999\"} 3",
            "calculus_trader_stage_latency_seconds_count{stage=\"compute\"} 100",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(text.ends_with('\n'));
        let families = text
            .matches("# TYPE calculus_trader_orders_sent_total counter")
            .count();
        assert_eq!(families, 1, "a sanitized name collision is one family");
    }

    #[test]
    fn floats_follow_the_exposition_format() {
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(1e21), "1000000000000000000000");
        assert_eq!(float(-0.5), "-0.5");
    }
}
