//! [`ControlHandle`]: the one way in and out of the running engine for operators. Commands go
//! to the compute thread through an SPSC ring (the compute thread polls it between ticks); the
//! status view is published by the monitor thread and read by the server. Cold side only: the
//! locks here are never taken by a hot thread.

use std::sync::{Mutex, RwLock};

use crate::feed::{FeedCommand, FeedControl};
use crate::ring::Producer;
use crate::types::control::{Command, StatusView};
use crate::types::{SymbolId, SymbolTable};

/// Shared by the control server's tasks and the monitor thread.
#[derive(Debug)]
pub struct ControlHandle {
    commands: Mutex<Producer<Command>>,
    status: RwLock<StatusView>,
    symbols: Mutex<Option<SymbolControl>>,
    preparer: Mutex<Option<SymbolPreparer>>,
}

/// Readies a symbol at the venue before its first entry (leverage, margin mode: see
/// `runtime::account`); an error refuses the symbol with the venue's reason.
pub type PrepareFn = Box<dyn Fn(SymbolId, &str) -> Result<(), String> + Send + Sync>;

/// [`PrepareFn`] with a `Debug` that names no more than that it is set.
struct SymbolPreparer(PrepareFn);

impl std::fmt::Debug for SymbolPreparer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SymbolPreparer")
    }
}

/// What adding and removing symbols at run time needs: the symbol universe (ids fixed for the
/// run), which of them are active, and the feed's command ring.
#[derive(Debug)]
struct SymbolControl {
    table: SymbolTable,
    active: Vec<bool>,
    feed: FeedControl,
}

impl ControlHandle {
    /// A handle whose commands go into `commands` (the compute thread holds the consumer).
    pub fn new(commands: Producer<Command>) -> Self {
        Self {
            commands: Mutex::new(commands),
            status: RwLock::new(StatusView::default()),
            symbols: Mutex::new(None),
            preparer: Mutex::new(None),
        }
    }

    /// Every symbol [`Self::add_symbol`] starts is first readied by `f` (venue routes: its
    /// leverage and margin mode); an error refuses the add with `f`'s message.
    pub fn set_preparer(&self, f: PrepareFn) {
        if let Ok(mut g) = self.preparer.lock() {
            *g = Some(SymbolPreparer(f));
        }
    }

    /// Runs the preparer (if any) for `id` / `name`.
    fn prepare(&self, id: SymbolId, name: &str) -> Result<(), String> {
        let g = self
            .preparer
            .lock()
            .map_err(|_| "symbol preparation unavailable".to_string())?;
        match g.as_ref() {
            Some(p) => (p.0)(id, name),
            None => Ok(()),
        }
    }

    /// Enables [`Self::add_symbol`] / [`Self::remove_symbol`]: `table` is the run's symbol
    /// universe, `active` the symbols subscribed and trading now, `feed` the feed stage's
    /// command ring.
    pub fn set_symbols(&self, table: SymbolTable, active: &[SymbolId], feed: FeedControl) {
        let mut on = vec![false; table.len()];
        for s in active {
            if let Some(x) = on.get_mut(s.index()) {
                *x = true;
            }
        }
        if let Ok(mut g) = self.symbols.lock() {
            *g = Some(SymbolControl {
                table,
                active: on,
                feed,
            });
        }
    }

    /// Starts trading `name` (case-insensitive): subscribes its market data first, then tells
    /// the engine (which warms the symbol's models up from its first ticks before it trades).
    /// Already active: `Ok`, nothing sent. Not in the universe: an error naming the symbol.
    /// Without [`Self::set_symbols`] (no feed to control) only the engine is told.
    pub fn add_symbol(&self, name: &str) -> Result<SymbolId, String> {
        let mut g = self
            .symbols
            .lock()
            .map_err(|_| "symbol control unavailable".to_string())?;
        let Some(sc) = g.as_mut() else {
            drop(g);
            let id = self.symbol_id(name).ok_or_else(|| unknown(name))?;
            self.prepare(id, name)?;
            return self.engine_only(name, Command::AddSymbol);
        };
        let id = lookup(&sc.table, name)?;
        if sc.active[id.index()] {
            return Ok(id);
        }
        self.prepare(id, sc.table.name(id))?;
        sc.feed.send(FeedCommand::Subscribe(id))?;
        if let Err(e) = self.send(Command::AddSymbol(id)) {
            // The engine never heard of it: undo the subscription.
            let _ = sc.feed.send(FeedCommand::Unsubscribe(id));
            return Err(e);
        }
        sc.active[id.index()] = true;
        Ok(id)
    }

