//! The [`Executor`]: intent → exact quantity → journal → signed request → venue or paper fill
//! → journal → report, with the in-flight order table and venue-side exit checks.

use std::time::Duration;

use rust_decimal::Decimal;

use super::journal::{Journal, Record, RecordKind};
use super::transport::{HttpTransport, TransportEvent};
use super::transport_venue::{EntryExits, OrderReply, OrderVenue};
use crate::types::fill_model::{FillModel, PaperVenue};
use crate::types::{
    ExecReport, Instrument, OrderIntent, RejectReason, ReportStatus, Side, SymbolId,
};
use crate::venue::binance::{BinanceOrderBuilder, BinanceVenue};
use crate::venue::order::{OrderFields, OrderReject};

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
}

/// Where orders go.
#[derive(Debug)]
enum Route {
    /// Filled in-process with the shared fill model.
    Paper,
    /// Sent to a venue over HTTP.
    Venue(Box<HttpTransport>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PendingState {
    /// Request on the wire or queued: waiting for its reply.
    Sent,
    /// Outcome unknown or not final: an order-status query is due at `due_ns`.
    NeedsQuery,
    /// Order-status query on the wire.
    Querying,
    /// A reduce-only exit the venue refused because its position is already gone: a position
    /// query is due (see [`Executor`], "venue-side exits").
    NeedsPosition,
    /// Position query on the wire.
    QueryingPosition,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    symbol: SymbolId,
    side: Side,
    qty: Decimal,
    seq: u64,
    session: u32,
    state: PendingState,
    due_ns: u64,
    queries: u32,
    reduce_only: bool,
    /// Reference price on the tick (which venue exit closed the position).
    ref_price: Decimal,
    /// Exits sent with this entry (on the tick), armed at the venue once it fills.
    exits: (Option<Decimal>, Option<Decimal>),
}

/// Tag bit marking a transport request as an order-status query.
const QUERY_TAG: u64 = 1 << 63;
/// Tag bit marking a transport request as a position query (venue-side exit check).
const POSITION_TAG: u64 = 1 << 62;
/// Delay before querying an order the venue acked but did not fill.
const ACK_QUERY_DELAY_NS: u64 = 20_000_000;
/// Status queries per order before it is reported lost (the journal keeps it for the next start).
const MAX_QUERIES: u32 = 50;

/// What [`Executor::poll`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecEvent {
    /// A fill or rejection for compute (already journaled).
    Report(ExecReport),
    /// `order_rtt`: order request written → its reply parsed, ns (status and position
    /// queries are not sampled: on Bybit the fill is learnt from the status query after the ack).
    Rtt(u64),
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
/// closed), the exit is reported — and journaled — as **filled at the venue exit's trigger
/// price** (the take-profit when the exit's reference price is at or beyond it, the stop-loss
/// when at or beyond that, otherwise the nearer level), its quantity the exit's, its fee from
/// the fill model; compute then books the position as closed exactly as if its own exit had
/// filled (a later reduce-only exit of the same venue-closed position, e.g. the rest of a
/// partial drift reduction, is booked the same way). The venue's actual fill may differ from
/// the trigger by its slippage (not known from the position query; the venue's account balance
/// is the authority). If the venue still holds the position, or no exits were armed, the
/// refusal is reported as `Rejected(VenueReduceOnly)`. Armed exits live in memory only (the
/// journal does not record them): after a restart the first such refusal is a plain rejection
/// and start-up reconciliation reports the position difference.
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
    /// later partial exit of the same (venue-closed) position is booked at the trigger too.
    armed: Vec<(Option<Decimal>, Option<Decimal>)>,
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
        let venue = OrderVenue::Binance(BinanceVenue::new(builder, "", "", 0));
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

    /// A venue executor: requests built by `venue` go out through `transport`; fees are
    /// computed with `paper.taker_fee` (the account's commission rate).
    pub fn venue(
        instruments: Vec<Instrument>,
        names: Vec<String>,
        venue: OrderVenue,
        transport: HttpTransport,
        paper: PaperVenue,
        session: u32,
        max_pending: usize,
    ) -> Self {
        Self::with_route(
            instruments,
            names,
            venue,
            paper,
            Some(transport),
            session,
            max_pending,
        )
    }

    fn with_route(
        instruments: Vec<Instrument>,
        names: Vec<String>,
        venue: OrderVenue,
        paper: PaperVenue,
        transport: Option<HttpTransport>,
        session: u32,
        max_pending: usize,
    ) -> Self {
        assert_eq!(instruments.len(), names.len(), "one instrument per symbol");
        let n = instruments.len();
        Self {
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
            pending: Vec::with_capacity(max_pending),
            max_pending,
            halted: false,
            stats: ExecStats::default(),
            armed: vec![(None, None); n],
        }
    }

    /// Journals every intent, ack, fill and rejection to `j` from now on.
    pub fn set_journal(&mut self, j: Journal) {
        self.journal = Some(j);
    }

    /// Sets this process's session number (the journal's, see `journal::next_session`).
    pub fn set_session(&mut self, session: u32) {
        self.session = session;
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

    /// The venue request builder (start-up queries).
    pub fn venue_mut(&mut self) -> &mut OrderVenue {
        &mut self.venue
    }

    /// The transport, when orders go to a venue.
    pub fn transport_mut(&mut self) -> Option<&mut HttpTransport> {
        match &mut self.route {
            Route::Venue(t) => Some(t),
            Route::Paper => None,
        }
    }

    /// The fill model (fees for venue fills, prices and fees for paper fills).
    pub fn fill_model(&self) -> FillModel {
        self.model
    }

    /// Orders sent and not finished (waiting for a reply or a status query).
    #[inline]
    pub fn in_flight(&self) -> usize {
        self.pending.len()
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

    fn reject(
        &mut self,
        it: &OrderIntent,
        reason: RejectReason,
        code: i32,
        journaled: bool,
    ) -> ExecReport {
        self.stats.rejects[reason.index()] += 1;
        if journaled {
            let mut r = Record::new(
                RecordKind::Reject,
                it.symbol,
                it.side,
                self.session,
                it.client_seq,
            );
            r.qty = it.qty;
            r.reason = reason.index() as u8;
            r.code = code;
            self.journal(&r);
        }
        ExecReport {
            symbol: it.symbol,
            client_seq: it.client_seq,
            side: it.side,
            status: ReportStatus::Rejected(reason),
            price: Decimal::ZERO,
            qty: it.qty,
            fee: Decimal::ZERO,
        }
    }

    /// Submits one intent. `timestamp_ms` is the venue-clock request time; `on_signed` gets
    /// the signed request bytes as soon as they exist. Returns a report at once for local
    /// rejections and paper fills; `None` when the order went to the venue (its report comes
    /// from [`Executor::poll`]).
    #[inline]
    pub fn submit<F: FnOnce(&[u8])>(
        &mut self,
        it: &OrderIntent,
        timestamp_ms: u64,
        on_signed: F,
    ) -> Option<ExecReport> {
        let i = it.symbol.index();
        let inst = self.instruments[i];
        // Compute checked the filters already; checking again keeps a wrong intent off the wire.
        if let Some(reason) = inst.violation(it.qty, it.ref_price, it.reduce_only) {
            return Some(self.reject(it, reason, 0, false));
        }
        if self.halted {
            return Some(self.reject(it, RejectReason::Lost, 0, false));
        }
        if matches!(self.route, Route::Venue(_)) && self.pending.len() >= self.max_pending {
            return Some(self.reject(it, RejectReason::Lost, 0, false));
        }
        let mut rec = Record::new(
            RecordKind::Intent,
            it.symbol,
            it.side,
            self.session,
            it.client_seq,
        );
        rec.qty = it.qty;
        rec.reduce_only = it.reduce_only;
        rec.price = inst.price_on_tick(it.ref_price);
        if !self.journal(&rec) {
            return Some(self.reject(it, RejectReason::Lost, 0, false));
        }
        let built = self.venue.build_order(
            &inst,
            &OrderFields {
                symbol: &self.names[i],
                side: it.side,
                quantity: it.qty,
                reduce_only: it.reduce_only,
                client_seq: it.client_seq,
                timestamp_ms,
            },
            rec.price,
            EntryExits {
                take_profit: it.take_profit,
                stop_loss: it.stop_loss,
            },
        );
        let bytes = match built {
            Ok(b) => b,
            Err(e) => {
                let reason = match e {
                    OrderReject::Filter(r) => r,
                    _ => RejectReason::VenueFilter,
                };
                return Some(self.reject(it, reason, 0, true));
            }
        };
        self.stats.orders += 1;
        on_signed(bytes);
        match &mut self.route {
            Route::Paper => {
                let (price, fee) = self.paper.fill(&inst, it.side, it.ref_price, it.qty);
                Some(self.fill(
                    it.symbol,
                    it.side,
                    it.client_seq,
                    self.session,
                    price,
                    it.qty,
                    fee,
                    0,
                ))
            }
            Route::Venue(t) => match t.send(it.client_seq, bytes) {
                Ok(()) => {
                    let exits = self.venue.last_exits();
                    self.pending.push(Pending {
                        symbol: it.symbol,
                        side: it.side,
                        qty: it.qty,
                        seq: it.client_seq,
                        session: self.session,
                        state: PendingState::Sent,
                        due_ns: 0,
                        queries: 0,
                        reduce_only: it.reduce_only,
                        ref_price: rec.price,
                        exits,
                    });
                    None
                }
                // Never left the process: the venue cannot have it.
                Err(_) => Some(self.reject(it, RejectReason::Lost, 0, true)),
            },
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
        self.journal(&r);
        self.stats.fills += 1;
        ExecReport {
            symbol,
            client_seq: seq,
            side,
            status: ReportStatus::Filled,
            price,
            qty,
            fee,
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
            .unwrap_or(ExecReport {
                symbol: it.symbol,
                client_seq: it.client_seq,
                side: it.side,
                status: ReportStatus::Rejected(RejectReason::Lost),
                price: Decimal::ZERO,
                qty: it.qty,
                fee: Decimal::ZERO,
            })
    }

    /// Drives the venue transport: replies become journaled reports (and `order_rtt`
    /// samples), unknown outcomes become order-status queries. `now_ns` is the monotonic
    /// clock, `timestamp_ms` the venue clock for query signatures; waits up to `timeout` for
    /// the socket only when nothing progressed. Returns the number of events handed out.
    #[inline]
    pub fn poll<F: FnMut(ExecEvent)>(
        &mut self,
        now_ns: u64,
        timestamp_ms: u64,
        timeout: Option<Duration>,
        mut on_event: F,
    ) -> usize {
        if self.pending.is_empty() {
            return 0;
        }
        // Take the transport out so that replies can be handled with `self` borrowed.
        let Route::Venue(mut t) = std::mem::replace(&mut self.route, Route::Paper) else {
            return 0;
        };
        let mut n = 0;
        t.poll(timeout, |ev| {
            n += 1;
            match ev {
                TransportEvent::Response {
                    tag,
                    status,
                    body,
                    rtt_ns,
                } => {
                    if tag & (QUERY_TAG | POSITION_TAG) == 0 {
                        on_event(ExecEvent::Rtt(rtt_ns));
                    }
                    let r = if tag & POSITION_TAG != 0 {
                        let venue_qty = self.venue.parse_position(status, body);
                        self.on_position(tag, venue_qty, now_ns)
                    } else {
                        let reply = self.venue.parse_order_reply(status, body);
                        self.on_reply(tag, reply, now_ns)
                    };
                    if let Some(r) = r {
                        on_event(ExecEvent::Report(r));
                    }
                }
                TransportEvent::Failed { tag, .. } if tag & POSITION_TAG != 0 => {
                    if let Some(r) = self.on_position(tag, None, now_ns) {
                        on_event(ExecEvent::Report(r));
                    }
                }
                TransportEvent::Failed { tag, written } => {
                    let reply = if written || tag & QUERY_TAG != 0 {
                        OrderReply::Unknown
                    } else {
                        OrderReply::NotFound
                    };
                    if let Some(r) = self.on_reply(tag, reply, now_ns) {
                        on_event(ExecEvent::Report(r));
                    }
                }
            }
        });
        // Status queries that are due (lost replies, acked orders).
        for k in 0..self.pending.len() {
            let p = self.pending[k];
            if p.state == PendingState::NeedsPosition && p.due_ns <= now_ns {
                // The entry that armed the venue exits may still be waiting for its fill (the
                // venue filled it and closed it again before we learnt of the fill): book the
                // entry first, so the exit is judged against its exits.
                if self
                    .pending
                    .iter()
                    .any(|q| q.symbol == p.symbol && !q.reduce_only && q.seq != p.seq)
                {
                    continue;
                }
                let bytes = self
                    .venue
                    .build_position(&self.names[p.symbol.index()], timestamp_ms);
                if t.send(p.seq | POSITION_TAG, bytes).is_ok() {
                    self.stats.requeries += 1;
                    self.pending[k].state = PendingState::QueryingPosition;
                    self.pending[k].queries += 1;
                }
                continue;
            }
            if p.state != PendingState::NeedsQuery || p.due_ns > now_ns {
                continue;
            }
            let bytes = self.venue.build_query_order(
                &self.names[p.symbol.index()],
                p.session,
                p.seq,
                timestamp_ms,
            );
            if t.send(p.seq | QUERY_TAG, bytes).is_ok() {
                self.stats.requeries += 1;
                self.pending[k].state = PendingState::Querying;
                self.pending[k].queries += 1;
            }
        }
        self.route = Route::Venue(t);
        n
    }

    /// Applies a venue reply to pending order `tag`; the final ones become reports.
    fn on_reply(&mut self, tag: u64, reply: OrderReply, now_ns: u64) -> Option<ExecReport> {
        let seq = tag & !(QUERY_TAG | POSITION_TAG);
        let k = self.pending.iter().position(|p| p.seq == seq)?;
        let p = self.pending[k];
        let again = |s: &mut Self, delay: u64| {
            let q = &mut s.pending[k];
            q.state = PendingState::NeedsQuery;
            q.due_ns = now_ns + delay;
            None
        };
        match reply {
            OrderReply::Filled {
                order_id,
                price,
                qty,
            } => {
                self.pending.swap_remove(k);
                if !p.reduce_only {
                    // A new position (or a flip): the venue holds exactly these exits now.
                    self.armed[p.symbol.index()] = p.exits;
                }
                let fee = self.model.fee(price, qty);
                Some(self.fill(
                    p.symbol, p.side, p.seq, p.session, price, qty, fee, order_id,
                ))
            }
            OrderReply::Accepted { order_id } => {
                if p.state == PendingState::Sent {
                    self.stats.acks += 1;
                    let mut r = Record::new(RecordKind::Ack, p.symbol, p.side, p.session, p.seq);
                    r.aux = order_id;
                    r.qty = p.qty;
                    self.journal(&r);
                }
                let delay = if p.state == PendingState::Sent && self.venue.acks_before_fill() {
                    0
                } else {
                    ACK_QUERY_DELAY_NS
                };
                again(self, delay)
            }
            OrderReply::Unknown if p.queries < MAX_QUERIES => again(
                self,
                if p.queries == 0 {
                    0
                } else {
                    ACK_QUERY_DELAY_NS
                },
            ),
            OrderReply::Unknown => {
                // Still unknown after many queries: leave it to the next start's recovery
                // (the journal has no final record for it); compute is told it is lost.
                self.pending.swap_remove(k);
                self.stats.rejects[RejectReason::Lost.index()] += 1;
                Some(self.rejected(&p, RejectReason::Lost))
            }
            OrderReply::Error { code }
                if p.reduce_only
                    && self.venue.reject_reason(code) == RejectReason::VenueReduceOnly
                    && (self.armed[p.symbol.index()] != (None, None)
                        || self.pending.iter().any(|q| {
                            q.symbol == p.symbol && !q.reduce_only && q.exits != (None, None)
                        })) =>
            {
                // The venue may have closed the position with its own TP/SL: ask it.
                let q = &mut self.pending[k];
                q.state = PendingState::NeedsPosition;
                q.due_ns = now_ns;
                q.queries = 0;
                None
            }
            OrderReply::NotFound | OrderReply::Closed | OrderReply::Error { .. } => {
                self.pending.swap_remove(k);
                let (reason, code) = match reply {
                    OrderReply::Error { code } => (self.venue.reject_reason(code), code as i32),
                    OrderReply::Closed => (RejectReason::VenueOther, 0),
                    _ => (RejectReason::Lost, -2013),
                };
                self.stats.rejects[reason.index()] += 1;
                let mut r = Record::new(RecordKind::Reject, p.symbol, p.side, p.session, p.seq);
                r.qty = p.qty;
                r.reason = reason.index() as u8;
                r.code = code;
                self.journal(&r);
                Some(self.rejected(&p, reason))
            }
        }
    }

    /// Applies a position-query reply (`venue_qty`: the venue's signed position, `None` when
    /// not understood) to the refused reduce-only exit `tag`: flat (or the closed side gone)
    /// → filled at the venue exit's trigger price; still held → `Rejected(VenueReduceOnly)`.
    fn on_position(
        &mut self,
        tag: u64,
        venue_qty: Option<Decimal>,
        now_ns: u64,
    ) -> Option<ExecReport> {
        let seq = tag & !(QUERY_TAG | POSITION_TAG);
        let k = self.pending.iter().position(|p| p.seq == seq)?;
        let p = self.pending[k];
        let Some(q) = venue_qty else {
            if p.queries < MAX_QUERIES {
                let x = &mut self.pending[k];
                x.state = PendingState::NeedsPosition;
                x.due_ns = now_ns + ACK_QUERY_DELAY_NS;
                return None;
            }
            return Some(self.refuse(k, RejectReason::VenueReduceOnly, 110017));
        };
        // The exit sells a long (buys back a short): the venue closed it if it holds no long
        // (no short) any more.
        let gone = match p.side {
            Side::Sell => q <= Decimal::ZERO,
            Side::Buy => q >= Decimal::ZERO,
        };
        let i = p.symbol.index();
        let price = match (gone, self.armed[i]) {
            (true, (tp, sl)) => venue_exit_price(p.side, p.ref_price, tp, sl),
            (false, _) => None,
        };
        let Some(price) = price else {
            return Some(self.refuse(k, RejectReason::VenueReduceOnly, 110017));
        };
        self.pending.swap_remove(k);
        let fee = self.model.fee(price, p.qty);
        Some(self.fill(p.symbol, p.side, p.seq, p.session, price, p.qty, fee, 0))
    }

    /// Removes pending `k` and reports it rejected for `reason` (journaled with `code`).
    fn refuse(&mut self, k: usize, reason: RejectReason, code: i32) -> ExecReport {
        let p = self.pending.swap_remove(k);
        self.stats.rejects[reason.index()] += 1;
        let mut r = Record::new(RecordKind::Reject, p.symbol, p.side, p.session, p.seq);
        r.qty = p.qty;
        r.reason = reason.index() as u8;
        r.code = code;
        self.journal(&r);
        self.rejected(&p, reason)
    }

    fn rejected(&self, p: &Pending, reason: RejectReason) -> ExecReport {
        ExecReport {
            symbol: p.symbol,
            client_seq: p.seq,
            side: p.side,
            status: ReportStatus::Rejected(reason),
            price: Decimal::ZERO,
            qty: p.qty,
            fee: Decimal::ZERO,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ExecStats {
        &self.stats
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
        OrderIntent {
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
        }
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
