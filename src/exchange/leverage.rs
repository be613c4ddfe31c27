//! The embedded exchange's per-symbol account settings: leverage and margin mode as the set
//! endpoints left them (tests read them back), deposits and withdrawals made mid-run, and the
//! initial-margin check of new orders (`notional / leverage ≤ available`, off unless asked).

use std::collections::HashMap;

use rust_decimal::Decimal;

/// Leverage of a symbol never set (Binance's and Bybit's default for a new account is higher;
/// 1 keeps an unconfigured run's margin check conservative).
pub const DEFAULT_LEVERAGE: u32 = 1;

/// What the set endpoints changed, and the margin check.
#[derive(Clone, Debug, Default)]
pub struct AccountBook {
    leverage: HashMap<String, u32>,
    margin_mode: HashMap<String, String>,
    /// Bybit UTA: the account-wide `setMarginMode`, once set.
    account_margin_mode: Option<String>,
    /// Deposits minus withdrawals since start, USDT.
    deposits: Decimal,
    /// Leverage and margin-mode changes accepted (not-modified answers excluded).
    changes: u32,
    /// New (not reduce-only) orders need `notional / leverage` of available balance.
    pub enforce_margin: bool,
}

/// A leverage request's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOutcome {
    /// Changed.
    Set,
    /// Already so (Binance `-4046` for a margin type, Bybit `110043` for leverage).
    NotModified,
    /// Above the symbol's cap.
    AboveCap,
}

impl AccountBook {
    /// The leverage of `symbol` ([`DEFAULT_LEVERAGE`] until set).
    pub fn leverage(&self, symbol: &str) -> u32 {
        self.leverage
            .get(symbol)
            .copied()
            .unwrap_or(DEFAULT_LEVERAGE)
    }

    /// The leverage set on `symbol` through the endpoint, if any.
    pub fn leverage_set(&self, symbol: &str) -> Option<u32> {
        self.leverage.get(symbol).copied()
    }

    /// Sets `symbol`'s leverage to `lev` if within `1..=cap`.
    pub fn set_leverage(&mut self, symbol: &str, lev: u32, cap: u32) -> SetOutcome {
        if lev == 0 || lev > cap {
            return SetOutcome::AboveCap;
        }
        if self.leverage.insert(symbol.to_string(), lev) == Some(lev) {
            return SetOutcome::NotModified;
        }
        self.changes += 1;
        SetOutcome::Set
    }

    /// The margin mode set on `symbol` (Binance `ISOLATED`/`CROSSED`), or the account's (Bybit).
    pub fn margin_mode(&self, symbol: &str) -> Option<&str> {
        self.margin_mode
            .get(symbol)
            .or(self.account_margin_mode.as_ref())
            .map(String::as_str)
    }

    /// Sets `symbol`'s margin mode; `NotModified` when it already is.
    pub fn set_margin_mode(&mut self, symbol: &str, mode: &str) -> SetOutcome {
        if self
            .margin_mode
            .insert(symbol.to_string(), mode.to_string())
            .as_deref()
            == Some(mode)
        {
            return SetOutcome::NotModified;
        }
        self.changes += 1;
        SetOutcome::Set
    }

    /// Sets the account-wide margin mode (Bybit UTA `setMarginMode`).
    pub fn set_account_margin_mode(&mut self, mode: &str) -> SetOutcome {
        if self.account_margin_mode.as_deref() == Some(mode) {
            return SetOutcome::NotModified;
        }
        self.account_margin_mode = Some(mode.to_string());
        self.changes += 1;
        SetOutcome::Set
    }

    /// Accepted changes so far.
    pub fn changes(&self) -> u32 {
        self.changes
    }

    /// Deposits (positive) or withdraws (negative) `amount` USDT.
    pub fn deposit(&mut self, amount: Decimal) {
        self.deposits += amount;
    }

    /// Deposits minus withdrawals, USDT.
    pub fn deposits(&self) -> Decimal {
        self.deposits
    }

    /// Initial margin of a position of `notional` on `symbol`: `notional / leverage`.
    pub fn initial_margin(&self, symbol: &str, notional: Decimal) -> Decimal {
        notional.abs() / Decimal::from(self.leverage(symbol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leverage_and_margin_mode_remember_and_say_not_modified() {
        let mut b = AccountBook::default();
        assert_eq!(b.leverage("BTCUSDT"), DEFAULT_LEVERAGE);
        assert_eq!(b.set_leverage("BTCUSDT", 5, 125), SetOutcome::Set);
        assert_eq!(b.set_leverage("BTCUSDT", 5, 125), SetOutcome::NotModified);
        assert_eq!(b.set_leverage("BTCUSDT", 126, 125), SetOutcome::AboveCap);
        assert_eq!(b.leverage_set("BTCUSDT"), Some(5));
        assert_eq!(b.set_margin_mode("BTCUSDT", "ISOLATED"), SetOutcome::Set);
        assert_eq!(
            b.set_margin_mode("BTCUSDT", "ISOLATED"),
            SetOutcome::NotModified
        );
        assert_eq!(b.margin_mode("BTCUSDT"), Some("ISOLATED"));
        assert_eq!(b.changes(), 2);
        assert_eq!(
            b.initial_margin("BTCUSDT", Decimal::from(1000)),
            Decimal::from(200)
        );
    }
}
