//! The embedded exchange's side of the Binance USD-M order protocol: `POST /fapi/v1/order`,
//! `/fapi/v1/algoOrder`, queries, positions, balance and cancels, with the signature checked
//! like the venue (`signature = hex(HMAC(secret, query + body))`); and the account reads
//! (`/fapi/v2/account`, `/fapi/v1/leverageBracket`) and the public `time` / `exchangeInfo`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};

use super::algo;
use super::order::side_str;
use crate::exchange::orders::{OrderError, OrderKind, OrderRequest, OrderStatus, SimOrder};
use crate::exchange::rest_orders::{param, Shared};
use crate::exchange::server::WsRequest;
use crate::types::Side;
use crate::venue::RecordedTrade;

/// Binance `type` name.
pub fn kind_str(k: OrderKind) -> &'static str {
    match k {
        OrderKind::Market => "MARKET",
        OrderKind::StopMarket => "STOP_MARKET",
        OrderKind::TakeProfitMarket => "TAKE_PROFIT_MARKET",
    }
}

/// Parses a Binance `type`.
pub fn kind_of(s: &str) -> Option<OrderKind> {
    match s {
        "MARKET" => Some(OrderKind::Market),
        "STOP_MARKET" | "STOP" => Some(OrderKind::StopMarket),
        "TAKE_PROFIT_MARKET" | "TAKE_PROFIT" => Some(OrderKind::TakeProfitMarket),
        _ => None,
    }
}

/// Binance `status` name.
pub fn status_str(st: OrderStatus) -> &'static str {
    match st {
        OrderStatus::New => "NEW",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Canceled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
    }
}

/// Binance `(code, msg)` of this error.
pub fn error_code(e: &OrderError) -> (i64, String) {
    match e {
        OrderError::UnknownSymbol => (-1121, "Invalid symbol.".into()),
        OrderError::Filter("PRICE_FILTER") => (-4014, "Price not increased by tick size.".into()),
        OrderError::Filter(f) => (-1013, format!("Filter failure: {f}")),
        OrderError::MinNotional(n) => (
            -4164,
            format!(
                "Order's notional must be no smaller than {} (unless you choose reduce only).",
                n.normalize()
            ),
        ),
        OrderError::ReduceOnly => (-2022, "ReduceOnly Order is rejected.".into()),
        OrderError::Duplicate => (-4116, "ClientOrderId is duplicated.".into()),
        OrderError::NotFound => (-2013, "Order does not exist.".into()),
        OrderError::Param(m) => (-1102, m.clone()),
        OrderError::NotTrading => (-4140, "Invalid symbol status for opening position.".into()),
        OrderError::InsufficientMargin => (-2019, "Margin is insufficient.".into()),
        OrderError::NoPrice => (
            -1001,
            "Internal error; unable to process your request. Please try again.".into(),
        ),
    }
}

pub(crate) fn err(status: u16, code: i64, msg: &str) -> (u16, String) {
    (status, json!({"code": code, "msg": msg}).to_string())
}

fn order_err(e: &OrderError) -> (u16, String) {
    let (code, msg) = error_code(e);
    err(400, code, &msg)
}

/// Removes `signature=<v>` from a parameter string; returns (rest, signature).
pub(crate) fn split_signature(s: &str) -> (String, Option<&str>) {
    let mut sig = None;
    let mut kept: Vec<&str> = Vec::new();
    for kv in s.split('&').filter(|kv| !kv.is_empty()) {
        match kv.strip_prefix("signature=") {
            Some(v) => sig = Some(v),
            None => kept.push(kv),
        }
    }
    (kept.join("&"), sig)
}

