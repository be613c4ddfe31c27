//! The cold spec refresh: every `venue.specs.refresh_s` a cold thread re-fetches the venue's
//! instrument specs (and re-writes the cache with its fetch time) and applies what changed
//! without a restart.
//!
//! A changed instrument goes first to the execution thread (an SPSC ring of
//! [`SpecUpdate`]s that [`crate::exec::stage::ExecStage`] drains before each intent), then to
//! the compute thread as [`Command::Spec`] (the operator command ring): an intent decided
//! on the old filters reaches an executor that already checks the new ones, so an order that
//! fits only the old filters is refused locally, not sent. A symbol the venue no longer lists
//! as trading (or no longer lists) goes as `Command::Spec { trading: false, .. }`: entries
//! stop, exits keep running. A failed fetch changes nothing (the next round retries); a
//! full ring or command queue leaves the change for the next round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::specs::{fetch_and_cache, SpecsConfig, VenueSpecs};
use super::stage::SpecUpdate;
use crate::ring::Producer;
use crate::types::control::Command;
use crate::types::{Instrument, SymbolId};
use crate::venue::Venue;

/// Sends one command to the compute thread (the control handle's `send`).
pub type SendCommand = Box<dyn Fn(Command) -> Result<(), String> + Send>;

/// What the refresh watches: the run's symbols (ids in order) and their instruments in force.
#[derive(Debug)]
pub struct Watched {
    /// Symbol names in id order (the universe).
    pub names: Vec<String>,
    /// Their instruments in force, in id order.
    pub instruments: Vec<Instrument>,
}

/// The refresh's state: instruments in force and which symbols trade.
struct State {
    names: Vec<String>,
    current: Vec<Instrument>,
    trading: Vec<bool>,
}

/// The running refresh thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub struct SpecRefresh {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for SpecRefresh {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the refresh thread for `venue` per `cfg` (`cfg.refresh_s > 0`).
pub fn start(
    venue: Venue,
    cfg: &SpecsConfig,
    watched: Watched,
    mut exec: Producer<SpecUpdate>,
    send: SendCommand,
) -> std::io::Result<SpecRefresh> {
    let stop = Arc::new(AtomicBool::new(false));
    let every = Duration::from_secs_f64(cfg.refresh_s);
    let cfg = cfg.clone();
    let flag = stop.clone();
    let n = watched.names.len();
    let mut st = State {
        names: watched.names,
        current: watched.instruments,
        trading: vec![true; n],
    };
    let thread = std::thread::Builder::new()
        .name("spec-refresh".into())
        .spawn(move || {
            let mut next = Instant::now() + every;
            while !flag.load(Ordering::Acquire) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(20).min(every));
                    continue;
                }
                next = Instant::now() + every;
                match fetch_and_cache(venue, &cfg) {
                    Ok((specs, _)) => {
                        for line in apply(&mut st, &specs, &mut exec, &send) {
                            println!("specs: {line}");
                        }
                    }
                    Err(e) => eprintln!("specs: refresh failed ({e}); keeping the specs in force"),
                }
            }
        })?;
    Ok(SpecRefresh {
        stop,
        thread: Some(thread),
    })
}

/// Compares `specs` with the instruments in force and sends every change (see the module
/// doc); returns one line per change applied.
fn apply(
    st: &mut State,
    specs: &VenueSpecs,
    exec: &mut Producer<SpecUpdate>,
    send: &SendCommand,
) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..st.names.len() {
        let id = SymbolId(i as u16);
        let name = &st.names[i];
        match specs.get(name) {
            Ok(inst) if inst != st.current[i] || !st.trading[i] => {
                if exec.push((id, inst)).is_err() {
                    continue;
                }
                let trading = true;
                if send(Command::Spec { id, inst, trading }).is_ok() {
                    lines.push(describe(name, &st.current[i], &inst, st.trading[i]));
                    st.current[i] = inst;
                    st.trading[i] = true;
                }
            }
            Ok(_) => {}
            Err(e) if st.trading[i] => {
                let (inst, trading) = (st.current[i], false);
                if send(Command::Spec { id, inst, trading }).is_ok() {
                    lines.push(format!(
                        "{name} not traded any more (entries stop, exits run): {e}"
                    ));
                    st.trading[i] = false;
                }
            }
            Err(_) => {}
        }
    }
    lines
}

/// `NAME: tick a → b, step …` naming each filter that changed.
fn describe(name: &str, old: &Instrument, new: &Instrument, was_trading: bool) -> String {
    let mut parts = Vec::new();
    let mut cmp = |what: &str, a: String, b: String| {
        if a != b {
            parts.push(format!("{what} {a} → {b}"));
        }
    };
    cmp("tick", old.tick_size.to_string(), new.tick_size.to_string());
    cmp("step", old.qty_step.to_string(), new.qty_step.to_string());
    cmp("min qty", old.min_qty.to_string(), new.min_qty.to_string());
    cmp("max qty", old.max_qty.to_string(), new.max_qty.to_string());
    cmp(
        "max market qty",
        old.max_market_qty.to_string(),
        new.max_market_qty.to_string(),
    );
    cmp(
        "min notional",
        old.min_notional.to_string(),
        new.min_notional.to_string(),
    );
    if !was_trading {
        parts.push("trading again (an operator re-adds it)".into());
    }
    format!("{name}: {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::sync::Mutex;

    fn inst(tick: &str, notional: &str) -> Instrument {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        Instrument::new(d(tick), d("0.001"), d("0.001"), d("100"), d(notional)).unwrap()
    }

    fn reply(tick: &str, notional: &str, status: &str) -> VenueSpecs {
        let body = format!(
            r#"{{"symbols":[{{"symbol":"BTCUSDT","status":"{status}","filters":[
            {{"filterType":"PRICE_FILTER","tickSize":"{tick}"}},
            {{"filterType":"LOT_SIZE","stepSize":"0.001","minQty":"0.001","maxQty":"100"}},
            {{"filterType":"MIN_NOTIONAL","notional":"{notional}"}}]}}]}}"#
        );
        VenueSpecs::parse(Venue::Binance, body.as_bytes()).unwrap()
    }

    #[test]
    fn a_change_goes_to_exec_then_compute_once_and_a_halt_only_to_compute() {
        let (mut tx, mut rx) = crate::ring::channel::<SpecUpdate>(8).unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let s2 = sent.clone();
        let send: SendCommand = Box::new(move |c| {
            s2.lock().unwrap().push(c);
            Ok(())
        });
        let mut st = State {
            names: vec!["BTCUSDT".into()],
            current: vec![inst("0.01", "5")],
            trading: vec![true],
        };
        assert!(apply(&mut st, &reply("0.01", "5", "TRADING"), &mut tx, &send).is_empty());
        let lines = apply(&mut st, &reply("0.10", "10", "TRADING"), &mut tx, &send);
        assert_eq!(lines, ["BTCUSDT: tick 0.01 → 0.10, min notional 5 → 10"]);
        assert_eq!(rx.pop(), Some((SymbolId(0), inst("0.10", "10"))));
        assert!(apply(&mut st, &reply("0.10", "10", "TRADING"), &mut tx, &send).is_empty());
        let lines = apply(&mut st, &reply("0.10", "10", "SETTLING"), &mut tx, &send);
        assert!(lines[0].contains("not traded any more"), "{lines:?}");
        assert_eq!(rx.pop(), None, "a halt changes no filter");
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 2);
        assert!(matches!(sent[1], Command::Spec { trading: false, .. }));
    }
}
