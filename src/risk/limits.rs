//! The risk gate: portfolio limits checked on the compute thread before every entry.
//!
//! Equity `E = balance₀ + realized (net of fees) + Σ unrealized`, all exact `Decimal`. The gate
//! tracks per symbol the open stop-risk and notional (set by the engine after each fill), the
//! UTC day from exchange timestamps, peak equity and the losing streak, and answers one question:
//! may this order go? A breached limit blocks **entries** at the next check; reduce-only orders
//! (exits) are always allowed.
//!
//! | limit | rule (blocks the entry when) | clears |
//! |---|---|---|
//! | risk per trade | `risk > max_risk_per_trade·E` | — |
//! | portfolio risk | `Σ open risk + risk > max_portfolio_risk·E` | — |
//! | positions | symbol not held and `held symbols ≥ max_positions` | — |
//! | exposure | `|notional_sym + signed order notional| > max_symbol_exposure·E` | — |
//! | correlation | `block`: `dir_i·dir·ρ_i > max_correlation` for an open position i (`halve`: no block, see below) | — |
//! | portfolio VaR | post-trade VaR (method, measure, level of the config) `> var_budget·E` | — |
//! | daily loss | `E − E_day0 ≤ −daily_loss·E_day0` (UTC day) | next UTC day |
//! | drawdown | `(peak − E) ≥ drawdown_pause·peak` | operator [`RiskGate::resume`] |
//! | losing streak | `max_consecutive_losses` losing trades in a row | operator |
//! | emergency | manual or `(peak − E) ≥ emergency_drawdown·peak` | operator |
//! | operator stop / pause | operator `Stop` / `Pause` | `Start` / `Resume` (a pause also `Start`) |
//! | circuit breaker | operator, until a time | the compute stage at that time, or `Resume` |
//! | inactive symbol | operator `RemoveSymbol` | `AddSymbol` |
//!
//! A symbol is *held* while its decided position (booked when the engine decides, undone on a
//! rejection) is open or it is *live* ([`RiskGate::set_live`]: the engine's filled or working
//! position is open, or an order is in flight): an entry counts from its decision, an exit only
//! once it filled, so an exit that the venue has not (yet) executed never frees a slot for
//! another symbol's entry; a symbol with an order of unknown outcome is held too (the
//! venue may hold a position the engine has not booked).
//!
//! Above `drawdown_reduce` the gate's [`RiskGate::size_multiplier`] is
//! `drawdown_size_multiplier` (1 otherwise), for sizing. With `correlation_mode = "halve"`,
//! [`RiskGate::correlation_multiplier`] is `0.5^k`, k the open positions with
//! `|ρ| > max_correlation` (the second system's rule), and no entry is blocked for correlation.
//!
//! The portfolio VaR limit (`var_budget > 0`) computes the book's VaR/ES after the entry
//! ([`super::var::book_risk`]: the current signed notionals plus the order's) and refuses the
//! entry above the budget; before `corr_min_bars` joint returns there is no estimate and no
//! block. The peak VaR/ES of the open book is tracked at each bar close for the run summary:
//! the bar close snapshots the book (O(k)) and a [`super::var::PeakJob`] computes its figures
//! a few window slots at a time on the ticks that decide nothing ([`RiskGate::peak_step`]),
//! finished before the next bar close moves the window: the same doubles as
//! [`RiskGate::book_risk`] at the bar close, off the bar-close tick.
//!
//! Every call is O(1) except [`RiskGate::check`]'s correlation and VaR (O(k·W): k open
//! positions, W the returns window, on demand), the bar close (O(m) symbols that had a price,
//! plus O(k) to start the peak VaR job while a book is open, and what is left of the previous
//! bar's job when the idle turns and quiet ticks did not finish it; see [`Correlation`]),
//! [`RiskGate::peak_step`] (O(k·[`super::var::PEAK_STEP`])) and the status rows;
//! nothing allocates after [`RiskGate::new`].

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use rust_decimal::prelude::ToPrimitive;

use super::block::BlockReason;
use super::config::{CorrelationMode, LimitsConfig, VarMeasure, VarMethod};
use super::correlation::Correlation;
use super::var::{self, PeakJob, PortfolioRisk};
use crate::types::control::{LimitRow, RiskState, RunState, LIMIT_ROWS};
use crate::types::fixed::{dec_cmp, dec_f64, dec_mul};
use crate::types::Side;

const DAY_MS: u64 = 86_400_000;

/// Limits as exact decimals (from `[risk.limits]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitParams {
    /// Max stop-risk of one entry, fraction of equity.
    pub max_risk_per_trade: Decimal,
    /// Max open stop-risk, fraction of equity.
    pub max_portfolio_risk: Decimal,
    /// Max symbols with a position.
    pub max_positions: u32,
    /// Max |notional| per symbol, multiple of equity.
    pub max_symbol_exposure: Decimal,
    /// Max same-way correlation with an open position (`block`), or the `|ρ|` that halves the
    /// size (`halve`).
    pub max_correlation: f64,
    /// `block` or `halve`.
    pub correlation_mode: CorrelationMode,
    /// The portfolio VaR limit, if `var_budget > 0`.
    pub var: Option<VarLimit>,
    /// VaR horizon in bars (`var_horizon_s / corr_bar_s`).
    pub var_horizon_bars: f64,
    /// Daily loss fraction of the day's starting equity.
    pub daily_loss: Decimal,
    /// Drawdown fraction from which sizes are reduced.
    pub drawdown_reduce: Decimal,
    /// Size multiplier while reduced.
    pub drawdown_size_multiplier: f64,
    /// Drawdown fraction that pauses entries.
    pub drawdown_pause: Decimal,
    /// Losing trades in a row that pause entries (0 = off).
    pub max_consecutive_losses: u32,
    /// Drawdown fraction that triggers the emergency stop (0 = off).
    pub emergency_drawdown: Decimal,
}

/// The portfolio VaR limit: refuse an entry whose post-trade figure exceeds `budget × E`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VarLimit {
    /// Budget, fraction of equity.
    pub budget: f64,
    /// Parametric or historical.
    pub method: VarMethod,
    /// VaR or ES.
    pub measure: VarMeasure,
    /// 0 = 95 %, 1 = 99 %.
    pub level: usize,
}

fn dec(v: f64) -> Decimal {
    Decimal::from_f64(v).unwrap_or(Decimal::ZERO)
}

impl LimitParams {
    /// From a validated `[risk.limits]` section.
    pub fn from_config(c: &LimitsConfig) -> Self {
        Self {
            max_risk_per_trade: dec(c.max_risk_per_trade),
            max_portfolio_risk: dec(c.max_portfolio_risk),
            max_positions: c.max_positions,
            max_symbol_exposure: dec(c.max_symbol_exposure),
            max_correlation: c.max_correlation,
            correlation_mode: c.correlation_mode,
            var: (c.var_budget > 0.0).then_some(VarLimit {
                budget: c.var_budget,
                method: c.var_method,
                measure: c.var_measure,
                level: usize::from(c.var_confidence > 0.95),
            }),
            var_horizon_bars: c.var_horizon_s / c.corr_bar_s,
            daily_loss: dec(c.daily_loss),
            drawdown_reduce: dec(c.drawdown_reduce),
            drawdown_size_multiplier: c.drawdown_size_multiplier,
            drawdown_pause: dec(c.drawdown_pause),
            max_consecutive_losses: c.max_consecutive_losses,
            emergency_drawdown: dec(c.emergency_drawdown),
        }
    }
}

/// An order the gate is asked about.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderCheck {
    /// Symbol index.
    pub symbol: usize,
    /// Buy or sell.
    pub side: Side,
    /// Order notional `qty × price`, quote currency, ≥ 0.
    pub notional: Decimal,
    /// Stop-risk the order adds, `qty × |entry − sl|`, quote currency.
    pub risk: Decimal,
    /// Reduce-only (an exit): always allowed.
    pub reduce_only: bool,
}

/// A state change of the gate the engine acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trip {
    /// The UTC day's loss limit was reached: entries stop until the next UTC day.
    DailyLoss,
    /// Drawdown reached `drawdown_reduce`: sizes are multiplied down.
    DrawdownReduce,
    /// Drawdown reached `drawdown_pause`: entries paused until an operator resumes.
    DrawdownPause,
    /// Losing streak reached: entries paused until an operator resumes.
    ConsecutiveLosses,
    /// Emergency stop: cancel every order and close every position ([`emergency_actions`]).
    Emergency,
}

/// Where the gate stands, for the status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateState {
    /// Entries allowed at full size.
    Normal,
    /// Entries allowed at `drawdown_size_multiplier`.
    Reduced,
    /// Entries blocked until the next UTC day.
    DailyLimit,
    /// Entries blocked until an operator resumes (drawdown or losing streak).
    Paused(BlockReason),
    /// Emergency stop.
    Emergency,
}

