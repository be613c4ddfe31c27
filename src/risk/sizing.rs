//! Order size for an entry: a fixed quote notional capped by leverage.

/// Fixed-notional sizing with a leverage cap (fuller sizing models come with the risk issue).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizing {
    /// Target notional of a new position, quote currency (USDT).
    pub order_notional: f64,
    /// Account balance used for the leverage cap, quote currency.
    pub balance: f64,
    /// Maximum leverage: `notional ≤ balance × max_leverage`.
    pub max_leverage: f64,
}

impl Sizing {
    /// Desired base quantity at `price`: `min(order_notional, balance·max_leverage) / price`.
    /// Rounding down to the venue's step happens in execution, in `Decimal`.
    #[inline]
    pub fn entry_qty(&self, price: f64) -> f64 {
        let notional = self.order_notional.min(self.balance * self.max_leverage);
        if price > 0.0 && notional > 0.0 {
            notional / price
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leverage_caps_the_notional() {
        let s = Sizing {
            order_notional: 1_000.0,
            balance: 100.0,
            max_leverage: 3.0,
        };
        assert!((s.entry_qty(60_000.0) - 300.0 / 60_000.0).abs() < 1e-15);
        let s = Sizing {
            balance: 10_000.0,
            ..s
        };
        assert!((s.entry_qty(2_000.0) - 0.5).abs() < 1e-15);
        assert_eq!(s.entry_qty(0.0), 0.0);
    }
}
