//! Bybit v5 error replies (`{"retCode":110007,"retMsg":…}`): the code tables and the reply reader.

use serde::Deserialize;

use crate::types::RejectReason;
use crate::venue::error::{text_of, ErrorKind, VenueError};
use crate::venue::Venue;

/// Bybit v5 retCode → kind.
pub fn bybit_kind(code: i64) -> ErrorKind {
    match code {
        110004 | 110006 | 110007 | 110012 | 110044 | 110045 | 110051 | 110052 | 110053 => {
            ErrorKind::InsufficientMargin
        }
        10002 => ErrorKind::Timestamp,
        110013 | 110016 => ErrorKind::LeverageLimit,
        110094 => ErrorKind::MinNotional,
        // "Reduce-only rule not satisfied" (position zero or smaller than the order).
        110017 => ErrorKind::Rejected,
        110003 | 170371 => ErrorKind::Filter,
        10001 | 10029 => ErrorKind::InvalidParams,
        10003 | 10010 => ErrorKind::InvalidKey,
        10004 => ErrorKind::BadSignature,
        10005 | 10007 => ErrorKind::PermissionDenied,
        10006 | 10018 | 10429 => ErrorKind::RateLimited,
        10009 | 10024 => ErrorKind::RegionRestricted,
        10008 | 10027 => ErrorKind::Banned,
        110001 | 110008 | 110010 => ErrorKind::OrderNotFound,
        110072 | 10014 => ErrorKind::DuplicateClientId,
        110043 | 110025 | 110027 => ErrorKind::NotModified,
        10000 | 10016 | 10019 | 110079 => ErrorKind::UnknownStatus,
        110023 | 110040 | 110090 => ErrorKind::Rejected,
        _ => ErrorKind::Other,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitBody {
    ret_code: i64,
    #[serde(default)]
    ret_msg: String,
}

impl VenueError {
    /// The error in a Bybit v5 reply, or `None` for `retCode` 0 with HTTP 2xx.
    pub fn from_bybit(http_status: u16, body: &[u8]) -> Option<Self> {
        let parsed: Option<BybitBody> = serde_json::from_slice(body).ok();
        let ok_status = (200..300).contains(&http_status);
        match parsed {
            Some(b) if b.ret_code != 0 => Some(Self::from_parts(
                Venue::Bybit,
                http_status,
                b.ret_code,
                bybit_kind(b.ret_code),
                b.ret_msg,
            )),
            Some(_) if ok_status => None,
            _ if ok_status => Some(Self::from_parts(
                Venue::Bybit,
                http_status,
                0,
                ErrorKind::Other,
                format!("reply is not Bybit v5 JSON: {}", text_of(body)),
            )),
            Some(b) => Some(Self::from_parts(
                Venue::Bybit,
                http_status,
                b.ret_code,
                ErrorKind::Other,
                b.ret_msg,
            )),
            None => Some(Self::from_parts(
                Venue::Bybit,
                http_status,
                0,
                ErrorKind::Other,
                text_of(body),
            )),
        }
    }
}

/// The reason for a Bybit v5 `retCode` (`{"retCode":10004,...}`): 10003/10004/10005 key,
/// signature or permission; 10002 timestamp outside the recv window; 110004/110007/110012/
/// 110045 insufficient balance or margin; 110017 reduce-only with nothing to reduce (the
/// position is zero or on the other side); 10001 (params error: Bybit's answer to a qty or
/// price outside the filters), 110094 (min order value), 110003/170371 filter failures.
pub fn reject_reason(code: i64) -> RejectReason {
    match code {
        10003 | 10004 | 10005 | 10010 => RejectReason::VenueAuth,
        10002 => RejectReason::VenueTimestamp,
        110004 | 110007 | 110012 | 110045 => RejectReason::VenueMargin,
        110017 => RejectReason::VenueReduceOnly,
        10001 | 110094 | 110003 | 170371 => RejectReason::VenueFilter,
        _ => RejectReason::VenueOther,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_reject_reasons() {
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
            assert_eq!(reject_reason(code), r, "retCode {code}");
        }
    }
}
