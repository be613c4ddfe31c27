//! Binance USD-M WebSocket API with an Ed25519 API key against the embedded exchange: the order
//! WebSocket sends `session.logon` (base64 Ed25519 signature over `apiKey=…&timestamp=…`) on
//! connect and on every reconnect, then orders without `apiKey` / `signature`; they fill and
//! the venue's position equals the booked one. A key the account does not hold is refused with
//! Binance's `-1022` as a clear error, no order goes over that socket and REST carries them.
//! The exchange refuses unsigned requests on a session that did not log on, and reads a frame
//! larger than its 4 KiB read buffer whole. After warm-up the
//! post-logon order path allocates nothing (counting allocator, this thread). A whole run with
//! `exec.order_ws.ed25519_key_file` (a 0600 PEM file) sends every order over the logged-on
//! WebSocket.

use std::net::TcpStream;

use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::WsPhase;
use calculus_trader::venue::ed25519::Ed25519Signer;
use ring::signature::Ed25519KeyPair;
use rust_decimal::Decimal;
use tungstenite::{Message, WebSocket};

mod common;
use common::exchange::{listed, start_with, Exchange, Options};
use common::files::temp_dir;
use common::rig::V;
use common::values::{d, now_ms, BTC_TRADE};
use common::ws_rig::{ws_rig, WsAuth, WsRig as Rig};

common::alloc::install!();

/// A fresh Ed25519 key (PKCS#8 v2 from ring's generator, loaded as the trader loads a file).
fn fresh_key() -> Ed25519Signer {
    let doc = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Ed25519Signer::from_pkcs8(doc.as_ref()).unwrap()
}

/// The shared WebSocket rig (`tests/common/ws_rig.rs`) on Binance: entries and exits over the
/// order WebSocket, logging on with `client` against an exchange that registered the Ed25519
/// public key `registered`.
fn rig(registered: [u8; 32], client: Ed25519Signer, name: &str) -> Rig {
    let auth = WsAuth::Ed25519 {
        registered,
        key: client,
    };
    ws_rig(
        V::Binance,
        RestOptions::default(),
        auth,
        &format!("ws-logon-{name}"),
    )
}

#[test]
fn orders_after_an_ed25519_logon_fill_and_match_the_venue() {
    let key = fresh_key();
    let mut r = rig(key.public_key(), key, "fill");
    assert_eq!(r.ws().phase(), WsPhase::Up, "{:?}", r.ws().last_error());
    assert_eq!(r.round(2, false), (2, 2));
    assert_eq!(r.round(1, false), (1, 1));
    assert_eq!(r.venue_position(), d("0.016"));
    assert_eq!(
        r.venue_position(),
        r.booked,
        "the venue's position is the booked one"
    );
    let s = r.ws().stats();
    assert_eq!(
        (s.ups, s.sent, s.replies, s.failed, s.auth_failures),
        (1, 3, 3, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        r.ex.server.trade_ws_counts(),
        (1, 3),
        "one session, three orders on it"
    );
}

#[test]
fn a_key_the_account_does_not_hold_is_refused_and_rest_carries_the_orders() {
    let (registered, other) = (fresh_key(), fresh_key());
    assert_ne!(registered.public_key(), other.public_key());
    let mut r = rig(registered.public_key(), other, "wrong");
    let ws = r.ws();
    assert_eq!(ws.phase(), WsPhase::Down);
    assert_eq!(ws.stats().auth_failures, 1);
    let err = ws.last_error().unwrap();
    assert!(
        err.contains("session.logon refused")
            && err.contains("-1022")
            && err.contains("ed25519_key_file")
            && err.contains("REST"),
        "{err}"
    );
    assert_eq!(r.round(2, false), (2, 2), "REST carried both orders");
    assert_eq!(r.venue_position(), Decimal::ZERO);
    assert_eq!(r.venue_position(), r.booked);
    assert_eq!(
        r.ws().stats().sent,
        0,
        "nothing went over the refused socket"
    );
    assert_eq!(
        r.ex.server.trade_ws_counts().1,
        0,
        "the exchange saw no order on a WebSocket"
    );
}

#[test]
fn every_reconnect_logs_on_again() {
    let key = fresh_key();
    let mut r = rig(key.public_key(), key, "reconnect");
    assert_eq!(r.round(2, false), (2, 2));
    r.ex.server.drop_trade_sockets();
    r.wait_phase(false);
    r.wait_phase(true);
    assert_eq!(r.ws().phase(), WsPhase::Up, "{:?}", r.ws().last_error());
    assert_eq!(r.round(2, false), (2, 2));
    let s = r.ws().stats();
    assert_eq!((s.ups, s.auth_failures), (2, 0), "{s:?}");
    assert_eq!(
        r.ex.server.trade_ws_counts(),
        (2, 4),
        "the second session logged on and carried the orders unsigned"
    );
    assert_eq!(r.venue_position(), Decimal::ZERO);
    assert_eq!(r.venue_position(), r.booked);
}

#[test]
fn the_post_logon_order_path_allocates_nothing_after_warm_up() {
    let key = fresh_key();
    let mut r = rig(key.public_key(), key, "alloc");
    r.assert_order_path_allocates_nothing(false);
}

/// A raw client on `/ws-fapi/v1` of `ex`.
fn raw_client(ex: &Exchange) -> WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>> {
    let url = format!("ws://{}/ws-fapi/v1", ex.server.addr());
    tungstenite::connect(url).unwrap().0
}

/// Sends `req` and returns the reply with its `id` (skipping pings).
fn ask(
    ws: &mut WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    req: serde_json::Value,
) -> serde_json::Value {
    ws.send(Message::text(req.to_string())).unwrap();
    loop {
        if let Message::Text(t) = ws.read().unwrap() {
            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == req["id"] {
                return v;
            }
        }
    }
}

/// The exchange's side, driven by hand: a logon with a bad signature is `-1022`; an order
/// without `apiKey` / `signature` on a session that did not log on is refused and places
/// nothing; after a good logon the same unsigned order fills.
#[test]
fn the_exchange_verifies_the_logon_and_refuses_unsigned_orders_before_it() {
    let key = fresh_key();
    let ex = start_with(
        listed(&["BTCUSDT"]),
        "0.0004",
        "1",
        Options {
            rest: RestOptions {
                ed25519_public_key: Some(key.public_key()),
                ..RestOptions::default()
            },
            ..Options::default()
        },
    );
    ex.market.on_frame(BTC_TRADE);
    let api_key = ex.server.credentials().api_key.clone();
    let order = |id: &str| {
        serde_json::json!({"id": id, "method": "order.place", "params": {
            "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.016",
            "newClientOrderId": format!("logon-{id}"), "timestamp": now_ms()}})
    };
    let logon = |signer: &Ed25519Signer, id: &str| {
        let ts = now_ms();
        let mut sig = [0u8; 88];
        signer.sign_base64(
            format!("apiKey={api_key}&timestamp={ts}").as_bytes(),
            &mut sig,
        );
        serde_json::json!({"id": id, "method": "session.logon", "params": {
            "apiKey": api_key, "timestamp": ts,
            "signature": std::str::from_utf8(&sig).unwrap()}})
    };
    let mut ws = raw_client(&ex);
    let v = ask(&mut ws, order("u1"));
    assert_ne!(v["status"], 200, "{v}");
    assert_eq!(
        v["error"]["code"], -2014,
        "no apiKey on a session not logged on: {v}"
    );
    let v = ask(&mut ws, logon(&fresh_key(), "l1"));
    assert_eq!(
        (v["status"].as_i64(), v["error"]["code"].as_i64()),
        (Some(400), Some(-1022)),
        "{v}"
    );
    let v = ask(&mut ws, order("u2"));
    assert_eq!(
        v["error"]["code"], -2014,
        "a refused logon logs nothing on: {v}"
    );
    assert_eq!(
        ex.server.venue().with(|m| m.position("BTCUSDT").qty),
        Decimal::ZERO
    );
    let v = ask(&mut ws, logon(&key, "l2"));
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["result"]["apiKey"], api_key.as_str());
    let v = ask(&mut ws, order("u3"));
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["result"]["status"], "FILLED", "{v}");
    assert_eq!(
        ex.server.venue().with(|m| m.position("BTCUSDT").qty),
        d("0.016")
    );
    // Another session has its own state: not logged on.
    let mut other = raw_client(&ex);
    let v = ask(&mut other, order("u4"));
    assert_eq!(v["error"]["code"], -2014, "{v}");
}

