//! Keeping the order path warm: while the hot thread is idle, one symbol's shadow order is
//! checked, rounded, built and signed by the venue's own builder (the code and buffers the next
//! real order uses), its intent and exits records encoded on the stack, and everything else a
//! real order touches probed without a change: the journal's next two record slots and its
//! records counter, the rate limiter's verdict and window slots, the order table's duplicate
//! scan and spare slot, the in-flight scan, the transport's next request buffer. A shadow never
//! reaches a socket, the journal's records, the order counters, the order table's orders or the
//! rate limiter's windows; its bytes sit in the builder's request buffer until the next order
//! overwrites them.

use std::hint::black_box;

use rust_decimal::Decimal;

use super::{Executor, Route};
use crate::exec::journal::{Record, RecordKind};
use crate::exec::lanes::Lane;
use crate::exec::rate_limit::Lane as RateLane;
use crate::exec::transport_venue::EntryExits;
use crate::types::{Case, Instrument, IntentFields, OrderIntent, Side, SymbolId};
use crate::venue::order::OrderFields;

/// Per symbol, the shape of the shadow order: the symbol's last real intent.
#[derive(Debug)]
pub(super) struct WarmState {
    last: Vec<Option<OrderIntent>>,
    /// Per symbol, the side of its next synthetic shadow (no real intent yet): buys and sells
    /// alternate, so a first short entry finds its side's building warm too.
    sell: Vec<bool>,
    /// Client sequence of the shadows: the last real one plus one (same digits as the next).
    next_seq: u64,
    /// Shadow orders signed.
    shadows: u64,
}

impl WarmState {
    /// Room for `n` symbols.
    pub(super) fn new(n: usize) -> Self {
        Self {
            last: vec![None; n],
            sell: vec![false; n],
            next_seq: 1,
            shadows: 0,
        }
    }

    /// Remembers `it` as its symbol's shadow shape (after it was sent).
    #[inline]
    pub(super) fn note(&mut self, it: &OrderIntent) {
        if let Some(slot) = self.last.get_mut(it.symbol.index()) {
            *slot = Some(*it);
        }
        self.next_seq = it.client_seq.wrapping_add(1);
    }
}

/// A shadow entry for a symbol that has had no order yet: a `side` entry of the minimum quantity
/// at the price where it meets the minimum notional (plus 100 ticks), with TP/SL 1 % away
/// (take-profit above for a buy, below for a sell), on the tick.
fn synthetic(symbol: SymbolId, inst: &Instrument, seq: u64, side: Side) -> OrderIntent {
    let qty = inst.min_qty.max(inst.qty_step);
    let px = inst.ceil_price(inst.min_notional / qty) + inst.tick_size * Decimal::ONE_HUNDRED;
    let pct = Decimal::new(1, 2);
    let (up, down) = (
        inst.ceil_price(px * (Decimal::ONE + pct)),
        inst.floor_price(px * (Decimal::ONE - pct)),
    );
    let (take_profit, stop_loss) = match side {
        Side::Buy => (up, down),
        Side::Sell => (down, up),
    };
    OrderIntent::new(IntentFields {
        symbol,
        side,
        qty,
        ref_price: rust_decimal::prelude::ToPrimitive::to_f64(&px).unwrap_or(0.0),
        reduce_only: false,
        case: Case::AcceleratingUp,
        client_seq: seq,
        tick_recv_ns: 0,
        decided_ns: 0,
        take_profit: Some(take_profit),
        stop_loss: Some(stop_loss),
    })
}

impl Executor {
    /// Exercises `symbol`'s order path with a shadow order stamped `timestamp_ms` (see the
    /// module docs). Returns whether a shadow was signed (false: unknown symbol, halted, or the
    /// builder refused it). No allocation, no system call.
    pub fn warm(&mut self, symbol: SymbolId, timestamp_ms: u64) -> bool {
        let i = symbol.index();
        let Some(&inst) = self.instruments.get(i) else {
            return false;
        };
        if self.halted {
            return false;
        }
        let seq = self.warm.next_seq;
        let it = match self.warm.last[i] {
            Some(mut last) => {
                last.client_seq = seq;
                last
            }
            None => {
                let sell = &mut self.warm.sell[i];
                *sell = !*sell;
                let side = if *sell { Side::Sell } else { Side::Buy };
                synthetic(symbol, &inst, seq, side)
            }
        };
        black_box(self.refusal(&it, &inst));
        black_box((self.booked[i], self.armed[i], self.unknown[i]));
        let mut rec = Record::new(RecordKind::Intent, symbol, it.side(), self.session, seq);
        rec.qty = it.qty();
        rec.reduce_only = it.reduce_only();
        rec.price = inst.price_on_tick(it.ref_price);
        if let Some(j) = self.journal.as_mut() {
            j.warm(&rec, 0);
        }
        let built = self.venue.build_order(
            &inst,
            &OrderFields {
                symbol: &self.names[i],
                side: it.side(),
                quantity: it.qty(),
                reduce_only: it.reduce_only(),
                client_seq: seq,
                timestamp_ms,
            },
            rec.price,
            EntryExits {
                take_profit: it.take_profit(),
                stop_loss: it.stop_loss(),
            },
        );
        if built.is_err() {
            return false;
        }
        let exits = self.venue.last_exits();
        if let Some(j) = self.journal.as_mut().filter(|_| !it.reduce_only()) {
            if exits != (None, None) {
                j.warm(&Record::exits_of(&rec, exits), 1);
            }
        }
        let lane = if it.reduce_only() {
            Lane::Exit
        } else {
            Lane::Entry
        };
        // What `send_order` reads around the hand-over: the symbol's order in flight ahead.
        black_box(self.order_ahead(symbol));
        black_box((self.held.is_empty(), self.stats.orders));
        if let Route::Venue(t) = &mut self.route {
            let rate_lane = if it.reduce_only() {
                RateLane::Exit
            } else {
                RateLane::Entry
            };
            black_box(self.limiter.warm(rate_lane, self.now_ns));
            black_box(self.table.warm(seq, symbol, it.side(), it.qty()));
            t.warm(lane, self.venue.last_order());
        }
        self.warm.shadows += 1;
        true
    }

    /// Shadow orders signed by [`Executor::warm`].
    pub fn warm_shadows(&self) -> u64 {
        self.warm.shadows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn synthetic_shadows_put_the_take_profit_on_the_side_of_the_entry() {
        // BTCUSDT-like filters: tick 0.10, step 0.001, min notional 5.
        let inst = Instrument::new(d("0.10"), d("0.001"), d("0.001"), d("150"), d("5")).unwrap();
        let (buy, sell) = (
            synthetic(SymbolId(0), &inst, 7, Side::Buy),
            synthetic(SymbolId(0), &inst, 7, Side::Sell),
        );
        // 5 / 0.001 = 5000 on the tick, plus 100 ticks; levels 1 % away, rounded outwards.
        let px = d("5010.0");
        assert_eq!((buy.side(), sell.side()), (Side::Buy, Side::Sell));
        assert_eq!((buy.qty(), sell.qty()), (d("0.001"), d("0.001")));
        assert_eq!(buy.take_profit(), Some(d("5060.1")));
        assert_eq!(buy.stop_loss(), Some(d("4959.9")));
        assert_eq!(sell.take_profit(), buy.stop_loss());
        assert_eq!(sell.stop_loss(), buy.take_profit());
        assert!(sell.take_profit().unwrap() < px && px < sell.stop_loss().unwrap());
        assert!(!sell.reduce_only() && sell.client_seq == 7);
    }
}
