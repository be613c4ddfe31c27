//! The byte scanner behind the venues' fast paths (`venue::binance::fast`,
//! `venue::bybit::fast`): specialised extractors for the hottest messages scan the bytes once
//! without building a tape, and fall back to the general parser on anything unexpected.
//!
//! The scanner accepts only a strict subset of JSON: flat objects whose keys and string
//! values are printable ASCII without escapes, unsigned integers without leading zeros, and
//! booleans; no whitespace. Within that subset it reads fields with the general parsers' rules
//! (the same key → slot mapping, the last duplicate wins, the same decimal and id conversions),
//! so whenever it answers, the answer equals the general parser's; everything else — other
//! message types, errors, escapes, whitespace, unknown top-level keys — goes to the general
//! parser unchanged. `tests/parse_fast_path.rs` checks the equality by property test over the
//! real recordings and mutations of them.

/// How often the extractors answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastPath {
    /// Frames the extractor answered.
    pub hits: u64,
    /// Frames handed to the general parser.
    pub fallbacks: u64,
}

/// A scalar JSON value of the strict subset.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(&'a [u8]),
    /// The digits; converted only when the field is used.
    Uint(&'a [u8]),
    Bool(bool),
}

pub(crate) struct Cur<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl<'a> Cur<'a> {
    #[inline(always)]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    pub(crate) fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    #[inline(always)]
    pub(crate) fn lit(&mut self, s: &[u8]) -> Option<()> {
        let end = self.i + s.len();
        (self.b.get(self.i..end)? == s).then(|| self.i = end)
    }

    /// The bytes of a string of printable ASCII without escapes.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Option<&'a [u8]> {
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
    pub(crate) fn uint(&mut self) -> Option<&'a [u8]> {
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
    pub(crate) fn scalar(&mut self) -> Option<Scalar<'a>> {
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
    pub(crate) fn flat_object(
        &mut self,
        mut f: impl FnMut(&'a [u8], Scalar<'a>) -> Option<()>,
    ) -> Option<()> {
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
pub(crate) fn s<'a>(v: Scalar<'a>) -> Option<&'a [u8]> {
    match v {
        Scalar::Str(s) => Some(s),
        _ => None,
    }
}

#[inline(always)]
pub(crate) fn u(v: Scalar<'_>) -> Option<u64> {
    match v {
        Scalar::Uint(d) => Some(digits_value(d)),
        // The general parser also reads an all-digit string as a number.
        Scalar::Str(s) => super::tape::digits_u64_bytes(s),
        Scalar::Bool(_) => None,
    }
}

impl FastPath {
    /// Counts one `(result, answered by the extractor)` pair of a venue fast path (e.g.
    /// `venue::binance::fast::parse`) and returns the result.
    #[inline]
    pub fn count<R>(&mut self, (r, hit): (R, bool)) -> R {
        if hit {
            self.hits += 1;
        } else {
            self.fallbacks += 1;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
