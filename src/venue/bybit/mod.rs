//! Bybit v5 linear perpetuals: everything that knows Bybit's wire format.

pub mod account;
pub mod api;
mod body;
pub(crate) mod endpoint;
pub mod error;
pub mod exchange;
pub(crate) mod exchange_leverage;
pub(crate) mod exchange_tpsl;
pub(crate) mod exchange_ws;
pub mod fast;
pub mod market;
pub mod order;
pub mod private;
pub mod reply;
pub mod spec;
pub(crate) mod template;
pub mod tickers;
pub mod ws_order;

pub use api::BybitApi;
pub use market::{trade_id_hash, BybitParser};
pub use order::{BybitOrderBuilder, BybitVenue};
