//! Binance USD-M futures: everything that knows Binance's wire format.

pub mod fast;
pub mod market;

pub use market::BinanceParser;
