//! The Bybit v5 parser against real recorded messages (`tests/fixtures/bybit/`,
//! `data/replay/bybit_…jsonl.gz`), each value checked against an independent serde_json reading.

use std::collections::HashMap;

use calculus_trader::feed::{Control, MarketEvent, ParseError, SymbolTable, UpdateKind};
use calculus_trader::types::{Quote, Side};
use calculus_trader::venue::bybit::market::{trade_id_hash, BybitParser};
use serde_json::Value;

mod common;
use common::files::{bybit_capture_lines, fixture_path};

fn capture() -> Vec<String> {
    bybit_capture_lines()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path("bybit").join(name)).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

fn parse(
    p: &mut BybitParser,
    symbols: &SymbolTable,
    text: &str,
) -> (Result<Control, ParseError>, Vec<MarketEvent>) {
    let mut buf = text.as_bytes().to_vec();
    let mut out = Vec::new();
    let c = p.parse(&mut buf, symbols, |e| out.push(e));
    (c, out)
}

fn btc_eth() -> SymbolTable {
    SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
}

#[test]
fn every_trade_of_every_batch_is_emitted_with_the_json_values() {
    let symbols = btc_eth();
    let mut p = BybitParser::new();
    let (mut frames, mut trades, mut biggest) = (0, 0, 0);
    for line in capture() {
        let v: Value = serde_json::from_str(&line).unwrap();
        if !v["topic"]
            .as_str()
            .unwrap_or("")
            .starts_with("publicTrade.")
        {
            continue;
        }
        let (c, ev) = parse(&mut p, &symbols, &line);
        let want = v["data"].as_array().unwrap();
        assert_eq!(
            c,
            Ok(Control::Data {
                emitted: want.len() as u32,
                update: UpdateKind::Snapshot
            })
        );
        assert_eq!(ev.len(), want.len(), "{line}");
        for (e, w) in ev.iter().zip(want) {
            let MarketEvent::Trade(t) = e else {
                panic!("{e:?}")
            };
            assert_eq!(symbols.name(t.symbol), w["s"].as_str().unwrap());
            assert_eq!(t.price, num(&w["p"]));
            assert_eq!(t.qty, num(&w["v"]));
            assert_eq!(t.exch_ts_ms, w["T"].as_u64().unwrap());
            assert_eq!(t.trade_id, trade_id_hash(w["i"].as_str().unwrap()));
            let side = match w["S"].as_str().unwrap() {
                "Buy" => Side::Buy,
                "Sell" => Side::Sell,
                s => panic!("{s}"),
            };
            assert_eq!(t.side, side);
        }
        frames += 1;
        trades += want.len();
        biggest = biggest.max(want.len());
    }
    // data/SOURCES.md: 28 publicTrade frames, 79 trades, one batch of 41.
    assert_eq!((frames, trades, biggest), (28, 79, 41));
}

