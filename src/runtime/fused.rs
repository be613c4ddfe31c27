//! `fused` topology: one hot thread runs network → compute → execution back to back for each
//! message. No hops, so `md_hop` and `order_hop` stay empty; every other stage is recorded,
//! and `parsed_to_order` (the tick's own parse → signed bytes) beside `tick_to_order`.
//! Operator commands are applied before every tick and once per loop turn (also when no tick
//! arrived), and their closes go out through the same execution path as every intent.

use super::shutdown::Shutdown;
use super::source::TickSource;
use super::wait::FeedWait;
use crate::exec::ExecStage;
use crate::feed::ws::{WsError, WsStatus};
use crate::strategy::ComputeStage;
use crate::telemetry::{Publisher, StageHistograms};

/// Runs until the feed closes or a stop is requested; hands over the final snapshot.
pub fn run<S: TickSource>(
    feed: &mut S,
    compute: &mut ComputeStage,
    exec: &mut ExecStage,
    mut publisher: Publisher,
    mut wait: FeedWait,
    shutdown: &Shutdown,
) -> Result<(), WsError> {
    let result = loop {
        if shutdown.requested() {
            feed.close();
            break Ok(());
        }
        if compute.poll_commands() > 0 || compute.has_operator_close() {
            send_operator_closes(compute, exec, publisher.hists());
        }
        // Orders in flight: poll the socket without waiting so replies are read promptly.
        let timeout = if exec.in_flight() > 0 {
            Some(std::time::Duration::ZERO)
        } else {
            wait.timeout()
        };
        let polled = feed.poll(timeout, publisher.hists(), |t, h| {
            // A command sent meanwhile applies before this tick (one atomic load when none).
            if compute.poll_commands() > 0 || compute.has_operator_close() {
                send_operator_closes(compute, exec, h);
            }
            if let Some(intent) = compute.on_tick(t, t.parsed_ns, h) {
                // No room: hold here (the feed waits) rather than refuse.
                exec.wait_room(&intent, h, |r| compute.on_report(r));
                let report = exec.on_tick_intent(&intent, intent.decided_ns(), t.parsed_ns, h);
                // The order is out: book it into the decision book and the gate.
                compute.book_pending();
                if let Some(report) = report {
                    compute.on_report(&report);
                }
            }
        });
        exec.poll(None, publisher.hists(), |r| compute.on_report(r));
        if matches!(polled, Ok((0, WsStatus::Open))) {
            // Idle: a step of the bar close's peak VaR job while one is pending (off the
            // ticks), else one shadow order at most (and its symbol's shadow entry plan), then
            // back to the socket.
            if !compute.idle_work() && exec.warm_idle() {
                compute.warm_idle();
            }
        }
        publisher.maybe_publish_with(
            |c| {
                feed.fill_counters(c);
                compute.fill_counters(c);
                exec.fill_counters(c);
            },
            |v| compute.fill_view(v),
        );
        match polled {
            Ok((_, WsStatus::Closed)) => break Ok(()),
            Ok((n, WsStatus::Open)) => wait.after_poll(n > 0),
            Err(e) => break Err(e),
        }
    };
    // Replies to the last orders still count (bounded wait).
    exec.drain(publisher.hists(), |r| compute.on_report(r));
    publisher.finish_with(
        |c| {
            feed.fill_counters(c);
            compute.fill_counters(c);
            exec.fill_counters(c);
        },
        |v| compute.fill_view(v),
    );
    result
}

/// Sends every operator close that is due, one at a time, each waiting for room in execution
/// (back-pressure: the feed waits meanwhile).
fn send_operator_closes(compute: &mut ComputeStage, exec: &mut ExecStage, h: &mut StageHistograms) {
    while let Some(intent) = compute.next_operator_close() {
        exec.wait_room(&intent, h, |r| compute.on_report(r));
        if let Some(report) = exec.on_intent(&intent, intent.decided_ns(), h) {
            compute.on_report(&report);
        }
    }
}
