//! Crash-safe order journal: every intent, ack, fill and rejection is appended as one fixed-size
//! binary record with a CRC-32 BEFORE the execution thread acts on it (sends the request, hands
//! the fill to compute). On start-up the journal is replayed: positions are rebuilt from the
//! fills, and intents with no final record are returned as pending, to be re-queried at the
//! venue by their (deterministic) client order id, never blindly resent.
//!
//! Record (88 bytes, little endian): `magic "CTJ1" | kind u8 | side u8 | flags u8 | reason u8 |
//! symbol u16 | 0u16 | session u32 | seq u64 | aux u64 | qty [16] | price [16] | fee [16] |
//! code i32 | crc32(bytes 0..84) u32`. Decimals use `Decimal::serialize` (exact).
//!
//! A record is one `write(2)` from a stack buffer: no allocation per record. Once `write`
//! returns, the record survives a process kill (page cache); `fsync` = `every` also survives a
//! power cut at the price of one `fdatasync` per record on the calling thread, `interval` bounds
//! the loss window with a background thread that `fdatasync`s a duplicate descriptor (the
//! execution thread never waits for the disk), `never` leaves it to the OS. A torn final record (power cut mid-write) fails its checksum
//! and is cut off at the next open.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rust_decimal::Decimal;

use crate::types::{Position, RejectReason, Side, SymbolId};

/// Size of one record, bytes.
pub const RECORD_LEN: usize = 88;
const MAGIC: &[u8; 4] = b"CTJ1";

/// When the journal forces its writes to stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` after every record.
    Every,
    /// `fdatasync` once per interval (when something was written), from a background thread.
    Interval(Duration),
    /// Never (the OS writes back; a process crash still loses nothing).
    Never,
}

/// Record kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A process start: `seq` = session number, `aux` = Unix ms.
    Session = 1,
    /// An order about to be sent: symbol, side, qty, reduce-only, `price` = reference price.
    Intent = 2,
    /// The venue accepted the order (not yet filled): `aux` = venue order id.
    Ack = 3,
    /// The order filled: qty, price, fee; `aux` = venue order id.
    Fill = 4,
    /// The order was refused or is unknown to the venue: `reason`, `code` = venue error code.
    Reject = 5,
    /// A venue position adopted at start-up (reconciliation): side, qty, `price` = entry.
    Adopt = 6,
    /// An order filled at the venue outside the strategy's book (closing a phantom position at
    /// start-up): final, leaves the journal's positions unchanged. qty, price, `aux` = order id.
    External = 7,
}

impl RecordKind {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => RecordKind::Session,
            2 => RecordKind::Intent,
            3 => RecordKind::Ack,
            4 => RecordKind::Fill,
            5 => RecordKind::Reject,
            6 => RecordKind::Adopt,
            7 => RecordKind::External,
            _ => return None,
        })
    }
}

/// One journal record. Plain `Copy` data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Kind.
    pub kind: RecordKind,
    /// Instrument.
    pub symbol: SymbolId,
    /// Order side.
    pub side: Side,
    /// Reduce-only order.
    pub reduce_only: bool,
    /// Rejection reason ([`RejectReason::index`]), for `Reject`.
    pub reason: u8,
    /// Session that issued the order (part of the client order id).
    pub session: u32,
    /// Client sequence number within the session.
    pub seq: u64,
    /// Venue order id (Ack/Fill) or Unix ms (Session).
    pub aux: u64,
    /// Quantity.
    pub qty: Decimal,
    /// Reference price (Intent), fill price (Fill), entry price (Adopt).
    pub price: Decimal,
    /// Fee (Fill).
    pub fee: Decimal,
    /// Venue error code (Reject), 0 otherwise.
    pub code: i32,
}

impl Record {
    /// A record of `kind` for order (`session`, `seq`) with every other field zero.
    pub fn new(kind: RecordKind, symbol: SymbolId, side: Side, session: u32, seq: u64) -> Self {
        Self {
            kind,
            symbol,
            side,
            reduce_only: false,
            reason: 0,
            session,
            seq,
            aux: 0,
            qty: Decimal::ZERO,
            price: Decimal::ZERO,
            fee: Decimal::ZERO,
            code: 0,
        }
    }

