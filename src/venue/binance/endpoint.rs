//! Binance USD-M endpoints: URLs, stream names, the subscribe request, the recent-trades
//! REST fallback (request path and reply), and the API key's environment variables.

use serde::Deserialize;

use crate::types::{Side, SymbolId, Tick};

/// Per-symbol topics subscribed when the config names none.
pub const DEFAULT_TOPICS: &[&str] = &["trade"];
/// Streams one USD-M connection may carry.
pub const TOPICS_PER_CONNECTION: usize = 200;
/// Streams per `SUBSCRIBE` request.
pub const TOPICS_PER_REQUEST: usize = 200;
/// Topic kinds that carry trades.
pub const TRADE_TOPICS: &[&str] = &["trade", "aggTrade"];
/// Every per-symbol topic kind the parsers know (what `feed.topics` may name).
pub const KNOWN_TOPICS: &[&str] = &["trade", "aggTrade", "bookTicker", "depth", "markPrice"];
/// Environment variables holding the API key and secret.
pub const KEY_ENV_NAMES: (&str, &str) = ("BINANCE_API_KEY", "BINANCE_API_SECRET");
/// Mainnet public market-data WebSocket (combined streams).
pub const MAINNET_WS_URL: &str = "wss://fstream.binance.com/stream";
/// Mainnet REST base.
pub const MAINNET_REST_URL: &str = "https://fapi.binance.com";
/// Path of the embedded exchange's WebSocket.
pub const EMBEDDED_WS_PATH: &str = "/stream";

/// The stream name of `kind` for `symbol`: `btcusdt@trade`.
pub fn topic(kind: &str, symbol: &str) -> String {
    format!("{}@{kind}", symbol.to_ascii_lowercase())
}

/// `{"method":"SUBSCRIBE","params":[<list>],"id":<id>}` (`list`: quoted stream names).
pub fn subscribe_request(list: &str, id: u64) -> String {
    format!("{{\"method\":\"SUBSCRIBE\",\"params\":[{list}],\"id\":{id}}}")
}

/// `{"method":"UNSUBSCRIBE","params":[<list>],"id":<id>}` (`list`: quoted stream names).
pub fn unsubscribe_request(list: &str, id: u64) -> String {
    format!("{{\"method\":\"UNSUBSCRIBE\",\"params\":[{list}],\"id\":{id}}}")
}

/// `GET /fapi/v1/trades` (ids equal the `@trade` stream's `t`), or `/fapi/v1/aggTrades` when
/// the trade topic is `aggTrade`: the newest `limit` trades of `symbol`.
pub fn recent_trades_path(symbol: &str, limit: u32, trade_topic: &str) -> String {
    if trade_topic == "aggTrade" {
        format!("/fapi/v1/aggTrades?symbol={symbol}&limit={limit}")
    } else {
        format!("/fapi/v1/trades?symbol={symbol}&limit={limit}")
    }
}

#[derive(Deserialize)]
struct BinanceTrade<'a> {
    id: u64,
    #[serde(borrow)]
    price: &'a str,
    #[serde(borrow)]
    qty: &'a str,
    time: u64,
    #[serde(rename = "isBuyerMaker")]
    buyer_is_maker: bool,
}

#[derive(Deserialize)]
struct BinanceAggTrade<'a> {
    a: u64,
    #[serde(borrow)]
    p: &'a str,
    #[serde(borrow)]
    q: &'a str,
    #[serde(rename = "T")]
    time: u64,
    m: bool,
}

/// A REST price or size: a finite number > 0.
fn positive_number(s: &str, what: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{what} {s:?} is not a positive number")),
    }
}

/// Parses a `GET /fapi/v1/trades` (ids = `@trade` `t`) or, for the `aggTrade` topic,
/// `/fapi/v1/aggTrades` (ids = `a`) reply for `symbol` into ticks, in the venue's order
/// (oldest first).
pub fn parse_recent_trades(
    body: &str,
    symbol: SymbolId,
    trade_topic: &str,
) -> Result<Vec<Tick>, String> {
    if trade_topic == "aggTrade" {
        return serde_json::from_str::<Vec<BinanceAggTrade<'_>>>(body)
            .map_err(|e| format!("bad aggTrades JSON: {e}"))?
            .into_iter()
            .map(|t| rest_tick(symbol, t.a, t.p, t.q, t.time, t.m))
            .collect();
    }
    serde_json::from_str::<Vec<BinanceTrade<'_>>>(body)
        .map_err(|e| format!("bad trades JSON: {e}"))?
        .into_iter()
        .map(|t| rest_tick(symbol, t.id, t.price, t.qty, t.time, t.buyer_is_maker))
        .collect()
}

/// One REST trade row as a tick; the taker sold when the buyer was the maker.
fn rest_tick(
    symbol: SymbolId,
    trade_id: u64,
    price: &str,
    qty: &str,
    exch_ts_ms: u64,
    buyer_is_maker: bool,
) -> Result<Tick, String> {
    Ok(Tick {
        symbol,
        side: if buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        },
        price: positive_number(price, "price")?,
        qty: positive_number(qty, "qty")?,
        exch_ts_ms,
        trade_id,
        ..Default::default()
    })
}
