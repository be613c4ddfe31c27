//! Crash-safe order journal: every intent, ack, fill and rejection is appended as one fixed-size
//! binary record with a CRC-32 BEFORE the execution thread acts on it (sends the request, hands
//! the fill to compute). On start-up the journal is replayed: positions are rebuilt from the
//! fills, and intents with no final record are returned as pending, to be re-queried at the
//! venue by their (deterministic) client order id, never blindly resent.
//!
//! Record (112 bytes, little endian): `magic "CTJ2" | kind u8 | side u8 | flags u8 | reason u8 |
//! session u32 | code i32 | seq u64 | aux u64 | qty [16] | price [16] | fee [16] |
//! symbol name [28] (NUL-padded) | crc32(bytes 0..108) u32`. Decimals use `Decimal::serialize`
//! (exact). Records name their symbol, so reordering or removing `venue.symbols` between runs
//! never books a record to another symbol. `reason` is a rejection's reason, a fill's time
//! stamp ([`BOOKED_TIME`], [`VENUE_TIME`]) or an adoption at the venue's entry ([`AT_ENTRY`]).
//!
//! A record is a memory write into a shared mapping of the file (`mmap`, pre-allocated
//! [`GROW_BYTES`] ahead of the last record): no allocation and no system call per record. Once
//! the copy is done the record is in the page cache and survives a process kill; `fsync` =
//! `every` also survives a power cut at the price of one `msync` per record on the calling
//! thread, `interval` bounds the loss window with a background thread that `fdatasync`s a
//! duplicate descriptor (which writes back the mapping's dirty pages; the execution thread never
//! waits for the disk), `never` leaves it to the OS. The mapping grows (`fallocate` + remap)
//! from [`Journal::reserve`], which the execution stage calls off the order path when less than
//! a quarter of the room is left; an append that finds no room grows it itself. A clean close
//! cuts the file back to its records; after a kill the pre-allocated tail is zeros, which
//! [`scan`] reads as free space.
//!
//! File layout: records back to back from offset 0, then zero bytes (free space). A kill in the
//! middle of a record's copy leaves a record whose trailing checksum bytes are still zero: that
//! final record is torn (cut off at the next start and reported), as is a final record shorter
//! than [`RECORD_LEN`] (a journal written by `write(2)`).
//!
//! Opening never destroys data: a file that is not a journal (or an old `CTJ1` journal) is
//! refused, a record failing its checksum stops the open with its byte offset (see
//! [`inspect`] and `calculus-trader journal check|repair`); only a torn final record (shorter
//! than [`RECORD_LEN`], a write cut short) is cut off, and reported. The file is locked
//! (advisory, `flock`) for the life of the [`Journal`]: a second process refuses to open it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use memmap2::{MmapMut, MmapOptions};
use rust_decimal::Decimal;

use crate::types::{FillTime, Position, RejectReason, Side, SymbolId};

/// Size of one record, bytes.
pub const RECORD_LEN: usize = 112;
/// Longest symbol name a record holds, bytes.
pub const NAME_LEN: usize = 28;
const MAGIC: &[u8; 4] = b"CTJ2";
const OLD_MAGIC: &[u8; 4] = b"CTJ1";
const CRC_AT: usize = RECORD_LEN - 4;
/// Room the journal file keeps mapped ahead of its last record, bytes (a whole number of
/// records, about 4 MiB; sparse on disk until written).
pub const GROW_BYTES: u64 = (RECORD_LEN as u64) * 37_449;
/// Bytes past the records' end [`Journal::reserve`] keeps faulted in (16 pages: 585 records).
pub const PREFAULT_BYTES: usize = 16 * PAGE;
/// The page size this faults in by (4 KiB; on a larger page each touch does more).
const PAGE: usize = 4096;

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
    /// The venue-side exits an entry asks for, journaled before it is sent (after its Intent):
    /// `price` = take-profit, `fee` = stop-loss trigger (zero: none), as built (on the tick).
    /// When the entry fills they become its symbol's levels ([`Replayed::exits`]), so start-up
    /// can re-place a stop missing at the venue. Journals without it replay unchanged.
    Exits = 8,
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
            8 => RecordKind::Exits,
            _ => return None,
        })
    }
}

/// One journal record. Plain `Copy` data; the symbol is the index into the journal's symbol
/// names (the file stores the name).
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

/// A symbol name as stored in a record: NUL-padded bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymbolName([u8; NAME_LEN]);

impl SymbolName {
    /// No symbol (session records).
    pub const NONE: SymbolName = SymbolName([0; NAME_LEN]);

