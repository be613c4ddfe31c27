//! Rate limits from the venue's own headers, both venues, over loopback: the embedded exchange
//! reports usage as the venues do (Binance `X-MBX-ORDER-COUNT-10S` / `X-MBX-USED-WEIGHT-1M`,
//! Bybit `X-Bapi-Limit` / `X-Bapi-Limit-Status` / `X-Bapi-Limit-Reset-Timestamp`) and
//! `Retry-After` on a 429. The executor's limiter slows down when the venue says the account
//! is near its limit (another process used most of it), and a 429 with `Retry-After: N` holds
//! every request N seconds: an exit is held (never refused) and goes right after.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::exchange::fault_plan::{Fault, FaultPlan, RequestKind};
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::rate_limit::{Limit, RateLimits};
use calculus_trader::exec::Admit;
use calculus_trader::types::{RejectReason, ReportStatus, Side};
use common::rig::{intent, rig, Rig, BOTH, V};
use common::values::d;

const SEC: u64 = 1_000_000_000;
const PRICE: f64 = 60_000.0;

fn btc(v: V, rest: RestOptions) -> Rig {
    rig(
        v,
        &["BTCUSDT"],
        &["60000.0"],
        rest,
        2,
        Duration::from_secs(10),
    )
}

#[test]
fn usage_near_the_limit_in_the_venues_headers_slows_the_limiter_down() {
    for v in BOTH {
        // Another process of the account used 12 of 20 orders per 10 s; the exchange's headers
        // report them with ours.
        let mut r = btc(
            v,
            RestOptions {
                other_usage: 12,
                bybit_order_limit: 20,
                bybit_window: Duration::from_secs(10),
                ..RestOptions::default()
            },
        );
        r.exec.set_rate_limits(RateLimits {
            orders: [
                Some(Limit {
                    limit: 20,
                    len_ns: 10 * SEC,
                }),
                None,
            ],
            ..RateLimits::binance_usdm()
        });
        // Entries may use 16 of the 20 (20 % kept for exits). Counting only its own orders the
        // limiter would send 16; told by the first reply that 13 are used, it sends 3 more and
        // refuses the next (never waits for a rate window: the hot loop keeps reading the feed).
        let mut sent = 0;
        for seq in 1..=16 {
            let it = intent(0, seq, Side::Buy, "0.002", false, PRICE);
            r.exec.set_now_ns(r.clock.now_ns());
            assert_eq!(r.exec.admits(&it), Admit::Now, "{v:?}");
            if let Some(rep) = r.submit(&it) {
                assert_eq!(
                    rep.status,
                    ReportStatus::Rejected(RejectReason::Backpressure),
                    "{v:?}"
                );
                break;
            }
            r.settle();
            sent += 1;
        }
        assert_eq!(sent, 4, "{v:?}");
        assert_eq!(
            r.exec.stats().rejects[RejectReason::Backpressure.index()],
            1,
            "{v:?}"
        );
        assert_eq!(r.venue_qty(0), d("0.008"), "{v:?}");
        // The exit reserve is still there: the exit goes at once and closes the position.
        assert!(r
            .submit(&intent(0, 20, Side::Sell, "0.008", true, PRICE))
            .is_none());
        r.settle();
        assert_eq!(
            r.report_of(20).unwrap().status,
            ReportStatus::Filled,
            "{v:?}"
        );
        assert_eq!(r.venue_qty(0), d("0"), "{v:?}");
        r.assert_positions_equal();
    }
}

/// A plan whose second order request is answered 429 with `Retry-After: retry_s`.
fn second_order_throttled(retry_s: u32) -> FaultPlan {
    for seed in 0..10_000u64 {
        let text = format!(
            "seed = {seed}\n[[rule]]\np = 0.5\non = [\"order\"]\nfault = {{ kind = \"rate_limit\", status = 429, retry_after_s = {retry_s} }}\n"
        );
        let p = FaultPlan::from_toml(&text).unwrap();
        let f = |i| p.fault_for(i, RequestKind::Order);
        if f(0) == Fault::None && f(1) != Fault::None && f(2) == Fault::None {
            return p;
        }
    }
    panic!("no seed");
}

#[test]
fn a_429_retry_after_holds_an_exit_for_its_seconds_and_it_goes_right_after() {
    // Two seconds: longer than the 1 s back-off used without the header.
    const RETRY_S: u64 = 2;
    for v in BOTH {
        let mut r = btc(
            v,
            RestOptions {
                faults: Some(Arc::new(second_order_throttled(RETRY_S as u32))),
                ..RestOptions::default()
            },
        );
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.010", false, PRICE))
            .is_none());
        r.settle();
        assert_eq!(r.venue_qty(0), d("0.010"), "{v:?}");
        // The next entry is answered 429, Retry-After: 2.
        let before_429 = Instant::now();
        assert!(r
            .submit(&intent(0, 2, Side::Buy, "0.010", false, PRICE))
            .is_none());
        r.settle();
        assert!(
            matches!(r.report_of(2).unwrap().status, ReportStatus::Rejected(_)),
            "{v:?}: {:?}",
            r.reports
        );
        assert_eq!(r.exec.rate_counters().throttled, 1, "{v:?}");
        let answered = r.answered();
        // An exit now is held by the back-off, not refused and not sent.
        assert!(r
            .submit(&intent(0, 3, Side::Sell, "0.010", true, PRICE))
            .is_none());
        assert_eq!(r.exec.in_flight(), 1, "{v:?}: held");
        assert_eq!(r.exec.stats().exits_held, 1, "{v:?}");
        // Nothing reaches the venue until the back-off ends; then the exit is the first request.
        let mut first_request = None;
        let sent = r.poll_until(|r| {
            if first_request.is_none() && r.answered() > answered {
                first_request = Some(before_429.elapsed());
            }
            r.report_of(3).is_some()
        });
        assert!(sent, "{v:?}: the exit never went");
        let waited = first_request.expect("a request after the back-off");
        assert!(
            waited >= Duration::from_secs(RETRY_S),
            "{v:?}: a request {waited:?} after the 429 (Retry-After: {RETRY_S})"
        );
        assert_eq!(
            r.report_of(3).unwrap().status,
            ReportStatus::Filled,
            "{v:?}"
        );
        assert_eq!(
            r.ex.server
                .venue()
                .with(|m| m.received_client_ids().get("ct1-3").copied()),
            Some(1),
            "{v:?}: the held exit was sent once"
        );
        assert!(r.exec.rate_counters().waited[1] >= 1, "{v:?}: counted");
        r.settle();
        assert_eq!(r.venue_qty(0), d("0"), "{v:?}");
        r.assert_positions_equal();
    }
}
