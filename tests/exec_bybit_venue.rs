//! Bybit v5 orders from the execution stage (`OrderVenue::Bybit`) through the real non-blocking
//! HTTP transport to the embedded exchange's Bybit order entry, over loopback: auth errors are
//! typed, an entry carries the engine's TP/SL as position TP/SL, and when the venue's TP closes
//! the position the engine's own reduce-only exit (refused by the venue, 110017) is booked as
//! the venue's close, so compute's position goes flat with the exchange's.

use std::sync::Arc;
use std::time::Duration;

use calculus_trader::exchange::orders::{OrderRequest, OrderStatus};
use calculus_trader::exchange::rest_orders::SimCredentials;
use calculus_trader::exchange::{MarketState, RestExchange};
use calculus_trader::exec::journal::{FsyncPolicy, Journal, Record, RecordKind};
use calculus_trader::exec::{
    BybitVenue, ExecEvent, Executor, HttpTransport, OrderVenue, PaperVenue,
};
use calculus_trader::risk::config::ReconcilePolicy;
use calculus_trader::telemetry::Clock;
use calculus_trader::types::{
    ExecReport, Instrument, OrderIntent, Position, RejectReason, ReportStatus, Side, SymbolId,
};
use rust_decimal::Decimal;

mod common;
use common::exchange::{bundled_specs, start, Exchange};
use common::files::temp_dir;
use common::recovery::recover;
use common::setup::btc_trade_frames;
use common::values::{d, now_ms};

const FEE: &str = "0.00055";

struct Rig {
    market: Arc<MarketState>,
    server: RestExchange,
    exec: Executor,
    clock: Clock,
    inst: Instrument,
}

/// An embedded exchange accepting `key`/`secret` and an executor signing with `our_key` /
/// `our_secret`.
fn rig(key: &str, secret: &str, our_key: &str, our_secret: &str) -> Rig {
    let inst = bundled_specs("bybit", &["BTCUSDT"])[0];
    let Exchange { market, server } = start(
        vec![("BTCUSDT".to_string(), inst)],
        FEE,
        "0",
        Some(SimCredentials {
            api_key: key.into(),
            secret: secret.into(),
        }),
    );
    let clock = Clock::new();
    let host = server.addr().to_string();
    // A wide recv window: a loaded test host may delay a request by seconds.
    let v = BybitVenue::new(our_key, our_secret.as_bytes(), &host, 60_000, "ct1-").unwrap();
    let transport =
        HttpTransport::new(&server.url(), 8, Duration::from_secs(20), clock.clone()).unwrap();
    let exec = Executor::venue(
        vec![inst],
        vec!["BTCUSDT".into()],
        OrderVenue::Bybit(v),
        transport,
        PaperVenue {
            taker_fee: d(FEE),
            slippage_bps: 0.0,
        },
        1,
        8,
    );
    Rig {
        market,
        server,
        exec,
        clock,
        inst,
    }
}

fn intent(seq: u64, side: Side, qty: &str, price: Decimal, reduce_only: bool) -> OrderIntent {
    let price = price.to_string().parse().unwrap();
    common::rig::intent(0, seq, side, qty, reduce_only, price)
}

impl Rig {
    /// Submits `it` and drives the transport until its report (bounded wait).
    fn order(&mut self, it: &OrderIntent) -> ExecReport {
        if let Some(r) = self.exec.submit(it, now_ms(), |_| {}) {
            return r;
        }
        let deadline = self.clock.now_ns() + 30_000_000_000;
        let mut out = None;
        while out.is_none() && self.clock.now_ns() < deadline {
            self.exec.poll(
                self.clock.now_ns(),
                now_ms(),
                Some(Duration::from_millis(5)),
                |ev| {
                    // The symbol's entry-block flag (an order or the position unknown) is
                    // no outcome of this order.
                    if let ExecEvent::Report(r) = ev {
                        if !matches!(r.status, ReportStatus::UnknownOrder(_)) {
                            out = Some(r);
                        }
                    }
                },
            );
        }
        out.expect("a report within the bounded wait")
    }

    fn venue_position(&self) -> (Decimal, Decimal) {
        let p = self.server.venue().with(|m| m.position("BTCUSDT"));
        (p.qty, p.entry)
    }
}

#[test]
fn wrong_key_or_secret_is_a_typed_auth_reject_and_nothing_trades() {
    for (our_key, our_secret) in [("good-key", "bad-secret"), ("bad-key", "good-secret")] {
        let mut r = rig("good-key", "good-secret", our_key, our_secret);
        r.market.on_frame(&btc_trade_frames()[0].0);
        let rep = r.order(&intent(1, Side::Buy, "0.010", d("61800"), false));
        assert_eq!(
            rep.status,
            ReportStatus::Rejected(RejectReason::VenueAuth),
            "{our_key}/{our_secret}"
        );
        assert_eq!(r.exec.stats().rejects[RejectReason::VenueAuth.index()], 1);
        assert_eq!(r.exec.stats().fills, 0);
        assert_eq!(r.server.venue().with(|m| m.orders().len()), 0);
    }
}

