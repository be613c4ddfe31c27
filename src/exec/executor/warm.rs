//! Keeping the order path warm: while the hot thread is idle, one symbol's shadow order is
//! checked, rounded, built and signed by the venue's own builder (the code and buffers the next
//! real order uses), its intent and exits records encoded on the stack, and everything else a
//! real order touches probed without a change: the journal's next two record slots and its
//! records counter, the rate limiter's verdict and window slots, the order table's duplicate
//! scan and spare slot, the in-flight scan, the transport's next request buffer. A shadow never
//! reaches a socket, the journal's records, the order counters, the order table's orders or the
//! rate limiter's windows; its bytes sit in the builder's request buffer until the next order
//! overwrites them.
//!
//! A round ([`Executor::warm_step`], 2n shadows for n symbols) warms both sides of every
//! symbol, the likeliest next side last: first each symbol's other side, then each symbol's
//! likeliest side, ending with the symbol of the latest real order. A buy and a sell take
//! other branches (side text, the exits' rounding directions); a round that ended on the
//! other side left a real order after a quiet period about 0.5 µs slower in `sign`.

use std::hint::black_box;

use rust_decimal::Decimal;

use super::{Executor, Order, Route};
use crate::exec::lanes::Lane;
use crate::types::{Case, Instrument, IntentFields, OrderIntent, Side, SymbolId};

/// Per symbol, the shape of the shadow order on its likeliest next side: the symbol's last
/// real intent.
#[derive(Debug)]
pub(super) struct WarmState {
    last: Vec<Option<OrderIntent>>,
    /// Symbol and side of the latest real order (`None`: none yet): its symbol ends a round,
    /// its side is the likeliest of a symbol that has had no order.
    latest: Option<(SymbolId, Side)>,
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
            latest: None,
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
        self.latest = Some((it.symbol, it.side()));
        self.next_seq = it.client_seq.wrapping_add(1);
    }

    /// The likeliest side of `symbol`'s next order: that of its last real order, else that of
    /// the latest real order of any symbol, else a buy.
    fn likely_side(&self, symbol: SymbolId) -> Side {
        match self.last.get(symbol.index()) {
            Some(Some(it)) => it.side(),
            _ => self.latest.map_or(Side::Buy, |(_, side)| side),
        }
    }

    /// Symbol and likeliness of step `k` of a round over symbols `0..n` (see the module docs):
    /// steps `0..n` the other side of symbol `k`, steps `n..2n` the likeliest sides, the
    /// latest real order's symbol last.
    fn step(&self, k: usize, n: usize) -> (SymbolId, bool) {
        if k < n {
            return (SymbolId(k as u16), false);
        }
        let last = self.latest.map_or(n - 1, |(s, _)| s.index()).min(n - 1);
        (SymbolId(((last + 1 + k - n) % n) as u16), true)
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
    /// Step `k` (`0..2n`) of a warm-up round over symbols `0..n`: one shadow order stamped
    /// `timestamp_ms`, the symbols' other sides first, their likeliest sides last (see the
    /// module docs). Returns whether a shadow was signed (as [`Executor::warm`]).
    pub fn warm_step(&mut self, k: usize, n: usize, timestamp_ms: u64) -> bool {
        self.shadow_step(k, n)
            .is_some_and(|it| self.warm_shadow(&it, timestamp_ms))
    }

    /// The shadow intent of step `k` (`0..2n`) of a warm-up round over symbols `0..n` (see
    /// [`Executor::warm_step`]); `None` past the round or for a symbol without instrument.
    pub(in crate::exec) fn shadow_step(&self, k: usize, n: usize) -> Option<OrderIntent> {
        if k >= 2 * n {
            return None;
        }
        let (symbol, likely) = self.warm.step(k, n);
        if likely {
            self.shadow_of(symbol)
        } else {
            let side = match self.warm.likely_side(symbol) {
                Side::Buy => Side::Sell,
                Side::Sell => Side::Buy,
            };
            self.synthetic_of(symbol, side)
        }
    }

    /// `symbol`'s shadow on its likeliest next side: its last real intent (the next client
    /// sequence), or a synthetic entry on the side of the latest real order (a buy before any).
    fn shadow_of(&self, symbol: SymbolId) -> Option<OrderIntent> {
        match self.warm.last.get(symbol.index()) {
            Some(&Some(mut last)) => {
                last.client_seq = self.warm.next_seq;
                Some(last)
            }
            _ => self.synthetic_of(symbol, self.warm.likely_side(symbol)),
        }
    }

    /// A synthetic shadow entry of `symbol` on `side` (`None`: no such instrument).
    fn synthetic_of(&self, symbol: SymbolId, side: Side) -> Option<OrderIntent> {
        let inst = self.instruments.get(symbol.index())?;
        Some(synthetic(symbol, inst, self.warm.next_seq, side))
    }

    /// Exercises `symbol`'s order path with a shadow order on its likeliest next side, stamped
    /// `timestamp_ms` (see the module docs): its last real intent, or a synthetic entry on the
    /// side of the latest real order (a buy before any). Returns whether a shadow was signed
    /// (false: unknown symbol, halted, or the builder refused it). No allocation, no system
    /// call.
    pub fn warm(&mut self, symbol: SymbolId, timestamp_ms: u64) -> bool {
        self.shadow_of(symbol)
            .is_some_and(|it| self.warm_shadow(&it, timestamp_ms))
    }

    /// [`Executor::warm`] with a synthetic entry of `symbol` on `side`.
    pub fn warm_side(&mut self, symbol: SymbolId, side: Side, timestamp_ms: u64) -> bool {
        self.synthetic_of(symbol, side)
            .is_some_and(|it| self.warm_shadow(&it, timestamp_ms))
    }

    /// Signs shadow `it` through [`Executor::submit_pass`] (see the module docs); returns
    /// whether it was signed.
    fn warm_shadow(&mut self, it: &OrderIntent, timestamp_ms: u64) -> bool {
        let mut signed = false;
        self.submit_pass(it, timestamp_ms, true, |_| signed = true);
        signed
    }

    /// After shadow `o` was signed: the probes of what a real order does next (see the module
    /// docs), and the count.
    pub(super) fn shadow_signed(&mut self, o: &Order) {
        let i = o.symbol.index();
        black_box((self.booked[i], self.armed[i], self.unknown[i]));
        let lane = if o.reduce_only {
            Lane::Exit
        } else {
            Lane::Entry
        };
        // What `send_order` reads around the hand-over: the symbol's order in flight ahead.
        black_box(self.order_ahead(o.symbol));
        black_box((self.held.is_empty(), self.stats.orders));
        if let Route::Venue(t) = &mut self.route {
            black_box(self.table.warm(o.client_seq, o.symbol, o.side, o.qty));
            t.warm(lane, self.venue.last_order());
        }
        self.warm.shadows += 1;
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
