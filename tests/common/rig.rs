//! A venue executor on order lanes against the embedded exchange, for either venue and several
//! symbols, with an engine booking its reports: the positions the engine believes can be
//! compared with the exchange's at the end of every test.

use std::sync::atomic::Ordering;
use std::time::Duration;

use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::order_state::TableConfig;
use calculus_trader::exec::{
    BinanceOrderBuilder, BinanceVenue, BybitVenue, ExecEvent, Executor, LaneConfig, OrderLanes,
    OrderVenue, PaperVenue,
};
use calculus_trader::strategy::{Engine, StrategyParams};
use calculus_trader::telemetry::Clock;
use calculus_trader::types::{
    Case, ExecReport, Instrument, IntentFields, OrderIntent, Position, Side, SymbolId,
};
use rust_decimal::Decimal;

use super::exchange::{bundled_specs, start_with, Exchange, Options};
use super::values::{d, now_ms};

/// Taker fee of the exchange and the executor.
pub const FEE: &str = "0.0004";

/// The venue whose wire format the executor speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V {
    /// Binance USD-M.
    Binance,
    /// Bybit v5.
    Bybit,
}

/// Both venues.
pub const BOTH: [V; 2] = [V::Binance, V::Bybit];

impl V {
    /// The venue.
    pub fn venue(self) -> calculus_trader::venue::Venue {
        match self {
            V::Binance => calculus_trader::venue::Venue::Binance,
            V::Bybit => calculus_trader::venue::Venue::Bybit,
        }
    }

    /// Name in the bundled specs file.
    pub fn name(self) -> &'static str {
        match self {
            V::Binance => "binance",
            V::Bybit => "bybit",
        }
    }
}

/// An exchange, an executor trading on it over order lanes, and an engine booking its reports.
pub struct Rig {
    /// The embedded exchange (market state and REST server).
    pub ex: Exchange,
    /// The executor under test.
    pub exec: Executor,
    /// Books every report (positions as the trader believes them).
    pub engine: Engine,
    /// The executor's clock.
    pub clock: Clock,
    /// Every report, in arrival order.
    pub reports: Vec<ExecReport>,
    /// Symbol names in id order.
    pub names: Vec<String>,
}

/// Starts an exchange listing `names` (venue `v`'s bundled specs) with server options `rest`,
/// a trade of each at `prices`, and an executor on order lanes (`entry_connections` entry
/// connections, two exit, one query) whose replies time out after `timeout`; status queries
/// back off from 5 ms.
pub fn rig(
    v: V,
    names: &[&str],
    prices: &[&str],
    rest: RestOptions,
    entry_connections: usize,
    timeout: Duration,
) -> Rig {
    rig_windowed(v, names, prices, rest, entry_connections, timeout, 60_000)
}

/// [`rig`] with the signed requests' receive window `recv_window_ms` (the order table's
/// arrival window follows it).
pub fn rig_windowed(
    v: V,
    names: &[&str],
    prices: &[&str],
    rest: RestOptions,
    entry_connections: usize,
    timeout: Duration,
    recv_window_ms: u64,
) -> Rig {
    rig_with(
        v,
        names,
        prices,
        rest,
        (entry_connections, timeout, recv_window_ms),
        "0",
    )
}

/// [`rig_windowed`] with the exchange's slippage `slippage_bps` (exact decimal string): its
/// fills then differ from the trigger and trade prices.
pub fn rig_with(
    v: V,
    names: &[&str],
    prices: &[&str],
    rest: RestOptions,
    (entry_connections, timeout, recv_window_ms): (usize, Duration, u64),
    slippage_bps: &str,
) -> Rig {
    let specs = bundled_specs(v.name(), names);
    let listed: Vec<_> = names
        .iter()
        .map(|s| s.to_string())
        .zip(specs.clone())
        .collect();
    let ex = start_with(
        listed,
        FEE,
        slippage_bps,
        Options {
            rest,
            ..Options::default()
        },
    );
    for (n, p) in names.iter().zip(prices) {
        ex.market.on_trade(n, d(p), now_ms());
    }
    let clock = Clock::new();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let exec = executor_on(
        &ex,
        v,
        (&names, &specs),
        1,
        (entry_connections, timeout, recv_window_ms),
        &clock,
    );
    Rig {
        ex,
        exec,
        engine: Engine::new(StrategyParams::default(), &specs),
        clock,
        reports: Vec::new(),
        names,
    }
}

/// A venue executor of session `session` (client ids `ct<session>-…`) speaking `v` to the
/// running exchange `ex`, for `names` with `specs`, on order lanes (`entry_connections` entry
/// connections, replies timing out after `timeout`, `recv_window_ms`); status queries back off
/// from 5 ms. A second one on the same exchange is a restarted trader.
pub fn executor_on(
    ex: &Exchange,
    v: V,
    (names, specs): (&[String], &[Instrument]),
    session: u32,
    (entry_connections, timeout, recv_window_ms): (usize, Duration, u64),
    clock: &Clock,
) -> Executor {
    let c = ex.server.credentials().clone();
    let host = ex.server.addr().to_string();
    let prefix = format!("ct{session}-");
    let ov = match v {
        V::Binance => {
            let b = BinanceOrderBuilder::new(
                &c.api_key,
                c.secret.as_bytes(),
                &host,
                recv_window_ms,
                &prefix,
            );
            OrderVenue::Binance(BinanceVenue::new(b))
        }
        V::Bybit => OrderVenue::Bybit(
            BybitVenue::new(
                &c.api_key,
                c.secret.as_bytes(),
                &host,
                recv_window_ms,
                &prefix,
            )
            .unwrap(),
        ),
    };
    let lanes = OrderLanes::new(
        &ex.server.url(),
        LaneConfig::new(entry_connections, 8),
        timeout,
        clock.clone(),
        None,
    )
    .unwrap();
    let mut exec = Executor::venue(
        specs.to_vec(),
        names.to_vec(),
        ov,
        lanes,
        PaperVenue {
            taker_fee: d(FEE),
            slippage_bps: 0.0,
        },
        session,
        8,
    );
    let mut t = TableConfig::new(8, names.len(), recv_window_ms);
    t.backoff.base_ns = 5_000_000;
    t.backoff.max_ns = 50_000_000;
    t.arrival_window_ns = 300_000_000;
    exec.set_order_config(t);
    exec
}

