//! The running strategy's position booked in the venue's order, by the journal replay's rule
//! (`Replayed::book_fill` in `exec::journal`): a fill the venue executed before fills already
//! booked (its own execution time read from the venue: a stop booked late by the position
//! audit or a refused exit's read) goes before the latest of them whose venue time is later,
//! and the position is re-booked from there in that order. Average-cost accounting (entry,
//! realized PnL) depends on the order, and the venue's is the truth: the strategy's position
//! equals the journal's and the venue's, not only at the next flat point.
//!
//! Fixed capacity ([`KEPT`] fills a symbol, each with the position before it), no allocation
//! after construction; a fill in arrival order costs one position copy besides its booking.
//! A late fill that the journal's rule would place before a fill the log no longer holds is
//! placed before the oldest kept one and said so ([`Booked::BeyondLog`]): then the strategy's
//! entry and realized PnL may differ from the journal's until the symbol is next flat (the
//! quantity is the same in any order).

use rust_decimal::Decimal;

use crate::types::{FillTime, Position, Side};

/// Fills kept per symbol: a late fill is placed among the latest `KEPT` (the audit books one
/// within seconds, a handful of fills later at most).
pub(super) const KEPT: usize = 16;

/// A fill as booked: side, price, quantity, fee (quote currency).
pub(super) type Fill = (Side, Decimal, Decimal, Decimal);

/// One booked fill and the position it was booked onto.
#[derive(Clone, Copy, Debug, Default)]
struct Kept {
    side: Side,
    price: Decimal,
    qty: Decimal,
    fee: Decimal,
    at: FillTime,
    /// An adoption at the venue's entry `price` ([`Position::adopt_to_entry`]), not a fill.
    to_entry: bool,
    /// The position before this fill.
    before: Position,
}

impl Kept {
    /// Books this fill (or adoption) onto `p`.
    #[inline]
    fn book_onto(&self, p: &mut Position) {
        if self.to_entry {
            p.adopt_to_entry(self.side, self.qty, self.price);
        } else {
            p.apply_fill(self.side, self.price, self.qty, self.fee);
        }
    }
}

/// How [`FillLog::book`] placed a fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Booked {
    /// After every kept fill: arrival order is the venue's.
    InOrder,
    /// Before some kept fills, where the journal's rule places it; the position re-booked.
    Rebooked,
    /// Before every kept fill, though the newest fill the log dropped has a later venue time:
    /// the journal places it earlier still. Re-booked from the oldest kept fill.
    BeyondLog,
}

/// One symbol's latest fills in booking order (a ring: `start` the oldest, `len` kept).
#[derive(Clone, Debug, Default)]
pub(super) struct FillLog {
    ring: [Kept; KEPT],
    start: usize,
    len: usize,
    /// The venue time of the newest fill not kept (just before the oldest kept one): the last
    /// fill dropped from the ring, or a late fill placed before a full ring. Where the
    /// journal's walk back would go on.
    dropped: FillTime,
}

impl FillLog {
    /// The `k`-th kept fill, oldest first (`k < len`).
    #[inline]
    fn at(&mut self, k: usize) -> &mut Kept {
        &mut self.ring[(self.start + k) % KEPT]
    }

    /// Where a fill the venue executed at `t` (Unix ms) goes among the kept ones
    /// ([`FillTime::venue_place`]; the oldest kept is as far back as the log reaches).
    fn slot(&self, t: u64) -> usize {
        let times = (0..self.len)
            .rev()
            .map(|k| (k, self.ring[(self.start + k) % KEPT].at));
        FillTime::venue_place(times, t, self.len)
    }

    /// Books a fill onto `pos`, the position the kept fills give: after them, or for a fill
    /// with the venue's own execution time ([`FillTime::Executed`]) in the venue's order
    /// ([`FillLog::slot`]), `pos` then re-booked from the position before its place. Returns
    /// where the fill went.
    pub(super) fn book(
        &mut self,
        pos: &mut Position,
        (side, price, qty, fee): Fill,
        at: FillTime,
    ) -> Booked {
        let k = match at {
            FillTime::Executed(t) => self.slot(t),
            _ => self.len,
        };
        let new = Kept {
            side,
            price,
            qty,
            fee,
            at,
            to_entry: false,
            before: *pos,
        };
        if k == self.len {
            self.push(new, pos);
            return Booked::InOrder;
        }
        // Out of order: re-booked from the position before its place, the fill first.
        let mut p = self.at(k).before;
        if self.len == KEPT && k == 0 {
            // Older than every kept fill: booked first, then held only in the oldest's
            // `before` (as a fill that left the ring is). The journal's walk stops here too
            // unless the newest dropped fill is later.
            p.apply_fill(side, price, qty, fee);
            self.rebook_from(0, p, pos);
            let later = |t| self.dropped.ms().is_some_and(|v| v > t);
            let booked = match at {
                FillTime::Executed(t) if later(t) => Booked::BeyondLog,
                _ => Booked::Rebooked,
            };
            // Now the newest fill not kept: the next late fill's walk meets it first.
            self.dropped = at;
            return booked;
        }
        let k = if self.len == KEPT {
            self.drop_oldest();
            k - 1
        } else {
            k
        };
        for j in (k..self.len).rev() {
            *self.at(j + 1) = *self.at(j);
        }
        *self.at(k) = new;
        self.len += 1;
        self.rebook_from(k, p, pos);
        Booked::Rebooked
    }

