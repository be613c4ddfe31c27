//! Whole ticks and lots from model floats, and decimals built from integers, for the decision
//! path (levels, sizes), with no `Decimal` conversion in the common case.
//!
//! The conversions keep the venue-side results bit-identical to the `Decimal` arithmetic they
//! replace: a model value `x` enters as the decimal [`f64_decimal`] gives (the value of
//! `rust_decimal`'s `from_f64`: the f64 cut to 15–16 significant digits, so `0.1 + 0.2` is
//! `0.3`), and [`floor_ticks`] returns `floor(that decimal / increment)`. A decimal leaves for a
//! model as [`dec_f64`] (the value of `Decimal::to_f64`). Failures are values ([`TickError`]),
//! never panics. O(1), no allocation.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// `POW10[k] = 10^k` for k in 0..=19 (every power of ten a `u64` holds).
pub const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut k = 1;
    while k < 20 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// A positive increment (tick size or quantity step) `mantissa · 10^−scale`, with its f64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Increment {
    /// Integer mantissa, > 0.
    pub mantissa: i64,
    /// Decimal scale (digits after the point), ≤ 28.
    pub scale: u32,
    /// The increment as f64 (for the fast estimate).
    pub f64: f64,
}

impl Increment {
    /// From a positive decimal whose mantissa fits an `i64`; `None` otherwise.
    pub fn of(d: Decimal) -> Option<Self> {
        let mantissa = i64::try_from(d.mantissa()).ok().filter(|&m| m > 0)?;
        Some(Self {
            mantissa,
            scale: d.scale(),
            f64: dec_f64(d),
        })
    }

    /// `n` increments as a decimal at the increment's scale (mantissa `n · mantissa`), or
    /// `None` when that mantissa overflows an `i64`.
    #[inline]
    pub fn times(&self, n: i64) -> Option<Decimal> {
        let m = n.checked_mul(self.mantissa)?;
        // `Decimal::new(m, scale)` (scale ≤ 28, checked by `Increment::of`) from its words.
        let u = m.unsigned_abs();
        Some(Decimal::from_parts(
            u as u32,
            (u >> 32) as u32,
            0,
            m < 0,
            self.scale,
        ))
    }

    /// `n · increment` as [`dec_f64`] gives it for [`Increment::times`] (the same f64 as
    /// `Decimal::to_f64` of that decimal); NaN when the mantissa overflows.
    #[inline]
    pub fn times_f64(&self, n: i64) -> f64 {
        match n.checked_mul(self.mantissa) {
            Some(m) => mantissa_f64(m, self.scale),
            None => f64::NAN,
        }
    }
}

/// Why a float could not become whole increments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickError {
    /// NaN or ±∞.
    NotFinite,
    /// The value, or its count of increments, does not fit (decimal above 7.9·10²⁸, or more
    /// than `i64::MAX` increments).
    Overflow,
}

/// A decimal as sign, 96-bit mantissa and scale (≤ 28): `(−1)^neg · mantissa · 10^−scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// Negative.
    pub neg: bool,
    /// Mantissa, < 2^96.
    pub mantissa: u128,
    /// Digits after the point.
    pub scale: u32,
}

impl Parts {
    /// The `Decimal` of these parts.
    #[inline]
    pub fn to_decimal(self) -> Option<Decimal> {
        let m = i128::try_from(self.mantissa).ok()?;
        Decimal::try_from_i128_with_scale(if self.neg { -m } else { m }, self.scale).ok()
    }
}

const MANTISSA_LIMIT: u128 = 1 << 96;

/// `5^k` for `k ≤ 41` (`5^41 < 2^96`): the steps [`f64_decimal`] takes at once.
const POW5: [u128; 42] = {
    let mut t = [1u128; 42];
    let mut k = 1;
    while k < 42 {
        t[k] = t[k - 1] * 5;
        k += 1;
    }
    t
};

/// The decimal `Decimal::from_f64(x)` is, computed on integers: the exact binary value expanded
/// into a 96-bit decimal mantissa (halving when a ×5 would overflow), rounded half up digit by
/// digit to at most 28 places, then to a mantissa below 2^52 (15–16 significant digits), then
/// stripped of trailing zeros. `None` for NaN/±∞ or a magnitude that does not fit 96 bits.
/// Bounded loops (≤ 1 100 steps, on the cold branch of [`floor_ticks`] only).
pub fn f64_decimal(x: f64) -> Option<Parts> {
    if !x.is_finite() {
        return None;
    }
    let raw = x.to_bits();
    let neg = raw >> 63 != 0;
    let biased = ((raw >> 52) & 0x7FF) as i32;
    let frac = u128::from(raw & 0x000F_FFFF_FFFF_FFFF);
    if biased == 0 && frac == 0 {
        return Some(Parts {
            neg,
            mantissa: 0,
            scale: 0,
        });
    }
    let (mut bits, e2) = if biased == 0 {
        (frac, biased - 1023 + 1 - 52)
    } else {
        (frac | 1 << 52, biased - 1023 - 52)
    };
    // x = bits · 5^e5 · 10^e10.
    let (mut e5, mut e10) = (-e2, e2);
    // Each step multiplies an odd mantissa by 5 while that fits, else halves it (`e10 + 1`).
    // An even one is halved exactly: all of its trailing zeros (up to `e5`) in one step, the
    // same result as one at a time (`bits > 0` throughout: an odd one is halved only from
    // above 2⁹⁶/5).
    while e5 > 0 {
        if bits & 1 == 0 {
            let k = (bits.trailing_zeros() as i32).min(e5);
            bits >>= k;
            e10 += k;
            e5 -= k;
        } else if bits * 5 < MANTISSA_LIMIT {
            // An odd mantissa stays odd ×5, so the one-at-a-time loop would take every step
            // that fits: take the `k` that surely do at once. `bits < 2^(96 − room)` and
            // `5^k < 2^(2.33·k) ≤ 2^room` for `k ≤ 3·room/7`; at least the one step that fits.
            let room = bits.leading_zeros().saturating_sub(32);
            let k = ((room * 3 / 7) as i32).min(e5).max(1);
            bits *= POW5[k as usize];
            e5 -= k;
        } else {
            bits >>= 1;
            e10 += 1;
            e5 -= 1;
        }
    }
    while e5 < 0 {
        if bits & 1 << 95 == 0 {
            bits <<= 1;
            e10 -= 1;
            e5 += 1;
        } else if e10 * 2 > -e5 {
            return None;
        } else {
            bits /= 5;
            e5 += 1;
        }
    }
    while e10 > 0 {
        if bits * 10 >= MANTISSA_LIMIT {
            return None;
        }
        bits *= 10;
        e10 -= 1;
    }
    while e10 < -28 {
        let rem = bits % 10;
        bits /= 10;
        e10 += 1;
        if bits == 0 {
            e10 = 0;
        } else if rem >= 5 {
            bits += 1;
        }
    }
    // Down to a mantissa below 2^52, half up digit by digit: the `k` digits the mantissa
    // surely loses (`bits ≥ 2^52 · 10^(k−1)`) in one division, then one at a time while the
    // carry leaves it at 2^52.
    if e10 < 0 && bits >= 1 << 52 {
        let k = (1..ROUND_UP.len())
            .find(|&k| bits < (1u128 << 52) * POW10[k] as u128)
            .unwrap_or(ROUND_UP.len() - 1)
            .min(e10.unsigned_abs() as usize);
        let p = u128::from(POW10[k]);
        let (q, r) = (bits / p, bits % p);
        bits = q + u128::from(r >= ROUND_UP[k]);
        e10 += k as i32;
    }
    while e10 < 0 && bits >= 1 << 52 {
        let rem = bits % 10;
        bits /= 10;
        e10 += 1;
        if rem >= 5 {
            bits += 1;
        }
    }
    if e10 < 0 {
        // Below 2^52 here: trailing zeros stripped on `u64`.
        let mut m = bits as u64;
        while e10 < 0 && m % 10 == 0 {
            m /= 10;
            e10 += 1;
        }
        bits = u128::from(m);
    }
    Some(Parts {
        neg,
        mantissa: bits,
        scale: e10.unsigned_abs(),
    })
}