impl GateState {
    /// Stable status name.
    pub fn name(self) -> &'static str {
        match self {
            GateState::Normal => "normal",
            GateState::Reduced => "reduced",
            GateState::DailyLimit => "daily_limit",
            GateState::Paused(BlockReason::ConsecutiveLosses) => "paused_losses",
            GateState::Paused(_) => "paused_drawdown",
            GateState::Emergency => "emergency",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct SymbolRisk {
    /// Open stop-risk, quote currency (≥ 0).
    risk: Decimal,
    /// Signed notional of the position, quote currency.
    notional: Decimal,
    /// `notional` as f64, for the VaR model.
    notional_f: f64,
    /// Unrealized PnL, quote currency.
    unrealized: Decimal,
    /// Blocked by start-up reconciliation.
    unreconciled: bool,
    /// Has an order of unknown outcome (execution is querying it).
    unknown_order: bool,
    /// The filled or the working position is open, or an order is in flight.
    live: bool,
    /// Removed by an operator: no entries.
    inactive: bool,
}

impl SymbolRisk {
    fn direction(&self) -> i8 {
        if self.notional.is_zero() {
            0
        } else if self.notional.is_sign_positive() {
            1
        } else {
            -1
        }
    }

    /// Decided or live position open, or an order of unknown outcome: the symbol holds a
    /// `max_positions` slot.
    fn held(&self) -> bool {
        self.direction() != 0 || self.live || self.unknown_order
    }
}

/// Entry blocks set by operator commands (see the module table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Operator {
    stopped: bool,
    paused: bool,
    circuit: bool,
}

/// The equity limits' thresholds for one `(peak, day_start)`: the products
/// [`RiskGate::evaluate`] compares with, recomputed only when either operand's representation
/// changes (the same Decimal expressions, so the same values).
#[derive(Clone, Copy, Debug)]
struct Thresholds {
    peak: Decimal,
    day_start: Decimal,
    /// `−(daily_loss · day_start)`.
    daily: Decimal,
    /// `drawdown_reduce · peak`.
    reduce: Decimal,
    /// `drawdown_pause · peak`.
    pause: Decimal,
    /// `emergency_drawdown · peak`.
    emergency: Decimal,
}

impl Thresholds {
    fn of(p: &LimitParams, peak: Decimal, day_start: Decimal) -> Self {
        Self {
            peak,
            day_start,
            daily: -(p.daily_loss * day_start),
            reduce: p.drawdown_reduce * peak,
            pause: p.drawdown_pause * peak,
            emergency: p.emergency_drawdown * peak,
        }
    }

    /// Same representation (a bitwise test: cheaper than a Decimal compare, and never true for
    /// different values).
    #[inline]
    fn holds_for(&self, peak: Decimal, day_start: Decimal) -> bool {
        self.peak.serialize() == peak.serialize()
            && self.day_start.serialize() == day_start.serialize()
    }
}

/// The portfolio risk gate. One per compute thread; every method is allocation-free.
#[derive(Clone, Debug)]
pub struct RiskGate {
    /// [`RiskGate::evaluate`]'s thresholds of the last `(peak, day_start)` seen.
    thresholds: Thresholds,
    /// What [`RiskGate::evaluate`] left (see [`Evaluated`]); `None` before the first.
    evaluated: Option<Evaluated>,
    p: LimitParams,
    balance0: Decimal,
    realized: Decimal,
    /// `balance0 + realized` (the crate's sum), set where `realized` changes (a fill): the
    /// first sum of [`RiskGate::update_equity`], which the mark-to-market repeats per tick.
    base: Decimal,
    unrealized: Decimal,
    /// `balance0 + realized + unrealized`, recomputed (the same expression) wherever
    /// `realized` or `unrealized` changes: [`RiskGate::equity`] without two additions.
    equity: Decimal,
    peak: Decimal,
    day: u64,
    day_start: Decimal,
    daily_blocked: bool,
    reduced: bool,
    paused: Option<BlockReason>,
    emergency: bool,
    operator: Operator,
    losing_streak: u32,
    open_risk: Decimal,
    open_positions: u32,
    symbols: Vec<SymbolRisk>,
    corr: Correlation,
    /// Symbols with a decided position (capacity `n`: never reallocates).
    book: Vec<usize>,
    /// Peak VaR/ES of the open book at bar closes, the pending bar's aside.
    peak_risk: PortfolioRisk,
    /// The figures of the last bar close's book, computed on quiet ticks
    /// ([`RiskGate::peak_step`]) and finished before the next bar close.
    peak_job: PeakJob,
    /// The venue's `(wallet, available)` balance, once the account thread read it.
    venue: Option<(Decimal, Decimal)>,
}

impl RiskGate {
    /// A gate for `n_symbols` symbols, starting equity `balance` (quote currency).
    pub fn new(p: LimitParams, c: &LimitsConfig, balance: Decimal, n_symbols: usize) -> Self {
        Self {
            thresholds: Thresholds::of(&p, balance, balance),
            evaluated: None,
            p,
            balance0: balance,
            realized: Decimal::ZERO,
            base: balance + Decimal::ZERO,
            unrealized: Decimal::ZERO,
            equity: balance + Decimal::ZERO + Decimal::ZERO,
            peak: balance,
            day: u64::MAX,
            day_start: balance,
            daily_blocked: false,
            reduced: false,
            paused: None,
            emergency: false,
            operator: Operator::default(),
            losing_streak: 0,
            open_risk: Decimal::ZERO,
            open_positions: 0,
            symbols: vec![SymbolRisk::default(); n_symbols],
            venue: None,
            corr: Correlation::new(
                n_symbols,
                (c.corr_bar_s * 1_000.0).round() as u64,
                c.corr_window_bars as usize,
                c.corr_min_bars,
            ),
            book: Vec::with_capacity(n_symbols),
            peak_risk: PortfolioRisk::default(),
            peak_job: PeakJob::new(n_symbols, (c.corr_window_bars as usize).max(2)),
        }
    }

    /// A gate from a validated `[risk.limits]` section.
    pub fn from_config(c: &LimitsConfig, balance: Decimal, n_symbols: usize) -> Self {
        Self::new(LimitParams::from_config(c), c, balance, n_symbols)
    }

    /// `E = balance₀ + realized + Σ unrealized`.
    #[inline]
    pub fn equity(&self) -> Decimal {
        debug_assert_eq!(self.equity, self.balance0 + self.realized + self.unrealized);
        self.equity
    }

    /// Recomputes the cached equity after `realized` or `unrealized` changed:
    /// `(balance0 + realized) + unrealized`, the first sum kept in `base` (the same operands,
    /// so the same decimal, representation included).
    #[inline]
    fn update_equity(&mut self) {
        debug_assert_eq!(
            self.base.serialize(),
            (self.balance0 + self.realized).serialize()
        );
        self.equity = self.base + self.unrealized;
    }

    /// `(peak − E) / peak` (0 at a new peak).
    pub fn drawdown(&self) -> Decimal {
        if self.peak > Decimal::ZERO {
            (self.peak - self.equity()) / self.peak
        } else {
            Decimal::ZERO
        }
    }

    /// `E − E_day0` of the current UTC day.
    pub fn day_pnl(&self) -> Decimal {
        self.equity() - self.day_start
    }

    /// Sum of open stop-risk, quote currency.
    pub fn open_risk(&self) -> Decimal {
        self.open_risk
    }

    /// Symbols held (decided or live position open; module documentation).
    pub fn open_positions(&self) -> u32 {
        self.open_positions
    }

    /// The correlation tracker.
    pub fn correlation(&self) -> &Correlation {
        &self.corr
    }

    /// Rolls the UTC day (`ts_ms / 86 400 000`): the day's starting equity is the equity at the
    /// first event of the day, and the daily block clears.
    #[inline]
    fn roll_day(&mut self, ts_ms: u64) {
        // `ts / DAY_MS > day` iff `ts ≥ (day + 1)·DAY_MS`: no division on the ticks of one day.
        if self.day != u64::MAX
            && (self.day + 1)
                .checked_mul(DAY_MS)
                .map_or(true, |end| ts_ms < end)
        {
            return;
        }
        let day = ts_ms / DAY_MS;
        if self.day == u64::MAX || day > self.day {
            self.day = day;
            self.day_start = self.equity();
            self.daily_blocked = false;
        }
    }

    /// Per tick: feeds the returns window and rolls the UTC day. O(1) (plus a bar close: O(m),
    /// and, while positions are open, O(k) to start the bar's peak VaR job, after finishing
    /// the previous bar's if the quiet ticks ([`RiskGate::peak_step`]) have not).
    #[inline]
    pub fn on_price(&mut self, symbol: usize, price: f64, ts_ms: u64) {
        self.roll_day(ts_ms);
        if self.peak_job.pending() && self.corr.closes_bar(symbol, price, ts_ms) {
            // The window is about to move: the job needs the one it started on.
            self.peak_work(usize::MAX);
        }
        let bars = self.corr.bars();
        self.corr.on_price(symbol, price, ts_ms);
        if self.corr.bars() != bars && !self.book.is_empty() {
            let (book, symbols) = (&self.book, &self.symbols);
            // `weights(None)`: the book's notionals in book order.
            let weights = book.iter().map(|&i| (i, symbols[i].notional_f));
            self.peak_job
                .start(&self.corr, weights, self.p.var_horizon_bars);
        }
    }

