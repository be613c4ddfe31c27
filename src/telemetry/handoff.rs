//! Lock-free hand-off of per-thread histograms and counters to the monitor.
//!
//! Each hot thread records into its own [`Snapshot`]. When the monitor bumps the shared epoch,
//! the thread swaps in a spare snapshot (pointer move, no allocation) and pushes the filled one
//! through an SPSC ring; the monitor merges it, clears it and returns it through a second ring.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::counters::CounterSet;
use super::stage::StageHistograms;
use crate::ring::{channel, Consumer, Producer};

/// What a hot thread hands over: its histograms for the interval and its counter totals.
#[derive(Debug)]
pub struct Snapshot {
    /// Stage latencies recorded since the last hand-off, ns.
    pub hists: StageHistograms,
    /// The thread's counter totals at hand-off.
    pub counters: CounterSet,
}

/// Snapshots in circulation per thread: one being recorded, one in flight, one spare.
const SNAPSHOTS_PER_THREAD: usize = 3;

/// The monitor's request clock: bumping it asks every thread for a snapshot.
#[derive(Debug, Clone, Default)]
pub struct Epoch(Arc<AtomicU64>);

impl Epoch {
    /// Asks every publisher for a snapshot at its next check.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    #[inline]
    fn current(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Hot-thread side. `record` and `maybe_publish` never lock, allocate or make syscalls.
#[derive(Debug)]
pub struct Publisher {
    active: Box<Snapshot>,
    to_monitor: Producer<Box<Snapshot>>,
    spares: Consumer<Box<Snapshot>>,
    epoch: Epoch,
    seen: u64,
    finished: Arc<AtomicBool>,
}

/// Monitor side of one thread's hand-off.
#[derive(Debug)]
pub struct Collector {
    name: &'static str,
    from_thread: Consumer<Box<Snapshot>>,
    spares: Producer<Box<Snapshot>>,
    finished: Arc<AtomicBool>,
    latest_counters: CounterSet,
}

/// Creates the hand-off for one hot thread named `name` (allocates all snapshots now).
pub fn handoff(name: &'static str, epoch: &Epoch) -> (Publisher, Collector) {
    let (to_monitor, from_thread) = channel(4).expect("power of two");
    let (mut spare_tx, spare_rx) = channel(4).expect("power of two");
    for _ in 1..SNAPSHOTS_PER_THREAD {
        let s = Box::new(Snapshot {
            hists: StageHistograms::new(),
            counters: CounterSet::default(),
        });
        if spare_tx.push(s).is_err() {
            unreachable!("ring of 4 holds the spares");
        }
    }
    let finished = Arc::new(AtomicBool::new(false));
    let publisher = Publisher {
        active: Box::new(Snapshot {
            hists: StageHistograms::new(),
            counters: CounterSet::default(),
        }),
        to_monitor,
        spares: spare_rx,
        epoch: epoch.clone(),
        seen: epoch.current(),
        finished: finished.clone(),
    };
    let collector = Collector {
        name,
        from_thread,
        spares: spare_tx,
        finished,
        latest_counters: CounterSet::default(),
    };
    (publisher, collector)
}

impl Publisher {
    /// The histograms to record into.
    #[inline]
    pub fn hists(&mut self) -> &mut StageHistograms {
        &mut self.active.hists
    }

    /// If the monitor asked, hands over the current snapshot after `fill` writes the counter
    /// totals into it. When no spare is back yet, keeps recording into the current one (the
    /// interval simply extends); nothing is lost.
    #[inline]
    pub fn maybe_publish<F: FnOnce(&mut CounterSet)>(&mut self, fill: F) {
        let e = self.epoch.current();
        if e == self.seen {
            return;
        }
        let Some(spare) = self.spares.pop() else {
            return;
        };
        self.seen = e;
        fill(&mut self.active.counters);
        let full = std::mem::replace(&mut self.active, spare);
        // Three snapshots circulate through rings of four: the push cannot find the ring full.
        if let Err(full) = self.to_monitor.push(full) {
            self.active = full;
        }
    }

    /// Hands over the final snapshot and marks the thread finished.
    pub fn finish<F: FnOnce(&mut CounterSet)>(mut self, fill: F) {
        fill(&mut self.active.counters);
        let last = std::mem::replace(
            &mut self.active,
            Box::new(Snapshot {
                hists: StageHistograms::new(),
                counters: CounterSet::default(),
            }),
        );
        let _ = self.to_monitor.push(last);
        self.finished.store(true, Ordering::Release);
    }
}

impl Collector {
    /// Thread name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Merges every snapshot that arrived into `into` (histograms added, counters taken) and
    /// returns them as spares. Returns how many arrived.
    pub fn collect(&mut self, into: &mut StageHistograms) -> usize {
        let mut n = 0;
        while let Some(mut s) = self.from_thread.pop() {
            into.add(&s.hists);
            self.latest_counters.merge_max(&s.counters);
            s.hists.reset();
            let _ = self.spares.push(s);
            n += 1;
        }
        n
    }

    /// The latest counter totals this thread published.
    pub fn counters(&self) -> &CounterSet {
        &self.latest_counters
    }

    /// True once the thread handed over its final snapshot.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::counters::Counter;
    use crate::telemetry::stage::Stage;

    #[test]
    fn snapshots_flow_on_request_and_nothing_is_lost() {
        let epoch = Epoch::default();
        let (mut p, mut c) = handoff("t", &epoch);
        let mut total = StageHistograms::new();
        let mut recorded = 0u64;
        for round in 0..10u64 {
            for v in 0..100 {
                p.hists().record(Stage::Compute, 100 + v);
                recorded += 1;
            }
            p.maybe_publish(|cs| cs.set(Counter::Ticks, recorded));
            if round % 3 == 0 {
                epoch.bump();
            }
            c.collect(&mut total);
        }
        p.finish(|cs| cs.set(Counter::Ticks, recorded));
        c.collect(&mut total);
        assert!(c.is_finished());
        assert_eq!(total.total_count(Stage::Compute), recorded);
        assert_eq!(c.counters().get(Counter::Ticks), recorded);
    }

    #[test]
    fn no_request_means_no_handoff() {
        let epoch = Epoch::default();
        let (mut p, mut c) = handoff("t", &epoch);
        p.hists().record(Stage::Parse, 5);
        p.maybe_publish(|_| {});
        let mut total = StageHistograms::new();
        assert_eq!(c.collect(&mut total), 0);
        epoch.bump();
        p.maybe_publish(|_| {});
        assert_eq!(c.collect(&mut total), 1);
        assert_eq!(total.total_count(Stage::Parse), 1);
    }
}
