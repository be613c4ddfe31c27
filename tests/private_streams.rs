//! Private streams, both venues: the documented messages (Bybit v5 `order`, `execution`,
//! `position`, `wallet`, auth and pong replies; Binance USD-M `ORDER_TRADE_UPDATE`,
//! `ACCOUNT_UPDATE`, `listenKeyExpired`) parse into the account events they state, venue-side
//! stops, liquidations and ADL are told apart from the client's orders, the Bybit `auth`
//! signature is `HMAC_SHA256(secret, "GET/realtime" + expires)`, and parsing allocates nothing.

use std::time::Duration;

use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::ExecEvent;
use calculus_trader::types::{
    AccountEvent, ClientOrderId, OrderOrigin, ReportStatus, Side, SymbolTable, VenueStatus,
};
use calculus_trader::venue::api::Method;
use calculus_trader::venue::binance::private as binance;
use calculus_trader::venue::bybit::private as bybit;
use calculus_trader::venue::bybit::trade_id_hash;
use calculus_trader::venue::private::PrivateFrame;

mod common;
use common::alloc::counted;
use common::files::fixture_bytes;
use common::rig::{intent, rig, Rig, V};
use common::values::{d, now_ms};

common::alloc::install!();

fn symbols() -> SymbolTable {
    SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    fixture_bytes(&format!("private/{name}"))
}

type Parser = fn(
    &[u8],
    &SymbolTable,
    &mut dyn FnMut(AccountEvent),
) -> Result<PrivateFrame, calculus_trader::types::ParseError>;

fn bybit_parse(
    b: &[u8],
    s: &SymbolTable,
    on: &mut dyn FnMut(AccountEvent),
) -> Result<PrivateFrame, calculus_trader::types::ParseError> {
    bybit::parse(b, s, &mut |e| on(e))
}

fn binance_parse(
    b: &[u8],
    s: &SymbolTable,
    on: &mut dyn FnMut(AccountEvent),
) -> Result<PrivateFrame, calculus_trader::types::ParseError> {
    binance::parse(b, s, &mut |e| on(e))
}

/// Every event of `frame` and what the parser said of it.
fn events(parse: Parser, frame: &[u8]) -> (Vec<AccountEvent>, PrivateFrame) {
    let mut out = Vec::new();
    let r = parse(frame, &symbols(), &mut |e| out.push(e)).unwrap();
    (out, r)
}

fn id(s: &str) -> ClientOrderId {
    ClientOrderId::new(s.as_bytes()).unwrap()
}

#[test]
fn bybit_execution_is_a_fill_with_the_documented_values() {
    let (ev, r) = events(bybit_parse, &fixture("bybit_private_execution_linear.json"));
    assert_eq!(
        r,
        PrivateFrame::Events {
            events: 1,
            skipped: 0,
            overflow: 0
        }
    );
    let AccountEvent::Fill(f) = ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(f.symbol, symbols().lookup("BTCUSDT").unwrap());
    assert_eq!(
        (f.side, f.price, f.qty),
        (Side::Sell, d("95900.1"), d("0.5"))
    );
    assert_eq!(f.fee, d("26.3725275"));
    assert_eq!(
        f.trade_id,
        trade_id_hash("0ab1bdf7-4219-438b-b30a-32ec863018f7")
    );
    assert_eq!(
        (f.origin, f.ts_ms),
        (OrderOrigin::Client, 1_746_270_400_353)
    );
    assert_eq!(f.client_id, id(""));
    // A liquidation's execution (`BustTrade`) and a triggered stop's (`CreateByStopLoss`).
    for (from, to, origin) in [
        (
            "\"execType\": \"Trade\"",
            "\"execType\": \"BustTrade\"",
            OrderOrigin::Liquidation,
        ),
        (
            "\"CreateByUser\"",
            "\"CreateByStopLoss\"",
            OrderOrigin::VenueStop,
        ),
        (
            "\"execType\": \"Trade\"",
            "\"execType\": \"AdlTrade\"",
            OrderOrigin::Adl,
        ),
    ] {
        let text = String::from_utf8(fixture("bybit_private_execution_linear.json")).unwrap();
        assert!(text.contains(from));
        let (ev, _) = events(bybit_parse, text.replace(from, to).as_bytes());
        assert!(
            matches!(ev[0], AccountEvent::Fill(f) if f.origin == origin),
            "{to}: {ev:?}"
        );
    }
    // Funding is not a fill.
    let text = String::from_utf8(fixture("bybit_private_execution_linear.json")).unwrap();
    let funding = text.replace("\"execType\": \"Trade\"", "\"execType\": \"Funding\"");
    let (ev, r) = events(bybit_parse, funding.as_bytes());
    assert!(ev.is_empty());
    assert_eq!(
        r,
        PrivateFrame::Events {
            events: 0,
            skipped: 1,
            overflow: 0
        }
    );
}