/// `ROUND_UP[k]` = 4…45 (`k` digits; 0 for `k = 0`): rounding off `k` digits half up one digit
/// at a time carries into the kept ones exactly when they are at least this. (The last digit
/// carries at ≥ 5; each digit above it carries at ≥ 5, or at 4 with a carry from below: by
/// induction, at ≥ 4…45.) Up to 14 digits: a mantissa below 2^96 loses at most 14 on its way
/// below 2^52 (`2^52 · 10^14 > 2^96`).
const ROUND_UP: [u128; 15] = {
    let (mut t, mut fours, mut k) = ([0u128; 15], 0u128, 1);
    while k < 15 {
        fours = fours * 10 + 4;
        t[k] = fours + 1;
        k += 1;
    }
    t
};

/// `floor(D / inc)` for `D` = [`f64_decimal`]`(x)`, as whole increments. A float estimate
/// decides whenever it is farther from a whole increment than its error bound (`10⁻¹³` relative
/// plus `10⁻²⁷` absolute, against the decimal's ≤ 1.3·10⁻¹⁵ and 0.6·10⁻²⁸); nearer, the exact
/// decimal is built and divided on integers.
#[inline]
pub fn floor_ticks(x: f64, inc: &Increment) -> Result<i64, TickError> {
    if !x.is_finite() {
        return Err(TickError::NotFinite);
    }
    let q = x / inc.f64;
    if q.abs() < 9.0e18 {
        let fl = floor_fast(q);
        let frac = q - fl;
        let margin = (x.abs() * 1e-13 + 1e-27) / inc.f64;
        if frac > margin && 1.0 - frac > margin {
            return Ok(fl as i64);
        }
    }
    floor_ticks_exact(x, inc)
}

#[cold]
fn floor_ticks_exact(x: f64, inc: &Increment) -> Result<i64, TickError> {
    let d = f64_decimal(x).ok_or(TickError::Overflow)?;
    let im = inc.mantissa as u128;
    // D / inc = mantissa · 10^inc.scale / (im · 10^d.scale).
    let (num, den) = if d.scale >= inc.scale {
        match pow10(d.scale - inc.scale).and_then(|p| im.checked_mul(p)) {
            Some(den) => (d.mantissa, den),
            // The divisor exceeds 2^127 > the mantissa: |D / inc| < 1.
            None => (u128::from(d.mantissa != 0), u128::MAX),
        }
    } else {
        let num = pow10(inc.scale - d.scale)
            .and_then(|p| d.mantissa.checked_mul(p))
            .ok_or(TickError::Overflow)?;
        (num, im)
    };
    let (q, r) = (num / den, num % den);
    let q = i64::try_from(q).map_err(|_| TickError::Overflow)?;
    Ok(if d.neg { -q - i64::from(r != 0) } else { q })
}

/// `10^k` as `i128`, `10i128.checked_pow(k)` (`None` from 10³⁹ on) without its
/// square-and-multiply loop: the [`POW10`] table up to 10¹⁹.
#[inline]
pub fn pow10_i128(k: u32) -> Option<i128> {
    match POW10.get(k as usize) {
        Some(&p) => Some(i128::from(p)),
        None => 10i128.checked_pow(k),
    }
}

/// 10^k as u128 for k ≤ 38.
#[inline]
fn pow10(k: u32) -> Option<u128> {
    10u128.checked_pow(k)
}

/// `Decimal::to_f64` on a decimal `m · 10^−scale` with an `i64` mantissa, computed on `u64`s:
/// integral part plus `frac / 10^scale`, then rounded at `scale` places in f64 (the crate's
/// formula, so the same double).
///
/// For `|m| < 2⁵⁰` and `scale ≤ 18` that formula is one division, `m / 10^scale` rounded once:
/// `int`, `frac` and `10^scale` are exact doubles, so `(int + frac/10^s)·10^s` is within
/// `1.5·2⁻⁵²·|m| < 0.375` of `|m|` and rounds back to it exactly (`frac = 0`: `int` is that
/// quotient, exact); the rest of the range takes the formula.
#[inline]
pub fn mantissa_f64(m: i64, scale: u32) -> f64 {
    if scale == 0 {
        return m as f64;
    }
    if m.unsigned_abs() < 1 << 50 && scale <= 18 {
        return m as f64 / POW10[scale as usize] as i64 as f64;
    }
    mantissa_f64_wide(m, scale)
}

