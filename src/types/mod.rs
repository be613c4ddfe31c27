//! The shared vocabulary every stage speaks: market data ([`Tick`], [`Quote`]), parsed market
//! events ([`MarketEvent`], [`Control`], [`ParseError`]), the [`SymbolTable`], sides,
//! instrument filters, order intents, execution reports, positions and the one fill/fee model
//! ([`fill_model`]). Depends on no other module of the crate; venue spellings live with the
//! venue code, not here.

pub mod account;
pub mod case;
pub mod control;
pub mod event;
pub mod fill_model;
pub mod fixed;
pub mod instrument;
pub mod intent;
pub(crate) mod named;
pub mod position;
pub mod report;
pub mod symbols;
pub mod tick;

pub use account::{AccountEvent, ClientOrderId, OrderOrigin, OrderUpdate, StreamFill, VenueStatus};
pub use case::Case;
pub use event::{Control, MarketEvent, ParseError, UpdateKind};
pub use instrument::Instrument;
pub use intent::{IntentFields, OrderIntent};
pub use position::Position;
pub use report::{ExecReport, FillTime, RejectReason, ReportStatus};
pub use symbols::{SymbolError, SymbolTable};
pub use tick::{Quote, Side, SymbolId, Tick};
