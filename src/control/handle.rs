//! [`ControlHandle`]: the one way in and out of the running engine for operators. Commands go
//! to the compute thread through an SPSC ring (the compute thread polls it between ticks); the
//! status view is published by the monitor thread and read by the server. Cold side only: the
//! locks here are never taken by a hot thread.

use std::sync::{Mutex, RwLock};

use crate::ring::Producer;
use crate::types::control::{Command, StatusView};
use crate::types::SymbolId;

/// Shared by the control server's tasks and the monitor thread.
#[derive(Debug)]
pub struct ControlHandle {
    commands: Mutex<Producer<Command>>,
    status: RwLock<StatusView>,
}

impl ControlHandle {
    /// A handle whose commands go into `commands` (the compute thread holds the consumer).
    pub fn new(commands: Producer<Command>) -> Self {
        Self {
            commands: Mutex::new(commands),
            status: RwLock::new(StatusView::default()),
        }
    }

    /// Queues `c` for the compute thread; an error when the ring is full (the compute thread
    /// is not taking commands) or the lock was poisoned.
    pub fn send(&self, c: Command) -> Result<(), String> {
        let mut tx = self
            .commands
            .lock()
            .map_err(|_| "command queue unavailable".to_string())?;
        tx.push(c)
            .map_err(|_| "command queue full: the engine is not taking commands".to_string())
    }

    /// The latest published status.
    pub fn status(&self) -> StatusView {
        self.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Replaces the published status (monitor thread).
    pub fn publish(&self, v: StatusView) {
        if let Ok(mut s) = self.status.write() {
            *s = v;
        }
    }

    /// The id of a symbol of the published status (its index in `symbols`), matched
    /// case-insensitively.
    pub fn symbol_id(&self, name: &str) -> Option<SymbolId> {
        let s = self.status.read().ok()?;
        s.symbols
            .iter()
            .position(|v| v.symbol.eq_ignore_ascii_case(name))
            .and_then(|i| u16::try_from(i).ok())
            .map(SymbolId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::channel;
    use crate::types::control::SymbolView;

    #[test]
    fn commands_reach_the_consumer_in_order_and_a_full_ring_says_so() {
        let (tx, mut rx) = channel::<Command>(2).unwrap();
        let h = ControlHandle::new(tx);
        let cap = rx.capacity();
        for _ in 0..cap {
            h.send(Command::Pause).unwrap();
        }
        assert!(h.send(Command::Resume).unwrap_err().contains("full"));
        assert_eq!(rx.pop(), Some(Command::Pause));
        h.send(Command::Resume).unwrap();
        let mut last = None;
        while let Some(c) = rx.pop() {
            last = Some(c);
        }
        assert_eq!(last, Some(Command::Resume));
    }

    #[test]
    fn symbol_ids_follow_the_published_order() {
        let (tx, _rx) = channel::<Command>(2).unwrap();
        let h = ControlHandle::new(tx);
        assert_eq!(h.symbol_id("BTCUSDT"), None);
        let mut v = StatusView::default();
        for s in ["BTCUSDT", "ETHUSDT"] {
            v.symbols.push(SymbolView {
                symbol: s.into(),
                ..Default::default()
            });
        }
        h.publish(v);
        assert_eq!(h.symbol_id("ethusdt"), Some(SymbolId(1)));
        assert_eq!(h.status().symbols.len(), 2);
    }
}
