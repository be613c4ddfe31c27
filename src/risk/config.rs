//! `[risk.sizing]`, `[risk.exits]`, `[risk.drift]`, `[risk.limits]` and `[risk.reconcile]`:
//! every key optional with a safe default (documented in `config/default.toml`), unknown keys
//! rejected, every value validated with an error naming its key.
//!
//! Fractions are plain fractions (`0.01` = 1 %), never percent numbers.

use serde::Deserialize;

pub use super::var::{VarMeasure, VarMethod};

/// `[risk]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    /// Account balance, quote currency.
    pub balance: f64,
    /// Notional of a new position, quote currency.
    pub order_notional: f64,
    /// Leverage cap (notional / balance); raising it is an explicit choice.
    pub max_leverage: f64,
    /// `[risk.sizing]`: sizing method, Kelly, volatility scaling, leverage profile.
    #[serde(default)]
    pub sizing: SizingConfig,
    /// `[risk.exits]`: take-profit and stop-loss distances.
    #[serde(default)]
    pub exits: ExitsConfig,
    /// `[risk.drift]`: drift position monitor.
    #[serde(default)]
    pub drift: DriftConfig,
    /// `[risk.limits]`: the risk gate's limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[risk.reconcile]`: start-up position reconciliation policy.
    #[serde(default)]
    pub reconcile: ReconcileConfig,
    /// The persisted risk state (daily PnL, peak, loss streak, pauses, settings); empty = beside
    /// the order journal, `<journal>.risk.json`.
    #[serde(default)]
    pub state_file: std::path::PathBuf,
    /// What a corrupt state file does at start: `refuse` (default: start fails, naming the
    /// file) or `fresh` (warn and start from a fresh state).
    #[serde(default)]
    pub state_on_corrupt: StateOnCorrupt,
}

/// What a corrupt risk state file does at start-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateOnCorrupt {
    /// Refuse to start (the operator inspects the file).
    #[default]
    Refuse,
    /// Warn and start from a fresh state (pauses and halts in the file are lost).
    Fresh,
}

/// How the base size of an entry is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizingMethod {
    /// `qty = order_notional / price` (the `[risk] order_notional` key).
    FixedNotional,
    /// `qty = balance × risk / stop_distance` (risk = `risk_per_trade`, or fractional Kelly).
    FixedFractional,
}

/// Which leverage cap applies besides `max_leverage` and the venue's maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeverageProfile {
    /// Only `max_leverage` and the venue's maximum.
    Flat,
    /// Also the account-size tier of the balance (`leverage_tiers`); opt-in.
    AccountTiers,
}

/// One account-size tier: balances `≤ max_balance` (and above the previous tier) may use at most
/// `max_leverage`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeverageTier {
    /// Upper balance bound of the tier, quote currency (`inf` for the last tier).
    pub max_balance: f64,
    /// Leverage cap inside the tier.
    pub max_leverage: f64,
}

/// Most tiers a profile may have (the hot-path copy is a fixed array).
pub const MAX_LEVERAGE_TIERS: usize = 8;

/// `[risk.sizing]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SizingConfig {
    /// `fixed_fractional` (default) or `fixed_notional`.
    pub method: SizingMethod,
    /// Fraction of the balance risked per trade (lost if the stop is hit), default 0.01.
    pub risk_per_trade: f64,
    /// Scale the risk by fractional Kelly once `kelly_min_trades` trades have closed.
    pub kelly_enabled: bool,
    /// Multiplier of the Kelly fraction `f*` (0.25 = quarter Kelly).
    pub kelly_fraction: f64,
    /// Closed trades needed before Kelly applies.
    pub kelly_min_trades: u32,
    /// Upper clamp of the Kelly risk fraction.
    pub kelly_max_risk: f64,
    /// Scale size by `vol_target / realized σ`.
    pub vol_target_enabled: bool,
    /// Target σ, in the units of the σ the engine passes (e.g. per-√s log-return σ).
    pub vol_target: f64,
    /// Lower clamp of the volatility scale (also used while σ is unknown).
    pub vol_min_scale: f64,
    /// Upper clamp of the volatility scale.
    pub vol_max_scale: f64,
    /// `flat` (default) or `account_tiers` (opt-in).
    pub leverage_profile: LeverageProfile,
    /// Account-size tiers (ascending `max_balance`), used only with `account_tiers`.
    pub leverage_tiers: Vec<LeverageTier>,
}

