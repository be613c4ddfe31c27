//! Signed REST requests other than order entry (cold path), venue-neutral part: the request
//! as data ([`ApiRequest`]: method, path + query, headers, body), the shared shape of the
//! venues' parameter encodings (`ParamsApi`), and the reply error type. The venue builders
//! and parsers are `venue::<name>::api`; the transport sends a request, e.g. via
//! [`ApiRequest::to_http1`].

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::types::instrument::write_decimal;
use crate::venue::error::VenueError;
use crate::venue::order::valid_symbol;

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET (payload in the query string).
    Get,
    /// POST (payload in the body).
    Post,
    /// DELETE (Binance cancels; payload in the query string).
    Delete,
    /// PUT (Binance listenKey keepalive).
    Put,
}

impl Method {
    /// The method token.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
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

    pub(crate) fn unsigned(path_and_query: String) -> Self {
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

pub(crate) fn check_symbol(s: &str) -> Result<(), String> {
    if valid_symbol(s) {
        Ok(())
    } else {
        Err(format!(
            "symbol {s:?} must be 1-32 ASCII letters/digits (and `-` or `_` after the first)"
        ))
    }
}

pub(crate) fn check_id(s: &str) -> Result<(), String> {
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

pub(crate) fn decimal_text(d: Decimal) -> String {
    let mut v = Vec::new();
    write_decimal(&mut v, d, true);
    String::from_utf8(v).unwrap_or_default()
}

/// `path` alone, or `path?query` when there is a query.
pub(crate) fn path_and_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// `k1=v1&k2=v2…` (values are checked symbols, ids and numbers: nothing to escape).
pub(crate) fn form(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// `{"k1":"v1","k2":"v2"…}` (values are checked symbols, ids and numbers: nothing to escape).
pub(crate) fn json_object(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!(r#""{k}":"{v}""#))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// The shape both venues' signed non-order endpoints share: a list of `key = value` parameters,
/// prefixed by the venue's fixed ones, encoded and signed the venue's way.
pub(crate) trait ParamsApi {
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

pub(crate) fn dec_field(field: &str, v: &str) -> Result<Decimal, ApiError> {
    Decimal::from_str(v)
        .or_else(|_| Decimal::from_scientific(v))
        .map_err(|_| ApiError::Malformed(format!("{field} {v:?} is not a decimal")))
}

pub(crate) fn opt_dec(field: &str, v: &Option<String>) -> Result<Option<Decimal>, ApiError> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => dec_field(field, s).map(Some),
    }
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
