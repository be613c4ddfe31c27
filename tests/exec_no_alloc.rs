//! After warm-up, the venue order path allocates nothing on the execution thread: journal the
//! intent, build and sign the request, write it on the keep-alive connection, read and parse the
//! reply, journal the fill. Proved with a counting global allocator (per thread), against the
//! embedded exchange over loopback (its threads are not counted).

use std::time::Duration;

use calculus_trader::exec::journal::{client_prefix, FsyncPolicy, Journal};
use calculus_trader::exec::rate_limit::RateLimits;
use calculus_trader::exec::{
    BinanceOrderBuilder, BinanceVenue, BybitVenue, ExecEvent, Executor, HttpTransport, OrderVenue,
    PaperVenue,
};
use calculus_trader::telemetry::Clock;
use calculus_trader::types::{Case, Instrument, OrderIntent, ReportStatus, Side, SymbolId};

mod common;
use common::alloc::counted;
use common::exchange::{listed, start, Exchange};
use common::files::temp_dir;
use common::values::{d, now_ms, BTC_TRADE};

common::alloc::install!();

#[test]
fn venue_order_round_trip_allocates_nothing_after_warm_up() {
    round_trips_allocate_nothing(false);
}

/// Bybit: create (acked) → status query by orderLinkId → fill, entries carrying TP/SL.
#[test]
fn bybit_order_round_trip_with_tp_sl_allocates_nothing_after_warm_up() {
    round_trips_allocate_nothing(true);
}

fn round_trips_allocate_nothing(bybit: bool) {
    let btc = listed(&["BTCUSDT"]);
    let Exchange { market, server } = start(btc.clone(), "0.0004", "1", None);
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
    let transport =
        HttpTransport::new(&server.url(), 8, Duration::from_secs(20), clock.clone()).unwrap();
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
    let dir = temp_dir(&format!("exec-noalloc-{bybit}"));
    let (j, _) = Journal::open(
        &dir.join("orders.journal"),
        exec.names(),
        FsyncPolicy::Never,
    )
    .unwrap();
    exec.set_journal(j);
    if bybit {
        // 70 orders back to back: above Bybit's documented 10 orders/s, which the embedded
        // exchange does not enforce; this test proves the allocation-free path, not limits.
        exec.set_rate_limits(RateLimits::bybit_v5().with_order_limit(1_000, 1_000_000_000));
    }

    let mut seq = 0u64;
    let mut round_trip = |exec: &mut Executor| -> (u32, u32) {
        seq += 1;
        let it = OrderIntent {
            symbol: SymbolId(0),
            side: if seq % 2 == 1 { Side::Buy } else { Side::Sell },
            qty: d("0.016"),
            ref_price: 61800.3,
            reduce_only: seq % 2 == 0,
            case: Case::AcceleratingUp,
            client_seq: seq,
            tick_recv_ns: 0,
            decided_ns: 0,
            take_profit: (seq % 2 == 1).then(|| d("62000.07")),
            stop_loss: (seq % 2 == 1).then(|| d("61000.01")),
        };
        assert!(
            exec.submit(&it, now_ms(), |_| {}).is_none(),
            "sent to the venue"
        );
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
    for _ in 0..20 {
        assert_eq!(round_trip(&mut exec), (1, 1));
    }
    let (results, allocations) = counted(|| {
        (0..50)
            .map(|_| round_trip(&mut exec))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    assert_eq!(results, (50, 50), "every order filled over HTTP");
    if bybit {
        // Bybit acks before it fills: intent + ack + fill per order.
        assert_eq!(
            exec.stats().journal_records,
            210,
            "intent + ack + fill per order"
        );
        assert_eq!(exec.stats().requeries, 70, "one status query per order");
    } else {
        assert_eq!(exec.stats().journal_records, 140, "intent + fill per order");
    }
    assert_eq!(
        allocations, 0,
        "venue order path allocated {allocations} times"
    );
    drop(exec);
    std::fs::remove_dir_all(&dir).ok();
}
