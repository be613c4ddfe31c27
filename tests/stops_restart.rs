//! A position never stays without its venue-side stop across a restart: a process killed
//! between an entry's fill and its stop placement (Binance: the algo orders never sent), or a
//! stop cancelled at the venue while the trader was down (both venues), gets its stop back at
//! start-up from the levels the entry journaled (`RecordKind::Exits`); the engine's positions
//! then equal the venue's, through the stop firing and its survivor going.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::exchange::fault_plan::{Fault, FaultPlan, RequestKind};
use calculus_trader::exchange::orders::{OrderKind, OrderStatus, SimOrder};
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::journal::{FsyncPolicy, Journal, RecordKind, Replayed};
use calculus_trader::exec::order_state::TableConfig;
use calculus_trader::risk::config::ReconcilePolicy;
use calculus_trader::types::{ExecReport, ReportStatus, Side, SymbolId};
use common::files::temp_dir;
use common::recovery::recover;
use common::rig::{executor_on, intent, rig, Rig, V};
use common::values::{d, now_ms};
use rust_decimal::Decimal;

const BTC: &str = "BTCUSDT";

/// The exchange's open conditional orders of BTCUSDT.
fn open_stops(r: &Rig) -> Vec<SimOrder> {
    r.ex.server.venue().with(|m| {
        m.orders()
            .iter()
            .filter(|o| o.symbol == BTC && o.kind != OrderKind::Market)
            .filter(|o| o.status == OrderStatus::New)
            .cloned()
            .collect()
    })
}

/// `(take-profit, stop-loss)` triggers open at the venue, each closing the whole long.
fn venue_levels(r: &Rig) -> (Option<Decimal>, Option<Decimal>) {
    let o = open_stops(r);
    assert!(
        o.iter().all(|x| x.side == Side::Sell && x.close_position),
        "{o:?}"
    );
    let level = |k| o.iter().find(|x| x.kind == k).map(|x| x.stop_price);
    (
        level(OrderKind::TakeProfitMarket),
        level(OrderKind::StopMarket),
    )
}

/// A plan whose first order request is applied and never answered; the next two normally.
fn first_order_unanswered() -> FaultPlan {
    for seed in 0..10_000u64 {
        let text = format!(
            "seed = {seed}\n[[rule]]\np = 0.5\non = [\"order\"]\nfault = {{ kind = \"timeout\", applied = true }}\n"
        );
        let p = FaultPlan::from_toml(&text).unwrap();
        let f = |i| p.fault_for(i, RequestKind::Order);
        if f(0) != Fault::None && f(1) == Fault::None && f(2) == Fault::None {
            return p;
        }
    }
    panic!("no seed");
}

/// A rig whose executor journals to a fresh file (`faults` on the exchange); returns it and
/// the journal path.
fn journaled_rig(v: V, tag: &str, faults: Option<FaultPlan>) -> (Rig, std::path::PathBuf) {
    let mut r = rig(
        v,
        &[BTC],
        &["61800.0"],
        RestOptions {
            faults: faults.map(Arc::new),
            ..RestOptions::default()
        },
        1,
        Duration::from_secs(5),
    );
    let path = temp_dir(&format!("stops-restart-{tag}-{}", v.name())).join("orders.journal");
    let (j, _) = Journal::open(&path, &r.names, FsyncPolicy::Every).unwrap();
    r.exec.set_journal(j);
    (r, path)
}

/// Sends the entry (long 0.010, TP 62400, SL 61200; the exchange fills it and never answers)
/// and kills the trader once the venue holds the position: it never learnt of the fill, so it
/// never placed a stop.
fn enter_and_kill(r: &mut Rig, v: V) {
    let mut it = intent(0, 1, Side::Buy, "0.010", false, 61800.0);
    it.set_exits(Some(d("62400.0")), Some(d("61200.0")));
    assert!(r.submit(&it).is_none(), "sent to the venue");
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.venue_qty(0) != d("0.010") && Instant::now() < deadline {
        r.poll_once();
    }
    assert_eq!(r.venue_qty(0), d("0.010"), "the entry reached the venue");
    assert!(r.report_of(1).is_none(), "the trader never saw the fill");
    assert!(!r.exec.stops_busy());
    // The process dies: its executor (and journal lock) go; a new session starts.
    let names = r.names.clone();
    let specs = common::exchange::bundled_specs(v.name(), &[BTC]);
    let next = executor_on(
        &r.ex,
        v,
        (&names, &specs),
        2,
        (1, Duration::from_secs(5), 60_000),
        &r.clock,
    );
    drop(std::mem::replace(&mut r.exec, next));
}