    /// Stops trading `name`: the engine stops its entries and closes its position first, then
    /// its market data is unsubscribed. Not active: `Ok`, nothing sent. Not in the universe:
    /// an error naming the symbol. Without [`Self::set_symbols`] only the engine is told.
    pub fn remove_symbol(&self, name: &str) -> Result<SymbolId, String> {
        let mut g = self
            .symbols
            .lock()
            .map_err(|_| "symbol control unavailable".to_string())?;
        let Some(sc) = g.as_mut() else {
            drop(g);
            return self.engine_only(name, Command::RemoveSymbol);
        };
        let id = lookup(&sc.table, name)?;
        if !sc.active[id.index()] {
            return Ok(id);
        }
        self.send(Command::RemoveSymbol(id))?;
        sc.active[id.index()] = false;
        sc.feed.send(FeedCommand::Unsubscribe(id))?;
        Ok(id)
    }

    /// `make(id)` of the published status's symbol `name` to the engine (no feed control).
    fn engine_only(&self, name: &str, make: fn(SymbolId) -> Command) -> Result<SymbolId, String> {
        let id = self.symbol_id(name).ok_or_else(|| unknown(name))?;
        self.send(make(id))?;
        Ok(id)
    }

    /// Symbols of the universe that are not active (what [`Self::add_symbol`] accepts), in id
    /// order.
    pub fn available_symbols(&self) -> Vec<String> {
        self.symbol_names(false)
    }

    /// Symbols active now (subscribed and trading), in id order.
    pub fn active_symbols(&self) -> Vec<String> {
        self.symbol_names(true)
    }

