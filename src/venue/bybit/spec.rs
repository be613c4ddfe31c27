//! Bybit v5 `instruments-info` (linear): the price, lot-size and leverage filters of each
//! symbol as an [`Instrument`].

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::types::Instrument;
use crate::venue::error::VenueError;

use crate::venue::SpecRows;

fn dec(sym: &str, field: &str, v: &str) -> Result<Decimal, String> {
    Decimal::from_str(v).map_err(|_| format!("{sym}: {field} {v:?} is not a decimal"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitRow {
    symbol: String,
    #[serde(default)]
    status: String,
    price_filter: BybitPriceFilter,
    lot_size_filter: BybitLotFilter,
    leverage_filter: Option<BybitLeverageFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitPriceFilter {
    tick_size: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitLotFilter {
    qty_step: String,
    min_order_qty: String,
    max_order_qty: String,
    max_mkt_order_qty: Option<String>,
    min_notional_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BybitLeverageFilter {
    max_leverage: String,
}

impl BybitRow {
    fn instrument(&self) -> Result<Instrument, String> {
        let s = self.symbol.as_str();
        if !self.status.is_empty() && self.status != "Trading" {
            return Err(format!("{s}: status {:?}, not Trading", self.status));
        }
        let l = &self.lot_size_filter;
        let max_qty = dec(s, "lotSizeFilter.maxOrderQty", &l.max_order_qty)?;
        let max_mkt = match l.max_mkt_order_qty.as_deref() {
            Some(v) if !v.is_empty() => dec(s, "lotSizeFilter.maxMktOrderQty", v)?,
            _ => max_qty,
        };
        let min_notional = match l.min_notional_value.as_deref() {
            Some(v) if !v.is_empty() => dec(s, "lotSizeFilter.minNotionalValue", v)?,
            _ => Decimal::ZERO,
        };
        let max_lev = match &self.leverage_filter {
            Some(f) if !f.max_leverage.is_empty() => {
                Some(dec(s, "leverageFilter.maxLeverage", &f.max_leverage)?)
            }
            _ => None,
        };
        Instrument::new(
            dec(s, "priceFilter.tickSize", &self.price_filter.tick_size)?,
            dec(s, "lotSizeFilter.qtyStep", &l.qty_step)?,
            dec(s, "lotSizeFilter.minOrderQty", &l.min_order_qty)?,
            max_mkt,
            min_notional,
        )
        .map(|i| i.with_limits(max_qty, max_lev))
        .map_err(|e| format!("{s}: {e}"))
    }
}

/// The pages of one paged `instruments-info` read, merged into one reply of the same shape, so
/// a cached merge parses like a fresh reply.
#[derive(Debug, Default)]
pub struct InstrumentPages {
    list: Vec<serde_json::Value>,
}

impl InstrumentPages {
    /// Checks one page ([`parse_instruments`]) and keeps its rows; returns its
    /// `nextPageCursor` (empty on the last page).
    pub fn add(&mut self, body: &[u8]) -> Result<String, String> {
        let (_, next) = parse_instruments(body)?;
        let mut v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        if let Some(list) = v["result"]["list"].as_array_mut() {
            self.list.append(list);
        }
        Ok(next)
    }

    /// One reply holding the rows of every page added.
    pub fn merged(self) -> Result<Vec<u8>, String> {
        let merged = serde_json::json!({
            "retCode": 0,
            "retMsg": "OK",
            "result": {"category": "linear", "list": self.list, "nextPageCursor": ""},
        });
        serde_json::to_vec(&merged).map_err(|e| e.to_string())
    }
}

/// Parses one `GET /v5/market/instruments-info` page: its rows and its `nextPageCursor` (empty at the end).
pub fn parse_instruments(body: &[u8]) -> Result<(SpecRows, String), String> {
    if let Some(e) = VenueError::from_bybit(200, body) {
        return Err(e.to_string());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        list: Vec<BybitRow>,
        #[serde(default)]
        next_page_cursor: String,
    }
    #[derive(Deserialize)]
    struct Envelope {
        result: Page,
    }
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| format!("instruments-info is malformed: {e}"))?;
    let rows = env
        .result
        .list
        .iter()
        .map(|r| (r.symbol.clone(), r.instrument()))
        .collect();
    Ok((rows, env.result.next_page_cursor))
}
