//! Bybit v5 linear perpetuals: everything that knows Bybit's wire format.

pub mod fast;
pub mod market;

pub use market::{trade_id_hash, BybitParser};
