//! Start-up re-protection: every open position the journal holds gets back the venue-side
//! stop the venue does not hold (the process died between the entry's fill and the stop's
//! placement, or the stop was cancelled by hand), from the levels its entry journaled
//! ([`RecordKind::Exits`](super::journal::RecordKind::Exits)). Runs after the reconciliation
//! and after [`super::stop_recovery`] adopted the stops still open.
//! - Binance: the legs nothing holds are armed again ([`VenueStops::arm_missing`]) and go out
//!   as algo orders on the executor's first poll (one round trip), with the usual retries; a
//!   refused leg makes the executor close the position reduce-only.
//! - Bybit: the position's missing take-profit / stop-loss are set with
//!   `POST /v5/position/trading-stop` before trading starts; a refusal (e.g. the price already
//!   beyond the level) queues the same reduce-only close.
//!
//! At run time a reconciliation that finds an unresolved entry filled arms its stops the same
//! way (`Executor::reconcile`). A position whose entry journaled no levels (an adopted position, an entry without exits)
//! is reported, not guessed at. Cold path.
//!
//! [`VenueStops::arm_missing`]: super::stops::VenueStops::arm_missing

use std::time::Duration;

use rust_decimal::Decimal;

use super::journal::Replayed;
use super::transport_venue::OrderVenue;
use super::Executor;
use crate::types::SymbolId;
use crate::venue::api::ApiError;

/// What re-protection did, as `"SYMBOL"` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StopRestore {
    /// Positions whose missing stop was re-placed (Binance: armed for the first poll).
    pub restored: Vec<String>,
    /// Open positions whose entry journaled no levels: nothing to re-place.
    pub without_levels: Vec<String>,
    /// Positions whose stop the venue refused, with its code: closed reduce-only.
    pub refused: Vec<String>,
    /// Positions the venue holds on another side than the journal (left unreconciled by the
    /// policy): no stop is set from the journal's levels.
    pub unreconciled: Vec<String>,
}

/// Re-places the venue-side stops missing for the open positions of `replayed` (after the
/// start-up reconciliation). `now_ms` stamps the signatures.
pub fn restore_stops(
    exec: &mut Executor,
    replayed: &Replayed,
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<StopRestore, String> {
    let mut rep = StopRestore::default();
    let bybit = matches!(exec.venue_mut(), OrderVenue::Bybit(_));
    let venue = if bybit {
        super::recovery::venue_positions(
            exec,
            "stop restore needs a venue transport",
            now_ms,
            timeout,
        )?
    } else {
        Vec::new()
    };
    let names = exec.names().to_vec();
    for (i, name) in names.iter().enumerate() {
        let qty = replayed.position(i).qty;
        if qty.is_zero() {
            continue;
        }
        let Some(e) = replayed.exits_of(i) else {
            rep.without_levels.push(name.clone());
            continue;
        };
        let symbol = SymbolId(i as u16);
        let levels = (e.take_profit, e.stop_loss);
        exec.restore_armed(symbol, levels);
        if !bybit {
            if exec.stops_mut().arm_missing(symbol, e.side, levels, 0) > 0 {
                rep.restored.push(name.clone());
            }
            continue;
        }
        let at_venue = venue.iter().find(|p| p.symbol == *name);
        let Some(held) = at_venue
            .filter(|p| p.qty.is_sign_positive() == qty.is_sign_positive() && !p.qty.is_zero())
            .map(|p| p.exits)
        else {
            rep.unreconciled.push(name.clone());
            continue;
        };
        let missing = (
            levels.0.filter(|_| held.0.is_none()),
            levels.1.filter(|_| held.1.is_none()),
        );
        if missing == (None, None) {
            continue;
        }
        match set_position_exits(exec, name, missing, now_ms, timeout)? {
            Ok(()) => rep.restored.push(name.clone()),
            Err(code) => {
                exec.stops_mut().requeue_unprotected(symbol, code);
                rep.refused.push(format!("{name} (venue code {code})"));
            }
        }
    }
    for n in &rep.refused {
        eprintln!("error: {n}: the journaled stop could not be set at the venue; closing the position reduce-only");
    }
    Ok(rep)
}

/// Bybit `retCode` of a trading-stop that changes nothing ("Not modified. Indicates you already
/// set this TP/SL value").
const NOT_MODIFIED: i64 = 34040;

/// Bybit `POST /v5/position/trading-stop` of `levels` on `name`: `Ok(Err(code))` when the
/// venue refused (nothing changed counts as set).
fn set_position_exits(
    exec: &mut Executor,
    name: &str,
    levels: (Option<Decimal>, Option<Decimal>),
    now_ms: &dyn Fn() -> u64,
    timeout: Duration,
) -> Result<Result<(), i64>, String> {
    let OrderVenue::Bybit(v) = exec.venue_mut() else {
        unreachable!("Bybit only");
    };
    let bytes = v.build_trading_stop(name, levels, now_ms()).to_vec();
    let t = exec
        .transport_mut()
        .ok_or("stop restore needs a venue transport")?;
    let (status, body) = t
        .request_blocking(&bytes, timeout)
        .map_err(|e| format!("setting {name}'s position TP/SL: {e}"))?;
    match crate::venue::bybit::api::parse_ack(status, &body) {
        Ok(_) => Ok(Ok(())),
        // 34040 "Not modified": the venue already holds these levels.
        Err(ApiError::Venue(e)) if e.code == NOT_MODIFIED => Ok(Ok(())),
        Err(ApiError::Venue(e)) => Ok(Err(e.code)),
        Err(e) => Err(format!("setting {name}'s position TP/SL: {e}")),
    }
}