    fn symbol_names(&self, active: bool) -> Vec<String> {
        let Ok(g) = self.symbols.lock() else {
            return Vec::new();
        };
        g.as_ref().map_or_else(Vec::new, |sc| {
            sc.table
                .names()
                .iter()
                .zip(&sc.active)
                .filter(|(_, &a)| a == active)
                .map(|(n, _)| n.clone())
                .collect()
        })
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

    /// The id of a symbol, matched case-insensitively: from the run's symbol universe once
    /// [`Self::set_symbols`] was called, else its index in the published status's `symbols`.
    pub fn symbol_id(&self, name: &str) -> Option<SymbolId> {
        if let Ok(g) = self.symbols.lock() {
            if let Some(sc) = g.as_ref() {
                return sc.table.lookup(name.trim());
            }
        }
        let s = self.status.read().ok()?;
        s.symbols
            .iter()
            .position(|v| v.symbol.eq_ignore_ascii_case(name))
            .and_then(|i| u16::try_from(i).ok())
            .map(SymbolId)
    }
}

/// The id of `name` in `table`, or [`unknown`].
fn lookup(table: &SymbolTable, name: &str) -> Result<SymbolId, String> {
    table.lookup(name.trim()).ok_or_else(|| unknown(name))
}

/// The error for a symbol outside the run's universe: it names the symbol and says why.
fn unknown(name: &str) -> String {
    format!(
        "{}: unknown symbol: no instrument spec for it in this run's universe (add it to the spec table or venue.universe and restart)",
        name.trim().to_ascii_uppercase()
    )
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

    /// A handle over the universe `names` with `active` subscribed, and the rings' consumers.
    fn with_symbols(
        names: &[&str],
        active: &[u16],
    ) -> (
        ControlHandle,
        crate::ring::Consumer<Command>,
        crate::ring::Consumer<FeedCommand>,
        mio::Poll,
    ) {
        let (tx, rx) = channel::<Command>(8).unwrap();
        let (ftx, frx) = channel::<FeedCommand>(8).unwrap();
        let poll = mio::Poll::new().unwrap();
        let waker = std::sync::Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let h = ControlHandle::new(tx);
        let active: Vec<SymbolId> = active.iter().map(|&i| SymbolId(i)).collect();
        h.set_symbols(
            SymbolTable::new(names).unwrap(),
            &active,
            FeedControl::new(ftx, waker),
        );
        (h, rx, frx, poll)
    }

    #[test]
    fn adding_subscribes_first_then_tells_the_engine_and_removing_goes_the_other_way() {
        let (h, mut rx, mut frx, _poll) = with_symbols(&["BTCUSDT", "ETHUSDT", "SOLUSDT"], &[0]);
        assert_eq!(h.available_symbols(), vec!["ETHUSDT", "SOLUSDT"]);
        assert_eq!(
            h.symbol_id("solusdt"),
            Some(SymbolId(2)),
            "from the universe"
        );
        assert_eq!(h.add_symbol("ethusdt"), Ok(SymbolId(1)));
        assert_eq!(frx.pop(), Some(FeedCommand::Subscribe(SymbolId(1))));
        assert_eq!(rx.pop(), Some(Command::AddSymbol(SymbolId(1))));
        assert_eq!(h.active_symbols(), vec!["BTCUSDT", "ETHUSDT"]);
        assert_eq!(h.available_symbols(), vec!["SOLUSDT"]);
        // Already active: nothing sent.
        assert_eq!(h.add_symbol("ETHUSDT"), Ok(SymbolId(1)));
        assert_eq!(h.add_symbol("BTCUSDT"), Ok(SymbolId(0)));
        assert_eq!((frx.pop(), rx.pop()), (None, None));
        assert_eq!(h.remove_symbol("ETHUSDT"), Ok(SymbolId(1)));
        assert_eq!(rx.pop(), Some(Command::RemoveSymbol(SymbolId(1))));
        assert_eq!(frx.pop(), Some(FeedCommand::Unsubscribe(SymbolId(1))));
        assert_eq!(
            h.remove_symbol("ETHUSDT"),
            Ok(SymbolId(1)),
            "not active: no-op"
        );
        assert_eq!((frx.pop(), rx.pop()), (None, None));
        assert_eq!(h.available_symbols(), vec!["ETHUSDT", "SOLUSDT"]);
    }

    #[test]
    fn a_symbol_outside_the_universe_is_refused_by_name() {
        let (h, mut rx, mut frx, _poll) = with_symbols(&["BTCUSDT", "ETHUSDT"], &[0]);
        for f in [ControlHandle::add_symbol, ControlHandle::remove_symbol] {
            let e = f(&h, "dogeusdt").unwrap_err();
            assert!(
                e.contains("DOGEUSDT") && e.contains("no instrument spec"),
                "{e}"
            );
        }
        assert_eq!((frx.pop(), rx.pop()), (None, None));
        let (tx, mut bare_rx) = channel::<Command>(2).unwrap();
        let bare = ControlHandle::new(tx);
        assert!(bare.add_symbol("BTCUSDT").is_err());
        assert!(bare.available_symbols().is_empty());
        // Without feed control only the engine is told, for a symbol of the published status.
        let mut v = StatusView::default();
        for s in ["BTCUSDT", "ETHUSDT"] {
            v.symbols.push(SymbolView {
                symbol: s.into(),
                ..Default::default()
            });
        }
        bare.publish(v);
        assert_eq!(bare.add_symbol("ethusdt"), Ok(SymbolId(1)));
        assert_eq!(bare.remove_symbol("BTCUSDT"), Ok(SymbolId(0)));
        assert_eq!(bare_rx.pop(), Some(Command::AddSymbol(SymbolId(1))));
        assert_eq!(bare_rx.pop(), Some(Command::RemoveSymbol(SymbolId(0))));
        assert!(bare
            .add_symbol("DOGEUSDT")
            .unwrap_err()
            .contains("DOGEUSDT"));
    }

    #[test]
    fn a_full_engine_ring_undoes_the_subscription() {
        let (h, mut rx, mut frx, _poll) = with_symbols(&["BTCUSDT", "ETHUSDT"], &[0]);
        while h.send(Command::Pause).is_ok() {}
        assert!(h.add_symbol("ETHUSDT").unwrap_err().contains("full"));
        assert_eq!(frx.pop(), Some(FeedCommand::Subscribe(SymbolId(1))));
        assert_eq!(frx.pop(), Some(FeedCommand::Unsubscribe(SymbolId(1))));
        assert_eq!(h.available_symbols(), vec!["ETHUSDT"]);
        while rx.pop().is_some() {}
        assert_eq!(h.add_symbol("ETHUSDT"), Ok(SymbolId(1)));
    }
}