    /// The stored form of `name`; `None` if it is empty, longer than [`NAME_LEN`] or holds a NUL.
    pub fn new(name: &str) -> Option<Self> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > NAME_LEN || b.contains(&0) {
            return None;
        }
        let mut out = [0u8; NAME_LEN];
        out[..b.len()].copy_from_slice(b);
        Some(Self(out))
    }

    /// The name (lossy for bytes that are not UTF-8).
    pub fn as_string(&self) -> String {
        let end = self.0.iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }
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

    /// Stamps a fill with a venue time, `ms` (Unix ms, venue clock): the venue's own time of
    /// the execution (`exact`: read from the venue, booked late maybe), or when the fill was
    /// booked (a fill of ours: at or after the venue executed it). Kept in `code` as ms from
    /// the record's session anchor (`session_anchor_ms`), `reason` = [`BOOKED_TIME`] or
    /// [`VENUE_TIME`]; a time more than ±24.8 days from it is left out (the record keeps its
    /// journal place).
    pub fn set_venue_ms(&mut self, ms: u64, exact: bool) {
        let off = ms as i64 - session_anchor_ms(self.session) as i64;
        if let (RecordKind::Fill, Ok(off)) = (self.kind, i32::try_from(off)) {
            self.code = off;
            self.reason = if exact { VENUE_TIME } else { BOOKED_TIME };
        }
    }

    /// The venue time a fill was stamped with by [`Record::set_venue_ms`] (Unix ms), if any.
    pub fn venue_ms(&self) -> Option<u64> {
        let stamped = matches!(self.reason, BOOKED_TIME | VENUE_TIME);
        (self.kind == RecordKind::Fill && stamped)
            .then(|| (session_anchor_ms(self.session) as i64 + i64::from(self.code)) as u64)
    }

    /// The venue's own execution time of a fill (stamped `exact`), if any: such a fill is
    /// booked in the venue's order ([`Replayed::apply`]).
    pub fn executed_ms(&self) -> Option<u64> {
        self.venue_ms().filter(|_| self.reason == VENUE_TIME)
    }

    /// An adoption that takes the venue's average entry, `price` ([`AT_ENTRY`]).
    pub fn set_at_entry(&mut self) {
        if self.kind == RecordKind::Adopt {
            self.reason = AT_ENTRY;
        }
    }

    /// Whether this is an adoption at the venue's average entry ([`Record::set_at_entry`]).
    pub fn at_entry(&self) -> bool {
        self.kind == RecordKind::Adopt && self.reason == AT_ENTRY
    }

    /// Books this fill or adoption onto `p` (an adoption has no fee; one [`AT_ENTRY`] takes
    /// the venue's entry).
    pub fn book_onto(&self, p: &mut Position) {
        match self.kind {
            RecordKind::Adopt if self.at_entry() => {
                p.adopt_to_entry(self.side, self.qty, self.price)
            }
            RecordKind::Adopt => p.apply_fill(self.side, self.price, self.qty, Decimal::ZERO),
            _ => p.apply_fill(self.side, self.price, self.qty, self.fee),
        }
    }

    /// The fill's time as the books place it ([`FillTime::of`] its two stamps).
    pub fn fill_time(&self) -> FillTime {
        FillTime::of(self.venue_ms(), self.executed_ms())
    }

    /// Encodes into `out` with symbol name `name` (checksum included).
    pub fn encode(&self, name: &SymbolName, out: &mut [u8; RECORD_LEN]) {
        out[0..4].copy_from_slice(MAGIC);
        out[4] = self.kind as u8;
        out[5] = match self.side {
            Side::Buy => 0,
            Side::Sell => 1,
        };
        out[6] = u8::from(self.reduce_only);
        out[7] = self.reason;
        out[8..12].copy_from_slice(&self.session.to_le_bytes());
        out[12..16].copy_from_slice(&self.code.to_le_bytes());
        out[16..24].copy_from_slice(&self.seq.to_le_bytes());
        out[24..32].copy_from_slice(&self.aux.to_le_bytes());
        out[32..48].copy_from_slice(&self.qty.serialize());
        out[48..64].copy_from_slice(&self.price.serialize());
        out[64..80].copy_from_slice(&self.fee.serialize());
        out[80..CRC_AT].copy_from_slice(&name.0);
        let crc = crc32fast::hash(&out[..CRC_AT]);
        out[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    }

    /// Decodes a record and its symbol name (`symbol` is left 0 for the caller to map);
    /// `None` if the magic, kind, side or checksum is wrong.
    pub fn decode(b: &[u8; RECORD_LEN]) -> Option<(Self, SymbolName)> {
        if &b[0..4] != MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes(b[CRC_AT..].try_into().ok()?);
        if crc32fast::hash(&b[..CRC_AT]) != crc {
            return None;
        }
        let dec = |r: std::ops::Range<usize>| -> Option<Decimal> {
            Some(Decimal::deserialize(b[r].try_into().ok()?))
        };
        let rec = Self {
            kind: RecordKind::from_u8(b[4])?,
            side: match b[5] {
                0 => Side::Buy,
                1 => Side::Sell,
                _ => return None,
            },
            reduce_only: b[6] != 0,
            reason: b[7],
            symbol: SymbolId(0),
            session: u32::from_le_bytes(b[8..12].try_into().ok()?),
            code: i32::from_le_bytes(b[12..16].try_into().ok()?),
            seq: u64::from_le_bytes(b[16..24].try_into().ok()?),
            aux: u64::from_le_bytes(b[24..32].try_into().ok()?),
            qty: dec(32..48)?,
            price: dec(48..64)?,
            fee: dec(64..80)?,
        };
        Some((rec, SymbolName(b[80..CRC_AT].try_into().ok()?)))
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
    /// `(session, start Unix ms)` of the last two sessions in journal order: `[earlier,
    /// latest]` (`(0, 0)`: none). See [`Replayed::previous_session`].
    pub sessions: [(u32, u64); 2],
    /// `(session, start Unix ms)` of the latest session in journal order that wrote a record
    /// besides its own `Session` record (`(0, 0)`: none). See [`Replayed::catch_up_session`].
    pub active_session: (u32, u64),
    /// Positions per symbol index, from fills and adoptions.
    pub positions: Vec<Position>,
    /// Fill and Adopt records in journal order (to rebuild the strategy's positions).
    pub fills: Vec<Record>,
    /// `(symbol, venue order id)` of the Ack and External records: orders of ours.
    pub orders: Vec<(SymbolId, u64)>,
    /// Orders without a final record, in journal order.
    pub pending: Vec<PendingOrder>,
    /// Valid records read.
    pub records: u64,
    /// Bytes cut off the end (a torn final record).
    pub truncated_bytes: u64,
    /// Journaled symbols that are not configured now, with what the journal holds for them.
    pub unconfigured: Vec<Unconfigured>,
    /// Per symbol index: the venue-side exits of the entry that opened its open position (from
    /// its `Exits` record once it filled); `None` when flat or unknown.
    pub exits: Vec<Option<JournaledExits>>,
    /// `Exits` records whose entry has not filled (nor ended) yet.
    pub exit_orders: Vec<Record>,
}

/// The venue-side exits of an open position, as its entry journaled them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournaledExits {
    /// Session of the entry.
    pub session: u32,
    /// Client sequence of the entry.
    pub seq: u64,
    /// Side of the entry (the position's side: `Buy` long).
    pub side: Side,
    /// Take-profit trigger.
    pub take_profit: Option<Decimal>,
    /// Stop-loss trigger.
    pub stop_loss: Option<Decimal>,
}

impl Record {
    /// The `Exits` record of entry `it` (an Intent record) with triggers `(tp, sl)`.
    pub fn exits_of(it: &Record, (tp, sl): (Option<Decimal>, Option<Decimal>)) -> Self {
        let mut r = Record::new(RecordKind::Exits, it.symbol, it.side, it.session, it.seq);
        r.price = tp.unwrap_or_default();
        r.fee = sl.unwrap_or_default();
        r
    }
}

/// A journaled symbol missing from the configured symbols: its records are kept apart (never
/// booked to another symbol) so start-up can refuse while it holds a position or an order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Unconfigured {
    /// The journaled symbol name.
    pub name: String,
    /// Its position from the journaled fills and adoptions.
    pub position: Position,
    /// Its orders without a final record.
    pub pending: usize,
}

impl Replayed {
    fn position_mut(&mut self, s: SymbolId) -> &mut Position {
        let i = s.index();
        if self.positions.len() <= i {
            self.positions.resize(i + 1, Position::default());
        }
        &mut self.positions[i]
    }

    /// The last session before `current`: `(id, start Unix ms)` (`None` when the journal holds
    /// none). Start-up reads the venue's executions from its start on.
    pub fn previous_session(&self, current: u32) -> Option<(u32, u64)> {
        let [earlier, latest] = self.sessions;
        let s = if latest.0 == current { earlier } else { latest };
        (s.1 != 0).then_some(s)
    }