/// Answers one request: `(HTTP status, JSON body)`.
pub(crate) fn handle(
    sh: &Shared,
    method: &str,
    target: &str,
    api_key: Option<&str>,
    body: &str,
    now: u64,
) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if let Some(reply) = unsigned_route(sh, method, path, now) {
        return reply;
    }
    let (q_rest, b_rest) = match authenticate(sh, api_key, query, body) {
        Ok(parts) => parts,
        Err(reply) => return reply,
    };
    let params: Vec<(&str, &str)> = q_rest
        .split('&')
        .chain(b_rest.split('&'))
        .filter_map(|kv| kv.split_once('='))
        .collect();
    if let Err(reply) = check_timestamp(sh, &params, now) {
        return reply;
    }
    signed_route(sh, method, path, &params, now)
}

/// Endpoints that need no key: server time, ping and exchange info.
fn unsigned_route(sh: &Shared, method: &str, path: &str, now: u64) -> Option<(u16, String)> {
    match (method, path) {
        ("GET", "/fapi/v1/time") => Some((200, json!({"serverTime": now}).to_string())),
        ("GET", "/fapi/v1/ping") => Some((200, "{}".into())),
        ("GET", "/fapi/v1/exchangeInfo") => Some((200, exchange_info(sh, now))),
        ("GET", super::tickers::PATH) => Some((
            200,
            super::tickers::reply(&sh.venue.with(|m| m.tickers()), now),
        )),
        _ => None,
    }
}

/// `GET /fapi/v1/exchangeInfo` from the listed instruments (`TRADING`, or `SETTLING` when
/// [`crate::exchange::orders::Matching::set_trading`] stopped one), with the
/// documented filters (`PRICE_FILTER`, `LOT_SIZE`, `MARKET_LOT_SIZE`, `MIN_NOTIONAL`) and the
/// documented default order rate limits.
fn exchange_info(sh: &Shared, now: u64) -> String {
    let listed = sh.venue.with(|m| {
        m.listed()
            .into_iter()
            .map(|(s, i)| {
                let on = m.is_trading(&s);
                (s, i, on)
            })
            .collect::<Vec<_>>()
    });
    let symbols: Vec<Value> = listed
        .iter()
        .map(|(s, i, on)| {
            let status = if *on { "TRADING" } else { "SETTLING" };
            let (tick, step) = (i.tick_size.to_string(), i.qty_step.to_string());
            json!({
                "symbol": s, "pair": s, "contractType": "PERPETUAL", "status": status,
                "baseAsset": s.trim_end_matches("USDT"), "quoteAsset": "USDT", "marginAsset": "USDT",
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000", "tickSize": tick},
                    {"filterType": "LOT_SIZE", "stepSize": step, "minQty": i.min_qty.to_string(), "maxQty": i.max_qty.to_string()},
                    {"filterType": "MARKET_LOT_SIZE", "stepSize": step, "minQty": i.min_qty.to_string(), "maxQty": i.max_market_qty.to_string()},
                    {"filterType": "MIN_NOTIONAL", "notional": i.min_notional.to_string()}
                ],
                "orderTypes": ["MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET"], "timeInForce": ["GTC", "IOC"]
            })
        })
        .collect();
    json!({
        "timezone": "UTC", "serverTime": now, "assets": [],
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}
        ],
        "symbols": symbols
    })
    .to_string()
}

