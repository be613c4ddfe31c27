//! Signed REST requests other than order entry (cold path) for Bybit v5 and Binance USD-M:
//! set leverage, cancel, cancel all, positions, wallet balance, server time, instruments;
//! the reply parsers (order ack, positions, wallet, time, errors) and the clock-offset
//! estimator behind every request timestamp.
//!
//! A request is data ([`ApiRequest`]: method, path + query, headers, body); the transport
//! (HTTP/1.1 keep-alive over TLS, owned by the orders module) sends it, e.g. via
//! [`ApiRequest::to_http1`].

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::order_request::valid_symbol;
use super::sign::Signer;
use super::venue_error::VenueError;
use crate::types::instrument::write_decimal;

/// A supported venue (one type for market data and orders).
pub use crate::feed::protocol::Venue;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET (payload in the query string).
    Get,
    /// POST (payload in the body).
    Post,
    /// DELETE (Binance cancels; payload in the query string).
    Delete,
}

impl Method {
    /// The method token.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One REST request, signed when the endpoint needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// Method.
    pub method: Method,
    /// Path plus `?query` when there is one, exactly as signed.
    pub path_and_query: String,
    /// Extra headers (API key, signature, timestamp, content type).
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes exactly as signed (empty for GET/DELETE).
    pub body: Vec<u8>,
}

