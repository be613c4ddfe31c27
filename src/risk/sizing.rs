//! Order size of an entry: fixed notional (legacy [`Sizing`]) or fixed-fractional risk, scaled by
//! fractional Kelly and volatility targeting, capped by risk, leverage (config, venue and the
//! opt-in account tiers) and the venue's max quantity, floored to the quantity step.
//!
//! All f64 inside the model; the result is an exact `Decimal` quantity on the venue's step whose
//! notional at the reference price (on tick) never exceeds `balance × leverage cap`.

use rust_decimal::Decimal;

use super::block::{BlockReason, EntryBlock};
use super::config::RiskConfig;
use super::config::{LeverageProfile, SizingConfig, SizingMethod, MAX_LEVERAGE_TIERS};
use crate::types::fixed::{dec_cmp, dec_f64, f64_decimal, mantissa_i64, positive_finite, POW10};
use crate::types::Instrument;

/// Fixed-notional sizing with a leverage cap (kept for the engine's current call site).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizing {
    /// Target notional of a new position, quote currency (USDT).
    pub order_notional: f64,
    /// Account balance used for the leverage cap, quote currency.
    pub balance: f64,
    /// Maximum leverage: `notional ≤ balance × max_leverage`.
    pub max_leverage: f64,
}

impl Sizing {
    /// Desired base quantity at `price`: `min(order_notional, balance·max_leverage) / price`.
    /// Rounding down to the venue's step happens in execution, in `Decimal`.
    #[inline]
    pub fn entry_qty(&self, price: f64) -> f64 {
        let notional = self.order_notional.min(self.balance * self.max_leverage);
        if price > 0.0 && notional > 0.0 {
            notional / price
        } else {
            0.0
        }
    }
}

/// Running win rate and payoff of closed trades, for fractional Kelly. O(1) per trade.
///
/// Break-even trades (PnL exactly 0) are ignored: they carry no information on `p` or `b`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TradeStats {
    /// Winning trades.
    pub wins: u32,
    /// Losing trades.
    pub losses: u32,
    /// Sum of winning PnL (> 0), quote currency.
    pub sum_win: f64,
    /// Sum of |losing PnL| (> 0), quote currency.
    pub sum_loss: f64,
}

impl TradeStats {
    /// Records one closed trade's net PnL (quote currency).
    #[inline]
    pub fn record(&mut self, pnl: f64) {
        if pnl > 0.0 {
            self.wins += 1;
            self.sum_win += pnl;
        } else if pnl < 0.0 {
            self.losses += 1;
            self.sum_loss -= pnl;
        }
    }

    /// Trades counted (`wins + losses`).
    #[inline]
    pub fn trades(&self) -> u32 {
        self.wins + self.losses
    }

    /// Full Kelly fraction `f* = p − (1 − p)/b`, `p = wins/trades`, `b = avg win / avg loss`;
    /// `f* = p` with no loss yet (b → ∞), `−1` with no win yet, `None` before any trade.
    /// Negative means no edge.
    #[inline]
    pub fn kelly(&self) -> Option<f64> {
        let n = self.trades();
        if n == 0 {
            return None;
        }
        let p = self.wins as f64 / n as f64;
        if self.wins == 0 {
            return Some(-1.0);
        }
        if self.losses == 0 {
            return Some(p);
        }
        let b = (self.sum_win / self.wins as f64) / (self.sum_loss / self.losses as f64);
        Some(p - (1.0 - p) / b)
    }
}

/// The opt-in account-size leverage tiers, as a fixed array (no allocation on the hot path).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeverageTiers {
    /// `(max_balance, max_leverage)`, ascending `max_balance`, last `max_balance = ∞`.
    tiers: [(f64, f64); MAX_LEVERAGE_TIERS],
    len: usize,
}

impl LeverageTiers {
    /// Tiers from `(max_balance, max_leverage)` pairs (ascending; at most [`MAX_LEVERAGE_TIERS`]).
    pub fn new(pairs: &[(f64, f64)]) -> Self {
        let mut tiers = [(f64::INFINITY, 0.0); MAX_LEVERAGE_TIERS];
        let len = pairs.len().min(MAX_LEVERAGE_TIERS);
        tiers[..len].copy_from_slice(&pairs[..len]);
        Self { tiers, len }
    }

    /// Leverage cap of the first tier with `balance ≤ max_balance` (the last tier's above all).
    #[inline]
    pub fn cap(&self, balance: f64) -> f64 {
        let t = &self.tiers[..self.len];
        t.iter()
            .find(|(max_balance, _)| balance <= *max_balance)
            .or(t.last())
            .map_or(0.0, |&(_, lev)| lev)
    }
}

