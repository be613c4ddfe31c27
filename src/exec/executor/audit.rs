//! The position audit while the private stream is not up (cold path).
//!
//! Without the stream the executor learns of a venue-side close (a triggered TP/SL, a
//! liquidation, ADL) only when an exit of ours is refused for it. An entry or a flip sent
//! after such a close executes against the venue's flat position, so the books part from the
//! venue's until the next start (seen in the trade-heavy soak with the stream off: the
//! venue's stops closed positions the engine then flipped, and the difference was adopted at a
//! guessed price). So while the stream is not up, once per `[exec] position_audit_ms` one
//! symbol at a time (round robin among those this run traded or holds) with no order of its
//! own in flight has its venue position read (off by default in an [`Executor`] built by hand: [`Executor::set_position_audit`]):
//! - the same as booked: the symbol is in step as of that read (its venue time is where the
//!   next executions read starts);
//! - different twice in a row, with no order sent and no fill booked anywhere in between
//!   (nothing of ours can explain it): the account's executions of the symbol since it was
//!   last in step are read, and the venue's own (no order of ours made them, none booked
//!   before) that add up exactly to the difference are booked at their own price, fee and
//!   order id, as the stream would have told them;
//! - no such executions: the venue's position is taken, with a warning — a difference never
//!   stays. Opened, flipped or grown by the venue, at the venue's own average entry (the
//!   books then hold its entry exactly: `ReportStatus::Adopted`); cut, at the newest
//!   execution's price (a guess of the cut's realized PnL; the entry stays).
//!
//! A read is void when an order was sent or a fill booked while it was out (its answer may
//! predate them). No allocation except on the replies (they parse JSON).
//!
//! With the stream up the audit reads only the symbols left to it (`Executor::leave_to_audit`):
//! - a re-sync: the venue's position read after a gap differs from the booked one. The gap's
//!   executions are on no stream, and one made after the subscription but before the read is
//!   in both the read and the stream, so taking the read's position (at the mark, a guess)
//!   booked it twice in a stream-on soak;
//! - a refused exit whose venue position no execution explained (a close the stream has not
//!   told yet, or told and queued): taken at the exit's reference price, a guess, 3–5 times
//!   per stream-on Bybit heavy soak.
//!
//! The audit books the venue's own by id instead (the stream's copies of them are then
//! dropped as duplicates), or finds the symbol in step once the stream caught up.
//!
//! At the end of a run (nothing in flight) one last pass reads every symbol traded or held
//! the same way, back to back ([`Executor::begin_final_audit`]): a stop that fired after the
//! run's last exit is booked by the run that saw it, not left to the next start. A symbol that
//! pass finds in step is swept on Bybit: its executions since start-up's catch-up are read and
//! the venue's own that cancel out are booked (`Executor::sweep`; quantities alone cannot
//! show them).

use rust_decimal::Decimal;

use super::venue_fills::explain_gap;
use super::{ExecEvent, Executor};
use crate::exec::lanes::{self, OrderLanes};
use crate::exec::rate_limit::{Acquire, Lane};
use crate::exec::transport_venue::{NextPage, PageStep, TradePages, VenueTrade};
use crate::types::SymbolId;

/// Tag bit marking a transport request as an audit (position or executions read).
pub(super) const AUDIT_TAG: u64 = 1 << 59;
/// Tag bit of an audit's executions read (with [`AUDIT_TAG`]).
const AUDIT_FILLS: u64 = 1 << 58;
/// Delay before a difference is read again to confirm it, ns.
const CONFIRM_NS: u64 = 50_000_000;
/// The audit's period during the end-of-run pass, ns.
const LAST_PASS_EVERY_NS: u64 = 5_000_000;
/// An audit is given up (and may be sent again) after this long without a reply, ns.
const AUDIT_TIMEOUT_NS: u64 = 5_000_000_000;

