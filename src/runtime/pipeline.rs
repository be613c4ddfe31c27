//! `pipeline` topology: network, compute and execution threads, each pinned to its own core,
//! joined by SPSC rings (md: ticks, order: intents, fill: reports back to compute).
//!
//! Shutdown cascades through the rings: the network thread stops and drops its producer; compute
//! drains the md ring, drops the order producer; execution drains the order ring, drops the
//! fill producer; compute drains the fills and exits. Nothing in flight is lost.

use std::thread::JoinHandle;

use super::affinity::{pin_current, AllowedCores};
use super::shutdown::Shutdown;
use super::source::TickSource;
use super::wait::FeedWait;
use crate::exec::ExecStage;
use crate::feed::ws::{WsError, WsStatus};
use crate::ring::{channel, waiter, Consumer, Producer, WaitStrategy, Waker};
use crate::strategy::ComputeStage;
use crate::strategy::Engine;
use crate::telemetry::{Clock, Counter, Publisher, Stage};
use crate::types::{ExecReport, OrderIntent, Tick};

/// Cores and waits of the three threads.
#[derive(Clone, Debug)]
pub struct PipelinePlan {
    /// Cores of network, compute, execution.
    pub cores: [usize; 3],
    /// Socket wait of the network thread.
    pub network_wait: FeedWait,
    /// Ring waits of compute and execution.
    pub compute_wait: WaitStrategy,
    /// Ring wait of execution.
    pub execution_wait: WaitStrategy,
    /// Ring capacities: md, order, fill.
    pub rings: [usize; 3],
}

/// Items taken from a ring per batch.
const BATCH: usize = 64;

