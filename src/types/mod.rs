//! The shared vocabulary every stage speaks: market data ([`Tick`], [`Quote`]), symbols and
//! sides, instrument filters, order intents, execution reports and positions. Depends on no
//! other module of the crate; venue spellings live with the venue code, not here.

pub mod case;
pub mod instrument;
pub mod intent;
pub mod position;
pub mod report;
pub mod tick;

pub use case::Case;
pub use instrument::Instrument;
pub use intent::OrderIntent;
pub use position::Position;
pub use report::{ExecReport, RejectReason, ReportStatus};
pub use tick::{Quote, Side, SymbolId, Tick};
