//! Binance USD-M `POST /fapi/v1/order` requests: form body, HMAC signature, HTTP/1.1 bytes,
//! all written into buffers reused across orders.
//!
//! Recipe (Binance "SIGNED endpoint"): `signature = hex(HMAC_SHA256(secret, totalParams))`
//! where totalParams is the query string concatenated with the body exactly as sent; we send
//! everything in the body, so totalParams = body, and `&signature=…` is appended to it.
//!
//! Take-profit / stop-loss: Binance has no TP/SL fields on an entry order. They are separate
//! reduce-only (or `closePosition`) `TAKE_PROFIT_MARKET` / `STOP_MARKET` conditional orders,
//! which since 2025-12-09 go to the Algo Service, `POST /fapi/v1/algoOrder`
//! (`algoType=CONDITIONAL`, `triggerPrice`, `clientAlgoId`); `/fapi/v1/order` answers -4120 for
//! them. [`BinanceOrderBuilder::build_exit`] builds those.

use rust_decimal::Decimal;

use crate::types::instrument::{write_decimal, Instrument};
use crate::types::RejectReason;
use crate::types::Side;
use crate::venue::order::{
    prepare, valid_symbol, NewOrder, OrderFields, OrderReject, TimeInForce, TriggerBy,
};
use crate::venue::sign::{Credentials, Signer};

use super::template::BinanceTemplates;

/// Binance's spelling of a side (`BUY` / `SELL`).
#[inline]
pub fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Binance USD-M spelling of a time in force (post-only is `GTX`).
pub fn time_in_force_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::PostOnly => "GTX",
    }
}

/// Binance `workingType` of a trigger (no index trigger: `MARK_PRICE`).
pub fn working_type_str(t: TriggerBy) -> &'static str {
    match t {
        TriggerBy::LastPrice => "CONTRACT_PRICE",
        TriggerBy::MarkPrice | TriggerBy::IndexPrice => "MARK_PRICE",
    }
}

/// The one Binance signing recipe ("SIGNED endpoint"): appends `recvWindow=…&timestamp=…`
/// to `params` (after `&` unless empty), signs all of it into `sig` as
/// `hex(HMAC_SHA256(secret, params))` and appends `&signature=<sig>`. Used for order bodies and
/// for signed query strings alike. No allocation once `params` has grown.
#[inline]
pub fn sign_params(
    signer: &Signer,
    recv_window_ms: u64,
    params: &mut Vec<u8>,
    timestamp_ms: u64,
    sig: &mut [u8; 64],
) {
    if !params.is_empty() {
        params.push(b'&');
    }
    params.extend_from_slice(b"recvWindow=");
    params.extend_from_slice(itoa::Buffer::new().format(recv_window_ms).as_bytes());
    params.extend_from_slice(b"&timestamp=");
    params.extend_from_slice(itoa::Buffer::new().format(timestamp_ms).as_bytes());
    signer.sign_hex(params, sig);
    params.extend_from_slice(b"&signature=");
    params.extend_from_slice(sig);
}

/// Path of the entry order endpoint.
pub const BINANCE_ORDER_PATH: &str = "/fapi/v1/order";
/// Path of the conditional (TP/SL) order endpoint.
pub const BINANCE_ALGO_ORDER_PATH: &str = "/fapi/v1/algoOrder";

/// Take-profit or stop-loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// `TAKE_PROFIT_MARKET`: closes at market when the trigger is reached in the position's favour.
    TakeProfit,
    /// `STOP_MARKET`: closes at market when the trigger is reached against the position.
    StopLoss,
}

/// A conditional exit of an open position (Binance: a separate algo order).
#[derive(Clone, Copy, Debug)]
pub struct ExitOrder<'a> {
    /// Venue symbol.
    pub symbol: &'a str,
    /// Side of the position being protected (the exit order takes the opposite side).
    pub position_side: Side,
    /// Take-profit or stop-loss.
    pub kind: ExitKind,
    /// Trigger price; rounded to the tick toward the entry (long TP floor, long SL ceil, short
    /// the reverse).
    pub trigger_price: Decimal,
    /// `Some(q)`: reduce-only for `floor(q / step) · step`; `None`: `closePosition=true`.
    pub qty: Option<Decimal>,
    /// Trigger price source (`workingType`).
    pub trigger_by: TriggerBy,
    /// Client sequence: `clientAlgoId = prefix + seq + "-tp" | "-sl"`; `None` omits it.
    pub client_seq: Option<u64>,
    /// Request timestamp, Unix ms (venue clock).
    pub timestamp_ms: u64,
}

