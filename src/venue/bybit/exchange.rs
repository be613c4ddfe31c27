//! Bybit v5 linear order entry on the same matching engine: `POST /v5/order/create` (Market,
//! with optional `takeProfit` / `stopLoss` placed as close-position triggers `<orderLinkId>-tp`
//! / `-sl` attached to the position like `tpslMode=Full`: a later entry's replace them, and they
//! expire when the position closes or flips),
//! `GET /v5/order/realtime` (by `orderLinkId` or `orderId`), `GET /v5/position/list` (with the
//! position's `takeProfit` / `stopLoss`), `POST /v5/position/trading-stop` (see
//! `exchange_tpsl`); the
//! account reads `GET /v5/account/wallet-balance`, `GET /v5/user/query-api`, and the public
//! `GET /v5/market/time` and paged `GET /v5/market/instruments-info`.
//! Signature `hex(HMAC_SHA256(secret, timestamp + api_key + recv_window + payload))` with payload
//! the JSON body (POST) or the query string (GET); checked before the time window
//! (`server − recv_window ≤ timestamp < server + 1000`). Replies are HTTP 200 with `retCode`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::exchange::orders::{OrderError, OrderKind, OrderRequest, SimOrder, SimTrade};
use crate::exchange::rest_orders::{param, Shared};
use crate::exchange::server::WsRequest;
use crate::types::Side;
use crate::venue::RecordedTrade;

/// The `X-BAPI-*` headers of a Bybit v5 request.
#[derive(Default, Debug)]
pub(crate) struct BybitAuth {
    pub(crate) api_key: Option<String>,
    pub(crate) timestamp: Option<String>,
    pub(crate) recv_window: Option<String>,
    pub(crate) sign: Option<String>,
}