    /// Encodes into `out` (checksum included).
    pub fn encode(&self, out: &mut [u8; RECORD_LEN]) {
        out[0..4].copy_from_slice(MAGIC);
        out[4] = self.kind as u8;
        out[5] = match self.side {
            Side::Buy => 0,
            Side::Sell => 1,
        };
        out[6] = u8::from(self.reduce_only);
        out[7] = self.reason;
        out[8..10].copy_from_slice(&self.symbol.0.to_le_bytes());
        out[10..12].copy_from_slice(&[0, 0]);
        out[12..16].copy_from_slice(&self.session.to_le_bytes());
        out[16..24].copy_from_slice(&self.seq.to_le_bytes());
        out[24..32].copy_from_slice(&self.aux.to_le_bytes());
        out[32..48].copy_from_slice(&self.qty.serialize());
        out[48..64].copy_from_slice(&self.price.serialize());
        out[64..80].copy_from_slice(&self.fee.serialize());
        out[80..84].copy_from_slice(&self.code.to_le_bytes());
        let crc = crc32fast::hash(&out[..84]);
        out[84..88].copy_from_slice(&crc.to_le_bytes());
    }

    /// Decodes a record; `None` if the magic, kind or checksum is wrong.
    pub fn decode(b: &[u8; RECORD_LEN]) -> Option<Self> {
        if &b[0..4] != MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes(b[84..88].try_into().ok()?);
        if crc32fast::hash(&b[..84]) != crc {
            return None;
        }
        let dec = |r: std::ops::Range<usize>| -> Option<Decimal> {
            Some(Decimal::deserialize(b[r].try_into().ok()?))
        };
        Some(Self {
            kind: RecordKind::from_u8(b[4])?,
            side: match b[5] {
                0 => Side::Buy,
                1 => Side::Sell,
                _ => return None,
            },
            reduce_only: b[6] != 0,
            reason: b[7],
            symbol: SymbolId(u16::from_le_bytes(b[8..10].try_into().ok()?)),
            session: u32::from_le_bytes(b[12..16].try_into().ok()?),
            seq: u64::from_le_bytes(b[16..24].try_into().ok()?),
            aux: u64::from_le_bytes(b[24..32].try_into().ok()?),
            qty: dec(32..48)?,
            price: dec(48..64)?,
            fee: dec(64..80)?,
            code: i32::from_le_bytes(b[80..84].try_into().ok()?),
        })
    }
}

/// An order the journal saw sent but never saw finish (no Fill / Reject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingOrder {
    /// The intent record.
    pub intent: Record,
    /// Venue order id if an Ack was journaled.
    pub acked: Option<u64>,
}

/// What replaying a journal gives back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replayed {
    /// Highest session number seen (0 for a new journal).
    pub last_session: u32,
    /// Positions per symbol index, from fills and adoptions.
    pub positions: Vec<Position>,
    /// Fill and Adopt records in journal order (to rebuild the strategy's positions).
    pub fills: Vec<Record>,
    /// Orders without a final record, in journal order.
    pub pending: Vec<PendingOrder>,
    /// Valid records read.
    pub records: u64,
    /// Bytes cut off the end (torn or corrupt tail).
    pub truncated_bytes: u64,
}

impl Replayed {
    fn position_mut(&mut self, s: SymbolId) -> &mut Position {
        let i = s.index();
        if self.positions.len() <= i {
            self.positions.resize(i + 1, Position::default());
        }
        &mut self.positions[i]
    }

    /// Position of symbol index `i` (flat if never traded).
    pub fn position(&self, i: usize) -> Position {
        self.positions.get(i).copied().unwrap_or_default()
    }

