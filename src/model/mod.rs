//! Per-symbol estimators, all causal, incremental (O(1) per tick) and allocation-free.

pub mod derivatives;

pub use derivatives::{DerivParams, Derivatives, Estimate};
