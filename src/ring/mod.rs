//! Lock-free bounded single-producer / single-consumer ring and consumer wait strategies.
//!
//! [`channel`] splits a fixed-capacity ring into a [`Producer`] and a [`Consumer`], one per
//! thread. `push`/`pop` are wait-free, allocation-free and syscall-free. A consumer thread
//! that finds its ring empty uses a [`Waiter`] built from a [`WaitStrategy`]; producers
//! announce work through the matching [`Waker`].

mod spsc;
mod sync;
pub mod wait;

pub use spsc::{channel, CapacityError, Consumer, Producer};
pub use wait::{waiter, WaitStrategy, Waiter, Waker};

#[cfg(all(test, not(feature = "loom")))]
mod tests;