pub(crate) fn reply(code: i64, msg: &str, result: Value, now: u64) -> (u16, String) {
    (
        200,
        json!({"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now})
            .to_string(),
    )
}

pub(crate) fn fail(code: i64, msg: &str, now: u64) -> (u16, String) {
    reply(code, msg, json!({}), now)
}

/// A position TP/SL trigger as `GET /v5/position/list` writes it (`""` when none).
fn level(p: Option<Decimal>) -> String {
    p.map_or_else(String::new, |p| p.to_string())
}

pub(crate) fn order_error(e: &OrderError, now: u64) -> (u16, String) {
    match e {
        OrderError::UnknownSymbol => fail(10001, "params error: symbol invalid", now),
        OrderError::Filter(f) => fail(10001, &format!("Qty or price invalid ({f})"), now),
        OrderError::MinNotional(n) => fail(
            110094,
            &format!(
                "Order does not meet minimum order value {}USDT",
                n.normalize()
            ),
            now,
        ),
        OrderError::ReduceOnly => fail(
            110017,
            "current position is zero, cannot fix reduce-only order qty",
            now,
        ),
        OrderError::Duplicate => fail(110072, "OrderLinkedID is duplicate", now),
        OrderError::NotFound => fail(110001, "Order does not exist", now),
        OrderError::Param(m) => fail(10001, m, now),
        OrderError::NoPrice => fail(10016, "Internal error", now),
        OrderError::NotTrading => fail(110074, "This contract is not live", now),
        OrderError::InsufficientMargin => fail(110007, "ab not enough for new order", now),
    }
}

fn order_row(o: &SimOrder) -> Value {
    let status = match o.status {
        crate::exchange::orders::OrderStatus::New => "New",
        crate::exchange::orders::OrderStatus::Filled => "Filled",
        crate::exchange::orders::OrderStatus::Canceled => "Cancelled",
        crate::exchange::orders::OrderStatus::Expired if o.executed_qty > Decimal::ZERO => {
            "PartiallyFilledCanceled"
        }
        crate::exchange::orders::OrderStatus::Expired => "Deactivated",
    };
    json!({
        "orderId": uuid_from_id(o.id), "orderLinkId": o.client_id, "symbol": o.symbol,
        "side": match o.side { Side::Buy => "Buy", Side::Sell => "Sell" },
        "orderType": "Market", "orderStatus": status, "qty": o.qty.to_string(),
        "avgPrice": o.avg_price.to_string(), "cumExecQty": o.executed_qty.to_string(),
        "cumExecValue": o.cum_quote.to_string(), "cumExecFee": o.fee.to_string(),
        "reduceOnly": o.reduce_only, "triggerPrice": o.stop_price.to_string(),
        "updatedTime": o.update_ms.to_string()
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Create {
    category: String,
    symbol: String,
    side: String,
    order_type: String,
    qty: String,
    #[serde(default)]
    order_link_id: Option<String>,
    #[serde(default)]
    reduce_only: Option<bool>,
    #[serde(default)]
    take_profit: Option<String>,
    #[serde(default)]
    stop_loss: Option<String>,
    #[serde(default)]
    tpsl_mode: Option<String>,
    #[serde(default)]
    tp_trigger_by: Option<String>,
    #[serde(default)]
    sl_trigger_by: Option<String>,
}

impl Create {
    /// Why this exchange cannot read the exits as the venue would: its triggers watch trades
    /// (`LastPrice`, the venue's default when `tpTriggerBy` / `slTriggerBy` is left out) and
    /// close the whole position (`tpslMode` `Full`; left out, the account's setting, here
    /// `Full`).
    fn exits_unsupported(&self) -> Option<&'static str> {
        let by = [&self.tp_trigger_by, &self.sl_trigger_by];
        if by
            .iter()
            .any(|b| b.as_deref().is_some_and(|b| b != "LastPrice"))
        {
            return Some("params error: the embedded exchange triggers TP/SL on LastPrice");
        }
        if self.tpsl_mode.as_deref().is_some_and(|m| m != "Full") {
            return Some("params error: the embedded exchange takes tpslMode Full");
        }
        None
    }
}

pub(crate) fn handle(
    sh: &Shared,
    method: &str,
    target: &str,
    auth: &BybitAuth,
    body: &str,
    now: u64,
) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method == "GET" && path == "/v5/market/time" {
        return reply(
            0,
            "OK",
            json!({"timeSecond": (now / 1000).to_string(), "timeNano": (now as u128 * 1_000_000).to_string()}),
            now,
        );
    }
    if method == "GET" && path == "/v5/market/instruments-info" {
        return instruments_info(sh, query, now);
    }
    if method == "GET" && path == "/v5/market/tickers" {
        return (
            200,
            super::tickers::reply(&sh.venue.with(|m| m.tickers()), now),
        );
    }
    let Some(key) = auth.api_key.as_deref() else {
        return fail(10003, "API key is invalid.", now);
    };
    if key != sh.api_key {
        return fail(10003, "API key is invalid.", now);
    }
    let (Some(ts), Some(sign)) = (auth.timestamp.as_deref(), auth.sign.as_deref()) else {
        return fail(
            10004,
            "Error sign, please check your signature generation algorithm.",
            now,
        );
    };
    let rw = auth.recv_window.as_deref().unwrap_or("5000");
    let payload = if method == "GET" { query } else { body };
    let signed = format!("{ts}{key}{rw}{payload}");
    if !sh.signer.verify_hex(signed.as_bytes(), sign.as_bytes()) {
        return fail(
            10004,
            "Error sign, please check your signature generation algorithm.",
            now,
        );
    }
    let (Ok(ts_ms), Ok(rw_ms)) = (ts.parse::<u64>(), rw.parse::<u64>()) else {
        return fail(10001, "params error: timestamp or recv_window invalid", now);
    };
    if ts_ms >= now + 1_000 || now.saturating_sub(ts_ms) > rw_ms {
        sh.stats
            .timestamp_rejects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return fail(
            10002,
            &format!("invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts_ms}],server_timestamp[{now}],recv_window[{rw_ms}]"),
            now,
        );
    }
    let q: Vec<(&str, &str)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    match (method, path) {
        ("POST", "/v5/order/create") => create(sh, body, now),
        ("GET", "/v5/order/realtime") => {
            let symbol = param(&q, "symbol");
            let link = param(&q, "orderLinkId");
            let id = param(&q, "orderId").map(|v| id_from_uuid(v).unwrap_or(u64::MAX));
            sh.venue.with(|m| {
                let list: Vec<Value> = m
                    .orders()
                    .iter()
                    .filter(|o| symbol.map_or(true, |s| o.symbol == s))
                    .filter(|o| link.map_or(true, |l| o.client_id == l))
                    .filter(|o| id.map_or(true, |i| o.id == i))
                    .map(order_row)
                    .collect();
                reply(0, "OK", json!({"category": "linear", "list": list}), now)
            })
        }
        ("GET", "/v5/execution/list") => executions(sh, &q, now),
        ("GET", "/v5/position/list") => sh.venue.with(|m| {
            let symbol = param(&q, "symbol");
            let list: Vec<Value> = m
                .positions()
                .into_iter()
                .filter(|(s, _, _)| symbol.map_or(true, |x| x == s))
                .map(|(s, p, mark)| {
                    let (tp, sl) = m.position_exits(&s);
                    json!({
                        "symbol": s,
                        "side": if p.qty > Decimal::ZERO { "Buy" } else if p.qty < Decimal::ZERO { "Sell" } else { "" },
                        "size": p.qty.abs().to_string(), "avgPrice": p.entry.to_string(),
                        "markPrice": mark.to_string(),
                        "unrealisedPnl": p.unrealized(mark).to_string(),
                        "cumRealisedPnl": (p.realized - p.fees).to_string(), "positionIdx": 0,
                        "tpslMode": "Full", "takeProfit": level(tp), "stopLoss": level(sl)
                    })
                })
                .collect();
            reply(0, "OK", json!({"category": "linear", "list": list}), now)
        }),
        ("GET", "/v5/account/wallet-balance") => wallet_balance(sh, now),
        ("GET", "/v5/user/query-api") => query_api(sh, now),
        ("POST", "/v5/position/set-leverage") => {
            super::exchange_leverage::set_leverage(sh, body, now)
        }
        ("POST", "/v5/position/trading-stop") => super::exchange_tpsl::trading_stop(sh, body, now),
        ("POST", "/v5/account/set-margin-mode") => {
            super::exchange_leverage::set_margin_mode(sh, body, now)
        }
        _ => (404, json!({"retCode": 10404, "retMsg": "Not found"}).to_string()),
    }
}

/// `GET /v5/market/instruments-info?category=linear[&symbol=][&limit=][&cursor=]` from the
/// listed instruments (`Trading`, or `Delivering` when [`crate::exchange::orders::Matching::set_trading`]
/// stopped one), paged: `limit` (1–1000, default 500, and at most
/// [`crate::exchange::AccountOptions::instruments_page`]) rows from `cursor` (the next row's
/// index); `nextPageCursor` is empty on the last page.
fn instruments_info(sh: &Shared, query: &str, now: u64) -> (u16, String) {
    let q: Vec<(&str, &str)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    if param(&q, "category") != Some("linear") {
        return fail(10001, "params error: category only support linear", now);
    }
    let limit = match param(&q, "limit").map(str::parse::<usize>) {
        None => 500,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return fail(10001, "params error: limit", now),
    }
    .min(sh.opts.account.instruments_page.max(1));
    let start = match param(&q, "cursor").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return fail(10001, "params error: cursor invalid", now),
    };
    let symbol = param(&q, "symbol");
    let listed: Vec<_> = sh.venue.with(|m| {
        m.listed()
            .into_iter()
            .filter(|(s, _)| symbol.map_or(true, |x| x == s))
            .map(|(s, i)| {
                let on = m.is_trading(&s);
                (s, i, on)
            })
            .collect()
    });
    let end = (start + limit).min(listed.len());
    let rows: Vec<Value> = listed
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|(s, i, on)| {
            let (tick, step) = (i.tick_size.to_string(), i.qty_step.to_string());
            let status = if *on { "Trading" } else { "Delivering" };
            json!({
                "symbol": s, "contractType": "LinearPerpetual", "status": status,
                "baseCoin": s.trim_end_matches("USDT"), "quoteCoin": "USDT", "settleCoin": "USDT",
                "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
                "lotSizeFilter": {
                    "maxOrderQty": i.max_qty.to_string(), "minOrderQty": i.min_qty.to_string(),
                    "qtyStep": step, "maxMktOrderQty": i.max_market_qty.to_string(),
                    "minNotionalValue": i.min_notional.to_string()
                },
                "leverageFilter": {
                    "minLeverage": "1", "leverageStep": "0.01",
                    "maxLeverage": sh.opts.account.max_leverage(i).to_string()
                }
            })
        })
        .collect();
    let next = if end < listed.len() {
        end.to_string()
    } else {
        String::new()
    };
    reply(
        0,
        "OK",
        json!({"category": "linear", "list": rows, "nextPageCursor": next}),
        now,
    )
}

/// `GET /v5/account/wallet-balance?accountType=UNIFIED`: one USDT coin; equity = wallet +
/// unrealised PnL, available: [`crate::exchange::orders::Matching::available`].
fn wallet_balance(sh: &Shared, now: u64) -> (u16, String) {
    let (bal, upnl, free) = sh
        .venue
        .with(|m| (m.balance(), m.unrealized(), m.available()));
    let (b, u, eq) = (bal.to_string(), upnl.to_string(), (bal + upnl).to_string());
    let account = json!({
        "accountType": "UNIFIED", "totalEquity": eq, "totalWalletBalance": b,
        "totalMarginBalance": eq, "totalAvailableBalance": free.to_string(), "totalPerpUPL": u,
        "totalInitialMargin": "0", "totalMaintenanceMargin": "0", "accountIMRate": "0",
        "accountMMRate": "0", "accountLTV": "0",
        "coin": [{
            "coin": "USDT", "walletBalance": b, "equity": eq, "unrealisedPnl": u,
            "availableToWithdraw": b, "usdValue": eq, "cumRealisedPnl": "0", "locked": "0",
            "totalPositionIM": "0", "totalOrderIM": "0", "marginCollateral": true,
            "collateralSwitch": true
        }]
    });
    reply(0, "OK", json!({"list": [account]}), now)
}

/// `GET /v5/user/query-api`: the key's permissions from
/// [`crate::exchange::AccountOptions`] (`readOnly` 1 and no `ContractTrade` when trading is off;
/// `Wallet` lists `Withdraw` when withdrawals are on).
fn query_api(sh: &Shared, now: u64) -> (u16, String) {
    let a = &sh.opts.account;
    let trade: Vec<&str> = if a.can_trade {
        vec!["Order", "Position"]
    } else {
        Vec::new()
    };
    let mut wallet = vec!["AccountTransfer", "SubMemberTransfer"];
    if a.can_withdraw {
        wallet.push("Withdraw");
    }
    let result = json!({
        "id": "1", "note": "embedded", "apiKey": sh.api_key, "readOnly": u8::from(!a.can_trade),
        "secret": "", "permissions": {
            "ContractTrade": trade, "Spot": [], "Wallet": wallet, "Options": [], "Derivatives": [],
            "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []
        },
        "ips": ["127.0.0.1"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "",
        "uta": 1, "userID": 1, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
        "affiliateID": 0, "isMaster": true
    });
    reply(0, "", result, now)
}

pub(crate) fn create(sh: &Shared, body: &str, now: u64) -> (u16, String) {
    let c: Create = match serde_json::from_str(body) {
        Ok(c) => c,
        Err(e) => return fail(10001, &format!("params error: {e}"), now),
    };
    if c.category != "linear" {
        return fail(10001, "params error: category only support linear", now);
    }
    let side = match c.side.as_str() {
        "Buy" => Side::Buy,
        "Sell" => Side::Sell,
        _ => return fail(10001, "params error: side invalid", now),
    };
    if c.order_type != "Market" {
        return fail(
            10001,
            "params error: the embedded exchange takes Market orders",
            now,
        );
    }
    let Ok(qty) = Decimal::from_str(&c.qty) else {
        return fail(10001, "params error: qty invalid", now);
    };
    if let Some(why) = c.exits_unsupported() {
        return fail(10001, why, now);
    }
    let link = c.order_link_id.unwrap_or_default();
    let order = OrderRequest {
        symbol: &c.symbol,
        side,
        kind: OrderKind::Market,
        qty: Some(qty),
        stop_price: None,
        reduce_only: c.reduce_only.unwrap_or(false),
        close_position: false,
        client_id: &link,
    };
    let exit = match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    };
    let mut legs = Vec::new();
    for (kind, px, tag) in [
        (OrderKind::TakeProfitMarket, &c.take_profit, "tp"),
        (OrderKind::StopMarket, &c.stop_loss, "sl"),
    ] {
        if let Some(px) = px {
            match Decimal::from_str(px) {
                Ok(p) => legs.push((kind, p, tag)),
                Err(_) => return fail(10001, "params error: takeProfit/stopLoss invalid", now),
            }
        }
    }
    sh.venue.with(|m| match m.place(&order, now) {
        Ok(o) => {
            let mut ids = Vec::new();
            for (kind, px, tag) in legs {
                let id = format!("{}-{tag}", o.client_id);
                if let Ok(leg) = m.place(
                    &OrderRequest {
                        symbol: &c.symbol,
                        side: exit,
                        kind,
                        qty: None,
                        stop_price: Some(px),
                        reduce_only: false,
                        close_position: true,
                        client_id: &id,
                    },
                    now,
                ) {
                    ids.push(leg.id);
                }
            }
            if !ids.is_empty() {
                m.attach_position_exits(&c.symbol, &ids, now);
            }
            reply(
                0,
                "OK",
                json!({"orderId": uuid_from_id(o.id), "orderLinkId": o.client_id}),
                now,
            )
        }
        Err(e) => order_error(&e, now),
    })
}

#[derive(Deserialize)]
struct BybitTrades<'a> {
    #[serde(borrow)]
    data: Vec<BybitTrade<'a>>,
}

