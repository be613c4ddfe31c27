//! Venue instrument filters (tick size, quantity step, minimums) and exact rounding to them.

use std::path::Path;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use super::fixed::{dec_cmp, floor_fast, floor_quotient_incs, pow10_i128, Increment, POW10};
use super::report::RejectReason;

/// One instrument's filters, as the venue publishes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instrument {
    /// Price increment.
    pub tick_size: Decimal,
    /// Quantity increment.
    pub qty_step: Decimal,
    /// Minimum order quantity.
    pub min_qty: Decimal,
    /// Maximum market order quantity.
    pub max_market_qty: Decimal,
    /// Minimum price × quantity for orders that are not reduce-only.
    pub min_notional: Decimal,
    /// Maximum limit order quantity (Bybit `maxOrderQty`, Binance `LOT_SIZE.maxQty`);
    /// [`Instrument::new`] sets it to `max_market_qty` until [`Instrument::with_limits`].
    pub max_qty: Decimal,
    /// Venue's maximum leverage (Bybit `leverageFilter.maxLeverage`); `None` when the source
    /// does not publish it (Binance `exchangeInfo`: it lives in the signed leverage brackets).
    pub max_leverage: Option<Decimal>,
    /// `tick_size` as an integer increment (and f64, for turning model prices into ticks).
    tick: Increment,
    /// `qty_step` as an integer increment (and f64, for model quantities into steps).
    step: Increment,
}

impl Instrument {
    /// Builds an instrument; every increment must be positive, its mantissa an `i64`.
    pub fn new(
        tick_size: Decimal,
        qty_step: Decimal,
        min_qty: Decimal,
        max_market_qty: Decimal,
        min_notional: Decimal,
    ) -> Result<Self, String> {
        let (Some(tick), Some(step)) = (Increment::of(tick_size), Increment::of(qty_step)) else {
            return Err(format!(
                "tick size {tick_size} and quantity step {qty_step} must be positive \
                 (at most 18 significant digits)"
            ));
        };
        Ok(Self {
            tick_size,
            qty_step,
            min_qty,
            max_market_qty,
            min_notional,
            max_qty: max_market_qty,
            max_leverage: None,
            tick,
            step,
        })
    }

    /// The same instrument with the limit-order maximum quantity and the venue's maximum
    /// leverage set (`max_qty` must be ≥ 0; `max_leverage`, when known, > 0).
    pub fn with_limits(mut self, max_qty: Decimal, max_leverage: Option<Decimal>) -> Self {
        self.max_qty = max_qty;
        self.max_leverage = max_leverage;
        self
    }

    /// The tick size as an integer increment.
    #[inline]
    pub fn tick(&self) -> &Increment {
        &self.tick
    }

    /// `floor(q / step) · step` on exact decimals (never rounds a quantity up).
    #[inline]
    pub fn floor_qty_dec(&self, q: Decimal) -> Decimal {
        floor_to(q, self.qty_step)
    }

    /// `floor_qty_dec(max(l / e, 0))` (the same decimal) for `e ≠ 0`: the step count on integers
    /// when [`floor_quotient_incs`] proves it, the decimal division otherwise.
    #[inline]
    pub fn floor_qty_quotient(&self, l: Decimal, e: Decimal) -> Decimal {
        floor_quotient_incs(l, e, &self.step)
            .and_then(|n| n.checked_mul(self.step.mantissa))
            .map_or_else(
                || self.floor_qty_dec((l / e).max(Decimal::ZERO)),
                |m| Decimal::new(m, self.step.scale),
            )
    }

    /// `floor(p / tick) · tick` on exact decimals.
    #[inline]
    pub fn floor_price(&self, p: Decimal) -> Decimal {
        floor_to(p, self.tick_size)
    }

    /// `ceil(p / tick) · tick` on exact decimals.
    #[inline]
    pub fn ceil_price(&self, p: Decimal) -> Decimal {
        ceil_to(p, self.tick_size)
    }

    /// `floor(q / step) · step`: a model quantity floored to whole steps, never rounded up.
    /// (An f64 quotient one ulp below a whole number floors one step lower: conservative.)
    #[inline]
    pub fn floor_qty(&self, q: f64) -> Decimal {
        let steps = floor_fast(q / self.step.f64);
        if steps.is_nan() || steps < 1.0 || steps > i64::MAX as f64 {
            return Decimal::ZERO;
        }
        // `times_dec(n, qty_step)`: `n ≥ 1` steps on `i64` while the mantissa fits.
        let n = steps as i64;
        self.step
            .times(n)
            .unwrap_or_else(|| times_dec(n, self.qty_step))
    }