/// An intent for symbol `symbol` with client sequence `seq`, priced at `price`.
pub fn intent(
    symbol: u16,
    seq: u64,
    side: Side,
    qty: &str,
    reduce_only: bool,
    price: f64,
) -> OrderIntent {
    OrderIntent::new(IntentFields {
        symbol: SymbolId(symbol),
        side,
        qty: d(qty),
        ref_price: price,
        reduce_only,
        case: Case::AcceleratingUp,
        client_seq: seq,
        tick_recv_ns: 0,
        decided_ns: 0,
        take_profit: None,
        stop_loss: None,
    })
}

impl Rig {
    fn book(&mut self, r: ExecReport) {
        self.engine.on_report(&r);
        self.reports.push(r);
    }

    /// Applies private-stream event `ev` (`None`: none) and the stream's timers at the clock's
    /// now, booking every report, as the execution stage does between polls.
    pub fn stream_event(&mut self, ev: Option<calculus_trader::types::AccountEvent>) {
        let now = self.clock.now_ns();
        let mut got = Vec::new();
        let mut on = |e: ExecEvent| {
            if let ExecEvent::Report(x) = e {
                got.push(x);
            }
        };
        if let Some(ev) = ev {
            self.exec.on_account_event(&ev, now, &mut on);
        }
        self.exec.stream_timers(now, &mut on);
        for x in got {
            self.book(x);
        }
    }

    /// Venue time for request stamps: local Unix ms plus the executor's venue clock offset
    /// (0 until an account client measured it), as the execution stage stamps them.
    pub fn venue_ms(&self) -> u64 {
        self.exec.venue_clock().venue_ms(now_ms())
    }

    /// Submits `it` at the clock's now; a local report is booked at once.
    pub fn submit(&mut self, it: &OrderIntent) -> Option<ExecReport> {
        self.exec.set_now_ns(self.clock.now_ns());
        let r = self.exec.submit(it, self.venue_ms(), |_| {});
        if let Some(r) = r {
            self.book(r);
        }
        r
    }

    /// One poll (waiting up to 2 ms), booking every report.
    pub fn poll_once(&mut self) {
        let mut got = Vec::new();
        let ts = self.venue_ms();
        self.exec.poll(
            self.clock.now_ns(),
            ts,
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

    /// Polls until `done` holds (bounded: 30 s); returns whether it did.
    pub fn poll_until(&mut self, mut done: impl FnMut(&Rig) -> bool) -> bool {
        let deadline = self.clock.now_ns() + 30_000_000_000;
        while !done(self) && self.clock.now_ns() < deadline {
            self.poll_once();
        }
        done(self)
    }

    /// Polls until nothing is in flight (bounded wait), booking every report.
    pub fn settle(&mut self) {
        assert!(
            self.poll_until(|r| r.exec.in_flight() == 0),
            "orders still in flight"
        );
    }

    /// The first report of order `seq`, if any.
    pub fn report_of(&self, seq: u64) -> Option<ExecReport> {
        self.reports.iter().copied().find(|r| r.client_seq == seq)
    }

    /// Requests the exchange answered so far.
    pub fn answered(&self) -> u64 {
        self.ex.server.stats().requests.load(Ordering::Relaxed)
    }

    /// The exchange's position of symbol `i`.
    pub fn venue_qty(&self, i: usize) -> Decimal {
        self.ex
            .server
            .venue()
            .with(|m| m.position(&self.names[i]).qty)
    }

    /// The engine's (booked) position of symbol `i`.
    pub fn engine_qty(&self, i: usize) -> Decimal {
        self.engine.position(i).unwrap().qty
    }

    /// The exchange's whole position of symbol `i` (quantity, entry, cost, realized PnL, fees,
    /// fill count).
    pub fn venue_position(&self, i: usize) -> Position {
        self.ex.server.venue().with(|m| m.position(&self.names[i]))
    }

    /// Stronger than [`Rig::assert_positions_equal`]: the engine's whole position of every
    /// symbol equals the exchange's, to the last decimal of every field.
    pub fn assert_positions_identical(&self) {
        for i in 0..self.names.len() {
            assert_eq!(
                *self.engine.position(i).unwrap(),
                self.venue_position(i),
                "{}: engine vs exchange; reports {:?}",
                self.names[i],
                self.reports
            );
        }
    }

    /// The invariant of every test: the engine holds exactly what the venue holds.
    pub fn assert_positions_equal(&self) {
        for i in 0..self.names.len() {
            assert_eq!(
                self.engine_qty(i),
                self.venue_qty(i),
                "{}: engine vs exchange; reports {:?}",
                self.names[i],
                self.reports
            );
        }
    }
}
