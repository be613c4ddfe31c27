//! Venues: one folder per exchange, holding everything that knows that venue's wire format.
//! Everything outside `venue/` is venue-neutral and reaches a venue through one dispatch enum
//! per role.

pub mod binance;
pub mod bybit;
pub mod scan;
pub mod tape;