#[test]
fn bybit_order_position_wallet_and_replies() {
    // The documented order is an option: not ours (linear only).
    let text = String::from_utf8(fixture("bybit_private_order.json")).unwrap();
    let (ev, r) = events(bybit_parse, text.as_bytes());
    assert!(ev.is_empty());
    assert_eq!(
        r,
        PrivateFrame::Events {
            events: 0,
            skipped: 1,
            overflow: 0
        }
    );
    // The same order on a linear symbol of ours, sent with our client id.
    let linear = text
        .replace("\"option\"", "\"linear\"")
        .replace("ETH-30DEC22-1400-C", "ETHUSDT")
        .replace("\"orderLinkId\": \"\"", "\"orderLinkId\": \"ct3-41\"");
    let (ev, _) = events(bybit_parse, linear.as_bytes());
    let AccountEvent::Order(o) = ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(o.symbol, symbols().lookup("ETHUSDT").unwrap());
    assert_eq!((o.side, o.status), (Side::Sell, VenueStatus::Filled));
    assert_eq!((o.cum_qty, o.avg_price), (d("1"), d("75")));
    assert_eq!(
        (o.client_id.seq_after(b"ct3-"), o.ts_ms),
        (Some(41), 1_672_364_262_457)
    );
    // Position: side "" size 0 = flat.
    let (ev, _) = events(bybit_parse, &fixture("bybit_private_position_linear.json"));
    let btc = symbols().lookup("BTCUSDT").unwrap();
    assert_eq!(
        ev,
        vec![AccountEvent::Position {
            symbol: btc,
            qty: d("0"),
            entry: d("0")
        }]
    );
    let text = String::from_utf8(fixture("bybit_private_position_linear.json")).unwrap();
    let short = text
        .replace("\"side\": \"\"", "\"side\": \"Sell\"")
        .replace("\"size\": \"0\"", "\"size\": \"0.25\"")
        .replace("\"entryPrice\": \"0\"", "\"entryPrice\": \"28184.5\"");
    let (ev, _) = events(bybit_parse, short.as_bytes());
    assert_eq!(
        ev,
        vec![AccountEvent::Position {
            symbol: btc,
            qty: d("-0.25"),
            entry: d("28184.5")
        }]
    );
    let (ev, _) = events(bybit_parse, &fixture("bybit_private_wallet.json"));
    assert_eq!(
        ev,
        vec![AccountEvent::Balance {
            wallet: d("9684.46297164"),
            available: Some(d("9556.6056555")),
        }]
    );
    assert_eq!(
        events(bybit_parse, &fixture("bybit_op_auth_success.json")).1,
        PrivateFrame::Auth(true)
    );
    let refused = br#"{"success":false,"ret_msg":"Params Error","op":"auth","conn_id":"x"}"#;
    assert_eq!(events(bybit_parse, refused).1, PrivateFrame::Auth(false));
    assert_eq!(
        events(bybit_parse, &fixture("bybit_op_pong_private.json")).1,
        PrivateFrame::Pong
    );
}

