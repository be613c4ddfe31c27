//! Binance fast path: `trade`, `aggTrade` and `bookTicker` frames (combined or raw) read by
//! the byte scanner ([`crate::venue::scan`]) without building a tape; anything else goes to
//! [`BinanceParser`] with the same result (`tests/parse_fast_path.rs` proves the equality by
//! property test and on every recorded frame). The event type (`e`, the first key of every
//! real event) is checked as soon as it is read, so other message types (depth, errors,
//! acks) leave the scanner at their first member.

use super::market::BinanceParser;
use crate::types::event::{positive_decimal_bytes, Control, MarketEvent, ParseError, UpdateKind};
use crate::types::SymbolTable;
use crate::types::{Quote, Side, Tick};
use crate::venue::scan::{s, u, Cur, Scalar};

/// The members of a trade, aggTrade or bookTicker event, as the general parser maps them
/// (the last duplicate wins). `Some(None)`: present but not of the type the slot needs.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a [u8]>,
    event_ms: Option<Option<u64>>,
    trade_ms: Option<Option<u64>>,
    sym: Option<Option<&'a [u8]>>,
    t: Option<Option<u64>>,
    a: Option<Scalar<'a>>,
    p: Option<Option<&'a [u8]>>,
    q: Option<Option<&'a [u8]>>,
    m: Option<Scalar<'a>>,
    b: Option<Option<&'a [u8]>>,
    bq: Option<Option<&'a [u8]>>,
    aq: Option<Option<&'a [u8]>>,
}

/// Binance `trade`/`aggTrade`/`bookTicker` (combined or raw) → the event, or `None` to fall
/// back.
#[inline]
pub fn binance_event(frame: &[u8], symbols: &SymbolTable) -> Option<MarketEvent> {
    let mut c = Cur { b: frame, i: 0 };
    let combined = frame.starts_with(b"{\"stream\":");
    if combined {
        c.lit(b"{\"stream\":")?;
        c.string()?;
        c.lit(b",\"data\":")?;
    }
    let mut f = Fields::default();
    c.flat_object(|k, v| {
        match k {
            // Dispatch: only the three event types the scanner reads go on.
            b"e" => match s(v)? {
                k @ (b"trade" | b"aggTrade" | b"bookTicker") => f.kind = Some(k),
                _ => return None,
            },
            b"E" => f.event_ms = Some(u(v)),
            b"T" => f.trade_ms = Some(u(v)),
            b"s" => f.sym = Some(s(v)),
            b"t" => f.t = Some(u(v)),
            b"a" => f.a = Some(v),
            b"p" => f.p = Some(s(v)),
            b"q" => f.q = Some(s(v)),
            b"m" => f.m = Some(v),
            b"b" => f.b = Some(s(v)),
            b"B" => f.bq = Some(s(v)),
            b"A" => f.aq = Some(s(v)),
            // Keys of these events the general parser ignores. Any other key (`code`,
            // `error`, `data`, ... in a raw frame) could change the general classification.
            b"X" | b"f" | b"l" | b"M" | b"u" => {}
            _ => return None,
        }
        Some(())
    })?;
    if combined {
        c.eat(b'}')?;
    }
    if c.i != frame.len() {
        return None;
    }
    let symbol = symbols.lookup_bytes(f.sym??)?;
    match f.kind? {
        b"trade" => trade(&f, f.t??, symbol),
        b"aggTrade" => match f.a? {
            Scalar::Str(_) => None,
            v => trade(&f, u(v)?, symbol),
        },
        _ => {
            let ask = match f.a? {
                Scalar::Str(a) => a,
                _ => return None,
            };
            Some(MarketEvent::Quote(Quote {
                symbol,
                bid: positive_decimal_bytes(f.b??, "b").ok()?,
                bid_qty: positive_decimal_bytes(f.bq??, "B").ok()?,
                ask: positive_decimal_bytes(ask, "a").ok()?,
                ask_qty: positive_decimal_bytes(f.aq??, "A").ok()?,
                exch_ts_ms: f.trade_ms.flatten().or(f.event_ms.flatten())?,
                recv_ns: 0,
            }))
        }
    }
}