#[derive(Deserialize)]
struct BybitTrade<'a> {
    #[serde(borrow)]
    s: &'a str,
    #[serde(borrow)]
    p: &'a str,
    #[serde(rename = "T")]
    t: u64,
}

/// Calls `on(symbol, price, ts_ms)` for every trade of a recorded `publicTrade` frame, prices
/// exactly as recorded; anything unreadable is skipped.
pub fn recorded_trades(text: &str, mut on: impl FnMut(&str, Decimal, u64)) {
    if let Ok(b) = serde_json::from_str::<BybitTrades<'_>>(text) {
        for t in &b.data {
            if let Ok(p) = Decimal::from_str(t.p) {
                on(t.s, p, t.t);
            }
        }
    }
}

/// A UUID-shaped id (Bybit's trade `i` and linear `orderId` format) that carries `id` in its
/// last 12 hex digits.
pub fn uuid_from_id(id: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (id >> 32) as u32 ^ 0x5eed_0000,
        (id >> 16) & 0xffff,
        (id >> 4) & 0xfff,
        id & 0xfff,
        id & 0xffff_ffff_ffff
    )
}

/// One `GET /v5/execution/list` row of trade `t` of an order with client id `link` (empty for
/// the venue's own orders): `execId` and `orderId` are the same UUIDs the private stream's
/// `execution` row carries.
pub(crate) fn execution_row(t: &SimTrade, link: &str) -> Value {
    json!({
        "symbol": t.symbol, "orderId": uuid_from_id(t.order_id), "orderLinkId": link,
        "side": match t.side { Side::Buy => "Buy", Side::Sell => "Sell" },
        "execId": uuid_from_id(t.id), "execPrice": t.price.to_string(),
        "execQty": t.qty.to_string(), "execFee": t.commission.to_string(),
        "execValue": (t.price * t.qty).to_string(), "execType": "Trade",
        "execTime": t.time_ms.to_string(), "isMaker": false,
    })
}

