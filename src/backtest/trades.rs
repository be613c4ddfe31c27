//! Round trips (flat → position → flat) built from fills and the engine's exact positions.
//!
//! A trade's gross PnL is the realized PnL the position booked while it was open (exact, from
//! [`Position::realized`]); its fees are every fee paid on it, a flipping fill's fee split
//! pro rata between the closed and the opened quantity. Net = gross − fees.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::types::Position;

/// One closed round trip.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RoundTrip {
    /// Symbol index.
    pub symbol: u16,
    /// +1 long, −1 short.
    pub direction: i8,
    /// Time of the opening fill, ms.
    pub entry_ms: u64,
    /// Time of the closing fill, ms.
    pub exit_ms: u64,
    /// Average entry price when opened.
    pub entry_price: f64,
    /// Price of the closing fill.
    pub exit_price: f64,
    /// Largest absolute quantity held.
    pub max_qty: f64,
    /// Realized PnL before fees.
    pub gross: f64,
    /// Fees paid on this trade.
    pub fees: f64,
    /// `gross − fees`.
    pub net: f64,
}

#[derive(Clone, Copy, Debug)]
struct Open {
    direction: i8,
    entry_ms: u64,
    entry_price: f64,
    max_qty: f64,
    gross: f64,
    fees: f64,
}

/// Open trades per symbol and the closed ones.
#[derive(Clone, Debug, Default)]
pub struct RoundTrips {
    open: Vec<Option<Open>>,
    closed: Vec<RoundTrip>,
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

impl RoundTrips {
    /// Tracker for `n` symbols.
    pub fn new(n: usize) -> Self {
        Self {
            open: vec![None; n],
            closed: Vec::new(),
        }
    }

    /// Applies a fill of symbol `i` at `ts_ms`, given the position `before` and `after` it.
    pub fn on_fill(
        &mut self,
        i: usize,
        ts_ms: u64,
        before: &Position,
        after: &Position,
        price: Decimal,
        fee: Decimal,
    ) {
        let realized = f(after.realized - before.realized);
        let fee = f(fee);
        let (b, a) = (before.direction(), after.direction());
        let open_new = |fees: f64| Open {
            direction: a,
            entry_ms: ts_ms,
            entry_price: f(after.entry),
            max_qty: f(after.qty.abs()),
            gross: 0.0,
            fees,
        };
        if b == 0 {
            if a != 0 {
                self.open[i] = Some(open_new(fee));
            }
            return;
        }
        let Some(mut o) = self.open[i] else {
            // A position the tracker never saw open (cannot happen from flat starts).
            return;
        };
        if a == b {
            o.gross += realized;
            o.fees += fee;
            o.max_qty = o.max_qty.max(f(after.qty.abs()));
            self.open[i] = Some(o);
            return;
        }
        let closed = f(before.qty.abs());
        let opened = f(after.qty.abs());
        let close_share = if a == 0 {
            fee
        } else {
            fee * closed / (closed + opened)
        };
        o.gross += realized;
        o.fees += close_share;
        self.closed.push(RoundTrip {
            symbol: i as u16,
            direction: o.direction,
            entry_ms: o.entry_ms,
            exit_ms: ts_ms,
            entry_price: o.entry_price,
            exit_price: f(price),
            max_qty: o.max_qty,
            gross: o.gross,
            fees: o.fees,
            net: o.gross - o.fees,
        });
        self.open[i] = (a != 0).then(|| open_new(fee - close_share));
    }

    /// Closed trades so far, in closing order.
    pub fn closed(&self) -> &[RoundTrip] {
        &self.closed
    }

    /// Number of trades still open.
    pub fn open_count(&self) -> usize {
        self.open.iter().filter(|o| o.is_some()).count()
    }

    /// The closed trades.
    pub fn into_closed(self) -> Vec<RoundTrip> {
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Side;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn open_close_and_flip_book_exact_trades() {
        let mut rt = RoundTrips::new(1);
        let mut p = Position::default();
        let mut step = |rt: &mut RoundTrips, ts, side, price: &str, qty: &str, fee: &str| {
            let before = p;
            p.apply_fill(side, d(price), d(qty), d(fee));
            rt.on_fill(0, ts, &before, &p, d(price), d(fee));
        };
        step(&mut rt, 1, Side::Buy, "100", "1", "0.04");
        step(&mut rt, 2, Side::Sell, "110", "3", "0.132"); // closes 1 (+10), opens 2 short
        step(&mut rt, 3, Side::Buy, "105", "2", "0.084"); // closes the short (+10)
        let t = rt.closed();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].direction, 1);
        assert!((t[0].gross - 10.0).abs() < 1e-12);
        assert!((t[0].fees - (0.04 + 0.044)).abs() < 1e-12);
        assert_eq!(t[1].direction, -1);
        assert_eq!(t[1].entry_price, 110.0);
        assert!((t[1].gross - 10.0).abs() < 1e-12);
        assert!((t[1].fees - (0.088 + 0.084)).abs() < 1e-12);
        assert!((t[1].net - (10.0 - 0.172)).abs() < 1e-12);
        assert_eq!(rt.open_count(), 0);
    }
}
