//! Portfolio risk of the gate against closed forms: two assets with known σ and ρ give the
//! book's σ_p, parametric and historical VaR/ES exactly; the VaR limit refuses an entry that
//! would breach its budget and admits one that would not; `halve` vs `block` correlation
//! handling; the bar close's work is linear in the symbols (counted, not timed).

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::risk::config::{CorrelationMode, LimitsConfig, VarMeasure, VarMethod};
use calculus_trader::risk::var::{normal_pdf, Z95, Z99};
use calculus_trader::risk::{
    size_entry, BlockReason, Correlation, EntryRequest, OrderCheck, RiskGate, SizingParams,
    TradeStats,
};
use calculus_trader::types::{Instrument, Side};

mod common;
use common::values::d;

const T0: u64 = 1_723_161_600_000;
const W: u32 = 40;
/// Per-bar return scales: `r₀ = A·s`, `r₁ = C1·s + C2·t`, with `s = ±1` alternating each bar
/// and `t = (+1, +1, −1, −1, …)`: over any 4k bars `Σs = Σt = Σst = 0`, so (sample, W − 1)
/// `σ₀ = A·κ`, `σ₁ = √(C1² + C2²)·κ`, `ρ = C1/√(C1² + C2²)`, `κ = √(W/(W − 1))`.
const A: f64 = 2e-4;
const C1: f64 = 1e-4;
const C2: f64 = 3e-4;

fn limits() -> LimitsConfig {
    LimitsConfig {
        corr_bar_s: 1.0,
        corr_window_bars: W,
        corr_min_bars: 20,
        var_horizon_s: 60.0,
        ..LimitsConfig::default()
    }
}

/// 101 one-second bars of the patterns: symbol 0 `A·s`, symbol 1 `r1(s, t)` (100 returns;
/// the window holds the last 40).
fn feed(g: &mut RiskGate, r1: fn(f64, f64) -> f64) {
    feed_n(g, &[|s, _| A * s, r1]);
}

/// Symbol `i` gets the log returns `rs[i](s, t)`.
fn feed_n(g: &mut RiskGate, rs: &[fn(f64, f64) -> f64]) {
    let mut x: Vec<f64> = (0..rs.len())
        .map(|i| (1_000.0 * (i + 1) as f64).ln())
        .collect();
    for k in 0..=101u64 {
        let s = if k % 2 == 0 { 1.0 } else { -1.0 };
        let t = if (k / 2) % 2 == 0 { 1.0 } else { -1.0 };
        for (i, r) in rs.iter().enumerate() {
            if k > 0 {
                x[i] += r(s, t);
            }
            g.on_price(i, x[i].exp(), T0 + k * 1_000 + i as u64);
        }
    }
}

