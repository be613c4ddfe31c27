//! `[backtest]`: the execution model and reporting settings of the backtester.

use std::path::PathBuf;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

/// Which side of the book a simulated fill takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    /// Market order: pays the taker fee and the configured slippage (the engine sends market orders).
    Taker,
    /// What-if: fills at the trade price with the maker fee and no slippage (optimistic).
    Maker,
}

/// `[backtest]` section. Every key has a documented default (see `config/default.toml`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BacktestConfig {
    /// Decision → fill delay, ms of exchange time: an order decided on a trade at `t` fills at the
    /// first trade of its symbol with `exch_ts ≥ t + latency_ms` (0 = the deciding trade itself).
    pub latency_ms: u64,
    /// Adverse slippage, basis points of the fill trade's price (as `paper.slippage_bps`).
    pub slippage_bps: f64,
    /// Adverse slippage in whole price ticks, added before the bps slippage.
    pub slippage_ticks: u32,
    /// `taker` (default) or `maker` (optimistic what-if).
    pub liquidity: Liquidity,
    /// Taker fee, fraction of notional, exact decimal string; empty = `paper.taker_fee`.
    pub taker_fee: String,
    /// Maker fee, fraction of notional, exact decimal string (negative = rebate).
    pub maker_fee: String,
    /// Flat funding rate per 8 h, fraction of notional; 0 = funding ignored. Charged to longs
    /// (credited to shorts when positive) at 00:00, 08:00 and 16:00 UTC of exchange time.
    pub funding_rate_8h: f64,
    /// Equity mark interval for Sharpe/Sortino, seconds (60 = 1-minute bars, annualised with
    /// `sqrt(365·86400 / bar_s)` = `sqrt(525600)` for 24/7 crypto).
    pub bar_s: u64,
    /// Output directory for `report.json` and the SVG plots.
    pub out_dir: PathBuf,
    /// Walk-forward: fraction of each window used in-sample (the rest is out-of-sample).
    pub walk_forward_in_sample: f64,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self {
            latency_ms: 20,
            slippage_bps: 0.0,
            slippage_ticks: 0,
            liquidity: Liquidity::Taker,
            taker_fee: String::new(),
            maker_fee: "0.0002".into(),
            funding_rate_8h: 0.0,
            bar_s: 60,
            out_dir: PathBuf::from("backtest-out"),
            walk_forward_in_sample: 0.7,
        }
    }
}

impl BacktestConfig {
    /// Checks every value; the error names the key (`backtest.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        if !(self.slippage_bps.is_finite() && self.slippage_bps >= 0.0) {
            return Err(format!(
                "config key `backtest.slippage_bps`: must be ≥ 0, got {}",
                self.slippage_bps
            ));
        }
        if !self.funding_rate_8h.is_finite() || self.funding_rate_8h.abs() >= 0.1 {
            return Err(format!(
                "config key `backtest.funding_rate_8h`: must be a fraction in (-0.1, 0.1), got {}",
                self.funding_rate_8h
            ));
        }
        if self.bar_s == 0 {
            return Err("config key `backtest.bar_s`: must be ≥ 1 second".into());
        }
        if !(self.walk_forward_in_sample > 0.0 && self.walk_forward_in_sample < 1.0) {
            return Err(format!(
                "config key `backtest.walk_forward_in_sample`: must be in (0, 1), got {}",
                self.walk_forward_in_sample
            ));
        }
        if !self.taker_fee.is_empty() {
            fee("backtest.taker_fee", &self.taker_fee)?;
        }
        fee("backtest.maker_fee", &self.maker_fee)?;
        Ok(())
    }

    /// The fee of `liquidity`: `taker_fee` (or `paper_taker` when empty) or `maker_fee`.
    pub fn fee(&self, paper_taker: Decimal) -> Result<Decimal, String> {
        match self.liquidity {
            Liquidity::Taker if self.taker_fee.is_empty() => Ok(paper_taker),
            Liquidity::Taker => fee("backtest.taker_fee", &self.taker_fee),
            Liquidity::Maker => fee("backtest.maker_fee", &self.maker_fee),
        }
    }

    /// The taker fee (for the buy-and-hold baseline, which always crosses the spread).
    pub fn taker(&self, paper_taker: Decimal) -> Result<Decimal, String> {
        if self.taker_fee.is_empty() {
            Ok(paper_taker)
        } else {
            fee("backtest.taker_fee", &self.taker_fee)
        }
    }
}

fn fee(key: &str, v: &str) -> Result<Decimal, String> {
    let d = Decimal::from_str(v)
        .map_err(|e| format!("config key `{key}`: {v:?} is not a decimal: {e}"))?;
    if d <= -Decimal::ONE || d >= Decimal::ONE {
        return Err(format!("config key `{key}`: must be in (-1, 1), got {d}"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_empty_taker_falls_back_to_paper() {
        let c = BacktestConfig::default();
        c.validate().unwrap();
        let paper: Decimal = "0.0004".parse().unwrap();
        assert_eq!(c.fee(paper).unwrap(), paper);
        let m = BacktestConfig {
            liquidity: Liquidity::Maker,
            ..c
        };
        assert_eq!(m.fee(paper).unwrap(), "0.0002".parse().unwrap());
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = BacktestConfig {
            maker_fee: "x".into(),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("backtest.maker_fee"));
        let c = BacktestConfig {
            bar_s: 0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("backtest.bar_s"));
    }
}
