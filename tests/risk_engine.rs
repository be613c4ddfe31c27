//! The risk layer inside the engine, on synthetic tick paths with hand-computed answers: stop-loss
//! close, daily-loss block, drift monitor reduce/exit, risk-based sizing, emergency stop.

use rust_decimal::Decimal;

use calculus_trader::model::DerivParams;
use calculus_trader::risk::config::{ExitMode, SizingMethod};
use calculus_trader::risk::{BlockReason, GateState};
use calculus_trader::strategy::ComputeStage;
use calculus_trader::strategy::{Engine, SignalParams, StrategyParams, VelocitySource};
use calculus_trader::telemetry::{Clock, Counter, CounterSet};
use calculus_trader::types::{Instrument, OrderIntent, Side, SymbolId, Tick};

mod common;
use common::setup::fill;
use common::values::d;

/// Tick 0.01, step 0.01, min qty 0.01, max market qty 1000, min notional 5.
fn inst() -> Instrument {
    Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap()
}

/// Finite-difference matrix without layers or entry gates (as the engine's unit tests), warm
/// after 3 steps; fixed-fractional sizing at 1 % of 10 000, no fees; percent exits
/// (`tp`, `sl`, min R:R 1.5); drift monitor off unless a test turns it on.
fn params(tp: f64, sl: f64) -> StrategyParams {
    let mut p = StrategyParams::default().without_layers();
    p.deriv = DerivParams::default();
    p.v_band = 1e-5;
    p.a_band = 1e-6;
    p.warmup_steps = 3;
    p.cooldown_ms = 0;
    p.signal = SignalParams {
        source: VelocitySource::FiniteDifference,
        snr_min: 0.0,
        confidence_min: 0.0,
        ..SignalParams::default()
    };
    let r = &mut p.risk;
    r.balance = 10_000.0;
    r.fee_rate = Decimal::ZERO;
    r.sizing.method = SizingMethod::FixedFractional;
    r.sizing.risk_per_trade = 0.01;
    r.sizing.max_leverage = 5.0;
    r.sizing.kelly = None;
    r.sizing.vol = None;
    r.sizing.tiers = None;
    r.exits.mode = ExitMode::Percent;
    r.exits.tp_fraction = tp;
    r.exits.sl_fraction = sl;
    r.exits.min_reward_risk = d("1.5");
    r.drift.enabled = false;
    p
}

fn tick(i: u64, price: f64) -> Tick {
    tick_of(0, i, price)
}

fn tick_of(symbol: u16, i: u64, price: f64) -> Tick {
    Tick {
        symbol: SymbolId(symbol),
        price,
        qty: 1.0,
        exch_ts_ms: 1_000_000 + i * 1_000,
        ..Tick::default()
    }
}

/// `ln p = ln 100 + 1e-4·t²` (t = 0, 1, …): the first intent comes at t = 4, a buy at
/// `100·e^0.0016 = 100.1601…` → 100.16 on the tick.
fn enter_long(e: &mut Engine, symbol: u16) -> OrderIntent {
    for i in 0..4 {
        assert!(e
            .on_tick(&tick_of(
                symbol,
                i,
                (100f64.ln() + 1e-4 * (i * i) as f64).exp()
            ))
            .is_none());
    }
    let it = e
        .on_tick(&tick_of(symbol, 4, (100f64.ln() + 16e-4).exp()))
        .expect("a buy after warm-up");
    assert_eq!(it.side(), Side::Buy);
    assert!(!it.reduce_only());
    fill(e, &it);
    it
}

