//! Lock-free hand-off of per-thread histograms and counters to the monitor.
//!
//! Each hot thread records into its own [`Snapshot`]. When the monitor bumps the shared epoch,
//! the thread swaps in a spare snapshot (pointer move, no allocation) and pushes the filled one
//! through an SPSC ring; the monitor merges it, clears it and returns it through a second ring.
//! The compute thread's snapshots also carry a preallocated [`EngineView`] (the operator status),
//! filled in place at hand-off ([`Publisher::maybe_publish_with`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::counters::CounterSet;
use super::stage::StageHistograms;
use crate::ring::{channel, Consumer, Producer};
use crate::types::control::EngineView;

/// What a hot thread hands over: its histograms for the interval and its counter totals.
#[derive(Debug)]
pub struct Snapshot {
    /// Stage latencies recorded since the last hand-off, ns.
    pub hists: StageHistograms,
    /// The thread's counter totals at hand-off.
    pub counters: CounterSet,
    /// The engine's status view (compute thread only), filled at hand-off.
    pub engine: Option<EngineView>,
}

impl Snapshot {
    fn new(view_rows: Option<usize>) -> Box<Self> {
        Box::new(Snapshot {
            hists: StageHistograms::new(),
            counters: CounterSet::default(),
            engine: view_rows.map(EngineView::new),
        })
    }
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
    latest_view: Option<EngineView>,
}

/// Creates the hand-off for one hot thread named `name` (allocates all snapshots now).
pub fn handoff(name: &'static str, epoch: &Epoch) -> (Publisher, Collector) {
    handoff_rows(name, epoch, None)
}

/// [`handoff`] for the thread that runs the engine: every snapshot carries an [`EngineView`]
/// with `n_symbols` rows (allocated now).
pub fn handoff_with_view(
    name: &'static str,
    epoch: &Epoch,
    n_symbols: usize,
) -> (Publisher, Collector) {
    handoff_rows(name, epoch, Some(n_symbols))
}

fn handoff_rows(
    name: &'static str,
    epoch: &Epoch,
    view_rows: Option<usize>,
) -> (Publisher, Collector) {
    let (to_monitor, from_thread) = channel(4).expect("power of two");
    let (mut spare_tx, spare_rx) = channel(4).expect("power of two");
    for _ in 1..SNAPSHOTS_PER_THREAD {
        if spare_tx.push(Snapshot::new(view_rows)).is_err() {
            unreachable!("ring of 4 holds the spares");
        }
    }
    let finished = Arc::new(AtomicBool::new(false));
    let publisher = Publisher {
        active: Snapshot::new(view_rows),
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
        latest_view: None,
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
        self.maybe_publish_with(fill, |_| {});
    }

    /// [`Publisher::maybe_publish`], also filling the snapshot's engine view (when it has one)
    /// with `view`, in place.
    #[inline]
    pub fn maybe_publish_with<F, G>(&mut self, fill: F, view: G)
    where
        F: FnOnce(&mut CounterSet),
        G: FnOnce(&mut EngineView),
    {
        let e = self.epoch.current();
        if e == self.seen {
            return;
        }
        let Some(spare) = self.spares.pop() else {
            return;
        };
        self.seen = e;
        fill(&mut self.active.counters);
        if let Some(v) = self.active.engine.as_mut() {
            view(v);
        }
        let full = std::mem::replace(&mut self.active, spare);
        // Three snapshots circulate through rings of four: the push cannot find the ring full.
        if let Err(full) = self.to_monitor.push(full) {
            self.active = full;
        }
    }

    /// Hands over the final snapshot and marks the thread finished.
    pub fn finish<F: FnOnce(&mut CounterSet)>(self, fill: F) {
        self.finish_with(fill, |_| {});
    }

    /// [`Publisher::finish`], also filling the engine view (when the snapshot has one).
    pub fn finish_with<F, G>(mut self, fill: F, view: G)
    where
        F: FnOnce(&mut CounterSet),
        G: FnOnce(&mut EngineView),
    {
        fill(&mut self.active.counters);
        if let Some(v) = self.active.engine.as_mut() {
            view(v);
        }
        let last = std::mem::replace(&mut self.active, Snapshot::new(None));
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
            if let Some(v) = &s.engine {
                match &mut self.latest_view {
                    Some(latest) => latest.clone_from(v),
                    None => self.latest_view = Some(v.clone()),
                }
            }
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

    /// The latest engine view this thread published (the engine's thread only).
    pub fn view(&self) -> Option<&EngineView> {
        self.latest_view.as_ref()
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
