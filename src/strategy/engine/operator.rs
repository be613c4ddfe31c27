//! Operator commands applied by the engine on the compute thread, between ticks: run state
//! (start, stop, pause, resume, emergency stop, circuit breaker), settings, closes and the
//! per-symbol `active` flag; and the engine's part of the status view and of the persisted
//! risk state. Nothing here allocates, locks or logs: every effect is counted, the monitor logs.
//!
//! Closes are reduce-only intents for the symbol's whole working position, emitted through
//! the same booking as every other order ([`TickCx::emit`]). A command that asks for several
//! closes only sets a per-symbol `pending_close` flag; the compute stage drains them one intent
//! at a time with [`Engine::next_operator_close`], under the execution side's back-pressure. A
//! symbol without a price yet keeps its flag until its first tick.

use rust_decimal::Decimal;

use super::{direction, Engine, StrategyParams, TickCx};
use crate::model::layers::LayerVerdict;
use crate::risk::Trip;
use crate::types::control::{
    Command, EngineView, RiskState, Settings, SettingsPatch, MAX_LAYER_ROWS,
};
use crate::types::{OrderIntent, Side, SymbolId, Tick};

/// Counts of operator effects (one writer: the compute thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OperatorStats {
    /// Commands applied.
    pub commands: u64,
    /// Reduce-only closes emitted for operator commands.
    pub closes: u64,
    /// Settings patches applied.
    pub settings: u64,
    /// Commands ignored (symbol id out of range, patch out of bounds).
    pub ignored: u64,
}

/// The engine's operator state.
#[derive(Clone, Copy, Debug)]
pub(super) struct Operator {
    /// The settings in force (what the status shows).
    settings: Settings,
    /// Symbols with `pending_close` set.
    pending: u32,
    /// Unix ms at which the circuit breaker lifts (kept for the status and the state file).
    circuit_until_ms: u64,
    stats: OperatorStats,
}

impl Operator {
    /// The settings of `p`: `tp_pct = 100·tp_fraction`, `sl_pct = 100·sl_fraction`,
    /// `max_positions`, `position_notional = order_notional`, `leverage_cap = max_leverage`,
    /// `risk_per_trade`.
    pub(super) fn new(p: &StrategyParams) -> Self {
        let r = &p.risk;
        Self {
            settings: Settings {
                tp_pct: r.exits.tp_fraction * 100.0,
                sl_pct: r.exits.sl_fraction * 100.0,
                max_positions: r.limits.max_positions,
                position_notional: r.sizing.order_notional,
                leverage_cap: r.sizing.max_leverage,
                risk_per_trade: r.sizing.risk_per_trade,
            },
            pending: 0,
            circuit_until_ms: 0,
            stats: OperatorStats::default(),
        }
    }
}

/// `LayerVerdict` as a status cell: `Some(passed)` when the layer judged an entry.
fn verdict(v: LayerVerdict) -> Option<bool> {
    match v {
        LayerVerdict::Pass => Some(true),
        LayerVerdict::Reject => Some(false),
        LayerVerdict::Off | LayerVerdict::NotApplicable => None,
    }
}

impl Engine {
    /// Applies one operator command (see [`Command`] for each one's meaning). `Start` clears a
    /// stop and an operator pause; `Resume` everything `RiskGate::resume` clears;
    /// `EmergencyStop` halts entries and asks for a close of every open working position;
    /// `CircuitBreaker` blocks entries (the compute stage lifts it at `until_ms`);
    /// `RemoveSymbol` blocks the symbol's entries and closes it; `AddSymbol` allows them again.
    pub fn apply_command(&mut self, c: Command) {
        self.book_pending();
        self.ops.stats.commands += 1;
        match c {
            Command::Start => self.gate.start(),
            Command::Pause => self.gate.pause(),
            Command::Resume => self.resume(),
            Command::Stop => self.gate.stop(),
            Command::EmergencyStop => {
                self.emergency_stop();
                self.request_close_all();
            }
            Command::CircuitBreaker { until_ms } => {
                self.gate.set_circuit(true);
                self.ops.circuit_until_ms = until_ms;
            }
            Command::Settings(p) => self.apply_settings(&p),
            Command::ClosePosition(id) => {
                if !self.request_close(id) {
                    self.ops.stats.ignored += 1;
                }
            }
            Command::CloseAll => self.request_close_all(),
            Command::AddSymbol(id) => self.set_active(id, true),
            Command::RemoveSymbol(id) => {
                self.set_active(id, false);
                self.request_close(id);
            }
            Command::Spec { id, inst, trading } => self.set_instrument(id, inst, trading),
            Command::Balance { wallet, available } => {
                self.gate.set_venue_balance(wallet, available)
            }
            Command::RefuseSymbol(id) => self.set_active(id, false),
        }
    }

