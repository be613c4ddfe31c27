//! Market data: venue message parsing, and the connection layer (mio event loop, TLS,
//! heartbeats, reconnect, stale detection, REST fallback, de-duplication).

pub(crate) mod backoff;
pub mod conn;
pub mod control;
pub mod dedupe;
pub mod endpoint;
pub(crate) mod guard;
pub mod liveness;
pub mod protocol;
pub mod rest;
pub mod settings;
pub mod stage;
pub mod tls;
pub(crate) mod validate;
pub mod venue;
pub mod ws;

/// Parsed market events and the symbol table are shared vocabulary (`types`), re-exported here
/// where the feed's users look for them.
pub use crate::types::{event, symbols};
pub use crate::types::{Control, MarketEvent, ParseError, SymbolError, SymbolTable, UpdateKind};
pub use control::{FeedCommand, FeedControl};
pub use validate::{Reject, ValidationConfig, Validator};
pub use venue::VenueParser;
