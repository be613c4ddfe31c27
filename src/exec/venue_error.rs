//! Venue error replies (Binance `{"code":-2019,"msg":…}`, Bybit `{"retCode":110007,…}`)
//! mapped to typed errors with a clear message and a retry rule.
//!
//! Retry rule: a request is resent only when the venue certainly did not act on it (timestamp,
//! rate limit) or when its outcome is unknown (timeout, server busy) *and* it carries an
//! idempotent client order id (`orderLinkId` / `newClientOrderId`) that is resent unchanged,
//! so the venue dedups a second copy. Timestamp errors first re-sync the clock.

use serde::Deserialize;

use crate::venue::Venue;

/// What went wrong, venue-independent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not enough margin or balance for the order (Binance -2019, Bybit 110004/110007/…).
    InsufficientMargin,
    /// Timestamp outside `recvWindow` (Binance -1021, Bybit 10002): clock drift or latency.
    Timestamp,
    /// Price × quantity below the minimum notional (Binance -4164, Bybit 110094).
    MinNotional,
    /// Too many decimals for the symbol (Binance -1111).
    Precision,
    /// A price or quantity filter rejected the order (Binance -1013/-4003/-4004/-4005/-4014,
    /// Bybit 110003/170371).
    Filter,
    /// Bad or missing parameter (Binance -1100…-1130, Bybit 10001).
    InvalidParams,
    /// API key invalid, expired, wrong environment or IP not allowed (Binance -2014/-2015,
    /// Bybit 10003/10010).
    InvalidKey,
    /// Signature does not match (Binance -1022, Bybit 10004).
    BadSignature,
    /// Key lacks the permission (Bybit 10005).
    PermissionDenied,
    /// Rate limit (Binance -1003/-1015, HTTP 418/429; Bybit 10006, HTTP 429).
    RateLimited,
    /// Region or compliance block (Bybit 10024/10009, Binance HTTP 451).
    RegionRestricted,
    /// Account or trading banned (Bybit 10008/10027).
    Banned,
    /// Order not found / already closed (Binance -2011/-2013, Bybit 110001/110008/110010).
    OrderNotFound,
    /// The client order id was already used (Binance -4116, Bybit 110072/10014): the first
    /// copy reached the venue; query it instead of resending.
    DuplicateClientId,
    /// Nothing changed (Bybit 110043 leverage unchanged, 110025/110027): not a failure.
    NotModified,
    /// The venue does not know whether it acted (Binance -1000/-1001/-1006/-1007/-1008,
    /// Bybit 10000/10016/110079, HTTP 5xx).
    UnknownStatus,
    /// Order type not accepted on this endpoint (Binance -4120: conditional orders go to
    /// `/fapi/v1/algoOrder`).
    UnsupportedOrderType,
    /// Rejected for another reason (Binance -2010/-2022, Bybit 110017: reduce-only conflicts, …).
    Rejected,
    /// A code this build does not map.
    Other,
}

impl ErrorKind {
    /// One-line explanation and what to do.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::InsufficientMargin => "insufficient margin/balance: reduce size or leverage, or add funds",
            ErrorKind::Timestamp => "timestamp outside recvWindow: re-sync the clock with the server time endpoint",
            ErrorKind::MinNotional => "order notional below the venue minimum: increase size (reduce-only orders are exempt)",
            ErrorKind::Precision => "too many decimals: round quantity to the step and price to the tick",
            ErrorKind::Filter => "price/quantity filter failure: reload instrument specs",
            ErrorKind::InvalidParams => "invalid request parameters",
            ErrorKind::InvalidKey => "API key invalid, expired, for another environment (mainnet/testnet) or IP not whitelisted",
            ErrorKind::BadSignature => "signature mismatch: check the secret and that the signed bytes equal the bytes sent",
            ErrorKind::PermissionDenied => "API key lacks the permission for this endpoint",
            ErrorKind::RateLimited => "rate limit hit: back off",
            ErrorKind::RegionRestricted => "service unavailable from this region (compliance)",
            ErrorKind::Banned => "account or trading banned by the venue",
            ErrorKind::OrderNotFound => "order not found or already closed",
            ErrorKind::DuplicateClientId => "client order id already used: the order exists, query it",
            ErrorKind::NotModified => "nothing changed (already in that state)",
            ErrorKind::UnknownStatus => "outcome unknown (timeout/server busy): query by client order id or resend it unchanged",
            ErrorKind::UnsupportedOrderType => "order type not accepted on this endpoint",
            ErrorKind::Rejected => "order rejected by the venue",
            ErrorKind::Other => "unmapped venue error",
        }
    }
}

