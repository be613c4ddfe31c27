//! Venue error replies mapped to typed errors with a clear message and a retry rule. The
//! venue-neutral part: each venue's code table and reply reader are `venue::<name>::error`
//! (`VenueError::from_binance`, `VenueError::from_bybit`).
//!
//! Retry rule: a request is resent only when the venue certainly did not act on it (timestamp,
//! rate limit) or when its outcome is unknown (timeout, server busy) *and* it carries an
//! idempotent client order id (`orderLinkId` / `newClientOrderId`) that is resent unchanged,
//! so the venue dedups a second copy. Timestamp errors first re-sync the clock.

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
    /// Leverage or risk limit: the position the order would make is above what the symbol's
    /// leverage allows, or the leverage is not allowed (Binance -2027/-2028/-4028, Bybit
    /// 110013/110016).
    LeverageLimit,
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
            ErrorKind::LeverageLimit => "leverage or risk limit: lower risk.max_leverage / exec.account.leverage or the position size for this symbol",
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

impl VenueError {
    /// An error of `venue` whose kind is `by_code` (the venue's code table) unless that is
    /// `Other`, then the HTTP status's kind ([`http_kind`]), else `Other`.
    pub(crate) fn from_parts(
        venue: Venue,
        http_status: u16,
        code: i64,
        by_code: ErrorKind,
        msg: String,
    ) -> Self {
        let kind = match by_code {
            ErrorKind::Other => http_kind(http_status).unwrap_or(ErrorKind::Other),
            k => k,
        };
        Self {
            venue,
            http_status,
            code,
            msg,
            kind,
        }
    }
}

/// Kind from the HTTP status alone (bodies that are not venue JSON, e.g. a CDN page).
pub(crate) fn http_kind(status: u16) -> Option<ErrorKind> {
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

pub(crate) fn text_of(body: &[u8]) -> String {
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
