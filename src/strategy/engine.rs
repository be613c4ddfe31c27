//! The compute stage's decision engine: per-symbol derivatives → matrix case → target position
//! → order intent. Owns the positions.
//!
//! Decisions use the *working* position (fills plus orders in flight), tracked exactly, so they
//! are a pure function of the tick stream: the same ticks give the same orders whether fills
//! come back at once (fused) or later from another thread (pipeline) or venue.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::intent::OrderIntent;
use super::matrix::{classify, Action, CaseActions};
use crate::exec::report::{ExecReport, ReportStatus};
use crate::exec::Instrument;
use crate::feed::{Side, Tick};
use crate::model::{DerivParams, Derivatives, Estimate};
use crate::risk::{Position, Sizing};

/// Strategy parameters (from `[model]` and `[strategy]` in the config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrategyParams {
    /// Smoothing and derivative parameters.
    pub deriv: DerivParams,
    /// Dead band for `v ≈ 0`, 1/s.
    pub v_band: f64,
    /// Dead band for `a ≈ 0`, 1/s².
    pub a_band: f64,
    /// Time steps a symbol must see after a (re)start before it may trade.
    pub warmup_steps: u32,
    /// Minimum exchange time between two orders of one symbol, ms.
    pub cooldown_ms: u64,
    /// Action of each case.
    pub actions: CaseActions,
    /// Entry sizing.
    pub sizing: Sizing,
}

/// Counters the monitor reads (one writer: the compute thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Ticks processed.
    pub ticks: u64,
    /// Decisions wanting a different position than the working one.
    pub signals: u64,
    /// Intents emitted.
    pub intents: u64,
    /// Signals suppressed by the per-symbol cooldown.
    pub blocked_cooldown: u64,
    /// Signals not sent because the floored quantity breaks a venue filter, per [`crate::exec::RejectReason::index`].
    pub filtered: [u64; 3],
    /// Fills applied.
    pub fills: u64,
    /// Rejections received from execution.
    pub rejects: u64,
    /// Ticks per matrix case (index = [`super::Case::index`]), counted once warm.
    pub cases: [u64; 8],
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    deriv: Derivatives,
    instrument: Instrument,
    position: Position,
    /// Filled quantity plus the signed quantity of orders in flight.
    working: Decimal,
    steps_seen: u32,
    last_order_ms: u64,
    last_price: f64,
}

/// Per-symbol state in a fixed array indexed by `SymbolId`; nothing allocates per tick.
pub struct Engine {
    params: StrategyParams,
    slots: Vec<Slot>,
    next_seq: u64,
    stats: EngineStats,
}

/// -1, 0 or +1 for a signed quantity.
#[inline]
fn direction(q: Decimal) -> i8 {
    if q.is_zero() {
        0
    } else if q.is_sign_positive() {
        1
    } else {
        -1
    }
}

impl Engine {
    /// An engine for the symbols whose instruments are `instruments` (in `SymbolId` order).
    pub fn new(params: StrategyParams, instruments: &[Instrument]) -> Self {
        Self {
            params,
            slots: instruments
                .iter()
                .map(|&instrument| Slot {
                    deriv: Derivatives::default(),
                    instrument,
                    position: Position::default(),
                    working: Decimal::ZERO,
                    steps_seen: 0,
                    last_order_ms: 0,
                    last_price: 0.0,
                })
                .collect(),
            next_seq: 1,
            stats: EngineStats::default(),
        }
    }

