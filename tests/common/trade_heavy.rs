//! The strategy made to trade often, shared by `benches/budgets.rs` (`#[path]`-included) and
//! `tests/compute_golden.rs`: finite differences, per-tick smoothing, no cooldown, tight exits,
//! the drift, regime and TP-first layers and the loss stops off. Every order-path budget row
//! then has thousands of samples, and the golden test guards exactly what the bench times.

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::strategy::{StrategyKind, StrategyParams, VelocitySource};

/// Turns `cfg` into the trade-heavy configuration.
pub fn trade_heavy(cfg: &mut Config) {
    cfg.signal.source = VelocitySource::FiniteDifference;
    cfg.model.tau_s = 0.0;
    cfg.strategy.cooldown_ms = 0;
    cfg.risk.exits.tp_fraction = 0.0012;
    cfg.risk.exits.sl_fraction = 0.0006;
    cfg.risk.exits.min_reward_risk = 1.0;
    cfg.layers.drift.enabled = false;
    cfg.layers.regime.enabled = false;
    cfg.layers.tp_first.enabled = false;
    let l = &mut cfg.risk.limits;
    l.max_consecutive_losses = 0;
    l.drawdown_pause = 1.0;
    l.emergency_drawdown = 0.0;
    l.daily_loss = 1.0;
    l.max_correlation = 1.0;
}

/// The trade-heavy strategy on the default config, as the calculus matrix alone and as
/// `strategy = both` (the matrix and the scalper's bar rules beside it), in that order.
pub fn trade_heavy_params() -> [StrategyParams; 2] {
    let mut cfg = Config::parse(DEFAULT_TOML).expect("bundled default config");
    trade_heavy(&mut cfg);
    let calculus = StrategyParams::from_config(&cfg);
    let both = StrategyParams {
        strategy: StrategyKind::Both,
        ..calculus
    };
    [calculus, both]
}
