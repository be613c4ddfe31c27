//! The execution stage: the executor plus its timing, venue clock and counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::ring::Consumer;
use crate::telemetry::{Clock, Counter, CounterSet, Stage, StageHistograms};
use crate::types::{AccountEvent, ExecReport, Instrument, OrderIntent, RejectReason, SymbolId};

use super::{Admit, ExecEvent, Executor};

/// Unix ms from the system clock, for request timestamps the venue checks against its
/// recvWindow. `SystemTime::now` is a vDSO read (no syscall with the TSC clocksource); the TSC
/// mapping of [`crate::telemetry::WallClock`] drifts with calibration error (seconds over a
/// loaded run), which a venue rejects (-1021).
#[inline]
fn venue_time_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Execution stage: executor plus its timing.
#[derive(Debug)]
pub struct ExecStage {
    exec: Executor,
    clock: Clock,
    drain_timeout: Duration,
    emergency: Emergency,
    /// Intents held until the executor had room for them.
    held: u64,
    /// Holds that gave up after the drain timeout (an order nothing answered).
    hold_timeouts: u64,
    /// Spec changes from the cold refresh ([`crate::exec::spec_refresh`]), applied before
    /// each intent.
    specs: Option<Consumer<SpecUpdate>>,
    /// Private-stream events from the private-stream thread, drained at every poll.
    account: Option<Consumer<AccountEvent>>,
    /// Order-path warm-up while idle ([`ExecStage::warm_idle`]).
    warm: WarmCadence,
}

/// When [`ExecStage::warm_idle`] signs the next shadow order: a round of `2 × symbols` shadows
/// (both sides of symbols `0..symbols`, [`Executor::warm_step`]) starts every `every_ns`
/// (0: never), one shadow per idle check.
#[derive(Debug, Default)]
struct WarmCadence {
    every_ns: u64,
    symbols: usize,
    /// Start of the next round (monotonic ns).
    due_ns: u64,
    /// Next step of the current round (`2 × symbols`: the round is done).
    cursor: usize,
}

/// End of run: the private stream is read until this long passes without an event.
pub const STREAM_SETTLE: Duration = Duration::from_millis(100);

/// One symbol's new filters, from the cold spec refresh to the execution thread.
pub type SpecUpdate = (SymbolId, Instrument);

/// The emergency exit of a failed journal write: stop the run, flatten, fail the run.
#[derive(Default)]
struct Emergency {
    /// Asks the run to stop (the runtime's shutdown flag).
    stop: Option<Box<dyn Fn() + Send>>,
    failed: Arc<AtomicBool>,
    done: bool,
}

impl std::fmt::Debug for Emergency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emergency")
            .field("stop", &self.stop.is_some())
            .field("failed", &self.failed)
            .field("done", &self.done)
            .finish()
    }
}

impl ExecStage {
    /// Wraps an executor (5 s end-of-run drain, see [`ExecStage::with_drain_timeout`]).
    pub fn new(exec: Executor, clock: Clock) -> Self {
        Self {
            exec,
            clock,
            drain_timeout: Duration::from_secs(5),
            emergency: Emergency::default(),
            held: 0,
            hold_timeouts: 0,
            specs: None,
            account: None,
            warm: WarmCadence::default(),
        }
    }

    /// Keeps the order path of symbols `0..symbols` warm: a round every `every` (zero: off) of
    /// two shadows per symbol, one per [`ExecStage::warm_idle`] call ([`Executor::warm_step`]).
    pub fn with_warm(mut self, every: Duration, symbols: usize) -> Self {
        self.warm = WarmCadence {
            every_ns: every.as_nanos().min(u64::MAX as u128) as u64,
            symbols,
            due_ns: 0,
            cursor: 2 * symbols,
        };
        self
    }

    /// Called by the hot loop when a check found nothing to do: signs at most one shadow order
    /// (the next step of a due warm-up round) and returns whether it did, so a tick waits at
    /// most one shadow (about a microsecond). No allocation, no system call.
    #[inline]
    pub fn warm_idle(&mut self) -> bool {
        let w = &mut self.warm;
        if w.every_ns == 0 || w.symbols == 0 {
            return false;
        }
        let now = self.clock.now_ns();
        if w.cursor >= 2 * w.symbols {
            if now < w.due_ns {
                return false;
            }
            w.cursor = 0;
            w.due_ns = now.saturating_add(w.every_ns);
        }
        let (k, n) = (w.cursor, w.symbols);
        w.cursor += 1;
        match self.exec.shadow_step(k, n) {
            Some(it) => self.order_pass(&it, now, 0, None).1,
            None => false,
        }
    }

