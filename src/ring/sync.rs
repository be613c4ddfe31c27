//! One import surface for the ring's concurrency primitives: std normally, loom's
//! model-checked twins under `--features loom`, so `spsc` and `wait` read the same either way.
//!
//! Only what the ring uses is exported; the std `UnsafeCell` gets loom's closure API
//! (`with`/`with_mut`) because that is the shape loom needs to track every access.

#[cfg(feature = "loom")]
pub(crate) use loom::{
    cell::UnsafeCell,
    hint,
    sync::{
        atomic::{fence, AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
};

#[cfg(not(feature = "loom"))]
pub(crate) use std::{
    hint,
    sync::{
        atomic::{fence, AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
};

/// `std::cell::UnsafeCell` behind loom's closure API; the closures compile away.
#[cfg(not(feature = "loom"))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(feature = "loom"))]
impl<T> UnsafeCell<T> {
    #[inline(always)]
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Shared access; the caller's `unsafe` deref must prove no concurrent writer exists.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Exclusive access; the caller's `unsafe` deref must prove no concurrent access exists.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Thread handles, parking and yielding.
pub(crate) mod thread {
    use std::time::Duration;

    #[cfg(feature = "loom")]
    pub(crate) use loom::thread::{current, yield_now, Thread, ThreadId};
    #[cfg(not(feature = "loom"))]
    pub(crate) use std::thread::{current, yield_now, Thread, ThreadId};

    /// Parks the current thread for at most `timeout` (may also return spuriously).
    #[cfg(not(feature = "loom"))]
    #[inline]
    pub(crate) fn park_timeout(timeout: Duration) {
        std::thread::park_timeout(timeout);
    }

    /// loom has no timed park, so the model parks without the safety net: a lost
    /// wake-up then shows up as a loom deadlock instead of being masked by the timeout.
    #[cfg(feature = "loom")]
    pub(crate) fn park_timeout(_timeout: Duration) {
        loom::thread::park();
    }
}