impl<'a> ExitOrder<'a> {
    /// The exit of `kind` that an entry `o` asked for (its `take_profit` / `stop_loss`), closing
    /// the quantity the entry opens (reduce-only), same client sequence and timestamp.
    pub fn from_entry(o: &NewOrder<'a>, kind: ExitKind) -> Option<Self> {
        let trigger = match kind {
            ExitKind::TakeProfit => o.take_profit?,
            ExitKind::StopLoss => o.stop_loss?,
        };
        Some(Self {
            symbol: o.symbol,
            position_side: o.side,
            kind,
            trigger_price: trigger,
            qty: Some(o.qty),
            trigger_by: o.trigger_by,
            client_seq: o.client_seq,
            timestamp_ms: o.timestamp_ms,
        })
    }
}

/// One entry order as sent: exact values, no rounding left to do.
pub(super) struct EntryBody<'a> {
    pub(super) symbol: &'a str,
    pub(super) side: Side,
    pub(super) qty: Decimal,
    /// Trailing zeros dropped from decimals (rounded orders) or sent as given.
    pub(super) trim: bool,
    /// `LIMIT` price and time in force; `None`: `MARKET`.
    pub(super) limit: Option<(Decimal, TimeInForce)>,
    pub(super) reduce_only: bool,
    pub(super) client_seq: Option<u64>,
    pub(super) timestamp_ms: u64,
}

/// Builds signed Binance order requests into reused buffers; entry orders of the symbols given
/// to [`Self::set_symbols`] come from pre-rendered templates (same bytes).
pub struct BinanceOrderBuilder {
    creds: Credentials,
    client_prefix: String,
    body: Vec<u8>,
    request: Vec<u8>,
    /// Where the body starts in `request`.
    body_start: usize,
    sig: [u8; 64],
    templates: BinanceTemplates,
    /// The last entry came from a template.
    templated: bool,
}

impl std::fmt::Debug for BinanceOrderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceOrderBuilder")
            .field("host", &self.creds.host)
            .field("client_prefix", &self.client_prefix)
            .finish_non_exhaustive()
    }
}

impl BinanceOrderBuilder {
    /// A builder for `host` signing with `secret`; `client_prefix` starts every client order id.
    pub fn new(
        api_key: &str,
        secret: &[u8],
        host: &str,
        recv_window_ms: u64,
        client_prefix: &str,
    ) -> Self {
        Self {
            creds: Credentials::new(api_key, secret, host, recv_window_ms),
            client_prefix: client_prefix.to_string(),
            body: Vec::with_capacity(512),
            request: Vec::with_capacity(1024),
            body_start: 0,
            sig: [0; 64],
            templates: BinanceTemplates::new(),
            templated: false,
        }
    }

    /// Renders the order templates of `names` (every side and type; cold, allocates), replacing
    /// any rendered before: call at start-up and whenever the traded symbols change. Entries of
    /// other symbols are written field by field, to the same bytes.
    pub fn set_symbols<S: AsRef<str>>(&mut self, names: &[S]) {
        self.templates
            .render(&self.creds, &self.client_prefix, names);
    }

    /// True when the last entry order was written from a template.
    pub fn last_templated(&self) -> bool {
        self.templated
    }

    /// The full HTTP request bytes of the last order written.
    pub fn last_request(&self) -> &[u8] {
        &self.request
    }

    /// Writes the signed market order from exact, already-rounded fields (the executor's path;
    /// decimals sent as given) and returns the full HTTP request bytes.
    /// No allocation once the buffers have reached their working size.
    pub fn build(&mut self, o: &OrderFields<'_>) -> &[u8] {
        self.write_entry(&EntryBody {
            symbol: o.symbol,
            side: o.side,
            qty: o.quantity,
            trim: false,
            limit: None,
            reduce_only: o.reduce_only,
            client_seq: Some(o.client_seq),
            timestamp_ms: o.timestamp_ms,
        })
    }

