//! `strategy = "both"` in the default run: the whole pipeline over loopback against the
//! embedded exchange replaying the bundled real trades; the scalper's entries go out as signed
//! orders with their stop and take-profit, and every order is answered.

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::telemetry::Counter;

mod common;
use common::files::temp_dir;

#[test]
fn default_run_with_strategy_both_sends_scalper_orders() {
    let dump = temp_dir("scalper-live");
    let text = DEFAULT_TOML
        .replace("strategy = \"calculus\"", "strategy = \"both\"")
        .replace("topology = \"auto\"", "topology = \"fused\"")
        .replace("hot = \"spin\"", "hot = \"spin_yield\"")
        .replace("speed = 10.0", "speed = 0.0")
        .replace("recv_window_ms = 5000", "recv_window_ms = 60000")
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dump.display().to_string()),
        );
    let cfg = Config::parse(&text).unwrap();
    let mask = runtime::affinity::AllowedCores::detect().ids();
    let report = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
    // The run pinned this (calling) thread to its cold core and gave the whole mask back.
    assert_eq!(runtime::affinity::AllowedCores::detect().ids(), mask);
    let s = report.engine.stats();
    assert_eq!(s.ticks, 35_389);
    assert!(s.scalper_entries > 0, "{s:?}");
    // Every intent answered; the engine's own close of a position whose venue-side stop could
    // not be placed (the replay outran it) is a report without an intent.
    assert!(s.fills + s.rejects >= s.intents, "{s:?}");
    let c = runtime::counters(&report);
    // Every order ends final: filled, or refused by the venue (a reduce-only exit whose
    // position a venue-side stop closed first, when the replay outruns the round trip).
    assert_eq!(
        c.get(Counter::Orders),
        c.get(Counter::Fills) + c.get(Counter::RejectVenue)
    );
    assert_eq!(c.get(Counter::OrdersUnknown), 0);
    assert_eq!(c.get(Counter::RejectLost), 0);
    // The live entry counter includes the scalper's entries.
    assert_eq!(
        c.get(Counter::Entries),
        s.case_entries.iter().sum::<u64>() + s.scalper_entries
    );
    std::fs::remove_dir_all(&dump).ok();
}
