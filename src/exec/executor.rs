//! The [`Executor`]: intent → exact quantity → journal → signed request → venue or paper fill
//! → journal → report, with the in-flight order table and venue-side exit checks.

mod audit;
mod stream;
mod venue_fills;
mod warm;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;

use super::clock::{AccountLink, VenueClock};
use super::journal::{Journal, Record, RecordKind};
use super::lanes::{self, OrderLanes, Release};
use super::order_state::{
    Due, FillPrice, OrderCounters, OrderState, OrderTable, QueryReply, RejectCause, Reply, Step,
    TableConfig, VenueOrder, VenueStatus,
};
use super::rate_limit::{Acquire, Lane, RateCounters, RateLimiter, RateLimits, Throttle};
use super::stops::{StopCounters, VenueStops, STOP_TAG};
use super::transport::{Headers, HttpTransport, TransportEvent};
use super::transport_venue::{EntryExits, OrderReply, OrderVenue};
use crate::types::fill_model::{FillModel, PaperVenue};
use crate::types::{
    ExecReport, FillTime, Instrument, IntentFields, OrderIntent, RejectReason, ReportStatus, Side,
    SymbolId,
};
use crate::venue::binance::algo::parse_algo_reply;
use crate::venue::binance::ExitOrder;
use crate::venue::binance::{BinanceOrderBuilder, BinanceVenue};
use crate::venue::error::ErrorKind;
use crate::venue::order::{OrderFields, OrderReject, TriggerBy};
use audit::AUDIT_TAG;
pub use stream::OWED_SLACK_MS;
use venue_fills::FILLS_TAG;

/// Counters the monitor reads (one writer: the execution thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Signed requests built.
    pub orders: u64,
    /// Fills (paper or venue).
    pub fills: u64,
    /// Rejections per [`RejectReason::index`].
    pub rejects: [u64; RejectReason::COUNT],
    /// Venue acks without a fill yet (then queried).
    pub acks: u64,
    /// Order-status queries sent (ack follow-ups, lost replies).
    pub requeries: u64,
    /// Journal records appended.
    pub journal_records: u64,
    /// Journal write failures (trading halts on the first).
    pub journal_errors: u64,
    /// Exits held back by the rate limiter (a 429 / 418 back-off, or every slot used), sent
    /// when it grants them (never refused).
    pub exits_held: u64,
    /// Private-stream order updates applied to this session's orders.
    pub stream_updates: u64,
    /// Orders resent once, same client id, after a timestamp error and a clock re-sync.
    pub timestamp_retries: u64,
}

/// Where orders go.
#[derive(Debug)]
enum Route {
    /// Filled in-process with the shared fill model.
    Paper,
    /// Sent to a venue over HTTP, on the order lanes' connections.
    Venue(Box<OrderLanes>),
}

/// Whether [`Executor::submit`] has room for an intent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Submit it now (it may still be refused: filters, halted, unknown order, 429 back-off).
    Now,
    /// No room yet (orders in flight or the entry lane full): keep the intent, take no later
    /// one, and poll until an order in flight finishes.
    Hold,
}

/// A position query an order waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PosCheck {
    /// None.
    Idle,
    /// A reduce-only exit the venue refused because its position may already be gone: a
    /// position query is due at `due_ns` (see [`Executor`], "venue-side exits").
    ExitDue,
    /// Venue-side exit position query on the wire.
    ExitOnWire,
    /// The order is unresolved after the query budget: the symbol's position is taken from
    /// the venue (query due at `due_ns`).
    ReconcileDue,
    /// Reconciliation position query on the wire.
    ReconcileOnWire,
    /// A refused exit whose position the venue closed: its executions are read at `due_ns`
    /// for the close's price and fee ([`venue_fills`]).
    FillsDue,
    /// Executions read on the wire.
    FillsOnWire,
}

/// An intent as the order path reads it, decoded once per order: the packed
/// [`OrderIntent`]'s getters rebuild a `Decimal` on every call, and the path from the checks
/// to the bookkeeping reads the quantity and side several times each.
#[derive(Clone, Copy, Debug)]
struct Order {
    symbol: SymbolId,
    side: Side,
    /// Order quantity in base units (exact, as packed).
    qty: Decimal,
    reduce_only: bool,
    client_seq: u64,
    /// The last trade price when the decision was made.
    ref_price: f64,
    /// Entry exits (`None` on exits), as packed.
    take_profit: Option<Decimal>,
    stop_loss: Option<Decimal>,
}

impl Order {
    /// Decodes every field of `it` the order path reads (each once).
    #[inline]
    fn of(it: &OrderIntent) -> Self {
        Self {
            symbol: it.symbol,
            side: it.side(),
            qty: it.qty(),
            reduce_only: it.reduce_only(),
            client_seq: it.client_seq,
            ref_price: it.ref_price,
            take_profit: it.take_profit(),
            stop_loss: it.stop_loss(),
        }
    }
}

/// What the executor keeps per order besides its [`OrderTable`] state.
#[derive(Clone, Copy, Debug)]
struct Pending {
    symbol: SymbolId,
    side: Side,
    qty: Decimal,
    seq: u64,
    session: u32,
    reduce_only: bool,
    /// Reference price on the tick (which venue exit closed the position).
    ref_price: Decimal,
    /// Exits sent with this entry (on the tick), armed at the venue once it fills.
    exits: (Option<Decimal>, Option<Decimal>),
    /// Quantity booked (reported filled) so far.
    filled: Decimal,
    /// Last venue error code for this order (journaled with its rejection).
    code: i64,
    pos: PosCheck,
    due_ns: u64,
    /// Position queries sent.
    pos_queries: u32,
    /// The timestamp-error retry of this order (at most one).
    ts_retry: TsRetry,
    /// Send order among this executor's orders (renewed by a resend): the venue executes a
    /// market order on arrival, so one symbol's fills happened in this order.
    rank: u64,
    /// The number of the first venue-side close of its symbol that arrived on the private
    /// stream after its execution (or while its fill was held back): the venue executed it
    /// before that close, so it is booked before it (0: none).
    precedes: u32,
    /// Executions reads sent ([`PosCheck::FillsDue`]).
    fills_queries: u32,
    /// The position the venue's close closed (`FillsDue`), and its trigger price (the
    /// fallback).
    close_qty: Decimal,
    trigger: Decimal,
    /// Where the executions read starts, Unix ms.
    fills_since_ms: u64,
    /// When the venue refused this exit (monotonic ns; 0: not refused): the close that made
    /// it refuse happened before, however long the position check then waited.
    refused_ns: u64,
    /// The venue's position the position query read (`FillsDue`).
    venue_qty: Decimal,
}

/// Where the executions read of an exit refused at `refused_ns` starts (venue ms, `ts_ms`
/// being now at `now_ns`): [`venue_fills::FILLS_WINDOW_MS`] before the refusal, not before
/// now — the position check waits for the symbol's other orders, in the trade-heavy soak with
/// the stream off up to 15 s, and the stop that made the exit refuse fell out of a window
/// counted from the check.
/// Reaching back further to `in_step_ms`, the venue ms the symbol was last found in step
/// (0: never this run), but at most [`venue_fills::GAP_LOOKBACK_MS`] before the refusal: the
/// difference between the venue's position and the booked one arose after that, however long
/// ago (the stream-off soak: a stop fired, an order of ours then executed against the flat
/// position, and the exit refused over it came 10+ s later; its window missed the stop and
/// the difference was adopted at a guessed price).
/// Never before `settled_ms`: start-up's catch-up read the venue's executions up to then and
/// booked what the journal lacked, so an execution before it is booked already (a read
/// reaching into the session before a restart booked one of its closes twice).
fn fills_since(refused_ns: u64, now_ns: u64, ts_ms: u64, settled_ms: u64, in_step_ms: u64) -> u64 {
    let age_ms = match refused_ns {
        0 => 0,
        t => now_ns.saturating_sub(t) / 1_000_000,
    };
    let refused_ms = ts_ms.saturating_sub(age_ms);
    let window = refused_ms.saturating_sub(venue_fills::FILLS_WINDOW_MS);
    let in_step = in_step_ms.max(refused_ms.saturating_sub(venue_fills::GAP_LOOKBACK_MS));
    window.min(in_step).max(settled_ms)
}

/// One venue execution to book: `(price, qty, fee, venue order id, the venue's execution
/// time in Unix ms or 0 when not told)`.
type VenueExec = (Decimal, Decimal, Decimal, u64, u64);

/// An order's one resend after a timestamp error (Binance -1021, Bybit 10002): the venue did
/// not act on it, so it is resent with the same client id once the clock was re-synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsRetry {
    /// Not refused for its timestamp (yet).
    None,
    /// Refused at `since_ns`; resent once the clock's generation passes `generation` (or
    /// after [`RESYNC_WAIT_NS`] with whatever offset is then in force).
    Waiting { generation: u64, since_ns: u64 },
    /// Resent: a second timestamp error is final.
    Done,
}

/// Longest wait for the clock re-sync before a timestamp-refused order is resent anyway, ns.
const RESYNC_WAIT_NS: u64 = 1_000_000_000;

/// What a throttled reply's headers say about the back-off.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    /// `Retry-After`, seconds.
    retry_after_s: Option<u64>,
    /// Bybit `X-Bapi-Limit-Reset-Timestamp`, ms since the epoch.
    reset_ms: Option<u64>,
}

/// Tag bit marking a transport request as an order-status query.
const QUERY_TAG: u64 = 1 << 63;
/// Tag bit marking a transport request as a position query (venue-side exit check).
const POSITION_TAG: u64 = 1 << 62;
/// Delay between position queries that were not understood, ns.
const POSITION_RETRY_NS: u64 = 20_000_000;
/// Position queries for a refused reduce-only exit before it is reported rejected.
const MAX_POSITION_QUERIES: u32 = 50;
/// Position queries a refused exit of a venue-closed position waits for the private stream's
/// execution before the venue's executions are read over REST ([`venue_fills`]).
const STREAM_WAIT_QUERIES: u32 = 10;
/// Default `recvWindow` for the order table's arrival window, ms.
const DEFAULT_RECV_WINDOW_MS: u64 = 5_000;

/// What [`Executor::poll`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecEvent {
    /// A fill or rejection for compute (already journaled).
    Report(ExecReport),
    /// `order_rtt`: order request written → its reply parsed, ns (status and position
    /// queries are not sampled: on Bybit the fill is learnt from the status query after the ack).
    Rtt(u64),
}

/// An order's pass through [`Executor::prepare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// A new order: checked, given a rate slot, journaled, built and signed.
    Real,
    /// A held exit the caller checked and gave its rate slot: journaled, built and signed.
    Released,
    /// A warm-up shadow: the same instructions as `Real`, nothing changed.
    Shadow,
}

/// What [`Executor::prepare`] made of an order.
enum Prepared {
    /// Refused before anything was journaled.
    Refused(RejectReason),
    /// An exit without a rate slot: held until one frees.
    Hold,
    /// Refused once it was on its way: after its intent was journaled (`true`), or because
    /// the intent could not be journaled (`false`).
    Failed(RejectReason, bool),
    /// Signed (its bytes are the venue's last order): its journaled reference price and its
    /// venue-side exits.
    Signed {
        price: Decimal,
        exits: (Option<Decimal>, Option<Decimal>),
    },
}

