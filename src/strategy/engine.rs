//! The compute stage's decision engine: per-symbol derivatives → matrix case → target position
//! → risk (exit levels, sizing, risk gate) → order intent. Owns the positions.
//!
//! Decisions use the *working* position (fills plus orders in flight), tracked exactly, so they
//! are a pure function of the tick stream: the same ticks give the same orders whether fills
//! come back at once (fused) or later from another thread (pipeline) or venue.
//!
//! The risk layer keeps that property: its equity, open risk, exit levels, drift monitor and
//! trade statistics follow a per-symbol *decision book* into which every emitted order is booked
//! when it is decided, at its reference price on the tick with the configured taker fee
//! (`E = balance + Σ(realized − fees) + Σ unrealized`, all exact `Decimal`). Fills update the
//! reported [`Position`]; a rejection undoes the booking of the symbol's latest order.
//!
//! Stale feeds ([`Engine::set_feed_health`]): while a symbol's market data is not live
//! ([`SymbolHealth::tradable`] is false: stale, connection down, recovering, silent) the engine
//! refuses *new entries* for it (counted in `EngineStats::blocked_stale`, gate
//! [`Gate::Stale`]). Everything that reduces risk keeps working on whatever ticks still arrive
//! (REST fallback ticks, the backlog after a stall): emergency close, stop-loss / take-profit,
//! the drift monitor and matrix exits; a refused flip still closes the position it turns
//! against, as with every other entry gate. An open position on a stale symbol is kept — its
//! exit levels stay armed and are checked on the next tick that arrives — since closing blind
//! on missing data is itself a trade on a price nobody sees. The check is one atomic load
//! (`Acquire`), made only when a tick asks for an entry: no lock, no allocation, no log line
//! (the feed logs each transition once).

mod fill_log;
mod operator;
#[cfg(test)]
mod reference;
mod scalper;
mod spec;
mod warm;

pub use operator::OperatorStats;

use std::sync::Arc;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use super::choice::{Owner, StrategyKind};
use super::learned::{LearnedFilter, LearnedParams};
use super::matrix::{classify, Action, CaseActions};
use super::scalper::{ScalperParams, ScalperState};
use super::signal::{SignalParams, VelocitySource};
use super::snapshot::{Gate, TickState};
use crate::feed::liveness::SymbolHealth;
use crate::model::forecast::{self, log_move};
use crate::model::indicators::IndicatorValues;
use crate::model::layers::{Layer, LayerParams, LayerQuery, LayerState, MAX_LEADERS};
use crate::model::snr::{confidence, snr};
use crate::model::{DerivParams, Derivatives, Kalman, KalmanParams};
use crate::risk::config::LimitsConfig;
use crate::risk::drift_monitor::reduce_qty;
use crate::risk::limits::LimitParams;
use crate::risk::{
    size_entry_qty_unfiltered, BlockReason, DriftAction, DriftMonitor, DriftParams, EntryBlock,
    EntryRequest, ExitLevels, ExitParams, ExitTrigger, GateState, RiskGate, SizingParams,
    TradeStats, Trip,
};
use crate::types::fixed::{dec_cmp, dec_mul};
use crate::types::{
    Case, ExecReport, Instrument, IntentFields, OrderIntent, Position, ReportStatus, Side, Tick,
};

/// Risk parameters (from `[risk]` and its sub-sections); `Copy`, no heap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RiskParams {
    /// Starting equity of the risk gate, quote currency (`risk.balance`).
    pub balance: f64,
    /// Fee rate booked on every decided order in the decision book (`paper.taker_fee`).
    pub fee_rate: Decimal,
    /// Entry sizing (`[risk.sizing]`, `risk.order_notional`, `risk.max_leverage`).
    pub sizing: SizingParams,
    /// Take-profit / stop-loss planning (`[risk.exits]`).
    pub exits: ExitParams,
    /// Drift position monitor (`[risk.drift]`).
    pub drift: DriftParams,
    /// Portfolio limits of the risk gate (`[risk.limits]`).
    pub limits: LimitParams,
    /// Returns window of the gate: `(corr_bar_s, corr_window_bars, corr_min_bars)`.
    pub corr: (f64, u32, u32),
}

/// Strategy parameters (from `[model]`, `[kalman]`, `[signal]`, `[strategy]`, `[layers]`,
/// `[indicators]` and `[risk]` in the config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StrategyParams {
    /// Smoothing and derivative parameters (its `reset_gap_s` resets every estimator).
    pub deriv: DerivParams,
    /// Finite-difference dead band for `v ≈ 0`, 1/s (`signal.source = "finite_difference"`).
    pub v_band: f64,
    /// Finite-difference dead band for `a ≈ 0`, 1/s².
    pub a_band: f64,
    /// Time steps a symbol must see after a (re)start before it may trade.
    pub warmup_steps: u32,
    /// Minimum exchange time between two orders of one symbol, ms (risk exits are exempt).
    pub cooldown_ms: u64,
    /// Action of each case.
    pub actions: CaseActions,
    /// Sizing, exits, drift monitor and limits.
    pub risk: RiskParams,
    /// Kalman filter.
    pub kalman: KalmanParams,
    /// Derivative source, dead-band multipliers, SNR/confidence thresholds, horizon.
    pub signal: SignalParams,
    /// Confirmation layers and indicators.
    pub layers: LayerParams,
    /// The learned entry filter (`[strategy.learned]`).
    pub learned: LearnedParams,
    /// Which strategy decides (`strategy.strategy`).
    pub strategy: StrategyKind,
    /// The scalper's rules (`[scalper]`).
    pub scalper: ScalperParams,
}

impl StrategyParams {
    /// The same parameters with every confirmation layer and the indicators switched off.
    pub fn without_layers(mut self) -> Self {
        let l = &mut self.layers;
        l.ou.enabled = false;
        l.drift.enabled = false;
        l.flow.enabled = false;
        l.cross.enabled = false;
        l.regime.enabled = false;
        l.tp_first.enabled = false;
        l.indicators.enabled = false;
        l.indicators.confirm = false;
        self
    }
}

/// Counters the monitor reads (one writer: the compute thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Ticks processed.
    pub ticks: u64,
    /// Decisions wanting a different position than the working one.
    pub signals: u64,
    /// Intents emitted (matrix decisions and risk exits).
    pub intents: u64,
    /// Signals suppressed by the per-symbol cooldown.
    pub blocked_cooldown: u64,
    /// Signals not sent because the floored quantity breaks a venue filter, per [`crate::types::RejectReason::index`].
    pub filtered: [u64; 3],
    /// Fills applied.
    pub fills: u64,
    /// Fills the venue executed before fills booked first (read from the venue late), booked
    /// before them: the position re-booked in the venue's order.
    pub fills_rebooked: u64,
    /// Of those, fills the journal places before a fill older than the strategy's last 16
    /// of the symbol: placed before the oldest kept one instead, so its entry and realized
    /// PnL may differ from the journal's until the symbol is next flat.
    pub fills_beyond_log: u64,
    /// Rejections received from execution.
    pub rejects: u64,
    /// Ticks per matrix case (index = [`crate::types::Case::index`]), counted once warm.
    pub cases: [u64; 8],
    /// Matrix orders that open (or flip to) a position, per case ([`Case::index`]).
    pub case_entries: [u64; 8],
    /// Matrix orders that close a position to flat, per case (risk exits not included).
    pub case_exits: [u64; 8],
    /// Entry signals blocked: evidence (`SNR_v`, or scaled `SNR_a` for cases 5–6)
    /// `< signal.snr_min`.
    pub blocked_snr: u64,
    /// Entry signals blocked: confidence `< signal.confidence_min`.
    pub blocked_confidence: u64,
    /// Entry signals vetoed, per layer ([`Layer::index`]); a signal vetoed by two layers counts
    /// in both.
    pub blocked_layers: [u64; Layer::COUNT],
    /// Per-symbol state resets after a gap longer than `model.reset_gap_s`.
    pub resets: u64,
    /// Ticks ignored because the price has no finite logarithm.
    pub bad_ticks: u64,
    /// Entries refused by the risk layer, per [`BlockReason::index`].
    pub risk_blocked: [u64; BlockReason::COUNT],
    /// Reduce-only closes because a trade reached its take-profit.
    pub exit_take_profit: u64,
    /// Reduce-only closes because a trade reached its stop-loss.
    pub exit_stop_loss: u64,
    /// Drift monitor reductions (reduce-only).
    pub drift_reduces: u64,
    /// Drift monitor exits (drift flipped against the position).
    pub drift_exits: u64,
    /// Emergency stops triggered (manual or by drawdown).
    pub emergency_stops: u64,
    /// Entry signals refused because the symbol's feed is not live (see the module doc).
    pub blocked_stale: u64,
    /// Entry signals refused by the learned filter (`P(win) < strategy.learned.threshold`).
    pub blocked_learned: u64,
    /// Ticks on which the scalper's signal asked for a different position.
    pub scalper_signals: u64,
    /// Scalper orders that open (or flip to) a position.
    pub scalper_entries: u64,
}

