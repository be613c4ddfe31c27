//! The embedded exchange's private streams, served on the REST port: every account change the
//! matching engine makes ([`Change`]: orders placed, cancelled, expired, triggered; fills,
//! including venue-side stop triggers and liquidations; positions; the wallet) goes, in
//! order, to every authenticated session opened before it (no history on connect, as the
//! venues do: a client re-syncs over REST after connecting).
//!
//! - Bybit v5 `/v5/private`: `{"op":"auth","args":[api_key, expires_ms, hex(HMAC(secret,
//!   "GET/realtime" + expires_ms))]}` is verified (key, signature, `expires` in the future) and
//!   answered `{"success":…,"ret_msg":…,"op":"auth","conn_id":…}`; `subscribe` before a successful
//!   auth is refused; then topics `order`, `execution`, `position`, `wallet`;
//!   `{"op":"ping"}` → `{"op":"pong",…}`.
//! - Binance USD-M user data: `POST /fapi/v1/listenKey` (`X-MBX-APIKEY`; returns the active key
//!   or a new one), `PUT` (keepalive; -1125 for an unknown key), `DELETE`; the stream at
//!   `/ws/<listenKey>` carries `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE` and `listenKeyExpired`.
//!
//! Test hooks: [`RestExchange::drop_private_streams`](super::RestExchange::drop_private_streams)
//! (a network cut), [`RestExchange::private_outage`](super::RestExchange::private_outage)
//! (sessions cut and upgrades refused until it ends) and [`RestExchange::expire_listen_key`](super::RestExchange::expire_listen_key).

use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use super::orders::{OrderKind, OrderStatus, SimOrder, SimTrade};
use super::rest_orders::{now_ms, Shared};
use crate::types::Side;
use crate::venue::bybit::exchange::uuid_from_id;

/// One account change of the matching engine, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An order placed, cancelled or expired without a fill.
    Order(SimOrder),
    /// A fill: the order's state after it, and the trade.
    Fill {
        /// The order after the fill.
        order: SimOrder,
        /// The trade.
        trade: SimTrade,
    },
    /// A symbol's position after a fill.
    Position {
        /// Symbol.
        symbol: String,
        /// Signed quantity.
        qty: Decimal,
        /// Entry price.
        entry: Decimal,
        /// Time, Unix ms.
        ts_ms: u64,
    },
    /// The USDT wallet after a fill.
    Balance {
        /// Wallet balance.
        wallet: Decimal,
        /// Available balance.
        available: Decimal,
        /// Time, Unix ms.
        ts_ms: u64,
    },
}

/// What the private streams share: the Binance listenKey and the cut epoch.
#[derive(Debug, Default)]
pub(crate) struct PrivateState {
    /// The active listenKey (`None`: expired or never opened).
    pub(crate) listen_key: std::sync::Mutex<Option<String>>,
    /// Bumped by a cut: every session open before it drops its connection.
    pub(crate) epoch: std::sync::atomic::AtomicU64,
    /// Sessions opened so far.
    pub(crate) sessions: std::sync::atomic::AtomicU64,
    /// Upgrades refused (503) while set: an outage of the private streams.
    pub(crate) outage: std::sync::atomic::AtomicBool,
}

/// The private stream a WebSocket upgrade asks for: Bybit `/v5/private`, Binance `/ws/<key>`.
pub(crate) fn is_private_path(path: &str) -> bool {
    path == "/v5/private" || path.starts_with("/ws/")
}

