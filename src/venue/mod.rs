//! Venues: one folder per exchange, holding everything that knows that venue's wire format.
//! Everything outside `venue/` is venue-neutral and reaches a venue through one dispatch enum
//! per role.
//!
//! # What a venue module (`venue/<name>/`) provides
//! - `market`: the general market-data parser (simd-json tape, [`tape`]) from frames to
//!   `types::MarketEvent`s and `types::Control`, with a `parse(&mut self, frame, symbols, on)`
//!   method; `fast`: `parse(general, frame, symbols, on) -> (result, hit)`, the byte-scanning
//!   extractor ([`scan`]) for its hottest message, equal to the general parser on every input.
//! - `endpoint`: URLs, topic names (known, default, trade), subscribe request, heartbeat, topic
//!   limits, the API key's environment variables, and the recent-trades REST fallback (path
//!   and reply parser).
//! - `order`: the signed order builders and the order-status / position / open-order query
//!   builders (one signing recipe, in reused buffers), taking the venue-neutral
//!   [`order::NewOrder`] / [`order::OrderFields`]; the venue's spellings of sides, time in
//!   force and triggers.
//! - `template` (in `binance`, `bybit`): per-symbol order templates (`venue::template`): the
//!   constant request parts and keyed HMAC state rendered once, so an order writes only its
//!   variable fields.
//! - `reply`: the order, one-symbol position and open-order reply readers, into the
//!   venue-neutral [`reply`] types.
//! - `api`: the cold-path signed requests ([`api::ApiRequest`]: leverage, cancel, wallet, time,
//!   instruments) and their reply parsers (positions, wallet, time, acks).
//! - `account`: the go/no-go check's account reads (Binance `/fapi/v2/account` and leverage
//!   brackets, Bybit `/v5/user/query-api`) and their reply parsers.
//! - `spec`: the instrument-spec reply reader (filters → `types::Instrument`, [`SpecRows`]).
//! - `error`: the error-code tables (to [`error::ErrorKind`] and `types::RejectReason`) and the
//!   error-reply reader (`VenueError::from_<name>`, [`error`]).
//! - `exchange`: the embedded exchange's side of the venue's order protocol (request parsing,
//!   signature check, reply rendering).
//!
//! # Dispatch enums (one arm per venue)
//! - [`Venue`] (here): the venue's name, endpoints and stream protocol.
//! - `feed::VenueParser`: market-data parsing.
//! - `exec::OrderVenue`: order building and reply parsing for the executor and recovery.
//! - `feed::rest::parse_recent_trades`, `exec::specs::VenueSpecs::parse`: REST fallback and
//!   instrument specs.
//! - `exchange::rest_orders` (request routing by path) and `exchange::server` (replay).
//!
//! A new venue is a new folder plus one arm in each of these.
//!
//! Dependencies run one way: `venue` uses `types` (and, for `<name>::exchange`, the embedded
//! exchange's order book); `feed` and `exec` use `venue`, never the reverse.

pub mod api;
pub mod binance;
pub mod bybit;
pub(crate) mod cursor;
pub mod ed25519;
pub mod error;
pub(crate) mod hmac_sha256;
pub mod order;
pub mod private;
pub mod recorded;
pub mod reply;
pub mod scan;
pub mod sign;
pub mod tape;
pub(crate) mod template;
pub mod ws_api;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::types::Instrument;

/// Instruments by symbol from a venue's spec reply (`venue::<name>::spec`); a listed symbol
/// that cannot be traded is an error naming it.
pub type SpecRows = BTreeMap<String, Result<Instrument, String>>;

/// One recorded trade as the recorder wrote it (decimals as text, verbatim): what
/// `venue::<name>::exchange` reads out of one venue's recorded frames and renders in
/// another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedTrade<'a> {
    /// Venue symbol.
    pub symbol: &'a str,
    /// Price, as recorded.
    pub price: &'a str,
    /// Quantity, as recorded.
    pub qty: &'a str,
    /// Taker side.
    pub taker: crate::types::Side,
    /// Venue trade id.
    pub id: u64,
    /// Trade time, Unix ms.
    pub trade_ms: u64,
    /// Event (message) time, Unix ms.
    pub event_ms: u64,
}

/// How a connection proves it is alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    /// A WebSocket ping frame (Binance; the server also pings us and tungstenite answers).
    PingFrame,
    /// An application text message (Bybit `{"op":"ping"}`, answered by `"ret_msg":"pong"`).
    Text(&'static str),
}

