//! Forced liquidation in the embedded exchange (a fault tests inject): the venue closes a
//! position on its own, as Binance's `autoclose-<ms>` / Bybit's liquidation orders do, at the
//! last replayed trade price with the fill model (no insurance-fund fee is modelled). The
//! position's conditional orders stay as the venue leaves them: Binance `closePosition` algo
//! orders expire when they trigger with nothing to close, Bybit position TP/SL expire with the
//! position. The trader learns of it as of a venue-side stop: its own exit is refused and the
//! position query shows the side closed.

use rust_decimal::Decimal;

use super::orders::{Matching, OrderError, OrderKind, OrderRequest, SimOrder};
use crate::types::Side;

/// Closes `symbol`'s whole position at its last trade price; `Ok(None)` when flat.
pub fn force_liquidation(
    m: &mut Matching,
    symbol: &str,
    now_ms: u64,
) -> Result<Option<SimOrder>, OrderError> {
    let qty = m.position(symbol).qty;
    if qty.is_zero() {
        return Ok(None);
    }
    let client_id = format!("autoclose-{now_ms}");
    m.place(
        &OrderRequest {
            symbol,
            side: if qty > Decimal::ZERO {
                Side::Sell
            } else {
                Side::Buy
            },
            kind: OrderKind::Market,
            qty: Some(qty.abs()),
            stop_price: None,
            reduce_only: true,
            close_position: false,
            client_id: &client_id,
        },
        now_ms,
    )
    .map(Some)
}