/// The execution stage: intent → exact quantity → journal → signed request → venue or paper
/// fill → journal → report.
///
/// Venue-side exits (Bybit): an entry carries the engine's take-profit / stop-loss as position
/// TP/SL, so the venue closes the position on its own when a replayed or live trade crosses a
/// level. The engine watches the same levels on the same trade prices and sends its own
/// reduce-only exit, which then finds no position and is refused (Bybit 110017, Binance -2022).
/// Such a refusal of a reduce-only order, on a symbol whose last filled entry armed venue exits
/// (or whose entry with exits is still waiting for its fill report: the exit then waits for it),
/// is not reported as a rejection at once: the executor queries the symbol's venue position
/// (`/v5/position/list?symbol=`). When the venue is flat (or no longer holds the side being
/// closed), the exit is reported — and journaled — as **filled by the venue's close**, for the
/// whole position booked, at the venue's own price and fee: from the private stream's
/// execution, else from the venue's executions read over REST (`venue_fills`); only when
/// that read is never answered, at the trigger price (the take-profit when the exit's
/// reference price is at or beyond it, the stop-loss when at or beyond that, otherwise the
/// nearer level). Compute then books the position as closed exactly as if its own exit had
/// filled. When the executions show no close of the venue's, or the venue still holds the
/// position, or no exits were armed, the refusal is reported as `Rejected(VenueReduceOnly)`
/// (and the venue's position reconciled once nothing of the symbol is in flight). Armed exits
/// live in memory only (the journal does not record them): after a restart the first such
/// refusal is a plain rejection and start-up reconciliation reports the position difference.
///
/// Order lanes ([`OrderLanes`]): entries go on the entry lane, reduce-only exits on the exit
/// lane (own connections: never behind an entry's reply), status and position queries on the
/// query lane. One symbol's orders still reach the venue in decision order: an order is held
/// in its lane until the reply to the symbol's previous unanswered order came
/// ([`OrderLanes::send_after`]). Room: at most `max_pending` orders in flight take new entries
/// (and the entry lane must have room, and the entry's order-rate window a slot); exits may use
/// twice that. Without room [`Executor::admits`] says [`Admit::Hold`]: the execution stage then
/// takes no later intent until there is room (back-pressure up the rings to the feed), so no
/// intent is refused for lack of room and the same ticks give the same orders at any pace.
/// An exit the rate limiter holds back (a 429 / 418 back-off, or every slot used) waits in
/// the executor, unsigned, and is journaled, signed and sent when a slot is granted
/// (`exits_held`); entries meanwhile wait behind it.
///
/// Fill order: one symbol's fills are journaled and reported in the order its orders reached
/// the venue, not the order their replies or status queries come back in (an entry of unknown
/// outcome resolved after the exits sent meanwhile): a later order's fill is held back until
/// every earlier order of the symbol is final.
#[derive(Debug)]
pub struct Executor {
    instruments: Vec<Instrument>,
    names: Vec<String>,
    venue: OrderVenue,
    paper: PaperVenue,
    model: FillModel,
    route: Route,
    journal: Option<Journal>,
    session: u32,
    pending: Vec<Pending>,
    max_pending: usize,
    halted: bool,
    stats: ExecStats,
    /// Per symbol: the exits the last filled entry armed at the venue (replaced by every filled
    /// entry, `(None, None)` when it carried none). Kept after a venue-side exit is booked, so a
    /// later partial exit of the same (venue-closed) position is judged a venue close too.
    armed: Vec<(Option<Decimal>, Option<Decimal>)>,
    /// Venue orders' life-cycle states (unknown outcomes queried, partial fills, budget).
    table: OrderTable,
    /// Per symbol: signed position booked through this executor's reports (plus the start-up
    /// positions, [`Executor::set_positions`]); a reconciliation books `venue − booked`.
    booked: Vec<Decimal>,
    /// Per symbol: the unknown-order flag last reported to compute (an order of unknown
    /// outcome, or the position unknown: `pos_unknown`).
    unknown: Vec<bool>,
    /// Per symbol: the venue's position differs from the booked one and nothing explains it
    /// yet ([`Executor::position_unknown_now`]): no new entry (exits go). Set and cleared on
    /// the cold paths that learn it; read per entry (one flag).
    pos_unknown: Vec<bool>,
    /// Monotonic time of the last poll, ns (send time of orders submitted since).
    now_ns: u64,
    /// Venue-clock Unix ms of the last poll or submit: when a fill is booked.
    venue_ms_now: u64,
    /// The venue's own execution time of the next fill booked (Unix ms; 0: not told), taken
    /// by [`Executor::fill`].
    exec_ms: u64,
    /// The venue account's request-rate limiter (documented limits, 429/418/10006 back-off).
    limiter: RateLimiter,
    /// Exits the rate limiter held back, oldest first (sent from [`Executor::poll`]).
    held: VecDeque<OrderIntent>,
    /// Binance venue-side stops (algo orders) of every symbol ([`super::stops`]).
    stops: VenueStops,
    /// Shared with the account thread: venue clock, balance generation, refused symbols.
    link: Arc<AccountLink>,
    /// Per symbol: entries refused locally until the balance generation passes this one (set
    /// by an insufficient-margin refusal: no blind retry before the balance was read again).
    margin_block: Vec<Option<u64>>,
    /// Per symbol: the venue refused it for its leverage or risk limit (entries refused).
    leverage_refused: Vec<bool>,
    /// Private-stream state: link up, unclaimed venue-side closes, seen trade ids.
    stream: stream::StreamState,
    /// Order ids of ours and executions booked from reads ([`venue_fills`]).
    venue_fills: venue_fills::VenueFills,
    /// The position audit while the private stream is not up ([`audit`]).
    audit: audit::Audit,
    /// Venue ms up to which start-up's catch-up settled the executions (0: none).
    settled_ms: u64,
    /// Table steps held back, oldest first, until no order of the same symbol sent earlier is
    /// open ([`Executor::on_step`]).
    deferred: Vec<(Step, u64)>,
    /// The next order's [`Pending::rank`].
    next_rank: u64,
    /// The shadow orders' shapes ([`Executor::warm`]).
    warm: warm::WarmState,
}

impl Executor {
    /// A paper executor (fills in-process) for the symbols in `names` (same order as their
    /// `SymbolId`s), no journal, session 1.
    pub fn new(
        instruments: Vec<Instrument>,
        names: Vec<String>,
        builder: BinanceOrderBuilder,
        paper: PaperVenue,
    ) -> Self {
        let venue = OrderVenue::Binance(BinanceVenue::new(builder));
        Self::with_route(instruments, names, venue, paper, None, 1, 64)
    }

    /// A paper executor whose requests are built (and signed, never sent) by `venue`: the same
    /// wire format as the venue route, fills in-process, no journal, session 1.
    pub fn paper_with(
        instruments: Vec<Instrument>,
        names: Vec<String>,
        venue: OrderVenue,
        paper: PaperVenue,
    ) -> Self {
        Self::with_route(instruments, names, venue, paper, None, 1, 64)
    }

    /// A venue executor: requests built by `venue` go out through `transport` (order lanes, or
    /// one [`HttpTransport`] shared by every lane); fees are computed with `paper.taker_fee`
    /// (the account's commission rate). `max_pending` orders in flight take entries; exits
    /// may use as many again.
    pub fn venue(
        instruments: Vec<Instrument>,
        names: Vec<String>,
        venue: OrderVenue,
        transport: impl Into<OrderLanes>,
        paper: PaperVenue,
        session: u32,
        max_pending: usize,
    ) -> Self {
        Self::with_route(
            instruments,
            names,
            venue,
            paper,
            Some(transport.into()),
            session,
            max_pending,
        )
    }

    fn with_route(
        instruments: Vec<Instrument>,
        names: Vec<String>,
        venue: OrderVenue,
        paper: PaperVenue,
        transport: Option<OrderLanes>,
        session: u32,
        max_pending: usize,
    ) -> Self {
        assert_eq!(instruments.len(), names.len(), "one instrument per symbol");
        let mut venue = venue;
        venue.set_symbols(&names);
        let n = instruments.len();
        let table = OrderTable::new(table_config(&venue, 2 * max_pending, n));
        let limiter = RateLimiter::new(match venue {
            OrderVenue::Binance(_) => RateLimits::binance_usdm(),
            OrderVenue::Bybit(_) => RateLimits::bybit_v5(),
        });
        Self {
            table,
            instruments,
            names,
            venue,
            paper,
            model: paper.model(),
            route: match transport {
                Some(t) => Route::Venue(Box::new(t)),
                None => Route::Paper,
            },
            journal: None,
            session,
            pending: Vec::with_capacity(2 * max_pending),
            max_pending,
            halted: false,
            stats: ExecStats::default(),
            armed: vec![(None, None); n],
            booked: vec![Decimal::ZERO; n],
            unknown: vec![false; n],
            pos_unknown: vec![false; n],
            now_ns: 0,
            venue_ms_now: 0,
            exec_ms: 0,
            limiter,
            held: VecDeque::with_capacity(max_pending),
            stops: VenueStops::new(n),
            link: Arc::new(AccountLink::new(n)),
            margin_block: vec![None; n],
            leverage_refused: vec![false; n],
            stream: stream::StreamState::new(n),
            venue_fills: venue_fills::VenueFills::new(n),
            audit: audit::Audit::new(n),
            settled_ms: 0,
            deferred: Vec::with_capacity(2 * max_pending),
            next_rank: 0,
            warm: warm::WarmState::new(n),
        }
    }

    /// Shares `link` with the account thread (clock, balance, refused symbols).
    pub fn set_account_link(&mut self, link: Arc<AccountLink>) {
        assert_eq!(
            link.n_symbols(),
            self.instruments.len(),
            "one flag per symbol"
        );
        self.link = link;
    }

    /// The link shared with the account thread.
    pub fn account_link(&self) -> &Arc<AccountLink> {
        &self.link
    }

    /// The venue clock requests are stamped with.
    pub fn venue_clock(&self) -> &VenueClock {
        &self.link.clock
    }

    /// Replaces the order table's parameters (query budget, backoff, timeouts); only while no
    /// order is in flight (start-up, tests).
    pub fn set_order_config(&mut self, mut cfg: TableConfig) {
        assert!(self.pending.is_empty(), "orders in flight");
        cfg.capacity = 2 * self.max_pending;
        cfg.symbols = self.instruments.len();
        self.table = OrderTable::new(cfg);
    }

    /// Sets the signed positions compute starts from (journal replay after start-up recovery),
    /// in symbol id order: reconciliations book the venue's position minus these plus every
    /// fill reported since.
    pub fn set_positions(&mut self, qty: impl IntoIterator<Item = Decimal>) {
        for (b, q) in self.booked.iter_mut().zip(qty) {
            *b = q;
        }
    }

    /// Sets the exits `symbol`'s open position was entered with (start-up, from the journal):
    /// a refused exit is then judged against them as if this process had armed them.
    pub fn restore_armed(&mut self, symbol: SymbolId, exits: (Option<Decimal>, Option<Decimal>)) {
        self.armed[symbol.index()] = exits;
    }

    /// Venue-side stop counters (placed, cancelled, retried, failed, unprotected closes).
    pub fn stop_counters(&self) -> StopCounters {
        self.stops.counters()
    }

    /// Sets the trigger price source of venue-side stops (Binance `workingType`).
    pub fn set_stop_trigger(&mut self, t: TriggerBy) {
        self.stops.trigger_by = t;
    }

    /// The venue-side stops (start-up adoption, `exec::stop_recovery`).
    pub fn stops_mut(&mut self) -> &mut VenueStops {
        &mut self.stops
    }

    /// Whether a venue-side stop request is due or on the wire.
    pub fn stops_busy(&self) -> bool {
        self.stops.busy()
    }

    /// Whether `symbol`'s venue-side stops are all open at the venue.
    pub fn stops_open(&self, symbol: SymbolId) -> bool {
        self.stops.protected(symbol)
    }

    /// Order-state counters (rejects, unknown, reconciled, partial fills, queries).
    pub fn order_counters(&self) -> OrderCounters {
        self.table.counters()
    }

    /// Sets the monotonic time, ns, of the next [`Executor::submit`] (its send time in the
    /// order table and its rate-limit slot); [`Executor::poll`] sets it too.
    #[inline]
    pub fn set_now_ns(&mut self, now_ns: u64) {
        self.now_ns = now_ns;
    }

    /// Replaces the request-rate limits (the venue's published numbers, or a test's).
    pub fn set_rate_limits(&mut self, limits: RateLimits) {
        self.limiter = RateLimiter::new(limits);
    }

    /// Rate-limiter counters (waits per cause, throttles, bans).
    pub fn rate_counters(&self) -> RateCounters {
        self.limiter.counters()
    }

    /// True while `symbol` has a venue order of unknown outcome (no new entries).
    pub fn has_unknown(&self, symbol: SymbolId) -> bool {
        self.table.has_unknown(symbol)
    }

    /// Journals every intent, ack, fill and rejection to `j` from now on.
    pub fn set_journal(&mut self, j: Journal) {
        self.journal = Some(j);
    }

    /// Sets this process's session number (the journal's, see `journal::next_session`).
    pub fn set_session(&mut self, session: u32) {
        self.session = session;
    }

    /// Start-up's catch-up read the venue's executions up to `ms` (venue Unix ms) and booked
    /// what the journal lacked: executions reads of this session start no earlier.
    pub fn set_settled_ms(&mut self, ms: u64) {
        self.settled_ms = ms;
    }

    /// Venue ms up to which start-up settled the executions (0: no start-up ran).
    pub fn settled_ms(&self) -> u64 {
        self.settled_ms
    }

