//! The venue-specific side of order transport: which signed request bytes to send (orders,
//! order-status queries, position and open-order queries) and how to read the venue's replies.
//!
//! [`OrderVenue`] is the plug-in point: the Binance USD-M builder today; a Bybit v5 variant
//! (`POST /v5/order/create`, `X-BAPI-*` headers, `retCode` replies) slots in as a second variant
//! with the same methods.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::binance_order::{BinanceOrderBuilder, OrderFields};

/// The outcome a venue reply says an order has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderReply {
    /// Filled (in full or in part): average price and executed quantity.
    Filled {
        /// Venue order id.
        order_id: u64,
        /// Average fill price.
        price: Decimal,
        /// Executed quantity.
        qty: Decimal,
    },
    /// Accepted and working (not filled yet): query again later.
    Accepted {
        /// Venue order id.
        order_id: u64,
    },
    /// Finished without a fill (cancelled, expired, rejected by matching).
    Closed,
    /// The venue does not know the order (Binance -2013).
    NotFound,
    /// The venue refused the request with this error code.
    Error {
        /// Venue error code (Binance `code`).
        code: i64,
    },
    /// Not understood (5xx, malformed body): the outcome is unknown, query again.
    Unknown,
}

/// A venue position from a position query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenuePosition {
    /// Venue symbol.
    pub symbol: String,
    /// Signed quantity (long > 0).
    pub qty: Decimal,
    /// Average entry price.
    pub entry: Decimal,
}

/// An open (working) order at the venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueOpenOrder {
    /// Venue symbol.
    pub symbol: String,
    /// Client order id.
    pub client_id: String,
    /// Venue order id.
    pub order_id: u64,
}

/// Builds signed venue requests into reused buffers and parses replies.
pub enum OrderVenue {
    /// Binance USD-M futures.
    Binance(BinanceVenue),
}

/// Binance USD-M: the order builder plus order-status and account queries signed with the
/// same key (`GET …?<params>&signature=hex(HMAC(secret, params))`, header `X-MBX-APIKEY`).
pub struct BinanceVenue {
    builder: BinanceOrderBuilder,
    api_key: String,
    host: String,
    recv_window_ms: u64,
    params: Vec<u8>,
    request: Vec<u8>,
}

impl BinanceVenue {
    /// Wraps `builder`; `api_key`, `host` and `recv_window_ms` must be the builder's.
    pub fn new(
        builder: BinanceOrderBuilder,
        api_key: &str,
        host: &str,
        recv_window_ms: u64,
    ) -> Self {
        Self {
            builder,
            api_key: api_key.to_string(),
            host: host.to_string(),
            recv_window_ms,
            params: Vec::with_capacity(256),
            request: Vec::with_capacity(1024),
        }
    }

    fn signed_get(&mut self, path: &[u8], ts_ms: u64) -> &[u8] {
        let p = &mut self.params;
        if !p.is_empty() {
            p.push(b'&');
        }
        p.extend_from_slice(b"recvWindow=");
        p.extend_from_slice(itoa::Buffer::new().format(self.recv_window_ms).as_bytes());
        p.extend_from_slice(b"&timestamp=");
        p.extend_from_slice(itoa::Buffer::new().format(ts_ms).as_bytes());
        let sig = self.builder.sign_payload(p);
        p.extend_from_slice(b"&signature=");
        p.extend_from_slice(&sig);
        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(b"GET ");
        r.extend_from_slice(path);
        r.push(b'?');
        r.extend_from_slice(p);
        r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        r.extend_from_slice(self.host.as_bytes());
        r.extend_from_slice(b"\r\nX-MBX-APIKEY: ");
        r.extend_from_slice(self.api_key.as_bytes());
        r.extend_from_slice(b"\r\n\r\n");
        &self.request
    }
}

#[derive(Deserialize)]
struct BinanceOrderJson<'a> {
    #[serde(default, borrow)]
    status: Option<&'a str>,
    #[serde(default, rename = "orderId")]
    order_id: Option<u64>,
    #[serde(default, rename = "avgPrice", borrow)]
    avg_price: Option<&'a str>,
    #[serde(default, rename = "executedQty", borrow)]
    executed_qty: Option<&'a str>,
    #[serde(default)]
    code: Option<i64>,
}

