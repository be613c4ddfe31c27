//! Bybit v5 linear public stream (`wss://stream.bybit.com/v5/public/linear`), parsed with
//! simd-json straight into [`Tick`]s and [`Quote`]s.
//!
//! Topics:
//! - `publicTrade.<S>`, a batch of trades (real, 2026-08-09):
//!   ```json
//!   {"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1786310819681,"data":[{"T":1786310819680,
//!    "s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick",
//!    "i":"a9188a0a-82bc-50de-be60-03eedbe3cdd7","BT":false,"RPI":false,"seq":753843954913}]}
//!   ```
//!   `S` is the taker side; every element becomes one [`Tick`]. `i` is a UUID: its
//!   [`trade_id_hash`] becomes `Tick::trade_id`.
//! - `tickers.<S>`: a `snapshot`, then `delta`s carrying only changed fields (real):
//!   `{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"65114.20",
//!   "bid1Size":"6.124"},"cs":753843922769,"ts":1786310818484}`. The parser keeps each symbol's
//!   last bid/ask so every delta that touches them yields a full [`Quote`].
//! - `orderbook.1.<S>`: top level of the book, `snapshot` then `delta` (real snapshot):
//!   `{"topic":"orderbook.1.BANDUSDT","type":"snapshot","ts":1749833474773,"data":{"s":"BANDUSDT",
//!   "b":[["0.6131","17.9"]],"a":[["0.6134","35.4"]],"u":24042997,"seq":209972815373},
//!   "cts":1749833474768}`. In a delta a level of size `"0"` deletes that price; a side without
//!   a level yields no quote until one arrives. Deeper books (`orderbook.50/200`) are `Other`.
//!
//! Control frames: subscribe ack `{"success":true,"ret_msg":"","conn_id":"…","req_id":"",
//! "op":"subscribe"}`; pong `{"success":true,"ret_msg":"pong",…,"op":"ping"}` (public) or
//! `{"req_id":"test","op":"pong","args":["1675418560633"],…}` (private); error
//! `{"success":false,"ret_msg":"…","op":"subscribe",…}` or `{"retCode":10001,"retMsg":"…"}`.

use simd_json::Node;

use crate::types::event::{
    parse_decimal, positive_decimal, Control, ErrorText, MarketEvent, ParseError, UpdateKind,
};
use crate::types::SymbolTable;
use crate::types::{Quote, Side, SymbolId, Tick};
use crate::venue::tape::{
    array_elements, as_bool, as_i64, as_str, as_u64, digits_u64, digits_u64_bytes, for_each_member,
    TapeParser,
};

/// Most trades of one frame the fast path ([`super::fast`]) handles (larger batches use the
/// tape parser).
pub const MAX_FAST_TRADES: usize = 128;

/// Last known top of book of one symbol from one topic; NaN = side unknown.
#[derive(Clone, Copy, Debug)]
struct Top {
    bid: f64,
    bid_qty: f64,
    ask: f64,
    ask_qty: f64,
}

impl Top {
    const UNKNOWN: Top = Top {
        bid: f64::NAN,
        bid_qty: f64::NAN,
        ask: f64::NAN,
        ask_qty: f64::NAN,
    };

    fn quote(&self, symbol: SymbolId, exch_ts_ms: u64) -> Option<Quote> {
        let known = !(self.bid.is_nan()
            || self.bid_qty.is_nan()
            || self.ask.is_nan()
            || self.ask_qty.is_nan());
        known.then_some(Quote {
            symbol,
            bid: self.bid,
            bid_qty: self.bid_qty,
            ask: self.ask,
            ask_qty: self.ask_qty,
            exch_ts_ms,
            recv_ns: 0,
        })
    }
}

/// Parses Bybit v5 public frames with reused simd-json buffers; keeps the per-symbol
/// top-of-book state that `tickers` and `orderbook.1` deltas are merged into.
///
/// State arrays are sized to the symbol table on the first frame (or by [`Self::for_symbols`]),
/// so after that nothing allocates.
#[derive(Debug)]
pub struct BybitParser {
    tape: TapeParser,
    tickers: Vec<Top>,
    book1: Vec<Top>,
    /// Reused output of the fast path (capacity [`MAX_FAST_TRADES`], never grown).
    pub(crate) fast_scratch: Vec<Tick>,
}