/// How long before a drop the private stream may have lost frames unseen, ms: its dead-link
/// detection (`[exec.private_stream] dead_after_s`, 60 s by default) with room. Up to then
/// the stream told every execution, so a symbol's executions read after a drop (or a
/// difference left with the stream up) starts no earlier than this before the drop (or now):
/// hours of a stream up would otherwise run past the read's pages and never settle.
pub(super) const STREAM_LOSS_MS: u64 = 600_000;

/// Where a symbol's executions read may start once the stream told everything up to
/// `told_ms` (venue ms; 0: never up): no earlier than [`STREAM_LOSS_MS`] before it, nor
/// before start-up's catch-up `settled_ms`, nor before the last in-step read `in_step_ms`.
pub(super) fn window_start(in_step_ms: u64, told_ms: u64, settled_ms: u64) -> u64 {
    match told_ms {
        0 => in_step_ms,
        t => in_step_ms
            .max(t.saturating_sub(STREAM_LOSS_MS))
            .max(settled_ms),
    }
}

/// What the activity counters were when a read went out: `(orders sent, fills booked)`.
type Activity = (u64, u64);

/// A difference between the venue's position and the booked one.
#[derive(Clone, Copy, Debug)]
struct Suspect {
    /// The venue's signed position.
    venue: Decimal,
    /// What was booked when it was read.
    booked: Decimal,
    /// The venue's mark price in the reply (0: none).
    mark: Decimal,
    /// The venue's average entry price of its position in the reply (0: none or flat).
    entry: Decimal,
    /// The activity counters when it was read.
    activity: Activity,
    /// Seen by two position reads in a row, nothing of ours in between: the executions
    /// read may go.
    confirmed: bool,
}

/// The audit's state.
#[derive(Debug)]
pub(super) struct Audit {
    /// Period, ns (0: off).
    every_ns: u64,
    /// When the next audit may go out, ns.
    next_ns: u64,
    /// The symbol audited next (round robin).
    cursor: usize,
    /// Per symbol: an order of it was sent this run.
    pub(super) traded: Vec<bool>,
    /// The read out: `(symbol, executions read?, activity when sent, sent at ns, venue ms)`.
    on_wire: Option<(SymbolId, bool, Activity, u64, u64)>,
    /// Per symbol: the difference the last position read found.
    suspect: Vec<Option<Suspect>>,
    /// Per symbol: venue ms of the last read that found it in step (at first: the audit's
    /// first call, after start-up's catch-up).
    in_step_ms: Vec<u64>,
    /// Audits that found a difference confirmed, and how they were settled.
    pub(super) found: u64,
    /// The end-of-run pass ([`Executor::begin_final_audit`]): per symbol, still to be found in
    /// step or set right (empty: no pass).
    last_pass: Vec<bool>,
    /// Per symbol, in the end-of-run pass: found in step, its executions since start-up's
    /// catch-up are to be read for venue executions that cancel out (`Executor::sweep`).
    sweep: Vec<bool>,
    /// The executions read under way over pages (cold): its symbol and the pages so far.
    pages: Option<(usize, TradePages)>,
    /// Per symbol: a refused exit left a difference to the audit (no execution explained it
    /// yet); cleared when the audit finds the symbol in step or settles it.
    gap_left: Vec<bool>,
    /// Per symbol: a difference left to the audit while the stream is up (a re-sync after a
    /// private-stream gap, or a refused exit no execution explained); audited with the stream
    /// up until found in step or settled.
    up_gap: Vec<bool>,
    /// How many of `up_gap` are set (the idle poll reads this, not the vector).
    up_gaps: usize,
}

impl Audit {
    pub(super) fn new(symbols: usize) -> Self {
        Self {
            every_ns: 0,
            next_ns: 0,
            cursor: 0,
            traded: vec![false; symbols],
            on_wire: None,
            suspect: vec![None; symbols],
            in_step_ms: vec![0; symbols],
            found: 0,
            last_pass: Vec::new(),
            sweep: vec![false; symbols],
            pages: None,
            gap_left: vec![false; symbols],
            up_gap: vec![false; symbols],
            up_gaps: 0,
        }
    }