/// `GET /fapi/v2/account`: permissions from [`crate::exchange::AccountOptions`], the USDT
/// wallet (available: [`crate::exchange::orders::Matching::available`]), positions.
fn account(sh: &Shared, now: u64) -> (u16, String) {
    let a = &sh.opts.account;
    sh.venue.with(|m| {
        let (bal, upnl, free) = (m.balance(), m.unrealized(), m.available().to_string());
        let positions: Vec<Value> = m
            .positions()
            .into_iter()
            .map(|(s, p, mark)| {
                json!({
                    "symbol": s, "positionAmt": p.qty.to_string(), "entryPrice": p.entry.to_string(),
                    "unrealizedProfit": p.unrealized(mark).to_string(),
                    "leverage": m.book().leverage(&s).to_string(),
                    "isolated": false, "positionSide": "BOTH", "updateTime": now
                })
            })
            .collect();
        let (b, u, avail) = (bal.to_string(), upnl.to_string(), (bal + upnl).to_string());
        let body = json!({
            "feeTier": 0, "canTrade": a.can_trade, "canDeposit": true, "canWithdraw": a.can_withdraw,
            "updateTime": 0, "multiAssetsMargin": false, "tradeGroupId": -1,
            "totalInitialMargin": "0", "totalMaintMargin": "0", "totalWalletBalance": b,
            "totalUnrealizedProfit": u, "totalMarginBalance": avail, "totalCrossWalletBalance": b,
            "totalCrossUnPnl": u, "availableBalance": free, "maxWithdrawAmount": b,
            "assets": [{
                "asset": "USDT", "walletBalance": b, "unrealizedProfit": u, "marginBalance": avail,
                "crossWalletBalance": b, "crossUnPnl": u, "availableBalance": free,
                "maxWithdrawAmount": b, "marginAvailable": true, "updateTime": now
            }],
            "positions": positions
        });
        (200, body.to_string())
    })
}

/// `GET /fapi/v1/leverageBracket`: one bracket per symbol whose `initialLeverage` is the
/// exchange's maximum ([`crate::exchange::AccountOptions::max_leverage`]); one object when
/// `symbol` was sent, an array otherwise (as documented).
fn leverage_brackets(sh: &Shared, symbol: Option<&str>) -> (u16, String) {
    use rust_decimal::prelude::ToPrimitive;
    let listed = sh.venue.with(|m| m.listed());
    let row = |(s, i): &(String, crate::types::Instrument)| {
        let max = sh
            .opts
            .account
            .max_leverage(i)
            .trunc()
            .to_u32()
            .unwrap_or(1);
        json!({"symbol": s, "brackets": [{
            "bracket": 1, "initialLeverage": max, "notionalCap": 50000, "notionalFloor": 0,
            "maintMarginRatio": 0.004, "cum": 0.0
        }]})
    };
    match symbol {
        Some(x) => match listed.iter().find(|(s, _)| s == x) {
            Some(r) => (200, row(r).to_string()),
            None => order_err(&OrderError::UnknownSymbol),
        },
        None => (
            200,
            Value::Array(listed.iter().map(row).collect()).to_string(),
        ),
    }
}

