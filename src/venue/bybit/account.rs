//! Bybit v5 API-key information for the go/no-go check: `GET /v5/user/query-api` (any key may
//! call it): read-only flag and permission lists, and whether they allow trading linear
//! contracts and withdrawing; and the account-wide margin mode of a unified account.

use serde::Deserialize;

use super::api::bybit_result;
use super::BybitApi;
use crate::venue::api::{ApiError, ApiRequest};

impl BybitApi {
    /// `GET /v5/user/query-api` (signed, read-only).
    pub fn query_api(&self, ts: u64) -> ApiRequest {
        self.signed_get("/v5/user/query-api", "", ts)
    }

    /// `POST /v5/account/set-margin-mode` (`ISOLATED_MARGIN` | `REGULAR_MARGIN`): on a unified
    /// trading account the margin mode is account-wide (the per-symbol
    /// `/v5/position/switch-isolated` is for classic accounts only).
    pub fn set_margin_mode(&self, mode: &str, ts: u64) -> Result<ApiRequest, String> {
        if !matches!(mode, "ISOLATED_MARGIN" | "REGULAR_MARGIN") {
            return Err(format!(
                "setMarginMode must be ISOLATED_MARGIN or REGULAR_MARGIN, got {mode}"
            ));
        }
        let body = serde_json::json!({ "setMarginMode": mode }).to_string();
        Ok(self.signed_post("/v5/account/set-margin-mode", body, ts))
    }
}

/// What the venue says the key may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPermissions {
    /// `readOnly`: 0 = read and write, 1 = read only.
    pub read_only: bool,
    /// `permissions.ContractTrade` (`Order`, `Position`).
    pub contract_trade: Vec<String>,
    /// `permissions.Wallet` (`AccountTransfer`, `SubMemberTransfer`, `Withdraw`, …).
    pub wallet: Vec<String>,
    /// `ips`: the IPs the key is bound to (`*` = any).
    pub ips: Vec<String>,
}

impl KeyPermissions {
    /// Orders on linear contracts are allowed: read-write with `ContractTrade` `Order`.
    pub fn can_trade(&self) -> bool {
        !self.read_only && self.contract_trade.iter().any(|p| p == "Order")
    }

    /// Withdrawals are allowed: `Wallet` lists `Withdraw`.
    pub fn can_withdraw(&self) -> bool {
        self.wallet.iter().any(|p| p == "Withdraw")
    }
}

/// Parses Bybit `GET /v5/user/query-api`.
pub fn parse_query_api(status: u16, body: &[u8]) -> Result<KeyPermissions, ApiError> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Permissions {
        #[serde(rename = "ContractTrade")]
        contract_trade: Vec<String>,
        #[serde(rename = "Wallet")]
        wallet: Vec<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct R {
        read_only: u8,
        permissions: Permissions,
        #[serde(default)]
        ips: Vec<String>,
    }
    let r: R = bybit_result(status, body)?;
    Ok(KeyPermissions {
        read_only: r.read_only != 0,
        contract_trade: r.permissions.contract_trade,
        wallet: r.permissions.wallet,
        ips: r.ips,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shape_parses_and_an_error_keeps_its_code() {
        let ok = br#"{"retCode":0,"retMsg":"","result":{"id":"13770661","note":"x","apiKey":"XXXX",
            "readOnly":0,"secret":"","permissions":{"ContractTrade":["Order","Position"],"Spot":["SpotTrade"],
            "Wallet":["AccountTransfer","SubMemberTransfer"],"Options":[],"Derivatives":[],"CopyTrading":[],
            "BlockTrade":[],"Exchange":[],"NFT":[]},"ips":["*"],"type":1,"deadlineDay":66,
            "expiredAt":"2023-12-22T07:20:25Z","createdAt":"2022-10-16T02:24:40Z","uta":0,
            "userID":24617703,"inviterID":0,"vipLevel":"No VIP","mktMakerLevel":"0","affiliateID":0},
            "retExtInfo":{},"time":1697525990798}"#;
        let p = parse_query_api(200, ok).unwrap();
        assert!(p.can_trade() && !p.can_withdraw());
        let e = parse_query_api(
            200,
            br#"{"retCode":10003,"retMsg":"API key is invalid.","result":{},"retExtInfo":{},"time":1}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("10003") && e.to_string().contains("API key is invalid"));
    }
}