    /// Venue ms of the last read that found symbol `i` in step (0: none yet, or no such
    /// symbol): the venue's position and the booked one can only have parted after it.
    pub(super) fn in_step(&self, i: usize) -> u64 {
        self.in_step_ms.get(i).copied().unwrap_or(0)
    }

    /// Whether symbol `i`'s venue position is known to differ from the booked one with
    /// nothing explaining it yet: a difference read (to be confirmed, or its executions read)
    /// or one a refused exit left to the audit.
    pub(super) fn differs(&self, i: usize) -> bool {
        self.suspect.get(i).is_some_and(Option::is_some) || self.gap_left.get(i) == Some(&true)
    }

    /// Symbol `i`'s difference is left to the audit by a refused exit.
    pub(super) fn leave_gap(&mut self, i: usize) {
        if let Some(x) = self.gap_left.get_mut(i) {
            *x = true;
        }
    }

    /// Symbol `i`'s difference is explained (its executions booked).
    pub(super) fn clear_gap(&mut self, i: usize) {
        if let Some(x) = self.gap_left.get_mut(i) {
            *x = false;
        }
    }

    /// Forgets every difference (the private stream is up: it tells the venue's executions,
    /// and the audit stops) but those a re-sync left to it.
    pub(super) fn forget_differences(&mut self) {
        for (i, s) in self.suspect.iter_mut().enumerate() {
            if !self.up_gap[i] {
                *s = None;
            }
        }
        self.gap_left.fill(false);
    }

    /// Whether symbol `i` has a difference left to the audit while the stream is up, still to
    /// be found in step or settled.
    pub(super) fn gap_while_up(&self, i: usize) -> bool {
        self.up_gap.get(i) == Some(&true)
    }

    /// Sets or clears symbol `i`'s difference left to the audit while the stream is up.
    fn set_up_gap(&mut self, i: usize, on: bool) {
        if let Some(x) = self.up_gap.get_mut(i) {
            if *x != on {
                *x = on;
                self.up_gaps = if on {
                    self.up_gaps + 1
                } else {
                    self.up_gaps - 1
                };
            }
        }
    }

    /// Symbol `i` is known again (found in step, or its difference settled).
    fn known(&mut self, i: usize) {
        self.gap_left[i] = false;
        self.set_up_gap(i, false);
    }

    /// Whether the audit reads at all: on, and the stream not up or a difference left to it
    /// while up.
    fn active(&self, stream_up: bool) -> bool {
        self.every_ns != 0 && (!stream_up || self.up_gaps != 0)
    }

    /// Whether [`Executor::poll`] has audit work at `now_ns` (a read due or out).
    #[inline]
    pub(super) fn busy(&self, now_ns: u64, stream_up: bool) -> bool {
        self.active(stream_up) && (self.on_wire.is_some() || now_ns >= self.next_ns)
    }
}

impl Executor {
    /// Audits the venue positions while the private stream is not up: one read per `every`
    /// (zero: off, the default), the symbols in turn.
    pub fn set_position_audit(&mut self, every: std::time::Duration) {
        self.audit.every_ns = every.as_nanos().min(u64::MAX as u128) as u64;
    }

    /// Whether the audit may have reads to send (on, stream not up): the stage polls the
    /// executor then even with nothing in flight — the audit reads only while nothing is.
    #[inline]
    pub fn audit_armed(&self) -> bool {
        self.audit.every_ns != 0 && !self.stream.up
    }

    /// Whether the position audit is on (`[exec] position_audit_ms` > 0).
    pub(super) fn audit_on(&self) -> bool {
        self.audit.every_ns != 0
    }

    /// Whether the audit may have reads to send: armed, or a difference left to it with the
    /// stream up (the stage polls the executor then too).
    #[inline]
    pub fn audit_active(&self) -> bool {
        self.audit.active(self.stream.up)
    }