    /// Grows the journal's mapped room when it runs low (a system call then, about every
    /// 37,000 records), so that appends on the order path stay memory writes. Called by the
    /// execution stage between orders.
    #[inline]
    pub fn reserve_journal(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            if let Err(e) = j.reserve() {
                eprintln!("warning: journal {}: cannot grow: {e}", j.path().display());
            }
        }
    }

    /// The journal, if any.
    pub fn journal_mut(&mut self) -> Option<&mut Journal> {
        self.journal.as_mut()
    }

    /// This process's session number (part of every client order id).
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Symbol names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Instruments in id order.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Replaces symbol `id`'s filters (a venue spec change); later orders are checked and
    /// rounded against them. Allocation-free; an unknown id is ignored.
    #[inline]
    pub fn set_instrument(&mut self, id: SymbolId, inst: Instrument) {
        if let Some(i) = self.instruments.get_mut(id.index()) {
            *i = inst;
        }
    }

    /// The venue request builder (start-up queries).
    pub fn venue_mut(&mut self) -> &mut OrderVenue {
        &mut self.venue
    }

    /// The query lane's transport, when orders go to a venue (cold path: blocking start-up
    /// and emergency requests, with no order in flight).
    pub fn transport_mut(&mut self) -> Option<&mut HttpTransport> {
        match &mut self.route {
            Route::Venue(t) => Some(t.query_transport()),
            Route::Paper => None,
        }
    }

    /// The order lanes, when orders go to a venue (per-lane counters).
    pub fn lanes(&self) -> Option<&OrderLanes> {
        match &self.route {
            Route::Venue(t) => Some(t),
            Route::Paper => None,
        }
    }

    /// The fill model (fees for venue fills, prices and fees for paper fills).
    pub fn fill_model(&self) -> FillModel {
        self.model
    }

    /// Orders sent and not finished (waiting for a reply or a status query), plus exits the
    /// rate limiter holds back, plus venue-side stop requests due or unanswered (Binance).
    #[inline]
    pub fn in_flight(&self) -> usize {
        self.pending.len() + self.held.len() + self.stops.in_flight()
    }

    /// What counts as in flight, term by term, and the transport's view: the operator's
    /// warning when an intent waits long for room (cold path; allocates).
    pub fn flight_summary(&self) -> String {
        let mut s = format!(
            "pending {} (ts-retry waiting {}), held exits {}, stop legs {} {:?}",
            self.pending.len(),
            self.pending
                .iter()
                .filter(|p| matches!(p.ts_retry, TsRetry::Waiting { .. }))
                .count(),
            self.held.len(),
            self.stops.in_flight(),
            self.stops.leg_states(),
        );
        if let Route::Venue(t) = &self.route {
            s += &format!(
                "; transport in flight {} (entry {}, exit {}, query {}), entry room {}",
                t.in_flight(),
                t.lane_in_flight(lanes::Lane::Entry),
                t.lane_in_flight(lanes::Lane::Exit),
                t.lane_in_flight(lanes::Lane::Query),
                t.has_room(lanes::Lane::Entry),
            );
        }
        for p in &self.pending {
            s += &format!("\n  pending {:?} table {:?}", p, self.table.get(p.seq));
        }
        s
    }

    /// Whether [`Executor::submit`] has room for `it` at the time of [`Executor::set_now_ns`]:
    /// an entry needs fewer than `max_pending` orders in flight and room on the entry lane (a
    /// wait of about one round trip); an exit needs fewer than `2 × max_pending` orders in
    /// flight. Rate limits are never waited for here — an order-rate window can stay full for
    /// 10 s and a 429 / 418 back-off for minutes, and the hot loop must keep reading market
    /// data and deciding exits meanwhile: `submit` refuses the entry (counted), and holds an
    /// exit itself. Paper routes always have room.
    #[inline]
    pub fn admits(&self, it: &OrderIntent) -> Admit {
        let Route::Venue(t) = &self.route else {
            return Admit::Now;
        };
        if self.halted {
            return Admit::Now;
        }
        if it.reduce_only() {
            return if self.in_flight() < 2 * self.max_pending {
                Admit::Now
            } else {
                Admit::Hold
            };
        }
        if self.in_flight() >= self.max_pending || !t.has_room(lanes::Lane::Entry) {
            return Admit::Hold;
        }
        Admit::Now
    }

    /// True once a journal write failed: every later intent is refused (nothing is sent
    /// that could not be journaled first).
    pub fn halted(&self) -> bool {
        self.halted
    }

    /// Appends `r` to the journal (if any); on failure halts trading and returns false.
    #[inline]
    pub fn journal(&mut self, r: &Record) -> bool {
        let Some(j) = self.journal.as_mut() else {
            return true;
        };
        match j.append(r) {
            Ok(()) => {
                self.stats.journal_records += 1;
                true
            }
            Err(e) => {
                if !self.halted {
                    eprintln!(
                        "error: journal {} write failed ({e}); trading halted",
                        j.path().display()
                    );
                }
                self.stats.journal_errors += 1;
                self.halted = true;
                false
            }
        }
    }

    /// Reports order `o` rejected for `reason` before it was sent; journaled (with `code`)
    /// when its intent record was.
    fn reject(
        &mut self,
        o: &Order,
        reason: RejectReason,
        code: i32,
        journaled: bool,
    ) -> ExecReport {
        let order = (o.symbol, o.side, self.session, o.client_seq, o.qty);
        self.rejection(order, reason, code, journaled)
    }

    /// Counts a rejection of `(symbol, side, session, seq, qty)` for `reason`, journals it
    /// (with venue `code`) when `journaled`, and returns its report.
    fn rejection(
        &mut self,
        (symbol, side, session, seq, qty): (SymbolId, Side, u32, u64, Decimal),
        reason: RejectReason,
        code: i32,
        journaled: bool,
    ) -> ExecReport {
        self.stats.rejects[reason.index()] += 1;
        if journaled {
            let mut r = Record::new(RecordKind::Reject, symbol, side, session, seq);
            r.qty = qty;
            r.reason = reason.index() as u8;
            r.code = code;
            self.journal(&r);
        }
        ExecReport {
            symbol,
            client_seq: seq,
            side,
            status: ReportStatus::Rejected(reason),
            price: Decimal::ZERO,
            qty,
            fee: Decimal::ZERO,
            at: FillTime::None,
        }
    }

    /// Why `o` must not be sent (nothing journaled yet), or `None`: the instrument's filters,
    /// a halted executor, an unknown order on the symbol (entries only), or no room (see
    /// [`Executor::admits`]: the execution stage holds an intent until there is room, so this
    /// refusal only meets callers that do not ask).
    #[inline]
    fn refusal(&self, o: &Order, inst: &Instrument) -> Option<RejectReason> {
        // Compute checked the filters already; checking again keeps a wrong intent off the wire.
        if let Some(reason) = inst.violation(o.qty, o.ref_price, o.reduce_only) {
            return Some(reason);
        }
        if self.halted {
            return Some(RejectReason::Lost);
        }
        // No new entry while the symbol has an order of unknown outcome (compute is told, this
        // catches the entries already on their way); exits still go.
        if !o.reduce_only && self.table.has_unknown(o.symbol) {
            return Some(RejectReason::Lost);
        }
        // Nor while its venue position differs from the booked one unexplained: an entry's
        // fill would be booked on a position that is not the venue's.
        if !o.reduce_only && self.pos_unknown.get(o.symbol.index()) == Some(&true) {
            return Some(RejectReason::PositionUnknown);
        }
        // Nothing of the symbol goes while one of its exits is checked against the venue's
        // position (one round trip): the answer must hold only fills known here.
        if self.checking_exit(o.symbol) {
            return Some(RejectReason::Backpressure);
        }
        // The venue refused the symbol's leverage, or its margin until the balance is read
        // again: no entry is sent blindly (exits still go).
        if !o.reduce_only {
            let i = o.symbol.index();
            if self.leverage_refused[i] {
                return Some(RejectReason::VenueOther);
            }
            if self.margin_block[i] == Some(self.link.balance_generation()) {
                return Some(RejectReason::VenueMargin);
            }
        }
        let Route::Venue(t) = &self.route else {
            return None;
        };
        let room = if o.reduce_only {
            self.in_flight() < 2 * self.max_pending
        } else {
            self.in_flight() < self.max_pending && t.has_room(lanes::Lane::Entry)
        };
        (!room).then_some(RejectReason::Backpressure)
    }

    /// Submits one intent. `timestamp_ms` is the venue-clock request time; `on_signed` gets
    /// the signed request bytes as soon as they exist. Returns a report at once for local
    /// rejections and paper fills; `None` when the order went to the venue, or (an exit) waits
    /// for the rate limiter (its report comes from [`Executor::poll`]).
    ///
    /// Rate limits: an entry without a slot, or behind a held exit, is refused (compute
    /// decides again on a later tick); an exit without one is held, unsigned, and sent from
    /// [`Executor::poll`] as soon as the limiter grants it (never refused).
    #[inline]
    pub fn submit<F: FnOnce(&[u8])>(
        &mut self,
        it: &OrderIntent,
        timestamp_ms: u64,
        on_signed: F,
    ) -> Option<ExecReport> {
        self.submit_pass(it, timestamp_ms, false, on_signed)
    }

    /// [`Executor::submit`], or (`shadow`) a warm-up shadow of `it` through the same code
    /// (see `executor::warm`): signed (`on_signed` gets its bytes) and never sent, nothing
    /// changed; a shadow returns `None`. One instance for the execution stage's real orders
    /// and shadows, so a warm-up brings in the very code a real order runs.
    #[inline]
    pub(super) fn submit_pass<F: FnOnce(&[u8])>(
        &mut self,
        it: &OrderIntent,
        timestamp_ms: u64,
        shadow: bool,
        on_signed: F,
    ) -> Option<ExecReport> {
        if !shadow {
            self.venue_ms_now = timestamp_ms;
        }
        let o = Order::of(it);
        let Some(&inst) = self.instruments.get(o.symbol.index()) else {
            // Compute sends only configured symbols; a shadow of another is not signed.
            assert!(shadow, "intent for an unknown symbol {:?}", o.symbol);
            return None;
        };
        if shadow && self.halted {
            return None;
        }
        let pass = if shadow { Pass::Shadow } else { Pass::Real };
        // `black_box`: one body of `prepare` for real orders and shadows (no copy specialised
        // on the pass, which a warm-up would leave cold).
        let report = match self.prepare(&o, &inst, timestamp_ms, std::hint::black_box(pass)) {
            Prepared::Signed { .. } if shadow => {
                on_signed(self.venue.last_order());
                self.shadow_signed(&o);
                return None;
            }
            _ if shadow => return None,
            Prepared::Refused(reason) => return Some(self.reject(&o, reason, 0, false)),
            Prepared::Hold => {
                self.stats.exits_held += 1;
                self.held.push_back(*it);
                return None;
            }
            p => self.send_prepared(&o, &inst, p, on_signed),
        };
        self.warm.note(it);
        report
    }

    /// Sends order `o` as [`Executor::prepare`] left it: signed, or refused (journaled as
    /// `prepare` says).
    #[inline]
    fn send_prepared<F: FnOnce(&[u8])>(
        &mut self,
        o: &Order,
        inst: &Instrument,
        p: Prepared,
        on_signed: F,
    ) -> Option<ExecReport> {
        match p {
            Prepared::Signed { price, exits } => self.send_order(o, inst, price, exits, on_signed),
            Prepared::Failed(reason, journaled) => Some(self.reject(o, reason, 0, journaled)),
            Prepared::Refused(reason) => Some(self.reject(o, reason, 0, false)),
            Prepared::Hold => Some(self.reject(o, RejectReason::Backpressure, 0, false)),
        }
    }

    /// Checks, journals, builds and signs `o` up to its bytes (the venue's last order): a real
    /// order (`Pass::Real`), or a warm-up shadow (`Pass::Shadow`) that runs the same
    /// instructions with a probe in place of every change of state (the refusal and the rate
    /// limiter's verdict ignored, the journal's records and the limiter's windows untouched,
    /// see [`Journal::warm`] and [`RateLimiter::warm`]). One out-of-line body for both, so a
    /// warm-up brings in the very code (and its pages) a real order runs.
    #[inline(never)]
    fn prepare(&mut self, o: &Order, inst: &Instrument, timestamp_ms: u64, pass: Pass) -> Prepared {
        let shadow = pass == Pass::Shadow;
        if pass != Pass::Released {
            if let Some(reason) = self.refusal(o, inst).filter(|_| !shadow) {
                return Prepared::Refused(reason);
            }
        }
        if pass != Pass::Released && matches!(self.route, Route::Venue(_)) {
            let lane = if o.reduce_only {
                Lane::Exit
            } else {
                Lane::Entry
            };
            // A slot only when no exit is held ahead (a shadow probes what a real order takes).
            let granted = self.held.is_empty()
                && self.limiter.acquire(lane, self.now_ns, !shadow) == Acquire::Granted;
            if !granted && !shadow {
                // An exit without a slot is held; an entry refused (back-pressure).
                return if o.reduce_only {
                    Prepared::Hold
                } else {
                    Prepared::Refused(RejectReason::Backpressure)
                };
            }
        }
        let i = o.symbol.index();
        let mut rec = Record::new(
            RecordKind::Intent,
            o.symbol,
            o.side,
            self.session,
            o.client_seq,
        );
        rec.qty = o.qty;
        rec.reduce_only = o.reduce_only;
        rec.price = inst.price_on_tick(o.ref_price);
        if !self.journal_pass(&rec, 0, pass) {
            return Prepared::Failed(RejectReason::Lost, false);
        }
        let built = self.venue.build_order(
            inst,
            &OrderFields {
                symbol: &self.names[i],
                side: o.side,
                quantity: o.qty,
                reduce_only: o.reduce_only,
                client_seq: o.client_seq,
                timestamp_ms,
            },
            rec.price,
            EntryExits {
                take_profit: o.take_profit,
                stop_loss: o.stop_loss,
            },
        );
        if let Err(e) = built {
            let reason = match e {
                OrderReject::Filter(r) => r,
                _ => RejectReason::VenueFilter,
            };
            return Prepared::Failed(reason, true);
        }
        // An entry's venue-side exits are journaled before it leaves: a restart re-places a
        // stop missing at the venue from them (`exec::stop_restore`).
        let exits = self.venue.last_exits();
        if !o.reduce_only
            && exits != (None, None)
            && !self.journal_pass(&Record::exits_of(&rec, exits), 1, pass)
        {
            return Prepared::Failed(RejectReason::Lost, true);
        }
        Prepared::Signed {
            price: rec.price,
            exits,
        }
    }

    /// [`Executor::journal`] for a real order (new or released); for a shadow, [`Journal::warm`] of record slot
    /// `ahead` (nothing written). Returns false when a real record could not be written.
    #[inline]
    fn journal_pass(&mut self, r: &Record, ahead: usize, pass: Pass) -> bool {
        match pass {
            Pass::Real | Pass::Released => self.journal(r),
            Pass::Shadow => {
                if let Some(j) = self.journal.as_mut() {
                    j.warm(r, ahead);
                }
                true
            }
        }
    }

    /// The symbol's latest order still waiting for its reply (the table has it as not yet sent,
    /// or sent and unanswered): a new order of the symbol goes after it.
    fn order_ahead(&self, symbol: SymbolId) -> Option<u64> {
        self.pending
            .iter()
            .filter(|p| {
                p.symbol == symbol
                    && self
                        .table
                        .get(p.seq)
                        .is_some_and(|o| matches!(o.state, OrderState::Intent | OrderState::Sent))
            })
            .map(|p| p.seq)
            .max()
    }

    /// Sends (or paper-fills) an admitted intent [`Executor::prepare`] signed: its journaled
    /// reference price `ref_price` and venue-side `exits`.
    #[inline]
    fn send_order<F: FnOnce(&[u8])>(
        &mut self,
        o: &Order,
        inst: &Instrument,
        ref_price: Decimal,
        exits: (Option<Decimal>, Option<Decimal>),
        on_signed: F,
    ) -> Option<ExecReport> {
        let bytes = self.venue.last_order();
        // The bytes exist (the caller stamps its clock); its histograms wait until they left.
        on_signed(bytes);
        // One symbol's orders reach the venue in order: after the reply to its latest order
        // still waiting for one (the table has it as not yet sent, or sent and unanswered).
        let after = self.order_ahead(o.symbol);
        let lane = if o.reduce_only {
            lanes::Lane::Exit
        } else {
            lanes::Lane::Entry
        };
        let report = match &mut self.route {
            Route::Paper => {
                let (price, fee) = self.paper.fill(inst, o.side, o.ref_price, o.qty);
                Some(self.paper_fill(o, price, fee))
            }
            Route::Venue(t) => {
                if self
                    .table
                    .insert(o.client_seq, o.symbol, o.side, o.qty)
                    .is_err()
                {
                    Some(self.reject(o, RejectReason::Lost, 0, true))
                } else {
                    // The order's bytes go to the transport first; the bookkeeping follows.
                    match t.send_after(lane, o.client_seq, bytes, after) {
                        Ok(()) => {
                            self.after_send(o, ref_price, exits);
                            None
                        }
                        // Never left the process: the venue cannot have it.
                        Err(_) => {
                            self.table.transport_failed(o.client_seq, false, 0);
                            Some(self.reject(o, RejectReason::Lost, 0, true))
                        }
                    }
                }
            }
        };
        self.stats.orders += 1;
        report
    }

    /// Books an order the transport took: pending (awaiting its reply), and marked sent in
    /// the table when it went out on a connection (not held in its lane).
    #[inline]
    fn after_send(
        &mut self,
        o: &Order,
        ref_price: Decimal,
        exits: (Option<Decimal>, Option<Decimal>),
    ) {
        self.pending.push(Pending {
            symbol: o.symbol,
            side: o.side,
            qty: o.qty,
            seq: o.client_seq,
            session: self.session,
            reduce_only: o.reduce_only,
            ref_price,
            exits,
            filled: Decimal::ZERO,
            code: 0,
            pos: PosCheck::Idle,
            due_ns: 0,
            pos_queries: 0,
            ts_retry: TsRetry::None,
            rank: self.next_rank,
            precedes: 0,
            fills_queries: 0,
            close_qty: Decimal::ZERO,
            trigger: Decimal::ZERO,
            fills_since_ms: 0,
            refused_ns: 0,
            venue_qty: Decimal::ZERO,
        });
        self.next_rank += 1;
        self.audit.traded[o.symbol.index()] = true;
        let (table, now) = (&mut self.table, self.now_ns);
        if let Route::Venue(t) = &mut self.route {
            t.take_dispatched(|tag| mark_sent(table, tag, now));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        symbol: SymbolId,
        side: Side,
        seq: u64,
        session: u32,
        price: Decimal,
        qty: Decimal,
        fee: Decimal,
        order_id: u64,
    ) -> ExecReport {
        let mut r = Record::new(RecordKind::Fill, symbol, side, session, seq);
        r.qty = qty;
        r.price = price;
        r.fee = fee;
        r.aux = order_id;
        // The venue's own execution time when a read told it (booked in the venue's order on
        // replay), else when it is booked here (venue clock).
        match std::mem::take(&mut self.exec_ms) {
            0 => r.set_venue_ms(self.venue_ms_now, false),
            at => r.set_venue_ms(at, true),
        }
        self.journal(&r);
        self.stats.fills += 1;
        self.booked[symbol.index()] += side.signed(qty);
        ExecReport {
            symbol,
            client_seq: seq,
            side,
            status: ReportStatus::Filled,
            price,
            qty,
            fee,
            // As journaled: the engine books it in the venue's order as the replay does.
            at: r.fill_time(),
        }
    }

    /// A paper fill through the same order state machine as a venue order: intent → sent →
    /// the paper venue's `FILLED` reply at `price`; what the table books is what is journaled.
    fn paper_fill(&mut self, o: &Order, price: Decimal, fee: Decimal) -> ExecReport {
        let (seq, now) = (o.client_seq, self.now_ns);
        let filled = VenueOrder {
            status: VenueStatus::Filled,
            executed_qty: o.qty,
            price: FillPrice::Avg(price),
        };
        let step = match self.table.insert(seq, o.symbol, o.side, o.qty) {
            Ok(()) => {
                self.table.sent(seq, now);
                self.table.reply(seq, Reply::Order(filled), now)
            }
            Err(_) => None,
        };
        match step.and_then(|s| s.fill) {
            // The delta is the whole order at `price` (Δquote / Δqty = price · qty / qty).
            Some(d) if d.qty == o.qty => {
                self.fill(o.symbol, o.side, seq, self.session, price, d.qty, fee, 0)
            }
            _ => self.reject(o, RejectReason::Lost, 0, true),
        }
    }

    /// Executes one intent synchronously in paper mode (kept for in-process callers): the
    /// report of [`Executor::submit`]. On a venue route, an order still in flight is reported
    /// as `Rejected(Lost)` here; use `submit` + `poll` there.
    #[inline]
    pub fn execute<F: FnOnce(&[u8])>(
        &mut self,
        it: &OrderIntent,
        timestamp_ms: u64,
        on_signed: F,
    ) -> ExecReport {
        self.submit(it, timestamp_ms, on_signed)
            .unwrap_or_else(|| ExecReport {
                symbol: it.symbol,
                client_seq: it.client_seq,
                side: it.side(),
                status: ReportStatus::Rejected(RejectReason::Lost),
                price: Decimal::ZERO,
                qty: it.qty(),
                fee: Decimal::ZERO,
                at: FillTime::None,
            })
    }

    /// Services the venue route's order WebSocket with nothing in flight (heartbeat, pongs,
    /// reconnect); a clock read when nothing is due, nothing on REST-only or paper routes.
    #[inline]
    pub fn keep_alive(&mut self) {
        if let Route::Venue(t) = &mut self.route {
            t.keep_alive();
        }
    }

    /// Drives the venue transport: replies go through the order table and become journaled
    /// reports (one per fill delta, and `order_rtt` samples); unknown and working orders are
    /// queried by client id with backoff; an order still unknown after the query budget has its
    /// symbol reconciled from the venue's position. `now_ns` is the monotonic clock,
    /// `timestamp_ms` the venue clock for query signatures; waits up to `timeout` for the
    /// socket only when nothing progressed. Returns the number of transport events.
    #[inline]
    pub fn poll<F: FnMut(ExecEvent)>(
        &mut self,
        now_ns: u64,
        timestamp_ms: u64,
        timeout: Option<Duration>,
        on_event: F,
    ) -> usize {
        self.now_ns = now_ns;
        self.venue_ms_now = timestamp_ms;
        if self.in_flight() == 0
            && !self.stops.has_unprotected()
            && !self.audit.busy(now_ns, self.stream.up)
        {
            self.keep_alive();
            return 0;
        }
        // Take the transport out so that replies can be handled with `self` borrowed.
        let Route::Venue(mut t) = std::mem::replace(&mut self.route, Route::Paper) else {
            return 0;
        };
        let mut user = on_event;
        let mut on_event = |ev: ExecEvent| forced_close_reports(ev, &mut user);
        let mut n = 0;
        t.poll_gated(timeout, |ev| {
            n += 1;
            self.on_transport(ev, now_ns, timestamp_ms, &mut on_event)
        });
        // Orders that waited in a lane and went out: their reply clocks start now.
        let table = &mut self.table;
        t.take_dispatched(|tag| mark_sent(table, tag, now_ns));
        // Status queries and reconciliations that are due.
        while let Some(due) = self.table.next_due(now_ns) {
            match due {
                Due::Query { seq, symbol } => {
                    let Some(k) = self.find(seq) else {
                        self.table.query_failed(seq, now_ns);
                        continue;
                    };
                    if let Acquire::Wait { .. } = self.limiter.try_acquire(Lane::Query, now_ns) {
                        self.table.query_failed(seq, now_ns);
                        continue;
                    }
                    let session = self.pending[k].session;
                    let bytes = self.venue.build_query_order(
                        &self.names[symbol.index()],
                        session,
                        seq,
                        timestamp_ms,
                    );
                    if t.send(lanes::Lane::Query, seq | QUERY_TAG, bytes).is_ok() {
                        self.stats.requeries += 1;
                    } else {
                        self.table.query_failed(seq, now_ns);
                    }
                }
                Due::Reconcile { seq, symbol } => {
                    eprintln!(
                        "warning: order {seq} on {} still unknown after the query budget; reconciling the position from the venue (no new entries meanwhile)",
                        self.names[symbol.index()]
                    );
                    if let Some(k) = self.find(seq) {
                        let p = &mut self.pending[k];
                        p.pos = PosCheck::ReconcileDue;
                        p.due_ns = now_ns;
                    }
                }
            }
        }
        self.send_position_queries(&mut t, now_ns, timestamp_ms);
        self.send_fills_queries(&mut t, now_ns, timestamp_ms);
        self.send_audit(&mut t, now_ns, timestamp_ms);
        self.send_stops(&mut t, now_ns, timestamp_ms);
        self.resend_after_resync(&mut t, now_ns, timestamp_ms, &mut on_event);
        self.route = Route::Venue(t);
        self.release_held(timestamp_ms, &mut on_event);
        self.close_unprotected(timestamp_ms, &mut on_event);
        n
    }

    /// Handles one transport event (reply or failure of an order, status query or position
    /// query). Returns whether the entries held behind an order request may go: not while its
    /// symbol has an order of unknown outcome (no new entries then; exits still go).
    fn on_transport<F: FnMut(ExecEvent)>(
        &mut self,
        ev: TransportEvent<'_>,
        now_ns: u64,
        timestamp_ms: u64,
        on_event: &mut F,
    ) -> Release {
        let (TransportEvent::Response { tag, .. } | TransportEvent::Failed { tag, .. }) = ev;
        if tag & STOP_TAG != 0 {
            let reply = match ev {
                TransportEvent::Response { status, body, .. } => parse_algo_reply(status, body),
                TransportEvent::Failed { .. } => crate::venue::binance::algo::AlgoReply::Unknown,
            };
            let venue = &self.venue;
            self.stops
                .on_reply(tag, reply, |c| venue.error_kind(c), now_ns);
            return Release::Go;
        }
        let order = tag & (QUERY_TAG | POSITION_TAG | FILLS_TAG | AUDIT_TAG) == 0;
        let symbol = self.table.get(tag).filter(|_| order).map(|o| o.symbol);
        match ev {
            TransportEvent::Response {
                tag,
                status,
                headers,
                body,
                rtt_ns,
            } => {
                if order {
                    on_event(ExecEvent::Rtt(rtt_ns));
                }
                let usage = self.observe_usage(order, &headers, now_ns, timestamp_ms);
                if tag & AUDIT_TAG != 0 {
                    self.on_audit_reply(tag, Some((status, body)), now_ns, on_event);
                } else if tag & FILLS_TAG != 0 {
                    self.on_fills_reply(tag, Some((status, body)), now_ns, on_event);
                } else if tag & POSITION_TAG != 0 {
                    let venue_qty = self.venue.parse_position(status, body);
                    self.on_position(tag, venue_qty, (now_ns, timestamp_ms), on_event);
                } else {
                    let reply = self.venue.parse_order_reply(status, body);
                    self.observe_throttle(status, reply, usage, now_ns, timestamp_ms);
                    self.on_reply(tag, status, reply, now_ns, on_event);
                }
            }
            TransportEvent::Failed { tag, .. } if tag & AUDIT_TAG != 0 => {
                self.on_audit_reply(tag, None, now_ns, on_event);
            }
            TransportEvent::Failed { tag, .. } if tag & FILLS_TAG != 0 => {
                self.on_fills_reply(tag, None, now_ns, on_event);
            }
            TransportEvent::Failed { tag, .. } if tag & POSITION_TAG != 0 => {
                self.on_position(tag, None, (now_ns, timestamp_ms), on_event);
            }
            TransportEvent::Failed { tag, .. } if tag & QUERY_TAG != 0 => {
                let seq = tag & !QUERY_TAG;
                if let Some(s) = self.table.query_failed(seq, now_ns) {
                    self.on_step(s, 0, on_event);
                }
            }
            TransportEvent::Failed { tag, written } => {
                if let Some(s) = self.table.transport_failed(tag, written, now_ns) {
                    self.on_step(s, 0, on_event);
                }
            }
        }
        match symbol {
            Some(s) if self.table.has_unknown(s) => Release::Drop,
            _ => Release::Go,
        }
    }

    /// Sends the exits the rate limiter held back, oldest first, while it grants them.
    fn release_held<F: FnMut(ExecEvent)>(&mut self, timestamp_ms: u64, on_event: &mut F) {
        while let Some(&it) = self.held.front() {
            if self.limiter.check(Lane::Exit, self.now_ns) != Acquire::Granted {
                return;
            }
            self.limiter.try_acquire(Lane::Exit, self.now_ns);
            self.held.pop_front();
            let o = Order::of(&it);
            let inst = self.instruments[o.symbol.index()];
            let report = match self.refusal(&o, &inst) {
                Some(reason) => Some(self.reject(&o, reason, 0, false)),
                None => {
                    let p = self.prepare(&o, &inst, timestamp_ms, Pass::Released);
                    self.send_prepared(&o, &inst, p, |_| {})
                }
            };
            if let Some(r) = report {
                on_event(ExecEvent::Report(r));
            }
        }
    }

    /// Feeds the rate limiter the usage headers of one response (`order`: a reply to an order
    /// request): Binance `X-MBX-USED-WEIGHT-*` from every response and `X-MBX-ORDER-COUNT-*`
    /// from order replies; Bybit `X-Bapi-Limit` then `X-Bapi-Limit-Status` from order replies
    /// only (each Bybit endpoint has its own limit), and `X-Bapi-Limit-Reset-Timestamp` when no
    /// request is left. Returns what a throttled reply needs: `Retry-After` (s) and Bybit's
    /// reset time (ms). Allocation-free.
    fn observe_usage(
        &mut self,
        order: bool,
        headers: &Headers<'_>,
        now_ns: u64,
        wall_ms: u64,
    ) -> Usage {
        let bybit = matches!(self.venue, OrderVenue::Bybit(_));
        let mut u = Usage::default();
        let mut bapi: [Option<&str>; 3] = [None; 3];
        let limiter = &mut self.limiter;
        headers.for_each(|name, value| {
            let Ok(v) = std::str::from_utf8(value) else {
                return;
            };
            let is = |p: &str| name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p);
            if name.eq_ignore_ascii_case("retry-after") {
                u.retry_after_s = v.parse().ok();
            } else if bybit && order && is("x-bapi-limit") {
                let k = [
                    "x-bapi-limit",
                    "x-bapi-limit-status",
                    "x-bapi-limit-reset-timestamp",
                ]
                .iter()
                .position(|n| name.eq_ignore_ascii_case(n));
                let Some(k) = k else {
                    return;
                };
                bapi[k] = Some(v);
            } else if !bybit && (is("x-mbx-used-weight-") || (order && is("x-mbx-order-count-"))) {
                limiter.observe_header(name, v, now_ns, wall_ms);
            }
        });
        let [limit, left, reset] = bapi;
        if let Some(v) = limit {
            limiter.observe_header("x-bapi-limit", v, now_ns, wall_ms);
        }
        if let Some(v) = left {
            limiter.observe_header("x-bapi-limit-status", v, now_ns, wall_ms);
        }
        u.reset_ms = reset.and_then(|v| v.parse().ok());
        // "Otherwise [not exceeded], this is just the current timestamp": a wait only when no
        // request is left (or the reply is 10006, see `observe_throttle`).
        if left.is_some_and(|l| l.parse() == Ok(0u64)) {
            if let Some(v) = reset {
                limiter.observe_header("x-bapi-limit-reset-timestamp", v, now_ns, wall_ms);
            }
        }
        u
    }

    /// Feeds the rate limiter: a 429 / 418 / rate-limit code blocks every lane for the
    /// back-off (`Retry-After` when the reply has one, Bybit's reset time for 10006), any other
    /// reply resets the 429 doubling.
    fn observe_throttle(
        &mut self,
        status: u16,
        reply: OrderReply,
        usage: Usage,
        now_ns: u64,
        wall_ms: u64,
    ) {
        let limited = match reply {
            OrderReply::Error { code } => self.venue.error_kind(code) == ErrorKind::RateLimited,
            _ => false,
        };
        let t = match (status, &self.venue) {
            (418, _) => Throttle::Banned,
            (429, OrderVenue::Binance(_)) => Throttle::TooMany,
            (_, OrderVenue::Bybit(_)) if limited || status == 429 => Throttle::BybitTooMany {
                reset_ms: usage.reset_ms,
            },
            _ if limited => Throttle::TooMany,
            _ => {
                self.limiter.on_accepted();
                return;
            }
        };
        self.limiter
            .on_throttled(t, usage.retry_after_s, now_ns, wall_ms);
    }

    /// Sends the position queries that are due (venue-side exit checks, reconciliations).
    fn send_position_queries(&mut self, t: &mut OrderLanes, now_ns: u64, timestamp_ms: u64) {
        for k in 0..self.pending.len() {
            let p = self.pending[k];
            let next = match p.pos {
                PosCheck::ExitDue => PosCheck::ExitOnWire,
                PosCheck::ReconcileDue => PosCheck::ReconcileOnWire,
                _ => continue,
            };
            if p.due_ns > now_ns {
                continue;
            }
            if p.pos == PosCheck::ExitDue && self.exit_check_waits(&p) {
                continue;
            }
            let bytes = self
                .venue
                .build_position(&self.names[p.symbol.index()], timestamp_ms);
            if t.send(lanes::Lane::Query, p.seq | POSITION_TAG, bytes)
                .is_ok()
            {
                self.stats.requeries += 1;
                self.pending[k].pos = next;
                self.pending[k].pos_queries += 1;
            }
        }
    }

    /// Whether the position query that judges exit `p` must wait. For an order sent before
    /// it: until it is booked, the venue's position may hold its fill (an entry that armed the
    /// venue exits, filled and closed again before we learnt of the fill; an earlier exit that
    /// already closed what `p` would close), so it is booked first — except an earlier exit
    /// itself waiting for such a query (it executed nothing; and it waits for `p`'s outcome).
    /// For any order sent after it: until its outcome is final, the venue's position holds a
    /// fill not known here. (Their fills are held back behind `p` and subtracted from the
    /// venue's answer: [`Executor::later_fills`].)
    fn exit_check_waits(&self, p: &Pending) -> bool {
        self.pending.iter().any(|q| {
            q.symbol == p.symbol
                && q.seq != p.seq
                && match q.rank < p.rank {
                    true => !q.reduce_only || q.pos == PosCheck::Idle,
                    false => self.table.get(q.seq).is_some(),
                }
        })
    }

    /// Arms the executions read of refused exit `k` ([`PosCheck::FillsDue`], due now):
    /// `(close_qty, trigger, venue_qty)` are the position the venue's close closed, its trigger
    /// price (both zero: no close of ours, only a difference to explain) and the venue's
    /// position the query read; the read starts at [`fills_since`].
    fn arm_fills_read(
        &mut self,
        k: usize,
        close: (Decimal, Decimal, Decimal),
        now_ns: u64,
        ts_ms: u64,
    ) {
        let in_step = self.audit.in_step(self.pending[k].symbol.index());
        let x = &mut self.pending[k];
        (x.pos, x.due_ns) = (PosCheck::FillsDue, now_ns);
        (x.close_qty, x.trigger, x.venue_qty) = close;
        x.fills_since_ms = fills_since(x.refused_ns, now_ns, ts_ms, self.settled_ms, in_step);
    }

    /// The signed quantity the venue filled for `p`'s symbol's orders sent after `p`: held
    /// back behind `p` ([`Executor::on_step`]), not booked yet.
    fn later_fills(&self, p: &Pending) -> Decimal {
        self.deferred
            .iter()
            .filter(|(s, _)| {
                s.symbol == p.symbol
                    && self
                        .find(s.seq)
                        .is_some_and(|k| self.pending[k].rank > p.rank)
            })
            .filter_map(|(s, _)| s.fill.map(|f| s.side.signed(f.qty)))
            .sum()
    }

    /// Whether one of `symbol`'s exits waits for, or has on the wire, the position query
    /// that judges it or the executions read that prices its close: no order of the symbol is
    /// sent meanwhile, so that the venue's answer holds exactly the fills known here (and no
    /// execution of ours the read cannot tell from the venue's).
    fn checking_exit(&self, symbol: SymbolId) -> bool {
        self.pending.iter().any(|p| {
            p.symbol == symbol
                && matches!(
                    p.pos,
                    PosCheck::ExitDue
                        | PosCheck::ExitOnWire
                        | PosCheck::FillsDue
                        | PosCheck::FillsOnWire
                )
        })
    }

    /// Sends the venue-side stop requests that are due (Binance algo orders, exit lane): a
    /// placement needs an exit rate slot; a leg that cannot be built fails at once.
    fn send_stops(&mut self, t: &mut OrderLanes, now_ns: u64, timestamp_ms: u64) {
        let OrderVenue::Binance(v) = &mut self.venue else {
            return;
        };
        while self.limiter.check(Lane::Exit, now_ns) == Acquire::Granted {
            let Some(r) = self.stops.next_due(now_ns) else {
                return;
            };
            self.limiter.try_acquire(Lane::Exit, now_ns);
            let i = r.symbol.index();
            let bytes = if r.place {
                let x = ExitOrder {
                    symbol: &self.names[i],
                    position_side: r.position_side,
                    kind: r.kind,
                    trigger_price: r.trigger,
                    qty: None,
                    trigger_by: self.stops.trigger_by,
                    client_seq: Some(r.seq),
                    timestamp_ms,
                };
                match v.build_exit(&self.instruments[i], &x) {
                    Ok(b) => b,
                    Err(_) => {
                        let refused = crate::venue::binance::algo::AlgoReply::Error { code: 0 };
                        self.stops
                            .on_reply(r.tag, refused, |_| ErrorKind::Rejected, now_ns);
                        continue;
                    }
                }
            } else if r.algo_id != 0 {
                v.build_cancel_algo_id(r.algo_id, timestamp_ms)
            } else {
                v.build_algo_request(false, r.seq, r.kind, timestamp_ms)
            };
            if t.send(lanes::Lane::Exit, r.tag, bytes).is_err() {
                self.stops.unsent(&r, now_ns);
                return;
            }
        }
    }

    /// Closes, reduce-only, every position whose venue-side stop could not be placed (counted,
    /// said on stderr): the position never stays unprotected. Its reports reach compute as a
    /// reconciliation's do ([`forced_close_reports`]).
    #[cold]
    fn close_unprotected<F: FnMut(ExecEvent)>(&mut self, timestamp_ms: u64, on_event: &mut F) {
        while let Some((symbol, code)) = self.stops.take_unprotected() {
            let i = symbol.index();
            // An order of the symbol in flight (often the engine's own exit, when the price
            // crossed the stop before the venue took it) changes what there is to close: wait
            // for its answer, then close what is left.
            if self.pending.iter().any(|p| p.symbol == symbol) {
                self.stops.requeue_unprotected(symbol, code);
                return;
            }
            let qty = self.booked[i];
            if qty.is_zero() {
                continue;
            }
            let seq = FORCED_SEQ | (self.stops.counters().unprotected_closes + 1);
            let it = OrderIntent::new(IntentFields {
                symbol,
                side: if qty > Decimal::ZERO {
                    Side::Sell
                } else {
                    Side::Buy
                },
                qty: qty.abs(),
                ref_price: rust_decimal::prelude::ToPrimitive::to_f64(
                    &self.stops.reference(symbol),
                )
                .unwrap_or(0.0),
                reduce_only: true,
                case: crate::types::Case::AcceleratingUp,
                client_seq: seq,
                tick_recv_ns: 0,
                decided_ns: 0,
                take_profit: None,
                stop_loss: None,
            });
            if self.admits(&it) == Admit::Hold {
                self.stops.requeue_unprotected(symbol, code);
                return;
            }
            self.stops.count_unprotected_close();
            eprintln!(
                "error: {}: venue-side stop could not be placed (venue code {code}); closing the position {qty} reduce-only",
                self.names[i]
            );
            if let Some(r) = self.submit(&it, timestamp_ms, |_| {}) {
                on_event(ExecEvent::Report(r));
            }
        }
    }

    /// Resends, once and with the same client id, each order refused for its timestamp whose
    /// clock re-sync came (or was waited for [`RESYNC_WAIT_NS`]), stamped `timestamp_ms`.
    fn resend_after_resync<F: FnMut(ExecEvent)>(
        &mut self,
        t: &mut OrderLanes,
        now_ns: u64,
        timestamp_ms: u64,
        on_event: &mut F,
    ) {
        let generation = self.link.clock.generation();
        // Backwards: a refusal below removes pending[k] (swap_remove brings a visited one).
        for k in (0..self.pending.len()).rev() {
            let Some(&p) = self.pending.get(k) else {
                continue;
            };
            let TsRetry::Waiting {
                generation: g,
                since_ns,
            } = p.ts_retry
            else {
                continue;
            };
            if generation == g && now_ns.saturating_sub(since_ns) < RESYNC_WAIT_NS {
                continue;
            }
            self.pending[k].ts_retry = TsRetry::Done;
            // Resent now: it reaches the venue after every order sent so far.
            self.pending[k].rank = self.next_rank;
            self.next_rank += 1;
            // Stamped now with the offset now: the re-sync may have landed after the caller
            // computed `timestamp_ms` (a vDSO clock read on this rare path, no syscall).
            let timestamp_ms = match generation == g {
                true => timestamp_ms,
                false => self.link.clock.venue_ms(super::clock::local_unix_ms()),
            };
            let i = p.symbol.index();
            let built = self.venue.build_order(
                &self.instruments[i],
                &OrderFields {
                    symbol: &self.names[i],
                    side: p.side,
                    quantity: p.qty,
                    reduce_only: p.reduce_only,
                    client_seq: p.seq,
                    timestamp_ms,
                },
                p.ref_price,
                EntryExits {
                    take_profit: p.exits.0,
                    stop_loss: p.exits.1,
                },
            );
            let lane = if p.reduce_only {
                lanes::Lane::Exit
            } else {
                lanes::Lane::Entry
            };
            let sent = built.is_ok_and(|b| t.send_after(lane, p.seq, b, None).is_ok());
            if sent {
                self.stats.timestamp_retries += 1;
                let table = &mut self.table;
                t.take_dispatched(|tag| mark_sent(table, tag, now_ns));
            } else if let Some(s) = self.table.transport_failed(p.seq, false, now_ns) {
                self.on_step(s, 0, on_event);
            }
        }
    }

    fn find(&self, seq: u64) -> Option<usize> {
        self.pending.iter().position(|p| p.seq == seq)
    }

    /// Applies a venue reply (HTTP `status`) to order request or status query `tag`.
    fn on_reply<F: FnMut(ExecEvent)>(
        &mut self,
        tag: u64,
        status: u16,
        reply: OrderReply,
        now_ns: u64,
        on_event: &mut F,
    ) {
        let seq = tag & !(QUERY_TAG | POSITION_TAG);
        let Some(k) = self.find(seq) else {
            return;
        };
        let p = self.pending[k];
        let (view, order_id) = venue_order(reply);
        if tag & QUERY_TAG != 0 {
            let step = match (view, reply) {
                (Some(v), _) => self.table.query_reply(seq, QueryReply::Order(v), now_ns),
                (None, OrderReply::NotFound) => {
                    self.table.query_reply(seq, QueryReply::NotFound, now_ns)
                }
                // 429/418/5xx/-1007, other errors, unreadable: retried, never the answer.
                _ => self.table.query_failed(seq, now_ns),
            };
            if let Some(s) = step {
                self.on_step(s, order_id, on_event);
            }
            return;
        }
        let reply = match (view, reply) {
            (Some(v), _) => Reply::Order(v),
            (None, OrderReply::Error { code })
                if p.reduce_only
                    && self.venue.reject_reason(code) == RejectReason::VenueReduceOnly =>
            {
                // The venue may have closed the position with its own TP/SL (or it is not what
                // we booked): ask it instead of guessing. The order itself is final (refused).
                self.table.reply(seq, Reply::Rejected, now_ns);
                let q = &mut self.pending[k];
                q.code = code;
                q.pos = PosCheck::ExitDue;
                q.due_ns = now_ns;
                q.pos_queries = 0;
                q.refused_ns = now_ns;
                let symbol = q.symbol;
                self.sync_position(symbol, on_event);
                return;
            }
            (None, OrderReply::Error { code })
                if self.venue.error_kind(code) == ErrorKind::Timestamp
                    && p.ts_retry == TsRetry::None =>
            {
                // Not acted on: re-sync the clock, then resend with the same client id.
                let generation = self.link.clock.request_resync();
                self.pending[k].ts_retry = TsRetry::Waiting {
                    generation,
                    since_ns: now_ns,
                };
                return;
            }
            (None, OrderReply::Error { code }) => {
                self.pending[k].code = code;
                Reply::from_error_kind(status, self.venue.error_kind(code))
            }
            (None, OrderReply::NotFound) => Reply::Rejected,
            _ => Reply::Unknown,
        };
        if let Some(s) = self.table.reply(seq, reply, now_ns) {
            self.on_step(s, order_id, on_event);
        }
    }

    /// Books a table step — or holds it back while an order of the same symbol sent earlier is
    /// still open, so that one symbol's fills are journaled and reported in the order the venue
    /// executed them (a market order executes on arrival) whatever order the replies and status
    /// queries come back in: average-cost accounting (the entry's rounding, a flip) depends on
    /// the order of fills, and the journal's replay must book what the venue booked.
    fn on_step<F: FnMut(ExecEvent)>(&mut self, s: Step, order_id: u64, on_event: &mut F) {
        let waiting = self.deferred.iter().any(|d| d.0.seq == s.seq);
        if (s.fill.is_some() || waiting) && self.after_open_order(s.seq) {
            self.deferred.push((s, order_id));
            return;
        }
        self.apply_step(s, order_id, on_event);
        self.release_deferred(None, on_event);
    }

    /// Whether an order of `seq`'s symbol that reached the venue before it (a lower rank, not
    /// waiting for its timestamp resend) is still open.
    fn after_open_order(&self, seq: u64) -> bool {
        let Some(k) = self.find(seq) else {
            return false;
        };
        let p = &self.pending[k];
        self.pending.iter().any(|q| {
            q.symbol == p.symbol
                && q.rank < p.rank
                && !matches!(q.ts_retry, TsRetry::Waiting { .. })
        })
    }

    /// Books the held-back steps that may go now, oldest first; with `force`, every held step
    /// of that symbol (before a reconciliation sets the position from the venue, and at the
    /// end of a drain: a known fill is booked rather than left to the next start).
    fn release_deferred<F: FnMut(ExecEvent)>(&mut self, force: Option<SymbolId>, on_event: &mut F) {
        while let Some(i) = self
            .deferred
            .iter()
            .position(|(s, _)| force == Some(s.symbol) || !self.after_open_order(s.seq))
        {
            let (s, order_id) = self.deferred.remove(i);
            self.apply_step(s, order_id, on_event);
        }
    }

    /// Books every held-back step (end of a drain that timed out).
    pub fn release_all_deferred<F: FnMut(ExecEvent)>(&mut self, mut on_event: F) {
        while let Some(&(s, _)) = self.deferred.first() {
            self.release_deferred(Some(s.symbol), &mut on_event);
        }
    }

    /// Books what one table step did to an order: a fill delta becomes a journaled fill
    /// report; a final state ends the order (an unfilled remainder is reported expired, a
    /// refusal without fills rejected); the symbol's unknown-order flag follows the table.
    fn apply_step<F: FnMut(ExecEvent)>(&mut self, s: Step, order_id: u64, on_event: &mut F) {
        let Some(k) = self.find(s.seq) else {
            return;
        };
        if s.fill.is_some() {
            self.book_close_before(k, on_event);
        }
        let p = self.pending[k];
        let mut filled = p.filled;
        if let Some(f) = s.fill {
            if !p.reduce_only && filled.is_zero() {
                // A new position (or a flip): the venue holds exactly these exits now.
                self.armed[p.symbol.index()] = p.exits;
                if matches!(self.venue, OrderVenue::Binance(_)) && p.exits != (None, None) {
                    self.stops
                        .arm(p.symbol, p.seq, p.side, p.exits, self.now_ns);
                }
            }
            filled += f.qty;
            self.pending[k].filled = filled;
            self.venue_fills.note_ours(p.symbol, order_id);
            let fee = self.model.fee(f.price, f.qty);
            let r = self.fill(
                p.symbol, p.side, p.seq, p.session, f.price, f.qty, fee, order_id,
            );
            if p.reduce_only && self.booked[p.symbol.index()].is_zero() {
                // The engine's exit closed the position: its venue-side stops go.
                self.stops.disarm(p.symbol, self.now_ns);
            }
            on_event(ExecEvent::Report(r));
        }
        match s.state {
            OrderState::Acked if s.changed && filled.is_zero() => {
                self.stats.acks += 1;
                let mut r = Record::new(RecordKind::Ack, p.symbol, p.side, p.session, p.seq);
                r.aux = order_id;
                r.qty = p.qty;
                self.journal(&r);
            }
            OrderState::Filled => {
                self.pending.swap_remove(k);
                // Filled for less than asked (a reduce-only order the venue cut to the
                // position): the rest never existed.
                if p.qty > filled {
                    on_event(ExecEvent::Report(remainder(&p, p.qty - filled)));
                }
            }
            OrderState::Cancelled | OrderState::Expired | OrderState::Rejected => {
                self.pending.swap_remove(k);
                let rest = p.qty - filled;
                if filled.is_zero() {
                    let (reason, code) = match s.reject {
                        Some(RejectCause::Venue) => {
                            self.on_account_refusal(&p);
                            (self.venue.reject_reason(p.code), p.code as i32)
                        }
                        Some(RejectCause::NotSent) => (RejectReason::Lost, 0),
                        Some(RejectCause::NotFound) => (RejectReason::Lost, -2013),
                        _ => (RejectReason::VenueOther, 0),
                    };
                    on_event(ExecEvent::Report(self.refuse(&p, reason, code)));
                } else if rest > Decimal::ZERO {
                    // The fills are the order's final records; the rest never existed.
                    on_event(ExecEvent::Report(remainder(&p, rest)));
                }
            }
            _ => {}
        }
        self.sync_unknown(p.symbol, on_event);
    }

    /// An entry the venue refused for the account: insufficient margin blocks the symbol's
    /// entries until the balance was read again (and asks for that read); a leverage or
    /// risk-limit refusal blocks them for the run (the account thread tells the operator).
    fn on_account_refusal(&mut self, p: &Pending) {
        if p.reduce_only {
            return;
        }
        let i = p.symbol.index();
        match self.venue.error_kind(p.code) {
            ErrorKind::InsufficientMargin => {
                self.margin_block[i] = Some(self.link.balance_generation());
                self.link.request_balance();
            }
            ErrorKind::LeverageLimit => {
                self.leverage_refused[i] = true;
                self.link.refuse(i);
            }
            _ => {}
        }
    }

    /// Whether symbol `i`'s venue position is unknown (cold): a difference from the booked
    /// one the position audit found (pending its confirmation or its executions read) or a
    /// refused exit left to it, while the audit is armed; or an exit of the symbol the venue
    /// refused whose position check or executions read is still out.
    pub(super) fn position_unknown_now(&self, i: usize) -> bool {
        let audit = (self.audit_armed() && self.audit.differs(i)) || self.audit.gap_while_up(i);
        let refused = self.pending.iter().any(|p| {
            p.symbol.index() == i
                && (matches!(p.pos, PosCheck::FillsDue | PosCheck::FillsOnWire)
                    || (p.refused_ns != 0
                        && matches!(p.pos, PosCheck::ExitDue | PosCheck::ExitOnWire)))
        });
        audit || refused
    }

    /// Brings `symbol`'s position-unknown flag up to date (cold) and tells compute when its
    /// entries are blocked or free again (as for an order of unknown outcome).
    pub(super) fn sync_position<F: FnMut(ExecEvent)>(
        &mut self,
        symbol: SymbolId,
        on_event: &mut F,
    ) {
        let i = symbol.index();
        if i >= self.pos_unknown.len() {
            return;
        }
        let now = self.position_unknown_now(i);
        if now != self.pos_unknown[i] {
            self.pos_unknown[i] = now;
            eprintln!(
                "{} position {}: entries {}",
                self.names[i],
                if now {
                    "unknown (differs from the venue's, unexplained)"
                } else {
                    "known again"
                },
                if now { "refused, exits go" } else { "allowed" }
            );
        }
        self.sync_unknown(symbol, on_event);
    }

    /// Whether `symbol`'s entries are refused because its venue position is unknown.
    pub fn position_unknown(&self, symbol: SymbolId) -> bool {
        self.pos_unknown.get(symbol.index()) == Some(&true)
    }

    /// Tells compute when `symbol` gains or loses its last order of unknown outcome (or its
    /// position becomes unknown or known again: entries blocked the same way).
    fn sync_unknown<F: FnMut(ExecEvent)>(&mut self, symbol: SymbolId, on_event: &mut F) {
        let i = symbol.index();
        let now = self.table.has_unknown(symbol) || self.pos_unknown[i];
        if self.unknown[i] != now {
            self.unknown[i] = now;
            on_event(ExecEvent::Report(ExecReport {
                symbol,
                client_seq: 0,
                side: Side::Buy,
                status: ReportStatus::UnknownOrder(now),
                price: Decimal::ZERO,
                qty: Decimal::ZERO,
                fee: Decimal::ZERO,
                at: FillTime::None,
            }));
        }
    }

    /// Applies a position-query reply (`venue_qty`: the venue's signed position, `None` when
    /// not understood) to order `tag`: a venue-side exit check or a reconciliation. An order
    /// it ends may have held back later orders' fills ([`Executor::on_step`]): they are booked
    /// now, or they would wait for ever.
    fn on_position<F: FnMut(ExecEvent)>(
        &mut self,
        tag: u64,
        venue_qty: Option<Decimal>,
        at: (u64, u64),
        on_event: &mut F,
    ) {
        let seq = tag & !(QUERY_TAG | POSITION_TAG);
        let symbol = self.find(seq).map(|k| self.pending[k].symbol);
        self.check_position(tag, venue_qty, at, on_event);
        if let Some(s) = symbol {
            self.sync_position(s, on_event);
        }
        self.release_deferred(None, on_event);
    }

    /// [`Executor::on_position`] before the held-back fills are released; `(now_ns, venue
    /// Unix ms)`.
    fn check_position<F: FnMut(ExecEvent)>(
        &mut self,
        tag: u64,
        venue_qty: Option<Decimal>,
        (now_ns, ts_ms): (u64, u64),
        on_event: &mut F,
    ) {
        let seq = tag & !(QUERY_TAG | POSITION_TAG);
        let Some(k) = self.find(seq) else {
            return;
        };
        let p = self.pending[k];
        let reconcile = p.pos == PosCheck::ReconcileOnWire;
        let Some(q) = venue_qty else {
            if reconcile || p.pos_queries < MAX_POSITION_QUERIES {
                let x = &mut self.pending[k];
                x.pos = if reconcile {
                    PosCheck::ReconcileDue
                } else {
                    PosCheck::ExitDue
                };
                x.due_ns = now_ns + POSITION_RETRY_NS;
                return;
            }
            self.pending.swap_remove(k);
            let r = self.refuse(&p, RejectReason::VenueReduceOnly, 110017);
            on_event(ExecEvent::Report(r));
            return;
        };
        if reconcile {
            self.reconcile(p.symbol, q, p.ref_price, on_event);
            return;
        }
        // The venue's position when the exit arrived: without the later orders' fills.
        let at_exit = q - self.later_fills(&p);
        // The exit sells a long (buys back a short): the venue closed it if it holds no long
        // (no short) any more — and only a position this executor booked (at least the exit's
        // quantity on that side) can have been closed there: an exit of a position it never
        // booked (compute's view ran ahead of the fills) is a plain refusal, never a fill.
        let (gone, held) = match p.side {
            Side::Sell => (at_exit <= Decimal::ZERO, self.booked[p.symbol.index()]),
            Side::Buy => (at_exit >= Decimal::ZERO, -self.booked[p.symbol.index()]),
        };
        let i = p.symbol.index();
        let closed = gone && held >= p.qty;
        // The venue's stop closes the whole position (`closePosition`): one execution, booked
        // once — as this exit's fill, for all `held` (see [`Executor::book_exit_as_close`]).
        let venue = closed
            .then(|| self.claim_venue_close(p.symbol, p.side, held))
            .flatten();
        let trigger = match (closed, self.armed[i]) {
            (true, (tp, sl)) => venue_exit_price(p.side, p.ref_price, tp, sl),
            (false, _) => None,
        };
        if venue.is_none()
            && trigger.is_some()
            && self.stream.up
            && p.pos_queries < STREAM_WAIT_QUERIES
        {
            // The stream brings the venue's own price of this close: ask again shortly.
            let x = &mut self.pending[k];
            x.pos = PosCheck::ExitDue;
            x.due_ns = now_ns + POSITION_RETRY_NS;
            return;
        }
        if let (None, Some(px)) = (venue, trigger) {
            if self.venue.has_user_trades() {
                // Not told by the stream: read the venue's executions for its own price.
                self.arm_fills_read(k, (held, px, q), now_ns, ts_ms);
                return;
            }
        }
        let close = venue.or_else(|| trigger.map(|px| (px, held, self.model.fee(px, held))));
        let differs = q != self.booked[i];
        if close.is_none() && differs && self.venue.has_user_trades() {
            // No close of ours to book, yet the venue's position is not what was booked: read
            // its executions for the venue's own ones that make the difference (a stop not
            // known to be armed, a close of a position the engine thought otherwise) before
            // taking its position at a guessed price.
            self.arm_fills_read(k, (Decimal::ZERO, Decimal::ZERO, q), now_ns, ts_ms);
            return;
        }
        self.pending.swap_remove(k);
        match close {
            Some((price, qty, fee)) => {
                let from_stream = venue.map_or(Decimal::ZERO, |v| v.1);
                let close = [(price, qty, fee, 0, 0)];
                self.close_refused_exit(&p, &close, from_stream, now_ns, on_event);
            }
            None => self.refuse_unclosed_exit(&p, q, on_event),
        }
    }

    /// Refused exit `p` (out of `pending`) was not closed by a venue exit we armed (or no
    /// execution of the venue's shows that close): a refusal. The venue's position `q` is the
    /// truth (closed by hand, liquidated, closed by an order of ours not booked yet, or never
    /// what we booked): it is reconciled unless an order of the symbol is still in flight (its
    /// fill is not booked yet). Not while the position audit is on: no execution of the
    /// venue's explained the difference *yet* (listed late, before the read's window, or on
    /// the stream still), and taking the venue's position here would journal it at the exit's
    /// reference price, a guess. The difference stays unknown: the audit reads the position
    /// again and the executions since the symbol was last in step (the stream up too), the
    /// next refused exit reads them again, and the end-of-run pass or the next start-up books
    /// them.
    fn refuse_unclosed_exit<F: FnMut(ExecEvent)>(
        &mut self,
        p: &Pending,
        q: Decimal,
        on_event: &mut F,
    ) {
        let r = self.refuse(p, RejectReason::VenueReduceOnly, 110017);
        on_event(ExecEvent::Report(r));
        let settled = !self.pending.iter().any(|x| x.symbol == p.symbol);
        let i = p.symbol.index();
        if settled && q != self.booked[i] {
            // Left to the audit: unknown until it finds the symbol in step or settles it; with
            // the audit off, the venue's position at the exit's reference price (a guess).
            if self.audit_armed() {
                self.audit.leave_gap(i);
            } else if !self.leave_to_audit(p.symbol) {
                self.reconcile(p.symbol, q, p.ref_price, on_event);
            }
        }
        self.sync_position(p.symbol, on_event);
    }

    /// Books refused exit `p` (out of `pending`) as the venue's close, its executions `parts`
    /// (oldest first), of which `from_stream` came from the private stream: what is booked
    /// beyond it is owed to the stream (its execution may still come); the surviving venue leg
    /// goes.
    fn close_refused_exit<F: FnMut(ExecEvent)>(
        &mut self,
        p: &Pending,
        parts: &[VenueExec],
        from_stream: Decimal,
        now_ns: u64,
        on_event: &mut F,
    ) {
        let held: Decimal = parts.iter().map(|x| x.1).sum();
        // The closes' own execution time when every part has one (read), else unknown.
        let executed = match parts.iter().all(|x| x.4 != 0) {
            true => parts.iter().map(|x| x.4).max().unwrap_or(0),
            false => 0,
        };
        let owed = held.max(p.qty) - from_stream;
        self.owe_venue_close(p.symbol, p.side, owed, executed);
        self.book_exit_as_close(p, parts, on_event);
        self.stops.count_venue_fill();
        self.stops.disarm(p.symbol, now_ns);
    }

    /// Books refused exit `p` as the venue's close of the position: one fill per execution in
    /// `parts` (`(price, qty, fee, venue order id)`: the venue's, or the trigger price and
    /// `held` while no stream or read tells it), so that one venue execution is one journaled
    /// fill. The venue closes the whole position, which can be more than the exit asked for
    /// (the exit was a partial one): the exit is reported filled for all of it, plus the
    /// compensating working-position report of the excess (as a reconciliation's). A close
    /// short of the exit's quantity (the trigger-price fallback) is booked for the exit's.
    fn book_exit_as_close<F: FnMut(ExecEvent)>(
        &mut self,
        p: &Pending,
        parts: &[VenueExec],
        on_event: &mut F,
    ) {
        let held: Decimal = parts.iter().map(|x| x.1).sum();
        let short = (p.qty - held).max(Decimal::ZERO);
        let mut last = Decimal::ZERO;
        for (k, &(price, qty, fee, order_id, at_ms)) in parts.iter().enumerate() {
            let qty = if k + 1 == parts.len() {
                qty + short
            } else {
                qty
            };
            self.exec_ms = at_ms;
            let r = self.fill(
                p.symbol, p.side, p.seq, p.session, price, qty, fee, order_id,
            );
            on_event(ExecEvent::Report(r));
            last = price;
        }
        let excess = held - p.qty;
        if excess > Decimal::ZERO {
            // Compute sent an exit of p.qty only.
            on_event(ExecEvent::Report(compensation(
                p.symbol, p.side, last, excess,
            )));
        }
    }

    /// Sets `symbol`'s position to the venue's `venue_qty`: the difference to what was booked
    /// is journaled (an adoption at `price`) and reported as a fill plus the compensating
    /// working-position report (as start-up restoration does); the unresolved orders' unfilled
    /// remainders are reported expired; the operator is told.
    #[cold]
    fn reconcile<F: FnMut(ExecEvent)>(
        &mut self,
        symbol: SymbolId,
        venue_qty: Decimal,
        price: Decimal,
        on_event: &mut F,
    ) {
        self.reconcile_at(symbol, venue_qty, (price, false), on_event);
    }

    /// [`Executor::reconcile`] with `at_entry`: `price` is the venue's average entry of its
    /// whole position, which the adoption takes ([`Record::set_at_entry`], reported
    /// [`ReportStatus::Adopted`]); else a fill at `price`.
    #[cold]
    fn reconcile_at<F: FnMut(ExecEvent)>(
        &mut self,
        symbol: SymbolId,
        venue_qty: Decimal,
        (price, at_entry): (Decimal, bool),
        on_event: &mut F,
    ) {
        // The venue's position includes the fills held back and the closes the stream
        // brought: book them first.
        self.release_deferred(Some(symbol), on_event);
        self.book_venue_close(symbol, on_event);
        let i = symbol.index();
        let diff = venue_qty - self.booked[i];
        eprintln!(
            "warning: {} reconciled from the venue: position {} (booked {}, difference {diff})",
            self.names[i], venue_qty, self.booked[i]
        );
        if !diff.is_zero() {
            let side = if diff > Decimal::ZERO {
                Side::Buy
            } else {
                Side::Sell
            };
            let mut r = Record::new(RecordKind::Adopt, symbol, side, self.session, 0);
            r.qty = diff.abs();
            r.price = price;
            if at_entry {
                r.set_at_entry();
            }
            self.journal(&r);
            self.booked[i] = venue_qty;
            if venue_qty.is_zero() {
                self.stops.disarm(symbol, self.now_ns);
            }
            self.stats.fills += 1;
            let report = |side, status| ExecReport {
                symbol,
                client_seq: 0,
                side,
                status,
                price,
                qty: diff.abs(),
                fee: Decimal::ZERO,
                at: FillTime::None,
            };
            let status = match at_entry {
                true => ReportStatus::Adopted,
                false => ReportStatus::Filled,
            };
            on_event(ExecEvent::Report(report(side, status)));
            on_event(ExecEvent::Report(compensation(
                symbol,
                side,
                price,
                diff.abs(),
            )));
        }
        let mut k = 0;
        // The exits of an unresolved entry on the venue position's side: it filled.
        let mut entered = None;
        while k < self.pending.len() {
            let p = self.pending[k];
            let unresolved = p.symbol == symbol
                && self
                    .table
                    .get(p.seq)
                    .is_some_and(|o| o.state == OrderState::Unresolved);
            if !unresolved {
                k += 1;
                continue;
            }
            let long = p.side == Side::Buy;
            if !p.reduce_only && p.exits != (None, None) && (venue_qty > Decimal::ZERO) == long {
                entered = Some((p.side, p.exits));
            }
            self.pending.swap_remove(k);
            let rest = p.qty - p.filled;
            if rest > Decimal::ZERO {
                on_event(ExecEvent::Report(remainder(&p, rest)));
            }
        }
        if let Some((side, exits)) = entered.filter(|_| !venue_qty.is_zero()) {
            // Its venue-side stops, as its fill report would have armed them.
            self.armed[i] = exits;
            if matches!(self.venue, OrderVenue::Binance(_)) {
                self.stops.arm_missing(symbol, side, exits, self.now_ns);
            }
        }
        self.table.reconciled(symbol);
        self.sync_unknown(symbol, on_event);
    }

    /// Reports `p` rejected for `reason` (journaled with `code`).
    fn refuse(&mut self, p: &Pending, reason: RejectReason, code: i32) -> ExecReport {
        self.rejection(
            (p.symbol, p.side, p.session, p.seq, p.qty),
            reason,
            code,
            true,
        )
    }

    /// Counters so far.
    pub fn stats(&self) -> &ExecStats {
        &self.stats
    }
}

