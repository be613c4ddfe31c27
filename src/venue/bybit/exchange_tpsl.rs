//! The embedded exchange's Bybit `POST /v5/position/trading-stop` (one-way mode,
//! `positionIdx` 0, `tpslMode` `Full`): sets the position's take-profit / stop-loss as
//! close-position triggers attached to the position (as an entry's `takeProfit` / `stopLoss`
//! are). A field left out keeps its current level, `"0"` cancels it. Replies as the venue
//! documents them: `retCode 0` with `result {}`; no position `10001 can not set tp/sl/ts for
//! zero position`; nothing changed `34040 not modified`; a long's take-profit at or below the
//! last price (its stop-loss at or above; a short the reverse) `10001`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::exchange::{fail, order_error, reply};
use crate::exchange::orders::{Matching, OrderKind, OrderRequest};
use crate::exchange::rest_orders::Shared;
use crate::types::Side;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TradingStop {
    category: String,
    symbol: String,
    tpsl_mode: String,
    position_idx: i64,
    take_profit: Option<String>,
    stop_loss: Option<String>,
}

/// A level field: absent keeps `cur`, `"0"` cancels, else the new trigger.
fn level(field: &Option<String>, cur: Option<Decimal>) -> Result<Option<Decimal>, ()> {
    match field.as_deref() {
        None | Some("") => Ok(cur),
        Some(v) => {
            let p = Decimal::from_str(v).map_err(|_| ())?;
            Ok((!p.is_zero()).then_some(p))
        }
    }
}

/// `POST /v5/position/trading-stop`.
pub(crate) fn trading_stop(sh: &Shared, body: &str, now: u64) -> (u16, String) {
    let Ok(r) = serde_json::from_str::<TradingStop>(body) else {
        return fail(10001, "params error: trading-stop body", now);
    };
    if r.category != "linear" || r.tpsl_mode != "Full" || r.position_idx != 0 {
        return fail(
            10001,
            "params error: the embedded exchange takes category linear, tpslMode Full, positionIdx 0",
            now,
        );
    }
    sh.venue.with(|m| {
        let qty = m.position(&r.symbol).qty;
        if qty.is_zero() {
            return fail(10001, "can not set tp/sl/ts for zero position", now);
        }
        let cur = m.position_exits(&r.symbol);
        let (Ok(tp), Ok(sl)) = (level(&r.take_profit, cur.0), level(&r.stop_loss, cur.1)) else {
            return fail(10001, "params error: takeProfit/stopLoss invalid", now);
        };
        if (tp, sl) == cur {
            return fail(34040, "not modified", now);
        }
        let last = m.last_price(&r.symbol).unwrap_or_default();
        let long = qty > Decimal::ZERO;
        let tp_bad = tp.is_some_and(|p| if long { p <= last } else { p >= last });
        let sl_bad = sl.is_some_and(|p| if long { p >= last } else { p <= last });
        if tp_bad || sl_bad {
            let which = if tp_bad { "TakeProfit" } else { "StopLoss" };
            return fail(
                10001,
                &format!(
                    "{which} set for the position is on the wrong side of the last price {last}"
                ),
                now,
            );
        }
        match attach(m, &r.symbol, long, (tp, sl), now) {
            Ok(()) => reply(0, "OK", json!({}), now),
            Err(e) => e,
        }
    })
}

/// Places `levels` as close-position triggers of `symbol`'s position and attaches them
/// (replacing the position's earlier TP/SL).
fn attach(
    m: &mut Matching,
    symbol: &str,
    long: bool,
    (tp, sl): (Option<Decimal>, Option<Decimal>),
    now: u64,
) -> Result<(), (u16, String)> {
    let side = if long { Side::Sell } else { Side::Buy };
    let mut ids = Vec::new();
    for (kind, px, tag) in [
        (OrderKind::TakeProfitMarket, tp, "tp"),
        (OrderKind::StopMarket, sl, "sl"),
    ] {
        let Some(px) = px else { continue };
        let id = format!("tpsl-{}-{tag}", m.orders().len() + 1);
        let leg = m
            .place(
                &OrderRequest {
                    symbol,
                    side,
                    kind,
                    qty: None,
                    stop_price: Some(px),
                    reduce_only: false,
                    close_position: true,
                    client_id: &id,
                },
                now,
            )
            .map_err(|e| order_error(&e, now))?;
        ids.push(leg.id);
    }
    m.attach_position_exits(symbol, &ids, now);
    Ok(())
}