#[test]
fn a_reduce_only_exit_without_venue_exits_is_refused_as_reduce_only() {
    let mut r = rig("k", "s", "k", "s");
    let tr = btc_trade_frames();
    r.market.on_frame(&tr[0].0);
    let rep = r.order(&intent(1, Side::Sell, "0.010", tr[0].1, true));
    assert_eq!(
        rep.status,
        ReportStatus::Rejected(RejectReason::VenueReduceOnly)
    );
    assert_eq!(r.venue_position().0, Decimal::ZERO);
}

/// The full cycle on real prices: entry with TP/SL (off-tick values, rounded toward the entry),
/// the exchange's position equals ours; the replay crosses the TP, the exchange closes the
/// position itself; the engine's reduce-only exit is refused (110017) and reported as filled
/// at the TP, so our position is flat like the exchange's, with the PnL of the TP.
#[test]
fn venue_take_profit_closes_the_position_and_compute_books_it_flat() {
    let mut r = rig("k", "s", "k", "s");
    let tr = btc_trade_frames();
    r.market.on_frame(&tr[0].0);
    let entry = tr[0].1;
    // A level the recording reaches later: halfway to its maximum.
    let max = tr.iter().map(|t| t.1).max().unwrap();
    assert!(
        max > entry + d("2"),
        "the recording rises above its first trade"
    );
    let tp_raw = entry + (max - entry) / d("2") + d("0.07");
    let sl_raw = entry - d("5000.03");
    let mut it = intent(1, Side::Buy, "0.010", entry, false);
    it.set_exits(Some(tp_raw), Some(sl_raw));
    let rep = r.order(&it);
    assert_eq!(rep.status, ReportStatus::Filled, "{rep:?}");
    assert_eq!(rep.price, entry);
    assert_eq!(rep.qty, d("0.010"));
    assert_eq!(rep.fee, entry * d("0.010") * d(FEE));
    let mut ours = Position::default();
    ours.apply_fill(rep.side, rep.price, rep.qty, rep.fee);
    assert_eq!(r.venue_position(), (ours.qty, ours.entry));

    // The exchange holds the TP/SL as close-position triggers, rounded to the tick toward
    // the entry (long TP floor, SL ceil).
    let tick = r.inst.tick_size;
    let tp = (tp_raw / tick).floor() * tick;
    let sl = (sl_raw / tick).ceil() * tick;
    let legs: Vec<(String, Decimal, OrderStatus)> = r.server.venue().with(|m| {
        m.orders()
            .iter()
            .filter(|o| o.client_id.starts_with("ct1-1-"))
            .map(|o| (o.client_id.clone(), o.stop_price, o.status))
            .collect()
    });
    assert_eq!(
        legs,
        vec![
            ("ct1-1-tp".to_string(), tp, OrderStatus::New),
            ("ct1-1-sl".to_string(), sl, OrderStatus::New),
        ]
    );

    // Replay up to the first trade at or above the TP: the exchange closes the position.
    let hit = tr
        .iter()
        .position(|t| t.1 >= tp)
        .expect("the recording reaches the TP");
    for (text, _) in &tr[1..=hit] {
        r.market.on_frame(text);
    }
    assert_eq!(r.venue_position().0, Decimal::ZERO);
    let sl_status = r.server.venue().with(|m| {
        m.order_by_client("BTCUSDT", "ct1-1-sl")
            .map(|o| o.status)
            .unwrap()
    });
    assert_eq!(
        sl_status,
        OrderStatus::Expired,
        "position TP/SL leave together"
    );

    // The engine's own exit at that trade: refused by the venue, booked as the TP's close at
    // the venue's own execution (read from `/v5/execution/list`: no private stream here),
    // which is the crossing trade's price, not the trigger.
    let close = r
        .server
        .venue()
        .with(|m| m.trades().last().cloned().unwrap());
    assert_eq!((close.side, close.qty), (Side::Sell, d("0.010")));
    assert!(close.price >= tp);
    let exit = r.order(&intent(2, Side::Sell, "0.010", tr[hit].1, true));
    assert_eq!(exit.status, ReportStatus::Filled, "{exit:?}");
    assert_eq!(
        (exit.price, exit.qty, exit.fee),
        (close.price, close.qty, close.commission)
    );
    ours.apply_fill(exit.side, exit.price, exit.qty, exit.fee);
    assert_eq!(ours.qty, Decimal::ZERO);
    assert_eq!(ours.qty, r.venue_position().0);
    assert_eq!(ours.realized, (close.price - entry) * d("0.010"));
    let s = r.exec.stats();
    assert_eq!(s.fills, 2);
    assert_eq!(s.rejects.iter().sum::<u64>(), 0, "{:?}", s.rejects);
    // The exchange saw the refused exit (it never traded it).
    let refused = r
        .server
        .venue()
        .with(|m| m.received_client_ids().get("ct1-2").copied());
    assert_eq!(refused, Some(1));

    // A further exit of the closed position (compute's view running ahead of its fills): the
    // venue refuses it too, and with nothing booked on that side it is a refusal, never a
    // second close at the TP (which would book a phantom short).
    let again = r.order(&intent(3, Side::Sell, "0.010", tr[hit].1, true));
    assert_eq!(
        again.status,
        ReportStatus::Rejected(RejectReason::VenueReduceOnly),
        "{again:?}"
    );
    assert_eq!(r.exec.stats().fills, 2);
    assert_eq!(r.venue_position().0, Decimal::ZERO);
}

