//! Venues: one folder per exchange, holding everything that knows that venue's wire format.
//! Everything outside `venue/` is venue-neutral and reaches a venue through one dispatch enum
//! per role.

pub mod api;
pub mod binance;
pub mod bybit;
pub mod order;
pub mod reply;
pub mod scan;
pub mod sign;
pub mod tape;

use serde::Deserialize;

use crate::feed::protocol::{DedupMode, Heartbeat};

/// A supported venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    /// Binance USD-M futures (combined streams).
    Binance,
    /// Bybit v5 linear perpetuals (public stream).
    Bybit,
}

impl Venue {
    /// The venue called `name` (`binance`, `bybit`; case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "binance" => Some(Venue::Binance),
            "bybit" => Some(Venue::Bybit),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Bybit => "bybit",
        }
    }

    /// Per-symbol topics subscribed when the config names none.
    pub fn default_topics(self) -> &'static [&'static str] {
        match self {
            Venue::Binance => &["trade"],
            Venue::Bybit => &["publicTrade", "tickers", "orderbook.1"],
        }
    }

    /// Topics one connection may carry (Binance USD-M: 200 streams per connection; Bybit
    /// documents no per-connection cap for linear, 100 keeps reconnects cheap).
    pub fn default_topics_per_connection(self) -> usize {
        match self {
            Venue::Binance => 200,
            Venue::Bybit => 100,
        }
    }

    /// Topics per subscribe request (Bybit spot caps `args` at 10; we use 10 everywhere).
    fn topics_per_request(self) -> usize {
        match self {
            Venue::Binance => 200,
            Venue::Bybit => 10,
        }
    }

    /// The stream name of `kind` for `symbol`: `btcusdt@trade`, `publicTrade.BTCUSDT`.
    pub fn topic(self, kind: &str, symbol: &str) -> String {
        match self {
            Venue::Binance => format!("{}@{kind}", symbol.to_ascii_lowercase()),
            Venue::Bybit => format!("{kind}.{}", symbol.to_ascii_uppercase()),
        }
    }

    /// The subscribe requests for `topics`, numbered from `*next_id` (advanced).
    /// Binance: `{"method":"SUBSCRIBE","params":[..],"id":N}`;
    /// Bybit: `{"req_id":"N","op":"subscribe","args":[..]}`.
    pub fn subscribe_requests(self, topics: &[String], next_id: &mut u64) -> Vec<String> {
        topics
            .chunks(self.topics_per_request().max(1))
            .map(|chunk| {
                let list = chunk
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(",");
                let id = *next_id;
                *next_id += 1;
                match self {
                    Venue::Binance => {
                        format!("{{\"method\":\"SUBSCRIBE\",\"params\":[{list}],\"id\":{id}}}")
                    }
                    Venue::Bybit => {
                        format!("{{\"req_id\":\"{id}\",\"op\":\"subscribe\",\"args\":[{list}]}}")
                    }
                }
            })
            .collect()
    }

    /// The client heartbeat.
    pub fn heartbeat(self) -> Heartbeat {
        match self {
            Venue::Binance => Heartbeat::PingFrame,
            Venue::Bybit => Heartbeat::Text("{\"op\":\"ping\"}"),
        }
    }

    /// Client heartbeat period (Bybit asks for 20 s; Binance pings us every few minutes and
    /// accepts our pings, 20 s keeps NAT/proxies warm and detects dead links early).
    pub fn default_heartbeat_ms(self) -> u64 {
        20_000
    }

    /// The mainnet public market-data WebSocket.
    pub fn mainnet_ws_url(self) -> &'static str {
        match self {
            Venue::Binance => "wss://fstream.binance.com/stream",
            Venue::Bybit => "wss://stream.bybit.com/v5/public/linear",
        }
    }

    /// The mainnet REST base.
    pub fn mainnet_rest_url(self) -> &'static str {
        match self {
            Venue::Binance => "https://fapi.binance.com",
            Venue::Bybit => "https://api.bybit.com",
        }
    }

    /// Path of the embedded exchange's WebSocket for this venue.
    pub fn embedded_ws_path(self) -> &'static str {
        match self {
            Venue::Binance => "/stream",
            Venue::Bybit => "/v5/public/linear",
        }
    }

    /// Path and query of the recent-trades REST request (newest `limit` trades of `symbol`):
    /// Binance `GET /fapi/v1/trades` (ids equal the `@trade` stream's `t`) or `/fapi/v1/aggTrades`
    /// when the trade topic is `aggTrade`; Bybit `GET /v5/market/recent-trade`.
    pub fn recent_trades_path(self, symbol: &str, limit: u32, trade_topic: &str) -> String {
        match self {
            Venue::Binance if trade_topic == "aggTrade" => {
                format!("/fapi/v1/aggTrades?symbol={symbol}&limit={limit}")
            }
            Venue::Binance => format!("/fapi/v1/trades?symbol={symbol}&limit={limit}"),
            Venue::Bybit => {
                format!("/v5/market/recent-trade?category=linear&symbol={symbol}&limit={limit}")
            }
        }
    }

    /// The topic kind that carries trades, if subscribed (`trade`/`aggTrade`, `publicTrade`).
    pub fn trade_topic(self, topics: &[String]) -> Option<String> {
        let wanted: &[&str] = match self {
            Venue::Binance => &["trade", "aggTrade"],
            Venue::Bybit => &["publicTrade"],
        };
        topics
            .iter()
            .find(|t| wanted.contains(&t.as_str()))
            .cloned()
    }

    /// De-duplication rule of this venue's trade ids.
    pub fn dedup_mode(self) -> DedupMode {
        match self {
            Venue::Binance => DedupMode::SequentialIds,
            Venue::Bybit => DedupMode::TimeAndId,
        }
    }
}
