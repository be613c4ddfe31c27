//! The venue-neutral market-data model every parser emits: trades ([`Tick`]), top-of-book
//! [`Quote`]s, and a [`Control`] result saying what kind of frame it was.

use crate::types::{Quote, Tick};

/// One market-data event out of a frame. A frame may carry several (Bybit trade batches).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MarketEvent {
    /// A public trade.
    Trade(Tick),
    /// A new top of book.
    Quote(Quote),
}

impl MarketEvent {
    /// The symbol the event is about.
    #[inline]
    pub fn symbol(&self) -> crate::types::SymbolId {
        match self {
            MarketEvent::Trade(t) => t.symbol,
            MarketEvent::Quote(q) => q.symbol,
        }
    }
}

/// Whether a market-data frame replaces the state of its topic or updates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// Full state (Bybit `"type":"snapshot"`; Bybit sends every `publicTrade` frame as one).
    Snapshot,
    /// Only what changed since the last frame (Bybit `"type":"delta"`).
    Delta,
    /// A self-contained event stream without that distinction (every Binance stream).
    Event,
}

/// Longest venue error message kept, bytes; longer ones are cut at a UTF-8 boundary.
pub const ERROR_TEXT_CAP: usize = 96;

/// A venue error message stored inline, so reporting an error frame allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ErrorText {
    len: u8,
    bytes: [u8; ERROR_TEXT_CAP],
}

impl ErrorText {
    /// Copies `s`, truncated to at most [`ERROR_TEXT_CAP`] bytes on a character boundary.
    pub fn new(s: &str) -> Self {
        let mut n = s.len().min(ERROR_TEXT_CAP);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        let mut bytes = [0u8; ERROR_TEXT_CAP];
        bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        Self {
            len: n as u8,
            bytes,
        }
    }

