//! Decisions: the 6-case matrix on each symbol's derivatives, confirmed by the layers, or the
//! indicator scalper (`[strategy] strategy`), turned into order intents.

pub mod choice;
pub mod engine;
pub mod learned;
pub(crate) mod matrix;
pub mod scalper;
pub(crate) mod signal;
pub(crate) mod snapshot;
pub mod stage;

pub use choice::{Owner, StrategyKind};
pub use engine::{Engine, EngineStats, OperatorStats, RiskParams, StrategyParams};
pub use matrix::{classify, Action, CaseActions};
pub use scalper::{ScalperParams, ScalperSignal};
pub use signal::{SignalParams, VelocitySource};
pub use snapshot::{Gate, TickState};
pub use stage::ComputeStage;
