//! Bybit v5 linear endpoints: URLs, topic names, the subscribe request and heartbeat, the
//! recent-trades REST fallback (request path and reply), and the API key's environment
//! variables.

use serde::Deserialize;

use super::market::trade_id_hash;
use crate::types::{Side, SymbolId, Tick};

/// Per-symbol topics subscribed when the config names none.
pub const DEFAULT_TOPICS: &[&str] = &["publicTrade", "tickers", "orderbook.1"];
/// Topics per connection (Bybit documents no cap for linear; 100 keeps reconnects cheap).
pub const TOPICS_PER_CONNECTION: usize = 100;
/// Topics per subscribe request (spot caps `args` at 10; used everywhere).
pub const TOPICS_PER_REQUEST: usize = 10;
/// Topic kinds that carry trades.
pub const TRADE_TOPICS: &[&str] = &["publicTrade"];
/// Every per-symbol topic kind the parsers know (what `feed.topics` may name).
pub const KNOWN_TOPICS: &[&str] = &[
    "publicTrade",
    "tickers",
    "orderbook.1",
    "orderbook.50",
    "orderbook.200",
];
/// Environment variables holding the API key and secret.
pub const KEY_ENV_NAMES: (&str, &str) = ("BYBIT_API_KEY", "BYBIT_API_SECRET");
/// Mainnet public market-data WebSocket.
pub const MAINNET_WS_URL: &str = "wss://stream.bybit.com/v5/public/linear";
/// Mainnet REST base.
pub const MAINNET_REST_URL: &str = "https://api.bybit.com";
/// Path of the embedded exchange's WebSocket.
pub const EMBEDDED_WS_PATH: &str = "/v5/public/linear";
/// The application-level heartbeat Bybit expects every 20 s.
pub const PING: &str = r#"{"op":"ping"}"#;

/// The topic name of `kind` for `symbol`: `publicTrade.BTCUSDT`.
pub fn topic(kind: &str, symbol: &str) -> String {
    format!("{kind}.{}", symbol.to_ascii_uppercase())
}

/// `{"req_id":"<id>","op":"subscribe","args":[<list>]}` (`list`: quoted topic names).
pub fn subscribe_request(list: &str, id: u64) -> String {
    format!("{{\"req_id\":\"{id}\",\"op\":\"subscribe\",\"args\":[{list}]}}")
}

/// `{"req_id":"<id>","op":"unsubscribe","args":[<list>]}` (`list`: quoted topic names).
pub fn unsubscribe_request(list: &str, id: u64) -> String {
    format!("{{\"req_id\":\"{id}\",\"op\":\"unsubscribe\",\"args\":[{list}]}}")
}

/// `GET /v5/market/recent-trade`: the newest `limit` trades of `symbol`.
pub fn recent_trades_path(symbol: &str, limit: u32) -> String {
    format!("/v5/market/recent-trade?category=linear&symbol={symbol}&limit={limit}")
}

#[derive(Deserialize)]
struct BybitResponse<'a> {
    #[serde(rename = "retCode")]
    ret_code: i64,
    #[serde(rename = "retMsg", default)]
    ret_msg: String,
    #[serde(borrow)]
    result: Option<BybitResult<'a>>,
}

#[derive(Deserialize)]
struct BybitResult<'a> {
    #[serde(borrow, default)]
    list: Vec<BybitTrade<'a>>,
}

#[derive(Deserialize)]
struct BybitTrade<'a> {
    #[serde(rename = "execId", borrow)]
    exec_id: &'a str,
    #[serde(borrow)]
    price: &'a str,
    #[serde(borrow)]
    size: &'a str,
    #[serde(borrow)]
    side: &'a str,
    #[serde(borrow)]
    time: &'a str,
}

/// A REST price or size: a finite number > 0.
fn positive_number(s: &str, what: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{what} {s:?} is not a positive number")),
    }
}

/// Parses a `GET /v5/market/recent-trade` reply for `symbol` into ticks, oldest first (the
/// venue answers newest first); ids are [`trade_id_hash`] of `execId` (the WS `i`).
pub fn parse_recent_trades(body: &str, symbol: SymbolId) -> Result<Vec<Tick>, String> {
    let r: BybitResponse<'_> =
        serde_json::from_str(body).map_err(|e| format!("bad recent-trade JSON: {e}"))?;
    if r.ret_code != 0 {
        return Err(format!("retCode {}: {}", r.ret_code, r.ret_msg));
    }
    let mut out = r
        .result
        .map(|r| r.list)
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            Ok(Tick {
                symbol,
                side: match t.side {
                    "Buy" => Side::Buy,
                    "Sell" => Side::Sell,
                    s => return Err(format!("side {s:?}")),
                },
                price: positive_number(t.price, "price")?,
                qty: positive_number(t.size, "size")?,
                exch_ts_ms: t.time.parse().map_err(|_| format!("time {:?}", t.time))?,
                trade_id: trade_id_hash(t.exec_id),
                ..Default::default()
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    out.reverse();
    Ok(out)
}
