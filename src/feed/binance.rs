//! Binance USD-M futures combined-stream messages, parsed with simd-json straight into [`Tick`]s.
//!
//! A combined-stream trade frame (real, BTCUSDT 2024-08-08):
//! ```json
//! {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,
//!  "s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}
//! ```
//! `m` is "buyer is maker": `true` means the taker sold.

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::symbols::SymbolTable;
use super::tick::{Side, Tick};

/// What one Binance frame turned out to be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinanceEvent {
    /// A trade (`@trade` or `@aggTrade`), with `recv_ns`/`parsed_ns` left for the caller.
    Trade(Tick),
    /// Reply to a `SUBSCRIBE`/`UNSUBSCRIBE` request: `{"result":null,"id":1}`.
    Ack {
        /// The request id echoed back.
        id: u64,
    },
    /// Error reply: `{"error":{"code":2,"msg":"..."},"id":1}` or `{"code":-1121,"msg":"..."}`.
    Error {
        /// Venue error code.
        code: i64,
    },
    /// A valid frame of a stream this parser does not turn into ticks (bookTicker, depth, ...).
    Other,
}

/// Why a frame was rejected. Each variant is counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not valid JSON (or not the expected shape).
    Json,
    /// A required field is absent.
    MissingField(&'static str),
    /// A numeric field is not a finite decimal number.
    BadNumber(&'static str),
    /// Price or quantity is zero or negative.
    NonPositive,
    /// A symbol that is not configured.
    UnknownSymbol,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Json => write!(f, "malformed JSON"),
            ParseError::MissingField(k) => write!(f, "missing field {k}"),
            ParseError::BadNumber(k) => write!(f, "field {k} is not a finite number"),
            ParseError::NonPositive => write!(f, "price or quantity is not positive"),
            ParseError::UnknownSymbol => write!(f, "unknown symbol"),
        }
    }
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow, default)]
    data: Option<Event<'a>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    result: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    code: Option<i64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: i64,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "e", borrow, default)]
    kind: Option<&'a str>,
    #[serde(rename = "T", default)]
    trade_ms: Option<u64>,
    #[serde(rename = "s", borrow, default)]
    symbol: Option<&'a str>,
    #[serde(rename = "t", default)]
    trade_id: Option<u64>,
    /// aggTrade id (a number); in bookTicker the same key is the ask price (a string).
    #[serde(rename = "a", default)]
    agg_id: NumberOrOther,
    #[serde(rename = "p", borrow, default)]
    price: Option<&'a str>,
    #[serde(rename = "q", borrow, default)]
    qty: Option<&'a str>,
    #[serde(rename = "m", default)]
    buyer_is_maker: Option<bool>,
}

/// An unsigned integer, or `None` for any other JSON value under the same key.
#[derive(Default)]
struct NumberOrOther(Option<u64>);

