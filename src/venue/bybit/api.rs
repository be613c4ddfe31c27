//! Bybit v5 signed requests for the non-order endpoints (category `linear`): set leverage,
//! cancel, cancel all, wallet balance, server time, instruments; and their reply parsers.

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::venue::api::{
    check_symbol, dec_field, decimal_text, form, json_object, opt_dec, path_and_query, ApiError,
    ApiRequest, AssetBalance, Method, OrderRef, ParamsApi, WalletBalance,
};
use crate::venue::error::VenueError;
use crate::venue::reply::VenuePosition;
use crate::venue::sign::Signer;

use super::order::sign;

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
        sign(
            &self.signer,
            ts.to_string().as_bytes(),
            self.api_key.as_bytes(),
            self.recv_window.as_bytes(),
            payload,
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

    /// The private stream's `auth` request valid until `expires_ms`
    /// (`hex(HMAC(secret, "GET/realtime" + expires_ms))`, see [`super::private::auth_request`]).
    pub fn ws_auth(&self, expires_ms: u64) -> String {
        let mut sig = [0u8; 64];
        self.signer
            .sign_hex(format!("GET/realtime{expires_ms}").as_bytes(), &mut sig);
        let sig = std::str::from_utf8(&sig).unwrap_or_default();
        format!(
            r#"{{"op":"auth","args":["{}",{expires_ms},"{sig}"]}}"#,
            self.api_key
        )
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
    /// (retCode 110043 = already at that leverage, see [`crate::venue::error::ErrorKind::NotModified`]).
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

/// Checks a Bybit v5 envelope and returns `result` as `T`.
pub(super) fn bybit_result<T: for<'de> Deserialize<'de>>(
    status: u16,
    body: &[u8],
) -> Result<T, ApiError> {
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

/// Checks a Bybit reply that carries no data (set leverage, cancel all). `Ok(false)` when the
/// venue says nothing changed (retCode 110043 etc.), `Ok(true)` when it acted.
pub fn parse_ack(status: u16, body: &[u8]) -> Result<bool, ApiError> {
    match VenueError::from_bybit(status, body) {
        None => Ok(true),
        Some(e) if e.kind == crate::venue::error::ErrorKind::NotModified => Ok(false),
        Some(e) => Err(ApiError::Venue(e)),
    }
}

/// Parses Bybit `GET /v5/account/wallet-balance` (first account of the list).
pub fn parse_wallet(status: u16, body: &[u8]) -> Result<WalletBalance, ApiError> {
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

/// Parses Bybit `GET /v5/position/list` (`side` `Buy`/`Sell`, unsigned `size`).
pub fn parse_positions(status: u16, body: &[u8]) -> Result<Vec<VenuePosition>, ApiError> {
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
                entry: dec_field("avgPrice", &row.avg_price)?,
                mark_price: dec_field("markPrice", &row.mark_price)?,
                unrealized_pnl: dec_field("unrealisedPnl", &row.unrealised_pnl)?,
                leverage: opt_dec("leverage", &row.leverage)?,
                symbol: row.symbol,
            })
        })
        .collect()
}

/// Parses Bybit `GET /v5/market/time`: server time in Unix ms (from `timeNano`, else `time`).
pub fn parse_time(status: u16, body: &[u8]) -> Result<u64, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_symbols_and_ids_are_refused() {
        let b = BybitApi::new("k", b"s", 5000);
        assert!(b.set_leverage("BTC\"USDT", Decimal::ONE, 1).is_err());
        assert!(b
            .cancel_order("BTCUSDT", OrderRef::Client("a\"b"), 1)
            .is_err());
        assert!(b.set_leverage("BTCUSDT", Decimal::ZERO, 1).is_err());
    }
}
