//! Bybit fast path: `publicTrade` batches of up to [`MAX_FAST_TRADES`] trades read by the byte
//! scanner ([`crate::venue::scan`]) without building a tape; anything else goes to
//! [`BybitParser`] with the same result (`tests/parse_fast_path.rs` proves the equality by
//! property test).

pub use super::market::MAX_FAST_TRADES;
use super::market::{trade_id_hash_bytes, BybitParser};
use crate::types::event::{positive_decimal_bytes, Control, MarketEvent, ParseError, UpdateKind};
use crate::types::SymbolTable;
use crate::types::{Side, Tick};
use crate::venue::scan::{s, u, Cur};

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

/// Bybit: the extractor for publicTrade batches of up to [`MAX_FAST_TRADES`], else
/// `general`. Same result as `general.parse` for every input.
#[inline]
pub fn parse<F: FnMut(MarketEvent)>(
    general: &mut BybitParser,
    frame: &mut [u8],
    symbols: &SymbolTable,
    mut on: F,
) -> (Result<Control, ParseError>, bool) {
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
}
