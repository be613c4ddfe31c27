//! Market data: venue message parsing and the WebSocket client driven by mio.

pub mod binance;
pub mod symbols;
pub mod tick;
pub mod ws;

pub use symbols::{SymbolError, SymbolTable};
pub use tick::{Side, SymbolId, Tick};
