//! Specialised extractors for the two hottest messages — Binance `trade`/`aggTrade` and Bybit
//! `publicTrade` (up to [`MAX_FAST_TRADES`] trades) — scanning the bytes once without building
//! a tape, and falling back to the general parser on anything unexpected.
//!
//! The extractor accepts only a strict subset of JSON: flat objects whose keys and string
//! values are printable ASCII without escapes, unsigned integers without leading zeros, and
//! booleans; no whitespace. Within that subset it reads fields with the general parsers' rules
//! (the same key → slot mapping, the last duplicate wins, the same decimal and id conversions),
//! so whenever it answers, the answer equals the general parser's; everything else — other
//! message types, errors, escapes, whitespace, unknown top-level keys — goes to the general
//! parser unchanged. `tests/parse_fast_path.rs` checks the equality by property test over the
//! real recordings and mutations of them.

use super::binance::BinanceParser;
use super::bybit::{trade_id_hash_bytes, BybitParser};
use super::event::{positive_decimal_bytes, Control, MarketEvent, ParseError, UpdateKind};
use super::symbols::SymbolTable;
use crate::types::{Side, Tick};

/// Most trades of one Bybit frame the extractor handles (larger batches use the tape parser).
pub const MAX_FAST_TRADES: usize = 128;

/// The extractors plus how often they answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastPath {
    /// Frames the extractor answered.
    pub hits: u64,
    /// Frames handed to the general parser.
    pub fallbacks: u64,
}

/// A scalar JSON value of the strict subset.
#[derive(Clone, Copy, PartialEq)]
enum Scalar<'a> {
    Str(&'a [u8]),
    /// The digits; converted only when the field is used.
    Uint(&'a [u8]),
    Bool(bool),
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    #[inline(always)]
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        let end = self.i + s.len();
        (self.b.get(self.i..end)? == s).then(|| self.i = end)
    }

    /// The bytes of a string of printable ASCII without escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        // Eight bytes at a time: find the closing quote and any byte that is not printable
        // ASCII or is a backslash before it.
        while let Some(w) = self.b.get(self.i..self.i + 8) {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            let quote = zero_bytes(w ^ (ONES * b'"' as u64));
            let bad = zero_bytes(w ^ (ONES * b'\\' as u64))
                | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
                | (w & HIGH);
            if quote != 0 {
                // Bits below the first quote byte; a false hit above a true one is harmless.
                let below = (quote & quote.wrapping_neg()) - 1;
                if bad & below != 0 {
                    return None;
                }
                self.i += (quote.trailing_zeros() / 8) as usize;
                let s = &self.b[start..self.i];
                self.i += 1;
                return Some(s);
            }
            if bad != 0 {
                return None;
            }
            self.i += 8;
        }
        let mut bad = false;
        loop {
            let c = *self.b.get(self.i)?;
            if c == b'"' {
                break;
            }
            bad |= c == b'\\' || !(0x20..0x80).contains(&c);
            self.i += 1;
        }
        if bad {
            return None;
        }
        let s = &self.b[start..self.i];
        self.i += 1;
        Some(s)
    }

    /// The digits of an unsigned integer in JSON's grammar (no leading zeros) of at most 19
    /// digits (so it fits a `u64`).
    #[inline(always)]
    fn uint(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        let n = self.i - start;
        let leading_zero = n > 1 && self.b[start] == b'0';
        // A fraction or exponent makes it a float: not in the subset.
        let more = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (n > 0 && n <= 19 && !leading_zero && !more).then(|| &self.b[start..self.i])
    }

    #[inline(always)]
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Scalar::Str),
            b't' => self.lit(b"true").map(|_| Scalar::Bool(true)),
            b'f' => self.lit(b"false").map(|_| Scalar::Bool(false)),
            b'0'..=b'9' => self.uint().map(Scalar::Uint),
            _ => None,
        }
    }

    /// `{"k":scalar,...}`, calling `f` per member; `f` returning `None` aborts.
    #[inline(always)]
    fn flat_object(&mut self, mut f: impl FnMut(&'a [u8], Scalar<'a>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let k = self.string()?;
            self.eat(b':')?;
            let v = self.scalar()?;
            f(k, v)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// High bit set in each zero byte of `w` (exact for the lowest zero byte).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGH
}

/// Eight ASCII digits (first digit in the lowest byte) → their value (simdjson's
/// `parse_eight_digits_unrolled`).
#[inline(always)]
fn eight_digits(b: &[u8]) -> u64 {
    let mut v = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    v = v.wrapping_sub(ONES * b'0' as u64);
    v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xFFFF_FFFF
}

/// The value of 1..=19 ASCII digits: leading digits one by one, then eight at a time.
#[inline(always)]
fn digits_value(d: &[u8]) -> u64 {
    let head = d.len() % 8;
    let mut v = 0u64;
    for &c in &d[..head] {
        v = v * 10 + (c - b'0') as u64;
    }
    for chunk in d[head..].chunks_exact(8) {
        v = v
            .wrapping_mul(100_000_000)
            .wrapping_add(eight_digits(chunk));
    }
    v
}

#[inline(always)]
fn s<'a>(v: Scalar<'a>) -> Option<&'a [u8]> {
    match v {
        Scalar::Str(s) => Some(s),
        _ => None,
    }
}