/// Start-up of session 2 from the journal: recovery (the unfinished entry resolved at the
/// venue, stops adopted and re-placed), then the engine restored from the journaled fills as
/// the binary does. Returns the replayed journal.
/// `restores`: whether a stop is missing at the venue (re-placed) or the venue still holds
/// them.
fn restart(r: &mut Rig, path: &std::path::Path, restores: bool) -> Replayed {
    let (j, mut replayed) = Journal::open(path, &r.names, FsyncPolicy::Every).unwrap();
    let rep = recover(&mut r.exec, j, &mut replayed, ReconcilePolicy::Report);
    assert!(rep.mismatches.is_empty(), "{:?}", rep.mismatches);
    let want: &[&str] = if restores { &[BTC] } else { &[] };
    assert_eq!(rep.restored.restored, want, "{rep:?}");
    assert!(rep.restored.without_levels.is_empty(), "{rep:?}");
    r.exec
        .set_positions(replayed.positions.iter().map(|p| p.qty));
    for f in &replayed.fills {
        r.engine.on_report(&ExecReport {
            symbol: f.symbol,
            client_seq: f.seq,
            side: f.side,
            status: ReportStatus::Filled,
            price: f.price,
            qty: f.qty,
            fee: f.fee,
            at: calculus_trader::types::FillTime::of(f.venue_ms(), f.executed_ms()),
        });
    }
    replayed
}

/// Polls until no order and no stop request is in flight.
fn settle(r: &mut Rig) {
    assert!(r.poll_until(|r| r.exec.in_flight() == 0 && !r.exec.stops_busy()));
}

/// The stop fires; the engine's exit finds the position gone and books the venue's close; no
/// conditional order is left open; the engine equals the venue to the last decimal.
fn stop_fires_and_books_match(r: &mut Rig) {
    r.ex.market.on_trade(BTC, d("61200.0"), now_ms());
    assert_eq!(r.venue_qty(0), Decimal::ZERO);
    assert!(r
        .submit(&intent(0, 2, Side::Sell, "0.010", true, 61200.0))
        .is_none());
    settle(r);
    assert_eq!(r.report_of(2).unwrap().status, ReportStatus::Filled);
    assert_eq!(r.report_of(2).unwrap().price, d("61200.0"));
    assert!(open_stops(r).is_empty(), "{:?}", open_stops(r));
    r.assert_positions_identical();
}

#[test]
fn binance_kill_between_fill_and_stop_placement_is_reprotected_at_restart() {
    let (mut r, path) = journaled_rig(V::Binance, "kill", Some(first_order_unanswered()));
    enter_and_kill(&mut r, V::Binance);
    assert_eq!(venue_levels(&r), (None, None), "killed before any stop");
    // The journal holds the entry's levels although it never saw the fill.
    let (_, replayed) = Journal::open(&path, &r.names, FsyncPolicy::Never).unwrap();
    assert_eq!(replayed.exit_orders.len(), 1);
    assert_eq!(replayed.exit_orders[0].kind, RecordKind::Exits);
    drop(replayed);
    let before = r.answered();
    let replayed = restart(&mut r, &path, true);
    assert_eq!(replayed.position(0).qty, d("0.010"));
    // Both legs go out on the first poll: one round trip.
    assert!(r.exec.stops_busy());
    settle(&mut r);
    assert_eq!(venue_levels(&r), (Some(d("62400.0")), Some(d("61200.0"))));
    assert!(r.exec.stops_open(SymbolId(0)));
    // Start-up: order query, positions, open orders, open algo orders; then the two legs.
    assert_eq!(r.answered() - before, 6);
    r.assert_positions_identical();
    stop_fires_and_books_match(&mut r);
    // The surviving take-profit was cancelled by the engine (not expired by the venue).
    let tp = r.ex.server.venue().with(|m| {
        m.orders()
            .iter()
            .find(|o| o.kind == OrderKind::TakeProfitMarket)
            .map(|o| o.status)
    });
    assert_eq!(tp, Some(OrderStatus::Canceled));
}

