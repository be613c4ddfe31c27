//! The journal keeps every record and files it right: records name their symbol (reordering
//! `venue.symbols` never misfiles a position), one process per journal (advisory lock), a file
//! that is not a journal is never overwritten, a bad record stops start-up with its byte offset
//! and the repair command (`journal check|repair`), and only a torn final record is cut off.
//! Property tests: any prefix or single-byte corruption of a journal either replays the records
//! before it exactly or stops with an error naming the bad record's offset.

use std::path::Path;
use std::process::Output;

use calculus_trader::config::DEFAULT_TOML;
use calculus_trader::exec::journal::{
    FsyncPolicy, Journal, Record, RecordKind, Replayed, SymbolName, RECORD_LEN,
};
use calculus_trader::types::{Side, SymbolId};
use proptest::prelude::*;
use rust_decimal::Decimal;

mod common;
use common::files::{bin, temp_dir};
use common::values::d;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn fill(symbol: u16, side: Side, seq: u64, qty: &str, price: &str) -> Record {
    let mut r = Record::new(RecordKind::Fill, SymbolId(symbol), side, 1, seq);
    r.qty = d(qty);
    r.price = d(price);
    r.fee = d("0.01");
    r
}

/// A journal with a session and `n` fills alternating BTCUSDT / ETHUSDT (ids 0 / 1 of `names`).
fn write_journal(path: &Path, names: &[String], n: u64) {
    let (mut j, _) = Journal::open(path, names, FsyncPolicy::Never).unwrap();
    let mut s = Record::new(RecordKind::Session, SymbolId(0), Side::Buy, 1, 1);
    s.aux = 1;
    j.append(&s).unwrap();
    for seq in 1..=n {
        j.append(&fill((seq % 2) as u16, Side::Buy, seq, "0.5", "100"))
            .unwrap();
    }
}