    /// Leaves `symbol`'s difference (the stream up: a re-sync's or a refused exit's) to the
    /// audit (true); false when the audit is off (the caller then takes the venue's position
    /// at a reference price: the only way left, a guess).
    pub(super) fn leave_to_audit(&mut self, symbol: SymbolId) -> bool {
        let i = symbol.index();
        if !self.audit_on() || i >= self.audit.up_gap.len() {
            return false;
        }
        self.audit.set_up_gap(i, true);
        self.audit.suspect[i] = None;
        if self.stream.up {
            // A refused exit's: the stream told everything until just now.
            self.audit.in_step_ms[i] =
                window_start(self.audit.in_step_ms[i], self.venue_ms_now, self.settled_ms);
        }
        self.audit.next_ns = 0;
        true
    }

    /// The private stream dropped at venue ms `now_ms`: it told every execution until shortly
    /// before, so every symbol's executions read starts no earlier than [`window_start`].
    pub(super) fn stream_dropped(&mut self, now_ms: u64) {
        let settled = self.settled_ms;
        for x in &mut self.audit.in_step_ms {
            *x = window_start(*x, now_ms, settled);
        }
    }

    /// A re-sync found symbol `i` in step: a difference an earlier one left is gone.
    pub(super) fn resync_in_step(&mut self, i: usize) {
        if self.audit.gap_while_up(i) {
            self.audit.set_up_gap(i, false);
            self.audit.suspect[i] = None;
        }
    }

    /// Position audits that found a difference (booked from the venue's executions, or the
    /// venue's position taken).
    pub fn audit_found(&self) -> u64 {
        self.audit.found
    }

    /// Starts the end-of-run pass (stream not up, audit on, nothing in flight): every symbol
    /// this run traded or holds is read at once, one after another, until each is found in step
    /// or set right ([`Executor::final_audit_done`]), so that the journal the run leaves equals
    /// the venue's positions even when a venue-side stop fired after the last exit. Returns how
    /// many symbols are to be read.
    pub fn begin_final_audit(&mut self) -> usize {
        if self.audit.every_ns == 0 || self.stream.up || self.in_flight() > 0 {
            return 0;
        }
        let n = self.names.len();
        self.audit.last_pass = (0..n)
            .map(|k| self.audit.traded[k] || !self.booked[k].is_zero())
            .collect();
        self.audit.every_ns = self.audit.every_ns.min(LAST_PASS_EVERY_NS);
        self.audit.next_ns = 0;
        self.audit.last_pass.iter().filter(|&&x| x).count()
    }

    /// Whether the end-of-run pass has found every symbol in step or set it right.
    pub fn final_audit_done(&self) -> bool {
        !self.audit.last_pass.contains(&true)
    }

    /// Marks symbol `i` done in the end-of-run pass (if one runs).
    fn pass_done(&mut self, i: usize) {
        if let Some(x) = self.audit.last_pass.get_mut(i) {
            *x = false;
        }
    }

    fn activity(&self) -> Activity {
        (self.stats.orders, self.stats.fills)
    }