/// Entry 100.16, 1 % risk of 10 000 = 100, stop 0.5 %: sl = ceil(99.6592 / 0.01)·0.01 = 99.66,
/// stop distance 0.50 → q = 100 / 0.50 = 200.00 (notional 20 032 = 2.0× ≤ 5×, ≤ 2.5× exposure).
/// With max_leverage 1: q = 10 000 / 100.16 = 99.84…; with a venue maximum of 2×:
/// 20 000 / 100.16 = 199.68…
#[test]
fn sizing_from_the_stop_distance_gives_the_hand_computed_quantity() {
    let mut e = Engine::new(params(0.01, 0.005), &[inst()]);
    let it = enter_long(&mut e, 0);
    assert_eq!(it.qty(), d("200.00"));
    let lv = e.exit_levels(0).expect("levels of the open trade");
    assert_eq!(lv.entry, d("100.16"));
    assert_eq!(lv.stop_loss, d("99.66"));
    // tp = floor(101.1616 / 0.01)·0.01 = 101.16: R:R 1.00/0.50 = 2 ≥ 1.5.
    assert_eq!(lv.take_profit, d("101.16"));
    // The gate books the open stop-risk: 200 × 0.50.
    assert_eq!(e.risk_gate().open_risk(), d("100.00"));

    let mut p = params(0.01, 0.005);
    p.risk.sizing.max_leverage = 1.0;
    let mut e = Engine::new(p, &[inst()]);
    assert_eq!(enter_long(&mut e, 0).qty(), d("99.84"));

    let venue_2x = inst().with_limits(d("1000"), Some(d("2")));
    let mut e = Engine::new(params(0.01, 0.005), &[venue_2x]);
    assert_eq!(enter_long(&mut e, 0).qty(), d("199.68"));
}

/// Long at 100.16 with a 1 % stop: sl = ceil(99.1584 / 0.01)·0.01 = 99.16. A trade one tick
/// above does nothing; the first trade at 99.16 closes the whole position reduce-only, even
/// inside the cooldown (risk exits are exempt).
#[test]
fn stop_loss_closes_reduce_only_at_the_stop_price() {
    let mut p = params(0.02, 0.01);
    p.cooldown_ms = 1_000_000_000; // the matrix may not trade again: only the stop can
    let mut e = Engine::new(p, &[inst()]);
    let buy = enter_long(&mut e, 0);
    assert_eq!(e.exit_levels(0).unwrap().stop_loss, d("99.16"));
    assert!(e.on_tick(&tick(5, 99.17)).is_none());
    assert_eq!(e.stats().exit_stop_loss, 0);
    let close = e.on_tick(&tick(6, 99.16)).expect("stop-loss close");
    assert_eq!(close.side(), Side::Sell);
    assert!(close.reduce_only());
    assert_eq!(close.qty(), buy.qty());
    assert_eq!(close.ref_price, 99.16);
    assert_eq!(e.stats().exit_stop_loss, 1);
    assert_eq!(e.stats().exit_take_profit, 0);
    assert_eq!(e.working(0), Decimal::ZERO);
    assert!(e.exit_levels(0).is_none());
    fill(&mut e, &close);
    assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);
    // The trade lost (99.16 − 100.16) × q = −q: one loss in the statistics.
    assert_eq!(e.trade_stats().losses, 1);
    assert_eq!(
        e.trade_stats().sum_loss,
        buy.qty().to_string().parse::<f64>().unwrap()
    );
    // Nothing more while flat and cooling down.
    assert!(e.on_tick(&tick(7, 99.0)).is_none());
}

/// Take-profit mirrors it: tp = floor(102.1632 / 0.01)·0.01 = 102.16.
#[test]
fn take_profit_closes_reduce_only_at_the_target() {
    let mut p = params(0.02, 0.01);
    p.cooldown_ms = 1_000_000_000;
    let mut e = Engine::new(p, &[inst()]);
    let buy = enter_long(&mut e, 0);
    assert!(e.on_tick(&tick(5, 102.15)).is_none());
    let close = e.on_tick(&tick(6, 102.16)).expect("take-profit close");
    assert!(close.reduce_only() && close.side() == Side::Sell && close.qty() == buy.qty());
    assert_eq!(e.stats().exit_take_profit, 1);
}

