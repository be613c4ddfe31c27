//! After construction, the risk calls the compute thread makes per tick and per decision
//! allocate nothing: gate updates and checks (with bar closes, on-demand correlation and the
//! portfolio VaR limit, parametric and historical), the correlation size multiplier, the
//! status rows, sizing, exit planning and triggers, the drift monitor and the emergency plan. Proved with the counting
//! global allocator (per thread) of `tests/common/alloc.rs`.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::risk::drift_monitor::reduce_qty;
use calculus_trader::risk::limits::emergency_actions;
use calculus_trader::risk::{
    size_entry, BlockReason, DriftAction, DriftMonitor, DriftParams, EntryRequest, ExitLevels,
    ExitParams, OrderCheck, RiskGate, SizingParams, TradeStats,
};
use calculus_trader::types::{Instrument, Side};

mod common;
use common::alloc::counted;
use common::values::d;

// The counting global allocator, and the test that it counts.
common::alloc::install!();

#[test]
fn risk_calls_allocate_nothing() {
    let cfg = Config::parse(DEFAULT_TOML).unwrap();
    let insts = [
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap(),
        Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("2000"), d("5")).unwrap(),
    ];
    let sizing = SizingParams::from_config(&cfg.risk);
    let exits = ExitParams::from_config(&cfg.risk.exits);
    let drift = DriftParams::from_config(&cfg.risk.drift);
    let mut limits = cfg.risk.limits.clone();
    limits.corr_min_bars = 5;
    limits.var_budget = 0.0005;
    let mut gate = RiskGate::from_config(&limits, d("10000"), 2);
    limits.var_method = calculus_trader::risk::config::VarMethod::Historical;
    limits.correlation_mode = calculus_trader::risk::config::CorrelationMode::Halve;
    let mut hist = RiskGate::from_config(&limits, d("10000"), 2);
    let mut stats = TradeStats::default();
    let mut monitors = [DriftMonitor::default(); 2];
    let t0 = 1_723_161_600_000u64;

    let (work, n) = counted(|| {
        let mut orders = 0u32;
        let mut blocked = 0u32;
        let mut drift_actions = 0u32;
        let mut emergency_steps = 0u32;
        let mut triggers = 0u32;
        let mut var_blocks = 0u32;
        let mut rows = 0u32;
        for k in 0..20_000u64 {
            let i = (k % 2) as usize;
            let ts = t0 + k * 250;
            let wobble = ((k * 7919) % 13) as f64 - 6.0;
            let price = if i == 0 {
                60_000.0 + wobble * 0.5
            } else {
                2_500.0 + wobble * 0.03
            };
            let price = insts[i].price_on_tick(price).to_f64().unwrap();
            gate.on_price(i, price, ts);
            hist.on_price(i, price, ts);
            let u = Decimal::from(wobble as i64);
            let _ = gate.set_unrealized(i, u, ts);
            let dir: i8 = if k % 8 < 4 { 1 } else { -1 };
            let entry = insts[i].price_on_tick(price);
            let Ok(lv) = ExitLevels::plan(&exits, dir, entry, 0.0, &insts[i]) else {
                continue;
            };
            let req = EntryRequest {
                price,
                stop_distance: lv.stop_distance().to_f64().unwrap(),
                balance: gate.equity().to_f64().unwrap(),
                sigma: 1e-4,
                venue_max_leverage: 100.0,
                size_multiplier: gate.size_multiplier() * hist.correlation_multiplier(i),
            };
            match size_entry(&sizing, &stats, &req, &insts[i]) {
                Ok(s) => {
                    let check = OrderCheck {
                        symbol: i,
                        side: if dir > 0 { Side::Buy } else { Side::Sell },
                        notional: s.notional,
                        risk: lv.risk(s.qty),
                        reduce_only: false,
                    };
                    if hist.check(&check) == Err(BlockReason::PortfolioVar) {
                        var_blocks += 1;
                    }
                    match gate.check(&check) {
                        Ok(()) => {
                            orders += 1;
                            gate.set_position(i, s.notional * Decimal::from(dir), lv.risk(s.qty));
                            hist.set_position(i, s.notional * Decimal::from(dir), lv.risk(s.qty));
                            if !monitors[i].active() {
                                monitors[i].start(&drift, dir, 1e-3 * f64::from(dir), ts);
                            }
                        }
                        Err(r) => {
                            blocked += 1;
                            var_blocks += u32::from(r == BlockReason::PortfolioVar);
                        }
                    }
                    if lv.check(price * 1.01).is_some() {
                        triggers += 1;
                    }
                    if monitors[i].on_drift(&drift, wobble * 1e-4, ts) != DriftAction::Hold {
                        drift_actions += 1;
                        let _ = reduce_qty(s.qty, drift.reduce_fraction, &insts[i]);
                    }
                }
                Err(_) => blocked += 1,
            }
            if k % 1_000 == 999 {
                rows += gate.limit_rows().len() as u32;
                gate.set_position(i, Decimal::ZERO, Decimal::ZERO);
                hist.set_position(i, Decimal::ZERO, Decimal::ZERO);
                let pnl = Decimal::from(wobble as i64);
                let _ = gate.on_fill(pnl, d("0.01"), ts);
                let _ = gate.on_trade_closed(pnl);
                stats.record(wobble);
                emergency_steps +=
                    emergency_actions([(0, d("0.016")), (1, d("-1.5"))]).count() as u32;
            }
        }
        (
            orders,
            blocked,
            drift_actions,
            triggers,
            emergency_steps,
            gate.correlation().corr(0, 1),
            (
                var_blocks,
                rows,
                gate.peak_risk().samples,
                hist.book_risk(None),
            ),
        )
    });
    assert_eq!(n, 0, "risk calls allocated {n} times");
    let (orders, blocked, drift_actions, triggers, emergency_steps, corr, var) = work;
    assert!(var.0 > 0, "the VaR limit refused entries: {var:?}");
    assert_eq!(var.1, 20 * 7);
    assert!(var.2 > 0, "peak VaR tracked at bar closes");
    // The loop really exercised every path.
    assert!(orders > 0 && blocked > 0 && drift_actions > 0, "{work:?}");
    assert_eq!(
        triggers, 20_000,
        "1 % beyond the entry hits TP (long) or SL (short)"
    );
    assert_eq!(emergency_steps, 20 * 3);
    assert!(corr.is_some(), "correlation bars closed");
}