#[inline(always)]
fn trade(f: &Fields<'_>, trade_id: u64, symbol: crate::types::SymbolId) -> Option<MarketEvent> {
    let price = positive_decimal_bytes(f.p??, "p").ok()?;
    let qty = positive_decimal_bytes(f.q??, "q").ok()?;
    let maker = match f.m? {
        Scalar::Bool(b) => b,
        _ => return None,
    };
    Some(MarketEvent::Trade(Tick {
        symbol,
        side: if maker { Side::Sell } else { Side::Buy },
        price,
        qty,
        exch_ts_ms: f.trade_ms??,
        trade_id,
        recv_ns: 0,
        parsed_ns: 0,
    }))
}

/// Binance: the extractor for trade/aggTrade/bookTicker, else `general`. Same result as
/// `general.parse` for every input.
#[inline]
pub fn parse<F: FnMut(MarketEvent)>(
    general: &mut BinanceParser,
    frame: &mut [u8],
    symbols: &SymbolTable,
    mut on: F,
) -> (Result<Control, ParseError>, bool) {
    if let Some(ev) = binance_event(frame, symbols) {
        on(ev);
        let c = Control::Data {
            emitted: 1,
            update: UpdateKind::Event,
        };
        return (Ok(c), true);
    }
    (general.parse(frame, symbols, on), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SymbolTable {
        SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
    }

    #[test]
    fn binance_trade_sample_is_extracted() {
        let f = br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}"#;
        let Some(MarketEvent::Trade(t)) = binance_event(f, &table()) else {
            panic!("not extracted as a trade")
        };
        assert_eq!(
            (t.price, t.qty, t.trade_id, t.side),
            (61800.30, 0.006, 5266583935, Side::Buy)
        );
    }

    #[test]
    fn anything_outside_the_subset_falls_back() {
        let base = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":3,"p":"1.5","q":"2","X":"MARKET","m":true}}"#;
        assert!(binance_event(base.as_bytes(), &table()).is_some());
        for bad in [
            base.replace("\"T\":2", "\"T\": 2"),
            base.replace("\"t\":3", "\"t\":03"),
            base.replace("\"t\":3", "\"t\":3.0"),
            base.replace("MARKET", "MAR\\u004bET"),
            base.replace("\"E\":1", "\"code\":1"),
            base.replace("\"e\":\"trade\"", "\"e\":\"bookTicker\""),
            base.replace("\"p\":\"1.5\"", "\"p\":\"0\""),
            base.replace("BTCUSDT", "DOGEUSDT"),
            format!("{base} "),
            base[..base.len() - 1].to_string(),
        ] {
            assert!(binance_event(bad.as_bytes(), &table()).is_none(), "{bad}");
        }
    }

    #[test]
    fn binance_book_ticker_is_extracted_and_other_types_leave_at_their_type() {
        let f = br#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":400900217,"s":"BTCUSDT","b":"61800.20","B":"1.2","a":"61800.30","A":"0.5","T":1723161256322,"E":1723161256323}}"#;
        let Some(MarketEvent::Quote(q)) = binance_event(f, &table()) else {
            panic!("not extracted as a quote")
        };
        assert_eq!(
            (q.bid, q.bid_qty, q.ask, q.ask_qty, q.exch_ts_ms),
            (61800.20, 1.2, 61800.30, 0.5, 1723161256322)
        );
        // An ask given as a number is an aggTrade id to the general parser: fall back.
        let num = String::from_utf8(f.to_vec())
            .unwrap()
            .replace("\"a\":\"61800.30\"", "\"a\":5");
        assert!(binance_event(num.as_bytes(), &table()).is_none());
        let depth = br#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[],"a":[]}}"#;
        assert!(binance_event(depth, &table()).is_none());
    }
}
