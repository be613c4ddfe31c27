//! Writing request bytes: [`Sink`], one interface over a growing `Vec<u8>` (the general writers)
//! and a [`Cursor`] into a buffer sized once (the order templates). A cursor copies constants
//! and [`Padded`] pieces in fixed-size chunks and writes numbers straight into place, so an order
//! makes no `memcpy` call and no capacity check per field.

use rust_decimal::Decimal;

use crate::types::fixed::POW10;
use crate::types::instrument::write_decimal;

/// Where request bytes go: the same calls write the same bytes into either sink.
pub(crate) trait Sink {
    /// Appends the constant `s`.
    fn lit<const N: usize>(&mut self, s: &[u8; N]);
    /// Appends `p`'s bytes.
    fn padded<const N: usize>(&mut self, p: &Padded<N>);
    /// Appends `d` as plain decimal text with trailing fraction zeros dropped (the text of
    /// [`write_decimal`] with `trim`).
    fn decimal(&mut self, d: Decimal);
    /// Appends `u` in decimal.
    fn uint(&mut self, u: u64);
}

impl Sink for Vec<u8> {
    #[inline]
    fn lit<const N: usize>(&mut self, s: &[u8; N]) {
        self.extend_from_slice(s);
    }

    #[inline]
    fn padded<const N: usize>(&mut self, p: &Padded<N>) {
        self.extend_from_slice(p.as_bytes());
    }

    #[inline]
    fn decimal(&mut self, d: Decimal) {
        write_decimal(self, d, true);
    }

    #[inline]
    fn uint(&mut self, u: u64) {
        self.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    }
}

/// Up to `N` bytes kept in an `N`-byte array, so a [`Cursor`] copies all `N` (one fixed-size
/// move) and advances by the length.
#[derive(Clone, Debug)]
pub(crate) struct Padded<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Padded<N> {
    /// `s` padded with zeros; `None` when longer than `N`.
    pub(crate) fn new(s: &[u8]) -> Option<Self> {
        let mut bytes = [0; N];
        bytes.get_mut(..s.len())?.copy_from_slice(s);
        Some(Self {
            bytes,
            len: s.len(),
        })
    }

    /// The bytes (without the padding).
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Writes forward from `at` in `buf`. A [`Padded<N>`] write needs `N` bytes of room (the bytes
/// past its length are scratch, overwritten by what follows); size `buf` for the longest
/// request plus the largest `N`. Writing past the end panics.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `at` in `buf`.
    #[inline]
    pub(crate) fn new(buf: &'a mut [u8], at: usize) -> Self {
        Self { buf, at }
    }

    /// Where the next byte goes.
    #[inline]
    pub(crate) fn at(&self) -> usize {
        self.at
    }

    /// Reserves the next `n` bytes and returns them.
    #[inline]
    fn take(&mut self, n: usize) -> &mut [u8] {
        let at = self.at;
        self.at += n;
        &mut self.buf[at..at + n]
    }
}

impl Sink for Cursor<'_> {
    #[inline]
    fn lit<const N: usize>(&mut self, s: &[u8; N]) {
        *array_at(self.buf, self.at) = *s;
        self.at += N;
    }

    #[inline]
    fn padded<const N: usize>(&mut self, p: &Padded<N>) {
        *array_at(self.buf, self.at) = p.bytes;
        self.at += p.len;
    }

    #[inline]
    fn decimal(&mut self, d: Decimal) {
        let m = d.mantissa();
        let scale = d.scale() as usize;
        match u64::try_from(m.unsigned_abs()) {
            Ok(u) => self.decimal_u64(m < 0, u, scale),
            Err(_) => self.decimal_wide(m < 0, m.unsigned_abs(), scale),
        }
    }

    #[inline]
    fn uint(&mut self, u: u64) {
        put_digits(self.take(digit_count(u)), u);
    }
}

