//! The real binary against an exchange hosted by the test process (replay of the bundled real
//! trades, REST order entry that counts every client order id):
//! - two runs on one account with the default fresh journal never send a client id twice;
//! - a journal that cannot be written (the disk is full) triggers the emergency exit: no new
//!   orders, every venue position closed with reduce-only orders, exit non-zero.
//!
//! Disk full: the real binary trades against an exchange hosted by this test (replay of the bundled real
//! trades, REST order entry) with its file size limited to 512 bytes (`ulimit -f 1`, in 512-byte
//! blocks): the journal's fifth 112-byte record fails (EFBIG) as a full disk's would (ENOSPC),
//! the same `write` error path. The binary handles SIGXFSZ, so the limit is an error, not death.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calculus_trader::exchange::rest_orders::SimCredentials;
use calculus_trader::exchange::{EmbeddedExchange, RestExchange};
use calculus_trader::exec::journal::{FsyncPolicy, Journal, RECORD_LEN};
use calculus_trader::exec::recovery::FLATTEN_SEQ_BASE;

mod common;
use calculus_trader::venue::Venue;
use common::exchange::{hosted_binary_toml_on, hosted_on, key_env, Hosted, Options};
use common::files::{bin, temp_dir};

struct Account {
    replay: EmbeddedExchange,
    rest: RestExchange,
    creds: SimCredentials,
    names: Vec<String>,
    dir: PathBuf,
    venue: Venue,
}

/// `venue`'s exchange (replay at 20x, order entry) and a config trading against it, with
/// `journal`.
fn account(venue: Venue, tag: &str, journal: Option<&Path>) -> (Account, PathBuf) {
    let dir = temp_dir(&format!("journal-runs-{tag}-{}", venue.name()));
    let names = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
    let creds = SimCredentials::generate().unwrap();
    let Hosted { replay, rest } = hosted_on(
        venue,
        20.0,
        "1",
        Options {
            creds: Some(creds.clone()),
            ..Options::default()
        },
    );

    let cfg_text = hosted_binary_toml_on(venue, &replay, &rest, journal, &dir)
        .replace("dump_interval_s = 10.0", "dump_interval_s = 3600.0");
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, cfg_text).unwrap();

    (
        Account {
            replay,
            rest,
            creds,
            names,
            dir,
            venue,
        },
        cfg,
    )
}

/// Client ids the exchange received more than once.
fn sent_twice(v: &Account) -> Vec<(String, u32)> {
    v.rest.venue().with(|m| {
        m.received_client_ids()
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    })
}

#[test]
fn two_runs_with_fresh_journals_on_one_account_never_reuse_a_client_id_binance() {
    two_runs_never_reuse_a_client_id(Venue::Binance);
}

#[test]
fn two_runs_with_fresh_journals_on_one_account_never_reuse_a_client_id_bybit() {
    two_runs_never_reuse_a_client_id(Venue::Bybit);
}

fn two_runs_never_reuse_a_client_id(venue: Venue) {
    let (v, cfg) = account(venue, "fresh", None);
    let (key, secret) = key_env(venue);
    let mut logs = String::new();
    for run in 0..2 {
        let o = bin()
            .arg("--config")
            .arg(&cfg)
            .args(["--quiet", "--duration", "4"])
            .env(key, &v.creds.api_key)
            .env(secret, &v.creds.secret)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "run {run}:\n{text}");
        logs.push_str(&text);
        // The next run starts in another second (session numbers count seconds).
        std::thread::sleep(Duration::from_millis(1100));
    }
    let ids = v.rest.venue().with(|m| m.received_client_ids().clone());
    let sessions: std::collections::BTreeSet<&str> = ids
        .keys()
        .filter_map(|k| k.strip_prefix("ct")?.split('-').next())
        .collect();
    assert_eq!(
        sessions.len(),
        2,
        "both runs traded, each its own session: {ids:?}\n{logs}"
    );
    assert!(sent_twice(&v).is_empty(), "{:?}", sent_twice(&v));
    std::fs::remove_dir_all(&v.dir).ok();
}

#[test]
fn a_full_disk_flattens_the_venue_positions_and_exits_non_zero_binance() {
    a_full_disk_flattens(Venue::Binance);
}

#[test]
fn a_full_disk_flattens_the_venue_positions_and_exits_non_zero_bybit() {
    a_full_disk_flattens(Venue::Bybit);
}

fn a_full_disk_flattens(venue: Venue) {
    let journal = std::env::temp_dir().join(format!(
        "ct-journal-runs-full-{}-{}.journal",
        venue.name(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&journal);
    let (v, cfg) = account(venue, "full", Some(&journal));
    let Account {
        replay,
        rest,
        creds,
        names,
        dir,
        venue,
    } = v;
    let (key, secret) = key_env(venue);
    // Output through a pipe: a log file would hit the file size limit too.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 1 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_calculus-trader"))
        .arg("--config")
        .arg(&cfg)
        .arg("--quiet")
        .env(key, &creds.api_key)
        .env(secret, &creds.secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = out.join().unwrap() + &err.join().unwrap();
    let status = status.unwrap_or_else(|| panic!("did not exit; log:\n{text}"));
    assert!(
        !status.success(),
        "exit status must be non-zero; log:\n{text}"
    );
    assert!(
        status.code().is_some(),
        "exited, not killed by a signal; log:\n{text}"
    );
    assert!(text.contains("write failed"), "{text}");
    assert!(text.contains("emergency: flattened"), "{text}");
    assert!(text.contains("could not be written"), "{text}");

    // The venue holds nothing: every position was closed, the last ones reduce-only.
    let (orders, flat) = rest.venue().with(|m| {
        (
            m.orders().to_vec(),
            names.iter().all(|n| m.position(n).qty.is_zero()),
        )
    });
    assert!(flat, "venue positions left open; log:\n{text}");
    let flatten_ids: Vec<_> = rest.venue().with(|m| {
        m.received_client_ids()
            .keys()
            .filter(|k| {
                k.rsplit('-')
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .is_some_and(|s| s >= FLATTEN_SEQ_BASE)
            })
            .cloned()
            .collect()
    });
    assert!(
        !flatten_ids.is_empty(),
        "a position was open and closed by the emergency exit; log:\n{text}"
    );
    assert!(orders
        .iter()
        .rev()
        .take(flatten_ids.len())
        .all(|o| o.reduce_only));
    assert!(
        orders.len() > flatten_ids.len(),
        "the strategy traded first"
    );

    // The journal kept every whole record before the failure, up to the limit: its room is
    // reserved in whole records, so no record was torn.
    let len = std::fs::metadata(&journal).unwrap().len();
    let whole = 512 / RECORD_LEN as u64;
    assert_eq!(len, whole * RECORD_LEN as u64, "filled up to the limit");
    let (_j, rep) = Journal::open(&journal, &names, FsyncPolicy::Never).unwrap();
    assert_eq!(rep.records, whole);
    assert_eq!(rep.truncated_bytes, 0);
    assert!(rep.last_session > 0);
    assert!(sent_twice(&Account {
        replay,
        rest,
        creds,
        names,
        dir: dir.clone(),
        venue,
    })
    .is_empty());
    std::fs::remove_file(&journal).ok();
    std::fs::remove_dir_all(&dir).ok();
}
