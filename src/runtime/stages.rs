//! The stage code that both topologies run: feed (socket → ticks), compute (tick → intent) and
//! execution (intent → signed request → fill). Each stage records its own latencies.

use std::time::Duration;

use crate::exec::{ExecReport, Executor, RejectReason};
use crate::feed::binance::{BinanceEvent, BinanceParser, ParseError};
use crate::feed::ws::{WsClient, WsError, WsStatus};
use crate::feed::{SymbolTable, Tick};
use crate::model::layers::Layer;
use crate::risk::BlockReason;
use crate::strategy::{Engine, OrderIntent};
use crate::telemetry::{Clock, Counter, CounterSet, Stage, StageHistograms, WallClock};

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
        c.set(Counter::BlockedSnr, s.blocked_snr);
        c.set(Counter::BlockedConfidence, s.blocked_confidence);
        for (layer, counter) in [
            (Layer::Ou, Counter::BlockedOu),
            (Layer::Drift, Counter::BlockedDrift),
            (Layer::Flow, Counter::BlockedFlow),
            (Layer::Cross, Counter::BlockedCross),
            (Layer::Regime, Counter::BlockedRegime),
            (Layer::TpFirst, Counter::BlockedTpFirst),
            (Layer::Indicators, Counter::BlockedIndicators),
        ] {
            c.set(counter, s.blocked_layers[layer.index()]);
        }
        c.set(Counter::ModelResets, s.resets);
        for r in BlockReason::ALL {
            c.set(r.counter(), s.risk_blocked[r.index()]);
        }
        c.set(Counter::DriftReduces, s.drift_reduces);
        c.set(Counter::DriftExits, s.drift_exits);
        c.set(Counter::ExitTakeProfit, s.exit_take_profit);
        c.set(Counter::ExitStopLoss, s.exit_stop_loss);
        c.set(Counter::EmergencyStops, s.emergency_stops);
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

/// Execution stage: executor plus its timing.
pub struct ExecStage {
    exec: Executor,
    clock: Clock,
    wall: WallClock,
}

impl ExecStage {
    /// Wraps an executor.
    pub fn new(exec: Executor, clock: Clock, wall: WallClock) -> Self {
        Self { exec, clock, wall }
    }

    /// Executes `it`; `start_ns` is when execution got it. Records `sign` (start → signed bytes
    /// ready) and `tick_to_order` (socket receive → signed bytes ready).
    #[inline]
    pub fn on_intent(
        &mut self,
        it: &OrderIntent,
        start_ns: u64,
        hists: &mut StageHistograms,
    ) -> ExecReport {
        let ts_ms = self.wall.unix_ms(start_ns);
        let clock = &self.clock;
        self.exec.execute(it, ts_ms, |_signed| {
            let t = clock.now_ns();
            hists.record(Stage::Sign, t.saturating_sub(start_ns));
            hists.record(Stage::TickToOrder, t.saturating_sub(it.tick_recv_ns));
        })
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
    }
}
