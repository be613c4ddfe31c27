//! Orders over the venues' order-entry WebSockets (Bybit `/v5/trade`, Binance `/ws-fapi/v1`)
//! against the embedded exchange: they fill and the venue's position equals the one booked
//! from the reports, and equals the position the same orders leave over REST; replies are
//! matched by id in any order; a refused `auth` is a clear error and REST carries the orders;
//! a socket dropped with an order in flight leaves that order unknown until the REST status
//! query resolves it (nothing lost); while the WebSocket is down orders go over REST, and go
//! back to the WebSocket when it is up again; a socket the venue drops while nothing is in
//! flight is replaced by polling the stage alone (as the hot loop does); after warm-up the WebSocket order path allocates
//! nothing (counting allocator, this thread).

use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::Arc;

use calculus_trader::exchange::fault_plan::FaultPlan;
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::{
    ExecEvent, Lane, Signer, TransportEvent, WsOrderConn, WsPhase, WsVenue,
};
use calculus_trader::feed::ws::WsTarget;
use calculus_trader::telemetry::Clock;
use calculus_trader::types::ReportStatus;
use rust_decimal::Decimal;

mod common;
use common::rig::V;
use common::values::{d, now_ms};
use common::ws_rig::{ws_rig, WsAuth, WsRig as Rig};

common::alloc::install!();

/// The shared WebSocket rig (`tests/common/ws_rig.rs`); with `ws`, entries and exits go over
/// the venue's order WebSocket signed with HMAC (`secret` overrides the key's). The Bybit
/// socket authenticates, so it comes up with the right key only; Binance signs each request.
fn rig(v: V, rest: RestOptions, ws: bool, secret: Option<&str>, name: &str) -> Rig {
    let auth = if ws {
        WsAuth::Hmac(secret.map(str::to_string))
    } else {
        WsAuth::Rest
    };
    let r = ws_rig(v, rest, auth, &format!("ws-orders-{name}"));
    if ws {
        let right_key = secret.map_or(true, |s| s == r.ex.server.credentials().secret);
        assert_eq!(
            r.ws_up,
            v == V::Binance || right_key,
            "the Bybit WebSocket comes up with the right key only"
        );
    }
    r
}

fn fills_and_positions_match(v: V) {
    let bybit = v == V::Bybit;
    let mut ws = rig(
        v,
        RestOptions::default(),
        true,
        None,
        &format!("fill-{v:?}"),
    );
    let mut rest = rig(
        v,
        RestOptions::default(),
        false,
        None,
        &format!("rest-{v:?}"),
    );
    // Entry + exit, then one more entry left open.
    assert_eq!(ws.round(2, bybit), (2, 2));
    assert_eq!(ws.round(1, bybit), (1, 1));
    assert_eq!(rest.round(2, bybit), (2, 2));
    assert_eq!(rest.round(1, bybit), (1, 1));
    assert_eq!(ws.venue_position(), d("0.016"));
    assert_eq!(
        ws.venue_position(),
        ws.booked,
        "the venue's position is the booked one"
    );
    assert_eq!(
        ws.venue_position(),
        rest.venue_position(),
        "the same orders leave the same position over either transport"
    );
    let (entry_ws, entry_rest) = (
        ws.ex.server.venue().with(|m| m.position("BTCUSDT").entry),
        rest.ex.server.venue().with(|m| m.position("BTCUSDT").entry),
    );
    assert_eq!(entry_ws, entry_rest);
    let s = ws.ws().stats();
    assert_eq!((s.sent, s.replies, s.failed), (3, 3, 0), "{s:?}");
    assert_eq!(
        ws.ex.server.trade_ws_counts().1,
        3,
        "three orders over the WebSocket"
    );
    assert_eq!(rest.ex.server.trade_ws_counts(), (0, 0));
    let lanes = ws.exec.lanes().unwrap();
    assert_eq!(lanes.lane_stats(Lane::Entry).sent, 2);
    assert_eq!(lanes.lane_stats(Lane::Exit).sent, 1);
    if bybit {
        assert_eq!(ws.exec.stats().requeries, 3, "each ack queried over REST");
    }
}

#[test]
fn bybit_orders_over_websocket_fill_and_match_the_venue_and_rest() {
    fills_and_positions_match(V::Bybit);
}

#[test]
fn binance_orders_over_websocket_fill_and_match_the_venue_and_rest() {
    fills_and_positions_match(V::Binance);
}