fn two_assets(c: &LimitsConfig) -> RiskGate {
    let mut g = RiskGate::from_config(c, d("10000"), 3);
    feed(&mut g, |s, t| C1 * s + C2 * t);
    g
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

/// `σ_p = √(w₀²σ₀² + w₁²σ₁² + 2w₀w₁ρσ₀σ₁)` over one bar, times √60 for the horizon.
fn sigma_p(w0: f64, w1: f64) -> f64 {
    let k2 = f64::from(W) / f64::from(W - 1);
    let (s0, s1) = (A * k2.sqrt(), (C1 * C1 + C2 * C2).sqrt() * k2.sqrt());
    let rho = C1 / (C1 * C1 + C2 * C2).sqrt();
    (w0 * w0 * s0 * s0 + w1 * w1 * s1 * s1 + 2.0 * w0 * w1 * rho * s0 * s1).sqrt() * 60f64.sqrt()
}

#[test]
fn two_asset_var_and_es_match_the_closed_forms() {
    let mut g = two_assets(&limits());
    let rho = g.correlation().corr(0, 1).unwrap();
    assert!(close(rho, C1 / (C1 * C1 + C2 * C2).sqrt(), 1e-6), "{rho}");
    assert_eq!(g.book_risk(None), None, "flat book");
    g.set_position(0, d("5000"), d("0"));
    g.set_position(1, d("-3000"), d("0"));
    let r = g.book_risk(None).unwrap();
    let sp = sigma_p(5_000.0, -3_000.0);
    assert_eq!(r.samples, W);
    assert!(close(r.sigma, sp, 1e-6), "{} vs {sp}", r.sigma);
    assert!(close(r.var_parametric[0], Z95 * sp, 1e-6));
    assert!(close(r.var_parametric[1], Z99 * sp, 1e-6));
    assert!(close(r.es_parametric[0], sp * normal_pdf(Z95) / 0.05, 1e-6));
    assert!(close(r.es_parametric[1], sp * normal_pdf(Z99) / 0.01, 1e-6));
    // P&L per bar p = s·(5000·A − 3000·C1) + t·(−3000·C2) = 0.7·s − 0.9·t ∈ {±1.6, ±0.2}:
    // the largest loss 1.6 occurs 10 times in 40 bars, so the 1 and 2 worst (99 %, 95 %:
    // t = ⌈0.01·40⌉ = 1, ⌈0.05·40⌉ = 2) are 1.6 and so are their means.
    let worst = 1.6 * 60f64.sqrt();
    for x in [r.var_historical, r.es_historical].concat() {
        assert!(close(x, worst, 1e-6), "{x} vs {worst}");
    }
    assert!(close(r.gross, 8_000.0, 1e-12));
    // Adding the same order as an extra equals holding it.
    let mut g1 = two_assets(&limits());
    g1.set_position(0, d("5000"), d("0"));
    let pre = g1.book_risk(Some((1, -3_000.0))).unwrap();
    assert!(close(pre.sigma, r.sigma, 1e-12));
}

fn buy(symbol: usize, notional: &str) -> OrderCheck {
    OrderCheck {
        symbol,
        side: Side::Buy,
        notional: d(notional),
        risk: d("0"),
        reduce_only: false,
    }
}

#[test]
fn the_var_limit_refuses_a_breaching_entry_and_admits_one_below_budget() {
    // Budget = the parametric 99 % VaR of long 5 000 of symbol 0 plus long 10 000 of symbol 1.
    let budget = Z99 * sigma_p(5_000.0, 10_000.0) / 10_000.0;
    let c = LimitsConfig {
        var_budget: budget,
        ..limits()
    };
    let mut g = two_assets(&c);
    g.set_position(0, d("5000"), d("0"));
    assert_eq!(g.check(&buy(1, "9900")), Ok(()));
    assert_eq!(g.check(&buy(1, "10100")), Err(BlockReason::PortfolioVar));
    assert_eq!(BlockReason::PortfolioVar.name(), "blocked_portfolio_var");
    // Exits are never refused; the pre-check without a notional is not a VaR check.
    let mut exit = buy(0, "100000");
    exit.reduce_only = true;
    assert_eq!(g.check(&exit), Ok(()));
    assert_eq!(g.check(&buy(1, "0")), Ok(()));
    // The row of the status view: the limit in quote currency and the book's VaR now.
    let row = g
        .limit_rows()
        .into_iter()
        .find(|r| r.name == "portfolio_var")
        .unwrap();
    let var_now = Z99 * sigma_p(5_000.0, 0.0);
    assert!(
        close(row.used.try_into().unwrap(), var_now, 1e-6),
        "{row:?}"
    );
    // ES at 95 % or historical VaR with the same budget: each its own figure.
    for (method, measure, conf) in [
        (VarMethod::Parametric, VarMeasure::Es, 0.95),
        (VarMethod::Historical, VarMeasure::Var, 0.99),
    ] {
        let c = LimitsConfig {
            var_budget: 0.005,
            var_method: method,
            var_measure: measure,
            var_confidence: conf,
            ..limits()
        };
        let mut g = two_assets(&c);
        g.set_position(0, d("5000"), d("0"));
        let fig = |n: f64| {
            let r = g.book_risk(Some((1, n))).unwrap();
            match method {
                VarMethod::Parametric => r.es_parametric[0],
                VarMethod::Historical => r.var_historical[1],
            }
        };
        // 50 quote currency = 0.5 % of 10 000; find the notional sizes on each side of it.
        assert!(fig(100.0) < 50.0 && fig(200_000.0) > 50.0, "{method:?}");
        assert_eq!(g.check(&buy(1, "100")), Ok(()));
        assert_eq!(g.check(&buy(1, "200000")).err(), {
            // The exposure cap (2.5 × E) comes first for a notional that large.
            Some(BlockReason::SymbolExposure)
        });
        let big = (1..=25)
            .map(|k| 1_000.0 * f64::from(k))
            .find(|&n| fig(n) > 50.0)
            .expect("a notional under the exposure cap breaches 0.5 %");
        assert_eq!(
            g.check(&buy(1, &big.to_string())),
            Err(BlockReason::PortfolioVar),
            "{method:?} {big}"
        );
    }
    // Before corr_min_bars joint returns there is no estimate: no VaR block.
    let mut fresh = RiskGate::from_config(&c, d("10000"), 2);
    fresh.on_price(0, 100.0, T0);
    fresh.set_position(0, d("5000"), d("0"));
    assert_eq!(fresh.check(&buy(1, "20000")), Ok(()));
}

#[test]
fn halve_sizes_down_where_block_refuses() {
    let cfg = Config::parse(DEFAULT_TOML).unwrap();
    // r₁ = 2·r₀ (ρ = 1), r₂ = the t pattern (ρ = 0 with both), r₃ = −r₀ (ρ = −1).
    let gate = |mode| {
        let mut g = RiskGate::from_config(
            &LimitsConfig {
                correlation_mode: mode,
                var_budget: 0.0,
                ..limits()
            },
            d("10000"),
            4,
        );
        feed_n(
            &mut g,
            &[
                |s, _| A * s,
                |s, _| 2.0 * A * s,
                |_, t| A * t,
                |s, _| -A * s,
            ],
        );
        g
    };
    let mut block = gate(CorrelationMode::Block);
    let mut halve = gate(CorrelationMode::Halve);
    for g in [&mut block, &mut halve] {
        assert!(g.correlation().corr(0, 1).unwrap() > 0.999);
        g.set_position(0, d("1000"), d("0"));
    }
    // Block: the same-way entry is refused, the hedge passes, sizes are untouched.
    assert_eq!(block.check(&buy(1, "1000")), Err(BlockReason::Correlation));
    let mut hedge = buy(1, "1000");
    hedge.side = Side::Sell;
    assert_eq!(block.check(&hedge), Ok(()));
    assert_eq!(block.correlation_multiplier(1), 1.0);
    // Halve: admitted at half size (|ρ| > 0.7, either way), uncorrelated symbol 2 untouched.
    assert_eq!(halve.check(&buy(1, "1000")), Ok(()));
    assert_eq!(halve.correlation_multiplier(1), 0.5);
    assert_eq!(halve.correlation_multiplier(2), 1.0);
    assert_eq!(halve.correlation_multiplier(0), 1.0, "its own position");
    // The size the engine asks for: B·r·m/stop = 10 000·1 %·m/100 → 1 unit, halved to 0.5.
    let inst = Instrument::new(d("0.01"), d("0.001"), d("0.001"), d("1000"), d("5")).unwrap();
    let sizing = SizingParams::from_config(&cfg.risk);
    let size = |m: f64| {
        let req = EntryRequest {
            price: 3_000.0,
            stop_distance: 100.0,
            balance: 10_000.0,
            sigma: f64::NAN,
            venue_max_leverage: 100.0,
            size_multiplier: m,
        };
        size_entry(&sizing, &TradeStats::default(), &req, &inst)
            .unwrap()
            .qty
    };
    assert_eq!(
        size(block.size_multiplier() * block.correlation_multiplier(1)),
        d("1")
    );
    assert_eq!(
        size(halve.size_multiplier() * halve.correlation_multiplier(1)),
        d("0.5")
    );
    // Two correlated open positions (ρ = 1 and ρ = 1 with 3's −1): halved twice, as the
    // second system's loop does. Block mode: buying 3 (anti-correlated) passes, selling it (the
    // same exposure as the longs) is refused.
    halve.set_position(1, d("1000"), d("0"));
    assert_eq!(halve.correlation_multiplier(3), 0.25);
    assert_eq!(halve.correlation_multiplier(2), 1.0);
    block.set_position(1, d("1000"), d("0"));
    let mut short3 = buy(3, "1000");
    short3.side = Side::Sell;
    assert_eq!(
        block.check(&buy(3, "1000")),
        Ok(()),
        "anti-correlated same way"
    );
    assert_eq!(block.check(&short3), Err(BlockReason::Correlation));
}

/// Every symbol trades every bar: each bar close updates exactly m per-symbol cells and no pair
/// (the EWMA matrix it replaces updated m(m+1)/2 pairs: 500 500 at 1 000 symbols).
#[test]
fn bar_close_work_is_linear_in_the_symbols() {
    for m in [10usize, 100, 1_000] {
        let mut c = Correlation::new(m, 1_000, 50, 10);
        let bars = 30u64;
        for k in 0..=bars {
            for i in 0..m {
                let wob = ((k as usize * 7 + i * 13) % 11) as f64;
                c.on_price(
                    i,
                    100.0 + i as f64 + wob * 0.01,
                    k * 1_000 + i as u64 % 1_000,
                );
            }
        }
        // `bars` closes; the first has no previous close, so no return.
        assert_eq!(c.bars(), bars);
        assert_eq!(c.updates(), (bars - 1) * m as u64, "m = {m}");
        assert_eq!(c.pair_updates(), 0);
        assert!(c.corr(0, m - 1).is_some() && c.sigma(m / 2).is_some());
    }
}

/// The engine end to end on a seeded random walk 5× as volatile as BTC (σ 2e-4 per 100 ms):
/// with the default budget (99 % parametric VaR over 60 s ≤ 2 % of equity) full-size entries
/// (≈ 2× equity, VaR ≈ 2.3 %) are refused once the window has `corr_min_bars` returns, counted
/// as `blocked_portfolio_var`; with the limit off none is refused and more orders go out.
#[test]
fn the_engine_refuses_entries_over_the_var_budget_on_a_volatile_walk() {
    use calculus_trader::backtest::{run_ticks, Setup};
    use calculus_trader::types::{SymbolId, Tick};
    let t0 = 1_723_161_600_000u64;
    let mut state = 7u64;
    let mut normal = || {
        let mut u = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    };
    let mut x = 60_000f64.ln();
    let ticks: Vec<Tick> = (0..36_000u64)
        .map(|i| {
            x += 2e-4 * normal();
            Tick {
                symbol: SymbolId(0),
                side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
                price: (x.exp() * 10.0).round() / 10.0,
                qty: 0.01,
                exch_ts_ms: t0 + i * 100,
                trade_id: i,
                ..Tick::default()
            }
        })
        .collect();
    let run = |budget: &str| {
        let text = DEFAULT_TOML
            .replace("max_consecutive_losses = 5", "max_consecutive_losses = 0")
            .replace("var_budget = 0.02", &format!("var_budget = {budget}"));
        let o = run_ticks(
            &Setup::from_config(&Config::parse(&text).unwrap()).unwrap(),
            &ticks,
        );
        let g = o.engine.risk_gate();
        (
            o.engine.stats().risk_blocked[BlockReason::PortfolioVar.index()],
            g.peak_risk(),
            o.intents.len(),
        )
    };
    let (blocked, peak, intents) = run("0.02");
    eprintln!("var budget 2 %: {blocked} refused, {intents} intents, peak {peak:?}");
    assert!(peak.var_parametric[1] <= 200.0, "{peak:?}");
    assert!(blocked > 0, "no entry refused by the VaR limit");
    let (off, _, intents_off) = run("0.0");
    assert_eq!(off, 0);
    assert!(intents_off > intents, "{intents_off} vs {intents}");
}