    /// Some of the pending peak VaR job ([`var::PEAK_STEP`] window slots): for a tick that
    /// decided nothing, or an idle turn of the hot loop. Returns whether a job was pending
    /// (one branch when none is).
    #[inline]
    pub fn peak_step(&mut self) -> bool {
        let pending = self.peak_job.pending();
        if pending {
            self.peak_work(var::PEAK_STEP);
        }
        pending
    }

    /// `budget` slots of the peak VaR job, the figures folded into the peak when it completes.
    #[cold]
    fn peak_work(&mut self, budget: usize) {
        if let Some(r) = self.peak_job.step(&self.corr, budget) {
            self.peak_risk = var::peak(&self.peak_risk, &r);
        }
    }

    /// VaR and ES of the book plus `extra` (`(symbol, signed notional added)`), over the VaR
    /// horizon; `None` while flat or before `corr_min_bars` joint returns. O(k·W).
    pub fn book_risk(&self, extra: Option<(usize, f64)>) -> Option<PortfolioRisk> {
        var::book_risk(&self.corr, || self.weights(extra), self.p.var_horizon_bars)
    }

    /// The book's `(symbol, signed notional)` in book order, `extra`'s notional added to its
    /// symbol (appended when not in the book).
    #[inline]
    fn weights(&self, extra: Option<(usize, f64)>) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (j, x) = extra.unwrap_or((usize::MAX, 0.0));
        let extra_new = extra.filter(|&(j, _)| !self.book.contains(&j));
        self.book
            .iter()
            .map(move |&i| {
                let n = self.symbols[i].notional_f;
                (i, if i == j { n + x } else { n })
            })
            .chain(extra_new)
    }

    /// True when the VaR limit `v` provably keeps the book plus `extra` within `budget`
    /// without the O(k·W) pass: too few joint returns for a figure (as [`var::book_risk`]), or
    /// [`var::measure_bound`] from the exact per-symbol `Σr²` at most `budget`. O(k).
    #[inline]
    fn var_surely_within(&self, extra: Option<(usize, f64)>, v: VarLimit, budget: f64) -> bool {
        let (mut c, mut s) = (usize::MAX, 0.0);
        // The non-zero `weights(extra)` in their order (the book's, then a new symbol's), as
        // one loop: the same sum in the same order.
        let mut add = |i: usize, w: f64| {
            if w != 0.0 {
                c = c.min(self.corr.samples(i));
                s += w.abs() * self.corr.ring_sq_bound_sqrt(i);
            }
        };
        let (j, x) = extra.unwrap_or((usize::MAX, 0.0));
        let mut held = false;
        for &i in &self.book {
            let n = self.symbols[i].notional_f;
            held |= i == j;
            add(i, if i == j { n + x } else { n });
        }
        if extra.is_some() && !held {
            add(j, x);
        }
        if c == usize::MAX || c < self.corr.min_bars().max(2) {
            return true;
        }
        let h = self.p.var_horizon_bars;
        var::measure_bound(s, c, h, v.method, v.measure, v.level) <= budget
    }

    /// Peak VaR/ES of the open book seen at bar closes (zero if never computed), the last
    /// bar close's included even while its job is pending (computed here, O(k·W)).
    pub fn peak_risk(&self) -> PortfolioRisk {
        match self.peak_job.pending_risk(&self.corr) {
            Some(r) => var::peak(&self.peak_risk, &r),
            None => self.peak_risk,
        }
    }

    /// The VaR figure the limit compares (its method, measure and level; parametric 99 % VaR
    /// when the limit is off).
    pub fn var_figure(&self, r: &PortfolioRisk) -> f64 {
        match self.p.var {
            Some(v) => var::measure(r, v.method, v.measure, v.level),
            None => r.var_parametric[1],
        }
    }

    /// Size multiplier for correlation: `0.5^k` in `halve` mode, k the open positions (other
    /// than `symbol`) with `|ρ| > max_correlation`; 1 in `block` mode. O(k·W).
    pub fn correlation_multiplier(&self, symbol: usize) -> f64 {
        // `|ρ| ≤ 1`: a limit of 1 or more never halves.
        if self.p.correlation_mode != CorrelationMode::Halve || self.p.max_correlation >= 1.0 {
            return 1.0;
        }
        let mut m = 1.0;
        for &i in &self.book {
            if i != symbol
                && self
                    .corr
                    .corr(i, symbol)
                    .is_some_and(|rho| rho.abs() > self.p.max_correlation)
            {
                m *= 0.5;
            }
        }
        m
    }

    /// Sets symbol `symbol`'s unrealized PnL (e.g. `position.unrealized(mark)`) and re-checks the
    /// equity limits. O(1).
    #[inline]
    pub fn set_unrealized(&mut self, symbol: usize, u: Decimal, ts_ms: u64) -> Option<Trip> {
        self.roll_day(ts_ms);
        let s = self.symbols.get_mut(symbol)?;
        // The same representation: `u − s.unrealized` is a zero, and the crate's sum with a
        // zero is the other operand, so `unrealized` and `E` would stay as they are.
        if u.serialize() != s.unrealized.serialize() {
            self.unrealized += u - s.unrealized;
            s.unrealized = u;
            self.update_equity();
        }
        self.evaluate()
    }

    /// Books realized PnL of a fill, net of its fee: `realized += pnl − fee`.
    #[inline]
    pub fn on_fill(&mut self, pnl: Decimal, fee: Decimal, ts_ms: u64) -> Option<Trip> {
        self.roll_day(ts_ms);
        self.realized += pnl - fee;
        self.base = self.balance0 + self.realized;
        self.update_equity();
        self.evaluate()
    }

    /// Sets a symbol's open position after a fill: signed notional `qty × entry` and its open
    /// stop-risk `|qty| × |entry − sl|` (0 when flat). O(1).
    #[inline]
    pub fn set_position(&mut self, symbol: usize, notional: Decimal, risk: Decimal) {
        let Some(s) = self.symbols.get_mut(symbol) else {
            return;
        };
        let was_held = s.held();
        let was_open = s.direction() != 0;
        self.open_risk += risk - s.risk;
        s.risk = risk;
        s.notional = notional;
        s.notional_f = notional.to_f64().unwrap_or(0.0);
        let is_held = s.held();
        match (was_open, s.direction() != 0) {
            (false, true) => self.book.push(symbol),
            (true, false) => self.book.retain(|&j| j != symbol),
            _ => {}
        }
        match (was_held, is_held) {
            (false, true) => self.open_positions += 1,
            (true, false) => self.open_positions -= 1,
            _ => {}
        }
        if s.direction() == 0 {
            self.unrealized -= s.unrealized;
            s.unrealized = Decimal::ZERO;
            self.update_equity();
        }
    }

    /// Records a closed trade's net PnL for the losing streak (a win or break-even resets it).
    #[inline]
    pub fn on_trade_closed(&mut self, pnl: Decimal) -> Option<Trip> {
        if pnl < Decimal::ZERO {
            self.losing_streak += 1;
            if self.p.max_consecutive_losses > 0
                && self.losing_streak >= self.p.max_consecutive_losses
                && self.paused.is_none()
            {
                self.paused = Some(BlockReason::ConsecutiveLosses);
                return Some(Trip::ConsecutiveLosses);
            }
        } else {
            self.losing_streak = 0;
        }
        None
    }

    /// Sets whether a symbol is live: filled or working position open, or an order in flight
    /// (the engine calls it on every order and report). O(1).
    #[inline]
    pub fn set_live(&mut self, symbol: usize, open: bool) {
        let Some(s) = self.symbols.get_mut(symbol) else {
            return;
        };
        let was_held = s.held();
        s.live = open;
        match (was_held, s.held()) {
            (false, true) => self.open_positions += 1,
            (true, false) => self.open_positions -= 1,
            _ => {}
        }
    }

    /// Marks a symbol as left unreconciled at start-up (entries blocked) or cleared.
    pub fn set_unreconciled(&mut self, symbol: usize, blocked: bool) {
        if let Some(s) = self.symbols.get_mut(symbol) {
            s.unreconciled = blocked;
        }
    }

    /// Marks a symbol as having (entries blocked) or no longer having an order of unknown
    /// outcome.
    pub fn set_unknown_order(&mut self, symbol: usize, unknown: bool) {
        let Some(s) = self.symbols.get_mut(symbol) else {
            return;
        };
        let was_held = s.held();
        s.unknown_order = unknown;
        match (was_held, s.held()) {
            (false, true) => self.open_positions += 1,
            (true, false) => self.open_positions -= 1,
            _ => {}
        }
    }