/// Falls from the long's entry to 99.00 then keeps falling. Long 20 (1 % risk over a 5 % stop of
/// 5.00): at 99.00 the unrealized loss is 1.16 × 20 = 23.2 > 0.1 % × 10 000 = 10, so the daily
/// limit trips. The sells the fall asks for are then refused as entries (counted
/// `blocked_daily_loss`) but the exit of the long still goes out, reduce-only. Without the
/// limit the same path goes short.
#[test]
fn daily_loss_trip_blocks_the_next_entry_but_allows_the_exit() {
    let path = |e: &mut Engine| -> Vec<OrderIntent> {
        let buy = enter_long(e, 0);
        assert_eq!(buy.qty(), d("20.00"));
        let mut out = Vec::new();
        for (k, i) in (5..40).enumerate() {
            let price = 99.0 - 0.05 * (k * k) as f64;
            if let Some(it) = e.on_tick(&tick(i, price)) {
                fill(e, &it);
                out.push(it);
            }
        }
        out
    };
    let mut p = params(0.10, 0.05);
    p.risk.limits.daily_loss = d("0.001");
    let mut e = Engine::new(p, &[inst()]);
    let after = path(&mut e);
    assert_eq!(e.risk_gate().state(), GateState::DailyLimit);
    assert_eq!(after.len(), 1, "only the exit: {after:?}");
    assert!(after[0].reduce_only());
    assert_eq!(after[0].side(), Side::Sell);
    assert_eq!(after[0].qty(), d("20.00"));
    assert!(e.stats().risk_blocked[BlockReason::DailyLoss.index()] > 0);
    assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);

    // Control: the same path with the default 5 % limit opens a short after the exit.
    let mut e = Engine::new(params(0.10, 0.05), &[inst()]);
    let after = path(&mut e);
    assert!(
        after
            .iter()
            .any(|it| it.side() == Side::Sell && !it.reduce_only()),
        "{after:?}"
    );
    assert_eq!(e.stats().risk_blocked[BlockReason::DailyLoss.index()], 0);
}

/// Drift monitor (checks every 20 s, horizon 30 s): enter on an accelerating rise (large
/// positive forecast drift `d₀`), then the rise slows to a steady 1e-4/s (drift settles at
/// `e^{30·1e-4} − 1 ≈ 0.3 %`, decayed by more than 0.05 % and below half of `d₀`) → reduce half,
/// reduce-only, at the first check (t = 24); the next check (t = 44) holds at the new
/// baseline; then the price turns down at 1e-3/s (drift < 0) → exit the rest at the check
/// t = 64. The cooldown keeps the matrix out: only the monitor acts.
#[test]
fn drift_monitor_reduces_on_decay_then_exits_on_flip() {
    let mut p = params(0.30, 0.10);
    p.cooldown_ms = 1_000_000_000;
    p.risk.drift.enabled = true;
    p.risk.drift.check_ms = 20_000;
    p.risk.drift.decay_abs = 5e-4;
    p.risk.drift.decay_ratio = 0.5;
    p.risk.drift.flip_epsilon = 1e-5;
    p.risk.drift.reduce_fraction = d("0.5");
    let mut e = Engine::new(p, &[inst()]);
    // 1 % of 10 000 over a stop of 100.16 − ceil(90.144/0.01)·0.01 = 10.01 → 9.99.
    let buy = enter_long(&mut e, 0);
    assert_eq!(buy.qty(), d("9.99"));
    let d0 = e.last_state().drift();
    assert!(d0 > 2.0 * 0.003 + 5e-4, "entry drift {d0}");
    let x4 = (100f64.ln() + 16e-4).exp().ln();
    let mut intents = Vec::new();
    let mut x = x4;
    for i in 5..200u64 {
        x += if i < 60 { 1e-4 } else { -1e-3 };
        if let Some(it) = e.on_tick(&tick(i, x.exp())) {
            fill(&mut e, &it);
            intents.push((i, it, e.last_state().drift()));
        }
    }
    assert_eq!(intents.len(), 2, "{intents:?}");
    let (i1, reduce, _) = intents[0];
    let (i2, exit, d2) = intents[1];
    assert!(reduce.reduce_only() && reduce.side() == Side::Sell);
    // floor(9.99 × 0.5 / 0.01)·0.01 = 4.99.
    assert_eq!(reduce.qty(), d("4.99"));
    assert_eq!(i1, 24, "the first check, during the slow rise");
    assert!(exit.reduce_only() && exit.side() == Side::Sell);
    assert_eq!(exit.qty(), d("5.00"));
    assert_eq!(i2, 64, "the first check after the turn");
    assert!(d2 < -1e-5, "the drift flipped: {d2}");
    let s = e.stats();
    assert_eq!((s.drift_reduces, s.drift_exits), (1, 1));
    assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);
}