impl Cursor<'_> {
    /// The bytes of a decimal of `n` digits at `scale` (after trimming): sign, digits and
    /// point, or `0.` and zero-padded digits when all are fraction.
    #[inline]
    fn decimal_out(&mut self, neg: bool, n: usize, scale: usize) -> &mut [u8] {
        let len = match scale {
            0 => n,
            s if n > s => n + 1,
            s => s + 2,
        };
        let out = self.take(neg as usize + len);
        if neg {
            out[0] = b'-';
            return &mut out[1..];
        }
        out
    }

    /// [`Sink::decimal`] of a mantissa `±u` at `scale`: the digits written in place.
    #[inline]
    fn decimal_u64(&mut self, neg: bool, mut u: u64, mut scale: usize) {
        while scale > 0 && u % 10 == 0 {
            u /= 10;
            scale -= 1;
        }
        let n = digit_count(u);
        let out = self.decimal_out(neg, n, scale);
        if scale == 0 {
            put_digits(out, u);
        } else if n > scale {
            let (int, frac) = out.split_at_mut(n - scale);
            put_digits(int, u / POW10[scale]);
            frac[0] = b'.';
            put_digits(&mut frac[1..], u % POW10[scale]);
        } else {
            out[0] = b'0';
            out[1] = b'.';
            put_digits(&mut out[2..], u);
        }
    }

    /// [`Sink::decimal`] of a mantissa beyond `u64` (no price or quantity has one).
    #[cold]
    fn decimal_wide(&mut self, neg: bool, mut u: u128, mut scale: usize) {
        while scale > 0 && u % 10 == 0 {
            u /= 10;
            scale -= 1;
        }
        let mut digits = itoa::Buffer::new();
        let text = digits.format(u).as_bytes();
        let n = text.len();
        let out = self.decimal_out(neg, n, scale);
        if scale == 0 {
            out.copy_from_slice(text);
        } else if n > scale {
            out[..n - scale].copy_from_slice(&text[..n - scale]);
            out[n - scale] = b'.';
            out[n - scale + 1..].copy_from_slice(&text[n - scale..]);
        } else {
            out[..2].copy_from_slice(b"0.");
            out[2..2 + scale - n].fill(b'0');
            out[2 + scale - n..].copy_from_slice(text);
        }
    }
}

/// The two ASCII digits of 0..100.
const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// `buf[at..at + N]` as an array: assigning to it is one fixed-size move (`copy_from_slice`
/// can end in an out-of-line `memcpy` call even for a constant length). Panics past the end.
#[inline(always)]
pub(crate) fn array_at<const N: usize>(buf: &mut [u8], at: usize) -> &mut [u8; N] {
    (&mut buf[at..at + N])
        .try_into()
        .expect("a range of N bytes")
}

/// Decimal digits of `u` (1 for 0).
#[inline]
pub(crate) fn digit_count(u: u64) -> usize {
    u.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// Writes the last `out.len()` decimal digits of `u` into `out`, zero-padded on the left, two
/// digits per step from the right.
#[inline]
pub(crate) fn put_digits(out: &mut [u8], mut u: u64) {
    let mut i = out.len();
    while i >= 2 {
        let [hi, lo] = PAIRS[(u % 100) as usize];
        out[i - 2] = hi;
        out[i - 1] = lo;
        u /= 100;
        i -= 2;
    }
    if i == 1 {
        out[0] = b'0' + (u % 10) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every decimal a cursor writes equals `write_decimal`'s trimmed text: random mantissas
    /// (both signs, up to 96 bits) at every scale, and the edges.
    #[test]
    fn cursor_decimals_equal_write_decimal() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut cases: Vec<Decimal> = [
            "0",
            "-0",
            "0.000",
            "1",
            "10",
            "100.00",
            "0.1",
            "0.001",
            "-0.016",
            "61200.0700",
            "18446744073709551615",
            "18446744073709551616",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for _ in 0..20_000 {
            let bits = next() % 97;
            let m = if bits >= 64 {
                (next() as i128) << (bits - 63)
            } else {
                (next() >> (64 - bits.max(1))) as i128
            };
            let m = if next() % 3 == 0 { -m } else { m };
            let scale = (next() % 29) as u32;
            if let Ok(d) = Decimal::try_from_i128_with_scale(m, scale) {
                cases.push(d);
            }
        }
        let mut buf = vec![0u8; 64];
        for d in cases {
            let mut want = Vec::new();
            write_decimal(&mut want, d, true);
            let mut c = Cursor::new(&mut buf, 3);
            c.decimal(d);
            let end = c.at();
            assert_eq!(&buf[3..end], &want[..], "{d:?}");
        }
    }

    #[test]
    fn cursor_writes_what_a_vec_writes() {
        let link = Padded::<48>::new(b",\"orderLinkId\":\"ct-").unwrap();
        let mut v = Vec::new();
        let mut buf = vec![0u8; 256];
        let mut c = Cursor::new(&mut buf, 0);
        for u in [0u64, 7, 10, 99, 100, 12345, 1_700_000_000_000, u64::MAX] {
            v.lit(b"{\"a\":");
            c.lit(b"{\"a\":");
            v.padded(&link);
            c.padded(&link);
            v.uint(u);
            c.uint(u);
        }
        let end = c.at();
        assert_eq!(&buf[..end], &v[..]);
        assert!(Padded::<4>::new(b"12345").is_none());
    }
}
