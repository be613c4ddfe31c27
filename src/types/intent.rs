//! What the compute stage asks the execution stage to do, packed into 56 bytes so that an
//! order-ring slot (item + 8-byte sequence stamp) is one 64-byte cache line.
//!
//! Packing (all exact, all integer): the quantity is its decimal mantissa and scale
//! (`qty = mantissa · 10^−scale`, rebuilt with `Decimal::new`, so the same digits and scale as
//! the decimal that went in); take-profit and stop-loss are mantissas at one shared scale
//! (`i64::MIN` = none); side, reduce-only, case and the two scales share a `u16`; the decision
//! time is a `u32` offset from the tick's receive time.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use super::case::Case;
use super::fixed::{mantissa_i64, POW10};
use super::tick::{Side, SymbolId};

/// The unpacked form of an [`OrderIntent`]: what callers build one from and read back.
///
/// `qty` is exact: the working position being closed plus the new exposure floored to the
/// venue's step (never rounded up), already checked against min qty and min notional.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntentFields {
    /// Instrument.
    pub symbol: SymbolId,
    /// Buy or sell.
    pub side: Side,
    /// Order quantity in base units, on the venue's step.
    pub qty: Decimal,
    /// The last trade price when the decision was made (paper fills and notional checks).
    pub ref_price: f64,
    /// True when the order may only reduce the position.
    pub reduce_only: bool,
    /// The matrix case that triggered it.
    pub case: Case,
    /// Client sequence number, unique per run (becomes the client order id).
    pub client_seq: u64,
    /// Monotonic ns when the triggering tick was read from the socket (0: no tick).
    pub tick_recv_ns: u64,
    /// Monotonic ns when the decision was made and the intent handed on (0: not yet).
    pub decided_ns: u64,
    /// Take-profit of the position an entry opens (the engine's exit level, on the tick);
    /// sent with the order where the venue supports it (Bybit), `None` on exits.
    pub take_profit: Option<Decimal>,
    /// Stop-loss of the position an entry opens (on the tick); as `take_profit`.
    pub stop_loss: Option<Decimal>,
}

/// An order the strategy wants sent: the packed, 56-byte `Copy` form of [`IntentFields`].
///
/// Built with [`OrderIntent::new`]; the plain fields are public, the packed ones are read with
/// accessors. Every decimal comes back exactly as it went in (same value and scale) when its
/// mantissa fits an `i64` (every venue quantity and price does; see [`OrderIntent::new`]).
#[derive(Clone, Copy, PartialEq)]
pub struct OrderIntent {
    /// Client sequence number, unique per run (becomes the client order id).
    pub client_seq: u64,
    /// The last trade price when the decision was made (paper fills and notional checks).
    pub ref_price: f64,
    /// `tick_recv_ns`, or `decided_ns` when [`DECIDED_ABS`] is set (then no tick).
    time_ns: u64,
    /// Mantissa of the quantity, at the scale in `bits`.
    qty: i64,
    /// Mantissa of the take-profit at the price scale in `bits`; [`NO_PRICE`] for none.
    take_profit: i64,
    /// Mantissa of the stop-loss at the price scale in `bits`; [`NO_PRICE`] for none.
    stop_loss: i64,
    /// Unless [`DECIDED_ABS`]: 0 = not decided yet, else `decided_ns − tick_recv_ns + 1`.
    decided_after: u32,
    /// Instrument.
    pub symbol: SymbolId,
    /// Side, reduce-only, case, quantity and price scales (see the bit constants).
    bits: u16,
}

const _: () = assert!(std::mem::size_of::<OrderIntent>() <= 56);
const _: () = assert!(Case::COUNT <= 8);

/// Take-profit / stop-loss mantissa meaning "none".
const NO_PRICE: i64 = i64::MIN;
/// Bit 0: sell.
const SELL: u16 = 1;
/// Bit 1: reduce-only.
const REDUCE_ONLY: u16 = 1 << 1;
/// Bits 2–4: case index.
const CASE_SHIFT: u32 = 2;
/// Bits 5–9: quantity scale (0–28).
const QTY_SCALE_SHIFT: u32 = 5;
/// Bits 10–14: take-profit / stop-loss scale (0–28).
const PX_SCALE_SHIFT: u32 = 10;
/// Bit 15: `time_ns` holds `decided_ns` and there is no tick time.
const DECIDED_ABS: u16 = 1 << 15;
/// Mask of a 3-bit case index.
const CASE_MASK: u16 = 0b111;
/// Mask of a 5-bit scale.
const SCALE_MASK: u16 = 0b1_1111;

