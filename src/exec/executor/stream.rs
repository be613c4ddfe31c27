//! Private-stream events into the executor (drained by the execution stage between orders).
//!
//! - Our orders: an update is the venue's cumulative view of an order, applied to the
//!   [`OrderTable`](crate::exec::order_state::OrderTable) exactly as the answer to a status
//!   query: the table books only what the view adds over what it already booked (by cumulative
//!   quantity and quote), so a fill learnt from the stream and again from the REST reply (in
//!   either order), or from a repeated event, is booked once.
//! - Venue-side closes (a triggered TP/SL, a liquidation, ADL): each execution (deduplicated by
//!   the venue's trade id) adds to the symbol's unclaimed [`VenueClose`] at the venue's price,
//!   quantity and fee. The engine's own exit of that position, refused by the venue (nothing
//!   left to reduce), claims it and is booked at that price instead of the trigger price (the
//!   trigger price stays the fallback while the stream is down or silent). A close no exit of
//!   ours claims within [`CLAIM_WAIT_NS`] is booked on its own (journaled as a fill of no
//!   order, reported as a reconciliation is), in full: the venue executed it whatever this
//!   executor booked since (an entry sent before it was known — a flip — books the opposite
//!   side, yet the close still closed the position before it). Closes wait in a per-symbol
//!   queue in the stream's order (the venue's): a fill of ours the stream reported before a
//!   close is booked before it, any other fill after every close queued when it is booked, and
//!   a close waits for the fills before it; an execution of ours between two executions of
//!   the venue makes them two closes (two fills, as the venue's). What an exit booked at the
//!   trigger price (or beyond the close it claimed) stands for a close still to come: that
//!   much of the next close on that side executed by then ([`Owed`]: no later than the venue
//!   clock when it was booked, plus [`OWED_SLACK_MS`]) is already booked and dropped. It
//!   outlives a re-sync: a close that executed after the stream's new subscription and
//!   before the exit was refused is told after the re-sync; one made during the gap never
//!   comes, and a later close is not taken for it (it executed after the stamp).
//! - After a gap (connect, reconnect) the venue's positions are read over REST
//!   ([`AccountEvent::Resync`]): a symbol whose position differs from the booked one is
//!   unknown (entries wait) and left to the position audit, which books the venue's own
//!   executions by id (the stream's later copies of them are duplicates) or finds it in step
//!   once the stream's frames caught up. Never taken at the mark while the audit is on (a
//!   symbol with an order in flight is left alone; with the audit off, the mark is all there
//!   is).

use rust_decimal::Decimal;

use super::{ExecEvent, Executor};
use crate::exec::order_state::{FillPrice, QueryReply, VenueOrder};
use crate::types::{AccountEvent, OrderOrigin, OrderUpdate, Side, StreamFill, SymbolId};

/// How long a venue-side close waits for the engine's exit to claim it, ns.
pub const CLAIM_WAIT_NS: u64 = 250_000_000;
/// Trade ids remembered for deduplication.
const SEEN: usize = 256;

/// The executions of one venue-side close of a symbol not yet booked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueClose {
    /// Side of the venue's order.
    pub side: Side,
    /// Quantity executed.
    pub qty: Decimal,
    /// `Σ price · qty`.
    pub quote: Decimal,
    /// Fees, quote currency.
    pub fee: Decimal,
    /// When the first execution arrived, ns.
    pub since_ns: u64,
    /// An execution of ours followed it on the stream: a later venue execution is another
    /// close (booked separately, after this one).
    pub sealed: bool,
    /// Its number among the symbol's closes (1, 2, …: the stream's order).
    pub n: u32,
}

/// Unbooked closes kept per symbol; one more books the oldest first.
const QUEUE: usize = 16;

impl VenueClose {
    /// `qty` of it at its average price and its fee pro rata: `(price, fee)`.
    fn part(&self, qty: Decimal) -> (Decimal, Decimal) {
        (self.quote / self.qty, self.fee * qty / self.qty)
    }
}

/// Venue-clock slack, ms, of what an exit booked ahead of the stream owes it (its close
/// executed by then) when that time is this executor's estimate of the venue clock (local
/// clock + measured offset) rather than the execution's own.
pub const OWED_SLACK_MS: u64 = 1_000;

/// What booked exits owe a symbol's venue closes still to come on the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Owed {
    /// Signed quantity (`Buy` positive).
    qty: Decimal,
    /// Venue ms by which every close it stands for had executed: the executions' own time
    /// when read, else the venue clock when booked plus [`OWED_SLACK_MS`] (0: unknown, any).
    until_ms: u64,
    /// Venue ms of the latest booking (0: unknown).
    since_ms: u64,
}

