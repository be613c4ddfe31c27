//! Behaviour of the ring halves; sized so Miri finishes quickly (`cfg!(miri)` shrinks loops).

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use super::spsc::{channel_starting_at, slot_layout, slot_seq};
use super::{channel, CapacityError, Consumer, Producer};

/// Counts its own drops so tests can prove "exactly once".
struct Tracked {
    value: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn tracked(value: u64, drops: &Arc<AtomicUsize>) -> Tracked {
    Tracked {
        value,
        drops: Arc::clone(drops),
    }
}

#[test]
fn capacity_must_be_power_of_two() {
    for bad in [0, 3, 6, 100, 1023] {
        let err = channel::<u64>(bad).unwrap_err();
        assert_eq!(err, CapacityError::NotPowerOfTwo(bad));
        assert_eq!(
            err.to_string(),
            format!("ring capacity must be a power of two >= 1, got {bad}")
        );
    }
    for good in [1, 2, 4, 1024] {
        let (tx, rx) = channel::<u64>(good).unwrap();
        assert_eq!((tx.capacity(), rx.capacity()), (good, good));
    }
}

#[test]
fn capacity_beyond_address_space_is_rejected() {
    let huge = 1usize << (usize::BITS - 1);
    let err = channel::<u64>(huge).unwrap_err();
    assert_eq!(err, CapacityError::TooLarge(huge));
    assert!(err.to_string().contains("too large"));
}

#[test]
fn pops_in_push_order() {
    let (mut tx, mut rx) = channel(8).unwrap();
    assert_eq!(rx.pop(), None);
    for v in 0..5u64 {
        tx.push(v).unwrap();
    }
    for v in 0..5u64 {
        assert_eq!(rx.pop(), Some(v));
    }
    assert_eq!(rx.pop(), None);
}

#[test]
fn full_then_pop() {
    let (mut tx, mut rx) = channel(4).unwrap();
    for v in 0..4u64 {
        tx.push(v).unwrap();
    }
    assert_eq!(tx.free_slots(), 0);
    assert_eq!(tx.push(99), Err(99), "a full ring hands the value back");
    assert_eq!(rx.pop(), Some(0));
    assert_eq!(tx.free_slots(), 1);
    tx.push(4).unwrap();
    assert_eq!(tx.push(100), Err(100));
    let drained: Vec<u64> = std::iter::from_fn(|| rx.pop()).collect();
    assert_eq!(drained, [1, 2, 3, 4]);
}

#[test]
fn capacity_one_alternates() {
    let (mut tx, mut rx) = channel(1).unwrap();
    for v in 0..10u64 {
        tx.push(v).unwrap();
        assert_eq!(tx.push(v), Err(v));
        assert_eq!(rx.pop(), Some(v));
        assert_eq!(rx.pop(), None);
    }
}

#[test]
fn wraps_around() {
    let (mut tx, mut rx) = channel(2).unwrap();
    let mut next = 0u64;
    for round in 0..20u64 {
        tx.push(round * 2).unwrap();
        tx.push(round * 2 + 1).unwrap();
        assert!(tx.push(0).is_err());
        for _ in 0..2 {
            assert_eq!(rx.pop(), Some(next));
            next += 1;
        }
    }
}

#[test]
fn indices_wrap_past_usize_max() {
    let (mut tx, mut rx) = channel_starting_at::<u64>(4, usize::MAX - 5);
    let mut next = 0u64;
    for round in 0..6u64 {
        for i in 0..3 {
            tx.push(round * 3 + i).unwrap();
        }
        assert_eq!(tx.free_slots(), 1);
        assert_eq!(rx.len(), 3);
        let got = rx.pop_batch(usize::MAX, |v| {
            assert_eq!(v, next);
            next += 1;
        });
        assert_eq!(got, 3);
    }
    assert!(rx.is_empty());
}

#[test]
fn len_and_is_empty_follow_pushes() {
    let (mut tx, mut rx) = channel(4).unwrap();
    assert!(rx.is_empty());
    assert_eq!(rx.len(), 0);
    tx.push(1u8).unwrap();
    tx.push(2).unwrap();
    assert!(!rx.is_empty());
    assert_eq!(rx.len(), 2);
    rx.pop();
    assert_eq!(rx.len(), 1);
    rx.pop();
    assert!(rx.is_empty());
}

#[test]
fn pop_batch_commits_once() {
    let (mut tx, mut rx) = channel(4).unwrap();
    for v in 0..4u64 {
        tx.push(v).unwrap();
    }
    let mut seen = Vec::new();
    let got = rx.pop_batch(3, |v| {
        // The producer must not see any freed slot until the whole batch is done.
        assert_eq!(tx.free_slots(), 0);
        seen.push(v);
    });
    assert_eq!(got, 3);
    assert_eq!(seen, [0, 1, 2]);
    assert_eq!(tx.free_slots(), 3);
}

#[test]
fn pop_batch_respects_max_and_availability() {
    let (mut tx, mut rx) = channel(8).unwrap();
    assert_eq!(rx.pop_batch(8, |_: u64| unreachable!()), 0);
    for v in 0..5u64 {
        tx.push(v).unwrap();
    }
    let mut seen = Vec::new();
    assert_eq!(rx.pop_batch(0, |v| seen.push(v)), 0);
    assert_eq!(rx.pop_batch(2, |v| seen.push(v)), 2);
    assert_eq!(rx.pop_batch(100, |v| seen.push(v)), 3);
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    assert_eq!(rx.pop(), None);
}

#[test]
fn pop_batch_panic_keeps_every_item_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = channel(8).unwrap();
    for v in 0..6 {
        assert!(tx.push(tracked(v, &drops)).is_ok());
    }
    let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
        rx.pop_batch(5, |item| {
            assert!(item.value < 2, "callback fails on the third item");
        })
    }));
    assert!(unwound.is_err());
    // Items 0..=2 were handed to the callback (and dropped by it); the index covers them.
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    assert_eq!(tx.free_slots(), 5);
    assert_eq!(rx.pop().map(|item| item.value), Some(3));
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::Relaxed), 6);
}

