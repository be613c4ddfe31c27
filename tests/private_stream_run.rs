//! The private streams connected end to end against the embedded exchange (both venues): a
//! venue-side stop and a liquidation are booked at the exchange's own execution price and fee
//! (the exchange slips 5 bps, so the trigger price would be wrong), the engine's positions,
//! balance and open stops equal the exchange's at the end; a dropped stream reconnects and
//! re-syncs over REST without losing or double-booking anything; a Bybit authentication
//! failure is reported as such.

mod common;

use std::time::Duration;

use calculus_trader::exchange::liquidation::force_liquidation;
use calculus_trader::exchange::orders::SimTrade;
use calculus_trader::runtime::private_stream::StreamState;
use calculus_trader::types::{AccountEvent, ReportStatus, Side};
use common::private::{fast_stream, stream, stream_rig, StreamRig};
use common::rig::{intent, BOTH, V};
use common::values::{d, now_ms};
use rust_decimal::Decimal;

const BTC: &str = "BTCUSDT";

/// Enters long `qty` at 61800 with TP 62400 / SL 61200; returns after the fill report and
/// once the venue-side stops are open.
fn enter(r: &mut StreamRig, seq: u64, qty: &str) {
    let mut it = intent(0, seq, Side::Buy, qty, false, 61800.0);
    it.set_exits(Some(d("62400.0")), Some(d("61200.0")));
    assert!(r.rig.submit(&it).is_none(), "sent to the venue");
    assert!(r.poll_until(|r| r.rig.report_of(seq).is_some()));
    assert_eq!(r.rig.report_of(seq).unwrap().status, ReportStatus::Filled);
    assert!(r.poll_until(|r| r.rig.exec.in_flight() == 0 && r.open_stops() == 2));
}

fn last_trade(r: &StreamRig) -> SimTrade {
    r.rig
        .ex
        .server
        .venue()
        .with(|m| m.trades().last().cloned().unwrap())
}

/// Positions (quantity, entry, realized PnL, fees), the balance they imply and the open stops
/// equal the exchange's.
fn assert_account_equal(r: &StreamRig) {
    r.rig.assert_positions_identical();
    let (balance, initial) = r.rig.ex.server.venue().with(|m| {
        let p = m.position(BTC);
        (m.balance(), m.balance() - p.realized + p.fees)
    });
    let p = r.rig.engine.position(0).unwrap();
    assert_eq!(initial + p.realized - p.fees, balance);
    assert_eq!(r.open_stops(), 0, "open stops at the venue");
}

