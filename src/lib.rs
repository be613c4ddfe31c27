//! calculus-trader: a low-latency, calculus-driven trading pipeline.
//!
//! Data flows one way through the modules: `feed` (network, parsing) → `model` (derivatives)
//! → `strategy` (6-case matrix) → `risk` (positions, sizing) → `exec` (rounding, signing, paper
//! fills), joined by `ring`s and driven by `runtime`; `telemetry` times every stage; `sim` is the
//! embedded loopback exchange; `config` loads and validates the TOML configuration.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod analyze;
pub mod backtest;
pub mod config;
pub mod data;
pub mod exec;
pub mod feed;
pub mod model;
pub mod ring;
pub mod risk;
pub mod runtime;
pub mod sim;
pub mod strategy;
pub mod telemetry;
pub mod tuning;
