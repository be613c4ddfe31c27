//! Our SPSC ring vs `crossbeam::queue::ArrayQueue` vs `std::sync::mpsc`, with the
//! core-to-core floor measured in the same run.
//!
//! - `round_trip_one_way_is_half/*`: main sends a value to an echo thread and spins until it
//!   comes back through a second queue of the same kind; both threads busy-poll. Times are
//!   per ROUND TRIP, so one hop ≈ half. `floor_atomic_u64` is the same ping-pong through a
//!   single `AtomicU64` (two cache-line transfers per round trip): no queue can beat it.
//!   It is measured first and again last (`_recheck`) to expose drift on a shared host.
//! - `stream_1m_u64/*`: main pushes 1M `u64` to a consumer thread; throughput in elements/s.
//!
//! Main is pinned to core 0 and the peer thread to core 1 when `core_affinity` allows.
//! Every peer thread is spawned once per benchmark function, checked before timing, and
//! stopped with a sentinel (or exits when its queue's other end is gone).
//!
//! Run: `cargo bench --bench ring -- --warm-up-time 1 --measurement-time 3`

use std::cell::Cell;
use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use calculus_trader::ring;
use core_affinity::CoreId;
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use crossbeam::queue::ArrayQueue;
use crossbeam::utils::CachePadded;

/// Same bound for every bounded queue, sized like the pipeline's rings.
const CAPACITY: usize = 1024;
const STREAM_ITEMS: u64 = 1_000_000;
/// Tells a peer thread to exit; never a payload.
const STOP: u64 = u64::MAX;

/// Outcome of one non-blocking receive.
enum Poll {
    Item(u64),
    Empty,
    /// Empty and the sending end is gone.
    Closed,
}

/// The operations every contender is benchmarked through, all non-blocking.
trait Queue {
    const NAME: &'static str;
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn pair() -> (Self::Tx, Self::Rx);
    /// `false` only when full; a vanished receiver counts as delivered so nobody spins on it.
    fn try_send(tx: &mut Self::Tx, value: u64) -> bool;
    fn try_recv(rx: &mut Self::Rx) -> Poll;
    /// Feeds ready items to `sink`; `None` once closed and empty.
    fn drain(rx: &mut Self::Rx, sink: &mut impl FnMut(u64)) -> Option<usize> {
        match Self::try_recv(rx) {
            Poll::Item(value) => {
                sink(value);
                Some(1)
            }
            Poll::Empty => Some(0),
            Poll::Closed => None,
        }
    }
}

struct Ours;

impl Queue for Ours {
    const NAME: &'static str = "ours";
    type Tx = ring::Producer<u64>;
    type Rx = ring::Consumer<u64>;
    fn pair() -> (Self::Tx, Self::Rx) {
        ring::channel(CAPACITY).expect("power-of-two capacity")
    }
    fn try_send(tx: &mut Self::Tx, value: u64) -> bool {
        tx.push(value).is_ok() || tx.is_abandoned()
    }
    fn try_recv(rx: &mut Self::Rx) -> Poll {
        match rx.pop() {
            Some(value) => Poll::Item(value),
            None if rx.is_abandoned() && rx.is_empty() => Poll::Closed,
            None => Poll::Empty,
        }
    }
}

/// Our ring drained with `pop_batch` (one head publish per batch).
struct OursBatch;

impl Queue for OursBatch {
    const NAME: &'static str = "ours_pop_batch";
    type Tx = ring::Producer<u64>;
    type Rx = ring::Consumer<u64>;
    fn pair() -> (Self::Tx, Self::Rx) {
        Ours::pair()
    }
    fn try_send(tx: &mut Self::Tx, value: u64) -> bool {
        Ours::try_send(tx, value)
    }
    fn try_recv(rx: &mut Self::Rx) -> Poll {
        Ours::try_recv(rx)
    }
    fn drain(rx: &mut Self::Rx, sink: &mut impl FnMut(u64)) -> Option<usize> {
        match rx.pop_batch(256, sink) {
            0 if rx.is_abandoned() && rx.is_empty() => None,
            n => Some(n),
        }
    }
}

struct CrossbeamArray;

impl Queue for CrossbeamArray {
    const NAME: &'static str = "crossbeam_array_queue";
    type Tx = Arc<ArrayQueue<u64>>;
    type Rx = Arc<ArrayQueue<u64>>;
    fn pair() -> (Self::Tx, Self::Rx) {
        let queue = Arc::new(ArrayQueue::new(CAPACITY));
        (Arc::clone(&queue), queue)
    }
    fn try_send(tx: &mut Self::Tx, value: u64) -> bool {
        tx.push(value).is_ok() || Arc::strong_count(tx) == 1
    }
    fn try_recv(rx: &mut Self::Rx) -> Poll {
        match rx.pop() {
            Some(value) => Poll::Item(value),
            None if Arc::strong_count(rx) == 1 && rx.is_empty() => Poll::Closed,
            None => Poll::Empty,
        }
    }
}

