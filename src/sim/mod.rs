//! The embedded exchange: a loopback WebSocket server that replays real recorded frames.

pub mod recording;
pub mod server;

pub use recording::{RecordedFrame, Recording};
pub use server::{EmbeddedExchange, ReplayStats};
