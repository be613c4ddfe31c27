//! Why the risk layer refused an entry: one enum, stable names and indices, one counter each.

use crate::telemetry::Counter;
use crate::types::RejectReason;

/// A refused entry's reason. The index ([`BlockReason::index`]) and name are stable: the engine
/// counts blocks in a `[u64; BlockReason::COUNT]` and publishes them as [`BlockReason::counter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// The entry's stop-risk exceeds `max_risk_per_trade × equity`.
    RiskPerTrade,
    /// Open stop-risk plus the entry's exceeds `max_portfolio_risk × equity`.
    PortfolioRisk,
    /// `max_positions` symbols already hold a position.
    MaxPositions,
    /// The symbol's |notional| would exceed `max_symbol_exposure × equity`.
    SymbolExposure,
    /// Too correlated (same way) with an open position.
    Correlation,
    /// The UTC day's loss reached `daily_loss`; entries resume the next UTC day.
    DailyLoss,
    /// Drawdown reached `drawdown_pause`; entries resume when an operator resumes.
    Drawdown,
    /// `max_consecutive_losses` losing trades in a row; entries resume when an operator resumes.
    ConsecutiveLosses,
    /// Emergency stop active.
    EmergencyStop,
    /// Start-up reconciliation left a difference on this symbol (policy `report`), or the
    /// symbol has an order of unknown outcome.
    Unreconciled,
    /// Take-profit / stop-loss after tick rounding below `min_reward_risk`.
    RewardRisk,
    /// Kelly fraction ≤ 0 (no edge in the closed trades).
    NoEdge,
    /// Sizing input unusable (price, balance or stop distance not positive and finite).
    BadInput,
    /// Operator `Stop`: entries refused until `Start`.
    OperatorStop,
    /// Operator `Pause`: entries refused until `Resume` or `Start`.
    OperatorPause,
    /// Operator circuit breaker: entries refused until its time passes (or `Resume`).
    CircuitBreaker,
    /// The symbol was removed by an operator: models keep updating, no entries.
    Inactive,
    /// The book's post-trade VaR (or ES) would exceed `var_budget × equity`.
    PortfolioVar,
}

impl BlockReason {
    /// Every reason, in index order.
    pub const ALL: [BlockReason; 18] = [
        BlockReason::RiskPerTrade,
        BlockReason::PortfolioRisk,
        BlockReason::MaxPositions,
        BlockReason::SymbolExposure,
        BlockReason::Correlation,
        BlockReason::DailyLoss,
        BlockReason::Drawdown,
        BlockReason::ConsecutiveLosses,
        BlockReason::EmergencyStop,
        BlockReason::Unreconciled,
        BlockReason::RewardRisk,
        BlockReason::NoEdge,
        BlockReason::BadInput,
        BlockReason::OperatorStop,
        BlockReason::OperatorPause,
        BlockReason::CircuitBreaker,
        BlockReason::Inactive,
        BlockReason::PortfolioVar,
    ];
    /// Number of reasons.
    pub const COUNT: usize = BlockReason::ALL.len();

    /// Stable index in `0..COUNT`.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The telemetry counter of this reason (its name is [`BlockReason::name`]).
    #[inline]
    pub fn counter(self) -> Counter {
        match self {
            BlockReason::RiskPerTrade => Counter::BlockedRiskPerTrade,
            BlockReason::PortfolioRisk => Counter::BlockedPortfolioRisk,
            BlockReason::MaxPositions => Counter::BlockedMaxPositions,
            BlockReason::SymbolExposure => Counter::BlockedSymbolExposure,
            BlockReason::Correlation => Counter::BlockedCorrelation,
            BlockReason::DailyLoss => Counter::BlockedDailyLoss,
            BlockReason::Drawdown => Counter::BlockedDrawdown,
            BlockReason::ConsecutiveLosses => Counter::BlockedConsecutiveLosses,
            BlockReason::EmergencyStop => Counter::BlockedEmergencyStop,
            BlockReason::Unreconciled => Counter::BlockedUnreconciled,
            BlockReason::RewardRisk => Counter::BlockedRewardRisk,
            BlockReason::NoEdge => Counter::BlockedNoEdge,
            BlockReason::BadInput => Counter::BlockedBadRiskInput,
            BlockReason::OperatorStop => Counter::BlockedOperatorStop,
            BlockReason::OperatorPause => Counter::BlockedOperatorPause,
            BlockReason::CircuitBreaker => Counter::BlockedCircuitBreaker,
            BlockReason::Inactive => Counter::BlockedInactive,
            BlockReason::PortfolioVar => Counter::BlockedPortfolioVar,
        }
    }

    /// Stable report name (`blocked_…`).
    #[inline]
    pub fn name(self) -> &'static str {
        self.counter().name()
    }
}

/// Why sizing produced no order: a risk block, or a venue filter the floored quantity breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryBlock {
    /// Refused by the risk layer.
    Risk(BlockReason),
    /// The floored quantity breaks a venue filter (counted as `filtered_*`).
    Filter(RejectReason),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_dense_and_names_are_distinct_counters() {
        for (i, r) in BlockReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(r.name().starts_with("blocked_"), "{}", r.name());
        }
        let mut names: Vec<_> = BlockReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BlockReason::COUNT);
        assert_eq!(BlockReason::DailyLoss.name(), "blocked_daily_loss");
    }
}
