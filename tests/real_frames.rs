//! The Binance parser against every real recorded frame bundled in `data/replay/` (trade,
//! bookTicker, depth), checked field by field against an independent parse with serde_json;
//! and the default validation against the same real stream (it must reject nothing).

use std::path::PathBuf;

use calculus_trader::exchange::Recording;
use calculus_trader::feed::{
    Control, MarketEvent, SymbolTable, UpdateKind, ValidationConfig, Validator,
};
use calculus_trader::types::Side;
use calculus_trader::venue::binance::market::BinanceParser;
use serde::Deserialize;

mod common;
use common::files::{fixture_path, replay_file};

#[derive(Deserialize)]
struct Frame<T> {
    data: T,
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

#[derive(Deserialize)]
struct BookTicker {
    s: String,
    b: String,
    #[serde(rename = "B")]
    bq: String,
    a: String,
    #[serde(rename = "A")]
    aq: String,
    #[serde(rename = "T")]
    ts: u64,
}

fn replay_files() -> Vec<PathBuf> {
    vec![
        replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        replay_file("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ]
}

fn f(s: &str) -> f64 {
    s.parse().unwrap()
}

#[test]
fn every_recorded_frame_parses_exactly_like_serde_json() {
    let rec = Recording::load(&replay_files()).unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let mut parser = BinanceParser::new();
    let mut validator = Validator::new(ValidationConfig::default(), symbols.len());
    let (mut trades, mut quotes, mut others) = (0usize, 0usize, 0usize);
    let mut last_id = [0u64; 2];
    for fr in &rec.frames {
        let stream = rec.streams[fr.stream as usize].as_str();
        let mut buf = fr.text.clone().into_bytes();
        let mut events = Vec::new();
        let c = parser
            .parse(&mut buf, &symbols, |e| events.push(e))
            .unwrap_or_else(|e| panic!("{e}: {}", fr.text));
        // Recorded in 2024: nothing is in the future of this wall clock (2026).
        for e in &events {
            assert_eq!(validator.check(e, 1_786_000_000_000), Ok(()), "{}", fr.text);
        }
        if stream.ends_with("@trade") {
            let [MarketEvent::Trade(t)] = events[..] else {
                panic!("not one trade: {}", fr.text)
            };
            let want: Frame<Trade> = serde_json::from_str(&fr.text).unwrap();
            assert_eq!(symbols.name(t.symbol), want.data.s);
            assert_eq!(t.price, f(&want.data.p));
            assert_eq!(t.qty, f(&want.data.q));
            assert_eq!(t.exch_ts_ms, want.data.trade_ms);
            assert_eq!(t.trade_id, want.data.t);
            assert_eq!(t.side, if want.data.m { Side::Sell } else { Side::Buy });
            // Trade ids of each symbol increase in receive order in these recordings.
            assert!(t.trade_id > last_id[t.symbol.index()], "{}", fr.text);
            last_id[t.symbol.index()] = t.trade_id;
            trades += 1;
        } else if stream.ends_with("@bookTicker") {
            let [MarketEvent::Quote(q)] = events[..] else {
                panic!("not one quote: {}", fr.text)
            };
            let want: Frame<BookTicker> = serde_json::from_str(&fr.text).unwrap();
            assert_eq!(symbols.name(q.symbol), want.data.s);
            assert_eq!(
                (q.bid, q.bid_qty, q.ask, q.ask_qty, q.exch_ts_ms),
                (
                    f(&want.data.b),
                    f(&want.data.bq),
                    f(&want.data.a),
                    f(&want.data.aq),
                    want.data.ts
                )
            );
            assert_eq!(
                c,
                Control::Data {
                    emitted: 1,
                    update: UpdateKind::Event
                }
            );
            quotes += 1;
        } else {
            assert_eq!((c, events.len()), (Control::Other, 0), "{}", fr.text);
            others += 1;
        }
    }
    // Counts from data/SOURCES.md: 21313 + 14076 @trade, 66089 + 53992 @bookTicker,
    // 6551 + 6586 @depth@0ms frames.
    assert_eq!(trades, 21313 + 14076);
    assert_eq!(quotes, 66089 + 53992);
    assert_eq!(others, 6551 + 6586);
}

#[test]
fn real_agg_trade_and_book_ticker_fixtures_parse_to_their_values() {
    let dir = fixture_path("binance");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let symbols = SymbolTable::new(&["AKROUSDT", "BTCUSDT"]).unwrap();
    let mut parser = BinanceParser::new();

    let text = read("ws_combined_aggtrade_real_2021.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d = &v["data"];
    let mut ev = Vec::new();
    parser
        .parse(&mut text.clone().into_bytes(), &symbols, |e| ev.push(e))
        .unwrap();
    let [MarketEvent::Trade(t)] = ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(symbols.name(t.symbol), d["s"].as_str().unwrap());
    assert_eq!(t.trade_id, d["a"].as_u64().unwrap());
    assert_eq!(t.price, f(d["p"].as_str().unwrap()));
    assert_eq!(t.qty, f(d["q"].as_str().unwrap()));
    assert_eq!(t.exch_ts_ms, d["T"].as_u64().unwrap());
    let maker = d["m"].as_bool().unwrap();
    assert_eq!(t.side, if maker { Side::Sell } else { Side::Buy });

    // The docs' raw (unwrapped) aggTrade form.
    let text = read("ws_aggtrade_docs.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sym = SymbolTable::new(&[v["s"].as_str().unwrap()]).unwrap();
    let mut ev = Vec::new();
    parser
        .parse(&mut text.clone().into_bytes(), &sym, |e| ev.push(e))
        .unwrap();
    assert!(matches!(ev[..], [MarketEvent::Trade(t)] if t.trade_id == v["a"].as_u64().unwrap()));

    let text = read("ws_combined_bookticker_real_BTCUSDT_2024.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d = &v["data"];
    let mut ev = Vec::new();
    parser
        .parse(&mut text.clone().into_bytes(), &symbols, |e| ev.push(e))
        .unwrap();
    let [MarketEvent::Quote(q)] = ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(q.bid, f(d["b"].as_str().unwrap()));
    assert_eq!(q.ask, f(d["a"].as_str().unwrap()));
    assert_eq!(q.bid_qty, f(d["B"].as_str().unwrap()));
    assert_eq!(q.ask_qty, f(d["A"].as_str().unwrap()));
}

#[test]
fn real_binance_error_bodies_are_error_frames() {
    let dir = fixture_path("binance");
    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let mut parser = BinanceParser::new();
    for (name, code) in [
        ("rest_error_-1021.json", -1021),
        ("rest_error_-2019.json", -2019),
        ("rest_error_-4164.json", -4164),
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let c = parser
            .parse(&mut text.clone().into_bytes(), &symbols, |_| {})
            .unwrap();
        let Control::Error { code: got, msg } = c else {
            panic!("{name}: {c:?}")
        };
        assert_eq!(got, code);
        assert_eq!(msg.as_str(), v["msg"].as_str().unwrap());
    }
}
