//! The embedded exchange: a loopback WebSocket server that replays real recorded frames.

pub mod account;
pub mod fault_plan;
pub mod leverage;
pub mod liquidation;
pub mod market;
pub mod orders;
pub mod private_stream;
pub(crate) mod recording;
pub mod rest_orders;
pub mod server;
pub(crate) mod trade_ws;

pub use account::AccountOptions;
pub use market::MarketState;
pub use recording::{RecordedFrame, Recording};
pub use rest_orders::{RestExchange, SimCredentials};
pub use server::{EmbeddedExchange, ReplayStats};