/// The id [`uuid_from_id`] carries (its last 12 hex digits); `None` for any other text (a
/// linear `orderId` is a UUID on the venue, never a number).
pub fn id_from_uuid(s: &str) -> Option<u64> {
    let (head, last) = s.rsplit_once('-')?;
    // 8-4-4-4-12 hex digits: 36 characters in all.
    (head.len() == 23 && last.len() == 12)
        .then(|| u64::from_str_radix(last, 16).ok())
        .flatten()
}

/// `t` as a one-trade `publicTrade.<SYMBOL>` snapshot: its topic and frame (`T`, `s`, `S`,
/// `v`, `p`, `L` = tick direction against `prev_price`, `i` = [`uuid_from_id`], `BT`).
pub fn public_trade_frame(t: &RecordedTrade<'_>, prev_price: Option<&str>) -> (String, String) {
    let tick_dir = match prev_price.map(|p| {
        let (a, b) = (
            p.parse::<f64>().unwrap_or(0.0),
            t.price.parse::<f64>().unwrap_or(0.0),
        );
        b.partial_cmp(&a)
    }) {
        Some(Some(std::cmp::Ordering::Greater)) => "PlusTick",
        Some(Some(std::cmp::Ordering::Less)) => "MinusTick",
        _ => "ZeroPlusTick",
    };
    let topic = super::endpoint::topic("publicTrade", t.symbol);
    let text = format!(
        "{{\"topic\":\"{topic}\",\"type\":\"snapshot\",\"ts\":{},\"data\":[{{\"T\":{},\"s\":\"{}\",\"S\":\"{}\",\"v\":\"{}\",\"p\":\"{}\",\"L\":\"{tick_dir}\",\"i\":\"{}\",\"BT\":false}}]}}",
        t.event_ms,
        t.trade_ms,
        t.symbol,
        super::order::side_str(t.taker),
        t.qty,
        t.price,
        uuid_from_id(t.id),
    );
    (topic, text)
}

