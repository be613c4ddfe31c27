//! The embedded exchange's Binance USD-M leverage and margin-type endpoints, with the venue's
//! documented replies: `POST /fapi/v1/leverage` (`{"leverage","maxNotionalValue","symbol"}`;
//! above the symbol's cap `-4028 Leverage N is not valid`) and `POST /fapi/v1/marginType`
//! (`{"code":200,"msg":"success"}`; already so `-4046 No need to change margin type.`).

use rust_decimal::prelude::ToPrimitive;
use serde_json::json;

use super::exchange::{err, error_code};
use crate::exchange::leverage::SetOutcome;
use crate::exchange::orders::OrderError;
use crate::exchange::rest_orders::{param, Shared};

/// `-1102` for a missing or malformed parameter `k`.
fn bad(k: &str) -> (u16, String) {
    err(
        400,
        -1102,
        &format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."),
    )
}

/// `POST /fapi/v1/leverage?symbol&leverage`: remembers the leverage (cap: the bracket's
/// `initialLeverage`, [`crate::exchange::AccountOptions::max_leverage`]).
pub(crate) fn set_leverage(sh: &Shared, params: &[(&str, &str)]) -> (u16, String) {
    let Some(symbol) = param(params, "symbol") else {
        return bad("symbol");
    };
    let Some(lev) = param(params, "leverage").and_then(|v| v.parse::<u32>().ok()) else {
        return bad("leverage");
    };
    sh.venue.with(|m| {
        let Some(inst) = m.instrument(symbol).copied() else {
            let (code, msg) = error_code(&OrderError::UnknownSymbol);
            return err(400, code, &msg);
        };
        let cap = sh
            .opts
            .account
            .max_leverage(&inst)
            .trunc()
            .to_u32()
            .unwrap_or(1);
        match m.book_mut().set_leverage(symbol, lev, cap) {
            SetOutcome::AboveCap => err(400, -4028, &format!("Leverage {lev} is not valid")),
            SetOutcome::Set | SetOutcome::NotModified => (
                200,
                json!({"leverage": lev, "maxNotionalValue": "1000000", "symbol": symbol})
                    .to_string(),
            ),
        }
    })
}

/// `POST /fapi/v1/marginType?symbol&marginType=ISOLATED|CROSSED`.
pub(crate) fn set_margin_type(sh: &Shared, params: &[(&str, &str)]) -> (u16, String) {
    let Some(symbol) = param(params, "symbol") else {
        return bad("symbol");
    };
    let mode = match param(params, "marginType") {
        Some(m @ ("ISOLATED" | "CROSSED")) => m,
        _ => return bad("marginType"),
    };
    sh.venue.with(|m| {
        if m.instrument(symbol).is_none() {
            let (code, msg) = error_code(&OrderError::UnknownSymbol);
            return err(400, code, &msg);
        }
        match m.book_mut().set_margin_mode(symbol, mode) {
            SetOutcome::NotModified => err(400, -4046, "No need to change margin type."),
            _ => (200, json!({"code": 200, "msg": "success"}).to_string()),
        }
    })
}