impl std::fmt::Debug for ApiRequest {
    /// Prints everything except header values that identify the account (the API key).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let shown = if k.eq_ignore_ascii_case("X-BAPI-API-KEY")
                    || k.eq_ignore_ascii_case("X-MBX-APIKEY")
                {
                    "***"
                } else {
                    v.as_str()
                };
                (*k, shown)
            })
            .collect();
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl ApiRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The HTTP/1.1 request bytes for `host` (keep-alive is HTTP/1.1's default).
    pub fn to_http1(&self, host: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.path_and_query.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(host.as_bytes());
        for (k, v) in &self.headers {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
        }
        if self.method == Method::Post {
            out.extend_from_slice(b"\r\nContent-Length: ");
            out.extend_from_slice(self.body.len().to_string().as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    fn unsigned(path_and_query: String) -> Self {
        Self {
            method: Method::Get,
            path_and_query,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// Which order to cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRef<'a> {
    /// Our client order id (`orderLinkId` / `origClientOrderId`).
    Client(&'a str),
    /// The venue's order id (`orderId`).
    Venue(&'a str),
}

fn check_symbol(s: &str) -> Result<(), String> {
    if valid_symbol(s) {
        Ok(())
    } else {
        Err(format!("symbol {s:?} must be 1-32 ASCII letters/digits"))
    }
}

fn check_id(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
    {
        Ok(())
    } else {
        Err(format!("order id {s:?} has characters no venue accepts"))
    }
}

fn decimal_text(d: Decimal) -> String {
    let mut v = Vec::new();
    write_decimal(&mut v, d, true);
    String::from_utf8(v).unwrap_or_default()
}

/// `path` alone, or `path?query` when there is a query.
fn path_and_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// `k1=v1&k2=v2…` (values are checked symbols, ids and numbers: nothing to escape).
fn form(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// `{"k1":"v1","k2":"v2"…}` (values are checked symbols, ids and numbers: nothing to escape).
fn json_object(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!(r#""{k}":"{v}""#))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// The shape both venues' signed non-order endpoints share: a list of `key = value` parameters,
/// prefixed by the venue's fixed ones, encoded and signed the venue's way.
trait ParamsApi {
    /// Parameters every request starts with (Bybit: `category=linear`).
    const FIXED: &'static [(&'static str, &'static str)];
    /// Key of our client order id in a cancel (the venue's id is `orderId` on both).
    const CLIENT_ID_KEY: &'static str;
    /// The signed request of `params`, taken as given, to `path`, encoded the venue's way.
    fn encode(&self, method: Method, path: &str, params: &[(&str, &str)], ts: u64) -> ApiRequest;

    /// `encode` with `FIXED` in front of `params`.
    fn request(&self, method: Method, path: &str, params: &[(&str, &str)], ts: u64) -> ApiRequest {
        let all: Vec<(&str, &str)> = Self::FIXED.iter().chain(params).copied().collect();
        self.encode(method, path, &all, ts)
    }

    /// A cancel of one order: checks `symbol` and the id, then `symbol` + the id's key and value.
    fn cancel(
        &self,
        method: Method,
        path: &str,
        symbol: &str,
        order: OrderRef<'_>,
        ts: u64,
    ) -> Result<ApiRequest, String> {
        check_symbol(symbol)?;
        let (k, id) = match order {
            OrderRef::Client(id) => (Self::CLIENT_ID_KEY, id),
            OrderRef::Venue(id) => ("orderId", id),
        };
        check_id(id)?;
        Ok(self.request(method, path, &[("symbol", symbol), (k, id)], ts))
    }

    /// A request scoped to `symbol` when given (checked), else with the parameters `all`.
    fn for_symbol(
        &self,
        method: Method,
        path: &str,
        symbol: Option<&str>,
        all: &[(&str, &str)],
        ts: u64,
    ) -> Result<ApiRequest, String> {
        match symbol {
            Some(s) => {
                check_symbol(s)?;
                Ok(self.request(method, path, &[("symbol", s)], ts))
            }
            None => Ok(self.request(method, path, all, ts)),
        }
    }
}

/// Bybit v5 signed request builder for the non-order endpoints (category `linear`).
pub struct BybitApi {
    signer: Signer,
    api_key: String,
    recv_window: String,
}

impl std::fmt::Debug for BybitApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BybitApi { key: *** }")
    }
}

impl ParamsApi for BybitApi {
    const FIXED: &'static [(&'static str, &'static str)] = &[("category", "linear")];
    const CLIENT_ID_KEY: &'static str = "orderLinkId";

    /// A JSON body for POST, a query string otherwise.
    fn encode(&self, method: Method, path: &str, params: &[(&str, &str)], ts: u64) -> ApiRequest {
        if method == Method::Post {
            self.signed(method, path, "", json_object(params), ts)
        } else {
            self.signed(method, path, &form(params), String::new(), ts)
        }
    }
}

impl BybitApi {
    /// A request builder signing with `secret`; `recv_window_ms` goes to `X-BAPI-RECV-WINDOW`.
    pub fn new(api_key: &str, secret: &[u8], recv_window_ms: u64) -> Self {
        Self {
            signer: Signer::new(secret),
            api_key: api_key.to_string(),
            recv_window: recv_window_ms.to_string(),
        }
    }

    fn signed(&self, method: Method, path: &str, query: &str, body: String, ts: u64) -> ApiRequest {
        let mut sig = [0u8; 64];
        let payload = if method == Method::Post {
            body.as_bytes()
        } else {
            query.as_bytes()
        };
        self.signer.sign_parts_hex(
            &[
                ts.to_string().as_bytes(),
                self.api_key.as_bytes(),
                self.recv_window.as_bytes(),
                payload,
            ],
            &mut sig,
        );
        let mut headers = vec![
            ("X-BAPI-API-KEY", self.api_key.clone()),
            ("X-BAPI-SIGN", String::from_utf8_lossy(&sig).into_owned()),
            ("X-BAPI-SIGN-TYPE", "2".to_string()),
            ("X-BAPI-TIMESTAMP", ts.to_string()),
            ("X-BAPI-RECV-WINDOW", self.recv_window.clone()),
        ];
        if method == Method::Post {
            headers.push(("Content-Type", "application/json".to_string()));
        }
        ApiRequest {
            method,
            path_and_query: path_and_query(path, query),
            headers,
            body: body.into_bytes(),
        }
    }

    /// Any signed GET: `sign = HMAC(ts + key + recv_window + query)`.
    pub fn signed_get(&self, path: &str, query: &str, ts: u64) -> ApiRequest {
        self.signed(Method::Get, path, query, String::new(), ts)
    }

    /// Any signed POST with a JSON body: `sign = HMAC(ts + key + recv_window + body)`.
    pub fn signed_post(&self, path: &str, json_body: String, ts: u64) -> ApiRequest {
        self.signed(Method::Post, path, "", json_body, ts)
    }

    /// `POST /v5/position/set-leverage` with `buyLeverage = sellLeverage = leverage`
    /// (retCode 110043 = already at that leverage, see [`super::venue_error::ErrorKind::NotModified`]).
    pub fn set_leverage(
        &self,
        symbol: &str,
        leverage: Decimal,
        ts: u64,
    ) -> Result<ApiRequest, String> {
        check_symbol(symbol)?;
        if leverage <= Decimal::ZERO {
            return Err(format!("leverage must be positive, got {leverage}"));
        }
        let l = decimal_text(leverage);
        let params = [
            ("symbol", symbol),
            ("buyLeverage", &l),
            ("sellLeverage", &l),
        ];
        Ok(self.request(Method::Post, "/v5/position/set-leverage", &params, ts))
    }

    /// `POST /v5/order/cancel` by client (`orderLinkId`) or venue (`orderId`) id.
    pub fn cancel_order(
        &self,
        symbol: &str,
        order: OrderRef<'_>,
        ts: u64,
    ) -> Result<ApiRequest, String> {
        self.cancel(Method::Post, "/v5/order/cancel", symbol, order, ts)
    }

    /// `POST /v5/order/cancel-all` for `symbol`, or every USDT-settled linear order when `None`
    /// (this also cancels conditional TP/SL orders).
    pub fn cancel_all(&self, symbol: Option<&str>, ts: u64) -> Result<ApiRequest, String> {
        let all = [("settleCoin", "USDT")];
        self.for_symbol(Method::Post, "/v5/order/cancel-all", symbol, &all, ts)
    }

    /// `GET /v5/position/list?category=linear&symbol=…` (or `&settleCoin=USDT` for all).
    pub fn positions(&self, symbol: Option<&str>, ts: u64) -> Result<ApiRequest, String> {
        let all = [("settleCoin", "USDT")];
        self.for_symbol(Method::Get, "/v5/position/list", symbol, &all, ts)
    }

    /// `GET /v5/account/wallet-balance?accountType=UNIFIED`.
    pub fn wallet_balance(&self, ts: u64) -> ApiRequest {
        self.signed_get("/v5/account/wallet-balance", "accountType=UNIFIED", ts)
    }

    /// `GET /v5/market/time` (public).
    pub fn server_time() -> ApiRequest {
        ApiRequest::unsigned("/v5/market/time".to_string())
    }

    /// `GET /v5/market/instruments-info?category=linear&limit=1000[&cursor=…]` (public, paged).
    pub fn instruments(cursor: Option<&str>) -> ApiRequest {
        let mut p = "/v5/market/instruments-info?category=linear&limit=1000".to_string();
        if let Some(c) = cursor.filter(|c| !c.is_empty()) {
            p.push_str("&cursor=");
            p.push_str(&url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>());
        }
        ApiRequest::unsigned(p)
    }
}

/// Binance USD-M signed request builder for the non-order endpoints.
pub struct BinanceApi {
    signer: Signer,
    api_key: String,
    recv_window_ms: u64,
}

impl std::fmt::Debug for BinanceApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BinanceApi { key: *** }")
    }
}

impl ParamsApi for BinanceApi {
    const FIXED: &'static [(&'static str, &'static str)] = &[];
    const CLIENT_ID_KEY: &'static str = "origClientOrderId";

    /// `k=v&…` signed by [`BinanceApi::signed`].
    fn encode(&self, method: Method, path: &str, params: &[(&str, &str)], ts: u64) -> ApiRequest {
        self.signed(method, path, &form(params), ts)
    }
}

impl BinanceApi {
    /// A request builder signing with `secret`; `recv_window_ms` is sent as `recvWindow`.
    pub fn new(api_key: &str, secret: &[u8], recv_window_ms: u64) -> Self {
        Self {
            signer: Signer::new(secret),
            api_key: api_key.to_string(),
            recv_window_ms,
        }
    }

    /// Any signed request: `params&recvWindow=…&timestamp=…&signature=hex(HMAC(that))`, in the
    /// body for POST (form) and in the query string otherwise.
    pub fn signed(&self, method: Method, path: &str, params: &str, ts: u64) -> ApiRequest {
        let mut total = String::with_capacity(params.len() + 64);
        total.push_str(params);
        if !total.is_empty() {
            total.push('&');
        }
        total.push_str(&format!(
            "recvWindow={}&timestamp={ts}",
            self.recv_window_ms
        ));
        let mut sig = [0u8; 64];
        self.signer.sign_hex(total.as_bytes(), &mut sig);
        total.push_str("&signature=");
        total.push_str(std::str::from_utf8(&sig).unwrap_or_default());
        let mut headers = vec![("X-MBX-APIKEY", self.api_key.clone())];
        let (query, body) = if method == Method::Post {
            headers.push((
                "Content-Type",
                "application/x-www-form-urlencoded".to_string(),
            ));
            (String::new(), total.into_bytes())
        } else {
            (total, Vec::new())
        };
        ApiRequest {
            method,
            path_and_query: path_and_query(path, &query),
            headers,
            body,
        }
    }

    /// `POST /fapi/v1/leverage` (`leverage` 1–125, an integer on Binance).
    pub fn set_leverage(&self, symbol: &str, leverage: u32, ts: u64) -> Result<ApiRequest, String> {
        check_symbol(symbol)?;
        if !(1..=125).contains(&leverage) {
            return Err(format!("Binance leverage must be 1..=125, got {leverage}"));
        }
        let params = [("symbol", symbol), ("leverage", &leverage.to_string())];
        Ok(self.request(Method::Post, "/fapi/v1/leverage", &params, ts))
    }

    /// `DELETE /fapi/v1/order` by client (`origClientOrderId`) or venue (`orderId`) id.
    pub fn cancel_order(
        &self,
        symbol: &str,
        order: OrderRef<'_>,
        ts: u64,
    ) -> Result<ApiRequest, String> {
        self.cancel(Method::Delete, "/fapi/v1/order", symbol, order, ts)
    }

    /// `DELETE /fapi/v1/allOpenOrders?symbol=…` (Binance requires the symbol).
    pub fn cancel_all(&self, symbol: &str, ts: u64) -> Result<ApiRequest, String> {
        self.for_symbol(
            Method::Delete,
            "/fapi/v1/allOpenOrders",
            Some(symbol),
            &[],
            ts,
        )
    }

    /// `DELETE /fapi/v1/algoOpenOrders?symbol=…`: cancels the conditional TP/SL algo orders.
    pub fn cancel_all_algo(&self, symbol: &str, ts: u64) -> Result<ApiRequest, String> {
        self.for_symbol(
            Method::Delete,
            "/fapi/v1/algoOpenOrders",
            Some(symbol),
            &[],
            ts,
        )
    }

    /// `GET /fapi/v2/positionRisk[?symbol=…]`.
    pub fn positions(&self, symbol: Option<&str>, ts: u64) -> Result<ApiRequest, String> {
        self.for_symbol(Method::Get, "/fapi/v2/positionRisk", symbol, &[], ts)
    }

    /// `GET /fapi/v2/balance`.
    pub fn wallet_balance(&self, ts: u64) -> ApiRequest {
        self.request(Method::Get, "/fapi/v2/balance", &[], ts)
    }

    /// `GET /fapi/v1/time` (public).
    pub fn server_time() -> ApiRequest {
        ApiRequest::unsigned("/fapi/v1/time".to_string())
    }

    /// `GET /fapi/v1/exchangeInfo` (public).
    pub fn exchange_info() -> ApiRequest {
        ApiRequest::unsigned("/fapi/v1/exchangeInfo".to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Replies.

/// Why a reply could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The venue answered with an error.
    Venue(VenueError),
    /// The reply is not the documented shape (names the field).
    Malformed(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Venue(e) => e.fmt(f),
            ApiError::Malformed(m) => write!(f, "malformed venue reply: {m}"),
        }
    }
}

impl std::error::Error for ApiError {}

fn dec_field(field: &str, v: &str) -> Result<Decimal, ApiError> {
    Decimal::from_str(v)
        .or_else(|_| Decimal::from_scientific(v))
        .map_err(|_| ApiError::Malformed(format!("{field} {v:?} is not a decimal")))
}

fn opt_dec(field: &str, v: &Option<String>) -> Result<Option<Decimal>, ApiError> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => dec_field(field, s).map(Some),
    }
}

/// Checks a Bybit v5 envelope and returns `result` as `T`.
fn bybit_result<T: for<'de> Deserialize<'de>>(status: u16, body: &[u8]) -> Result<T, ApiError> {
    if let Some(e) = VenueError::from_bybit(status, body) {
        return Err(ApiError::Venue(e));
    }
    #[derive(Deserialize)]
    struct Envelope<T> {
        result: T,
    }
    serde_json::from_slice::<Envelope<T>>(body)
        .map(|e| e.result)
        .map_err(|e| ApiError::Malformed(format!("bybit result: {e}")))
}

fn binance_result<T: for<'de> Deserialize<'de>>(status: u16, body: &[u8]) -> Result<T, ApiError> {
    if let Some(e) = VenueError::from_binance(status, body) {
        return Err(ApiError::Venue(e));
    }
    serde_json::from_slice::<T>(body)
        .map_err(|e| ApiError::Malformed(format!("binance reply: {e}")))
}

/// An accepted order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderAck {
    /// Venue order id (Binance's integer as text).
    pub order_id: String,
    /// Our client order id as echoed.
    pub client_order_id: String,
    /// Venue status (`NEW`, `FILLED`, …) when the venue reports it (Binance); empty for Bybit,
    /// whose create reply only acknowledges.
    pub status: String,
}

/// Parses a Bybit `POST /v5/order/create` reply.
pub fn parse_bybit_order_ack(status: u16, body: &[u8]) -> Result<OrderAck, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct R {
        order_id: String,
        #[serde(default)]
        order_link_id: String,
    }
    let r: R = bybit_result(status, body)?;
    Ok(OrderAck {
        order_id: r.order_id,
        client_order_id: r.order_link_id,
        status: String::new(),
    })
}

/// Parses a Binance `POST /fapi/v1/order` reply.
pub fn parse_binance_order_ack(status: u16, body: &[u8]) -> Result<OrderAck, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct R {
        order_id: u64,
        #[serde(default)]
        client_order_id: String,
        #[serde(default)]
        status: String,
    }
    let r: R = binance_result(status, body)?;
    Ok(OrderAck {
        order_id: r.order_id.to_string(),
        client_order_id: r.client_order_id,
        status: r.status,
    })
}

/// Checks a Bybit reply that carries no data (set leverage, cancel all). `Ok(false)` when the
/// venue says nothing changed (retCode 110043 etc.), `Ok(true)` when it acted.
pub fn parse_bybit_ack(status: u16, body: &[u8]) -> Result<bool, ApiError> {
    match VenueError::from_bybit(status, body) {
        None => Ok(true),
        Some(e) if e.kind == super::venue_error::ErrorKind::NotModified => Ok(false),
        Some(e) => Err(ApiError::Venue(e)),
    }
}

/// Parses a Binance `POST /fapi/v1/leverage` reply: the leverage now set.
pub fn parse_binance_leverage(status: u16, body: &[u8]) -> Result<u32, ApiError> {
    #[derive(Deserialize)]
    struct R {
        leverage: u32,
    }
    binance_result::<R>(status, body).map(|r| r.leverage)
}

/// One position as the venue reports it (one-way mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenuePosition {
    /// Symbol.
    pub symbol: String,
    /// Signed size: > 0 long, < 0 short, 0 flat.
    pub qty: Decimal,
    /// Average entry price.
    pub entry_price: Decimal,
    /// Mark price.
    pub mark_price: Decimal,
    /// Unrealised PnL, quote currency.
    pub unrealized_pnl: Decimal,
    /// Leverage setting, when reported.
    pub leverage: Option<Decimal>,
}

/// Parses Bybit `GET /v5/position/list` (`side` `Buy`/`Sell`, unsigned `size`).
pub fn parse_bybit_positions(status: u16, body: &[u8]) -> Result<Vec<VenuePosition>, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        symbol: String,
        side: String,
        size: String,
        avg_price: String,
        mark_price: String,
        unrealised_pnl: String,
        leverage: Option<String>,
    }
    #[derive(Deserialize)]
    struct R {
        list: Vec<Row>,
    }
    let r: R = bybit_result(status, body)?;
    r.list
        .into_iter()
        .map(|row| {
            let size = dec_field("size", &row.size)?;
            let qty = match row.side.as_str() {
                "Buy" => size,
                "Sell" => -size,
                "" | "None" if size.is_zero() => Decimal::ZERO,
                other => {
                    return Err(ApiError::Malformed(format!(
                        "{}: side {other:?} with size {size}",
                        row.symbol
                    )))
                }
            };
            Ok(VenuePosition {
                qty,
                entry_price: dec_field("avgPrice", &row.avg_price)?,
                mark_price: dec_field("markPrice", &row.mark_price)?,
                unrealized_pnl: dec_field("unrealisedPnl", &row.unrealised_pnl)?,
                leverage: opt_dec("leverage", &row.leverage)?,
                symbol: row.symbol,
            })
        })
        .collect()
}