impl OrderIntent {
    /// Packs `f`. Exact whenever each decimal's mantissa fits an `i64` (at one shared scale
    /// for take-profit and stop-loss, rescaled exactly to the larger of their two). Beyond
    /// that (more than 18 significant digits, which no venue quantity or price has) the value
    /// is normalised and, if still too long, cut toward zero to the digits that fit.
    /// `decided_ns` below `tick_recv_ns` is stored as `tick_recv_ns`, and more than
    /// 2³² − 2 ns after it as that bound (latency telemetry only). Out of line: one copy for
    /// the deciding tick and the idle warm-ups' shadows.
    #[inline(never)]
    pub fn new(f: IntentFields) -> Self {
        let (qty, qty_scale) = compact(f.qty);
        let (take_profit, stop_loss, px_scale) = compact_pair(f.take_profit, f.stop_loss);
        let mut bits = (f.case.index() as u16) << CASE_SHIFT
            | (qty_scale as u16) << QTY_SCALE_SHIFT
            | (px_scale as u16) << PX_SCALE_SHIFT;
        if f.side == Side::Sell {
            bits |= SELL;
        }
        if f.reduce_only {
            bits |= REDUCE_ONLY;
        }
        let mut it = Self {
            client_seq: f.client_seq,
            ref_price: f.ref_price,
            time_ns: f.tick_recv_ns,
            qty,
            take_profit,
            stop_loss,
            decided_after: 0,
            symbol: f.symbol,
            bits,
        };
        it.set_decided_ns(f.decided_ns);
        it
    }

    /// The unpacked fields (the inverse of [`OrderIntent::new`]).
    #[inline]
    pub fn fields(&self) -> IntentFields {
        IntentFields {
            symbol: self.symbol,
            side: self.side(),
            qty: self.qty(),
            ref_price: self.ref_price,
            reduce_only: self.reduce_only(),
            case: self.case(),
            client_seq: self.client_seq,
            tick_recv_ns: self.tick_recv_ns(),
            decided_ns: self.decided_ns(),
            take_profit: self.take_profit(),
            stop_loss: self.stop_loss(),
        }
    }

    /// Buy or sell.
    #[inline]
    pub fn side(&self) -> Side {
        if self.bits & SELL != 0 {
            Side::Sell
        } else {
            Side::Buy
        }
    }

    /// True when the order may only reduce the position.
    #[inline]
    pub fn reduce_only(&self) -> bool {
        self.bits & REDUCE_ONLY != 0
    }

    /// The matrix case that triggered it.
    #[inline]
    pub fn case(&self) -> Case {
        Case::ALL[usize::from(self.bits >> CASE_SHIFT & CASE_MASK)]
    }

    /// Order quantity in base units (`Decimal::new(mantissa, scale)`: no float involved).
    #[inline]
    pub fn qty(&self) -> Decimal {
        Decimal::new(self.qty, self.scale(QTY_SCALE_SHIFT))
    }

    /// Take-profit of the position an entry opens; `None` on exits.
    #[inline]
    pub fn take_profit(&self) -> Option<Decimal> {
        self.price(self.take_profit)
    }

    /// Stop-loss of the position an entry opens; `None` on exits.
    #[inline]
    pub fn stop_loss(&self) -> Option<Decimal> {
        self.price(self.stop_loss)
    }

    /// Monotonic ns when the triggering tick was read from the socket (0: no tick).
    #[inline]
    pub fn tick_recv_ns(&self) -> u64 {
        if self.bits & DECIDED_ABS != 0 {
            0
        } else {
            self.time_ns
        }
    }

    /// Monotonic ns when the decision was made (0: not stamped yet).
    #[inline]
    pub fn decided_ns(&self) -> u64 {
        if self.bits & DECIDED_ABS != 0 {
            self.time_ns
        } else if self.decided_after == 0 {
            0
        } else {
            self.time_ns + u64::from(self.decided_after - 1)
        }
    }