impl Owed {
    /// How much of an execution of signed quantity `signed` (venue time `ts_ms`, 0: unknown)
    /// it stands for: none of the other side, nor of an execution after its stamp.
    fn absorbs(&self, signed: Decimal, ts_ms: u64) -> Decimal {
        let same_side =
            !self.qty.is_zero() && self.qty.is_sign_negative() == signed.is_sign_negative();
        let in_time = self.until_ms == 0 || ts_ms == 0 || ts_ms <= self.until_ms;
        match same_side && in_time {
            true => self.qty.abs().min(signed.abs()),
            false => Decimal::ZERO,
        }
    }

    /// Adds `signed`, booked at venue ms `now_ms`, whose closes executed by `until_ms` (0 for
    /// either: unknown).
    fn add(&mut self, signed: Decimal, now_ms: u64, until_ms: u64) {
        let known = self.qty.is_zero() || self.until_ms != 0;
        self.qty += signed;
        self.until_ms = match (known, until_ms) {
            (true, t) if t != 0 => self.until_ms.max(t),
            _ => 0,
        };
        self.since_ms = now_ms;
    }
}

/// The executor's private-stream state (preallocated per symbol).
#[derive(Debug)]
pub(super) struct StreamState {
    /// The stream is up: a refused exit waits for its venue close before the trigger price.
    pub(super) up: bool,
    /// Per symbol: its unbooked closes, oldest first.
    closes: Vec<[Option<VenueClose>; QUEUE]>,
    /// Closes queued, all symbols.
    open: usize,
    /// Per symbol: closes started so far (the newest one's number).
    started: Vec<u32>,
    /// Per symbol: venue-close executions booked before they arrived (an exit booked at the
    /// trigger price, or beyond the close it claimed).
    owed: Vec<Owed>,
    /// Venue ms of the last drop of the stream (0: none).
    dropped_ms: u64,
    seen: [u64; SEEN],
    seen_next: usize,
    /// Venue-side closes booked at the venue's price (claimed by an exit or on their own).
    pub(super) booked: u64,
    /// Executions seen twice (dropped).
    pub(super) duplicates: u64,
}

impl StreamState {
    pub(super) fn new(symbols: usize) -> Self {
        Self {
            up: false,
            closes: vec![[None; QUEUE]; symbols],
            open: 0,
            started: vec![0; symbols],
            owed: vec![Owed::default(); symbols],
            dropped_ms: 0,
            seen: [0; SEEN],
            seen_next: 0,
            booked: 0,
            duplicates: 0,
        }
    }

    /// Symbol `i`'s oldest unbooked close.
    fn oldest(&self, i: usize) -> Option<VenueClose> {
        self.closes.get(i).and_then(|q| q[0])
    }

    /// Takes symbol `i`'s `j`-th unbooked close out of its queue.
    fn take(&mut self, i: usize, j: usize) -> Option<VenueClose> {
        let q = &mut self.closes[i];
        let c = q[j].take()?;
        q[j..].rotate_left(1);
        self.open -= 1;
        Some(c)
    }

    /// Whether symbol `i` has a close queued, not booked yet.
    pub(super) fn queued(&self, i: usize) -> bool {
        self.oldest(i).is_some()
    }

    /// Trade ids seen on the stream (0: empty slot).
    pub(super) fn seen_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.seen.iter().copied()
    }

    /// Remembers `id`; false when it was seen already (0 = no id: never a duplicate).
    fn first_time(&mut self, id: u64) -> bool {
        if id != 0 && self.seen.contains(&id) {
            return false;
        }
        self.seen[self.seen_next] = id;
        self.seen_next = (self.seen_next + 1) % SEEN;
        true
    }
}

/// Longest client id prefix: `ct` + a `u32` session + `-`.
const PREFIX_MAX: usize = 2 + 10 + 1;

impl Executor {
    /// Applies one private-stream order update at `now_ns`, reporting what it books to
    /// `on_event`. Returns false for an order that is not this session's (`ct<session>-<seq>`):
    /// another session's, the venue's own (liquidation, ADL) or one already finished.
    /// No allocation.
    pub fn on_stream_order<F: FnMut(ExecEvent)>(
        &mut self,
        u: &OrderUpdate,
        now_ns: u64,
        on_event: &mut F,
    ) -> bool {
        let mut buf = [0u8; PREFIX_MAX];
        let Some(seq) = u
            .client_id
            .seq_after(session_prefix(self.session, &mut buf))
        else {
            return false;
        };
        let view = VenueOrder {
            status: u.status,
            executed_qty: u.cum_qty,
            price: FillPrice::Avg(u.avg_price),
        };
        match self.table.query_reply(seq, QueryReply::Order(view), now_ns) {
            Some(step) => {
                self.stats.stream_updates += 1;
                self.on_step(step, 0, on_event);
                true
            }
            None => false,
        }
    }
}