    /// The stage's clock (the hot loop stamps an intent's `start_ns` with it).
    #[inline]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Takes private-stream events from `rx` (drained at every [`ExecStage::poll`]: one atomic
    /// load when empty).
    pub fn with_account_events(mut self, rx: Consumer<AccountEvent>) -> Self {
        self.account = Some(rx);
        self
    }

    /// Applies every queued private-stream event, then books the venue-side closes no exit
    /// claimed in time; returns the events applied. No allocation, no lock.
    #[inline]
    fn drain_account<F: FnMut(&ExecReport)>(&mut self, on_report: &mut F) -> usize {
        let Some(rx) = self.account.as_mut() else {
            return 0;
        };
        let now = self.clock.now_ns();
        let mut on = |ev: ExecEvent| {
            if let ExecEvent::Report(r) = ev {
                on_report(&r)
            }
        };
        let mut n = 0;
        while let Some(ev) = rx.pop() {
            self.exec.on_account_event(&ev, now, &mut on);
            n += 1;
        }
        self.exec.stream_timers(now, &mut on);
        n
    }

    /// Takes spec changes from `rx` (drained before each intent: one atomic load when empty).
    pub fn with_specs(mut self, rx: Consumer<SpecUpdate>) -> Self {
        self.specs = Some(rx);
        self
    }

    /// Applies every queued spec change to the executor.
    #[inline]
    fn drain_specs(&mut self) {
        if let Some(rx) = self.specs.as_mut() {
            while let Some((id, inst)) = rx.pop() {
                self.exec.set_instrument(id, inst);
            }
        }
    }

    /// Venue time for request stamps: the system clock plus the measured venue offset (one
    /// atomic load, [`crate::exec::clock::VenueClock`]).
    #[inline]
    fn venue_ms(&self) -> u64 {
        self.exec.venue_clock().venue_ms(venue_time_ms())
    }

    /// On a journal write failure: call `stop` (request the run's shutdown), let the orders in
    /// flight finish, close every venue position reduce-only ([`crate::exec::recovery::flatten`])
    /// and set `failed` (the run then exits non-zero).
    pub fn with_emergency(mut self, stop: Box<dyn Fn() + Send>, failed: Arc<AtomicBool>) -> Self {
        self.emergency.stop = Some(stop);
        self.emergency.failed = failed;
        self
    }

    /// Runs the emergency exit once, after the executor halted (journal write failed).
    #[cold]
    fn emergency_exit(&mut self) {
        self.emergency.done = true;
        self.emergency.failed.store(true, Ordering::Release);
        if let Some(stop) = &self.emergency.stop {
            stop();
        }
        eprintln!("emergency: journal write failed; no new orders, closing every venue position reduce-only");
        let deadline = std::time::Instant::now() + self.drain_timeout;
        while self.exec.in_flight() > 0 && std::time::Instant::now() < deadline {
            let now = self.clock.now_ns();
            self.exec
                .poll(now, self.venue_ms(), Some(Duration::from_millis(1)), |_| {});
        }
        let link = self.exec.account_link().clone();
        let now_ms = move || link.clock.venue_ms(venue_time_ms());
        match crate::exec::recovery::flatten(&mut self.exec, &now_ms, self.drain_timeout) {
            Ok(closed) => eprintln!("emergency: flattened {closed:?}; trading halted"),
            Err(e) => {
                eprintln!("error: emergency flatten failed: {e}; CHECK THE VENUE'S POSITIONS NOW")
            }
        }
    }

    #[inline]
    fn check_halt(&mut self) {
        if self.exec.halted() && !self.emergency.done {
            self.emergency_exit();
        }
    }

    /// At the end of a run, wait at most `d` for replies to orders in flight.
    pub fn with_drain_timeout(mut self, d: Duration) -> Self {
        self.drain_timeout = d;
        self
    }

    /// Waits until the executor has room for `it` ([`Executor::admits`]), polling the venue
    /// meanwhile (its reports go to `on_report`): the caller takes no later intent before,
    /// so a full entry lane back-pressures compute (and, through the rings, the feed) instead
    /// of refusing, and decisions do not depend on pace. Returns at once when there is room
    /// (the steady state: one check, no syscall).
    #[inline]
    pub fn wait_room<F: FnMut(&ExecReport)>(
        &mut self,
        it: &OrderIntent,
        hists: &mut StageHistograms,
        mut on_report: F,
    ) {
        self.exec.set_now_ns(self.clock.now_ns());
        if self.exec.admits(it) == Admit::Now {
            return;
        }
        self.held += 1;
        self.hold(it, hists, &mut on_report);
    }

