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
    /// `qty` more on `side`, no order's and no execution's (the venue's position grew with
    /// nothing to explain it): taken so that the position's average entry becomes `price`,
    /// the venue's own ([`Position::adopt_to_entry`](crate::types::Position::adopt_to_entry));
    /// no fee, nothing realized.
    Adopted,
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

    /// Where a fill the venue executed at `t` (Unix ms) goes among a symbol's booked fills,
    /// the one rule of the journal's replay and the strategy's fill log: before the latest
    /// fills whose time is later, back to the first that is not (an earlier or equal time, or
    /// none: an adoption or a restored position; nothing is booked across it).
    /// `newest_first` yields each booked fill's place and time, newest first; the result is
    /// the place of the earliest fill passed, or `end` (after them all) when none is.
    #[inline]
    pub fn venue_place(
        newest_first: impl Iterator<Item = (usize, FillTime)>,
        t: u64,
        end: usize,
    ) -> usize {
        let mut at = end;
        for (k, x) in newest_first {
            match x.ms() {
                Some(v) if v > t => at = k,
                _ => break,
            }
        }
        at
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

    /// The place by definition: after every fill at or before `t`, before the run of latest
    /// fills later than `t`; a fill with no time stops the walk; places need not be dense.
    #[test]
    fn venue_place_passes_only_the_latest_later_fills() {
        use FillTime::{Booked, Executed, None as NoTime};
        let place = |times: &[FillTime], t| {
            let newest_first = times.iter().copied().enumerate().rev();
            FillTime::venue_place(newest_first, t, times.len())
        };
        let times = [Booked(10), Executed(20), Booked(30), Executed(40)];
        assert_eq!(place(&times, 50), 4);
        assert_eq!(place(&times, 40), 4, "an equal time is not passed");
        assert_eq!(place(&times, 35), 3);
        assert_eq!(place(&times, 25), 2);
        assert_eq!(place(&times, 5), 0);
        assert_eq!(place(&[Booked(10), NoTime, Booked(30)], 5), 2);
        assert_eq!(place(&[Booked(30), Booked(10), Booked(40)], 20), 2);
        assert_eq!(place(&[], 20), 0);
        // Sparse places (another symbol's fills between): the earliest passed one's place.
        let sparse = [(7, Booked(40)), (4, Booked(30)), (1, Booked(10))];
        assert_eq!(FillTime::venue_place(sparse.into_iter(), 20, 9), 4);
    }
}
