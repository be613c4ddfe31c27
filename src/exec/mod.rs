//! Execution: exact rounding to the venue's filters, signed order requests, and their delivery:
//! to a venue (the embedded exchange over loopback HTTP, or a real one) through the
//! non-blocking [`transport`], or filled in-process ([`paper`]). Every intent, ack, fill and
//! rejection goes to the [`journal`] before it is acted on. The [`Executor`] drives an order
//! through that; [`stage`] times it on the execution thread; [`setup`] builds it from the config.

pub mod binance_order;
pub mod bybit_order;
pub mod exec_config;
pub mod executor;
pub mod fault_plan;
pub mod journal;
pub mod keys;
pub mod order_request;
pub mod order_state;
pub mod paper;
pub mod rate_limit;
pub mod recovery;
pub mod setup;
pub mod sign;
pub mod specs;
pub mod stage;
pub mod transport;
pub mod transport_venue;
pub mod venue_api;
pub mod venue_error;

pub use binance_order::{BinanceOrderBuilder, ExitKind, ExitOrder, OrderFields};
pub use bybit_order::BybitOrderBuilder;
pub use exec_config::{ExecConfig, ExecMode, FsyncSetting, PhantomPolicy};
pub use executor::{venue_exit_price, ExecEvent, ExecStats, Executor};
pub use journal::{FsyncPolicy, Journal, Record, RecordKind};
pub use keys::{check_endpoint, ApiKeys, LiveGate, Secret};
pub use order_request::{NewOrder, OrderReject, OrderType, TimeInForce, TriggerBy};
pub use paper::{FillModel, PaperVenue};
pub use sign::Signer;
pub use stage::ExecStage;
pub use transport::{HttpTransport, TransportError, TransportEvent};
pub use transport_venue::{BinanceVenue, BybitVenue, EntryExits, OrderReply, OrderVenue};
pub use venue_api::{BinanceApi, BybitApi, ClockSync, Venue};
pub use venue_error::{ErrorKind, Retry, VenueError};