    /// Books an adoption at the venue's entry (`ReportStatus::Adopted`) onto `pos`, after the
    /// kept fills: it has no venue time, so no late fill is ever placed before it.
    pub(super) fn adopt(&mut self, pos: &mut Position, side: Side, qty: Decimal, entry: Decimal) {
        let new = Kept {
            side,
            price: entry,
            qty,
            fee: Decimal::ZERO,
            at: FillTime::None,
            to_entry: true,
            before: *pos,
        };
        self.push(new, pos);
    }

    /// Keeps `new` after every kept fill (the oldest dropped when full) and books it onto
    /// `pos`, the position before it.
    #[inline]
    fn push(&mut self, new: Kept, pos: &mut Position) {
        if self.len == KEPT {
            self.drop_oldest();
        }
        *self.at(self.len) = new;
        self.len += 1;
        new.book_onto(pos);
    }

    /// Forgets the oldest kept fill: the next one's `before` already holds it.
    #[inline]
    fn drop_oldest(&mut self) {
        self.dropped = self.at(0).at;
        self.start = (self.start + 1) % KEPT;
        self.len -= 1;
    }

    /// Re-books the kept fills from the `k`-th on, onto `p` (the position before it): each
    /// one's `before`, then `pos`.
    fn rebook_from(&mut self, k: usize, mut p: Position, pos: &mut Position) {
        for j in k..self.len {
            let f = self.at(j);
            f.before = p;
            f.book_onto(&mut p);
        }
        *pos = p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fill and its venue time.
    type Timed = (Fill, FillTime);

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A fill of `q` at `px` with venue time `t`, `late` when the venue's own.
    fn fill(side: Side, px: &str, q: &str, t: u64, late: bool) -> Timed {
        let at = if late {
            FillTime::Executed(t)
        } else {
            FillTime::Booked(t)
        };
        ((side, d(px), d(q), d("0.01")), at)
    }

    /// The position of `fills` applied in venue-time order (stable: arrival order on ties).
    fn in_venue_order(fills: &[Timed]) -> Position {
        let mut sorted = fills.to_vec();
        sorted.sort_by_key(|f| f.1.ms());
        let mut p = Position::default();
        for ((s, px, q, fee), _) in sorted {
            p.apply_fill(s, px, q, fee);
        }
        p
    }

    /// The journal replay's rule on an unbounded list: a fill with the venue's own time goes
    /// before the trailing fills with a later time; the position re-applied from the start.
    fn by_the_journal_s_rule(fills: &[Timed]) -> Position {
        let mut list: Vec<Timed> = Vec::new();
        for &f in fills {
            let mut at = list.len();
            if let FillTime::Executed(t) = f.1 {
                while at > 0 && list[at - 1].1.ms().is_some_and(|v| v > t) {
                    at -= 1;
                }
            }
            list.insert(at, f);
        }
        let mut p = Position::default();
        for ((s, px, q, fee), _) in list {
            p.apply_fill(s, px, q, fee);
        }
        p
    }

    /// The log's position of `fills`, the fills it moved, and those it placed beyond itself.
    fn booked_all(fills: &[Timed]) -> (Position, u32, u32) {
        let (mut log, mut p) = (FillLog::default(), Position::default());
        let (mut moved, mut beyond) = (0, 0);
        for &(f, at) in fills {
            match log.book(&mut p, f, at) {
                Booked::InOrder => {}
                Booked::Rebooked => moved += 1,
                Booked::BeyondLog => beyond += 1,
            }
        }
        (p, moved, beyond)
    }

    fn booked(fills: &[Timed]) -> (Position, u32) {
        let (p, moved, beyond) = booked_all(fills);
        assert_eq!(beyond, 0);
        (p, moved)
    }

    /// The soak's case: the stop closed the long at t=20 unseen, our next long filled at 30,
    /// the stop booked after it: re-booked stop first (entry 61250, not the average of both).
    #[test]
    fn a_late_stop_is_booked_before_the_entry_it_preceded() {
        let fills = [
            fill(Side::Buy, "62000", "0.010", 10, false),
            fill(Side::Buy, "61250", "0.010", 30, false),
            fill(Side::Sell, "61200", "0.010", 20, true),
        ];
        let (p, moved) = booked(&fills);
        assert_eq!(moved, 1);
        assert_eq!(p, in_venue_order(&fills));
        assert_eq!(p.entry, d("61250"));
        assert_eq!(p.realized, d("-8.000"));
        // In arrival order the entry is the average of both longs.
        let mut arrival = Position::default();
        for ((s, px, q, fee), _) in fills {
            arrival.apply_fill(s, px, q, fee);
        }
        assert_ne!(arrival.entry, p.entry);
    }

    /// Nothing is moved across a fill with no time (an adoption), nor for a booked time.
    #[test]
    fn only_the_venue_s_own_time_moves_a_fill_and_not_across_an_untimed_one() {
        let mut fills = vec![
            fill(Side::Buy, "100", "1", 10, false),
            ((Side::Buy, d("101"), d("1"), Decimal::ZERO), FillTime::None),
            fill(Side::Sell, "99", "1", 5, true),
        ];
        let (p, moved) = booked(&fills);
        assert_eq!(moved, 0);
        let mut want = Position::default();
        for ((s, px, q, fee), _) in &fills {
            want.apply_fill(*s, *px, *q, *fee);
        }
        assert_eq!(p, want);
        fills[2].1 = FillTime::Booked(5);
        fills[1].1 = FillTime::Booked(20);
        assert_eq!(booked(&fills).1, 0);
    }

    /// An adoption at the venue's entry is booked as one and is a stop for late fills, as in
    /// the journal's replay (`exec::journal` test `an_adoption_at_the_venue_s_entry_replays_as_one`,
    /// the same sequence): 1 @ 100, grown to 2 at entry 103, a late sell at 105 placed after
    /// the adoption and before the later buy at 104.
    #[test]
    fn an_adoption_at_the_venue_s_entry_books_its_entry_and_stops_the_walk() {
        let (mut log, mut p) = (FillLog::default(), Position::default());
        let f = |side, px: &str| (side, d(px), d("1"), Decimal::ZERO);
        assert_eq!(
            log.book(&mut p, f(Side::Buy, "100"), FillTime::Booked(10)),
            Booked::InOrder
        );
        log.adopt(&mut p, Side::Buy, d("1"), d("103"));
        assert_eq!((p.qty, p.entry), (d("2"), d("103")));
        assert_eq!(
            log.book(&mut p, f(Side::Buy, "104"), FillTime::Booked(30)),
            Booked::InOrder
        );
        let late = log.book(&mut p, f(Side::Sell, "105"), FillTime::Executed(20));
        assert_eq!(late, Booked::Rebooked);
        assert_eq!((p.qty, p.entry, p.cost), (d("2"), d("103.5"), d("207")));
        assert_eq!(p.realized, d("2"));
        // Older than the adoption: still placed after it.
        let older = log.book(&mut p, f(Side::Sell, "101"), FillTime::Executed(5));
        assert_eq!(older, Booked::Rebooked);
        let mut want = Position::default();
        want.apply_fill(Side::Buy, d("100"), d("1"), Decimal::ZERO);
        want.adopt_to_entry(Side::Buy, d("1"), d("103"));
        for (side, px) in [(Side::Sell, "101"), (Side::Sell, "105"), (Side::Buy, "104")] {
            want.apply_fill(side, d(px), d("1"), Decimal::ZERO);
        }
        assert_eq!(p, want);
    }

    /// Random sequences (a small LCG, fixed seeds): our fills in time order, some of the
    /// venue's booked late with an earlier time among the latest kept ones. The log's position
    /// equals the fills applied in venue-time order, ring wrap and a fill older than every
    /// kept one included.
    #[test]
    fn late_fills_anywhere_among_the_kept_ones_book_the_venue_s_order() {
        // Late fills placed, and those that went before every kept one of a full ring.
        let (mut moved, mut before_all) = (0, 0);
        for seed in 1..=200u64 {
            let mut x = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut next = |m: u64| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % m
            };
            let mut fills = Vec::new();
            let mut t = 1_000u64;
            let mut times: Vec<u64> = Vec::new();
            for _ in 0..(10 + next(40)) {
                let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                let px = format!("{}.{}", 100 + next(20), next(10));
                let q = format!("0.{}", 1 + next(9));
                // Late: just before one of the latest KEPT times, when at most KEPT fills are
                // later (equal times can make more); else ours, in time order.
                let late_at = (times.len() > 2 && next(4) == 0)
                    .then(|| {
                        times[times.len() - 1 - next(times.len().min(KEPT) as u64) as usize] - 1
                    })
                    .filter(|&at| times.iter().filter(|&&v| v > at).count() <= KEPT);
                let late = late_at.is_some();
                if let Some(at) = late_at {
                    let later = times.iter().filter(|&&v| v > at).count();
                    before_all += u32::from(later == KEPT && times.len() > KEPT);
                }
                let at = late_at.unwrap_or_else(|| {
                    t += 1 + next(5) * 2;
                    t
                });
                times.push(at);
                times.sort_unstable();
                fills.push(fill(side, &px, &q, at, late));
            }
            let (p, m) = booked(&fills);
            moved += m;
            assert_eq!(p, by_the_journal_s_rule(&fills), "seed {seed}: {fills:?}");
            assert_eq!(p, in_venue_order(&fills), "seed {seed}: {fills:?}");
        }
        assert!(
            moved > 500 && before_all > 5,
            "{moved} moved, {before_all} before all"
        );
    }