/// A stop and then a liquidation at the exchange, each booked at the exchange's trade.
fn stop_and_liquidation(v: V) {
    let mut r = stream_rig(v, &[BTC], &["61800.0"], "5");
    enter(&mut r, 1, "0.010");
    // The market falls through the stop: the venue sells at 61200 less 5 bps of slippage.
    r.rig.ex.market.on_trade(BTC, d("61200.0"), now_ms());
    let sl = last_trade(&r);
    assert!(sl.price < d("61200.0"), "slipped: {}", sl.price);
    assert_eq!(r.rig.venue_qty(0), Decimal::ZERO);
    // The engine's own exit on the same trade is refused; it is booked at the venue's price.
    assert!(r
        .rig
        .submit(&intent(0, 2, Side::Sell, "0.010", true, 61200.0))
        .is_none());
    assert!(r.poll_until(|r| r.rig.report_of(2).is_some()));
    let rep = r.rig.report_of(2).unwrap();
    assert_eq!(rep.status, ReportStatus::Filled);
    assert_eq!(
        (rep.price, rep.qty, rep.fee),
        (sl.price, sl.qty, sl.commission)
    );
    assert!(r.poll_until(|r| r.rig.exec.in_flight() == 0 && !r.rig.exec.stops_busy()));
    assert_account_equal(&r);

    // A second position, liquidated between its levels: no exit of the engine's claims it,
    // the stream books it on its own at the liquidation's execution.
    r.rig.ex.market.on_trade(BTC, d("61800.0"), now_ms());
    enter(&mut r, 3, "0.020");
    r.rig.ex.market.on_trade(BTC, d("61500.0"), now_ms());
    let liq = r
        .rig
        .ex
        .server
        .venue()
        .with(|m| force_liquidation(m, BTC, now_ms()).unwrap().unwrap());
    let t = last_trade(&r);
    assert_eq!(t.order_id, liq.id);
    assert!(r.poll_until(|r| r.rig.engine_qty(0).is_zero()
        && r.rig.exec.in_flight() == 0
        && !r.rig.exec.stops_busy()));
    let booked = r.rig.reports.last().copied().unwrap();
    assert_eq!(
        booked.status,
        ReportStatus::Rejected(calculus_trader::types::RejectReason::Lost)
    );
    let fill = r.rig.reports[r.rig.reports.len() - 2];
    assert_eq!(
        (
            fill.status,
            fill.client_seq,
            fill.side,
            fill.price,
            fill.qty,
            fill.fee
        ),
        (
            ReportStatus::Filled,
            0,
            Side::Sell,
            t.price,
            t.qty,
            t.commission
        )
    );
    // Binance leaves closePosition algo orders after a liquidation: the executor cancels them.
    assert!(r.poll_until(|r| r.open_stops() == 0));
    assert_account_equal(&r);
    // Every execution reaches the stream (the engine may have learnt one first from a REST
    // read, so wait for the stream, bounded), none booked twice.
    let fills = |r: &StreamRig| {
        r.events
            .iter()
            .filter(|e| matches!(e, AccountEvent::Fill(_)))
            .count()
    };
    assert!(
        r.poll_until(|r| fills(r) >= 4),
        "{} fills on the stream",
        fills(&r)
    );
    // Two venue-side closes booked at the venue's price (one claimed by the engine's exit, one
    // on its own), no execution twice, the stream up (the operator's counters).
    assert_eq!(r.rig.exec.stream_counters(), (2, 0, true));
}

#[test]
fn binance_stop_and_liquidation_are_booked_at_the_exchange_price() {
    stop_and_liquidation(V::Binance);
}

#[test]
fn bybit_stop_and_liquidation_are_booked_at_the_exchange_price() {
    stop_and_liquidation(V::Bybit);
}

