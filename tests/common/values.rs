//! Small value helpers: exact decimals from literals and the wall clock in milliseconds.

use std::str::FromStr;

use rust_decimal::Decimal;

/// The exact decimal `s` (panics on a malformed literal: a test typo, not a runtime input).
pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Milliseconds since the Unix epoch (the venues' timestamp unit).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
