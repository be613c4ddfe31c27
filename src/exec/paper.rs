//! Paper fills: market orders filled in-process at the decision price, with slippage and fees.

use rust_decimal::Decimal;

use super::instrument::Instrument;
use crate::feed::Side;

/// Fills market orders at the reference trade price moved `slippage_bps` against the order,
/// put back on the tick, paying `taker_fee` (a fraction of notional).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperVenue {
    /// Taker fee as a fraction of notional (0.0005 = 5 bps).
    pub taker_fee: Decimal,
    /// Adverse slippage in basis points of price.
    pub slippage_bps: f64,
}

impl PaperVenue {
    /// `(price, fee)` of a fill of `qty` on `side` at reference price `ref_price`:
    /// price = tick-rounded `ref·(1 ± slippage_bps/10⁴)`, fee = `price·qty·taker_fee` to 8 dp.
    #[inline]
    pub fn fill(
        &self,
        inst: &Instrument,
        side: Side,
        ref_price: f64,
        qty: Decimal,
    ) -> (Decimal, Decimal) {
        let slipped = ref_price * (1.0 + side.sign() * self.slippage_bps * 1e-4);
        let price = inst.price_on_tick(slipped);
        let fee = (price * qty * self.taker_fee).round_dp(8);
        (price, fee)
    }
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
        let (buy, _) = v.fill(&inst, Side::Buy, 61800.3, d("0.016"));
        let (sell, _) = v.fill(&inst, Side::Sell, 61800.3, d("0.016"));
        assert_eq!(buy, d("61806.50"));
        assert_eq!(sell, d("61794.10"));
    }
}