    /// Processes one tick; returns an intent when the target position differs from the working
    /// one. `decided_ns` is left 0 for the caller to stamp.
    #[inline]
    pub fn on_tick(&mut self, t: &Tick) -> Option<OrderIntent> {
        self.stats.ticks += 1;
        let p = &self.params;
        let slot = self.slots.get_mut(t.symbol.index())?;
        let prev_ts = slot.deriv.last_ts_ms();
        let e: Estimate = slot.deriv.update(&p.deriv, t.price, t.exch_ts_ms);
        slot.last_price = t.price;
        if !e.ready {
            slot.steps_seen = 0;
            return None;
        }
        if t.exch_ts_ms > prev_ts {
            slot.steps_seen = slot.steps_seen.saturating_add(1);
        }
        if slot.steps_seen < p.warmup_steps {
            return None;
        }
        let case = classify(e.velocity, e.acceleration, p.v_band, p.a_band);
        self.stats.cases[case.index()] += 1;
        let held = direction(slot.working);
        let target = match p.actions.of(case) {
            Action::Buy => 1,
            Action::Sell => -1,
            Action::ExitLong if held == 1 => 0,
            Action::ExitShort if held == -1 => 0,
            _ => held,
        };
        if target == held {
            return None;
        }
        self.stats.signals += 1;
        if slot.last_order_ms != 0 && t.exch_ts_ms < slot.last_order_ms + p.cooldown_ms {
            self.stats.blocked_cooldown += 1;
            return None;
        }
        slot.last_order_ms = t.exch_ts_ms;
        let inst = &slot.instrument;
        let close = slot.working.abs();
        let open = if target == 0 {
            Decimal::ZERO
        } else {
            inst.floor_qty(p.sizing.entry_qty(t.price))
        };
        let reduce_only = target == 0;
        let qty = close + open;
        if let Some(reason) = inst.violation(qty, t.price, reduce_only) {
            self.stats.filtered[reason.index()] += 1;
            return None;
        }
        let side = if target > held { Side::Buy } else { Side::Sell };
        slot.working += signed(side, qty);
        let client_seq = self.next_seq;
        self.next_seq += 1;
        self.stats.intents += 1;
        Some(OrderIntent {
            symbol: t.symbol,
            side,
            qty,
            ref_price: t.price,
            reduce_only,
            case,
            client_seq,
            tick_recv_ns: t.recv_ns,
            decided_ns: 0,
        })
    }

    /// Applies a fill to the position, or undoes a rejected order's share of the working position.
    pub fn on_report(&mut self, r: &ExecReport) {
        let Some(slot) = self.slots.get_mut(r.symbol.index()) else {
            return;
        };
        match r.status {
            ReportStatus::Filled => {
                slot.position.apply_fill(r.side, r.price, r.qty, r.fee);
                self.stats.fills += 1;
            }
            ReportStatus::Rejected(_) => {
                slot.working -= signed(r.side, r.qty);
                self.stats.rejects += 1;
            }
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The filled position of symbol index `i`.
    pub fn position(&self, i: usize) -> Option<&Position> {
        self.slots.get(i).map(|s| &s.position)
    }

    /// The working position (filled + in flight) of symbol index `i`.
    pub fn working(&self, i: usize) -> Decimal {
        self.slots.get(i).map_or(Decimal::ZERO, |s| s.working)
    }

    /// Last trade price seen for symbol index `i` (0 before any).
    pub fn last_price(&self, i: usize) -> f64 {
        self.slots.get(i).map_or(0.0, |s| s.last_price)
    }

    /// Unrealized PnL of symbol `i` at its last trade price (quote currency, for display).
    pub fn unrealized(&self, i: usize) -> f64 {
        self.slots.get(i).map_or(0.0, |s| {
            let mark = s.instrument.price_on_tick(s.last_price);
            s.position.unrealized(mark).to_f64().unwrap_or(0.0)
        })
    }

    /// Number of symbols.
    pub fn n_symbols(&self) -> usize {
        self.slots.len()
    }
}

#[inline]
fn signed(side: Side, qty: Decimal) -> Decimal {
    match side {
        Side::Buy => qty,
        Side::Sell => -qty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::report::RejectReason;
    use crate::feed::SymbolId;
    use crate::strategy::Case;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn params() -> StrategyParams {
        StrategyParams {
            deriv: DerivParams::default(),
            v_band: 1e-5,
            a_band: 1e-6,
            warmup_steps: 3,
            cooldown_ms: 0,
            actions: CaseActions::default(),
            sizing: Sizing {
                order_notional: 1_000.0,
                balance: 10_000.0,
                max_leverage: 5.0,
            },
        }
    }

    fn engine() -> Engine {
        let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        Engine::new(params(), &[inst])
    }

    fn tick(i: u64, price: f64) -> Tick {
        Tick {
            symbol: SymbolId(0),
            price,
            qty: 1.0,
            exch_ts_ms: 1_000_000 + i * 1_000,
            ..Tick::default()
        }
    }

    fn fill_of(i: &OrderIntent) -> ExecReport {
        ExecReport {
            symbol: i.symbol,
            client_seq: i.client_seq,
            side: i.side,
            status: ReportStatus::Filled,
            price: Decimal::from_f64_retain(i.ref_price).unwrap().round_dp(2),
            qty: i.qty,
            fee: Decimal::ZERO,
        }
    }

    /// Feeds ln p = f(t) at 1 s steps from tick `from`; returns the first intent.
    fn first_intent(
        e: &mut Engine,
        from: u64,
        n: u64,
        f: impl Fn(f64) -> f64,
    ) -> Option<(OrderIntent, u64)> {
        (from..from + n).find_map(|i| {
            e.on_tick(&tick(i, f((i - from) as f64).exp()))
                .map(|it| (it, i))
        })
    }

    /// An accelerating rise (x = x0 + ½·k·t²) must produce a BUY of the configured notional,
    /// floored to the step.
    #[test]
    fn accelerating_uptrend_buys_the_configured_notional() {
        let mut e = engine();
        let (intent, i) =
            first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).expect("an intent");
        let price = e.last_price(0);
        assert_eq!(i, 4, "first tick after warm-up");
        assert_eq!(intent.side, Side::Buy);
        assert_eq!(intent.case, Case::AcceleratingUp);
        assert!(!intent.reduce_only);
        let want = ((1_000.0 / price) / 0.01).floor() * 0.01;
        assert_eq!(intent.qty.to_f64().unwrap(), (want * 100.0).round() / 100.0);
        assert_eq!(
            e.working(0),
            intent.qty,
            "in flight counts toward the working position"
        );
        // Still rising: no second buy while long (working), fill or no fill.
        assert!(first_intent(&mut e, 5, 10, |t| 100f64.ln()
            + 1e-4 * (t + 5.0) * (t + 5.0))
        .is_none());
    }

    /// Long, then the rise decelerates (case 2): an exact reduce-only exit of the position.
    #[test]
    fn decelerating_uptrend_exits_a_long_exactly() {
        let mut e = engine();
        let (buy, i) = first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).unwrap();
        e.on_report(&fill_of(&buy));
        assert_eq!(e.position(0).unwrap().qty, buy.qty);
        let base = e.last_price(0).ln();
        let (exit, _) = first_intent(&mut e, i + 1, 40, |t| {
            base + 2e-3 * (t + 1.0) - 0.5 * 1e-4 * (t + 1.0) * (t + 1.0)
        })
        .expect("an exit");
        assert_eq!(exit.side, Side::Sell);
        assert!(exit.reduce_only);
        assert_eq!(exit.case, Case::DeceleratingUp);
        assert_eq!(exit.qty, buy.qty);
        e.on_report(&fill_of(&exit));
        assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);
        assert_eq!(e.working(0), Decimal::ZERO);
    }