impl Default for SizingConfig {
    fn default() -> Self {
        Self {
            method: SizingMethod::FixedFractional,
            risk_per_trade: 0.01,
            kelly_enabled: false,
            kelly_fraction: 0.25,
            kelly_min_trades: 30,
            kelly_max_risk: 0.01,
            vol_target_enabled: false,
            vol_target: 0.0,
            vol_min_scale: 0.25,
            vol_max_scale: 1.0,
            leverage_profile: LeverageProfile::Flat,
            // The original's tiers, upper ends only ($1-10: 20-75x, $10-50: 10-45x,
            // $50-200: 5-25x, $200+: 5-15x); its minimum ("guaranteed") leverage is not copied.
            leverage_tiers: vec![
                LeverageTier {
                    max_balance: 10.0,
                    max_leverage: 75.0,
                },
                LeverageTier {
                    max_balance: 50.0,
                    max_leverage: 45.0,
                },
                LeverageTier {
                    max_balance: 200.0,
                    max_leverage: 25.0,
                },
                LeverageTier {
                    max_balance: f64::INFINITY,
                    max_leverage: 15.0,
                },
            ],
        }
    }
}

/// How take-profit and stop-loss distances are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitMode {
    /// `tp = entry × tp_fraction`, `sl = entry × sl_fraction`.
    Percent,
    /// `tp = max(tp_vol_mult × vol, entry × tp_fraction)`, same for `sl`; `vol` = ATR or σ_h·price.
    Volatility,
}

/// `[risk.exits]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExitsConfig {
    /// `percent` (default) or `volatility`.
    pub mode: ExitMode,
    /// Take-profit distance as a fraction of entry (the floor in `volatility` mode), default 0.008.
    pub tp_fraction: f64,
    /// Stop-loss distance as a fraction of entry (the floor in `volatility` mode), default 0.005.
    pub sl_fraction: f64,
    /// Take-profit distance in volatility units (`volatility` mode), default 3.0.
    pub tp_vol_mult: f64,
    /// Stop-loss distance in volatility units (`volatility` mode), default 1.5.
    pub sl_vol_mult: f64,
    /// Minimum `(tp − entry)/(entry − sl)` after rounding to tick; entries below are refused.
    pub min_reward_risk: f64,
}

impl Default for ExitsConfig {
    fn default() -> Self {
        Self {
            mode: ExitMode::Percent,
            tp_fraction: 0.008,
            sl_fraction: 0.005,
            tp_vol_mult: 3.0,
            sl_vol_mult: 1.5,
            min_reward_risk: 1.5,
        }
    }
}

/// `[risk.drift]`: the position monitor of MATH.md §8.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// Run the monitor.
    pub enabled: bool,
    /// Seconds between checks of one position.
    pub check_s: f64,
    /// Exit when the drift is against the position by more than this (fraction), default 1e-5.
    pub flip_epsilon: f64,
    /// Reduce when the drift weakened by more than this from its baseline (fraction); 0 = off.
    pub decay_abs: f64,
    /// Reduce when the drift fell below this fraction of its baseline; 0 = off.
    pub decay_ratio: f64,
    /// Fraction of the position closed by a reduction.
    pub reduce_fraction: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            check_s: 30.0,
            flip_epsilon: 1e-5,
            decay_abs: 5e-4,
            decay_ratio: 0.5,
            reduce_fraction: 0.5,
        }
    }
}