    /// Rounds `o` to `inst` ([`prepare`]) and writes the signed `POST /fapi/v1/order` (`MARKET`
    /// or `LIMIT`, decimals trimmed) through the same writer as [`Self::build`].
    /// `o.take_profit` / `o.stop_loss` are validated here but sent as separate algo orders:
    /// build them with [`ExitOrder::from_entry`] and [`Self::build_exit`].
    pub fn build_order(
        &mut self,
        inst: &Instrument,
        o: &NewOrder<'_>,
    ) -> Result<&[u8], OrderReject> {
        let p = prepare(inst, o)?;
        Ok(self.write_entry(&EntryBody {
            symbol: o.symbol,
            side: o.side,
            qty: p.qty,
            trim: true,
            limit: p.price.map(|price| (price, o.time_in_force)),
            reduce_only: o.reduce_only,
            client_seq: o.client_seq,
            timestamp_ms: o.timestamp_ms,
        }))
    }

    /// The one `POST /fapi/v1/order` writer. Parameter order: `symbol, side, type, quantity,
    /// price, timeInForce` (limit), then `reduceOnly`, `newClientOrderId` when set,
    /// `recvWindow`, `timestamp`, `signature`.
    #[inline]
    fn write_entry(&mut self, e: &EntryBody<'_>) -> &[u8] {
        let t = self
            .templates
            .write_entry(e, &mut self.request, &mut self.sig);
        self.templated = t.is_some();
        match t {
            Some(at) => {
                self.body_start = at;
                &self.request
            }
            None => self.write_entry_fields(e),
        }
    }

    /// [`Self::write_entry`] field by field (no template).
    fn write_entry_fields(&mut self, e: &EntryBody<'_>) -> &[u8] {
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(b"symbol=");
        b.extend_from_slice(e.symbol.as_bytes());
        b.extend_from_slice(b"&side=");
        b.extend_from_slice(side_str(e.side).as_bytes());
        b.extend_from_slice(match e.limit {
            None => &b"&type=MARKET&quantity="[..],
            Some(_) => &b"&type=LIMIT&quantity="[..],
        });
        write_decimal(b, e.qty, e.trim);
        if let Some((price, tif)) = e.limit {
            b.extend_from_slice(b"&price=");
            write_decimal(b, price, e.trim);
            b.extend_from_slice(b"&timeInForce=");
            b.extend_from_slice(time_in_force_str(tif).as_bytes());
        }
        if e.reduce_only {
            b.extend_from_slice(b"&reduceOnly=true");
        }
        if let Some(seq) = e.client_seq {
            b.extend_from_slice(b"&newClientOrderId=");
            b.extend_from_slice(self.client_prefix.as_bytes());
            b.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
        }
        self.finish(BINANCE_ORDER_PATH, e.timestamp_ms);
        &self.request
    }

