//! What the execution stage reports back to the compute stage.

use rust_decimal::Decimal;

use crate::feed::{Side, SymbolId};

/// Why an order was not sent or not filled. Each reason is counted.
///
/// The first three are local filter checks (the order never left the process); the `Venue*`
/// reasons are the venue's (or embedded exchange's) error replies; `Lost` is an order whose
/// outcome could not be learnt (connection lost, timed out) and that a re-query by client order
/// id found not to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// Quantity floored to the step is zero or below the venue's minimum quantity.
    BelowMinQty,
    /// Price × quantity below the venue's minimum notional (entries only).
    BelowMinNotional,
    /// Quantity above the venue's maximum market order quantity.
    AboveMaxQty,
    /// Venue: a filter failed (Binance -1013 / -4164 / -1111).
    VenueFilter,
    /// Venue: signature or API key not valid (Binance -1022 / -2014 / -2015).
    VenueAuth,
    /// Venue: timestamp outside recvWindow (Binance -1021).
    VenueTimestamp,
    /// Venue: margin insufficient (Binance -2019).
    VenueMargin,
    /// Venue: reduce-only order would increase the position (Binance -2022).
    VenueReduceOnly,
    /// Venue: any other error reply (code kept in the journal).
    VenueOther,
    /// No usable reply (connection lost or timed out) and the order is not known to the venue.
    Lost,
}

impl RejectReason {
    /// Number of reasons (size of per-reason counter arrays).
    pub const COUNT: usize = 10;

    /// All reasons, in counter order.
    pub const ALL: [RejectReason; RejectReason::COUNT] = [
        RejectReason::BelowMinQty,
        RejectReason::BelowMinNotional,
        RejectReason::AboveMaxQty,
        RejectReason::VenueFilter,
        RejectReason::VenueAuth,
        RejectReason::VenueTimestamp,
        RejectReason::VenueMargin,
        RejectReason::VenueReduceOnly,
        RejectReason::VenueOther,
        RejectReason::Lost,
    ];

    /// Counter index (`ALL[r.index()] == r`).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The reason with counter index `i`, if any.
    pub fn from_index(i: usize) -> Option<Self> {
        Self::ALL.get(i).copied()
    }

    /// Report name.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::BelowMinQty => "below_min_qty",
            RejectReason::BelowMinNotional => "below_min_notional",
            RejectReason::AboveMaxQty => "above_max_qty",
            RejectReason::VenueFilter => "venue_filter",
            RejectReason::VenueAuth => "venue_auth",
            RejectReason::VenueTimestamp => "venue_timestamp",
            RejectReason::VenueMargin => "venue_margin",
            RejectReason::VenueReduceOnly => "venue_reduce_only",
            RejectReason::VenueOther => "venue_other",
            RejectReason::Lost => "lost",
        }
    }

    /// The reason for a Binance USD-M error code (`{"code":-1022,...}`).
    pub fn from_binance_code(code: i64) -> Self {
        match code {
            -1013 | -4164 | -1111 | -4003 | -4005 => RejectReason::VenueFilter,
            -1022 | -2014 | -2015 => RejectReason::VenueAuth,
            -1021 => RejectReason::VenueTimestamp,
            -2019 => RejectReason::VenueMargin,
            -2022 => RejectReason::VenueReduceOnly,
            _ => RejectReason::VenueOther,
        }
    }
}

impl RejectReason {
    /// The reason for a Bybit v5 `retCode` (`{"retCode":10004,...}`): 10003/10004/10005 key,
    /// signature or permission; 10002 timestamp outside the recv window; 110004/110007/110012/
    /// 110045 insufficient balance or margin; 110017 reduce-only with nothing to reduce (the
    /// position is zero or on the other side); 10001 (params error: Bybit's answer to a qty or
    /// price outside the filters), 110094 (min order value), 110003/170371 filter failures.
    pub fn from_bybit_code(code: i64) -> Self {
        match code {
            10003 | 10004 | 10005 | 10010 => RejectReason::VenueAuth,
            10002 => RejectReason::VenueTimestamp,
            110004 | 110007 | 110012 | 110045 => RejectReason::VenueMargin,
            110017 => RejectReason::VenueReduceOnly,
            10001 | 110094 | 110003 | 170371 => RejectReason::VenueFilter,
            _ => RejectReason::VenueOther,
        }
    }
}

/// Outcome of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportStatus {
    /// Filled in full at `price`.
    Filled,
    /// Not sent, refused by the venue, or lost (see [`RejectReason`]).
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
    /// Filled quantity; for a rejection, the quantity that was not filled.
    pub qty: Decimal,
    /// Fee paid in quote currency (0 when rejected).
    pub fee: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_codes_map() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(RejectReason::from_index(i), Some(*r));
        }
        assert_eq!(
            RejectReason::from_binance_code(-1022),
            RejectReason::VenueAuth
        );
        assert_eq!(
            RejectReason::from_binance_code(-4164),
            RejectReason::VenueFilter
        );
        assert_eq!(
            RejectReason::from_binance_code(-1021),
            RejectReason::VenueTimestamp
        );
        assert_eq!(
            RejectReason::from_binance_code(-9999),
            RejectReason::VenueOther
        );
        for (code, r) in [
            (10004, RejectReason::VenueAuth),
            (10003, RejectReason::VenueAuth),
            (10002, RejectReason::VenueTimestamp),
            (110007, RejectReason::VenueMargin),
            (110017, RejectReason::VenueReduceOnly),
            (10001, RejectReason::VenueFilter),
            (110094, RejectReason::VenueFilter),
            (110001, RejectReason::VenueOther),
        ] {
            assert_eq!(RejectReason::from_bybit_code(code), r, "retCode {code}");
        }
    }
}