    /// Manual emergency stop. Returns [`Trip::Emergency`] the first time: the engine then cancels
    /// every open order and closes every position ([`emergency_actions`]); market data keeps
    /// running.
    pub fn emergency_stop(&mut self) -> Option<Trip> {
        if self.emergency {
            None
        } else {
            self.emergency = true;
            Some(Trip::Emergency)
        }
    }

    /// Operator resume: clears the emergency stop, a drawdown or losing-streak pause, an
    /// operator pause and a circuit breaker, and restarts peak equity from the current equity.
    /// The daily block still waits for the next UTC day; an operator `Stop` waits for `Start`.
    pub fn resume(&mut self) {
        self.emergency = false;
        self.paused = None;
        self.operator.paused = false;
        self.operator.circuit = false;
        self.losing_streak = 0;
        self.peak = self.equity();
        self.reduced = false;
    }

    /// Operator `Start`: clears a `Stop` and an operator pause.
    pub fn start(&mut self) {
        self.operator.stopped = false;
        self.operator.paused = false;
    }

    /// Operator `Stop` (entries refused until [`RiskGate::start`]).
    pub fn stop(&mut self) {
        self.operator.stopped = true;
    }

    /// Operator `Pause` (entries refused until [`RiskGate::resume`] or [`RiskGate::start`]).
    pub fn pause(&mut self) {
        self.operator.paused = true;
    }

    /// Sets or lifts the circuit breaker (the compute stage keeps its end time).
    pub fn set_circuit(&mut self, on: bool) {
        self.operator.circuit = on;
    }

    /// Circuit breaker in force.
    pub fn circuit(&self) -> bool {
        self.operator.circuit
    }

    /// Marks symbol `symbol` as traded (`true`) or removed by an operator (no entries).
    pub fn set_active(&mut self, symbol: usize, active: bool) {
        if let Some(s) = self.symbols.get_mut(symbol) {
            s.inactive = !active;
        }
    }

    /// Whether symbol `symbol` is traded (false after an operator removed it).
    pub fn active(&self, symbol: usize) -> bool {
        self.symbols.get(symbol).is_some_and(|s| !s.inactive)
    }

    /// Sets the `max_positions` limit (operator settings).
    pub fn set_max_positions(&mut self, n: u32) {
        self.p.max_positions = n;
    }

    /// Whether entries are allowed and, if not, the most severe reason: emergency (halted),
    /// operator stop, operator pause, circuit breaker, drawdown / losing-streak pause, daily
    /// loss (reported as paused).
    pub fn run_state(&self) -> (RunState, Option<BlockReason>) {
        let o = self.operator;
        if self.emergency {
            (RunState::Halted, Some(BlockReason::EmergencyStop))
        } else if o.stopped {
            (RunState::Stopped, Some(BlockReason::OperatorStop))
        } else if o.paused {
            (RunState::Paused, Some(BlockReason::OperatorPause))
        } else if o.circuit {
            (RunState::CircuitBreaker, Some(BlockReason::CircuitBreaker))
        } else if let Some(r) = self.paused {
            (RunState::Paused, Some(r))
        } else if self.daily_blocked {
            (RunState::Paused, Some(BlockReason::DailyLoss))
        } else {
            (RunState::Running, None)
        }
    }

    /// Starting balance, quote currency.
    pub fn balance(&self) -> Decimal {
        self.balance0
    }

    /// Takes the venue's wallet and available balance (venue order routes, read on a cold
    /// thread): entries are sized from `available` from now on.
    pub fn set_venue_balance(&mut self, wallet: Decimal, available: Decimal) {
        self.venue = Some((wallet, available));
    }

    /// The venue's `(wallet, available)` balance, once read.
    pub fn venue_balance(&self) -> Option<(Decimal, Decimal)> {
        self.venue
    }

    /// What entries are sized from: the venue's available balance once read, else the equity
    /// `E` (paper, backtest: `risk.balance` + PnL).
    #[inline]
    pub fn sizing_balance(&self) -> Decimal {
        self.venue.map_or_else(|| self.equity(), |(_, a)| a)
    }

    /// Realized PnL net of fees booked so far, quote currency.
    pub fn realized(&self) -> Decimal {
        self.realized
    }

    /// Unrealized PnL of the open positions, quote currency.
    pub fn unrealized(&self) -> Decimal {
        self.unrealized
    }

    /// Losing trades in a row.
    pub fn losing_streak(&self) -> u32 {
        self.losing_streak
    }

    /// The part of the gate that survives a restart (`settings` left default: the engine's).
    pub fn risk_state(&self) -> RiskState {
        RiskState {
            day: self.day,
            day_start_equity: self.day_start,
            peak_equity: self.peak,
            loss_streak: self.losing_streak,
            daily_blocked: self.daily_blocked,
            loss_pause: self.paused == Some(BlockReason::ConsecutiveLosses),
            drawdown_pause: self.paused == Some(BlockReason::Drawdown),
            halted: self.emergency,
            stopped: self.operator.stopped,
            paused: self.operator.paused,
            circuit_until_ms: 0,
            settings: Default::default(),
        }
    }

    /// Restores a saved state (after the journal's PnL was booked). `today` is the current UTC
    /// day (`unix_ms / 86 400 000`): a saved day before it starts a fresh day (daily PnL from
    /// the current equity, daily block cleared); the peak is `max(saved, current equity)`.
    /// The circuit breaker is the compute stage's. Returns a limit the restored equity trips.
    pub fn restore(&mut self, s: &RiskState, today: u64) -> Option<Trip> {
        self.peak = self.peak.max(s.peak_equity);
        self.losing_streak = s.loss_streak;
        self.paused = if s.loss_pause {
            Some(BlockReason::ConsecutiveLosses)
        } else if s.drawdown_pause {
            Some(BlockReason::Drawdown)
        } else {
            None
        };
        self.emergency = s.halted;
        self.operator.stopped = s.stopped;
        self.operator.paused = s.paused;
        if s.day != u64::MAX && s.day >= today {
            self.day = s.day;
            self.day_start = s.day_start_equity;
            self.daily_blocked = s.daily_blocked;
        } else {
            self.day = today;
            self.day_start = self.equity();
            self.daily_blocked = false;
        }
        self.evaluate()
    }

    /// Each limit and how much of it is used now: daily loss (quote currency), drawdown pause
    /// and emergency drawdown (fractions), positions (count), portfolio risk (quote currency),
    /// losing streak (count), portfolio VaR (quote currency; limit 0 = off). O(k·W).
    pub fn limit_rows(&self) -> [LimitRow; LIMIT_ROWS] {
        let e = self.equity();
        let row = |name, limit, used| LimitRow { name, limit, used };
        [
            row(
                "daily_loss",
                self.p.daily_loss * self.day_start,
                (-self.day_pnl()).max(Decimal::ZERO),
            ),
            row("drawdown_pause", self.p.drawdown_pause, self.drawdown()),
            row(
                "emergency_drawdown",
                self.p.emergency_drawdown,
                self.drawdown(),
            ),
            row(
                "max_positions",
                Decimal::from(self.p.max_positions),
                Decimal::from(self.open_positions),
            ),
            row(
                "portfolio_risk",
                self.p.max_portfolio_risk * e,
                self.open_risk,
            ),
            row(
                "max_consecutive_losses",
                Decimal::from(self.p.max_consecutive_losses),
                Decimal::from(self.losing_streak),
            ),
            row(
                "portfolio_var",
                dec(self.p.var.map_or(0.0, |v| v.budget)) * e,
                self.book_risk(None)
                    .map_or(Decimal::ZERO, |r| dec(self.var_figure(&r))),
            ),
        ]
    }

    /// Re-checks the equity limits; returns the most severe newly tripped one. Nothing to do
    /// while the state it reads is what its last run left ([`Evaluated`]).
    #[inline]
    fn evaluate(&mut self) -> Option<Trip> {
        if self.evaluated == Some(Evaluated::of(self)) {
            return None;
        }
        let trip = self.evaluate_limits();
        self.evaluated = Some(Evaluated::of(self));
        trip
    }

    /// [`RiskGate::evaluate`]'s checks: a new peak, then daily loss, drawdown reduce, pause and
    /// emergency.
    fn evaluate_limits(&mut self) -> Option<Trip> {
        let e = self.equity();
        if dec_cmp(e, self.peak).is_gt() {
            self.peak = e;
        }
        if !self.thresholds.holds_for(self.peak, self.day_start) {
            self.thresholds = Thresholds::of(&self.p, self.peak, self.day_start);
        }
        let th = self.thresholds;
        let drop = self.peak - e;
        let mut trip = None;
        if !self.daily_blocked && dec_cmp(e - self.day_start, th.daily).is_le() {
            self.daily_blocked = true;
            trip = Some(Trip::DailyLoss);
        }
        let reduced = dec_cmp(drop, th.reduce).is_ge();
        if reduced && !self.reduced {
            trip = Some(Trip::DrawdownReduce);
        }
        self.reduced = reduced;
        if self.paused != Some(BlockReason::Drawdown) && dec_cmp(drop, th.pause).is_ge() {
            self.paused = Some(BlockReason::Drawdown);
            trip = Some(Trip::DrawdownPause);
        }
        if !self.emergency && !self.p.emergency_drawdown.is_zero() && drop >= th.emergency {
            self.emergency = true;
            trip = Some(Trip::Emergency);
        }
        trip
    }

