//! The one fill/fee model, shared by in-process paper fills, the embedded exchange and the
//! backtester (`backtest::fills` adds only its latency and tick slippage), so all fill
//! identically: a market order fills at the last trade price moved `slippage_bps` against
//! the order, put back on the tick *against* the order (buys round up, sells down), paying
//! `taker_fee` × notional rounded to 8 decimals.
//!
//! Units: `taker_fee` is a fraction of notional (0.0005 = 5 bps); `slippage_bps` is basis
//! points of price — an `f64` as configured in [`PaperVenue`], an exact decimal in
//! [`FillModel`] (converted once by [`bps_decimal`]).

use rust_decimal::Decimal;

use crate::types::{Instrument, Side};

/// Exact market-fill model: `price = tick_adverse(last · (1 ± bps/10⁴))`,
/// `fee = round₈(price · qty · taker_fee)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillModel {
    /// Taker fee as a fraction of notional (0.0005 = 5 bps).
    pub taker_fee: Decimal,
    /// Adverse slippage in basis points of price (exact decimal).
    pub slippage_bps: Decimal,
}

const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

impl FillModel {
    /// Fill price of a market order on `side` when the last trade was at `last` (on the tick):
    /// `last · (1 ± bps/10⁴)` rounded to `tick` against the order (buy: up, sell: down).
    #[inline]
    pub fn price(&self, tick: Decimal, side: Side, last: Decimal) -> Decimal {
        if self.slippage_bps.is_zero() {
            return last;
        }
        let factor = match side {
            Side::Buy => BPS + self.slippage_bps,
            Side::Sell => BPS - self.slippage_bps,
        };
        let slipped = last * factor / BPS;
        let ticks = slipped / tick;
        let whole = match side {
            Side::Buy => ticks.ceil(),
            Side::Sell => ticks.floor(),
        };
        whole * tick
    }

    /// Fee of a fill: `round₈(price · qty · taker_fee)` (banker's rounding, as `Decimal::round_dp`).
    #[inline]
    pub fn fee(&self, price: Decimal, qty: Decimal) -> Decimal {
        (price * qty * self.taker_fee).round_dp(8)
    }

    /// `(price, fee)` of a market fill of `qty` on `side` at last trade `last`.
    #[inline]
    pub fn fill(
        &self,
        tick: Decimal,
        side: Side,
        last: Decimal,
        qty: Decimal,
    ) -> (Decimal, Decimal) {
        let p = self.price(tick, side, last);
        (p, self.fee(p, qty))
    }
}

/// In-process paper fills: the intent's reference trade price (recovered exactly on the tick)
/// filled with the same [`FillModel`] as the embedded exchange.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperVenue {
    /// Taker fee as a fraction of notional (0.0005 = 5 bps).
    pub taker_fee: Decimal,
    /// Adverse slippage in basis points of price.
    pub slippage_bps: f64,
}

impl PaperVenue {
    /// The exact fill model (slippage converted from its shortest decimal form, e.g. 0.1 → 0.1).
    pub fn model(&self) -> FillModel {
        FillModel {
            taker_fee: self.taker_fee,
            slippage_bps: bps_decimal(self.slippage_bps),
        }
    }

    /// `(price, fee)` of a fill of `qty` on `side` at reference price `ref_price`
    /// (see [`FillModel::fill`]; `ref_price` is put on the tick first).
    #[inline]
    pub fn fill(
        &self,
        inst: &Instrument,
        side: Side,
        ref_price: f64,
        qty: Decimal,
    ) -> (Decimal, Decimal) {
        let last = inst.price_on_tick(ref_price);
        self.model().fill(inst.tick_size, side, last, qty)
    }
}

/// Basis points as an exact decimal from their f64 config value (shortest round-trip form).
pub fn bps_decimal(bps: f64) -> Decimal {
    // f64 → Decimal via its shortest decimal digits: 0.1 becomes exactly 0.1, not 0.1000…055.
    Decimal::from_f64_retain(bps)
        .map(|d| d.round_dp(8).normalize())
        .unwrap_or(Decimal::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn fill_is_on_tick_with_exact_fee() {
        let inst = Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap();
        let v = PaperVenue {
            taker_fee: d("0.0005"),
            slippage_bps: 0.0,
        };
        let (p, fee) = v.fill(&inst, Side::Buy, 61800.3, d("0.016"));
        assert_eq!(p, d("61800.30"));
        assert_eq!(fee, d("0.49440240"));
        let v = PaperVenue {
            slippage_bps: 1.0,
            ..v
        };
        // 61800.3 · 1.0001 = 61806.48003 → up to 61806.5; · 0.9999 = 61794.11997 → down to 61794.1.
        let (buy, _) = v.fill(&inst, Side::Buy, 61800.3, d("0.016"));
        let (sell, _) = v.fill(&inst, Side::Sell, 61800.3, d("0.016"));
        assert_eq!(buy, d("61806.5"));
        assert_eq!(sell, d("61794.1"));
    }

    #[test]
    fn slippage_rounds_against_the_order_even_when_nearest_is_better() {
        let m = FillModel {
            taker_fee: Decimal::ZERO,
            slippage_bps: d("0.1"),
        };
        // 100.00 · 1.00001 = 100.001 → buy pays 100.01 (nearest would be 100.00).
        assert_eq!(m.price(d("0.01"), Side::Buy, d("100.00")), d("100.01"));
        // 100.00 · 0.99999 = 99.999 → sell gets 99.99.
        assert_eq!(m.price(d("0.01"), Side::Sell, d("100.00")), d("99.99"));
    }

    #[test]
    fn bps_from_config_is_the_shortest_decimal() {
        assert_eq!(bps_decimal(0.1), d("0.1"));
        assert_eq!(bps_decimal(2.5), d("2.5"));
        assert_eq!(bps_decimal(0.0), Decimal::ZERO);
    }
}
