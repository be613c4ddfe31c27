//! The bounded single-producer / single-consumer ring itself.
//!
//! Protocol: the producer's `tail` and the consumer's `head` count pushes and pops since
//! construction, wrapping at `usize::MAX`; index `i` lives in slot `i & mask`. Each slot
//! carries its item and a sequence stamp in one 64-byte-aligned block: the producer writes
//! item `i`, then stores `seq = i + 1` (Release) in the same cache line. The consumer polls
//! only the stamp of its next slot (Acquire), so a hop moves that one line and nothing else.
//! The consumer hands slots back by a Release store of `head` (once per `pop`, once per
//! `pop_batch`); the producer keeps a private copy of it and reloads it (Acquire) only when
//! that copy says full, so the steady state touches no line the consumer writes.
//!
//! Invariant: a slot's `seq` is one more than the newest index written into it, where the
//! lap before construction counts as written (`seq = i - capacity + 1` for the first index
//! `i` of each slot). Slots `head..tail` hold initialised items owned by the consumer side
//! (their `seq` equals index + 1); all other slots are uninitialised and owned by the
//! producer side (their `seq` is index − capacity + 1, never index + 1).

use std::alloc::Layout;
use std::fmt;
use std::mem::{self, MaybeUninit};

use crossbeam::utils::CachePadded;

use super::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// Rejected ring capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapacityError {
    /// Zero or not a power of two: indices are mapped to slots by masking with `capacity - 1`.
    NotPowerOfTwo(usize),
    /// The slot buffer would exceed `isize::MAX` bytes, the limit of any Rust allocation.
    TooLarge(usize),
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotPowerOfTwo(requested) => write!(
                f,
                "ring capacity must be a power of two >= 1, got {requested}"
            ),
            Self::TooLarge(requested) => write!(
                f,
                "ring capacity {requested} is too large: the slot buffer would exceed isize::MAX bytes"
            ),
        }
    }
}

impl std::error::Error for CapacityError {}

/// One ring position: the item and its publication stamp in one 64-byte-aligned block, so
/// for items of up to 56 bytes the stamp the consumer polls and the item share a cache line.
/// The stamp comes last: for a larger item only its last line is the one the consumer polls,
/// and the producer writes the earlier lines without contending for them.
#[repr(C, align(64))]
struct Slot<T> {
    /// Initialised iff this slot's index is in `head..tail`.
    value: UnsafeCell<MaybeUninit<T>>,
    /// One more than the newest index written into this slot (wrapping). Stored only by the
    /// producer, Release, after writing the item; `seq == i + 1` means item `i` is here.
    seq: AtomicUsize,
}

/// State shared by the two halves; freed, with any items still in it, when both are gone.
struct Shared<T> {
    /// Pops so far (wrapping). Stored only by the consumer, Release, after moving items out.
    /// Invariant: `tail.wrapping_sub(head) <= capacity` for the producer's `tail`.
    head: CachePadded<AtomicUsize>,
    /// Set (Release) by whichever half drops first. A live half can only see its peer's
    /// store, so `true` read by a live half means "the other half is gone".
    abandoned: AtomicBool,
    /// `capacity - 1`; `capacity` is a power of two, so `index & mask` is always in bounds.
    mask: usize,
    /// `capacity` slots; see the module invariant for `seq` and initialisation.
    buffer: Box<[Slot<T>]>,
}

// SAFETY: a slot's item is only ever accessed by the one half that currently owns it (see the
// module protocol), and ownership moves with Release/Acquire on `seq` and `head`; items cross
// threads by value, which `T: Send` permits. No `&T` is ever shared, so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The slot that index `index` (any wrapping count) maps to.
    #[inline(always)]
    fn slot(&self, index: usize) -> &Slot<T> {
        // SAFETY: `buffer.len() == mask + 1` is a power of two, so `index & mask < buffer.len()`.
        unsafe { self.buffer.get_unchecked(index & self.mask) }
    }

    /// `true` iff item `index` has been published into its slot and not yet handed back.
    /// Only meaningful for `index` in `head..head + capacity` read by the consumer side;
    /// the Acquire pairs with the producer's Release of `seq`, so the item is visible.
    #[inline(always)]
    fn published(&self, index: usize) -> bool {
        self.slot(index).seq.load(Ordering::Acquire) == index.wrapping_add(1)
    }

    /// Items published from `head` on: the run of consecutive published slots, at most
    /// `capacity` (the producer publishes in index order, so the run ends at its `tail`).
    fn published_from(&self, head: usize) -> usize {
        let mut count = 0;
        while count < self.capacity() && self.published(head.wrapping_add(count)) {
            count += 1;
        }
        count
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        if !mem::needs_drop::<T>() {
            return;
        }
        // Relaxed suffices: the last `Arc` drop acquires everything both halves did
        // before releasing their `Arc`, including their final `head` and `seq` stores.
        let head = self.head.load(Ordering::Relaxed);
        let live = self.published_from(head);
        for offset in 0..live {
            self.slot(head.wrapping_add(offset)).value.with_mut(|slot| {
                // SAFETY: the index is in `head..tail` (published, never popped), so the slot
                // holds an item; both halves are gone, and each index is visited once.
                unsafe { (*slot).assume_init_drop() }
            });
        }
    }
}