#[test]
fn abandoned_after_producer_drop() {
    let (mut tx, mut rx) = channel(4).unwrap();
    tx.push(1u32).unwrap();
    assert!(!rx.is_abandoned());
    drop(tx);
    assert!(rx.is_abandoned());
    assert_eq!(
        rx.pop(),
        Some(1),
        "items pushed before the drop are still delivered"
    );
    assert!(rx.is_empty());
}

#[test]
fn abandoned_after_consumer_drop() {
    let (mut tx, rx) = channel(4).unwrap();
    assert!(!tx.is_abandoned());
    drop(rx);
    assert!(tx.is_abandoned());
    assert_eq!(
        tx.push(5u32),
        Ok(()),
        "push still works; the item is just never read"
    );
}

#[test]
fn leftovers_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = channel(4).unwrap();
    for v in 0..4 {
        assert!(tx.push(tracked(v, &drops)).is_ok());
    }
    let rejected = tx.push(tracked(4, &drops));
    assert!(rejected.is_err());
    drop(rejected);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    drop(rx.pop());
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    drop(rx);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        2,
        "the producer still holds the ring"
    );
    drop(tx);
    assert_eq!(drops.load(Ordering::Relaxed), 5);
}

#[test]
fn leftovers_dropped_after_wrap() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = channel(2).unwrap();
    for v in 0..5 {
        assert!(tx.push(tracked(v, &drops)).is_ok());
        drop(rx.pop());
    }
    assert!(tx.push(tracked(5, &drops)).is_ok());
    assert!(tx.push(tracked(6, &drops)).is_ok());
    drop(tx);
    drop(rx);
    assert_eq!(drops.load(Ordering::Relaxed), 7);
}

#[test]
fn zero_sized_items_flow() {
    let (mut tx, mut rx) = channel(2).unwrap();
    tx.push(()).unwrap();
    tx.push(()).unwrap();
    assert_eq!(tx.push(()), Err(()));
    assert_eq!(rx.pop(), Some(()));
    assert_eq!(rx.len(), 1);
}

#[test]
fn halves_are_send() {
    fn assert_send<S: Send>() {}
    assert_send::<Producer<String>>();
    assert_send::<Consumer<String>>();
}

#[test]
fn transfers_across_threads_in_order() {
    let n: u64 = if cfg!(miri) { 200 } else { 100_000 };
    let (mut tx, mut rx) = channel(4).unwrap();
    let producer = thread::spawn(move || {
        for v in 0..n {
            let mut item = Box::new(v);
            // Bounded: the loop ends when the consumer drains or is gone.
            while let Err(back) = tx.push(item) {
                assert!(!tx.is_abandoned(), "consumer quit early");
                item = back;
                thread::yield_now();
            }
        }
    });
    let mut next = 0;
    loop {
        match rx.pop() {
            Some(v) => {
                assert_eq!(*v, next);
                next += 1;
            }
            // Checking abandonment before the final emptiness test proves nothing is in flight.
            None if rx.is_abandoned() && rx.is_empty() => break,
            None => thread::yield_now(),
        }
    }
    producer.join().unwrap();
    assert_eq!(next, n);
}

#[test]
fn slots_are_cache_line_blocks() {
    use crate::types::{ExecReport, OrderIntent, Tick};
    for (name, layout, item) in [
        ("u64", slot_layout::<u64>(), std::mem::size_of::<u64>()),
        ("()", slot_layout::<()>(), 0),
        ("Tick", slot_layout::<Tick>(), std::mem::size_of::<Tick>()),
        (
            "OrderIntent",
            slot_layout::<OrderIntent>(),
            std::mem::size_of::<OrderIntent>(),
        ),
        (
            "ExecReport",
            slot_layout::<ExecReport>(),
            std::mem::size_of::<ExecReport>(),
        ),
    ] {
        assert_eq!(layout.align(), 64, "{name}: slots start on a cache line");
        // Stamp + item, rounded up to whole lines: one line when the item fits in 56 bytes.
        let lines = (item + std::mem::size_of::<usize>()).div_ceil(64).max(1);
        assert_eq!(layout.size(), 64 * lines, "{name} ({item} bytes)");
    }
    assert_eq!(
        slot_layout::<Tick>().size(),
        64,
        "md ring: a tick and its stamp move as one cache line"
    );
    assert_eq!(
        slot_layout::<OrderIntent>().size(),
        64,
        "order ring: an intent and its stamp move as one cache line"
    );
}

