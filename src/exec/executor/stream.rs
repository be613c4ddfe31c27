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
//!   order, reported as a reconciliation is), never beyond the position this executor booked.
//! - After a gap (connect, reconnect) the venue's positions read over REST
//!   ([`AccountEvent::Resync`]) reconcile what was booked at the venue's mark price, as
//!   start-up does (a symbol with an order in flight, or without a mark, is left alone).

use rust_decimal::Decimal;

use super::{ExecEvent, Executor};
use crate::exec::order_state::{FillPrice, QueryReply, VenueOrder};
use crate::types::{
    AccountEvent, ExecReport, OrderOrigin, OrderUpdate, RejectReason, ReportStatus, Side,
    StreamFill, SymbolId,
};

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
}

/// The executor's private-stream state (preallocated per symbol).
#[derive(Debug)]
pub(super) struct StreamState {
    /// The stream is up: a refused exit waits for its venue close before the trigger price.
    pub(super) up: bool,
    closes: Vec<Option<VenueClose>>,
    open: usize,
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
            closes: vec![None; symbols],
            open: 0,
            seen: [0; SEEN],
            seen_next: 0,
            booked: 0,
            duplicates: 0,
        }
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
            AccountEvent::Fill(ref f) => self.on_venue_fill(f, now_ns),
            AccountEvent::Resync { symbol, qty, mark } => {
                self.book_venue_close(symbol, on_event);
                let busy = self.pending.iter().any(|p| p.symbol == symbol);
                if !busy && mark > Decimal::ZERO && qty != self.booked[symbol.index()] {
                    self.reconcile(symbol, qty, mark, on_event);
                }
            }
            AccountEvent::Link(up) => self.stream.up = up,
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

    /// Books the venue-side closes no exit claimed within 250 ms (one load when
    /// there are none).
    #[inline]
    pub fn stream_timers<F: FnMut(ExecEvent)>(&mut self, now_ns: u64, on_event: &mut F) {
        if self.stream.open == 0 {
            return;
        }
        for i in 0..self.stream.closes.len() {
            let Some(c) = self.stream.closes[i] else {
                continue;
            };
            let symbol = SymbolId(i as u16);
            let exit_pending = self
                .pending
                .iter()
                .any(|p| p.symbol == symbol && p.reduce_only);
            if now_ns.saturating_sub(c.since_ns) >= CLAIM_WAIT_NS && !exit_pending {
                self.book_venue_close(symbol, on_event);
            }
        }
    }

    /// An execution of a venue-side close (not of an order of ours): added to the symbol's
    /// unclaimed close once (by trade id).
    fn on_venue_fill(&mut self, f: &StreamFill, now_ns: u64) {
        if f.origin == OrderOrigin::Client || f.symbol.index() >= self.stream.closes.len() {
            return;
        }
        if !self.stream.first_time(f.trade_id) {
            self.stream.duplicates += 1;
            return;
        }
        let slot = &mut self.stream.closes[f.symbol.index()];
        match slot {
            Some(c) if c.side == f.side => {
                c.qty += f.qty;
                c.quote += f.price * f.qty;
                c.fee += f.fee;
            }
            _ => {
                if slot.is_none() {
                    self.stream.open += 1;
                }
                *slot = Some(VenueClose {
                    side: f.side,
                    qty: f.qty,
                    quote: f.price * f.qty,
                    fee: f.fee,
                    since_ns: now_ns,
                });
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
        let slot = self.stream.closes.get_mut(symbol.index())?;
        let c = slot
            .as_mut()
            .filter(|c| c.side == side && c.qty > Decimal::ZERO)?;
        let price = c.quote / c.qty;
        let claimed = qty.min(c.qty);
        let fee = if claimed == c.qty {
            c.fee
        } else {
            c.fee * claimed / c.qty
        };
        if claimed == c.qty {
            *slot = None;
            self.stream.open -= 1;
        } else {
            c.quote -= price * claimed;
            c.fee -= fee;
            c.qty -= claimed;
        }
        self.stream.booked += 1;
        Some((price, claimed, fee))
    }

    /// Books `symbol`'s unclaimed venue close, at most the position booked on the side it
    /// closes: journaled as a fill of no order, reported as a fill plus the working-position
    /// compensation (as a reconciliation is); the surviving stop leg goes.
    fn book_venue_close<F: FnMut(ExecEvent)>(&mut self, symbol: SymbolId, on_event: &mut F) {
        let i = symbol.index();
        let Some(c) = self.stream.closes.get_mut(i).and_then(Option::take) else {
            return;
        };
        self.stream.open -= 1;
        let held = match c.side {
            Side::Sell => self.booked[i],
            Side::Buy => -self.booked[i],
        };
        let qty = c.qty.min(held.max(Decimal::ZERO));
        if qty.is_zero() {
            return;
        }
        let price = c.quote / c.qty;
        let fee = c.fee * qty / c.qty;
        self.stream.booked += 1;
        let r = self.fill(symbol, c.side, 0, self.session, price, qty, fee, 0);
        self.stops.count_venue_fill();
        if self.booked[i].is_zero() {
            self.stops.disarm(symbol, self.now_ns);
        }
        on_event(ExecEvent::Report(r));
        // working −= signed(opposite, qty): the venue's order was no intent of compute's.
        on_event(ExecEvent::Report(ExecReport {
            symbol,
            client_seq: 0,
            side: match c.side {
                Side::Buy => Side::Sell,
                Side::Sell => Side::Buy,
            },
            status: ReportStatus::Rejected(RejectReason::Lost),
            price,
            qty,
            fee: Decimal::ZERO,
        }));
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
}