    /// The filter an order of `qty` at about `price` breaks, if any: zero or below min qty,
    /// above max market qty, or (unless reduce-only) notional below min notional.
    #[inline]
    pub fn violation(&self, qty: Decimal, price: f64, reduce_only: bool) -> Option<RejectReason> {
        if qty.is_zero() || dec_cmp(qty, self.min_qty).is_lt() {
            return Some(RejectReason::BelowMinQty);
        }
        if let Some(r) = self.above_max_qty(qty) {
            return Some(r);
        }
        if !reduce_only && self.below_min_notional(qty, price) {
            return Some(RejectReason::BelowMinNotional);
        }
        None
    }

    /// The max-market-qty part of [`Instrument::violation`]: `qty > max_market_qty`.
    #[inline]
    pub fn above_max_qty(&self, qty: Decimal) -> Option<RejectReason> {
        dec_cmp(qty, self.max_market_qty)
            .is_gt()
            .then_some(RejectReason::AboveMaxQty)
    }

    /// `price_on_tick(price) · qty < min_notional` for `qty ≠ 0`. On integers when the product
    /// `ticks · tick mantissa · qty mantissa` is below 2⁹⁶ at scale ≤ 28 (then both decimal
    /// products are exact, so the comparison is the same); the decimals otherwise.
    #[inline]
    fn below_min_notional(&self, qty: Decimal, price: f64) -> bool {
        let exact = self.price_ticks(price).and_then(|t| {
            let n = ticks_times_qty(t, self.tick.mantissa, qty.mantissa())?;
            let sn = self.tick.scale + qty.scale();
            if sn > 28 || n.unsigned_abs() >= 1u128 << 96 {
                return None;
            }
            let (m, sm) = (self.min_notional.mantissa(), self.min_notional.scale());
            // Both at scale max(sn, sm) ≤ 28; `10^k · m` with `k ≤ 28`, `|m| < 2⁹⁶` may overflow.
            Some(if sn >= sm {
                n < mul_pow10(m, sn - sm)?
            } else {
                mul_pow10(n, sm - sn)? < m
            })
        });
        exact.unwrap_or_else(|| self.price_on_tick(price) * qty < self.min_notional)
    }

    /// `round(p / tick) · tick`: a price that was on the tick, recovered exactly from its f64.
    #[inline]
    pub fn price_on_tick(&self, p: f64) -> Decimal {
        // `times_dec(t, tick_size)`: `t` ticks on `i64` while the mantissa fits (the crate's
        // product by zero is `Decimal::ZERO`, scale 0).
        match self.price_ticks(p) {
            Some(t) if t != 0 => self
                .tick
                .times(t)
                .unwrap_or_else(|| times_dec(t, self.tick_size)),
            _ => Decimal::ZERO,
        }
    }

    /// `round(p / tick)`, the whole ticks of a price that was on the tick (those of
    /// [`Instrument::price_on_tick`]); `None` for NaN, negative or out-of-range prices.
    #[inline]
    pub fn price_ticks(&self, p: f64) -> Option<i64> {
        let q = p / self.tick.f64;
        // `q.round()` (half away from zero) without the `round` call: `round(q) < 0` iff
        // `q ≤ −0.5`, `round(q) > 2⁶³` iff `q > 2⁶³`; in between, truncate and add one when the
        // fraction (exact below 2⁵², 0 above, where `q` is whole) is at least ½.
        if !(q > -0.5 && q <= i64::MAX as f64) {
            return None;
        }
        let t = q as i64;
        Some(if q - t as f64 >= 0.5 { t + 1 } else { t })
    }
}

/// `t · tick · q` (`tick`, `t` the tick mantissa and count, `q` a quantity mantissa), `None` on
/// `i128` overflow: `(t·tick).checked_mul(q)` on `i128`. When `t·tick` and `q` fit `i64`s their
/// product is below 2¹²⁶ and needs no check (one widening multiply, not `i128`'s checked one).
#[inline]
fn ticks_times_qty(t: i64, tick: i64, q: i128) -> Option<i128> {
    match (t.checked_mul(tick), i64::try_from(q)) {
        (Some(a), Ok(q)) => Some(i128::from(a) * i128::from(q)),
        _ => (i128::from(t) * i128::from(tick)).checked_mul(q),
    }
}

/// `v · 10^k`, `None` on `i128` overflow (`pow10_i128(k)` then `checked_mul`). For `v` within
/// an `i64` and `k ≤ 19` the product is below 2⁶³·2⁶⁴ = 2¹²⁷: no check.
#[inline]
fn mul_pow10(v: i128, k: u32) -> Option<i128> {
    match (i64::try_from(v), POW10.get(k as usize)) {
        (Ok(v), Some(&p)) => Some(i128::from(v) * i128::from(p)),
        _ => pow10_i128(k).and_then(|p| v.checked_mul(p)),
    }
}