    /// Lifts the circuit breaker (its time has come).
    pub fn lift_circuit(&mut self) {
        self.book_pending();
        self.gate.set_circuit(false);
        self.ops.circuit_until_ms = 0;
    }

    /// Unix ms at which the circuit breaker lifts, while one is in force.
    pub fn circuit_until_ms(&self) -> Option<u64> {
        self.gate.circuit().then_some(self.ops.circuit_until_ms)
    }

    /// Operator counts so far.
    pub fn operator_stats(&self) -> &OperatorStats {
        &self.ops.stats
    }

    /// The settings in force.
    pub fn settings(&self) -> Settings {
        self.ops.settings
    }

    /// Applies a settings patch: `tp_pct/100 → exits.tp_fraction`, `sl_pct/100 →
    /// exits.sl_fraction` (the percent-mode distances, the volatility-mode floors),
    /// `max_positions → limits` (the gate's too), `position_notional → sizing.order_notional`
    /// (fixed-notional sizing), `leverage_cap → sizing.max_leverage`, `risk_per_trade →
    /// sizing.risk_per_trade` (still capped by `max_risk_per_trade`). A patch outside
    /// [`crate::types::control::SETTING_BOUNDS`] is ignored (counted).
    fn apply_settings(&mut self, patch: &SettingsPatch) {
        if patch.validate().is_err() {
            self.ops.stats.ignored += 1;
            return;
        }
        let s = patch.apply(self.ops.settings);
        let r = &mut self.params.risk;
        r.exits.tp_fraction = s.tp_pct / 100.0;
        r.exits.sl_fraction = s.sl_pct / 100.0;
        r.limits.max_positions = s.max_positions;
        r.sizing.order_notional = s.position_notional;
        r.sizing.max_leverage = s.leverage_cap;
        r.sizing.risk_per_trade = s.risk_per_trade;
        self.gate.set_max_positions(s.max_positions);
        self.ops.settings = s;
        self.ops.stats.settings += 1;
    }

    /// Allows (`true`) or blocks (`false`) new entries of `id`, closing nothing: at start-up,
    /// the universe symbols not traded from the start are inactive until `AddSymbol`.
    pub fn set_active(&mut self, id: SymbolId, active: bool) {
        self.book_pending();
        if id.index() < self.slots.len() {
            self.gate.set_active(id.index(), active);
        } else {
            self.ops.stats.ignored += 1;
        }
    }

    /// Flags symbol `id` for a close when its working position is open; false for an unknown id.
    fn request_close(&mut self, id: SymbolId) -> bool {
        let Some(slot) = self.slots.get_mut(id.index()) else {
            return false;
        };
        if !slot.hot.working.is_zero() && !slot.pending_close {
            slot.pending_close = true;
            self.ops.pending += 1;
        }
        true
    }

    fn request_close_all(&mut self) {
        for i in 0..self.slots.len() {
            self.request_close(SymbolId(i as u16));
        }
    }

    /// True while an operator close waits to be emitted (one integer compare).
    #[inline]
    pub fn has_operator_close(&self) -> bool {
        self.ops.pending > 0
    }

