//! What the execution stage reports back to the compute stage.

use rust_decimal::Decimal;

use super::tick::{Side, SymbolId};

super::named::named_enum! {
    /// Why an order was not sent or not filled. Each reason is counted.
    ///
    /// The first three are local filter checks (the order never left the process); the
    /// `Venue*` reasons are the venue's (or embedded exchange's) error replies; `Lost` is an
    /// order whose outcome could not be learnt (connection lost, timed out) and that a re-query
    /// by client order id found not to exist. Index order is counter order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum RejectReason {
        /// Quantity floored to the step is zero or below the venue's minimum quantity.
        BelowMinQty => "below_min_qty",
        /// Price × quantity below the venue's minimum notional (entries only).
        BelowMinNotional => "below_min_notional",
        /// Quantity above the venue's maximum market order quantity.
        AboveMaxQty => "above_max_qty",
        /// Venue: a filter failed (Binance -1013 / -4164 / -1111).
        VenueFilter => "venue_filter",
        /// Venue: signature or API key not valid (Binance -1022 / -2014 / -2015).
        VenueAuth => "venue_auth",
        /// Venue: timestamp outside recvWindow (Binance -1021).
        VenueTimestamp => "venue_timestamp",
        /// Venue: margin insufficient (Binance -2019).
        VenueMargin => "venue_margin",
        /// Venue: reduce-only order would increase the position (Binance -2022).
        VenueReduceOnly => "venue_reduce_only",
        /// Venue: any other error reply (code kept in the journal).
        VenueOther => "venue_other",
        /// No usable reply (connection lost or timed out) and the order is not known to the
        /// venue.
        Lost => "lost",
        /// Entry refused before sending: every entry connection was busy (exits are never
        /// refused).
        Backpressure => "backpressure",
        /// Entry refused before sending: the symbol's venue position differs from the booked
        /// one and nothing explains it yet (a difference the position audit found, a refused
        /// exit's position check or executions read out). Exits still go.
        PositionUnknown => "position_unknown",
    }
}

impl RejectReason {
    /// The reason with counter index `i`, if any.
    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }
}

/// Outcome of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportStatus {
    /// `qty` more of the order filled at `price` (the whole order, or one partial-fill delta:
    /// book exactly `qty`).
    Filled,
    /// Not sent, refused by the venue, or lost (see [`RejectReason`]).
    Rejected(RejectReason),
    /// The unfilled remainder `qty` of a partially filled order ended (expired, cancelled or
    /// reconciled): it leaves the working position; the fills stay booked.
    Expired,
    /// The symbol has (`true`) or no longer has (`false`) an order of unknown outcome: no new
    /// entries while `true` (exits still go). `price`, `qty` and `fee` are zero.
    UnknownOrder(bool),
}

/// The venue time of a fill as the journal stamps it (`Record::set_venue_ms`, Unix ms, venue
/// clock). A fill the venue executed before fills already booked (its time read from the
/// venue, booked late) is booked before them: average-cost accounting depends on the order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FillTime {
    /// No time: not a fill, or one with no venue time (an adoption, a restored position).
    /// Nothing is booked across it.
    #[default]
    None,
    /// When the fill was booked (a fill of ours: at or after the venue executed it).
    Booked(u64),
    /// The venue's own execution time, read from the venue (booked late maybe).
    Executed(u64),
}

impl FillTime {
    /// The time from a journal stamp: `venue_ms` any stamp, `executed_ms` the venue's own.
    pub fn of(venue_ms: Option<u64>, executed_ms: Option<u64>) -> Self {
        match (executed_ms, venue_ms) {
            (Some(t), _) => Self::Executed(t),
            (None, Some(t)) => Self::Booked(t),
            (None, None) => Self::None,
        }
    }

    /// The time, of either kind.
    pub fn ms(self) -> Option<u64> {
        match self {
            Self::None => None,
            Self::Booked(t) | Self::Executed(t) => Some(t),
        }
    }
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
    /// Filled quantity; for a rejection, the quantity that was not filled.
    pub qty: Decimal,
    /// Fee paid in quote currency (0 when rejected).
    pub fee: Decimal,
    /// A fill's venue time, as journaled ([`FillTime::None`] for other reports).
    pub at: FillTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(RejectReason::from_index(i), Some(*r));
        }
    }
}