#[test]
fn stops_cancelled_while_down_are_replaced_at_restart_on_both_venues() {
    for v in [V::Binance, V::Bybit] {
        let (mut r, path) = journaled_rig(v, "cancelled", None);
        let mut it = intent(0, 1, Side::Buy, "0.010", false, 61800.0);
        it.set_exits(Some(d("62400.0")), Some(d("61200.0")));
        assert!(r.submit(&it).is_none());
        settle(&mut r);
        assert_eq!(r.report_of(1).unwrap().status, ReportStatus::Filled);
        assert_eq!(venue_levels(&r), (Some(d("62400.0")), Some(d("61200.0"))));
        // Down: the operator cancels the stop-loss at the venue (the take-profit stays).
        r.ex.server.venue().with(|m| {
            let sl = m
                .orders()
                .iter()
                .find(|o| o.kind == OrderKind::StopMarket && o.status == OrderStatus::New)
                .map(|o| o.client_id.clone())
                .unwrap();
            m.cancel(BTC, &sl, now_ms()).unwrap();
        });
        assert_eq!(venue_levels(&r), (Some(d("62400.0")), None), "{v:?}");
        let names = r.names.clone();
        let specs = common::exchange::bundled_specs(v.name(), &[BTC]);
        let next = executor_on(
            &r.ex,
            v,
            (&names, &specs),
            2,
            (1, Duration::from_secs(5), 60_000),
            &r.clock,
        );
        drop(std::mem::replace(&mut r.exec, next));
        r.engine = calculus_trader::strategy::Engine::new(
            calculus_trader::strategy::StrategyParams::default(),
            &specs,
        );
        restart(&mut r, &path, true);
        settle(&mut r);
        // The journaled stop-loss is back; the take-profit was kept, not duplicated.
        assert_eq!(
            venue_levels(&r),
            (Some(d("62400.0")), Some(d("61200.0"))),
            "{v:?}"
        );
        assert_eq!(open_stops(&r).len(), 2, "{v:?}");
        r.assert_positions_identical();
        stop_fires_and_books_match(&mut r);
    }
}

#[test]
fn bybit_kill_after_the_fill_leaves_the_position_tp_sl_and_restart_keeps_them() {
    // Bybit's entry carries its TP/SL: the venue holds them from the fill on, kill or not.
    let (mut r, path) = journaled_rig(V::Bybit, "kill", Some(first_order_unanswered()));
    enter_and_kill(&mut r, V::Bybit);
    assert_eq!(venue_levels(&r), (Some(d("62400.0")), Some(d("61200.0"))));
    let replayed = restart(&mut r, &path, false);
    assert_eq!(replayed.position(0).qty, d("0.010"));
    assert_eq!(open_stops(&r).len(), 2, "nothing duplicated");
    r.assert_positions_identical();
    stop_fires_and_books_match(&mut r);
}

