//! One order state machine for live, paper and backtest: a fixed-capacity table of live orders
//! keyed by client sequence, driven by venue-neutral events, that never guesses an outcome.
//!
//! States: `Intent → Sent → Acked → PartiallyFilled → Filled | Cancelled | Rejected | Expired`,
//! plus `Unknown` (the venue may or may not have acted) and `Unresolved` (still unknown after
//! the query budget: the caller reconciles the symbol from the venue's position).
//!
//! Rules:
//! - HTTP 5xx, the Binance unknown-status codes (-1000 UNKNOWN, -1001 DISCONNECTED,
//!   -1006 UNEXPECTED_RESP, -1007 TIMEOUT, -1008 SERVER_BUSY; Binance error-code list: "execution
//!   status unknown"; HTTP return codes: "5XX … It is important to NOT treat this as a failure
//!   operation; the execution status is UNKNOWN and could have been a success"), a reply
//!   timeout, a connection reset after the request was written and an unparseable reply make
//!   an order [`OrderState::Unknown`], never `Rejected`.
//! - Unknown (and acked, not yet final) orders are queried by client id with bounded
//!   exponential backoff ([`Backoff`], deterministic jitter). A transient failure of a query
//!   (429, 418, 5xx, -1007, timeout) is retried, never taken as the answer.
//! - "Order does not exist" (Binance -2013, a Bybit `/v5/order/realtime` empty list or
//!   110001) is final only for an order the venue never showed us, and only once its arrival
//!   window has passed. The venue accepts a signed request only while
//!   `serverTime - timestamp <= recvWindow` (Binance `recvWindow`, Bybit `X-BAPI-RECV-WINDOW`);
//!   whether a request already past the gateway when the backend timed out (-1007) can still
//!   execute later is not documented, so the window is `recv_window + 1 s skew + 5 s grace`
//!   ([`TableConfig::arrival_window_ns`]) after the send. A "does not exist" answer before that
//!   deadline may be that race: it is counted (`early_not_found`) and the next query is
//!   scheduled at the deadline.
//! - Fills are booked from the venue's cumulative executed quantity and cumulative quote (or
//!   average price): each reply yields at most one [`FillDelta`], the increment over what was
//!   already booked, so duplicate, late or reordered replies never book twice and the booked
//!   quantity always equals the largest executed quantity the venue reported.
//! - After [`TableConfig::max_queries`] the order becomes `Unresolved` and [`Due::Reconcile`]
//!   tells the caller to set that symbol's position from the venue; later replies for it are
//!   ignored (the reconciliation already counts them).
//!
//! # Wiring (`exec::executor::Executor`: the venue route and the paper route)
//! One [`OrderTable`] per executor, built with the executor's `max_pending` and symbol count.
//! - Intent accepted and journaled → [`OrderTable::insert`]; request written by the transport
//!   → [`OrderTable::sent`]; paper fills (the `paper` mode and the in-process paths of tests
//!   and benches) call `sent` then [`OrderTable::reply`] with the paper venue's `FILLED`
//!   [`VenueOrder`] (same path as live).
//! - Transport `TransportEvent` failure for an order request → [`OrderTable::transport_failed`]
//!   (`written`: whether any byte of the request left; a reset after the write is `true`).
//! - Order reply parsed (`OrderReply` / `VenueError`) → [`OrderTable::reply`] with
//!   [`Reply::Order`], [`Reply::Rejected`] (definite venue refusal, via
//!   [`Reply::from_error_kind`]) or [`Reply::Unknown`].
//! - Status-query reply → [`OrderTable::query_reply`] ([`QueryReply::Order`] or
//!   [`QueryReply::NotFound`]); a query that failed transiently → [`OrderTable::query_failed`].
//! - Every executor poll → loop [`OrderTable::next_due`] until `None`: send a status query for
//!   each [`Due::Query`], and for [`Due::Reconcile`] start the position reconciliation of that
//!   symbol, tell the operator, then call [`OrderTable::reconciled`].
//! - Each returned [`Step`] with a `fill` is journaled and booked (one `ExecReport` per
//!   delta); a `Step` whose state is final is journaled as the order's final record.
//! - The entry gate asks [`OrderTable::has_unknown`] per symbol: no new entry while it is
//!   true; exits still go. [`OrderTable::counters`] feeds the status line and the summary.
//! - Start-up recovery: every journaled intent without a final record →
//!   [`OrderTable::insert_unknown`].

use rust_decimal::Decimal;

use crate::types::{Side, SymbolId};
use crate::venue::error::ErrorKind;

/// Life-cycle state of one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Accepted locally and journaled; not yet written.
    Intent,
    /// Request written; no reply yet.
    Sent,
    /// The venue holds the order; nothing filled yet.
    Acked,
    /// Some, not all, filled; the rest still working.
    PartiallyFilled,
    /// Completely filled (final).
    Filled,
    /// Cancelled, possibly after partial fills (final).
    Cancelled,
    /// Refused by the venue, or never arrived there (final).
    Rejected,
    /// Expired (IOC/FOK remainder), possibly after partial fills (final).
    Expired,
    /// The venue may or may not have acted: being queried.
    Unknown,
    /// Still not known after the query budget: the symbol must be reconciled (final for the
    /// table; the position comes from the venue).
    Unresolved,
}

impl OrderState {
    /// True for states no venue answer can change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Filled
                | OrderState::Cancelled
                | OrderState::Rejected
                | OrderState::Expired
                | OrderState::Unresolved
        )
    }
}

pub use crate::venue::reply::VenueStatus;

/// How the venue reports the price of what filled so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillPrice {
    /// Cumulative quote quantity (Binance `cumQuote`, Bybit `cumExecValue`).
    CumQuote(Decimal),
    /// Average price of the executed quantity (Binance `avgPrice`, Bybit `avgPrice`).
    Avg(Decimal),
}

/// One venue view of an order: cumulative, so any later view supersedes an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueOrder {
    /// The venue's status.
    pub status: VenueStatus,
    /// Cumulative executed quantity (Binance `executedQty`, Bybit `cumExecQty`).
    pub executed_qty: Decimal,
    /// Price of the executed quantity.
    pub price: FillPrice,
}

