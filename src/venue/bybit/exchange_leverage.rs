//! The embedded exchange's Bybit v5 leverage and margin-mode endpoints, with the venue's
//! documented replies: `POST /v5/position/set-leverage` (`retCode 0`, `result {}`; the same
//! leverage again `110043 leverage not modified`; above the symbol's `maxLeverage`
//! `110013 Due to risk limit, cannot set leverage`) and the unified account's account-wide
//! `POST /v5/account/set-margin-mode` (`setMarginMode` `ISOLATED_MARGIN` | `REGULAR_MARGIN` |
//! `PORTFOLIO_MARGIN`; `result {"reasons": []}`).

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use super::exchange::{fail, reply};
use crate::exchange::leverage::SetOutcome;
use crate::exchange::rest_orders::Shared;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetLeverage {
    category: String,
    symbol: String,
    buy_leverage: String,
    sell_leverage: String,
}

/// `POST /v5/position/set-leverage` (one-way mode: buy = sell leverage, whole numbers here).
pub(crate) fn set_leverage(sh: &Shared, body: &str, now: u64) -> (u16, String) {
    let Ok(r) = serde_json::from_str::<SetLeverage>(body) else {
        return fail(10001, "params error: set-leverage body", now);
    };
    if r.category != "linear" || r.buy_leverage != r.sell_leverage {
        return fail(
            10001,
            "params error: category or buyLeverage/sellLeverage",
            now,
        );
    }
    let Some(lev) = r
        .buy_leverage
        .parse::<Decimal>()
        .ok()
        .filter(|l| l.fract().is_zero())
        .and_then(|l| l.to_u32())
    else {
        return fail(10001, "params error: buyLeverage invalid", now);
    };
    sh.venue.with(|m| {
        let Some(inst) = m.instrument(&r.symbol).copied() else {
            return fail(10001, "params error: symbol invalid", now);
        };
        let cap = sh
            .opts
            .account
            .max_leverage(&inst)
            .trunc()
            .to_u32()
            .unwrap_or(1);
        match m.book_mut().set_leverage(&r.symbol, lev, cap) {
            SetOutcome::Set => reply(0, "OK", json!({}), now),
            SetOutcome::NotModified => fail(110043, "leverage not modified", now),
            SetOutcome::AboveCap => fail(110013, "Due to risk limit, cannot set leverage", now),
        }
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetMarginMode {
    set_margin_mode: String,
}

/// `POST /v5/account/set-margin-mode` (account-wide on a unified account).
pub(crate) fn set_margin_mode(sh: &Shared, body: &str, now: u64) -> (u16, String) {
    let Ok(r) = serde_json::from_str::<SetMarginMode>(body) else {
        return fail(10001, "params error: setMarginMode", now);
    };
    if !matches!(
        r.set_margin_mode.as_str(),
        "ISOLATED_MARGIN" | "REGULAR_MARGIN" | "PORTFOLIO_MARGIN"
    ) {
        return fail(10001, "params error: setMarginMode invalid", now);
    }
    sh.venue.with(|m| {
        m.book_mut().set_account_margin_mode(&r.set_margin_mode);
    });
    reply(0, "Request accepted", json!({"reasons": []}), now)
}