/// The error reply to a malformed market-data REST request.
pub const PARAMS_ERROR: &str =
    r#"{"retCode":10001,"retMsg":"params error","result":{},"retExtInfo":{},"time":0}"#;

/// The `GET /v5/market/recent-trade` reply rendered from recorded `publicTrade` frames (oldest
/// first): the newest `limit` trades, newest first, like the venue.
pub fn recent_trades_reply(frames: &[&str], limit: usize) -> String {
    #[derive(Deserialize)]
    struct W {
        data: Vec<T>,
    }
    #[derive(Deserialize)]
    struct T {
        #[serde(rename = "T")]
        time: u64,
        s: String,
        #[serde(rename = "S")]
        side: String,
        v: String,
        p: String,
        i: String,
        #[serde(rename = "BT", default)]
        block: bool,
    }
    let mut list: Vec<String> = Vec::new();
    // Newest first, as Bybit answers.
    for f in frames.iter().rev() {
        let Ok(w) = serde_json::from_str::<W>(f) else {
            continue;
        };
        for t in w.data.iter().rev() {
            if list.len() == limit {
                break;
            }
            list.push(format!(
                r#"{{"execId":"{}","symbol":"{}","price":"{}","size":"{}","side":"{}","time":"{}","isBlockTrade":{},"isRPITrade":false}}"#,
                t.i, t.s, t.p, t.v, t.side, t.time, t.block
            ));
        }
        if list.len() == limit {
            break;
        }
    }
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"linear","list":[{}]}},"retExtInfo":{{}},"time":{}}}"#,
        list.join(","),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    )
}