    /// Writes the signed `POST /fapi/v1/algoOrder` for a TP/SL exit: `algoType=CONDITIONAL,
    /// symbol, side (opposite of the position), type (TAKE_PROFIT_MARKET | STOP_MARKET),
    /// quantity + reduceOnly=true | closePosition=true, triggerPrice, workingType, clientAlgoId,
    /// recvWindow, timestamp, signature`.
    pub fn build_exit(
        &mut self,
        inst: &Instrument,
        x: &ExitOrder<'_>,
    ) -> Result<&[u8], OrderReject> {
        if !valid_symbol(x.symbol) {
            return Err(OrderReject::InvalidSymbol);
        }
        let long = x.position_side == Side::Buy;
        let trigger = match (x.kind, long) {
            (ExitKind::TakeProfit, true) | (ExitKind::StopLoss, false) => {
                inst.floor_price(x.trigger_price)
            }
            _ => inst.ceil_price(x.trigger_price),
        };
        if trigger <= Decimal::ZERO {
            return Err(OrderReject::InvalidTrigger);
        }
        let qty = match x.qty {
            Some(q) => {
                let q = inst.floor_qty_dec(q);
                if q <= Decimal::ZERO || q < inst.min_qty {
                    return Err(OrderReject::Filter(RejectReason::BelowMinQty));
                }
                if q > inst.max_market_qty {
                    return Err(OrderReject::Filter(RejectReason::AboveMaxQty));
                }
                Some(q)
            }
            None => None,
        };
        let exit_side = match x.position_side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(b"algoType=CONDITIONAL&symbol=");
        b.extend_from_slice(x.symbol.as_bytes());
        b.extend_from_slice(b"&side=");
        b.extend_from_slice(side_str(exit_side).as_bytes());
        b.extend_from_slice(match x.kind {
            ExitKind::TakeProfit => &b"&type=TAKE_PROFIT_MARKET"[..],
            ExitKind::StopLoss => &b"&type=STOP_MARKET"[..],
        });
        match qty {
            Some(q) => {
                b.extend_from_slice(b"&quantity=");
                write_decimal(b, q, true);
                b.extend_from_slice(b"&reduceOnly=true");
            }
            None => b.extend_from_slice(b"&closePosition=true"),
        }
        b.extend_from_slice(b"&triggerPrice=");
        write_decimal(b, trigger, true);
        b.extend_from_slice(b"&workingType=");
        b.extend_from_slice(working_type_str(x.trigger_by).as_bytes());
        if let Some(seq) = x.client_seq {
            b.extend_from_slice(b"&clientAlgoId=");
            b.extend_from_slice(self.client_prefix.as_bytes());
            b.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
            b.extend_from_slice(match x.kind {
                ExitKind::TakeProfit => &b"-tp"[..],
                ExitKind::StopLoss => &b"-sl"[..],
            });
        }
        self.finish(BINANCE_ALGO_ORDER_PATH, x.timestamp_ms);
        Ok(&self.request)
    }

    /// Signs the body ([`sign_params`]) and writes the HTTP/1.1 request for `path`.
    #[inline]
    fn finish(&mut self, path: &str, timestamp_ms: u64) {
        let (b, c) = (&mut self.body, &self.creds);
        sign_params(&c.signer, c.recv_window_ms, b, timestamp_ms, &mut self.sig);

        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(b"POST ");
        r.extend_from_slice(path.as_bytes());
        r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        r.extend_from_slice(c.host.as_bytes());
        r.extend_from_slice(b"\r\nX-MBX-APIKEY: ");
        r.extend_from_slice(c.api_key.as_bytes());
        r.extend_from_slice(
            b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ",
        );
        r.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
        r.extend_from_slice(b"\r\n\r\n");
        self.body_start = r.len();
        r.extend_from_slice(b);
    }

    /// The signed body of the last request (`...&signature=<hex>`).
    pub fn last_body(&self) -> &[u8] {
        &self.request[self.body_start..]
    }

    /// The signature of the last request (lowercase hex).
    pub fn last_signature(&self) -> &[u8; 64] {
        &self.sig
    }

    /// Signs an arbitrary payload with this builder's key (lowercase hex).
    pub fn sign_payload(&self, payload: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        self.creds.signer.sign_hex(payload, &mut out);
        out
    }
}

/// Binance USD-M: the order builder plus order-status and account queries signed with the
/// same key (`GET …?<params>&signature=hex(HMAC(secret, params))`, header `X-MBX-APIKEY`).
pub struct BinanceVenue {
    builder: BinanceOrderBuilder,
    params: Vec<u8>,
    request: Vec<u8>,
    /// TP/SL of the last entry built (placed as algo orders once it fills).
    exits: (Option<Decimal>, Option<Decimal>),
}

impl std::fmt::Debug for BinanceVenue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceVenue")
            .field("builder", &self.builder)
            .finish_non_exhaustive()
    }
}

impl BinanceVenue {
    /// Wraps `builder`; queries are signed with its key, for its host.
    pub fn new(builder: BinanceOrderBuilder) -> Self {
        Self {
            builder,
            params: Vec::with_capacity(256),
            request: Vec::with_capacity(1024),
            exits: (None, None),
        }
    }

    /// Renders the order templates of `names` ([`BinanceOrderBuilder::set_symbols`]).
    pub fn set_symbols<S: AsRef<str>>(&mut self, names: &[S]) {
        self.builder.set_symbols(names);
    }

    /// True when the last entry came from a template.
    pub fn last_templated(&self) -> bool {
        self.builder.last_templated()
    }

    /// Records the TP/SL of the entry about to be built.
    #[inline]
    pub fn set_exits(&mut self, exits: (Option<Decimal>, Option<Decimal>)) {
        self.exits = exits;
    }