impl VenueOrder {
    /// Cumulative quote of the executed quantity (`avg × executed` when only the average is
    /// known).
    fn cum_quote(&self) -> Decimal {
        match self.price {
            FillPrice::CumQuote(q) => q,
            FillPrice::Avg(p) => p * self.executed_qty,
        }
    }
}

/// Outcome of the order request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The venue answered with the order (acked, partially or fully filled, expired, …).
    Order(VenueOrder),
    /// A definite venue refusal: the order does not exist at the venue (4xx with a mapped code,
    /// including 429/418/10006 on the order request itself: the venue did not act).
    Rejected,
    /// 5xx, an unknown-status code, or an unparseable reply: the venue may have acted.
    Unknown,
}

impl Reply {
    /// The reply for a venue error on an order request: unknown when the venue may have acted
    /// (HTTP 5xx, [`ErrorKind::UnknownStatus`], [`ErrorKind::Other`] — an unmapped code is
    /// never taken as a refusal), a query when the client id was already used
    /// ([`ErrorKind::DuplicateClientId`]: the first copy exists), otherwise a refusal.
    pub fn from_error_kind(http_status: u16, kind: ErrorKind) -> Reply {
        if http_status >= 500 {
            return Reply::Unknown;
        }
        match kind {
            ErrorKind::UnknownStatus | ErrorKind::Other | ErrorKind::DuplicateClientId => {
                Reply::Unknown
            }
            _ => Reply::Rejected,
        }
    }
}

/// Answer to an order-status query (transient failures go to [`OrderTable::query_failed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryReply {
    /// The venue's view of the order.
    Order(VenueOrder),
    /// The venue does not know the client id (Binance -2013, Bybit empty list / 110001).
    NotFound,
}

/// The increment of one reply over what was already booked: book exactly this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillDelta {
    /// Newly executed quantity (> 0).
    pub qty: Decimal,
    /// Average price of this increment: `Δcum_quote / Δqty`.
    pub price: Decimal,
}

/// Why an order became `Rejected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectCause {
    /// The venue refused the request.
    Venue,
    /// The venue reported the order `REJECTED` on a query.
    VenueStatus,
    /// The request never left this process (nothing written).
    NotSent,
    /// Not found at the venue after its arrival window.
    NotFound,
}

/// What one event did to one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Client sequence.
    pub seq: u64,
    /// The order's symbol.
    pub symbol: SymbolId,
    /// The order's side.
    pub side: Side,
    /// State after the event.
    pub state: OrderState,
    /// Fill to book (journal, then position), if the venue executed more.
    pub fill: Option<FillDelta>,
    /// Set when the event made the order `Rejected`.
    pub reject: Option<RejectCause>,
    /// False when the event was a duplicate, late or for an order no longer tracked.
    pub changed: bool,
}

/// Work the table asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Send an order-status query by client id for `seq`.
    Query {
        /// Client sequence.
        seq: u64,
        /// The order's symbol.
        symbol: SymbolId,
    },
    /// The order is `Unresolved`: reconcile `symbol` from the venue's position, tell the
    /// operator, then call [`OrderTable::reconciled`].
    Reconcile {
        /// Client sequence.
        seq: u64,
        /// The symbol to reconcile.
        symbol: SymbolId,
    },
}

/// Table is full: the intent must be refused (and counted) before anything is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableFull;

/// Bounded exponential backoff: `min(base × 2^n, max) × (1 + jitter × u)`, `u ∈ [0, 1)` from a
/// hash of `(seq, n)` (deterministic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// First delay, ns.
    pub base_ns: u64,
    /// Cap before jitter, ns.
    pub max_ns: u64,
    /// Jitter as a fraction of the delay, per mille (0 = none).
    pub jitter_permille: u32,
}

impl Backoff {
    /// Delay before query number `n` (0-based) of order `seq`, ns.
    pub fn delay_ns(&self, seq: u64, n: u32) -> u64 {
        let exp = self
            .base_ns
            .saturating_mul(1u64 << n.min(32))
            .min(self.max_ns);
        if self.jitter_permille == 0 {
            return exp;
        }
        let u = splitmix64(seq ^ (u64::from(n) << 48)) % 1000;
        exp.saturating_add(exp / 1000 * u * u64::from(self.jitter_permille) / 1000)
    }
}

/// SplitMix64 finaliser: a fixed bijective hash (deterministic jitter).
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Table parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableConfig {
    /// Orders tracked at once (the executor's `max_pending`).
    pub capacity: usize,
    /// Symbols (`SymbolId` indices are `0..symbols`).
    pub symbols: usize,
    /// Status queries per order before it becomes `Unresolved`.
    pub max_queries: u32,
    /// Reply (or query reply) not received after this long: unknown / failed query, ns.
    pub reply_timeout_ns: u64,
    /// Delay before the first query of an acked, unfilled order, ns.
    pub ack_query_delay_ns: u64,
    /// `recv_window + clock skew + grace`: after `sent + this` a request can no longer become
    /// an order at the venue, ns.
    pub arrival_window_ns: u64,
    /// Query backoff.
    pub backoff: Backoff,
}

impl TableConfig {
    /// Defaults for a venue signing with `recv_window_ms`: 10 s reply timeout, 20 ms first ack
    /// query, arrival window `recv_window + 1 s skew + 5 s grace`, 50 queries backing off from
    /// 50 ms to 5 s with 20 % jitter (about 4 minutes in all).
    pub fn new(capacity: usize, symbols: usize, recv_window_ms: u64) -> Self {
        Self {
            capacity,
            symbols,
            max_queries: 50,
            reply_timeout_ns: 10_000_000_000,
            ack_query_delay_ns: 20_000_000,
            arrival_window_ns: (recv_window_ms + 6_000) * 1_000_000,
            backoff: Backoff {
                base_ns: 50_000_000,
                max_ns: 5_000_000_000,
                jitter_permille: 200,
            },
        }
    }
}

/// Named counters per outcome (status line and summary).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderCounters {
    /// Orders the venue refused (or that never arrived).
    pub rejects: u64,
    /// Orders that became unknown.
    pub unknowns: u64,
    /// Orders that became unresolved (symbol reconciled from the venue's position).
    pub reconciliations: u64,
    /// Partial fills booked (deltas that left the order not fully filled).
    pub partials: u64,
    /// Fill deltas booked.
    pub fills: u64,
    /// Status queries issued.
    pub queries: u64,
    /// Queries that failed transiently (retried).
    pub query_retries: u64,
    /// "Not found" answers inside the arrival window (retried at its end).
    pub early_not_found: u64,
    /// Duplicate or late events ignored.
    pub duplicates: u64,
}