struct MpscSync;

impl Queue for MpscSync {
    const NAME: &'static str = "mpsc_sync_channel";
    type Tx = mpsc::SyncSender<u64>;
    type Rx = mpsc::Receiver<u64>;
    fn pair() -> (Self::Tx, Self::Rx) {
        mpsc::sync_channel(CAPACITY)
    }
    fn try_send(tx: &mut Self::Tx, value: u64) -> bool {
        !matches!(tx.try_send(value), Err(TrySendError::Full(_)))
    }
    fn try_recv(rx: &mut Self::Rx) -> Poll {
        mpsc_poll(rx)
    }
}

/// Unbounded `mpsc::channel`: never full, so streaming throttles itself per chunk instead.
struct MpscUnbounded;

impl Queue for MpscUnbounded {
    const NAME: &'static str = "mpsc_channel";
    type Tx = mpsc::Sender<u64>;
    type Rx = mpsc::Receiver<u64>;
    fn pair() -> (Self::Tx, Self::Rx) {
        mpsc::channel()
    }
    fn try_send(tx: &mut Self::Tx, value: u64) -> bool {
        // Err only means the receiver is gone, which counts as delivered.
        let _ = tx.send(value);
        true
    }
    fn try_recv(rx: &mut Self::Rx) -> Poll {
        mpsc_poll(rx)
    }
}

fn mpsc_poll(rx: &mpsc::Receiver<u64>) -> Poll {
    match rx.try_recv() {
        Ok(value) => Poll::Item(value),
        Err(TryRecvError::Empty) => Poll::Empty,
        Err(TryRecvError::Disconnected) => Poll::Closed,
    }
}

fn send_spin<Q: Queue>(tx: &mut Q::Tx, value: u64) {
    while !Q::try_send(tx, value) {
        spin_loop();
    }
}

fn recv_spin<Q: Queue>(rx: &mut Q::Rx) -> u64 {
    loop {
        match Q::try_recv(rx) {
            Poll::Item(value) => return value,
            Poll::Empty => spin_loop(),
            Poll::Closed => panic!("{}: peer thread vanished", Q::NAME),
        }
    }
}

/// Cores for the benchmarking (main) thread and its peer; `None` = leave unpinned.
#[derive(Clone, Copy)]
struct Pins {
    main: Option<CoreId>,
    peer: Option<CoreId>,
}

impl Pins {
    fn detect() -> Self {
        match core_affinity::get_core_ids() {
            Some(ids) if ids.len() >= 2 => Self {
                main: Some(ids[0]),
                peer: Some(ids[1]),
            },
            _ => {
                eprintln!("ring bench: fewer than 2 cores visible, threads stay unpinned");
                Self {
                    main: None,
                    peer: None,
                }
            }
        }
    }
}

fn pin(core: Option<CoreId>) {
    if let Some(core) = core {
        if !core_affinity::set_for_current(core) {
            eprintln!("ring bench: could not pin to core {}, continuing", core.id);
        }
    }
}

fn spawn_pinned<R: Send + 'static>(
    core: Option<CoreId>,
    work: impl FnOnce() -> R + Send + 'static,
) -> JoinHandle<R> {
    thread::spawn(move || {
        pin(core);
        work()
    })
}

/// Sends every value straight back until `STOP` (or until the sender is gone).
fn echo<Q: Queue>(mut rx: Q::Rx, mut tx: Q::Tx) {
    loop {
        match Q::try_recv(&mut rx) {
            Poll::Item(STOP) | Poll::Closed => return,
            Poll::Item(value) => send_spin::<Q>(&mut tx, value),
            Poll::Empty => spin_loop(),
        }
    }
}

fn round_trip<Q: Queue>(group: &mut BenchmarkGroup<'_, WallTime>, pins: Pins) {
    let (mut to_echo, echo_rx) = Q::pair();
    let (echo_tx, mut from_echo) = Q::pair();
    let echo = spawn_pinned(pins.peer, move || echo::<Q>(echo_rx, echo_tx));
    for probe in [0, 1, 42, 1 << 40, STOP - 1] {
        send_spin::<Q>(&mut to_echo, probe);
        assert_eq!(
            recv_spin::<Q>(&mut from_echo),
            probe,
            "{}: bad echo",
            Q::NAME
        );
    }
    group.bench_function(Q::NAME, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                send_spin::<Q>(&mut to_echo, i);
                let back = recv_spin::<Q>(&mut from_echo);
                assert_eq!(back, i, "{}: bad echo", Q::NAME);
                black_box(back);
            }
            start.elapsed()
        })
    });
    send_spin::<Q>(&mut to_echo, STOP);
    echo.join().expect("echo thread panicked");
}

