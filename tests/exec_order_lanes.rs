//! Order lanes wired into the executor, both venues, over loopback: an exit goes out on its
//! own connection and fills while an entry's reply hangs at the exchange (the embedded
//! exchange's `Hang` fault); an entry waiting in its lane behind an order whose outcome turns
//! unknown is taken back, never sent. Every test ends with the engine's positions equal to the
//! exchange's.

mod common;

use std::sync::Arc;
use std::time::Duration;

use calculus_trader::exchange::fault_plan::{Fault, FaultPlan, RequestKind};
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::types::{ReportStatus, Side};
use common::rig::{intent, rig, BOTH};
use common::values::d;

/// Reply delay of the hung entry, ms: the exit behind it must be sent, filled and reported
/// within it (milliseconds; generous for a loaded 2-core host).
const HANG_MS: u32 = 4_000;

/// A plan whose order requests 0 and 2 are answered at once and request 1 hangs.
fn second_order_hangs() -> FaultPlan {
    for seed in 0..10_000u64 {
        let text = format!(
            "seed = {seed}\n[[rule]]\np = 0.5\non = [\"order\"]\nfault = {{ kind = \"hang\", ms = {HANG_MS} }}\n"
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
fn an_exit_fills_while_an_entry_reply_hangs() {
    for v in BOTH {
        let mut r = rig(
            v,
            &["BTCUSDT", "ETHUSDT"],
            &["60000.0", "2500.00"],
            RestOptions {
                faults: Some(Arc::new(second_order_hangs())),
                ..RestOptions::default()
            },
            1,
            Duration::from_secs(10),
        );
        // A BTC long, filled.
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.010", false, 60_000.0))
            .is_none());
        r.settle();
        assert_eq!(r.venue_qty(0), d("0.010"), "{v:?}");
        // An ETH entry whose reply hangs at the exchange (it fills there at once)...
        assert!(r
            .submit(&intent(1, 2, Side::Buy, "0.100", false, 2500.0))
            .is_none());
        // The exchange numbers order requests as they arrive and hangs the second: the exit
        // goes only once the entry has arrived (the venue applies it before the reply hangs),
        // or on a loaded host the exit's connection can reach the exchange first and hang.
        assert!(
            r.poll_until(|r| r.venue_qty(1) == d("0.100")),
            "{v:?}: the entry never reached the exchange"
        );
        // ...does not hold the BTC exit: it goes out on the exit lane and fills.
        assert!(r
            .submit(&intent(0, 3, Side::Sell, "0.010", true, 60_000.0))
            .is_none());
        assert!(
            r.poll_until(|r| r.report_of(3).is_some()),
            "{v:?}: no exit report"
        );
        assert_eq!(
            r.report_of(3).unwrap().status,
            ReportStatus::Filled,
            "{v:?}: {:?}",
            r.reports
        );
        assert_eq!(
            r.report_of(2),
            None,
            "{v:?}: the exit filled while the entry's reply still hung"
        );
        assert_eq!(r.venue_qty(0), d("0"), "{v:?}");
        assert_eq!(r.engine_qty(0), d("0"), "{v:?}");
        // The entry's reply comes in the end; both books agree.
        r.settle();
        assert_eq!(
            r.report_of(2).unwrap().status,
            ReportStatus::Filled,
            "{v:?}"
        );
        assert_eq!(r.venue_qty(1), d("0.100"), "{v:?}");
        r.assert_positions_equal();
        let lanes = r.exec.lanes().unwrap();
        assert_eq!(lanes.lane_stats(calculus_trader::exec::Lane::Exit).sent, 1);
        assert_eq!(lanes.lane_stats(calculus_trader::exec::Lane::Entry).sent, 2);
    }
}

/// A plan whose first order request is answered and whose second is applied, then its
/// connection reset without a reply.
fn second_order_reset() -> FaultPlan {
    for seed in 0..10_000u64 {
        let text = format!(
            "seed = {seed}\n[[rule]]\np = 0.5\non = [\"order\"]\nfault = {{ kind = \"reset_after_read\", applied = true }}\n"
        );
        let p = FaultPlan::from_toml(&text).unwrap();
        let f = |i| p.fault_for(i, RequestKind::Order);
        if f(0) == Fault::None && f(1) != Fault::None {
            return p;
        }
    }
    panic!("no seed");
}

#[test]
fn an_entry_waiting_behind_an_order_that_turns_unknown_is_taken_back_not_sent() {
    for v in BOTH {
        let mut r = rig(
            v,
            &["BTCUSDT"],
            &["60000.0"],
            RestOptions {
                faults: Some(Arc::new(second_order_reset())),
                ..RestOptions::default()
            },
            2,
            Duration::from_secs(10),
        );
        assert!(r
            .submit(&intent(0, 1, Side::Buy, "0.010", false, 60_000.0))
            .is_none());
        r.settle();
        // The exit is applied at the exchange, then its connection is reset: unknown outcome.
        assert!(r
            .submit(&intent(0, 2, Side::Sell, "0.010", true, 60_000.0))
            .is_none());
        // A new entry of the same symbol waits in its lane behind the exit...
        assert!(r
            .submit(&intent(0, 3, Side::Buy, "0.010", false, 60_000.0))
            .is_none());
        // ...and is taken back once the exit's outcome is unknown.
        r.settle();
        assert!(
            matches!(r.report_of(3).unwrap().status, ReportStatus::Rejected(_)),
            "{v:?}: {:?}",
            r.reports
        );
        assert_eq!(
            r.ex.server
                .venue()
                .with(|m| m.received_client_ids().get("ct1-3").copied()),
            None,
            "{v:?}: the entry never reached the venue"
        );
        assert!(r.exec.order_counters().unknowns >= 1, "{v:?}");
        assert_eq!(r.venue_qty(0), d("0"), "{v:?}: the exit was applied");
        r.assert_positions_equal();
    }
}