#[derive(Deserialize)]
struct BybitRequest {
    op: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    req_id: Option<String>,
}

/// Reads a public WebSocket request: `subscribe` and `ping` ops answered with
/// `{"success":true,…,"op":…}` (`ret_msg` `pong` for a ping), anything else with
/// `"success":false`; `conn_id` is the session's.
pub fn ws_request(text: &str, conn_id: &str) -> WsRequest {
    let r = serde_json::from_str::<BybitRequest>(text);
    let (op, req_id) = match &r {
        Ok(r) => (r.op.as_str(), r.req_id.clone().unwrap_or_default()),
        Err(_) => ("", String::new()),
    };
    match op {
        "subscribe" => WsRequest::Subscribe {
            reply: format!(
                "{{\"success\":true,\"ret_msg\":\"\",\"conn_id\":\"{conn_id}\",\"req_id\":\"{req_id}\",\"op\":\"subscribe\"}}"
            ),
            topics: r.map(|r| r.args).unwrap_or_default(),
        },
        "unsubscribe" => WsRequest::Unsubscribe {
            reply: format!(
                "{{\"success\":true,\"ret_msg\":\"\",\"conn_id\":\"{conn_id}\",\"req_id\":\"{req_id}\",\"op\":\"unsubscribe\"}}"
            ),
            topics: r.map(|r| r.args).unwrap_or_default(),
        },
        "ping" => WsRequest::Ping {
            reply: format!(
                "{{\"success\":true,\"ret_msg\":\"pong\",\"conn_id\":\"{conn_id}\",\"req_id\":\"{req_id}\",\"op\":\"ping\"}}"
            ),
        },
        _ => WsRequest::Invalid {
            reply: format!(
                "{{\"success\":false,\"ret_msg\":\"error:unknown op\",\"conn_id\":\"{conn_id}\",\"req_id\":\"{req_id}\",\"op\":\"{op}\"}}"
            ),
        },
    }
}