    /// Stamps the decision time (see [`OrderIntent::new`] for its range relative to the tick).
    #[inline]
    pub fn set_decided_ns(&mut self, ns: u64) {
        let recv = self.tick_recv_ns();
        self.bits &= !DECIDED_ABS;
        if recv == 0 {
            self.time_ns = ns;
            self.decided_after = 0;
            if ns != 0 {
                self.bits |= DECIDED_ABS;
            }
        } else if ns == 0 {
            self.decided_after = 0;
        } else {
            let after = ns.saturating_sub(recv).saturating_add(1);
            self.decided_after = u32::try_from(after).unwrap_or(u32::MAX);
        }
    }

    /// Sets the take-profit and stop-loss (packed as in [`OrderIntent::new`]).
    #[inline]
    pub fn set_exits(&mut self, take_profit: Option<Decimal>, stop_loss: Option<Decimal>) {
        let (tp, sl, scale) = compact_pair(take_profit, stop_loss);
        self.take_profit = tp;
        self.stop_loss = sl;
        self.bits = self.bits & !(SCALE_MASK << PX_SCALE_SHIFT) | (scale as u16) << PX_SCALE_SHIFT;
    }

    /// Sets the tick's receive time, keeping the decision time (0: no tick).
    #[inline]
    pub fn set_tick_recv_ns(&mut self, ns: u64) {
        let decided = self.decided_ns();
        self.bits &= !DECIDED_ABS;
        self.time_ns = ns;
        self.set_decided_ns(decided);
    }

    /// A packed scale: 0–28 as stored by [`OrderIntent::new`]; the bound, a no-op on those,
    /// lets `Decimal::new` drop its range check (and panic path) when inlined.
    #[inline]
    fn scale(&self, shift: u32) -> u32 {
        u32::from(self.bits >> shift & SCALE_MASK).min(Decimal::MAX_SCALE)
    }

    #[inline]
    fn price(&self, mantissa: i64) -> Option<Decimal> {
        (mantissa != NO_PRICE).then(|| Decimal::new(mantissa, self.scale(PX_SCALE_SHIFT)))
    }
}

impl From<IntentFields> for OrderIntent {
    #[inline]
    fn from(f: IntentFields) -> Self {
        Self::new(f)
    }
}

/// Prints the unpacked fields under the name `OrderIntent`, exactly as the unpacked struct
/// did when it was the intent itself (recorded decision hashes rely on this text).
impl fmt::Debug for OrderIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.fields();
        f.debug_struct("OrderIntent")
            .field("symbol", &x.symbol)
            .field("side", &x.side)
            .field("qty", &x.qty)
            .field("ref_price", &x.ref_price)
            .field("reduce_only", &x.reduce_only)
            .field("case", &x.case)
            .field("client_seq", &x.client_seq)
            .field("tick_recv_ns", &x.tick_recv_ns)
            .field("decided_ns", &x.decided_ns)
            .field("take_profit", &x.take_profit)
            .field("stop_loss", &x.stop_loss)
            .finish()
    }
}

/// The mantissa of `d` at scale `s` (≥ `d`'s scale), if it fits an `i64` other than
/// [`NO_PRICE`].
///
/// On `i64`s: a mantissa that does not fit an `i64` does not fit once multiplied by
/// `10^up ≥ 1` (nor does a non-zero one times `10^up > i64::MAX`, `up ≥ 19`), and zero fits
/// at any `up` whose `10^up` the `i128` form could hold (`up ≤ 38`).
#[inline]
fn mantissa_at(d: Decimal, s: u32) -> Option<i64> {
    let up = s.checked_sub(d.scale())?;
    // `i64::try_from(d.mantissa())` but at −2⁶³, which is `NO_PRICE` (refused below anyway).
    let m = mantissa_i64(d)?;
    let m = match up {
        0 => m,
        _ if m == 0 => return (up <= 38).then_some(0),
        _ => m.checked_mul(i64::try_from(*POW10.get(up as usize)?).ok()?)?,
    };
    (m != NO_PRICE).then_some(m)
}

