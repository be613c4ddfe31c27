//! Helpers shared by the integration tests (`mod common;` in each test crate).
//!
//! - [`alloc`]: the per-thread counting global allocator behind the no-allocation proofs;
//! - [`browser`]: headless Chromium over the DevTools protocol (load, evaluate, wait, screenshot);
//! - [`exchange`]: the embedded order exchange over loopback, with the bundled specs, and the
//!   bundled real replay served over WebSocket;
//! - [`feed`]: a feed stage started against an embedded exchange, with fast liveness settings;
//! - [`files`]: the crate root, bundled data and fixtures, fresh temp folders, the built binary;
//! - [`private`]: a rig whose executor takes the embedded exchange's private stream;
//! - [`recovery`]: start-up recovery of an executor from its journal;
//! - [`run`]: a whole run driven by a script holding its control handle, an eager strategy
//!   config, an operator's key file;
//! - [`rig`]: a venue executor on order lanes against the embedded exchange (either venue,
//!   several symbols) with an engine booking its reports;
//! - [`runs`]: whole runs against the embedded exchange serving the venue's endpoints (specs,
//!   account, orders, private streams) on the bundled real tape, and their end-state checks;
//! - [`setup`]: the bundled real replay, its symbols and instruments, and fills returned to an
//!   engine;
//! - [`tls`]: a test CA for `localhost` and a TLS-terminating loopback proxy in front of an
//!   embedded exchange (the venue over `https://` / `wss://`);
//! - [`trade_heavy`]: the strategy config made to trade often (also the budget bench's);
//! - [`values`]: exact decimals from literals (`d("0.1")`) and the wall clock in milliseconds;
//! - [`ws_rig`]: an executor whose orders go over the venue's order WebSocket (HMAC or Ed25519
//!   logon) or REST, to a fresh embedded exchange, in entry/exit rounds.
//!
//! `dead_code` is allowed because every file in `tests/` is its own crate and compiles its own
//! copy of this module: each uses only part of it, and the rest would warn in that crate.
#![allow(dead_code)]

pub mod alloc;
pub mod browser;
pub mod exchange;
pub mod feed;
pub mod files;
pub mod private;
pub mod recovery;
pub mod rig;
pub mod run;
pub mod runs;
pub mod setup;
pub mod tls;
pub mod trade_heavy;
pub mod values;
pub mod ws_rig;