    #[test]
    fn rejection_undoes_the_working_position_and_is_counted() {
        let mut e = engine();
        let (sell, _) = first_intent(&mut e, 0, 40, |t| 100f64.ln() - 1e-4 * t * t).unwrap();
        assert_eq!(sell.side, Side::Sell);
        assert_eq!(sell.case, Case::AcceleratingDown);
        assert_eq!(e.working(0), -sell.qty);
        e.on_report(&ExecReport {
            status: ReportStatus::Rejected(RejectReason::BelowMinNotional),
            ..fill_of(&sell)
        });
        assert_eq!(e.stats().rejects, 1);
        assert_eq!(e.working(0), Decimal::ZERO);
        assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);
    }

    #[test]
    fn entry_below_min_notional_is_filtered_not_sent() {
        let mut p = params();
        p.sizing.order_notional = 4.0; // below the 5 USDT minimum
        let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        let mut e = Engine::new(p, &[inst]);
        assert!(first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).is_none());
        assert!(e.stats().filtered[RejectReason::BelowMinNotional.index()] > 0);
        assert_eq!(e.stats().intents, 0);
    }

    #[test]
    fn flat_prices_never_trade() {
        let mut e = engine();
        for i in 0..1000 {
            assert!(e.on_tick(&tick(i, 100.0)).is_none());
        }
        assert_eq!(e.stats().cases[Case::Neutral.index()], 1000 - 4);
    }

    #[test]
    fn unknown_symbol_index_is_ignored() {
        let mut e = engine();
        let mut t = tick(0, 100.0);
        t.symbol = SymbolId(5);
        assert!(e.on_tick(&t).is_none());
    }
}
