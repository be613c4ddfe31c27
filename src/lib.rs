//! calculus-trader: a low-latency, calculus-driven trading pipeline.
//!
//! Data flows one way through the modules: `feed` (network, parsing) → `model` (derivatives)
//! → `strategy` (6-case matrix) → `risk` (positions, sizing) → `exec` (rounding, signing, paper
//! fills), all speaking the shared vocabulary of `types`; everything that knows a venue's wire
//! format lives in `venue`; each stage's code lives beside what it drives, joined by `ring`s and
//! wired into threads by `runtime`; `telemetry` times every stage; `exchange` is the embedded
//! loopback exchange; `config` loads and validates the TOML configuration and assembles each
//! module's parameters (`feed`, `model`, `strategy` and `risk` never import `config`).
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod analyze;
pub mod backtest;
pub mod config;
pub mod control;
pub mod data;
pub mod exchange;
pub mod exec;
pub mod feed;
pub mod model;
pub mod ring;
pub mod risk;
pub mod runtime;
pub mod soak;
pub mod strategy;
pub mod telemetry;
pub mod tuning;
pub mod types;
pub mod venue;
