//! Bybit fast path: `publicTrade` batches of up to [`MAX_FAST_TRADES`] trades and `tickers`
//! frames read by the byte scanner ([`crate::venue::scan`]) without building a tape; anything
//! else goes to [`BybitParser`] with the same result (`tests/parse_fast_path.rs` proves the
//! equality by property test and on every recorded frame). Frames are dispatched by the topic
//! they start with, so the scanner is tried only on those two topics.

pub use super::market::MAX_FAST_TRADES;
use super::market::{trade_id_hash_bytes, BybitParser};
use crate::types::event::{positive_decimal_bytes, Control, MarketEvent, ParseError, UpdateKind};
use crate::types::SymbolTable;
use crate::types::{Quote, Side, Tick};
use crate::venue::scan::{s, u, Cur, Scalar};

/// Bybit `publicTrade` with up to [`MAX_FAST_TRADES`] trades → the ticks appended to `out`
/// (which never grows past that) and their number, or `None` to fall back.
#[inline]
pub fn bybit_trades(frame: &[u8], symbols: &SymbolTable, out: &mut Vec<Tick>) -> Option<usize> {
    out.clear();
    let mut c = Cur { b: frame, i: 0 };
    c.eat(b'{')?;
    let (mut topic_ok, mut snapshot, mut n, mut seen_data) = (false, false, 0usize, false);
    loop {
        let k = c.string()?;
        c.eat(b':')?;
        match k {
            // Dispatch: any other topic (tickers, orderbook) leaves at its first member.
            b"topic" => {
                if !c.string()?.starts_with(b"publicTrade.") {
                    return None;
                }
                topic_ok = true;
            }
            b"type" => snapshot = c.string()? == b"snapshot",
            b"ts" => {
                c.uint()?;
            }
            b"data" => {
                if seen_data {
                    return None;
                }
                seen_data = true;
                c.eat(b'[')?;
                if c.eat(b']').is_none() {
                    loop {
                        if n == MAX_FAST_TRADES {
                            return None;
                        }
                        out.push(bybit_trade(&mut c, symbols)?);
                        n += 1;
                        match c.peek()? {
                            b',' => c.i += 1,
                            b']' => {
                                c.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
            }
            _ => return None,
        }
        match c.peek()? {
            b',' => c.i += 1,
            b'}' => {
                c.i += 1;
                break;
            }
            _ => return None,
        }
    }
    (c.i == frame.len() && topic_ok && snapshot && seen_data).then_some(n)
}

#[inline(always)]
fn bybit_trade(c: &mut Cur<'_>, symbols: &SymbolTable) -> Option<Tick> {
    let (mut ts, mut sym, mut side, mut v, mut p, mut id) = (None, None, None, None, None, None);
    c.flat_object(|k, val| {
        match k {
            b"T" => ts = Some(u(val)),
            b"s" => sym = Some(s(val)),
            b"S" => side = Some(s(val)),
            b"v" => v = Some(s(val)),
            b"p" => p = Some(s(val)),
            b"i" => id = Some(s(val)),
            _ => {}
        }
        Some(())
    })?;
    let symbol = symbols.lookup_bytes(sym??)?;
    let price = positive_decimal_bytes(p??, "p").ok()?;
    let qty = positive_decimal_bytes(v??, "v").ok()?;
    let side = match side?? {
        b"Buy" => Side::Buy,
        b"Sell" => Side::Sell,
        _ => return None,
    };
    Some(Tick {
        symbol,
        side,
        price,
        qty,
        exch_ts_ms: ts??,
        trade_id: trade_id_hash_bytes(id??),
        recv_ns: 0,
        parsed_ns: 0,
    })
}

/// Bybit `tickers` → merged into `general`'s top of book, with the quote to emit; `None` to
/// fall back (then nothing changed).
#[inline]
pub fn bybit_ticker(
    general: &mut BybitParser,
    frame: &[u8],
    symbols: &SymbolTable,
) -> Option<(UpdateKind, Option<Quote>)> {
    let mut c = Cur { b: frame, i: 0 };
    c.eat(b'{')?;
    let (mut topic_ok, mut update, mut ts, mut fields) = (false, None, None, None);
    loop {
        let k = c.string()?;
        c.eat(b':')?;
        match k {
            b"topic" => {
                if !c.string()?.starts_with(b"tickers.") {
                    return None;
                }
                topic_ok = true;
            }
            b"type" => {
                update = match c.string()? {
                    b"snapshot" => Some(UpdateKind::Snapshot),
                    b"delta" => Some(UpdateKind::Delta),
                    _ => None,
                }
            }
            b"ts" => ts = u(c.scalar()?),
            b"data" if fields.is_none() => fields = Some(ticker_fields(&mut c)?),
            b"data" => return None,
            // Other members (`cs`, ...) do not change a topic frame's meaning.
            _ => {
                c.scalar()?;
            }
        }
        match c.peek()? {
            b',' => c.i += 1,
            b'}' => {
                c.i += 1;
                break;
            }
            _ => return None,
        }
    }
    if c.i != frame.len() || !topic_ok {
        return None;
    }
    let (sym, values) = fields?;
    let symbol = symbols.lookup_bytes(sym)?;
    let update = update?;
    let q = general.merge_ticker(symbols, symbol, update, ts?, values)?;
    Some((update, q))
}

/// The symbol and the converted `bid1Price`, `bid1Size`, `ask1Price`, `ask1Size` of a ticker's
/// `data` (`None` = absent or empty); `None` to fall back (a field not a string, a bad number).
#[inline(always)]
fn ticker_fields<'a>(c: &mut Cur<'a>) -> Option<(&'a [u8], [Option<f64>; 4])> {
    let mut sym = None;
    let mut raw: [Option<Scalar<'a>>; 4] = [None; 4];
    c.flat_object(|k, v| {
        match k {
            b"symbol" => sym = Some(v),
            b"bid1Price" => raw[0] = Some(v),
            b"bid1Size" => raw[1] = Some(v),
            b"ask1Price" => raw[2] = Some(v),
            b"ask1Size" => raw[3] = Some(v),
            _ => {}
        }
        Some(())
    })?;
    const KEYS: [&str; 4] = ["bid1Price", "bid1Size", "ask1Price", "ask1Size"];
    let mut values = [None; 4];
    for ((v, r), key) in values.iter_mut().zip(raw).zip(KEYS) {
        *v = match r {
            None | Some(Scalar::Str(b"")) => None,
            Some(Scalar::Str(b)) => Some(positive_decimal_bytes(b, key).ok()?),
            Some(_) => return None,
        };
    }
    Some((s(sym?)?, values))
}

/// Bybit: the extractor for publicTrade batches of up to [`MAX_FAST_TRADES`] and for
/// tickers, chosen by the topic the frame starts with, else `general`. Same result as
/// `general.parse` for every input.
#[inline]
pub fn parse<F: FnMut(MarketEvent)>(
    general: &mut BybitParser,
    frame: &mut [u8],
    symbols: &SymbolTable,
    mut on: F,
) -> (Result<Control, ParseError>, bool) {
    if frame.starts_with(b"{\"topic\":\"tickers.") {
        if let Some((update, q)) = bybit_ticker(general, frame, symbols) {
            let emitted = u32::from(q.is_some());
            if let Some(q) = q {
                on(MarketEvent::Quote(q));
            }
            return (Ok(Control::Data { emitted, update }), true);
        }
        return (general.parse(frame, symbols, on), false);
    }
    if !frame.starts_with(b"{\"topic\":\"publicTrade.") {
        return (general.parse(frame, symbols, on), false);
    }
    // The scratch is taken out so `general` stays usable; taking leaves an empty,
    // unallocated Vec, and putting it back keeps the capacity: no allocation either way.
    let mut out = std::mem::take(&mut general.fast_scratch);
    let r = match bybit_trades(frame, symbols, &mut out) {
        Some(n) => {
            for t in &out {
                on(MarketEvent::Trade(*t));
            }
            let c = Control::Data {
                emitted: n as u32,
                update: UpdateKind::Snapshot,
            };
            (Ok(c), true)
        }
        None => (general.parse(frame, symbols, on), false),
    };
    general.fast_scratch = out;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SymbolTable {
        SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
    }

    #[test]
    fn bybit_batches_up_to_the_limit_are_extracted() {
        let one =
            r#"{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"2","L":"PlusTick","i":"x","BT":false}"#;
        let frame = |n: usize| {
            let rows = vec![one; n];
            format!(
                r#"{{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":5,"data":[{}]}}"#,
                rows.join(",")
            )
        };
        let mut out = Vec::with_capacity(MAX_FAST_TRADES);
        assert_eq!(
            bybit_trades(frame(3).as_bytes(), &table(), &mut out),
            Some(3)
        );
        assert_eq!(
            bybit_trades(frame(MAX_FAST_TRADES + 1).as_bytes(), &table(), &mut out),
            None
        );
        let delta = frame(1).replace("snapshot", "delta");
        assert_eq!(bybit_trades(delta.as_bytes(), &table(), &mut out), None);
    }

    #[test]
    fn bybit_tickers_merge_snapshot_then_delta_like_the_general_parser() {
        let sy = table();
        let snap = br#"{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","bid1Price":"100.5","bid1Size":"2","ask1Price":"101","ask1Size":"3","lastPrice":"100.7"},"cs":1,"ts":7}"#;
        let delta = br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","ask1Price":"100.9","ask1Size":""},"cs":2,"ts":8}"#;
        let mut p = BybitParser::for_symbols(&sy);
        let (u1, q1) = bybit_ticker(&mut p, snap, &sy).unwrap();
        let q1 = q1.unwrap();
        assert_eq!(u1, UpdateKind::Snapshot);
        assert_eq!(
            (q1.bid, q1.bid_qty, q1.ask, q1.ask_qty),
            (100.5, 2.0, 101.0, 3.0)
        );
        let (u2, q2) = bybit_ticker(&mut p, delta, &sy).unwrap();
        let q2 = q2.unwrap();
        assert_eq!(u2, UpdateKind::Delta);
        assert_eq!((q2.ask, q2.ask_qty, q2.exch_ts_ms), (100.9, 3.0, 8));
        // A bad number, another topic: fall back.
        let bad = String::from_utf8(delta.to_vec())
            .unwrap()
            .replace("100.9", "-1");
        assert!(bybit_ticker(&mut p, bad.as_bytes(), &sy).is_none());
        let other = String::from_utf8(delta.to_vec())
            .unwrap()
            .replace("tickers.", "orderbook.1.");
        assert!(bybit_ticker(&mut p, other.as_bytes(), &sy).is_none());
    }
}