#[test]
fn a_dropped_stream_reconnects_and_resyncs_without_loss_or_double_booking() {
    for v in BOTH {
        let mut r = stream_rig(v, &[BTC], &["61800.0"], "5");
        enter(&mut r, 1, "0.010");
        let sessions = r.rig.ex.server.private_sessions();
        r.rig.ex.server.private_outage(true);
        assert!(r.poll_until(|r| !r.up), "{v:?}: the drop was not seen");
        // While the stream is down the stop triggers; the engine's refused exit is booked
        // from the venue's executions read over REST: at the stop's own price and fee (the
        // exchange slipped 5 bps past the 61200 trigger), not at the trigger price.
        r.rig.ex.market.on_trade(BTC, d("61200.0"), now_ms());
        let stop = last_trade(&r);
        assert!(stop.price < d("61200.0"), "{v:?}: slipped");
        assert!(r
            .rig
            .submit(&intent(0, 2, Side::Sell, "0.010", true, 61200.0))
            .is_none());
        assert!(r.poll_until(|r| r.rig.report_of(2).is_some()));
        let rep = r.rig.report_of(2).unwrap();
        assert_eq!(
            (rep.status, rep.qty, rep.price, rep.fee),
            (ReportStatus::Filled, stop.qty, stop.price, stop.commission),
            "{v:?}"
        );
        // A position opened and liquidated while the stream is still down: the re-sync after
        // the reconnect finds it gone.
        r.rig.ex.market.on_trade(BTC, d("61800.0"), now_ms());
        let mut it = intent(0, 3, Side::Buy, "0.010", false, 61800.0);
        it.set_exits(Some(d("62400.0")), Some(d("61200.0")));
        assert!(r.rig.submit(&it).is_none());
        assert!(r.poll_until(|r| r.rig.report_of(3).is_some() && r.rig.exec.in_flight() == 0));
        r.rig
            .ex
            .server
            .venue()
            .with(|m| force_liquidation(m, BTC, now_ms()).unwrap().unwrap());
        assert_eq!(r.rig.venue_qty(0), Decimal::ZERO);
        assert!(!r.up, "{v:?}: the outage holds the stream down");
        assert_eq!(r.rig.engine_qty(0), d("0.010"), "not learnt during the gap");
        r.rig.ex.server.private_outage(false);
        // Reconnect (backoff ≤ 200 ms), re-sync: flat, as the exchange.
        assert!(r.poll_until(|r| r.up), "{v:?}: no reconnect");
        let now_sessions = r.rig.ex.server.private_sessions();
        assert!(
            now_sessions > sessions,
            "{v:?}: sessions {sessions} then {now_sessions}"
        );
        assert!(r.poll_until(|r| r.rig.engine_qty(0).is_zero() && r.rig.exec.in_flight() == 0));
        r.poll_for(Duration::from_millis(400));
        r.rig.assert_positions_equal();
        // After the gap the stream books again at the venue's price, once.
        r.rig.ex.market.on_trade(BTC, d("61800.0"), now_ms());
        enter(&mut r, 4, "0.010");
        r.rig.ex.market.on_trade(BTC, d("62400.0"), now_ms());
        let tp = last_trade(&r);
        assert!(r
            .rig
            .submit(&intent(0, 5, Side::Sell, "0.010", true, 62400.0))
            .is_none());
        assert!(r.poll_until(|r| r.rig.report_of(5).is_some() && r.rig.exec.in_flight() == 0));
        assert_eq!(r.rig.report_of(5).unwrap().price, tp.price);
        r.poll_for(Duration::from_millis(400));
        r.rig.assert_positions_equal();
        assert_eq!(r.open_stops(), 0);
    }
}