    /// A late fill placed before a full ring becomes the newest fill not kept: a second late
    /// fill older than it is beyond the log (the journal puts it before the first), one newer
    /// than it is not (the journal stops at the first: the same place).
    #[test]
    fn a_fill_placed_before_a_full_ring_is_the_next_walk_s_first_stop() {
        let ours = |n: u64| {
            (0..n)
                .map(|k| fill(Side::Buy, "100", "0.1", 100 + 10 * k, false))
                .collect::<Vec<_>>()
        };
        // KEPT + 1 fills: the one at 100 dropped; kept 110..; a late fill at 105 goes first.
        let mut fills = ours(KEPT as u64 + 1);
        fills.push(fill(Side::Sell, "90", "0.1", 105, true));
        assert_eq!(booked_all(&fills).2, 0);
        // Older than 105 (and than 100, the dropped one): the journal walks past both.
        let mut older = fills.clone();
        older.push(fill(Side::Sell, "95", "0.1", 99, true));
        assert_eq!(booked_all(&older).2, 1);
        // Between 100 and 105: the journal puts it before 105, the log after it.
        let mut between = fills.clone();
        between.push(fill(Side::Sell, "95", "0.1", 102, true));
        let (p, _, beyond) = booked_all(&between);
        assert_eq!(
            beyond, 1,
            "placed after 105 where the journal puts it before"
        );
        assert_eq!(p.qty, by_the_journal_s_rule(&between).qty);
        // Newer than 105: the journal stops at 105, as the log does.
        let mut newer = fills;
        newer.push(fill(Side::Sell, "95", "0.1", 107, true));
        let (p, _, beyond) = booked_all(&newer);
        assert_eq!(beyond, 0);
        assert_eq!(p, by_the_journal_s_rule(&newer));
    }