#[test]
fn reordered_symbols_keep_their_positions_and_removed_ones_are_kept_apart() {
    let dir = temp_dir("jint-reorder");
    let path = dir.join("orders.journal");
    let first = names(&["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
    {
        let (mut j, _) = Journal::open(&path, &first, FsyncPolicy::Every).unwrap();
        j.append(&fill(0, Side::Buy, 1, "0.33", "60000")).unwrap();
        j.append(&fill(1, Side::Sell, 2, "7.6", "2500")).unwrap();
        let mut open = Record::new(RecordKind::Intent, SymbolId(2), Side::Buy, 1, 3);
        open.qty = d("4");
        j.append(&open).unwrap();
    }
    // Reordered: ids change, positions follow the names.
    let second = names(&["SOLUSDT", "ETHUSDT", "BTCUSDT"]);
    let (j, rep) = Journal::open(&path, &second, FsyncPolicy::Never).unwrap();
    assert_eq!(rep.position(2).qty, d("0.33"), "BTCUSDT is id 2 now");
    assert_eq!(rep.position(1).qty, d("-7.6"), "ETHUSDT stays id 1");
    assert_eq!(rep.position(0).qty, Decimal::ZERO, "SOLUSDT never filled");
    assert_eq!(rep.pending.len(), 1);
    assert_eq!(
        rep.pending[0].intent.symbol,
        SymbolId(0),
        "SOLUSDT's open order"
    );
    assert!(rep.unconfigured.is_empty());
    drop(j);
    // BTCUSDT removed: its position is kept under its name, not booked to another symbol.
    let third = names(&["ETHUSDT", "SOLUSDT"]);
    let (_j, rep) = Journal::open(&path, &third, FsyncPolicy::Never).unwrap();
    assert_eq!(rep.position(0).qty, d("-7.6"));
    assert_eq!(rep.position(1).qty, Decimal::ZERO);
    assert_eq!(rep.unconfigured.len(), 1);
    assert_eq!(rep.unconfigured[0].name, "BTCUSDT");
    assert_eq!(rep.unconfigured[0].position.qty, d("0.33"));
    assert_eq!(rep.unconfigured_open().count(), 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_second_open_of_a_journal_is_refused_while_the_first_holds_it() {
    let dir = temp_dir("jint-lock");
    let path = dir.join("orders.journal");
    let n = names(&["BTCUSDT"]);
    let (j, _) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
    let e = Journal::open(&path, &n, FsyncPolicy::Never).unwrap_err();
    assert!(e.contains("locked by another process"), "{e}");
    drop(j);
    assert!(Journal::open(&path, &n, FsyncPolicy::Never).is_ok());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn non_journal_and_old_format_files_are_refused_and_left_as_they_are() {
    let dir = temp_dir("jint-foreign");
    let n = names(&["BTCUSDT"]);
    let text = dir.join("notes.txt");
    std::fs::write(&text, "my notes\n").unwrap();
    let e = Journal::open(&text, &n, FsyncPolicy::Never).unwrap_err();
    assert!(
        e.contains("not an order journal") && e.contains("offset 0"),
        "{e}"
    );
    assert_eq!(std::fs::read(&text).unwrap(), b"my notes\n");
    let old = dir.join("old.journal");
    let mut bytes = b"CTJ1".to_vec();
    bytes.resize(88, 0);
    std::fs::write(&old, &bytes).unwrap();
    let e = Journal::open(&old, &n, FsyncPolicy::Never).unwrap_err();
    assert!(e.contains("old-format journal"), "{e}");
    assert_eq!(std::fs::read(&old).unwrap(), bytes);
    std::fs::remove_dir_all(&dir).ok();
}

/// A journal left by a kill: its records, then the zeros of the pre-allocated room.
fn killed_journal(path: &Path, names: &[String], n: u64, zeros: usize) -> Vec<u8> {
    write_journal(path, names, n);
    let mut bytes = std::fs::read(path).unwrap();
    bytes.resize(bytes.len() + zeros, 0);
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn the_zero_room_a_kill_leaves_is_free_space_and_appends_continue_after_the_records() {
    let dir = temp_dir("jint-room");
    let path = dir.join("orders.journal");
    let n = names(&["BTCUSDT", "ETHUSDT"]);
    killed_journal(&path, &n, 4, 10 * RECORD_LEN + 17);
    let s = calculus_trader::exec::journal::inspect(&path).unwrap();
    assert_eq!((s.good.len(), s.first_bad, s.torn), (5, None, 0));
    assert_eq!(s.free, (10 * RECORD_LEN + 17) as u64);
    let (mut j, rep) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
    assert_eq!((rep.records, rep.truncated_bytes), (5, 0));
    assert_eq!(rep.position(0).qty, d("1.0"));
    // Mapped room ahead of the records while open, cut back at the clean close.
    assert!(std::fs::metadata(&path).unwrap().len() > (5 * RECORD_LEN) as u64);
    j.append(&fill(0, Side::Sell, 9, "0.5", "101")).unwrap();
    drop(j);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        (6 * RECORD_LEN) as u64
    );
    let (_j, rep) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
    assert_eq!(rep.records, 6);
    assert_eq!(rep.position(0).qty, d("0.5"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_copy_cut_short_by_a_kill_is_torn_but_a_damaged_final_record_is_refused() {
    let n = names(&["BTCUSDT", "ETHUSDT"]);
    // The last record's copy stopped before its checksum: its tail is still zero.
    let dir = temp_dir("jint-torn-map");
    let path = dir.join("orders.journal");
    let mut bytes = killed_journal(&path, &n, 3, 3 * RECORD_LEN);
    let last = 3 * RECORD_LEN;
    bytes[last + 70..last + RECORD_LEN].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let (j, rep) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
    drop(j);
    assert_eq!((rep.records, rep.truncated_bytes), (3, RECORD_LEN as u64));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), last as u64);
    // The same record complete but with one byte changed: corruption, refused, file unchanged.
    let path = dir.join("damaged.journal");
    let mut bytes = killed_journal(&path, &n, 3, 3 * RECORD_LEN);
    bytes[last + 40] ^= 0x5A;
    std::fs::write(&path, &bytes).unwrap();
    let err = Journal::open(&path, &n, FsyncPolicy::Never).unwrap_err();
    assert!(err.contains(&format!("byte offset {last}")), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_mapping_grows_past_its_room_without_losing_a_record() {
    use calculus_trader::exec::journal::GROW_BYTES;
    let dir = temp_dir("jint-grow");
    let path = dir.join("orders.journal");
    let n = names(&["BTCUSDT", "ETHUSDT"]);
    let per_room = GROW_BYTES as usize / RECORD_LEN;
    let total = per_room + per_room / 2;
    {
        let (mut j, _) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
        for seq in 0..total as u64 {
            if seq % 1000 == 0 {
                j.reserve().unwrap();
            }
            j.append(&fill((seq % 2) as u16, Side::Buy, seq, "0.001", "100"))
                .unwrap();
        }
        assert!(j.grows() >= 1);
    }
    let (_j, rep) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
    assert_eq!(rep.records, total as u64);
    assert_eq!(
        rep.position(0).qty + rep.position(1).qty,
        d("0.001") * Decimal::from(total)
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the trader (embedded replay, paper-free embedded orders) on `journal` for at most 3 s.
fn run_with_journal(dir: &Path, journal: &Path) -> Output {
    let cfg = DEFAULT_TOML
        .replace(
            "journal = \"\"",
            &format!("journal = {:?}", journal.display().to_string()),
        )
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dir.join("dumps").display().to_string()),
        )
        .replace("topology = \"auto\"", "topology = \"fused\"")
        .replace("hot = \"spin\"", "hot = \"park\"")
        .replace("listen = \"127.0.0.1:8787\"", "listen = \"127.0.0.1:0\"");
    let path = dir.join("config.toml");
    std::fs::write(&path, cfg).unwrap();
    bin()
        .args(["--quiet", "--duration", "3", "--config"])
        .arg(&path)
        .output()
        .unwrap()
}

#[test]
fn the_trader_refuses_a_foreign_file_a_locked_journal_and_a_removed_symbol_with_a_position() {
    let dir = temp_dir("jint-bin-refuse");
    // A file that is not a journal: refused, not overwritten, exit non-zero.
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "keep me\n").unwrap();
    let o = run_with_journal(&dir, &notes);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("not an order journal"), "{}", text(&o));
    assert_eq!(std::fs::read(&notes).unwrap(), b"keep me\n");

    // A journal this process holds: the trader refuses to start on it.
    let held = dir.join("held.journal");
    let (j, _) = Journal::open(&held, &names(&["BTCUSDT"]), FsyncPolicy::Never).unwrap();
    let o = run_with_journal(&dir, &held);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("locked by another process"),
        "{}",
        text(&o)
    );
    drop(j);

    // A position in a symbol no longer configured: named, and start-up refuses.
    let removed = dir.join("removed.journal");
    {
        let (mut j, _) = Journal::open(&removed, &names(&["XRPUSDT"]), FsyncPolicy::Never).unwrap();
        j.append(&fill(0, Side::Buy, 1, "12", "0.5")).unwrap();
    }
    let o = run_with_journal(&dir, &removed);
    assert!(!o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("XRPUSDT (position 12, 0 unfinished order(s))") && t.contains("venue.symbols"),
        "{t}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_record_stops_start_up_with_its_offset_and_repair_drops_only_after_confirm() {
    let dir = temp_dir("jint-bin-corrupt");
    let path = dir.join("orders.journal");
    let n = names(&["BTCUSDT", "ETHUSDT"]);
    write_journal(&path, &n, 4); // 5 records
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 5 * RECORD_LEN);
    let bad = 2 * RECORD_LEN; // record 2
    bytes[bad + 40] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();

    let o = run_with_journal(&dir, &path);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains(&format!("record 2 at byte offset {bad}"))
            && t.contains("journal repair --journal"),
        "{t}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing changed");

    let o = bin()
        .args(["journal", "check", "--journal"])
        .arg(&path)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("2 valid record(s)") && t.contains(&format!("byte offset {bad}")),
        "{t}"
    );
    // Before the bad record: the session and ETHUSDT's first fill.
    assert!(
        t.contains("ETHUSDT: position 0.5 ") && !t.contains("BTCUSDT: position"),
        "{t}"
    );

    let o = bin()
        .args(["journal", "repair", "--journal"])
        .arg(&path)
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for off in [224, 336, 448] {
        assert!(t.contains(&format!("offset {off}:")), "{off}: {t}");
    }
    assert!(t.contains("offset 224: fails its checksum"), "{t}");
    assert!(t.contains("offset 336: Fill ETHUSDT"), "{t}");
    assert!(t.contains("nothing changed"), "{t}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    let o = bin()
        .args(["journal", "repair", "--confirm", "--journal"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&path).unwrap(), &bytes[..bad]);
    let saved = std::fs::read(dir.join(format!("orders.journal.dropped-{bad}"))).unwrap();
    assert_eq!(saved, &bytes[bad..], "every dropped byte is kept");
    let (_j, rep) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
    assert_eq!(rep.records, 2);
    std::fs::remove_dir_all(&dir).ok();
}

/// What replaying `recs` (already mapped to `names`) gives.
fn replay_of(recs: &[(Record, SymbolName)], names: &[String]) -> Replayed {
    let mut rep = Replayed::default();
    for (r, name) in recs {
        let i = names
            .iter()
            .position(|n| SymbolName::new(n).as_ref() == Some(name));
        match i {
            Some(i) => rep.apply(&Record {
                symbol: SymbolId(i as u16),
                ..*r
            }),
            None => rep.apply(r),
        }
    }
    rep
}

fn kind_of(k: u8) -> RecordKind {
    [
        RecordKind::Session,
        RecordKind::Intent,
        RecordKind::Ack,
        RecordKind::Fill,
        RecordKind::Reject,
        RecordKind::Adopt,
        RecordKind::External,
    ][k as usize % 7]
}

prop_compose! {
    fn journal_records()(recs in prop::collection::vec(
        (0u8..7, 0u16..2, any::<bool>(), 1u64..6, 1u32..100_000, 1u32..10_000_000), 1..16)
    ) -> Vec<Record> {
        recs.into_iter().map(|(k, s, buy, seq, q, p)| {
            let side = if buy { Side::Buy } else { Side::Sell };
            let mut r = Record::new(kind_of(k), SymbolId(s), side, 1, seq);
            r.qty = Decimal::new(q as i64, 3);
            r.price = Decimal::new(p as i64, 2);
            r.fee = Decimal::new((q / 7) as i64, 5);
            r
        }).collect()
    }
}

fn encoded(recs: &[Record], names: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in recs {
        let mut b = [0u8; RECORD_LEN];
        r.encode(&SymbolName::new(&names[r.symbol.index()]).unwrap(), &mut b);
        out.extend_from_slice(&b);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_prefix_replays_exactly_its_complete_records(recs in journal_records(), cut in 0.0f64..=1.0) {
        let n = names(&["BTCUSDT", "ETHUSDT"]);
        let bytes = encoded(&recs, &n);
        let len = (bytes.len() as f64 * cut) as usize;
        let dir = temp_dir("jint-prop-prefix");
        let path = dir.join("j");
        std::fs::write(&path, &bytes[..len]).unwrap();
        let (j, rep) = Journal::open(&path, &n, FsyncPolicy::Never).unwrap();
        drop(j);
        let whole = len / RECORD_LEN;
        let decoded: Vec<_> = bytes[..whole * RECORD_LEN]
            .chunks_exact(RECORD_LEN)
            .map(|c| Record::decode(c.try_into().unwrap()).unwrap())
            .collect();
        prop_assert_eq!(rep, Replayed {
            truncated_bytes: (len % RECORD_LEN) as u64,
            ..replay_of(&decoded, &n)
        });
        prop_assert_eq!(std::fs::metadata(&path).unwrap().len(), (whole * RECORD_LEN) as u64);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn any_single_byte_corruption_stops_with_its_offset_and_changes_nothing(
        recs in journal_records(), at in 0.0f64..1.0, flip in 1u8..=255,
    ) {
        let n = names(&["BTCUSDT", "ETHUSDT"]);
        let mut bytes = encoded(&recs, &n);
        let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
        bytes[i] ^= flip;
        let dir = temp_dir("jint-prop-flip");
        let path = dir.join("j");
        std::fs::write(&path, &bytes).unwrap();
        let e = Journal::open(&path, &n, FsyncPolicy::Never).unwrap_err();
        let off = i / RECORD_LEN * RECORD_LEN;
        prop_assert!(e.contains(&format!("offset {off}")), "{}", e);
        prop_assert_eq!(std::fs::read(&path).unwrap(), bytes);
        std::fs::remove_dir_all(&dir).ok();
    }
}