impl Executor {
    /// Applies one private-stream event at `now_ns` (no allocation): our orders' updates, the
    /// venue-side closes' executions, the re-sync after a gap, the link state.
    pub fn on_account_event<F: FnMut(ExecEvent)>(
        &mut self,
        ev: &AccountEvent,
        now_ns: u64,
        on_event: &mut F,
    ) {
        match *ev {
            AccountEvent::Order(ref u) => {
                self.on_stream_order(u, now_ns, on_event);
            }
            AccountEvent::Fill(ref f) => self.on_venue_fill(f, now_ns, on_event),
            AccountEvent::Resync { symbol, qty, mark } => {
                self.book_venue_close(symbol, on_event);
                let i = symbol.index();
                self.forget_owed_before_drop(i);
                let busy = self.pending.iter().any(|p| p.symbol == symbol);
                if busy || i >= self.booked.len() {
                    return;
                }
                if qty == self.booked[i] {
                    self.resync_in_step(i);
                } else if self.leave_to_audit(symbol) {
                    // Unknown (entries wait) until the audit books the venue's own executions
                    // by id or finds it in step.
                    self.sync_position(symbol, on_event);
                } else if mark > Decimal::ZERO {
                    self.reconcile(symbol, qty, mark, on_event);
                }
            }
            AccountEvent::Link(up) => {
                if self.stream.up && !up {
                    self.stream_dropped(self.venue_ms_now);
                    self.stream.dropped_ms = self.venue_ms_now;
                }
                self.stream.up = up;
                if up {
                    // The stream tells the venue's executions from now on; the audit stops.
                    self.audit.forget_differences();
                    for i in 0..self.names.len() {
                        self.sync_position(SymbolId(i as u16), on_event);
                    }
                }
            }
            AccountEvent::Position { .. }
            | AccountEvent::Balance { .. }
            | AccountEvent::Expired => {}
        }
    }

    /// Private-stream counters: venue-side closes booked at the venue's price, executions seen
    /// twice, and whether the stream is up.
    pub fn stream_counters(&self) -> (u64, u64, bool) {
        (self.stream.booked, self.stream.duplicates, self.stream.up)
    }

    /// Venue-side closes queued, not booked yet (all symbols).
    pub fn closes_queued(&self) -> usize {
        self.stream.open
    }

    /// Books the venue-side closes no exit claimed within 250 ms (one load when
    /// there are none).
    #[inline]
    pub fn stream_timers<F: FnMut(ExecEvent)>(&mut self, now_ns: u64, on_event: &mut F) {
        if self.stream.open == 0 {
            return;
        }
        for i in 0..self.stream.closes.len() {
            let symbol = SymbolId(i as u16);
            while let Some(c) = self.stream.oldest(i) {
                let exit_pending = self
                    .pending
                    .iter()
                    .any(|p| p.symbol == symbol && p.reduce_only && p.side == c.side);
                if now_ns.saturating_sub(c.since_ns) < CLAIM_WAIT_NS
                    || exit_pending
                    || self.fill_precedes(symbol, c.n)
                {
                    break;
                }
                self.book_oldest_close(symbol, on_event);
            }
        }
    }

    /// Whether an order of ours not finished yet (its fill not booked) executed before
    /// `symbol`'s close `n`.
    fn fill_precedes(&self, symbol: SymbolId, n: u32) -> bool {
        self.pending
            .iter()
            .any(|p| p.symbol == symbol && (1..=n).contains(&p.precedes))
    }