/// One half's hold on the [`Shared`] state. Dropping it marks the ring abandoned: the
/// Release store lets the peer that sees the flag also see every index store made before it.
struct Half<T>(Arc<Shared<T>>);

impl<T> Half<T> {
    /// `true` once the peer half has been dropped.
    #[inline]
    fn peer_gone(&self) -> bool {
        self.0.abandoned.load(Ordering::Acquire)
    }

    /// `Half { capacity, <index_name>: index }` without the slots (shared by both halves).
    fn debug(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        index_name: &str,
        index: usize,
    ) -> fmt::Result {
        f.debug_struct(name)
            .field("capacity", &self.0.capacity())
            .field(index_name, &index)
            .finish_non_exhaustive()
    }
}

impl<T> std::ops::Deref for Half<T> {
    type Target = Shared<T>;

    #[inline(always)]
    fn deref(&self) -> &Shared<T> {
        &self.0
    }
}

impl<T> Drop for Half<T> {
    fn drop(&mut self) {
        self.0.abandoned.store(true, Ordering::Release);
    }
}

/// Creates a ring holding up to `capacity` items (a power of two >= 1).
///
/// The buffer is allocated here, once; `push`/`pop` never allocate, lock or make syscalls.
///
/// ```
/// let (mut tx, mut rx) = calculus_trader::ring::channel::<u64>(4).unwrap();
/// tx.push(7).unwrap();
/// assert_eq!(rx.pop(), Some(7));
/// ```
pub fn channel<T: Send>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), CapacityError> {
    if !capacity.is_power_of_two() {
        return Err(CapacityError::NotPowerOfTwo(capacity));
    }
    if Layout::array::<Slot<T>>(capacity).is_err() {
        return Err(CapacityError::TooLarge(capacity));
    }
    Ok(channel_from(capacity, 0))
}

/// Builds a ring whose indices start at `start` instead of 0 (lets tests cross `usize::MAX`).
fn channel_from<T: Send>(capacity: usize, start: usize) -> (Producer<T>, Consumer<T>) {
    let mask = capacity - 1;
    let buffer = (0..capacity)
        .map(|position: usize| {
            // The first index at or after `start` that maps to this position.
            let first = start.wrapping_add(position.wrapping_sub(start) & mask);
            Slot {
                seq: AtomicUsize::new(first.wrapping_sub(capacity).wrapping_add(1)),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }
        })
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(start)),
        abandoned: AtomicBool::new(false),
        mask,
        buffer,
    });
    let producer = Producer {
        shared: Half(Arc::clone(&shared)),
        tail: start,
        cached_head: start,
    };
    let consumer = Consumer {
        shared: Half(shared),
        head: start,
    };
    (producer, consumer)
}

/// Test-only entry to [`channel_from`], for wrap-around tests.
#[cfg(all(test, not(feature = "loom")))]
pub(super) fn channel_starting_at<T: Send>(
    capacity: usize,
    start: usize,
) -> (Producer<T>, Consumer<T>) {
    assert!(capacity.is_power_of_two());
    channel_from(capacity, start)
}

/// Test-only view of slot internals: the `seq` stamp of the slot index `index` maps to.
#[cfg(all(test, not(feature = "loom")))]
pub(super) fn slot_seq<T>(rx: &Consumer<T>, index: usize) -> usize {
    rx.shared.slot(index).seq.load(Ordering::Acquire)
}

/// Test-only: size and alignment of one slot carrying `T`.
#[cfg(all(test, not(feature = "loom")))]
pub(super) fn slot_layout<T>() -> Layout {
    Layout::new::<Slot<T>>()
}

/// The writing half. Exactly one exists per ring; it is `Send`, and `&mut self` on every
/// mutating method keeps it single-producer.
pub struct Producer<T> {
    shared: Half<T>,
    /// Pushes so far (wrapping); only this half knows it, the consumer sees slot stamps.
    tail: usize,
    /// Last `shared.head` seen; never ahead of it, so `tail - cached_head` over-estimates
    /// the fill level and can only make us refresh, never overwrite a live slot.
    cached_head: usize,
}