/// Parses Binance `GET /fapi/v2/positionRisk` (signed `positionAmt`).
pub fn parse_binance_positions(status: u16, body: &[u8]) -> Result<Vec<VenuePosition>, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        symbol: String,
        position_amt: String,
        entry_price: String,
        mark_price: String,
        #[serde(rename = "unRealizedProfit")]
        unrealized_profit: String,
        leverage: Option<String>,
    }
    let rows: Vec<Row> = binance_result(status, body)?;
    rows.into_iter()
        .map(|row| {
            Ok(VenuePosition {
                qty: dec_field("positionAmt", &row.position_amt)?,
                entry_price: dec_field("entryPrice", &row.entry_price)?,
                mark_price: dec_field("markPrice", &row.mark_price)?,
                unrealized_pnl: dec_field("unRealizedProfit", &row.unrealized_profit)?,
                leverage: opt_dec("leverage", &row.leverage)?,
                symbol: row.symbol,
            })
        })
        .collect()
}

/// One asset's balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetBalance {
    /// Asset, e.g. `USDT`.
    pub asset: String,
    /// Wallet balance (deposits + realised PnL − fees).
    pub wallet_balance: Decimal,
    /// Equity (wallet + unrealised PnL), when reported.
    pub equity: Option<Decimal>,
    /// Available for new orders, when reported.
    pub available: Option<Decimal>,
    /// Unrealised PnL, when reported.
    pub unrealized_pnl: Option<Decimal>,
}