    /// Late fills with up to three times [`KEPT`] later fills: a sequence the log never said
    /// [`Booked::BeyondLog`] for has the journal's position exactly; one it did has the same
    /// quantity (any order gives it). Both kinds occur.
    #[test]
    fn a_late_fill_beyond_the_log_is_said_and_nothing_else_differs() {
        let (mut exact, mut said) = (0, 0);
        for seed in 1..=300u64 {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut next = |m: u64| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % m
            };
            let (mut fills, mut t) = (Vec::new(), 1_000u64);
            for _ in 0..(20 + next(60)) {
                let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                let px = format!("{}.{}", 100 + next(20), next(10));
                let q = format!("0.{}", 1 + next(9));
                let late = fills.len() > 2 && next(5) == 0;
                let at = if late {
                    // Up to 3·KEPT of the latest times back (ours are 2 ms or more apart).
                    t.saturating_sub(1 + next(6 * KEPT as u64 + 6))
                } else {
                    t += 2 + next(4);
                    t
                };
                fills.push(fill(side, &px, &q, at, late));
            }
            let (p, _, beyond) = booked_all(&fills);
            let journal = by_the_journal_s_rule(&fills);
            if beyond == 0 {
                exact += 1;
                assert_eq!(p, journal, "seed {seed}: {fills:?}");
            } else {
                said += 1;
                assert_eq!(p.qty, journal.qty, "seed {seed}");
            }
        }
        assert!(exact > 30 && said > 20, "{exact} exact, {said} said");
    }
}