#[test]
fn fresh_slots_are_never_published() {
    for capacity in [1usize, 2, 4, 8] {
        for start in [0, 1, 5, usize::MAX - 2, usize::MAX] {
            let (_tx, mut rx) = channel_starting_at::<u64>(capacity, start);
            for offset in 0..capacity {
                let index = start.wrapping_add(offset);
                let seq = slot_seq(&rx, index);
                // As if the lap before `start` had been written and consumed.
                assert_eq!(seq, index.wrapping_sub(capacity).wrapping_add(1));
                assert_ne!(seq, index.wrapping_add(1), "cap {capacity} start {start}");
            }
            assert_eq!(rx.len(), 0);
            assert!(rx.is_empty());
            assert_eq!(rx.pop(), None);
            assert_eq!(rx.pop_batch(usize::MAX, |_| unreachable!()), 0);
        }
    }
}

#[test]
fn slot_seq_is_index_plus_one_across_usize_wrap() {
    let start = usize::MAX - 2;
    let (mut tx, mut rx) = channel_starting_at::<u64>(4, start);
    // Indices MAX-2, MAX-1, MAX, 0, 1, ...: item k sits at index start + k.
    for k in 0..4u64 {
        tx.push(k).unwrap();
        let index = start.wrapping_add(k as usize);
        assert_eq!(slot_seq(&rx, index), index.wrapping_add(1));
    }
    assert_eq!(slot_seq(&rx, usize::MAX), 0, "index MAX publishes stamp 0");
    assert_eq!(rx.len(), 4);
    for k in 0..2u64 {
        assert_eq!(rx.pop(), Some(k));
    }
    // Second lap into the two freed slots: their stamps move on by one capacity.
    tx.push(4).unwrap();
    tx.push(5).unwrap();
    assert_eq!(tx.push(6), Err(6));
    for k in 4..6usize {
        let index = start.wrapping_add(k);
        assert_eq!(slot_seq(&rx, index), index.wrapping_add(1));
        assert_eq!(slot_seq(&rx, index.wrapping_sub(4)), index.wrapping_add(1));
    }
    let mut next = 2;
    assert_eq!(
        rx.pop_batch(usize::MAX, |v| {
            assert_eq!(v, next);
            next += 1;
        }),
        4
    );
    // Consumed slots keep their stamp: index + 1 of the lap just read, never the next lap's.
    for k in 6..10usize {
        let index = start.wrapping_add(k);
        assert_ne!(slot_seq(&rx, index), index.wrapping_add(1));
    }
    assert!(rx.is_empty());
}

#[test]
fn len_counts_the_published_run() {
    let (mut tx, mut rx) = channel(4).unwrap();
    for v in 0..4u64 {
        tx.push(v).unwrap();
        assert_eq!(rx.len(), v as usize + 1);
    }
    assert_eq!(rx.len(), 4, "a full ring is capped at capacity");
    rx.pop();
    tx.push(4).unwrap();
    assert_eq!(rx.len(), 4);
}

/// An item whose every word must agree: a read of a slot the producer has not fully
/// published (or has started to overwrite) would show a mix.
#[derive(Clone, Copy)]
struct Wide([u64; 6]);

#[test]
fn consumer_never_reads_an_unpublished_slot() {
    let n: u64 = if cfg!(miri) { 100 } else { 200_000 };
    for capacity in [1usize, 2, 8] {
        let (mut tx, mut rx) = channel_starting_at::<Wide>(capacity, usize::MAX - 3);
        let producer = thread::spawn(move || {
            for v in 0..n {
                let mut item = Wide([v; 6]);
                while let Err(back) = tx.push(item) {
                    assert!(!tx.is_abandoned(), "consumer quit early");
                    item = back;
                    thread::yield_now();
                }
            }
        });
        let mut next = 0;
        let mut check = |item: Wide| {
            assert_eq!(item.0, [next; 6], "torn or out-of-order item");
            next += 1;
        };
        let mut turn = 0u64;
        loop {
            // Alternate single pops and batches so both read paths race the producer.
            turn += 1;
            let got = if turn % 2 == 0 {
                rx.pop().map(&mut check).map_or(0, |()| 1)
            } else {
                rx.pop_batch(3, &mut check)
            };
            if got == 0 {
                if rx.is_abandoned() && rx.is_empty() {
                    break;
                }
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert_eq!(next, n, "capacity {capacity}");
    }
}