/// Start-up over Bybit: an unfinished journaled order is resolved by `orderLinkId` through
/// `/v5/order/realtime` (never resent), one that never reached the venue is lost, and a phantom
/// position is closed with a Bybit reduce-only market order whose fill is learnt from the
/// status query after the ack.
#[test]
fn bybit_start_up_resolves_unfinished_orders_and_closes_a_phantom() {
    let r = rig("k", "s", "k", "s");
    let tr = btc_trade_frames();
    r.market.on_frame(&tr[0].0);
    let place = |qty: &str, id: &str| {
        r.server
            .venue()
            .with(|m| {
                m.place(
                    &OrderRequest::market("BTCUSDT", Side::Buy, d(qty), false, id),
                    now_ms(),
                )
            })
            .unwrap();
    };
    place("0.010", "ct1-1"); // reached the venue, reply lost
    place("0.030", "manual-1"); // nobody's journal knows it
    let dir = temp_dir("bybit-startup");
    let path = dir.join("orders.journal");
    {
        let (mut j, _) =
            Journal::open(&path, &["BTCUSDT".to_string()], FsyncPolicy::Every).unwrap();
        for (seq, qty) in [(1, "0.010"), (2, "0.020")] {
            let mut rec = Record::new(RecordKind::Intent, SymbolId(0), Side::Buy, 1, seq);
            rec.qty = d(qty);
            j.append(&rec).unwrap();
        }
    }
    let (j, mut replayed) =
        Journal::open(&path, &["BTCUSDT".to_string()], FsyncPolicy::Every).unwrap();
    let mut exec = r.exec;
    let rep = recover(&mut exec, j, &mut replayed, ReconcilePolicy::Close);
    assert_eq!((rep.recovered_fills, rep.recovered_missing), (1, 1));
    assert_eq!(rep.mismatches.len(), 1);
    assert_eq!(rep.mismatches[0].venue, d("0.040"));
    assert_eq!(rep.mismatches[0].ours, d("0.010"));
    assert_eq!(rep.closed, 1);
    let p = replayed.position(0);
    assert_eq!((p.qty, p.entry), (d("0.010"), tr[0].1));
    let venue = r.server.venue().with(|m| m.position("BTCUSDT").qty);
    assert_eq!(venue, p.qty, "the venue ends at the journal's position");
    let ids = r.server.venue().with(|m| m.received_client_ids().clone());
    assert_eq!(ids.get("ct1-1"), Some(&1), "never resent");
    assert_eq!(ids.get("ct1-2"), None);
    drop(exec);
    std::fs::remove_dir_all(&dir).ok();
}

/// Paper mode with the Bybit format: the request is signed exactly as for the venue (with its
/// TP/SL), never sent, and the fill is in-process.
#[test]
fn bybit_paper_orders_are_bybit_requests_filled_in_process() {
    let inst = bundled_specs("bybit", &["BTCUSDT"])[0];
    let v = BybitVenue::new("paper-key", b"paper-secret", "api.bybit.com", 5000, "ct3-").unwrap();
    let mut exec = Executor::paper_with(
        vec![inst],
        vec!["BTCUSDT".into()],
        OrderVenue::Bybit(v),
        PaperVenue {
            taker_fee: d(FEE),
            slippage_bps: 0.0,
        },
    );
    let mut it = intent(4, Side::Sell, "0.010", d("61800.3"), false);
    it.set_exits(Some(d("61000")), Some(d("62500")));
    let mut sent = Vec::new();
    let rep = exec.execute(&it, now_ms(), |b| sent.extend_from_slice(b));
    assert_eq!(rep.status, ReportStatus::Filled);
    assert_eq!(rep.price, d("61800.3"));
    let text = String::from_utf8(sent).unwrap();
    assert!(text.starts_with("POST /v5/order/create HTTP/1.1\r\nHost: api.bybit.com\r\n"));
    assert!(
        text.ends_with(r#""side":"Sell","orderType":"Market","qty":"0.01","orderLinkId":"ct3-4","takeProfit":"61000","stopLoss":"62500","tpslMode":"Full"}"#),
        "{text}"
    );
}
