//! Market data: venue message parsing, and the connection layer (mio event loop, TLS,
//! heartbeats, reconnect, stale detection, REST fallback, de-duplication).

pub mod backoff;
pub mod binance;
pub mod bybit;
pub mod conn;
pub mod dedupe;
pub mod endpoint;
pub mod event;
pub mod fast;
pub mod guard;
pub mod liveness;
pub mod protocol;
pub mod rest;
pub mod settings;
pub mod symbols;
pub mod tape;
pub mod tick;
pub mod tls;
pub mod validate;
pub mod venue;
pub mod ws;

pub use event::{Control, MarketEvent, ParseError, Quote, UpdateKind};
pub use symbols::{SymbolError, SymbolTable};
pub use tick::{Side, SymbolId, Tick};
pub use validate::{Reject, ValidationConfig, Validator};
pub use venue::VenueParser;