#[inline(always)]
fn u(v: Scalar<'_>) -> Option<u64> {
    match v {
        Scalar::Uint(d) => Some(digits_value(d)),
        // The general parser also reads an all-digit string as a number.
        Scalar::Str(s) => super::tape::digits_u64_bytes(s),
        Scalar::Bool(_) => None,
    }
}

/// Binance `trade`/`aggTrade` (combined or raw) → the tick, or `None` to fall back.
#[inline]
pub fn binance_trade(frame: &[u8], symbols: &SymbolTable) -> Option<Tick> {
    let mut c = Cur { b: frame, i: 0 };
    let combined = frame.starts_with(b"{\"stream\":");
    if combined {
        c.lit(b"{\"stream\":")?;
        c.string()?;
        c.lit(b",\"data\":")?;
    }
    let (mut kind, mut ts, mut sym, mut t, mut a, mut p, mut q, mut m) =
        (None, None, None, None, None, None, None, None);
    c.flat_object(|k, v| {
        match k {
            b"e" => kind = Some(s(v)),
            b"T" => ts = Some(u(v)),
            b"s" => sym = Some(s(v)),
            b"t" => t = Some(u(v)),
            b"a" => a = Some(v),
            b"p" => p = Some(s(v)),
            b"q" => q = Some(s(v)),
            b"m" => m = Some(v),
            // Keys of trade/aggTrade the general parser ignores. Any other key (`code`,
            // `error`, `data`, ... in a raw frame) could change the general classification.
            b"E" | b"X" | b"f" | b"l" | b"M" => {}
            _ => return None,
        }
        Some(())
    })?;
    if combined {
        c.eat(b'}')?;
    }
    if c.i != frame.len() {
        return None;
    }
    let trade_id = match kind?? {
        b"trade" => t??,
        b"aggTrade" => match a? {
            Scalar::Str(_) => return None,
            v => u(v)?,
        },
        _ => return None,
    };
    let symbol = symbols.lookup_bytes(sym??)?;
    let price = positive_decimal_bytes(p??, "p").ok()?;
    let qty = positive_decimal_bytes(q??, "q").ok()?;
    let maker = match m? {
        Scalar::Bool(b) => b,
        _ => return None,
    };
    Some(Tick {
        symbol,
        side: if maker { Side::Sell } else { Side::Buy },
        price,
        qty,
        exch_ts_ms: ts??,
        trade_id,
        recv_ns: 0,
        parsed_ns: 0,
    })
}

