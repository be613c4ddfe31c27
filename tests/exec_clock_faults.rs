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
use calculus_trader::exchange::RestExchange;
use calculus_trader::exec::order_state::TableConfig;
use calculus_trader::exec::{
    BinanceOrderBuilder, BinanceVenue, BybitVenue, ExecEvent, Executor, HttpTransport, OrderVenue,
    PaperVenue,
};
use calculus_trader::strategy::{Engine, StrategyParams};
use calculus_trader::telemetry::Clock;
use calculus_trader::types::{
    Case, ExecReport, OrderIntent, Position, RejectReason, ReportStatus, Side, SymbolId,
};
use common::exchange::{bundled_specs, start_with, Exchange, Options};
use common::values::{d, now_ms};

const FEE: &str = "0.0004";
const PRICE: &str = "60000.0";
/// The signed requests' window, ms (both venues' documented default).
const RECV_WINDOW_MS: u64 = 5_000;

#[derive(Clone, Copy, Debug)]
enum V {
    Binance,
    Bybit,
}

const BOTH: [V; 2] = [V::Binance, V::Bybit];

struct Rig {
    ex: Exchange,
    exec: Executor,
    engine: Engine,
    clock: Clock,
    reports: Vec<ExecReport>,
}

/// An exchange for venue `v` applying `plan` (TOML) to its requests, a trade at [`PRICE`], and
/// an executor signing with a [`RECV_WINDOW_MS`] window.
fn rig(v: V, plan: &str) -> Rig {
    let name = match v {
        V::Binance => "binance",
        V::Bybit => "bybit",
    };
    let inst = bundled_specs(name, &["BTCUSDT"])[0];
    let ex = start_with(
        vec![("BTCUSDT".to_string(), inst)],
        FEE,
        "0",
        Options {
            rest: RestOptions {
                faults: Some(Arc::new(FaultPlan::from_toml(plan).unwrap())),
                ..RestOptions::default()
            },
            ..Options::default()
        },
    );
    ex.market.on_trade("BTCUSDT", d(PRICE), now_ms());
    let server: &RestExchange = &ex.server;
    let c = server.credentials().clone();
    let host = server.addr().to_string();
    let ov = match v {
        V::Binance => {
            let b = BinanceOrderBuilder::new(
                &c.api_key,
                c.secret.as_bytes(),
                &host,
                RECV_WINDOW_MS,
                "ct1-",
            );
            OrderVenue::Binance(BinanceVenue::new(b))
        }
        V::Bybit => OrderVenue::Bybit(
            BybitVenue::new(
                &c.api_key,
                c.secret.as_bytes(),
                &host,
                RECV_WINDOW_MS,
                "ct1-",
            )
            .unwrap(),
        ),
    };
    let clock = Clock::new();
    let transport =
        HttpTransport::new(&server.url(), 8, Duration::from_secs(2), clock.clone()).unwrap();
    let mut exec = Executor::venue(
        vec![inst],
        vec!["BTCUSDT".into()],
        ov,
        transport,
        PaperVenue {
            taker_fee: d(FEE),
            slippage_bps: 0.0,
        },
        1,
        8,
    );
    let mut t = TableConfig::new(8, 1, RECV_WINDOW_MS);
    t.backoff.base_ns = 5_000_000;
    t.backoff.max_ns = 50_000_000;
    t.arrival_window_ns = 300_000_000;
    exec.set_order_config(t);
    let engine = Engine::new(StrategyParams::default(), &[inst]);
    Rig {
        ex,
        exec,
        engine,
        clock,
        reports: Vec::new(),
    }
}

fn intent(seq: u64, side: Side) -> OrderIntent {
    OrderIntent {
        symbol: SymbolId(0),
        side,
        qty: d("0.010"),
        ref_price: PRICE.parse().unwrap(),
        reduce_only: false,
        case: Case::AcceleratingUp,
        client_seq: seq,
        tick_recv_ns: 0,
        decided_ns: 0,
        take_profit: None,
        stop_loss: None,
    }
}

impl Rig {
    fn book(&mut self, r: ExecReport) {
        self.engine.on_report(&r);
        self.reports.push(r);
    }

    /// Submits `it` and polls until nothing is in flight, booking every report.
    fn trade(&mut self, it: &OrderIntent) {
        if let Some(r) = self.exec.submit(it, now_ms(), |_| {}) {
            self.book(r);
        }
        let deadline = self.clock.now_ns() + 20_000_000_000;
        while self.exec.in_flight() > 0 && self.clock.now_ns() < deadline {
            let mut got = Vec::new();
            self.exec.poll(
                self.clock.now_ns(),
                now_ms(),
                Some(Duration::from_millis(2)),
                |ev| {
                    if let ExecEvent::Report(r) = ev {
                        got.push(r);
                    }
                },
            );
            for r in got {
                self.book(r);
            }
        }
        assert_eq!(self.exec.in_flight(), 0, "orders still in flight");
    }

    fn venue_position(&self) -> Position {
        self.ex.server.venue().with(|m| m.position("BTCUSDT"))
    }

    /// The invariant: the engine holds exactly what the venue holds, to the last decimal.
    fn assert_positions_equal(&self) {
        assert_eq!(
            *self.engine.position(0).unwrap(),
            self.venue_position(),
            "engine vs exchange; reports {:?}",
            self.reports
        );
    }

    fn timestamp_rejects(&self) -> usize {
        self.reports
            .iter()
            .filter(|r| r.status == ReportStatus::Rejected(RejectReason::VenueTimestamp))
            .count()
    }
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
            r.trade(&intent(1, Side::Buy));
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
            assert_eq!(r.venue_position(), Position::default());
            r.assert_positions_equal();
        }
    }
}

/// A skew inside the window (the exchange 2 s ahead, 0.5 s behind) is no fault: the order fills.
#[test]
fn an_order_skewed_within_the_recv_window_fills() {
    for v in BOTH {
        for ms in [2_000, -500] {
            let mut r = rig(v, &skew_plan(1.0, ms));
            r.trade(&intent(1, Side::Sell));
            assert_eq!(r.reports.len(), 1, "{v:?} {ms}: {:?}", r.reports);
            assert_eq!(r.reports[0].status, ReportStatus::Filled, "{v:?} {ms}");
            assert_eq!(r.venue_position().qty, d("-0.010"), "{v:?} {ms}");
            r.assert_positions_equal();
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
            r.trade(&intent(seq, side));
            r.assert_positions_equal();
            std::thread::sleep(Duration::from_millis(150));
        }
        let placed = r.ex.server.venue().with(|m| m.orders().len());
        let refused = r.timestamp_rejects();
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