/// Sizing parameters, built once from the config; `Copy`, no heap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizingParams {
    /// Base sizing method.
    pub method: SizingMethod,
    /// `fixed_notional`: notional per entry, quote currency.
    pub order_notional: f64,
    /// `fixed_fractional`: fraction of balance risked per trade.
    pub risk_per_trade: f64,
    /// Hard cap of the risked fraction (`[risk.limits] max_risk_per_trade`), any method.
    pub max_risk_per_trade: f64,
    /// Leverage cap from the config.
    pub max_leverage: f64,
    /// Fractional Kelly: `(multiplier, min closed trades, max risk)`, if enabled.
    pub kelly: Option<(f64, u32, f64)>,
    /// Volatility targeting: `(target σ, min scale, max scale)`, if enabled.
    pub vol: Option<(f64, f64, f64)>,
    /// Account-size tiers, if the `account_tiers` profile is chosen.
    pub tiers: Option<LeverageTiers>,
}

impl SizingParams {
    /// From a validated `[risk]` section.
    pub fn from_config(r: &RiskConfig) -> Self {
        let s: &SizingConfig = &r.sizing;
        let pairs: Vec<(f64, f64)> = s
            .leverage_tiers
            .iter()
            .map(|t| (t.max_balance, t.max_leverage))
            .collect();
        Self {
            method: s.method,
            order_notional: r.order_notional,
            risk_per_trade: s.risk_per_trade,
            max_risk_per_trade: r.limits.max_risk_per_trade,
            max_leverage: r.max_leverage,
            kelly: s.kelly_enabled.then_some((
                s.kelly_fraction,
                s.kelly_min_trades,
                s.kelly_max_risk,
            )),
            vol: s
                .vol_target_enabled
                .then_some((s.vol_target, s.vol_min_scale, s.vol_max_scale)),
            tiers: (s.leverage_profile == LeverageProfile::AccountTiers)
                .then(|| LeverageTiers::new(&pairs)),
        }
    }

    /// Effective leverage cap `L = min(max_leverage, venue max, tier(balance))`; a venue maximum
    /// that is not positive and finite is treated as unknown (no venue cap).
    #[inline]
    pub fn leverage_cap(&self, balance: f64, venue_max_leverage: f64) -> f64 {
        let mut l = self.max_leverage;
        if positive_finite(venue_max_leverage) {
            l = l.min(venue_max_leverage);
        }
        if let Some(t) = &self.tiers {
            l = l.min(t.cap(balance));
        }
        l
    }

    /// Fraction of the balance risked: `risk_per_trade`, or once Kelly applies
    /// `clamp(multiplier·f*, 0, kelly_max_risk)`; always `≤ max_risk_per_trade`.
    #[inline]
    pub fn risk_fraction(&self, stats: &TradeStats) -> f64 {
        let r = match (self.kelly, stats.kelly()) {
            (Some((mult, min_trades, cap)), Some(f)) if stats.trades() >= min_trades => {
                (mult * f).clamp(0.0, cap)
            }
            _ => self.risk_per_trade,
        };
        r.min(self.max_risk_per_trade)
    }

    /// Fractional Kelly as a size multiplier once it applies (`kelly_min_trades` closed trades):
    /// `k = risk_fraction / risk_per_trade = clamp(fraction·f*, 0, kelly_max_risk) /
    /// risk_per_trade` (capped by `kelly_max_risk / risk_per_trade` and `max_risk_per_trade`);
    /// 1 before that or when Kelly is off.
    #[inline]
    pub fn kelly_multiplier(&self, stats: &TradeStats) -> f64 {
        if self.risk_per_trade > 0.0 {
            self.risk_fraction(stats) / self.risk_per_trade
        } else {
            1.0
        }
    }

    /// Volatility scale `clamp(target/σ, min, max)`; `min` while σ is not positive and finite;
    /// 1 when volatility targeting is off.
    #[inline]
    pub fn vol_scale(&self, sigma: f64) -> f64 {
        match self.vol {
            None => 1.0,
            Some((target, lo, hi)) => {
                if positive_finite(sigma) {
                    (target / sigma).clamp(lo, hi)
                } else {
                    lo
                }
            }
        }
    }
}