impl<T> Producer<T> {
    /// Appends `value`, or hands it back as `Err(value)` when the ring is full. Never blocks.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if self.tail.wrapping_sub(self.cached_head) == self.shared.capacity() {
            // Acquire pairs with the consumer's Release of `head`: its move-out of the slot we
            // are about to reuse happens-before our write.
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.cached_head) == self.shared.capacity() {
                return Err(value);
            }
        }
        let slot = self.shared.slot(self.tail);
        slot.value.with_mut(|item| {
            // SAFETY: `tail - head < capacity`, so this slot is outside the consumer's range
            // `head..tail` and uninitialised; its `seq` is not `tail + 1` until we store it
            // below, so the consumer does not read it meanwhile.
            unsafe { item.write(MaybeUninit::new(value)) };
        });
        self.tail = self.tail.wrapping_add(1);
        // Release hands the written item to the consumer's Acquire of this stamp
        // (`seq = index + 1 = new tail`), in the item's own cache line.
        slot.seq.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Number of pushes that would currently succeed (refreshes the consumer's index).
    #[inline]
    pub fn free_slots(&mut self) -> usize {
        self.cached_head = self.shared.head.load(Ordering::Acquire);
        self.shared.capacity() - self.tail.wrapping_sub(self.cached_head)
    }

    /// Fixed number of slots, as passed to [`channel`].
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// `true` once the [`Consumer`] has been dropped: nothing pushed from now on will be read.
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.shared.peer_gone()
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.debug(f, "Producer", "tail", self.tail)
    }
}

/// The reading half. Exactly one exists per ring; it is `Send`, and `&mut self` on every
/// mutating method keeps it single-consumer.
pub struct Consumer<T> {
    shared: Half<T>,
    /// Our own index; equal to `shared.head` except transiently inside `pop_batch`, where it
    /// runs ahead and is published once at the end.
    head: usize,
}

impl<T> Consumer<T> {
    /// Removes the oldest item, or `None` if the ring is empty. Never blocks.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if !self.shared.published(self.head) {
            return None;
        }
        let value = self.shared.slot(self.head).value.with(|item| {
            // SAFETY: the stamp says item `head` is published (its Acquire made the write
            // visible) and the producer will not touch the slot until we publish `head + 1`;
            // we move it out exactly once because `head` advances right below.
            unsafe { (*item).assume_init_read() }
        });
        self.head = self.head.wrapping_add(1);
        // Release hands the emptied slot back to the producer's Acquire of `head`.
        self.shared.head.store(self.head, Ordering::Release);
        Some(value)
    }

    /// Passes up to `max` items, oldest first, to `f`, and returns how many it passed.
    ///
    /// The consumer index is published once, after the last item (or on unwind if `f`
    /// panics, counting the items already handed out), so a batch costs one shared store.
    /// The producer therefore sees the freed slots only when the batch ends.
    #[inline]
    pub fn pop_batch<F: FnMut(T)>(&mut self, max: usize, mut f: F) -> usize {
        let start = self.head;
        if max == 0 || !self.shared.published(start) {
            return 0;
        }
        let commit = HeadCommit {
            shared: &self.shared,
            head: &mut self.head,
        };
        loop {
            let value = commit.shared.slot(*commit.head).value.with(|item| {
                // SAFETY: the stamp of `*commit.head` was seen published (Acquire), so the
                // slot is initialised and the producer will not touch it until `commit`
                // publishes; the index advances right below, so each item is moved out once.
                unsafe { (*item).assume_init_read() }
            });
            // Advance before `f` runs so an unwinding `f` never leaves a moved-out slot
            // inside `head..tail`, where `Shared::drop` would drop it a second time.
            *commit.head = commit.head.wrapping_add(1);
            f(value);
            let next = *commit.head;
            if next.wrapping_sub(start) == max || !commit.shared.published(next) {
                break;
            }
        }
        commit.count(start)
    }

    /// Number of items ready to pop: the published run from `head` (reads each of its
    /// slots' stamps, so it costs one cache line per item; not for the hot path).
    #[inline]
    pub fn len(&mut self) -> usize {
        self.shared.published_from(self.head)
    }

    /// `true` if nothing is ready to pop; reads only the next slot's stamp.
    #[inline]
    pub fn is_empty(&mut self) -> bool {
        !self.shared.published(self.head)
    }

    /// Fixed number of slots, as passed to [`channel`].
    #[inline]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// `true` once the [`Producer`] has been dropped. Checked first and followed by an empty
    /// [`is_empty`](Self::is_empty) (or `None` from [`pop`](Self::pop)), it proves that no
    /// item will ever come: the flag's Acquire makes every earlier push visible.
    #[inline]
    pub fn is_abandoned(&self) -> bool {
        self.shared.peer_gone()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.debug(f, "Consumer", "head", self.head)
    }
}

/// Publishes the consumer's local `head` when dropped: at the end of a batch, or while
/// unwinding out of the batch callback.
struct HeadCommit<'a, T> {
    shared: &'a Shared<T>,
    head: &'a mut usize,
}

impl<T> HeadCommit<'_, T> {
    /// Items moved out since `start`.
    #[inline(always)]
    fn count(&self, start: usize) -> usize {
        self.head.wrapping_sub(start)
    }
}

impl<T> Drop for HeadCommit<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release hands every slot emptied by the batch back to the producer at once.
        self.shared.head.store(*self.head, Ordering::Release);
    }
}