/// How repeated trades are recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DedupMode {
    /// Trade ids increase by one per trade and symbol (Binance `t` / `a`): a trade is new iff
    /// its id is above the last delivered one; a jump of k counts k − 1 missed trades.
    SequentialIds,
    /// Ids are opaque (Bybit UUIDs): a trade is new iff its time is later than the last
    /// delivered, or equal with an id not yet seen at that time.
    TimeAndId,
}

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
            Venue::Binance => binance::endpoint::DEFAULT_TOPICS,
            Venue::Bybit => bybit::endpoint::DEFAULT_TOPICS,
        }
    }

    /// Every per-symbol topic kind this build's parsers know.
    pub fn known_topics(self) -> &'static [&'static str] {
        match self {
            Venue::Binance => binance::endpoint::KNOWN_TOPICS,
            Venue::Bybit => bybit::endpoint::KNOWN_TOPICS,
        }
    }

    /// Environment variable names of the API key and secret.
    pub fn key_env_names(self) -> (&'static str, &'static str) {
        match self {
            Venue::Binance => binance::endpoint::KEY_ENV_NAMES,
            Venue::Bybit => bybit::endpoint::KEY_ENV_NAMES,
        }
    }

    /// Topics one connection may carry (Binance USD-M: 200 streams per connection; Bybit
    /// documents no per-connection cap for linear, 100 keeps reconnects cheap).
    pub fn default_topics_per_connection(self) -> usize {
        match self {
            Venue::Binance => binance::endpoint::TOPICS_PER_CONNECTION,
            Venue::Bybit => bybit::endpoint::TOPICS_PER_CONNECTION,
        }
    }

    /// Topics per subscribe request (Bybit spot caps `args` at 10; we use 10 everywhere).
    fn topics_per_request(self) -> usize {
        match self {
            Venue::Binance => binance::endpoint::TOPICS_PER_REQUEST,
            Venue::Bybit => bybit::endpoint::TOPICS_PER_REQUEST,
        }
    }

    /// The stream name of `kind` for `symbol`: `btcusdt@trade`, `publicTrade.BTCUSDT`.
    pub fn topic(self, kind: &str, symbol: &str) -> String {
        match self {
            Venue::Binance => binance::endpoint::topic(kind, symbol),
            Venue::Bybit => bybit::endpoint::topic(kind, symbol),
        }
    }

    /// The subscribe requests for `topics`, numbered from `*next_id` (advanced).
    /// Binance: `{"method":"SUBSCRIBE","params":[..],"id":N}`;
    /// Bybit: `{"req_id":"N","op":"subscribe","args":[..]}`.
    pub fn subscribe_requests(self, topics: &[String], next_id: &mut u64) -> Vec<String> {
        self.topic_requests(topics, next_id, true)
    }

    /// The unsubscribe requests for `topics`, numbered from `*next_id` (advanced).
    /// Binance: `{"method":"UNSUBSCRIBE","params":[..],"id":N}`;
    /// Bybit: `{"req_id":"N","op":"unsubscribe","args":[..]}`.
    pub fn unsubscribe_requests(self, topics: &[String], next_id: &mut u64) -> Vec<String> {
        self.topic_requests(topics, next_id, false)
    }

    /// (Un)subscribe requests of at most [`Venue::topics_per_request`] topics each.
    fn topic_requests(self, topics: &[String], next_id: &mut u64, subscribe: bool) -> Vec<String> {
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
                match (self, subscribe) {
                    (Venue::Binance, true) => binance::endpoint::subscribe_request(&list, id),
                    (Venue::Binance, false) => binance::endpoint::unsubscribe_request(&list, id),
                    (Venue::Bybit, true) => bybit::endpoint::subscribe_request(&list, id),
                    (Venue::Bybit, false) => bybit::endpoint::unsubscribe_request(&list, id),
                }
            })
            .collect()
    }

    /// The client heartbeat.
    pub fn heartbeat(self) -> Heartbeat {
        match self {
            Venue::Binance => Heartbeat::PingFrame,
            Venue::Bybit => Heartbeat::Text(bybit::endpoint::PING),
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
            Venue::Binance => binance::endpoint::MAINNET_WS_URL,
            Venue::Bybit => bybit::endpoint::MAINNET_WS_URL,
        }
    }

    /// The mainnet REST base.
    pub fn mainnet_rest_url(self) -> &'static str {
        match self {
            Venue::Binance => binance::endpoint::MAINNET_REST_URL,
            Venue::Bybit => bybit::endpoint::MAINNET_REST_URL,
        }
    }

    /// Path of the embedded exchange's WebSocket for this venue.
    pub fn embedded_ws_path(self) -> &'static str {
        match self {
            Venue::Binance => binance::endpoint::EMBEDDED_WS_PATH,
            Venue::Bybit => bybit::endpoint::EMBEDDED_WS_PATH,
        }
    }

    /// Path and query of the recent-trades REST request (newest `limit` trades of `symbol`):
    /// Binance `GET /fapi/v1/trades` (ids equal the `@trade` stream's `t`) or `/fapi/v1/aggTrades`
    /// when the trade topic is `aggTrade`; Bybit `GET /v5/market/recent-trade`.
    pub fn recent_trades_path(self, symbol: &str, limit: u32, trade_topic: &str) -> String {
        match self {
            Venue::Binance => binance::endpoint::recent_trades_path(symbol, limit, trade_topic),
            Venue::Bybit => bybit::endpoint::recent_trades_path(symbol, limit),
        }
    }

    /// The topic kind that carries trades, if subscribed (`trade`/`aggTrade`, `publicTrade`).
    pub fn trade_topic(self, topics: &[String]) -> Option<String> {
        let wanted: &[&str] = match self {
            Venue::Binance => binance::endpoint::TRADE_TOPICS,
            Venue::Bybit => bybit::endpoint::TRADE_TOPICS,
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