/// What every tick of a symbol reads and writes: the filters and the decision state (≤ 256 B).
#[derive(Clone, Copy, Debug)]
struct Hot {
    kalman: Kalman,
    deriv: Derivatives,
    last_price: f64,
    /// `ln(last_price)`, bit for bit: a trade at the last price (most trades) skips the `ln`.
    last_x: f64,
    last_order_ms: u64,
    /// Filled quantity plus the signed quantity of orders in flight.
    working: Decimal,
    /// Gross quantity of this run's orders not yet reported filled, rejected or expired (an
    /// entry and an exit in flight cancel in `working`, not here).
    in_flight: Decimal,
    steps_seen: u32,
    started: bool,
}

impl Hot {
    /// Before the symbol's first tick.
    fn new() -> Self {
        Self {
            kalman: Kalman::default(),
            deriv: Derivatives::default(),
            last_price: 0.0,
            last_x: f64::NEG_INFINITY,
            last_order_ms: 0,
            working: Decimal::ZERO,
            in_flight: Decimal::ZERO,
            steps_seen: 0,
            started: false,
        }
    }
}

/// A symbol's risk state, a function of the decided orders only (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
struct SlotRisk {
    /// Decided orders booked at their reference price with the configured fee.
    book: Position,
    /// Exit levels of the open trade.
    exits: Option<ExitLevels>,
    /// Drift monitor of the open trade.
    drift: DriftMonitor,
    /// `realized − fees` of the book when the open trade started (its opening fee included in
    /// the trade).
    open_net: Decimal,
}

/// The booking of a symbol's latest order, kept to undo it on rejection.
#[derive(Clone, Copy, Debug, Default)]
struct Undo {
    client_seq: u64,
    before: SlotRisk,
    pnl: Decimal,
    fee: Decimal,
}

/// An emitted order's booking, applied by [`Engine::book_pending`] once the intent is handed
/// over: the decision book, the gate and the learned filter see it before anything else reads
/// them (every `&mut` entry point books first), so decisions are the same as booking at once.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Symbol index.
    i: usize,
    side: Side,
    qty: Decimal,
    /// The tick's price (put on the tick when booked).
    price: f64,
    levels: Option<ExitLevels>,
    /// The tick's log move (`TickState::log_move`): its drift, the drift monitor's baseline
    /// of a trade the order opens, is computed at the booking (`exp_m1`, off the order path).
    log_move: f64,
    /// Exchange time of the tick, ms.
    ts: u64,
    client_seq: u64,
}

/// One symbol's state: the hot part first, then what only signals and fills touch (instrument,
/// position, risk), then the layer windows (≤ 4 KiB in all).
#[derive(Clone, Copy, Debug)]
struct Slot {
    hot: Hot,
    instrument: Instrument,
    /// The venue's maximum leverage as f64 (NaN when unknown).
    venue_max_leverage: f64,
    position: Position,
    risk: SlotRisk,
    undo: Undo,
    layers: LayerState,
    /// The decision book's unrealized PnL at the last mark and that mark in whole ticks
    /// (`None` once the book changed): a trade on the same tick price marks to the same amount.
    mark: Option<(i64, Decimal)>,
    /// Strategy that opened the open position.
    owner: Owner,
    /// An operator asked to close this symbol's working position (drained by
    /// [`Engine::next_operator_close`]).
    pending_close: bool,
}

impl Slot {
    /// The decision book's unrealized PnL at `price` put on the tick, `(mark − entry)·qty`,
    /// exact; reused while the mark's whole ticks and the book are unchanged.
    #[inline]
    fn unrealized_at(&mut self, price: f64) -> Decimal {
        let ticks = self.instrument.price_ticks(price);
        match self.mark {
            Some((t, u)) if Some(t) == ticks => u,
            _ => {
                let u = self
                    .risk
                    .book
                    .unrealized(self.instrument.price_on_tick(price));
                self.mark = ticks.map(|t| (t, u));
                u
            }
        }
    }

    /// Filled or working position open, or an order in flight: the gate's `live` flag.
    fn live(&self) -> bool {
        !self.position.qty.is_zero()
            || !self.hot.working.is_zero()
            || self.hot.in_flight > Decimal::ZERO
    }
}

/// Per-symbol state in a fixed array indexed by `SymbolId`; nothing allocates per tick.
#[derive(Debug)]
pub struct Engine {
    params: StrategyParams,
    slots: Vec<Slot>,
    next_seq: u64,
    stats: EngineStats,
    /// Each symbol's last tick state (index = `SymbolId`).
    lasts: Vec<TickState>,
    /// Symbol of the last tick processed.
    last_i: usize,
    gate: RiskGate,
    trade_stats: TradeStats,
    /// Per-symbol feed health written by the network thread; `None` = always tradable
    /// (backtests, in-memory feeds).
    feed_health: Option<Arc<SymbolHealth>>,
    /// Operator state: settings in force, pending closes, command counts.
    ops: operator::Operator,
    /// The learned entry filter (inert unless `strategy.learned.enabled`).
    learned: LearnedFilter,
    /// The scalper's bar state and signal per symbol (index = `SymbolId`); empty when the
    /// scalper is off, so the calculus strategy's per-symbol state keeps its budget.
    scalpers: Vec<ScalperState>,
    /// The booking of the intent [`Engine::decide_tick`] returned last, until
    /// [`Engine::book_pending`] applies it.
    pending: Option<Pending>,
    /// Scratch model state of the idle warm-up ([`Engine::warm_models`]); no decision reads it.
    shadow: Box<warm::ModelShadow>,
    /// Each symbol's latest fills (index = `SymbolId`), so that a fill the venue executed
    /// before later ones books its position in the venue's order ([`fill_log`]).
    fill_logs: Vec<fill_log::FillLog>,
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

/// Leaders' log moves as seen by symbol `i` (0 for itself, absent or disabled leaders): two
/// loads; the cross layer applies [`crate::model::layers::cross::move_of`] when evaluated.
#[inline]
fn leader_moves(p: &LayerParams, slots: &[Slot], i: usize) -> [f64; MAX_LEADERS] {
    let mut m = [0.0; MAX_LEADERS];
    if p.cross.enabled {
        for (out, leader) in m.iter_mut().zip(p.cross.leaders) {
            if let Some(s) = leader
                .map(usize::from)
                .filter(|&j| j != i)
                .and_then(|j| slots.get(j))
            {
                *out = s.layers.momentum.log_move();
            }
        }
    }
    m
}

/// Counts a gate trip the engine acts on (the emergency stop; the others only change what
/// [`RiskGate::check`] answers).
#[inline]
fn note_trip(trip: Option<Trip>, stats: &mut EngineStats) {
    if trip == Some(Trip::Emergency) {
        stats.emergency_stops += 1;
    }
}

/// Why a risk exit fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RiskExit {
    Emergency,
    Exit(ExitTrigger),
    DriftReduce,
    DriftExit,
}

/// Books a decided order into the symbol's decision book and the gate: realized PnL and fee
/// (`fee = qty·price·fee_rate`), open notional and stop-risk, the trade's end (statistics,
/// losing streak) and start (exit levels, drift baseline `d0`). Returns the net PnL of the
/// trade it closed (if any) and whether it opened one.
#[allow(clippy::too_many_arguments)]
fn book_order(
    rp: &RiskParams,
    slot: &mut Slot,
    gate: &mut RiskGate,
    trade_stats: &mut TradeStats,
    stats: &mut EngineStats,
    i: usize,
    (side, qty, price): (Side, Decimal, Decimal),
    levels: Option<ExitLevels>,
    d0: f64,
    ts: u64,
    client_seq: u64,
) -> (Option<f64>, bool) {
    let before = slot.risk;
    let r = &mut slot.risk;
    let fee = qty * price * rp.fee_rate;
    let realized0 = r.book.realized;
    let net0 = r.book.realized - r.book.fees;
    let dir0 = r.book.direction();
    r.book.apply_fill(side, price, qty, fee);
    slot.mark = None;
    let pnl = r.book.realized - realized0;
    note_trip(gate.on_fill(pnl, fee, ts), stats);
    let dir1 = r.book.direction();
    let net1 = r.book.realized - r.book.fees;
    let mut closed = None;
    if dir0 != 0 && dir1 != dir0 {
        let trade = net1 - r.open_net;
        let net = trade.to_f64().unwrap_or(0.0);
        closed = Some(net);
        trade_stats.record(net);
        note_trip(gate.on_trade_closed(trade), stats);
        r.drift.stop();
        r.exits = None;
    }
    if dir1 != 0 && dir1 != dir0 {
        r.exits = levels;
        r.drift.start(&rp.drift, dir1, d0, ts);
        r.open_net = if dir0 == 0 { net0 } else { net1 };
    }
    let risk = r.exits.map_or(Decimal::ZERO, |lv| lv.risk(r.book.qty));
    gate.set_position(i, r.book.qty * r.book.entry, risk);
    if dir1 != 0 {
        note_trip(gate.set_unrealized(i, r.book.unrealized(price), ts), stats);
    }
    slot.undo = Undo {
        client_seq,
        before,
        pnl,
        fee,
    };
    (closed, dir1 != 0 && dir1 != dir0)
}

