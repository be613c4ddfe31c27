//! Synthetic series with known answers: a clean accelerating trend must make money before fees,
//! in either direction; a seeded random walk must show no significant edge once fees are paid.

use calculus_trader::backtest::{run_ticks, Setup};
use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::types::{Side, SymbolId, Tick};

fn setup(extra: &[(&str, &str)]) -> Setup {
    let mut text = DEFAULT_TOML.to_string();
    for (from, to) in extra {
        assert!(text.contains(from), "default config lacks {from}");
        text = text.replace(from, to);
    }
    Setup::from_config(&Config::parse(&text).unwrap()).unwrap()
}

/// BTCUSDT trades every `dt_ms` with log price `f(t seconds)`, on the 0.1 tick.
fn series(n: usize, dt_ms: u64, f: impl Fn(f64) -> f64) -> Vec<Tick> {
    let t0 = 1_723_161_600_000u64;
    let mut last = 0.0;
    (0..n)
        .map(|i| {
            let ts = t0 + i as u64 * dt_ms;
            let price = (f((ts - t0) as f64 / 1e3).exp() * 10.0).round() / 10.0;
            let side = if price >= last { Side::Buy } else { Side::Sell };
            last = price;
            Tick {
                symbol: SymbolId(0),
                side,
                price,
                qty: 0.01,
                exch_ts_ms: ts,
                trade_id: i as u64,
                ..Tick::default()
            }
        })
        .collect()
}

#[test]
fn clean_accelerating_trend_is_profitable_before_fees_both_ways() {
    // x(t) = ln 60000 ± k·t², k = 1.5e-6 /s²: a = ±3e-6 /s² beyond a_band = 2e-6, |v| beyond
    // v_band within seconds; 200 s at 10 trades/s: a 6 % move.
    let s = setup(&[]);
    for sign in [1.0, -1.0] {
        let ticks = series(2_000, 100, |t| 60_000f64.ln() + sign * 1.5e-6 * t * t);
        let o = run_ticks(&s, &ticks);
        assert!(!o.intents.is_empty(), "the trend must be traded");
        let want = if sign > 0.0 { Side::Buy } else { Side::Sell };
        assert_eq!(o.intents[0].side(), want);
        assert!(o.gross_pnl > 0.0, "sign {sign}: gross {}", o.gross_pnl);
        // Exact accounting and the f64 equity curve agree.
        let eq_net = o.strategy.final_value - o.strategy.balance;
        assert!(
            (eq_net - o.net_pnl).abs() < 1e-6,
            "{eq_net} vs {}",
            o.net_pnl
        );
        assert!(o.strategy.exposure > 0.5);
    }
}

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[test]
fn seeded_random_walk_with_fees_shows_no_significant_edge() {
    // The strategy's edge, not the risk gate's pauses, is under test: trade throughout. The
    // walk's σ (2e-4 per 100 ms, ≈ 5× BTC's) puts a full-size position above the default VaR
    // budget (99 % over 60 s ≈ 2.3 % of equity at 2× notional), so that limit is off too.
    let s = setup(&[
        ("max_consecutive_losses = 5", "max_consecutive_losses = 0"),
        ("var_budget = 0.02", "var_budget = 0.0"),
    ]);
    let mut pooled = Vec::new();
    for seed in 1..=5u64 {
        let mut rng = SplitMix(seed);
        let mut x = 60_000f64.ln();
        let steps: Vec<f64> = (0..36_000)
            .map(|_| {
                x += 2e-4 * rng.normal();
                x
            })
            .collect();
        let ticks = series(steps.len(), 100, |t| {
            steps[((t * 10.0).round() as usize).min(steps.len() - 1)]
        });
        let o = run_ticks(&s, &ticks);
        let pnl: Vec<f64> = o.trips.iter().map(|t| t.net).collect();
        assert!(
            pnl.len() >= 5,
            "seed {seed}: too few trades ({})",
            pnl.len()
        );
        let t = calculus_trader::backtest::metrics::t_stat(&pnl);
        assert!(
            o.net_pnl <= 0.0 || t < 2.0,
            "seed {seed}: net {} with t = {t}: an edge on a random walk means a bug",
            o.net_pnl
        );
        assert!(o.strategy.fees > 0.0);
        pooled.extend(pnl);
    }
    assert!(
        pooled.len() >= 30,
        "too few trades ({}) to judge",
        pooled.len()
    );
    let t = calculus_trader::backtest::metrics::t_stat(&pooled);
    assert!(t < 2.0, "pooled t-stat {t} over {} trades", pooled.len());
}
