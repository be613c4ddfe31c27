//! Backtester: the live engine driven over historical trades, single-threaded, with a simulated
//! venue (latency, slippage, fees, the live filters), honest reports, plots, sweeps and
//! walk-forward.
//!
//! `reader` (files → ticks) → `replay` (engine + `fills` venue model + `equity`/`trades`/`baseline`
//! accounts) → `report` (`metrics`) and `plot`; `sweep` and `walk_forward` repeat the replay over
//! parameter sets and time windows; `cli` is the `backtest` subcommand; `settings` is `[backtest]`.

pub(crate) mod baseline;
pub mod cli;
pub mod equity;
pub mod experiment;
pub mod fills;
pub mod learned;
pub mod metrics;
pub mod plot;
pub mod reader;
pub mod replay;
pub mod report;
pub mod settings;
pub mod sweep;
pub mod trades;
pub mod walk_forward;

pub use cli::BacktestArgs;
pub use reader::{read_all, Format, ReadStats, TradeStream};
pub use replay::{run_ticks, Outcome, Replay, Setup};
pub use report::{Metrics, Report};
pub use settings::{BacktestConfig, Liquidity};
