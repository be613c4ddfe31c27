//! What a consumer thread does when its ring is empty, and how producers rouse it.
//!
//! Park protocol (Dekker-style, so no wake-up is lost):
//! - consumer: store `parked = true`; `fence(SeqCst)`; re-check the ring; park only if empty.
//! - producer: publish the item; `fence(SeqCst)`; read `parked`; unpark if it was set.
//!
//! The two SeqCst fences are totally ordered, so either the consumer's re-check sees the
//! item or the producer sees `parked`. The park timeout is therefore only a safety net
//! (e.g. for a producer that forgets to call [`Waker::wake`]).

use std::time::Duration;

use crossbeam::utils::CachePadded;

use super::sync::{fence, hint, thread, Arc, AtomicBool, Ordering, UnsafeCell};

/// How a consumer thread spends an empty poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Busy-poll with a CPU spin hint: lowest latency, the core stays 100% busy.
    Spin,
    /// Spin for `spins` consecutive empty polls, then yield the core on every further one.
    SpinYield {
        /// Empty polls spent spinning before each one yields instead.
        spins: u32,
    },
    /// Sleep until [`Waker::wake`] or `timeout_us` microseconds pass (the timeout is only a
    /// safety net; wake-ups are never lost).
    Park {
        /// Upper bound on one sleep, in microseconds.
        timeout_us: u64,
    },
}

/// Creates the producer-side [`Waker`] and consumer-side [`Waiter`] for `strategy`.
pub fn waiter(strategy: WaitStrategy) -> (Waker, Waiter) {
    match strategy {
        WaitStrategy::Spin => (Waker { slot: None }, Waiter { mode: Mode::Spin }),
        WaitStrategy::SpinYield { spins } => (
            Waker { slot: None },
            Waiter {
                mode: Mode::SpinYield { spins, polls: 0 },
            },
        ),
        WaitStrategy::Park { timeout_us } => {
            let slot = Arc::new(ParkSlot {
                parked: CachePadded::new(AtomicBool::new(false)),
                thread: UnsafeCell::new(None),
            });
            (
                Waker {
                    slot: Some(Arc::clone(&slot)),
                },
                Waiter {
                    mode: Mode::Park {
                        timeout: Duration::from_micros(timeout_us),
                        slot,
                        owner: None,
                    },
                },
            )
        }
    }
}

/// Where a parking consumer advertises itself to producers.
struct ParkSlot {
    /// `true` from just before the consumer's re-check until it is running again. Written
    /// only by the consumer (`true` with Release); wakers only read it, which keeps its
    /// modification order the consumer's program order.
    parked: CachePadded<AtomicBool>,
    /// The consumer's thread. Written once, by the consumer, before its first `parked = true`;
    /// read by wakers only after an Acquire load of `parked` returned `true`.
    thread: UnsafeCell<Option<thread::Thread>>,
}

// SAFETY: `thread` is written once, before the first Release store of `parked = true`, and
// read only after an Acquire load observed `true`, so every read happens-after the write and
// no write overlaps a read; `parked` is atomic and `Thread` is `Send + Sync`.
unsafe impl Sync for ParkSlot {}

