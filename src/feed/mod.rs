//! Market data: venue message parsing and the WebSocket client driven by mio.

pub mod binance;
pub mod bybit;
pub mod event;
pub mod fast;
pub mod symbols;
pub mod tape;
pub mod tick;
pub mod validate;
pub mod venue;
pub mod ws;

pub use event::{Control, MarketEvent, ParseError, Quote, UpdateKind};
pub use symbols::{SymbolError, SymbolTable};
pub use tick::{Side, SymbolId, Tick};
pub use validate::{Reject, ValidationConfig, Validator};
pub use venue::VenueParser;