    /// The TP/SL of the last entry built.
    #[inline]
    pub fn last_exits(&self) -> (Option<Decimal>, Option<Decimal>) {
        self.exits
    }

    fn signed_get(&mut self, path: &[u8], ts_ms: u64) -> &[u8] {
        self.signed(b"GET ", path, ts_ms)
    }

    /// `method` (with its trailing space) `path?<params, signed>`, no body.
    fn signed(&mut self, method: &[u8], path: &[u8], ts_ms: u64) -> &[u8] {
        let (p, c) = (&mut self.params, &self.builder.creds);
        let mut sig = [0u8; 64];
        sign_params(&c.signer, c.recv_window_ms, p, ts_ms, &mut sig);
        let r = &mut self.request;
        r.clear();
        r.extend_from_slice(method);
        r.extend_from_slice(path);
        r.push(b'?');
        r.extend_from_slice(p);
        r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        r.extend_from_slice(c.host.as_bytes());
        r.extend_from_slice(b"\r\nX-MBX-APIKEY: ");
        r.extend_from_slice(c.api_key.as_bytes());
        r.extend_from_slice(b"\r\n\r\n");
        &self.request
    }

    /// The request bytes of the last order built ([`Self::build_order`]).
    #[inline]
    pub fn last_order(&self) -> &[u8] {
        self.builder.last_request()
    }

    /// The signed market order ([`BinanceOrderBuilder::build`]; exits stay client-side).
    #[inline]
    pub fn build_order(&mut self, o: &OrderFields<'_>) -> &[u8] {
        self.builder.build(o)
    }

    /// `GET /fapi/v1/order?symbol=…&origClientOrderId=ct<session>-<seq>`, signed. No allocation.
    pub fn build_query_order(&mut self, symbol: &str, session: u32, seq: u64, ts_ms: u64) -> &[u8] {
        let p = &mut self.params;
        p.clear();
        p.extend_from_slice(b"symbol=");
        p.extend_from_slice(symbol.as_bytes());
        p.extend_from_slice(b"&origClientOrderId=ct");
        p.extend_from_slice(itoa::Buffer::new().format(session).as_bytes());
        p.push(b'-');
        p.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
        self.signed_get(b"/fapi/v1/order", ts_ms)
    }

    /// The signed `POST /fapi/v1/algoOrder` of a TP/SL exit ([`BinanceOrderBuilder::build_exit`]).
    pub fn build_exit(
        &mut self,
        inst: &Instrument,
        x: &ExitOrder<'_>,
    ) -> Result<&[u8], OrderReject> {
        self.builder.build_exit(inst, x)
    }

    /// `DELETE /fapi/v1/algoOrder?clientAlgoId=<prefix><seq>-tp|-sl` (cancel, `get` false) or
    /// the same `GET` (query), signed. No allocation.
    pub fn build_algo_request(&mut self, get: bool, seq: u64, kind: ExitKind, ts_ms: u64) -> &[u8] {
        let p = &mut self.params;
        p.clear();
        p.extend_from_slice(b"clientAlgoId=");
        p.extend_from_slice(self.builder.client_prefix.as_bytes());
        p.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
        p.extend_from_slice(match kind {
            ExitKind::TakeProfit => &b"-tp"[..],
            ExitKind::StopLoss => &b"-sl"[..],
        });
        let method = if get { &b"GET "[..] } else { &b"DELETE "[..] };
        self.signed(method, BINANCE_ALGO_ORDER_PATH.as_bytes(), ts_ms)
    }

    /// `DELETE /fapi/v1/algoOrder?algoId=<id>`, signed. No allocation.
    pub fn build_cancel_algo_id(&mut self, algo_id: u64, ts_ms: u64) -> &[u8] {
        let p = &mut self.params;
        p.clear();
        p.extend_from_slice(b"algoId=");
        p.extend_from_slice(itoa::Buffer::new().format(algo_id).as_bytes());
        self.signed(b"DELETE ", BINANCE_ALGO_ORDER_PATH.as_bytes(), ts_ms)
    }

    /// `GET /fapi/v1/openAlgoOrders` (every symbol), signed.
    pub fn build_open_algo_orders(&mut self, ts_ms: u64) -> &[u8] {
        self.params.clear();
        self.signed_get(b"/fapi/v1/openAlgoOrders", ts_ms)
    }