impl Default for BybitParser {
    fn default() -> Self {
        Self {
            tape: TapeParser::default(),
            tickers: Vec::new(),
            book1: Vec::new(),
            fast_scratch: Vec::with_capacity(MAX_FAST_TRADES),
        }
    }
}

/// Top-level members of a Bybit frame, as tape indexes.
#[derive(Default)]
struct Frame<'i> {
    topic: Option<&'i str>,
    kind: Option<&'i str>,
    ts: Option<u64>,
    data: Option<usize>,
    op: Option<&'i str>,
    success: Option<bool>,
    ret_msg: Option<&'i str>,
    req_id: Option<&'i str>,
    ret_code: Option<i64>,
}

impl BybitParser {
    /// A parser with buffers for frames up to [`crate::venue::tape::DEFAULT_MAX_FRAME`] bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with its per-symbol state already sized for `symbols`.
    pub fn for_symbols(symbols: &SymbolTable) -> Self {
        let mut p = Self::new();
        p.size_state(symbols.len());
        p
    }

    fn size_state(&mut self, n: usize) {
        if self.tickers.len() < n {
            self.tickers.resize(n, Top::UNKNOWN);
            self.book1.resize(n, Top::UNKNOWN);
        }
    }

    /// Forgets every symbol's book state (call after a reconnect: the venue re-sends
    /// snapshots on resubscription).
    pub fn reset_state(&mut self) {
        self.tickers.fill(Top::UNKNOWN);
        self.book1.fill(Top::UNKNOWN);
    }

    /// The fast path's `tickers` merge ([`super::fast`]): what [`Self::parse`] does with a
    /// `tickers` frame of `symbol` whose four fields are already converted (`None` = absent or
    /// empty); the quote to emit. `None` (nothing changed): no state slot for `symbol`.
    pub(super) fn merge_ticker(
        &mut self,
        symbols: &SymbolTable,
        symbol: SymbolId,
        update: UpdateKind,
        ts: u64,
        fields: [Option<f64>; 4],
    ) -> Option<Option<Quote>> {
        self.size_state(symbols.len());
        let top = self.tickers.get_mut(symbol.index())?;
        if update == UpdateKind::Snapshot {
            *top = Top::UNKNOWN;
        }
        let slots = [
            &mut top.bid,
            &mut top.bid_qty,
            &mut top.ask,
            &mut top.ask_qty,
        ];
        for (slot, v) in slots.into_iter().zip(fields) {
            if let Some(v) = v {
                *slot = v;
            }
        }
        let touched = fields.iter().any(Option::is_some);
        Some(top.quote(symbol, ts).filter(|_| touched))
    }

    /// Parses one frame in place, calling `on` for every trade (all of a batch) or quote.
    ///
    /// A trade batch with a bad element still emits its good elements, then returns the first
    /// element's error.
    #[inline]
    pub fn parse<F: FnMut(MarketEvent)>(
        &mut self,
        frame: &mut [u8],
        symbols: &SymbolTable,
        mut on: F,
    ) -> Result<Control, ParseError> {
        self.size_state(symbols.len());
        let Self {
            tape,
            tickers,
            book1,
            ..
        } = self;
        tape.with_tape(frame, |n| {
            let mut f = Frame::default();
            for_each_member(n, 0, |k, v| {
                match k {
                    "topic" => f.topic = as_str(n, v),
                    "type" => f.kind = as_str(n, v),
                    "ts" => f.ts = as_u64(n, v),
                    "data" => f.data = Some(v),
                    "op" => f.op = as_str(n, v),
                    "success" => f.success = as_bool(n, v),
                    "ret_msg" => f.ret_msg = as_str(n, v),
                    "req_id" => f.req_id = as_str(n, v),
                    "retCode" => f.ret_code = as_i64(n, v),
                    "retMsg" => f.ret_msg = f.ret_msg.or(as_str(n, v)),
                    _ => {}
                }
                Ok(())
            })?;
            if let Some(topic) = f.topic {
                let data = f.data.ok_or(ParseError::MissingField("data"))?;
                let update = match f.kind {
                    Some("snapshot") => UpdateKind::Snapshot,
                    Some("delta") => UpdateKind::Delta,
                    _ => return Err(ParseError::MissingField("type")),
                };
                let emitted = if topic.starts_with("publicTrade.") {
                    trades(n, data, symbols, &mut on)?
                } else if topic.starts_with("tickers.") {
                    let ts = f.ts.ok_or(ParseError::MissingField("ts"))?;
                    ticker(n, data, update, ts, symbols, tickers, &mut on)?
                } else if topic.starts_with("orderbook.1.") {
                    let ts = f.ts.ok_or(ParseError::MissingField("ts"))?;
                    book_top(n, data, update, ts, symbols, book1, &mut on)?
                } else {
                    return Ok(Control::Other);
                };
                return Ok(Control::Data { emitted, update });
            }
            if let Some(op) = f.op {
                let pong = op == "pong" || (op == "ping" && f.ret_msg == Some("pong"));
                return Ok(match f.success {
                    _ if pong => Control::Pong,
                    Some(false) => Control::Error {
                        code: 0,
                        msg: ErrorText::new(f.ret_msg.unwrap_or("")),
                    },
                    Some(true) => Control::Ack {
                        id: f.req_id.and_then(digits_u64),
                    },
                    None => Control::Other,
                });
            }
            match f.ret_code {
                Some(0) => Ok(Control::Other),
                Some(code) => Ok(Control::Error {
                    code,
                    msg: ErrorText::new(f.ret_msg.unwrap_or("")),
                }),
                None => Err(ParseError::MissingField("topic")),
            }
        })
    }
}

