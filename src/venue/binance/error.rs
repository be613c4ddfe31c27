//! Binance USD-M error replies (`{"code":-2019,"msg":…}`): the code tables and the reply reader.

use serde::Deserialize;

use crate::types::RejectReason;
use crate::venue::error::{text_of, ErrorKind, VenueError};
use crate::venue::Venue;

/// Binance code → kind.
pub fn binance_kind(code: i64) -> ErrorKind {
    match code {
        -2019 | -2018 | -4050 | -4051 => ErrorKind::InsufficientMargin,
        -1021 => ErrorKind::Timestamp,
        -4164 => ErrorKind::MinNotional,
        -1111 => ErrorKind::Precision,
        -1013 | -4003 | -4004 | -4005 | -4013 | -4014 | -4016 | -4023 | -4024 | -4131 => {
            ErrorKind::Filter
        }
        -1130..=-1100 => ErrorKind::InvalidParams,
        -2014 | -2015 => ErrorKind::InvalidKey,
        -1022 => ErrorKind::BadSignature,
        -1002 => ErrorKind::PermissionDenied,
        -1003 | -1015 => ErrorKind::RateLimited,
        -2011 | -2013 => ErrorKind::OrderNotFound,
        -4116 => ErrorKind::DuplicateClientId,
        -4046 | -4059 => ErrorKind::NotModified,
        -1000 | -1001 | -1006 | -1007 | -1008 => ErrorKind::UnknownStatus,
        -4120 => ErrorKind::UnsupportedOrderType,
        -2027 | -2028 | -4028 => ErrorKind::LeverageLimit,
        -2010 | -2020 | -2021 | -2022 | -5021 | -5022 => ErrorKind::Rejected,
        _ => ErrorKind::Other,
    }
}

#[derive(Deserialize)]
struct BinanceBody {
    code: i64,
    #[serde(default)]
    msg: String,
}

impl VenueError {
    /// The error in a Binance reply, or `None` for a success (HTTP 2xx without a negative
    /// `code`). Binance errors carry a negative `code`; a 451 body carries `code` 0.
    pub fn from_binance(http_status: u16, body: &[u8]) -> Option<Self> {
        let parsed: Option<BinanceBody> = serde_json::from_slice(body).ok();
        let ok_status = (200..300).contains(&http_status);
        match parsed {
            Some(b) if b.code < 0 => Some(Self::from_parts(
                Venue::Binance,
                http_status,
                b.code,
                binance_kind(b.code),
                b.msg,
            )),
            Some(b) if !ok_status => Some(Self::from_parts(
                Venue::Binance,
                http_status,
                b.code,
                ErrorKind::Other,
                b.msg,
            )),
            None if !ok_status => Some(Self::from_parts(
                Venue::Binance,
                http_status,
                0,
                ErrorKind::Other,
                text_of(body),
            )),
            _ => None,
        }
    }
}

/// The reason for a Binance USD-M error code (`{"code":-1022,...}`).
pub fn reject_reason(code: i64) -> RejectReason {
    match code {
        -1013 | -4164 | -1111 | -4003 | -4005 => RejectReason::VenueFilter,
        -1022 | -2014 | -2015 => RejectReason::VenueAuth,
        -1021 => RejectReason::VenueTimestamp,
        -2019 => RejectReason::VenueMargin,
        -2022 => RejectReason::VenueReduceOnly,
        _ => RejectReason::VenueOther,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_reject_reasons() {
        assert_eq!(reject_reason(-1022), RejectReason::VenueAuth);
        assert_eq!(reject_reason(-4164), RejectReason::VenueFilter);
        assert_eq!(reject_reason(-1021), RejectReason::VenueTimestamp);
        assert_eq!(reject_reason(-9999), RejectReason::VenueOther);
    }
}
