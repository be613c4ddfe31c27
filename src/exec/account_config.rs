//! `[exec.account]`: what a venue order route does with the account before and while it
//! trades: the leverage and margin mode set per symbol before its first entry, and how often
//! the wallet balance and the venue clock offset are read again (cold thread).

use serde::Deserialize;

/// Margin mode of a symbol's position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarginMode {
    /// Each position's margin is its own (Binance `ISOLATED`; Bybit UTA: account-wide
    /// `ISOLATED_MARGIN`).
    #[default]
    Isolated,
    /// The wallet backs every position (Binance `CROSSED`; Bybit UTA: `REGULAR_MARGIN`).
    Cross,
}

impl MarginMode {
    /// Binance `marginType`.
    pub fn binance(self) -> &'static str {
        match self {
            MarginMode::Isolated => "ISOLATED",
            MarginMode::Cross => "CROSSED",
        }
    }

    /// Bybit `setMarginMode`.
    pub fn bybit(self) -> &'static str {
        match self {
            MarginMode::Isolated => "ISOLATED_MARGIN",
            MarginMode::Cross => "REGULAR_MARGIN",
        }
    }
}

/// `[exec.account]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountConfig {
    /// Leverage set on every symbol before its first entry, 1..=125; 0 = `risk.max_leverage`
    /// rounded up.
    pub leverage: u32,
    /// Margin mode set before the first entry.
    pub margin_mode: MarginMode,
    /// Wallet balance read every this many seconds (sizing follows the available balance).
    pub balance_interval_s: f64,
    /// Venue clock offset measured every this many seconds (and at once after a timestamp error).
    pub clock_interval_s: f64,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            leverage: 0,
            margin_mode: MarginMode::Isolated,
            balance_interval_s: 30.0,
            clock_interval_s: 60.0,
        }
    }
}

impl AccountConfig {
    /// The leverage to set: `leverage`, or `max_leverage` rounded up when 0.
    pub fn leverage_for(&self, max_leverage: f64) -> u32 {
        if self.leverage > 0 {
            self.leverage
        } else {
            max_leverage.ceil().clamp(1.0, 125.0) as u32
        }
    }

    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.leverage > 125 {
            return Err(format!(
                "config key `exec.account.leverage`: must be in 0..=125 (0 = risk.max_leverage), got {}",
                self.leverage
            ));
        }
        for (key, v) in [
            ("exec.account.balance_interval_s", self.balance_interval_s),
            ("exec.account.clock_interval_s", self.clock_interval_s),
        ] {
            if !(v.is_finite() && (0.1..=86_400.0).contains(&v)) {
                return Err(format!(
                    "config key `{key}`: must be in 0.1..=86400 s, got {v}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_are_validated() {
        let mut a = AccountConfig::default();
        assert!(a.validate().is_ok());
        assert_eq!(a.leverage_for(2.5), 3);
        a.leverage = 126;
        assert!(a.validate().unwrap_err().contains("exec.account.leverage"));
        a.leverage = 10;
        assert_eq!(a.leverage_for(2.5), 10);
        a.balance_interval_s = 0.0;
        assert!(a.validate().unwrap_err().contains("balance_interval_s"));
    }
}