impl Engine {
    /// An engine for the symbols whose instruments are `instruments` (in `SymbolId` order).
    pub fn new(mut params: StrategyParams, instruments: &[Instrument]) -> Self {
        if params.strategy.scalper() {
            // The scalper's rules read the indicator bars and the taker-flow window.
            params.layers.indicators.enabled = true;
            params.layers.keep_flow = true;
        }
        let rp = &params.risk;
        Self {
            params,
            slots: instruments
                .iter()
                .map(|&instrument| Slot {
                    hot: Hot::new(),
                    instrument,
                    venue_max_leverage: instrument
                        .max_leverage
                        .and_then(|l| l.to_f64())
                        .unwrap_or(f64::NAN),
                    position: Position::default(),
                    risk: SlotRisk::default(),
                    undo: Undo::default(),
                    layers: LayerState::new(&params.layers),
                    mark: None,
                    owner: Owner::Calculus,
                    pending_close: false,
                })
                .collect(),
            fill_logs: vec![fill_log::FillLog::default(); instruments.len()],
            next_seq: 1,
            stats: EngineStats::default(),
            // One at least, so `last_state` always has a row.
            lasts: vec![TickState::default(); instruments.len().max(1)],
            last_i: 0,
            gate: RiskGate::new(
                rp.limits,
                &LimitsConfig {
                    corr_bar_s: rp.corr.0,
                    corr_window_bars: rp.corr.1,
                    corr_min_bars: rp.corr.2,
                    ..LimitsConfig::default()
                },
                Decimal::from_f64(rp.balance).unwrap_or_default(),
                instruments.len(),
            ),
            trade_stats: TradeStats::default(),
            feed_health: None,
            ops: operator::Operator::new(&params),
            learned: LearnedFilter::new(
                params.learned,
                rp.fee_rate.to_f64().unwrap_or(0.0),
                instruments.len(),
            ),
            scalpers: if params.strategy.scalper() {
                let st = ScalperState::new(&params.scalper, params.layers.indicators.bar_s);
                vec![st; instruments.len()]
            } else {
                Vec::new()
            },
            pending: None,
            shadow: warm::ModelShadow::new(
                Hot::new(),
                LayerState::new(&params.layers),
                params
                    .strategy
                    .scalper()
                    .then(|| ScalperState::new(&params.scalper, params.layers.indicators.bar_s)),
            ),
        }
    }

    /// Pauses new entries of each symbol while `health` says its feed is not live (see the
    /// module doc). `health` is indexed by the same `SymbolId`s as the ticks.
    pub fn set_feed_health(&mut self, health: Arc<SymbolHealth>) {
        self.book_pending();
        self.feed_health = Some(health);
    }

    /// Processes one tick; returns an intent when the target position differs from the working
    /// one and every gate passes, or when a risk exit fires. `decided_ns` is left 0 for the
    /// caller to stamp.
    ///
    /// Steps, each a method of `TickCx`: `update_models` (gap check — a gap longer than
    /// `reset_gap_s` resets the symbol — then finite differences, Kalman, layer windows and
    /// indicators, on every tick); `mark_to_market` (the risk gate's price feed); `check_exits`
    /// (emergency close, stop-loss / take-profit, drift monitor once warm: reduce-only, never
    /// gated, exempt from the cooldown); `decide` (once warm: the matrix case, the action, and
    /// for entries the feed-health pause, the SNR, confidence and layer gates, then the
    /// cooldown; with `strategy.strategy` = scalper or both, the scalper's last-bar signal under
    /// the feed-health pause and the cooldown, see [`super::choice`]); `plan_entry` (exit levels, size, risk gate, venue filters); `emit`. An entry
    /// that is blocked while the opposite position is held becomes an exit. Exits are never
    /// gated. [`Engine::last_state`] holds what this tick computed.
    ///
    /// The intent is booked (decision book, gate) before this returns: [`Engine::decide_tick`]
    /// followed by [`Engine::book_pending`].
    #[inline]
    pub fn on_tick(&mut self, t: &Tick) -> Option<OrderIntent> {
        let intent = self.decide_tick(t);
        self.book_pending();
        intent
    }

    /// [`Engine::on_tick`] with the intent's booking left pending, so the caller can hand the
    /// intent over first and then call [`Engine::book_pending`]. Decisions are the same: this
    /// and every other `&mut` method book a pending intent before anything else (a
    /// `&self` reader of the book, gate or trade statistics must call `book_pending` first).
    #[inline]
    pub fn decide_tick(&mut self, t: &Tick) -> Option<OrderIntent> {
        self.book_pending();
        self.stats.ticks += 1;
        let i = t.symbol.index();
        let moves = leader_moves(&self.params.layers, &self.slots, i);
        let (Some(slot), Some(last)) = (self.slots.get_mut(i), self.lasts.get_mut(i)) else {
            return None;
        };
        self.last_i = i;
        let mut cx = TickCx {
            p: &self.params,
            slot,
            gate: &mut self.gate,
            trade_stats: &mut self.trade_stats,
            stats: &mut self.stats,
            next_seq: &mut self.next_seq,
            feed_health: self.feed_health.as_deref(),
            learned: &mut self.learned,
            scalper: self.scalpers.get_mut(i),
            pending: &mut self.pending,
            t,
        };
        let mut m = cx.update_models(last)?;
        cx.learned.on_tick(i, t.exch_ts_ms, t.price);
        cx.mark_to_market();
        if let Some((side, qty)) = cx.check_exits(&mut m) {
            return Some(cx.emit(m.st, side, qty, true, None));
        }
        let Some(d) = cx.decide(&mut m, moves) else {
            return cx.idle();
        };
        let Some((qty, reduce_only, levels)) = cx.plan_entry(m.st, d) else {
            return cx.idle();
        };
        let c = m.st.case.index();
        if m.st.target == 0 {
            cx.stats.case_exits[c] += 1;
        } else {
            cx.slot.owner = d.by;
            if d.by == Owner::Scalper {
                cx.stats.scalper_entries += 1;
                if let Some(s) = cx.scalper.as_deref_mut() {
                    s.consume();
                }
            } else {
                cx.stats.case_entries[c] += 1;
            }
        }
        Some(cx.emit(m.st, d.side, qty, reduce_only, levels))
    }

    /// Work left for a turn of the hot loop with no tick: some of the bar close's peak VaR
    /// job (a report figure, [`RiskGate::peak_step`]), so that quiet ticks and the next bar
    /// close find it done. Returns whether there was some. Decisions are the same with or
    /// without it: the job gives the same doubles at any pace.
    #[inline]
    pub fn idle_work(&mut self) -> bool {
        self.gate.peak_step()
    }

    /// Books the intent the last [`Engine::decide_tick`] returned (nothing when none is
    /// pending): the working and in-flight quantities (`emit` leaves them, so the tick's
    /// decimal adds come after the hand-over), the gate's `live` flag, then `book_order` into
    /// the decision book and the
    /// gate (`fee = qty·price·fee_rate` at the tick's price put on the tick), then the learned
    /// filter's trade bookkeeping. One branch when nothing is pending.
    #[inline]
    pub fn book_pending(&mut self) {
        // Tested before `take`, which would move the whole `Pending` out first.
        if self.pending.is_none() {
            return;
        }
        let Some(b) = self.pending.take() else {
            return;
        };
        let Some(slot) = self.slots.get_mut(b.i) else {
            return;
        };
        slot.hot.working += b.side.signed(b.qty);
        slot.hot.in_flight += b.qty;
        self.gate.set_live(b.i, slot.live());
        let price = slot.instrument.price_on_tick(b.price);
        let (closed, opened) = book_order(
            &self.params.risk,
            slot,
            &mut self.gate,
            &mut self.trade_stats,
            &mut self.stats,
            b.i,
            (b.side, b.qty, price),
            b.levels,
            forecast::drift(b.log_move),
            b.ts,
            b.client_seq,
        );
        self.learned.on_book(b.i, closed, opened);
    }

    /// True while an intent's booking waits for [`Engine::book_pending`].
    #[inline]
    pub fn has_pending_booking(&self) -> bool {
        self.pending.is_some()
    }

    /// What the last call to [`Engine::on_tick`] computed (model outputs, layer verdicts,
    /// decision), for analysis and export.
    #[inline]
    pub fn last_state(&self) -> &TickState {
        &self.lasts[self.last_i]
    }

    /// The parameters in use.
    pub fn params(&self) -> &StrategyParams {
        &self.params
    }

    /// Indicator values of symbol index `i` as of its last closed bar.
    pub fn indicators(&self, i: usize) -> Option<&IndicatorValues> {
        self.slots.get(i).map(|s| s.layers.indicators.values())
    }