/// `d` as `(mantissa, scale)`: exact when the mantissa fits, else normalised, else cut toward
/// zero one digit at a time until it fits (more than 18 significant digits only).
fn compact(d: Decimal) -> (i64, u32) {
    let mut d = d;
    for _ in 0..2 {
        if let Some(m) = mantissa_at(d, d.scale()) {
            return (m, d.scale());
        }
        d = d.normalize();
    }
    while d.scale() > 0 {
        d = d.round_dp_with_strategy(d.scale() - 1, RoundingStrategy::ToZero);
        if let Some(m) = mantissa_at(d, d.scale()) {
            return (m, d.scale());
        }
    }
    // More than 9.2·10¹⁸ whole units: no venue quantity or price.
    (
        if d.is_sign_negative() {
            -i64::MAX
        } else {
            i64::MAX
        },
        0,
    )
}

/// Two optional decimals as mantissas at one scale (the larger of theirs, so exact when both
/// fit there), [`NO_PRICE`] for `None`; falls back to [`compact`] of each at the scale of
/// the coarser when the finer scale does not fit.
fn compact_pair(a: Option<Decimal>, b: Option<Decimal>) -> (i64, i64, u32) {
    let s = a.map_or(0, |d| d.scale()).max(b.map_or(0, |d| d.scale()));
    let at = |d: Option<Decimal>, s| d.map_or(Some(NO_PRICE), |d| mantissa_at(d, s));
    if let (Some(x), Some(y)) = (at(a, s), at(b, s)) {
        return (x, y, s);
    }
    let c = |d: Option<Decimal>| d.map(compact);
    let (ca, cb) = (c(a), c(b));
    // Each fits at its own compact scale, so both fit at the coarser one.
    let s = [ca, cb]
        .into_iter()
        .flatten()
        .map(|c| c.1)
        .min()
        .unwrap_or(0);
    let cut = |d: Option<Decimal>| {
        d.map_or(NO_PRICE, |d| {
            let d = d.round_dp_with_strategy(s, RoundingStrategy::ToZero);
            mantissa_at(d, s).unwrap_or(if d.is_sign_negative() {
                -i64::MAX
            } else {
                i64::MAX
            })
        })
    };
    (cut(a), cut(b), s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `i64` [`mantissa_at`] equals its `i128` definition (`m · 10^up` if it fits an
    /// `i64` other than [`NO_PRICE`]) over mantissas of every width, both signs, zeros, and
    /// every scale pair.
    #[test]
    fn mantissa_at_is_its_i128_definition() {
        let reference = |d: Decimal, s: u32| -> Option<i64> {
            let up = s.checked_sub(d.scale())?;
            let m = d.mantissa().checked_mul(10i128.checked_pow(up)?)?;
            i64::try_from(m).ok().filter(|&m| m != NO_PRICE)
        };
        let mut x = 0x005E_ED0F_1A7E_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut some = 0;
        for _ in 0..300_000 {
            let bits = next() % 97;
            let m = (i128::from(next()) << 64 | i128::from(next())) & ((1i128 << bits) - 1);
            let mut d = Decimal::from_i128_with_scale(m, (next() % 29) as u32);
            d.set_sign_negative(next() % 3 == 0);
            let s = (next() % 29) as u32;
            assert_eq!(mantissa_at(d, s), reference(d, s), "{d:?} at {s}");
            some += usize::from(reference(d, s).is_some());
        }
        assert!(some > 20_000, "{some} cases fit");
        for (m, sc, s) in [
            (i64::MIN, 0, 0),
            (i64::MIN / 10, 0, 1),
            (i64::MAX, 0, 0),
            (0, 0, 28),
        ] {
            let d = Decimal::new(m, sc);
            assert_eq!(mantissa_at(d, s), reference(d, s), "{d:?} at {s}");
        }
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn fields() -> IntentFields {
        IntentFields {
            symbol: SymbolId(3),
            side: Side::Sell,
            qty: d("0.0150"),
            ref_price: 61_800.3,
            reduce_only: true,
            case: Case::Topping,
            client_seq: 42,
            tick_recv_ns: 1_700_000_000_123_456_789,
            decided_ns: 1_700_000_000_123_460_000,
            take_profit: Some(d("59000.1")),
            stop_loss: Some(d("61000.05")),
        }
    }

    #[test]
    fn one_line_with_the_ring_stamp() {
        assert!(std::mem::size_of::<OrderIntent>() + 8 <= 64);
    }

    #[test]
    fn fields_round_trip_with_their_scales() {
        let f = fields();
        let it = OrderIntent::new(f);
        let back = it.fields();
        // Same values; quantity keeps its own scale, the prices share the finer one.
        assert_eq!(back, f);
        assert_eq!(back.qty.to_string(), "0.0150");
        assert_eq!(back.take_profit.unwrap().to_string(), "59000.10");
        assert_eq!(back.stop_loss.unwrap().to_string(), "61000.05");
        for case in Case::ALL {
            for side in [Side::Buy, Side::Sell] {
                for reduce_only in [false, true] {
                    let f = IntentFields {
                        case,
                        side,
                        reduce_only,
                        take_profit: None,
                        ..f
                    };
                    assert_eq!(OrderIntent::new(f).fields(), f);
                }
            }
        }
    }

    #[test]
    fn every_i64_mantissa_at_every_scale_comes_back_digit_for_digit() {
        let mut mantissas = vec![0, 1, 7, 15, 618_003, i64::MAX, -i64::MAX, -42];
        mantissas.extend((0..19).map(|k| 10i64.pow(k)));
        mantissas.extend((0..19).map(|k| 10i64.pow(k) - 1));
        for &m in &mantissas {
            for scale in 0..=28 {
                let x = Decimal::new(m, scale);
                let it = OrderIntent::new(IntentFields {
                    qty: x,
                    take_profit: Some(x),
                    stop_loss: None,
                    ..fields()
                });
                let back = (it.qty(), it.take_profit().unwrap());
                assert_eq!(back.0.to_string(), x.to_string(), "qty {m}e-{scale}");
                assert_eq!(
                    back.1.to_string(),
                    x.to_string(),
                    "take-profit {m}e-{scale}"
                );
                assert_eq!(it.stop_loss(), None);
            }
        }
    }

    #[test]
    fn debug_text_is_that_of_the_unpacked_fields() {
        let f = IntentFields {
            take_profit: Some(d("59000.15")),
            ..fields()
        };
        let text = format!("{f:?}").replacen("IntentFields", "OrderIntent", 1);
        assert_eq!(format!("{:?}", OrderIntent::new(f)), text);
    }

    #[test]
    fn decision_times() {
        let mut it = OrderIntent::new(fields());
        assert_eq!(it.decided_ns() - it.tick_recv_ns(), 3_211);
        it.set_decided_ns(0);
        assert_eq!(
            (it.decided_ns(), it.tick_recv_ns()),
            (0, fields().tick_recv_ns)
        );
        // No tick (operator close, warm-up): the decision time is absolute.
        let mut it = OrderIntent::new(IntentFields {
            tick_recv_ns: 0,
            decided_ns: 0,
            ..fields()
        });
        assert_eq!((it.tick_recv_ns(), it.decided_ns()), (0, 0));
        it.set_decided_ns(u64::MAX - 1);
        assert_eq!((it.tick_recv_ns(), it.decided_ns()), (0, u64::MAX - 1));
        it.set_decided_ns(0);
        assert_eq!((it.tick_recv_ns(), it.decided_ns()), (0, 0));
        // Clamped to [recv, recv + 2^32 - 2].
        let recv = fields().tick_recv_ns;
        let mut it = OrderIntent::new(fields());
        it.set_decided_ns(recv - 5);
        assert_eq!(it.decided_ns(), recv);
        it.set_decided_ns(recv + (1 << 40));
        assert_eq!(it.decided_ns(), recv + u64::from(u32::MAX) - 1);
    }

    #[test]
    fn long_decimals_are_normalised_then_cut_toward_zero() {
        let long = d("0.0100000000000000000000000000");
        let it = OrderIntent::new(IntentFields {
            qty: long,
            ..fields()
        });
        assert_eq!((it.qty(), it.qty().to_string()), (long, "0.01".into()));
        let cut = OrderIntent::new(IntentFields {
            qty: d("1.2345678901234567890123"),
            ..fields()
        });
        assert_eq!(cut.qty(), d("1.234567890123456789"));
        // Prices at scales whose finer one overflows fall back to the coarser.
        let it = OrderIntent::new(IntentFields {
            take_profit: Some(d("9000000000000000000")),
            stop_loss: Some(d("1.5")),
            ..fields()
        });
        assert_eq!(it.take_profit(), Some(d("9000000000000000000")));
        assert_eq!(it.stop_loss(), Some(d("1")));
    }
}
