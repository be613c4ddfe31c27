//! The embedded exchange speaks each venue's real protocol (checked against the real messages
//! in `tests/fixtures/`), its REST fallback endpoints answer in the venues' shapes, and the
//! feed runs unchanged over TLS (`wss://`) against a loopback rustls server with a self-signed
//! certificate. Loopback only; bounded waits.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::exchange::server::END_OF_REPLAY;
use calculus_trader::exchange::{EmbeddedExchange, Recording};
use calculus_trader::feed::protocol::{bybit_trade_id, Venue};
use calculus_trader::feed::rest::parse_recent_trades;
use calculus_trader::feed::settings::FeedConfig;
use calculus_trader::feed::stage::{FeedPlan, FeedStage};
use calculus_trader::feed::tls::{client_config, parse_pem_certs, webpki_roots};
use calculus_trader::feed::ws::WsStatus;
use calculus_trader::feed::SymbolTable;
use calculus_trader::telemetry::{Clock, Counter, StageHistograms};
use calculus_trader::types::{SymbolId, Tick};
use tungstenite::Message;

mod common;
use common::feed::{plan, poll_to_end, start_feed};
use common::files::{fixture_path, replay_file, BYBIT_CAPTURE};

const LIMIT: Duration = Duration::from_secs(60);

fn bybit_capture() -> Recording {
    Recording::load(&[replay_file(BYBIT_CAPTURE)]).unwrap()
}

fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture_path("bybit").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// A blocking WebSocket client with a read timeout (bounded waits).
fn ws_connect(ex: &EmbeddedExchange, url: impl AsRef<str>) -> tungstenite::WebSocket<TcpStream> {
    let tcp = TcpStream::connect(ex.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tungstenite::client(url.as_ref(), tcp).unwrap().0
}

fn read_text(ws: &mut tungstenite::WebSocket<TcpStream>) -> serde_json::Value {
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            _ => continue,
        }
    }
}