/// What the engine knows when it sizes an entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntryRequest {
    /// Reference entry price (last trade), quote per base unit, > 0.
    pub price: f64,
    /// `|entry − stop loss|` in price units (from [`crate::risk::ExitLevels::stop_distance`]);
    /// required (> 0) for `fixed_fractional`; with `fixed_notional` 0 means "no risk cap".
    pub stop_distance: f64,
    /// Current equity, quote currency, > 0.
    pub balance: f64,
    /// Realised σ for volatility targeting (ignored when off).
    pub sigma: f64,
    /// The venue's maximum leverage for the symbol (non-positive or non-finite = unknown).
    pub venue_max_leverage: f64,
    /// Size multiplier from the gate ([`crate::risk::RiskGate::size_multiplier`]), in [0, 1].
    pub size_multiplier: f64,
}

/// The cap that bound the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeCap {
    /// The sizing formula itself (nothing capped it).
    Formula,
    /// `max_risk_per_trade × balance / stop_distance`.
    Risk,
    /// `balance × L / price`.
    Leverage,
    /// The venue's max market quantity.
    MaxQty,
}

/// An entry size that passed every cap and the venue filters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizedEntry {
    /// Quantity, a whole number of steps, base units.
    pub qty: Decimal,
    /// `qty × price on tick`, quote currency.
    pub notional: Decimal,
    /// `notional / balance`.
    pub leverage: f64,
    /// Risked fraction used (before the volatility scale and multiplier).
    pub risk_fraction: f64,
    /// `qty × stop_distance`, quote currency (0 without a stop).
    pub risk: f64,
    /// Which cap bound the size.
    pub binding: SizeCap,
}

/// Sizes an entry. Base: `fixed_fractional` `q = B·r·s·m / stop`, `fixed_notional`
/// `q = N·k·s·m / p` (r = [`SizingParams::risk_fraction`], k = [`SizingParams::kelly_multiplier`]
/// `= r / risk_per_trade`, s = [`SizingParams::vol_scale`], m = the gate's multiplier). Caps: `q ≤ B·max_risk_per_trade/stop` (when a stop is given),
/// `q ≤ B·L/p` ([`SizingParams::leverage_cap`]), `q ≤ max market qty`. Then floored to the
/// step, re-checked exactly in `Decimal` against `B·L`, and checked against min qty / min
/// notional. O(1), no allocation.
pub fn size_entry(
    p: &SizingParams,
    stats: &TradeStats,
    req: &EntryRequest,
    inst: &Instrument,
) -> Result<SizedEntry, EntryBlock> {
    let q = sized_qty(p, stats, req, inst)?;
    let notional = q.qty * q.price;
    let qf = dec_f64(q.qty);
    Ok(SizedEntry {
        qty: q.qty,
        notional,
        leverage: dec_f64(notional) / req.balance,
        risk_fraction: q.risk_fraction,
        risk: if q.has_stop {
            qf * req.stop_distance
        } else {
            0.0
        },
        binding: q.binding,
    })
}

/// [`size_entry`]'s quantity alone (the same checks, errors and value), without the notional,
/// leverage and risk it derives from it: what the engine sends.
#[inline]
pub fn size_entry_qty(
    p: &SizingParams,
    stats: &TradeStats,
    req: &EntryRequest,
    inst: &Instrument,
) -> Result<Decimal, EntryBlock> {
    sized_qty(p, stats, req, inst).map(|q| q.qty)
}

/// [`size_entry_qty`] before its last step, the venue filter (`Instrument::violation` of the
/// quantity, not reduce-only, at `req.price`): every other check, error and the same value.
/// For a caller that caps the quantity further and filters what it sends.
#[inline]
pub fn size_entry_qty_unfiltered(
    p: &SizingParams,
    stats: &TradeStats,
    req: &EntryRequest,
    inst: &Instrument,
) -> Result<Decimal, EntryBlock> {
    unfiltered_qty(p, stats, req, inst).map(|q| q.qty)
}

/// What [`sized_qty`] found: the quantity and what [`size_entry`] derives the rest from.
struct SizedQty {
    qty: Decimal,
    /// The entry price put on the tick.
    price: Decimal,
    risk_fraction: f64,
    has_stop: bool,
    binding: SizeCap,
}

/// The quantity of [`size_entry`] (its documentation).
#[inline]
fn sized_qty(
    p: &SizingParams,
    stats: &TradeStats,
    req: &EntryRequest,
    inst: &Instrument,
) -> Result<SizedQty, EntryBlock> {
    let q = unfiltered_qty(p, stats, req, inst)?;
    if let Some(reason) = inst.violation(q.qty, req.price, false) {
        return Err(EntryBlock::Filter(reason));
    }
    Ok(q)
}