    /// Size multiplier for sizing: `drawdown_size_multiplier` in drawdown, else 1.
    #[inline]
    pub fn size_multiplier(&self) -> f64 {
        if self.reduced {
            self.p.drawdown_size_multiplier
        } else {
            1.0
        }
    }

    /// The gate's state for the status line.
    pub fn state(&self) -> GateState {
        if self.emergency {
            GateState::Emergency
        } else if let Some(r) = self.paused {
            GateState::Paused(r)
        } else if self.daily_blocked {
            GateState::DailyLimit
        } else if self.reduced {
            GateState::Reduced
        } else {
            GateState::Normal
        }
    }

    /// May this order go? Reduce-only orders always may. Entries are checked against, in order:
    /// emergency, operator stop, operator pause, circuit breaker, pause, daily loss, inactive
    /// symbol, reconciliation, risk per trade, portfolio risk, positions, exposure,
    /// correlation; the first breached limit is the reason.
    #[inline]
    pub fn check(&self, o: &OrderCheck) -> Result<(), BlockReason> {
        if o.reduce_only {
            return Ok(());
        }
        let caps = self.caps(o.symbol, o.side)?;
        self.order_limits(&caps, o.notional, o.risk, true)
    }

    /// The first check of an entry, before it is sized: [`RiskGate::check`] of a zero order
    /// (`notional = risk = 0`, not reduce-only) on `symbol`/`side`. `Ok` carries what the second
    /// check, [`RiskGate::check_sized`], reuses: the same `E` and its limit products.
    #[inline]
    pub fn entry_caps(&self, symbol: usize, side: Side) -> Result<EntryCaps, BlockReason> {
        let caps = self.caps(symbol, side)?;
        self.order_limits(&caps, Decimal::ZERO, Decimal::ZERO, true)?;
        Ok(caps)
    }

    /// [`RiskGate::check`] of the sized entry (`notional`, `risk`; not reduce-only) on the
    /// symbol and side of `caps`, which [`RiskGate::entry_caps`] returned on this gate unchanged
    /// since. The same result: the state blocks, `E > 0`, positions and correlation depend on
    /// neither `notional` nor `risk` and passed in `entry_caps`; the rest is compared with the
    /// products it computed.
    #[inline]
    pub fn check_sized(
        &self,
        caps: &EntryCaps,
        notional: Decimal,
        risk: Decimal,
    ) -> Result<(), BlockReason> {
        self.order_limits(caps, notional, risk, false)
    }

    /// The blocks of [`RiskGate::check`] that depend on no order size, in its order (emergency
    /// … reconciliation, `E ≤ 0`), then `E`'s limit products.
    #[inline]
    fn caps(&self, symbol: usize, side: Side) -> Result<EntryCaps, BlockReason> {
        if self.emergency {
            return Err(BlockReason::EmergencyStop);
        }
        if self.operator != Operator::default() {
            let o = self.operator;
            return Err(if o.stopped {
                BlockReason::OperatorStop
            } else if o.paused {
                BlockReason::OperatorPause
            } else {
                BlockReason::CircuitBreaker
            });
        }
        if let Some(r) = self.paused {
            return Err(r);
        }
        if self.daily_blocked {
            return Err(BlockReason::DailyLoss);
        }
        let Some(s) = self.symbols.get(symbol) else {
            return Err(BlockReason::BadInput);
        };
        if s.inactive {
            return Err(BlockReason::Inactive);
        }
        if s.unreconciled || s.unknown_order {
            return Err(BlockReason::Unreconciled);
        }
        let e = self.equity();
        // `e ≤ 0` by value, without the crate's comparison.
        if e.is_zero() || e.is_sign_negative() {
            return Err(BlockReason::Drawdown);
        }
        Ok(EntryCaps {
            symbol,
            dir: match side {
                Side::Buy => 1,
                Side::Sell => -1,
            },
            equity: e,
            risk: dec_mul(self.p.max_risk_per_trade, e),
            portfolio: dec_mul(self.p.max_portfolio_risk, e),
            exposure: dec_mul(self.p.max_symbol_exposure, e),
            equity_f64: dec_f64(e),
        })
    }

    /// `dec_f64(sizing_balance())` for an entry checked by [`RiskGate::entry_caps`] (`caps`)
    /// on this gate unchanged since: the equity's double from `caps` when the balance is `E`.
    #[inline]
    pub fn sizing_balance_f64(&self, caps: &EntryCaps) -> f64 {
        match self.venue {
            None => caps.equity_f64,
            Some((_, a)) => dec_f64(a),
        }
    }