#[test]
fn bybit_authentication_failure_is_reported_as_such() {
    let r = common::rig::rig(
        V::Bybit,
        &[BTC],
        &["61800.0"],
        Default::default(),
        1,
        Duration::from_secs(5),
    );
    let wrong = "0".repeat(64);
    let (mut s, _rx) = stream(&r.ex, V::Bybit, &r.names, &fast_stream(), Some(&wrong)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !matches!(s.state(), StreamState::AuthRefused(_)) && std::time::Instant::now() < deadline
    {
        s.step(Duration::from_millis(10));
    }
    assert_eq!(*s.state(), StreamState::AuthRefused("Invalid sign".into()));
    assert!(s.stats().auth_refused >= 1);
    assert_eq!(s.stats().resyncs, 0, "never up");
}

// ---------------------------------------------------------------------------------------------
// Whole runs (issue 14's first "done when"): specs changing mid-run, the account endpoints
// (clock, balance, leverage, margin mode) and the private stream on, venue-side stops and a
// liquidation; at the end the engine's positions, balance and the open stops equal the
// exchange's.

mod runs {
    use std::time::{Duration, Instant};

    use calculus_trader::exchange::liquidation::force_liquidation;
    use calculus_trader::exchange::orders::{OrderKind, OrderStatus};
    use calculus_trader::exec::Venue;
    use calculus_trader::runtime::{self, RunOptions, Shutdown};
    use calculus_trader::types::Instrument;
    use rust_decimal::Decimal;

    use super::common::exchange::{serve, Options};
    use super::common::files::temp_dir;
    use super::common::private::fast_stream;
    use super::common::runs::{assert_positions_equal, config, env_has_keys, listing, replay};
    use super::common::values::now_ms;

    fn run(venue: Venue) {
        let dir = temp_dir(&format!("private-run-{}", venue.name()));
        let replay = replay(venue, None, 100.0);
        let listed = listing(venue, &["BTCUSDT", "ETHUSDT"]);
        let rest = serve(
            &replay.stats().market,
            listed.clone(),
            "0.0004",
            "2",
            Options::default(),
        );
        let mut cfg = config(venue, &replay, &rest, &dir, &["BTCUSDT", "ETHUSDT"]);
        cfg.venue.specs.refresh_s = 0.1;
        cfg.exec.private_stream = fast_stream();
        // Tight levels: the tape crosses them, so venue-side stops trigger during the run.
        cfg.risk.exits.tp_fraction = 0.0009;
        cfg.risk.exits.sl_fraction = 0.0006;
        let eth = listed[1].1;
        // At the first ETHUSDT order: a tick ten times coarser (later stops and exits follow).
        let coarser = Instrument::new(
            eth.tick_size * Decimal::TEN,
            eth.qty_step,
            eth.min_qty,
            eth.max_market_qty,
            eth.min_notional,
        )
        .unwrap()
        .with_limits(eth.max_qty, None);
        let venue_m = rest.venue().clone();
        // The spec change, then a liquidation of the first BTCUSDT position the exchange holds.
        let faults = std::thread::spawn(move || {
            let t0 = Instant::now();
            let (mut changed, mut liquidated, mut seen, mut was_flat) = (false, None, 0, true);
            while t0.elapsed() < Duration::from_secs(30) && !(changed && liquidated.is_some()) {
                venue_m.with(|m| {
                    if !changed && m.orders().iter().any(|o| o.symbol == "ETHUSDT") {
                        changed = m.set_instrument("ETHUSDT", coarser);
                    }
                    let flat = m.position("BTCUSDT").qty.is_zero();
                    if was_flat && !flat {
                        seen += 1;
                    }
                    was_flat = flat;
                    if liquidated.is_none() && seen >= 1 && !flat {
                        liquidated = force_liquidation(m, "BTCUSDT", now_ms()).ok().flatten();
                        was_flat = true;
                    }
                });
                std::thread::sleep(Duration::from_millis(1));
            }
            (changed, liquidated.is_some())
        });
        let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
        let (changed, liquidated) = faults.join().unwrap();
        assert!(changed, "{venue:?}: ETHUSDT traded (spec changed)");
        assert!(liquidated, "{venue:?}: a BTCUSDT position was liquidated");
        assert_positions_equal(&r, &rest);
        rest.venue().with(|m| {
            // Balance: the exchange's wallet is its 10 000 USDT plus every fill's realized PnL
            // less fees; the engine booked the same fills at the same prices and fees.
            let ours: Decimal = (0..r.symbols.len())
                .map(|i| {
                    let p = r.engine.position(i).unwrap();
                    p.realized - p.fees
                })
                .sum();
            assert_eq!(
                Decimal::from(10_000) + ours,
                m.balance(),
                "{venue:?}: engine balance vs exchange"
            );
            // Stops: a flat symbol has none open at the venue; a held one is covered.
            for (name, p, _) in m.positions() {
                let open = m
                    .orders()
                    .iter()
                    .filter(|o| {
                        o.symbol == name
                            && o.kind != OrderKind::Market
                            && o.status == OrderStatus::New
                    })
                    .count();
                let held = !p.qty.is_zero();
                assert!(
                    (held && open == 2) || (!held && open == 0),
                    "{venue:?} {name}: position {} with {open} open stop(s)",
                    p.qty
                );
            }
            let venue_closes = m
                .orders()
                .iter()
                .filter(|o| o.kind != OrderKind::Market && o.status == OrderStatus::Filled)
                .count();
            eprintln!(
                "{venue:?}: {} orders, {venue_closes} venue-side stop fills",
                m.orders().len()
            );
        });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn binance_run_ends_equal_to_the_exchange() {
        if !env_has_keys() {
            run(Venue::Binance);
        }
    }

    #[test]
    fn bybit_run_ends_equal_to_the_exchange() {
        if !env_has_keys() {
            run(Venue::Bybit);
        }
    }
}
