//! Decisions: the 6-case matrix on each symbol's derivatives, turned into order intents.

pub mod engine;
pub mod intent;
pub mod matrix;

pub use engine::{Engine, EngineStats, StrategyParams};
pub use intent::OrderIntent;
pub use matrix::{classify, Action, Case, CaseActions};