/// [`sized_qty`] without the venue filter of its quantity.
#[inline]
fn unfiltered_qty(
    p: &SizingParams,
    stats: &TradeStats,
    req: &EntryRequest,
    inst: &Instrument,
) -> Result<SizedQty, EntryBlock> {
    let bad = Err(EntryBlock::Risk(BlockReason::BadInput));
    let ok = positive_finite;
    if !ok(req.price) || !ok(req.balance) {
        return bad;
    }
    let has_stop = ok(req.stop_distance);
    if !(has_stop || req.stop_distance == 0.0) {
        return bad;
    }
    let m = if req.size_multiplier.is_finite() {
        req.size_multiplier.clamp(0.0, 1.0)
    } else {
        return bad;
    };
    let s = p.vol_scale(req.sigma);
    let r = p.risk_fraction(stats);
    let mut q = match p.method {
        SizingMethod::FixedFractional => {
            if !has_stop {
                return bad;
            }
            if r <= 0.0 {
                return Err(EntryBlock::Risk(BlockReason::NoEdge));
            }
            req.balance * r * s * m / req.stop_distance
        }
        SizingMethod::FixedNotional => {
            let k = p.kelly_multiplier(stats);
            if k <= 0.0 {
                return Err(EntryBlock::Risk(BlockReason::NoEdge));
            }
            p.order_notional * k * s * m / req.price
        }
    };
    let mut binding = SizeCap::Formula;
    if has_stop {
        let q_risk = req.balance * p.max_risk_per_trade / req.stop_distance;
        if q_risk < q {
            q = q_risk;
            binding = SizeCap::Risk;
        }
    }
    let lev = p.leverage_cap(req.balance, req.venue_max_leverage);
    let q_lev = req.balance * lev / req.price;
    if q_lev < q {
        q = q_lev;
        binding = SizeCap::Leverage;
    }
    let mut qty = inst.floor_qty(q);
    if dec_cmp(qty, inst.max_market_qty).is_gt() {
        qty = floor_to_step(inst.max_market_qty, inst.qty_step);
        binding = SizeCap::MaxQty;
    }
    let price = inst.price_on_tick(req.price);
    // Exact guard: an f64 quotient one ulp above a whole number of steps must not push the
    // notional over the leverage cap.
    let Some(guarded) = leverage_guard(qty, price, req.balance, lev, inst) else {
        return bad;
    };
    if guarded != qty {
        qty = guarded;
        binding = SizeCap::Leverage;
    }
    Ok(SizedQty {
        qty,
        price,
        risk_fraction: r,
        has_stop,
        binding,
    })
}

/// `qty` capped so that `qty · price ≤ B·L` exactly, `B` and `L` the decimals of the f64
/// balance and leverage cap ([`f64_decimal`], as `Decimal::from_f64` gives them): floored to the
/// step at `B·L / price` when above. A float comparison with a 10⁻¹² margin settles the common
/// case (the notional is below the cap by at least a step's worth of rounding); only near the
/// cap are the decimals built, on integers. `None` when `B` or `L` is not a decimal (NaN, ±∞,
/// above 7.9·10²⁸) or `B·L` overflows.
#[inline]
fn leverage_guard(
    qty: Decimal,
    price: Decimal,
    balance: f64,
    lev: f64,
    inst: &Instrument,
) -> Option<Decimal> {
    // Within these bounds both decimals are within 1.3·10⁻¹⁵ of their floats.
    let in_range = |v: f64| (1e-9..1e25).contains(&v);
    if in_range(balance) && in_range(lev) {
        let cap_f = balance * lev;
        // Below 7·10²⁸ `B·L` cannot overflow, so wherever this estimate and
        // `dec_f64(qty) · dec_f64(price)` (both within 10⁻¹⁴ of `qty · price`) fall on different
        // sides of the margin, the exact guard returns `qty` too: the same result either way.
        let notional = if cap_f < 7e28 {
            notional_f64(qty, price)
        } else {
            dec_f64(qty) * dec_f64(price)
        };
        if notional < cap_f * (1.0 - 1e-12) {
            return Some(qty);
        }
    }
    leverage_guard_exact(qty, price, balance, lev, inst)
}