    /// Polls until `it` is admitted, at most the drain timeout: a hold has orders in flight
    /// and their replies make the room, so a longer wait means an order nothing will answer.
    /// Then the operator is told what is in flight and `it` goes to `submit`, which refuses it
    /// (back-pressure): the hot loop goes back to market data and to the shutdown check.
    #[cold]
    fn hold<F: FnMut(&ExecReport)>(
        &mut self,
        it: &OrderIntent,
        hists: &mut StageHistograms,
        on_report: &mut F,
    ) {
        let start = self.clock.now_ns();
        let limit = u64::try_from(self.drain_timeout.as_nanos()).unwrap_or(u64::MAX);
        loop {
            let now = self.clock.now_ns();
            self.exec.set_now_ns(now);
            if self.exec.admits(it) == Admit::Now || self.exec.halted() {
                return;
            }
            if now.saturating_sub(start) > limit {
                self.hold_timeouts += 1;
                eprintln!(
                    "warning: no room for an order after {:?} ({} in flight); refused. In flight: {}",
                    self.drain_timeout,
                    self.exec.in_flight(),
                    self.exec.flight_summary()
                );
                return;
            }
            self.poll(Some(Duration::from_millis(1)), hists, &mut *on_report);
        }
    }

    /// Submits `it`; `start_ns` is when execution got it. Records `sign` (start → signed bytes
    /// ready) and `tick_to_order` (socket receive → signed bytes ready), after the bytes were
    /// handed to the transport (the histograms never delay an order). Returns a report at
    /// once for local rejections and paper fills; venue replies come from [`ExecStage::poll`].
    #[inline]
    pub fn on_intent(
        &mut self,
        it: &OrderIntent,
        start_ns: u64,
        hists: &mut StageHistograms,
    ) -> Option<ExecReport> {
        self.on_tick_intent(it, start_ns, 0, hists)
    }

    /// [`ExecStage::on_intent`] for an intent decided on a tick parsed at `parsed_ns` (fused
    /// topology; 0: unknown), also recording `parsed_to_order` (tick parsed → signed bytes).
    #[inline]
    pub fn on_tick_intent(
        &mut self,
        it: &OrderIntent,
        start_ns: u64,
        parsed_ns: u64,
        hists: &mut StageHistograms,
    ) -> Option<ExecReport> {
        self.order_pass(it, start_ns, parsed_ns, Some(hists)).0
    }

