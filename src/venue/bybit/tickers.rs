//! Bybit v5 `GET /v5/market/tickers?category=linear`: the 24 h turnover that ranks symbols for
//! `--symbols N`, and the reply the embedded exchange serves.

use serde::Deserialize;
use serde_json::json;

use crate::venue::error::VenueError;

/// Path and query of the linear tickers request (public).
pub const PATH: &str = "/v5/market/tickers?category=linear";

/// `(symbol, turnover24h)` of every row of a `tickers` reply, in reply order.
pub fn parse(body: &[u8]) -> Result<Vec<(String, f64)>, String> {
    if let Some(e) = VenueError::from_bybit(200, body) {
        return Err(e.to_string());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        symbol: String,
        turnover24h: String,
    }
    #[derive(Deserialize)]
    struct List {
        list: Vec<Row>,
    }
    #[derive(Deserialize)]
    struct Envelope {
        result: List,
    }
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| format!("tickers is malformed: {e}"))?;
    env.result
        .list
        .into_iter()
        .map(|r| match r.turnover24h.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok((r.symbol, v)),
            _ => Err(format!("{}: turnover24h {:?}", r.symbol, r.turnover24h)),
        })
        .collect()
}

/// The reply for `rows` = `(symbol, last price, 24 h turnover)`, with the documented fields.
pub fn reply(rows: &[(String, String, f64)], now_ms: u64) -> String {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|(s, last, t)| {
            json!({
                "symbol": s, "lastPrice": last, "indexPrice": last, "markPrice": last,
                "prevPrice24h": last, "price24hPcnt": "0", "highPrice24h": last, "lowPrice24h": last,
                "prevPrice1h": last, "openInterest": "0", "openInterestValue": "0",
                "turnover24h": format!("{t:.4}"), "volume24h": "0", "fundingRate": "0.0001",
                "nextFundingTime": "0", "bid1Price": last, "bid1Size": "0", "ask1Price": last, "ask1Size": "0"
            })
        })
        .collect();
    json!({
        "retCode": 0, "retMsg": "OK",
        "result": {"category": "linear", "list": list},
        "retExtInfo": {}, "time": now_ms
    })
    .to_string()
}
