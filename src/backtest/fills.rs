//! The simulated venue: order latency on the exchange clock, fills at historical trade prices,
//! slippage, fees and the venue filters — through the live [`Executor`] (same filter re-check,
//! same signed request, same [`crate::exec::PaperVenue`] price rounding and fee arithmetic).
//!
//! Model: an intent decided on a trade at exchange time `t` fills at the price of the first trade
//! of its symbol with `exch_ts ≥ t + latency_ms` (latency 0: the deciding trade, exactly as the
//! live paper venue fills at the intent's reference price). The fill price is that trade's price
//! moved `slippage_ticks` ticks and then `slippage_bps` against the order, on the tick; the fee is
//! `price·qty·fee` (taker, or maker for the optimistic `liquidity = "maker"` what-if, which has no
//! slippage). Orders never partially fill and do not move later trades (no market impact).
//! Orders still pending when the data ends are counted and never filled.
//!
//! TP/SL hook: the engine sends market orders only and its intents carry no take-profit or stop
//! levels yet. When the risk layer adds venue-side brackets (MATH.md §8), they are triggered
//! here, in [`DelayedFills::on_trade`], on trade prices of the position's symbol: the first trade at
//! or through the level fills the reduce-only exit at that trade's price (gaps fill worse than
//! the level), reported to the engine like any fill. Engine-side exits (drift monitor) need no
//! hook: they are intents and go through [`DelayedFills::submit`].

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::settings::{BacktestConfig, Liquidity};
use crate::exec::{BinanceOrderBuilder, Executor, PaperVenue};
use crate::types::{ExecReport, Instrument, OrderIntent, ReportStatus, Tick};

/// Paper credentials: the request is signed exactly as live, with a key that is not a secret.
const SIM_API_KEY: &str = "backtest-api-key";
const SIM_SECRET: &[u8] = b"backtest-secret-not-a-real-key";

/// When and how fills are priced and charged: the backtest's latency and tick slippage around
/// the one fill/fee model of paper mode and the embedded exchange ([`PaperVenue`] →
/// [`crate::exec::FillModel`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillConfig {
    /// Decision → fill delay, ms of exchange time.
    pub latency_ms: u64,
    /// Adverse slippage in ticks (applied before the price model's bps).
    pub slippage_ticks: u32,
    /// Fee (fraction of notional) and adverse slippage (bps of price, after the ticks).
    pub paper: PaperVenue,
}

impl FillConfig {
    /// The model of `[backtest]`, with `paper_taker` as the taker fee when none is set there.
    pub fn from_config(b: &BacktestConfig, paper_taker: Decimal) -> Result<Self, String> {
        let maker = b.liquidity == Liquidity::Maker;
        Ok(Self {
            latency_ms: b.latency_ms,
            slippage_ticks: if maker { 0 } else { b.slippage_ticks },
            paper: PaperVenue {
                taker_fee: b.fee(paper_taker)?,
                slippage_bps: if maker { 0.0 } else { b.slippage_bps },
            },
        })
    }
}

/// Counters of the simulated venue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FillStats {
    /// Intents submitted.
    pub submitted: u64,
    /// Filled.
    pub filled: u64,
    /// Rejected by the venue filters at fill time.
    pub rejected: u64,
    /// Still pending when the data ended.
    pub unfilled_at_end: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    intent: OrderIntent,
    due_ms: u64,
}

/// Pending orders and the executor that fills them.
#[derive(Debug)]
pub struct DelayedFills {
    exec: Executor,
    ticks: Vec<f64>,
    model: FillConfig,
    pending: Vec<Pending>,
    stats: FillStats,
}

impl DelayedFills {
    /// A venue for `instruments` named `names` (in `SymbolId` order).
    pub fn new(instruments: Vec<Instrument>, names: Vec<String>, model: FillConfig) -> Self {
        let ticks = instruments
            .iter()
            .map(|i| i.tick_size.to_f64().unwrap_or(0.0))
            .collect();
        let builder = BinanceOrderBuilder::new(SIM_API_KEY, SIM_SECRET, "backtest", 5000, "bt-");
        Self {
            exec: Executor::new(instruments, names, builder, model.paper),
            ticks,
            model,
            pending: Vec::with_capacity(16),
            stats: FillStats::default(),
        }
    }

    /// Fills the pending orders of `t`'s symbol that are due at `t` at `t`'s price, oldest first;
    /// `on_report(report, fill time)` gets each outcome.
    #[inline]
    pub fn on_trade(&mut self, t: &Tick, mut on_report: impl FnMut(&ExecReport, &OrderIntent)) {
        if self.pending.is_empty() {
            return;
        }
        let mut k = 0;
        while k < self.pending.len() {
            let p = self.pending[k];
            if p.intent.symbol == t.symbol && p.due_ms <= t.exch_ts_ms {
                self.pending.remove(k);
                let r = self.fill(&p.intent, t);
                on_report(&r, &p.intent);
            } else {
                k += 1;
            }
        }
    }

    /// Submits an intent decided on trade `t`: filled now when the latency is 0, else queued.
    #[inline]
    pub fn submit(
        &mut self,
        intent: OrderIntent,
        t: &Tick,
        mut on_report: impl FnMut(&ExecReport, &OrderIntent),
    ) {
        self.stats.submitted += 1;
        if self.model.latency_ms == 0 {
            let r = self.fill(&intent, t);
            on_report(&r, &intent);
        } else {
            self.pending.push(Pending {
                intent,
                due_ms: t.exch_ts_ms + self.model.latency_ms,
            });
        }
    }

    fn fill(&mut self, intent: &OrderIntent, t: &Tick) -> ExecReport {
        let tick = self
            .ticks
            .get(intent.symbol.index())
            .copied()
            .unwrap_or(0.0);
        let moved = t.price + intent.side().sign() * f64::from(self.model.slippage_ticks) * tick;
        let mut at = *intent;
        at.ref_price = if moved > 0.0 { moved } else { t.price };
        let r = self.exec.execute(&at, t.exch_ts_ms, |_signed| {});
        match r.status {
            ReportStatus::Filled => self.stats.filled += 1,
            ReportStatus::Rejected(_) => self.stats.rejected += 1,
            ReportStatus::Adopted | ReportStatus::Expired | ReportStatus::UnknownOrder(_) => {}
        }
        r
    }

    /// Counters, with the orders still pending counted as unfilled.
    pub fn finish(&self) -> FillStats {
        FillStats {
            unfilled_at_end: self.pending.len() as u64,
            ..self.stats
        }
    }

    /// Rejections per reason (index = [`crate::types::RejectReason::index`]).
    pub fn rejects_by_reason(&self) -> [u64; crate::types::RejectReason::COUNT] {
        self.exec.stats().rejects
    }
}