/// `POST` / `PUT` / `DELETE /fapi/v1/listenKey` with the `X-MBX-APIKEY` header.
pub(crate) fn listen_key(sh: &Shared, method: &str, api_key: Option<&str>) -> (u16, String) {
    if api_key != Some(sh.api_key.as_str()) {
        return (
            401,
            json!({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
                .to_string(),
        );
    }
    let mut k = sh
        .private
        .listen_key
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    match method {
        "POST" => {
            let key = k
                .get_or_insert_with(|| {
                    let n = sh.private.epoch.load(Ordering::Relaxed);
                    format!("sim{:016x}{:08x}", now_ms(), n)
                })
                .clone();
            (200, json!({ "listenKey": key }).to_string())
        }
        "PUT" if k.is_some() => (200, "{}".into()),
        "PUT" => (
            400,
            json!({"code": -1125, "msg": "This listenKey does not exist."}).to_string(),
        ),
        _ => {
            *k = None;
            (200, "{}".into())
        }
    }
}

/// A private-stream session on `stream` (the upgrade request still unread) for `path`.
pub(crate) fn session(stream: TcpStream, sh: &Shared, path: &str) -> Result<(), String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let binance_key = path.strip_prefix("/ws/").map(str::to_string);
    let refuse = |mut s: TcpStream, status: &str, body: &str| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = std::io::Write::write_all(&mut s, (head + body).as_bytes());
        Ok(())
    };
    if sh.private.outage.load(Ordering::Relaxed) {
        return refuse(stream, "503 Service Unavailable", "");
    }
    if let Some(key) = &binance_key {
        let known = sh
            .private
            .listen_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if known.as_deref() != Some(key.as_str()) {
            let body = "{\"code\":-1125,\"msg\":\"This listenKey does not exist.\"}";
            return refuse(stream, "400 Bad Request", body);
        }
    }
    // Counted before the handshake completes: a client that sees its session open sees it
    // counted.
    let conn_id = format!(
        "priv-{}",
        sh.private.sessions.fetch_add(1, Ordering::Relaxed)
    );
    // The session streams every change from before the handshake completes: a client that
    // sees its session open (and acts at once) misses none of its own executions.
    let cursor = sh.venue.with(|m| m.change_count());
    let ws = tungstenite::accept(stream).map_err(|e| format!("private handshake: {e}"))?;
    ws.get_ref()
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    let mut s = Session {
        ws,
        conn_id,
        binance_key,
        authed: false,
        subscribed: false,
        cursor,
        epoch: sh.private.epoch.load(Ordering::Relaxed),
    };
    s.run(sh)
}

struct Session {
    ws: WebSocket<TcpStream>,
    conn_id: String,
    /// Binance: the listenKey of the path; `None` on Bybit.
    binance_key: Option<String>,
    authed: bool,
    subscribed: bool,
    cursor: usize,
    epoch: u64,
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock)
}

impl Session {
    fn run(&mut self, sh: &Shared) -> Result<(), String> {
        let mut last_ping = Instant::now();
        loop {
            if sh.stop.load(Ordering::Relaxed) {
                let _ = self.ws.close(None);
                let _ = self.ws.flush();
                return Ok(());
            }
            if sh.private.epoch.load(Ordering::Relaxed) != self.epoch {
                // A cut: FIN without a close frame.
                let _ = self.ws.get_mut().shutdown(std::net::Shutdown::Both);
                return Ok(());
            }
            if !self.read(sh)? {
                return Ok(());
            }
            if let Some(key) = &self.binance_key {
                let live = sh
                    .private
                    .listen_key
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                if live.as_deref() != Some(key.as_str()) {
                    let text = json!({"e": "listenKeyExpired", "E": now_ms(), "listenKey": key});
                    self.send(text.to_string())?;
                    let _ = self.ws.close(None);
                    let _ = self.ws.flush();
                    return Ok(());
                }
                if last_ping.elapsed() >= Duration::from_secs(5) {
                    last_ping = Instant::now();
                    let _ = self.ws.write(Message::Ping(Default::default()));
                }
            }
            let live = self.binance_key.is_some() || (self.authed && self.subscribed);
            let frames: Vec<String> = sh.venue.with(|m| {
                let new = m.changes_since(self.cursor);
                self.cursor += new.len();
                if !live {
                    return Vec::new();
                }
                new.iter()
                    .flat_map(|c| match self.binance_key {
                        Some(_) => binance_frames(c),
                        None => bybit_frames(c),
                    })
                    .collect()
            });
            for f in frames {
                self.send(f)?;
            }
            match self.ws.flush() {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(format!("private flush: {e}")),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn send(&mut self, text: String) -> Result<(), String> {
        match self.ws.write(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => Err(format!("private send: {e}")),
        }
    }

    /// Client requests; `false` when the client closed.
    fn read(&mut self, sh: &Shared) -> Result<bool, String> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    if self.binance_key.is_none() {
                        let reply = self.bybit_request(sh, t.as_str());
                        self.send(reply)?;
                    }
                }
                Ok(Message::Close(_)) => return Ok(false),
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(true),
                Err(tungstenite::Error::ConnectionClosed) => return Ok(false),
                Err(e) => return Err(format!("private read: {e}")),
            }
        }
    }

    /// Bybit `auth`, `subscribe` and `ping`; the reply.
    fn bybit_request(&mut self, sh: &Shared, text: &str) -> String {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let op = v["op"].as_str().unwrap_or("");
        let req_id = v["req_id"].as_str().unwrap_or("");
        let reply = |ok: bool, msg: &str| {
            json!({"success": ok, "ret_msg": msg, "op": op, "conn_id": self.conn_id, "req_id": req_id})
                .to_string()
        };
        match op {
            "auth" => match verify_auth(sh, &v["args"]) {
                Ok(()) => {
                    self.authed = true;
                    reply(true, "")
                }
                Err(msg) => reply(false, msg),
            },
            "subscribe" if !self.authed => reply(false, "Request not authorized"),
            "subscribe" => {
                self.subscribed = true;
                reply(true, "")
            }
            "ping" => json!({"req_id": req_id, "op": "pong", "args": [now_ms().to_string()], "conn_id": self.conn_id})
                .to_string(),
            _ => reply(false, "error:unknown op"),
        }
    }
}

