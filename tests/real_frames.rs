//! The Binance parser against every real recorded trade frame bundled in `data/replay/`,
//! checked field by field against an independent parse with serde_json.

use std::path::PathBuf;

use calculus_trader::feed::binance::{BinanceEvent, BinanceParser};
use calculus_trader::feed::{Side, SymbolTable};
use calculus_trader::sim::Recording;
use serde::Deserialize;

#[derive(Deserialize)]
struct Frame {
    data: Trade,
}

#[derive(Deserialize)]
struct Trade {
    #[serde(rename = "T")]
    trade_ms: u64,
    s: String,
    t: u64,
    p: String,
    q: String,
    m: bool,
}

fn replay_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/replay");
    vec![
        dir.join("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        dir.join("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ]
}

#[test]
fn every_recorded_trade_parses_exactly_like_serde_json() {
    let rec = Recording::load(&replay_files()).unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let mut parser = BinanceParser::new();
    let (mut trades, mut others) = (0usize, 0usize);
    let mut last_id = [0u64; 2];
    for f in &rec.frames {
        let is_trade = rec.streams[f.stream as usize].ends_with("@trade");
        let mut buf = f.text.clone().into_bytes();
        let ev = parser
            .parse(&mut buf, &symbols)
            .unwrap_or_else(|e| panic!("{e}: {}", f.text));
        if !is_trade {
            assert_eq!(ev, BinanceEvent::Other, "{}", f.text);
            others += 1;
            continue;
        }
        let BinanceEvent::Trade(t) = ev else {
            panic!("not a trade: {}", f.text)
        };
        let want: Frame = serde_json::from_str(&f.text).unwrap();
        assert_eq!(symbols.name(t.symbol), want.data.s);
        assert_eq!(t.price, want.data.p.parse::<f64>().unwrap());
        assert_eq!(t.qty, want.data.q.parse::<f64>().unwrap());
        assert_eq!(t.exch_ts_ms, want.data.trade_ms);
        assert_eq!(t.trade_id, want.data.t);
        assert_eq!(t.side, if want.data.m { Side::Sell } else { Side::Buy });
        // Trade ids of each symbol increase in receive order in these recordings.
        assert!(t.trade_id > last_id[t.symbol.index()], "{}", f.text);
        last_id[t.symbol.index()] = t.trade_id;
        trades += 1;
    }
    // Counts from data/SOURCES.md: 21313 BTCUSDT and 14076 ETHUSDT @trade frames.
    assert_eq!(trades, 21313 + 14076);
    assert!(
        others > 100_000,
        "bookTicker and depth frames are recognised, not rejected"
    );
}
