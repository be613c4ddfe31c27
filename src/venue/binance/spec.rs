//! Binance USD-M `exchangeInfo`: the PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE and MIN_NOTIONAL
//! filters of each symbol as an [`Instrument`].

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
struct BinanceRow {
    symbol: String,
    #[serde(default)]
    status: String,
    filters: Vec<serde_json::Value>,
}

impl BinanceRow {
    fn filter(&self, kind: &str) -> Option<&serde_json::Value> {
        self.filters
            .iter()
            .find(|f| f.get("filterType").and_then(|t| t.as_str()) == Some(kind))
    }

    fn field(&self, kind: &str, key: &str) -> Result<Option<Decimal>, String> {
        match self.filter(kind).and_then(|f| f.get(key)) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(t) => dec(&self.symbol, &format!("{kind}.{key}"), t).map(Some),
                None => Err(format!("{}: {kind}.{key} is not a string", self.symbol)),
            },
        }
    }

    fn instrument(&self) -> Result<Instrument, String> {
        let s = self.symbol.as_str();
        if !self.status.is_empty() && self.status != "TRADING" {
            return Err(format!("{s}: status {:?}, not TRADING", self.status));
        }
        let need = |v: Option<Decimal>, what: &str| v.ok_or_else(|| format!("{s}: no {what}"));
        let tick = need(
            self.field("PRICE_FILTER", "tickSize")?,
            "PRICE_FILTER.tickSize",
        )?;
        let step = need(self.field("LOT_SIZE", "stepSize")?, "LOT_SIZE.stepSize")?;
        let min_qty = need(self.field("LOT_SIZE", "minQty")?, "LOT_SIZE.minQty")?;
        let max_qty = need(self.field("LOT_SIZE", "maxQty")?, "LOT_SIZE.maxQty")?;
        let m_step = self.field("MARKET_LOT_SIZE", "stepSize")?.unwrap_or(step);
        let m_min = self.field("MARKET_LOT_SIZE", "minQty")?.unwrap_or(min_qty);
        let m_max = self.field("MARKET_LOT_SIZE", "maxQty")?.unwrap_or(max_qty);
        // USD-M publishes `notional`; older/spot-style replies `minNotional`.
        let min_notional = match self.field("MIN_NOTIONAL", "notional")? {
            Some(n) => n,
            None => self
                .field("MIN_NOTIONAL", "minNotional")?
                .unwrap_or(Decimal::ZERO),
        };
        // One step must satisfy both lot filters: the coarser when it is a multiple of the finer.
        let step = if m_step > step && (m_step % step).is_zero() {
            m_step
        } else {
            step
        };
        Instrument::new(tick, step, min_qty.max(m_min), m_max, min_notional)
            .map(|i| i.with_limits(max_qty, None))
            .map_err(|e| format!("{s}: {e}"))
    }
}

/// Parses a `GET /fapi/v1/exchangeInfo` reply: one row per listed symbol.
pub fn parse_exchange_info(body: &[u8]) -> Result<SpecRows, String> {
    #[derive(Deserialize)]
    struct Info {
        symbols: Vec<BinanceRow>,
    }
    if let Some(e) = VenueError::from_binance(200, body) {
        return Err(e.to_string());
    }
    let info: Info =
        serde_json::from_slice(body).map_err(|e| format!("exchangeInfo is malformed: {e}"))?;
    Ok(info
        .symbols
        .iter()
        .map(|r| (r.symbol.clone(), r.instrument()))
        .collect())
}