/// Checks `[api_key, expires_ms, signature]`: the key, `expires` in the future, and
/// `signature = hex(HMAC_SHA256(secret, "GET/realtime" + expires))`.
pub(crate) fn verify_auth(sh: &Shared, args: &Value) -> Result<(), &'static str> {
    let key = args[0].as_str().ok_or("Params Error")?;
    let expires = args[1]
        .as_u64()
        .or_else(|| args[1].as_str().and_then(|s| s.parse().ok()))
        .ok_or("Params Error")?;
    let sig = args[2].as_str().ok_or("Params Error")?;
    if key != sh.api_key {
        return Err("Invalid apikey");
    }
    let now = now_ms().saturating_add_signed(sh.opts.account.clock_offset_ms);
    if expires <= now {
        return Err("Params Error: expires is in the past");
    }
    let mut want = [0u8; 64];
    sh.signer
        .sign_hex(format!("GET/realtime{expires}").as_bytes(), &mut want);
    if want != sig.as_bytes() {
        return Err("Invalid sign");
    }
    Ok(())
}

fn side_str(s: Side, upper: bool) -> &'static str {
    match (s, upper) {
        (Side::Buy, true) => "BUY",
        (Side::Sell, true) => "SELL",
        (Side::Buy, false) => "Buy",
        (Side::Sell, false) => "Sell",
    }
}

fn is_liquidation(o: &SimOrder) -> bool {
    o.client_id.starts_with("autoclose-")
}

/// Binance `ORDER_TRADE_UPDATE` / `ACCOUNT_UPDATE` frames of one change.
fn binance_frames(c: &Change) -> Vec<String> {
    let order = |o: &SimOrder, x: &str, t: Option<&SimTrade>| {
        let kind = match o.kind {
            _ if is_liquidation(o) => "LIQUIDATION",
            OrderKind::Market => "MARKET",
            OrderKind::StopMarket => "STOP_MARKET",
            OrderKind::TakeProfitMarket => "TAKE_PROFIT_MARKET",
        };
        let status = match o.status {
            OrderStatus::New => "NEW",
            OrderStatus::Filled if o.executed_qty < o.qty => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Canceled => "CANCELED",
            OrderStatus::Expired => "EXPIRED",
        };
        let ms = t.map_or(o.update_ms, |t| t.time_ms);
        json!({"e": "ORDER_TRADE_UPDATE", "E": ms, "T": ms, "o": {
            "s": o.symbol, "c": o.client_id, "S": side_str(o.side, true), "o": kind,
            "f": "GTC", "q": o.qty.to_string(), "p": "0", "ap": o.avg_price.to_string(),
            "sp": o.stop_price.to_string(), "x": x, "X": status, "i": o.id,
            "l": t.map_or("0".into(), |t| t.qty.to_string()),
            "z": o.executed_qty.to_string(),
            "L": t.map_or("0".into(), |t| t.price.to_string()),
            "N": "USDT", "n": t.map_or("0".into(), |t| t.commission.to_string()),
            "T": ms, "t": t.map_or(0, |t| t.id), "R": o.reduce_only, "ot": kind,
            "ps": "BOTH", "cp": o.close_position,
            "rp": t.map_or("0".into(), |t| t.realized_pnl.to_string())
        }})
        .to_string()
    };
    let frame = match c {
        Change::Order(o) => {
            let x = match o.status {
                OrderStatus::New => "NEW",
                OrderStatus::Canceled => "CANCELED",
                _ => "EXPIRED",
            };
            order(o, x, None)
        }
        Change::Fill { order: o, trade } => {
            let x = if is_liquidation(o) {
                "CALCULATED"
            } else {
                "TRADE"
            };
            order(o, x, Some(trade))
        }
        Change::Position {
            symbol,
            qty,
            entry,
            ts_ms,
        } => json!({"e": "ACCOUNT_UPDATE", "E": ts_ms, "T": ts_ms, "a": {"m": "ORDER", "B": [],
            "P": [{"s": symbol, "pa": qty.to_string(), "ep": entry.to_string(), "cr": "0",
                   "up": "0", "mt": "cross", "iw": "0", "ps": "BOTH"}]}})
        .to_string(),
        Change::Balance {
            wallet,
            available,
            ts_ms,
        } => json!({"e": "ACCOUNT_UPDATE", "E": ts_ms, "T": ts_ms, "a": {"m": "ORDER",
            "B": [{"a": "USDT", "wb": wallet.to_string(), "cw": available.to_string(), "bc": "0"}],
            "P": []}})
        .to_string(),
    };
    vec![frame]
}