    /// Applies one record.
    pub fn apply(&mut self, r: &Record) {
        self.records += 1;
        match r.kind {
            RecordKind::Session => self.last_session = self.last_session.max(r.seq as u32),
            RecordKind::Intent => self.pending.push(PendingOrder {
                intent: *r,
                acked: None,
            }),
            RecordKind::Ack => {
                if let Some(p) = self.find_pending(r) {
                    p.acked = Some(r.aux);
                }
            }
            RecordKind::Fill | RecordKind::Reject | RecordKind::External => {
                if r.kind == RecordKind::Fill {
                    self.position_mut(r.symbol)
                        .apply_fill(r.side, r.price, r.qty, r.fee);
                    self.fills.push(*r);
                }
                self.pending
                    .retain(|p| !(p.intent.session == r.session && p.intent.seq == r.seq));
            }
            RecordKind::Adopt => {
                self.position_mut(r.symbol)
                    .apply_fill(r.side, r.price, r.qty, Decimal::ZERO);
                self.fills.push(*r);
            }
        }
    }

    fn find_pending(&mut self, r: &Record) -> Option<&mut PendingOrder> {
        self.pending
            .iter_mut()
            .find(|p| p.intent.session == r.session && p.intent.seq == r.seq)
    }
}

/// The append-only journal file.
pub struct Journal {
    file: File,
    path: PathBuf,
    policy: FsyncPolicy,
    appended: u64,
    /// Records written, read by the interval syncer.
    written: Arc<AtomicU64>,
    syncer: Option<Syncer>,
}

struct Syncer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn spawn_syncer(file: File, every: Duration, written: Arc<AtomicU64>) -> std::io::Result<Syncer> {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("journal-sync".into())
        .spawn(move || {
            let mut synced = 0u64;
            loop {
                let done = s2.load(Ordering::Relaxed);
                let w = written.load(Ordering::Acquire);
                if w != synced {
                    if let Err(e) = file.sync_data() {
                        eprintln!("warning: journal fsync failed: {e}");
                    }
                    synced = w;
                }
                if done {
                    return;
                }
                std::thread::park_timeout(every);
            }
        })?;
    Ok(Syncer {
        stop,
        thread: Some(thread),
    })
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("policy", &self.policy)
            .field("appended", &self.appended)
            .finish()
    }
}

impl Journal {
    /// Opens (creating it and its directory if needed) and replays `path`; a torn or corrupt
    /// tail is cut off (reported in [`Replayed::truncated_bytes`]).
    pub fn open(path: &Path, policy: FsyncPolicy) -> Result<(Self, Replayed), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create journal directory {}: {e}", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| format!("cannot open journal {}: {e}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read journal {}: {e}", path.display()))?;
        let mut replayed = Replayed::default();
        let mut good = 0usize;
        for chunk in bytes.chunks_exact(RECORD_LEN) {
            let arr: &[u8; RECORD_LEN] = chunk.try_into().expect("exact chunk");
            match Record::decode(arr) {
                Some(r) => {
                    replayed.apply(&r);
                    good += RECORD_LEN;
                }
                None => break,
            }
        }
        if good < bytes.len() {
            replayed.truncated_bytes = (bytes.len() - good) as u64;
            file.set_len(good as u64)
                .map_err(|e| format!("cannot truncate journal {}: {e}", path.display()))?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| format!("journal {}: {e}", path.display()))?;
            eprintln!(
                "warning: journal {}: cut {} bytes of torn/corrupt tail after {} good records",
                path.display(),
                replayed.truncated_bytes,
                replayed.records
            );
        }
        let written = Arc::new(AtomicU64::new(0));
        let syncer = match policy {
            FsyncPolicy::Interval(d) => {
                let dup = file
                    .try_clone()
                    .map_err(|e| format!("journal {}: {e}", path.display()))?;
                Some(spawn_syncer(dup, d, written.clone()).map_err(|e| {
                    format!("journal {}: cannot start fsync thread: {e}", path.display())
                })?)
            }
            _ => None,
        };
        Ok((
            Self {
                file,
                path: path.to_path_buf(),
                policy,
                appended: 0,
                written,
                syncer,
            },
            replayed,
        ))
    }

    /// Appends one record (one `write`, no allocation); with `fsync = every` also syncs.
    #[inline]
    pub fn append(&mut self, r: &Record) -> std::io::Result<()> {
        let mut buf = [0u8; RECORD_LEN];
        r.encode(&mut buf);
        self.file.write_all(&buf)?;
        self.appended += 1;
        self.written.fetch_add(1, Ordering::Release);
        match self.policy {
            FsyncPolicy::Every => self.sync(),
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => Ok(()),
        }
    }

    /// Forces written records to stable storage now.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Whether a background fsync thread runs (`fsync = interval`).
    pub fn has_syncer(&self) -> bool {
        self.syncer.is_some()
    }

    /// Records appended by this process.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The reject reason stored in a record.
