//! Binance fast path: `trade`/`aggTrade` frames (combined or raw) read by the byte scanner
//! ([`crate::venue::scan`]) without building a tape; anything else goes to [`BinanceParser`]
//! with the same result (`tests/parse_fast_path.rs` proves the equality by property test).

use super::market::BinanceParser;
use crate::types::event::{positive_decimal_bytes, Control, MarketEvent, ParseError, UpdateKind};
use crate::types::SymbolTable;
use crate::types::{Side, Tick};
use crate::venue::scan::{s, u, Cur, Scalar};

/// Binance `trade`/`aggTrade` (combined or raw) → the tick, or `None` to fall back.
#[inline]
pub fn binance_trade(frame: &[u8], symbols: &SymbolTable) -> Option<Tick> {
    let mut c = Cur { b: frame, i: 0 };
    let combined = frame.starts_with(b"{\"stream\":");
    if combined {
        c.lit(b"{\"stream\":")?;
        c.string()?;
        c.lit(b",\"data\":")?;
    }
    let (mut kind, mut ts, mut sym, mut t, mut a, mut p, mut q, mut m) =
        (None, None, None, None, None, None, None, None);
    c.flat_object(|k, v| {
        match k {
            b"e" => kind = Some(s(v)),
            b"T" => ts = Some(u(v)),
            b"s" => sym = Some(s(v)),
            b"t" => t = Some(u(v)),
            b"a" => a = Some(v),
            b"p" => p = Some(s(v)),
            b"q" => q = Some(s(v)),
            b"m" => m = Some(v),
            // Keys of trade/aggTrade the general parser ignores. Any other key (`code`,
            // `error`, `data`, ... in a raw frame) could change the general classification.
            b"E" | b"X" | b"f" | b"l" | b"M" => {}
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
    let trade_id = match kind?? {
        b"trade" => t??,
        b"aggTrade" => match a? {
            Scalar::Str(_) => return None,
            v => u(v)?,
        },
        _ => return None,
    };
    let symbol = symbols.lookup_bytes(sym??)?;
    let price = positive_decimal_bytes(p??, "p").ok()?;
    let qty = positive_decimal_bytes(q??, "q").ok()?;
    let maker = match m? {
        Scalar::Bool(b) => b,
        _ => return None,
    };
    Some(Tick {
        symbol,
        side: if maker { Side::Sell } else { Side::Buy },
        price,
        qty,
        exch_ts_ms: ts??,
        trade_id,
        recv_ns: 0,
        parsed_ns: 0,
    })
}

/// Binance: the extractor for trade/aggTrade, else `general`. Same result as
/// `general.parse` for every input.
#[inline]
pub fn parse<F: FnMut(MarketEvent)>(
    general: &mut BinanceParser,
    frame: &mut [u8],
    symbols: &SymbolTable,
    mut on: F,
) -> (Result<Control, ParseError>, bool) {
    if let Some(t) = binance_trade(frame, symbols) {
        on(MarketEvent::Trade(t));
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
        let t = binance_trade(f, &table()).unwrap();
        assert_eq!(
            (t.price, t.qty, t.trade_id, t.side),
            (61800.30, 0.006, 5266583935, Side::Buy)
        );
    }

    #[test]
    fn anything_outside_the_subset_falls_back() {
        let base = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":3,"p":"1.5","q":"2","X":"MARKET","m":true}}"#;
        assert!(binance_trade(base.as_bytes(), &table()).is_some());
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
            assert!(binance_trade(bad.as_bytes(), &table()).is_none(), "{bad}");
        }
    }
}
