//! Keeping the order path warm (`Executor::warm`, `ExecStage::warm_idle`, `[exec]
//! warm_every_us`): a shadow order is built and signed by the venue's own builder while idle
//! and never sent — the embedded exchange answers no extra request, the journal file keeps
//! every byte, the order, rate and transport counters stay put — it allocates nothing after
//! warm-up, a real order right after it goes out and fills, and a whole run of the bundled
//! replay sends the same orders with warming at every idle check as with warming off.

mod common;

use std::path::Path;
use std::time::Duration;

use calculus_trader::config::Config;
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exec::journal::{inspect, FsyncPolicy, Journal};
use calculus_trader::exec::{BinanceOrderBuilder, ExecStage, Executor, PaperVenue, RecordKind};
use calculus_trader::runtime::{self, RunOptions, RunReport, Shutdown};
use calculus_trader::telemetry::{Clock, Counter};
use calculus_trader::types::{ReportStatus, Side, SymbolId};
use common::alloc::counted;
use common::exchange::{hosted, hosted_toml, Hosted, Options};
use common::files::temp_dir;
use common::rig::{intent, rig, Rig, BOTH, V};
use common::values::d;

common::alloc::install!();

const NAMES: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
const PRICES: [&str; 2] = ["61800.3", "2500.1"];

/// A rig on `v` trading BTCUSDT and ETHUSDT with a journal at `<dir>/orders.journal`, after
/// one BTCUSDT entry (with TP/SL) filled: connections open, the symbol's shape remembered.
fn warmed_rig(v: V, tag: &str) -> (Rig, std::path::PathBuf) {
    let mut r = rig(
        v,
        &NAMES,
        &PRICES,
        RestOptions::default(),
        2,
        Duration::from_secs(5),
    );
    let path = temp_dir(&format!("warm-{tag}-{}", v.name())).join("orders.journal");
    let (j, _) = Journal::open(&path, r.exec.names(), FsyncPolicy::Never).unwrap();
    r.exec.set_journal(j);
    let mut entry = intent(0, 1, Side::Buy, "0.002", false, 61800.3);
    entry.set_exits(Some(d("62400")), Some(d("61200")));
    assert_eq!(r.submit(&entry), None, "the entry went to the venue");
    r.settle();
    assert_eq!(r.venue_qty(0), d("0.002"));
    (r, path)
}

/// Everything a sent shadow would change: requests the exchange answered, the executor's
/// order, rate and transport counters, the venue's positions, the journal file's bytes.
fn outside(r: &Rig, journal: &Path) -> (u64, String, Vec<String>, Vec<u8>) {
    let lanes = r.exec.lanes().unwrap();
    let counters = format!(
        "{:?} {:?} {:?} {:?}",
        r.exec.stats(),
        r.exec.rate_counters(),
        lanes.stats(),
        r.exec.order_counters()
    );
    let positions = (0..NAMES.len())
        .map(|i| format!("{:?}", r.venue_position(i)))
        .collect();
    (
        r.answered(),
        counters,
        positions,
        std::fs::read(journal).unwrap(),
    )
}

#[test]
fn warm_up_sends_nothing_and_a_real_order_after_it_still_goes_out() {
    for v in BOTH {
        let (mut r, journal) = warmed_rig(v, "silent");
        let before = outside(&r, &journal);
        let orders = r.exec.stats().orders;
        let appended = r.exec.journal_mut().unwrap().appended();
        for k in 0..200u16 {
            assert!(r.exec.warm(SymbolId(k % 2), r.venue_ms()), "{v:?}: signed");
        }
        // The shadows probed the journal's next two slots (intent, exits), its records
        // counter, the order table's spare slot and the rate limiter: none of them moved.
        assert_eq!(
            r.exec.journal_mut().unwrap().appended(),
            appended,
            "{v:?}: a shadow was journaled"
        );
        // Anything queued by the warm-up would be written and answered by now.
        for _ in 0..5 {
            r.poll_once();
        }
        assert_eq!(
            outside(&r, &journal),
            before,
            "{v:?}: a shadow left a trace"
        );
        assert_eq!(r.exec.warm_shadows(), 200);
        assert_eq!(r.exec.in_flight(), 0);

        // An order arriving right after a shadow goes out with its own fields and fills.
        let eth = intent(1, 2, Side::Buy, "0.05", false, 2500.1);
        assert_eq!(r.submit(&eth), None);
        r.settle();
        let rep = r.report_of(2).unwrap();
        assert_eq!(rep.status, ReportStatus::Filled, "{v:?}");
        assert_eq!(rep.qty, d("0.05"));
        assert_eq!(
            r.venue_qty(1),
            d("0.05"),
            "{v:?}: the venue holds the real order"
        );
        assert_eq!(r.venue_qty(0), d("0.002"), "{v:?}: no shadow filled");
        assert_eq!(r.exec.stats().orders, orders + 1);
        let intents = inspect(&journal)
            .unwrap()
            .good
            .iter()
            .filter(|(rec, _)| rec.kind == RecordKind::Intent)
            .count();
        assert_eq!(
            intents, 2,
            "{v:?}: the journal holds the two real orders only"
        );
    }
}