/// Account balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletBalance {
    /// Total equity in USD (Bybit unified account); `None` for Binance.
    pub total_equity: Option<Decimal>,
    /// Total available balance in USD (Bybit); `None` for Binance.
    pub total_available: Option<Decimal>,
    /// Per asset.
    pub assets: Vec<AssetBalance>,
}

impl WalletBalance {
    /// The balance of `asset`, if listed.
    pub fn asset(&self, asset: &str) -> Option<&AssetBalance> {
        self.assets.iter().find(|a| a.asset == asset)
    }
}

/// Parses Bybit `GET /v5/account/wallet-balance` (first account of the list).
pub fn parse_bybit_wallet(status: u16, body: &[u8]) -> Result<WalletBalance, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Coin {
        coin: String,
        wallet_balance: String,
        equity: Option<String>,
        unrealised_pnl: Option<String>,
        available_to_withdraw: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Account {
        total_equity: Option<String>,
        total_available_balance: Option<String>,
        coin: Vec<Coin>,
    }
    #[derive(Deserialize)]
    struct R {
        list: Vec<Account>,
    }
    let r: R = bybit_result(status, body)?;
    let acct = r
        .list
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Malformed("wallet-balance list is empty".into()))?;
    let assets = acct
        .coin
        .into_iter()
        .map(|c| {
            Ok(AssetBalance {
                wallet_balance: dec_field("walletBalance", &c.wallet_balance)?,
                equity: opt_dec("equity", &c.equity)?,
                available: opt_dec("availableToWithdraw", &c.available_to_withdraw)?,
                unrealized_pnl: opt_dec("unrealisedPnl", &c.unrealised_pnl)?,
                asset: c.coin,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(WalletBalance {
        total_equity: opt_dec("totalEquity", &acct.total_equity)?,
        total_available: opt_dec("totalAvailableBalance", &acct.total_available_balance)?,
        assets,
    })
}

/// Parses Binance `GET /fapi/v2/balance`.
pub fn parse_binance_wallet(status: u16, body: &[u8]) -> Result<WalletBalance, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        asset: String,
        balance: String,
        available_balance: Option<String>,
        cross_un_pnl: Option<String>,
    }
    let rows: Vec<Row> = binance_result(status, body)?;
    let assets = rows
        .into_iter()
        .map(|r| {
            let wallet = dec_field("balance", &r.balance)?;
            let upnl = opt_dec("crossUnPnl", &r.cross_un_pnl)?;
            Ok(AssetBalance {
                equity: upnl.map(|u| wallet + u),
                available: opt_dec("availableBalance", &r.available_balance)?,
                unrealized_pnl: upnl,
                wallet_balance: wallet,
                asset: r.asset,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(WalletBalance {
        total_equity: None,
        total_available: None,
        assets,
    })
}

/// Parses Bybit `GET /v5/market/time`: server time in Unix ms (from `timeNano`, else `time`).
pub fn parse_bybit_time(status: u16, body: &[u8]) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct R {
        time_nano: Option<String>,
        time_second: Option<String>,
    }
    let r: R = bybit_result(status, body)?;
    if let Some(ns) = r.time_nano.as_deref().and_then(|s| s.parse::<u128>().ok()) {
        return Ok((ns / 1_000_000) as u64);
    }
    if let Some(s) = r.time_second.as_deref().and_then(|s| s.parse::<u64>().ok()) {
        return Ok(s * 1000);
    }
    Err(ApiError::Malformed(
        "market/time has neither timeNano nor timeSecond".into(),
    ))
}

/// Parses Binance `GET /fapi/v1/time`: `serverTime`, Unix ms.
pub fn parse_binance_time(status: u16, body: &[u8]) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct R {
        server_time: u64,
    }
    binance_result::<R>(status, body).map(|r| r.server_time)
}

// ---------------------------------------------------------------------------------------------
// Clock.

/// Venue clock offset from time-endpoint round trips (NTP-style midpoint estimate).
///
/// For a request sent at local `t0`, answered with server time `s`, received at local `t1`:
/// `offset = s − (t0 + t1) / 2`, uncertainty `± (t1 − t0) / 2`. The sample with the smallest
/// round trip among the last [`ClockSync::WINDOW`] wins (least queueing noise). Venue time is
/// `local + offset`; requests are stamped with it and sent with a recvWindow that must exceed
/// the one-way delay plus the uncertainty.
#[derive(Clone, Debug, Default)]
pub struct ClockSync {
    samples: Vec<(i64, u64)>,
    best: Option<(i64, u64)>,
}

impl ClockSync {
    /// Samples kept.
    pub const WINDOW: usize = 8;

    /// No samples yet (offset 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one round trip (`t0`, `t1` local Unix ms, `server_ms` from the reply). Returns the
    /// sample's offset. A round trip with `t1 < t0` (local clock stepped back) is ignored.
    pub fn add_sample(&mut self, t0_ms: u64, server_ms: u64, t1_ms: u64) -> Option<i64> {
        if t1_ms < t0_ms {
            return None;
        }
        let rtt = t1_ms - t0_ms;
        // offset = s − (t0 + t1)/2, in i128 to avoid overflow, rounded to nearest.
        let mid2 = t0_ms as i128 + t1_ms as i128;
        let off = ((2 * server_ms as i128 - mid2) as f64 / 2.0).round() as i64;
        if self.samples.len() == Self::WINDOW {
            self.samples.remove(0);
        }
        self.samples.push((off, rtt));
        self.best = self.samples.iter().copied().min_by_key(|&(_, r)| r);
        Some(off)
    }

    /// Current offset (venue − local), ms; 0 before the first sample.
    pub fn offset_ms(&self) -> i64 {
        self.best.map_or(0, |(o, _)| o)
    }

    /// Round trip of the sample in use, ms.
    pub fn best_rtt_ms(&self) -> Option<u64> {
        self.best.map(|(_, r)| r)
    }

    /// `true` once at least one sample was taken.
    pub fn is_synced(&self) -> bool {
        self.best.is_some()
    }

    /// Venue time for local Unix ms `local_ms`.
    pub fn venue_ms(&self, local_ms: u64) -> u64 {
        (local_ms as i64).saturating_add(self.offset_ms()).max(0) as u64
    }

    /// Forgets every sample (after a timestamp error: re-sync from scratch).
    pub fn reset(&mut self) {
        self.samples.clear();
        self.best = None;
    }

    /// Checks that `recv_window_ms` covers the measured round trip with margin (recvWindow
    /// must exceed one-way delay + offset uncertainty ≈ RTT); a clear error otherwise.
    pub fn check_recv_window(&self, recv_window_ms: u64) -> Result<(), String> {
        if recv_window_ms == 0 || recv_window_ms > 60_000 {
            return Err(format!(
                "recvWindow {recv_window_ms} ms must be in 1..=60000"
            ));
        }
        match self.best_rtt_ms() {
            Some(rtt) if rtt.saturating_mul(2) > recv_window_ms => Err(format!(
                "recvWindow {recv_window_ms} ms is too small for the measured round trip {rtt} ms"
            )),
            _ => Ok(()),
        }
    }
}

/// Local wall clock, Unix ms (cold path: request stamping before sync, tests).
pub fn local_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offset_is_the_midpoint_of_the_fastest_round_trip() {
        let mut c = ClockSync::new();
        assert_eq!(c.venue_ms(1000), 1000);
        // Sent at 1000, server says 1600, received at 1100: offset 550 ± 50.
        assert_eq!(c.add_sample(1000, 1600, 1100), Some(550));
        // A slower sample (rtt 400) does not replace it.
        assert_eq!(c.add_sample(2000, 2900, 2400), Some(700));
        assert_eq!(c.offset_ms(), 550);
        assert_eq!(c.best_rtt_ms(), Some(100));
        // A faster one does.
        assert_eq!(c.add_sample(3000, 3520, 3010), Some(515));
        assert_eq!(c.offset_ms(), 515);
        assert_eq!(c.venue_ms(10_000), 10_515);
        // Negative offsets (local clock ahead).
        let mut n = ClockSync::new();
        n.add_sample(10_000, 9_000, 10_020);
        assert_eq!(n.offset_ms(), -1010);
        assert_eq!(n.add_sample(5, 5, 4), None);
        n.reset();
        assert!(!n.is_synced());
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut c = ClockSync::new();
        c.add_sample(0, 100, 2); // best rtt 2, offset 99
        for i in 0..ClockSync::WINDOW as u64 {
            c.add_sample(1000 * (i + 1), 1000 * (i + 1) + 10, 1000 * (i + 1) + 20);
        }
        assert_eq!(c.offset_ms(), 0, "the rtt-2 sample was pushed out");
        assert_eq!(c.best_rtt_ms(), Some(20));
    }

    #[test]
    fn recv_window_must_cover_the_round_trip() {
        let mut c = ClockSync::new();
        assert!(c.check_recv_window(5000).is_ok());
        assert!(c.check_recv_window(0).is_err());
        assert!(c.check_recv_window(60_001).is_err());
        c.add_sample(0, 0, 3000);
        let e = c.check_recv_window(5000).unwrap_err();
        assert!(e.contains("3000"), "{e}");
        assert!(c.check_recv_window(10_000).is_ok());
    }

    #[test]
    fn binance_signed_get_puts_signature_last_in_the_query() {
        let api = BinanceApi::new("key", b"secret", 5000);
        let r = api.positions(Some("BTCUSDT"), 1_700_000_000_000).unwrap();
        let (path, q) = r.path_and_query.split_once('?').unwrap();
        assert_eq!(path, "/fapi/v2/positionRisk");
        let (params, sig) = q.rsplit_once("&signature=").unwrap();
        assert_eq!(
            params,
            "symbol=BTCUSDT&recvWindow=5000&timestamp=1700000000000"
        );
        assert!(Signer::new(b"secret").verify_hex(params.as_bytes(), sig.as_bytes()));
        assert_eq!(r.header("x-mbx-apikey"), Some("key"));
        assert!(r.body.is_empty());
        assert!(
            !format!("{r:?}").contains("\"key\""),
            "Debug hides the API key"
        );
    }

    #[test]
    fn bad_symbols_and_ids_are_refused() {
        let b = BybitApi::new("k", b"s", 5000);
        assert!(b.set_leverage("BTC\"USDT", Decimal::ONE, 1).is_err());
        assert!(b
            .cancel_order("BTCUSDT", OrderRef::Client("a\"b"), 1)
            .is_err());
        assert!(b.set_leverage("BTCUSDT", Decimal::ZERO, 1).is_err());
        let n = BinanceApi::new("k", b"s", 5000);
        assert!(n.set_leverage("BTCUSDT", 126, 1).is_err());
        assert!(n.set_leverage("BTCUSDT", 0, 1).is_err());
    }
}