    /// `GET /fapi/v2/positionRisk?symbol=…`, signed. No allocation.
    pub fn build_position(&mut self, symbol: &str, ts_ms: u64) -> &[u8] {
        self.params.clear();
        self.params.extend_from_slice(b"symbol=");
        self.params.extend_from_slice(symbol.as_bytes());
        self.signed_get(b"/fapi/v2/positionRisk", ts_ms)
    }

    /// `GET /fapi/v1/userTrades?symbol=<symbol>&startTime=<start_ms>&limit=1000`, signed: the
    /// account's executions of `symbol` from `start_ms` on, oldest first, at most 1000 (the
    /// documented maximum; the venue answers at most 7 days). `from_id` ≠ 0 asks for the next
    /// page instead: `fromId=<from_id>` (trade ids from it on; the venue refuses `fromId` with
    /// `startTime`).
    pub fn build_user_trades(
        &mut self,
        symbol: &str,
        start_ms: u64,
        from_id: u64,
        ts_ms: u64,
    ) -> &[u8] {
        self.params.clear();
        self.params.extend_from_slice(b"symbol=");
        self.params.extend_from_slice(symbol.as_bytes());
        let (key, v): (&[u8], u64) = match from_id {
            0 => (b"&startTime=", start_ms),
            id => (b"&fromId=", id),
        };
        self.params.extend_from_slice(key);
        self.params
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self.params.extend_from_slice(b"&limit=1000");
        self.signed_get(b"/fapi/v1/userTrades", ts_ms)
    }

    /// `GET /fapi/v2/positionRisk` (every symbol), signed.
    pub fn build_positions(&mut self, ts_ms: u64) -> &[u8] {
        self.params.clear();
        self.signed_get(b"/fapi/v2/positionRisk", ts_ms)
    }