/// [`mantissa_f64`] for `|m| ≥ 2⁵⁰` or `scale > 18` (out of line: the one-division case
/// above inlines into its callers).
#[inline(never)]
fn mantissa_f64_wide(m: i64, scale: u32) -> f64 {
    let Some(&precision) = POW10.get(scale as usize) else {
        return Decimal::new(m, scale).to_f64().unwrap_or(f64::NAN);
    };
    let u = m.unsigned_abs();
    let (int, frac) = (u / precision, u % precision);
    // Below 2⁶³ (scale ≤ 18, so `int ≤ 2⁶³/10` and `frac < 10¹⁸`) `as i64 as f64` is the same
    // double as `as f64` (both round the same integer) in one instruction each, not a sequence.
    // `10^scale` (scale ≤ 19) is exact in f64, as `10f64.powi(scale)` is: a table, no call.
    let (int, frac, round_to) = if scale <= 18 {
        let p = precision as i64 as f64;
        (int as i64 as f64, frac as i64 as f64 / p, p)
    } else {
        let p = precision as f64;
        (int as f64, frac as f64 / p, p)
    };
    let v = if frac == 0.0 {
        int
    } else {
        round_half_away((int + frac) * round_to) / round_to
    };
    if m < 0 {
        -v
    } else {
        v
    }
}

/// `x.is_finite() && x > 0.0` as two float comparisons, `0 < x ≤ f64::MAX` (NaN fails both):
/// not the bit-class test that form compiles to.
#[inline]
pub fn positive_finite(x: f64) -> bool {
    x > 0.0 && x <= f64::MAX
}

/// `x.is_finite() && x >= 0.0` as two float comparisons, `0 ≤ x ≤ f64::MAX` (−0 included).
#[inline]
pub fn non_negative_finite(x: f64) -> bool {
    (0.0..=f64::MAX).contains(&x)
}

/// `x.floor()`, the same double, without the `floor` call the portable target makes: for
/// `|x| < 2⁵²` truncate (exact) and subtract one when that rounded a negative fraction up;
/// zeros (`−0.0 as i64 as f64` would lose the sign) and every other double (whole already,
/// ±∞, NaN) by `floor`.
#[inline]
pub fn floor_fast(x: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    if x.abs() < TWO_52 && x != 0.0 {
        let t = x as i64 as f64;
        if t > x {
            t - 1.0
        } else {
            t
        }
    } else {
        x.floor()
    }
}

/// `x.round()` (half away from zero), the same double, without the `round` call the portable
/// target makes: for `0 < x < 2⁵²` truncate (exact) and add one when the fraction `x − ⌊x⌋`
/// (exact, Sterbenz) is at least ½; every other double (≥ 2⁵², whole; ≤ 0; NaN) by `round`.
#[inline]
pub fn round_half_away(x: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    if x > 0.0 && x < TWO_52 {
        let t = x as i64 as f64;
        if x - t >= 0.5 {
            t + 1.0
        } else {
            t
        }
    } else {
        x.round()
    }
}

/// `d` as `(|mantissa|, negative, scale)` when the mantissa's top 32-bit word is zero
/// (`|m| < 2⁶⁴`), read from the words `serialize` gives (no `i128`); `None` otherwise.
#[inline(always)]
fn low64(d: Decimal) -> Option<(u64, bool, u32)> {
    let b = d.serialize();
    let w = |k: usize| u32::from_le_bytes([b[k], b[k + 1], b[k + 2], b[k + 3]]);
    (w(12) == 0).then(|| {
        let flags = w(0);
        (
            u64::from(w(8)) << 32 | u64::from(w(4)),
            flags >> 31 != 0,
            flags >> 16 & 0xFF,
        )
    })
}

/// `i64::try_from(d.mantissa())` for `|m| < 2⁶³` (`None` also at `m = −2⁶³`, which the
/// callers then treat as not fitting: their fallbacks give the same answer).
#[inline(always)]
pub fn mantissa_i64(d: Decimal) -> Option<i64> {
    match low64(d) {
        Some((m, neg, _)) if m < 1 << 63 => Some(if neg { -(m as i64) } else { m as i64 }),
        _ => None,
    }
}

/// `a * b`, the same decimal (mantissa, scale, sign): one `u64 × u64 → u128` product of the
/// magnitudes when both are below 2⁶⁴, the product is non-zero and below 2⁹⁶ and the scales
/// add to ≤ 28 (then the crate's product is that exact mantissa at the summed scale, negative
/// iff exactly one factor is); the crate's `Mul` otherwise. Always inlined: a factor shared by
/// several products (the limits of one equity) is read once.
#[inline(always)]
pub fn dec_mul(a: Decimal, b: Decimal) -> Decimal {
    if let (Some((x, na, sa)), Some((y, nb, sb))) = (low64(a), low64(b)) {
        let (p, s) = (u128::from(x) * u128::from(y), sa + sb);
        if p != 0 && s <= 28 && p < 1u128 << 96 {
            return Decimal::from_parts(p as u32, (p >> 32) as u32, (p >> 64) as u32, na != nb, s);
        }
    }
    a * b
}

