//! What the embedded exchange's account endpoints report beyond balance and positions: the API
//! key's permissions, the leverage cap, its clock's offset from the wall clock and the page
//! size of the instrument list. Tests and `calculus-trader check` set them to play a venue's
//! refusals (trading disabled, withdrawals enabled, a low leverage cap, a skewed clock).

use rust_decimal::Decimal;

use crate::types::Instrument;

/// Binance's highest leverage (first bracket of the largest contracts), the embedded
/// exchange's cap for an instrument whose spec names none.
pub const DEFAULT_MAX_LEVERAGE: u32 = 125;

/// Account behaviour of the embedded exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountOptions {
    /// The key may trade (Binance `canTrade`; Bybit `readOnly = 0` with `ContractTrade: ["Order", "Position"]`).
    pub can_trade: bool,
    /// The key may withdraw (Binance `canWithdraw`; Bybit `Wallet` lists `Withdraw`).
    pub can_withdraw: bool,
    /// Highest leverage of every symbol (Binance first-bracket `initialLeverage`, Bybit
    /// `leverageFilter.maxLeverage`); `None` = the spec's maximum, else [`DEFAULT_MAX_LEVERAGE`].
    pub leverage_cap: Option<u32>,
    /// Exchange clock − wall clock, ms: the time endpoints and the timestamp checks use it.
    pub clock_offset_ms: i64,
    /// Most rows per Bybit `instruments-info` page (the request's `limit` lowers it).
    pub instruments_page: usize,
}

impl Default for AccountOptions {
    fn default() -> Self {
        Self {
            can_trade: true,
            can_withdraw: false,
            leverage_cap: None,
            clock_offset_ms: 0,
            instruments_page: 1000,
        }
    }
}

impl AccountOptions {
    /// The highest leverage the exchange allows on `inst`: its spec's, else
    /// [`DEFAULT_MAX_LEVERAGE`], lowered to [`AccountOptions::leverage_cap`].
    pub fn max_leverage(&self, inst: &Instrument) -> Decimal {
        let spec = inst
            .max_leverage
            .unwrap_or(Decimal::from(DEFAULT_MAX_LEVERAGE));
        match self.leverage_cap {
            Some(cap) => spec.min(Decimal::from(cap)),
            None => spec,
        }
    }
}
