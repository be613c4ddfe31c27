//! The stage code that both topologies run: feed (socket → ticks), compute (tick → intent) and
//! execution (intent → signed request → fill). Each stage records its own latencies.

use std::time::Duration;

use crate::exec::{ExecEvent, ExecReport, Executor, RejectReason};
use crate::feed::binance::{BinanceEvent, BinanceParser, ParseError};
use crate::feed::ws::{WsClient, WsError, WsStatus};
use crate::feed::{SymbolTable, Tick};
use crate::strategy::{Engine, OrderIntent};
use crate::telemetry::{Clock, Counter, CounterSet, Stage, StageHistograms};

/// Network stage: reads frames, parses them, hands ticks on.
pub struct FeedStage {
    ws: WsClient,
    parser: BinanceParser,
    symbols: SymbolTable,
    clock: Clock,
    counts: CounterSet,
}

impl FeedStage {
    /// A feed over an open connection.
    pub fn new(ws: WsClient, symbols: SymbolTable, clock: Clock) -> Self {
        Self {
            ws,
            parser: BinanceParser::new(),
            symbols,
            clock,
            counts: CounterSet::default(),
        }
    }

    /// Reads what the socket has (waiting up to `timeout`, see [`WsClient::poll_frames`]),
    /// parses every frame and calls `on_tick` for each trade. Records `parse` (frame complete →
    /// tick built). Returns the number of ticks and whether the connection is still open.
    #[inline]
    pub fn poll<F: FnMut(&Tick, &mut StageHistograms)>(
        &mut self,
        timeout: Option<Duration>,
        hists: &mut StageHistograms,
        mut on_tick: F,
    ) -> Result<(u64, WsStatus), WsError> {
        let Self {
            ws,
            parser,
            symbols,
            clock,
            counts,
        } = self;
        let mut ticks = 0;
        let status = ws.poll_frames(timeout, |frame, recv_ns| {
            let t0 = clock.now_ns();
            counts.add(Counter::Frames, 1);
            match parser.parse(frame, symbols) {
                Ok(BinanceEvent::Trade(mut t)) => {
                    let t1 = clock.now_ns();
                    t.recv_ns = recv_ns;
                    t.parsed_ns = t1;
                    hists.record(Stage::Parse, t1.saturating_sub(t0));
                    counts.add(Counter::Ticks, 1);
                    ticks += 1;
                    on_tick(&t, hists);
                }
                Ok(BinanceEvent::Ack { .. }) => counts.add(Counter::VenueAcks, 1),
                Ok(BinanceEvent::Error { .. }) => counts.add(Counter::VenueErrors, 1),
                Ok(BinanceEvent::Other) => {}
                Err(e) => counts.add(parse_counter(e), 1),
            }
        })?;
        Ok((ticks, status))
    }

    /// Sends a text frame (subscriptions).
    pub fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.ws.send_text(text)
    }

    /// Starts a clean close of the connection.
    pub fn close(&mut self) {
        self.ws.close();
    }

    /// This stage's counters.
    pub fn counters(&self) -> &CounterSet {
        &self.counts
    }
}

fn parse_counter(e: ParseError) -> Counter {
    match e {
        ParseError::Json => Counter::RejectJson,
        ParseError::MissingField(_) => Counter::RejectMissingField,
        ParseError::BadNumber(_) => Counter::RejectBadNumber,
        ParseError::NonPositive => Counter::RejectNonPositive,
        ParseError::UnknownSymbol => Counter::RejectUnknownSymbol,
    }
}

/// Compute stage: the strategy engine plus its timing.
pub struct ComputeStage {
    engine: Engine,
    clock: Clock,
}

impl ComputeStage {
    /// Wraps an engine.
    pub fn new(engine: Engine, clock: Clock) -> Self {
        Self { engine, clock }
    }

    /// Runs the models and the decision on `t`; `start_ns` is when compute got the tick.
    /// Records `compute`; stamps `decided_ns` on the intent.
    #[inline]
    pub fn on_tick(
        &mut self,
        t: &Tick,
        start_ns: u64,
        hists: &mut StageHistograms,
    ) -> Option<OrderIntent> {
        let intent = self.engine.on_tick(t);
        let end = self.clock.now_ns();
        hists.record(Stage::Compute, end.saturating_sub(start_ns));
        intent.map(|mut i| {
            i.decided_ns = end;
            i
        })
    }

    /// Applies an execution report to the positions.
    #[inline]
    pub fn on_report(&mut self, r: &ExecReport) {
        self.engine.on_report(r);
    }

    /// Writes this stage's counter totals.
    pub fn fill_counters(&self, c: &mut CounterSet) {
        let s = self.engine.stats();
        c.set(Counter::Signals, s.signals);
        c.set(Counter::Intents, s.intents);
        c.set(Counter::BlockedCooldown, s.blocked_cooldown);
        c.set(
            Counter::FilteredMinQty,
            s.filtered[RejectReason::BelowMinQty.index()],
        );
        c.set(
            Counter::FilteredMinNotional,
            s.filtered[RejectReason::BelowMinNotional.index()],
        );
        c.set(
            Counter::FilteredMaxQty,
            s.filtered[RejectReason::AboveMaxQty.index()],
        );
    }