    /// Sends the audit read that is due (stream not up, venue route): a confirmation of a
    /// suspected difference first, else the next symbol with nothing of its own in flight.
    pub(super) fn send_audit(&mut self, t: &mut OrderLanes, now_ns: u64, ts_ms: u64) {
        if !self.audit.active(self.stream.up) || self.names.is_empty() {
            return;
        }
        let up = self.stream.up;
        if let Some((_, _, _, sent, _)) = self.audit.on_wire {
            if now_ns.saturating_sub(sent) < AUDIT_TIMEOUT_NS {
                return;
            }
            self.audit.on_wire = None;
        }
        if self.audit.in_step_ms.first() == Some(&0) {
            // The first call: start-up's catch-up read the executions before it.
            self.audit.in_step_ms.fill(ts_ms);
        }
        if now_ns < self.audit.next_ns {
            return;
        }
        let n = self.names.len();
        // Only symbols this run traded or holds: another's venue position cannot move without
        // an order of ours (or a hand trade, which start-up's reconciliation reports).
        let last_pass = !self.audit.last_pass.is_empty();
        let Some(i) =
            (0..n)
                .map(|k| (self.audit.cursor + k) % n)
                .find(|&k| match (last_pass, up) {
                    (_, true) => self.audit.up_gap[k],
                    (true, false) => self.audit.last_pass[k],
                    (false, false) => self.audit.traded[k] || !self.booked[k].is_zero(),
                })
        else {
            self.audit.next_ns = now_ns + self.audit.every_ns;
            return;
        };
        let symbol = SymbolId(i as u16);
        // A close the stream queued is booked soon (a read now would not count it).
        let busy = self.pending.iter().any(|p| p.symbol == symbol)
            || self.deferred.iter().any(|(s, _)| s.symbol == symbol)
            || self.held.iter().any(|h| h.symbol == symbol)
            || self.stream.queued(i);
        if busy {
            self.audit.suspect[i] = None;
            self.audit.cursor = (i + 1) % n;
            self.audit.next_ns = now_ns + self.audit.every_ns;
            return;
        }
        if let Acquire::Wait { .. } = self.limiter.try_acquire(Lane::Query, now_ns) {
            self.audit.next_ns = now_ns + self.audit.every_ns;
            return;
        }
        let confirm =
            self.audit.suspect[i].is_some_and(|x| x.confirmed && x.activity == self.activity());
        let sweep = last_pass && self.audit.sweep[i];
        let (bytes, fills) = if confirm || sweep {
            let since = match sweep {
                true => self.settled_ms,
                false => self.audit.in_step_ms[i],
            };
            // A further page of the read under way, else its first.
            let next = match &self.audit.pages {
                Some((k, r)) if *k == i => &r.next,
                _ => &NextPage::None,
            };
            let Some(b) = self
                .venue
                .build_user_trades_page(&self.names[i], since, next, ts_ms)
            else {
                return;
            };
            (b, true)
        } else {
            self.audit.pages = None;
            (self.venue.build_position(&self.names[i], ts_ms), false)
        };
        let tag = AUDIT_TAG | if fills { AUDIT_FILLS } else { 0 } | i as u64;
        if t.send(lanes::Lane::Query, tag, bytes).is_ok() {
            self.stats.requeries += 1;
            self.audit.on_wire = Some((symbol, fills, self.activity(), now_ns, ts_ms));
        }
        self.audit.next_ns = now_ns + self.audit.every_ns;
    }

    /// The reply to audit read `tag` (`None`: failed); the symbol's position-unknown flag
    /// follows what it found.
    #[cold]
    pub(super) fn on_audit_reply<F: FnMut(ExecEvent)>(
        &mut self,
        tag: u64,
        reply: Option<(u16, &[u8])>,
        now_ns: u64,
        on_event: &mut F,
    ) {
        let symbol = self.audit.on_wire.map(|w| w.0);
        self.audit_reply(tag, reply, now_ns, on_event);
        if let Some(s) = symbol {
            self.sync_position(s, on_event);
        }
    }

