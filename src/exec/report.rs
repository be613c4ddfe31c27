//! What the execution stage reports back to the compute stage.

use rust_decimal::Decimal;

use crate::feed::{Side, SymbolId};

/// Why an order was not sent. Each reason is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// Quantity floored to the step is zero or below the venue's minimum quantity.
    BelowMinQty,
    /// Price × quantity below the venue's minimum notional (entries only).
    BelowMinNotional,
    /// Quantity above the venue's maximum market order quantity.
    AboveMaxQty,
}

impl RejectReason {
    /// All reasons, in counter order.
    pub const ALL: [RejectReason; 3] = [
        RejectReason::BelowMinQty,
        RejectReason::BelowMinNotional,
        RejectReason::AboveMaxQty,
    ];

    /// Counter index.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::BelowMinQty => "below_min_qty",
            RejectReason::BelowMinNotional => "below_min_notional",
            RejectReason::AboveMaxQty => "above_max_qty",
        }
    }
}

/// Outcome of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportStatus {
    /// Filled in full at `price`.
    Filled,
    /// Not sent.
    Rejected(RejectReason),
}

/// A fill or a rejection for one intent. Money fields are exact decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecReport {
    /// Instrument.
    pub symbol: SymbolId,
    /// The intent's client sequence number.
    pub client_seq: u64,
    /// Side of the order.
    pub side: Side,
    /// Filled or rejected.
    pub status: ReportStatus,
    /// Fill price (0 when rejected).
    pub price: Decimal,
    /// Filled quantity (0 when rejected).
    pub qty: Decimal,
    /// Fee paid in quote currency (0 when rejected).
    pub fee: Decimal,
}
