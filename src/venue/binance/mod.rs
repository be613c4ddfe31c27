//! Binance USD-M futures: everything that knows Binance's wire format.

pub mod account;
pub mod algo;
pub mod api;
pub(crate) mod endpoint;
pub mod error;
pub mod exchange;
pub(crate) mod exchange_leverage;
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

pub use api::BinanceApi;
pub use market::BinanceParser;
pub use order::{BinanceOrderBuilder, BinanceVenue, ExitKind, ExitOrder};