/// `qty · price` as f64 within 3·10⁻¹⁶ relative: `(m_q · m_p) / 10^(s_q + s_p)` when both
/// mantissas are below 2⁵³ (exact doubles) and the scales add to ≤ 18 (`10^s` exact), two
/// roundings; `dec_f64(qty) · dec_f64(price)` otherwise. No division of the mantissas by
/// `10^scale` on integers, as `dec_f64` does.
#[inline]
fn notional_f64(qty: Decimal, price: Decimal) -> f64 {
    const EXACT: i64 = 1 << 53;
    let s = (qty.scale() + price.scale()) as usize;
    // `mantissa_i64` is `i64::try_from(mantissa)` but at −2⁶³ (not below `EXACT` anyway).
    if let (Some(a), Some(b), Some(&p)) = (
        mantissa_i64(qty),
        mantissa_i64(price),
        POW10.get(s).filter(|_| s <= 18),
    ) {
        if a.unsigned_abs() < EXACT as u64 && b.unsigned_abs() < EXACT as u64 {
            return a as f64 * b as f64 / p as i64 as f64;
        }
    }
    dec_f64(qty) * dec_f64(price)
}

#[cold]
fn leverage_guard_exact(
    mut qty: Decimal,
    price: Decimal,
    balance: f64,
    lev: f64,
    inst: &Instrument,
) -> Option<Decimal> {
    let b = f64_decimal(balance)?.to_decimal()?;
    let l = f64_decimal(lev)?.to_decimal()?;
    let cap = b.checked_mul(l)?;
    if !price.is_zero() && qty * price > cap {
        qty = floor_to_step(cap / price, inst.qty_step);
        if qty * price > cap {
            // `cap / price` rounded up in its 28th digit.
            qty = (qty - inst.qty_step).max(Decimal::ZERO);
        }
    }
    Some(qty)
}

