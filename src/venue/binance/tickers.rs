//! Binance USD-M `GET /fapi/v1/ticker/24hr` (every symbol): the 24 h quote volume that ranks
//! symbols for `--symbols N`, and the reply the embedded exchange serves.

use serde::Deserialize;
use serde_json::json;

use crate::venue::error::VenueError;

/// Path of the all-symbols 24 h ticker request (public, weight 40).
pub const PATH: &str = "/fapi/v1/ticker/24hr";

/// `(symbol, quoteVolume)` of every row of a `ticker/24hr` reply, in reply order.
pub fn parse(body: &[u8]) -> Result<Vec<(String, f64)>, String> {
    if let Some(e) = VenueError::from_binance(200, body) {
        return Err(e.to_string());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        symbol: String,
        quote_volume: String,
    }
    let rows: Vec<Row> =
        serde_json::from_slice(body).map_err(|e| format!("ticker/24hr is malformed: {e}"))?;
    rows.into_iter()
        .map(|r| match r.quote_volume.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok((r.symbol, v)),
            _ => Err(format!("{}: quoteVolume {:?}", r.symbol, r.quote_volume)),
        })
        .collect()
}

/// The reply for `rows` = `(symbol, last price, quote volume)`, with the documented fields.
pub fn reply(rows: &[(String, String, f64)], now_ms: u64) -> String {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|(s, last, qv)| {
            json!({
                "symbol": s, "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": last,
                "lastPrice": last, "lastQty": "0", "openPrice": last, "highPrice": last, "lowPrice": last,
                "volume": "0", "quoteVolume": format!("{qv:.2}"), "openTime": now_ms.saturating_sub(86_400_000),
                "closeTime": now_ms, "firstId": 0, "lastId": 0, "count": 0
            })
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}