#[test]
fn warm_up_allocates_nothing_after_warm_up() {
    for v in BOTH {
        let (mut r, _journal) = warmed_rig(v, "alloc");
        for k in 0..20u16 {
            r.exec.warm(SymbolId(k % 2), r.venue_ms());
        }
        let ts = r.venue_ms();
        let exec = &mut r.exec;
        let (signed, n) = counted(|| {
            (0..1_000u16)
                .filter(|k| exec.warm(SymbolId(k % 2), ts))
                .count()
        });
        assert_eq!(signed, 1_000, "{v:?}");
        assert_eq!(n, 0, "{v:?}: warm-up allocated");
    }
}

/// The symbol and side of the order in `bytes` (Binance form, Bybit JSON).
fn symbol_side(bytes: &[u8]) -> (usize, Side) {
    let text = String::from_utf8_lossy(bytes).to_lowercase();
    let symbol = NAMES
        .iter()
        .position(|n| text.contains(&n.to_lowercase()))
        .expect("a symbol");
    let side = |s: &str| {
        text.contains(&format!("side={s}")) || text.contains(&format!("\"side\":\"{s}\""))
    };
    match (side("buy"), side("sell")) {
        (true, false) => (symbol, Side::Buy),
        (false, true) => (symbol, Side::Sell),
        other => panic!("no single side {other:?} in {text}"),
    }
}

#[test]
fn a_round_warms_both_sides_and_ends_on_the_latest_orders_symbol_and_side() {
    for v in BOTH {
        // The latest real order: a BTCUSDT buy of 0.002.
        let (mut r, _journal) = warmed_rig(v, "round");
        let mut order = Vec::new();
        for k in 0..4 {
            assert!(r.exec.warm_step(k, 2, r.venue_ms()), "{v:?}: step {k}");
            order.push(symbol_side(r.exec.venue_mut().last_order()));
        }
        assert!(!r.exec.warm_step(4, 2, r.venue_ms()), "a round is 2n steps");
        // Other sides first (ETHUSDT has had no order: the latest order's side is its likely
        // one), then the likely sides, BTCUSDT's buy last.
        assert_eq!(
            order,
            [
                (0, Side::Sell),
                (1, Side::Sell),
                (1, Side::Buy),
                (0, Side::Buy)
            ],
            "{v:?}"
        );
        let last = String::from_utf8_lossy(r.exec.venue_mut().last_order()).to_string();
        assert!(
            last.contains("0.002"),
            "{v:?}: the real order's shape: {last}"
        );

        // A sell on ETHUSDT becomes the latest: the round ends there, each on its own side.
        let eth = intent(1, 2, Side::Sell, "0.05", false, 2500.1);
        assert_eq!(r.submit(&eth), None);
        r.settle();
        let order: Vec<_> = (0..4)
            .map(|k| {
                assert!(r.exec.warm_step(k, 2, r.venue_ms()));
                symbol_side(r.exec.venue_mut().last_order())
            })
            .collect();
        assert_eq!(
            order,
            [
                (0, Side::Sell),
                (1, Side::Buy),
                (0, Side::Buy),
                (1, Side::Sell)
            ],
            "{v:?}"
        );
    }
}

