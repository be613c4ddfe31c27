//! Clock skew, both venues, over loopback: the embedded exchange's clock is shifted for an
//! order request ([`Fault::ClockSkew`]). Beyond the signed request's window (Binance:
//! `timestamp < serverTime + 1000` and `serverTime − timestamp ≤ recvWindow`, else -1021
//! "Timestamp for this request is outside of the recvWindow."; Bybit: `server − recv_window ≤
//! timestamp < server + 1000`, else retCode 10002) the venue refuses the order without acting:
//! the executor must take that as a final, known rejection (`venue_timestamp`), never as an
//! unknown outcome and never as a fill. Inside the window the order fills. Every test ends with
//! the engine's position equal to the exchange's to the last decimal (quantity, entry, cost,
//! realized PnL, fees, fill count).
//!
//! [`Fault::ClockSkew`]: calculus_trader::exchange::fault_plan::Fault::ClockSkew

mod common;

use std::sync::Arc;
use std::time::Duration;

use calculus_trader::exchange::fault_plan::FaultPlan;
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::types::{OrderIntent, Position, RejectReason, ReportStatus, Side};
use common::rig::{intent as order, rig_windowed, Rig, BOTH, V};
use common::values::d;

/// The signed requests' window, ms (both venues' documented default).
const RECV_WINDOW_MS: u64 = 5_000;

/// An exchange for venue `v` applying `plan` (TOML) to its requests, a BTCUSDT trade at 60 000,
/// and an executor signing with a [`RECV_WINDOW_MS`] window (replies time out after 2 s).
fn rig(v: V, plan: &str) -> Rig {
    rig_windowed(
        v,
        &["BTCUSDT"],
        &["60000.0"],
        RestOptions {
            faults: Some(Arc::new(FaultPlan::from_toml(plan).unwrap())),
            ..RestOptions::default()
        },
        1,
        Duration::from_secs(2),
        RECV_WINDOW_MS,
    )
}

/// A 0.010 BTC market entry, client sequence `seq`.
fn intent(seq: u64, side: Side) -> OrderIntent {
    order(0, seq, side, "0.010", false, 60_000.0)
}

/// Submits `it` and polls until nothing is in flight, booking every report.
fn trade(r: &mut Rig, it: &OrderIntent) {
    r.submit(it);
    r.settle();
}

fn timestamp_rejects(r: &Rig) -> usize {
    r.reports
        .iter()
        .filter(|x| x.status == ReportStatus::Rejected(RejectReason::VenueTimestamp))
        .count()
}

fn skew_plan(p: f64, ms: i64) -> String {
    format!(
        "seed = 3\n[[rule]]\np = {p}\non = [\"order\"]\nfault = {{ kind = \"clock_skew\", ms = {ms} }}\n"
    )
}

/// The exchange 10 s ahead (the request is older than the 5 s window) or 3 s behind (the
/// request is more than 1 s in the exchange's future): refused, final, nothing booked.
#[test]
fn an_order_outside_the_recv_window_is_a_final_timestamp_rejection_never_a_fill() {
    for v in BOTH {
        for ms in [10_000, -3_000] {
            let mut r = rig(v, &skew_plan(1.0, ms));
            trade(&mut r, &intent(1, Side::Buy));
            assert_eq!(r.reports.len(), 1, "{v:?} {ms}: {:?}", r.reports);
            assert_eq!(
                r.reports[0].status,
                ReportStatus::Rejected(RejectReason::VenueTimestamp),
                "{v:?} {ms}"
            );
            let c = r.exec.order_counters();
            assert_eq!((c.unknowns, c.fills, c.queries), (0, 0, 0), "{v:?} {ms}");
            assert_eq!(c.rejects, 1, "{v:?} {ms}");
            r.ex.server.venue().with(|m| {
                assert!(
                    m.orders().is_empty(),
                    "{v:?} {ms}: the venue placed nothing"
                );
            });
            assert_eq!(r.venue_position(0), Position::default());
            r.assert_positions_identical();
        }
    }
}

/// A skew inside the window (the exchange 2 s ahead, 0.5 s behind) is no fault: the order fills.
#[test]
fn an_order_skewed_within_the_recv_window_fills() {
    for v in BOTH {
        for ms in [2_000, -500] {
            let mut r = rig(v, &skew_plan(1.0, ms));
            trade(&mut r, &intent(1, Side::Sell));
            assert_eq!(r.reports.len(), 1, "{v:?} {ms}: {:?}", r.reports);
            assert_eq!(r.reports[0].status, ReportStatus::Filled, "{v:?} {ms}");
            assert_eq!(r.venue_position(0).qty, d("-0.010"), "{v:?} {ms}");
            r.assert_positions_identical();
        }
    }
}

/// Half the orders meet a skew beyond the window: each refused one is a timestamp rejection
/// the venue never placed, each other one a fill, and the positions stay equal throughout.
/// (Orders 150 ms apart: Bybit's documented 10 orders/s keeps the limiter out of the way.)
#[test]
fn a_mix_of_skewed_and_on_time_orders_keeps_positions_equal() {
    for v in BOTH {
        let mut r = rig(v, &skew_plan(0.5, 10_000));
        for seq in 1..=12u64 {
            let side = if seq % 3 == 0 { Side::Sell } else { Side::Buy };
            trade(&mut r, &intent(seq, side));
            r.assert_positions_identical();
            std::thread::sleep(Duration::from_millis(150));
        }
        let placed = r.ex.server.venue().with(|m| m.orders().len());
        let refused = timestamp_rejects(&r);
        assert_eq!(placed + refused, 12, "{v:?}: {:?}", r.reports);
        assert!(
            refused >= 2 && placed >= 2,
            "{v:?}: {refused} refused, {placed} placed"
        );
        assert!(
            r.reports.iter().all(|x| x.status == ReportStatus::Filled
                || x.status == ReportStatus::Rejected(RejectReason::VenueTimestamp)),
            "{v:?}: {:?}",
            r.reports
        );
        assert_eq!(r.exec.order_counters().unknowns, 0, "{v:?}");
        assert_eq!(r.engine.position(0).unwrap().fills, placed as u64);
    }
}