#[test]
fn binance_entry_found_filled_by_a_reconciliation_gets_its_stops() {
    // The entry's outcome stays unknown (HTTP 503 after filling, every status query rate
    // limited): only the venue's position settles it — and its stops follow.
    let text = "seed = 3\n[[rule]]\np = 1.0\non = [\"order\"]\nfault = { kind = \"http5xx_unknown\", filled = true }\n[[rule]]\np = 1.0\non = [\"query\"]\nfault = { kind = \"rate_limit\", status = 429, retry_after_s = 1 }\n";
    let mut r = rig(
        V::Binance,
        &[BTC],
        &["61800.0"],
        RestOptions {
            faults: Some(Arc::new(FaultPlan::from_toml(text).unwrap())),
            ..RestOptions::default()
        },
        1,
        Duration::from_secs(10),
    );
    let mut t = TableConfig::new(8, 1, 60_000);
    t.backoff.base_ns = 5_000_000;
    t.backoff.max_ns = 50_000_000;
    t.arrival_window_ns = 300_000_000;
    t.max_queries = 3;
    r.exec.set_order_config(t);
    let mut it = intent(0, 1, Side::Buy, "0.010", false, 61800.0);
    it.set_exits(Some(d("62400.0")), Some(d("61200.0")));
    assert!(r.submit(&it).is_none());
    settle(&mut r);
    assert!(r.exec.order_counters().reconciliations >= 1);
    assert_eq!(r.venue_qty(0), d("0.010"));
    assert_eq!(venue_levels(&r), (Some(d("62400.0")), Some(d("61200.0"))));
    assert!(r.exec.stops_open(SymbolId(0)));
    r.assert_positions_equal();
}

/// Start-up restores the strategy's position from the journal's fills with the venue times
/// journaled on them (`runtime::exec_setup::restore_engine`, as the binary does), so a fill
/// the venue executed before restored ones and booked after the restart (a stop that fired
/// while the trader was down, booked late) goes among them where the journal's replay puts
/// it: the strategy's position equals the replay's in every field. Restored without their
/// times, the stop books after the second long (entry the average of both longs).
#[test]
fn a_late_fill_after_a_restart_is_booked_among_the_restored_ones_in_the_venue_s_order() {
    use calculus_trader::runtime::exec_setup::restore_engine;
    use calculus_trader::strategy::{ComputeStage, Engine, StrategyParams};
    use calculus_trader::telemetry::Clock;
    use calculus_trader::types::FillTime;
    let names = vec![BTC.to_string()];
    let specs = common::exchange::bundled_specs("binance", &[BTC]);
    let path = temp_dir("late-after-restart").join("orders.journal");
    let t0 = now_ms();
    let session = calculus_trader::exec::journal::next_session(0, t0);
    let fill = |seq: u64, side: Side, px: &str, t: u64, exact: bool| {
        let mut r = calculus_trader::exec::journal::Record::new(
            RecordKind::Fill,
            SymbolId(0),
            side,
            session,
            seq,
        );
        (r.qty, r.price, r.fee) = (d("0.010"), d(px), d("0.2"));
        r.set_venue_ms(t, exact);
        r
    };
    // Before the restart: two longs of ours (the venue's stop between them went unseen).
    {
        let (mut j, _) = Journal::open(&path, &names, FsyncPolicy::Every).unwrap();
        j.append(&fill(1, Side::Buy, "62000.0", t0 + 10, false))
            .unwrap();
        j.append(&fill(2, Side::Buy, "61250.0", t0 + 30, false))
            .unwrap();
    }
    let (mut j, replayed) = Journal::open(&path, &names, FsyncPolicy::Every).unwrap();
    let engine = Engine::new(StrategyParams::default(), &specs);
    let mut compute = ComputeStage::new(engine, Clock::new());
    assert_eq!(restore_engine(&mut compute, &replayed), 2);
    // After it: the stop's own execution (t0 + 20), journaled and reported as the executor does.
    let stop = fill(0, Side::Sell, "61200.0", t0 + 20, true);
    j.append(&stop).unwrap();
    compute.on_report(&ExecReport {
        symbol: SymbolId(0),
        client_seq: 0,
        side: Side::Sell,
        status: ReportStatus::Filled,
        price: stop.price,
        qty: stop.qty,
        fee: stop.fee,
        at: FillTime::of(stop.venue_ms(), stop.executed_ms()),
    });
    drop(j);
    let (_j, after) = Journal::open(&path, &names, FsyncPolicy::Every).unwrap();
    let live = *compute.engine().position(0).unwrap();
    assert_eq!(live, after.position(0), "strategy vs journal replay");
    assert_eq!(live.entry, d("61250.0"), "the stop closed the first long");
    assert_eq!(compute.engine().stats().fills_rebooked, 1);
}