/// Bybit `createType` / `stopOrderType` of an order.
fn bybit_origin(o: &SimOrder) -> (&'static str, &'static str) {
    match o.kind {
        _ if is_liquidation(o) => ("CreateByLiq", ""),
        OrderKind::Market => ("CreateByUser", ""),
        OrderKind::StopMarket => ("CreateByStopLoss", "StopLoss"),
        OrderKind::TakeProfitMarket => ("CreateByTakeProfit", "TakeProfit"),
    }
}

/// The `orderLinkId` Bybit shows: a position TP/SL has none.
fn bybit_link(o: &SimOrder) -> &str {
    match o.kind {
        OrderKind::Market => &o.client_id,
        _ => "",
    }
}

/// Bybit `order` / `execution` / `position` / `wallet` frames of one change.
fn bybit_frames(c: &Change) -> Vec<String> {
    let topic = |topic: &str, ms: u64, row: Value| {
        json!({"id": format!("{topic}-{ms}"), "topic": topic, "creationTime": ms, "data": [row]})
            .to_string()
    };
    let order = |o: &SimOrder| {
        let (create, stop) = bybit_origin(o);
        let status = match o.status {
            OrderStatus::New if o.kind == OrderKind::Market => "New",
            OrderStatus::New => "Untriggered",
            OrderStatus::Filled if o.executed_qty < o.qty => "PartiallyFilled",
            OrderStatus::Filled => "Filled",
            OrderStatus::Canceled => "Cancelled",
            OrderStatus::Expired if o.executed_qty > Decimal::ZERO => "PartiallyFilledCanceled",
            OrderStatus::Expired => "Deactivated",
        };
        topic(
            "order",
            o.update_ms,
            json!({"category": "linear", "symbol": o.symbol, "orderId": uuid_from_id(o.id),
                "orderLinkId": bybit_link(o), "side": side_str(o.side, false),
                "orderType": "Market", "orderStatus": status, "qty": o.qty.to_string(),
                "cumExecQty": o.executed_qty.to_string(), "avgPrice": o.avg_price.to_string(),
                "cumExecFee": o.fee.to_string(), "triggerPrice": o.stop_price.to_string(),
                "reduceOnly": o.reduce_only, "createType": create, "stopOrderType": stop,
                "positionIdx": 0, "updatedTime": o.update_ms.to_string()}),
        )
    };
    match c {
        Change::Order(o) => vec![order(o)],
        Change::Fill { order: o, trade: t } => {
            let (create, stop) = bybit_origin(o);
            let exec_type = if is_liquidation(o) {
                "BustTrade"
            } else {
                "Trade"
            };
            let exec = topic(
                "execution",
                t.time_ms,
                json!({"category": "linear", "symbol": o.symbol, "orderId": uuid_from_id(o.id),
                    "orderLinkId": bybit_link(o), "side": side_str(o.side, false),
                    "execId": uuid_from_id(t.id), "execPrice": t.price.to_string(),
                    "execQty": t.qty.to_string(), "execFee": t.commission.to_string(),
                    "execType": exec_type, "execTime": t.time_ms.to_string(),
                    "createType": create, "stopOrderType": stop, "isMaker": false}),
            );
            vec![exec, order(o)]
        }
        Change::Position {
            symbol,
            qty,
            entry,
            ts_ms,
        } => {
            let side = if qty.is_sign_positive() && !qty.is_zero() {
                "Buy"
            } else if qty.is_zero() {
                ""
            } else {
                "Sell"
            };
            vec![topic(
                "position",
                *ts_ms,
                json!({"category": "linear", "symbol": symbol, "side": side,
                    "size": qty.abs().to_string(), "entryPrice": entry.to_string(),
                    "positionIdx": 0, "updatedTime": ts_ms.to_string()}),
            )]
        }
        Change::Balance {
            wallet,
            available,
            ts_ms,
        } => vec![topic(
            "wallet",
            *ts_ms,
            json!({"accountType": "UNIFIED", "totalWalletBalance": wallet.to_string(),
                "totalAvailableBalance": available.to_string(),
                "coin": [{"coin": "USDT", "walletBalance": wallet.to_string()}]}),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SymbolTable;
    use crate::venue::bybit::{exchange::execution_row, private, reply};

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// The venue's own stop (no `orderLinkId`) executing trade 211 of its order 7.
    fn stop_fill() -> (SimOrder, SimTrade) {
        let trade = SimTrade {
            id: 211,
            order_id: 7,
            symbol: "BTCUSDT".into(),
            side: Side::Sell,
            price: d("61711.6"),
            qty: d("0.032"),
            commission: d("0.78990848"),
            realized_pnl: Decimal::ZERO,
            time_ms: 1_733_400_000_200,
        };
        let order = SimOrder {
            id: 7,
            client_id: "ct1-3-sl".into(),
            symbol: "BTCUSDT".into(),
            side: Side::Sell,
            kind: OrderKind::StopMarket,
            qty: d("0.032"),
            stop_price: d("61720"),
            reduce_only: true,
            close_position: true,
            status: OrderStatus::Filled,
            avg_price: trade.price,
            executed_qty: trade.qty,
            cum_quote: trade.price * trade.qty,
            fee: trade.commission,
            update_ms: trade.time_ms,
        };
        (order, trade)
    }

    /// As on the venue, one execution has one `execId` on the private stream and in
    /// `GET /v5/execution/list`, so the trader reads one id from both: an execution booked
    /// from a read is known when the stream tells it, and the other way round. (The stream
    /// said `sim-exec-211` and the list `211`: a stream-on soak journaled one stop twice.)
    #[test]
    fn a_bybit_execution_reads_as_one_id_on_the_stream_and_in_the_executions_list() {
        let (order, trade) = stop_fill();
        let frames = bybit_frames(&Change::Fill {
            order,
            trade: trade.clone(),
        });
        let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
        let mut fills = Vec::new();
        private::parse(frames[0].as_bytes(), &symbols, &mut |e| {
            if let crate::types::AccountEvent::Fill(f) = e {
                fills.push(f);
            }
        })
        .unwrap();
        let list = json!({"retCode": 0, "retMsg": "OK", "result": {"category": "linear",
            "nextPageCursor": "", "list": [execution_row(&trade, "")]}});
        let listed = reply::parse_executions(list.to_string().as_bytes()).unwrap();
        assert_eq!((fills.len(), listed.len()), (1, 1));
        assert_eq!(fills[0].trade_id, listed[0].id);
        assert_ne!(
            listed[0].id, trade.id,
            "a UUID, as on the venue, not the number"
        );
        // The order id too: the stream's row and the list's read as the same number.
        let row: Value = serde_json::from_str(&frames[0]).unwrap();
        let stream_order = row["data"][0]["orderId"].as_str().unwrap();
        assert_eq!(reply::order_id(stream_order), listed[0].order_id);
        assert_ne!(listed[0].order_id, 0);
    }
}