    /// The session from whose start start-up reads the venue's executions: the latest one
    /// before `current` that journaled anything, else the previous one. A session killed during
    /// its own start-up journals nothing — what its catch-up found is lost with it — so the
    /// read goes back past it, to the last session that did (by induction, every execution
    /// before that one's start was caught up by it).
    pub fn catch_up_session(&self, current: u32) -> Option<(u32, u64)> {
        let a = self.active_session;
        if a.1 != 0 && a.0 != current {
            return Some(a);
        }
        self.previous_session(current)
    }

    /// Position of symbol index `i` (flat if never traded).
    pub fn position(&self, i: usize) -> Position {
        self.positions.get(i).copied().unwrap_or_default()
    }

    /// Applies one record.
    pub fn apply(&mut self, r: &Record) {
        self.records += 1;
        if r.kind != RecordKind::Session {
            self.active_session = self.sessions[1];
        }
        match r.kind {
            RecordKind::Session => {
                self.last_session = self.last_session.max(r.seq as u32);
                self.sessions = [self.sessions[1], (r.seq as u32, r.aux)];
            }
            RecordKind::Intent => self.pending.push(PendingOrder {
                intent: *r,
                acked: None,
            }),
            RecordKind::Ack => {
                self.orders.push((r.symbol, r.aux));
                if let Some(p) = self.find_pending(r) {
                    p.acked = Some(r.aux);
                }
            }
            RecordKind::Fill | RecordKind::Reject | RecordKind::External => {
                let same = |x: &Record| x.session == r.session && x.seq == r.seq;
                let armed = self.exit_orders.iter().position(same);
                if let Some(k) = armed {
                    let e = self.exit_orders.swap_remove(k);
                    if r.kind == RecordKind::Fill {
                        self.set_exits(r.symbol, Some(journaled(&e)));
                    }
                }
                if r.kind == RecordKind::Fill {
                    self.book_fill(r);
                } else if r.kind == RecordKind::External {
                    self.orders.push((r.symbol, r.aux));
                }
                self.pending.retain(|p| !same(&p.intent));
            }
            RecordKind::Adopt => {
                r.book_onto(self.position_mut(r.symbol));
                self.fills.push(*r);
            }
            RecordKind::Exits => self.exit_orders.push(*r),
        }
        let booked = matches!(r.kind, RecordKind::Fill | RecordKind::Adopt);
        if booked && self.position(r.symbol.index()).qty.is_zero() {
            self.set_exits(r.symbol, None);
        }
    }

    /// Books fill `r` in the venue's order: after the fills of its symbol, except those
    /// journaled before it that the venue executed after it (their venue time later than
    /// `r`'s: an execution booked late, read from the venue after fills of ours it preceded).
    /// Then the symbol's position is rebuilt from its fills and adoptions in that order — with a
    /// position open, average-cost accounting depends on it, and the venue's is the truth.
    fn book_fill(&mut self, r: &Record) {
        let at = r
            .executed_ms()
            .map_or(self.fills.len(), |t| self.venue_slot(r.symbol, t));
        if at == self.fills.len() {
            r.book_onto(self.position_mut(r.symbol));
            self.fills.push(*r);
            return;
        }
        self.fills.insert(at, *r);
        let mut p = Position::default();
        for x in self.fills.iter().filter(|x| x.symbol == r.symbol) {
            x.book_onto(&mut p);
        }
        *self.position_mut(r.symbol) = p;
    }

    /// Where in `fills` a fill of `symbol` the venue executed at `t` (Unix ms) goes
    /// ([`FillTime::venue_place`] over the symbol's fills; an adoption has no time).
    fn venue_slot(&self, symbol: SymbolId, t: u64) -> usize {
        let fills = self.fills.iter().enumerate().rev();
        let mine = fills.filter(|(_, x)| x.symbol == symbol);
        let times = mine.map(|(k, x)| (k, x.fill_time()));
        FillTime::venue_place(times, t, self.fills.len())
    }

    fn set_exits(&mut self, s: SymbolId, e: Option<JournaledExits>) {
        let i = s.index();
        if self.exits.len() <= i {
            self.exits.resize(i + 1, None);
        }
        self.exits[i] = e;
    }

    /// The journaled exits of symbol index `i` when they protect its open position (the
    /// position is on their entry's side).
    pub fn exits_of(&self, i: usize) -> Option<JournaledExits> {
        let e = self.exits.get(i).copied().flatten()?;
        let q = self.position(i).qty;
        let long = e.side == Side::Buy;
        ((long && q > Decimal::ZERO) || (!long && q < Decimal::ZERO)).then_some(e)
    }

    /// Applies one record of a symbol that is not configured (kept under its name).
    pub fn apply_unconfigured(&mut self, name: &str, r: &Record) {
        self.records += 1;
        let u = match self.unconfigured.iter().position(|u| u.name == name) {
            Some(i) => &mut self.unconfigured[i],
            None => {
                self.unconfigured.push(Unconfigured {
                    name: name.to_string(),
                    ..Unconfigured::default()
                });
                self.unconfigured.last_mut().expect("just pushed")
            }
        };
        match r.kind {
            RecordKind::Intent => u.pending += 1,
            RecordKind::Fill | RecordKind::Reject | RecordKind::External => {
                u.pending = u.pending.saturating_sub(1);
                if r.kind == RecordKind::Fill {
                    r.book_onto(&mut u.position);
                }
            }
            RecordKind::Adopt => r.book_onto(&mut u.position),
            RecordKind::Session | RecordKind::Ack | RecordKind::Exits => {}
        }
    }

    /// Unconfigured symbols still holding a position or an unfinished order.
    pub fn unconfigured_open(&self) -> impl Iterator<Item = &Unconfigured> {
        self.unconfigured
            .iter()
            .filter(|u| !u.position.qty.is_zero() || u.pending > 0)
    }

    fn find_pending(&mut self, r: &Record) -> Option<&mut PendingOrder> {
        self.pending
            .iter_mut()
            .find(|p| p.intent.session == r.session && p.intent.seq == r.seq)
    }
}

/// The append-only journal file, locked by this process while open, written through a shared
/// mapping: records occupy `[0, len)`, the rest of the mapping is zeros.
pub struct Journal {
    file: File,
    map: MmapMut,
    /// Bytes of records in the file.
    len: u64,
    /// Mapping grows (a system call on the calling thread).
    grows: u64,
    /// A [`Journal::reserve`] failed (not tried again).
    reserve_failed: bool,
    /// Bytes of the mapping from 0 whose pages [`Journal::reserve`] made present and writable
    /// (0 after a grow: the new mapping's pages fault again).
    touched: usize,
    path: PathBuf,
    names: Vec<SymbolName>,
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
            .field("len", &self.len)
            .field("mapped", &self.map.len())
            .field("policy", &self.policy)
            .field("appended", &self.appended)
            .finish()
    }
}

