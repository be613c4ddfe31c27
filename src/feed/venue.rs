//! One parser type for every supported venue, chosen by the venue's name in the config.

use crate::types::event::{Control, MarketEvent, ParseError};
use crate::types::symbols::SymbolTable;
use crate::venue::binance::{self, BinanceParser};
use crate::venue::bybit::{self, BybitParser};

/// The parser of the configured venue. Same call for every venue: events go to the
/// callback, the frame's kind comes back as [`Control`].
#[derive(Debug)]
pub enum VenueParser {
    /// Binance USD-M futures market streams.
    Binance(BinanceParser),
    /// Bybit v5 linear public stream.
    Bybit(BybitParser),
}

impl VenueParser {
    /// Venue names accepted by [`VenueParser::for_venue`].
    pub const VENUES: &'static [&'static str] = &["binance", "bybit"];

    /// The parser for `venue` (`binance` or `bybit`), with state sized for `symbols`.
    pub fn for_venue(venue: &str, symbols: &SymbolTable) -> Result<Self, String> {
        match venue {
            "binance" => Ok(VenueParser::Binance(BinanceParser::new())),
            "bybit" => Ok(VenueParser::Bybit(BybitParser::for_symbols(symbols))),
            other => Err(format!(
                "venue {other:?} has no parser (supported: {})",
                Self::VENUES.join(", ")
            )),
        }
    }

    /// The venue name.
    pub fn venue(&self) -> &'static str {
        match self {
            VenueParser::Binance(_) => "binance",
            VenueParser::Bybit(_) => "bybit",
        }
    }

    /// Parses one frame in place, calling `on` for every trade or quote it carries.
    /// Equal to the venue parser's own `parse` for every input.
    #[inline]
    pub fn parse<F: FnMut(MarketEvent)>(
        &mut self,
        frame: &mut [u8],
        symbols: &SymbolTable,
        on: F,
    ) -> Result<Control, ParseError> {
        // The specialised extractors answer the hottest messages and hand everything else to
        // the general parser, with the same result (see `venue::scan`).
        match self {
            VenueParser::Binance(p) => binance::fast::parse(p, frame, symbols, on).0,
            VenueParser::Bybit(p) => bybit::fast::parse(p, frame, symbols, on).0,
        }
    }

    /// Forgets per-symbol book state (after a reconnect the venue re-sends snapshots).
    pub fn reset_state(&mut self) {
        if let VenueParser::Bybit(p) = self {
            p.reset_state();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venues_are_chosen_by_name() {
        let s = SymbolTable::new(&["BTCUSDT"]).unwrap();
        assert_eq!(
            VenueParser::for_venue("binance", &s).unwrap().venue(),
            "binance"
        );
        assert_eq!(
            VenueParser::for_venue("bybit", &s).unwrap().venue(),
            "bybit"
        );
        assert!(VenueParser::for_venue("okx", &s)
            .err()
            .unwrap()
            .contains("okx"));
    }

    #[test]
    fn each_venue_parses_its_own_trade_shape() {
        let s = SymbolTable::new(&["BTCUSDT"]).unwrap();
        let mut n = 0;
        let mut by = VenueParser::for_venue("bybit", &s).unwrap();
        let mut f = br#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":2,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"2","i":"x"},{"T":1,"s":"BTCUSDT","S":"Sell","v":"1","p":"2","i":"y"}]}"#.to_vec();
        by.parse(&mut f, &s, |_| n += 1).unwrap();
        let mut bn = VenueParser::for_venue("binance", &s).unwrap();
        let mut f =
            br#"{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":1,"p":"1","q":"1","m":true}"#.to_vec();
        bn.parse(&mut f, &s, |_| n += 1).unwrap();
        assert_eq!(n, 3);
    }
}
