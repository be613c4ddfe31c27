//! Helpers shared by the integration tests (`mod common;` in each test crate).
//!
//! - [`alloc`]: the per-thread counting global allocator behind the no-allocation proofs;
//! - [`exchange`]: the embedded order exchange over loopback, with the bundled specs;
//! - [`setup`]: the bundled real replay, its symbols and instruments, and fills returned to an
//!   engine.
//!
//! Every test crate compiles its own copy and uses only part of it, hence `dead_code` is allowed.
#![allow(dead_code)]

pub mod alloc;
pub mod exchange;
pub mod setup;