    /// [`Executor::on_audit_reply`] before the flag is brought up to date.
    fn audit_reply<F: FnMut(ExecEvent)>(
        &mut self,
        tag: u64,
        reply: Option<(u16, &[u8])>,
        now_ns: u64,
        on_event: &mut F,
    ) {
        let Some((symbol, fills, sent_activity, _, sent_ms)) = self.audit.on_wire.take() else {
            return;
        };
        let i = symbol.index();
        if tag & !(AUDIT_TAG | AUDIT_FILLS) != i as u64 {
            return;
        }
        let moved = sent_activity != self.activity();
        let busy = self.pending.iter().any(|p| p.symbol == symbol) || self.stream.queued(i);
        if moved || busy || (self.stream.up && !self.audit.gap_while_up(i)) {
            // Its answer may predate an order or fill of ours: void.
            self.audit.suspect[i] = None;
            self.audit.pages = None;
            return;
        }
        let Some((status, body)) = reply else {
            self.audit.pages = None;
            return;
        };
        if fills {
            let Some(trades) = self.audit_page(i, status, body) else {
                return;
            };
            if std::mem::take(&mut self.audit.sweep[i]) {
                self.sweep(symbol, &trades, on_event);
            } else {
                self.settle_difference(symbol, &trades, on_event);
            }
            self.audit.suspect[i] = None;
            self.pass_done(i);
            return;
        }
        let Some(q) = self.venue.parse_position(status, body) else {
            return;
        };
        let booked = self.booked[i];
        if q == booked {
            self.audit.suspect[i] = None;
            self.audit.known(i);
            self.audit.in_step_ms[i] = sent_ms;
            if self.audit.last_pass.get(i) == Some(&true) && self.ids_listed() {
                // In step by quantity; the executions are read next for any that cancel out.
                self.audit.sweep[i] = true;
                self.audit.next_ns = now_ns;
                return;
            }
            self.pass_done(i);
            self.audit.cursor = (i + 1) % self.names.len();
            return;
        }
        let activity = self.activity();
        let confirmed = self.audit.suspect[i]
            .is_some_and(|x| x.venue == q && x.booked == booked && x.activity == activity);
        let (mark, entry) = self
            .venue
            .parse_positions(body)
            .ok()
            .and_then(|l| l.into_iter().find(|p| p.symbol == self.names[i]))
            .map_or((Decimal::ZERO, Decimal::ZERO), |p| (p.mark_price, p.entry));
        self.audit.suspect[i] = Some(Suspect {
            venue: q,
            booked,
            mark,
            entry,
            activity,
            confirmed,
        });
        if confirmed {
            // Confirmed on the next read: the executions go out at once.
            self.audit.next_ns = now_ns;
        } else {
            // Read once more shortly (the venue's position may lag one of our fills).
            self.audit.next_ns = now_ns + CONFIRM_NS;
        }
    }

    /// Adds an audit executions read's page (`status`, `body`) of symbol `i`: the whole read
    /// (oldest first) when this was its last page; `None` while pages are still to be read
    /// (the next goes out at once) or when the read failed or ran past its pages (then it
    /// starts over at the next audit: never taken as "no executions").
    fn audit_page(&mut self, i: usize, status: u16, body: &[u8]) -> Option<Vec<VenueTrade>> {
        let mut read = match self.audit.pages.take() {
            Some((k, r)) if k == i => r,
            _ => TradePages::default(),
        };
        let (page, next) = match self.venue.parse_user_trades_page(body) {
            Ok(p) if status == 200 => p,
            _ => return None,
        };
        match read.add(page, next) {
            PageStep::Done => Some(read.trades),
            PageStep::More => {
                self.audit.pages = Some((i, read));
                self.audit.next_ns = 0;
                None
            }
            PageStep::TooMany => {
                eprintln!(
                    "warning: {} the venue's executions run past {} pages: the audit reads them again",
                    self.names[i],
                    crate::exec::transport_venue::MAX_TRADE_PAGES
                );
                None
            }
        }
    }

    /// Books the venue's own executions among `trades` that make up `symbol`'s confirmed
    /// difference exactly; else takes the venue's position.
    fn settle_difference<F: FnMut(ExecEvent)>(
        &mut self,
        symbol: SymbolId,
        trades: &[VenueTrade],
        on_event: &mut F,
    ) {
        let i = symbol.index();
        let Some(Suspect {
            venue: q,
            booked,
            mark,
            entry,
            ..
        }) = self.audit.suspect[i]
        else {
            return;
        };
        if booked != self.booked[i] {
            return;
        }
        self.audit.found += 1;
        // Booked from its executions or taken from the venue below: known again.
        self.audit.known(i);
        let since = self.audit.in_step_ms[i];
        let (ours, done) = self.known_executions(i);
        if let Some(picked) =
            explain_gap(trades, &ours, &done, q - booked, since, self.ids_listed())
        {
            for t in &picked {
                eprintln!(
                    "warning: {} the venue's own execution {} found by the position audit: {:?} {} at {}",
                    self.names[i], t.ids(), t.side, t.qty, t.price
                );
                self.venue_fills.note_booked(t.id);
                self.book_venue_execution(symbol, t, on_event);
            }
            return;
        }
        // The adoption's price. Where the difference opens the venue's whole position (booked
        // flat or on the other side) or adds to the side held (the venue grew it), the books
        // take the venue's own average entry (`Position::adopt_to_entry`): they then hold the
        // venue's quantity and entry exactly, and a growth realizes nothing. A cut realizes at
        // a price no read told: the newest execution's, else the mark the audit read — a
        // guess, said below.
        let at_entry = !crate::types::position::is_cut(booked, q) && entry > Decimal::ZERO;
        let Some((px, how)) = at_entry
            .then_some((entry, "taken at the venue's own entry price"))
            .or(trades
                .last()
                .map(|t| (t.price, "taken at the newest execution's price (a guess)")))
            .or((mark > Decimal::ZERO)
                .then_some((mark, "taken at the venue's mark price (a guess)")))
        else {
            return;
        };
        eprintln!(
            "warning: {} the venue's position {} differs from the booked {} and no execution of the venue's explains it: {how} {px}",
            self.names[i], q, booked
        );
        self.reconcile_at(symbol, q, (px, at_entry), on_event);
    }