/// What a caller may do after an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Do not resend.
    Never,
    /// Resend unchanged (same client order id).
    SameClientId,
    /// Re-sync the clock, then resend with the same client order id and a fresh timestamp.
    ResyncClockThenSameClientId,
    /// Wait (rate limit), then resend with the same client order id.
    BackoffThenSameClientId,
}

/// A typed venue error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueError {
    /// Which venue answered.
    pub venue: Venue,
    /// HTTP status of the reply (0 when not known).
    pub http_status: u16,
    /// Venue code (Binance `code`, Bybit `retCode`; 0 when only the HTTP status was known).
    pub code: i64,
    /// Venue message, verbatim.
    pub msg: String,
    /// Mapped kind.
    pub kind: ErrorKind,
}

impl std::fmt::Display for VenueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} error {} (HTTP {}): {} — {}",
            self.venue.name(),
            self.code,
            self.http_status,
            self.msg,
            self.kind.describe()
        )
    }
}

impl std::error::Error for VenueError {}

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
        -2010 | -2020 | -2021 | -2022 | -5021 | -5022 => ErrorKind::Rejected,
        _ => ErrorKind::Other,
    }
}

/// Bybit v5 retCode → kind.
pub fn bybit_kind(code: i64) -> ErrorKind {
    match code {
        110004 | 110006 | 110007 | 110012 | 110044 | 110045 | 110051 | 110052 | 110053 => {
            ErrorKind::InsufficientMargin
        }
        10002 => ErrorKind::Timestamp,
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

/// Kind from the HTTP status alone (bodies that are not venue JSON, e.g. a CDN page).
fn http_kind(status: u16) -> Option<ErrorKind> {
    match status {
        418 | 429 => Some(ErrorKind::RateLimited),
        451 => Some(ErrorKind::RegionRestricted),
        401 => Some(ErrorKind::InvalidKey),
        // Bybit documents 403 for IP rate-limit breaches and US IPs.
        403 => Some(ErrorKind::RegionRestricted),
        500..=599 => Some(ErrorKind::UnknownStatus),
        _ => None,
    }
}

#[derive(Deserialize)]
struct BinanceBody {
    code: i64,
    #[serde(default)]
    msg: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitBody {
    ret_code: i64,
    #[serde(default)]
    ret_msg: String,
}

fn text_of(body: &[u8]) -> String {
    let t = String::from_utf8_lossy(body);
    let t = t.trim();
    if t.len() > 200 {
        let mut end = 200;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &t[..end])
    } else {
        t.to_string()
    }
}

impl VenueError {
    /// The error in a Binance reply, or `None` for a success (HTTP 2xx without a negative
    /// `code`). Binance errors carry a negative `code`; a 451 body carries `code` 0.
    pub fn from_binance(http_status: u16, body: &[u8]) -> Option<Self> {
        let parsed: Option<BinanceBody> = serde_json::from_slice(body).ok();
        let ok_status = (200..300).contains(&http_status);
        match parsed {
            Some(b) if b.code < 0 => Some(Self {
                venue: Venue::Binance,
                http_status,
                code: b.code,
                kind: match binance_kind(b.code) {
                    ErrorKind::Other => http_kind(http_status).unwrap_or(ErrorKind::Other),
                    k => k,
                },
                msg: b.msg,
            }),
            Some(b) if !ok_status => Some(Self {
                venue: Venue::Binance,
                http_status,
                code: b.code,
                kind: http_kind(http_status).unwrap_or(ErrorKind::Other),
                msg: b.msg,
            }),
            None if !ok_status => Some(Self {
                venue: Venue::Binance,
                http_status,
                code: 0,
                kind: http_kind(http_status).unwrap_or(ErrorKind::Other),
                msg: text_of(body),
            }),
            _ => None,
        }
    }

    /// The error in a Bybit v5 reply, or `None` for `retCode` 0 with HTTP 2xx.
    pub fn from_bybit(http_status: u16, body: &[u8]) -> Option<Self> {
        let parsed: Option<BybitBody> = serde_json::from_slice(body).ok();
        let ok_status = (200..300).contains(&http_status);
        match parsed {
            Some(b) if b.ret_code != 0 => Some(Self {
                venue: Venue::Bybit,
                http_status,
                code: b.ret_code,
                kind: match bybit_kind(b.ret_code) {
                    ErrorKind::Other => http_kind(http_status).unwrap_or(ErrorKind::Other),
                    k => k,
                },
                msg: b.ret_msg,
            }),
            Some(_) if ok_status => None,
            _ if ok_status => Some(Self {
                venue: Venue::Bybit,
                http_status,
                code: 0,
                kind: ErrorKind::Other,
                msg: format!("reply is not Bybit v5 JSON: {}", text_of(body)),
            }),
            Some(b) => Some(Self {
                venue: Venue::Bybit,
                http_status,
                code: b.ret_code,
                kind: http_kind(http_status).unwrap_or(ErrorKind::Other),
                msg: b.ret_msg,
            }),
            None => Some(Self {
                venue: Venue::Bybit,
                http_status,
                code: 0,
                kind: http_kind(http_status).unwrap_or(ErrorKind::Other),
                msg: text_of(body),
            }),
        }
    }

    /// What to do next. Resending is allowed only where the venue certainly did not act
    /// (timestamp, rate limit) or where the outcome is unknown and the request carries a
    /// client order id that is resent unchanged (`has_client_id`).
    pub fn retry(&self, has_client_id: bool) -> Retry {
        match self.kind {
            ErrorKind::Timestamp => Retry::ResyncClockThenSameClientId,
            ErrorKind::RateLimited => Retry::BackoffThenSameClientId,
            ErrorKind::UnknownStatus if has_client_id => Retry::SameClientId,
            _ => Retry::Never,
        }
    }

    /// `true` when resending the same request with the same client order id is safe
    /// (`retry(true) != Retry::Never`).
    pub fn is_retry_safe(&self) -> bool {
        self.retry(true) != Retry::Never
    }

    /// `true` when the clock must be re-synced before any further signed request.
    pub fn needs_clock_resync(&self) -> bool {
        self.kind == ErrorKind::Timestamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_replies_are_not_errors() {
        assert!(
            VenueError::from_bybit(200, br#"{"retCode":0,"retMsg":"OK","result":{}}"#).is_none()
        );
        assert!(VenueError::from_binance(200, br#"{"orderId":1,"code":0}"#).is_none());
        assert!(VenueError::from_binance(200, br#"[]"#).is_none());
    }

    #[test]
    fn html_error_pages_map_by_status() {
        let e = VenueError::from_binance(451, b"<html>restricted</html>").unwrap();
        assert_eq!(e.kind, ErrorKind::RegionRestricted);
        assert_eq!(e.msg, "<html>restricted</html>");
        let e = VenueError::from_bybit(429, b"").unwrap();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.retry(false), Retry::BackoffThenSameClientId);
        let e = VenueError::from_bybit(502, b"bad gateway").unwrap();
        assert_eq!(e.kind, ErrorKind::UnknownStatus);
        assert_eq!(
            e.retry(false),
            Retry::Never,
            "unknown outcome without an id: never resend"
        );
        assert_eq!(e.retry(true), Retry::SameClientId);
    }

    #[test]
    fn unknown_codes_stay_visible() {
        let e = VenueError::from_bybit(200, br#"{"retCode":123456,"retMsg":"new thing"}"#).unwrap();
        assert_eq!(e.kind, ErrorKind::Other);
        assert!(!e.is_retry_safe());
        assert!(e.to_string().contains("123456") && e.to_string().contains("new thing"));
    }
}
