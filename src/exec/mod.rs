//! Execution: exact rounding to the venue's filters, signed order requests, and their delivery:
//! to a venue (the embedded exchange over loopback HTTP, or a real one) through the
//! non-blocking [`transport`], or filled in-process ([`fill_model`]). Every intent, ack, fill and
//! rejection goes to the [`journal`] before it is acted on. The [`Executor`] drives an order
//! through that; [`stage`] times it on the execution thread; `runtime::exec_setup` builds it
//! from the config.

pub mod account_config;
pub mod clock;
pub mod exec_config;
pub(crate) mod executor;
pub(crate) mod http;
pub mod journal;
pub mod keys;
pub mod lanes;
pub mod order_state;
pub mod order_ws_config;
pub mod private_config;
pub mod rate_limit;
pub mod recovery;
pub mod spec_refresh;
pub mod specs;
pub mod stage;
pub mod stop_recovery;
pub mod stop_restore;
pub mod stops;
pub mod tickers;
pub mod transport;
pub(crate) mod transport_venue;
pub mod ws_order;

pub use crate::types::fill_model::{self, FillModel, PaperVenue};
pub use crate::venue::binance::BinanceApi;
pub use crate::venue::binance::{BinanceOrderBuilder, BinanceVenue, ExitKind, ExitOrder};
pub use crate::venue::bybit::BybitApi;
pub use crate::venue::bybit::{BybitOrderBuilder, BybitVenue};
pub use crate::venue::error::{ErrorKind, Retry, VenueError};
pub use crate::venue::order::{
    NewOrder, OrderFields, OrderReject, OrderType, TimeInForce, TriggerBy,
};
pub use crate::venue::sign::Signer;
pub use crate::venue::Venue;
pub use clock::ClockSync;
pub use exec_config::{ExecConfig, ExecMode, FsyncSetting};
pub use executor::{venue_exit_price, Admit, ExecEvent, ExecStats, Executor, OWED_SLACK_MS};
pub use journal::{FsyncPolicy, Journal, Record, RecordKind};
pub use keys::{check_endpoint, ApiKeys, LiveGate, Secret};
pub use lanes::{Lane, LaneConfig, LaneStats, OrderLanes, Release};
pub use stage::ExecStage;
pub use transport::{Headers, HttpTransport, TransportError, TransportEvent};
pub use transport_venue::{EntryExits, OrderReply, OrderVenue};
pub use ws_order::{WsOrderConn, WsOrderStats, WsPhase, WsVenue};
