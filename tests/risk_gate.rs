//! The risk gate as the compute thread uses it: a breached limit blocks new entries at the very
//! next check, while exits (reduce-only) always pass; sizing shrinks in drawdown.

use rust_decimal::Decimal;

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::risk::config::LimitsConfig;
use calculus_trader::risk::{
    size_entry, BlockReason, EntryRequest, ExitLevels, ExitParams, GateState, OrderCheck, RiskGate,
    SizingParams, TradeStats, Trip,
};
use calculus_trader::types::{Instrument, Position, Side};

mod common;
use common::values::d;

const T0: u64 = 1_723_161_600_000;

/// Default config, one BTC-like symbol: plan exits, size, check, fill, lose; the daily loss
/// limit then blocks the next entry but not the exit of what is still open.
#[test]
fn breached_limit_blocks_entries_but_never_exits() {
    let cfg = Config::parse(DEFAULT_TOML).unwrap();
    let inst = Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap();
    let sizing = SizingParams::from_config(&cfg.risk);
    let exits = ExitParams::from_config(&cfg.risk.exits);
    let mut gate = RiskGate::from_config(&cfg.risk.limits, d("10000"), 2);
    let stats = TradeStats::default();

    let entry = |gate: &mut RiskGate, symbol: usize, price: &str| {
        let px: Decimal = d(price);
        let lv = ExitLevels::plan(&exits, 1, px, 0.0, &inst).unwrap();
        let sized = size_entry(
            &sizing,
            &stats,
            &EntryRequest {
                price: price.parse().unwrap(),
                stop_distance: lv.stop_distance().try_into().unwrap(),
                balance: 10_000.0,
                sigma: f64::NAN,
                venue_max_leverage: 100.0,
                size_multiplier: gate.size_multiplier(),
            },
            &inst,
        )
        .unwrap();
        let check = OrderCheck {
            symbol,
            side: Side::Buy,
            notional: sized.notional,
            risk: lv.risk(sized.qty),
            reduce_only: false,
        };
        (gate.check(&check), sized, lv)
    };

    gate.on_price(0, 60_000.0, T0);
    // 1 % of 10 000 over a 0.5 % stop (300.00) → 0.333 BTC.
    let (ok, sized, lv) = entry(&mut gate, 0, "60000.0");
    assert_eq!(ok, Ok(()));
    assert_eq!(sized.qty, d("0.333"));
    assert_eq!(lv.stop_loss, d("59700.0"));
    let mut pos = Position::default();
    pos.apply_fill(Side::Buy, d("60000.0"), sized.qty, Decimal::ZERO);
    gate.set_position(0, pos.qty * pos.entry, lv.risk(pos.qty));
    assert_eq!(gate.open_risk(), d("99.9"));

    // The market falls 1.6 %: unrealized −319.68, then a second symbol's stop-out realizes −200.
    let trip = gate.set_unrealized(0, pos.unrealized(d("59040.0")), T0 + 60_000);
    assert_eq!(trip, None);
    let trip = gate.on_fill(d("-200"), d("0.4"), T0 + 61_000);
    assert_eq!(trip, Some(Trip::DailyLoss), "−520.08 ≤ −5 % of 10 000");
    assert_eq!(gate.state(), GateState::DailyLimit);

    // A new entry on the other symbol: blocked immediately.
    let (blocked, _, _) = entry(&mut gate, 1, "60000.0");
    assert_eq!(blocked, Err(BlockReason::DailyLoss));
    // The exit of the open long: allowed.
    let exit = OrderCheck {
        symbol: 0,
        side: Side::Sell,
        notional: pos.qty * d("59040.0"),
        risk: Decimal::ZERO,
        reduce_only: true,
    };
    assert_eq!(gate.check(&exit), Ok(()));
    assert_eq!(BlockReason::DailyLoss.name(), "blocked_daily_loss");
}

#[test]
fn drawdown_multiplier_halves_the_next_size() {
    let cfg = Config::parse(DEFAULT_TOML).unwrap();
    let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
    let sizing = SizingParams::from_config(&cfg.risk);
    let limits = LimitsConfig {
        daily_loss: 0.5,
        ..LimitsConfig::default()
    };
    let mut gate = RiskGate::from_config(&limits, d("10000"), 1);
    let req = |m: f64| EntryRequest {
        price: 2_000.0,
        stop_distance: 10.0,
        balance: 10_000.0,
        sigma: f64::NAN,
        venue_max_leverage: 100.0,
        size_multiplier: m,
    };
    let full = size_entry(
        &sizing,
        &TradeStats::default(),
        &req(gate.size_multiplier()),
        &inst,
    )
    .unwrap();
    assert_eq!(full.qty, d("10.00"), "100 / 10");
    assert_eq!(
        gate.on_fill(d("-1000"), Decimal::ZERO, T0),
        Some(Trip::DrawdownReduce)
    );
    let half = size_entry(
        &sizing,
        &TradeStats::default(),
        &req(gate.size_multiplier()),
        &inst,
    )
    .unwrap();
    assert_eq!(half.qty, d("5.00"));
}