/// The session reads with a small buffer (4 KiB, not tungstenite's zero-filled 128 KiB): a
/// frame five times larger is still read whole and answered with its `id`, and the session
/// goes on serving the next frame.
#[test]
fn a_frame_larger_than_the_read_buffer_is_read_whole() {
    let ex = start_with(listed(&["BTCUSDT"]), "0.0004", "1", Options::default());
    let mut ws = raw_client(&ex);
    let id = "x".repeat(20_000);
    let v = ask(
        &mut ws,
        serde_json::json!({"id": id, "method": "no.such.method"}),
    );
    assert_eq!(v["id"].as_str().map(str::len), Some(20_000));
    assert_eq!(
        (v["status"].as_i64(), v["error"]["code"].as_i64()),
        (Some(400), Some(-1100)),
        "an unknown method: {}",
        &v["error"]
    );
    let v = ask(
        &mut ws,
        serde_json::json!({"id": "small", "method": "order.place", "params": {
            "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.016",
            "timestamp": now_ms()}}),
    );
    assert_eq!(v["error"]["code"], -2014, "unsigned, not logged on: {v}");
}

/// The product run (`config/default.toml`, embedded exchange, `order_transport = "websocket"`)
/// with an Ed25519 key file: the embedded exchange registers its public key, the order
/// WebSocket logs on, and every order goes over it and fills.
#[test]
fn a_run_with_an_ed25519_key_file_sends_every_order_over_the_logged_on_websocket() {
    use base64::Engine as _;
    use calculus_trader::config::{Config, DEFAULT_TOML};
    use calculus_trader::exec::order_ws_config::OrderTransport;
    use calculus_trader::runtime::{self, RunOptions, Shutdown};
    use calculus_trader::telemetry::Counter;
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("ws-logon-run");
    let doc = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(doc.as_ref());
    let key_file = dir.join("ed25519.pem");
    std::fs::write(
        &key_file,
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = DEFAULT_TOML
        .replace("topology = \"auto\"", "topology = \"fused\"")
        .replace("speed = 10.0", "speed = 0.0")
        .replace("hot = \"spin\"", "hot = \"spin_yield\"")
        .replace("recv_window_ms = 5000", "recv_window_ms = 60000");
    let mut cfg = Config::parse(&text).unwrap();
    cfg.run.dump_dir = dir.join("dumps");
    cfg.exec.order_transport = OrderTransport::Websocket;
    cfg.exec.order_ws.ed25519_key_file = key_file;
    let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
    let c = runtime::counters(&r);
    assert!(c.get(Counter::Orders) > 0);
    assert_eq!(c.get(Counter::Fills), c.get(Counter::Orders));
    assert_eq!(c.get(Counter::WsDrops), 0);
    assert_eq!(
        c.get(Counter::WsOrders),
        c.get(Counter::Orders),
        "every order went over the logged-on WebSocket"
    );
    std::fs::remove_dir_all(&dir).ok();
}