/// Emits every trade of a `publicTrade` `data` array; returns how many.
#[inline]
fn trades(
    n: &[Node<'_>],
    data: usize,
    symbols: &SymbolTable,
    on: &mut impl FnMut(MarketEvent),
) -> Result<u32, ParseError> {
    let elems = array_elements(n, data).ok_or(ParseError::MissingField("data"))?;
    let mut emitted = 0;
    let mut first_err = None;
    for e in elems {
        match trade(n, e, symbols) {
            Ok(t) => {
                on(MarketEvent::Trade(t));
                emitted += 1;
            }
            Err(err) => {
                first_err.get_or_insert(err);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(emitted),
    }
}

#[inline]
fn trade(n: &[Node<'_>], at: usize, symbols: &SymbolTable) -> Result<Tick, ParseError> {
    let (mut ts, mut sym, mut side, mut qty, mut price, mut id) =
        (None, None, None, None, None, None);
    for_each_member(n, at, |k, v| {
        match k {
            "T" => ts = as_u64(n, v),
            "s" => sym = as_str(n, v),
            "S" => side = as_str(n, v),
            "v" => qty = as_str(n, v),
            "p" => price = as_str(n, v),
            "i" => id = as_str(n, v),
            _ => {}
        }
        Ok(())
    })?;
    let symbol = sym.ok_or(ParseError::MissingField("s"))?;
    let symbol = symbols.lookup(symbol).ok_or(ParseError::UnknownSymbol)?;
    let price = positive_decimal(price.ok_or(ParseError::MissingField("p"))?, "p")?;
    let qty = positive_decimal(qty.ok_or(ParseError::MissingField("v"))?, "v")?;
    let side = match side {
        Some("Buy") => Side::Buy,
        Some("Sell") => Side::Sell,
        _ => return Err(ParseError::MissingField("S")),
    };
    Ok(Tick {
        symbol,
        side,
        price,
        qty,
        exch_ts_ms: ts.ok_or(ParseError::MissingField("T"))?,
        trade_id: trade_id_hash(id.ok_or(ParseError::MissingField("i"))?),
        recv_ns: 0,
        parsed_ns: 0,
    })
}

/// Bybit trade id (`"i"`) → `u64`: the number itself for an all-digit id (spot); otherwise
/// (linear ids are UUIDs) a 64-bit hash: the bytes in 8-byte little-endian words `w_k`
/// (zero-padded), `h_0 = len`, `h_{k+1} = m((h_k ⊕ w_k)·φ)` with `m(x) = x ⊕ (x ≫ 32)` and
/// φ = 0x9E3779B97F4A7C15, finished by `h ⊕ (h ≫ 29)`. Equal ids give equal results, so
/// duplicates stay detectable; distinct ids collide with probability ~2^-64.
#[inline]
pub fn trade_id_hash(id: &str) -> u64 {
    trade_id_hash_bytes(id.as_bytes())
}

/// [`trade_id_hash`] of the bytes of the id.
#[inline]
pub fn trade_id_hash_bytes(b: &[u8]) -> u64 {
    if let Some(v) = digits_u64_bytes(b) {
        return v;
    }
    const PHI: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(PHI);
        h ^= h >> 32;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(last)).wrapping_mul(PHI);
        h ^= h >> 32;
    }
    h ^ (h >> 29)
}

/// A price or size string that may be empty (`""` = not available on Bybit).
#[inline]
fn opt_positive(s: Option<&str>, key: &'static str) -> Result<Option<f64>, ParseError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => positive_decimal(s, key).map(Some),
    }
}

/// Merges a `tickers` frame into the symbol's top of book; emits a quote if the frame touched
/// the bid or ask and both sides are known.
#[inline]
fn ticker(
    n: &[Node<'_>],
    data: usize,
    update: UpdateKind,
    ts: u64,
    symbols: &SymbolTable,
    state: &mut [Top],
    on: &mut impl FnMut(MarketEvent),
) -> Result<u32, ParseError> {
    let (mut sym, mut bid, mut bid_qty, mut ask, mut ask_qty) = (None, None, None, None, None);
    for_each_member(n, data, |k, v| {
        match k {
            "symbol" => sym = as_str(n, v),
            "bid1Price" => bid = as_str(n, v),
            "bid1Size" => bid_qty = as_str(n, v),
            "ask1Price" => ask = as_str(n, v),
            "ask1Size" => ask_qty = as_str(n, v),
            _ => {}
        }
        Ok(())
    })?;
    let symbol = sym.ok_or(ParseError::MissingField("symbol"))?;
    let symbol = symbols.lookup(symbol).ok_or(ParseError::UnknownSymbol)?;
    let bid = opt_positive(bid, "bid1Price")?;
    let bid_qty = opt_positive(bid_qty, "bid1Size")?;
    let ask = opt_positive(ask, "ask1Price")?;
    let ask_qty = opt_positive(ask_qty, "ask1Size")?;
    let top = state
        .get_mut(symbol.index())
        .ok_or(ParseError::UnknownSymbol)?;
    if update == UpdateKind::Snapshot {
        *top = Top::UNKNOWN;
    }
    let touched = bid.is_some() || bid_qty.is_some() || ask.is_some() || ask_qty.is_some();
    let set = |slot: &mut f64, v: Option<f64>| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(&mut top.bid, bid);
    set(&mut top.bid_qty, bid_qty);
    set(&mut top.ask, ask);
    set(&mut top.ask_qty, ask_qty);
    Ok(emit_if(touched, top.quote(symbol, ts), on))
}

#[inline]
fn emit_if(touched: bool, q: Option<Quote>, on: &mut impl FnMut(MarketEvent)) -> u32 {
    match q {
        Some(q) if touched => {
            on(MarketEvent::Quote(q));
            1
        }
        _ => 0,
    }
}

/// One `[price, size]` level: price > 0, size ≥ 0 (0 deletes the level in a delta).
#[inline]
fn level(n: &[Node<'_>], at: usize, side: &'static str) -> Result<(f64, f64), ParseError> {
    let mut it = array_elements(n, at).ok_or(ParseError::MissingField(side))?;
    let p = it
        .next()
        .and_then(|i| as_str(n, i))
        .ok_or(ParseError::MissingField(side))?;
    let q = it
        .next()
        .and_then(|i| as_str(n, i))
        .ok_or(ParseError::MissingField(side))?;
    let p = positive_decimal(p, side)?;
    let q = parse_decimal(q, side)?;
    if q < 0.0 {
        return Err(ParseError::NonPositive);
    }
    Ok((p, q))
}

/// Applies the levels of one side of an `orderbook.1` frame to `(price, size)`.
#[inline]
fn apply_side(
    n: &[Node<'_>],
    at: usize,
    side: &'static str,
    price: &mut f64,
    size: &mut f64,
) -> Result<(), ParseError> {
    let levels = array_elements(n, at).ok_or(ParseError::MissingField(side))?;
    for l in levels {
        let (p, q) = level(n, l, side)?;
        if q > 0.0 {
            (*price, *size) = (p, q);
        } else if p == *price {
            (*price, *size) = (f64::NAN, f64::NAN);
        }
    }
    Ok(())
}

/// Applies an `orderbook.1` snapshot or delta; emits the new top if both sides are known.
#[inline]
fn book_top(
    n: &[Node<'_>],
    data: usize,
    update: UpdateKind,
    ts: u64,
    symbols: &SymbolTable,
    state: &mut [Top],
    on: &mut impl FnMut(MarketEvent),
) -> Result<u32, ParseError> {
    let (mut sym, mut b, mut a) = (None, None, None);
    for_each_member(n, data, |k, v| {
        match k {
            "s" => sym = as_str(n, v),
            "b" => b = Some(v),
            "a" => a = Some(v),
            _ => {}
        }
        Ok(())
    })?;
    let symbol = sym.ok_or(ParseError::MissingField("s"))?;
    let symbol = symbols.lookup(symbol).ok_or(ParseError::UnknownSymbol)?;
    let cur = *state.get(symbol.index()).ok_or(ParseError::UnknownSymbol)?;
    // Work on a copy so a bad level leaves the stored book untouched.
    let mut next = if update == UpdateKind::Snapshot {
        Top::UNKNOWN
    } else {
        cur
    };
    if let Some(b) = b {
        apply_side(n, b, "b", &mut next.bid, &mut next.bid_qty)?;
    }
    if let Some(a) = a {
        apply_side(n, a, "a", &mut next.ask, &mut next.ask_qty)?;
    }
    state[symbol.index()] = next;
    Ok(emit_if(true, next.quote(symbol, ts), on))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SymbolTable {
        SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
    }

    fn run(p: &mut BybitParser, s: &str) -> Result<(Control, Vec<MarketEvent>), ParseError> {
        let mut buf = s.as_bytes().to_vec();
        let mut out = Vec::new();
        let c = p.parse(&mut buf, &table(), |e| out.push(e))?;
        Ok((c, out))
    }

    #[test]
    fn parses_the_documented_trade_sample() {
        let (c, ev) = run(&mut BybitParser::new(), r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1786310819681,"data":[{"T":1786310819680,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick","i":"a9188a0a-82bc-50de-be60-03eedbe3cdd7","BT":false,"RPI":false,"seq":753843954913}]}"#).unwrap();
        assert_eq!(
            c,
            Control::Data {
                emitted: 1,
                update: UpdateKind::Snapshot
            }
        );
        let [MarketEvent::Trade(t)] = ev.as_slice() else {
            panic!("{ev:?}")
        };
        assert_eq!(t.symbol, SymbolId(0));
        assert_eq!(t.side, Side::Sell);
        assert_eq!(t.price, 65114.20);
        assert_eq!(t.qty, 0.004);
        assert_eq!(t.exch_ts_ms, 1786310819680);
        assert_eq!(
            t.trade_id,
            trade_id_hash("a9188a0a-82bc-50de-be60-03eedbe3cdd7")
        );
    }

    #[test]
    fn trade_ids_hash_stably_and_digits_stay_numbers() {
        assert_eq!(trade_id_hash("2290000000061666327"), 2290000000061666327);
        let a = trade_id_hash("a9188a0a-82bc-50de-be60-03eedbe3cdd7");
        assert_eq!(a, trade_id_hash("a9188a0a-82bc-50de-be60-03eedbe3cdd7"));
        // One character apart, and a length-only difference, hash apart.
        assert_ne!(a, trade_id_hash("a9188a0a-82bc-50de-be60-03eedbe3cdd8"));
        assert_ne!(trade_id_hash("x"), trade_id_hash("x\0"));
        assert_ne!(trade_id_hash("abcdefgh"), trade_id_hash("abcdefgh\0"));
    }

    #[test]
    fn ticker_delta_merges_into_the_snapshot() {
        let mut p = BybitParser::new();
        // A delta before any snapshot knows only one side: no quote.
        let (_, ev) = run(&mut p, r#"{"topic":"tickers.ETHUSDT","type":"delta","data":{"symbol":"ETHUSDT","bid1Price":"10","bid1Size":"1"},"ts":1}"#).unwrap();
        assert!(ev.is_empty());
        run(&mut p, r#"{"topic":"tickers.ETHUSDT","type":"snapshot","data":{"symbol":"ETHUSDT","bid1Price":"100","bid1Size":"2","ask1Price":"101","ask1Size":"3","lastPrice":"100.5"},"ts":2}"#).unwrap();
        let (c, ev) = run(&mut p, r#"{"topic":"tickers.ETHUSDT","type":"delta","data":{"symbol":"ETHUSDT","ask1Size":"4"},"ts":3}"#).unwrap();
        assert_eq!(
            c,
            Control::Data {
                emitted: 1,
                update: UpdateKind::Delta
            }
        );
        assert_eq!(
            ev,
            [MarketEvent::Quote(Quote {
                symbol: SymbolId(1),
                bid: 100.0,
                bid_qty: 2.0,
                ask: 101.0,
                ask_qty: 4.0,
                exch_ts_ms: 3,
                recv_ns: 0
            })]
        );
        // A delta that changes no bid/ask field emits nothing.
        let (_, ev) = run(&mut p, r#"{"topic":"tickers.ETHUSDT","type":"delta","data":{"symbol":"ETHUSDT","markPrice":"1"},"ts":4}"#).unwrap();
        assert!(ev.is_empty());
    }

    #[test]
    fn orderbook_1_delta_replaces_and_deletes_levels() {
        let mut p = BybitParser::new();
        let snap = r#"{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":5,"data":{"s":"BTCUSDT","b":[["10","1"]],"a":[["11","2"]],"u":1,"seq":1},"cts":4}"#;
        let (_, ev) = run(&mut p, snap).unwrap();
        assert!(matches!(ev[..], [MarketEvent::Quote(q)] if q.bid == 10.0 && q.ask == 11.0));
        let (_, ev) = run(&mut p, r#"{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":6,"data":{"s":"BTCUSDT","b":[["10.5","3"],["10","0"]],"a":[],"u":2,"seq":2},"cts":6}"#).unwrap();
        assert!(
            matches!(ev[..], [MarketEvent::Quote(q)] if q.bid == 10.5 && q.bid_qty == 3.0 && q.ask == 11.0 && q.exch_ts_ms == 6)
        );
        // Deleting the only ask leaves that side unknown: no quote.
        let (_, ev) = run(&mut p, r#"{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":7,"data":{"s":"BTCUSDT","b":[],"a":[["11","0"]],"u":3,"seq":3},"cts":7}"#).unwrap();
        assert!(ev.is_empty());
    }

    #[test]
    fn control_frames_are_classified() {
        let mut p = BybitParser::new();
        let c = |p: &mut BybitParser, s: &str| run(p, s).unwrap().0;
        assert_eq!(
            c(
                &mut p,
                r#"{"success":true,"ret_msg":"","conn_id":"x","req_id":"12","op":"subscribe"}"#
            ),
            Control::Ack { id: Some(12) }
        );
        assert_eq!(
            c(
                &mut p,
                r#"{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}"#
            ),
            Control::Pong
        );
        assert_eq!(
            c(
                &mut p,
                r#"{"req_id":"test","op":"pong","args":["1675418560633"],"conn_id":"x"}"#
            ),
            Control::Pong
        );
        assert_eq!(
            c(
                &mut p,
                r#"{"success":false,"ret_msg":"error:handler not found","conn_id":"x","req_id":"","op":"subscribe"}"#
            ),
            Control::Error {
                code: 0,
                msg: ErrorText::new("error:handler not found")
            }
        );
        assert_eq!(
            c(
                &mut p,
                r#"{"retCode":10001,"retMsg":"Not supported symbols","result":{},"retExtInfo":{},"time":1}"#
            ),
            Control::Error {
                code: 10001,
                msg: ErrorText::new("Not supported symbols")
            }
        );
        assert_eq!(
            c(
                &mut p,
                r#"{"topic":"kline.1.BTCUSDT","data":[],"ts":1,"type":"snapshot"}"#
            ),
            Control::Other
        );
        assert_eq!(
            run(&mut p, r#"{"x":1}"#).unwrap_err(),
            ParseError::MissingField("topic")
        );
    }
}