impl std::fmt::Debug for ParkSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkSlot")
            .field("parked", &self.parked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Producer-side handle: call [`wake`](Self::wake) after each push. `Send + Clone`, so
/// several producers feeding one consumer thread can share it.
#[derive(Clone)]
pub struct Waker {
    /// `Some` only for [`WaitStrategy::Park`]; the spinning strategies need no wake-up.
    slot: Option<Arc<ParkSlot>>,
}

impl Waker {
    /// Unparks the consumer if it is parked. Not parked: one fence and one shared load, no
    /// syscall. Must be called after the push it announces. Repeated wakes while the
    /// consumer is waking up only re-set its unpark token, which makes no syscall.
    #[inline]
    pub fn wake(&self) {
        let Some(slot) = &self.slot else {
            return;
        };
        // Orders the caller's publish (the ring's `tail` store) before the `parked` read;
        // pairs with the consumer's fence in `Waiter::park`.
        fence(Ordering::SeqCst);
        // Acquire pairs with the consumer's Release `true`, which follows its one write of
        // `thread`. Wakers never write `parked`: a waker-side swap would save a few redundant
        // unparks but make the flag multi-writer (and trips loom's modification-order model).
        if slot.parked.load(Ordering::Acquire) {
            slot.thread.with(|thread| {
                // SAFETY: the Acquire load read the consumer's Release `true`, which it stored
                // after its one write of `thread`; see `ParkSlot`.
                if let Some(thread) = unsafe { &*thread } {
                    thread.unpark();
                }
            });
        }
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waker")
            .field("parks", &self.slot.is_some())
            .finish()
    }
}

/// Consumer-side handle: call [`idle`](Self::idle) after an empty poll and
/// [`reset`](Self::reset) after a successful one. `Send`; may be created on one thread and
/// moved to the consumer thread, but once `idle` has run it must stay on that thread.
#[derive(Debug)]
pub struct Waiter {
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    Spin,
    SpinYield {
        spins: u32,
        /// Consecutive empty polls since the last `reset`, saturating at `spins`.
        polls: u32,
    },
    Park {
        timeout: Duration,
        slot: Arc<ParkSlot>,
        /// The thread registered in `slot.thread`; `None` until the first `idle`.
        owner: Option<thread::ThreadId>,
    },
}

impl Waiter {
    /// Waits a little after an empty poll; `ready` re-checks the ring (e.g. `|| !rx.is_empty()`).
    ///
    /// `Spin` and `SpinYield` return after one hint / yield without calling `ready`; `Park`
    /// announces itself, calls `ready`, and sleeps (bounded by its timeout) only if it is
    /// still `false`. Callers loop: poll, `idle` on empty, `reset` on work.
    #[inline]
    pub fn idle<F: FnMut() -> bool>(&mut self, ready: F) {
        match &mut self.mode {
            Mode::Spin => hint::spin_loop(),
            Mode::SpinYield { spins, polls } => {
                if *polls < *spins {
                    *polls += 1;
                    hint::spin_loop();
                } else {
                    thread::yield_now();
                }
            }
            Mode::Park {
                timeout,
                slot,
                owner,
            } => park(slot, owner, *timeout, ready),
        }
    }

    /// Restarts the spin budget after the consumer found work.
    #[inline]
    pub fn reset(&mut self) {
        if let Mode::SpinYield { polls, .. } = &mut self.mode {
            *polls = 0;
        }
    }
}

#[cold]
fn park<F: FnMut() -> bool>(
    slot: &ParkSlot,
    owner: &mut Option<thread::ThreadId>,
    timeout: Duration,
    mut ready: F,
) {
    match owner {
        None => {
            let current = thread::current();
            *owner = Some(current.id());
            slot.thread.with_mut(|thread| {
                // SAFETY: first `idle`, so `parked` has never been `true` and no waker reads
                // `thread`; later `parked = true` stores (Release) publish this write.
                unsafe { *thread = Some(current) };
            });
        }
        Some(id) => debug_assert_eq!(
            *id,
            thread::current().id(),
            "a parking Waiter must stay on the thread that first called idle"
        ),
    }
    slot.parked.store(true, Ordering::Release);
    // Pairs with the fence in `Waker::wake`: after both, either `ready` sees the item or
    // the waker sees `parked`.
    fence(Ordering::SeqCst);
    if !ready() {
        thread::park_timeout(timeout);
    }
    slot.parked.store(false, Ordering::Relaxed);
}

#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread;

    use super::{waiter, Mode, WaitStrategy, Waiter, Waker};

    fn polls(waiter: &Waiter) -> u32 {
        match waiter.mode {
            Mode::SpinYield { polls, .. } => polls,
            _ => unreachable!("only SpinYield counts polls"),
        }
    }

    #[test]
    fn spin_modes_never_call_ready_and_wake_is_a_no_op() {
        for strategy in [WaitStrategy::Spin, WaitStrategy::SpinYield { spins: 2 }] {
            let (waker, mut waiter) = waiter(strategy);
            for _ in 0..5 {
                waiter.idle(|| unreachable!("spinning strategies re-poll the ring themselves"));
            }
            waker.wake();
            assert!(waker.slot.is_none());
        }
    }

    #[test]
    fn spin_yield_budget_saturates_and_reset_restarts_it() {
        let (_waker, mut waiter) = waiter(WaitStrategy::SpinYield { spins: 3 });
        for expected in [1, 2, 3, 3, 3] {
            waiter.idle(|| false);
            assert_eq!(polls(&waiter), expected);
        }
        waiter.reset();
        assert_eq!(polls(&waiter), 0);
    }

    #[test]
    fn park_returns_without_sleeping_when_ready() {
        let (_waker, mut waiter) = waiter(WaitStrategy::Park {
            timeout_us: 60_000_000,
        });
        // A minute-long timeout: if `ready` were ignored this test would visibly stall.
        let mut checks = 0;
        waiter.idle(|| {
            checks += 1;
            true
        });
        assert_eq!(checks, 1);
        let Mode::Park { slot, owner, .. } = &waiter.mode else {
            unreachable!()
        };
        assert!(!slot.parked.load(Ordering::Relaxed));
        assert_eq!(*owner, Some(thread::current().id()));
    }

    #[test]
    fn park_times_out_without_a_wake() {
        let (_waker, mut waiter) = waiter(WaitStrategy::Park { timeout_us: 200 });
        for _ in 0..3 {
            waiter.idle(|| false);
        }
    }

    #[test]
    fn wake_rouses_a_parked_consumer_on_another_thread() {
        let rounds = if cfg!(miri) { 3 } else { 200 };
        // Long timeout: a lost wake-up would stall the test for seconds, never forever.
        let (waker, waiter) = waiter(WaitStrategy::Park {
            timeout_us: 2_000_000,
        });
        let flag = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&flag);
        // The waiter is created here and moved: registration happens on its first `idle`.
        let consumer = thread::spawn(move || {
            let mut waiter = waiter;
            for _ in 0..rounds {
                while !seen.swap(false, Ordering::Acquire) {
                    waiter.idle(|| seen.load(Ordering::Acquire));
                }
                waiter.reset();
            }
        });
        for _ in 0..rounds {
            // Bounded: the consumer clears the flag or exits (then `is_finished`).
            while flag.load(Ordering::Acquire) && !consumer.is_finished() {
                thread::yield_now();
            }
            flag.store(true, Ordering::Release);
            waker.wake();
        }
        consumer.join().unwrap();
    }

    #[test]
    fn handles_are_send_and_waker_is_clone() {
        fn assert_send<S: Send>() {}
        fn assert_clone<S: Clone>() {}
        assert_send::<Waker>();
        assert_send::<Waiter>();
        assert_clone::<Waker>();
    }
}