    /// An execution of a venue-side close (not of an order of ours): added to the symbol's
    /// unclaimed close once (by trade id), less what was booked for it already (`owed`); an
    /// unclaimed close of the other side, or one an execution of ours followed, happened
    /// before it and is booked first (so each close is one fill, as the venue's). The fills of
    /// ours known now (held back, not booked yet) happened before it: marked so, the close
    /// goes after them ([`Executor::book_close_before`]).
    fn on_venue_fill<F: FnMut(ExecEvent)>(
        &mut self,
        f: &StreamFill,
        now_ns: u64,
        on_event: &mut F,
    ) {
        let i = f.symbol.index();
        if i >= self.stream.closes.len() {
            return;
        }
        if f.origin == OrderOrigin::Client {
            self.on_own_execution(f);
            return;
        }
        if !self.stream.first_time(f.trade_id) {
            self.stream.duplicates += 1;
            return;
        }
        let absorbed = self.stream.owed[i].absorbs(f.side.signed(f.qty), f.ts_ms);
        self.stream.owed[i].qty -= f.side.signed(absorbed);
        let qty = f.qty - absorbed;
        if qty.is_zero() {
            return;
        }
        if self.venue_fills.was_booked(f.trade_id) {
            // Booked from an executions read (the venue's own, not as an exit's close: nothing
            // owed) before the stream told it: a stream-on Bybit soak booked one twice.
            self.stream.duplicates += 1;
            return;
        }
        let fee = f.fee * qty / f.qty;
        let newest = self.stream.closes[i].iter_mut().flatten().last();
        if let Some(c) = newest.filter(|c| c.side == f.side && !c.sealed) {
            c.qty += qty;
            c.quote += f.price * qty;
            c.fee += fee;
            return;
        }
        if self.stream.closes[i][QUEUE - 1].is_some() {
            self.book_oldest_close(f.symbol, on_event);
        }
        self.stream.started[i] += 1;
        let n = self.stream.started[i];
        for k in 0..self.pending.len() {
            let seq = self.pending[k].seq;
            if self.pending[k].symbol == f.symbol
                && self.pending[k].precedes == 0
                && self
                    .deferred
                    .iter()
                    .any(|(s, _)| s.seq == seq && s.fill.is_some())
            {
                self.pending[k].precedes = n;
            }
        }
        let free = self.stream.closes[i].iter().position(Option::is_none);
        if let Some(j) = free {
            self.stream.closes[i][j] = Some(VenueClose {
                side: f.side,
                qty,
                quote: f.price * qty,
                fee,
                since_ns: now_ns,
                sealed: false,
                n,
            });
            self.stream.open += 1;
        }
    }

    /// An execution of an order of ours on the stream: it happened after the symbol's closes
    /// so far and before the next one (the stream is in the venue's order).
    fn on_own_execution(&mut self, f: &StreamFill) {
        let i = f.symbol.index();
        if let Some(c) = self.stream.closes[i].iter_mut().flatten().last() {
            c.sealed = true;
        }
        let mut buf = [0u8; PREFIX_MAX];
        let prefix = session_prefix(self.session, &mut buf);
        let Some(seq) = f.client_id.seq_after(prefix) else {
            return;
        };
        let next = self.stream.started[i] + 1;
        if let Some(p) = self.pending.iter_mut().find(|p| p.seq == seq) {
            if p.precedes == 0 {
                p.precedes = next;
            }
        }
    }

    /// Books `symbol`'s unbooked closes that came before a fill of order `k`: every one when
    /// the stream had not reported the fill when they came (the venue executed it after
    /// them), else those before the first close it preceded.
    pub(super) fn book_close_before<F: FnMut(ExecEvent)>(&mut self, k: usize, on_event: &mut F) {
        let p = self.pending[k];
        let limit = match p.precedes {
            0 => u32::MAX,
            n => n,
        };
        while self
            .stream
            .oldest(p.symbol.index())
            .is_some_and(|c| c.n < limit)
        {
            self.book_oldest_close(p.symbol, on_event);
        }
    }

    /// A refused exit booked `qty` on `side` at the trigger price (or beyond the close it
    /// claimed): the venue's close of it, executed by `executed_ms` (venue ms; 0: by now, the
    /// venue clock of the last poll give or take [`OWED_SLACK_MS`]), is still to come and is
    /// not booked again.
    pub(super) fn owe_venue_close(
        &mut self,
        symbol: SymbolId,
        side: Side,
        qty: Decimal,
        executed_ms: u64,
    ) {
        let now = self.venue_ms_now;
        let until = match (executed_ms, now) {
            (0, 0) => 0,
            (0, t) => t + OWED_SLACK_MS,
            (t, _) => t,
        };
        if let Some(o) = self.stream.owed.get_mut(symbol.index()) {
            o.add(side.signed(qty), now, until);
        }
    }

    /// At a re-sync of symbol `i`: what was owed when the stream dropped is forgotten. A close
    /// it stands for executed before that booking, so its frame came before the drop (and
    /// was absorbed) or was lost in the gap; what was booked during the gap stays (a close
    /// after the new subscription is told).
    fn forget_owed_before_drop(&mut self, i: usize) {
        let dropped = self.stream.dropped_ms;
        if let Some(o) = self.stream.owed.get_mut(i) {
            if o.since_ms < dropped {
                *o = Owed::default();
            }
        }
    }