/// A journal file's records as read, without changing it.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// File length, bytes.
    pub len: u64,
    /// The valid records before the first bad one, with their symbol names.
    pub good: Vec<(Record, SymbolName)>,
    /// Byte offset of the first record failing its checksum (everything from it on is suspect).
    pub first_bad: Option<u64>,
    /// Complete records from `first_bad` to the end: `(offset, record if it decodes)`.
    pub after_bad: Vec<(u64, Option<(Record, SymbolName)>)>,
    /// Bytes of a torn final record (shorter than [`RECORD_LEN`], or a whole record whose
    /// checksum bytes are still zero: a copy into the mapping cut short).
    pub torn: u64,
    /// Zero bytes after the records (the pre-allocated room of a journal not closed cleanly).
    pub free: u64,
}

impl Scan {
    /// Byte offset where the valid records end (where a repair would cut).
    pub fn valid_len(&self) -> u64 {
        (self.good.len() * RECORD_LEN) as u64
    }
}

/// Reads `bytes` as a journal. Errors (naming the offset) when it is not a journal at all or
/// an old-format one; a bad record is reported in [`Scan::first_bad`], not an error here.
pub fn scan(bytes: &[u8], path: &Path) -> Result<Scan, String> {
    let (end, free, torn) = data_extent(bytes);
    let head = &bytes[..bytes.len().min(4)];
    // All zeros: a journal killed before its first record was copied in (nothing to lose).
    if end + torn as usize > 0 && head != &MAGIC[..head.len()] {
        if head == OLD_MAGIC {
            return Err(format!(
                "{} is an old-format journal (offset 0: magic CTJ1, records name symbols by list index, which cannot be mapped to names safely); refusing to use it. Keep it for reference and start a new journal (another exec.journal path) after checking the venue's positions",
                path.display()
            ));
        }
        return Err(format!(
            "{} is not an order journal (offset 0: expected magic CTJ2); refusing to use or overwrite it",
            path.display()
        ));
    }
    let mut out = Scan {
        len: bytes.len() as u64,
        torn,
        free,
        ..Scan::default()
    };
    for (i, chunk) in bytes[..end].chunks_exact(RECORD_LEN).enumerate() {
        let arr: &[u8; RECORD_LEN] = chunk.try_into().expect("exact chunk");
        let off = (i * RECORD_LEN) as u64;
        let rec = Record::decode(arr);
        match (out.first_bad, rec) {
            (None, Some(r)) => out.good.push(r),
            (None, None) => {
                out.first_bad = Some(off);
                out.after_bad.push((off, None));
            }
            (Some(_), r) => out.after_bad.push((off, r)),
        }
    }
    Ok(out)
}

/// Where the whole records to read end, the free (zero) bytes after the records, and the bytes
/// of a torn final record (see the module doc): `(end, free, torn)`.
fn data_extent(bytes: &[u8]) -> (usize, u64, u64) {
    let whole = bytes.len() / RECORD_LEN * RECORD_LEN;
    let zero = |b: &[u8]| b.iter().all(|&x| x == 0);
    if !zero(&bytes[whole..]) {
        // A final record cut short by `write(2)`.
        return (whole, 0, (bytes.len() - whole) as u64);
    }
    let mut end = whole;
    while end >= RECORD_LEN && zero(&bytes[end - RECORD_LEN..end]) {
        end -= RECORD_LEN;
    }
    let free = (bytes.len() - end) as u64;
    let last = end.checked_sub(RECORD_LEN).map(|s| &bytes[s..end]);
    match last {
        Some(r)
            if zero(&r[CRC_AT..])
                && Record::decode(r.try_into().expect("one record")).is_none() =>
        {
            (end - RECORD_LEN, free, RECORD_LEN as u64)
        }
        _ => (end, free, 0),
    }
}

/// Reads the journal at `path` without locking or changing it.
pub fn inspect(path: &Path) -> Result<Scan, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read journal {}: {e}", path.display()))?;
    scan(&bytes, path)
}

/// How long a held lock is retried before the journal is refused: a lock is shared with a
/// child forked in that instant (until its exec closes the descriptor), which lasts
/// milliseconds; another trader holds it for its whole run.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Takes the exclusive advisory lock of `file` (`flock`, released when the file is closed).
fn lock(file: &File, path: &Path) -> Result<(), String> {
    use rustix::fs::{flock, FlockOperation};
    let since = std::time::Instant::now();
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::WOULDBLOCK) if since.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(format!(
                "journal {} is locked by another process (another trader runs on it); refusing to start",
                path.display()
            )),
            Err(e) => return Err(format!("cannot lock journal {}: {e}", path.display())),
        }
    }
}

/// Opens `path` for reading and writing (created if missing, never truncated) and locks it.
fn open_locked(path: &Path) -> Result<File, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create journal directory {}: {e}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("cannot open journal {}: {e}", path.display()))?;
    lock(&file, path)?;
    Ok(file)
}

/// The message of a journal whose record at `offset` fails its checksum, with the commands
/// that inspect and repair it.
fn corrupt_message(path: &Path, s: &Scan, offset: u64) -> String {
    format!(
        "journal {p}: record {i} at byte offset {offset} fails its checksum ({n} record(s) from there to the end); nothing was changed. Inspect: `calculus-trader journal check --journal {p}`; repair (keeps the {i} records before it, moves the rest to {p}.dropped-{offset}, then reconcile with the venue): `calculus-trader journal repair --journal {p} --confirm`",
        p = path.display(),
        i = s.good.len(),
        n = s.after_bad.len(),
    )
}