/// `GET /v5/execution/list` (`category=linear`, `symbol` required here): the executions from
/// `startTime` (ms) on, newest first, one page of at most `limit` (default 50, 1..=100), as
/// the venue documents them; `nextPageCursor` (empty on the last page) is passed back as
/// `cursor` for the next, older page (here: the trade number the page ended at). The venue's
/// own TP/SL and liquidation orders carry no `orderLinkId`. `execId` and `orderId` are UUIDs,
/// as on the venue, and an execution has the same `execId` here as on the private stream.
fn executions(sh: &Shared, q: &[(&str, &str)], now: u64) -> (u16, String) {
    let Some(symbol) = param(q, "symbol") else {
        return reply(10001, "symbol is required", json!({}), now);
    };
    let start = param(q, "startTime").and_then(|v| v.parse::<u64>().ok());
    let limit = param(q, "limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return reply(10001, "limit must be 1..=100", json!({}), now);
    }
    let before = match param(q, "cursor").map(str::parse::<u64>) {
        None => u64::MAX,
        Some(Ok(id)) => id,
        Some(Err(_)) => return reply(10001, "params error: cursor invalid", json!({}), now),
    };
    sh.venue.with(|m| {
        let mut rows = m.trades().iter().rev().filter(|t| {
            t.symbol == symbol && t.id < before && start.map_or(true, |s| t.time_ms >= s)
        });
        let page: Vec<_> = rows.by_ref().take(limit).collect();
        let next = match (rows.next(), page.last()) {
            (Some(_), Some(last)) => last.id.to_string(),
            _ => String::new(),
        };
        let list: Vec<Value> = page
            .into_iter()
            .map(|t| {
                let o = m.orders().iter().find(|o| o.id == t.order_id);
                let link = o
                    .filter(|o| {
                        o.kind == OrderKind::Market && !o.client_id.starts_with("autoclose-")
                    })
                    .map_or("", |o| o.client_id.as_str());
                execution_row(t, link)
            })
            .collect();
        reply(
            0,
            "OK",
            json!({"category": "linear", "list": list, "nextPageCursor": next}),
            now,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_uuid_carries_its_number_and_nothing_else_reads_as_one() {
        for id in [0, 7, 211, 0xffff_ffff_ffff] {
            let u = uuid_from_id(id);
            assert_eq!(u.len(), 36, "{u}");
            assert_eq!(id_from_uuid(&u), Some(id), "{u}");
        }
        // A number, a recorded venue UUID's shape with a bad group, or another length.
        assert_eq!(id_from_uuid("1321003749386327552"), None);
        assert_eq!(id_from_uuid("9aac161b-8ed6-450d-9cab-c5cc67c2178z"), None);
        assert_eq!(id_from_uuid("9aac161b-8ed6-450d-9cab-c5cc67c217"), None);
    }
}
