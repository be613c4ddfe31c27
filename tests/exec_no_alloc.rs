//! After warm-up, the venue order path allocates nothing on the execution thread: journal the
//! intent, build and sign the request, write it on the keep-alive connection, read and parse the
//! reply (and its rate-limit headers), journal the fill. Proved with a counting global
//! allocator (per thread), against the embedded exchange over loopback (its threads are not
//! counted), on one shared connection and on order lanes (an entry and its exit submitted
//! together: the exit waits in the exit lane until the entry's reply, then goes on its own
//! connection; Bybit's status queries on the query lane).

use std::time::Duration;

use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::journal::{client_prefix, FsyncPolicy, Journal};
use calculus_trader::exec::rate_limit::RateLimits;
use calculus_trader::exec::{
    BinanceOrderBuilder, BinanceVenue, BybitVenue, ExecEvent, Executor, HttpTransport, Lane,
    LaneConfig, OrderLanes, OrderVenue, PaperVenue,
};
use calculus_trader::telemetry::Clock;
use calculus_trader::types::{
    Case, Instrument, IntentFields, OrderIntent, ReportStatus, Side, SymbolId,
};

mod common;
use common::alloc::counted;
use common::exchange::{listed, start_with, Exchange, Options};
use common::files::temp_dir;
use common::values::{d, now_ms, BTC_TRADE};

common::alloc::install!();

#[test]
fn venue_order_round_trip_allocates_nothing_after_warm_up() {
    round_trips_allocate_nothing(false, false);
}

/// Bybit: create (acked) → status query by orderLinkId → fill, entries carrying TP/SL.
#[test]
fn bybit_order_round_trip_with_tp_sl_allocates_nothing_after_warm_up() {
    round_trips_allocate_nothing(true, false);
}

#[test]
fn lane_order_round_trips_allocate_nothing_after_warm_up() {
    round_trips_allocate_nothing(false, true);
}

#[test]
fn bybit_lane_order_round_trips_allocate_nothing_after_warm_up() {
    round_trips_allocate_nothing(true, true);
}

