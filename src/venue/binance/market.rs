//! Binance USD-M futures market streams, parsed with simd-json straight into [`Tick`]s and
//! [`Quote`]s: `@trade`, `@aggTrade` and `@bookTicker`, in the combined-stream wrapper
//! (`/stream?streams=…`) or raw (`/ws/…`), plus subscription replies and error frames.
//!
//! A combined-stream trade frame (real, BTCUSDT 2024-08-08):
//! ```json
//! {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,
//!  "s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}
//! ```
//! An aggTrade (real, 2021): `{"e":"aggTrade","E":…,"a":1,"s":"SUSHIUSDT","p":"…","q":"…",
//! "f":…,"l":…,"T":…,"m":true}` (`a` is the aggregate trade id); a bookTicker:
//! `{"e":"bookTicker","u":…,"s":"BTCUSDT","b":"61800.20","B":"1.2","a":"61800.30","A":"0.5",
//! "T":…,"E":…}` (here `a` is the ask price).
//! `m` is "buyer is maker": `true` means the taker sold.
//!
//! Binance keeps connections alive with WebSocket ping/pong *control* frames, answered by the
//! connection layer; no JSON pong exists on market streams, so this parser never returns
//! [`Control::Pong`].

use simd_json::Node;

use crate::types::event::{
    positive_decimal, Control, ErrorText, MarketEvent, ParseError, UpdateKind,
};
use crate::types::SymbolTable;
use crate::types::{Quote, Side, Tick};
use crate::venue::tape::{as_bool, as_i64, as_str, as_u64, for_each_member, TapeParser};

pub use crate::venue::tape::DEFAULT_MAX_FRAME;

/// Parses Binance frames, reusing simd-json's scratch buffers and tape across calls, so a
/// parse allocates nothing once they have grown to the largest frame seen.
#[derive(Debug, Default)]
pub struct BinanceParser {
    tape: TapeParser,
}

/// The fields of one stream event that any supported event type uses.
#[derive(Default)]
struct Fields<'i> {
    kind: Option<&'i str>,
    event_ms: Option<u64>,
    trade_ms: Option<u64>,
    symbol: Option<&'i str>,
    trade_id: Option<u64>,
    /// `a`: aggTrade id (number) …
    agg_id: Option<u64>,
    /// … or bookTicker ask price (string).
    ask: Option<&'i str>,
    price: Option<&'i str>,
    qty: Option<&'i str>,
    buyer_is_maker: Option<bool>,
    bid: Option<&'i str>,
    bid_qty: Option<&'i str>,
    ask_qty: Option<&'i str>,
}

impl BinanceParser {
    /// A parser pre-sized for frames up to [`DEFAULT_MAX_FRAME`] bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser pre-sized for frames up to `bytes`: larger frames still parse, growing the
    /// buffers once.
    pub fn with_max_frame(bytes: usize) -> Self {
        Self {
            tape: TapeParser::new(bytes),
        }
    }

    /// Parses one frame in place (simd-json rewrites `frame` while unescaping), calling `on`
    /// for the trade or quote it carries. `recv_ns`/`parsed_ns` are left 0 for the caller.
    #[inline]
    pub fn parse<F: FnMut(MarketEvent)>(
        &mut self,
        frame: &mut [u8],
        symbols: &SymbolTable,
        mut on: F,
    ) -> Result<Control, ParseError> {
        self.tape
            .with_tape(frame, |n| classify(n, symbols, &mut on))
    }
}