    /// Applies a fill (or partial-fill delta) to the position, or undoes a rejected order's
    /// share of the working position (and, when it is the symbol's latest order, its booking
    /// in the decision book and the gate; trade statistics already recorded stay); an expired
    /// remainder leaves the working position; an unknown-order flag blocks or frees entries.
    /// Then tells the gate whether the filled or working position is open (an exit frees its
    /// `max_positions` slot only once filled).
    pub fn on_report(&mut self, r: &ExecReport) {
        self.book_pending();
        let Some(slot) = self.slots.get_mut(r.symbol.index()) else {
            return;
        };
        match r.status {
            ReportStatus::Filled => {
                let fill = (r.side, r.price, r.qty, r.fee);
                match self.fill_logs.get_mut(r.symbol.index()) {
                    Some(log) => {
                        let booked = log.book(&mut slot.position, fill, r.at);
                        let beyond = booked == fill_log::Booked::BeyondLog;
                        self.stats.fills_rebooked += u64::from(booked != fill_log::Booked::InOrder);
                        self.stats.fills_beyond_log += u64::from(beyond);
                    }
                    None => slot.position.apply_fill(r.side, r.price, r.qty, r.fee),
                }
                self.stats.fills += 1;
            }
            ReportStatus::Adopted => {
                match self.fill_logs.get_mut(r.symbol.index()) {
                    Some(log) => log.adopt(&mut slot.position, r.side, r.qty, r.price),
                    None => slot.position.adopt_to_entry(r.side, r.qty, r.price),
                }
                self.stats.fills += 1;
            }
            ReportStatus::Rejected(_) => {
                slot.hot.working -= r.side.signed(r.qty);
                self.stats.rejects += 1;
                if slot.undo.client_seq == r.client_seq && r.client_seq != 0 {
                    let u = slot.undo;
                    slot.undo.client_seq = 0;
                    slot.risk = u.before;
                    slot.mark = None;
                    let i = r.symbol.index();
                    let g = &mut self.gate;
                    note_trip(g.on_fill(-u.pnl, -u.fee, 0), &mut self.stats);
                    let b = &slot.risk.book;
                    let risk = slot.risk.exits.map_or(Decimal::ZERO, |lv| lv.risk(b.qty));
                    g.set_position(i, b.qty * b.entry, risk);
                }
            }
            ReportStatus::Expired => slot.hot.working -= r.side.signed(r.qty),
            ReportStatus::UnknownOrder(b) => self.gate.set_unknown_order(r.symbol.index(), b),
        }
        // Reports with sequence 0 (restored or reconciled positions) belong to no order sent.
        if r.client_seq != 0 && !matches!(r.status, ReportStatus::UnknownOrder(_)) {
            slot.hot.in_flight = (slot.hot.in_flight - r.qty).max(Decimal::ZERO);
        }
        self.gate.set_live(r.symbol.index(), slot.live());
    }

    /// Operator emergency stop: entries are refused and, from the next tick of each symbol, its
    /// working position is closed with a reduce-only order. Idempotent.
    pub fn emergency_stop(&mut self) {
        self.book_pending();
        note_trip(self.gate.emergency_stop(), &mut self.stats);
    }

    /// Operator resume: clears the emergency stop and a drawdown or losing-streak pause (the
    /// daily-loss block waits for the next UTC day).
    pub fn resume(&mut self) {
        self.book_pending();
        self.gate.resume();
    }

    /// The risk gate (equity, drawdown, open risk, state).
    pub fn risk_gate(&self) -> &RiskGate {
        debug_assert!(self.pending.is_none(), "book_pending first");
        &self.gate
    }

    /// Closed-trade statistics of the decision book (win rate, payoff).
    pub fn trade_stats(&self) -> &TradeStats {
        debug_assert!(self.pending.is_none(), "book_pending first");
        &self.trade_stats
    }

    /// Exit levels of symbol index `i`'s open trade, if any.
    pub fn exit_levels(&self, i: usize) -> Option<ExitLevels> {
        debug_assert!(self.pending.is_none(), "book_pending first");
        self.slots.get(i).and_then(|s| s.risk.exits)
    }

    /// Books the account's realized PnL and fees from before this process (the journal's fills)
    /// into the risk gate, so that equity, drawdown from the starting balance, and the limits
    /// built on them survive a restart: `realized += pnl − fees`.
    pub fn restore_account(&mut self, pnl: Decimal, fees: Decimal) {
        self.book_pending();
        note_trip(self.gate.on_fill(pnl, fees, 0), &mut self.stats);
    }

    /// Marks symbol index `i` as left unreconciled at start-up (entries refused) or cleared.
    pub fn set_unreconciled(&mut self, i: usize, blocked: bool) {
        self.book_pending();
        self.gate.set_unreconciled(i, blocked);
    }

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The learned entry filter.
    pub fn learned(&self) -> &LearnedFilter {
        &self.learned
    }

    /// The learned entry filter, to restore or publish its state (start-up).
    pub fn learned_mut(&mut self) -> &mut LearnedFilter {
        self.book_pending();
        &mut self.learned
    }

    /// The filled position of symbol index `i`.
    pub fn position(&self, i: usize) -> Option<&Position> {
        self.slots.get(i).map(|s| &s.position)
    }

    /// The working position (filled + in flight) of symbol index `i`, a pending booking's
    /// order included.
    pub fn working(&self, i: usize) -> Decimal {
        let pending = self
            .pending
            .filter(|b| b.i == i)
            .map_or(Decimal::ZERO, |b| b.side.signed(b.qty));
        self.slots
            .get(i)
            .map_or(Decimal::ZERO, |s| s.hot.working + pending)
    }

    /// Last trade price seen for symbol index `i` (0 before any).
    pub fn last_price(&self, i: usize) -> f64 {
        self.slots.get(i).map_or(0.0, |s| s.hot.last_price)
    }

    /// Unrealized PnL of symbol `i` at its last trade price (quote currency, for display).
    pub fn unrealized(&self, i: usize) -> f64 {
        self.slots.get(i).map_or(0.0, |s| {
            let mark = s.instrument.price_on_tick(s.hot.last_price);
            s.position.unrealized(mark).to_f64().unwrap_or(0.0)
        })
    }

    /// Number of symbols.
    pub fn n_symbols(&self) -> usize {
        self.slots.len()
    }
}

/// What [`TickCx::update_models`] computed for one tick.
struct Models<'s> {
    /// The tick's state so far (models, case; the decision fields are filled in later), in
    /// place: the symbol's last-state slot, which [`step_models`] overwrote in full.
    st: &'s mut TickState,
    /// `ln(price)`.
    x: f64,
    /// Velocity of the configured source, 1/s.
    v: f64,
    /// Exchange time of the symbol's previous estimator step, ms.
    prev_ts: u64,
    /// Estimators have enough history for a decision.
    ready: bool,
    /// `st.drift()` once asked for ([`Models::drift`]).
    drift: Option<f64>,
}

impl Models<'_> {
    /// The forecast drift `e^m − 1` of the tick ([`TickState::drift`]), computed once: the
    /// exit check, the drift layer and the booking read the same value.
    #[inline]
    fn drift(&mut self) -> f64 {
        *self.drift.get_or_insert_with(|| self.st.drift())
    }
}

/// A decision to change the working position (before sizing).
#[derive(Clone, Copy)]
struct Decision {
    /// Working direction (-1, 0, +1).
    held: i8,
    /// Wanted direction; 0 closes.
    target: i8,
    /// Order side.
    side: Side,
    /// The strategy that decided it.
    by: Owner,
}

/// One tick's view of the engine: the symbol's slot and the shared state a decision touches.
struct TickCx<'a> {
    p: &'a StrategyParams,
    slot: &'a mut Slot,
    gate: &'a mut RiskGate,
    trade_stats: &'a mut TradeStats,
    stats: &'a mut EngineStats,
    next_seq: &'a mut u64,
    feed_health: Option<&'a SymbolHealth>,
    learned: &'a mut LearnedFilter,
    /// The symbol's scalper state, when the scalper is on.
    scalper: Option<&'a mut ScalperState>,
    /// Where [`TickCx::emit`] leaves the order's booking.
    pending: &'a mut Option<Pending>,
    t: &'a Tick,
}