/// Authentication, exactly in the venue's order: key, then signature over
/// `totalParams = query + body` (no separator). Returns the unsigned query and body.
fn authenticate(
    sh: &Shared,
    api_key: Option<&str>,
    query: &str,
    body: &str,
) -> Result<(String, String), (u16, String)> {
    match api_key {
        None => return Err(err(401, -2014, "API-key format invalid.")),
        Some(k) if k != sh.api_key => {
            return Err(err(
                401,
                -2015,
                "Invalid API-key, IP, or permissions for action.",
            ))
        }
        Some(_) => {}
    }
    let (q_rest, q_sig) = split_signature(query);
    let (b_rest, b_sig) = split_signature(body);
    let Some(sig) = q_sig.or(b_sig) else {
        return Err(err(
            400,
            -1102,
            "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        ));
    };
    let total = format!("{q_rest}{b_rest}");
    if !sh.signer.verify_hex(total.as_bytes(), sig.as_bytes()) {
        return Err(err(400, -1022, "Signature for this request is not valid."));
    }
    Ok((q_rest, b_rest))
}

/// Timestamp window: `timestamp < now + 1000` and `now - timestamp <= recvWindow` (ms).
pub(crate) fn check_timestamp(
    sh: &Shared,
    params: &[(&str, &str)],
    now: u64,
) -> Result<(), (u16, String)> {
    let Some(ts) = param(params, "timestamp").and_then(|t| t.parse::<u64>().ok()) else {
        return Err(err(
            400,
            -1102,
            "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
        ));
    };
    let recv_window = match param(params, "recvWindow").map(str::parse::<u64>) {
        None => 5_000,
        Some(Ok(w)) if w <= sh.opts.max_recv_window_ms => w,
        Some(_) => return Err(err(400, -1131, "recvWindow must be less than 60000")),
    };
    if ts >= now + 1_000 || now.saturating_sub(ts) > recv_window {
        sh.stats
            .timestamp_rejects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(err(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(())
}

/// Dispatches an authenticated request to its endpoint.
pub(crate) fn signed_route(
    sh: &Shared,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    now: u64,
) -> (u16, String) {
    let symbol = param(params, "symbol");
    match (method, path) {
        ("POST", "/fapi/v1/order") => new_order(sh, params, now),
        ("POST", "/fapi/v1/algoOrder") => algo::new_algo_order(sh, params, now),
        ("GET", "/fapi/v1/algoOrder") | ("DELETE", "/fapi/v1/algoOrder") => {
            algo::query_or_cancel_algo(sh, method == "DELETE", params, now)
        }
        ("GET", "/fapi/v1/openAlgoOrders") => algo::open_algo_orders(sh, symbol),
        ("DELETE", "/fapi/v1/algoOpenOrders") => match symbol {
            Some(symbol) => algo::cancel_all_algo(sh, symbol, now),
            None => missing_symbol(),
        },
        ("GET", "/fapi/v1/order") | ("DELETE", "/fapi/v1/order") => match symbol {
            Some(symbol) => query_or_cancel(sh, method == "DELETE", symbol, params, now),
            None => missing_symbol(),
        },
        ("GET", "/fapi/v1/openOrders") => sh.venue.with(|m| {
            let v: Vec<Value> = m
                .open_orders(symbol)
                .filter(|o| o.kind == OrderKind::Market)
                .map(order_json)
                .collect();
            (200, Value::Array(v).to_string())
        }),
        ("GET", "/fapi/v1/userTrades") => match symbol {
            Some(symbol) => user_trades(sh, symbol, params),
            None => missing_symbol(),
        },
        ("GET", "/fapi/v2/positionRisk") => position_risk(sh, symbol, now),
        ("GET", "/fapi/v2/balance") => balance(sh, now),
        ("GET", "/fapi/v2/account") => account(sh, now),
        ("GET", "/fapi/v1/leverageBracket") => leverage_brackets(sh, symbol),
        ("POST", "/fapi/v1/leverage") => super::exchange_leverage::set_leverage(sh, params),
        ("POST", "/fapi/v1/marginType") => super::exchange_leverage::set_margin_type(sh, params),
        _ => err(
            404,
            -5000,
            &format!("Path {path}, Method {method} is invalid"),
        ),
    }
}

/// `-1102` for a request without `symbol`.
fn missing_symbol() -> (u16, String) {
    err(
        400,
        -1102,
        "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
    )
}

/// `GET`/`DELETE /fapi/v1/order`: finds the order by `origClientOrderId` (preferred) or
/// `orderId`, and cancels it when `cancel`.
fn query_or_cancel(
    sh: &Shared,
    cancel: bool,
    symbol: &str,
    params: &[(&str, &str)],
    now: u64,
) -> (u16, String) {
    let client = param(params, "origClientOrderId");
    let id = param(params, "orderId").and_then(|v| v.parse::<u64>().ok());
    sh.venue.with(|m| {
        let found = match (client, id) {
            (Some(c), _) => m.order_by_client(symbol, c).cloned(),
            (None, Some(i)) => m.order_by_id(symbol, i).cloned(),
            (None, None) => {
                return err(
                    400,
                    -1102,
                    "Either orderId or origClientOrderId must be sent.",
                )
            }
        };
        let Some(o) = found else {
            return order_err(&OrderError::NotFound);
        };
        if cancel {
            match m.cancel(symbol, &o.client_id, now) {
                Ok(o) => (200, order_json(&o).to_string()),
                Err(_) => err(400, -2011, "Unknown order sent."),
            }
        } else {
            (200, order_json(&o).to_string())
        }
    })
}

/// `GET /fapi/v1/userTrades` for one symbol: the trades from `startTime` (ms) on, or from
/// trade id `fromId` on (not both), oldest first, at most `limit` (default 500, at most
/// 1000) — as the venue documents them.
fn user_trades(sh: &Shared, symbol: &str, params: &[(&str, &str)]) -> (u16, String) {
    let start = param(params, "startTime").and_then(|v| v.parse::<u64>().ok());
    let from_id = param(params, "fromId").and_then(|v| v.parse::<u64>().ok());
    let limit = param(params, "limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return err(400, -1130, "Data sent for parameter 'limit' is not valid.");
    }
    if from_id.is_some() && start.is_some() {
        return err(400, -1128, "Combination of optional parameters invalid.");
    }
    sh.venue.with(|m| {
        let v: Vec<Value> = m
            .trades()
            .iter()
            .filter(|t| {
                t.symbol == symbol
                    && start.map_or(true, |s| t.time_ms >= s)
                    && from_id.map_or(true, |f| t.id >= f)
            })
            .take(limit)
            .map(|t| {
                json!({
                    "symbol": t.symbol, "id": t.id, "orderId": t.order_id,
                    "side": side_str(t.side), "price": t.price.to_string(),
                    "qty": t.qty.to_string(), "realizedPnl": t.realized_pnl.to_string(),
                    "quoteQty": (t.price * t.qty).to_string(),
                    "commission": t.commission.to_string(), "commissionAsset": "USDT",
                    "time": t.time_ms, "positionSide": "BOTH",
                    "buyer": t.side == Side::Buy, "maker": false
                })
            })
            .collect();
        (200, Value::Array(v).to_string())
    })
}

/// `GET /fapi/v2/positionRisk`, optionally for one symbol.
fn position_risk(sh: &Shared, symbol: Option<&str>, now: u64) -> (u16, String) {
    sh.venue.with(|m| {
        let v: Vec<Value> = m
            .positions()
            .into_iter()
            .filter(|(s, _, _)| symbol.map_or(true, |x| x == s))
            .map(|(s, p, mark)| {
                json!({
                    "symbol": s, "positionAmt": p.qty.to_string(),
                    "entryPrice": p.entry.to_string(), "markPrice": mark.to_string(),
                    "unRealizedProfit": p.unrealized(mark).to_string(),
                    "leverage": m.book().leverage(&s).to_string(),
                    "marginType": match m.book().margin_mode(&s) {
                        Some("ISOLATED") => "isolated",
                        _ => "cross",
                    },
                    "positionSide": "BOTH",
                    "updateTime": now
                })
            })
            .collect();
        (200, Value::Array(v).to_string())
    })
}

/// `GET /fapi/v2/balance`: one USDT row; available = wallet + unrealized PnL − initial margin
/// ([`crate::exchange::orders::Matching::available`]).
fn balance(sh: &Shared, now: u64) -> (u16, String) {
    sh.venue.with(|m| {
        let bal = m.balance();
        let upnl = m.unrealized();
        let free = m.available();
        (
            200,
            json!([{
                "accountAlias": "embedded", "asset": "USDT",
                "balance": bal.to_string(), "crossWalletBalance": bal.to_string(),
                "crossUnPnl": upnl.to_string(), "availableBalance": free.to_string(),
                "maxWithdrawAmount": bal.to_string(), "marginAvailable": true, "updateTime": now
            }])
            .to_string(),
        )
    })
}

fn new_order(sh: &Shared, params: &[(&str, &str)], now: u64) -> (u16, String) {
    let missing = |k: &str| {
        err(
            400,
            -1102,
            &format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."),
        )
    };
    let Some(symbol) = param(params, "symbol") else {
        return missing("symbol");
    };
    let side = match param(params, "side") {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        Some(_) => return err(400, -1117, "Invalid side."),
        None => return missing("side"),
    };
    let kind = match param(params, "type").map(kind_of) {
        Some(Some(k)) => k,
        Some(None) => return err(400, -1116, "Invalid orderType."),
        None => return missing("type"),
    };
    if kind != OrderKind::Market {
        return algo::unsupported_on_order_endpoint();
    }
    let dec = |k: &str| -> Result<Option<Decimal>, (u16, String)> {
        match param(params, k) {
            None => Ok(None),
            Some(v) => Decimal::from_str(v).map(Some).map_err(|_| {
                err(
                    400,
                    -1102,
                    &format!(
                        "Mandatory parameter '{k}' was not sent, was empty/null, or malformed."
                    ),
                )
            }),
        }
    };
    let qty = match dec("quantity") {
        Ok(q) => q,
        Err(e) => return e,
    };
    let stop_price = match dec("stopPrice") {
        Ok(q) => q,
        Err(e) => return e,
    };
    let order = OrderRequest {
        symbol,
        side,
        kind,
        qty,
        stop_price,
        reduce_only: param(params, "reduceOnly") == Some("true"),
        close_position: param(params, "closePosition") == Some("true"),
        client_id: param(params, "newClientOrderId").unwrap_or(""),
    };
    match sh.venue.with(|m| m.place(&order, now)) {
        Ok(o) => (200, order_json(&o).to_string()),
        Err(e) => order_err(&e),
    }
}

/// An order in Binance's response shape (`newOrderRespType=RESULT`).
pub fn order_json(o: &SimOrder) -> Value {
    json!({
        "orderId": o.id, "symbol": o.symbol, "status": status_str(o.status),
        "clientOrderId": o.client_id, "price": "0", "avgPrice": o.avg_price.to_string(),
        "origQty": o.qty.to_string(), "executedQty": o.executed_qty.to_string(),
        "cumQty": o.executed_qty.to_string(), "cumQuote": o.cum_quote.to_string(),
        "timeInForce": "GTC", "type": kind_str(o.kind), "reduceOnly": o.reduce_only,
        "closePosition": o.close_position, "side": side_str(o.side), "positionSide": "BOTH",
        "stopPrice": o.stop_price.to_string(), "workingType": "CONTRACT_PRICE",
        "priceProtect": false, "origType": kind_str(o.kind), "updateTime": o.update_ms
    })
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    data: Option<FrameData<'a>>,
}

#[derive(Deserialize)]
struct FrameData<'a> {
    #[serde(borrow)]
    e: Option<&'a str>,
    #[serde(rename = "E")]
    event_ms: Option<u64>,
    #[serde(rename = "T")]
    trade_ms: Option<u64>,
    #[serde(borrow)]
    s: Option<&'a str>,
    t: Option<u64>,
    #[serde(borrow)]
    p: Option<&'a str>,
    #[serde(borrow)]
    q: Option<&'a str>,
    m: Option<bool>,
}

/// The trade of one recorded combined-stream frame (`{"stream":…,"data":{…}}`): `Ok(None)` for
/// any event other than `trade` / `aggTrade` (and lines without `data`, e.g. REST snapshots),
/// `Err` for invalid JSON or a trade missing a field (named). Price and quantity as recorded;
/// the id is `t` (0 for an aggTrade: other events share the frame shape, and in a depth
/// snapshot `a` is the ask list); taker side from `m` (true = the buyer was maker).
pub fn recorded_frame(text: &str) -> Result<Option<RecordedTrade<'_>>, String> {
    let f: Frame<'_> = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let Some(d) = f.data else { return Ok(None) };
    if !matches!(d.e, Some("trade") | Some("aggTrade")) {
        return Ok(None);
    }
    let missing = |k: &str| format!("trade without field `{k}`");
    let symbol = d.s.ok_or_else(|| missing("s"))?;
    let taker = if d.m.ok_or_else(|| missing("m"))? {
        Side::Sell
    } else {
        Side::Buy
    };
    Ok(Some(RecordedTrade {
        symbol,
        price: d.p.ok_or_else(|| missing("p"))?,
        qty: d.q.ok_or_else(|| missing("q"))?,
        taker,
        id: d.t.unwrap_or(0),
        trade_ms: d.trade_ms.ok_or_else(|| missing("T"))?,
        event_ms: d.event_ms.unwrap_or(0),
    }))
}

/// Calls `on(symbol, price, ts_ms)` for the trade of a recorded combined-stream `trade` or
/// `aggTrade` frame ([`recorded_frame`]), price exactly as recorded; anything else is skipped.
pub fn recorded_trades(text: &str, mut on: impl FnMut(&str, Decimal, u64)) {
    if let Ok(Some(t)) = recorded_frame(text) {
        if let Ok(p) = Decimal::from_str(t.price) {
            on(t.symbol, p, t.trade_ms);
        }
    }
}

/// The trade of a recorded combined-stream `@trade` frame ([`recorded_frame`]), `None` when it
/// is not one.
pub fn recorded_trade(text: &str) -> Option<RecordedTrade<'_>> {
    recorded_frame(text).ok().flatten()
}

/// The error reply to a malformed market-data REST request.
pub const PARAMS_ERROR: &str = r#"{"code":-1100,"msg":"Illegal characters found in a parameter."}"#;

/// The `GET /fapi/v1/trades` reply rendered from recorded `@trade` frames (oldest first): the
/// last `limit` of them, oldest first, like the venue.
pub fn recent_trades_reply(frames: &[&str], limit: usize) -> String {
    #[derive(Deserialize)]
    struct W {
        data: T,
    }
    #[derive(Deserialize)]
    struct T {
        #[serde(rename = "T")]
        time: u64,
        t: u64,
        p: String,
        q: String,
        m: bool,
    }
    let items: Vec<String> = frames[frames.len().saturating_sub(limit)..]
        .iter()
        .filter_map(|f| serde_json::from_str::<W>(f).ok())
        .map(|w| {
            let quote = w.data.p.parse::<f64>().unwrap_or(0.0) * w.data.q.parse::<f64>().unwrap_or(0.0);
            format!(
                r#"{{"id":{},"price":"{}","qty":"{}","quoteQty":"{quote:.8}","time":{},"isBuyerMaker":{}}}"#,
                w.data.t, w.data.p, w.data.q, w.data.time, w.data.m
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[derive(Deserialize)]
struct BinanceRequest {
    method: String,
    #[serde(default)]
    params: Vec<String>,
    id: Option<u64>,
}

/// Reads a market-data WebSocket request: `{"method":"SUBSCRIBE","params":[..],"id":N}` and
/// `{"method":"UNSUBSCRIBE",..}` are acknowledged with `{"result":null,"id":N}`, anything
/// else answered with error 2.
pub fn ws_request(text: &str) -> WsRequest {
    match serde_json::from_str::<BinanceRequest>(text) {
        Ok(r) if r.method == "SUBSCRIBE" || r.method == "UNSUBSCRIBE" => {
            let id = r.id.map_or("null".to_string(), |i| i.to_string());
            let reply = format!("{{\"result\":null,\"id\":{id}}}");
            if r.method == "SUBSCRIBE" {
                WsRequest::Subscribe {
                    topics: r.params,
                    reply,
                }
            } else {
                WsRequest::Unsubscribe {
                    topics: r.params,
                    reply,
                }
            }
        }
        _ => WsRequest::Invalid {
            reply: "{\"error\":{\"code\":2,\"msg\":\"Invalid request\"},\"id\":null}".to_string(),
        },
    }
}
