//! Small value helpers: exact decimals from literals, the wall clock in milliseconds, and one
//! real trade frame.

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

/// A real BTCUSDT trade frame (data/replay, 2024-08-08): 61800.30.
pub const BTC_TRADE: &str = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#;
