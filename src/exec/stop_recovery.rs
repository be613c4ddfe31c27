//! Start-up adoption of venue-side stops (Binance algo orders): every open conditional order
//! of ours (`clientAlgoId` `ct<session>-<seq>-tp|-sl`) that closes a position the journal holds
//! (a `closePosition` order on the opposite side) is adopted by the executor's
//! [`VenueStops`](super::stops::VenueStops), so the engine's exit cancels it as if this
//! process had placed it; any other of ours (its position gone, or on the wrong side) is
//! cancelled so that it can never close a later position. Orders that are not ours are left
//! alone (reported). Cold path: blocking requests before trading starts. Bybit keeps TP/SL on
//! the position itself: nothing to adopt.

use std::str::FromStr;
use std::time::Duration;

use rust_decimal::Decimal;

use super::transport_venue::OrderVenue;
use super::Executor;
use crate::types::{Side, SymbolId};
use crate::venue::binance::algo::{
    our_algo_id, parse_algo_reply, parse_open_algo_orders, AlgoReply,
};

/// What stop recovery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StopRecovery {
    /// Stops adopted (they protect a journaled position).
    pub adopted: usize,
    /// Stale stops of ours cancelled.
    pub cancelled: usize,
    /// Open conditional orders that are not ours, as `"SYMBOL clientAlgoId"`.
    pub foreign: Vec<String>,
}

/// Adopts or cancels the open algo orders given the journaled signed positions `positions`
/// (symbol id order). `now_ms` stamps the signatures.
pub fn recover_stops(
    exec: &mut Executor,
    positions: &[Decimal],
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<StopRecovery, String> {
    let mut rep = StopRecovery::default();
    let OrderVenue::Binance(v) = exec.venue_mut() else {
        return Ok(rep);
    };
    let bytes = v.build_open_algo_orders(now_ms()).to_vec();
    let (status, body) = blocking(exec, &bytes, timeout)?;
    if status != 200 {
        // As for open orders: not answered → nothing adopted (said, not fatal).
        eprintln!(
            "warning: open algo orders not answered (HTTP {status}): venue-side stops not adopted"
        );
        return Ok(rep);
    }
    for o in parse_open_algo_orders(&body)? {
        let symbol = exec.names().iter().position(|n| *n == o.symbol);
        let (Some(i), Some((_, seq, kind))) = (symbol, our_algo_id(&o.client_algo_id)) else {
            rep.foreign
                .push(format!("{} {}", o.symbol, o.client_algo_id));
            continue;
        };
        let qty = positions.get(i).copied().unwrap_or_default();
        let closes = match o.side.as_str() {
            "SELL" => qty > Decimal::ZERO,
            "BUY" => qty < Decimal::ZERO,
            _ => false,
        };
        let trigger = Decimal::from_str(&o.trigger_price).unwrap_or_default();
        if closes && o.close_position && !trigger.is_zero() {
            let side = if qty > Decimal::ZERO {
                Side::Buy
            } else {
                Side::Sell
            };
            exec.stops_mut()
                .adopt(SymbolId(i as u16), (seq, kind, o.algo_id), side, trigger);
            rep.adopted += 1;
            continue;
        }
        let OrderVenue::Binance(v) = exec.venue_mut() else {
            unreachable!("checked above");
        };
        let bytes = v.build_cancel_algo_id(o.algo_id, now_ms()).to_vec();
        let (status, body) = blocking(exec, &bytes, timeout)?;
        match parse_algo_reply(status, &body) {
            AlgoReply::Closed
            | AlgoReply::Error {
                code: -2011 | -2013,
            } => rep.cancelled += 1,
            other => {
                return Err(format!(
                    "cancelling stale stop {} {}: {other:?}",
                    o.symbol, o.client_algo_id
                ))
            }
        }
    }
    Ok(rep)
}

fn blocking(
    exec: &mut Executor,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let t = exec
        .transport_mut()
        .ok_or("stop recovery needs a venue transport")?;
    t.request_blocking(bytes, timeout)
        .map_err(|e| format!("stop recovery: {e}"))
}