impl Journal {
    /// Opens (creating it and its directory if needed), locks and replays `path`; records are
    /// mapped to `names` (the configured symbols, in `SymbolId` order) by name. Refuses a file
    /// that is not a journal, an old-format journal, a journal locked by another process and a
    /// record failing its checksum; cuts off (and reports) only a torn final record.
    pub fn open(
        path: &Path,
        names: &[String],
        policy: FsyncPolicy,
    ) -> Result<(Self, Replayed), String> {
        let stored: Vec<SymbolName> = names
            .iter()
            .map(|n| {
                SymbolName::new(n).ok_or_else(|| {
                    format!("symbol {n:?} cannot be journaled (1..={NAME_LEN} bytes, no NUL)")
                })
            })
            .collect::<Result<_, _>>()?;
        let mut file = open_locked(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read journal {}: {e}", path.display()))?;
        let s = scan(&bytes, path)?;
        if let Some(off) = s.first_bad {
            return Err(corrupt_message(path, &s, off));
        }
        let mut replayed = Replayed::default();
        for (r, name) in &s.good {
            match stored.iter().position(|n| n == name) {
                Some(i) => replayed.apply(&Record {
                    symbol: SymbolId(i as u16),
                    ..*r
                }),
                None if r.kind == RecordKind::Session => replayed.apply(r),
                None => replayed.apply_unconfigured(&name.as_string(), r),
            }
        }
        let good = s.valid_len();
        // Cut the torn record and the old free room; the new room reads as zeros.
        let room = file
            .set_len(good)
            .and_then(|()| reserve_room(&file, good))
            .map_err(|e| {
                format!(
                    "journal {}: no room for a record ({e}): disk full or file size limit",
                    path.display()
                )
            })?;
        if room < GROW_BYTES {
            eprintln!(
                "warning: journal {}: only {room} bytes of room could be reserved (disk full or file size limit); entries stop and positions are flattened when it is used up",
                path.display()
            );
        }
        let map = map_file(&file, good + room)
            .map_err(|e| format!("cannot map journal {}: {e}", path.display()))?;
        if s.torn > 0 {
            replayed.truncated_bytes = s.torn;
            eprintln!(
                "warning: journal {}: cut a torn final record ({} bytes at offset {good}) after {} good records",
                path.display(),
                s.torn,
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
                map,
                len: good,
                grows: 0,
                reserve_failed: false,
                touched: 0,
                path: path.to_path_buf(),
                names: stored,
                policy,
                appended: 0,
                written,
                syncer,
            },
            replayed,
        ))
    }

    /// Appends one record: encoded straight into the mapping (no allocation, no system call
    /// while there is room); with `fsync = every` also syncs its bytes.
    #[inline]
    pub fn append(&mut self, r: &Record) -> std::io::Result<()> {
        self.put(r, 0, true)
    }

    /// Keeps an append warm without appending: encodes `r` into a stack buffer (the same
    /// encoder and checksum), rewrites each cache line of record slot `ahead` after the end
    /// (0: the next append's) with the byte it holds (zero: free space), so its page is mapped
    /// writable and cached before an order needs it, and takes the records counter's cache
    /// line back from the syncer thread (an atomic add of zero). Changes no byte of the file
    /// and no count; no system call.
    #[inline]
    pub fn warm(&mut self, r: &Record, ahead: usize) {
        // Never fails: a probe that finds no room does nothing.
        let _ = self.put(r, ahead, false);
    }

    /// [`Journal::append`] (`commit`) or [`Journal::warm`]: one body, so a warm-up runs the
    /// instructions of an append.
    #[inline(never)]
    fn put(&mut self, r: &Record, ahead: usize, commit: bool) -> std::io::Result<()> {
        let at = self.len as usize + ahead * RECORD_LEN;
        if at + RECORD_LEN > self.map.len() {
            if !commit {
                return Ok(());
            }
            self.grow()?;
        }
        let name = match r.kind {
            RecordKind::Session => &SymbolName::NONE,
            _ => self
                .names
                .get(r.symbol.index())
                .unwrap_or(&SymbolName::NONE),
        };
        let mut scratch = [0u8; RECORD_LEN];
        let slot: &mut [u8; RECORD_LEN] = if commit {
            (&mut self.map[at..at + RECORD_LEN])
                .try_into()
                .expect("one record")
        } else {
            &mut scratch
        };
        r.encode(name, slot);
        if !commit {
            std::hint::black_box(&scratch);
            self.written.fetch_add(0, Ordering::Release);
            for b in (at..at + RECORD_LEN)
                .step_by(64)
                .chain([at + RECORD_LEN - 1])
            {
                let v = std::hint::black_box(self.map[b]);
                self.map[b] = v;
            }
            return Ok(());
        }
        self.len += RECORD_LEN as u64;
        self.appended += 1;
        self.written.fetch_add(1, Ordering::Release);
        match self.policy {
            FsyncPolicy::Every => self.map.flush_range(at, RECORD_LEN),
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => Ok(()),
        }
    }

    /// Grows the room when less than a quarter of [`GROW_BYTES`] is left (a system call then;
    /// call it off the order path), and faults in the pages of the next [`PREFAULT_BYTES`]
    /// (so that an append on the order path is a memory write, not a page fault: one every
    /// 36 records of a shared file mapping, 2–3 µs each). Returns whether it grew.
    /// After a failure it does not try again (the caller is told once; an append that finds no
    /// room still tries, and reports its failure).
    #[inline]
    pub fn reserve(&mut self) -> std::io::Result<bool> {
        let mut grew = false;
        if !self.reserve_failed && (self.map.len() as u64 - self.len) < GROW_BYTES / 4 {
            let grown = self.grow();
            self.reserve_failed = grown.is_err();
            grown?;
            grew = true;
        }
        let end = (self.len as usize + PREFAULT_BYTES).min(self.map.len());
        if self.touched < end {
            self.prefault(end);
        }
        Ok(grew)
    }

    /// Writes back one byte of each page from where the records end (or were touched to) to
    /// `end`: each page present and writable, its bytes unchanged.
    #[cold]
    fn prefault(&mut self, end: usize) {
        let from = self.touched.max(self.len as usize) & !(PAGE - 1);
        for b in (from..end).step_by(PAGE) {
            let v = std::hint::black_box(self.map[b]);
            self.map[b] = v;
        }
        self.touched = end;
    }

    /// Extends the file by up to [`GROW_BYTES`] (at least one record) and maps it again.
    #[cold]
    fn grow(&mut self) -> std::io::Result<()> {
        let end = self.map.len() as u64;
        let room = reserve_room(&self.file, end)?;
        self.map = map_file(&self.file, end + room)?;
        self.touched = 0;
        self.grows += 1;
        Ok(())
    }

    /// Times the mapping grew.
    pub fn grows(&self) -> u64 {
        self.grows
    }

