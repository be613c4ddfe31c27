//! Test-only reference: the decision path as it was before it moved to integer ticks and lots
//! (exit levels through `Decimal::from_f64` and decimal division, sizing's leverage guard through
//! `Decimal::from_f64`, the exposure cap through a decimal division), kept verbatim so the
//! replay test can require the same orders from both ([`ON`] switches the engine to it).

use std::cell::Cell;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use crate::risk::config::ExitMode;
use crate::risk::sizing::{floor_to_step, SizeCap, SizedEntry};
use crate::risk::{
    BlockReason, EntryBlock, EntryRequest, ExitLevels, ExitParams, OrderCheck, RiskGate,
    SizingParams, TradeStats,
};
use crate::risk::config::SizingMethod;
use crate::strategy::snapshot::TickState;
use crate::types::{Instrument, Side};

use super::RiskParams;

thread_local! {
    /// While true, the engine on this thread plans entries with this module's functions.
    pub(crate) static ON: Cell<bool> = const { Cell::new(false) };
}

/// The old `ExitLevels::plan`.
pub(crate) fn plan(
    p: &ExitParams,
    direction: i8,
    entry: Decimal,
    vol: f64,
    inst: &Instrument,
) -> Result<ExitLevels, BlockReason> {
    let e = entry.to_f64().unwrap_or(f64::NAN);
    let vol_ok = vol.is_finite() && vol >= 0.0;
    if !(e.is_finite() && e > 0.0) || (p.mode == ExitMode::Volatility && !vol_ok) {
        return Err(BlockReason::BadInput);
    }
    let (tp_d, sl_d) = p.distances(e, if vol_ok { vol } else { 0.0 });
    let (Some(tp_d), Some(sl_d)) = (Decimal::from_f64(tp_d), Decimal::from_f64(sl_d)) else {
        return Err(BlockReason::BadInput);
    };
    let tick = inst.tick_size;
    let (tp, sl, reward, risk) = match direction {
        1 => {
            let tp = ((entry + tp_d) / tick).floor() * tick;
            let sl = ((entry - sl_d) / tick).ceil() * tick;
            (tp, sl, tp - entry, entry - sl)
        }
        -1 => {
            let tp = ((entry - tp_d) / tick).ceil() * tick;
            let sl = ((entry + sl_d) / tick).floor() * tick;
            (tp, sl, entry - tp, sl - entry)
        }
        _ => return Err(BlockReason::BadInput),
    };
    if risk <= Decimal::ZERO || sl <= Decimal::ZERO || tp <= Decimal::ZERO {
        return Err(BlockReason::BadInput);
    }
    if reward < p.min_reward_risk * risk {
        return Err(BlockReason::RewardRisk);
    }
    Ok(ExitLevels::from_decimals(direction, entry, tp, sl))
}

/// The old `size_entry`.
#[allow(clippy::too_many_lines)]
pub(crate) fn size_entry(
    p: &SizingParams,
    stats: &TradeStats,
    req: &EntryRequest,
    inst: &Instrument,
) -> Result<SizedEntry, EntryBlock> {
    let bad = Err(EntryBlock::Risk(BlockReason::BadInput));
    let ok = |v: f64| v.is_finite() && v > 0.0;
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
    if qty > inst.max_market_qty {
        qty = floor_to_step(inst.max_market_qty, inst.qty_step);
        binding = SizeCap::MaxQty;
    }
    let price = inst.price_on_tick(req.price);
    // Exact guard: an f64 quotient one ulp above a whole number of steps must not push the
    // notional over the leverage cap.
    let (Some(b), Some(l)) = (Decimal::from_f64(req.balance), Decimal::from_f64(lev)) else {
        return bad;
    };
    let cap = b * l;
    if !price.is_zero() && qty * price > cap {
        qty = floor_to_step(cap / price, inst.qty_step);
        if qty * price > cap {
            // `cap / price` rounded up in its 28th digit.
            qty = (qty - inst.qty_step).max(Decimal::ZERO);
        }
        binding = SizeCap::Leverage;
    }
    if let Some(reason) = inst.violation(qty, req.price, false) {
        return Err(EntryBlock::Filter(reason));
    }
    let notional = qty * price;
    let qf = qty.to_f64().unwrap_or(0.0);
    Ok(SizedEntry {
        qty,
        notional,
        leverage: notional.to_f64().unwrap_or(f64::INFINITY) / req.balance,
        risk_fraction: r,
        risk: if has_stop {
            qf * req.stop_distance
        } else {
            0.0
        },
        binding,
    })
}

/// The old `entry_levels_and_size`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn entry_levels_and_size(
    rp: &RiskParams,
    gate: &RiskGate,
    trade_stats: &TradeStats,
    inst: &Instrument,
    venue_max_leverage: f64,
    vol: f64,
    st: &TickState,
    (i, target, side, close): (usize, i8, Side, Decimal),
) -> Result<(ExitLevels, Decimal), EntryBlock> {
    // The gate's state blocks (emergency, pause, daily loss, reconciliation, positions,
    // correlation) first: while one holds, skip the decimal work of planning and sizing.
    gate.check(&OrderCheck {
        symbol: i,
        side,
        notional: Decimal::ZERO,
        risk: Decimal::ZERO,
        reduce_only: false,
    })
    .map_err(EntryBlock::Risk)?;
    let entry = inst.price_on_tick(st.price);
    let sigma = st.layers.sigma;
    let lv = plan(&rp.exits, target, entry, vol, inst).map_err(EntryBlock::Risk)?;
    let sized = size_entry(
        &rp.sizing,
        trade_stats,
        &EntryRequest {
            price: st.price,
            stop_distance: lv.stop_distance().to_f64().unwrap_or(f64::NAN),
            balance: gate.sizing_balance().to_f64().unwrap_or(f64::NAN),
            sigma,
            venue_max_leverage,
            size_multiplier: gate.size_multiplier() * gate.correlation_multiplier(i),
        },
        inst,
    )?;
    // Size down to the per-symbol exposure cap rather than refuse: a tight stop can ask for more
    // than `max_symbol_exposure × E` even under the leverage cap.
    let mut qty = sized.qty;
    if !entry.is_zero() {
        let cap = rp.limits.max_symbol_exposure * gate.equity() / entry;
        let cap = inst.floor_qty_dec(cap.max(Decimal::ZERO));
        if qty > cap {
            qty = cap;
            if let Some(r) = inst.violation(qty, st.price, false) {
                return Err(EntryBlock::Filter(r));
            }
        }
    }
    gate.check(&OrderCheck {
        symbol: i,
        side,
        notional: (close + qty) * entry,
        risk: lv.risk(qty),
        reduce_only: false,
    })
    .map_err(EntryBlock::Risk)?;
    Ok((lv, qty))
}