/// `[risk.limits]`: the [`crate::risk::RiskGate`]'s limits.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest stop-risk of one entry, fraction of equity.
    pub max_risk_per_trade: f64,
    /// Largest sum of open stop-risk, fraction of equity.
    pub max_portfolio_risk: f64,
    /// Most symbols with an open position.
    pub max_positions: u32,
    /// Largest |notional| of one symbol, multiple of equity.
    pub max_symbol_exposure: f64,
    /// `block`: largest `dir_i·dir_j·ρ_ij` between a new entry and an open position; `halve`:
    /// the `|ρ_ij|` above which the entry's size is halved.
    pub max_correlation: f64,
    /// What a correlated entry does: `block` (default) or `halve` (the second system).
    pub correlation_mode: CorrelationMode,
    /// Bar length of the returns (correlation, σ, VaR), seconds.
    pub corr_bar_s: f64,
    /// Rolling window of the returns, bars.
    pub corr_window_bars: u32,
    /// Bars needed before a correlation, σ or VaR is used.
    pub corr_min_bars: u32,
    /// VaR budget, fraction of equity: an entry whose post-trade figure exceeds
    /// `var_budget × E` is refused; 0 = off.
    pub var_budget: f64,
    /// `parametric` (default) or `historical`.
    pub var_method: VarMethod,
    /// `var` (default) or `es`.
    pub var_measure: VarMeasure,
    /// 0.95 or 0.99 (default).
    pub var_confidence: f64,
    /// VaR horizon, seconds (`√(horizon / bar)` scaling).
    pub var_horizon_s: f64,
    /// Daily loss (from the UTC day's starting equity) that stops entries until the next UTC day.
    pub daily_loss: f64,
    /// Drawdown from peak equity at which sizes are multiplied by `drawdown_size_multiplier`.
    pub drawdown_reduce: f64,
    /// Size multiplier while in drawdown.
    pub drawdown_size_multiplier: f64,
    /// Drawdown that pauses entries until an operator resumes.
    pub drawdown_pause: f64,
    /// Consecutive losing trades that pause entries until an operator resumes; 0 = off.
    pub max_consecutive_losses: u32,
    /// Drawdown that triggers the emergency stop (cancel all, close all); 0 = off.
    pub emergency_drawdown: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_risk_per_trade: 0.02,
            max_portfolio_risk: 0.05,
            max_positions: 5,
            max_symbol_exposure: 2.5,
            max_correlation: 0.7,
            correlation_mode: CorrelationMode::Block,
            corr_bar_s: 1.0,
            corr_window_bars: 300,
            corr_min_bars: 60,
            var_budget: 0.02,
            var_method: VarMethod::Parametric,
            var_measure: VarMeasure::Var,
            var_confidence: 0.99,
            var_horizon_s: 60.0,
            daily_loss: 0.05,
            drawdown_reduce: 0.10,
            drawdown_size_multiplier: 0.5,
            drawdown_pause: 0.15,
            max_consecutive_losses: 5,
            emergency_drawdown: 0.20,
        }
    }
}

/// What an entry correlated with an open position does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationMode {
    /// Refuse it when `dir_i·dir·ρ_i > max_correlation` (a hedge passes).
    Block,
    /// Halve its size for each open position with `|ρ_i| > max_correlation` (the second system).
    Halve,
}

/// What start-up reconciliation does with a difference between our books and the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcilePolicy {
    /// Take the venue's position into our books.
    Adopt,
    /// Close, reduce-only, what the venue holds beyond our books.
    Close,
    /// Only report (the engine should block entries on the symbol).
    Report,
}

/// `[risk.reconcile]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileConfig {
    /// `report` (default), `adopt` or `close`.
    pub policy: ReconcilePolicy,
    /// Entry prices differing by more than this fraction are reported.
    pub entry_tolerance: f64,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            policy: ReconcilePolicy::Report,
            entry_tolerance: 1e-4,
        }
    }
}

