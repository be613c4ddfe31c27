//! `fused` topology: one hot thread runs network → compute → execution back to back for each
//! message. No hops, so `md_hop` and `order_hop` stay empty; every other stage is recorded.

use super::shutdown::Shutdown;
use super::source::TickSource;
use super::wait::FeedWait;
use crate::exec::ExecStage;
use crate::feed::ws::{WsError, WsStatus};
use crate::strategy::ComputeStage;
use crate::telemetry::Publisher;

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
        // Orders in flight: poll the socket without waiting so replies are read promptly.
        let timeout = if exec.in_flight() > 0 {
            Some(std::time::Duration::ZERO)
        } else {
            wait.timeout()
        };
        let polled = feed.poll(timeout, publisher.hists(), |t, h| {
            if let Some(intent) = compute.on_tick(t, t.parsed_ns, h) {
                // No room: hold here (the feed waits) rather than refuse.
                exec.wait_room(&intent, h, |r| compute.on_report(r));
                if let Some(report) = exec.on_intent(&intent, intent.decided_ns, h) {
                    compute.on_report(&report);
                }
            }
        });
        exec.poll(None, publisher.hists(), |r| compute.on_report(r));
        publisher.maybe_publish(|c| {
            feed.fill_counters(c);
            compute.fill_counters(c);
            exec.fill_counters(c);
        });
        match polled {
            Ok((_, WsStatus::Closed)) => break Ok(()),
            Ok((n, WsStatus::Open)) => wait.after_poll(n > 0),
            Err(e) => break Err(e),
        }
    };
    // Replies to the last orders still count (bounded wait).
    exec.drain(publisher.hists(), |r| compute.on_report(r));
    publisher.finish(|c| {
        feed.fill_counters(c);
        compute.fill_counters(c);
        exec.fill_counters(c);
    });
    result
}
