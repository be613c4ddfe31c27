//! Exact position accounting from fills (average cost, realized PnL, fees), in `Decimal`.
//!
//! One rule, used by the engine, the journal replay and the embedded exchange alike, so that
//! the same fills give the same position to the last decimal whatever way they were split or
//! the order in which fills on the same side arrived:
//! - `cost` is the quote notional of the open quantity at entry. A fill that opens or adds adds
//!   `price × qty` to it: exact, so fills on the same side commute and one fill of `2q` books
//!   what two fills of `q` do.
//! - `entry = cost / |qty|` rounded half-even to [`ENTRY_DP`] decimals: the only rounding.
//! - A fill that reduces part of the position books `(price − entry) · closed · direction` (exact:
//!   `entry` has at most [`ENTRY_DP`] decimals), takes `entry × closed` off `cost` and leaves
//!   `entry` unchanged, so several partial closes book exactly what one close of their sum does.
//! - A fill that closes the rest books `(price · closed − cost) · direction` against the exact
//!   cost left, so the entry's rounding never reaches a round trip: **at every flat point the
//!   realized PnL is exactly the cash flow of the fills** (`Σ sell notional − Σ buy notional`),
//!   whatever order they were booked in. A venue execution learned late (a stop the trader
//!   heard of at start-up or from an executions read, booked after fills that came later on the
//!   venue) thus leaves the flat position equal to the venue's to the last decimal. A flip
//!   through zero closes the rest so and reopens the remainder at the fill's price.
//!
//! Venues report the same average-cost entry, as a decimal string with their own (undocumented)
//! number of digits: Binance USD-M `GET /fapi/v2/positionRisk` `entryPrice`, Bybit v5
//! `GET /v5/position/list` `avgPrice` (with `positionValue = size × avgPrice`); start-up
//! reconciliation therefore compares a real venue's entry within `risk.reconcile.entry_tolerance`.

use rust_decimal::Decimal;

use super::tick::Side;

/// Decimal places of the average entry price. With at most 8 decimals in a quantity, the
/// products `entry × qty` stay exact up to ~7.9e8 quote units (Decimal's 96-bit mantissa), and
/// the rounding moves a position's value by at most `|qty| × 5e-13`.
pub const ENTRY_DP: u32 = 12;

/// Whether a position of signed quantity `to` is `from` cut: on the same side and smaller,
/// or flat (a close realizes; a growth, an opening or a flip through zero do not only cut).
pub fn is_cut(from: Decimal, to: Decimal) -> bool {
    let same_side = !to.is_zero() && (from > Decimal::ZERO) == (to > Decimal::ZERO);
    to.abs() < from.abs() && (same_side || to.is_zero())
}