/// Starts the reply clock of order request `tag` (handed to a connection at `now_ns`);
/// status and position queries are not orders.
#[inline]
fn mark_sent(table: &mut OrderTable, tag: u64, now_ns: u64) {
    if tag & (QUERY_TAG | POSITION_TAG | FILLS_TAG | STOP_TAG | AUDIT_TAG) == 0 {
        table.sent(tag, now_ns);
    }
}

/// The report of order `p`'s unfilled remainder `rest` once the order is final: it never
/// existed, so compute's working position drops it.
fn remainder(p: &Pending, rest: Decimal) -> ExecReport {
    ExecReport {
        symbol: p.symbol,
        client_seq: p.seq,
        side: p.side,
        status: ReportStatus::Expired,
        price: Decimal::ZERO,
        qty: rest,
        fee: Decimal::ZERO,
        at: FillTime::None,
    }
}

/// The working-position report that goes with a fill of `qty` on `fill_side` compute never
/// decided (a reconciliation, a venue close, the excess of an exit booked for more than it
/// asked): `working −= signed(opposite, qty)`, so compute's working position follows the fill.
fn compensation(symbol: SymbolId, fill_side: Side, price: Decimal, qty: Decimal) -> ExecReport {
    ExecReport {
        symbol,
        client_seq: 0,
        side: fill_side.opposite(),
        status: ReportStatus::Rejected(RejectReason::Lost),
        price,
        qty,
        fee: Decimal::ZERO,
        at: FillTime::None,
    }
}

