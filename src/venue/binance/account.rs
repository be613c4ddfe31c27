//! Binance USD-M account reads for the go/no-go check: `GET /fapi/v2/account` (permissions of
//! the account, available balance) and `GET /fapi/v1/leverageBracket` (the highest leverage per
//! symbol: `initialLeverage` of the first bracket); their request builders and reply parsers.
//! The API key's own restrictions (`enableWithdrawals`, `enableFutures`) are documented only at
//! `GET /sapi/v1/account/apiRestrictions` on the spot host, which a futures-only setup (and the
//! futures testnet) cannot reach.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::api::binance_result;
use super::BinanceApi;
use crate::venue::api::{dec_field, ApiError, ApiRequest, Method, ParamsApi};

/// The documented path of the key-restrictions endpoint on the spot host (not on `fapi`).
pub const API_RESTRICTIONS_PATH: &str = "/sapi/v1/account/apiRestrictions";

impl BinanceApi {
    /// `GET /fapi/v2/account` (signed, read-only).
    pub fn account(&self, ts: u64) -> ApiRequest {
        self.request(Method::Get, "/fapi/v2/account", &[], ts)
    }

    /// `POST /fapi/v1/marginType` (`ISOLATED` | `CROSSED`); `-4046 No need to change margin
    /// type.` means it already is (see [`parse_margin_type`]).
    pub fn set_margin_type(
        &self,
        symbol: &str,
        margin_type: &str,
        ts: u64,
    ) -> Result<ApiRequest, String> {
        if !matches!(margin_type, "ISOLATED" | "CROSSED") {
            return Err(format!(
                "marginType must be ISOLATED or CROSSED, got {margin_type}"
            ));
        }
        crate::venue::api::check_symbol(symbol)?;
        Ok(self.request(
            Method::Post,
            "/fapi/v1/marginType",
            &[("symbol", symbol), ("marginType", margin_type)],
            ts,
        ))
    }

    /// `GET /fapi/v1/leverageBracket` for `symbol`, or for every symbol when `None` (signed).
    pub fn leverage_brackets(&self, symbol: Option<&str>, ts: u64) -> Result<ApiRequest, String> {
        self.for_symbol(Method::Get, "/fapi/v1/leverageBracket", symbol, &[], ts)
    }
}

/// What `GET /fapi/v2/account` says about the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountInfo {
    /// `canTrade`: the account may trade futures.
    pub can_trade: bool,
    /// `canWithdraw`: the account may transfer assets out.
    pub can_withdraw: bool,
    /// `availableBalance` (USDT in single-asset mode).
    pub available_balance: Decimal,
    /// `totalWalletBalance`.
    pub wallet_balance: Decimal,
}

/// Parses Binance `GET /fapi/v2/account`.
pub fn parse_account(status: u16, body: &[u8]) -> Result<AccountInfo, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct R {
        can_trade: bool,
        can_withdraw: bool,
        available_balance: String,
        total_wallet_balance: String,
    }
    let r: R = binance_result(status, body)?;
    Ok(AccountInfo {
        can_trade: r.can_trade,
        can_withdraw: r.can_withdraw,
        available_balance: dec_field("availableBalance", &r.available_balance)?,
        wallet_balance: dec_field("totalWalletBalance", &r.total_wallet_balance)?,
    })
}

/// Parses a `POST /fapi/v1/marginType` reply: `Ok(true)` changed, `Ok(false)` already so
/// (`-4046`, kind [`crate::venue::error::ErrorKind::NotModified`]).
pub fn parse_margin_type(status: u16, body: &[u8]) -> Result<bool, ApiError> {
    match crate::venue::error::VenueError::from_binance(status, body) {
        None => Ok(true),
        Some(e) if e.kind == crate::venue::error::ErrorKind::NotModified => Ok(false),
        Some(e) => Err(ApiError::Venue(e)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bracket {
    bracket: u32,
    initial_leverage: u32,
}

#[derive(Deserialize)]
struct SymbolBrackets {
    symbol: String,
    brackets: Vec<Bracket>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Brackets {
    Many(Vec<SymbolBrackets>),
    One(SymbolBrackets),
}

/// Parses Binance `GET /fapi/v1/leverageBracket` (an array, or one object when `symbol` was
/// sent, as documented): `(symbol, initialLeverage of bracket 1)` per symbol.
pub fn parse_leverage_brackets(status: u16, body: &[u8]) -> Result<Vec<(String, u32)>, ApiError> {
    let list = match binance_result::<Brackets>(status, body)? {
        Brackets::Many(v) => v,
        Brackets::One(s) => vec![s],
    };
    list.into_iter()
        .map(|s| {
            let first = s
                .brackets
                .iter()
                .min_by_key(|b| b.bracket)
                .ok_or_else(|| ApiError::Malformed(format!("{}: no brackets", s.symbol)))?;
            Ok((s.symbol.clone(), first.initial_leverage))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_account_and_bracket_examples_parse() {
        // Shapes of the documented response examples (Account Information V2, Notional and
        // Leverage Brackets, both the array and the single-symbol object).
        let a = br#"{"feeTier":0,"feeBurn":true,"canTrade":true,"canDeposit":true,"canWithdraw":true,
            "updateTime":0,"multiAssetsMargin":false,"tradeGroupId":-1,"totalInitialMargin":"0.00000000",
            "totalWalletBalance":"23.72469206","availableBalance":"23.72469206","assets":[],"positions":[]}"#;
        let info = parse_account(200, a).unwrap();
        assert!(info.can_trade && info.can_withdraw);
        assert_eq!(info.available_balance, "23.72469206".parse().unwrap());
        let many = br#"[{"symbol":"ETHUSDT","notionalCoef":1.50,"brackets":[{"bracket":2,"initialLeverage":50,
            "notionalCap":50000,"notionalFloor":10000,"maintMarginRatio":0.01,"cum":65.0},{"bracket":1,
            "initialLeverage":75,"notionalCap":10000,"notionalFloor":0,"maintMarginRatio":0.0065,"cum":0.0}]}]"#;
        assert_eq!(
            parse_leverage_brackets(200, many).unwrap(),
            vec![("ETHUSDT".to_string(), 75)]
        );
        let one = br#"{"symbol":"ETHUSDT","brackets":[{"bracket":1,"initialLeverage":75,"notionalCap":10000,
            "notionalFloor":0,"maintMarginRatio":0.0065,"cum":0}]}"#;
        assert_eq!(parse_leverage_brackets(200, one).unwrap()[0].1, 75);
        let e = parse_account(
            401,
            br#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("-2015"), "{e}");
    }

    #[test]
    fn account_request_is_signed_and_read_only() {
        let api = BinanceApi::new("k", b"s", 5000);
        let r = api.account(1_700_000_000_000);
        assert_eq!(r.method, Method::Get);
        assert!(r
            .path_and_query
            .starts_with("/fapi/v2/account?recvWindow=5000&timestamp=1700000000000&signature="));
        let b = api.leverage_brackets(Some("BTCUSDT"), 1).unwrap();
        assert!(b
            .path_and_query
            .starts_with("/fapi/v1/leverageBracket?symbol=BTCUSDT&"));
        assert!(api.leverage_brackets(Some("BTC\"USDT"), 1).is_err());
    }
}