    /// `GET /fapi/v1/openOrders` (every symbol), signed.
    pub fn build_open_orders(&mut self, ts_ms: u64) -> &[u8] {
        self.params.clear();
        self.signed_get(b"/fapi/v1/openOrders", ts_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_neither_key_nor_secret_nor_signed_requests() {
        let (key, secret) = ("dbefbc809e3e-api-key", "2b5eb11e18796d12-secret");
        let builder =
            BinanceOrderBuilder::new(key, secret.as_bytes(), "fapi.binance.com", 5000, "ct1-");
        let mut v = BinanceVenue::new(builder);
        v.build_query_order("BTCUSDT", 1, 7, 1_700_000_000_000);
        let s = format!("{v:?}");
        assert!(s.contains("fapi.binance.com"), "{s}");
        assert!(
            !s.contains(key) && !s.contains(secret) && !s.contains("signature"),
            "{s}"
        );
    }

    #[test]
    fn market_order_body_is_signed_over_exactly_what_is_sent() {
        let secret = b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
        let mut b =
            BinanceOrderBuilder::new("dbefbc809e3e", secret, "fapi.binance.com", 5000, "ct1-");
        let req = b
            .build(&OrderFields {
                symbol: "BTCUSDT",
                side: Side::Buy,
                quantity: "0.016".parse().unwrap(),
                reduce_only: false,
                client_seq: 42,
                timestamp_ms: 1591702613943,
            })
            .to_vec();
        let text = String::from_utf8(req).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /fapi/v1/order HTTP/1.1\r\nHost: fapi.binance.com\r\n"));
        assert!(head.contains("X-MBX-APIKEY: dbefbc809e3e\r\n"));
        assert!(head.ends_with(&format!("Content-Length: {}", body.len())));
        let (params, sig) = body.rsplit_once("&signature=").unwrap();
        assert_eq!(
            params,
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.016&newClientOrderId=ct1-42&recvWindow=5000&timestamp=1591702613943"
        );
        assert!(Signer::new(secret).verify_hex(params.as_bytes(), sig.as_bytes()));
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn btc() -> Instrument {
        Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("120"), d("100"))
            .unwrap()
            .with_limits(d("1000"), None)
    }

    fn body_of(b: &BinanceOrderBuilder) -> (String, String) {
        let body = std::str::from_utf8(b.last_body()).unwrap();
        let (p, s) = body.rsplit_once("&signature=").unwrap();
        (p.to_string(), s.to_string())
    }

    #[test]
    fn limit_order_rounds_and_trims_like_the_docs_example() {
        let mut b = BinanceOrderBuilder::new("k", b"s", "h", 5000, "ct-");
        let mut o = NewOrder::limit("BTCUSDT", Side::Buy, d("1.0004"), d("9000.09"));
        o.timestamp_ms = 1591702613943;
        let req = String::from_utf8(b.build_order(&btc(), &o).unwrap().to_vec()).unwrap();
        assert!(req.starts_with("POST /fapi/v1/order HTTP/1.1\r\n"));
        let (params, sig) = body_of(&b);
        assert_eq!(
            params,
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"
        );
        assert!(Signer::new(b"s").verify_hex(params.as_bytes(), sig.as_bytes()));
    }

    #[test]
    fn market_entry_with_exits_builds_two_algo_orders() {
        let mut b = BinanceOrderBuilder::new("k", b"s", "h", 5000, "ct-");
        let mut o = NewOrder::market("BTCUSDT", Side::Buy, d("0.0169"), d("60000"));
        o.client_seq = Some(9);
        o.take_profit = Some(d("61200.07"));
        o.stop_loss = Some(d("59400.01"));
        o.timestamp_ms = 7;
        b.build_order(&btc(), &o).unwrap();
        assert_eq!(
            body_of(&b).0,
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.016&newClientOrderId=ct-9&recvWindow=5000&timestamp=7"
        );
        let tp = ExitOrder::from_entry(&o, ExitKind::TakeProfit).unwrap();
        let req = String::from_utf8(b.build_exit(&btc(), &tp).unwrap().to_vec()).unwrap();
        assert!(req.starts_with("POST /fapi/v1/algoOrder HTTP/1.1\r\n"));
        assert_eq!(
            body_of(&b).0,
            "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=TAKE_PROFIT_MARKET&quantity=0.016&reduceOnly=true&triggerPrice=61200&workingType=MARK_PRICE&clientAlgoId=ct-9-tp&recvWindow=5000&timestamp=7"
        );
        let mut sl = ExitOrder::from_entry(&o, ExitKind::StopLoss).unwrap();
        sl.qty = None;
        sl.trigger_by = TriggerBy::LastPrice;
        b.build_exit(&btc(), &sl).unwrap();
        let (params, sig) = body_of(&b);
        assert_eq!(
            params,
            "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&closePosition=true&triggerPrice=59400.1&workingType=CONTRACT_PRICE&clientAlgoId=ct-9-sl&recvWindow=5000&timestamp=7"
        );
        assert!(Signer::new(b"s").verify_hex(params.as_bytes(), sig.as_bytes()));
        // A short's stop is above: rounded down toward the entry.
        let short = ExitOrder {
            position_side: Side::Sell,
            trigger_price: d("60600.09"),
            ..sl
        };
        b.build_exit(&btc(), &short).unwrap();
        assert!(body_of(&b)
            .0
            .contains("&side=BUY&type=STOP_MARKET&closePosition=true&triggerPrice=60600&"));
    }

    #[test]
    fn order_under_min_notional_is_not_built() {
        let mut b = BinanceOrderBuilder::new("k", b"s", "h", 5000, "ct-");
        // 0.001 × 60000 = 60 < 100.
        let o = NewOrder::market("BTCUSDT", Side::Buy, d("0.001"), d("60000"));
        assert_eq!(
            b.build_order(&btc(), &o),
            Err(OrderReject::Filter(RejectReason::BelowMinNotional))
        );
    }

    #[test]
    fn reduce_only_flag_is_sent() {
        let mut b = BinanceOrderBuilder::new("k", b"s", "h", 5000, "x-");
        b.build(&OrderFields {
            symbol: "ETHUSDT",
            side: Side::Sell,
            quantity: "1.250".parse().unwrap(),
            reduce_only: true,
            client_seq: 1,
            timestamp_ms: 1,
        });
        let body = std::str::from_utf8(b.last_body()).unwrap();
        assert!(body
            .starts_with("symbol=ETHUSDT&side=SELL&type=MARKET&quantity=1.250&reduceOnly=true&"));
    }
}