/// Client sequence bit of the executor's own reduce-only closes of unprotected positions.
const FORCED_SEQ: u64 = 1 << 56;

/// Passes `ev` on, except the reports of the executor's own closes ([`FORCED_SEQ`]), which
/// compute never decided: a fill is passed as a sequence-0 fill plus the compensating working
/// report (as a reconciliation), a refusal or expiry is dropped (said on stderr).
fn forced_close_reports<F: FnMut(ExecEvent)>(ev: ExecEvent, on_event: &mut F) {
    let ExecEvent::Report(r) = ev else {
        return on_event(ev);
    };
    if r.client_seq & FORCED_SEQ == 0 || r.client_seq == 0 {
        return on_event(ev);
    }
    match r.status {
        ReportStatus::Filled => {
            on_event(ExecEvent::Report(ExecReport { client_seq: 0, ..r }));
            on_event(ExecEvent::Report(compensation(
                r.symbol, r.side, r.price, r.qty,
            )));
        }
        status => eprintln!("error: close of an unprotected position: {status:?}"),
    }
}

/// The order table's defaults for `venue`: a venue that acks before it fills (Bybit) is
/// queried at once after the ack.
fn table_config(venue: &OrderVenue, max_pending: usize, symbols: usize) -> TableConfig {
    let mut cfg = TableConfig::new(max_pending, symbols, DEFAULT_RECV_WINDOW_MS);
    if venue.acks_before_fill() {
        cfg.ack_query_delay_ns = 0;
    }
    cfg
}