/// `Decimal::from(n) · d`, the same decimal (mantissa `n·m`, `d`'s scale) built on `i128`
/// without the multiplication call while it is non-zero and fits 96 bits; the product otherwise.
#[inline]
fn times_dec(n: i64, d: Decimal) -> Decimal {
    if n != 0 && !d.is_zero() {
        if let Some(m) = i128::from(n).checked_mul(d.mantissa()) {
            if let Ok(v) = Decimal::try_from_i128_with_scale(m, d.scale()) {
                return v;
            }
        }
    }
    Decimal::from(n) * d
}

/// `floor(x / inc) · inc`, exact, carrying `inc`'s scale (`inc > 0`). Works on the integer
/// mantissas at `inc`'s scale, so no rounding error and no allocation.
#[inline]
pub fn floor_to(x: Decimal, inc: Decimal) -> Decimal {
    to_increment(x, inc, false)
}

/// `ceil(x / inc) · inc`, exact, carrying `inc`'s scale (`inc > 0`).
#[inline]
pub fn ceil_to(x: Decimal, inc: Decimal) -> Decimal {
    to_increment(x, inc, true)
}

/// `10^k` as an `i64` (k ≤ 18).
#[inline]
fn pow10_i64(k: u32) -> Option<i64> {
    POW10.get(k as usize).and_then(|&p| i64::try_from(p).ok())
}

#[inline]
fn div_round(m: i64, d: i64, up: bool) -> Option<i64> {
    if up {
        Some(-(m.checked_neg()?.div_euclid(d)))
    } else {
        Some(m.div_euclid(d))
    }
}

#[inline]
fn to_increment(x: Decimal, inc: Decimal, up: bool) -> Decimal {
    let s = inc.scale();
    let sx = x.scale();
    // Fast path: both mantissas fit in i64 (every real price/quantity does).
    if let (Ok(m), Ok(im)) = (i64::try_from(x.mantissa()), i64::try_from(inc.mantissa())) {
        if im > 0 {
            // m at inc's scale: divide (rounding in the wanted direction) or multiply exactly.
            let at_s = if sx > s {
                pow10_i64(sx - s).and_then(|p| div_round(m, p, up))
            } else {
                pow10_i64(s - sx).and_then(|p| m.checked_mul(p))
            };
            if let Some(q) = at_s.and_then(|v| div_round(v, im, up)) {
                if let Some(r) = q.checked_mul(im) {
                    return Decimal::new(r, s);
                }
            }
        }
    }
    to_increment_128(x, inc, up).unwrap_or_else(|| to_increment_wide(x, inc, up))
}

/// [`to_increment`] of a non-negative `x` with a 96-bit mantissa at a finer scale than `inc`
/// (e.g. a quotient carrying 28 significant digits) in `i128`: `⌊⌊m / 10^(sx−s)⌋ / im⌋ · im`
/// (ceilings when `up`), which is `⌊m / (10^(sx−s)·im)⌋ · im`, the value
/// [`to_increment_wide`] gives at scale `s`. `None` outside that case.
#[inline]
fn to_increment_128(x: Decimal, inc: Decimal, up: bool) -> Option<Decimal> {
    let (s, sx, m, im) = (inc.scale(), x.scale(), x.mantissa(), inc.mantissa());
    if m < 0 || im <= 0 || sx <= s {
        return None;
    }
    let p = pow10_i128(sx - s)?;
    let div = |a: i128, d: i128| {
        if up {
            -((-a).div_euclid(d))
        } else {
            a.div_euclid(d)
        }
    };
    let r = div(div(m, p), im).checked_mul(im)?;
    Decimal::try_from_i128_with_scale(r, s).ok()
}

#[cold]
fn to_increment_wide(x: Decimal, inc: Decimal, up: bool) -> Decimal {
    let s = inc.scale();
    let mut y = if x.scale() > s {
        let strategy = if up {
            RoundingStrategy::ToPositiveInfinity
        } else {
            RoundingStrategy::ToNegativeInfinity
        };
        x.round_dp_with_strategy(s, strategy)
    } else {
        x
    };
    y.rescale(s);
    let m = y.mantissa();
    let im = inc.mantissa();
    if im <= 0 || y.scale() != s || im == 1 {
        // Non-positive increment, a value too large to carry inc's scale, or nothing to do.
        return y;
    }
    let q = if up {
        -((-m).div_euclid(im))
    } else {
        m.div_euclid(im)
    };
    Decimal::from_i128_with_scale(q * im, s)
}