    /// Claims up to `qty` (the position booked on that side) of `symbol`'s unclaimed venue
    /// close for a refused exit: `(price, claimed qty, fee)` at the venue's average price, the
    /// whole fee when the whole close is claimed (else pro rata, the rest staying with the
    /// remainder: the parts sum to the venue's fee); `None` when there is none on `side`.
    pub(super) fn claim_venue_close(
        &mut self,
        symbol: SymbolId,
        side: Side,
        qty: Decimal,
    ) -> Option<(Decimal, Decimal, Decimal)> {
        let i = symbol.index();
        let q = self.stream.closes.get_mut(i)?;
        let j = q.iter().position(|c| c.is_some_and(|c| c.side == side))?;
        let c = q[j].as_mut()?;
        let price = c.quote / c.qty;
        let claimed = qty.min(c.qty);
        let fee = if claimed == c.qty {
            c.fee
        } else {
            c.fee * claimed / c.qty
        };
        if claimed == c.qty {
            self.stream.take(i, j);
        } else {
            c.quote -= price * claimed;
            c.fee -= fee;
            c.qty -= claimed;
        }
        self.stream.booked += 1;
        Some((price, claimed, fee))
    }

    /// Books every unbooked close of `symbol`, oldest first.
    pub(super) fn book_venue_close<F: FnMut(ExecEvent)>(
        &mut self,
        symbol: SymbolId,
        on_event: &mut F,
    ) {
        while self.stream.oldest(symbol.index()).is_some() {
            self.book_oldest_close(symbol, on_event);
        }
    }

    /// Books `symbol`'s oldest unbooked close in full (the venue executed it): journaled as a
    /// fill of no order, reported as a fill plus the working-position compensation (as a
    /// reconciliation is); the surviving stop leg goes.
    fn book_oldest_close<F: FnMut(ExecEvent)>(&mut self, symbol: SymbolId, on_event: &mut F) {
        let i = symbol.index();
        let Some(c) = self.stream.take(i, 0) else {
            return;
        };
        let qty = c.qty;
        let (price, fee) = c.part(qty);
        self.stream.booked += 1;
        let r = self.fill(symbol, c.side, 0, self.session, price, qty, fee, 0);
        self.stops.count_venue_fill();
        if self.booked[i].is_zero() {
            self.stops.disarm(symbol, self.now_ns);
        }
        on_event(ExecEvent::Report(r));
        // The venue's order was no intent of compute's.
        on_event(ExecEvent::Report(super::compensation(
            symbol, c.side, price, qty,
        )));
    }
}

/// `ct<session>-` written into `buf` (the journal's client id prefix, without allocating).
fn session_prefix(session: u32, buf: &mut [u8; PREFIX_MAX]) -> &[u8] {
    let mut digits = itoa::Buffer::new();
    let d = digits.format(session).as_bytes();
    buf[..2].copy_from_slice(b"ct");
    buf[2..2 + d.len()].copy_from_slice(d);
    buf[2 + d.len()] = b'-';
    &buf[..3 + d.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_the_journals() {
        for s in [0, 1, 42, u32::MAX] {
            let mut buf = [0u8; PREFIX_MAX];
            let p = session_prefix(s, &mut buf);
            assert_eq!(p, crate::exec::journal::client_prefix(s).as_bytes());
        }
    }

    #[test]
    fn owed_absorbs_only_its_side_and_closes_executed_by_its_stamp() {
        let d = |x: &str| x.parse::<Decimal>().unwrap();
        let mut o = Owed::default();
        o.add(d("-0.010"), 5_000, 4_000);
        assert_eq!(o.absorbs(d("-0.004"), 3_999), d("0.004"));
        assert_eq!(
            o.absorbs(d("-0.020"), 4_000),
            d("0.010"),
            "capped at what is owed"
        );
        assert_eq!(
            o.absorbs(d("-0.004"), 4_001),
            Decimal::ZERO,
            "executed after it"
        );
        assert_eq!(
            o.absorbs(d("0.004"), 3_000),
            Decimal::ZERO,
            "the other side"
        );
        assert_eq!(
            o.absorbs(d("-0.004"), 0),
            d("0.004"),
            "no venue time: as before"
        );
        o.add(d("-0.010"), 9_000, 8_000);
        assert_eq!(
            o.absorbs(d("-0.030"), 8_000),
            d("0.020"),
            "the latest stamp"
        );
        o.add(d("-0.010"), 9_500, 0);
        assert_eq!(
            o.absorbs(d("-0.030"), 99_000),
            d("0.030"),
            "one unknown: any time"
        );
    }
}
