//! Helpers shared by the integration tests (`mod common;` in each test crate).
//!
//! - [`alloc`]: the per-thread counting global allocator behind the no-allocation proofs;
//! - [`setup`]: the bundled real replay, its symbols and instruments, and fills returned to an
//!   engine.
//!
//! Every test crate compiles its own copy and uses only part of it, hence `dead_code` is allowed.
#![allow(dead_code)]

pub mod alloc;
pub mod setup;
