//! Binance USD-M signed requests for the non-order endpoints: set leverage, cancel, cancel
//! all, positions, wallet balance, server time, exchange info; and their reply parsers.

use serde::Deserialize;

use crate::venue::api::{
    check_symbol, dec_field, form, opt_dec, path_and_query, ApiError, ApiRequest, AssetBalance,
    Method, OrderRef, ParamsApi, WalletBalance,
};
use crate::venue::error::VenueError;
use crate::venue::reply::VenuePosition;
use crate::venue::sign::Signer;

use super::order::sign_params;

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

    /// The API key (the listenKey requests' `X-MBX-APIKEY`).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Any signed request ([`sign_params`]: `params&recvWindow=…&timestamp=…&signature=…`), in the
    /// body for POST (form) and in the query string otherwise.
    pub fn signed(&self, method: Method, path: &str, params: &str, ts: u64) -> ApiRequest {
        let mut total = Vec::with_capacity(params.len() + 128);
        total.extend_from_slice(params.as_bytes());
        let mut sig = [0u8; 64];
        sign_params(&self.signer, self.recv_window_ms, &mut total, ts, &mut sig);
        let total = String::from_utf8_lossy(&total).into_owned();
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

pub(super) fn binance_result<T: for<'de> Deserialize<'de>>(
    status: u16,
    body: &[u8],
) -> Result<T, ApiError> {
    if let Some(e) = VenueError::from_binance(status, body) {
        return Err(ApiError::Venue(e));
    }
    serde_json::from_slice::<T>(body)
        .map_err(|e| ApiError::Malformed(format!("binance reply: {e}")))
}

/// Parses a Binance `POST /fapi/v1/leverage` reply: the leverage now set.
pub fn parse_leverage(status: u16, body: &[u8]) -> Result<u32, ApiError> {
    #[derive(Deserialize)]
    struct R {
        leverage: u32,
    }
    binance_result::<R>(status, body).map(|r| r.leverage)
}

/// Parses Binance `GET /fapi/v2/positionRisk` (signed `positionAmt`).
pub fn parse_positions(status: u16, body: &[u8]) -> Result<Vec<VenuePosition>, ApiError> {
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
                entry: dec_field("entryPrice", &row.entry_price)?,
                mark_price: dec_field("markPrice", &row.mark_price)?,
                unrealized_pnl: dec_field("unRealizedProfit", &row.unrealized_profit)?,
                leverage: opt_dec("leverage", &row.leverage)?,
                symbol: row.symbol,
            })
        })
        .collect()
}

/// Parses Binance `GET /fapi/v2/balance`.
pub fn parse_wallet(status: u16, body: &[u8]) -> Result<WalletBalance, ApiError> {
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

/// Parses Binance `GET /fapi/v1/time`: `serverTime`, Unix ms.
pub fn parse_time(status: u16, body: &[u8]) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct R {
        server_time: u64,
    }
    binance_result::<R>(status, body).map(|r| r.server_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_signed_get_puts_signature_last_in_the_query() {
        let api = BinanceApi::new("key", b"secret", 5000);
        let r = api.signed(
            Method::Get,
            "/fapi/v2/positionRisk",
            "symbol=BTCUSDT",
            1_700_000_000_000,
        );
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
    fn bad_leverage_is_refused() {
        let n = BinanceApi::new("k", b"s", 5000);
        assert!(n.set_leverage("BTCUSDT", 126, 1).is_err());
        assert!(n.set_leverage("BTCUSDT", 0, 1).is_err());
    }
}