impl<'de> Deserialize<'de> for NumberOrOther {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NumberOrOther;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<NumberOrOther, E> {
                Ok(NumberOrOther(Some(v)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<NumberOrOther, E> {
                Ok(NumberOrOther(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<NumberOrOther, E> {
                Ok(NumberOrOther(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<NumberOrOther, E> {
                Ok(NumberOrOther(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<NumberOrOther, E> {
                Ok(NumberOrOther(None))
            }
            fn visit_unit<E>(self) -> Result<NumberOrOther, E> {
                Ok(NumberOrOther(None))
            }
            // depthUpdate's "a" is the ask levels array.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<NumberOrOther, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(NumberOrOther(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NumberOrOther, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(NumberOrOther(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses Binance frames, reusing simd-json's scratch buffers and tape across calls, so a
/// parse allocates nothing once they have grown to the largest frame seen.
pub struct BinanceParser {
    buffers: simd_json::Buffers,
    /// Always `Some` between calls; empty, so no borrow outlives a call.
    tape: Option<simd_json::Tape<'static>>,
}

impl Default for BinanceParser {
    fn default() -> Self {
        Self::new()
    }
}

/// Frames up to this size parse without growing any buffer (Binance depth frames reach ~26 KB).
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

impl BinanceParser {
    /// A parser pre-sized for frames up to [`DEFAULT_MAX_FRAME`] bytes.
    pub fn new() -> Self {
        Self::with_max_frame(DEFAULT_MAX_FRAME)
    }

    /// A parser pre-sized for frames up to `bytes`: larger frames still parse, growing the
    /// buffers once.
    pub fn with_max_frame(bytes: usize) -> Self {
        let mut p = Self {
            buffers: simd_json::Buffers::new(bytes),
            tape: Some(simd_json::Tape(Vec::new())),
        };
        // Warm-up: the densest document of that size (`[0,0,…]`, a structural every byte) grows
        // every scratch buffer (structural indexes, stage-2 stack, tape) to its worst case now,
        // so no live frame up to `bytes` ever allocates.
        let mut worst = vec![b'0'; bytes.max(2)];
        worst[0] = b'[';
        let last = worst.len() - 1;
        for b in worst[1..last].iter_mut().skip(1).step_by(2) {
            *b = b',';
        }
        worst[last] = b']';
        if worst[last - 1] == b',' {
            worst[last - 1] = b'0';
        }
        let mut tape = p
            .tape
            .take()
            .map_or_else(|| simd_json::Tape(Vec::new()), |t| t.reset());
        let _ = simd_json::fill_tape(&mut worst, &mut p.buffers, &mut tape);
        p.tape = Some(tape.reset());
        p
    }

    /// Parses one frame in place (simd-json rewrites `frame` while unescaping).
    pub fn parse(
        &mut self,
        frame: &mut [u8],
        symbols: &SymbolTable,
    ) -> Result<BinanceEvent, ParseError> {
        let mut tape = self
            .tape
            .take()
            .map_or_else(|| simd_json::Tape(Vec::new()), |t| t.reset());
        let parsed = match simd_json::fill_tape(frame, &mut self.buffers, &mut tape) {
            Ok(()) => {
                let mut de = simd_json::Deserializer::from_tape(tape);
                let f = Frame::deserialize(&mut de)
                    .map_err(|_| ParseError::Json)
                    .and_then(|f| classify(f, symbols));
                tape = de.into_tape();
                f
            }
            Err(_) => Err(ParseError::Json),
        };
        self.tape = Some(tape.reset());
        parsed
    }
}

fn classify(f: Frame<'_>, symbols: &SymbolTable) -> Result<BinanceEvent, ParseError> {
    {
        if let Some(e) = f.error {
            return Ok(BinanceEvent::Error { code: e.code });
        }
        if let Some(code) = f.code {
            return Ok(BinanceEvent::Error { code });
        }
        if let Some(ev) = f.data {
            return trade_from_event(&ev, symbols);
        }
        match (f.id, f.result) {
            (Some(id), _) => Ok(BinanceEvent::Ack { id }),
            (None, Some(_)) => Ok(BinanceEvent::Other),
            (None, None) => Err(ParseError::MissingField("data")),
        }
    }
}

fn trade_from_event(ev: &Event<'_>, symbols: &SymbolTable) -> Result<BinanceEvent, ParseError> {
    match ev.kind {
        Some("trade") | Some("aggTrade") => {}
        Some(_) => return Ok(BinanceEvent::Other),
        None => return Err(ParseError::MissingField("e")),
    }
    let symbol = ev.symbol.ok_or(ParseError::MissingField("s"))?;
    let symbol = symbols.lookup(symbol).ok_or(ParseError::UnknownSymbol)?;
    let price = positive_decimal(ev.price, "p")?;
    let qty = positive_decimal(ev.qty, "q")?;
    let exch_ts_ms = ev.trade_ms.ok_or(ParseError::MissingField("T"))?;
    let trade_id = ev
        .trade_id
        .or(ev.agg_id.0)
        .ok_or(ParseError::MissingField("t"))?;
    let maker = ev.buyer_is_maker.ok_or(ParseError::MissingField("m"))?;
    Ok(BinanceEvent::Trade(Tick {
        symbol,
        side: if maker { Side::Sell } else { Side::Buy },
        price,
        qty,
        exch_ts_ms,
        trade_id,
        recv_ns: 0,
        parsed_ns: 0,
    }))
}

/// Parses a venue decimal string; rejects NaN, infinities and values ≤ 0.
#[inline]
fn positive_decimal(s: Option<&str>, key: &'static str) -> Result<f64, ParseError> {
    let s = s.ok_or(ParseError::MissingField(key))?;
    let v: f64 = s.parse().map_err(|_| ParseError::BadNumber(key))?;
    if !v.is_finite() {
        return Err(ParseError::BadNumber(key));
    }
    if v <= 0.0 {
        return Err(ParseError::NonPositive);
    }
    Ok(v)
}

/// The `SUBSCRIBE` request for `<symbol>@trade` of every symbol.
pub fn subscribe_trades(symbols: &SymbolTable, id: u64) -> String {
    let params: Vec<String> = symbols
        .names()
        .iter()
        .map(|n| format!("\"{}@trade\"", n.to_ascii_lowercase()))
        .collect();
    format!(
        "{{\"method\":\"SUBSCRIBE\",\"params\":[{}],\"id\":{id}}}",
        params.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::tick::SymbolId;

    fn table() -> SymbolTable {
        SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
    }

    fn parse(s: &str) -> Result<BinanceEvent, ParseError> {
        let mut buf = s.as_bytes().to_vec();
        BinanceParser::new().parse(&mut buf, &table())
    }

    #[test]
    fn parses_the_documented_trade_sample() {
        let ev = parse(r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#).unwrap();
        let BinanceEvent::Trade(t) = ev else {
            panic!("expected a trade, got {ev:?}")
        };
        assert_eq!(t.symbol, SymbolId(0));
        assert_eq!(t.side, Side::Buy);
        assert_eq!(t.price, 61800.30);
        assert_eq!(t.qty, 0.006);
        assert_eq!(t.exch_ts_ms, 1723161256322);
        assert_eq!(t.trade_id, 5266583935);
    }

    #[test]
    fn buyer_is_maker_means_taker_sold() {
        let ev = parse(r#"{"stream":"ethusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"ETHUSDT","t":3,"p":"2500.5","q":"1","X":"MARKET","m":true}}"#).unwrap();
        assert!(
            matches!(ev, BinanceEvent::Trade(t) if t.side == Side::Sell && t.symbol == SymbolId(1))
        );
    }

    #[test]
    fn acks_errors_and_other_streams_are_classified() {
        assert_eq!(
            parse(r#"{"result":null,"id":7}"#).unwrap(),
            BinanceEvent::Ack { id: 7 }
        );
        assert_eq!(
            parse(r#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#).unwrap(),
            BinanceEvent::Error { code: 2 }
        );
        assert_eq!(
            parse(
                r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#
            )
            .unwrap(),
            BinanceEvent::Error { code: -1021 }
        );
        assert_eq!(
            parse(r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1","T":1,"E":1}}"#).unwrap(),
            BinanceEvent::Other
        );
    }

    #[test]
    fn bad_frames_are_rejected_with_their_reason() {
        assert_eq!(parse("{not json").unwrap_err(), ParseError::Json);
        assert_eq!(parse("").unwrap_err(), ParseError::Json);
        assert_eq!(
            parse(
                r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"q":"1","m":true}}"#
            )
            .unwrap_err(),
            ParseError::MissingField("p")
        );
        assert_eq!(
            parse(r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"p":"abc","q":"1","m":true}}"#)
                .unwrap_err(),
            ParseError::BadNumber("p")
        );
        assert_eq!(
            parse(r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"p":"inf","q":"1","m":true}}"#)
                .unwrap_err(),
            ParseError::BadNumber("p")
        );
        assert_eq!(
            parse(r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"p":"0","q":"1","m":true}}"#)
                .unwrap_err(),
            ParseError::NonPositive
        );
        assert_eq!(
            parse(r#"{"stream":"x","data":{"e":"trade","T":1,"s":"DOGEUSDT","t":1,"p":"1","q":"1","m":true}}"#)
                .unwrap_err(),
            ParseError::UnknownSymbol
        );
    }

    #[test]
    fn warm_up_document_is_valid_json_of_the_requested_size() {
        // The warm-up only sizes buffers if simd-json accepts it: check the same construction.
        for n in [2usize, 3, 10, 11, 4096] {
            let mut p = BinanceParser::with_max_frame(n);
            let mut ok = br#"{"result":null,"id":3}"#.to_vec();
            assert_eq!(
                p.parse(&mut ok, &table()).unwrap(),
                BinanceEvent::Ack { id: 3 }
            );
        }
        let tape_cap = BinanceParser::with_max_frame(1000)
            .tape
            .unwrap()
            .0
            .capacity();
        assert!(
            tape_cap >= 500,
            "tape sized for the worst case, got {tape_cap}"
        );
    }

    #[test]
    fn subscribe_request_names_every_trade_stream() {
        assert_eq!(
            subscribe_trades(&table(), 1),
            r#"{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@trade"],"id":1}"#
        );
    }
}
