//! Run-time subscription changes. The control side (a cold thread) pushes [`FeedCommand`]s
//! into an SPSC ring and wakes the network thread's `poll`; `FeedStage::poll` applies them
//! between reads (one atomic load when none waits: no syscall, no allocation on the hot path).

use std::sync::Arc;

use mio::Waker;

use crate::ring::Producer;
use crate::types::SymbolId;

/// A subscription change for the feed stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedCommand {
    /// Subscribe the symbol's topics (on a connection with room, or a new one); kept across
    /// reconnects.
    Subscribe(SymbolId),
    /// Unsubscribe the symbol's topics; its messages still in flight are dropped.
    Unsubscribe(SymbolId),
}

/// The sending side of the feed's command ring (cold threads only).
#[derive(Debug)]
pub struct FeedControl {
    tx: Producer<FeedCommand>,
    waker: Arc<Waker>,
}

impl FeedControl {
    /// Commands go into `tx`; `waker` ends the network thread's wait so they apply promptly.
    pub fn new(tx: Producer<FeedCommand>, waker: Arc<Waker>) -> Self {
        Self { tx, waker }
    }

    /// Queues `c` and wakes the network thread; an error when the ring is full.
    pub fn send(&mut self, c: FeedCommand) -> Result<(), String> {
        self.tx
            .push(c)
            .map_err(|_| "feed command queue full: the feed is not taking commands".to_string())?;
        // A failed wake only delays the command to the next poll.
        let _ = self.waker.wake();
        Ok(())
    }
}