/// `⌊(l / e) / inc⌋`, the whole increments `floor_to` finds in the crate's quotient `l / e`,
/// on integers for `l, e > 0`: `l/(e·inc) = lm·10^(es+ss−ls) / (em·im)`, quotient `n`,
/// remainder `r` over `den`. The crate's quotient is exact when `r = 0`, and otherwise within
/// `q·1.3·10⁻²⁷ + 10⁻²⁸` of `l/e` (≥ 27 significant digits or 28 decimals): below 10⁻⁹
/// increments when `n < 10¹⁵` and `inc ≥ 10⁻¹⁸`, so a fraction `r/den` in
/// `[10⁻⁹, 1 − 10⁻⁹]` floors to the same `n`. `None` (ask the decimals) in every other case.
/// When both mantissas are below 2⁶⁴ (read from the words, no `i128`), the products are of
/// factors below 2⁶⁴ (no `u128` overflow; `None` at 2¹²⁷ and above, where the `i128` form's
/// checked products fail) and the quotient is one `u64` division when `num` and `den` fit 64
/// bits, not the `i128` division call; the `i128` form otherwise.
#[inline]
pub fn floor_quotient_incs(l: Decimal, e: Decimal, inc: &Increment) -> Option<i64> {
    const GUARD: u128 = 1_000_000_000;
    const I128_MAX: u128 = i128::MAX as u128;
    let (Some((lm, false, ls)), Some((em, false, es))) = (low64(l), low64(e)) else {
        return floor_quotient_incs_i128(l, e, inc);
    };
    if lm == 0 || em == 0 || inc.mantissa <= 0 || inc.scale > 18 {
        return None;
    }
    let k = i64::from(es) + i64::from(inc.scale) - i64::from(ls);
    let p = pow10_i128(u32::try_from(k.unsigned_abs()).ok()?)? as u128;
    // Factors below 2⁶⁴ (`p ≤ 10³⁸ < 2¹²⁷` only when `k ≥ 20`: then `× lm` may wrap, so
    // it is checked).
    let den = u128::from(em) * inc.mantissa as u128;
    if den > I128_MAX {
        return None;
    }
    let (num, den) = if k >= 0 {
        (u128::from(lm).checked_mul(p)?, den)
    } else {
        (u128::from(lm), den.checked_mul(p)?)
    };
    if num > I128_MAX || den > I128_MAX {
        return None;
    }
    let (n, r) = match (u64::try_from(num), u64::try_from(den)) {
        (Ok(a), Ok(b)) => (u128::from(a / b), u128::from(a % b)),
        _ => (num / den, num % den),
    };
    if n >= 1_000_000_000_000_000 {
        return None;
    }
    // `r < den < 2¹²⁷` and the guard below 2³⁰: the `i128` form's checked products overflow
    // exactly when these exceed `i128::MAX`.
    if r != 0 {
        let (a, b) = (r.checked_mul(GUARD)?, (den - r).checked_mul(GUARD)?);
        if a > I128_MAX || b > I128_MAX || a < den || b < den {
            return None;
        }
    }
    i64::try_from(n).ok()
}

/// [`floor_quotient_incs`] on `i128` mantissas (a mantissa of 2⁶⁴ or more, or a negative
/// operand); the form it replaced, kept as its reference.
#[inline(never)]
fn floor_quotient_incs_i128(l: Decimal, e: Decimal, inc: &Increment) -> Option<i64> {
    const GUARD: i128 = 1_000_000_000;
    let (lm, em, im) = (l.mantissa(), e.mantissa(), i128::from(inc.mantissa));
    if lm <= 0 || em <= 0 || im <= 0 || inc.scale > 18 {
        return None;
    }
    let k = i64::from(e.scale()) + i64::from(inc.scale) - i64::from(l.scale());
    let p = pow10_i128(u32::try_from(k.unsigned_abs()).ok()?)?;
    let den = em.checked_mul(im)?;
    let (num, den) = if k >= 0 {
        (lm.checked_mul(p)?, den)
    } else {
        (lm, den.checked_mul(p)?)
    };
    let (n, r) = (num / den, num % den);
    if n >= 1_000_000_000_000_000 {
        return None;
    }
    if r != 0 && (r.checked_mul(GUARD)? < den || (den - r).checked_mul(GUARD)? < den) {
        return None;
    }
    i64::try_from(n).ok()
}

/// `a.cmp(&b)` (exact value order, as `Decimal`'s `Ord`), inline on `i128` when both mantissas
/// fit an `i64` and the scales differ by at most 19 (`|m · 10^k| < 2⁶³ · 2⁶⁴`); the crate's
/// comparison otherwise. Always inlined: the callers' constant operands fold.
#[inline(always)]
pub fn dec_cmp(a: Decimal, b: Decimal) -> std::cmp::Ordering {
    if let (Some(x), Some(y)) = (mantissa_i64(a), mantissa_i64(b)) {
        let (x, y, sa, sb) = (i128::from(x), i128::from(y), a.scale(), b.scale());
        if sa == sb {
            return x.cmp(&y);
        }
        let k = sa.abs_diff(sb) as usize;
        if let Some(&p) = POW10.get(k) {
            let p = i128::from(p);
            return if sa < sb {
                (x * p).cmp(&y)
            } else {
                x.cmp(&(y * p))
            };
        }
    }
    a.cmp(&b)
}