impl TickCx<'_> {
    /// A tick without an order (its state is already in the symbol's last-state slot).
    #[inline]
    fn idle(&mut self) -> Option<OrderIntent> {
        // A quiet tick: some of the bar close's peak VaR (a report figure, off the deciding
        // ticks).
        self.gate.peak_step();
        None
    }

    /// Gap check (a gap longer than `reset_gap_s` resets the layers), then finite differences,
    /// Kalman, layer windows and indicators ([`step_models`]), written into `last` (the
    /// symbol's last-state slot, in place); `None` for a price whose log is not finite (`last`
    /// untouched). Counts bad ticks and resets.
    #[inline]
    fn update_models<'s>(&mut self, last: &'s mut TickState) -> Option<Models<'s>> {
        let slot = &mut *self.slot;
        let (m, reset) = step_models(
            self.p,
            &mut slot.hot,
            &mut slot.layers,
            self.scalper.as_deref_mut(),
            self.t,
            last,
        );
        self.stats.resets += u64::from(reset);
        self.stats.bad_ticks += u64::from(m.is_none());
        m
    }

    /// The risk gate's price feed and the decision book's mark-to-market (every tick, warm or
    /// not).
    #[inline]
    fn mark_to_market(&mut self) {
        let (t, i) = (self.t, self.t.symbol.index());
        self.gate.on_price(i, t.price, t.exch_ts_ms);
        let slot = &mut *self.slot;
        if !slot.risk.book.qty.is_zero() {
            let u = slot.unrealized_at(t.price);
            note_trip(self.gate.set_unrealized(i, u, t.exch_ts_ms), self.stats);
        }
    }

    /// The risk exit due on this tick, if any: emergency close, then stop-loss / take-profit,
    /// then (once `ready`) the drift monitor. Reduce-only, never gated, exempt from the
    /// cooldown. Returns the exit's side and quantity, with `m.st` ready to emit.
    #[inline]
    fn check_exits(&mut self, m: &mut Models) -> Option<(Side, Decimal)> {
        let (p, t, slot) = (self.p, self.t, &mut *self.slot);
        let rp = &p.risk;
        let working = slot.hot.working;
        if working.is_zero() {
            return None;
        }
        let (why, qty) = if self.gate.state() == GateState::Emergency {
            (RiskExit::Emergency, working.abs())
        } else if let Some(trigger) = slot.risk.exits.and_then(|lv| lv.check(t.price)) {
            (RiskExit::Exit(trigger), working.abs())
        } else if m.ready && slot.owner == Owner::Calculus {
            match slot.risk.drift.on_drift(&rp.drift, m.drift(), t.exch_ts_ms) {
                DriftAction::Hold => return None,
                DriftAction::Reduce => (
                    RiskExit::DriftReduce,
                    reduce_qty(working, rp.drift.reduce_fraction, &slot.instrument),
                ),
                DriftAction::Exit => (RiskExit::DriftExit, working.abs()),
            }
        } else {
            return None;
        };
        if let Some(reason) = slot.instrument.violation(qty, t.price, true) {
            self.stats.filtered[reason.index()] += 1;
            return None;
        }
        let stats = &mut *self.stats;
        match why {
            RiskExit::Emergency => {}
            RiskExit::Exit(ExitTrigger::TakeProfit) => stats.exit_take_profit += 1,
            RiskExit::Exit(ExitTrigger::StopLoss) => stats.exit_stop_loss += 1,
            RiskExit::DriftReduce => stats.drift_reduces += 1,
            RiskExit::DriftExit => stats.drift_exits += 1,
        }
        let side = if working.is_sign_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        m.st.warm = m.ready && slot.hot.steps_seen >= p.warmup_steps;
        m.st.target = direction(working - side.signed(qty));
        m.st.layers = slot.layers.idle_report(&p.layers);
        Some((side, qty))
    }

    /// Warm-up, then the strategies of `strategy.strategy` that may act on this symbol (see
    /// [`super::choice`]): the matrix first, the scalper when the matrix sends nothing. `None`
    /// when nothing is to be sent (`m.st` says why).
    #[inline]
    fn decide(&mut self, m: &mut Models, moves: [f64; MAX_LEADERS]) -> Option<Decision> {
        if !self.warm_up(m) {
            m.st.layers = self.slot.layers.idle_report(&self.p.layers);
            return None;
        }
        m.st.warm = true;
        self.stats.cases[m.st.case.index()] += 1;
        let held = direction(self.slot.hot.working);
        let (kind, owner) = (self.p.strategy, self.slot.owner);
        let calculus = kind.calculus() && (held == 0 || owner == Owner::Calculus);
        let scalper = kind.scalper() && (held == 0 || owner == Owner::Scalper);
        if calculus {
            if let Some(d) = self.decide_calculus(m, moves, held) {
                return Some(d);
            }
        } else {
            m.st.layers = self.slot.layers.idle_report(&self.p.layers);
        }
        if scalper {
            self.decide_scalper(m.st, held, !calculus)
        } else {
            None
        }
    }

    /// The matrix case and its action, the layers, then for a wanted change the entry gates
    /// and the cooldown.
    #[inline]
    fn decide_calculus(
        &mut self,
        m: &mut Models,
        moves: [f64; MAX_LEADERS],
        held: i8,
    ) -> Option<Decision> {
        let case = m.st.case;
        let action = self.p.actions.of(case);
        let entry_side: i8 = match action {
            Action::Buy => 1,
            Action::Sell => -1,
            _ => 0,
        };
        let layers = if entry_side != 0 {
            // Only the drift layer reads it: no `exp_m1` while that layer is off.
            let drift = if self.p.layers.drift.enabled {
                m.drift()
            } else {
                0.0
            };
            self.slot.layers.evaluate(
                &self.p.layers,
                &LayerQuery {
                    side: entry_side as f64,
                    trend_entry: matches!(case, Case::AcceleratingUp | Case::AcceleratingDown),
                    x: m.x,
                    v: m.v,
                    drift,
                    leader_log_moves: moves,
                },
            )
        } else {
            self.slot.layers.idle_report(&self.p.layers)
        };
        let st = &mut *m.st;
        st.layers = layers;
        let mut target = match action {
            Action::Buy => 1,
            Action::Sell => -1,
            Action::ExitLong if held == 1 => 0,
            Action::ExitShort if held == -1 => 0,
            _ => held,
        };
        st.target = target;
        if target == held {
            st.gate = Gate::NoChange;
            return None;
        }
        self.stats.signals += 1;
        if target != 0 {
            let gate = self.entry_gate(st);
            if gate != Gate::None {
                st.gate = gate;
                target = flip_fallback(st, held, target)?;
            }
        }
        self.after_cooldown(st, held, target, Owner::Calculus)
    }

    /// The decision to move from `held` to `target`, unless the symbol's cooldown holds it.
    #[inline]
    fn after_cooldown(
        &mut self,
        st: &mut TickState,
        held: i8,
        target: i8,
        by: Owner,
    ) -> Option<Decision> {
        let hot = &self.slot.hot;
        if hot.last_order_ms != 0 && self.t.exch_ts_ms < hot.last_order_ms + self.p.cooldown_ms {
            self.stats.blocked_cooldown += 1;
            st.gate = Gate::Cooldown;
            return None;
        }
        let side = if target > held { Side::Buy } else { Side::Sell };
        Some(Decision {
            held,
            target,
            side,
            by,
        })
    }

    /// True (counted) when the symbol's feed is not live: one Acquire load, only when an entry
    /// is asked for (see the module doc).
    #[inline]
    fn stale(&mut self) -> bool {
        let stale = self.feed_health.is_some_and(|h| !h.tradable(self.t.symbol));
        self.stats.blocked_stale += u64::from(stale);
        stale
    }

    /// Counts the symbol's warm-up steps; true once it may decide.
    #[inline]
    fn warm_up(&mut self, m: &Models) -> bool {
        let hot = &mut self.slot.hot;
        if !m.ready {
            hot.steps_seen = 0;
            return false;
        }
        if m.st.ts_ms > m.prev_ts {
            hot.steps_seen = hot.steps_seen.saturating_add(1);
        }
        hot.steps_seen >= self.p.warmup_steps
    }

    /// The first gate refusing a new entry: feed health, SNR (the case's evidence, see
    /// [`SignalParams::evidence`]), confidence, layers, the learned filter (counted). The
    /// learned filter sees (and queues for labelling) every entry signal of a live feed.
    #[inline]
    fn entry_gate(&mut self, st: &TickState) -> Gate {
        if self.stale() {
            return Gate::Stale;
        }
        let learned_ok = self.learned_allows(st);
        let (sp, stats) = (&self.p.signal, &mut *self.stats);
        if st.evidence < sp.snr_min {
            stats.blocked_snr += 1;
            Gate::Snr
        } else if st.confidence < sp.confidence_min {
            stats.blocked_confidence += 1;
            Gate::Confidence
        } else if !st.layers.confirmed() {
            for (n, v) in stats.blocked_layers.iter_mut().zip(st.layers.verdicts) {
                *n += u64::from(v == crate::model::layers::LayerVerdict::Reject);
            }
            Gate::Layers
        } else if !learned_ok {
            stats.blocked_learned += 1;
            Gate::Learned
        } else {
            Gate::None
        }
    }

    /// The learned filter's verdict on the entry `st.target` (true when it is off); queues the
    /// signal for labelling.
    #[inline]
    fn learned_allows(&mut self, st: &TickState) -> bool {
        !self.learned.enabled()
            || self.learned.allows(
                self.t.symbol.index(),
                st,
                self.slot.layers.indicators.values(),
                st.target,
            )
    }

    /// Quantity and exit levels of the order for `d`: the working position to close plus, for an
    /// entry, the planned size (volatility from the last bar's ATR when ready, else
    /// `σ·√h·price`; a scalper entry's levels from [`ScalperParams::exits`]); `None` when risk
    /// or a venue filter refuses it (`st.gate` says which).
    #[inline]
    fn plan_entry(
        &mut self,
        st: &mut TickState,
        mut d: Decision,
    ) -> Option<(Decimal, bool, Option<ExitLevels>)> {
        let (p, t, slot) = (self.p, self.t, &*self.slot);
        let ind = slot.layers.indicators.values();
        let vol = if ind.ready && ind.atr > 0.0 {
            ind.atr
        } else {
            st.layers.sigma * p.signal.horizon_s.sqrt() * t.price
        };
        let inst = &slot.instrument;
        let close = slot.hot.working.abs();
        let mut open = Decimal::ZERO;
        let mut levels = None;
        // The size `entry_levels_and_size` returned passed `violation(open, st.price, false)`
        // (`st.price` is `t.price`); see `entry_violation` for what is left to check.
        let mut proved = false;
        if d.target != 0 {
            let entry = (t.symbol.index(), d.target, d.side, close);
            // A scalper entry plans its levels on the ATR alone ([`ScalperParams::exits`]).
            let scalper_risk;
            let rp = if d.by == Owner::Scalper {
                scalper_risk = RiskParams {
                    exits: p.scalper.exits(&p.risk.exits),
                    ..p.risk
                };
                &scalper_risk
            } else {
                &p.risk
            };
            let planned = entry_levels_and_size(
                rp,
                self.gate,
                self.trade_stats,
                inst,
                slot.venue_max_leverage,
                vol,
                st,
                entry,
            );
            match planned {
                Ok((lv, q)) => {
                    open = q;
                    levels = Some(lv);
                    proved = true;
                }
                Err(block) => {
                    st.gate = count_block(self.stats, block);
                    // A refused flip still closes the position it turns against.
                    d.target = flip_fallback(st, d.held, d.target)?;
                }
            }
        }
        let (qty, reduce_only) = (close + open, d.target == 0);
        let broken = if proved {
            entry_violation(inst, close, open, qty, t.price)
        } else {
            inst.violation(qty, t.price, reduce_only)
        };
        debug_assert_eq!(broken, inst.violation(qty, t.price, reduce_only));
        if let Some(reason) = broken {
            self.stats.filtered[reason.index()] += 1;
            st.gate = Gate::Filter;
            return None;
        }
        Some((qty, reduce_only, levels))
    }

    /// Emits an order: working position, cooldown clock, sequence number; completes the tick
    /// state (`st`, the symbol's last-state slot, in place) and leaves the
    /// decision-book booking pending ([`Engine::book_pending`]) with `st.log_move`.
    #[inline]
    fn emit(
        &mut self,
        st: &mut TickState,
        side: Side,
        qty: Decimal,
        reduce_only: bool,
        levels: Option<ExitLevels>,
    ) -> OrderIntent {
        let (t, slot) = (self.t, &mut *self.slot);
        let ts = t.exch_ts_ms;
        slot.hot.last_order_ms = ts;
        let client_seq = *self.next_seq;
        *self.next_seq += 1;
        self.stats.intents += 1;
        debug_assert!(self.pending.is_none(), "an earlier booking still pending");
        *self.pending = Some(Pending {
            i: t.symbol.index(),
            side,
            qty,
            price: t.price,
            levels,
            log_move: st.log_move,
            ts,
            client_seq,
        });
        st.signal = if side == Side::Buy { 1 } else { -1 };
        st.gate = Gate::None;
        OrderIntent::new(IntentFields {
            symbol: t.symbol,
            side,
            qty,
            ref_price: t.price,
            reduce_only,
            case: st.case,
            client_seq,
            tick_recv_ns: t.recv_ns,
            decided_ns: 0,
            take_profit: levels.map(|l| l.take_profit),
            stop_loss: levels.map(|l| l.stop_loss),
        })
    }
}