    /// One out-of-line body for a real intent (`hists`: its stage histograms; see
    /// [`ExecStage::on_tick_intent`]) and a warm-up shadow (`None`: signed, never sent, no
    /// spec change applied, nothing recorded; [`Executor::submit_pass`]), so a warm-up runs
    /// the very code of an order. Returns the report and whether the bytes were signed.
    #[inline(never)]
    fn order_pass(
        &mut self,
        it: &OrderIntent,
        start_ns: u64,
        parsed_ns: u64,
        hists: Option<&mut StageHistograms>,
    ) -> (Option<ExecReport>, bool) {
        let shadow = hists.is_none();
        if !shadow {
            self.drain_specs();
        }
        let ts_ms = self.venue_ms();
        self.exec.set_now_ns(self.clock.now_ns());
        let clock = &self.clock;
        // Stamped when the signed bytes exist, recorded once they were handed to the transport.
        let mut signed_ns = None;
        let report = self.exec.submit_pass(it, ts_ms, shadow, |_signed| {
            signed_ns = Some(clock.now_ns())
        });
        let Some(hists) = hists else {
            return (None, signed_ns.is_some());
        };
        if let Some(t) = signed_ns {
            hists.record(Stage::Sign, t.saturating_sub(start_ns));
            // Operator closes come from no tick (`tick_recv_ns` 0): no tick-to-order sample.
            if it.tick_recv_ns() != 0 {
                hists.record(Stage::TickToOrder, t.saturating_sub(it.tick_recv_ns()));
            }
            if parsed_ns != 0 {
                hists.record(Stage::ParsedToOrder, t.saturating_sub(parsed_ns));
            }
        }
        self.check_halt();
        (report, signed_ns.is_some())
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
        self.exec.reserve_journal();
        self.drain_account(&mut on_report);
        if self.exec.in_flight() == 0 && !self.exec.audit_active() {
            // Nothing in flight: the order WebSocket's heartbeat, pongs and reconnect still
            // need their turn (a clock read when nothing is due; nothing without one).
            self.exec.keep_alive();
            return 0;
        }
        let now = self.clock.now_ns();
        let n = self
            .exec
            .poll(now, self.venue_ms(), timeout, |ev| match ev {
                ExecEvent::Report(r) => on_report(&r),
                ExecEvent::Rtt(ns) => hists.record(Stage::OrderRtt, ns),
            });
        self.check_halt();
        n
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

    /// Polls until no order is in flight or the drain timeout passes (end of run), then
    /// settles the private stream (its last events read, the venue closes queued booked).
    pub fn drain<F: FnMut(&ExecReport)>(&mut self, hists: &mut StageHistograms, mut on_report: F) {
        let deadline = std::time::Instant::now() + self.drain_timeout;
        while self.in_flight() > 0 && std::time::Instant::now() < deadline {
            self.poll(Some(Duration::from_millis(1)), hists, &mut on_report);
        }
        if self.in_flight() > 0 {
            // Fills held back behind an order still unknown are known: book them now.
            self.exec.release_all_deferred(|ev| match ev {
                ExecEvent::Report(r) => on_report(&r),
                ExecEvent::Rtt(ns) => hists.record(Stage::OrderRtt, ns),
            });
            eprintln!(
                "warning: {} order(s) still in flight after {:?}; the journal resolves them at the next start ({})",
                self.in_flight(),
                self.drain_timeout,
                self.exec.flight_summary()
            );
        }
        self.settle_stream(deadline, &mut on_report);
        self.settle_audit(hists, &mut on_report);
    }

    /// End of run with the private stream not up: the position audit's last pass
    /// ([`Executor::begin_final_audit`]), bounded by the drain timeout.
    fn settle_audit<F: FnMut(&ExecReport)>(
        &mut self,
        hists: &mut StageHistograms,
        on_report: &mut F,
    ) {
        let symbols = self.exec.begin_final_audit();
        if symbols == 0 {
            return;
        }
        let found = self.exec.audit_found();
        let deadline = std::time::Instant::now() + self.drain_timeout;
        while !self.exec.final_audit_done() && std::time::Instant::now() < deadline {
            self.poll(Some(Duration::from_millis(1)), hists, &mut *on_report);
        }
        let set_right = self.exec.audit_found() - found;
        match self.exec.final_audit_done() {
            true => eprintln!(
                "end of run: {symbols} position(s) read from the venue: {} in step, {set_right} set right",
                symbols as u64 - set_right
            ),
            false => eprintln!(
                "warning: end of run: the venue's positions not all read within {:?}; the next start reconciles them",
                self.drain_timeout
            ),
        }
    }

    /// End of run with the private stream up: its last events are read until
    /// [`STREAM_SETTLE`] passes without one, and every venue-side close queued is booked (no
    /// exit of ours can claim it any more), both bounded by `deadline`. A stop that the run's
    /// last trades triggered is an execution the venue made before the run ended: the journal
    /// books it now rather than at the next start-up's catch-up.
    fn settle_stream<F: FnMut(&ExecReport)>(
        &mut self,
        deadline: std::time::Instant,
        on_report: &mut F,
    ) {
        if self.account.is_none() {
            return;
        }
        let mut last = std::time::Instant::now();
        loop {
            if self.drain_account(on_report) > 0 {
                last = std::time::Instant::now();
            }
            if !self.exec.stream_counters().2 {
                return;
            }
            let now = std::time::Instant::now();
            let settled = self.exec.closes_queued() == 0 && now - last >= STREAM_SETTLE;
            if settled || now >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if self.exec.closes_queued() > 0 {
            eprintln!(
                "warning: {} venue-side close(s) still unbooked at the end of the run; the next start books them from the venue's executions",
                self.exec.closes_queued()
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
        c.set(
            Counter::RejectBackpressure,
            s.rejects[RejectReason::Backpressure.index()],
        );
        c.set(
            Counter::RejectPositionUnknown,
            s.rejects[RejectReason::PositionUnknown.index()],
        );
        c.set(Counter::ExecAcks, s.acks);
        c.set(Counter::ExecRequeries, s.requeries);
        let o = self.exec.order_counters();
        c.set(Counter::OrdersUnknown, o.unknowns);
        c.set(Counter::OrdersReconciled, o.reconciliations);
        c.set(Counter::PartialFills, o.partials);
        let r = self.exec.rate_counters();
        c.set(Counter::RateWaits, r.waited.iter().sum());
        c.set(Counter::ExecHeld, self.held);
        c.set(Counter::ExecHoldTimeouts, self.hold_timeouts);
        let (closes, duplicates, up) = self.exec.stream_counters();
        c.set(Counter::StreamOrderUpdates, s.stream_updates);
        c.set(Counter::StreamVenueCloses, closes);
        c.set(Counter::StreamDuplicates, duplicates);
        c.set(Counter::StreamUp, u64::from(up));
        c.set(Counter::RateThrottled, r.throttled + r.banned);
        c.set(Counter::JournalRecords, s.journal_records);
        c.set(Counter::JournalErrors, s.journal_errors);
        if let Some(w) = self.exec.lanes().and_then(|l| l.websocket()) {
            c.set(Counter::WsOrders, w.stats().replies);
            c.set(Counter::WsDrops, w.stats().drops);
        }
        c.set(Counter::WarmShadows, self.exec.warm_shadows());
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.exec
    }
}
