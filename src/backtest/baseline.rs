//! Buy-and-hold baseline on the same data: at each symbol's first trade, buy the strategy's
//! entry size (same sizing, step flooring, filters, fee and slippage), hold to the end, pay the
//! exit fee at the last trade.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::equity::{Equity, EquitySummary};
use super::fills::FillConfig;
use crate::exec::PaperVenue;
use crate::risk::Sizing;
use crate::types::{Instrument, Side, Tick};

/// The baseline account.
#[derive(Debug)]
pub struct BuyHold {
    equity: Equity,
    held: Vec<Decimal>,
    seen: Vec<bool>,
    instruments: Vec<Instrument>,
    paper: PaperVenue,
    slippage_ticks: u32,
    sizing: Sizing,
}

impl BuyHold {
    /// A baseline over `instruments` with the strategy's `sizing` and fill `model`.
    pub fn new(
        instruments: Vec<Instrument>,
        sizing: Sizing,
        model: &FillConfig,
        equity: Equity,
    ) -> Self {
        let n = instruments.len();
        Self {
            equity,
            held: vec![Decimal::ZERO; n],
            seen: vec![false; n],
            instruments,
            paper: model.paper,
            slippage_ticks: model.slippage_ticks,
            sizing,
        }
    }

    /// Marks the trade; buys at the symbol's first trade.
    #[inline]
    pub fn on_tick(&mut self, t: &Tick) {
        let i = t.symbol.index();
        self.equity.mark(i, t.price, t.exch_ts_ms);
        if self.seen[i] {
            return;
        }
        self.seen[i] = true;
        let inst = &self.instruments[i];
        let qty = inst.floor_qty(self.sizing.entry_qty(t.price));
        if inst.violation(qty, t.price, false).is_some() {
            return;
        }
        let tick = inst.tick_size.to_f64().unwrap_or(0.0);
        let at = t.price + f64::from(self.slippage_ticks) * tick;
        let (price, fee) = self.paper.fill(inst, Side::Buy, at, qty);
        let q = qty.to_f64().unwrap_or(0.0);
        self.equity.fill(
            i,
            Side::Buy,
            price.to_f64().unwrap_or(0.0),
            q,
            fee.to_f64().unwrap_or(0.0),
            q,
        );
        self.held[i] = qty;
    }

    /// Charges the exit fee of every holding at its last trade price and closes the series.
    pub fn finish(mut self) -> EquitySummary {
        for (i, q) in self.held.iter().enumerate() {
            if q.is_zero() {
                continue;
            }
            let mark = self.instruments[i].price_on_tick(self.equity.last_price(i));
            let fee = (mark * q * self.paper.taker_fee).round_dp(8);
            self.equity.charge_fee(fee.to_f64().unwrap_or(0.0));
        }
        self.equity.finish()
    }
}
