//! `order_rtt` and reply attribution of the HTTP order transport over loopback.
//!
//! 1. Many signed orders queued at once to the embedded exchange: every reply carries the
//!    `clientOrderId` of the request it is reported for (no reply booked on another order).
//! 2. The round trip is stamped before the request's `write` call: a peer that handles the request
//!    (and advances the mock clock by `D`) while the client is still inside `write` — the woken
//!    server preempting the writer on a shared core — is still inside the measured interval, so
//!    every `rtt_ns >= D`. (A stamp taken after `write` returns read ~1 µs in real runs where the
//!    embedded exchange shared the hot core.) Causal, not a timing assertion: the mock clock moves
//!    only in the server, after the whole request was read.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use calculus_trader::exec::{BinanceOrderBuilder, HttpTransport, OrderFields, TransportEvent};
use calculus_trader::telemetry::Clock;
use calculus_trader::types::Side;
use serde_json::Value;

mod common;
use common::exchange::{listed, start_with, Exchange, Options};
use common::values::{d, now_ms};

/// Polls `t` until `want` events arrived (bounded: 30 s), collecting `(tag, status, body, rtt)`.
fn collect(t: &mut HttpTransport, want: usize) -> Vec<(u64, u16, Vec<u8>, u64)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} replies within 30 s",
            got.len()
        );
        t.poll(Some(Duration::from_millis(10)), |ev| match ev {
            TransportEvent::Response {
                tag,
                status,
                body,
                rtt_ns,
                ..
            } => got.push((tag, status, body.to_vec(), rtt_ns)),
            TransportEvent::Failed { tag, written } => {
                panic!("request {tag} failed (written: {written})")
            }
        });
    }
    got
}

#[test]
fn every_reply_carries_the_client_order_id_of_its_request() {
    let Exchange { market, server } = start_with(
        listed(&["BTCUSDT", "ETHUSDT"]),
        "0.0004",
        "0",
        Options {
            balance: d("1000000"),
            ..Options::default()
        },
    );
    // Prices to fill at (the venue listens from `start` on).
    market.on_trade("BTCUSDT", d("61800.3"), now_ms());
    market.on_trade("ETHUSDT", d("2650.11"), now_ms());
    let c = server.credentials().clone();
    let mut b =
        BinanceOrderBuilder::new(&c.api_key, c.secret.as_bytes(), "127.0.0.1", 5000, "ct1-");
    const N: u64 = 64;
    let mut t = HttpTransport::new(
        &server.url(),
        N as usize,
        Duration::from_secs(10),
        Clock::new(),
    )
    .unwrap();
    // Three waves of 64 orders, all queued before the first poll, alternating symbol and side.
    for wave in 0..3u64 {
        for i in 0..N {
            let seq = 1 + wave * N + i;
            let (symbol, quantity) = if seq % 3 == 0 {
                ("ETHUSDT", d("0.05"))
            } else {
                ("BTCUSDT", d("0.002"))
            };
            let req = b.build(&OrderFields {
                symbol,
                side: if seq % 2 == 0 { Side::Buy } else { Side::Sell },
                quantity,
                reduce_only: false,
                client_seq: seq,
                timestamp_ms: now_ms(),
            });
            t.send(seq, req).unwrap();
        }
        assert_eq!(t.in_flight(), N as usize);
        let got = collect(&mut t, N as usize);
        assert_eq!(t.in_flight(), 0);
        let mut tags: Vec<u64> = got.iter().map(|g| g.0).collect();
        tags.sort_unstable();
        let want: Vec<u64> = (1 + wave * N..=(wave + 1) * N).collect();
        assert_eq!(tags, want, "each request answered exactly once");
        for (tag, status, body, _) in &got {
            let v: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(*status, 200, "order {tag}: {v}");
            assert_eq!(
                v["clientOrderId"].as_str(),
                Some(format!("ct1-{tag}").as_str()),
                "reply for request {tag} belongs to another order: {v}"
            );
            assert_eq!(v["status"], "FILLED", "order {tag}: {v}");
        }
    }
    assert_eq!(t.stats().requests, 3 * N);
    assert_eq!(t.stats().responses, 3 * N);
}

#[test]
fn rtt_includes_a_reply_made_while_the_request_is_being_written() {
    // The server advances the mock clock by D after reading each full request, then replies.
    const D: u64 = 1_000_000;
    const N: u64 = 500;
    let (clock, mock) = Clock::mock();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Client and server on one core: the server, woken by the client's write, tends to run (and
    // advance the clock) before that write returns — the case a post-write stamp gets wrong.
    let core = core_affinity::get_core_ids().and_then(|ids| ids.first().copied());
    if let Some(c) = core {
        core_affinity::set_for_current(c);
    }
    let server = std::thread::spawn(move || {
        if let Some(c) = core {
            core_affinity::set_for_current(c);
        }
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut served = 0;
        while served < N {
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "client closed after {served} requests");
                buf.extend_from_slice(&chunk[..n]);
                continue;
            };
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            buf.drain(..end + 4);
            let id = head.split(' ').nth(1).unwrap().trim_start_matches('/');
            mock.increment(D);
            let body = format!("{{\"clientOrderId\":\"ct1-{id}\"}}");
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(resp.as_bytes()).unwrap();
            served += 1;
        }
    });
    let mut t = HttpTransport::new(&url, 8, Duration::from_secs(3600), clock).unwrap();
    for seq in 1..=N {
        let req = format!("GET /{seq} HTTP/1.1\r\nHost: x\r\n\r\n");
        t.send(seq, req.as_bytes()).unwrap();
        let got = collect(&mut t, 1);
        let (tag, status, body, rtt) = &got[0];
        assert_eq!((*tag, *status), (seq, 200));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["clientOrderId"], format!("ct1-{seq}"));
        assert!(
            *rtt >= D,
            "request {seq}: rtt {rtt} ns misses the server's {D} ns (stamped after the reply was made)"
        );
    }
    server.join().unwrap();
}