#[test]
fn bybit_flavour_acks_pongs_and_replays_like_the_real_venue() {
    let rec = bybit_capture();
    let first_trade = rec
        .frames
        .iter()
        .find(|f| rec.streams[f.stream as usize] == "publicTrade.BTCUSDT")
        .unwrap()
        .text
        .clone();
    let ex = EmbeddedExchange::start_venue(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(rec),
        Venue::Bybit,
        0.0,
    )
    .unwrap();
    assert!(ex.url().ends_with("/v5/public/linear"));
    let mut ws = ws_connect(&ex, ex.url());
    // Heartbeat first (the replay at speed 0 ends right after its frames).
    ws.send(Message::text(r#"{"op":"ping"}"#)).unwrap();
    let pong = read_text(&mut ws);
    let real_pong = fixture("ws_op_pong_linear.json");
    assert_eq!(keys(&pong), keys(&real_pong));
    assert_eq!(pong["op"], "ping");
    assert_eq!(pong["ret_msg"], "pong");
    assert_eq!(pong["success"], true);
    // The real request shape (fixtures/bybit/ws_op_subscribe_request.json), our req_id.
    ws.send(Message::text(
        r#"{"req_id":"7","op":"subscribe","args":["publicTrade.BTCUSDT"]}"#,
    ))
    .unwrap();
    let ack = read_text(&mut ws);
    let real_ack = fixture("ws_op_subscribe_ack_linear.json");
    assert_eq!(keys(&ack), keys(&real_ack));
    assert_eq!(ack["success"], true);
    assert_eq!(ack["op"], "subscribe");
    assert_eq!(ack["req_id"], "7");
    assert_eq!(ack["ret_msg"], "");
    assert_eq!(pong["conn_id"], ack["conn_id"]);
    // The first replayed frame is the capture's first BTCUSDT trade frame, byte for byte.
    match ws.read().unwrap() {
        Message::Text(t) => assert_eq!(t.as_str(), first_trade),
        m => panic!("expected a text frame, got {m:?}"),
    }
    assert_eq!(ex.stats().pings.load(Ordering::Relaxed), 1);
}

#[test]
fn feed_runs_the_bybit_protocol_with_heartbeats_until_the_replay_ends() {
    let rec = bybit_capture();
    // Frames of the topics the feed subscribes by default (publicTrade, tickers, orderbook.1).
    let subscribed: usize = rec
        .frames
        .iter()
        .filter(|f| {
            let s = &rec.streams[f.stream as usize];
            s.starts_with("publicTrade.") || s.starts_with("tickers.")
        })
        .count();
    let ex = EmbeddedExchange::start_venue(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(rec),
        Venue::Bybit,
        4.0,
    )
    .unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let mut feed = start_feed(
        &ex,
        Venue::Bybit,
        &symbols,
        FeedConfig {
            heartbeat_ms: 100,
            dead_after_ms: 5_000,
            ..FeedConfig::default()
        },
        &Clock::new(),
    );
    poll_to_end(&mut feed, &mut StageHistograms::new(), LIMIT, |_, _| {});
    let c = feed.counters();
    let s = ex.stats();
    let pings = s.pings.load(Ordering::Relaxed);
    assert_eq!(
        s.subscribes.load(Ordering::Relaxed),
        1,
        "6 topics, one request"
    );
    assert!(c.get(Counter::FeedHeartbeats) >= 1 && pings >= 1);
    assert!(pings <= c.get(Counter::FeedHeartbeats));
    // Every data frame, the ack and each pong reached the client as a frame (parsing Bybit
    // is the Bybit parser's job; here the transport is checked).
    let frames = c.get(Counter::Frames);
    let base = subscribed as u64 + 1;
    assert!(
        frames >= base + pings.saturating_sub(1) && frames <= base + pings,
        "frames {frames}, data+ack {base}, pongs {pings}"
    );
}

#[test]
fn rest_endpoints_answer_in_the_venue_shapes_with_the_trades_sent() {
    // Bybit: after the replay has sent everything, recent-trade returns the newest trades.
    let rec = bybit_capture();
    let mut expected: Vec<(u64, u64)> = Vec::new();
    for f in &rec.frames {
        if rec.streams[f.stream as usize] != "publicTrade.ETHUSDT" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
        for t in v["data"].as_array().unwrap() {
            expected.push((
                t["T"].as_u64().unwrap(),
                bybit_trade_id(t["i"].as_str().unwrap()),
            ));
        }
    }
    let ex = EmbeddedExchange::start_venue(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(rec),
        Venue::Bybit,
        0.0,
    )
    .unwrap();
    let mut ws = ws_connect(&ex, ex.url());
    ws.send(Message::text(
        r#"{"op":"subscribe","args":["publicTrade.ETHUSDT"]}"#,
    ))
    .unwrap();
    // Read until the end-of-replay close.
    let t0 = Instant::now();
    loop {
        match ws.read() {
            Ok(Message::Close(c)) => {
                assert_eq!(u16::from(c.unwrap().code), END_OF_REPLAY);
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(t0.elapsed() < LIMIT);
    }
    let body = http_get(
        &ex,
        "/v5/market/recent-trade?category=linear&symbol=ETHUSDT&limit=5",
    );
    let ticks = parse_recent_trades(Venue::Bybit, &body, SymbolId(0), "publicTrade").unwrap();
    let got: Vec<(u64, u64)> = ticks.iter().map(|t| (t.exch_ts_ms, t.trade_id)).collect();
    assert_eq!(got, expected[expected.len() - 5..].to_vec());
    let bad = http_get(&ex, "/v5/market/recent-trade?symbol=ETHUSDT");
    assert!(bad.contains("\"retCode\":10001"), "{bad}");

    // Binance: /fapi/v1/trades with the real trades the session sent, ids = @trade `t`.
    let mut rec =
        Recording::load(&[replay_file("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz")]).unwrap();
    rec.frames.truncate(400);
    let sent: Vec<u64> = rec
        .frames
        .iter()
        .filter(|f| rec.streams[f.stream as usize] == "ethusdt@trade")
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
            v["data"]["t"].as_u64().unwrap()
        })
        .collect();
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 0.0).unwrap();
    let before = http_get(&ex, "/fapi/v1/trades?symbol=ETHUSDT&limit=10");
    assert_eq!(before, "[]", "nothing sent yet, nothing reached");
    let url = format!("{}?streams=ethusdt@trade", ex.url());
    let mut ws = ws_connect(&ex, url);
    while !matches!(ws.read().unwrap(), Message::Close(_)) {}
    let body = http_get(&ex, "/fapi/v1/trades?symbol=ETHUSDT&limit=10");
    let ticks = parse_recent_trades(Venue::Binance, &body, SymbolId(0), "trade").unwrap();
    let ids: Vec<u64> = ticks.iter().map(|t: &Tick| t.trade_id).collect();
    assert_eq!(ids, sent[sent.len() - 10..].to_vec());
    assert!(ex.stats().rest_requests.load(Ordering::Relaxed) >= 2);
}

fn http_get(ex: &EmbeddedExchange, path: &str) -> String {
    let mut s = TcpStream::connect(ex.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        ex.addr()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// A one-shot `wss://` server on loopback: rustls with a self-signed certificate for
/// `localhost`, tungstenite on top; acks the SUBSCRIBE, sends `frames`, closes with
/// end-of-replay.
fn tls_server(frames: Vec<String>) -> (u16, String, std::thread::JoinHandle<()>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = ck.cert.pem();
    let cert_der = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let t0 = Instant::now();
        // Serve connections until one completes the session (a client trying ::1 first, or
        // a failed TLS attempt, may come before).
        while t0.elapsed() < LIMIT {
            let Ok((tcp, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            tcp.set_nonblocking(false).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
            let tls = rustls::StreamOwned::new(conn, tcp);
            let Ok(mut ws) = tungstenite::accept(tls) else {
                continue;
            };
            let Ok(Message::Text(sub)) = ws.read() else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(sub.as_str()).unwrap();
            ws.send(Message::text(format!(
                "{{\"result\":null,\"id\":{}}}",
                v["id"]
            )))
            .unwrap();
            for f in &frames {
                ws.write(Message::text(f.as_str())).unwrap();
            }
            ws.flush().unwrap();
            ws.close(Some(tungstenite::protocol::CloseFrame {
                code: END_OF_REPLAY.into(),
                reason: "end of replay".into(),
            }))
            .unwrap();
            while ws.read().is_ok() {}
            return;
        }
    });
    (port, cert_pem, h)
}

fn tls_feed(port: u16, roots: rustls::RootCertStore, symbols: &SymbolTable) -> FeedStage {
    let cfg = FeedConfig {
        reconnect_base_ms: 10,
        reconnect_max_ms: 50,
        rest_fallback: false,
        ..FeedConfig::default()
    };
    FeedStage::start(
        FeedPlan {
            tls: Some(client_config(roots).unwrap()),
            record_feed_delay: true,
            ..plan(
                Venue::Binance,
                format!("wss://localhost:{port}/stream"),
                format!("http://127.0.0.1:{port}"),
                cfg,
            )
        },
        symbols.clone(),
        Clock::new(),
    )
    .unwrap()
}

#[test]
fn feed_over_tls_receives_every_frame_and_records_feed_delay() {
    let mut rec =
        Recording::load(&[replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz")]).unwrap();
    let trade = rec.stream_index("btcusdt@trade").unwrap();
    rec.frames.retain(|f| f.stream == trade);
    rec.frames.truncate(300);
    let frames: Vec<String> = rec.frames.iter().map(|f| f.text.clone()).collect();
    let ids: Vec<u64> = frames
        .iter()
        .map(|f| {
            serde_json::from_str::<serde_json::Value>(f).unwrap()["data"]["t"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let (port, pem, server) = tls_server(frames);
    let mut roots = webpki_roots();
    for c in parse_pem_certs(pem.as_bytes()).unwrap() {
        roots.add(c).unwrap();
    }
    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let mut feed = tls_feed(port, roots, &symbols);
    let mut hists = StageHistograms::new();
    let mut got = Vec::new();
    let t0 = Instant::now();
    loop {
        let (_, st) = feed
            .poll(Some(Duration::from_millis(5)), &mut hists, |t, _| {
                got.push(t.trade_id)
            })
            .unwrap();
        if st == WsStatus::Closed {
            break;
        }
        assert!(t0.elapsed() < LIMIT, "{:?}", feed.counters());
    }
    server.join().unwrap();
    assert_eq!(got, ids);
    let c = feed.counters();
    assert_eq!(c.get(Counter::VenueAcks), 1);
    assert_eq!(c.get(Counter::FeedConnects), 1);
    // 2024 trade times received now: recorded, saturated at the histogram's 60 s ceiling.
    use calculus_trader::telemetry::Stage;
    assert_eq!(hists.total_count(Stage::FeedDelay), 300);
    assert_eq!(hists.total_count(Stage::Parse), 300);
}

#[test]
fn tls_with_an_untrusted_certificate_never_connects() {
    let (port, _pem, _server) = tls_server(Vec::new());
    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    // Mozilla roots only: the self-signed certificate must be refused.
    let mut feed = tls_feed(port, webpki_roots(), &symbols);
    let mut hists = StageHistograms::new();
    let t0 = Instant::now();
    while feed.counters().get(Counter::FeedConnectFailures) < 2 {
        feed.poll(Some(Duration::from_millis(5)), &mut hists, |_, _| {})
            .unwrap();
        assert!(t0.elapsed() < LIMIT);
    }
    assert_eq!(feed.counters().get(Counter::FeedConnects), 0);
}