/// Counts a refused entry; the gate it reports.
#[inline]
fn count_block(stats: &mut EngineStats, block: EntryBlock) -> Gate {
    match block {
        EntryBlock::Risk(r) => {
            stats.risk_blocked[r.index()] += 1;
            Gate::Risk
        }
        EntryBlock::Filter(r) => {
            stats.filtered[r.index()] += 1;
            Gate::Filter
        }
    }
}

/// [`Instrument::violation`] of an entry's `qty = close + open` (not reduce-only) whose `open`
/// passed it at `price`. With nothing to close it is that check: `None`. For a flip with
/// `qty ≥ open` (the decimal sum, compared by value), min qty still holds and so does min
/// notional (`price_on_tick · qty` is monotone in `qty`, exact or correctly rounded), so only
/// max qty is left; anything else is checked in full.
#[inline]
fn entry_violation(
    inst: &Instrument,
    close: Decimal,
    open: Decimal,
    qty: Decimal,
    price: f64,
) -> Option<crate::types::RejectReason> {
    if close.is_zero() {
        None
    } else if dec_cmp(qty, open).is_ge() {
        inst.above_max_qty(qty)
    } else {
        inst.violation(qty, price, false)
    }
}

/// The sized entry's venue filters in the order the sizing and the exposure cap apply them:
/// `violation(sized)`, then, when the cap binds (`cap < sized`), `violation(cap)`; `Ok` is
/// the quantity sent. When a positive `cap` passes, `sized > cap` passes min qty and min
/// notional too (`price_on_tick · qty` is monotone in `qty`, exact or correctly rounded), so
/// only max qty is left of `sized`'s check; otherwise both are checked in full, in order.
#[inline]
fn filter_capped(
    inst: &Instrument,
    sized: Decimal,
    cap: Option<Decimal>,
    price: f64,
) -> Result<Decimal, crate::types::RejectReason> {
    let full = |q: Decimal| inst.violation(q, price, false).map_or(Ok(q), Err);
    match cap {
        Some(cap) if cap.is_sign_positive() && !cap.is_zero() => {
            match inst.violation(cap, price, false) {
                None => inst.above_max_qty(sized).map_or(Ok(cap), Err),
                Some(r) => Err(inst.violation(sized, price, false).unwrap_or(r)),
            }
        }
        Some(cap) => full(sized).and_then(|_| full(cap)),
        None => full(sized),
    }
}

/// After a refused entry: a flip (`held == -target`) still closes the held position (new target
/// 0); otherwise nothing is sent (`None`, the target stays `held`).
#[inline]
fn flip_fallback(st: &mut TickState, held: i8, target: i8) -> Option<i8> {
    if held == -target {
        st.target = 0;
        Some(0)
    } else {
        st.target = held;
        None
    }
}

/// One tick's model step on a symbol's model state (`hot`'s filters, the layer windows and
/// indicators, the scalper's bars): the gap check (a gap longer than `reset_gap_s` resets the
/// layers and the scalper), finite differences, Kalman, layers, then velocity, acceleration,
/// their dead bands and SNRs, the matrix case, evidence, confidence and the forecast log move.
/// Writes the tick's state into `st` in full (every decision field at its default) and returns
/// the models around it (`None` for a price whose log is not finite: `st` untouched) and
/// whether it reset. `st` is an out-parameter so the tick fills its symbol's last-state slot in
/// place (no copy of the state on return). Out of line: one copy, called by every tick ([`TickCx::update_models`]) and by the idle warm-up's
/// shadow on a scratch copy ([`Engine::warm_models`]), so the shadow warms the code a tick runs.
#[inline(never)]
fn step_models<'s>(
    p: &StrategyParams,
    hot: &mut Hot,
    layers: &mut LayerState,
    mut scalper: Option<&mut ScalperState>,
    t: &Tick,
    st: &'s mut TickState,
) -> (Option<Models<'s>>, bool) {
    // `ln` is a function: the same bits give the same log (`last_x` is `ln(0) = −∞` at first).
    let x = if t.price.to_bits() == hot.last_price.to_bits() {
        hot.last_x
    } else {
        t.price.ln()
    };
    if !x.is_finite() {
        return (None, false);
    }
    let ts = t.exch_ts_ms;
    let prev_ts = hot.deriv.last_ts_ms();
    let reset = hot.started
        && ts.saturating_sub(hot.kalman.last_ts_ms()) as f64 * 1e-3 > p.deriv.reset_gap_s;
    if reset {
        layers.reset(&p.layers);
        if let Some(s) = scalper.as_deref_mut() {
            *s = ScalperState::new(&p.scalper, p.layers.indicators.bar_s);
        }
    }
    hot.started = true;
    let e = hot.deriv.update_log(&p.deriv, x, ts);
    let k = hot.kalman.update(&p.kalman, x, ts, p.deriv.reset_gap_s);
    scalper::update_layers(p, layers, scalper.as_deref_mut(), t, x);
    hot.last_price = t.price;
    hot.last_x = x;

    let sp = &p.signal;
    let (v, a, v_band, a_band) = match sp.source {
        VelocitySource::Kalman => (k.v, k.a, sp.k_v * k.p_vv.sqrt(), sp.k_a * k.p_aa.sqrt()),
        VelocitySource::FiniteDifference => (e.velocity, e.acceleration, p.v_band, p.a_band),
    };
    let snr_v = snr(v, k.p_vv);
    let snr_a = snr(a, k.p_aa);
    let case = classify(v, a, v_band, a_band);
    let evidence = sp.evidence(case, snr_v, snr_a);
    *st = TickState {
        symbol: t.symbol,
        ts_ms: ts,
        price: t.price,
        smoothed: e.smoothed,
        kalman: k,
        fd_velocity: e.velocity,
        fd_acceleration: e.acceleration,
        velocity: v,
        acceleration: a,
        v_band,
        a_band,
        snr: snr_v,
        snr_a,
        evidence,
        confidence: confidence(evidence),
        log_move: log_move(v, a, sp.horizon_s),
        case,
        scalper: scalper.map_or(0.0, |s| s.signal().signed_strength()),
        ..TickState::default()
    };
    let m = Models {
        st,
        x,
        v,
        prev_ts,
        ready: e.ready && k.steps >= 2,
        drift: None,
    };
    (Some(m), reset)
}

