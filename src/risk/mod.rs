//! Positions, sizing and limits: what the compute thread checks before an order leaves.

pub mod position;
pub mod sizing;

pub use position::Position;
pub use sizing::Sizing;