/// Independent merge of ticker frames with serde_json: the expected quote after each frame.
#[derive(Default)]
struct TickerModel(HashMap<String, HashMap<&'static str, f64>>);

impl TickerModel {
    const KEYS: [&'static str; 4] = ["bid1Price", "bid1Size", "ask1Price", "ask1Size"];

    fn apply(&mut self, v: &Value) -> Option<[f64; 5]> {
        let d = &v["data"];
        let state = self
            .0
            .entry(d["symbol"].as_str().unwrap().to_string())
            .or_default();
        if v["type"] == "snapshot" {
            state.clear();
        }
        let mut touched = false;
        for k in Self::KEYS {
            if let Some(s) = d[k].as_str().filter(|s| !s.is_empty()) {
                state.insert(k, s.parse().unwrap());
                touched = true;
            }
        }
        let all: Option<Vec<f64>> = Self::KEYS.iter().map(|k| state.get(k).copied()).collect();
        let all = all.filter(|_| touched)?;
        Some([
            all[0],
            all[1],
            all[2],
            all[3],
            v["ts"].as_u64().unwrap() as f64,
        ])
    }
}

#[test]
fn ticker_deltas_merge_into_full_quotes_like_an_independent_merge() {
    let symbols = btc_eth();
    let mut p = BybitParser::new();
    let mut model = TickerModel::default();
    let (mut snapshots, mut deltas, mut quotes, mut partial) = (0, 0, 0, 0);
    for line in capture() {
        let v: Value = serde_json::from_str(&line).unwrap();
        if !v["topic"].as_str().unwrap_or("").starts_with("tickers.") {
            continue;
        }
        let (c, ev) = parse(&mut p, &symbols, &line);
        let Ok(Control::Data { update, emitted }) = c else {
            panic!("{c:?}: {line}")
        };
        match update {
            UpdateKind::Snapshot => snapshots += 1,
            UpdateKind::Delta => deltas += 1,
            UpdateKind::Event => panic!("tickers are snapshot or delta"),
        }
        assert_eq!(emitted as usize, ev.len());
        let d = &v["data"];
        if v["type"] == "delta"
            && TickerModel::KEYS
                .iter()
                .filter(|k| d[**k].is_string())
                .count()
                < 4
        {
            partial += 1;
        }
        match (model.apply(&v), ev.as_slice()) {
            (None, []) => {}
            (Some(w), [MarketEvent::Quote(q)]) => {
                assert_eq!(symbols.name(q.symbol), d["symbol"].as_str().unwrap());
                assert_eq!(
                    [q.bid, q.bid_qty, q.ask, q.ask_qty, q.exch_ts_ms as f64],
                    w,
                    "{line}"
                );
                quotes += 1;
            }
            (w, got) => panic!("expected {w:?}, got {got:?}: {line}"),
        }
    }
    // data/SOURCES.md and a serde_json count: 2 snapshots, 399 deltas.
    assert_eq!((snapshots, deltas), (2, 399));
    assert!(
        partial > 50,
        "deltas carrying only some of bid/ask: {partial}"
    );
    assert!(quotes > 300, "quotes {quotes}");
}

#[test]
fn orderbook_1_snapshots_give_the_recorded_top_of_book() {
    let text = fixture("bybit_v5_linear_orderbook1_2025-06-13.jsonl");
    let symbols = SymbolTable::new(&["BANDUSDT", "RADUSDT", "SNTUSDT", "AIOZUSDT"]).unwrap();
    let mut p = BybitParser::new();
    let (mut snapshots, mut acks) = (0, 0);
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let (c, ev) = parse(&mut p, &symbols, line);
        if v["op"] == "subscribe" {
            assert_eq!(c, Ok(Control::Ack { id: None }));
            acks += 1;
            continue;
        }
        assert_eq!(
            c,
            Ok(Control::Data {
                emitted: 1,
                update: UpdateKind::Snapshot
            })
        );
        let d = &v["data"];
        let [MarketEvent::Quote(q)] = ev[..] else {
            panic!("{ev:?}")
        };
        assert_eq!(symbols.name(q.symbol), d["s"].as_str().unwrap());
        assert_eq!(
            (q.bid, q.bid_qty, q.ask, q.ask_qty, q.exch_ts_ms),
            (
                num(&d["b"][0][0]),
                num(&d["b"][0][1]),
                num(&d["a"][0][0]),
                num(&d["a"][0][1]),
                v["ts"].as_u64().unwrap()
            )
        );
        snapshots += 1;
    }
    assert_eq!((snapshots, acks), (198, 4));
}

#[test]
fn orderbook_1_delta_after_a_real_snapshot() {
    // The recording holds only snapshots; deltas below are the first real snapshot with
    // `type` switched to `delta` and levels changed as Bybit's docs describe (size "0" deletes).
    let symbols = SymbolTable::new(&["BANDUSDT"]).unwrap();
    let snap = fixture("bybit_v5_linear_orderbook1_2025-06-13.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut p = BybitParser::new();
    let (_, ev) = parse(&mut p, &symbols, &snap);
    assert_eq!(ev.len(), 1);
    let delta = snap
        .replace(r#""type":"snapshot""#, r#""type":"delta""#)
        .replace(
            r#""b":[["0.6131","17.9"]]"#,
            r#""b":[["0.6132","5"],["0.6131","0"]]"#,
        )
        .replace(r#""a":[["0.6134","35.4"]]"#, r#""a":[]"#);
    let (c, ev) = parse(&mut p, &symbols, &delta);
    assert_eq!(
        c,
        Ok(Control::Data {
            emitted: 1,
            update: UpdateKind::Delta
        })
    );
    assert_eq!(
        ev,
        [MarketEvent::Quote(Quote {
            symbol: symbols.lookup("BANDUSDT").unwrap(),
            bid: 0.6132,
            bid_qty: 5.0,
            ask: 0.6134,
            ask_qty: 35.4,
            exch_ts_ms: 1749833474773,
            recv_ns: 0
        })]
    );
    // A size-0 level at a price that is not the top changes nothing but still re-emits.
    let noop = delta.replace(
        r#""b":[["0.6132","5"],["0.6131","0"]]"#,
        r#""b":[["0.6100","0"]]"#,
    );
    let (_, ev2) = parse(&mut p, &symbols, &noop);
    assert_eq!(ev2, ev);
}

#[test]
fn docs_samples_of_trade_ticker_and_deep_book() {
    let symbols = btc_eth();
    let mut p = BybitParser::new();
    let text = fixture("ws_public_trade_linear.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    let (_, ev) = parse(&mut p, &symbols, &text);
    let [MarketEvent::Trade(t)] = ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(t.price, num(&v["data"][0]["p"]));
    assert_eq!(t.qty, num(&v["data"][0]["v"]));
    assert_eq!(t.side, Side::Buy);

    let text = fixture("ws_tickers_linear_perpetual_snapshot.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    let (_, ev) = parse(&mut p, &symbols, &text);
    let [MarketEvent::Quote(q)] = ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(q.bid, num(&v["data"]["bid1Price"]));
    assert_eq!(q.ask_qty, num(&v["data"]["ask1Size"]));
    assert_eq!(q.exch_ts_ms, v["ts"].as_u64().unwrap());

    // orderbook.50 is a deeper book than this parser maintains: recognised, not turned into quotes.
    for name in [
        "ws_orderbook50_linear_snapshot.json",
        "ws_orderbook50_linear_delta.json",
    ] {
        let (c, ev) = parse(&mut p, &symbols, &fixture(name));
        assert_eq!((c, ev.len()), (Ok(Control::Other), 0), "{name}");
    }
}

#[test]
fn acks_pongs_and_error_frames_from_real_messages() {
    let symbols = btc_eth();
    let mut p = BybitParser::new();
    let c = |p: &mut BybitParser, name: &str| parse(p, &symbols, &fixture(name)).0.unwrap();
    assert_eq!(
        c(&mut p, "ws_op_subscribe_ack_linear.json"),
        Control::Ack { id: None }
    );
    assert_eq!(
        c(&mut p, "ws_op_auth_success.json"),
        Control::Ack { id: None }
    );
    assert_eq!(c(&mut p, "ws_op_pong_linear.json"), Control::Pong);
    assert_eq!(c(&mut p, "ws_op_pong_private.json"), Control::Pong);
    let text = fixture("ws_op_error_decode_failure.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    let Control::Error { code, msg } = c(&mut p, "ws_op_error_decode_failure.json") else {
        panic!()
    };
    assert_eq!(code, 0);
    // Escaped quotes are unescaped; the long message is kept up to its first 96 bytes.
    let want = v["ret_msg"].as_str().unwrap();
    assert!(want.len() > 96);
    assert_eq!(msg.as_str(), &want[..96]);
    for (name, code) in [
        ("rest_error_10001.json", 10001),
        ("rest_error_110007.json", 110007),
        ("rest_error_170371.json", 170371),
    ] {
        let v: Value = serde_json::from_str(&fixture(name)).unwrap();
        let Control::Error { code: got, msg } = c(&mut p, name) else {
            panic!("{name}")
        };
        assert_eq!(got, code);
        let want = v["retMsg"].as_str().unwrap();
        assert_eq!(msg.as_str(), &want[..want.len().min(96)]);
    }
    // Our own subscribe request is not a venue message: it has no topic, op reply or retCode.
    let (c, _) = parse(&mut p, &symbols, &fixture("ws_op_subscribe_request.json"));
    assert_eq!(c, Ok(Control::Other));
}

#[test]
fn whole_capture_counts_per_topic_equal_a_serde_json_count() {
    let symbols = btc_eth();
    let mut p = BybitParser::new();
    let mut ours: HashMap<String, usize> = HashMap::new();
    let mut theirs: HashMap<String, usize> = HashMap::new();
    let (mut our_trades, mut their_trades) = (0usize, 0usize);
    for line in capture() {
        let v: Value = serde_json::from_str(&line).unwrap();
        let key = match v["topic"].as_str() {
            Some(t) => format!(
                "{}:{}",
                t.rsplit_once('.').unwrap().0,
                v["type"].as_str().unwrap()
            ),
            None => format!("op:{}", v["op"].as_str().unwrap()),
        };
        *theirs.entry(key).or_default() += 1;
        if key_is_trade(&v) {
            their_trades += v["data"].as_array().unwrap().len();
        }
        let (c, ev) = parse(&mut p, &symbols, &line);
        our_trades += ev
            .iter()
            .filter(|e| matches!(e, MarketEvent::Trade(_)))
            .count();
        let ours_key = match c.unwrap_or_else(|e| panic!("{e}: {line}")) {
            Control::Data { update, .. } => {
                let t = v["topic"].as_str().unwrap();
                let fam = t.rsplit_once('.').unwrap().0;
                format!(
                    "{fam}:{}",
                    if update == UpdateKind::Snapshot {
                        "snapshot"
                    } else {
                        "delta"
                    }
                )
            }
            Control::Other => {
                let t = v["topic"].as_str().unwrap();
                format!(
                    "{}:{}",
                    t.rsplit_once('.').unwrap().0,
                    v["type"].as_str().unwrap()
                )
            }
            Control::Ack { .. } => "op:subscribe".to_string(),
            c => panic!("{c:?}"),
        };
        *ours.entry(ours_key).or_default() += 1;
    }
    assert_eq!(ours, theirs);
    assert_eq!(our_trades, their_trades);
    assert_eq!(theirs["op:subscribe"], 17);
    assert_eq!(theirs["orderbook.200:delta"], 833);
}

fn key_is_trade(v: &Value) -> bool {
    v["topic"]
        .as_str()
        .is_some_and(|t| t.starts_with("publicTrade."))
}