    /// The (possibly truncated) message.
    pub fn as_str(&self) -> &str {
        // The bytes are a prefix of a `&str` cut on a char boundary, so this cannot fail.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl std::fmt::Debug for ErrorText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// What a frame was, besides the market events it emitted through the callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    /// A market-data frame; `emitted` events went to the callback (0 is possible: a ticker delta
    /// that changed no bid/ask field, a book delta that left one side empty).
    Data {
        /// Events emitted by this frame.
        emitted: u32,
        /// Snapshot, delta, or plain event.
        update: UpdateKind,
    },
    /// Reply to a subscribe (or other request): Binance `{"result":null,"id":1}`, Bybit
    /// `{"success":true,"op":"subscribe",...}`.
    Ack {
        /// The request id echoed back, when it is an unsigned integer.
        id: Option<u64>,
    },
    /// Reply to an application-level ping (Bybit `"ret_msg":"pong"` or `"op":"pong"`).
    Pong,
    /// An error frame.
    Error {
        /// Venue error code; 0 when the venue sends none (Bybit WebSocket errors).
        code: i64,
        /// Venue message.
        msg: ErrorText,
    },
    /// A valid frame of a kind no event is made of (kline, depth, markPrice, ...).
    Other,
}

/// Why a frame (or one record of it) was rejected by a parser. Each variant is counted
/// separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not valid JSON, or not the shape of any known message.
    Json,
    /// A required field is absent (or has the wrong JSON type).
    MissingField(&'static str),
    /// A numeric field is not a decimal number.
    BadNumber(&'static str),
    /// A numeric field parses to NaN or ±infinity.
    NonFinite(&'static str),
    /// Price or quantity is zero or negative.
    NonPositive,
    /// A symbol that is not configured.
    UnknownSymbol,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Json => write!(f, "malformed JSON"),
            ParseError::MissingField(k) => write!(f, "missing field {k}"),
            ParseError::BadNumber(k) => write!(f, "field {k} is not a decimal number"),
            ParseError::NonFinite(k) => write!(f, "field {k} is not finite"),
            ParseError::NonPositive => write!(f, "price or quantity is not positive"),
            ParseError::UnknownSymbol => write!(f, "unknown symbol"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a venue decimal string (`"65114.20"`) to the f64 nearest to it, exactly as
/// `str::parse::<f64>` does, but without its general machinery on the common short form.
///
/// Fast path (Clinger): up to 19 significant digits with mantissa `m < 2^53` and at most 22
/// fraction digits give `m / 10^k`, one correctly rounded IEEE division of two exact values.
/// Anything else (exponents, signs, long inputs) goes to `str::parse`.
#[inline]
pub fn parse_decimal(s: &str, key: &'static str) -> Result<f64, ParseError> {
    parse_decimal_bytes(s.as_bytes(), key)
}

/// [`parse_decimal`] of the bytes of a JSON string (non-UTF-8 input is a bad number).
#[inline]
pub fn parse_decimal_bytes(b: &[u8], key: &'static str) -> Result<f64, ParseError> {
    let mut m: u64 = 0;
    let mut digits = 0u32;
    let mut frac: Option<u32> = None;
    let mut ok = !b.is_empty() && b.len() <= 24;
    if ok {
        for &c in b {
            match c {
                b'0'..=b'9' => {
                    m = m.wrapping_mul(10).wrapping_add((c - b'0') as u64);
                    digits += 1;
                    if let Some(f) = frac.as_mut() {
                        *f += 1;
                    }
                }
                b'.' if frac.is_none() => frac = Some(0),
                _ => {
                    ok = false;
                    break;
                }
            }
        }
    }
    let k = frac.unwrap_or(0);
    if ok && digits > 0 && digits <= 19 && m < (1u64 << 53) && k <= 22 {
        return Ok(m as f64 / POW10[k as usize]);
    }
    let s = std::str::from_utf8(b).map_err(|_| ParseError::BadNumber(key))?;
    let v: f64 = s.parse().map_err(|_| ParseError::BadNumber(key))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ParseError::NonFinite(key))
    }
}

/// Powers of ten exactly representable as f64 (10^0 ..= 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// [`parse_decimal`] that also rejects values ≤ 0 (prices, sizes).
#[inline]
pub fn positive_decimal(s: &str, key: &'static str) -> Result<f64, ParseError> {
    positive_decimal_bytes(s.as_bytes(), key)
}

/// [`positive_decimal`] of the bytes of a JSON string.
#[inline]
pub fn positive_decimal_bytes(b: &[u8], key: &'static str) -> Result<f64, ParseError> {
    let v = parse_decimal_bytes(b, key)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(ParseError::NonPositive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_fast_path_equals_std_parse() {
        for s in [
            "65114.20",
            "0.001",
            "1",
            "0",
            "0.0",
            "1922.48",
            "23789.165",
            "0.02868",
            "1730",
            "9007199254740991",
            "9007199254740993",
            "123456789012345678901",
            "1e5",
            "-1.5",
            "0.1234567890123456789012",
            "0.00000000000000000000001",
        ] {
            assert_eq!(
                parse_decimal(s, "p").unwrap().to_bits(),
                s.parse::<f64>().unwrap().to_bits(),
                "{s}"
            );
        }
    }

    #[test]
    fn decimal_rejects_text_and_non_finite() {
        assert_eq!(parse_decimal("abc", "p"), Err(ParseError::BadNumber("p")));
        assert_eq!(parse_decimal("", "p"), Err(ParseError::BadNumber("p")));
        assert_eq!(parse_decimal("1.2.3", "p"), Err(ParseError::BadNumber("p")));
        assert_eq!(parse_decimal("inf", "p"), Err(ParseError::NonFinite("p")));
        assert_eq!(parse_decimal("NaN", "p"), Err(ParseError::NonFinite("p")));
        assert_eq!(parse_decimal("1e400", "p"), Err(ParseError::NonFinite("p")));
        assert_eq!(positive_decimal("0.000", "q"), Err(ParseError::NonPositive));
        assert_eq!(positive_decimal("-2", "q"), Err(ParseError::NonPositive));
    }

    #[test]
    fn error_text_truncates_on_a_char_boundary() {
        let long = "é".repeat(100);
        let t = ErrorText::new(&long);
        assert!(t.as_str().len() <= ERROR_TEXT_CAP);
        assert_eq!(t.as_str(), "é".repeat(ERROR_TEXT_CAP / 2));
        assert_eq!(
            ErrorText::new("handler not found").as_str(),
            "handler not found"
        );
    }
}