/// `d.to_f64()` (the same double), on `u64`s when the mantissa fits an `i64`.
#[inline]
pub fn dec_f64(d: Decimal) -> f64 {
    match mantissa_i64(d) {
        Some(m) => mantissa_f64(m, d.scale()),
        None => d.to_f64().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::FromPrimitive;

    /// Marsaglia's xorshift64 from `seed` (≠ 0): the tests' deterministic random source.
    fn xorshift(mut s: u64) -> impl FnMut() -> u64 {
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn inc(s: &str) -> Increment {
        Increment::of(d(s)).unwrap()
    }

    /// Today's computation: `floor(Decimal::from_f64(x) / inc)`.
    fn reference(x: f64, inc: Decimal) -> Result<i64, TickError> {
        let dx = Decimal::from_f64(x).ok_or(TickError::Overflow)?;
        let q = dx.checked_div(inc).ok_or(TickError::Overflow)?.floor();
        q.to_i64().ok_or(TickError::Overflow)
    }

    #[test]
    fn the_decimal_of_a_float_is_from_f64s() {
        let cases = [
            0.1 + 0.2,
            309.0015,
            61800.3 * 0.005,
            1.4999999999999998,
            1.5,
            -2.675,
            1e-30,
            5e-324,
            f64::MIN_POSITIVE,
            4503599627370497.0,
            1e28,
            7.9e28,
            7.93e28,
            1e300,
            -0.0,
            123456.789e-10,
        ];
        for x in cases {
            let want = Decimal::from_f64(x);
            let got = f64_decimal(x).and_then(Parts::to_decimal);
            assert_eq!(got, want, "{x:e}");
            if let (Some(g), Some(w)) = (got, want) {
                assert_eq!(g.scale(), w.scale(), "{x:e}");
            }
        }
        assert_eq!(f64_decimal(f64::NAN), None);
        assert_eq!(f64_decimal(f64::INFINITY), None);
        assert_eq!(f64_decimal(f64::NEG_INFINITY), None);
    }

    /// The doubles the exit planner's cold path sees (a fraction times a price on the tick,
    /// often a hair from a whole tick) and random ones near every exponent: the same decimal
    /// (value and scale) as `from_f64`, with the ×5 steps taken in blocks.
    #[test]
    fn the_decimal_of_a_float_in_blocks_matches_from_f64() {
        let mut next = xorshift(0x1F83_D9AB_FB41_BD6Bu64);
        for k in 0..200_000u64 {
            let x = if k % 2 == 0 {
                let price =
                    (1 + next() % 10_000_000) as f64 * [0.1, 0.01, 0.5, 1.0][k as usize % 4];
                price * [0.005, 0.0025, 0.003, 0.01, 0.0125][(next() % 5) as usize]
            } else {
                f64::from_bits(next() >> 1 | (next() % 2) << 63) * 1e-3
            };
            let want = Decimal::from_f64(x);
            let got = f64_decimal(x).and_then(Parts::to_decimal);
            assert_eq!(got, want, "{x:e}");
            if let (Some(g), Some(w)) = (got, want) {
                assert_eq!(g.scale(), w.scale(), "{x:e}");
            }
        }
    }

    /// The one-division rounding of `f64_decimal` (`ROUND_UP`) against the digit-by-digit
    /// loop it replaced: random mantissas below 2^96 and ones whose last `k` digits sit at the
    /// threshold 4…45 or one below it (a run of 4s the carry climbs or does not).
    #[test]
    fn rounding_off_k_digits_at_once_is_digit_by_digit_half_up() {
        let one_at_a_time = |mut b: u128, k: usize| {
            for _ in 0..k {
                let rem = b % 10;
                b = b / 10 + u128::from(rem >= 5);
            }
            b
        };
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
        for n in 0..100_000 {
            let k = 1 + (next() % 14) as usize;
            let p = u128::from(POW10[k]);
            let high = (u128::from(next()) << 32 | u128::from(next() >> 32)) % (1 << 80);
            let b = match n % 3 {
                0 => (high * p + u128::from(next())) % (1 << 96),
                1 => (high % (1 << 50)) * p + ROUND_UP[k],
                _ => (high % (1 << 50)) * p + ROUND_UP[k] - 1,
            };
            let bulk = b / p + u128::from(b % p >= ROUND_UP[k]);
            assert_eq!(bulk, one_at_a_time(b, k), "{b} k={k}");
        }
    }

    /// Every exponent, random mantissas: the same decimal (value and scale) as `from_f64`.
    #[test]
    fn the_decimal_of_a_float_matches_from_f64_over_the_whole_range() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1Du64);
        for _ in 0..200_000 {
            let x = f64::from_bits(next());
            let want = Decimal::from_f64(x);
            let got = f64_decimal(x).and_then(Parts::to_decimal);
            assert_eq!(got, want, "{x:e}");
            if let (Some(g), Some(w)) = (got, want) {
                assert_eq!(g.scale(), w.scale(), "{x:e}");
            }
        }
    }

    /// `f64_decimal` is `Decimal::from_f64` on the doubles the decision path meets near a
    /// whole tick (where `floor_ticks` asks it): short decimals (prices, fractions of them,
    /// integers), their neighbours one ulp away, and powers of two times small odd numbers.
    #[test]
    fn the_decimal_of_a_short_float_matches_from_f64() {
        let mut next = xorshift(0x3C6E_F372_FE94_F82Bu64);
        for k in 0..300_000u64 {
            let m = (next() % 10_000_000_000) as f64;
            let x = match k % 4 {
                0 => m / 10f64.powi((next() % 12) as i32),
                1 => m * 10f64.powi((next() % 12) as i32),
                2 => {
                    let x = m / 10f64.powi((next() % 9) as i32);
                    f64::from_bits((x.to_bits() + next() % 3).wrapping_sub(1))
                }
                _ => (next() % 1_000) as f64 * 2f64.powi((next() % 200) as i32 - 100),
            };
            let x = if next() % 5 == 0 { -x } else { x };
            let want = Decimal::from_f64(x);
            let got = f64_decimal(x).and_then(Parts::to_decimal);
            assert_eq!(got, want, "{x:e}");
            if let (Some(g), Some(w)) = (got, want) {
                assert_eq!(g.scale(), w.scale(), "{x:e}");
            }
        }
    }

    /// Hand-computed: on a tick exactly, one ulp either side (snapped to the tick by the
    /// 15–16 digit decimal, as today), just below a tick, negatives.
    #[test]
    fn floor_ticks_by_hand() {
        let t = inc("0.10");
        assert_eq!(floor_ticks(309.0, &t), Ok(3090));
        // 309 − 5.7e-14 = 308.9999999999999|43…: the tail .43 is below the digit-by-digit
        // rounding threshold .4…45, so the decimal stays below the tick.
        assert_eq!(floor_ticks(309.0f64.next_down(), &t), Ok(3089));
        assert_eq!(floor_ticks(309.0f64.next_up(), &t), Ok(3090));
        assert_eq!(floor_ticks(308.99999999999, &t), Ok(3089));
        assert_eq!(floor_ticks(309.0015, &t), Ok(3090));
        assert_eq!(floor_ticks(0.1 + 0.2, &t), Ok(3));
        assert_eq!(floor_ticks(0.0, &t), Ok(0));
        assert_eq!(floor_ticks(0.05, &t), Ok(0));
        assert_eq!(floor_ticks(-0.05, &t), Ok(-1));
        assert_eq!(floor_ticks(-0.3, &t), Ok(-3));
        let half = inc("0.5");
        // 1.5 − 2.2e-16 = 1.499999999999999|8: the 16-digit decimal is 1.5, on the tick.
        assert_eq!(floor_ticks(1.4999999999999998, &half), Ok(3));
        assert_eq!(floor_ticks(1.4999999, &half), Ok(2));
        assert_eq!(floor_ticks(100.0 * 0.015, &half), Ok(3));
        let hundred = inc("100");
        assert_eq!(floor_ticks(1234.5, &hundred), Ok(12));
        // Tiny and huge values.
        assert_eq!(floor_ticks(1e-30, &inc("0.00000001")), Ok(0));
        assert_eq!(floor_ticks(5e-324, &t), Ok(0));
        assert_eq!(floor_ticks(-5e-324, &t), Ok(0), "rounds to -0");
        assert_eq!(floor_ticks(9.2e17, &t), Ok(9_200_000_000_000_000_000));
    }

    #[test]
    fn floor_ticks_refuses_what_does_not_fit_and_never_panics() {
        let t = inc("0.10");
        assert_eq!(floor_ticks(f64::NAN, &t), Err(TickError::NotFinite));
        assert_eq!(floor_ticks(f64::INFINITY, &t), Err(TickError::NotFinite));
        assert_eq!(
            floor_ticks(f64::NEG_INFINITY, &t),
            Err(TickError::NotFinite)
        );
        // 10^18 / 0.1 = 10^19 ticks > i64::MAX.
        assert_eq!(floor_ticks(1e18, &t), Err(TickError::Overflow));
        assert_eq!(floor_ticks(-1e18, &t), Err(TickError::Overflow));
        // Above the decimal range (from_f64 refuses it too).
        assert_eq!(floor_ticks(1e29, &inc("1000000")), Err(TickError::Overflow));
        assert_eq!(floor_ticks(f64::MAX, &t), Err(TickError::Overflow));
        assert_eq!(
            floor_ticks(9.0e18, &inc("1")),
            Ok(9_000_000_000_000_000_000)
        );
        assert_eq!(floor_ticks(9.3e18, &inc("1")), Err(TickError::Overflow));
    }

    /// Prices × fractions on many increments, including values on and one ulp off a tick:
    /// `floor_ticks` agrees with `floor(from_f64(x) / inc)` everywhere.
    #[test]
    fn floor_ticks_matches_the_decimal_reference() {
        let incs = [
            "0.10",
            "0.01",
            "0.001",
            "0.5",
            "1",
            "0.25",
            "100",
            "0.0001",
            "0.00001",
            "0.1",
            "0.00000001",
            "5",
            "0.05",
        ];
        let fracs = [
            0.005, 0.008, 0.015, 0.01, 0.0125, 0.003, 0.02, 0.5, 1.5, 0.1,
        ];
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s >> 11
        };
        for _ in 0..100_000 {
            let i = d(incs[(next() % incs.len() as u64) as usize]);
            let ti = Increment::of(i).unwrap();
            let ticks = (next() % 10_000_000) as i64 + 1;
            let price = dec_f64(i * Decimal::from(ticks));
            let x = price * fracs[(next() % fracs.len() as u64) as usize];
            for x in [x, x.next_up(), x.next_down(), -x, price] {
                assert_eq!(floor_ticks(x, &ti), reference(x, i), "{x:e} / {i}");
            }
        }
    }

    /// `round_half_away` is `f64::round`, bit for bit: random bit patterns (every exponent,
    /// both signs, NaN and infinities), halves, their neighbours and the 2⁵² edge.
    /// `floor_fast` is `f64::floor`, bit for bit, over doubles of every magnitude and sign,
    /// whole numbers and their neighbours, halves, the 2⁵² edge, zeros, ±∞ and NaN.
    #[test]
    fn floor_fast_is_floor() {
        let mut next = xorshift(0x6A09_E667_F3BC_C908u64);
        let same = |x: f64| {
            let (got, want) = (floor_fast(x), x.floor());
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{x:e}: {got:e} vs {want:e}"
            );
        };
        for k in 0..300_000u64 {
            let x = match k % 3 {
                0 => f64::from_bits(next()),
                1 => (next() % 2_000_000) as f64 / 8.0 - 125_000.0,
                _ => ((next() >> 11) as f64 - 4.5e15) * 2f64.powi((next() % 60) as i32 - 50),
            };
            same(x);
            same(x.next_up());
            same(x.next_down());
        }
        let two52 = 4_503_599_627_370_496.0f64;
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            -1.0,
            1.0,
            two52,
            -two52,
            f64::INFINITY,
            f64::NAN,
        ] {
            for y in [x, x.next_up(), x.next_down(), -x] {
                same(y);
            }
        }
    }

    #[test]
    fn round_half_away_is_round() {
        let mut next = xorshift(0x0A11_CE5E_ED00_1234u64);
        let same = |x: f64| {
            assert_eq!(round_half_away(x).to_bits(), x.round().to_bits(), "{x:e}");
        };
        for _ in 0..300_000 {
            same(f64::from_bits(next()));
            // Around the halves and integers below 2⁵³, at every magnitude.
            let k = (next() % 54) as i32;
            let base = (next() >> 11) as f64 / 2f64.powi(53 - k);
            let half = base.floor() + 0.5;
            for x in [base, half, half.next_down(), half.next_up(), base.floor()] {
                same(x);
                same(-x);
            }
        }
        let two52 = 4_503_599_627_370_496.0f64;
        for x in [
            0.0,
            -0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            two52,
            two52.next_down(),
        ] {
            same(x);
            same(two52.next_down() - 0.5);
            same(-x);
        }
        for x in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            same(x);
        }
    }

    /// `Increment::times` is `Decimal::new(n · mantissa, scale)`, bytes and all, for every
    /// sign and width of `n` and every scale; `None` exactly when the product overflows.
    #[test]
    fn times_is_decimal_new() {
        let mut next = xorshift(0x5DEE_CE66_D1CE_4E5Bu64);
        let mut some = 0;
        for _ in 0..300_000 {
            let m = (next() >> (1 + next() % 63)).max(1) as i64;
            let inc = Increment::of(Decimal::new(m, (next() % 29) as u32)).unwrap();
            let n = (next() as i64) >> (next() % 64);
            let want = n
                .checked_mul(inc.mantissa)
                .map(|p| Decimal::new(p, inc.scale));
            let got = inc.times(n);
            assert_eq!(
                got.map(|d| d.serialize()),
                want.map(|d| d.serialize()),
                "{n} × {inc:?}"
            );
            some += usize::from(got.is_some());
        }
        assert!(some > 100_000, "{some}");
    }

    /// `low64` and `mantissa_i64` read what `mantissa`, `is_sign_negative` and `scale` say,
    /// over mantissas of every width (2⁶³ and 2⁶⁴ either side), both signs, zeros and scales.
    #[test]
    fn mantissa_words_are_the_mantissa() {
        let mut next = xorshift(0x0123_4567_89AB_CDEFu64);
        let (mut small, mut wide) = (0, 0);
        for k in 0..300_000u64 {
            let m = match k % 4 {
                0 => (1i128 << 63) + i128::from(next() % 5) - 2,
                1 => (1i128 << 64) + i128::from(next() % 5) - 2,
                _ => {
                    let bits = next() % 97;
                    (i128::from(next()) << 64 | i128::from(next())) & ((1i128 << bits) - 1)
                }
            };
            let mut d = Decimal::from_i128_with_scale(m, (next() % 29) as u32);
            d.set_sign_negative(next() % 2 == 0);
            let want = (d.mantissa().unsigned_abs(), d.is_sign_negative(), d.scale());
            match low64(d) {
                Some((mag, neg, scale)) => {
                    assert_eq!((u128::from(mag), neg, scale), want, "{d:?}");
                    wide += 1;
                }
                None => assert!(want.0 >= 1 << 64, "{d:?}"),
            }
            let fits = i64::try_from(d.mantissa()).ok();
            match mantissa_i64(d) {
                Some(v) => {
                    assert_eq!(Some(v), fits, "{d:?}");
                    small += 1;
                }
                None => assert!(fits.is_none() || fits == Some(i64::MIN), "{d:?}"),
            }
        }
        assert!(
            small > 100_000 && wide > 150_000,
            "{small} small, {wide} wide"
        );
    }

    /// `positive_finite` and `non_negative_finite` are their `is_finite` forms over the special
    /// doubles (±0, ±∞, NaNs, the subnormal and normal edges) and random bit patterns.
    #[test]
    fn finite_sign_tests_are_their_is_finite_forms() {
        let special = [
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::from_bits(1),
            -f64::from_bits(1),
            1.0,
            -1.0,
        ];
        let mut next = xorshift(0x51DE_CAFE_F00D_1234);
        let (mut pos, mut non_neg) = (0, 0);
        for k in 0..200_000usize {
            let x = special
                .get(k)
                .copied()
                .unwrap_or_else(|| f64::from_bits(next()));
            assert_eq!(positive_finite(x), x.is_finite() && x > 0.0, "{x:e}");
            assert_eq!(non_negative_finite(x), x.is_finite() && x >= 0.0, "{x:e}");
            pos += usize::from(positive_finite(x));
            non_neg += usize::from(non_negative_finite(x));
        }
        assert!(
            pos > 50_000 && non_neg > pos,
            "{pos} positive, {non_neg} non-negative"
        );
    }

    /// `dec_mul` is the crate's `Mul`, the same mantissa, scale and sign (`serialize`), over
    /// mantissas of every width (60–64 bits often: the `u64` path's edge), both signs, zeros
    /// and every scale pair.
    #[test]
    fn dec_mul_is_decimal_mul() {
        let mut next = xorshift(0x00C0_FFEE_D00D_F00Du64);
        let mut inline = 0;
        for _ in 0..300_000 {
            let mut dec = || {
                let bits = [next() % 97, next() % 40, 60 + next() % 5][(next() % 3) as usize];
                let m = (i128::from(next()) << 64 | i128::from(next())) & ((1i128 << bits) - 1);
                let mut d = Decimal::from_i128_with_scale(m, (next() % 29) as u32);
                d.set_sign_negative(next() % 3 == 0);
                d
            };
            let (a, b) = (dec(), dec());
            let Some(want) = a.checked_mul(b) else {
                continue;
            };
            assert_eq!(dec_mul(a, b).serialize(), want.serialize(), "{a:?} * {b:?}");
            inline += usize::from(
                low64(a).is_some() && low64(b).is_some() && a.scale() + b.scale() <= 28,
            );
        }
        assert!(inline > 20_000, "{inline} products on the inline path");
    }

    /// `floor_quotient_incs`, where it answers, is `floor_to(max(l / e, 0), inc)` of the
    /// crate's quotient: random limits, entries on the tick and steps, and limits a hair
    /// (10⁻³⁰ … 10⁻⁶ steps) either side of an exact whole count of steps.
    #[test]
    fn floor_quotient_incs_is_the_decimal_floor() {
        use crate::types::instrument::floor_to;
        let mut next = xorshift(0x0BAD_CAFE_1234_5678u64);
        let (mut answered, mut near) = (0, 0);
        for k in 0..300_000u64 {
            let step = Decimal::new(
                1 + (next() % 1000) as i64 * (k % 2) as i64,
                (next() % 9) as u32,
            );
            let inc = Increment::of(step).unwrap();
            let e = Decimal::new(1 + (next() % 10_000_000_000) as i64, (next() % 9) as u32);
            let l = if k % 3 == 0 {
                // e · n · step, nudged by ±10⁻ʲ (maybe not at all).
                let n = Decimal::from(next() % 1_000_000_000);
                let j = (next() % 31) as u32;
                let nudge = Decimal::new((next() % 3) as i64 - 1, j.min(28));
                match (e * n).checked_mul(step).and_then(|v| v.checked_add(nudge)) {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                let m = (i128::from(next()) << 32 | i128::from(next() >> 32)) >> (next() % 90);
                Decimal::from_i128_with_scale(m.max(1), (next() % 29) as u32)
            };
            let Some(q) = l.checked_div(e) else {
                continue;
            };
            let want = floor_to(q.max(Decimal::ZERO), step);
            if let Some(n) = floor_quotient_incs(l, e, &inc) {
                let got = Decimal::new(n * inc.mantissa, inc.scale);
                assert_eq!(got.serialize(), want.serialize(), "{l} / {e} on {step}");
                answered += 1;
                near += usize::from(k % 3 == 0);
            }
        }
        assert!(
            answered > 100_000 && near > 30_000,
            "{answered} answered, {near} near"
        );
    }

    /// `floor_quotient_incs` (words and `u64` division) answers as its `i128` form over
    /// limits and entries of every width (also beyond 2⁶⁴, negative and zero), steps and
    /// scales, whole counts nudged by a hair, quotients past the 10¹⁵ bound and products past
    /// `i128::MAX`.
    #[test]
    fn floor_quotient_incs_is_its_i128_form() {
        let mut next = xorshift(0x5EED_F00D_0DD5_1234u64);
        let (mut some, mut fast) = (0, 0);
        for k in 0..400_000u64 {
            let step = Decimal::new(
                1 + (next() % 1000) as i64 * (k % 2) as i64,
                (next() % 20) as u32,
            );
            let inc = Increment::of(step).unwrap();
            let wide = |m: u64, r: u64| (i128::from(m) << 32 | i128::from(r >> 32)) >> (r % 96);
            let e = match k % 5 {
                0 => Decimal::from_i128_with_scale(wide(next(), next()), (next() % 29) as u32),
                1 => Decimal::new(-((next() % 1000) as i64), (next() % 5) as u32),
                _ => Decimal::new((next() >> (next() % 63)) as i64, (next() % 29) as u32),
            };
            let l = if k % 3 == 0 && !e.is_zero() {
                let n = Decimal::from(next() % 1_000_000_000_000);
                let nudge = Decimal::new((next() % 3) as i64 - 1, (next() % 29) as u32);
                match e
                    .checked_mul(n)
                    .and_then(|v| v.checked_mul(step))
                    .and_then(|v| v.checked_add(nudge))
                {
                    Some(v) => v,
                    None => continue,
                }
            } else if k % 7 == 1 {
                Decimal::new(-((next() % 1000) as i64), (next() % 5) as u32)
            } else {
                Decimal::from_i128_with_scale(wide(next(), next()), (next() % 29) as u32)
            };
            let want = floor_quotient_incs_i128(l, e, &inc);
            assert_eq!(
                floor_quotient_incs(l, e, &inc),
                want,
                "{l:?} / {e:?} on {step}"
            );
            some += usize::from(want.is_some());
            fast += usize::from(
                want.is_some() && low64(l).is_some_and(|w| w.0 < 1 << 40) && low64(e).is_some(),
            );
        }
        assert!(
            some > 60_000 && fast > 20_000,
            "{some} answered, {fast} small"
        );
    }

    /// `dec_cmp` orders as `Decimal::cmp` over mantissas of every width, both signs, zeros
    /// (also negative zero) and every scale pair.
    #[test]
    fn dec_cmp_is_decimal_cmp() {
        let mut next = xorshift(0x0DDB_1A5E_5BAD_5EEDu64);
        let mut inline = 0;
        for k in 0..300_000u64 {
            let mut dec = |near: Option<Decimal>| {
                if let (Some(n), 0) = (near, next() % 3) {
                    // The same value at another scale, or one unit off at it.
                    let up = (next() % 6) as u32;
                    let m = n.mantissa().checked_mul(10i128.pow(up)).unwrap_or(0);
                    let m = m + i128::from((next() % 3) as i8 - 1) * i128::from(k % 2 == 0);
                    return Decimal::try_from_i128_with_scale(m, (n.scale() + up).min(28))
                        .unwrap_or(n);
                }
                let bits = next() % 97;
                let m = (i128::from(next()) << 64 | i128::from(next())) & ((1i128 << bits) - 1);
                let mut d = Decimal::from_i128_with_scale(m, (next() % 29) as u32);
                d.set_sign_negative(next() % 3 == 0);
                d
            };
            let a = dec(None);
            let b = dec(Some(a));
            assert_eq!(dec_cmp(a, b), a.cmp(&b), "{a:?} vs {b:?}");
            assert_eq!(dec_cmp(b, a), b.cmp(&a), "{b:?} vs {a:?}");
            inline += usize::from(
                i64::try_from(a.mantissa()).is_ok() && i64::try_from(b.mantissa()).is_ok(),
            );
        }
        assert!(inline > 30_000, "{inline} pairs on the inline path");
        let z = Decimal::ZERO;
        let mut nz = Decimal::new(0, 5);
        nz.set_sign_negative(true);
        assert_eq!(dec_cmp(z, nz), z.cmp(&nz));
        assert_eq!(
            dec_cmp(nz, Decimal::new(-1, 28)),
            nz.cmp(&Decimal::new(-1, 28))
        );
    }

    /// `pow10_i128` is `10i128.checked_pow` at every exponent up to past the `i128` range and
    /// at the top of `u32`.
    #[test]
    fn pow10_i128_is_checked_pow() {
        for k in (0..=200).chain([u32::MAX - 1, u32::MAX]) {
            assert_eq!(pow10_i128(k), 10i128.checked_pow(k), "10^{k}");
        }
    }

    /// The one-division path of `mantissa_f64` is `Decimal::to_f64` over 300k mantissas around
    /// its `2⁵⁰` bound and of every width below it, both signs, every scale 1..=20.
    #[test]
    fn mantissa_f64_one_division_is_to_f64() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
        for k in 0..300_000u64 {
            let m = match k % 4 {
                0 => (1i64 << 50) - 1 - (next() % 1_000) as i64,
                1 => (1i64 << 50) + (next() % 1_000) as i64 - 500,
                2 => (next() >> (next() % 64)) as i64 >> 13,
                _ => (next() % 100_000_000) as i64,
            };
            let m = if next() % 2 == 0 { m } else { -m };
            let scale = 1 + (next() % 20) as u32;
            let want = Decimal::new(m, scale).to_f64().unwrap();
            assert_eq!(
                mantissa_f64(m, scale).to_bits(),
                want.to_bits(),
                "{m}e-{scale}"
            );
        }
    }

    #[test]
    fn mantissa_f64_is_to_f64() {
        let mut next = xorshift(0x1234_5678_9ABC_DEF1u64);
        for k in 0..200_000u64 {
            let m = (next() >> (k % 63 + 1)) as i64 * if k % 3 == 0 { -1 } else { 1 };
            let scale = (next() % 29) as u32;
            let want = Decimal::new(m, scale).to_f64().unwrap();
            assert_eq!(
                mantissa_f64(m, scale).to_bits(),
                want.to_bits(),
                "{m}e-{scale}"
            );
        }
        for (k, &p) in POW10.iter().enumerate() {
            assert_eq!(
                (p as f64).to_bits(),
                10f64.powi(k as i32).to_bits(),
                "10^{k}"
            );
        }
        for scale in 0..=28 {
            for m in [i64::MIN, i64::MIN + 1, i64::MAX, -1, 1, 0] {
                let want = Decimal::new(m, scale).to_f64().unwrap();
                assert_eq!(
                    mantissa_f64(m, scale).to_bits(),
                    want.to_bits(),
                    "{m}e-{scale}"
                );
            }
        }
        let big = d("79228162514264337593543950.335");
        assert_eq!(dec_f64(big), big.to_f64().unwrap());
        assert_eq!(inc("0.10").times(618003), Some(d("61800.30")));
        assert_eq!(inc("0.10").times(i64::MAX), None);
        assert!(inc("0.10").times_f64(i64::MAX).is_nan());
        assert_eq!(Increment::of(d("0")), None);
        assert_eq!(Increment::of(d("-0.1")), None);
    }
}
