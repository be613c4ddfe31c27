//! Two-thread stress of the ring: order, loss, duplication and drop accounting.
//!
//! Every wait is bounded without timers: a blocked side gives up as soon as its peer is
//! gone (`is_abandoned`), and a panicking peer drops its half while unwinding. The tests
//! run one at a time (`SERIAL`) so two spinning pairs never fight over 2 cores.
#![cfg(not(feature = "loom"))]

use std::hint;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use calculus_trader::ring::{channel, waiter, Consumer, Producer, WaitStrategy};

const ITEMS: u64 = 10_000_000;
const CAPACITY: usize = 1024;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Blocked-side pause: a few spin hints, then give the core away (2 noisy cores).
fn back_off(attempt: &mut u32) {
    if *attempt < 16 {
        hint::spin_loop();
    } else {
        thread::yield_now();
    }
    *attempt += 1;
}

/// Pushes `0..n`; returns early only if the consumer is gone.
fn produce(mut tx: Producer<u64>, n: u64) {
    for value in 0..n {
        let mut attempt = 0;
        while tx.push(value).is_err() {
            assert!(!tx.is_abandoned(), "consumer vanished at item {value}");
            back_off(&mut attempt);
        }
    }
}

/// Order, count and sum of what the consumer saw.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    count: u64,
    sum: u64,
}

impl Tally {
    fn expect_all(n: u64) -> Self {
        Self {
            count: n,
            sum: n * (n - 1) / 2,
        }
    }

    /// Strict order: item `k` must be `k`, so any loss, duplicate or swap shows up here.
    fn record(&mut self, value: u64) {
        assert_eq!(value, self.count, "out of order, lost or duplicated");
        self.count += 1;
        self.sum = self.sum.wrapping_add(value);
    }
}

/// `true` when the producer is gone and the ring is drained, in that order: the Acquire in
/// `is_abandoned` makes every push visible to the following `is_empty`.
fn finished<T>(rx: &mut Consumer<T>) -> bool {
    rx.is_abandoned() && rx.is_empty()
}

#[test]
fn ten_million_items_arrive_in_order_with_pop() {
    let _serial = serial();
    let (tx, mut rx) = channel(CAPACITY).unwrap();
    let producer = thread::spawn(move || produce(tx, ITEMS));
    let mut tally = Tally::default();
    let mut attempt = 0;
    loop {
        match rx.pop() {
            Some(value) => {
                tally.record(value);
                attempt = 0;
            }
            None if finished(&mut rx) => break,
            None => back_off(&mut attempt),
        }
    }
    producer.join().unwrap();
    assert_eq!(tally, Tally::expect_all(ITEMS));
}

#[test]
fn ten_million_items_arrive_in_order_with_pop_batch() {
    let _serial = serial();
    let (tx, mut rx) = channel(CAPACITY).unwrap();
    let producer = thread::spawn(move || produce(tx, ITEMS));
    let mut tally = Tally::default();
    let mut batches = 0u64;
    let mut attempt = 0;
    loop {
        let got = rx.pop_batch(256, |value| tally.record(value));
        if got > 0 {
            assert!(got <= 256);
            batches += 1;
            attempt = 0;
        } else if finished(&mut rx) {
            break;
        } else {
            back_off(&mut attempt);
        }
    }
    producer.join().unwrap();
    assert_eq!(tally, Tally::expect_all(ITEMS));
    assert!(batches <= ITEMS);
}

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Heap-owning item whose constructions and drops are counted globally.
struct Counted(Box<u64>);

impl Counted {
    fn new(value: u64) -> Self {
        CREATED.fetch_add(1, Ordering::Relaxed);
        Self(Box::new(value))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn non_copy_items_are_dropped_exactly_once_including_leftovers() {
    let _serial = serial();
    const TAKE: u64 = 500_000;
    let (mut tx, mut rx) = channel::<Counted>(CAPACITY).unwrap();
    // The producer offers more than the consumer takes, so it ends on a full ring whose
    // contents must be dropped by the ring itself.
    let producer = thread::spawn(move || {
        let mut pushed = 0u64;
        'items: loop {
            let mut item = Counted::new(pushed);
            let mut attempt = 0;
            loop {
                match tx.push(item) {
                    Ok(()) => break,
                    // Full and nobody will ever read again: stop, dropping the rejected item.
                    Err(_) if tx.is_abandoned() => break 'items,
                    Err(back) => item = back,
                }
                back_off(&mut attempt);
            }
            pushed += 1;
        }
        assert_eq!(tx.free_slots(), 0, "gave up only on a full ring");
        pushed
    });
    let mut next = 0u64;
    let mut attempt = 0;
    while next < TAKE {
        match rx.pop() {
            Some(item) => {
                assert_eq!(*item.0, next);
                next += 1;
                attempt = 0;
            }
            None => {
                assert!(!finished(&mut rx), "producer stopped early");
                back_off(&mut attempt);
            }
        }
    }
    drop(rx);
    let pushed = producer.join().unwrap();
    assert_eq!(
        pushed,
        TAKE + CAPACITY as u64,
        "the ring held a full load of leftovers"
    );
    assert_eq!(
        DROPPED.load(Ordering::Relaxed),
        CREATED.load(Ordering::Relaxed)
    );
    assert_eq!(CREATED.load(Ordering::Relaxed) as u64, pushed + 1);
}

#[test]
fn every_wait_strategy_delivers_everything() {
    let _serial = serial();
    const N: u64 = 200_000;
    for strategy in [
        WaitStrategy::Spin,
        WaitStrategy::SpinYield { spins: 64 },
        WaitStrategy::Park { timeout_us: 500 },
    ] {
        let (mut tx, mut rx) = channel::<u64>(64).unwrap();
        // Built here, used on the consumer thread: registration happens on its first idle.
        let (waker, mut waiter) = waiter(strategy);
        let consumer = thread::spawn(move || {
            let mut tally = Tally::default();
            loop {
                match rx.pop() {
                    Some(value) => {
                        tally.record(value);
                        waiter.reset();
                    }
                    None if finished(&mut rx) => break tally,
                    None => waiter.idle(|| !rx.is_empty()),
                }
            }
        });
        let mut attempt = 0;
        for value in 0..N {
            while tx.push(value).is_err() {
                assert!(!tx.is_abandoned(), "{strategy:?}: consumer vanished");
                back_off(&mut attempt);
            }
            attempt = 0;
            waker.wake();
            // Go quiet now and then so the consumer drains the ring and really waits (parks).
            if value % 4096 == 0 {
                thread::sleep(Duration::from_micros(50));
            }
        }
        drop(tx);
        // Abandonment is news too; without this wake the park timeout would deliver it.
        waker.wake();
        let tally = consumer.join().unwrap();
        assert_eq!(tally, Tally::expect_all(N), "{strategy:?}");
    }
}