#[test]
fn bybit_auth_signs_get_realtime_plus_expires() {
    let (key, secret, expires) = ("XXXXXXXXXX", b"YYYYYYYYYY", 1_662_350_400_000u64);
    let msg = bybit::auth_request(key, secret, expires);
    let v: serde_json::Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(v["op"], "auth");
    assert_eq!(v["args"][0], key);
    assert_eq!(v["args"][1], expires);
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        format!("GET/realtime{expires}").as_bytes(),
    );
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v["args"][2], hex);
    let sub: serde_json::Value = serde_json::from_str(&bybit::subscribe_request()).unwrap();
    assert_eq!(
        sub["args"],
        serde_json::json!(["order", "execution", "position", "wallet"])
    );
}

#[test]
fn binance_order_trade_update_is_an_order_state_and_a_trade_a_fill() {
    let text = String::from_utf8(fixture("binance_order_trade_update_docs.json")).unwrap();
    // The docs' example: a new trailing stop (a venue-side conditional order), nothing filled.
    let (ev, r) = events(binance_parse, text.as_bytes());
    assert_eq!(
        r,
        PrivateFrame::Events {
            events: 1,
            skipped: 0,
            overflow: 0
        }
    );
    let AccountEvent::Order(o) = ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (o.client_id, o.side, o.status),
        (id("TEST"), Side::Sell, VenueStatus::New)
    );
    assert_eq!(
        (o.cum_qty, o.origin, o.ts_ms),
        (d("0"), OrderOrigin::VenueStop, 1_568_879_465_650)
    );
    // The same order executed in full as a market order of ours: the order state, then the fill.
    let traded = text
        .replace("\"c\":\"TEST\"", "\"c\":\"ct3-7\"")
        .replace("\"TRAILING_STOP_MARKET\"", "\"MARKET\"")
        .replace(
            "\"x\":\"NEW\",\"X\":\"NEW\"",
            "\"x\":\"TRADE\",\"X\":\"FILLED\"",
        )
        .replace(
            "\"l\":\"0\",\"z\":\"0\",\"L\":\"0\"",
            "\"l\":\"0.001\",\"z\":\"0.001\",\"L\":\"7103.1\"",
        )
        .replace("\"ap\":\"0\"", "\"ap\":\"7103.1\"")
        .replace("\"n\":\"0\"", "\"n\":\"0.00284124\"")
        .replace("\"t\":0", "\"t\":4123");
    let (ev, r) = events(binance_parse, traded.as_bytes());
    assert_eq!(
        r,
        PrivateFrame::Events {
            events: 2,
            skipped: 0,
            overflow: 0
        }
    );
    let (AccountEvent::Order(o), AccountEvent::Fill(f)) = (ev[0], ev[1]) else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (o.status, o.cum_qty, o.avg_price),
        (VenueStatus::Filled, d("0.001"), d("7103.1"))
    );
    assert_eq!(o.client_id.seq_after(b"ct3-"), Some(7));
    assert_eq!(
        (f.price, f.qty, f.fee, f.trade_id),
        (d("7103.1"), d("0.001"), d("0.00284124"), 4123)
    );
    assert_eq!(f.origin, OrderOrigin::Client);
    // A liquidation: client id `autoclose-…`, execution type CALCULATED.
    let liq = traded
        .replace("\"c\":\"ct3-7\"", "\"c\":\"autoclose-1568879465650123\"")
        .replace("\"x\":\"TRADE\"", "\"x\":\"CALCULATED\"");
    let (ev, _) = events(binance_parse, liq.as_bytes());
    assert!(matches!(ev[1], AccountEvent::Fill(f) if f.origin == OrderOrigin::Liquidation));
    let adl = traded.replace("\"c\":\"ct3-7\"", "\"c\":\"adl_autoclose\"");
    let (ev, _) = events(binance_parse, adl.as_bytes());
    assert!(matches!(ev[1], AccountEvent::Fill(f) if f.origin == OrderOrigin::Adl));
    // Another venue's symbol is skipped.
    let other = text.replace("BTCUSDT", "XRPUSDT");
    assert_eq!(
        events(binance_parse, other.as_bytes()).1,
        PrivateFrame::Events {
            events: 0,
            skipped: 1,
            overflow: 0
        }
    );
}

