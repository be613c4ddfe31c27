//! The order transport over loopback: keep-alive reuse and reconnects after the server closes
//! a connection, no resend of a request whose reply was lost, non-blocking send, TLS (rustls
//! against a self-signed loopback server), the refusal of plain http to non-loopback hosts, and
//! `write_now` (an order's bytes leave at the hand-over on an open connection).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::transport::{tls_config_with_roots, OrderEndpoint};
use calculus_trader::exec::{HttpTransport, TransportError, TransportEvent};
use calculus_trader::telemetry::Clock;
use rust_decimal::Decimal;

mod common;
use common::exchange::{start_with, Options};

const TIME: &[u8] = b"GET /fapi/v1/time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const WAIT: Duration = Duration::from_secs(20);

fn transport(url: &str) -> HttpTransport {
    HttpTransport::new(url, 8, Duration::from_secs(20), Clock::new()).unwrap()
}

/// Reads one request head (no body) from a blocking stream; false on EOF.
fn read_head(r: &mut BufReader<TcpStream>) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line == "\r\n" => return true,
            Ok(_) => {}
        }
    }
}

fn respond(s: &mut TcpStream, body: &str) {
    let msg = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(msg.as_bytes()).unwrap();
}

#[test]
fn reconnects_when_the_server_announces_connection_close() {
    // Nothing listed, no balance: only `/fapi/v1/time` is asked.
    let server = start_with(
        vec![],
        "0",
        "0",
        Options {
            balance: Decimal::ZERO,
            rest: RestOptions {
                max_requests_per_connection: 2,
                ..RestOptions::default()
            },
            ..Options::default()
        },
    )
    .server;
    let mut t = transport(&server.url());
    for _ in 0..5 {
        let (status, body) = t.request_blocking(TIME, WAIT).unwrap();
        assert_eq!(status, 200);
        assert!(String::from_utf8(body).unwrap().contains("serverTime"));
    }
    // Two requests per connection: 5 requests need 3 connections, and none failed.
    assert_eq!(t.stats().connects, 3);
    assert_eq!(t.stats().responses, 5);
    assert_eq!(t.stats().failures, 0);
    assert_eq!(
        server
            .stats()
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[test]
fn reconnects_after_the_server_silently_closes_an_idle_keep_alive_connection() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        // Connection 1: one response (keep-alive advertised), then a silent close.
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        assert!(read_head(&mut r));
        let mut w = s;
        respond(&mut w, "{\"n\":1}");
        drop(r);
        drop(w);
        closed_tx.send(()).unwrap();
        // Connection 2: the client came back.
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        assert!(read_head(&mut r));
        let mut w = s;
        respond(&mut w, "{\"n\":2}");
    });
    let mut t = transport(&url);
    assert_eq!(t.request_blocking(TIME, WAIT).unwrap().1, b"{\"n\":1}");
    closed_rx.recv_timeout(WAIT).unwrap();
    // Wait (bounded) until the server's FIN has reached the client socket.
    let deadline = std::time::Instant::now() + WAIT;
    while t.connection_open() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (status, body) = t.request_blocking(TIME, WAIT).unwrap();
    assert_eq!((status, body.as_slice()), (200, b"{\"n\":2}".as_slice()));
    assert_eq!(t.stats().connects, 2);
    assert_eq!(t.stats().peer_closes, 1);
    assert_eq!(t.stats().failures, 0);
    server.join().unwrap();
}

#[test]
fn a_request_whose_reply_is_lost_is_reported_written_and_not_resent() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (got_tx, got_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        assert!(read_head(&mut r));
        got_tx.send(()).unwrap();
        drop(r);
        drop(s); // request received, connection dropped without a reply
                 // Anything else arriving would be a resend: count accepted connections for a while.
        l.set_nonblocking(true).unwrap();
        let mut extra = 0;
        for _ in 0..50 {
            if let Ok((mut s, _)) = l.accept() {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let mut b = [0u8; 64];
                if matches!(s.read(&mut b), Ok(n) if n > 0) {
                    extra += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        extra
    });
    let mut t = transport(&url);
    t.send(42, TIME).unwrap();
    let mut failed = None;
    let deadline = std::time::Instant::now() + WAIT;
    while failed.is_none() && std::time::Instant::now() < deadline {
        t.poll(Some(Duration::from_millis(10)), |ev| match ev {
            TransportEvent::Failed { tag, written } => failed = Some((tag, written)),
            TransportEvent::Response { .. } => panic!("no reply was sent"),
        });
    }
    got_rx.recv_timeout(WAIT).unwrap();
    assert_eq!(failed, Some((42, true)), "written, outcome unknown");
    assert_eq!(t.in_flight(), 0);
    assert_eq!(server.join().unwrap(), 0, "the transport never resends");
}

#[test]
fn send_returns_at_once_and_the_reply_arrives_through_poll() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        assert!(read_head(&mut r));
        go_rx.recv().unwrap(); // reply only when the test says so
        let mut w = s;
        // Two writes: the parser must handle a head and body arriving separately.
        w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\"")
            .unwrap();
        w.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        w.write_all(b":1}").unwrap();
    });
    let mut t = transport(&url);
    t.send(7, TIME).unwrap();
    assert_eq!(t.in_flight(), 1);
    // The server holds its reply: polling reports nothing and does not block.
    for _ in 0..10 {
        assert_eq!(t.poll(None, |_| panic!("no reply yet")), 0);
    }
    assert_eq!(t.in_flight(), 1);
    go_tx.send(()).unwrap();
    let mut reply = None;
    let deadline = std::time::Instant::now() + WAIT;
    while reply.is_none() && std::time::Instant::now() < deadline {
        t.poll(Some(Duration::from_millis(10)), |ev| {
            if let TransportEvent::Response {
                tag, status, body, ..
            } = ev
            {
                reply = Some((tag, status, body.to_vec()));
            }
        });
    }
    assert_eq!(reply, Some((7, 200, b"{\"a\":1}".to_vec())));
    server.join().unwrap();
}