/// Exit levels, size and risk-gate check of an entry in direction `target` (`close` = the
/// working quantity a flip closes first; the size is capped at `max_symbol_exposure × E / entry`
/// on the step), with `vol` in price units for volatility-mode levels
/// (the caller passes the ATR of the last closed bar when ready, else `σ·√h·price`).
/// Out of line: one copy, called by the deciding tick and by the idle warm-up's shadow
/// ([`Engine::warm`]), so the shadow warms the code the decision runs.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn entry_levels_and_size(
    rp: &RiskParams,
    gate: &RiskGate,
    trade_stats: &TradeStats,
    inst: &Instrument,
    venue_max_leverage: f64,
    vol: f64,
    st: &TickState,
    (i, target, side, close): (usize, i8, Side, Decimal),
) -> Result<(ExitLevels, Decimal), EntryBlock> {
    #[cfg(test)]
    if reference::ON.with(std::cell::Cell::get) {
        let args = (i, target, side, close);
        return reference::entry_levels_and_size(
            rp,
            gate,
            trade_stats,
            inst,
            venue_max_leverage,
            vol,
            st,
            args,
        );
    }
    // The gate's state blocks (emergency, pause, daily loss, reconciliation, positions,
    // correlation) first: while one holds, skip the decimal work of planning and sizing.
    let caps = gate.entry_caps(i, side).map_err(EntryBlock::Risk)?;
    let bad = EntryBlock::Risk(BlockReason::BadInput);
    let entry_ticks = inst.price_ticks(st.price).ok_or(bad)?;
    let sigma = st.layers.sigma;
    let lv = ExitLevels::plan_ticks(&rp.exits, target, entry_ticks, vol, inst)
        .map_err(EntryBlock::Risk)?;
    let entry = lv.entry;
    // `size_entry`'s quantity; its derived notional, leverage and risk are not needed here.
    let sized = size_entry_qty_unfiltered(
        &rp.sizing,
        trade_stats,
        &EntryRequest {
            price: st.price,
            stop_distance: lv.stop_distance_f64(),
            balance: gate.sizing_balance_f64(&caps),
            sigma,
            venue_max_leverage,
            size_multiplier: gate.size_multiplier() * gate.correlation_multiplier(i),
        },
        inst,
    )?;
    // Size down to the per-symbol exposure cap rather than refuse: a tight stop can ask for more
    // than `max_symbol_exposure × E` even under the leverage cap.
    // `rp.limits` are the gate's limits (`Engine::new`), so this is `max_symbol_exposure · E`.
    let limit = caps.exposure();
    // `qty · entry ≤ limit` means `qty ≤ floor_step(limit / entry)`: the division only binds.
    // `dec_mul` is the crate's product (same decimal); the cap's steps are on integers when
    // provably those of the decimal quotient (`Instrument::floor_qty_quotient`).
    let cap = (!entry.is_zero() && dec_cmp(dec_mul(sized, entry), limit).is_gt())
        .then(|| inst.floor_qty_quotient(limit, entry))
        .filter(|&cap| dec_cmp(sized, cap).is_gt());
    // The sizing's venue filter of `sized`, then that of the cap (the same first refusal).
    let qty = filter_capped(inst, sized, cap, st.price).map_err(EntryBlock::Filter)?;
    gate.check_sized(&caps, dec_mul(close + qty, entry), lv.risk(qty))
        .map_err(EntryBlock::Risk)?;
    Ok((lv, qty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Case, FillTime, RejectReason, SymbolId};

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
            risk: fixed_notional_risk(1_000.0),
            kalman: KalmanParams::default(),
            // These tests pin the finite-difference path with no entry gates; the Kalman path
            // and the gates have their own tests (tests/model_analytic.rs).
            signal: SignalParams {
                source: VelocitySource::FiniteDifference,
                snr_min: 0.0,
                confidence_min: 0.0,
                ..SignalParams::default()
            },
            layers: StrategyParams::default().without_layers().layers,
            learned: crate::strategy::learned::LearnedParams::default(),
            strategy: StrategyKind::Calculus,
            scalper: ScalperParams::default(),
        }
    }

    /// Fixed-notional sizing (`min(N, 10 000·5)/p`), exit levels too far away to trigger in
    /// these paths and no drift monitor: the matrix alone decides.
    fn fixed_notional_risk(notional: f64) -> RiskParams {
        let mut r = StrategyParams::default().risk;
        r.balance = 10_000.0;
        r.fee_rate = Decimal::ZERO;
        r.sizing.method = crate::risk::config::SizingMethod::FixedNotional;
        r.sizing.order_notional = notional;
        r.sizing.max_leverage = 5.0;
        r.exits.mode = crate::risk::config::ExitMode::Percent;
        r.exits.tp_fraction = 0.3;
        r.exits.sl_fraction = 0.1;
        r.exits.min_reward_risk = Decimal::ONE;
        r.drift.enabled = false;
        r
    }

    /// A random instrument for the filter property tests, and its quantity step: ticks and
    /// steps from 10⁻⁹ to 100, min and max quantities up to 5,000 and 10,000 steps, min
    /// notional 0–199 with 0–2 decimals; `next` is the test's xorshift.
    fn random_instrument(next: &mut impl FnMut() -> u64) -> (Instrument, Decimal) {
        let ticks = ["0.10", "0.01", "0.5", "1", "0.0001", "100"];
        let steps = ["0.001", "1", "0.1", "0.00001", "10", "0.000000001"];
        let pick = |v: &[&str], r: u64| d(v[(r % v.len() as u64) as usize]);
        let step = pick(&steps, next());
        let n = |r: u64| Decimal::new((r % 5_000) as i64, 0) * step;
        let inst = Instrument::new(
            pick(&ticks, next()),
            step,
            n(next()),
            n(next()) + n(next()),
            Decimal::new((next() % 200) as i64, (next() % 3) as u32),
        )
        .unwrap();
        (inst, step)
    }

    /// `entry_violation` is `Instrument::violation` of the whole `close + open` over random
    /// instruments, prices, entries that passed the filters and positions to close (zero,
    /// on the step, off it, wide), near and past every limit.
    #[test]
    fn entry_violation_is_violation() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let (mut checked, mut flips, mut above) = (0, 0, 0);
        for k in 0..300_000u64 {
            let (inst, step) = random_instrument(&mut next);
            let n = |r: u64| Decimal::new((r % 5_000) as i64, 0) * step;
            let price = (next() % 10_000_000) as f64 * 0.01 + (next() % 3) as f64 * 1e-9;
            let open = n(next());
            if inst.violation(open, price, false).is_some() {
                continue;
            }
            let close = match k % 4 {
                0 => Decimal::ZERO,
                1 => n(next()),
                2 => Decimal::new((next() % 1_000_000) as i64, (next() % 12) as u32),
                _ => Decimal::from_i128_with_scale(
                    i128::from(next()) << 30 | i128::from(next() % (1 << 30)),
                    (next() % 29) as u32,
                ),
            };
            let Some(qty) = close.checked_add(open) else {
                continue;
            };
            let want = inst.violation(qty, price, false);
            assert_eq!(
                entry_violation(&inst, close, open, qty, price),
                want,
                "{close} + {open} at {price}"
            );
            checked += 1;
            flips += usize::from(!close.is_zero());
            above += usize::from(want == Some(RejectReason::AboveMaxQty));
        }
        assert!(
            checked > 50_000 && flips > 30_000 && above > 5_000,
            "{checked} checked, {flips} flips, {above} above max"
        );
    }

    /// `filter_capped` gives the first refusal of the sequence it replaces — the sizing's
    /// `violation(sized)`, then, when the cap binds, `violation(cap)` — and the quantity sent,
    /// over random instruments and prices, sized quantities below, at and above every limit and
    /// caps below them (on the step, off it, zero, negative).
    #[test]
    fn filter_capped_is_violation_then_cap() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let (mut capped, mut passed, mut refused_sized, mut refused_cap) = (0, 0, 0, 0);
        for k in 0..300_000u64 {
            let (inst, step) = random_instrument(&mut next);
            let n = |r: u64| Decimal::new((r % 5_000) as i64, 0) * step;
            let price = (next() % 10_000_000) as f64 * 0.01 + (next() % 3) as f64 * 1e-9 + 1e-9;
            let sized = match k % 3 {
                0 => n(next()),
                1 => n(next()) + n(next()),
                _ => Decimal::new((next() % 1_000_000) as i64, (next() % 12) as u32),
            };
            let cap = match k % 5 {
                0 => None,
                1 => Some(Decimal::ZERO),
                2 => Some(-n(next())),
                3 => Some(Decimal::new(
                    (next() % 1_000_000) as i64,
                    (next() % 12) as u32,
                )),
                _ => Some(n(next())),
            }
            .filter(|&c| dec_cmp(sized, c).is_gt());
            let want = match inst.violation(sized, price, false) {
                Some(r) => Err(r),
                None => match cap {
                    Some(c) => inst.violation(c, price, false).map_or(Ok(c), Err),
                    None => Ok(sized),
                },
            };
            let got = filter_capped(&inst, sized, cap, price);
            assert_eq!(got, want, "{sized} capped at {cap:?}, {price}");
            capped += usize::from(cap.is_some());
            passed += usize::from(cap.is_some() && got.is_ok());
            refused_sized +=
                usize::from(cap.is_some() && inst.violation(sized, price, false).is_some());
            refused_cap += usize::from(cap.is_some() && got.is_err());
        }
        assert!(
            capped > 50_000 && passed > 5_000 && refused_sized > 5_000 && refused_cap > 10_000,
            "{capped} capped, {passed} passed, {refused_sized} sized refused, {refused_cap} refused"
        );
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
            side: i.side(),
            status: ReportStatus::Filled,
            price: Decimal::from_f64_retain(i.ref_price).unwrap().round_dp(2),
            qty: i.qty(),
            fee: Decimal::ZERO,
            at: FillTime::None,
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
        assert_eq!(intent.side(), Side::Buy);
        assert_eq!(intent.case(), Case::AcceleratingUp);
        assert!(!intent.reduce_only());
        let want = ((1_000.0 / price) / 0.01).floor() * 0.01;
        assert_eq!(
            intent.qty().to_f64().unwrap(),
            (want * 100.0).round() / 100.0
        );
        assert_eq!(
            e.working(0),
            intent.qty(),
            "in flight counts toward the working position"
        );
        // Still rising: no second buy while long (working), fill or no fill.
        assert!(first_intent(&mut e, 5, 10, |t| 100f64.ln()
            + 1e-4 * (t + 5.0) * (t + 5.0))
        .is_none());
    }

    /// `decide_tick` leaves the order's booking pending (the working and in-flight quantities
    /// included): `working` counts it before `book_pending` as after, and the next tick books it.
    #[test]
    fn a_pending_booking_counts_in_the_working_position() {
        let mut e = engine();
        let f = |t: f64| (100f64.ln() + 1e-4 * t * t).exp();
        let intent = (0..40u64)
            .find_map(|i| e.decide_tick(&tick(i, f(i as f64))))
            .expect("an intent");
        assert!(e.has_pending_booking());
        assert_eq!(e.slots[0].hot.working, Decimal::ZERO, "left to the booking");
        assert_eq!(e.working(0), intent.qty());
        assert_eq!(e.working(1), Decimal::ZERO);
        e.book_pending();
        assert!(!e.has_pending_booking());
        assert_eq!(e.slots[0].hot.working, intent.qty());
        assert_eq!(e.slots[0].hot.in_flight, intent.qty());
        assert_eq!(e.working(0), intent.qty());
    }

    /// Long, then the rise decelerates (case 2): an exact reduce-only exit of the position.
    #[test]
    fn decelerating_uptrend_exits_a_long_exactly() {
        let mut e = engine();
        let (buy, i) = first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).unwrap();
        e.on_report(&fill_of(&buy));
        assert_eq!(e.position(0).unwrap().qty, buy.qty());
        let base = e.last_price(0).ln();
        let (exit, _) = first_intent(&mut e, i + 1, 40, |t| {
            base + 2e-3 * (t + 1.0) - 0.5 * 1e-4 * (t + 1.0) * (t + 1.0)
        })
        .expect("an exit");
        assert_eq!(exit.side(), Side::Sell);
        assert!(exit.reduce_only());
        assert_eq!(exit.case(), Case::DeceleratingUp);
        assert_eq!(exit.qty(), buy.qty());
        e.on_report(&fill_of(&exit));
        assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);
        assert_eq!(e.working(0), Decimal::ZERO);
    }

    #[test]
    fn rejection_undoes_the_working_position_and_is_counted() {
        let mut e = engine();
        let (sell, _) = first_intent(&mut e, 0, 40, |t| 100f64.ln() - 1e-4 * t * t).unwrap();
        assert_eq!(sell.side(), Side::Sell);
        assert_eq!(sell.case(), Case::AcceleratingDown);
        assert_eq!(e.working(0), -sell.qty());
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
        p.risk.sizing.order_notional = 4.0; // below the 5 USDT minimum
        let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        let mut e = Engine::new(p, &[inst]);
        assert!(first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).is_none());
        assert!(e.stats().filtered[RejectReason::BelowMinNotional.index()] > 0);
        assert_eq!(e.stats().intents, 0);
    }

    /// The tick fills its symbol's last state in place: an order's tick leaves its signal and
    /// gate there, the next quiet tick overwrites every field (no decision field of the order
    /// left), and a price without a finite logarithm leaves the state as it was.
    #[test]
    fn the_last_state_is_each_tick_s_own() {
        let mut e = engine();
        let (buy, i) = first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).unwrap();
        let after_order = *e.last_state();
        assert_eq!(after_order.signal, 1);
        assert_eq!(after_order.gate, Gate::None);
        assert_eq!(after_order.price.to_bits(), e.last_price(0).to_bits());
        assert_eq!(buy.case(), after_order.case);
        // Still rising: no second buy while long.
        let k = (i + 1) as f64;
        let p = (100f64.ln() + 1e-4 * k * k).exp();
        assert!(e.on_tick(&tick(i + 1, p)).is_none());
        let quiet = *e.last_state();
        assert_eq!(
            quiet.signal, 0,
            "the order's signal stays with the order's tick"
        );
        assert_eq!(quiet.ts_ms, tick(i + 1, p).exch_ts_ms);
        assert!(e.on_tick(&tick(i + 2, f64::NAN)).is_none());
        assert!(e.on_tick(&tick(i + 3, -1.0)).is_none());
        let kept = *e.last_state();
        assert_eq!(
            format!("{kept:?}"),
            format!("{quiet:?}"),
            "a bad tick writes nothing"
        );
        assert_eq!(e.stats().bad_ticks, 2);
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

    const MS: u64 = 1_000_000;

    /// An engine reading the health of a one-symbol feed that is live at t = 0 and goes stale
    /// after 100 ms of silence, plus the network side that drives it.
    fn engine_with_feed() -> (Engine, crate::feed::liveness::Liveness) {
        let mut live = crate::feed::liveness::Liveness::new(1, 100 * MS, 0);
        live.on_ws_message(SymbolId(0), 0);
        let mut e = engine();
        e.set_feed_health(live.health());
        (e, live)
    }

    fn go_stale(live: &mut crate::feed::liveness::Liveness) {
        let mut out = Vec::new();
        live.check(200 * MS, &mut out);
        assert_eq!(out.len(), 1, "one transition: live → stale");
        assert!(!live.health().tradable(SymbolId(0)));
    }

    /// Stale: every warm tick of an accelerating rise asks for a long and is refused (the
    /// engine without a feed buys on tick 4, the first warm one); live again: the next tick buys.
    #[test]
    fn stale_feed_blocks_entries_until_the_symbol_is_live_again() {
        let (mut e, mut live) = engine_with_feed();
        go_stale(&mut live);
        let rise = |t: f64| 100f64.ln() + 1e-4 * t * t;
        assert!(first_intent(&mut e, 0, 40, rise).is_none());
        assert_eq!(e.stats().blocked_stale, 40 - 4, "ticks 4..40 each refused");
        assert_eq!(e.last_state().gate, Gate::Stale);
        assert_eq!(e.stats().intents, 0);
        assert_eq!(e.working(0), Decimal::ZERO);
        live.on_ws_message(SymbolId(0), 300 * MS);
        let (buy, i) = first_intent(&mut e, 40, 10, |t| rise(t + 40.0)).expect("entries resume");
        assert_eq!((i, buy.side(), buy.reduce_only()), (40, Side::Buy, false));
        assert_eq!(e.stats().blocked_stale, 36, "nothing refused once live");
    }

    /// A position opened while live is kept when the feed goes stale, and everything that
    /// reduces it still works: a refused flip closes it (reduce-only, exactly the held
    /// quantity), and a stop-loss fires on the next tick that arrives.
    #[test]
    fn stale_feed_keeps_exits_working() {
        // Flip: long, stale, then a sharp accelerating fall asks for a short at once.
        let (mut e, mut live) = engine_with_feed();
        let (buy, i) = first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).unwrap();
        e.on_report(&fill_of(&buy));
        go_stale(&mut live);
        let base = e.last_price(0).ln();
        let (exit, _) = first_intent(&mut e, i + 1, 40, |t| {
            base - 5e-3 * (t + 1.0) - 1e-4 * (t + 1.0) * (t + 1.0)
        })
        .expect("the long is closed");
        assert_eq!(
            (exit.side(), exit.reduce_only(), exit.qty()),
            (Side::Sell, true, buy.qty())
        );
        assert_eq!(
            e.stats().blocked_stale,
            1,
            "the short half of the flip was refused"
        );
        assert_eq!(
            exit.case(),
            Case::AcceleratingDown,
            "a flip, not a matrix exit"
        );
        e.on_report(&fill_of(&exit));
        assert_eq!(e.position(0).unwrap().qty, Decimal::ZERO);

        // Stop-loss: long, stale, a trade 15 % lower (stop at 10 %) closes it at once.
        let (mut e, mut live) = engine_with_feed();
        let (buy, i) = first_intent(&mut e, 0, 40, |t| 100f64.ln() + 1e-4 * t * t).unwrap();
        e.on_report(&fill_of(&buy));
        go_stale(&mut live);
        let stop = e.exit_levels(0).expect("exit levels armed").stop_loss;
        let crash = e.last_price(0) * 0.85;
        assert!(crash < stop.to_f64().unwrap());
        let exit = e
            .on_tick(&tick(i + 1, crash))
            .expect("stop-loss fires while stale");
        assert_eq!(
            (exit.side(), exit.reduce_only(), exit.qty()),
            (Side::Sell, true, buy.qty())
        );
        assert_eq!(e.stats().exit_stop_loss, 1);
        assert_eq!(e.stats().blocked_stale, 0);
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;
    use std::mem::size_of;

    /// PERFORMANCE.md budgets: hot state ≤ 256 B per symbol, everything with the layer windows
    /// ≤ 4 KiB. (Sizes, not timings.)
    #[test]
    fn per_symbol_state_fits_its_budgets() {
        assert!(size_of::<Hot>() <= 256, "hot {}", size_of::<Hot>());
        assert!(size_of::<Slot>() <= 4096, "slot {}", size_of::<Slot>());
        eprintln!(
            "per-symbol state: hot {} B (Kalman {}, derivatives {}), + instrument {} + position {}, layers {} B, slot {} B",
            size_of::<Hot>(),
            size_of::<Kalman>(),
            size_of::<Derivatives>(),
            size_of::<Instrument>(),
            size_of::<Position>(),
            size_of::<LayerState>(),
            size_of::<Slot>()
        );
    }
}