impl OrderCounters {
    /// `(name, value)` pairs in a fixed order.
    pub fn named(&self) -> [(&'static str, u64); 9] {
        [
            ("rejects", self.rejects),
            ("unknown", self.unknowns),
            ("reconciled", self.reconciliations),
            ("partials", self.partials),
            ("fills", self.fills),
            ("queries", self.queries),
            ("query_retries", self.query_retries),
            ("early_not_found", self.early_not_found),
            ("duplicates", self.duplicates),
        ]
    }
}

/// One tracked order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderEntry {
    /// Client sequence (the client order id's number).
    pub seq: u64,
    /// Symbol.
    pub symbol: SymbolId,
    /// Side.
    pub side: Side,
    /// Ordered quantity.
    pub qty: Decimal,
    /// Booked (cumulative executed) quantity.
    pub filled: Decimal,
    /// Booked cumulative quote.
    pub cum_quote: Decimal,
    /// State.
    pub state: OrderState,
    /// Status queries sent.
    pub queries: u32,
    /// When the next query is due (0: none), ns.
    pub next_query_ns: u64,
    /// Request write time (0: not sent), ns.
    pub sent_ns: u64,
    /// A query is on the wire since this time (0: none), ns.
    pub query_sent_ns: u64,
    /// The venue showed this order at least once (acked or any fill).
    pub seen: bool,
}

impl OrderEntry {
    /// A new intent: nothing sent, filled or queried yet.
    fn intent(seq: u64, symbol: SymbolId, side: Side, qty: Decimal) -> Self {
        Self {
            seq,
            symbol,
            side,
            qty,
            filled: Decimal::ZERO,
            cum_quote: Decimal::ZERO,
            state: OrderState::Intent,
            queries: 0,
            next_query_ns: 0,
            sent_ns: 0,
            query_sent_ns: 0,
            seen: false,
        }
    }

    /// Average price of the booked quantity (`cum_quote / filled`; 0 when nothing filled).
    pub fn avg_price(&self) -> Decimal {
        if self.filled.is_zero() {
            Decimal::ZERO
        } else {
            self.cum_quote / self.filled
        }
    }

    fn counts_unknown(&self) -> bool {
        matches!(self.state, OrderState::Unknown | OrderState::Unresolved)
    }
}

/// Fixed-capacity table of live orders (allocation-free after [`OrderTable::new`]).
#[derive(Debug)]
pub struct OrderTable {
    cfg: TableConfig,
    orders: Vec<OrderEntry>,
    /// Per symbol: orders `Unknown` or `Unresolved`.
    unknown: Vec<u32>,
    counters: OrderCounters,
}