/// Writes `d` as plain decimal text (no exponent) into `out`; with `trim`, trailing fraction
/// zeros are dropped (`30000.0` → `30000`, `0.010` → `0.01`), the form both venues document.
/// No allocation beyond `out`'s spare capacity.
#[inline]
pub fn write_decimal(out: &mut Vec<u8>, d: Decimal, trim: bool) {
    let m = d.mantissa();
    let mut scale = d.scale() as usize;
    let mut digits = itoa::Buffer::new();
    let text = match u64::try_from(m.unsigned_abs()) {
        Ok(mut u) => {
            if trim {
                while scale > 0 && u % 10 == 0 {
                    u /= 10;
                    scale -= 1;
                }
            }
            digits.format(u).as_bytes()
        }
        Err(_) => {
            let mut u = m.unsigned_abs();
            if trim {
                while scale > 0 && u % 10 == 0 {
                    u /= 10;
                    scale -= 1;
                }
            }
            digits.format(u).as_bytes()
        }
    };
    if m < 0 && text != b"0" {
        out.push(b'-');
    }
    if scale == 0 {
        out.extend_from_slice(text);
    } else if text.len() > scale {
        let (int, frac) = text.split_at(text.len() - scale);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        for _ in text.len()..scale {
            out.push(b'0');
        }
        out.extend_from_slice(text);
    }
}

#[derive(Deserialize)]
struct SpecFile {
    rows: Vec<SpecRow>,
}

#[derive(Deserialize)]
struct SpecRow {
    exchange: String,
    symbol: String,
    tick_size: String,
    qty_step: String,
    min_order_qty: String,
    max_market_order_qty: String,
    min_notional: String,
    #[serde(default)]
    max_order_qty: Option<String>,
    #[serde(default)]
    max_leverage: Option<String>,
}

/// Every symbol of `exchange` in a spec table (the bundled format), in file order, upper case.
pub fn spec_symbols(path: &Path, exchange: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read instrument specs {}: {e}", path.display()))?;
    let file: SpecFile = serde_json::from_str(&text)
        .map_err(|e| format!("instrument specs {} are malformed: {e}", path.display()))?;
    Ok(file
        .rows
        .into_iter()
        .filter(|r| r.exchange.eq_ignore_ascii_case(exchange))
        .map(|r| r.symbol.to_ascii_uppercase())
        .collect())
}