/// `floor(q / step) · step`, exact.
#[inline]
pub fn floor_to_step(q: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO || q <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    (q / step).floor() * step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RejectReason;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// The guard before `notional_f64`: the screen on `dec_f64(qty) · dec_f64(price)`.
    fn old_guard(
        qty: Decimal,
        price: Decimal,
        b: f64,
        l: f64,
        inst: &Instrument,
    ) -> Option<Decimal> {
        let in_range = |v: f64| (1e-9..1e25).contains(&v);
        if in_range(b) && in_range(l) && dec_f64(qty) * dec_f64(price) < b * l * (1.0 - 1e-12) {
            return Some(qty);
        }
        leverage_guard_exact(qty, price, b, l, inst)
    }

    /// `leverage_guard` equals the guard before it over 300k random cases: quantities and
    /// prices of 1 to 19 digits (mantissas past 2⁵³ and scales past 18 included), balances
    /// and leverages from 10⁻¹⁰ to 10²⁶, and a third of the cases within a few steps or a
    /// hair (10⁻¹⁵..10⁻¹¹ relative) of the cap `B·L / price`.
    #[test]
    fn leverage_guard_is_the_old_guard() {
        let inst = btc();
        let mut state = 0x853c_49e6_748f_ea9bu64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
        let (mut near, mut run) = (0, 0);
        for k in 0..300_000 {
            let unit = |next: &mut dyn FnMut() -> u64| (next() % 1_000_000) as f64 / 1e6;
            let b = 10f64.powf(unit(&mut next) * 36.0 - 10.0);
            let l = 10f64.powf(unit(&mut next) * 8.0 - 2.0);
            let pm = (next() >> (next() % 53)).max(1) as i64;
            let price = Decimal::new(pm, (next() % 20) as u32);
            // The exact guard's decimal quotients (by the price, then the step) and this test's
            // must not overflow (they panic): caps below 10²⁴ quantity units.
            let cap = b * l / price.to_f64().unwrap_or(1.0);
            if cap.is_nan() || cap >= 1e24 {
                continue;
            }
            let qty = if k % 3 == 0 {
                let hair =
                    1.0 + (unit(&mut next) - 0.5) * 10f64.powf(-11.0 - 4.0 * unit(&mut next));
                let q = Decimal::from_f64(cap * hair).unwrap_or(Decimal::ONE);
                let steps = (next() % 7) as i64 - 3;
                (floor_to_step(q, d("0.001")) + Decimal::new(steps, 3)).max(Decimal::ZERO)
            } else {
                let m = (next() >> (next() % 53)) as i64;
                Decimal::new(m, (next() % 20) as u32)
            };
            if qty.checked_mul(price).is_none() {
                continue;
            }
            run += 1;
            near += usize::from(k % 3 == 0);
            assert_eq!(
                leverage_guard(qty, price, b, l, &inst),
                old_guard(qty, price, b, l, &inst),
                "qty {qty} price {price} B {b} L {l}"
            );
        }
        assert!(
            near > 50_000 && run > 200_000,
            "{near} near the cap, {run} run"
        );
    }

    /// BTC-like: tick 0.10, step 0.001, min qty 0.001, max market qty 150, min notional 5.
    fn btc() -> Instrument {
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap()
    }

    fn params() -> SizingParams {
        SizingParams {
            method: SizingMethod::FixedFractional,
            order_notional: 1_000.0,
            risk_per_trade: 0.01,
            max_risk_per_trade: 0.02,
            max_leverage: 5.0,
            kelly: None,
            vol: None,
            tiers: None,
        }
    }

    fn req(price: f64, stop: f64, balance: f64) -> EntryRequest {
        EntryRequest {
            price,
            stop_distance: stop,
            balance,
            sigma: f64::NAN,
            venue_max_leverage: 100.0,
            size_multiplier: 1.0,
        }
    }

    /// `size_entry_qty` is `size_entry`'s quantity, and refuses exactly what it refuses, over
    /// random prices, stops, balances, multipliers and both methods.
    #[test]
    fn qty_alone_is_size_entry_qty() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut sized, mut refused) = (0, 0);
        for k in 0..50_000 {
            let mut p = params();
            if k % 2 == 1 {
                p.method = SizingMethod::FixedNotional;
            }
            let mut r = req(
                1.0 + next() * 100_000.0,
                if k % 7 == 0 { 0.0 } else { next() * 500.0 },
                next() * 50_000.0,
            );
            r.size_multiplier = next() * 1.2;
            r.venue_max_leverage = 1.0 + next() * 20.0;
            let full = size_entry(&p, &TradeStats::default(), &r, &btc());
            let qty = size_entry_qty(&p, &TradeStats::default(), &r, &btc());
            assert_eq!(qty, full.map(|e| e.qty), "{r:?}");
            if qty.is_ok() {
                sized += 1;
            } else {
                refused += 1;
            }
        }
        assert!(
            sized > 10_000 && refused > 1_000,
            "{sized} sized, {refused} refused"
        );
    }

    #[test]
    fn legacy_leverage_caps_the_notional() {
        let s = Sizing {
            order_notional: 1_000.0,
            balance: 100.0,
            max_leverage: 3.0,
        };
        assert!((s.entry_qty(60_000.0) - 300.0 / 60_000.0).abs() < 1e-15);
        let s = Sizing {
            balance: 10_000.0,
            ..s
        };
        assert!((s.entry_qty(2_000.0) - 0.5).abs() < 1e-15);
        assert_eq!(s.entry_qty(0.0), 0.0);
    }

    /// B = 10 000, r = 1 %, stop = 300 → q = 100/300 = 0.3333… → 0.333; notional at 60 000 =
    /// 19 980 ≤ 5 × 10 000.
    #[test]
    fn fixed_fractional_risks_one_percent_over_the_stop() {
        let e = size_entry(
            &params(),
            &TradeStats::default(),
            &req(60_000.0, 300.0, 10_000.0),
            &btc(),
        )
        .unwrap();
        assert_eq!(e.qty, d("0.333"));
        assert_eq!(e.notional, d("19980.000"));
        assert_eq!(e.binding, SizeCap::Formula);
        assert!((e.risk - 99.9).abs() < 1e-9);
        assert!((e.leverage - 1.998).abs() < 1e-12);
    }

    /// Tight stop 30 → formula q = 3.333, leverage cap q = 50 000/60 000 = 0.8333 → 0.833.
    #[test]
    fn leverage_caps_a_tight_stop() {
        let e = size_entry(
            &params(),
            &TradeStats::default(),
            &req(60_000.0, 30.0, 10_000.0),
            &btc(),
        )
        .unwrap();
        assert_eq!(e.qty, d("0.833"));
        assert_eq!(e.binding, SizeCap::Leverage);
        // The venue's max leverage binds when lower: 2× → 20 000/60 000 = 0.3333 → 0.333.
        let mut r = req(60_000.0, 30.0, 10_000.0);
        r.venue_max_leverage = 2.0;
        let e = size_entry(&params(), &TradeStats::default(), &r, &btc()).unwrap();
        assert_eq!(e.qty, d("0.333"));
    }

    /// Exactly on a step: B·L/p = 10 000·5/50 000 = 1.000 must give 1.000, not 0.999 and not more.
    #[test]
    fn leverage_cap_on_a_whole_step_is_exact() {
        let e = size_entry(
            &params(),
            &TradeStats::default(),
            &req(50_000.0, 1.0, 10_000.0),
            &btc(),
        )
        .unwrap();
        assert_eq!(e.qty, d("1.000"));
        assert_eq!(e.notional, d("50000.000"));
    }

    #[test]
    fn max_risk_per_trade_caps_volatility_scaling_up() {
        let mut p = params();
        p.vol = Some((0.002, 0.25, 4.0));
        // σ = 0.0005 → scale 4 → 4 % risk, capped at 2 %: q = 200/300 = 0.6666 → 0.666.
        let mut r = req(60_000.0, 300.0, 10_000.0);
        r.sigma = 0.0005;
        let e = size_entry(&p, &TradeStats::default(), &r, &btc()).unwrap();
        assert_eq!(e.qty, d("0.666"));
        assert_eq!(e.binding, SizeCap::Risk);
        // σ = 0.004 → scale 0.5 → 0.5 % risk: q = 50/300 = 0.1666 → 0.166.
        r.sigma = 0.004;
        assert_eq!(
            size_entry(&p, &TradeStats::default(), &r, &btc())
                .unwrap()
                .qty,
            d("0.166")
        );
        // σ unknown → min scale 0.25: q = 25/300 = 0.0833 → 0.083.
        r.sigma = f64::NAN;
        assert_eq!(
            size_entry(&p, &TradeStats::default(), &r, &btc())
                .unwrap()
                .qty,
            d("0.083")
        );
    }

    /// p = 0.6, avg win 60, avg loss 40 → b = 1.5, f* = 0.6 − 0.4/1.5 = 1/3.
    #[test]
    fn kelly_from_win_rate_and_payoff() {
        let mut s = TradeStats::default();
        assert_eq!(s.kelly(), None);
        for _ in 0..6 {
            s.record(60.0);
        }
        for _ in 0..4 {
            s.record(-40.0);
        }
        s.record(0.0); // break-even: ignored
        assert_eq!(s.trades(), 10);
        assert!((s.kelly().unwrap() - 1.0 / 3.0).abs() < 1e-12);
        let mut only_wins = TradeStats::default();
        only_wins.record(1.0);
        assert_eq!(only_wins.kelly(), Some(1.0));
        let mut only_losses = TradeStats::default();
        only_losses.record(-1.0);
        assert!(only_losses.kelly().unwrap() < 0.0);
    }

    #[test]
    fn kelly_applies_after_min_trades_and_is_clamped() {
        let mut p = params();
        p.kelly = Some((0.25, 10, 0.02));
        let mut s = TradeStats::default();
        for _ in 0..6 {
            s.record(60.0);
        }
        for _ in 0..3 {
            s.record(-40.0);
        }
        // 9 trades < 10: the configured 1 %.
        assert_eq!(p.risk_fraction(&s), 0.01);
        s.record(-40.0);
        // ¼ · 1/3 = 8.33 % clamped to kelly max 2 %.
        assert_eq!(p.risk_fraction(&s), 0.02);
        p.kelly = Some((0.025, 10, 0.02));
        // 0.025/3 = 0.8333 %.
        assert!((p.risk_fraction(&s) - 0.025 / 3.0).abs() < 1e-15);
        // No edge: clamped to 0 → entry blocked.
        let mut losing = TradeStats::default();
        for _ in 0..10 {
            losing.record(-1.0);
        }
        assert_eq!(p.risk_fraction(&losing), 0.0);
        assert_eq!(
            size_entry(&p, &losing, &req(60_000.0, 300.0, 10_000.0), &btc()),
            Err(EntryBlock::Risk(BlockReason::NoEdge))
        );
    }

    /// The second system's example (p = 0.6, avg win 60, avg loss 40: f* = 1/3), quarter Kelly
    /// over a 1 % base: k = (1/12)/0.01 = 8.33, capped by kelly_max_risk 2 % → k = 2; a fixed
    /// notional of 1 000 at 100 becomes 20 units; before min trades k = 1 (10 units).
    #[test]
    fn kelly_is_a_capped_size_multiplier_for_fixed_notional_too() {
        let mut p = params();
        p.method = SizingMethod::FixedNotional;
        p.kelly = Some((0.25, 10, 0.02));
        let inst = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        let mut s = TradeStats::default();
        for _ in 0..6 {
            s.record(60.0);
        }
        for _ in 0..3 {
            s.record(-40.0);
        }
        assert_eq!(p.kelly_multiplier(&s), 1.0);
        let q =
            |p: &SizingParams, s: &TradeStats| size_entry(p, s, &req(100.0, 0.0, 10_000.0), &inst);
        assert_eq!(q(&p, &s).unwrap().qty, d("10"));
        s.record(-40.0);
        assert!((s.kelly().unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((p.kelly_multiplier(&s) - 2.0).abs() < 1e-12);
        assert_eq!(q(&p, &s).unwrap().qty, d("20"));
        // 1 % Kelly: r = 1/300 of equity → k = 1/3.
        p.kelly = Some((0.01, 10, 0.02));
        assert!((p.kelly_multiplier(&s) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(q(&p, &s).unwrap().qty, d("3.33"));
        let mut losing = TradeStats::default();
        for _ in 0..10 {
            losing.record(-1.0);
        }
        assert_eq!(q(&p, &losing), Err(EntryBlock::Risk(BlockReason::NoEdge)));
    }

    #[test]
    fn account_tiers_are_opt_in_and_pick_the_balance_band() {
        let t = LeverageTiers::new(&[
            (10.0, 75.0),
            (50.0, 45.0),
            (200.0, 25.0),
            (f64::INFINITY, 15.0),
        ]);
        assert_eq!(t.cap(5.0), 75.0);
        assert_eq!(t.cap(10.0), 75.0);
        assert_eq!(t.cap(10.01), 45.0);
        assert_eq!(t.cap(199.0), 25.0);
        assert_eq!(t.cap(1e9), 15.0);
        let mut p = params();
        assert_eq!(p.leverage_cap(25.0, 100.0), 5.0, "flat: max_leverage");
        p.max_leverage = 75.0;
        p.tiers = Some(t);
        assert_eq!(p.leverage_cap(25.0, 100.0), 45.0);
        assert_eq!(p.leverage_cap(25.0, 20.0), 20.0, "venue max still binds");
        assert_eq!(p.leverage_cap(1_000.0, 100.0), 15.0);
    }

    #[test]
    fn fixed_notional_and_gate_multiplier() {
        let mut p = params();
        p.method = SizingMethod::FixedNotional;
        let mut r = req(2_000.0, 0.0, 10_000.0);
        let eth = Instrument::new(d("0.01"), d("0.01"), d("0.01"), d("1000"), d("5")).unwrap();
        assert_eq!(
            size_entry(&p, &TradeStats::default(), &r, &eth)
                .unwrap()
                .qty,
            d("0.50")
        );
        r.size_multiplier = 0.5;
        assert_eq!(
            size_entry(&p, &TradeStats::default(), &r, &eth)
                .unwrap()
                .qty,
            d("0.25")
        );
    }

    #[test]
    fn filters_and_bad_input_are_reported() {
        let p = params();
        let st = TradeStats::default();
        // q = 1/300 = 0.0033 → 0.003 BTC at 1 000 = 3 USDT < 5 min notional.
        assert_eq!(
            size_entry(&p, &st, &req(1_000.0, 300.0, 100.0), &btc()),
            Err(EntryBlock::Filter(RejectReason::BelowMinNotional))
        );
        // q = 0.0001/… → 0 steps.
        assert_eq!(
            size_entry(&p, &st, &req(60_000.0, 3_000.0, 10.0), &btc()),
            Err(EntryBlock::Filter(RejectReason::BelowMinQty))
        );
        for r in [
            req(0.0, 300.0, 10_000.0),
            req(60_000.0, 0.0, 10_000.0),
            req(60_000.0, -1.0, 10_000.0),
            req(60_000.0, 300.0, f64::NAN),
        ] {
            assert_eq!(
                size_entry(&p, &st, &r, &btc()),
                Err(EntryBlock::Risk(BlockReason::BadInput)),
                "{r:?}"
            );
        }
    }

    #[test]
    fn max_market_qty_caps_the_size() {
        let mut p = params();
        p.max_leverage = 100.0;
        let small = Instrument::new(d("0.01"), d("0.1"), d("0.1"), d("2.5"), d("5")).unwrap();
        let e = size_entry(
            &p,
            &TradeStats::default(),
            &req(100.0, 0.1, 10_000.0),
            &small,
        )
        .unwrap();
        assert_eq!(e.qty, d("2.5"));
        assert_eq!(e.binding, SizeCap::MaxQty);
    }

    #[test]
    fn from_default_config() {
        let c = crate::config::Config::parse(crate::config::DEFAULT_TOML).unwrap();
        let p = SizingParams::from_config(&c.risk);
        assert_eq!(p.method, SizingMethod::FixedFractional);
        assert_eq!(p.risk_per_trade, 0.01);
        assert!(p.tiers.is_none(), "tiers are opt-in");
        assert!(p.max_leverage <= 5.0);
    }
}