#[test]
fn idle_checks_sign_one_shadow_each_both_sides_once_per_round() {
    let names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let specs = common::exchange::bundled_specs("binance", &NAMES);
    let builder = BinanceOrderBuilder::new("key", b"secret", "127.0.0.1", 5_000, "ct1-");
    let paper = PaperVenue {
        taker_fee: d("0.0004"),
        slippage_bps: 0.0,
    };
    let exec = Executor::new(specs.clone(), names.clone(), builder, paper);
    let mut stage = ExecStage::new(exec, Clock::new()).with_warm(Duration::from_secs(3_600), 2);
    // One round: one shadow per check, both sides of each symbol, then nothing until the
    // next round is due.
    for _ in 0..4 {
        assert!(stage.warm_idle());
    }
    let (again, n) = counted(|| stage.warm_idle());
    assert!(!again, "the next round is an hour away");
    assert_eq!(n, 0);
    assert_eq!(stage.executor().warm_shadows(), 4);
    // A tick's intent after the warm-up is handled as ever (paper: filled at once).
    let it = intent(1, 7, Side::Sell, "0.05", false, 2500.1);
    let mut h = calculus_trader::telemetry::StageHistograms::new();
    let rep = stage.on_intent(&it, 0, &mut h).unwrap();
    assert_eq!(rep.status, ReportStatus::Filled);
    assert_eq!(stage.executor().stats().orders, 1, "shadows are not orders");

    let exec = Executor::new(
        specs,
        names,
        BinanceOrderBuilder::new("key", b"secret", "h", 5_000, "ct1-"),
        paper,
    );
    let mut off = ExecStage::new(exec, Clock::new()).with_warm(Duration::ZERO, 2);
    assert!(!off.warm_idle() && !off.warm_idle(), "0 = off");
    assert_eq!(off.executor().warm_shadows(), 0);
}

/// (kind, symbol, side, seq, qty, reference price, reduce-only) of every Intent and Exits
/// record in journal order, and (symbol, qty) of every Fill, sorted.
type Orders = (Vec<String>, Vec<String>);

/// One default run of the bundled replay as fast as possible with `warm_every_us`.
fn run(warm_every_us: u64) -> (RunReport, Orders) {
    let Hosted { replay, rest } = hosted(0.0, "0", Options::default());
    let dir = temp_dir(&format!("warm-run-{warm_every_us}"));
    let keys = common::run::write_key_file(
        calculus_trader::venue::Venue::Binance,
        rest.credentials(),
        &dir,
    );
    let journal = dir.join("orders.journal");
    let text = hosted_toml(&replay, &rest)
        .replace(
            "key_file = \"\"",
            &format!("key_file = {:?}", keys.display().to_string()),
        )
        .replace(
            "journal = \"\"",
            &format!("journal = {:?}", journal.display().to_string()),
        )
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dir.join("dumps").display().to_string()),
        )
        .replace(
            "warm_every_us = 1000",
            &format!("warm_every_us = {warm_every_us}"),
        );
    assert!(text.contains(&format!("warm_every_us = {warm_every_us}")));
    let report = runtime::run(
        &Config::parse(&text).unwrap(),
        &RunOptions::default(),
        Shutdown::default(),
    )
    .unwrap();
    let scan = inspect(&journal).unwrap();
    assert_eq!(scan.first_bad, None);
    let mut orders = (Vec::new(), Vec::new());
    for (r, name) in &scan.good {
        match r.kind {
            RecordKind::Intent | RecordKind::Exits => orders.0.push(format!(
                "{:?} {} {:?} {} {} {} {} {}",
                r.kind,
                name.as_string(),
                r.side,
                r.seq,
                r.qty.normalize(),
                r.price.normalize(),
                r.fee.normalize(),
                r.reduce_only
            )),
            RecordKind::Fill => {
                orders
                    .1
                    .push(format!("{} {}", name.as_string(), r.qty.normalize()))
            }
            _ => {}
        }
    }
    // Fills of different symbols may interleave differently (reply timing): compare as sets.
    orders.1.sort();
    drop(rest);
    drop(replay);
    let _ = std::fs::remove_dir_all(&dir);
    (report, orders)
}

#[test]
fn the_bundled_replay_sends_the_same_orders_with_warming_on_and_off() {
    let (off, off_orders) = run(0);
    // 1 µs: a round at every idle check, the most a tick can meet.
    let (on, on_orders) = run(1);
    let (c_off, c_on) = (runtime::counters(&off), runtime::counters(&on));
    assert_eq!(c_off.get(Counter::WarmShadows), 0, "off signs no shadow");
    assert!(
        c_on.get(Counter::WarmShadows) > 100,
        "warming ran: {}",
        c_on.get(Counter::WarmShadows)
    );
    for c in [&c_off, &c_on] {
        assert_eq!(c.get(Counter::Ticks), 35_389, "every tick decided on");
    }
    assert!(
        !off_orders.0.is_empty(),
        "the bundled ticks must produce orders"
    );
    assert_eq!(on_orders.0, off_orders.0, "intents (and exits) differ");
    assert_eq!(on_orders.1, off_orders.1, "fills differ");
    for k in [Counter::Orders, Counter::Fills, Counter::JournalRecords] {
        assert_eq!(c_on.get(k), c_off.get(k), "{}", k.name());
    }
    assert_eq!(on.engine.stats(), off.engine.stats());
}