#[test]
fn bybit_auth_refusal_is_a_clear_error_and_rest_carries_the_orders() {
    let mut r = rig(
        V::Bybit,
        RestOptions::default(),
        true,
        Some("not-the-secret"),
        "auth",
    );
    let ws = r.ws();
    assert_eq!(ws.phase(), WsPhase::Down);
    assert_eq!(ws.stats().auth_failures, 1);
    let err = ws.last_error().unwrap();
    assert!(
        err.contains("auth refused") && err.contains("10004") && err.contains("REST"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "no secret in the error");
    assert_eq!(r.round(2, true), (2, 2));
    assert_eq!(r.venue_position(), Decimal::ZERO);
    assert_eq!(r.venue_position(), r.booked);
    assert_eq!(
        r.ws().stats().sent,
        0,
        "nothing went over the refused socket"
    );
}

#[test]
fn binance_wrong_secret_is_refused_per_request_with_the_venue_code() {
    let mut r = rig(
        V::Binance,
        RestOptions::default(),
        true,
        Some("0000"),
        "sig",
    );
    r.seq += 1;
    let it = r.intent(1, false);
    r.exec.set_now_ns(r.clock.now_ns());
    assert!(r.exec.submit(&it, now_ms(), |_| {}).is_none());
    let mut reports = Vec::new();
    while r.exec.in_flight() > 0 {
        r.exec.poll(r.clock.now_ns(), now_ms(), None, |ev| {
            if let ExecEvent::Report(rep) = ev {
                reports.push(rep);
            }
        });
    }
    assert_eq!(reports.len(), 1);
    assert!(
        matches!(reports[0].status, ReportStatus::Rejected(_)),
        "{:?}",
        reports[0]
    );
    assert_eq!(
        r.venue_position(),
        Decimal::ZERO,
        "a bad signature places nothing"
    );
    assert_eq!(r.ws().stats().replies, 1);
}

fn dropped_socket_orders_end_known(v: V) {
    let bybit = v == V::Bybit;
    // Every new order is matched, then its connection is reset without a reply: the WebSocket
    // drops with the order in flight (and REST orders meet the same).
    let plan = FaultPlan::from_toml(
        "seed = 1\n[[rule]]\np = 1.0\non = [\"order\"]\nfault = { kind = \"reset_after_read\", applied = true }\n",
    )
    .unwrap();
    let rest = RestOptions {
        faults: Some(Arc::new(plan)),
        ..RestOptions::default()
    };
    let mut r = rig(v, rest, true, None, &format!("drop-{v:?}"));
    assert_eq!(
        r.round(1, bybit),
        (1, 0),
        "the entry's fill came from the status query"
    );
    assert_eq!(
        r.unknown, 1,
        "the order was unknown until the query answered"
    );
    assert_eq!(r.venue_position(), d("0.016"));
    assert_eq!(
        r.venue_position(),
        r.booked,
        "nothing lost, nothing doubled"
    );
    let s = r.ws().stats();
    assert_eq!((s.sent, s.drops, s.failed), (1, 1, 1), "{s:?}");
    assert!(r.exec.stats().requeries >= 1);
    assert_eq!(r.ex.server.trade_ws_counts().1, 1);
}

#[test]
fn bybit_socket_dropped_with_an_order_in_flight_resolves_by_status_query() {
    dropped_socket_orders_end_known(V::Bybit);
}

#[test]
fn binance_socket_dropped_with_an_order_in_flight_resolves_by_status_query() {
    dropped_socket_orders_end_known(V::Binance);
}

fn rest_carries_orders_while_the_websocket_is_down(v: V) {
    let bybit = v == V::Bybit;
    let mut r = rig(
        v,
        RestOptions::default(),
        true,
        None,
        &format!("outage-{v:?}"),
    );
    assert_eq!(r.round(2, bybit), (2, 2));
    r.ex.server.trade_ws_outage(true);
    // The cut is seen at the next service of the link.
    r.wait_phase(false);
    assert_ne!(r.ws().phase(), WsPhase::Up);
    assert_eq!(r.round(2, bybit), (2, 2), "REST carried both orders");
    assert_eq!(
        r.ex.server.trade_ws_counts().1,
        2,
        "none went over the WebSocket"
    );
    r.ex.server.trade_ws_outage(false);
    r.wait_phase(true);
    assert_eq!(r.ws().phase(), WsPhase::Up, "the link came back");
    assert_eq!(r.round(2, bybit), (2, 2));
    assert_eq!(r.ex.server.trade_ws_counts().1, 4, "back on the WebSocket");
    assert_eq!(r.venue_position(), Decimal::ZERO);
    assert_eq!(r.venue_position(), r.booked);
    assert_eq!(r.ws().stats().ups, 2);
}

#[test]
fn bybit_rest_carries_orders_while_the_websocket_is_down() {
    rest_carries_orders_while_the_websocket_is_down(V::Bybit);
}

#[test]
fn binance_rest_carries_orders_while_the_websocket_is_down() {
    rest_carries_orders_while_the_websocket_is_down(V::Binance);
}

/// With nothing in flight the hot loop polls only the stage (`ExecStage::poll`, once a
/// turn); the order WebSocket must still be serviced there. The venue drops the socket while
/// the trader is idle: polling the stage alone sees it and logs on again, so the next order
/// goes over a live socket.
fn an_idle_stage_reconnects_the_order_websocket(v: V) {
    use calculus_trader::exec::ExecStage;
    use calculus_trader::telemetry::StageHistograms;
    let mut r = rig(
        v,
        RestOptions::default(),
        true,
        None,
        &format!("idle-{v:?}"),
    );
    assert_eq!(r.round(2, false), (2, 2));
    let clock = r.clock.clone();
    let mut stage = ExecStage::new(r.take_exec(), clock);
    let ups = |s: &ExecStage| {
        s.executor()
            .lanes()
            .unwrap()
            .websocket()
            .unwrap()
            .stats()
            .ups
    };
    assert_eq!(ups(&stage), 1);
    r.ex.server.drop_trade_sockets();
    let mut hists = StageHistograms::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ups(&stage) < 2 && std::time::Instant::now() < deadline {
        assert_eq!(stage.in_flight(), 0);
        stage.poll(None, &mut hists, |rep| panic!("no order, yet {rep:?}"));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let ws = stage.executor().lanes().unwrap().websocket().unwrap();
    assert_eq!(
        ws.stats().ups,
        2,
        "the idle stage never serviced the socket"
    );
    assert_eq!(ws.phase(), WsPhase::Up, "{:?}", ws.last_error());
    assert_eq!(
        r.ex.server.trade_ws_counts(),
        (2, 2),
        "a second session, no order"
    );
}

#[test]
fn bybit_idle_stage_reconnects_the_order_websocket() {
    an_idle_stage_reconnects_the_order_websocket(V::Bybit);
}

#[test]
fn binance_idle_stage_reconnects_the_order_websocket() {
    an_idle_stage_reconnects_the_order_websocket(V::Binance);
}

/// A peer answering three Bybit `order.create` requests in reverse order: each reply reaches
/// the request with its `reqId`.
#[test]
fn replies_are_matched_by_req_id_out_of_order() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(s).unwrap();
        let auth = ws.read().unwrap();
        assert!(auth.to_text().unwrap().contains("\"op\":\"auth\""));
        ws.send(tungstenite::Message::text(
            r#"{"retCode":0,"retMsg":"OK","op":"auth","connId":"t"}"#,
        ))
        .unwrap();
        let mut ids = Vec::new();
        while ids.len() < 3 {
            let m = ws.read().unwrap();
            let v: serde_json::Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
            assert_eq!(v["op"], "order.create");
            ids.push(v["reqId"].as_str().unwrap().to_string());
        }
        for id in ids.iter().rev() {
            let reply = format!(
                r#"{{"reqId":"{id}","retCode":0,"retMsg":"OK","op":"order.create","data":{{"orderId":"{id}00","orderLinkId":"x"}},"header":{{}},"connId":"t"}}"#
            );
            ws.send(tungstenite::Message::text(reply)).unwrap();
        }
        loop {
            match ws.read() {
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) | Ok(tungstenite::Message::Close(_)) => return,
                Ok(_) => {}
            }
        }
    });
    let clock = Clock::new();
    let poll = mio::Poll::new().unwrap();
    let target = WsTarget::new(&format!("ws://{addr}/v5/trade"), None).unwrap();
    let mut ws = WsOrderConn::new(
        WsVenue::Bybit {
            api_key: "k".into(),
            signer: Signer::new(b"s"),
        },
        target,
        mio::Token(0),
        8,
        5_000_000_000,
        20_000_000_000,
        clock.clone(),
    );
    assert!(ws.open_blocking(poll.registry(), 5_000_000_000));
    let req = |ts: u64| {
        format!("POST /v5/order/create HTTP/1.1\r\nX-BAPI-TIMESTAMP: {ts}\r\nX-BAPI-RECV-WINDOW: 5000\r\n\r\n{{\"category\":\"linear\"}}")
    };
    for tag in [11u64, 12, 13] {
        assert!(ws.try_send(tag, req(tag).as_bytes()));
    }
    let mut got = Vec::new();
    let end = clock.now_ns() + 5_000_000_000;
    while got.len() < 3 && clock.now_ns() < end {
        ws.service(poll.registry(), &mut |ev| {
            if let TransportEvent::Response {
                tag, status, body, ..
            } = ev
            {
                let v: serde_json::Value = serde_json::from_slice(body).unwrap();
                got.push((
                    tag,
                    status,
                    v["result"]["orderId"].as_str().unwrap().to_string(),
                ));
            }
        });
    }
    assert_eq!(
        got,
        vec![
            (13, 200, "1300".to_string()),
            (12, 200, "1200".to_string()),
            (11, 200, "1100".to_string())
        ],
        "each reply went to the request with its reqId"
    );
    assert_eq!(ws.in_flight(), 0);
    drop(ws);
    peer.join().unwrap();
}

fn ws_order_path_allocates_nothing(v: V) {
    let bybit = v == V::Bybit;
    let mut r = rig(
        v,
        RestOptions::default(),
        true,
        None,
        &format!("alloc-{v:?}"),
    );
    r.assert_order_path_allocates_nothing(bybit);
}

#[test]
fn bybit_websocket_order_path_allocates_nothing_after_warm_up() {
    ws_order_path_allocates_nothing(V::Bybit);
}

#[test]
fn binance_websocket_order_path_allocates_nothing_after_warm_up() {
    ws_order_path_allocates_nothing(V::Binance);
}