    /// The rest of [`RiskGate::check`] after [`RiskGate::caps`], in its order: risk per trade,
    /// portfolio risk, positions (when `fixed`), exposure, correlation (when `fixed`), VaR.
    /// Inlined into each caller, so a zero order (`entry_caps`) and `fixed` fold away.
    #[inline(always)]
    fn order_limits(
        &self,
        c: &EntryCaps,
        notional: Decimal,
        risk: Decimal,
        fixed: bool,
    ) -> Result<(), BlockReason> {
        let Some(s) = self.symbols.get(c.symbol) else {
            return Err(BlockReason::BadInput);
        };
        if dec_cmp(risk, c.risk).is_gt() {
            return Err(BlockReason::RiskPerTrade);
        }
        // A zero order (`entry_caps`) compares the held figures themselves: the sums with
        // zero are the same values, and `dec_cmp` compares values.
        let open_risk = if risk.is_zero() {
            self.open_risk
        } else {
            self.open_risk + risk
        };
        if dec_cmp(open_risk, c.portfolio).is_gt() {
            return Err(BlockReason::PortfolioRisk);
        }
        if fixed && !s.held() && self.open_positions >= self.p.max_positions {
            return Err(BlockReason::MaxPositions);
        }
        let dir = c.dir;
        let after = if notional.is_zero() {
            s.notional
        } else {
            s.notional + if dir > 0 { notional } else { -notional }
        };
        if dec_cmp(after.abs(), c.exposure).is_gt() {
            return Err(BlockReason::SymbolExposure);
        }
        // Only the open positions (k ≤ max_positions), each pair O(W) on demand.
        // `ρ ∈ [−1, 1]`: a limit of 1 or more never refuses, so no pair is computed.
        if fixed
            && self.p.correlation_mode == CorrelationMode::Block
            && self.p.max_correlation < 1.0
        {
            for &i in &self.book {
                let od = self.symbols[i].direction();
                if i == c.symbol || od == 0 {
                    continue;
                }
                if let Some(rho) = self.corr.corr(i, c.symbol) {
                    if f64::from(od * dir) * rho > self.p.max_correlation {
                        return Err(BlockReason::Correlation);
                    }
                }
            }
        }
        if let Some(v) = self.p.var.filter(|_| !notional.is_zero()) {
            // `dec_f64` is `to_f64` (the same double) on integers when the mantissa fits.
            let add = f64::from(dir) * dec_f64(notional);
            let extra = Some((c.symbol, add));
            let budget = v.budget * c.equity_f64;
            if !self.var_surely_within(extra, v, budget) {
                // `var::measure` of `book_risk(extra)`, computing that figure alone.
                let figure = (v.method, v.measure, v.level);
                let h = self.p.var_horizon_bars;
                let weights = || self.weights(extra);
                if let Some(m) = var::book_measure(&self.corr, weights, h, figure) {
                    if m > budget {
                        return Err(BlockReason::PortfolioVar);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Everything [`RiskGate::evaluate`] reads of the gate (`p` and the thresholds aside: fixed,
/// and a function of `peak` and `day_start`), decimals by representation. `evaluate` is
/// idempotent: on the state it left, the peak stays, the thresholds hold, the comparisons
/// are the same and every limit they trip is already set (`reduced` to the same value), so
/// it returns `None` and changes nothing. Any other change to these fields shows here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Evaluated {
    equity: u128,
    peak: u128,
    day_start: u128,
    daily_blocked: bool,
    reduced: bool,
    paused: Option<BlockReason>,
    emergency: bool,
}

impl Evaluated {
    /// The gate's current values.
    #[inline]
    fn of(g: &RiskGate) -> Self {
        let bits = |d: Decimal| u128::from_le_bytes(d.serialize());
        Self {
            equity: bits(g.equity),
            peak: bits(g.peak),
            day_start: bits(g.day_start),
            daily_blocked: g.daily_blocked,
            reduced: g.reduced,
            paused: g.paused,
            emergency: g.emergency,
        }
    }
}

/// What [`RiskGate::entry_caps`] found for an entry, reused by [`RiskGate::check_sized`]:
/// the symbol, direction, equity `E` and its limit products (quote currency).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntryCaps {
    symbol: usize,
    dir: i8,
    equity: Decimal,
    /// `max_risk_per_trade · E`.
    risk: Decimal,
    /// `max_portfolio_risk · E`.
    portfolio: Decimal,
    /// `max_symbol_exposure · E`.
    exposure: Decimal,
    /// `dec_f64(E)`.
    equity_f64: f64,
}

impl EntryCaps {
    /// `E`, the gate's equity at the check.
    #[inline]
    pub fn equity(&self) -> Decimal {
        self.equity
    }

    /// `max_symbol_exposure · E`: the cap on the symbol's `|notional|`.
    #[inline]
    pub fn exposure(&self) -> Decimal {
        self.exposure
    }
}

/// One step of an emergency stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmergencyAction {
    /// Cancel every open order on every symbol (first).
    CancelAllOrders,
    /// Close symbol `symbol`'s position: a reduce-only market order.
    Close {
        /// Symbol index.
        symbol: usize,
        /// Opposite of the position.
        side: Side,
        /// `|position|`.
        qty: Decimal,
    },
}

/// The emergency stop's actions for signed positions `(symbol, qty)`: cancel all orders, then a
/// reduce-only close of each non-zero position. A lazy iterator: no allocation.
pub fn emergency_actions<I>(positions: I) -> impl Iterator<Item = EmergencyAction>
where
    I: IntoIterator<Item = (usize, Decimal)>,
{
    std::iter::once(EmergencyAction::CancelAllOrders).chain(
        positions
            .into_iter()
            .filter(|(_, q)| !q.is_zero())
            .map(|(symbol, q)| EmergencyAction::Close {
                symbol,
                side: if q.is_sign_positive() {
                    Side::Sell
                } else {
                    Side::Buy
                },
                qty: q.abs(),
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    const T0: u64 = 1_723_161_600_000; // 2024-08-09 00:00:00 UTC

    fn gate() -> RiskGate {
        RiskGate::from_config(&LimitsConfig::default(), d("10000"), 3)
    }

    fn entry(symbol: usize, side: Side, notional: &str, risk: &str) -> OrderCheck {
        OrderCheck {
            symbol,
            side,
            notional: d(notional),
            risk: d(risk),
            reduce_only: false,
        }
    }

    fn exit(symbol: usize, side: Side) -> OrderCheck {
        OrderCheck {
            reduce_only: true,
            ..entry(symbol, side, "1000000", "1000000")
        }
    }

    /// `evaluate`'s skip ([`Evaluated`]) changes nothing: a gate that evaluates every time
    /// (its record cleared before each step) trips the same limits and ends in the same state
    /// over random marks (repeated ones too), fills, closed trades, day rolls, resumes and
    /// emergency stops, with drawdown and daily limits close enough to trip.
    /// The equity kept from `base = balance0 + realized` is the decimal the replaced
    /// `balance0 + realized + unrealized` gives, representation included, over random fills
    /// (P&L and fees of several scales, signs and zeros), marks and closes, for several
    /// starting balances.
    #[test]
    fn equity_from_base_is_the_three_term_sum_bit_for_bit() {
        let mut state = 0x6A09_E667_F3BC_C908u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let dec = |next: &mut dyn FnMut(u64) -> u64| {
            let m = next(2_000_001) as i64 - 1_000_000;
            Decimal::new(m * [1, 1, 7, 1_000][next(4) as usize], next(9) as u32)
        };
        let bits = |x: Decimal| x.serialize();
        let mut checks = 0;
        for start in ["10000", "10000.00", "2500.5", "0.001"] {
            let mut g = RiskGate::from_config(&LimitsConfig::default(), d(start), 3);
            let mut ts = T0;
            for _ in 0..20_000 {
                ts += next(5_000);
                let sym = next(3) as usize;
                match next(4) {
                    0 => {
                        let (pnl, fee) = (dec(&mut next), dec(&mut next).abs());
                        g.on_fill(pnl, fee, ts);
                    }
                    1 => {
                        let n = dec(&mut next);
                        g.set_position(sym, n, n.abs() / Decimal::from(50));
                    }
                    _ => {
                        let u = dec(&mut next);
                        g.set_unrealized(sym, u, ts);
                    }
                }
                let want = g.balance0 + g.realized + g.unrealized;
                assert_eq!(bits(g.equity()), bits(want), "start {start}");
                assert_eq!(bits(g.base), bits(g.balance0 + g.realized));
                checks += 1;
            }
        }
        assert_eq!(checks, 80_000);
    }

    #[test]
    fn skipping_a_repeated_evaluation_changes_nothing() {
        let mut state = 0x2F5A_8C3D_9E1B_4706u64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut trips = 0;
        for _ in 0..300 {
            let c = LimitsConfig {
                daily_loss: 0.02,
                drawdown_reduce: 0.01,
                drawdown_pause: 0.03,
                emergency_drawdown: 0.05,
                max_consecutive_losses: 3,
                ..LimitsConfig::default()
            };
            let mut a = RiskGate::from_config(&c, d("10000"), 3);
            let mut b = a.clone();
            let mut ts = T0;
            for _ in 0..200 {
                b.evaluated = None;
                let s = next(3) as usize;
                let u = Decimal::new(next(1_200) as i64 - 700, next(2) as u32);
                let (ta, tb) = match next(12) {
                    0 => {
                        let pnl = Decimal::new(next(400) as i64 - 250, 0);
                        (a.on_fill(pnl, d("0.5"), ts), b.on_fill(pnl, d("0.5"), ts))
                    }
                    1 => {
                        let pnl = Decimal::new(next(100) as i64 - 60, 0);
                        (a.on_trade_closed(pnl), b.on_trade_closed(pnl))
                    }
                    2 => {
                        a.resume();
                        b.resume();
                        (None, None)
                    }
                    3 => (a.emergency_stop(), b.emergency_stop()),
                    4 => {
                        ts += 86_400_000 * next(2);
                        (a.set_unrealized(s, u, ts), b.set_unrealized(s, u, ts))
                    }
                    // The same mark again (a quiet tick on an unchanged price).
                    5 | 6 => {
                        let u = a.symbols[s].unrealized;
                        (a.set_unrealized(s, u, ts), b.set_unrealized(s, u, ts))
                    }
                    _ => (a.set_unrealized(s, u, ts), b.set_unrealized(s, u, ts)),
                };
                assert_eq!(ta, tb);
                trips += usize::from(ta.is_some());
                assert_eq!(a.state(), b.state());
                assert_eq!(a.run_state(), b.run_state());
                assert_eq!(a.size_multiplier(), b.size_multiplier());
                assert_eq!(a.equity().serialize(), b.equity().serialize());
                assert_eq!(a.risk_state(), b.risk_state());
            }
        }
        assert!(trips > 500, "{trips} trips");
    }

    /// The entry's two-step check (`entry_caps`, then `check_sized` with the sized order) gives
    /// what `check` of the zero order and then (when that passes) of the sized one give, over
    /// random books, equities, position limits and orders (every limit binding, VaR on and off).
    #[test]
    fn two_step_entry_check_is_check() {
        let mut state = 0x853C_49E6_748F_EA9Bu64;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let (mut blocks, mut oks) = ([0usize; 32], 0);
        for round in 0..400 {
            let mut c = LimitsConfig {
                max_positions: 1 + next(3) as u32,
                ..LimitsConfig::default()
            };
            if round % 2 == 1 {
                c.var_budget = 0.001 * (1 + next(20)) as f64;
                c.corr_min_bars = 2;
            }
            let mut g = RiskGate::from_config(&c, Decimal::new(1 + next(20_000) as i64, 0), 3);
            for k in 0..40u64 {
                let s = next(3) as usize;
                match next(5) {
                    0 => {
                        let q = next(4_000) as i64 - 2_000;
                        g.set_position(s, Decimal::new(q, 1), Decimal::new(next(3_000) as i64, 2));
                    }
                    1 => {
                        let u = Decimal::new(next(400_000) as i64 - 200_000, 2);
                        g.set_unrealized(s, u, T0 + k);
                    }
                    2 => g.on_price(s, 100.0 + next(1_000) as f64 * 0.1, T0 + k * 60_000),
                    _ => {}
                }
                let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                let o = entry(s, side, "0", "0");
                let sized = OrderCheck {
                    notional: Decimal::new(next(5_000_000) as i64, 2),
                    risk: Decimal::new(next(40_000) as i64, 2),
                    ..o
                };
                let caps = g.entry_caps(s, side);
                assert_eq!(caps.map(|_| ()), g.check(&o));
                // The engine's two checks before: the zero order's block, else the sized one's.
                let two = caps.and_then(|c| g.check_sized(&c, sized.notional, sized.risk));
                assert_eq!(two, g.check(&o).and_then(|()| g.check(&sized)), "{sized:?}");
                match two {
                    Ok(()) => oks += 1,
                    Err(r) => blocks[r.index()] += 1,
                }
            }
        }
        let kinds = blocks.iter().filter(|&&n| n > 50).count();
        assert!(oks > 500 && kinds >= 4, "{oks} ok, blocks {blocks:?}");
    }

    #[test]
    fn risk_per_trade_and_portfolio_risk() {
        let mut g = gate();
        // 2 % of 10 000 = 200.
        assert_eq!(g.check(&entry(0, Side::Buy, "1000", "200")), Ok(()));
        assert_eq!(
            g.check(&entry(0, Side::Buy, "1000", "200.01")),
            Err(BlockReason::RiskPerTrade)
        );
        // Portfolio 5 % = 500: 2 × 200 open, +150 → 550 > 500.
        g.set_position(0, d("1000"), d("200"));
        g.set_position(1, d("-1000"), d("200"));
        assert_eq!(g.open_risk(), d("400"));
        assert_eq!(
            g.check(&entry(2, Side::Buy, "1000", "150")),
            Err(BlockReason::PortfolioRisk)
        );
        assert_eq!(g.check(&entry(2, Side::Buy, "1000", "100")), Ok(()));
        // Closing one frees its risk exactly.
        g.set_position(1, Decimal::ZERO, Decimal::ZERO);
        assert_eq!(g.open_risk(), d("200"));
        assert_eq!(g.open_positions(), 1);
        assert_eq!(g.check(&entry(2, Side::Buy, "1000", "150")), Ok(()));
    }

    #[test]
    fn max_positions_blocks_new_symbols_only() {
        let c = LimitsConfig {
            max_positions: 2,
            ..LimitsConfig::default()
        };
        let mut g = RiskGate::from_config(&c, d("10000"), 3);
        g.set_position(0, d("100"), d("1"));
        g.set_position(1, d("100"), d("1"));
        assert_eq!(
            g.check(&entry(2, Side::Buy, "100", "1")),
            Err(BlockReason::MaxPositions)
        );
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()), "adding");
    }

    /// An exit decided but not yet filled (the venue may refuse it, or not have executed it
    /// yet) keeps its slot: the soak saw two positions open at once at the exchange with
    /// `max_positions = 1` when the slot was freed at the exit's decision.
    #[test]
    fn an_exit_frees_its_position_slot_only_once_filled() {
        let c = LimitsConfig {
            max_positions: 1,
            ..LimitsConfig::default()
        };
        let mut g = RiskGate::from_config(&c, d("10000"), 2);
        // Entry on 0 decided, then filled.
        g.set_position(0, d("100"), d("1"));
        g.set_live(0, true);
        assert_eq!(g.open_positions(), 1);
        // Exit on 0 decided: the decided position is flat, the filled one is not.
        g.set_position(0, Decimal::ZERO, Decimal::ZERO);
        assert_eq!(g.open_positions(), 1);
        assert_eq!(
            g.check(&entry(1, Side::Buy, "100", "1")),
            Err(BlockReason::MaxPositions)
        );
        // The exit filled: the slot is free.
        g.set_live(0, false);
        assert_eq!(g.open_positions(), 0);
        assert_eq!(g.check(&entry(1, Side::Buy, "100", "1")), Ok(()));
        // An entry counts from its decision, before any fill.
        g.set_position(1, d("-100"), d("1"));
        assert_eq!(
            g.check(&entry(0, Side::Buy, "100", "1")),
            Err(BlockReason::MaxPositions)
        );
        // An order of unknown outcome holds its symbol's slot (the venue may have filled it).
        g.set_position(1, Decimal::ZERO, Decimal::ZERO);
        assert_eq!(g.open_positions(), 0);
        g.set_unknown_order(1, true);
        assert_eq!(g.open_positions(), 1);
        assert_eq!(
            g.check(&entry(0, Side::Buy, "100", "1")),
            Err(BlockReason::MaxPositions)
        );
        g.set_unknown_order(1, false);
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()));
    }

    #[test]
    fn symbol_exposure_counts_the_existing_position_and_direction() {
        let mut g = gate();
        // Cap 2.5 × 10 000 = 25 000.
        g.set_position(0, d("20000"), d("10"));
        assert_eq!(
            g.check(&entry(0, Side::Buy, "5000.01", "1")),
            Err(BlockReason::SymbolExposure)
        );
        assert_eq!(g.check(&entry(0, Side::Buy, "5000", "1")), Ok(()));
        assert_eq!(
            g.check(&entry(0, Side::Sell, "45000", "1")),
            Ok(()),
            "flip to −25 000"
        );
    }

    #[test]
    fn daily_loss_blocks_until_the_next_utc_day() {
        let mut g = gate();
        g.on_price(0, 100.0, T0 + 1_000);
        // 5 % of 10 000 = 500: −499.99 passes, −500 trips.
        assert_eq!(g.on_fill(d("-499.99"), Decimal::ZERO, T0 + 2_000), None);
        assert_eq!(
            g.on_fill(Decimal::ZERO, d("0.01"), T0 + 3_000),
            Some(Trip::DailyLoss)
        );
        assert_eq!(g.state(), GateState::DailyLimit);
        assert_eq!(
            g.check(&entry(0, Side::Buy, "100", "1")),
            Err(BlockReason::DailyLoss)
        );
        assert_eq!(
            g.check(&exit(0, Side::Sell)),
            Ok(()),
            "exits always allowed"
        );
        // Recovering within the day does not clear it.
        g.on_fill(d("600"), Decimal::ZERO, T0 + 86_399_999);
        assert_eq!(
            g.check(&entry(0, Side::Buy, "100", "1")),
            Err(BlockReason::DailyLoss)
        );
        // The next UTC day (exchange time) clears it; its start equity is 10 100.
        g.on_price(0, 100.0, T0 + 86_400_000);
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()));
        assert_eq!(g.day_pnl(), Decimal::ZERO);
        assert_eq!(g.equity(), d("10100"));
    }

    #[test]
    fn unrealized_losses_count_toward_daily_loss_and_drawdown() {
        let mut g = gate();
        g.set_position(0, d("20000"), d("100"));
        assert_eq!(g.set_unrealized(0, d("-400"), T0), None);
        assert_eq!(
            g.set_unrealized(0, d("-600"), T0 + 1),
            Some(Trip::DailyLoss)
        );
        assert_eq!(g.equity(), d("9400"));
        assert_eq!(g.drawdown(), d("0.06"));
    }

    /// Peak 10 000: −10 % → size × 0.5; −15 % → pause; −20 % → emergency.
    #[test]
    fn drawdown_reduces_then_pauses_then_emergency() {
        let c = LimitsConfig {
            daily_loss: 0.5, // keep the daily limit out of the way
            ..LimitsConfig::default()
        };
        let mut g = RiskGate::from_config(&c, d("10000"), 2);
        assert_eq!(g.on_fill(d("1000"), Decimal::ZERO, T0), None);
        // Peak 11 000: 10 % = 1 100.
        assert_eq!(g.on_fill(d("-1099"), Decimal::ZERO, T0), None);
        assert_eq!(g.size_multiplier(), 1.0);
        assert_eq!(
            g.on_fill(d("-1"), Decimal::ZERO, T0),
            Some(Trip::DrawdownReduce)
        );
        assert_eq!(g.size_multiplier(), 0.5);
        assert_eq!(g.state(), GateState::Reduced);
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()));
        // 15 % of 11 000 = 1 650.
        assert_eq!(
            g.on_fill(d("-550"), Decimal::ZERO, T0),
            Some(Trip::DrawdownPause)
        );
        assert_eq!(
            g.check(&entry(0, Side::Buy, "100", "1")),
            Err(BlockReason::Drawdown)
        );
        assert_eq!(g.check(&exit(0, Side::Sell)), Ok(()));
        // Recovery does not unpause; an operator does.
        g.on_fill(d("2000"), Decimal::ZERO, T0);
        assert_eq!(
            g.check(&entry(0, Side::Buy, "100", "1")),
            Err(BlockReason::Drawdown)
        );
        g.resume();
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()));
        // From the new peak 11 350: 20 % = 2 270 → emergency.
        assert_eq!(
            g.on_fill(d("-2270"), Decimal::ZERO, T0),
            Some(Trip::Emergency)
        );
        assert_eq!(g.state(), GateState::Emergency);
        assert_eq!(
            g.check(&entry(1, Side::Sell, "100", "1")),
            Err(BlockReason::EmergencyStop)
        );
        assert_eq!(g.check(&exit(1, Side::Buy)), Ok(()));
    }

    #[test]
    fn losing_streak_pauses_until_resume() {
        let mut g = gate();
        for _ in 0..4 {
            assert_eq!(g.on_trade_closed(d("-1")), None);
        }
        assert_eq!(g.on_trade_closed(d("2")), None, "a win resets the streak");
        for _ in 0..4 {
            g.on_trade_closed(d("-1"));
        }
        assert_eq!(g.on_trade_closed(d("-1")), Some(Trip::ConsecutiveLosses));
        assert_eq!(g.state().name(), "paused_losses");
        assert_eq!(
            g.check(&entry(0, Side::Buy, "100", "1")),
            Err(BlockReason::ConsecutiveLosses)
        );
        g.resume();
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()));
    }

    #[test]
    fn emergency_stop_cancels_then_closes_every_position() {
        let mut g = gate();
        assert_eq!(g.emergency_stop(), Some(Trip::Emergency));
        assert_eq!(g.emergency_stop(), None, "once");
        let acts: Vec<_> =
            emergency_actions([(0, d("0.016")), (1, Decimal::ZERO), (2, d("-1.5"))]).collect();
        assert_eq!(
            acts,
            vec![
                EmergencyAction::CancelAllOrders,
                EmergencyAction::Close {
                    symbol: 0,
                    side: Side::Sell,
                    qty: d("0.016")
                },
                EmergencyAction::Close {
                    symbol: 2,
                    side: Side::Buy,
                    qty: d("1.5")
                },
            ]
        );
        assert_eq!(
            g.check(&entry(0, Side::Buy, "1", "0")),
            Err(BlockReason::EmergencyStop)
        );
    }

    #[test]
    fn correlated_same_way_entry_is_blocked_hedge_is_not() {
        let c = LimitsConfig {
            corr_min_bars: 10,
            ..LimitsConfig::default()
        };
        let mut g = RiskGate::from_config(&c, d("10000"), 2);
        let (mut x0, mut x1) = (0.0f64, 0.0f64);
        for k in 0..40u64 {
            let r = 1e-4 * ((k * 7 % 5) as f64 - 2.0);
            x0 += r;
            x1 += 2.0 * r;
            g.on_price(0, 100.0 * x0.exp(), T0 + k * 1_000);
            g.on_price(1, 50.0 * x1.exp(), T0 + k * 1_000 + 1);
        }
        assert!(g.correlation().corr(0, 1).unwrap() > 0.99);
        g.set_position(0, d("1000"), d("10"));
        assert_eq!(
            g.check(&entry(1, Side::Buy, "1000", "10")),
            Err(BlockReason::Correlation)
        );
        assert_eq!(
            g.check(&entry(1, Side::Sell, "1000", "10")),
            Ok(()),
            "a hedge"
        );
    }

    /// The peak VaR/ES, now computed by a job on quiet ticks ([`RiskGate::peak_step`]), is
    /// bit for bit the peak of `book_risk(None)` taken right after each bar close (the old
    /// per-tick computation), read at random moments (job pending or not): three symbols,
    /// random-walk prices with 0 to 3 ticks per bar and gaps, random positions opened,
    /// resized and closed between ticks, random numbers of quiet-tick steps.
    #[test]
    fn peak_risk_is_the_peak_of_book_risk_at_bar_closes() {
        let c = LimitsConfig {
            corr_min_bars: 20,
            corr_window_bars: 90,
            ..LimitsConfig::default()
        };
        let mut g = RiskGate::from_config(&c, d("10000"), 3);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let bits = |r: PortfolioRisk| {
            let f = [r.gross, r.sigma, r.var_parametric[0], r.var_parametric[1]];
            let v = [r.es_parametric, r.var_historical, r.es_historical];
            (
                r.samples,
                f.map(f64::to_bits),
                v.map(|x| x.map(f64::to_bits)),
            )
        };
        let mut want = PortfolioRisk::default();
        let mut x = [0.0f64; 3];
        let (mut ts, mut closes, mut checks) = (T0, 0, 0);
        for _ in 0..6_000 {
            ts += [0, 1, 250, 900, 1_000, 3_500][next(6) as usize];
            let s = next(3) as usize;
            x[s] += 1e-3 * (next(2_001) as f64 - 1_000.0) / 1_000.0;
            let bars = g.correlation().bars();
            g.on_price(s, 100.0 * (s + 1) as f64 * x[s].exp(), ts);
            if g.correlation().bars() != bars {
                closes += 1;
                if let Some(r) = g.book_risk(None) {
                    want = var::peak(&want, &r);
                }
            }
            for _ in 0..next(4) {
                g.peak_step();
            }
            if next(10) == 0 {
                let p = next(3) as usize;
                let n = match next(4) {
                    0 => Decimal::ZERO,
                    k => Decimal::from(next(20_000) as i64 - 10_000) * Decimal::from(k),
                };
                g.set_position(p, n, n.abs() / Decimal::from(100));
            }
            if next(20) == 0 {
                assert_eq!(bits(g.peak_risk()), bits(want), "at {ts}");
                checks += 1;
            }
        }
        assert_eq!(bits(g.peak_risk()), bits(want));
        assert!(
            want.samples > 0 && closes > 1_000 && checks > 100,
            "{closes} {want:?}"
        );
    }

    /// `var_surely_within` as it was: over `weights(extra)` filtered to the non-zero ones.
    fn var_surely_within_reference(
        g: &RiskGate,
        extra: Option<(usize, f64)>,
        v: VarLimit,
        budget: f64,
    ) -> bool {
        let (mut c, mut s) = (usize::MAX, 0.0);
        for (i, w) in g.weights(extra).filter(|(_, w)| *w != 0.0) {
            c = c.min(g.corr.samples(i));
            s += w.abs() * g.corr.ring_sq_bound(i).sqrt();
        }
        if c == usize::MAX || c < g.corr.min_bars().max(2) {
            return true;
        }
        let h = g.p.var_horizon_bars;
        var::measure_bound(s, c, h, v.method, v.measure, v.level) <= budget
    }

    /// The one-loop `var_surely_within` answers as the one over `weights`, over random books
    /// (zero, long, short notionals), windows filling up, extras on held and new symbols
    /// (also zero) and budgets either side of the bound.
    #[test]
    fn var_surely_within_is_its_weights_form() {
        let c = LimitsConfig {
            corr_min_bars: 5,
            corr_window_bars: 40,
            ..LimitsConfig::default()
        };
        let mut g = RiskGate::from_config(&c, d("10000"), 4);
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut x = [0.0f64; 4];
        let (mut ts, mut both, mut within, mut checks) = (T0, 0, 0, 0);
        for _ in 0..20_000 {
            ts += [0, 1, 250, 900, 1_000, 3_500][next(6) as usize];
            let s = next(4) as usize;
            x[s] += 1e-3 * (next(2_001) as f64 - 1_000.0) / 1_000.0;
            g.on_price(s, 100.0 * (s + 1) as f64 * x[s].exp(), ts);
            if next(8) == 0 {
                let p = next(4) as usize;
                let n = match next(4) {
                    0 => Decimal::ZERO,
                    k => Decimal::from(next(20_000) as i64 - 10_000) * Decimal::from(k),
                };
                g.set_position(p, n, n.abs() / Decimal::from(100));
            }
            for _ in 0..4 {
                let extra = match next(5) {
                    0 => None,
                    1 => Some((next(4) as usize, 0.0)),
                    _ => Some((next(4) as usize, next(40_001) as f64 - 20_000.0)),
                };
                let v = VarLimit {
                    budget: 0.0,
                    method: [VarMethod::Parametric, VarMethod::Historical][next(2) as usize],
                    measure: [VarMeasure::Var, VarMeasure::Es][next(2) as usize],
                    level: next(2) as usize,
                };
                let budget = next(2_000) as f64 * [0.01, 1.0, 100.0][next(3) as usize];
                let want = var_surely_within_reference(&g, extra, v, budget);
                assert_eq!(
                    g.var_surely_within(extra, v, budget),
                    want,
                    "{extra:?} {budget}"
                );
                checks += 1;
                within += usize::from(want);
                both += usize::from(!want);
            }
        }
        assert!(
            checks > 50_000 && within > 5_000 && both > 5_000,
            "{within} {both}"
        );
    }

    #[test]
    fn unreconciled_symbol_blocks_entries_only() {
        let mut g = gate();
        g.set_unreconciled(1, true);
        assert_eq!(
            g.check(&entry(1, Side::Buy, "100", "1")),
            Err(BlockReason::Unreconciled)
        );
        assert_eq!(g.check(&exit(1, Side::Sell)), Ok(()));
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()));
    }

    #[test]
    fn an_order_of_unknown_outcome_blocks_entries_only_until_cleared() {
        let mut g = gate();
        g.set_unknown_order(1, true);
        assert_eq!(
            g.check(&entry(1, Side::Buy, "100", "1")),
            Err(BlockReason::Unreconciled)
        );
        assert_eq!(g.check(&exit(1, Side::Sell)), Ok(()));
        assert_eq!(g.check(&entry(0, Side::Buy, "100", "1")), Ok(()));
        g.set_unknown_order(1, false);
        assert_eq!(g.check(&entry(1, Side::Buy, "100", "1")), Ok(()));
    }
}