/// Loads the instruments of `symbols` on `exchange` from a spec table (the bundled
/// `data/instruments/instrument_specs_8_symbols.json` format), in the order of `symbols`.
pub fn load_specs(
    path: &Path,
    exchange: &str,
    symbols: &[String],
) -> Result<Vec<Instrument>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read instrument specs {}: {e}", path.display()))?;
    let file: SpecFile = serde_json::from_str(&text)
        .map_err(|e| format!("instrument specs {} are malformed: {e}", path.display()))?;
    symbols
        .iter()
        .map(|sym| {
            let row = file
                .rows
                .iter()
                .find(|r| {
                    r.exchange.eq_ignore_ascii_case(exchange) && r.symbol.eq_ignore_ascii_case(sym)
                })
                .ok_or_else(|| format!("{}: no {exchange} instrument {sym}", path.display()))?;
            let dec = |field: &str, v: &str| {
                Decimal::from_str(v).map_err(|e| {
                    format!(
                        "{}: {sym} {field} {v:?} is not a decimal: {e}",
                        path.display()
                    )
                })
            };
            let inst = Instrument::new(
                dec("tick_size", &row.tick_size)?,
                dec("qty_step", &row.qty_step)?,
                dec("min_order_qty", &row.min_order_qty)?,
                dec("max_market_order_qty", &row.max_market_order_qty)?,
                dec("min_notional", &row.min_notional)?,
            )
            .map_err(|e| format!("{}: {sym}: {e}", path.display()))?;
            let max_qty = match row.max_order_qty.as_deref() {
                Some(v) if !v.is_empty() => dec("max_order_qty", v)?,
                _ => inst.max_market_qty,
            };
            let max_leverage = match row.max_leverage.as_deref() {
                Some(v) if !v.is_empty() => Some(dec("max_leverage", v)?),
                _ => None,
            };
            Ok(inst.with_limits(max_qty, max_leverage))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn btc() -> Instrument {
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap()
    }

    /// The integer rounding of `price_ticks` equals `f64::round` (half away from zero) with the
    /// old range checks, on halves, near-halves, negatives, huge and non-finite prices.
    #[test]
    fn price_ticks_round_like_f64_round() {
        let i = btc();
        let by_round = |p: f64| {
            let t = (p / i.tick.f64).round();
            (!(t.is_nan() || t < 0.0 || t > i64::MAX as f64)).then_some(t as i64)
        };
        let mut prices = vec![
            0.0,
            -0.0,
            0.05,
            0.15,
            0.25,
            -0.04,
            -0.05,
            -0.06,
            61_234.55,
            61_234.549_999_999_99,
            1e15,
            4.5e17,
            9.2e17,
            9.3e17,
            1e300,
            -1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            0.049_999_999_999_999_996,
        ];
        let mut x = 0.003_7f64;
        for _ in 0..20_000 {
            x = (x * 1.003_1 + 0.013) % 120_000.0;
            prices.push(x);
            prices.push((x * 10.0).round() / 10.0 + 0.05);
        }
        for p in prices {
            assert_eq!(i.price_ticks(p), by_round(p), "price {p}");
        }
    }

    #[test]
    fn quantity_is_floored_to_the_step_never_rounded_up() {
        let i = btc();
        assert_eq!(i.floor_qty(0.0169999), d("0.016"));
        assert_eq!(i.floor_qty(0.016), d("0.016"));
        assert_eq!(i.floor_qty(0.0009), Decimal::ZERO);
        assert_eq!(i.floor_qty(-1.0), Decimal::ZERO);
        assert_eq!(i.floor_qty(f64::NAN), Decimal::ZERO);
        assert_eq!(i.floor_qty(1000.0 / 61800.3), d("0.016"));
        assert_eq!(i.floor_qty(1.0).to_string(), "1.000");
    }

    #[test]
    fn price_on_tick_recovers_the_venue_decimal() {
        let i = btc();
        assert_eq!(i.price_on_tick(61800.30).to_string(), "61800.30");
        assert_eq!(i.price_on_tick(0.1 + 0.2).to_string(), "0.30");
    }

    #[test]
    fn bundled_specs_load_for_binance_btc_and_eth() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/instruments/instrument_specs_8_symbols.json");
        let v = load_specs(&path, "binance", &["BTCUSDT".into(), "ETHUSDT".into()]).unwrap();
        assert_eq!(v[0].qty_step, d("0.001"));
        assert_eq!(v[0].tick_size, d("0.01"));
        assert_eq!(v[1].min_notional, d("5"));
        let err = load_specs(&path, "binance", &["NOPEUSDT".into()]).unwrap_err();
        assert!(err.contains("NOPEUSDT"), "{err}");
    }

    #[test]
    fn violations_follow_the_venue_filters() {
        let i = btc();
        assert_eq!(
            i.violation(Decimal::ZERO, 60_000.0, false),
            Some(RejectReason::BelowMinQty)
        );
        assert_eq!(i.violation(d("0.001"), 60_000.0, false), None);
        assert_eq!(
            i.violation(d("0.001"), 4_000.0, false),
            Some(RejectReason::BelowMinNotional)
        );
        assert_eq!(
            i.violation(d("0.001"), 4_000.0, true),
            None,
            "reduce-only is exempt from min notional"
        );
        assert_eq!(
            i.violation(d("150.001"), 60_000.0, true),
            Some(RejectReason::AboveMaxQty)
        );
    }

    #[test]
    fn exact_decimal_rounding_to_step_and_tick() {
        let i = btc();
        assert_eq!(i.floor_qty_dec(d("0.0169999")).to_string(), "0.016");
        assert_eq!(i.floor_qty_dec(d("2")).to_string(), "2.000");
        assert_eq!(i.floor_price(d("61800.37")).to_string(), "61800.30");
        assert_eq!(i.ceil_price(d("61800.31")).to_string(), "61800.40");
        assert_eq!(i.ceil_price(d("61800.3")).to_string(), "61800.30");
        // Increments that are not a power of ten.
        assert_eq!(floor_to(d("12.74"), d("0.5")).to_string(), "12.5");
        assert_eq!(ceil_to(d("12.74"), d("0.5")).to_string(), "13.0");
        assert_eq!(floor_to(d("1234"), d("100")).to_string(), "1200");
        assert_eq!(ceil_to(d("1201"), d("100")).to_string(), "1300");
        assert_eq!(floor_to(d("0.00049"), d("0.0005")).to_string(), "0.0000");
        // Negative values floor/ceil the right way; huge values take the wide path.
        assert_eq!(floor_to(d("-1.25"), d("0.1")).to_string(), "-1.3");
        assert_eq!(ceil_to(d("-1.25"), d("0.1")).to_string(), "-1.2");
        let big = d("79228162514264337593543950.335");
        assert_eq!(
            floor_to(big, d("0.01")).to_string(),
            "79228162514264337593543950.33"
        );
        assert_eq!(
            ceil_to(big, d("0.5")).to_string(),
            "79228162514264337593543950.5"
        );
        assert_eq!(
            floor_to(d("123456789.123456789123"), d("0.001")).to_string(),
            "123456789.123"
        );
    }

    /// A deterministic 53-bit generator (Knuth's MMIX LCG, high bits) from `seed`.
    fn lcg(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 11
        }
    }

    /// A value of about `bits` random bits (up to 127), either sign, or an edge: 0, ±1, the
    /// `i64` and `i128` limits and their neighbours, powers of two around 2⁶³ and 2⁹⁶.
    fn wide(next: &mut impl FnMut() -> u64) -> i128 {
        const EDGES: [i128; 12] = [
            0,
            1,
            -1,
            i64::MAX as i128,
            i64::MIN as i128,
            i64::MAX as i128 + 1,
            i64::MIN as i128 - 1,
            i128::MAX,
            i128::MIN,
            i128::MIN + 1,
            1 << 96,
            -(1 << 96) + 1,
        ];
        if next() % 8 == 0 {
            return EDGES[(next() % EDGES.len() as u64) as usize];
        }
        let raw = (u128::from(next()) << 75) ^ (u128::from(next()) << 22) ^ u128::from(next());
        let v = (raw >> (next() % 127)) as i128;
        if next() % 2 == 0 {
            v
        } else {
            -v
        }
    }

    /// `ticks_times_qty` and `mul_pow10` are the `i128` checked products they replace, `None`
    /// (overflow) included, over 300k random operands of every width and the edges.
    #[test]
    fn widening_products_are_the_checked_ones() {
        let mut next = lcg(0x51_7cc1_b727_220a);
        let small = |next: &mut dyn FnMut() -> u64| -> i64 {
            let v = (next() >> (next() % 53)) as i64;
            match next() % 6 {
                0 => i64::MAX - (next() % 3) as i64,
                1 => i64::MIN + (next() % 3) as i64,
                2 => -v,
                _ => v,
            }
        };
        for _ in 0..300_000 {
            let (t, tick, q) = (small(&mut next), small(&mut next).max(1), wide(&mut next));
            assert_eq!(
                ticks_times_qty(t, tick, q),
                (i128::from(t) * i128::from(tick)).checked_mul(q),
                "{t} {tick} {q}"
            );
            let (v, k) = (wide(&mut next), (next() % 45) as u32);
            assert_eq!(
                mul_pow10(v, k),
                pow10_i128(k).and_then(|p| v.checked_mul(p)),
                "{v} {k}"
            );
        }
    }

    #[test]
    fn fast_integer_path_agrees_with_decimal_rounding() {
        // Deterministic LCG over prices/quantities of every scale and several increments.
        let mut next = lcg(0x9E37_79B9_7F4A_7C15);
        let incs = [
            "0.10", "0.001", "0.5", "100", "0.0001", "0.010", "1", "0.25",
        ];
        for _ in 0..20_000 {
            let m = (next() % 10_000_000_000_000) as i64 - 1_000_000_000_000;
            let x = Decimal::new(m, (next() % 12) as u32);
            let inc = d(incs[(next() % incs.len() as u64) as usize]);
            for up in [false, true] {
                let fast = to_increment(x, inc, up);
                let wide = to_increment_wide(x, inc, up);
                assert_eq!(fast, wide, "{x} to {inc} up={up}");
                assert_eq!(fast.scale(), inc.scale(), "{x} to {inc}");
                // The result is on the increment and within one increment, on the right side.
                assert!((fast % inc).is_zero());
                if up {
                    assert!(fast >= x && fast - x < inc);
                } else {
                    assert!(fast <= x && x - fast < inc);
                }
            }
        }
    }

    /// The 96-bit path (a quotient such as the exposure cap `limit / entry`, 28 significant
    /// digits) gives `to_increment_wide`'s value and scale, also for mantissas of every width
    /// and negative values (which go the wide way).
    #[test]
    fn wide_mantissa_path_agrees_with_decimal_rounding() {
        let mut next = lcg(0x2545_F491_4F6C_DD1D);
        let incs = [
            "0.001", "0.01", "1", "0.1", "0.0001", "0.25", "100", "0.010",
        ];
        let mut wide_quotients = 0;
        for k in 0..20_000 {
            let x = if k % 2 == 0 {
                // limit / entry as the engine forms it.
                let limit = Decimal::new((next() % 100_000_000) as i64, (next() % 9) as u32);
                let entry = Decimal::new((next() % 10_000_000) as i64 + 1, 2);
                limit / entry
            } else {
                let bits = 1 + next() % 96;
                let m = i128::from(next()) << 40 | i128::from(next());
                let m = m & ((1i128 << bits) - 1);
                let m = if next() % 5 == 0 { -m } else { m };
                Decimal::from_i128_with_scale(m, (next() % 29) as u32)
            };
            wide_quotients += usize::from(i64::try_from(x.mantissa()).is_err());
            let inc = d(incs[(next() % incs.len() as u64) as usize]);
            for up in [false, true] {
                let fast = to_increment(x, inc, up);
                let wide = to_increment_wide(x, inc, up);
                assert_eq!(fast, wide, "{x} to {inc} up={up}");
                assert_eq!(fast.scale(), wide.scale(), "{x} to {inc} up={up}");
                assert_eq!(fast.to_string(), wide.to_string(), "{x} to {inc} up={up}");
            }
        }
        assert!(wide_quotients > 5_000, "{wide_quotients} 96-bit mantissas");
    }

    /// `times_dec(n, d)` is `Decimal::from(n) · d` to the representation (mantissa, scale,
    /// sign), for mantissas of every width, both signs, zeros and products past 96 bits.
    #[test]
    fn times_dec_is_the_decimal_product() {
        let mut next = lcg(0xDA94_2042_E4DD_58B5);
        let mut built = 0;
        for k in 0..100_000u64 {
            let n = match k % 3 {
                0 => (next() % 2_000_000) as i64 - 1_000_000,
                1 => ((next() << 11) | (next() % 2048)) as i64,
                _ => (next() % 3) as i64 - 1,
            };
            let bits = next() % 97;
            let m = (i128::from(next()) << 44 | i128::from(next())) & ((1i128 << bits) - 1);
            let m = if next() % 4 == 0 { -m } else { m };
            let d = Decimal::from_i128_with_scale(m, (next() % 29) as u32);
            let Some(want) = Decimal::from(n).checked_mul(d) else {
                continue;
            };
            let got = times_dec(n, d);
            assert_eq!(got, want, "{n} × {d}");
            assert_eq!(got.serialize(), want.serialize(), "{n} × {d}");
            built += usize::from(
                n != 0 && !d.is_zero() && i128::from(n).checked_mul(m) == Some(got.mantissa()),
            );
        }
        assert!(built > 30_000, "{built} exact non-zero products");
    }

    /// `floor_qty` and `price_on_tick` build `times_dec` of their whole steps and ticks (the
    /// same mantissa, scale and sign), for increments of every mantissa width and scale and
    /// counts from zero to past an `i64` mantissa (the fall-back).
    #[test]
    fn floor_qty_and_price_on_tick_are_times_dec() {
        let mut next = lcg(0x2545_F491_4F6C_DD1D);
        let (mut on_i64, mut wide, mut zero) = (0, 0, 0);
        for k in 0..200_000u64 {
            let m = (((next() << 11 ^ next()) & ((1 << 62) - 1)) >> (next() % 62)).max(1) as i64;
            let inc = Decimal::new(m, (next() % 29) as u32);
            let i = Instrument::new(inc, inc, Decimal::ZERO, Decimal::MAX, Decimal::ZERO).unwrap();
            let n = match k % 4 {
                0 => (next() % 1_000_000) as f64,
                1 => (next() >> (next() % 64)) as f64,
                2 => (next() % 4) as f64 * 0.3,
                _ => ((i64::MAX / m) as f64) * (0.5 + (next() % 100) as f64 * 0.01),
            };
            let x = n * i.step.f64;
            // `times_dec` panics where the crate's product overflows (both forms alike).
            let fits = |t: i64| Decimal::from(t).checked_mul(inc).is_some();
            let steps = floor_fast(x / i.step.f64);
            let want = if steps.is_nan() || steps < 1.0 || steps > i64::MAX as f64 {
                Decimal::ZERO
            } else if fits(steps as i64) {
                times_dec(steps as i64, inc)
            } else {
                continue;
            };
            assert_eq!(i.floor_qty(x).serialize(), want.serialize(), "{x} / {inc}");
            let want = match i.price_ticks(x) {
                Some(t) if !fits(t) => continue,
                t => t.map_or(Decimal::ZERO, |t| times_dec(t, inc)),
            };
            let got = i.price_on_tick(x);
            assert_eq!(got.serialize(), want.serialize(), "{x} / {inc}");
            match i.price_ticks(x) {
                Some(0) => zero += 1,
                Some(t) if t.checked_mul(m).is_some() => on_i64 += 1,
                Some(_) => wide += 1,
                None => {}
            }
        }
        assert!(
            on_i64 > 50_000 && wide > 5_000 && zero > 5_000,
            "{on_i64} on i64, {wide} wider, {zero} zero"
        );
    }

    /// `violation`'s integer min-notional comparison gives what the decimals give
    /// (`price_on_tick(price) · qty < min_notional`), near the minimum and far from it, for
    /// increments and minimums of several scales, wide quantities and prices off the tick.
    #[test]
    fn min_notional_on_integers_agrees_with_decimals() {
        let mut next = lcg(0x5851_F42D_4C95_7F2D);
        let ticks = ["0.10", "0.01", "0.5", "1", "0.0001", "100", "0.000001"];
        let steps = ["0.001", "1", "0.1", "0.00001", "10", "0.000000001"];
        let mins = ["5", "5.0", "100", "0.5", "10.000000", "0", "1000000"];
        let (mut outcomes, mut equal) = ([0; 2], 0);
        for k in 0..200_000u64 {
            let pick = |v: &[&str], r: u64| d(v[(r % v.len() as u64) as usize]);
            let mut i = Instrument::new(
                pick(&ticks, next()),
                pick(&steps, next()),
                Decimal::ZERO,
                Decimal::MAX,
                pick(&mins, next()),
            )
            .unwrap();
            i.min_qty = Decimal::new(1, 28);
            let qty = match k % 4 {
                0 => Decimal::new((next() % 1_000_000) as i64 + 1, (next() % 10) as u32),
                1 => {
                    let bits = 1 + next() % 95;
                    let m = (i128::from(next()) << 42 | i128::from(next())) & ((1 << bits) - 1);
                    Decimal::from_i128_with_scale(m.max(1), (next() % 29) as u32)
                }
                _ => Decimal::new((next() % 100_000) as i64 + 1, 3),
            };
            let price = match k % 3 {
                // Near min_notional / qty, on the tick or not.
                0 => {
                    let p = i.min_notional.checked_div(qty);
                    let p = p.and_then(|p| rust_decimal::prelude::ToPrimitive::to_f64(&p));
                    let p = p.unwrap_or(1.0);
                    p * (1.0 + ((next() % 2001) as f64 - 1000.0) * 1e-12)
                }
                1 => (next() % 10_000_000) as f64 * 0.01 + (next() % 7) as f64 * 1e-9,
                _ => f64::from_bits((next() << 11) | (next() % 2048)) % 1e12,
            };
            // Beyond the decimal range both ways panic alike (the integer path defers to it).
            let Some(notional) = i.price_on_tick(price).checked_mul(qty) else {
                continue;
            };
            let want = notional < i.min_notional;
            outcomes[usize::from(want)] += 1;
            equal += usize::from(notional == i.min_notional);
            assert_eq!(
                i.below_min_notional(qty, price),
                want,
                "{qty} at {price} ({} {} {})",
                i.tick_size,
                i.qty_step,
                i.min_notional
            );
            let by_dec = if qty < i.min_qty {
                Some(RejectReason::BelowMinQty)
            } else if want {
                Some(RejectReason::BelowMinNotional)
            } else {
                None
            };
            assert_eq!(i.violation(qty, price, false), by_dec, "{qty} at {price}");
        }
        assert!(outcomes[0] > 20_000 && outcomes[1] > 20_000, "{outcomes:?}");
        assert!(equal > 100, "{equal} notionals exactly at the minimum");
    }

    #[test]
    fn decimal_text_has_no_exponent_and_optional_trim() {
        let w = |s: &str, trim: bool| {
            let mut v = Vec::new();
            write_decimal(&mut v, d(s), trim);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(w("30000.0", true), "30000");
        assert_eq!(w("30000.0", false), "30000.0");
        assert_eq!(w("0.010", true), "0.01");
        assert_eq!(w("0.00001", true), "0.00001");
        assert_eq!(w("0.0000", true), "0");
        assert_eq!(w("-1.50", true), "-1.5");
        assert_eq!(w("1.250", false), "1.250");
        assert_eq!(
            w("79228162514264337593543950335", true),
            "79228162514264337593543950335"
        );
        assert_eq!(
            w("7922816251426433759354.3950330", true),
            "7922816251426433759354.395033"
        );
    }

    #[test]
    fn bundled_bybit_rows_carry_max_leverage() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/instruments/instrument_specs_8_symbols.json");
        let v = load_specs(&path, "bybit", &["BTCUSDT".into(), "BNBUSDT".into()]).unwrap();
        assert_eq!(v[0].max_leverage, Some(d("100.00")));
        assert_eq!(v[0].max_qty, d("1500.000"));
        assert_eq!(v[0].max_market_qty, d("150.000"));
        assert_eq!(v[1].max_leverage, Some(d("50.00")));
        let b = load_specs(&path, "binance", &["BTCUSDT".into()]).unwrap();
        assert_eq!(b[0].max_leverage, None);
    }

    #[test]
    fn zero_step_is_refused() {
        assert!(Instrument::new(d("0"), d("1"), d("1"), d("1"), d("1")).is_err());
    }
}
