//! kill -9 mid-run, restart, and prove that no position was lost and no order was sent twice.
//!
//! The test process hosts the exchange: the WebSocket replay of the bundled real trades and the
//! REST order entry (which counts every client order id it receives). The real binary trades
//! against it over loopback with a persistent journal; it is SIGKILLed once orders have been
//! placed, restarted with the same journal, and left to finish the replay. Then:
//! - every client order id reached the exchange exactly once (nothing resent after the crash);
//! - the journal's positions (fills replayed, unfinished orders resolved by re-query at start)
//!   equal the exchange's positions to the last decimal, fees and realized PnL included.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use calculus_trader::exchange::rest_orders::{RestOptions, SimCredentials};
use calculus_trader::exchange::RestExchange;
use calculus_trader::exec::journal::{FsyncPolicy, Journal};
use rust_decimal::Decimal;

mod common;
use calculus_trader::venue::Venue;
use common::exchange::{hosted_binary_toml_on, hosted_on, key_env, Hosted, Options};
use common::files::{bin, temp_dir};

/// Order requests the trader sent: client ids `ct<session>-<seq>` (a Bybit order's position
/// TP/SL legs, kept by the exchange as `<id>-tp` / `<id>-sl` orders of their own, are not).
fn orders_received(ex: &RestExchange) -> usize {
    ex.venue().with(|m| {
        m.received_client_ids()
            .iter()
            .filter(|(id, _)| {
                id.rsplit('-')
                    .next()
                    .is_some_and(|s| s.parse::<u64>().is_ok())
            })
            .map(|(_, &n)| n as usize)
            .sum()
    })
}

fn spawn(venue: Venue, cfg: &Path, creds: &SimCredentials, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    let (key, secret) = key_env(venue);
    bin()
        .arg("--config")
        .arg(cfg)
        .arg("--quiet")
        .env(key, &creds.api_key)
        .env(secret, &creds.secret)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits (bounded) until `cond` holds; false on timeout.
fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

#[test]
fn kill_9_mid_run_loses_no_position_and_sends_no_order_twice_binance() {
    kill_9_mid_run(Venue::Binance);
}

#[test]
fn kill_9_mid_run_loses_no_position_and_sends_no_order_twice_bybit() {
    kill_9_mid_run(Venue::Bybit);
}

fn kill_9_mid_run(venue: Venue) {
    let dir = temp_dir(&format!("kill9-{}", venue.name()));

    // The exchange: real trades replayed at 20x (about 17 s), orders priced by the replay.
    let names = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
    let creds = SimCredentials::generate().unwrap();
    let Hosted { replay, rest } = hosted_on(
        venue,
        20.0,
        "1",
        Options {
            creds: Some(creds.clone()),
            rest: RestOptions {
                // Orders are filled at once but answered 1 s later: a kill in that second leaves
                // an intent in the journal whose fill only the exchange knows.
                order_reply_delay: Duration::from_millis(1000),
                ..RestOptions::default()
            },
            ..Options::default()
        },
    );

    let journal = dir.join("orders.journal");
    let cfg_text = hosted_binary_toml_on(venue, &replay, &rest, Some(&journal), &dir)
        .replace("cooldown_ms = 5000", "cooldown_ms = 2000")
        .replace("drain_timeout_ms = 5000", "drain_timeout_ms = 120000")
        .replace("slippage_bps = 0.0", "slippage_bps = 1.0");
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, cfg_text).unwrap();

    // Run 1: killed with SIGKILL right after the exchange filled its third order, while the
    // reply is still on its way (so the journal has the intent but not the fill).
    let mut child = spawn(venue, &cfg, &creds, &dir.join("run1.log"));
    let placed = wait_until(Duration::from_secs(120), || orders_received(&rest) >= 3);
    child.kill().unwrap(); // SIGKILL on Unix
    let _ = child.wait();
    let log1 = std::fs::read_to_string(dir.join("run1.log")).unwrap_or_default();
    assert!(placed, "run 1 placed no orders in time; log:\n{log1}");
    let at_kill = orders_received(&rest);

    // Run 2: same journal; it finishes the replay and exits on its own.
    let mut child = spawn(venue, &cfg, &creds, &dir.join("run2.log"));
    let exited = wait_until(Duration::from_secs(180), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        child.kill().unwrap();
        let _ = child.wait();
    }
    let log2 = std::fs::read_to_string(dir.join("run2.log")).unwrap_or_default();
    assert!(exited, "run 2 did not finish; log:\n{log2}");
    assert!(child.wait().unwrap().success(), "run 2 failed:\n{log2}");
    // Run 2 found the killed run's last order(s) unfinished in its journal and learnt their fills
    // by querying the client order id (not by sending them again). Orders of different symbols
    // travel on separate connections (exec::lanes), so the kill may catch more than one.
    let found: u32 = log2
        .split("start-up: ")
        .find_map(|l| {
            l.split_once(" unfinished order(s) found filled, ")?
                .0
                .parse()
                .ok()
        })
        .unwrap_or(0);
    assert!(found >= 1, "{log2}");

    // Nothing was sent twice: each client order id reached the exchange exactly once.
    let received = rest.venue().with(|m| m.received_client_ids().clone());
    let dup: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dup.is_empty(),
        "orders sent twice: {dup:?}\nrun 2 log:\n{log2}"
    );
    let total = orders_received(&rest);
    assert!(
        total > at_kill,
        "run 2 traded too (total {total}, at kill {at_kill})"
    );
    // Two sessions sent orders (`ct<session>-<seq>`), the restart's above the killed run's.
    let sessions: std::collections::BTreeSet<u32> = received
        .keys()
        .filter_map(|k| k.strip_prefix("ct")?.split('-').next()?.parse().ok())
        .collect();
    assert_eq!(sessions.len(), 2, "{received:?}");
    let (s1, s2) = (*sessions.first().unwrap(), *sessions.last().unwrap());
    assert!(s1 > 0 && s2 > s1, "{sessions:?}");

    // No position lost: the journal's positions equal the exchange's, exactly.
    let (_j, replayed) = Journal::open(&journal, &names, FsyncPolicy::Never).unwrap();
    assert_eq!(replayed.last_session, s2);
    assert!(replayed.pending.is_empty(), "{:?}", replayed.pending);
    for (i, name) in names.iter().enumerate() {
        let ours = replayed.position(i);
        let theirs = rest.venue().with(|m| m.position(name));
        assert_eq!(ours.qty, theirs.qty, "{name}\nrun 2 log:\n{log2}");
        assert_eq!(ours.entry, theirs.entry, "{name}");
        assert_eq!(ours.realized, theirs.realized, "{name}");
        assert_eq!(ours.fees, theirs.fees, "{name}");
        assert_eq!(ours.fills, theirs.fills, "{name}");
    }
    let fills: u64 = (0..names.len()).map(|i| replayed.position(i).fills).sum();
    assert!(fills > 0);
    assert!(replayed.position(0).fees + replayed.position(1).fees > Decimal::ZERO);
    drop(rest);
    drop(replay);
    std::fs::remove_dir_all(&dir).ok();
}