fn round_trips_allocate_nothing(bybit: bool, lanes: bool) {
    let btc = listed(&["BTCUSDT"]);
    // 70 orders back to back: above Bybit's documented 10 orders/s. The exchange reports a
    // higher limit in its headers (and the limiter is told the same): this test proves the
    // allocation-free path, not limits.
    let opts = Options {
        rest: RestOptions {
            bybit_order_limit: 1_000,
            ..RestOptions::default()
        },
        ..Options::default()
    };
    let Exchange { market, server } = start_with(btc.clone(), "0.0004", "1", opts);
    let (names, inst): (Vec<String>, Vec<Instrument>) = btc.into_iter().unzip();
    market.on_frame(BTC_TRADE);
    let c = server.credentials().clone();
    let host = server.addr().to_string();
    let order_venue = if bybit {
        OrderVenue::Bybit(
            BybitVenue::new(
                &c.api_key,
                c.secret.as_bytes(),
                &host,
                60_000,
                &client_prefix(1),
            )
            .unwrap(),
        )
    } else {
        let builder = BinanceOrderBuilder::new(
            &c.api_key,
            c.secret.as_bytes(),
            &host,
            60_000,
            &client_prefix(1),
        );
        OrderVenue::Binance(BinanceVenue::new(builder))
    };
    let clock = Clock::new();
    let timeout = Duration::from_secs(20);
    let transport = if lanes {
        OrderLanes::new(
            &server.url(),
            LaneConfig::new(2, 8),
            timeout,
            clock.clone(),
            None,
        )
        .unwrap()
    } else {
        HttpTransport::new(&server.url(), 8, timeout, clock.clone())
            .unwrap()
            .into()
    };
    let mut exec = Executor::venue(
        inst,
        names,
        order_venue,
        transport,
        PaperVenue {
            taker_fee: d("0.0004"),
            slippage_bps: 1.0,
        },
        1,
        8,
    );
    let dir = temp_dir(&format!("exec-noalloc-{bybit}-{lanes}"));
    let (j, _) = Journal::open(
        &dir.join("orders.journal"),
        exec.names(),
        FsyncPolicy::Never,
    )
    .unwrap();
    exec.set_journal(j);
    if bybit {
        exec.set_rate_limits(RateLimits::bybit_v5().with_order_limit(1_000, 1_000_000_000));
    }

    let mut seq = 0u64;
    let intent = |seq: u64| {
        OrderIntent::new(IntentFields {
            symbol: SymbolId(0),
            side: if seq % 2 == 1 { Side::Buy } else { Side::Sell },
            qty: d("0.016"),
            ref_price: 61800.3,
            reduce_only: seq % 2 == 0,
            case: Case::AcceleratingUp,
            client_seq: seq,
            tick_recv_ns: 0,
            decided_ns: 0,
            // Bybit entries carry their TP/SL on the order itself; Binance ones would place algo
            // stops on the exit lane (their own test: `tests/venue_stops.rs`, `tests/no_alloc.rs`),
            // so this count of order round trips sends them none.
            take_profit: (bybit && seq % 2 == 1).then(|| d("62000.07")),
            stop_loss: (bybit && seq % 2 == 1).then(|| d("61000.01")),
        })
    };
    // One order per round on a shared connection; on lanes an entry and its exit per round.
    let per_round = if lanes { 2 } else { 1 };
    let mut round_trip = |exec: &mut Executor| -> (u32, u32) {
        for _ in 0..per_round {
            seq += 1;
            exec.set_now_ns(clock.now_ns());
            assert!(
                exec.submit(&intent(seq), now_ms(), |_| {}).is_none(),
                "sent to the venue"
            );
        }
        let (mut fills, mut rtts) = (0, 0);
        let deadline = clock.now_ns() + 20_000_000_000;
        while exec.in_flight() > 0 && clock.now_ns() < deadline {
            exec.poll(clock.now_ns(), now_ms(), None, |ev| match ev {
                ExecEvent::Report(r) => {
                    assert_eq!(r.status, ReportStatus::Filled);
                    fills += 1;
                }
                ExecEvent::Rtt(_) => rtts += 1,
            });
        }
        (fills, rtts)
    };
    let n = per_round as u32;
    let (warm, rounds) = (20 / n, 50 / n);
    for _ in 0..warm {
        assert_eq!(round_trip(&mut exec), (n, n));
    }
    let (results, allocations) = counted(|| {
        (0..rounds)
            .map(|_| round_trip(&mut exec))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    assert_eq!(results, (50, 50), "every order filled over HTTP");
    assert!(
        exec.venue_mut().last_templated(),
        "the executor's orders come from its symbols' templates"
    );
    if bybit {
        // Bybit acks before it fills: intent + ack + fill per order, and each of the 35
        // entries' venue-side exits (journaled before it is sent).
        assert_eq!(
            exec.stats().journal_records,
            210 + 35,
            "intent + ack + fill per order, exits per entry"
        );
        assert_eq!(exec.stats().requeries, 70, "one status query per order");
    } else {
        assert_eq!(exec.stats().journal_records, 140, "intent + fill per order");
    }
    if let Some(l) = exec.lanes().filter(|_| lanes) {
        assert_eq!(l.lane_stats(Lane::Entry).sent, 35);
        assert_eq!(l.lane_stats(Lane::Exit).sent, 35);
        assert_eq!(
            l.lane_stats(Lane::Exit).queued,
            35,
            "each exit waited for its entry"
        );
        assert_eq!(l.lane_stats(Lane::Exit).grown, 0);
    }
    assert_eq!(
        allocations, 0,
        "venue order path allocated {allocations} times"
    );
    drop(exec);
    std::fs::remove_dir_all(&dir).ok();
}