/// The table's view of an order reply (`None` for errors, not-found and unknown) and the
/// venue order id.
fn venue_order(reply: OrderReply) -> (Option<VenueOrder>, u64) {
    let view = |status, executed_qty, price| VenueOrder {
        status,
        executed_qty,
        price: FillPrice::Avg(price),
    };
    match reply {
        OrderReply::Filled {
            status,
            order_id,
            price,
            qty,
        } => (Some(view(status, qty, price)), order_id),
        OrderReply::Accepted { order_id } => (
            Some(view(VenueStatus::New, Decimal::ZERO, Decimal::ZERO)),
            order_id,
        ),
        OrderReply::Closed => (
            Some(view(VenueStatus::Cancelled, Decimal::ZERO, Decimal::ZERO)),
            0,
        ),
        _ => (None, 0),
    }
}

/// The trigger price of the venue exit that closed a position, for an exit order of
/// `exit_side` decided at `ref_price`: closing a long (sell), the take-profit when
/// `ref ≥ tp`, the stop-loss when `ref ≤ sl`; closing a short (buy), the take-profit when
/// `ref ≤ tp`, the stop-loss when `ref ≥ sl`; otherwise the level nearer to `ref`. `None`
/// when no exit was armed.
pub fn venue_exit_price(
    exit_side: Side,
    ref_price: Decimal,
    tp: Option<Decimal>,
    sl: Option<Decimal>,
) -> Option<Decimal> {
    let beyond = |level: Decimal, up: bool| {
        if up {
            ref_price >= level
        } else {
            ref_price <= level
        }
    };
    let long = exit_side == Side::Sell;
    match (tp, sl) {
        (None, None) => None,
        (Some(t), None) => Some(t),
        (None, Some(s)) => Some(s),
        (Some(t), Some(s)) => Some(if beyond(t, long) {
            t
        } else if beyond(s, !long) {
            s
        } else if (ref_price - t).abs() <= (ref_price - s).abs() {
            t
        } else {
            s
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Case;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// The executions read of a refused exit starts the window before the refusal, however
    /// long its position check waited (the heavy soak's stops were 15 s before the check).
    #[test]
    fn the_executions_window_is_anchored_at_the_refusal() {
        let w = venue_fills::FILLS_WINDOW_MS;
        let now_ms = 1_796_575_104_275;
        // Refused 15 s ago: the window ends there, not now.
        let refused = 100_000_000_000;
        let now = refused + 15_000_000_000;
        // In step as of now (the audit just read it): the window alone.
        let step = now_ms;
        assert_eq!(
            fills_since(refused, now, now_ms, 0, step),
            now_ms - 15_000 - w
        );
        // A stop 12 s before the check, 3 s before the refusal, is in the window.
        assert!(fills_since(refused, now, now_ms, 0, step) <= now_ms - 12_000);
        // Not refused (0) or refused just now: the window ends now.
        assert_eq!(fills_since(0, now, now_ms, 0, step), now_ms - w);
        assert_eq!(fills_since(now, now, now_ms, 0, step), now_ms - w);
        // Never before start-up's catch-up read (a restart 4 s before the check).
        let settled = now_ms - 4_000;
        assert_eq!(fills_since(refused, now, now_ms, settled, step), settled);
        assert_eq!(fills_since(0, now, now_ms, settled, step), settled);
        // A catch-up older than the window changes nothing.
        assert_eq!(
            fills_since(0, now, now_ms, now_ms - w - 1, step),
            now_ms - w
        );
    }

    /// The difference between the venue's position and the booked one arose after the symbol
    /// was last in step: the read reaches back there (bounded), not only 10 s before the
    /// refusal (the stream-off soak: a stop 10+ s before the exit refused over it was missed
    /// and the difference adopted at a guessed price).
    #[test]
    fn the_executions_window_reaches_back_to_where_the_symbol_was_last_in_step() {
        let w = venue_fills::FILLS_WINDOW_MS;
        let cap = venue_fills::GAP_LOOKBACK_MS;
        let now_ms = 1_796_575_104_275;
        let now = 100_000_000_000;
        // Last in step 25 s ago: the read starts there.
        let step = now_ms - 25_000;
        assert_eq!(fills_since(now, now, now_ms, 0, step), step);
        // Never in step this run (0): as far back as the bound, not to 1970.
        assert_eq!(fills_since(now, now, now_ms, 0, 0), now_ms - cap);
        // Nor further than the bound before the refusal, nor before start-up's catch-up.
        assert_eq!(
            fills_since(now, now, now_ms, 0, now_ms - 3_600_000),
            now_ms - cap
        );
        let settled = now_ms - 20_000;
        assert_eq!(fills_since(now, now, now_ms, settled, step), settled);
        // In step more recently than the window: the window still counts.
        assert_eq!(fills_since(now, now, now_ms, 0, now_ms - 2_000), now_ms - w);
    }

    fn executor() -> Executor {
        let inst = Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap();
        Executor::new(
            vec![inst],
            vec!["BTCUSDT".into()],
            BinanceOrderBuilder::new("key", b"secret", "localhost", 5000, "ct-"),
            PaperVenue {
                taker_fee: d("0.0004"),
                slippage_bps: 0.0,
            },
        )
    }

    fn intent(qty: &str, reduce_only: bool) -> OrderIntent {
        OrderIntent::new(IntentFields {
            symbol: SymbolId(0),
            side: Side::Buy,
            qty: d(qty),
            ref_price: 61800.3,
            reduce_only,
            case: Case::AcceleratingUp,
            client_seq: 7,
            tick_recv_ns: 0,
            decided_ns: 0,
            take_profit: None,
            stop_loss: None,
        })
    }

    #[test]
    fn entry_is_signed_and_filled() {
        let mut e = executor();
        let mut seen = Vec::new();
        let r = e.execute(&intent("0.016", false), 1_700_000_000_000, |b| {
            seen.extend_from_slice(b)
        });
        assert_eq!(r.status, ReportStatus::Filled);
        assert_eq!(r.qty, d("0.016"));
        assert_eq!(r.price, d("61800.30"));
        assert_eq!(r.fee, d("0.39552192"));
        let text = String::from_utf8(seen).unwrap();
        assert!(
            text.contains("quantity=0.016&newClientOrderId=ct-7&"),
            "{text}"
        );
        // The paper fill went through the order table (one fill delta) and left no order in it.
        assert_eq!(e.order_counters().fills, 1);
        assert_eq!(e.in_flight(), 0);
    }

    #[test]
    fn order_below_min_notional_is_not_sent() {
        let mut e = executor();
        let mut sent = false;
        // 0.001 BTC × 61800 = 61.8 USDT passes; at 4000 USDT/BTC it is 4 < 5.
        let mut it = intent("0.001", false);
        it.ref_price = 4000.0;
        let r = e.execute(&it, 1, |_| sent = true);
        assert_eq!(
            r.status,
            ReportStatus::Rejected(RejectReason::BelowMinNotional)
        );
        assert!(!sent);
        assert_eq!(e.stats().rejects[RejectReason::BelowMinNotional.index()], 1);
    }

    #[test]
    fn reduce_only_exit_ignores_min_notional_but_not_min_qty() {
        let mut e = executor();
        let mut it = intent("0.001", true);
        it.ref_price = 4000.0;
        assert_eq!(e.execute(&it, 1, |_| {}).status, ReportStatus::Filled);
        let r = e.execute(&intent("0.0004", false), 1, |_| {});
        assert_eq!(r.status, ReportStatus::Rejected(RejectReason::BelowMinQty));
    }

    #[test]
    fn venue_exit_price_picks_the_level_the_exit_reached() {
        let (tp, sl) = (Some(d("62000")), Some(d("61000")));
        // Closing a long (sell).
        let px = |r: &str| venue_exit_price(Side::Sell, d(r), tp, sl);
        assert_eq!(px("62000"), Some(d("62000")));
        assert_eq!(px("62100.5"), Some(d("62000")));
        assert_eq!(px("60990"), Some(d("61000")));
        assert_eq!(px("61800"), Some(d("62000")), "nearer level");
        assert_eq!(px("61200"), Some(d("61000")), "nearer level");
        // Closing a short (buy): TP below, SL above.
        let (tp, sl) = (Some(d("61000")), Some(d("62000")));
        let px = |r: &str| venue_exit_price(Side::Buy, d(r), tp, sl);
        assert_eq!(px("60900"), Some(d("61000")));
        assert_eq!(px("62000.1"), Some(d("62000")));
        assert_eq!(
            venue_exit_price(Side::Buy, d("1"), None, Some(d("5"))),
            Some(d("5"))
        );
        assert_eq!(venue_exit_price(Side::Buy, d("1"), None, None), None);
    }
}