pub fn reason_of(r: &Record) -> RejectReason {
    RejectReason::from_index(r.reason as usize).unwrap_or(RejectReason::VenueOther)
}

/// The deterministic client order id of order (`session`, `seq`): `ct<session>-<seq>`.
pub fn client_order_id(session: u32, seq: u64) -> String {
    format!("{}{seq}", client_prefix(session))
}

/// The client order id prefix of a session: `ct<session>-`.
pub fn client_prefix(session: u32) -> String {
    format!("ct{session}-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("ct-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn record_round_trips_exactly_and_detects_corruption() {
        let mut r = Record::new(RecordKind::Fill, SymbolId(1), Side::Sell, 3, 42);
        r.qty = d("0.016");
        r.price = d("61800.30");
        r.fee = d("0.39552192");
        r.aux = 7;
        r.code = -1022;
        let mut b = [0u8; RECORD_LEN];
        r.encode(&mut b);
        assert_eq!(Record::decode(&b), Some(r));
        assert_eq!(Record::decode(&b).unwrap().price.to_string(), "61800.30");
        b[40] ^= 1;
        assert_eq!(Record::decode(&b), None, "a flipped bit fails the checksum");
    }

    #[test]
    fn replay_rebuilds_positions_and_pending_and_cuts_a_torn_tail() {
        let path = tmp("replay");
        let (mut j, rep) = Journal::open(&path, FsyncPolicy::Every).unwrap();
        assert_eq!(rep, Replayed::default());
        let mut s = Record::new(RecordKind::Session, SymbolId(0), Side::Buy, 1, 1);
        s.aux = 1;
        j.append(&s).unwrap();
        let mut i1 = Record::new(RecordKind::Intent, SymbolId(0), Side::Buy, 1, 1);
        i1.qty = d("0.010");
        j.append(&i1).unwrap();
        let mut f1 = i1;
        f1.kind = RecordKind::Fill;
        f1.price = d("60000.0");
        f1.fee = d("0.24");
        j.append(&f1).unwrap();
        let mut i2 = Record::new(RecordKind::Intent, SymbolId(0), Side::Sell, 1, 2);
        i2.qty = d("0.010");
        i2.reduce_only = true;
        j.append(&i2).unwrap();
        let mut i3 = Record::new(RecordKind::Intent, SymbolId(1), Side::Buy, 1, 3);
        i3.qty = d("1");
        j.append(&i3).unwrap();
        let mut r3 = i3;
        r3.kind = RecordKind::Reject;
        r3.reason = RejectReason::VenueFilter.index() as u8;
        j.append(&r3).unwrap();
        drop(j);
        // A torn write: half a record at the end.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0xAB; RECORD_LEN / 2]).unwrap();
        drop(f);

        let (_j, rep) = Journal::open(&path, FsyncPolicy::Never).unwrap();
        assert_eq!(rep.records, 6);
        assert_eq!(rep.truncated_bytes, (RECORD_LEN / 2) as u64);
        assert_eq!(rep.last_session, 1);
        assert_eq!(rep.position(0).qty, d("0.010"));
        assert_eq!(rep.position(0).entry, d("60000.0"));
        assert_eq!(rep.position(0).fees, d("0.24"));
        assert_eq!(rep.position(1).qty, Decimal::ZERO);
        assert_eq!(rep.pending.len(), 1, "only the unanswered exit is pending");
        assert_eq!(rep.pending[0].intent, i2);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            6 * RECORD_LEN as u64
        );
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn client_order_ids_are_deterministic_and_venue_legal() {
        assert_eq!(client_order_id(3, 17), "ct3-17");
        let id = client_order_id(u32::MAX, u64::MAX);
        assert!(id.len() <= 36, "Binance allows 36 chars: {id}");
    }
}