/// Operator emergency stop: the next tick of a symbol with a position closes it reduce-only;
/// entries are refused (`blocked_emergency_stop`) until `resume`.
#[test]
fn emergency_stop_closes_everything_and_blocks_entries_until_resume() {
    let mut e = Engine::new(params(0.02, 0.01), &[inst(), inst()]);
    let buy = enter_long(&mut e, 0);
    e.emergency_stop();
    e.emergency_stop(); // idempotent
    assert_eq!(e.stats().emergency_stops, 1);
    let close = e.on_tick(&tick(5, 100.2)).expect("emergency close");
    assert!(close.reduce_only() && close.side() == Side::Sell && close.qty() == buy.qty());
    fill(&mut e, &close);
    // Symbol 1 warms up and wants to buy: refused.
    for i in 0..10 {
        let it = e.on_tick(&tick_of(1, i, (100f64.ln() + 1e-4 * (i * i) as f64).exp()));
        assert!(it.is_none(), "{it:?}");
    }
    assert!(e.stats().risk_blocked[BlockReason::EmergencyStop.index()] > 0);
    // The counters reach the status output.
    let stage = ComputeStage::new(e, Clock::new());
    let mut c = CounterSet::default();
    stage.fill_counters(&mut c);
    assert_eq!(c.get(Counter::EmergencyStops), 1);
    assert_eq!(
        c.get(Counter::BlockedEmergencyStop),
        stage.engine().stats().risk_blocked[BlockReason::EmergencyStop.index()]
    );
    let mut e = stage.into_engine();
    e.resume();
    let it = e
        .on_tick(&tick_of(1, 10, (100f64.ln() + 1e-2).exp()))
        .expect("entries resume");
    assert!(!it.reduce_only() && it.side() == Side::Buy);
}

/// Decisions (risk included) are a function of the ticks alone: over the bundled real BTC/ETH
/// frames, with tight exits and a fast drift check so every risk path runs, fills returned at
/// once (fused) or 7 ticks late (a slow pipeline) give the same intents, positions and counters.
#[test]
fn risk_decisions_do_not_depend_on_when_fills_arrive() {
    use common::setup::Replay;
    use std::collections::VecDeque;

    let replay = Replay::load();
    let ticks = replay.ticks();
    let mut p = StrategyParams::from_config(&replay.cfg);
    p.cooldown_ms = 1_000;
    p.risk.exits.tp_fraction = 0.002;
    p.risk.exits.sl_fraction = 0.001;
    p.risk.drift.check_ms = 2_000;
    p.risk.limits.max_consecutive_losses = 0;
    let run = |delay: usize| {
        let mut e = Engine::new(p, &replay.instruments);
        let mut pending: VecDeque<OrderIntent> = VecDeque::new();
        let mut out = Vec::new();
        for t in &ticks {
            if let Some(it) = e.on_tick(t) {
                out.push(it);
                pending.push_back(it);
            }
            while pending.len() > delay {
                let it = pending.pop_front().unwrap();
                fill(&mut e, &it);
            }
        }
        while let Some(it) = pending.pop_front() {
            fill(&mut e, &it);
        }
        (
            out,
            *e.stats(),
            e.position(0).copied(),
            e.position(1).copied(),
        )
    };
    let now = run(0);
    let late = run(7);
    let s = now.1;
    assert!(now.0.len() > 4, "{} intents", now.0.len());
    assert!(
        s.exit_stop_loss + s.exit_take_profit + s.drift_reduces + s.drift_exits > 0,
        "{s:?}"
    );
    assert_eq!(now, late);
}