fn classify(
    n: &[Node<'_>],
    symbols: &SymbolTable,
    on: &mut impl FnMut(MarketEvent),
) -> Result<Control, ParseError> {
    let (mut data, mut id, mut result, mut error, mut code, mut msg, mut raw) =
        (None, None, false, None, None, None, false);
    for_each_member(n, 0, |k, v| {
        match k {
            "data" => data = Some(v),
            "id" => id = Some(as_u64(n, v)),
            "result" => result = true,
            "error" => error = Some(v),
            "code" => code = as_i64(n, v),
            "msg" => msg = as_str(n, v),
            "e" => raw = true,
            _ => {}
        }
        Ok(())
    })?;
    if let Some(e) = error {
        let (mut code, mut msg) = (None, "");
        for_each_member(n, e, |k, v| {
            match k {
                "code" => code = as_i64(n, v),
                "msg" => msg = as_str(n, v).unwrap_or(""),
                _ => {}
            }
            Ok(())
        })?;
        return Ok(Control::Error {
            code: code.ok_or(ParseError::MissingField("code"))?,
            msg: ErrorText::new(msg),
        });
    }
    if let Some(code) = code {
        return Ok(Control::Error {
            code,
            msg: ErrorText::new(msg.unwrap_or("")),
        });
    }
    if let Some(d) = data {
        return event(n, d, symbols, on);
    }
    if raw {
        return event(n, 0, symbols, on);
    }
    match (id, result) {
        (Some(id), true) => Ok(Control::Ack { id }),
        (None, true) => Ok(Control::Other),
        _ => Err(ParseError::MissingField("data")),
    }
}

fn event(
    n: &[Node<'_>],
    at: usize,
    symbols: &SymbolTable,
    on: &mut impl FnMut(MarketEvent),
) -> Result<Control, ParseError> {
    let mut f = Fields::default();
    for_each_member(n, at, |k, v| {
        match k {
            "e" => f.kind = as_str(n, v),
            "E" => f.event_ms = as_u64(n, v),
            "T" => f.trade_ms = as_u64(n, v),
            "s" => f.symbol = as_str(n, v),
            "t" => f.trade_id = as_u64(n, v),
            "a" => match n.get(v) {
                Some(Node::String(s)) => f.ask = Some(s),
                _ => f.agg_id = as_u64(n, v),
            },
            "p" => f.price = as_str(n, v),
            "q" => f.qty = as_str(n, v),
            "m" => f.buyer_is_maker = as_bool(n, v),
            "b" => f.bid = as_str(n, v),
            "B" => f.bid_qty = as_str(n, v),
            "A" => f.ask_qty = as_str(n, v),
            _ => {}
        }
        Ok(())
    })?;
    let ev = match f.kind {
        Some("trade") => trade(
            &f,
            f.trade_id.ok_or(ParseError::MissingField("t"))?,
            symbols,
        )?,
        Some("aggTrade") => trade(&f, f.agg_id.ok_or(ParseError::MissingField("a"))?, symbols)?,
        Some("bookTicker") => book_ticker(&f, symbols)?,
        Some(_) => return Ok(Control::Other),
        None => return Err(ParseError::MissingField("e")),
    };
    on(ev);
    Ok(Control::Data {
        emitted: 1,
        update: UpdateKind::Event,
    })
}

#[inline]
fn trade(f: &Fields<'_>, trade_id: u64, symbols: &SymbolTable) -> Result<MarketEvent, ParseError> {
    let symbol = f.symbol.ok_or(ParseError::MissingField("s"))?;
    let symbol = symbols.lookup(symbol).ok_or(ParseError::UnknownSymbol)?;
    let price = positive_decimal(f.price.ok_or(ParseError::MissingField("p"))?, "p")?;
    let qty = positive_decimal(f.qty.ok_or(ParseError::MissingField("q"))?, "q")?;
    let exch_ts_ms = f.trade_ms.ok_or(ParseError::MissingField("T"))?;
    let maker = f.buyer_is_maker.ok_or(ParseError::MissingField("m"))?;
    Ok(MarketEvent::Trade(Tick {
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

#[inline]
fn book_ticker(f: &Fields<'_>, symbols: &SymbolTable) -> Result<MarketEvent, ParseError> {
    let symbol = f.symbol.ok_or(ParseError::MissingField("s"))?;
    let symbol = symbols.lookup(symbol).ok_or(ParseError::UnknownSymbol)?;
    let bid = positive_decimal(f.bid.ok_or(ParseError::MissingField("b"))?, "b")?;
    let bid_qty = positive_decimal(f.bid_qty.ok_or(ParseError::MissingField("B"))?, "B")?;
    let ask = positive_decimal(f.ask.ok_or(ParseError::MissingField("a"))?, "a")?;
    let ask_qty = positive_decimal(f.ask_qty.ok_or(ParseError::MissingField("A"))?, "A")?;
    let exch_ts_ms = f
        .trade_ms
        .or(f.event_ms)
        .ok_or(ParseError::MissingField("T"))?;
    Ok(MarketEvent::Quote(Quote {
        symbol,
        bid,
        bid_qty,
        ask,
        ask_qty,
        exch_ts_ms,
        recv_ns: 0,
    }))
}

/// Every trade of `frames` (Binance messages, in order), parsed as the feed parses them: the
/// cold-path helper that tools, tests and benches use to turn a recording into ticks.
pub fn trades_of<'a, I: IntoIterator<Item = &'a str>>(
    frames: I,
    symbols: &SymbolTable,
) -> Vec<Tick> {
    let mut parser = BinanceParser::new();
    let mut ticks = Vec::new();
    let mut buf = Vec::new();
    for f in frames {
        buf.clear();
        buf.extend_from_slice(f.as_bytes());
        let _ = parser.parse(&mut buf, symbols, |ev| {
            if let MarketEvent::Trade(t) = ev {
                ticks.push(t);
            }
        });
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SymbolId;

    fn table() -> SymbolTable {
        SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
    }

    fn parse(s: &str) -> Result<(Control, Vec<MarketEvent>), ParseError> {
        let mut buf = s.as_bytes().to_vec();
        let mut out = Vec::new();
        let c = BinanceParser::new().parse(&mut buf, &table(), |e| out.push(e))?;
        Ok((c, out))
    }

    fn one_trade(s: &str) -> Tick {
        match parse(s).unwrap().1.as_slice() {
            [MarketEvent::Trade(t)] => *t,
            other => panic!("expected one trade, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_documented_trade_sample() {
        let t = one_trade(
            r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#,
        );
        assert_eq!(t.symbol, SymbolId(0));
        assert_eq!(t.side, Side::Buy);
        assert_eq!(t.price, 61800.30);
        assert_eq!(t.qty, 0.006);
        assert_eq!(t.exch_ts_ms, 1723161256322);
        assert_eq!(t.trade_id, 5266583935);
    }

    #[test]
    fn raw_and_combined_forms_give_the_same_trade() {
        let raw = r#"{"e":"aggTrade","E":1,"a":77,"s":"ETHUSDT","p":"2500.5","q":"1","f":1,"l":2,"T":2,"m":true}"#;
        let a = one_trade(raw);
        let b = one_trade(&format!(r#"{{"stream":"ethusdt@aggTrade","data":{raw}}}"#));
        assert_eq!(a, b);
        assert_eq!(a.trade_id, 77);
        assert_eq!(a.side, Side::Sell);
        assert_eq!(a.symbol, SymbolId(1));
    }

    #[test]
    fn book_ticker_is_a_quote() {
        let (c, ev) = parse(r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":1,"s":"BTCUSDT","b":"1.5","B":"2","a":"2.5","A":"3","T":10,"E":11}}"#).unwrap();
        assert_eq!(
            c,
            Control::Data {
                emitted: 1,
                update: UpdateKind::Event
            }
        );
        assert_eq!(
            ev,
            [MarketEvent::Quote(Quote {
                symbol: SymbolId(0),
                bid: 1.5,
                bid_qty: 2.0,
                ask: 2.5,
                ask_qty: 3.0,
                exch_ts_ms: 10,
                recv_ns: 0
            })]
        );
    }

    #[test]
    fn acks_errors_and_other_streams_are_classified() {
        assert_eq!(
            parse(r#"{"result":null,"id":7}"#).unwrap().0,
            Control::Ack { id: Some(7) }
        );
        let (c, _) = parse(r#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#).unwrap();
        assert_eq!(
            c,
            Control::Error {
                code: 2,
                msg: ErrorText::new("Invalid request")
            }
        );
        let (c, _) = parse(
            r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#,
        )
        .unwrap();
        assert!(
            matches!(c, Control::Error { code: -1021, msg } if msg.as_str().starts_with("Timestamp"))
        );
        let (c, ev) = parse(r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1","1"]],"a":[["2","1"]]}}"#).unwrap();
        assert_eq!((c, ev.len()), (Control::Other, 0));
    }

    #[test]
    fn bad_frames_are_rejected_with_their_reason() {
        let e = |s: &str| parse(s).unwrap_err();
        assert_eq!(e("{not json"), ParseError::Json);
        assert_eq!(e(""), ParseError::Json);
        assert_eq!(e("[1,2]"), ParseError::Json);
        assert_eq!(
            e(r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"q":"1","m":true}}"#),
            ParseError::MissingField("p")
        );
        assert_eq!(
            e(
                r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"p":"abc","q":"1","m":true}}"#
            ),
            ParseError::BadNumber("p")
        );
        assert_eq!(
            e(
                r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"p":"inf","q":"1","m":true}}"#
            ),
            ParseError::NonFinite("p")
        );
        assert_eq!(
            e(
                r#"{"stream":"x","data":{"e":"trade","T":1,"s":"BTCUSDT","t":1,"p":"0","q":"1","m":true}}"#
            ),
            ParseError::NonPositive
        );
        assert_eq!(
            e(
                r#"{"stream":"x","data":{"e":"trade","T":1,"s":"DOGEUSDT","t":1,"p":"1","q":"1","m":true}}"#
            ),
            ParseError::UnknownSymbol
        );
        assert_eq!(e(r#"{"stream":"x"}"#), ParseError::MissingField("data"));
    }
}
