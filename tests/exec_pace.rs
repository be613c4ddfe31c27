//! Decisions do not depend on replay pace, also when the venue is slower than the feed: the
//! bundled ticks replayed as fast as possible and at a slow pace send the same orders
//! (symbol, side, quantity, reduce-only, in order), read back from each run's order journal.
//!
//! Why this holds: the engine decides on its *working* position (fills plus orders in flight),
//! so when a fill comes back does not matter; only a refusal (or an expired remainder) changes
//! what it holds. The execution stage therefore never refuses an intent for lack of room: with
//! the entry lane full it holds the intent and takes no later one (the hot loop, or the order
//! ring, back-pressures compute and the replay source), so no tick is dropped or decided
//! differently. The saturated case slows every order reply at the exchange (a `hang` fault) and
//! leaves one entry connection and two orders in flight: at full speed the stage must hold.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use calculus_trader::config::Config;
use calculus_trader::exchange::fault_plan::FaultPlan;
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::journal::inspect;
use calculus_trader::exec::RecordKind;
use calculus_trader::runtime::{self, RunOptions, RunReport, Shutdown};
use calculus_trader::telemetry::Counter;
use common::exchange::{hosted, hosted_toml, Hosted, Options};
use common::files::temp_dir;

/// (symbol, side, qty, reduce_only) of every journaled order intent, in journal order.
type Sent = Vec<(String, String, String, bool)>;

/// One run of the bundled replay at `speed` (0 = as fast as possible) against an exchange
/// whose order replies are delayed `reply_ms` (0 = none), with `max_in_flight` orders in
/// flight on one entry connection.
fn run(speed: f64, reply_ms: u32, max_in_flight: usize, saturate: bool) -> (RunReport, Sent) {
    let faults = (reply_ms > 0).then(|| {
        let plan = format!(
            "seed = 1\n[[rule]]\np = 1.0\non = [\"order\"]\nfault = {{ kind = \"hang\", ms = {reply_ms} }}\n"
        );
        Arc::new(FaultPlan::from_toml(&plan).unwrap())
    });
    let Hosted { replay, rest } = hosted(
        speed,
        "0",
        Options {
            rest: RestOptions {
                faults,
                ..RestOptions::default()
            },
            ..Options::default()
        },
    );
    let dir = temp_dir("pace");
    let keys = dir.join("keys.toml");
    let c = rest.credentials();
    std::fs::write(
        &keys,
        format!(
            "[binance]\napi_key = \"{}\"\napi_secret = \"{}\"\n",
            c.api_key, c.secret
        ),
    )
    .unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let journal = dir.join("orders.journal");
    let text = hosted_toml(&replay, &rest)
        .replace("key_file = \"\"", &format!("key_file = {:?}", path(&keys)))
        .replace("journal = \"\"", &format!("journal = {:?}", path(&journal)))
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", path(&dir.join("dumps"))),
        )
        .replace(
            "max_in_flight = 64",
            &format!("max_in_flight = {max_in_flight}\norder_connections = 1"),
        );
    let text = if saturate {
        eager(&text).replace("cooldown_ms = 5000", "cooldown_ms = 0")
    } else {
        text
    };
    let report = runtime::run(
        &Config::parse(&text).unwrap(),
        &RunOptions::default(),
        Shutdown::default(),
    )
    .unwrap();
    let scan = inspect(&journal).unwrap();
    assert_eq!(scan.first_bad, None);
    let sent = scan
        .good
        .iter()
        .filter(|(r, _)| r.kind == RecordKind::Intent)
        .map(|(r, name)| {
            (
                name.as_string(),
                format!("{:?}", r.side),
                r.qty.normalize().to_string(),
                r.reduce_only,
            )
        })
        .collect();
    drop(rest);
    drop(replay);
    let _ = std::fs::remove_dir_all(&dir);
    (report, sent)
}

/// `text` with every confirmation layer off and the SNR / confidence thresholds at 0: an
/// order on most ticks that change the matrix case.
fn eager(text: &str) -> String {
    let (head, rest) = text.split_once("[layers.ou]").unwrap();
    let (layers, tail) = rest.split_once("[indicators]").unwrap();
    format!(
        "{}[layers.ou]{}[indicators]{tail}",
        head.replace("max_consecutive_losses = 5", "max_consecutive_losses = 0")
            .replace("daily_loss = 0.05", "daily_loss = 0.5")
            .replace("drawdown_reduce = 0.10", "drawdown_reduce = 0.4")
            .replace("drawdown_pause = 0.15", "drawdown_pause = 0.5")
            .replace("emergency_drawdown = 0.20", "emergency_drawdown = 0.0")
            .replace("snr_min = 1.0", "snr_min = 0.0")
            .replace("confidence_min = 0.6", "confidence_min = 0.0"),
        layers.replace("enabled = true", "enabled = false"),
    )
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn same_orders(fast: (RunReport, Sent), slow: (RunReport, Sent)) -> u64 {
    let ((fast, fast_sent), (slow, slow_sent)) = (fast, slow);
    for r in [&fast, &slow] {
        let c = runtime::counters(r);
        assert_eq!(c.get(Counter::Ticks), 35_389, "every tick decided on");
        assert_eq!(c.get(Counter::RejectBackpressure), 0);
    }
    assert!(
        !fast_sent.is_empty(),
        "the bundled ticks must produce orders"
    );
    assert_eq!(fast_sent.len(), slow_sent.len(), "orders sent");
    assert_eq!(fast_sent, slow_sent);
    assert_eq!(fast.engine.stats(), slow.engine.stats());
    runtime::counters(&fast).get(Counter::ExecHeld)
}

#[test]
fn same_ticks_at_two_paces_send_the_same_orders() {
    same_orders(run(0.0, 0, 64, false), run(20.0, 0, 64, false));
}

#[test]
fn same_orders_at_two_paces_when_the_venue_is_slower_than_the_feed() {
    let held = same_orders(run(0.0, 20, 2, true), run(20.0, 20, 2, true));
    assert!(held > 0, "at full speed the stage had to hold intents");
}