    /// The next operator close: a reduce-only order for the whole working position of the
    /// first flagged symbol that has a price, booked like any order (decision book, gate,
    /// working position), at its last trade price and time. `None` when none is due. A flagged
    /// symbol already flat (an exit filled meanwhile) or whose close breaks a venue filter
    /// (counted) is unflagged. O(symbols) while any is flagged, O(1) otherwise.
    pub fn next_operator_close(&mut self) -> Option<OrderIntent> {
        self.book_pending();
        if self.ops.pending == 0 {
            return None;
        }
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            if !slot.pending_close || slot.hot.last_price <= 0.0 {
                continue;
            }
            let working = slot.hot.working;
            let (price, qty) = (slot.hot.last_price, working.abs());
            slot.pending_close = false;
            self.ops.pending -= 1;
            if working.is_zero() {
                continue;
            }
            if let Some(reason) = slot.instrument.violation(qty, price, true) {
                self.stats.filtered[reason.index()] += 1;
                continue;
            }
            let side = if working.is_sign_positive() {
                Side::Sell
            } else {
                Side::Buy
            };
            let t = Tick {
                symbol: SymbolId(i as u16),
                side,
                price,
                qty: 0.0,
                exch_ts_ms: slot.hot.kalman.last_ts_ms(),
                trade_id: 0,
                recv_ns: 0,
                parsed_ns: 0,
            };
            // The close's state is the symbol's last one, completed in place by `emit`.
            let st = &mut self.lasts[i];
            st.target = direction(working - side.signed(qty));
            self.last_i = i;
            let mut cx = TickCx {
                p: &self.params,
                slot,
                gate: &mut self.gate,
                trade_stats: &mut self.trade_stats,
                stats: &mut self.stats,
                next_seq: &mut self.next_seq,
                feed_health: None,
                learned: &mut self.learned,
                scalper: None,
                pending: &mut self.pending,
                t: &t,
            };
            let intent = cx.emit(st, side, qty, true, None);
            self.book_pending();
            self.ops.stats.closes += 1;
            return Some(intent);
        }
        None
    }

    /// The persisted part of the engine's risk state: the gate's, the circuit breaker's end
    /// and the settings in force.
    pub fn risk_state(&self) -> RiskState {
        debug_assert!(self.pending.is_none(), "book_pending first");
        let mut r = self.gate.risk_state();
        r.circuit_until_ms = self.circuit_until_ms().unwrap_or(0);
        r.settings = self.ops.settings;
        r
    }

    /// Restores a saved risk state at start-up (after the journal's PnL was booked with
    /// [`Engine::restore_account`]): the gate's part (see `RiskGate::restore`; `today` is the
    /// current UTC day), the settings, and a circuit breaker still in force at `now_ms`
    /// (Unix ms). The compute stage re-arms the breaker's clock from [`Engine::circuit_until_ms`].
    pub fn restore_risk_state(&mut self, s: &RiskState, now_ms: u64) {
        self.book_pending();
        let trip = self.gate.restore(s, now_ms / 86_400_000);
        if trip == Some(Trip::Emergency) {
            self.stats.emergency_stops += 1;
        }
        if s.settings != Settings::default() {
            let s = s.settings;
            self.apply_settings(&SettingsPatch {
                tp_pct: Some(s.tp_pct),
                sl_pct: Some(s.sl_pct),
                max_positions: Some(s.max_positions),
                position_notional: Some(s.position_notional),
                leverage_cap: Some(s.leverage_cap),
                risk_per_trade: Some(s.risk_per_trade),
            });
        }
        if s.circuit_until_ms > now_ms {
            self.apply_command(Command::CircuitBreaker {
                until_ms: s.circuit_until_ms,
            });
        }
    }

    /// Writes the status view's engine part into `v` in place (no allocation: `v.symbols` was
    /// sized at start; extra rows stay as they are).
    pub fn fill_view(&self, v: &mut EngineView) {
        debug_assert!(self.pending.is_none(), "book_pending first");
        let g = &self.gate;
        let (state, reason) = g.run_state();
        v.state = state;
        v.reason = reason.map_or("", |r| r.name().trim_start_matches("blocked_"));
        v.balance = g.venue_balance().map_or(g.balance(), |(w, _)| w);
        v.available = g.venue_balance().map(|(_, a)| a);
        v.equity = g.equity();
        v.day_pnl = g.day_pnl();
        v.realized = g.realized();
        v.unrealized = g.unrealized();
        v.drawdown = g.drawdown();
        v.limits = g.limit_rows();
        v.portfolio = g.book_risk(None).unwrap_or_default();
        v.commands = self.ops.stats.commands;
        v.risk = self.risk_state();
        for (i, row) in v.symbols.iter_mut().enumerate().take(self.slots.len()) {
            let (slot, st) = (&self.slots[i], &self.lasts[i]);
            row.active = g.active(i);
            row.price = slot.hot.last_price;
            row.v = st.velocity;
            row.a = st.acceleration;
            row.snr = st.snr;
            row.case = if st.warm { st.case.number() } else { 0 };
            row.signal = st.signal;
            row.target = st.target;
            row.gate = st.gate.name();
            for (cell, v) in row.layers.iter_mut().zip(st.layers.verdicts) {
                *cell = verdict(v);
            }
            for cell in row.layers.iter_mut().skip(st.layers.verdicts.len()) {
                *cell = None;
            }
            let p = &slot.position;
            row.position = p.qty;
            row.entry = p.entry;
            row.unrealized = if p.qty.is_zero() || slot.hot.last_price <= 0.0 {
                Decimal::ZERO
            } else {
                p.unrealized(slot.instrument.price_on_tick(slot.hot.last_price))
            };
        }
    }
}

// Every layer has a status cell.
const _: () = assert!(crate::model::layers::Layer::COUNT <= MAX_LAYER_ROWS);
