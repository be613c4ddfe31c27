//! A counting global allocator, per thread: delegates to the system allocator and, while a
//! [`counted`] closure runs on this thread, counts every `alloc` and `realloc` (frees are not
//! counted: a free without an allocation cannot happen in a closure that allocates nothing).
//!
//! `#[global_allocator]` must stand in the test crate itself: one line per test crate,
//! `common::alloc::install!();` after `mod common;`, which also adds the test that it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The counting allocator (install with [`install!`]).
pub struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates every call to the system allocator unchanged; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ACTIVE.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ACTIVE.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Declares [`Counting`] the test crate's `#[global_allocator]`, with the test
/// `counting_allocator_sees_allocations` (one `vec!` inside [`counted`] is exactly one
/// allocation: the allocator counts, or the zeros the other tests assert prove nothing).
#[allow(unused_macros)]
macro_rules! install {
    () => {
        #[global_allocator]
        static GLOBAL: $crate::common::alloc::Counting = $crate::common::alloc::Counting;

        #[test]
        fn counting_allocator_sees_allocations() {
            let (_, n) = $crate::common::alloc::counted(|| vec![1u8; 100]);
            assert_eq!(
                n, 1,
                "the allocator must count, or the zeros asserted elsewhere prove nothing"
            );
        }
    };
}
#[allow(unused_imports)]
pub(crate) use install;

/// Runs `f` on this thread and returns its result with the number of allocations
/// (`alloc` + `realloc`) it made. Panics when [`Counting`] is not the global allocator (a
/// probe allocation must be counted first), so a zero is never a counter that does not run.
pub fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    COUNT.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    drop(std::hint::black_box(Box::new(0u64)));
    assert_eq!(
        COUNT.with(Cell::get),
        1,
        "Counting is not the global allocator: add `common::alloc::install!();`"
    );
    COUNT.with(|c| c.set(0));
    let r = f();
    ACTIVE.with(|a| a.set(false));
    (r, COUNT.with(Cell::get))
}