    /// Forces written records to stable storage now.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.map.flush_range(0, self.len as usize)
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

/// The exits an `Exits` record holds (zero: none).
fn journaled(r: &Record) -> JournaledExits {
    let level = |d: Decimal| (!d.is_zero()).then_some(d);
    JournaledExits {
        session: r.session,
        seq: r.seq,
        side: r.side,
        take_profit: level(r.price),
        stop_loss: level(r.fee),
    }
}

impl Drop for Journal {
    /// A clean close cuts the file back to its records (no free room left on disk).
    fn drop(&mut self) {
        if let Err(e) = self.file.set_len(self.len) {
            eprintln!(
                "warning: journal {}: cannot cut the free room: {e} (read as free space at the next start)",
                self.path.display()
            );
        }
    }
}

/// Allocates room for records after byte `from` of `file` (the file grows to its end): up to
/// [`GROW_BYTES`], halving down to one record when the disk or the file size limit refuses
/// more. Blocks are allocated (`fallocate`), so a write into the mapping never meets a full
/// disk (which a sparse hole would turn into SIGBUS); where the file system cannot allocate
/// ahead, the file is extended sparse. Returns the bytes of room.
fn reserve_room(file: &File, from: u64) -> std::io::Result<u64> {
    use rustix::fs::{fallocate, FallocateFlags};
    let mut want = GROW_BYTES;
    loop {
        let done = match fallocate(file, FallocateFlags::empty(), from, want) {
            Err(rustix::io::Errno::OPNOTSUPP) => file.set_len(from + want),
            r => r.map_err(std::io::Error::from),
        };
        match done {
            Ok(()) => return Ok(want),
            Err(e) if want == RECORD_LEN as u64 => return Err(e),
            Err(_) => want = (want / 2 / RECORD_LEN as u64).max(1) * RECORD_LEN as u64,
        }
    }
}

/// Maps the first `size` bytes of `file` (which is at least that long) read-write, shared.
fn map_file(file: &File, size: u64) -> std::io::Result<MmapMut> {
    let len = usize::try_from(size).map_err(std::io::Error::other)?;
    // SAFETY: a mapping's bytes can change under it if another process writes the file or
    // shrinks it (SIGBUS past the end). The file is opened by this process only while it holds
    // the exclusive `flock` (`open_locked`, and `journal repair` takes the same lock), the file
    // is at least `size` bytes long (set just before), and only this `Journal` shrinks it, in
    // `Drop`, after its last access through the mapping.
    unsafe { MmapOptions::new().len(len).map_mut(file) }
}

/// The reject reason stored in a record.
pub fn reason_of(r: &Record) -> RejectReason {
    RejectReason::from_index(r.reason as usize).unwrap_or(RejectReason::VenueOther)
}

/// Seconds from the Unix epoch to 2025-01-01T00:00:00Z.
const SESSION_EPOCH_S: u64 = 1_735_689_600;

/// `reason` of a Fill record whose `code` holds when it was booked, venue clock
/// ([`Record::set_venue_ms`]); 0 (journals before it): no time.
pub const BOOKED_TIME: u8 = 1;
/// `reason` of a Fill record whose `code` holds the venue's own execution time.
pub const VENUE_TIME: u8 = 2;
/// `reason` of an Adopt record whose `price` is the venue's average entry of its whole
/// position after it ([`Position::adopt_to_entry`]); 0 (every adoption before it): a fill at
/// `price`.
pub const AT_ENTRY: u8 = 3;

/// A session's anchor for its fills' venue times, Unix ms: the second its number counts from
/// 2025-01-01 ([`next_session`]: at or a little before the session's start).
fn session_anchor_ms(session: u32) -> u64 {
    (u64::from(session) + SESSION_EPOCH_S) * 1000
}

/// The session number of a starting process: above every journaled session (`last`) and at
/// least the seconds since 2025-01-01 UTC at `unix_ms`, so a new journal on an account never
/// reuses the client ids (`ct<session>-<seq>`) of an earlier run that started in another second.
pub fn next_session(last: u32, unix_ms: u64) -> u32 {
    let nonce = (unix_ms / 1000).saturating_sub(SESSION_EPOCH_S);
    last.saturating_add(1)
        .max(u32::try_from(nonce).unwrap_or(u32::MAX))
}

fn describe(r: &Record, name: &SymbolName) -> String {
    match r.kind {
        RecordKind::Session => format!("session {} started at {} ms", r.seq, r.aux),
        k => format!(
            "{k:?} {} {:?} qty {} price {} fee {} order {}",
            name.as_string(),
            r.side,
            r.qty,
            r.price,
            r.fee,
            client_order_id(r.session, r.seq)
        ),
    }
}

/// `journal check`: a summary of the journal at `path` (records, sessions, positions and
/// unfinished orders per symbol name) and, if any, the first bad record's offset. The flag is
/// true when the journal opens as it is (at most a torn final record).
pub fn check(path: &Path) -> Result<(String, bool), String> {
    let s = inspect(path)?;
    let mut out = format!(
        "journal {}: {} bytes, {} valid record(s)\n",
        path.display(),
        s.len,
        s.good.len()
    );
    let mut rep = Replayed::default();
    for (r, name) in &s.good {
        rep.apply_unconfigured(&name.as_string(), r);
        if r.kind == RecordKind::Session {
            rep.last_session = rep.last_session.max(r.seq as u32);
        }
    }
    out.push_str(&format!("last session: {}\n", rep.last_session));
    for u in rep.unconfigured.iter().filter(|u| !u.name.is_empty()) {
        out.push_str(&format!(
            "{}: position {} entry {} realized {} fees {} ({} fills), {} unfinished order(s)\n",
            u.name,
            u.position.qty,
            u.position.entry,
            u.position.realized,
            u.position.fees,
            u.position.fills,
            u.pending
        ));
    }
    if s.torn > 0 {
        out.push_str(&format!(
            "torn final record: {} bytes at offset {} (cut off at the next start)\n",
            s.torn,
            s.valid_len()
        ));
    }
    if s.free > 0 {
        out.push_str(&format!(
            "free room after the records: {} bytes (zeros; cut at the next clean close)\n",
            s.free
        ));
    }
    let ok = match s.first_bad {
        None => {
            out.push_str("ok\n");
            true
        }
        Some(off) => {
            out.push_str(&corrupt_message(path, &s, off));
            out.push('\n');
            for (o, r) in &s.after_bad {
                out.push_str(&match r {
                    Some((r, n)) => format!(
                        "  offset {o}: valid after the bad record: {}\n",
                        describe(r, n)
                    ),
                    None => format!("  offset {o}: fails its checksum\n"),
                });
            }
            false
        }
    };
    Ok((out, ok))
}

/// `journal repair`: prints exactly which records would be dropped (everything from the first
/// bad record on, and a torn tail); with `confirm`, copies those bytes to
/// `<path>.dropped-<offset>` (synced) and only then truncates the journal. Takes the lock.
pub fn repair(path: &Path, confirm: bool) -> Result<String, String> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open journal {}: {e}", path.display()))?;
    lock(&file, path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read journal {}: {e}", path.display()))?;
    let s = scan(&bytes, path)?;
    let cut = s.valid_len();
    if s.first_bad.is_none() && s.torn == 0 {
        return Ok(format!(
            "journal {}: nothing to repair ({} valid records)\n",
            path.display(),
            s.good.len()
        ));
    }
    let mut out = format!(
        "journal {}: keeps {} record(s) (bytes 0..{cut}); drops bytes {cut}..{}:\n",
        path.display(),
        s.good.len(),
        s.len
    );
    for (o, r) in &s.after_bad {
        out.push_str(&match r {
            Some((r, n)) => format!("  offset {o}: {}\n", describe(r, n)),
            None => format!("  offset {o}: fails its checksum\n"),
        });
    }
    if s.torn > 0 {
        out.push_str(&format!(
            "  offset {}: torn record ({} bytes)\n",
            cut + (s.after_bad.len() * RECORD_LEN) as u64,
            s.torn
        ));
    }
    if !confirm {
        out.push_str("nothing changed; rerun with --confirm to do this, then reconcile the positions with the venue\n");
        return Ok(out);
    }
    let saved = PathBuf::from(format!("{}.dropped-{cut}", path.display()));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&saved)
        .map_err(|e| format!("cannot create {}: {e}", saved.display()))?;
    f.write_all(&bytes[cut as usize..])
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", saved.display()))?;
    file.set_len(cut)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot truncate journal {}: {e}", path.display()))?;
    out.push_str(&format!(
        "done: dropped bytes saved to {}; reconcile the positions with the venue before trading\n",
        saved.display()
    ));
    Ok(out)
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