/// Round trip through one `AtomicU64`: main writes odd `n`, the peer answers `n + 1`.
fn round_trip_floor(group: &mut BenchmarkGroup<'_, WallTime>, pins: Pins, name: &str) {
    let line = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let peer_line = Arc::clone(&line);
    let peer = spawn_pinned(pins.peer, move || loop {
        match peer_line.load(Ordering::Acquire) {
            STOP => return,
            odd if odd % 2 == 1 => peer_line.store(odd + 1, Ordering::Release),
            _ if Arc::strong_count(&peer_line) == 1 => return,
            _ => spin_loop(),
        }
    });
    let mut next = 1u64;
    let ping = |next: &mut u64| {
        line.store(*next, Ordering::Release);
        while line.load(Ordering::Acquire) != *next + 1 {
            spin_loop();
        }
        *next += 2;
    };
    ping(&mut next);
    assert_eq!(line.load(Ordering::Acquire), 2, "floor: bad echo");
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                ping(&mut next);
            }
            start.elapsed()
        })
    });
    line.store(STOP, Ordering::Release);
    peer.join().expect("floor peer panicked");
}

/// Consumer-side counters, each on its own line so main's polling does not slow the consumer.
struct Progress {
    /// Items received, published at every `STREAM_ITEMS` boundary.
    received: CachePadded<AtomicU64>,
    /// Items that were not the expected next value (must stay 0).
    misordered: CachePadded<AtomicU64>,
}

fn stream<Q: Queue>(group: &mut BenchmarkGroup<'_, WallTime>, pins: Pins) {
    let (mut tx, mut rx) = Q::pair();
    let progress = Arc::new(Progress {
        received: CachePadded::new(AtomicU64::new(0)),
        misordered: CachePadded::new(AtomicU64::new(0)),
    });
    let counters = Arc::clone(&progress);
    let consumer = spawn_pinned(pins.peer, move || {
        let mut expected = 0u64;
        // A Cell because `sink` stays borrowed by the loop that checks it.
        let stop = Cell::new(false);
        let mut sink = |value: u64| {
            if value == STOP {
                stop.set(true);
                return;
            }
            if value != expected {
                counters.misordered.fetch_add(1, Ordering::Relaxed);
            }
            expected += 1;
            if expected % STREAM_ITEMS == 0 {
                counters.received.store(expected, Ordering::Release);
            }
        };
        loop {
            match Q::drain(&mut rx, &mut sink) {
                None => return,
                Some(0) => spin_loop(),
                Some(_) => {}
            }
            if stop.get() {
                return;
            }
        }
    });
    let wait_for = |target: u64| {
        while progress.received.load(Ordering::Acquire) < target {
            assert!(!consumer.is_finished(), "{}: consumer quit", Q::NAME);
            spin_loop();
        }
    };
    let mut next = 0u64;
    let send_chunk = |tx: &mut Q::Tx, next: &mut u64| {
        for _ in 0..STREAM_ITEMS {
            send_spin::<Q>(tx, *next);
            *next += 1;
        }
        *next
    };

    let sent = send_chunk(&mut tx, &mut next);
    wait_for(sent);
    assert_eq!(
        progress.misordered.load(Ordering::Relaxed),
        0,
        "{}: misordered",
        Q::NAME
    );

    group.bench_function(Q::NAME, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let sent = send_chunk(&mut tx, &mut next);
                // Caps the unbounded channel's backlog at two chunks; bounded queues are
                // already past this point, so it costs them one load per million items.
                wait_for(sent - STREAM_ITEMS);
            }
            wait_for(next);
            start.elapsed()
        })
    });
    assert_eq!(
        progress.misordered.load(Ordering::Relaxed),
        0,
        "{}: misordered",
        Q::NAME
    );
    send_spin::<Q>(&mut tx, STOP);
    consumer.join().expect("consumer thread panicked");
}

fn contenders(c: &mut Criterion) {
    let pins = Pins::detect();
    pin(pins.main);

    let mut group = c.benchmark_group("round_trip_one_way_is_half");
    round_trip_floor(&mut group, pins, "floor_atomic_u64");
    round_trip::<Ours>(&mut group, pins);
    round_trip::<CrossbeamArray>(&mut group, pins);
    round_trip::<MpscSync>(&mut group, pins);
    round_trip::<MpscUnbounded>(&mut group, pins);
    // Second floor sample: on a shared host the floor drifts, and a drift between the
    // first and last measurement means the ratios of this run are not trustworthy.
    round_trip_floor(&mut group, pins, "floor_atomic_u64_recheck");
    group.finish();

    let mut group = c.benchmark_group("stream_1m_u64");
    group
        .throughput(Throughput::Elements(STREAM_ITEMS))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat);
    stream::<Ours>(&mut group, pins);
    stream::<OursBatch>(&mut group, pins);
    stream::<CrossbeamArray>(&mut group, pins);
    stream::<MpscSync>(&mut group, pins);
    stream::<MpscUnbounded>(&mut group, pins);
    group.finish();
}

criterion_group!(benches, contenders);
criterion_main!(benches);
