//! What the compute stage asks the execution stage to do.

use rust_decimal::Decimal;

use super::case::Case;
use super::tick::{Side, SymbolId};

/// An order the strategy wants sent. Plain `Copy` data.
///
/// `qty` is exact: the working position being closed plus the new exposure floored to the
/// venue's step (never rounded up), already checked against min qty and min notional.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderIntent {
    /// Instrument.
    pub symbol: SymbolId,
    /// Buy or sell.
    pub side: Side,
    /// Order quantity in base units, on the venue's step.
    pub qty: Decimal,
    /// The last trade price when the decision was made (paper fills and notional checks).
    pub ref_price: f64,
    /// True when the order may only reduce the position.
    pub reduce_only: bool,
    /// The matrix case that triggered it.
    pub case: Case,
    /// Client sequence number, unique per run (becomes the client order id).
    pub client_seq: u64,
    /// Monotonic ns when the triggering tick was read from the socket.
    pub tick_recv_ns: u64,
    /// Monotonic ns when the decision was made (and the intent handed on).
    pub decided_ns: u64,
    /// Take-profit of the position an entry opens (the engine's exit level, on the tick);
    /// sent with the order where the venue supports it (Bybit), `None` on exits.
    pub take_profit: Option<Decimal>,
    /// Stop-loss of the position an entry opens (on the tick); as `take_profit`.
    pub stop_loss: Option<Decimal>,
}
