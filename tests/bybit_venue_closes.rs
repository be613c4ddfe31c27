//! Bybit position TP/SL closes that cross the engine's next entry, end to end against the
//! embedded exchange with the private stream up: the venue's close is booked at its own
//! execution, in full and in the venue's order, whatever the engine booked meanwhile.
//!
//! The trade-heavy soak (`config/soak_heavy.toml`) met both: the venue's stop-loss sold the
//! long, then the engine's flip (sent before it knew) sold twice its position and opened a
//! short twice the size it booked. The executor capped the stream's close at the position it
//! had booked when the 250 ms claim window ended — by then the flip's fill made it short — and
//! dropped the close; and a close of the other side arriving before it was booked replaced it.
//! Each test fails on that code (the engine's position, fills and PnL differ from the
//! exchange's) and passes when every close is booked as the venue executed it.

mod common;

use calculus_trader::types::{AccountEvent, OrderOrigin, ReportStatus, Side};
use common::private::{stream_rig, StreamRig};
use common::rig::{intent, V};
use common::values::{d, now_ms};
use rust_decimal::Decimal;

const BTC: &str = "BTCUSDT";

/// Enters long 0.010 at 61800 with TP 62400 / SL 61200; returns once filled and the position
/// TP/SL is open at the venue.
fn enter_long(r: &mut StreamRig) {
    let mut it = intent(0, 1, Side::Buy, "0.010", false, 61800.0);
    it.set_exits(Some(d("62400.0")), Some(d("61200.0")));
    assert!(r.rig.submit(&it).is_none(), "sent to the venue");
    assert!(r.poll_until(|r| r.rig.report_of(1).is_some()));
    assert_eq!(r.rig.report_of(1).unwrap().status, ReportStatus::Filled);
    assert!(r.poll_until(|r| r.rig.exec.in_flight() == 0 && r.open_stops() == 2));
}

/// The engine's flip from the long it booked to a short of 0.010: a sell of 0.020 (not
/// reduce-only) with the short's TP 60000 / SL 61500.
fn flip_short(r: &mut StreamRig) {
    let mut it = intent(0, 2, Side::Sell, "0.020", false, 61200.0);
    it.set_exits(Some(d("60000.0")), Some(d("61500.0")));
    assert!(r.rig.submit(&it).is_none(), "sent to the venue");
}

/// The venue-side closes the stream delivered so far.
fn venue_closes(r: &StreamRig) -> usize {
    r.events
        .iter()
        .filter(|e| matches!(e, AccountEvent::Fill(f) if f.origin == OrderOrigin::VenueStop))
        .count()
}

/// Polls past the claim window until the engine holds what the exchange holds (bounded), then
/// asserts quantity, entry, realized PnL, fees and fill count equal.
fn assert_books_equal(r: &mut StreamRig, venue_qty: &str) {
    assert_eq!(r.rig.venue_qty(0), d(venue_qty), "the exchange's position");
    r.poll_for(std::time::Duration::from_millis(600));
    assert!(r.poll_until(|r| r.rig.exec.in_flight() == 0 && !r.rig.exec.stops_busy()));
    r.rig.assert_positions_identical();
}

#[test]
fn a_stop_close_before_the_engines_flip_is_booked_before_the_flips_fill() {
    let mut r = stream_rig(V::Bybit, &[BTC], &["61800.0"], "5");
    enter_long(&mut r);
    // The market falls through the stop-loss: the venue sells the long (slipped 5 bps).
    r.rig.ex.market.on_trade(BTC, d("61200.0"), now_ms());
    assert_eq!(r.rig.venue_qty(0), Decimal::ZERO);
    assert!(r.poll_until(|r| venue_closes(r) == 1), "the stream's close");
    // The engine, on the same trade, flips (it decided before it learnt of the close): the
    // venue opens a short of 0.020, not 0.010.
    flip_short(&mut r);
    assert!(r.poll_until(|r| r.rig.report_of(2).is_some()));
    assert_eq!(r.rig.report_of(2).unwrap().status, ReportStatus::Filled);
    assert_books_equal(&mut r, "-0.020");
    assert_eq!(r.rig.engine_qty(0), d("-0.020"));
}

#[test]
fn closes_of_both_sides_that_arrive_together_are_each_booked_in_full() {
    let mut r = stream_rig(V::Bybit, &[BTC], &["61800.0"], "5");
    enter_long(&mut r);
    r.rig.ex.market.on_trade(BTC, d("61200.0"), now_ms());
    // The flip goes out and is booked before the private stream is read at all.
    flip_short(&mut r);
    assert!(r
        .rig
        .poll_until(|r| r.report_of(2).is_some() && r.exec.in_flight() == 0));
    assert_eq!(r.rig.report_of(2).unwrap().status, ReportStatus::Filled);
    assert_eq!(r.rig.venue_qty(0), d("-0.020"));
    // The short's stop-loss buys the whole 0.020 back.
    r.rig.ex.market.on_trade(BTC, d("61500.0"), now_ms());
    assert_books_equal(&mut r, "0");
    assert_eq!(venue_closes(&r), 2, "both closes reached the stream");
    assert_eq!(r.rig.engine_qty(0), Decimal::ZERO);
}