#[test]
fn write_now_puts_the_request_on_an_open_connection_before_any_poll() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (got_tx, got_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        assert!(read_head(&mut r));
        respond(&mut w, "{\"n\":1}");
        // The second request must arrive while the client has not polled.
        assert!(read_head(&mut r));
        got_tx.send(()).unwrap();
        respond(&mut w, "{\"n\":2}");
    });
    let mut t = transport(&url);
    assert_eq!(t.request_blocking(TIME, WAIT).unwrap().1, b"{\"n\":1}");
    // The connection is open and idle: send + write_now writes at once, with no poll.
    t.send(9, TIME).unwrap();
    t.write_now();
    got_rx
        .recv_timeout(WAIT)
        .expect("the request reached the server before any poll");
    let mut reply = None;
    let deadline = std::time::Instant::now() + WAIT;
    while reply.is_none() && std::time::Instant::now() < deadline {
        t.poll(Some(Duration::from_millis(10)), |ev| {
            if let TransportEvent::Response { tag, body, .. } = ev {
                reply = Some((tag, body.to_vec()));
            }
        });
    }
    assert_eq!(reply, Some((9, b"{\"n\":2}".to_vec())));
    assert_eq!(t.stats().connects, 1);
    assert_eq!(t.stats().failures, 0);
    server.join().unwrap();
}

#[test]
fn write_now_without_a_connection_leaves_the_request_to_poll() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let mut t = transport(&url);
    t.send(3, TIME).unwrap();
    t.write_now(); // nothing connected yet: no connect from here
    assert_eq!(t.stats().connects, 0);
    assert_eq!(t.in_flight(), 1);
    drop(l);
}

#[test]
fn plain_http_to_a_non_loopback_host_is_refused_before_any_connection() {
    for url in [
        "http://192.0.2.10:80",
        "http://fapi.binance.com",
        "http://[2001:db8::1]:8080",
    ] {
        let err = HttpTransport::new(url, 1, Duration::from_secs(1), Clock::new())
            .err()
            .unwrap();
        assert!(
            matches!(err, TransportError::PlainToNonLoopback(_)),
            "{url}: {err}"
        );
        assert!(err.to_string().contains("loopback addresses only"), "{err}");
    }
    assert!(OrderEndpoint::parse("http://127.0.0.1:1").is_ok());
    assert!(OrderEndpoint::parse("https://fapi.binance.com").is_ok());
}

#[test]
fn https_over_rustls_to_a_loopback_server_with_a_self_signed_certificate() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_der = ck.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der.clone()], key_der)
            .unwrap(),
    );
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let conn = rustls::ServerConnection::new(server_cfg).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        for n in 0..2 {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                tls.read_exact(&mut b).unwrap();
                head.push(b[0]);
            }
            assert!(head.starts_with(b"GET /fapi/v1/time HTTP/1.1\r\n"));
            let body = format!("{{\"serverTime\":{n}}}");
            let msg = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            tls.write_all(msg.as_bytes()).unwrap();
            tls.flush().unwrap();
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let mut t = HttpTransport::with_tls(
        &format!("https://localhost:{port}"),
        4,
        Duration::from_secs(20),
        Clock::new(),
        Some(tls_config_with_roots(roots)),
    )
    .unwrap();
    assert_eq!(
        t.request_blocking(TIME, WAIT).unwrap(),
        (200, b"{\"serverTime\":0}".to_vec())
    );
    // Same TLS connection, kept alive.
    assert_eq!(
        t.request_blocking(TIME, WAIT).unwrap(),
        (200, b"{\"serverTime\":1}".to_vec())
    );
    assert_eq!(t.stats().connects, 1);
    server.join().unwrap();
}