    /// The end-of-run sweep of `symbol`, found in step by quantity: the venue's own executions
    /// since start-up's catch-up (none of ours by client id, none booked) are booked when
    /// together they cancel out. A stop's close, then an order of ours against the flat
    /// position, then the next position's stop leave the quantities equal: no exit is refused
    /// and the audit, comparing quantities, sees nothing (the stream-off soak: two or six
    /// executions missing from the journal, net zero, in the run's last session, which no
    /// start-up follows). Only where the venue lists our client id on every execution of ours
    /// (Bybit): Binance's `userTrades` cannot tell an order of ours no longer remembered.
    fn sweep<F: FnMut(ExecEvent)>(
        &mut self,
        symbol: SymbolId,
        trades: &[VenueTrade],
        on_event: &mut F,
    ) {
        let i = symbol.index();
        let (ours, done) = self.known_executions(i);
        let Some(picked) = explain_gap(trades, &ours, &done, Decimal::ZERO, self.settled_ms, true)
        else {
            return;
        };
        for t in &picked {
            eprintln!(
                "warning: {} the venue's own execution {} found by the end-of-run sweep (they cancel out): {:?} {} at {}",
                self.names[i], t.ids(), t.side, t.qty, t.price
            );
            self.venue_fills.note_booked(t.id);
            self.book_venue_execution(symbol, t, on_event);
        }
        self.audit.found += 1;
    }

    /// Books one execution of the venue's own order (no order of ours): journaled as a fill
    /// of no order with the venue's order id, reported as a fill plus the working-position
    /// compensation (as a venue close from the stream is).
    pub(super) fn book_venue_execution<F: FnMut(ExecEvent)>(
        &mut self,
        symbol: SymbolId,
        t: &VenueTrade,
        on_event: &mut F,
    ) {
        self.exec_ms = t.time_ms;
        let r = self.fill(
            symbol,
            t.side,
            0,
            self.session,
            t.price,
            t.qty,
            t.fee,
            t.order_id,
        );
        self.stops.count_venue_fill();
        if self.booked[symbol.index()].is_zero() {
            self.stops.disarm(symbol, self.now_ns);
        }
        on_event(ExecEvent::Report(r));
        on_event(ExecEvent::Report(super::compensation(
            symbol, t.side, t.price, t.qty,
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After hours of a stream up, a drop's executions read starts ten minutes before the drop
    /// (20 pages of executions would not reach back to start-up), never before start-up's
    /// catch-up nor before a later in-step read; a stream never up changes nothing.
    #[test]
    fn a_drop_bounds_the_executions_window() {
        let start = 1_796_600_000_000;
        let drop = start + 5 * 3_600_000;
        assert_eq!(window_start(start, drop, start), drop - STREAM_LOSS_MS);
        assert_eq!(window_start(start, 0, start), start, "never up");
        let settled = drop - 60_000;
        assert_eq!(window_start(start, drop, settled), settled);
        let read = drop - 1_000;
        assert_eq!(window_start(read, drop, start), read);
        assert_eq!(window_start(0, 100, 0), 0, "no time before the epoch");
    }
}