#[derive(Deserialize)]
struct BinancePositionJson {
    symbol: String,
    #[serde(rename = "positionAmt")]
    position_amt: String,
    #[serde(rename = "entryPrice")]
    entry_price: String,
}

#[derive(Deserialize)]
struct BinanceOpenOrderJson {
    symbol: String,
    #[serde(rename = "clientOrderId")]
    client_order_id: String,
    #[serde(rename = "orderId")]
    order_id: u64,
}

impl OrderVenue {
    /// The signed order request bytes (market order; see [`BinanceOrderBuilder::build`]).
    #[inline]
    pub fn build_order(&mut self, o: &OrderFields<'_>) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => v.builder.build(o),
        }
    }

    /// A signed order-status query by client order id `<prefix><session>-<seq>`
    /// (`ct<session>-<seq>`, see [`super::journal::client_order_id`]). No allocation.
    pub fn build_query_order(&mut self, symbol: &str, session: u32, seq: u64, ts_ms: u64) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => {
                v.params.clear();
                v.params.extend_from_slice(b"symbol=");
                v.params.extend_from_slice(symbol.as_bytes());
                v.params.extend_from_slice(b"&origClientOrderId=ct");
                v.params
                    .extend_from_slice(itoa::Buffer::new().format(session).as_bytes());
                v.params.push(b'-');
                v.params
                    .extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
                v.signed_get(b"/fapi/v1/order", ts_ms)
            }
        }
    }

    /// A signed query of all positions.
    pub fn build_positions(&mut self, ts_ms: u64) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => {
                v.params.clear();
                v.signed_get(b"/fapi/v2/positionRisk", ts_ms)
            }
        }
    }

    /// A signed query of all open orders.
    pub fn build_open_orders(&mut self, ts_ms: u64) -> &[u8] {
        match self {
            OrderVenue::Binance(v) => {
                v.params.clear();
                v.signed_get(b"/fapi/v1/openOrders", ts_ms)
            }
        }
    }

    /// Reads an order reply (new order or status query). No allocation.
    pub fn parse_order_reply(&self, status: u16, body: &[u8]) -> OrderReply {
        match self {
            OrderVenue::Binance(_) => parse_binance_order(status, body),
        }
    }

    /// Reads a position query reply (cold path).
    pub fn parse_positions(&self, body: &[u8]) -> Result<Vec<VenuePosition>, String> {
        match self {
            OrderVenue::Binance(_) => {
                let rows: Vec<BinancePositionJson> =
                    serde_json::from_slice(body).map_err(|e| format!("positionRisk reply: {e}"))?;
                rows.into_iter()
                    .map(|r| {
                        let dec = |v: &str| {
                            Decimal::from_str(v)
                                .map_err(|e| format!("positionRisk {}: {v:?}: {e}", r.symbol))
                        };
                        Ok(VenuePosition {
                            qty: dec(&r.position_amt)?,
                            entry: dec(&r.entry_price)?,
                            symbol: r.symbol,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Reads an open-orders reply (cold path).
    pub fn parse_open_orders(&self, body: &[u8]) -> Result<Vec<VenueOpenOrder>, String> {
        match self {
            OrderVenue::Binance(_) => {
                let rows: Vec<BinanceOpenOrderJson> =
                    serde_json::from_slice(body).map_err(|e| format!("openOrders reply: {e}"))?;
                Ok(rows
                    .into_iter()
                    .map(|r| VenueOpenOrder {
                        symbol: r.symbol,
                        client_id: r.client_order_id,
                        order_id: r.order_id,
                    })
                    .collect())
            }
        }
    }
}

fn parse_binance_order(status: u16, body: &[u8]) -> OrderReply {
    let Ok(j) = serde_json::from_slice::<BinanceOrderJson<'_>>(body) else {
        return OrderReply::Unknown;
    };
    if let Some(code) = j.code.filter(|_| status != 200) {
        return if code == -2013 {
            OrderReply::NotFound
        } else {
            OrderReply::Error { code }
        };
    }
    if status != 200 {
        return OrderReply::Unknown;
    }
    let order_id = j.order_id.unwrap_or(0);
    let dec = |v: Option<&str>| v.and_then(|s| Decimal::from_str(s).ok());
    match j.status {
        Some("FILLED") | Some("PARTIALLY_FILLED") => {
            match (dec(j.avg_price), dec(j.executed_qty)) {
                (Some(price), Some(qty)) if qty > Decimal::ZERO && price > Decimal::ZERO => {
                    OrderReply::Filled {
                        order_id,
                        price,
                        qty,
                    }
                }
                _ => OrderReply::Accepted { order_id },
            }
        }
        Some("NEW") => OrderReply::Accepted { order_id },
        Some("CANCELED") | Some("EXPIRED") | Some("REJECTED") | Some("EXPIRED_IN_MATCH") => {
            OrderReply::Closed
        }
        _ => OrderReply::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Signer;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn binance_replies_are_classified() {
        // The venue's documented ACK-style reply (exchange_messages/binance/rest_new_order_response_sdkdocs.json).
        let ack = br#"{"clientOrderId":"testOrder","cumQty":"0","executedQty":"0","orderId":22542179,"origQty":"10","price":"0","reduceOnly":false,"side":"SELL","positionSide":"SHORT","status":"NEW","stopPrice":"0","closePosition":false,"symbol":"BTCUSDT","timeInForce":"GTD","type":"LIMIT","origType":"LIMIT","updateTime":1566818724722,"workingType":"CONTRACT_PRICE","priceProtect":false,"priceMatch":"NONE","selfTradePreventionMode":"NONE","goodTillDate":1693207680000}"#;
        let v = OrderVenue::Binance(BinanceVenue::new(
            BinanceOrderBuilder::new("k", b"s", "h", 5000, "ct1-"),
            "k",
            "h",
            5000,
        ));
        assert_eq!(
            v.parse_order_reply(200, ack),
            OrderReply::Accepted { order_id: 22542179 }
        );
        let filled =
            br#"{"orderId":5,"status":"FILLED","avgPrice":"61800.30","executedQty":"0.016"}"#;
        assert_eq!(
            v.parse_order_reply(200, filled),
            OrderReply::Filled {
                order_id: 5,
                price: d("61800.30"),
                qty: d("0.016")
            }
        );
        // Real venue error bodies (exchange_messages/binance/rest_error_*.json).
        assert_eq!(
            v.parse_order_reply(400, br#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#),
            OrderReply::Error { code: -1021 }
        );
        assert_eq!(
            v.parse_order_reply(400, br#"{"code":-2013,"msg":"Order does not exist."}"#),
            OrderReply::NotFound
        );
        assert_eq!(v.parse_order_reply(502, b"<html>"), OrderReply::Unknown);
    }

    #[test]
    fn status_query_is_signed_over_its_query_string() {
        let secret = b"s3cr3t";
        let mut v = OrderVenue::Binance(BinanceVenue::new(
            BinanceOrderBuilder::new("key1", secret, "127.0.0.1:9", 5000, "ct2-"),
            "key1",
            "127.0.0.1:9",
            5000,
        ));
        let req = String::from_utf8(
            v.build_query_order("BTCUSDT", 2, 17, 1_700_000_000_000)
                .to_vec(),
        )
        .unwrap();
        let line = req.lines().next().unwrap();
        let q = line
            .strip_prefix("GET /fapi/v1/order?")
            .and_then(|l| l.strip_suffix(" HTTP/1.1"))
            .unwrap();
        let (params, sig) = q.rsplit_once("&signature=").unwrap();
        assert_eq!(
            params,
            "symbol=BTCUSDT&origClientOrderId=ct2-17&recvWindow=5000&timestamp=1700000000000"
        );
        assert!(Signer::new(secret).verify_hex(params.as_bytes(), sig.as_bytes()));
        assert!(req.contains("\r\nX-MBX-APIKEY: key1\r\n"));
    }
}
