//! Positions, sizing, exits and limits: what the compute thread checks before an order leaves.

pub mod block;
pub mod config;
pub(crate) mod correlation;
pub mod drift_monitor;
pub mod exits;
pub mod limits;
pub mod reconcile;
pub mod sizing;
pub mod state;
pub mod var;

pub use block::{BlockReason, EntryBlock};
pub use correlation::Correlation;
pub use drift_monitor::{DriftAction, DriftMonitor, DriftParams};
pub use exits::{ExitLevels, ExitParams, ExitTrigger};
pub use limits::{EmergencyAction, EntryCaps, GateState, OrderCheck, RiskGate, Trip, VarLimit};
pub use sizing::{
    size_entry, size_entry_qty, size_entry_qty_unfiltered, EntryRequest, SizedEntry, Sizing,
    SizingParams, TradeStats,
};
pub use var::PortfolioRisk;