/// Pushes `item`, retrying while the ring is full (never drops). Returns false if the consumer
/// is gone. Counts one full event per item that had to wait.
#[inline]
fn push_or_wait<T>(tx: &mut Producer<T>, mut item: T, full_events: &mut u64) -> bool {
    let mut tries = 0u32;
    loop {
        match tx.push(item) {
            Ok(()) => return true,
            Err(back) => {
                item = back;
                if tries == 0 {
                    *full_events += 1;
                }
                if tx.is_abandoned() {
                    return false;
                }
                tries = tries.wrapping_add(1);
                if tries % 64 == 0 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
        }
    }
}

/// As [`push_or_wait`], calling `drain` (which returns how many items it took from the other
/// direction) while the ring is full, so two threads waiting on each other's full rings cannot
/// deadlock.
#[inline]
fn push_draining<T>(
    tx: &mut Producer<T>,
    mut item: T,
    full_events: &mut u64,
    mut drain: impl FnMut() -> usize,
) -> bool {
    let mut first = true;
    loop {
        match tx.push(item) {
            Ok(()) => return true,
            Err(back) => {
                item = back;
                if first {
                    *full_events += 1;
                    first = false;
                }
                if tx.is_abandoned() {
                    return false;
                }
                if drain() == 0 {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Before each tick and between batches: applies queued operator commands (one atomic load
/// when none) and pushes their closes into the order ring, taking reports back while it is
/// full, as for every intent.
#[inline]
fn operator_check(
    compute: &mut ComputeStage,
    order_tx: &mut Producer<OrderIntent>,
    order_full: &mut u64,
    fill_rx: &mut Consumer<ExecReport>,
    exec_waker: &Waker,
) {
    if compute.poll_commands() == 0 && !compute.has_operator_close() {
        return;
    }
    while let Some(intent) = compute.next_operator_close() {
        let pushed = push_draining(order_tx, intent, order_full, || {
            fill_rx.pop_batch(BATCH, |r| compute.on_report(&r))
        });
        if pushed {
            exec_waker.wake();
        }
    }
}

/// The running pipeline's threads.
#[derive(Debug)]
pub struct Pipeline {
    network: JoinHandle<Result<(), WsError>>,
    compute: JoinHandle<Engine>,
    execution: JoinHandle<()>,
}

impl Pipeline {
    /// Spawns the three threads. `publishers` are network, compute, execution.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn<S: TickSource + Send + 'static>(
        plan: PipelinePlan,
        allowed: &AllowedCores,
        mut feed: S,
        mut compute: ComputeStage,
        mut exec: ExecStage,
        publishers: [Publisher; 3],
        clock: Clock,
        shutdown: Shutdown,
    ) -> std::io::Result<Self> {
        let [mut p_net, mut p_cmp, mut p_exe] = publishers;
        let (mut md_tx, mut md_rx) =
            channel::<Tick>(plan.rings[0]).map_err(std::io::Error::other)?;
        let (mut order_tx, mut order_rx) =
            channel::<OrderIntent>(plan.rings[1]).map_err(std::io::Error::other)?;
        let (mut fill_tx, mut fill_rx) =
            channel::<ExecReport>(plan.rings[2]).map_err(std::io::Error::other)?;
        let (compute_waker, mut compute_waiter) = waiter(plan.compute_wait);
        let (exec_waker, mut exec_waiter) = waiter(plan.execution_wait);
        let fill_waker: Waker = compute_waker.clone();

        let allowed_n = allowed.clone();
        let core_n = plan.cores[0];
        let mut net_wait = plan.network_wait;
        let network = std::thread::Builder::new()
            .name("network".into())
            .spawn(move || {
                pin_current("network", core_n, &allowed_n);
                let mut md_full = 0u64;
                let result = loop {
                    if shutdown.requested() {
                        feed.close();
                        break Ok(());
                    }
                    let polled = feed.poll(net_wait.timeout(), p_net.hists(), |t, _| {
                        if push_or_wait(&mut md_tx, *t, &mut md_full) {
                            compute_waker.wake();
                        }
                    });
                    p_net.maybe_publish(|c| {
                        feed.fill_counters(c);
                        c.set(Counter::MdRingFull, md_full);
                    });
                    match polled {
                        Ok((_, WsStatus::Closed)) => break Ok(()),
                        Ok((n, WsStatus::Open)) => net_wait.after_poll(n > 0),
                        Err(e) => break Err(e),
                    }
                };
                drop(md_tx);
                compute_waker.wake();
                p_net.finish(|c| {
                    feed.fill_counters(c);
                    c.set(Counter::MdRingFull, md_full);
                });
                result
            })?;

        let allowed_c = allowed.clone();
        let core_c = plan.cores[1];
        let clock_c = clock.clone();
        let compute_handle =
            std::thread::Builder::new()
                .name("compute".into())
                .spawn(move || {
                    pin_current("compute", core_c, &allowed_c);
                    let mut order_full = 0u64;
                    loop {
                        // Operator commands also while no tick arrives.
                        operator_check(
                            &mut compute,
                            &mut order_tx,
                            &mut order_full,
                            &mut fill_rx,
                            &exec_waker,
                        );
                        let h = p_cmp.hists();
                        let mut got = md_rx.pop_batch(BATCH, |t| {
                            let start = clock_c.now_ns();
                            h.record(Stage::MdHop, start.saturating_sub(t.parsed_ns));
                            operator_check(
                                &mut compute,
                                &mut order_tx,
                                &mut order_full,
                                &mut fill_rx,
                                &exec_waker,
                            );
                            if let Some(intent) = compute.on_tick(&t, start, h) {
                                // While execution holds (order ring full), keep taking reports
                                // back: it must never wait on a full fill ring meanwhile.
                                let pushed =
                                    push_draining(&mut order_tx, intent, &mut order_full, || {
                                        fill_rx.pop_batch(BATCH, |r| compute.on_report(&r))
                                    });
                                if pushed {
                                    exec_waker.wake();
                                }
                                // Handed over: book it into the decision book and the gate.
                                compute.book_pending();
                            }
                        });
                        got += fill_rx.pop_batch(BATCH, |r| compute.on_report(&r));
                        p_cmp.maybe_publish_with(
                            |c| {
                                compute.fill_counters(c);
                                c.set(Counter::OrderRingFull, order_full);
                            },
                            |v| compute.fill_view(v),
                        );
                        if got > 0 {
                            compute_waiter.reset();
                        } else if md_rx.is_abandoned() && md_rx.is_empty() {
                            break;
                        } else if !compute.idle_work() {
                            // Nothing to do, not even the peak VaR job's next step.
                            compute_waiter.idle(|| {
                                !md_rx.is_empty() || !fill_rx.is_empty() || compute.has_commands()
                            });
                        }
                    }
                    // No more ticks: close the order ring, then take every report still coming back.
                    drop(order_tx);
                    exec_waker.wake();
                    loop {
                        let got = fill_rx.pop_batch(BATCH, |r| compute.on_report(&r));
                        if got > 0 {
                            compute_waiter.reset();
                        } else if fill_rx.is_abandoned() && fill_rx.is_empty() {
                            break;
                        } else {
                            compute_waiter.idle(|| !fill_rx.is_empty());
                        }
                    }
                    p_cmp.finish_with(
                        |c| {
                            compute.fill_counters(c);
                            c.set(Counter::OrderRingFull, order_full);
                        },
                        |v| compute.fill_view(v),
                    );
                    compute.into_engine()
                })?;

        let allowed_e = allowed.clone();
        let core_e = plan.cores[2];
        let execution = std::thread::Builder::new()
            .name("execution".into())
            .spawn(move || {
                pin_current("execution", core_e, &allowed_e);
                let mut fill_full = 0u64;
                let mut drain_deadline: Option<std::time::Instant> = None;
                loop {
                    let h = p_exe.hists();
                    let mut got = order_rx.pop_batch(BATCH, |it| {
                        let start = clock.now_ns();
                        h.record(Stage::OrderHop, start.saturating_sub(it.decided_ns()));
                        // No room: hold here (the ring back-pressures compute) rather than refuse.
                        exec.wait_room(&it, h, |r| {
                            if push_or_wait(&mut fill_tx, *r, &mut fill_full) {
                                fill_waker.wake();
                            }
                        });
                        if let Some(report) = exec.on_intent(&it, start, h) {
                            if push_or_wait(&mut fill_tx, report, &mut fill_full) {
                                fill_waker.wake();
                            }
                        }
                    });
                    got += exec.poll(None, h, |r| {
                        if push_or_wait(&mut fill_tx, *r, &mut fill_full) {
                            fill_waker.wake();
                        }
                    });
                    p_exe.maybe_publish(|c| {
                        exec.fill_counters(c);
                        c.set(Counter::FillRingFull, fill_full);
                    });
                    if got > 0 {
                        exec_waiter.reset();
                    } else if order_rx.is_abandoned() && order_rx.is_empty() {
                        // Upstream finished: wait (bounded) for replies to orders in flight.
                        let deadline = *drain_deadline.get_or_insert_with(|| {
                            std::time::Instant::now() + exec.drain_timeout()
                        });
                        if exec.in_flight() == 0 || std::time::Instant::now() >= deadline {
                            break;
                        }
                        exec.poll(
                            Some(std::time::Duration::from_millis(1)),
                            p_exe.hists(),
                            |r| {
                                if push_or_wait(&mut fill_tx, *r, &mut fill_full) {
                                    fill_waker.wake();
                                }
                            },
                        );
                    } else if exec.in_flight() > 0 {
                        // Replies pending: keep polling the socket, but leave the core to others.
                        std::thread::yield_now();
                    } else if !exec.warm_idle() {
                        // Idle: a shadow order when one is due, else the ring wait.
                        exec_waiter.idle(|| !order_rx.is_empty());
                    }
                }
                drop(fill_tx);
                fill_waker.wake();
                p_exe.finish(|c| {
                    exec.fill_counters(c);
                    c.set(Counter::FillRingFull, fill_full);
                });
            })?;
        Ok(Self {
            network,
            compute: compute_handle,
            execution,
        })
    }

    /// Waits for all three threads; returns the compute thread's engine (final positions).
    pub fn join(self) -> Result<Engine, String> {
        let net = self
            .network
            .join()
            .map_err(|_| "network thread panicked".to_string())?;
        let engine = self
            .compute
            .join()
            .map_err(|_| "compute thread panicked".to_string())?;
        self.execution
            .join()
            .map_err(|_| "execution thread panicked".to_string())?;
        net.map_err(|e| e.to_string())?;
        Ok(engine)
    }
}