#[test]
fn binance_account_update_balance_and_one_way_positions_and_expiry() {
    let (ev, r) = events(
        binance_parse,
        &fixture("binance_account_update_announcement_2020.json"),
    );
    let (btc, eth) = (
        symbols().lookup("BTCUSDT").unwrap(),
        symbols().lookup("ETHUSDT").unwrap(),
    );
    assert_eq!(
        ev,
        vec![
            AccountEvent::Balance {
                wallet: d("94.91018561"),
                available: None
            },
            AccountEvent::Position {
                symbol: btc,
                qty: d("0"),
                entry: d("0")
            },
            AccountEvent::Position {
                symbol: eth,
                qty: d("0"),
                entry: d("0")
            },
        ]
    );
    // BNB and the four hedge-mode (LONG / SHORT) legs are not one-way USDT data.
    assert_eq!(
        r,
        PrivateFrame::Events {
            events: 3,
            skipped: 5,
            overflow: 0
        }
    );
    let expired = br#"{"e":"listenKeyExpired","E":1576653824250,"listenKey":"WsCMN0a4KHUPTQuX6IUnqEZfB1inxmv1qR4kbf1LuEjur5VdbzqvyxqG9TSjVVxv"}"#;
    assert_eq!(
        events(binance_parse, expired).0,
        vec![AccountEvent::Expired]
    );
    assert_eq!(
        events(binance_parse, br#"{"e":"MARGIN_CALL","E":1}"#).1,
        PrivateFrame::Other
    );
    assert!(binance::parse(b"{not json", &symbols(), &mut |_| {}).is_err());
}

#[test]
fn binance_listen_key_requests() {
    let post = binance::listen_key_request(Method::Post, "KEY");
    assert_eq!(
        (post.method, post.path_and_query.as_str()),
        (Method::Post, "/fapi/v1/listenKey")
    );
    assert_eq!(post.headers, vec![("X-MBX-APIKEY", "KEY".to_string())]);
    assert!(post.body.is_empty());
    assert_eq!(
        binance::listen_key_request(Method::Put, "KEY")
            .method
            .as_str(),
        "PUT"
    );
    let key = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1";
    let body = format!("{{\"listenKey\":\"{key}\"}}");
    assert_eq!(
        binance::parse_listen_key(body.as_bytes()).as_deref(),
        Some(key)
    );
    assert_eq!(binance::KEEPALIVE_MS, 30 * 60 * 1000);
}

#[test]
fn more_records_than_a_batch_holds_are_counted_as_overflow() {
    let row =
        r#"{"symbol":"BTCUSDT","side":"Buy","size":"0.1","entryPrice":"100","category":"linear"}"#;
    let rows = vec![row; 20].join(",");
    let frame = format!(r#"{{"topic":"position","creationTime":1,"data":[{rows}]}}"#);
    let (ev, r) = events(bybit_parse, frame.as_bytes());
    assert_eq!(ev.len(), 16);
    assert_eq!(
        r,
        PrivateFrame::Events {
            events: 16,
            skipped: 0,
            overflow: 4
        }
    );
}

#[test]
fn parsing_private_frames_allocates_nothing() {
    let s = symbols();
    let frames: Vec<(bool, Vec<u8>)> = [
        (true, "bybit_private_execution_linear.json"),
        (true, "bybit_private_order.json"),
        (true, "bybit_private_position_linear.json"),
        (true, "bybit_private_wallet.json"),
        (true, "bybit_op_pong_private.json"),
        (false, "binance_order_trade_update_docs.json"),
        (false, "binance_account_update_announcement_2020.json"),
    ]
    .into_iter()
    .map(|(b, f)| (b, fixture(f)))
    .collect();
    let mut n = 0usize;
    let ((), allocations) = counted(|| {
        for _ in 0..100 {
            for (is_bybit, f) in &frames {
                let mut on = |_e: AccountEvent| n += 1;
                let r = if *is_bybit {
                    bybit::parse(f, &s, &mut on)
                } else {
                    binance::parse(f, &s, &mut on)
                };
                assert!(r.is_ok());
            }
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(n, 100 * 7);
}

/// The venue's private-stream message for a market order of ours (`ct1-<seq>`) filled in full
/// at `px`: Binance `ORDER_TRADE_UPDATE`, Bybit `order`.
fn filled_message(v: V, seq: u64, side: Side, qty: &str, px: &str, ts: u64) -> String {
    match (v, side) {
        (V::Binance, _) => format!(
            r#"{{"e":"ORDER_TRADE_UPDATE","E":{ts},"T":{ts},"o":{{"s":"BTCUSDT","c":"ct1-{seq}","S":"{}","o":"MARKET","x":"TRADE","X":"FILLED","z":"{qty}","ap":"{px}","l":"{qty}","L":"{px}","n":"0","t":{seq},"T":{ts}}}}}"#,
            if side == Side::Buy { "BUY" } else { "SELL" }
        ),
        (V::Bybit, _) => format!(
            r#"{{"topic":"order","creationTime":{ts},"data":[{{"category":"linear","symbol":"BTCUSDT","side":"{}","orderLinkId":"ct1-{seq}","orderStatus":"Filled","cumExecQty":"{qty}","avgPrice":"{px}","createType":"CreateByUser","updatedTime":"{ts}"}}]}}"#,
            if side == Side::Buy { "Buy" } else { "Sell" }
        ),
    }
}

/// Feeds a private-stream frame to the rig's executor: its order updates, booked like the
/// trader books reports. Returns how many updates were this session's.
fn stream_into(r: &mut Rig, v: V, frame: &[u8]) -> usize {
    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let mut updates = Vec::new();
    let parse: Parser = match v {
        V::Binance => binance_parse,
        V::Bybit => bybit_parse,
    };
    parse(frame, &symbols, &mut |e| {
        if let AccountEvent::Order(u) = e {
            updates.push(u)
        }
    })
    .unwrap();
    let mut reports = Vec::new();
    let mut ours = 0;
    for u in &updates {
        let now = r.clock.now_ns();
        if r.exec.on_stream_order(u, now, &mut |ev| {
            if let ExecEvent::Report(rep) = ev {
                reports.push(rep)
            }
        }) {
            ours += 1;
        }
    }
    for rep in reports {
        r.engine.on_report(&rep);
        r.reports.push(rep);
    }
    ours
}

#[test]
fn a_fill_from_the_stream_before_the_rest_reply_is_booked_once() {
    for v in [V::Binance, V::Bybit] {
        let rest = RestOptions {
            order_reply_delay: Duration::from_millis(400),
            ..RestOptions::default()
        };
        let mut r = rig(v, &["BTCUSDT"], &["60000"], rest, 1, Duration::from_secs(5));
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.010", false, 60000.0))
            .is_none());
        // The exchange matches at once and holds its reply back: the stream tells first.
        assert!(r.poll_until(|r| !r.venue_qty(0).is_zero()));
        assert!(r.report_of(1).is_none(), "{v:?}: the REST reply came first");
        let p = r.ex.server.venue().with(|m| m.position("BTCUSDT"));
        let px = p.entry.normalize().to_string();
        let msg = filled_message(v, 1, Side::Buy, "0.010", &px, now_ms());
        assert_eq!(stream_into(&mut r, v, msg.as_bytes()), 1, "{v:?}");
        let rep = r.report_of(1).expect("booked from the stream");
        assert_eq!(
            (rep.status, rep.qty, rep.price),
            (ReportStatus::Filled, d("0.010"), p.entry)
        );
        // The same event again, and then the REST reply: nothing more is booked.
        assert_eq!(
            stream_into(&mut r, v, msg.as_bytes()),
            0,
            "{v:?}: already final"
        );
        std::thread::sleep(Duration::from_millis(500));
        for _ in 0..20 {
            r.poll_once();
        }
        assert!(r.answered() >= 1, "{v:?}: the REST reply was sent");
        assert_eq!(r.reports.len(), 1, "{v:?}: {:?}", r.reports);
        assert_eq!(r.engine.position(0).unwrap().qty, r.venue_qty(0), "{v:?}");
        assert_eq!(r.engine.position(0).unwrap().fills, 1);
        assert_eq!(r.exec.stats().stream_updates, 1);
        // Another session's order and the venue's own are not ours.
        let other = filled_message(v, 1, Side::Buy, "0.010", &px, now_ms()).replace("ct1-", "ct2-");
        assert_eq!(stream_into(&mut r, v, other.as_bytes()), 0);
    }
}

/// The run ends (its feed closed) right after the venue's stop closed a position: the
/// execution is on the private stream, not yet read, and no order is in flight. The end-of-run
/// drain reads the stream and books the close at the venue's price and fee before it returns
/// (the trade-heavy Bybit soak's final run ended with a stop its last trades triggered
/// missing from the journal: the drain returned at once when no order was in flight).
#[test]
fn the_end_of_run_drain_books_a_venue_close_the_stream_delivered() {
    use calculus_trader::exec::{BinanceOrderBuilder, ExecStage, Executor, PaperVenue};
    use calculus_trader::telemetry::{Clock, StageHistograms};
    use calculus_trader::types::{StreamFill, SymbolId};
    let names = ["BTCUSDT", "ETHUSDT"];
    let specs = common::exchange::bundled_specs("binance", &names);
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let builder = BinanceOrderBuilder::new("key", b"secret", "127.0.0.1", 5_000, "ct1-");
    let paper = PaperVenue {
        taker_fee: d("0.0004"),
        slippage_bps: 0.0,
    };
    let exec = Executor::new(specs, names, builder, paper);
    let (mut tx, rx) = calculus_trader::ring::channel(64).unwrap();
    let mut stage = ExecStage::new(exec, Clock::new()).with_account_events(rx);
    let close = StreamFill {
        symbol: SymbolId(0),
        client_id: ClientOrderId::new(b"").unwrap(),
        side: Side::Sell,
        price: d("61190.5"),
        qty: d("0.010"),
        fee: d("0.2447620"),
        trade_id: 42,
        origin: OrderOrigin::VenueStop,
        ts_ms: now_ms(),
    };
    assert!(tx.push(AccountEvent::Link(true)).is_ok());
    assert!(tx.push(AccountEvent::Fill(close)).is_ok());
    assert_eq!(stage.in_flight(), 0, "nothing of ours in flight");
    let mut reports = Vec::new();
    stage.drain(&mut StageHistograms::new(), |r| reports.push(*r));
    let filled: Vec<_> = reports
        .iter()
        .filter(|r| r.status == ReportStatus::Filled)
        .map(|r| (r.symbol, r.side, r.qty, r.price, r.fee))
        .collect();
    assert_eq!(
        filled,
        [(
            SymbolId(0),
            Side::Sell,
            d("0.010"),
            d("61190.5"),
            d("0.2447620")
        )],
        "{reports:?}"
    );
    assert_eq!(
        stage.executor().stream_counters().0,
        1,
        "one venue close booked"
    );
    assert_eq!(stage.executor().closes_queued(), 0);
}