impl OrderTable {
    /// An empty table.
    pub fn new(cfg: TableConfig) -> Self {
        Self {
            orders: Vec::with_capacity(cfg.capacity),
            unknown: vec![0; cfg.symbols],
            counters: OrderCounters::default(),
            cfg,
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> OrderCounters {
        self.counters
    }

    /// Orders tracked.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// True when no order is tracked.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// The order `seq`, if tracked.
    pub fn get(&self, seq: u64) -> Option<&OrderEntry> {
        self.orders.iter().find(|o| o.seq == seq)
    }

    /// The tracked orders (no particular order).
    pub fn iter(&self) -> impl Iterator<Item = &OrderEntry> {
        self.orders.iter()
    }

    /// True while `symbol` has an unknown or unresolved order: no new entries.
    pub fn has_unknown(&self, symbol: SymbolId) -> bool {
        self.unknown.get(symbol.index()).is_some_and(|&n| n > 0)
    }

    /// Tracks a new intent.
    pub fn insert(
        &mut self,
        seq: u64,
        symbol: SymbolId,
        side: Side,
        qty: Decimal,
    ) -> Result<(), TableFull> {
        self.push(OrderEntry::intent(seq, symbol, side, qty))
    }

    /// The warm-up's probe of [`OrderTable::insert`]: the same duplicate scan, and the entry
    /// written into the spare slot the insert would fill (outside the table's length: no
    /// order is tracked, nothing counted). Returns whether the insert would succeed.
    #[inline]
    pub fn warm(&mut self, seq: u64, symbol: SymbolId, side: Side, qty: Decimal) -> bool {
        let room = self.orders.len() < self.cfg.capacity && self.get(seq).is_none();
        if let Some(slot) = self.orders.spare_capacity_mut().first_mut() {
            slot.write(OrderEntry::intent(seq, symbol, side, qty));
        }
        room
    }

    /// Tracks a journaled order without a final record (start-up recovery): unknown, queried
    /// at once; `sent_ns` is its journaled send time mapped to this clock (0 if unknown: the
    /// arrival window then counts from the first query).
    pub fn insert_unknown(
        &mut self,
        seq: u64,
        symbol: SymbolId,
        side: Side,
        qty: Decimal,
        sent_ns: u64,
        now_ns: u64,
    ) -> Result<(), TableFull> {
        self.push(OrderEntry {
            sent_ns: if sent_ns == 0 { now_ns } else { sent_ns },
            ..OrderEntry::intent(seq, symbol, side, qty)
        })?;
        let i = self.orders.len() - 1;
        self.make_unknown(i, now_ns);
        self.orders[i].next_query_ns = now_ns.max(1);
        Ok(())
    }

    fn push(&mut self, e: OrderEntry) -> Result<(), TableFull> {
        if self.orders.len() >= self.cfg.capacity || self.get(e.seq).is_some() {
            return Err(TableFull);
        }
        self.orders.push(e);
        Ok(())
    }

    fn index(&self, seq: u64) -> Option<usize> {
        self.orders.iter().position(|o| o.seq == seq)
    }

    fn step(
        &self,
        i: usize,
        fill: Option<FillDelta>,
        reject: Option<RejectCause>,
        changed: bool,
    ) -> Step {
        let o = &self.orders[i];
        Step {
            seq: o.seq,
            symbol: o.symbol,
            side: o.side,
            state: o.state,
            fill,
            reject,
            changed,
        }
    }

    /// Index of `seq`; an event for an order no longer tracked (retired final, reconciled, or
    /// never inserted) is a duplicate or late copy: counted, ignored.
    fn tracked(&mut self, seq: u64) -> Option<usize> {
        let i = self.index(seq);
        if i.is_none() {
            self.counters.duplicates += 1;
        }
        i
    }

    fn set_state(&mut self, i: usize, state: OrderState) {
        let was = self.orders[i].counts_unknown();
        self.orders[i].state = state;
        let is = self.orders[i].counts_unknown();
        let s = self.orders[i].symbol.index();
        if let Some(n) = self.unknown.get_mut(s) {
            match (was, is) {
                (false, true) => *n += 1,
                (true, false) => *n -= 1,
                _ => {}
            }
        }
    }

    fn make_unknown(&mut self, i: usize, now_ns: u64) {
        if self.orders[i].state != OrderState::Unknown {
            self.counters.unknowns += 1;
        }
        self.set_state(i, OrderState::Unknown);
        let o = &mut self.orders[i];
        o.next_query_ns = now_ns + self.cfg.backoff.delay_ns(o.seq, o.queries);
    }

    /// A final refusal for `cause`: counted, reported, retired.
    fn reject(&mut self, i: usize, cause: RejectCause) -> Step {
        self.set_state(i, OrderState::Rejected);
        self.counters.rejects += 1;
        let s = self.step(i, None, Some(cause), true);
        self.retire(i);
        s
    }

    /// An event that tells nothing new (a duplicate or late copy): counted, reported unchanged.
    fn duplicate(&mut self, i: usize) -> Step {
        self.counters.duplicates += 1;
        self.step(i, None, None, false)
    }

    /// The outcome is unknown from `now_ns`: queried after the backoff.
    fn unknown(&mut self, i: usize, now_ns: u64) -> Step {
        self.make_unknown(i, now_ns);
        self.step(i, None, None, true)
    }

    /// Removes a final order (other than `Unresolved`, which waits for [`Self::reconciled`]).
    fn retire(&mut self, i: usize) {
        if self.orders[i].state != OrderState::Unresolved {
            self.orders.swap_remove(i);
        }
    }

    /// The request of `seq` was written at `now_ns`.
    pub fn sent(&mut self, seq: u64, now_ns: u64) -> Option<Step> {
        let i = self.tracked(seq)?;
        Some(self.sent_at(i, now_ns))
    }

    fn sent_at(&mut self, i: usize, now_ns: u64) -> Step {
        if self.orders[i].state != OrderState::Intent {
            return self.duplicate(i);
        }
        self.orders[i].state = OrderState::Sent;
        self.orders[i].sent_ns = now_ns;
        self.step(i, None, None, true)
    }

    /// The transport failed for the request of `seq`: `written` false means nothing left this
    /// process (final refusal), true means the venue may have it (unknown).
    pub fn transport_failed(&mut self, seq: u64, written: bool, now_ns: u64) -> Option<Step> {
        let i = self.tracked(seq)?;
        Some(self.transport_failed_at(i, written, now_ns))
    }

    fn transport_failed_at(&mut self, i: usize, written: bool, now_ns: u64) -> Step {
        match self.orders[i].state {
            OrderState::Intent | OrderState::Sent if !written => {
                self.reject(i, RejectCause::NotSent)
            }
            OrderState::Intent | OrderState::Sent => {
                if self.orders[i].sent_ns == 0 {
                    self.orders[i].sent_ns = now_ns;
                }
                self.unknown(i, now_ns)
            }
            _ => self.duplicate(i),
        }
    }

    /// The reply to the order request of `seq` arrived at `now_ns`.
    pub fn reply(&mut self, seq: u64, reply: Reply, now_ns: u64) -> Option<Step> {
        let i = self.tracked(seq)?;
        Some(self.reply_at(i, reply, now_ns))
    }

    fn reply_at(&mut self, i: usize, reply: Reply, now_ns: u64) -> Step {
        let state = self.orders[i].state;
        match reply {
            Reply::Order(v) => self.apply(i, v, now_ns),
            Reply::Rejected if matches!(state, OrderState::Intent | OrderState::Sent) => {
                self.reject(i, RejectCause::Venue)
            }
            Reply::Unknown if matches!(state, OrderState::Intent | OrderState::Sent) => {
                self.unknown(i, now_ns)
            }
            // A refusal or unknown reply after the order was seen, or after it became unknown
            // (a late copy): the earlier, stronger knowledge stands.
            _ => self.duplicate(i),
        }
    }

    /// The status query of `seq` was answered at `now_ns`.
    pub fn query_reply(&mut self, seq: u64, reply: QueryReply, now_ns: u64) -> Option<Step> {
        let i = self.tracked(seq)?;
        Some(self.query_reply_at(i, reply, now_ns))
    }

    fn query_reply_at(&mut self, i: usize, reply: QueryReply, now_ns: u64) -> Step {
        self.orders[i].query_sent_ns = 0;
        match reply {
            QueryReply::Order(v) => self.apply(i, v, now_ns),
            QueryReply::NotFound => self.not_found(i, now_ns),
        }
    }

    /// The status query of `seq` failed transiently (429, 418, 5xx, -1007, timeout, reset):
    /// retried after the backoff, never taken as the answer.
    pub fn query_failed(&mut self, seq: u64, now_ns: u64) -> Option<Step> {
        let i = self.tracked(seq)?;
        Some(self.query_failed_at(i, now_ns))
    }

    fn query_failed_at(&mut self, i: usize, now_ns: u64) -> Step {
        if self.orders[i].state.is_final() {
            return self.duplicate(i);
        }
        self.counters.query_retries += 1;
        self.reschedule(i, now_ns, 0);
        self.step(i, None, None, false)
    }

    fn reschedule(&mut self, i: usize, now_ns: u64, not_before_ns: u64) {
        let o = &mut self.orders[i];
        o.query_sent_ns = 0;
        o.next_query_ns = (now_ns + self.cfg.backoff.delay_ns(o.seq, o.queries)).max(not_before_ns);
    }

    fn not_found(&mut self, i: usize, now_ns: u64) -> Step {
        let o = self.orders[i];
        if o.state.is_final() {
            return self.duplicate(i);
        }
        let deadline = o.sent_ns.saturating_add(self.cfg.arrival_window_ns);
        // Final only for an order the venue never showed, once it can no longer arrive.
        if !o.seen && now_ns >= deadline {
            return self.reject(i, RejectCause::NotFound);
        }
        self.counters.early_not_found += 1;
        self.reschedule(i, now_ns, if o.seen { 0 } else { deadline });
        self.step(i, None, None, false)
    }

    /// Applies a cumulative venue view: books the increment, moves the state forward.
    fn apply(&mut self, i: usize, v: VenueOrder, now_ns: u64) -> Step {
        let o = self.orders[i];
        if o.state == OrderState::Unresolved {
            return self.duplicate(i);
        }
        let mut fill = None;
        if v.executed_qty > o.filled {
            let cum_quote = v.cum_quote();
            let dq = v.executed_qty - o.filled;
            fill = Some(FillDelta {
                qty: dq,
                price: (cum_quote - o.cum_quote) / dq,
            });
            let e = &mut self.orders[i];
            e.filled = v.executed_qty;
            e.cum_quote = cum_quote;
            self.counters.fills += 1;
        }
        self.orders[i].seen = true;
        let next = match v.status {
            VenueStatus::New => OrderState::Acked,
            VenueStatus::PartiallyFilled => OrderState::PartiallyFilled,
            VenueStatus::Filled => OrderState::Filled,
            VenueStatus::Cancelled => OrderState::Cancelled,
            VenueStatus::Rejected => OrderState::Rejected,
            VenueStatus::Expired => OrderState::Expired,
        };
        let filled_now = self.orders[i].filled;
        if fill.is_some() && filled_now < o.qty {
            self.counters.partials += 1;
        }
        // Never move backwards: a final state stays; a live view older than ours (fewer
        // fills, or `New` after `PartiallyFilled`) only books what it adds.
        let stale = next == OrderState::Acked && o.state == OrderState::PartiallyFilled;
        if o.state.is_final() || stale {
            if fill.is_none() {
                self.counters.duplicates += 1;
            }
            return self.step(i, fill, None, fill.is_some());
        }
        let changed = fill.is_some() || next != o.state;
        self.set_state(i, next);
        let reject = (next == OrderState::Rejected).then_some(RejectCause::VenueStatus);
        if reject.is_some() {
            self.counters.rejects += 1;
        }
        if next.is_final() {
            let s = self.step(i, fill, reject, changed);
            self.retire(i);
            return s;
        }
        if !changed {
            self.counters.duplicates += 1;
        }
        // Still working: keep asking (first ask after the ack delay).
        let e = &mut self.orders[i];
        if e.query_sent_ns == 0 {
            e.next_query_ns = if e.queries == 0 {
                now_ns + self.cfg.ack_query_delay_ns
            } else {
                now_ns + self.cfg.backoff.delay_ns(e.seq, e.queries)
            };
        }
        self.step(i, fill, None, changed)
    }

    /// The next piece of work due at `now_ns` (call until `None`): a status query (the order
    /// is then marked as querying) or a reconciliation. Also turns a request unanswered for
    /// [`TableConfig::reply_timeout_ns`] into unknown and a query unanswered as long into a
    /// failed query.
    pub fn next_due(&mut self, now_ns: u64) -> Option<Due> {
        for i in 0..self.orders.len() {
            let o = self.orders[i];
            match o.state {
                OrderState::Sent
                    if now_ns >= o.sent_ns.saturating_add(self.cfg.reply_timeout_ns) =>
                {
                    self.make_unknown(i, now_ns);
                }
                OrderState::Unknown | OrderState::Acked | OrderState::PartiallyFilled => {
                    if o.query_sent_ns != 0 {
                        if now_ns >= o.query_sent_ns.saturating_add(self.cfg.reply_timeout_ns) {
                            self.counters.query_retries += 1;
                            self.reschedule(i, now_ns, 0);
                        }
                        continue;
                    }
                    if o.next_query_ns == 0 || now_ns < o.next_query_ns {
                        continue;
                    }
                    if o.queries >= self.cfg.max_queries {
                        self.set_state(i, OrderState::Unresolved);
                        self.counters.reconciliations += 1;
                        self.orders[i].next_query_ns = 0;
                        return Some(Due::Reconcile {
                            seq: o.seq,
                            symbol: o.symbol,
                        });
                    }
                    let e = &mut self.orders[i];
                    e.queries += 1;
                    e.query_sent_ns = now_ns.max(1);
                    e.next_query_ns = 0;
                    self.counters.queries += 1;
                    return Some(Due::Query {
                        seq: o.seq,
                        symbol: o.symbol,
                    });
                }
                _ => {}
            }
        }
        None
    }

    /// The caller set `symbol`'s position from the venue: its unresolved orders are dropped.
    pub fn reconciled(&mut self, symbol: SymbolId) {
        let mut i = 0;
        while i < self.orders.len() {
            if self.orders[i].symbol == symbol && self.orders[i].state == OrderState::Unresolved {
                self.set_state(i, OrderState::Rejected);
                self.orders.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: SymbolId = SymbolId(1);

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }
    const MS: u64 = 1_000_000;

    fn table() -> OrderTable {
        let mut cfg = TableConfig::new(8, 3, 5_000);
        cfg.backoff.jitter_permille = 0;
        cfg.max_queries = 5;
        OrderTable::new(cfg)
    }

    fn order(status: VenueStatus, qty: &str, avg: &str) -> VenueOrder {
        VenueOrder {
            status,
            executed_qty: d(qty),
            price: FillPrice::Avg(d(avg)),
        }
    }

    #[test]
    fn the_warm_probe_tracks_nothing_and_answers_as_insert_would() {
        let mut t = table();
        assert!(t.warm(1, S, Side::Buy, d("0.5")));
        assert_eq!(t.len(), 0, "the probe tracked an order");
        assert!(t.get(1).is_none());
        assert_eq!(t.counters(), OrderCounters::default());
        t.insert(1, S, Side::Buy, d("0.5")).unwrap();
        assert!(!t.warm(1, S, Side::Buy, d("0.5")), "a duplicate is refused");
        for seq in 2..=8 {
            t.insert(seq, S, Side::Sell, d("1")).unwrap();
        }
        assert!(!t.warm(9, S, Side::Buy, d("1")), "a full table is refused");
        assert_eq!(t.len(), 8);
        assert_eq!(t.get(1).unwrap().qty, d("0.5"));
        assert_eq!(t.get(8).unwrap().side, Side::Sell);
    }

    fn fill(qty: &str, price: &str) -> Option<FillDelta> {
        Some(FillDelta {
            qty: d(qty),
            price: d(price),
        })
    }

    fn sent(t: &mut OrderTable, seq: u64) {
        t.insert(seq, S, Side::Buy, d("1")).unwrap();
        t.sent(seq, 1_000 * MS);
    }

    /// The venue's reply to order 1, 1 ms after it was sent.
    fn answer(t: &mut OrderTable, status: VenueStatus, qty: &str, avg: &str) -> Step {
        t.reply(1, Reply::Order(order(status, qty, avg)), 1_001 * MS)
            .unwrap()
    }

    #[test]
    fn filled_reply_books_once_and_retires() {
        let mut t = table();
        sent(&mut t, 1);
        let s = answer(&mut t, VenueStatus::Filled, "1", "100");
        assert_eq!(s.state, OrderState::Filled);
        assert_eq!(s.fill, fill("1", "100"));
        assert!(t.is_empty());
        let again = t.reply(
            1,
            Reply::Order(order(VenueStatus::Filled, "1", "100")),
            1_002 * MS,
        );
        assert_eq!(again, None, "retired: a duplicate is ignored");
        assert_eq!(t.counters().duplicates, 1);
    }

    #[test]
    fn unknown_status_codes_and_5xx_are_unknown_never_rejected() {
        for kind in [
            ErrorKind::UnknownStatus,
            ErrorKind::Other,
            ErrorKind::DuplicateClientId,
        ] {
            assert_eq!(Reply::from_error_kind(400, kind), Reply::Unknown);
        }
        assert_eq!(
            Reply::from_error_kind(503, ErrorKind::RateLimited),
            Reply::Unknown
        );
        assert_eq!(
            Reply::from_error_kind(400, ErrorKind::InsufficientMargin),
            Reply::Rejected
        );
        assert_eq!(
            Reply::from_error_kind(429, ErrorKind::RateLimited),
            Reply::Rejected
        );

        let mut t = table();
        sent(&mut t, 1);
        let s = t.reply(1, Reply::Unknown, 1_001 * MS).unwrap();
        assert_eq!(s.state, OrderState::Unknown);
        assert!(t.has_unknown(S));
        assert!(!t.has_unknown(SymbolId(0)));
        // A late refusal copy cannot overturn it.
        assert_eq!(
            t.reply(1, Reply::Rejected, 1_002 * MS).unwrap().state,
            OrderState::Unknown
        );
        assert_eq!(t.counters().unknowns, 1);
        assert_eq!(t.counters().rejects, 0);
    }

    #[test]
    fn unknown_filled_order_found_by_query_despite_transient_failures() {
        let mut t = table();
        sent(&mut t, 1);
        t.reply(1, Reply::Unknown, 1_000 * MS);
        assert_eq!(
            t.next_due(1_000 * MS),
            None,
            "first query after the backoff base"
        );
        assert_eq!(
            t.next_due(1_050 * MS),
            Some(Due::Query { seq: 1, symbol: S })
        );
        assert_eq!(t.next_due(1_050 * MS), None, "one query in flight");
        t.query_failed(1, 1_060 * MS); // 429 on the query
        assert_eq!(t.get(1).unwrap().state, OrderState::Unknown);
        // Second query after 100 ms (doubling).
        assert_eq!(t.next_due(1_159 * MS), None);
        assert_eq!(
            t.next_due(1_160 * MS),
            Some(Due::Query { seq: 1, symbol: S })
        );
        let s = t
            .query_reply(
                1,
                QueryReply::Order(order(VenueStatus::Filled, "1", "101")),
                1_170 * MS,
            )
            .unwrap();
        assert_eq!(s.state, OrderState::Filled);
        assert_eq!(s.fill.unwrap().qty, d("1"));
        assert!(!t.has_unknown(S));
    }

    #[test]
    fn not_found_is_final_only_after_the_arrival_window() {
        let mut t = table();
        sent(&mut t, 1); // sent at 1 000 ms; window = 5 s + 6 s
        t.reply(1, Reply::Unknown, 1_001 * MS);
        assert!(matches!(t.next_due(2_000 * MS), Some(Due::Query { .. })));
        let s = t.query_reply(1, QueryReply::NotFound, 2_010 * MS).unwrap();
        assert_eq!(
            s.state,
            OrderState::Unknown,
            "-2013 right after -1007 may be a race"
        );
        assert_eq!(t.counters().early_not_found, 1);
        assert_eq!(
            t.next_due(11_999 * MS),
            None,
            "next query waits for the deadline"
        );
        assert!(matches!(t.next_due(12_000 * MS), Some(Due::Query { .. })));
        let s = t.query_reply(1, QueryReply::NotFound, 12_005 * MS).unwrap();
        assert_eq!(s.state, OrderState::Rejected);
        assert_eq!(s.reject, Some(RejectCause::NotFound));
        assert!(!t.has_unknown(S));
    }

    #[test]
    fn not_found_for_a_seen_order_is_never_final() {
        let mut t = table();
        sent(&mut t, 1);
        t.reply(
            1,
            Reply::Order(order(VenueStatus::New, "0", "0")),
            1_001 * MS,
        );
        assert!(matches!(t.next_due(1_021 * MS), Some(Due::Query { .. })));
        let s = t.query_reply(1, QueryReply::NotFound, 60_000 * MS).unwrap();
        assert_eq!(s.state, OrderState::Acked);
    }

    #[test]
    fn budget_exhausted_becomes_unresolved_and_asks_for_reconciliation() {
        let mut t = table();
        sent(&mut t, 1);
        t.transport_failed(1, true, 1_000 * MS); // reset after write
        let mut now = 1_000 * MS;
        let mut queries = 0;
        loop {
            now += 10_000 * MS;
            match t.next_due(now) {
                Some(Due::Query { seq, .. }) => {
                    queries += 1;
                    t.query_failed(seq, now);
                }
                Some(Due::Reconcile { seq, symbol }) => {
                    assert_eq!((seq, symbol), (1, S));
                    break;
                }
                None => {}
            }
        }
        assert_eq!(queries, 5);
        assert_eq!(t.get(1).unwrap().state, OrderState::Unresolved);
        assert!(t.has_unknown(S), "entries stay blocked until reconciled");
        // A late answer does not double-count what reconciliation books.
        let s = t
            .query_reply(
                1,
                QueryReply::Order(order(VenueStatus::Filled, "1", "1")),
                now,
            )
            .unwrap();
        assert_eq!(s.fill, None);
        t.reconciled(S);
        assert!(!t.has_unknown(S));
        assert!(t.is_empty());
        assert_eq!(t.counters().reconciliations, 1);
        assert_eq!(t.next_due(now + 1), None);
    }

    #[test]
    fn nothing_written_is_a_local_refusal() {
        let mut t = table();
        sent(&mut t, 1);
        let s = t.transport_failed(1, false, 1_001 * MS).unwrap();
        assert_eq!(
            (s.state, s.reject),
            (OrderState::Rejected, Some(RejectCause::NotSent))
        );
    }

    #[test]
    fn reply_timeout_makes_unknown_and_query_timeout_retries() {
        let mut t = table();
        sent(&mut t, 1);
        assert_eq!(t.next_due(10_999 * MS), None);
        assert_eq!(t.next_due(11_000 * MS), None); // became unknown, query after 50 ms
        assert_eq!(t.get(1).unwrap().state, OrderState::Unknown);
        assert!(matches!(t.next_due(11_050 * MS), Some(Due::Query { .. })));
        assert_eq!(t.next_due(21_050 * MS), None); // query timed out: rescheduled
        assert_eq!(t.counters().query_retries, 1);
        assert!(matches!(t.next_due(21_150 * MS), Some(Due::Query { .. })));
    }

    #[test]
    fn partial_fills_are_booked_as_increments_with_their_own_price() {
        let mut t = table();
        sent(&mut t, 1);
        let q = |qty, quote| VenueOrder {
            status: if qty == d("1") {
                VenueStatus::Filled
            } else {
                VenueStatus::PartiallyFilled
            },
            executed_qty: qty,
            price: FillPrice::CumQuote(quote),
        };
        let a = t
            .reply(1, Reply::Order(q(d("0.4"), d("40"))), 1_001 * MS)
            .unwrap();
        assert_eq!(a.fill, fill("0.4", "100"));
        assert_eq!(a.state, OrderState::PartiallyFilled);
        assert!(matches!(t.next_due(1_021 * MS), Some(Due::Query { .. })));
        // Late copy of an older view: nothing booked.
        assert_eq!(
            t.query_reply(1, QueryReply::Order(q(d("0.4"), d("40"))), 1_030 * MS)
                .unwrap()
                .fill,
            None
        );
        let b = t
            .query_reply(1, QueryReply::Order(q(d("1"), d("106"))), 1_040 * MS)
            .unwrap();
        assert_eq!(b.fill, fill("0.6", "110"));
        assert_eq!(b.state, OrderState::Filled);
        assert_eq!(t.counters().partials, 1);
        assert_eq!(t.counters().fills, 2);
    }

    #[test]
    fn expired_remainder_is_final_with_what_filled() {
        let mut t = table();
        sent(&mut t, 1);
        let s = answer(&mut t, VenueStatus::Expired, "0.3", "50");
        assert_eq!(s.state, OrderState::Expired);
        assert_eq!(s.fill, fill("0.3", "50"));
    }

    #[test]
    fn full_table_and_duplicate_seq_are_refused() {
        let mut t = OrderTable::new(TableConfig::new(2, 1, 5_000));
        t.insert(1, SymbolId(0), Side::Buy, d("1")).unwrap();
        assert_eq!(t.insert(1, SymbolId(0), Side::Buy, d("1")), Err(TableFull));
        t.insert(2, SymbolId(0), Side::Sell, d("1")).unwrap();
        assert_eq!(t.insert(3, SymbolId(0), Side::Buy, d("1")), Err(TableFull));
    }

    #[test]
    fn recovered_orders_are_unknown_and_queried_at_once() {
        let mut t = table();
        t.insert_unknown(7, S, Side::Sell, d("2"), 0, 500 * MS)
            .unwrap();
        assert!(t.has_unknown(S));
        assert_eq!(t.next_due(500 * MS), Some(Due::Query { seq: 7, symbol: S }));
    }

    #[test]
    fn backoff_is_bounded_and_jitter_deterministic() {
        let b = Backoff {
            base_ns: 10,
            max_ns: 1_000,
            jitter_permille: 500,
        };
        for n in 0..64 {
            let d = b.delay_ns(3, n);
            assert_eq!(d, b.delay_ns(3, n));
            let exp = (10u64 << n.min(32)).min(1_000);
            assert!(d >= exp && d <= exp + exp / 2, "n={n} d={d}");
        }
        assert_ne!(
            (0..8).map(|s| b.delay_ns(s, 10)).collect::<Vec<_>>(),
            vec![b.delay_ns(0, 10); 8],
            "jitter spreads orders"
        );
    }

    /// One event fed to the table in the property tests.
    #[derive(Clone, Debug)]
    enum Ev {
        /// Reply (order request) carrying venue view `k`.
        Reply(usize),
        /// Query reply carrying venue view `k`.
        Query(usize),
        Unknown,
        Rejected,
        QueryFailed,
        NotFound,
        Tick,
    }

    fn ev() -> impl Strategy<Value = Ev> {
        prop_oneof![
            (0usize..8).prop_map(Ev::Reply),
            (0usize..8).prop_map(Ev::Query),
            Just(Ev::Unknown),
            Just(Ev::Rejected),
            Just(Ev::QueryFailed),
            Just(Ev::NotFound),
            Just(Ev::Tick),
        ]
    }

    proptest! {
        /// The venue's views are cumulative (executed qty non-decreasing, price per step
        /// arbitrary); delivered any number of times in any order, interleaved with failures:
        /// booked qty and quote equal the largest view delivered, never more, and an unknown
        /// order only becomes rejected through a venue answer.
        #[test]
        fn interleavings_never_double_book(
            steps in proptest::collection::vec((1u32..5, 1u32..200), 1..6),
            final_status in 0u8..3,
            events in proptest::collection::vec(ev(), 1..60),
        ) {
            // Venue views: view k has executed = sum of the first k+1 steps (in 0.01 units).
            let total: u32 = steps.iter().map(|s| s.0).sum();
            let qty = Decimal::new(i64::from(total), 2);
            let mut views = Vec::new();
            let (mut cq, mut cquote) = (Decimal::ZERO, Decimal::ZERO);
            for (k, (q, p)) in steps.iter().enumerate() {
                let dq = Decimal::new(i64::from(*q), 2);
                cq += dq;
                cquote += dq * Decimal::from(*p);
                let last = k + 1 == steps.len();
                let status = match (last, final_status) {
                    (false, _) => VenueStatus::PartiallyFilled,
                    (true, 0) => VenueStatus::Filled,
                    (true, 1) => VenueStatus::Cancelled,
                    _ => VenueStatus::Expired,
                };
                views.push(VenueOrder { status, executed_qty: cq, price: FillPrice::CumQuote(cquote) });
            }
            let mut t = table();
            sent(&mut t, 1);
            let mut now = 1_000 * MS;
            let (mut booked, mut booked_quote) = (Decimal::ZERO, Decimal::ZERO);
            let mut max_delivered = Decimal::ZERO;
            let mut max_quote = Decimal::ZERO;
            let mut was_unknown = false;
            let mut reconciled = false;
            for e in events {
                now += 700 * MS;
                let before = t.get(1).map(|o| o.state);
                let mut venue_rejected = false;
                let s = match e {
                    Ev::Reply(k) | Ev::Query(k) => {
                        let v = views[k.min(views.len() - 1)];
                        if t.get(1).is_some_and(|o| o.state != OrderState::Unresolved)
                            && v.executed_qty > max_delivered {
                            max_delivered = v.executed_qty;
                            max_quote = v.cum_quote();
                        }
                        if matches!(e, Ev::Reply(_)) { t.reply(1, Reply::Order(v), now) }
                        else { t.query_reply(1, QueryReply::Order(v), now) }
                    }
                    Ev::Unknown => t.reply(1, Reply::Unknown, now),
                    Ev::Rejected => { venue_rejected = true; t.reply(1, Reply::Rejected, now) }
                    Ev::QueryFailed => t.query_failed(1, now),
                    Ev::NotFound => { venue_rejected = true; t.query_reply(1, QueryReply::NotFound, now) }
                    Ev::Tick => {
                        if let Some(Due::Reconcile { symbol, .. }) = t.next_due(now) {
                            reconciled = true;
                            t.reconciled(symbol);
                        }
                        continue;
                    }
                };
                let Some(s) = s else { continue };
                if let Some(f) = s.fill {
                    prop_assert!(f.qty > Decimal::ZERO);
                    booked += f.qty;
                    booked_quote += f.qty * f.price;
                }
                if before == Some(OrderState::Unknown) { was_unknown = true; }
                if was_unknown && s.state == OrderState::Rejected && s.changed {
                    prop_assert!(venue_rejected, "unknown turned rejected without a venue answer");
                    prop_assert_eq!(s.reject, Some(RejectCause::NotFound));
                }
                prop_assert!(booked <= qty);
            }
            prop_assert_eq!(booked, max_delivered);
            prop_assert!((booked_quote - max_quote).abs() < Decimal::new(1, 18), "{} vs {}", booked_quote, max_quote);
            if !reconciled {
                if let Some(o) = t.get(1) {
                    prop_assert_eq!(o.filled, booked);
                }
            }
        }
    }

    /// One event on one of several orders of several symbols.
    #[derive(Clone, Debug)]
    enum MultiEv {
        Insert(u64, u16),
        Send(u64),
        Written(u64, bool),
        Unknown(u64),
        Filled(u64),
        NotFound(u64),
        QueryFailed(u64),
        Tick,
    }

    fn multi_ev() -> impl Strategy<Value = MultiEv> {
        prop_oneof![
            (0u64..6, 0u16..3).prop_map(|(q, s)| MultiEv::Insert(q, s)),
            (0u64..6).prop_map(MultiEv::Send),
            (0u64..6, any::<bool>()).prop_map(|(q, w)| MultiEv::Written(q, w)),
            (0u64..6).prop_map(MultiEv::Unknown),
            (0u64..6).prop_map(MultiEv::Filled),
            (0u64..6).prop_map(MultiEv::NotFound),
            (0u64..6).prop_map(MultiEv::QueryFailed),
            Just(MultiEv::Tick),
        ]
    }

    proptest! {
        /// The per-symbol entry gate always equals "some tracked order of that symbol is
        /// unknown or unresolved", and the table never exceeds its capacity.
        #[test]
        fn entry_gate_matches_the_orders(events in proptest::collection::vec(multi_ev(), 1..120)) {
            let mut t = table();
            let mut now = 0;
            for e in events {
                now += 900 * MS;
                match e {
                    MultiEv::Insert(q, s) => { let _ = t.insert(q, SymbolId(s), Side::Sell, d("2")); }
                    MultiEv::Send(q) => { t.sent(q, now); }
                    MultiEv::Written(q, w) => { t.transport_failed(q, w, now); }
                    MultiEv::Unknown(q) => { t.reply(q, Reply::Unknown, now); }
                    MultiEv::Filled(q) => {
                        t.query_reply(q, QueryReply::Order(order(VenueStatus::Filled, "2", "3")), now);
                    }
                    MultiEv::NotFound(q) => { t.query_reply(q, QueryReply::NotFound, now); }
                    MultiEv::QueryFailed(q) => { t.query_failed(q, now); }
                    MultiEv::Tick => {
                        while let Some(due) = t.next_due(now) {
                            if let Due::Reconcile { symbol, .. } = due {
                                t.reconciled(symbol);
                            }
                        }
                    }
                }
                prop_assert!(t.len() <= 8);
                for s in 0..3u16 {
                    let any = t.iter().any(|o| {
                        o.symbol == SymbolId(s)
                            && matches!(o.state, OrderState::Unknown | OrderState::Unresolved)
                    });
                    prop_assert_eq!(t.has_unknown(SymbolId(s)), any);
                }
            }
        }
    }
}
