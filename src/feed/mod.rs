//! Market data: venue message parsing, and the connection layer (mio event loop, TLS,
//! heartbeats, reconnect, stale detection, REST fallback, de-duplication).

pub(crate) mod backoff;
pub mod conn;
pub mod dedupe;
pub mod endpoint;
pub mod event;
pub(crate) mod guard;
pub mod liveness;
pub mod protocol;
pub mod rest;
pub mod settings;
pub mod stage;
pub mod symbols;
pub mod tls;
pub(crate) mod validate;
pub mod venue;
pub mod ws;

pub use event::{Control, MarketEvent, ParseError, UpdateKind};
pub use symbols::{SymbolError, SymbolTable};
pub use validate::{Reject, ValidationConfig, Validator};
pub use venue::VenueParser;