/// A bad risk value: the full key and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskConfigError {
    /// Dotted key, e.g. `risk.limits.daily_loss`.
    pub key: &'static str,
    /// What is wrong.
    pub why: String,
}

fn err(key: &'static str, why: impl Into<String>) -> RiskConfigError {
    RiskConfigError {
        key,
        why: why.into(),
    }
}

/// `lo < v ≤ hi` (or `lo ≤ v` when `closed_lo`).
fn in_range(
    key: &'static str,
    v: f64,
    lo: f64,
    closed_lo: bool,
    hi: f64,
) -> Result<(), RiskConfigError> {
    let ok = v.is_finite() && (if closed_lo { v >= lo } else { v > lo }) && v <= hi;
    if ok {
        Ok(())
    } else {
        let open = if closed_lo { '[' } else { '(' };
        Err(err(key, format!("must be in {open}{lo}, {hi}], got {v}")))
    }
}

/// One range rule `(key, v, lo, closed_lo, hi)` for [`in_range`].
type Rule = (&'static str, f64, f64, bool, f64);

/// Checks `rules` in order; the first that fails is the error.
fn in_ranges(rules: &[Rule]) -> Result<(), RiskConfigError> {
    rules
        .iter()
        .try_for_each(|&(key, v, lo, closed_lo, hi)| in_range(key, v, lo, closed_lo, hi))
}

/// Checks the `[risk.*]` sub-sections against each other and against `[risk] max_leverage`.
pub fn validate(r: &RiskConfig) -> Result<(), RiskConfigError> {
    validate_sizing(r)?;
    validate_exits(r)?;
    validate_drift(r)?;
    validate_limits(r)?;
    in_range(
        "risk.reconcile.entry_tolerance",
        r.reconcile.entry_tolerance,
        0.0,
        true,
        1.0,
    )?;
    Ok(())
}

/// `[risk.sizing]` (against `[risk.limits]` and `[risk] max_leverage`).
fn validate_sizing(r: &RiskConfig) -> Result<(), RiskConfigError> {
    let s = &r.sizing;
    let l = &r.limits;
    in_range(
        "risk.sizing.risk_per_trade",
        s.risk_per_trade,
        0.0,
        false,
        1.0,
    )?;
    if s.risk_per_trade > l.max_risk_per_trade {
        return Err(err(
            "risk.sizing.risk_per_trade",
            format!(
                "{} exceeds risk.limits.max_risk_per_trade = {}",
                s.risk_per_trade, l.max_risk_per_trade
            ),
        ));
    }
    #[rustfmt::skip]
    let rules: &[Rule] = &[
        ("risk.sizing.kelly_fraction", s.kelly_fraction, 0.0, false, 1.0),
        ("risk.sizing.kelly_max_risk", s.kelly_max_risk, 0.0, false, 1.0),
    ];
    in_ranges(rules)?;
    if s.kelly_enabled && s.kelly_max_risk > l.max_risk_per_trade {
        return Err(err(
            "risk.sizing.kelly_max_risk",
            format!(
                "{} exceeds risk.limits.max_risk_per_trade = {}",
                s.kelly_max_risk, l.max_risk_per_trade
            ),
        ));
    }
    if s.kelly_enabled && s.kelly_min_trades == 0 {
        return Err(err("risk.sizing.kelly_min_trades", "must be ≥ 1"));
    }
    #[rustfmt::skip]
    let rules: &[Rule] = &[
        ("risk.sizing.vol_min_scale", s.vol_min_scale, 0.0,             false, 1e6),
        ("risk.sizing.vol_max_scale", s.vol_max_scale, s.vol_min_scale, true,  1e6),
    ];
    in_ranges(rules)?;
    if s.vol_target_enabled {
        in_range("risk.sizing.vol_target", s.vol_target, 0.0, false, f64::MAX)?;
    }
    if s.leverage_profile == LeverageProfile::AccountTiers {
        if s.leverage_tiers.is_empty() || s.leverage_tiers.len() > MAX_LEVERAGE_TIERS {
            return Err(err(
                "risk.sizing.leverage_tiers",
                format!("needs 1 to {MAX_LEVERAGE_TIERS} tiers"),
            ));
        }
        let mut prev = 0.0;
        for t in &s.leverage_tiers {
            if t.max_balance.is_nan() || t.max_balance <= prev {
                return Err(err(
                    "risk.sizing.leverage_tiers",
                    "max_balance must be positive and strictly ascending",
                ));
            }
            prev = t.max_balance;
            if !(t.max_leverage.is_finite() && t.max_leverage > 0.0) {
                return Err(err(
                    "risk.sizing.leverage_tiers",
                    format!("max_leverage must be positive, got {}", t.max_leverage),
                ));
            }
            if t.max_leverage > r.max_leverage {
                return Err(err(
                    "risk.sizing.leverage_tiers",
                    format!(
                        "tier leverage {} exceeds risk.max_leverage = {}: raising risk.max_leverage is an explicit choice",
                        t.max_leverage, r.max_leverage
                    ),
                ));
            }
        }
        if prev != f64::INFINITY {
            return Err(err(
                "risk.sizing.leverage_tiers",
                "the last tier must have max_balance = inf",
            ));
        }
    }
    Ok(())
}

/// `[risk.exits]`.
fn validate_exits(r: &RiskConfig) -> Result<(), RiskConfigError> {
    let e = &r.exits;
    #[rustfmt::skip]
    let rules: &[Rule] = &[
        ("risk.exits.tp_fraction",     e.tp_fraction,     0.0, false, 1.0),
        ("risk.exits.sl_fraction",     e.sl_fraction,     0.0, false, 0.5),
        ("risk.exits.tp_vol_mult",     e.tp_vol_mult,     0.0, false, 1e3),
        ("risk.exits.sl_vol_mult",     e.sl_vol_mult,     0.0, false, 1e3),
        ("risk.exits.min_reward_risk", e.min_reward_risk, 0.0, true,  1e3),
    ];
    in_ranges(rules)?;
    if e.mode == ExitMode::Percent && e.tp_fraction < e.min_reward_risk * e.sl_fraction {
        return Err(err(
            "risk.exits.tp_fraction",
            format!(
                "{} / sl_fraction {} is below min_reward_risk {}: every entry would be refused",
                e.tp_fraction, e.sl_fraction, e.min_reward_risk
            ),
        ));
    }
    Ok(())
}

/// `[risk.drift]`.
fn validate_drift(r: &RiskConfig) -> Result<(), RiskConfigError> {
    let d = &r.drift;
    #[rustfmt::skip]
    let rules: &[Rule] = &[
        ("risk.drift.check_s",         d.check_s,         0.0, false, 86_400.0),
        ("risk.drift.flip_epsilon",    d.flip_epsilon,    0.0, true,  1.0),
        ("risk.drift.decay_abs",       d.decay_abs,       0.0, true,  1.0),
        ("risk.drift.decay_ratio",     d.decay_ratio,     0.0, true,  1.0),
        ("risk.drift.reduce_fraction", d.reduce_fraction, 0.0, false, 1.0),
    ];
    in_ranges(rules)?;
    Ok(())
}

/// `[risk.limits]`.
fn validate_limits(r: &RiskConfig) -> Result<(), RiskConfigError> {
    use super::var::MAX_TAIL;
    let l = &r.limits;
    in_range(
        "risk.limits.max_risk_per_trade",
        l.max_risk_per_trade,
        0.0,
        false,
        1.0,
    )?;
    in_range(
        "risk.limits.max_portfolio_risk",
        l.max_portfolio_risk,
        l.max_risk_per_trade,
        true,
        1.0,
    )
    .map_err(|e| err(e.key, format!("{} (and ≥ max_risk_per_trade)", e.why)))?;
    if l.max_positions == 0 {
        return Err(err("risk.limits.max_positions", "must be ≥ 1"));
    }
    in_range(
        "risk.limits.max_symbol_exposure",
        l.max_symbol_exposure,
        0.0,
        false,
        r.max_leverage.max(f64::MIN_POSITIVE),
    )
    .map_err(|e| err(e.key, format!("{} (at most risk.max_leverage)", e.why)))?;
    // The historical VaR keeps at most MAX_TAIL losses: 5 % of the window must fit.
    let max_window = (MAX_TAIL * 20) as f64;
    #[rustfmt::skip]
    let rules: &[Rule] = &[
        ("risk.limits.max_correlation",  l.max_correlation,              -1.0, false, 1.0),
        ("risk.limits.corr_bar_s",       l.corr_bar_s,                   0.0,  false, 86_400.0),
        ("risk.limits.corr_window_bars", f64::from(l.corr_window_bars),  2.0,  true,  max_window),
        ("risk.limits.corr_min_bars",    f64::from(l.corr_min_bars),     2.0,  true,  f64::from(l.corr_window_bars)),
        ("risk.limits.var_budget",       l.var_budget,                   0.0,  true,  10.0),
        ("risk.limits.var_horizon_s",    l.var_horizon_s,                l.corr_bar_s, true, 86_400.0),
    ];
    in_ranges(rules)?;
    if l.var_confidence != 0.95 && l.var_confidence != 0.99 {
        return Err(err(
            "risk.limits.var_confidence",
            format!("must be 0.95 or 0.99, got {}", l.var_confidence),
        ));
    }
    in_range("risk.limits.daily_loss", l.daily_loss, 0.0, false, 1.0)?;
    // 0 = off; a streak longer than a thousand losing trades is no limit at all.
    #[rustfmt::skip]
    let rules: &[Rule] = &[
        ("risk.limits.max_consecutive_losses",   f64::from(l.max_consecutive_losses), 0.0, true,  1000.0),
        ("risk.limits.drawdown_reduce",          l.drawdown_reduce,                   0.0, false, 1.0),
        ("risk.limits.drawdown_size_multiplier", l.drawdown_size_multiplier,          0.0, false, 1.0),
    ];
    in_ranges(rules)?;
    in_range(
        "risk.limits.drawdown_pause",
        l.drawdown_pause,
        l.drawdown_reduce,
        true,
        1.0,
    )
    .map_err(|e| err(e.key, format!("{} (and ≥ drawdown_reduce)", e.why)))?;
    if l.emergency_drawdown != 0.0 {
        in_range(
            "risk.limits.emergency_drawdown",
            l.emergency_drawdown,
            l.drawdown_pause,
            true,
            1.0,
        )
        .map_err(|e| err(e.key, format!("{} (0 = off, else ≥ drawdown_pause)", e.why)))?;
    }
    Ok(())
}

/// Start-up check once the venue's instrument specs are known: `max_leverage` (and every opt-in
/// tier) must not exceed the venue's maximum for `symbol`.
pub fn validate_venue_leverage(
    r: &RiskConfig,
    symbol: &str,
    venue_max_leverage: f64,
) -> Result<(), RiskConfigError> {
    if r.max_leverage > venue_max_leverage {
        return Err(err(
            "risk.max_leverage",
            format!(
                "{} exceeds the venue's maximum leverage {venue_max_leverage} for {symbol}",
                r.max_leverage
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, DEFAULT_TOML};

    use super::*;

    fn parse_err(from: &str, to: &str) -> String {
        assert!(DEFAULT_TOML.contains(from), "default lacks {from:?}");
        Config::parse(&DEFAULT_TOML.replacen(from, to, 1))
            .unwrap_err()
            .0
    }

    #[test]
    fn documented_defaults_equal_the_code_defaults() {
        let c = Config::parse(DEFAULT_TOML).unwrap();
        assert_eq!(c.risk.sizing, SizingConfig::default());
        assert_eq!(c.risk.exits, ExitsConfig::default());
        assert_eq!(c.risk.drift, DriftConfig::default());
        assert_eq!(c.risk.limits, LimitsConfig::default());
        assert_eq!(c.risk.reconcile, ReconcileConfig::default());
    }

    #[test]
    fn sections_are_optional_and_keep_the_old_keys() {
        let start = DEFAULT_TOML.find("[risk.sizing]").unwrap();
        let end = DEFAULT_TOML.find("[paper]").unwrap();
        let text = format!("{}{}", &DEFAULT_TOML[..start], &DEFAULT_TOML[end..]);
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.risk.max_leverage, 5.0);
        assert_eq!(c.risk.order_notional, 1000.0);
        assert_eq!(c.risk.limits, LimitsConfig::default());
        assert_eq!(c.risk.sizing.leverage_profile, LeverageProfile::Flat);
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            (
                "risk_per_trade = 0.01",
                "risk_per_trade = -0.01",
                "risk.sizing.risk_per_trade",
            ),
            (
                "risk_per_trade = 0.01",
                "risk_per_trade = 0.03",
                "max_risk_per_trade",
            ),
            (
                "daily_loss = 0.05",
                "daily_loss = -0.05",
                "risk.limits.daily_loss",
            ),
            (
                "drawdown_pause = 0.15",
                "drawdown_pause = 0.05",
                "risk.limits.drawdown_pause",
            ),
            (
                "sl_fraction = 0.005",
                "sl_fraction = 0.007",
                "risk.exits.tp_fraction",
            ),
            ("check_s = 30.0", "check_s = 0.0", "risk.drift.check_s"),
            (
                "max_consecutive_losses = 5",
                "max_consecutive_losses = 1001",
                "risk.limits.max_consecutive_losses",
            ),
            (
                "max_positions = 5",
                "max_positions = 0",
                "risk.limits.max_positions",
            ),
            (
                "max_symbol_exposure = 2.5",
                "max_symbol_exposure = 6.0",
                "risk.limits.max_symbol_exposure",
            ),
            (
                "emergency_drawdown = 0.20",
                "emergency_drawdown = 0.12",
                "risk.limits.emergency_drawdown",
            ),
            ("policy = \"report\"", "policy = \"flatten\"", "policy"),
            (
                "reduce_fraction = 0.5",
                "reduce_fraction = 1.5",
                "risk.drift.reduce_fraction",
            ),
        ];
        for (from, to, key) in cases {
            let e = parse_err(from, to);
            assert!(e.contains(key), "{to}: {e}");
        }
    }

    #[test]
    fn unknown_risk_key_is_rejected() {
        let e = parse_err("[risk.limits]\n", "[risk.limits]\nmax_drawdown = 0.1\n");
        assert!(e.contains("max_drawdown"), "{e}");
    }

    #[test]
    fn account_tiers_need_an_explicit_max_leverage() {
        let e = parse_err(
            "leverage_profile = \"flat\"",
            "leverage_profile = \"account_tiers\"",
        );
        assert!(
            e.contains("risk.sizing.leverage_tiers") && e.contains("explicit"),
            "{e}"
        );
        let text = DEFAULT_TOML
            .replacen(
                "leverage_profile = \"flat\"",
                "leverage_profile = \"account_tiers\"",
                1,
            )
            .replacen("max_leverage = 5.0 ", "max_leverage = 75.0 ", 1);
        let c = Config::parse(&text).unwrap();
        assert_eq!(
            c.risk.sizing.leverage_profile,
            LeverageProfile::AccountTiers
        );
    }

    #[test]
    fn venue_leverage_check_names_the_symbol() {
        let c = Config::parse(DEFAULT_TOML).unwrap();
        assert!(validate_venue_leverage(&c.risk, "BTCUSDT", 100.0).is_ok());
        let e = validate_venue_leverage(&c.risk, "XYZUSDT", 4.0).unwrap_err();
        assert_eq!(e.key, "risk.max_leverage");
        assert!(e.why.contains("XYZUSDT"), "{}", e.why);
    }
}