    /// A fill's venue time survives encoding; only the venue's own (exact) time moves a fill
    /// on replay: before the fills of its symbol journaled earlier with a later time, and the
    /// position is re-booked in that order (here: stop first, then the new long, as the venue
    /// did; booked late, the stop realized against the average of both longs).
    #[test]
    fn a_fill_with_an_earlier_venue_time_is_replayed_before_later_ones() {
        let s = next_session(0, 1_796_000_000_000);
        let at = |ms: u64, exact: bool, side: Side, seq: u64, px: &str| {
            let mut r = Record::new(RecordKind::Fill, SymbolId(0), side, s, seq);
            (r.qty, r.price) = ("0.010".parse().unwrap(), px.parse().unwrap());
            r.set_venue_ms(ms, exact);
            r
        };
        let t0 = 1_796_000_000_000;
        let long = at(t0 + 10, false, Side::Buy, 1, "100");
        let again = at(t0 + 30, false, Side::Buy, 2, "90");
        let stop = at(t0 + 20, true, Side::Sell, 0, "95");
        let mut b = [0u8; RECORD_LEN];
        stop.encode(&SymbolName::new("BTCUSDT").unwrap(), &mut b);
        let (back, _) = Record::decode(&b).unwrap();
        assert_eq!(
            (back.venue_ms(), back.executed_ms()),
            (Some(t0 + 20), Some(t0 + 20))
        );
        assert_eq!(
            (again.venue_ms(), again.executed_ms()),
            (Some(t0 + 30), None)
        );
        let mut r = Replayed::default();
        for x in [long, again, stop] {
            r.apply(&x);
        }
        let seqs: Vec<u64> = r.fills.iter().map(|x| x.seq).collect();
        assert_eq!(seqs, [1, 0, 2]);
        let p = r.position(0);
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            (p.qty, p.entry, p.realized),
            (d("0.010"), d("90"), d("-0.05"))
        );
        // A time too far from the session's anchor is left out: the fill keeps its place.
        let mut far = Record::new(RecordKind::Fill, SymbolId(0), Side::Buy, 1, 3);
        far.set_venue_ms(t0, true);
        assert_eq!((far.venue_ms(), far.reason, far.code), (None, 0, 0));
    }

    /// An adoption at the venue's entry survives encoding and replays as one: the position it
    /// grows takes that entry, nothing realized; a late fill after it is placed after it (an
    /// adoption has no time) and the re-booking from scratch books the adoption the same way.
    /// An adoption journaled before the flag existed (`reason` 0) stays a fill at its price.
    #[test]
    fn an_adoption_at_the_venue_s_entry_replays_as_one() {
        let s = next_session(0, 1_796_000_000_000);
        let t0 = 1_796_000_000_000;
        let fill = |ms: u64, exact: bool, side: Side, seq: u64, px: &str| {
            let mut r = Record::new(RecordKind::Fill, SymbolId(0), side, s, seq);
            (r.qty, r.price) = (d("1"), d(px));
            r.set_venue_ms(ms, exact);
            r
        };
        let mut grew = Record::new(RecordKind::Adopt, SymbolId(0), Side::Buy, s, 0);
        (grew.qty, grew.price) = (d("1"), d("103"));
        let plain = grew;
        grew.set_at_entry();
        let mut b = [0u8; RECORD_LEN];
        grew.encode(&SymbolName::new("BTCUSDT").unwrap(), &mut b);
        let (back, _) = Record::decode(&b).unwrap();
        assert!(back.at_entry() && !plain.at_entry());
        let replay = |adopt: Record| {
            let mut r = Replayed::default();
            for x in [
                fill(t0 + 10, false, Side::Buy, 1, "100"),
                adopt,
                fill(t0 + 30, false, Side::Buy, 2, "104"),
                fill(t0 + 20, true, Side::Sell, 0, "105"),
            ] {
                r.apply(&x);
            }
            let kinds: Vec<_> = r.fills.iter().map(|x| (x.kind, x.seq)).collect();
            use RecordKind::{Adopt, Fill};
            assert_eq!(kinds, [(Fill, 1), (Adopt, 0), (Fill, 0), (Fill, 2)]);
            r.position(0)
        };
        // 1 @ 100, grown to 2 at entry 103 (cost 206), 1 sold at 105 (realizes 2, cost 103),
        // 1 bought at 104: cost 207, entry 103.5.
        let p = replay(back);
        assert_eq!((p.qty, p.entry, p.cost), (d("2"), d("103.5"), d("207")));
        assert_eq!((p.realized, p.fees), (d("2"), Decimal::ZERO));
        // The old reading: a fill at 103 averages to 101.5, then realizes 3.5.
        let old = replay(plain);
        assert_eq!((old.entry, old.realized), (d("102.75"), d("3.5")));
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn exits_become_the_levels_of_the_position_their_entry_opened() {
        let mut rep = Replayed::default();
        let mut it = Record::new(RecordKind::Intent, SymbolId(1), Side::Sell, 3, 7);
        it.qty = d("2");
        rep.apply(&it);
        rep.apply(&Record::exits_of(&it, (Some(d("90")), Some(d("105")))));
        assert_eq!(rep.exits_of(1), None, "not filled yet");
        let mut f = Record::new(RecordKind::Fill, SymbolId(1), Side::Sell, 3, 7);
        (f.qty, f.price) = (d("2"), d("100"));
        rep.apply(&f);
        let e = rep.exits_of(1).unwrap();
        assert_eq!(
            (e.session, e.seq, e.side, e.take_profit, e.stop_loss),
            (3, 7, Side::Sell, Some(d("90")), Some(d("105")))
        );
        assert!(rep.exit_orders.is_empty() && rep.pending.is_empty());
        // An exit without levels closes the position: the levels go with it.
        let mut x = Record::new(RecordKind::Fill, SymbolId(1), Side::Buy, 3, 8);
        (x.qty, x.price) = (d("2"), d("95"));
        rep.apply(&x);
        assert_eq!(rep.exits_of(1), None);
        // A journal written before `Exits` existed replays as before: no levels.
        let mut old = Replayed::default();
        old.apply(&it);
        old.apply(&f);
        assert_eq!((old.exits_of(1), old.position(1).qty), (None, d("-2")));
        // A refused entry drops its levels.
        let mut r = Record::new(RecordKind::Reject, SymbolId(1), Side::Sell, 3, 9);
        let it9 = Record::new(RecordKind::Intent, SymbolId(1), Side::Sell, 3, 9);
        old.apply(&it9);
        old.apply(&Record::exits_of(&it9, (None, Some(d("110")))));
        r.code = -2019;
        old.apply(&r);
        assert!(old.exit_orders.is_empty());
        // Encoded and decoded exactly.
        let e = Record::exits_of(&it, (Some(d("90.5")), None));
        let mut b = [0u8; RECORD_LEN];
        e.encode(&SymbolName::new("ETHUSDT").unwrap(), &mut b);
        assert_eq!(
            Record::decode(&b).unwrap().0,
            Record {
                symbol: SymbolId(0),
                ..e
            }
        );
    }

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("ct-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    /// This thread's minor page faults so far (`/proc/thread-self/stat` field 10), read into a
    /// stack buffer from a file opened before (no allocation between two reads).
    fn minor_faults(stat: &mut std::fs::File) -> u64 {
        use std::io::{Read, Seek};
        let mut b = [0u8; 1024];
        stat.rewind().unwrap();
        let n = stat.read(&mut b).unwrap();
        // After the command's closing parenthesis: state, then fields 4.. (minflt is the 10th).
        let at = b[..n].iter().rposition(|&c| c == b')').unwrap();
        let text = std::str::from_utf8(&b[at + 2..n]).unwrap();
        text.split(' ').nth(7).unwrap().parse().unwrap()
    }

    /// `reserve` between appends leaves the order path's appends with no page fault: 300
    /// records (8 pages) into a fresh mapping fault without it, and not once after it.
    #[test]
    fn appends_after_reserve_take_no_page_fault() {
        let mut stat = std::fs::File::open("/proc/thread-self/stat").unwrap();
        let names = ["BTCUSDT".to_string()];
        let mut r = Record::new(RecordKind::Fill, SymbolId(0), Side::Buy, 1, 0);
        (r.qty, r.price) = (d("0.001"), d("60000.1"));
        let mut faults = |reserve: bool| {
            let p = tmp(&format!("prefault-{reserve}"));
            let (mut j, _) = Journal::open(&p, &names, FsyncPolicy::Never).unwrap();
            if reserve {
                j.reserve().unwrap();
            }
            let before = minor_faults(&mut stat);
            for seq in 0..300 {
                r.seq = seq;
                j.append(&r).unwrap();
            }
            let n = minor_faults(&mut stat) - before;
            drop(j);
            let _ = std::fs::remove_file(&p);
            n
        };
        assert!(faults(false) >= 4, "the control faults");
        assert_eq!(faults(true), 0);
    }

    #[test]
    fn record_round_trips_exactly_and_detects_corruption() {
        let mut r = Record::new(RecordKind::Fill, SymbolId(1), Side::Sell, 3, 42);
        r.qty = d("0.016");
        r.price = d("61800.30");
        r.fee = d("0.39552192");
        r.aux = 7;
        r.code = -1022;
        r.symbol = SymbolId(0);
        let name = SymbolName::new("ETHUSDT").unwrap();
        let mut b = [0u8; RECORD_LEN];
        r.encode(&name, &mut b);
        assert_eq!(Record::decode(&b), Some((r, name)));
        assert_eq!(Record::decode(&b).unwrap().0.price.to_string(), "61800.30");
        assert_eq!(name.as_string(), "ETHUSDT");
        b[40] ^= 1;
        assert_eq!(Record::decode(&b), None, "a flipped bit fails the checksum");
    }

    #[test]
    fn replay_rebuilds_positions_and_pending_and_cuts_a_torn_tail() {
        let path = tmp("replay");
        let names = ["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        let (mut j, rep) = Journal::open(&path, &names, FsyncPolicy::Every).unwrap();
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

        let (j, rep) = Journal::open(&path, &names, FsyncPolicy::Never).unwrap();
        drop(j);
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

    #[test]
    fn sessions_rise_above_the_journal_and_the_clock() {
        // 2026-01-01T00:00:00Z = 1_767_225_600 s: 31_536_000 s after 2025-01-01.
        let t = 1_767_225_600_000;
        assert_eq!(next_session(0, t), 31_536_000);
        assert_eq!(next_session(31_536_000, t), 31_536_001);
        assert_eq!(next_session(40_000_000, t), 40_000_001);
        assert_eq!(next_session(0, 0), 1);
        assert_eq!(next_session(u32::MAX, t), u32::MAX);
    }

    #[test]
    fn a_warm_probe_changes_no_byte_and_no_count_and_the_appends_after_it_are_unchanged() {
        let names = ["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        let mut it = Record::new(RecordKind::Intent, SymbolId(1), Side::Sell, 4, 9);
        (it.qty, it.price) = (d("0.25"), d("2500.1"));
        let ex = Record::exits_of(&it, (Some(d("2450")), Some(d("2550.5"))));
        let first = Record::new(RecordKind::Session, SymbolId(0), Side::Buy, 4, 4);
        let (warmed, plain) = (tmp("warm-probe"), tmp("warm-plain"));
        let (mut w, _) = Journal::open(&warmed, &names, FsyncPolicy::Never).unwrap();
        let (mut p, _) = Journal::open(&plain, &names, FsyncPolicy::Never).unwrap();
        w.append(&first).unwrap();
        p.append(&first).unwrap();
        let bytes = std::fs::read(&warmed).unwrap();
        for ahead in [0, 1, 2, usize::MAX / RECORD_LEN / 2] {
            w.warm(&it, ahead);
            w.warm(&ex, ahead);
        }
        assert_eq!(
            std::fs::read(&warmed).unwrap(),
            bytes,
            "a probe wrote a byte"
        );
        assert_eq!((w.appended(), w.len), (1, RECORD_LEN as u64));
        for r in [&it, &ex] {
            w.warm(r, 0);
            w.append(r).unwrap();
            p.append(r).unwrap();
        }
        assert_eq!(w.appended(), p.appended());
        drop((w, p));
        let (a, b) = (
            std::fs::read(&warmed).unwrap(),
            std::fs::read(&plain).unwrap(),
        );
        assert_eq!(
            a.len(),
            3 * RECORD_LEN,
            "a clean close keeps the three records"
        );
        assert_eq!(a, b, "the same records, byte for byte");
    }
}