/// Bybit `publicTrade` with up to [`MAX_FAST_TRADES`] trades → the ticks appended to `out`
/// (which never grows past that) and their number, or `None` to fall back.
#[inline]
pub fn bybit_trades(frame: &[u8], symbols: &SymbolTable, out: &mut Vec<Tick>) -> Option<usize> {
    out.clear();
    let mut c = Cur { b: frame, i: 0 };
    c.eat(b'{')?;
    let (mut topic_ok, mut snapshot, mut n, mut seen_data) = (false, false, 0usize, false);
    loop {
        let k = c.string()?;
        c.eat(b':')?;
        match k {
            b"topic" => topic_ok = c.string()?.starts_with(b"publicTrade."),
            b"type" => snapshot = c.string()? == b"snapshot",
            b"ts" => {
                c.uint()?;
            }
            b"data" => {
                if seen_data {
                    return None;
                }
                seen_data = true;
                c.eat(b'[')?;
                if c.eat(b']').is_none() {
                    loop {
                        if n == MAX_FAST_TRADES {
                            return None;
                        }
                        out.push(bybit_trade(&mut c, symbols)?);
                        n += 1;
                        match c.peek()? {
                            b',' => c.i += 1,
                            b']' => {
                                c.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            _ => return None,
        }
        match c.peek()? {
            b',' => c.i += 1,
            b'}' => {
                c.i += 1;
                break;
            }
            _ => return None,
        }
    }
    (c.i == frame.len() && topic_ok && snapshot && seen_data).then_some(n)
}

#[inline(always)]
fn bybit_trade(c: &mut Cur<'_>, symbols: &SymbolTable) -> Option<Tick> {
    let (mut ts, mut sym, mut side, mut v, mut p, mut id) = (None, None, None, None, None, None);
    c.flat_object(|k, val| {
        match k {
            b"T" => ts = Some(u(val)),
            b"s" => sym = Some(s(val)),
            b"S" => side = Some(s(val)),
            b"v" => v = Some(s(val)),
            b"p" => p = Some(s(val)),
            b"i" => id = Some(s(val)),
            _ => {}
        }
        Some(())
    })?;
    let symbol = symbols.lookup_bytes(sym??)?;
    let price = positive_decimal_bytes(p??, "p").ok()?;
    let qty = positive_decimal_bytes(v??, "v").ok()?;
    let side = match side?? {
        b"Buy" => Side::Buy,
        b"Sell" => Side::Sell,
        _ => return None,
    };
    Some(Tick {
        symbol,
        side,
        price,
        qty,
        exch_ts_ms: ts??,
        trade_id: trade_id_hash_bytes(id??),
        recv_ns: 0,
        parsed_ns: 0,
    })
}

/// Binance: the extractor for trade/aggTrade, else `general`. Same result as
/// `general.parse` for every input.
#[inline]
pub fn parse_binance<F: FnMut(MarketEvent)>(
    general: &mut BinanceParser,
    frame: &mut [u8],
    symbols: &SymbolTable,
    mut on: F,
) -> (Result<Control, ParseError>, bool) {
    if let Some(t) = binance_trade(frame, symbols) {
        on(MarketEvent::Trade(t));
        let c = Control::Data {
            emitted: 1,
            update: UpdateKind::Event,
        };
        return (Ok(c), true);
    }
    (general.parse(frame, symbols, on), false)
}

/// Bybit: the extractor for publicTrade batches of up to [`MAX_FAST_TRADES`], else
/// `general`. Same result as `general.parse` for every input.
#[inline]
pub fn parse_bybit<F: FnMut(MarketEvent)>(
    general: &mut BybitParser,
    frame: &mut [u8],
    symbols: &SymbolTable,
    mut on: F,
) -> (Result<Control, ParseError>, bool) {
    // The scratch is taken out so `general` stays usable; taking leaves an empty,
    // unallocated Vec, and putting it back keeps the capacity: no allocation either way.
    let mut out = std::mem::take(&mut general.fast_scratch);
    let r = match bybit_trades(frame, symbols, &mut out) {
        Some(n) => {
            for t in &out {
                on(MarketEvent::Trade(*t));
            }
            let c = Control::Data {
                emitted: n as u32,
                update: UpdateKind::Snapshot,
            };
            (Ok(c), true)
        }
        None => (general.parse(frame, symbols, on), false),
    };
    general.fast_scratch = out;
    r
}

impl FastPath {
    #[inline]
    fn count<R>(&mut self, (r, hit): (R, bool)) -> R {
        if hit {
            self.hits += 1;
        } else {
            self.fallbacks += 1;
        }
        r
    }

    /// [`parse_binance`], counting hits and fallbacks.
    #[inline]
    pub fn parse_binance<F: FnMut(MarketEvent)>(
        &mut self,
        general: &mut BinanceParser,
        frame: &mut [u8],
        symbols: &SymbolTable,
        on: F,
    ) -> Result<Control, ParseError> {
        self.count(parse_binance(general, frame, symbols, on))
    }

    /// [`parse_bybit`], counting hits and fallbacks.
    #[inline]
    pub fn parse_bybit<F: FnMut(MarketEvent)>(
        &mut self,
        general: &mut BybitParser,
        frame: &mut [u8],
        symbols: &SymbolTable,
        on: F,
    ) -> Result<Control, ParseError> {
        self.count(parse_bybit(general, frame, symbols, on))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SymbolTable {
        SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
    }

    #[test]
    fn digit_groups_parse_to_their_value() {
        for n in [
            0u64,
            7,
            12345678,
            123456789,
            1723161256322,
            9999999999999999999,
            1000000000000000000,
        ] {
            let s = n.to_string();
            assert_eq!(digits_value(s.as_bytes()), n, "{s}");
        }
    }

    #[test]
    fn strings_are_scanned_eight_bytes_at_a_time_exactly() {
        let ok = |t: &str| {
            let mut c = Cur {
                b: t.as_bytes(),
                i: 0,
            };
            c.string().map(|s| (s.to_vec(), c.i))
        };
        assert_eq!(
            ok(r#""btcusdt@trade","#),
            Some((b"btcusdt@trade".to_vec(), 15))
        );
        assert_eq!(ok(r#""abcdefg""#), Some((b"abcdefg".to_vec(), 9)));
        assert_eq!(ok(r#""""#), Some((vec![], 2)));
        assert_eq!(
            ok(r#""abcdefghijklmnop"x"#),
            Some((b"abcdefghijklmnop".to_vec(), 18))
        );
        for bad in [
            r#""abc\"d""#,
            r#""abcdefgh\"ijk""#,
            "\"ab\tcdefghij\"",
            "\"abcdéfghij\"",
            r#""abcdefghij"#,
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        // A bad byte after the quote does not matter.
        assert_eq!(ok("\"ab\"\\\t"), Some((b"ab".to_vec(), 4)));
    }

    #[test]
    fn binance_trade_sample_is_extracted() {
        let f = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#;
        let t = binance_trade(f, &table()).unwrap();
        assert_eq!(
            (t.price, t.qty, t.trade_id, t.side),
            (61800.30, 0.006, 5266583935, Side::Buy)
        );
    }

    #[test]
    fn anything_outside_the_subset_falls_back() {
        let base = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":3,"p":"1.5","q":"2","X":"MARKET","m":true}}"#;
        assert!(binance_trade(base.as_bytes(), &table()).is_some());
        for bad in [
            base.replace("\"T\":2", "\"T\": 2"),
            base.replace("\"t\":3", "\"t\":03"),
            base.replace("\"t\":3", "\"t\":3.0"),
            base.replace("MARKET", "MAR\\u004bET"),
            base.replace("\"E\":1", "\"code\":1"),
            base.replace("\"e\":\"trade\"", "\"e\":\"bookTicker\""),
            base.replace("\"p\":\"1.5\"", "\"p\":\"0\""),
            base.replace("BTCUSDT", "DOGEUSDT"),
            format!("{base} "),
            base[..base.len() - 1].to_string(),
        ] {
            assert!(binance_trade(bad.as_bytes(), &table()).is_none(), "{bad}");
        }
    }

    #[test]
    fn bybit_batches_up_to_the_limit_are_extracted() {
        let one =
            r#"{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"2","L":"PlusTick","i":"x","BT":false}"#;
        let frame = |n: usize| {
            let rows = vec![one; n];
            format!(
                r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":5,"data":[{}]}}"#,
                rows.join(",")
            )
        };
        let mut out = Vec::with_capacity(MAX_FAST_TRADES);
        assert_eq!(
            bybit_trades(frame(3).as_bytes(), &table(), &mut out),
            Some(3)
        );
        assert_eq!(
            bybit_trades(frame(MAX_FAST_TRADES + 1).as_bytes(), &table(), &mut out),
            None
        );
        let delta = frame(1).replace("snapshot", "delta");
        assert_eq!(bybit_trades(delta.as_bytes(), &table(), &mut out), None);
    }
}