/// One symbol's position. Owned by the compute thread; updated only from fills.
///
/// `qty` is signed (long > 0); `entry` is the average entry price of the open quantity;
/// realized PnL is booked when a fill reduces or flips the position: `(fill − entry)·closed·sign`
/// (the rule in the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed quantity in base units.
    pub qty: Decimal,
    /// Average entry price of `qty`: `cost / |qty|` rounded half-even to [`ENTRY_DP`] decimals
    /// (0 when flat).
    pub entry: Decimal,
    /// Quote notional of `qty` at entry (≥ 0; 0 when flat): `Σ price × qty` of the fills that
    /// opened or added, less `entry × closed` of each partial reduction (exact; it differs from
    /// `entry × |qty|` by the entry's rounding, which the close of the rest books).
    pub cost: Decimal,
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
        let signed = side.signed(qty);
        self.fees += fee;
        self.fills += 1;
        let same_direction =
            self.qty.is_zero() || (self.qty > Decimal::ZERO) == (signed > Decimal::ZERO);
        if same_direction {
            self.qty += signed;
            self.cost += price * qty;
            self.entry = (self.cost / self.qty.abs()).round_dp(ENTRY_DP);
            return;
        }
        let closed = qty.min(self.qty.abs());
        let direction = if self.qty > Decimal::ZERO {
            Decimal::ONE
        } else {
            Decimal::NEGATIVE_ONE
        };
        if closed < self.qty.abs() {
            self.realized += (price - self.entry) * closed * direction;
            self.cost -= self.entry * closed;
            self.qty += signed;
            return;
        }
        // The rest is closed against its exact cost: a round trip realizes its cash flow.
        self.realized += (price * closed - self.cost) * direction;
        self.qty += signed;
        if self.qty.is_zero() {
            self.entry = Decimal::ZERO;
            self.cost = Decimal::ZERO;
        } else {
            // Flipped through zero: the remainder opened at this fill's price.
            self.cost = price * self.qty.abs();
            self.entry = (self.cost / self.qty.abs()).round_dp(ENTRY_DP);
        }
    }

    /// Takes `qty` (> 0) more on `side`, with no execution to book it from, so that the
    /// average entry becomes `entry`, the venue's own for its whole position (a position the
    /// venue grew, or opened from flat). On the side held: `cost = entry × |qty'|`, nothing
    /// realized, no fee — one fill at the implied price `(entry·|qty'| − cost)/qty`, so a
    /// round trip still realizes exactly its cash flow. Flat: [`Position::apply_fill`] at
    /// `entry`. On the other side (a cut or a flip, which would realize at a price nobody
    /// told): not for this; it books [`Position::apply_fill`] at `entry` too.
    pub fn adopt_to_entry(&mut self, side: Side, qty: Decimal, entry: Decimal) {
        let signed = side.signed(qty);
        let adds = !self.qty.is_zero() && (self.qty > Decimal::ZERO) == (signed > Decimal::ZERO);
        if !adds || entry <= Decimal::ZERO {
            return self.apply_fill(side, entry, qty, Decimal::ZERO);
        }
        self.fills += 1;
        self.qty += signed;
        self.entry = entry.round_dp(ENTRY_DP);
        self.cost = self.entry * self.qty.abs();
    }

    /// Unrealized PnL at `mark`: `(mark − entry) · qty`, the product by
    /// [`dec_mul`](crate::types::fixed::dec_mul) (the crate's decimal, on one `u64` multiply
    /// when the mantissas allow).
    #[inline]
    pub fn unrealized(&self, mark: Decimal) -> Decimal {
        crate::types::fixed::dec_mul(mark - self.entry, self.qty)
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

    /// A cut is a same-side shrink or a close; growth, opening and flips are not.
    #[test]
    fn a_cut_is_a_same_side_shrink_or_a_close() {
        let cut = |a: &str, b: &str| is_cut(d(a), d(b));
        assert!(cut("0.010", "0.006") && cut("-3", "-1") && cut("2", "0") && cut("-2", "0"));
        assert!(!cut("0.010", "0.030") && !cut("0", "1") && !cut("0", "0"));
        assert!(!cut("2", "-1") && !cut("-2", "1") && !cut("1", "1"));
    }

    /// A position the venue grew takes its entry: `cost = entry·|q|`, nothing realized, no
    /// fee; a round trip then realizes the cash flow at the implied price of the growth.
    /// Flat, or on the other side, it is a fill at `entry`.
    #[test]
    fn adopting_to_the_venue_s_entry_grows_at_the_implied_price() {
        for side in [Side::Buy, Side::Sell] {
            let mut p = Position::default();
            p.apply_fill(side, d("60000"), d("0.010"), d("0.24"));
            let (realized, fees) = (p.realized, p.fees);
            p.adopt_to_entry(side, d("0.004"), d("60100"));
            assert_eq!(p.qty, side.signed(d("0.014")));
            assert_eq!((p.entry, p.cost), (d("60100"), d("841.400")));
            assert_eq!((p.realized, p.fees, p.fills), (realized, fees, 2));
            // Implied growth price (841.4 − 600) / 0.004 = 60350; the round trip's cash flow.
            let back = side.opposite();
            p.apply_fill(back, d("61000"), d("0.014"), Decimal::ZERO);
            let flow = d("61000") * d("0.014") - d("600") - d("60350") * d("0.004");
            let flow = side.signed(flow);
            assert_eq!((p.qty, p.realized), (Decimal::ZERO, flow));
        }
        let mut flat = Position::default();
        flat.adopt_to_entry(Side::Sell, d("2"), d("99.5"));
        let mut want = Position::default();
        want.apply_fill(Side::Sell, d("99.5"), d("2"), Decimal::ZERO);
        assert_eq!(flat, want);
        let mut flip = want;
        flip.adopt_to_entry(Side::Buy, d("3"), d("98"));
        want.apply_fill(Side::Buy, d("98"), d("3"), Decimal::ZERO);
        assert_eq!(flip, want);
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
        assert_eq!((p.entry, p.cost), (Decimal::ZERO, Decimal::ZERO));
    }

    #[test]
    fn adding_averages_the_entry_and_flipping_reopens_at_fill_price() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, d("100"), d("1"), Decimal::ZERO);
        p.apply_fill(Side::Buy, d("110"), d("1"), Decimal::ZERO);
        assert_eq!(p.entry, d("105"));
        assert_eq!(p.cost, d("210"));
        p.apply_fill(Side::Sell, d("120"), d("3"), Decimal::ZERO);
        assert_eq!(p.realized, d("30"));
        assert_eq!(p.qty, d("-1"));
        assert_eq!(p.entry, d("120"));
        assert_eq!(p.cost, d("120"));
        assert_eq!(p.unrealized(d("119")), d("1"));
    }

    #[test]
    fn partial_close_keeps_entry() {
        let mut p = Position::default();
        p.apply_fill(Side::Sell, d("2000"), d("2"), Decimal::ZERO);
        p.apply_fill(Side::Buy, d("1990"), d("0.5"), Decimal::ZERO);
        assert_eq!(p.qty, d("-1.5"));
        assert_eq!(p.entry, d("2000"));
        assert_eq!(p.cost, d("3000"));
        assert_eq!(p.realized, d("5"));
    }

    /// A repeating average (1/3 steps): the entry is the exact cost over the quantity, rounded
    /// once to 12 places; a partial close books `(price − entry) × closed` with that entry, and
    /// the close of the rest books against the exact cost left, so the round trip realizes its
    /// cash flow exactly (303 − 302 = 1; booking every close at the rounded entry gave
    /// 0.999999999999).
    #[test]
    fn a_repeating_average_is_rounded_once_to_entry_dp() {
        let mut p = Position::default();
        p.apply_fill(Side::Buy, d("100"), d("1"), Decimal::ZERO);
        p.apply_fill(Side::Buy, d("101"), d("2"), Decimal::ZERO);
        assert_eq!(p.cost, d("302"));
        assert_eq!(p.entry, d("100.666666666667"));
        p.apply_fill(Side::Sell, d("101"), d("1"), Decimal::ZERO);
        assert_eq!(p.realized, d("0.333333333333"));
        assert_eq!(p.cost, d("201.333333333333"));
        assert_eq!(p.entry, d("100.666666666667"));
        p.apply_fill(Side::Sell, d("101"), d("2"), Decimal::ZERO);
        assert_eq!(p.realized, d("1"));
        assert_eq!(
            (p.qty, p.cost, p.entry),
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
        );
    }

    /// A venue execution learned late is booked after fills that came later on the venue (the
    /// soak's stream-off runs: a stop's close read at start-up). Different orders of the same
    /// fills give different paths (and, with repeating averages, different roundings), but at
    /// every flat point the realized PnL is exactly the fills' cash flow, so flat positions
    /// agree to the last decimal. Fills from a soak where the old rule differed by 4e-14.
    #[test]
    fn fills_booked_in_another_order_realize_the_same_cash_flow_once_flat() {
        use Side::{Buy, Sell};
        let venue = [
            (Sell, "61633.33", "0.016"),
            (Buy, "61682.67", "0.016"),
            (Buy, "61667.67", "0.008"), // learned late by the engine
            (Buy, "61667.77", "0.016"), // a long of 0.024 at a repeating average
            (Sell, "61656.83", "0.024"),
        ];
        let mut late = venue.to_vec();
        let stop = late.remove(2);
        late.push(stop);
        let (a, b) = (book(&venue), book(&late));
        assert_eq!(a.qty, Decimal::ZERO);
        assert_eq!(b.qty, Decimal::ZERO);
        let cash: Decimal = venue.iter().map(|(s, p, q)| -s.signed(d(q)) * d(p)).sum();
        assert_eq!(a.realized, cash);
        assert_eq!(b.realized, cash);
        assert_eq!(a, b);
        // Booking every close at the rounded entry (the former rule) gave -1.051200000000008
        // and -1.0512. Not flat in between, the paths differ (no rule can make them agree).
        assert_ne!(book(&venue[..4]), book(&late[..4]));
    }

    fn book(fills: &[(Side, &str, &str)]) -> Position {
        let mut p = Position::default();
        for (side, price, qty) in fills {
            p.apply_fill(*side, d(price), d(qty), Decimal::ZERO);
        }
        p
    }

    /// The venue and the engine may see the same fills split differently (partial fills) or
    /// same-side fills in another order (an unknown order resolved later): equal to the last
    /// decimal, including repeating averages.
    #[test]
    fn splits_and_same_side_reorders_book_identical_positions() {
        use Side::{Buy, Sell};
        let venue = book(&[
            (Buy, "61800.3", "0.007"),
            (Buy, "61811.7", "0.013"),
            (Buy, "61799.9", "0.011"),
            (Sell, "61850.1", "0.017"),
            (Sell, "61790.4", "0.005"),
        ]);
        let engine = book(&[
            (Buy, "61799.9", "0.011"),
            (Buy, "61800.3", "0.003"),
            (Buy, "61811.7", "0.013"),
            (Buy, "61800.3", "0.004"),
            (Sell, "61790.4", "0.005"),
            (Sell, "61850.1", "0.008"),
            (Sell, "61850.1", "0.009"),
        ]);
        assert_eq!(venue.qty, engine.qty);
        assert_eq!(venue.entry, engine.entry);
        assert_eq!(venue.cost, engine.cost);
        assert_eq!(venue.realized, engine.realized);
        let buys = book(&[
            (Buy, "61800.3", "0.007"),
            (Buy, "61811.7", "0.013"),
            (Buy, "61799.9", "0.011"),
        ]);
        assert_ne!(
            buys.entry * buys.qty,
            buys.cost,
            "the test needs a repeating average"
        );
    }
}