    /// The engine (positions, stats), e.g. for the final report.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Gives the engine back.
    pub fn into_engine(self) -> Engine {
        self.engine
    }
}

/// Unix ms from the system clock, for request timestamps the venue checks against its
/// recvWindow. `SystemTime::now` is a vDSO read (no syscall with the TSC clocksource); the TSC
/// mapping of [`WallClock`] drifts with calibration error (seconds over a loaded run), which a
/// venue rejects (-1021).
#[inline]
fn venue_time_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Execution stage: executor plus its timing.
pub struct ExecStage {
    exec: Executor,
    clock: Clock,
    drain_timeout: Duration,
}

impl ExecStage {
    /// Wraps an executor (5 s end-of-run drain, see [`ExecStage::with_drain_timeout`]).
    pub fn new(exec: Executor, clock: Clock) -> Self {
        Self {
            exec,
            clock,
            drain_timeout: Duration::from_secs(5),
        }
    }

    /// At the end of a run, wait at most `d` for replies to orders in flight.
    pub fn with_drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
        self
    }

    /// Submits `it`; `start_ns` is when execution got it. Records `sign` (start → signed bytes
    /// ready) and `tick_to_order` (socket receive → signed bytes ready). Returns a report at
    /// once for local rejections and paper fills; venue replies come from [`ExecStage::poll`].
    #[inline]
    pub fn on_intent(
        &mut self,
        it: &OrderIntent,
        start_ns: u64,
        hists: &mut StageHistograms,
    ) -> Option<ExecReport> {
        let ts_ms = venue_time_ms();
        let clock = &self.clock;
        self.exec.submit(it, ts_ms, |_signed| {
            let t = clock.now_ns();
            hists.record(Stage::Sign, t.saturating_sub(start_ns));
            hists.record(Stage::TickToOrder, t.saturating_sub(it.tick_recv_ns));
        })
    }

    /// Polls the venue transport (waiting up to `timeout` only if nothing progressed); each
    /// fill or rejection goes to `on_report`, each reply's `order_rtt` to the histograms.
    /// Returns the number of transport events.
    #[inline]
    pub fn poll<F: FnMut(&ExecReport)>(
        &mut self,
        timeout: Option<Duration>,
        hists: &mut StageHistograms,
        mut on_report: F,
    ) -> usize {
        if self.exec.in_flight() == 0 {
            return 0;
        }
        let now = self.clock.now_ns();
        self.exec
            .poll(now, venue_time_ms(), timeout, |ev| match ev {
                ExecEvent::Report(r) => on_report(&r),
                ExecEvent::Rtt(ns) => hists.record(Stage::OrderRtt, ns),
            })
    }

    /// Orders in flight.
    #[inline]
    pub fn in_flight(&self) -> usize {
        self.exec.in_flight()
    }

    /// The end-of-run drain limit.
    pub fn drain_timeout(&self) -> Duration {
        self.drain_timeout
    }

    /// Polls until no order is in flight or the drain timeout passes (end of run).
    pub fn drain<F: FnMut(&ExecReport)>(&mut self, hists: &mut StageHistograms, mut on_report: F) {
        let deadline = std::time::Instant::now() + self.drain_timeout;
        while self.in_flight() > 0 && std::time::Instant::now() < deadline {
            self.poll(Some(Duration::from_millis(1)), hists, &mut on_report);
        }
        if self.in_flight() > 0 {
            eprintln!(
                "warning: {} order(s) still in flight after {:?}; the journal resolves them at the next start",
                self.in_flight(),
                self.drain_timeout
            );
        }
    }

    /// Writes this stage's counter totals.
    pub fn fill_counters(&self, c: &mut CounterSet) {
        let s = self.exec.stats();
        c.set(Counter::Orders, s.orders);
        c.set(Counter::Fills, s.fills);
        c.set(
            Counter::RejectMinQty,
            s.rejects[RejectReason::BelowMinQty.index()],
        );
        c.set(
            Counter::RejectMinNotional,
            s.rejects[RejectReason::BelowMinNotional.index()],
        );
        c.set(
            Counter::RejectMaxQty,
            s.rejects[RejectReason::AboveMaxQty.index()],
        );
        let venue: u64 = RejectReason::ALL
            .iter()
            .filter(|r| r.name().starts_with("venue_"))
            .map(|r| s.rejects[r.index()])
            .sum();
        c.set(Counter::RejectVenue, venue);
        c.set(Counter::RejectLost, s.rejects[RejectReason::Lost.index()]);
        c.set(Counter::ExecAcks, s.acks);
        c.set(Counter::ExecRequeries, s.requeries);
        c.set(Counter::JournalRecords, s.journal_records);
        c.set(Counter::JournalErrors, s.journal_errors);
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.exec
    }
}
