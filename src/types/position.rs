//! Exact position accounting from fills (average cost, realized PnL, fees), in `Decimal`.

use rust_decimal::Decimal;

use super::tick::Side;

/// One symbol's position. Owned by the compute thread; updated only from fills.
///
/// `qty` is signed (long > 0); `entry` is the average entry price of the open quantity;
/// realized PnL is booked when a fill reduces or flips the position: `(fill − entry)·closed·sign`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed quantity in base units.
    pub qty: Decimal,
    /// Average entry price of `qty` (0 when flat).
    pub entry: Decimal,
    /// Realized PnL in quote currency, before fees.
    pub realized: Decimal,
    /// Fees paid in quote currency.
    pub fees: Decimal,
    /// Number of fills applied.
    pub fills: u64,
}

impl Position {
    /// Applies a fill of `qty` (> 0) at `price` on `side`, paying `fee`.
    pub fn apply_fill(&mut self, side: Side, price: Decimal, qty: Decimal, fee: Decimal) {
        let signed = match side {
            Side::Buy => qty,
            Side::Sell => -qty,
        };
        self.fees += fee;
        self.fills += 1;
        let same_direction =
            self.qty.is_zero() || (self.qty > Decimal::ZERO) == (signed > Decimal::ZERO);
        if same_direction {
            let new_qty = self.qty + signed;
            self.entry = (self.entry * self.qty.abs() + price * qty) / new_qty.abs();
            self.qty = new_qty;
            return;
        }
        let closed = qty.min(self.qty.abs());
        let direction = if self.qty > Decimal::ZERO {
            Decimal::ONE
        } else {
            Decimal::NEGATIVE_ONE
        };
        self.realized += (price - self.entry) * closed * direction;
        self.qty += signed;
        if self.qty.is_zero() {
            self.entry = Decimal::ZERO;
        } else if (self.qty > Decimal::ZERO) != (direction > Decimal::ZERO) {
            // Flipped through zero: the remainder opened at this fill's price.
            self.entry = price;
        }
    }

    /// Unrealized PnL at `mark`.
    pub fn unrealized(&self, mark: Decimal) -> Decimal {
        (mark - self.entry) * self.qty
    }

    /// -1, 0 or +1.
    pub fn direction(&self) -> i8 {
        if self.qty.is_zero() {
            0
        } else if self.qty > Decimal::ZERO {
            1
        } else {
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn round_trip_books_exact_pnl_and_fees() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, d("61800.30"), d("0.016"), d("0.49440240"));
        p.apply_fill(Side::Sell, d("61810.10"), d("0.016"), d("0.49448080"));
        assert_eq!(p.qty, Decimal::ZERO);
        assert_eq!(p.realized, d("0.1568"));
        assert_eq!(p.fees, d("0.98888320"));
        assert_eq!(p.direction(), 0);
    }

    #[test]
    fn adding_averages_the_entry_and_flipping_reopens_at_fill_price() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, d("100"), d("1"), Decimal::ZERO);
        p.apply_fill(Side::Buy, d("110"), d("1"), Decimal::ZERO);
        assert_eq!(p.entry, d("105"));
        p.apply_fill(Side::Sell, d("120"), d("3"), Decimal::ZERO);
        assert_eq!(p.realized, d("30"));
        assert_eq!(p.qty, d("-1"));
        assert_eq!(p.entry, d("120"));
        assert_eq!(p.unrealized(d("119")), d("1"));
    }

    #[test]
    fn partial_close_keeps_entry() {
        let mut p = Position::default();
        p.apply_fill(Side::Sell, d("2000"), d("2"), Decimal::ZERO);
        p.apply_fill(Side::Buy, d("1990"), d("0.5"), Decimal::ZERO);
        assert_eq!(p.qty, d("-1.5"));
        assert_eq!(p.entry, d("2000"));
        assert_eq!(p.realized, d("5"));
    }
}
