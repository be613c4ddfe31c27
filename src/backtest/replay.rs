//! The backtest loop: every historical trade goes through exactly the calls the live compute
//! thread makes — [`Engine::on_tick`] for the decision and [`Engine::on_report`] for each fill or
//! rejection — with the simulated venue in place of the execution thread. Single-threaded, no
//! rings; decisions depend only on the tick sequence (the engine decides on its working position),
//! so they are the decisions the live pipeline makes on the same trades.

use std::path::PathBuf;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use super::baseline::BuyHold;
use super::equity::{Decimator, Equity, EquitySummary};
use super::fills::{DelayedFills, FillConfig, FillStats};
use super::settings::BacktestConfig;
use super::trades::{RoundTrip, RoundTrips};
use crate::config::{resolve_path, Config};
use crate::strategy::{Engine, StrategyParams};
use crate::types::SymbolTable;
use crate::types::{
    instrument::load_specs, ExecReport, Instrument, OrderIntent, ReportStatus, Side, Tick,
};

/// What a backtest needs from the config, resolved once (symbols, instruments, parameters).
#[derive(Debug, Clone)]
pub struct Setup {
    /// Configured symbols, in id order.
    pub symbols: SymbolTable,
    /// Their instruments.
    pub instruments: Vec<Instrument>,
    /// The engine parameters (the live compute thread's).
    pub params: StrategyParams,
    /// The fill model.
    pub model: FillConfig,
    /// Taker fee (exit fee of positions open at the end, baseline fills).
    pub taker_fee: Decimal,
    /// Starting balance (`risk.balance`).
    pub balance: f64,
    /// `[backtest]`.
    pub bt: BacktestConfig,
}

impl Setup {
    /// Resolves `cfg` (reads the instrument table).
    pub fn from_config(cfg: &Config) -> Result<Self, String> {
        let bt = &cfg.backtest;
        bt.validate()?;
        let symbols =
            SymbolTable::new(&cfg.venue.symbols).map_err(|e| format!("venue.symbols: {e}"))?;
        let instruments = load_specs(
            &resolve_path(&cfg.venue.instruments),
            &cfg.venue.name,
            symbols.names(),
        )?;
        let paper_taker = cfg.taker_fee().map_err(|e| e.to_string())?;
        Ok(Self {
            params: StrategyParams::from_config(cfg),
            model: FillConfig::from_config(bt, paper_taker)?,
            taker_fee: bt.taker(paper_taker)?,
            balance: cfg.risk.balance,
            symbols,
            instruments,
            bt: bt.clone(),
        })
    }
}

/// A fill, for trade-marker plots.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FillMark {
    /// Fill time, ms.
    pub ts_ms: u64,
    /// Symbol index.
    pub symbol: u16,
    /// True for a buy.
    pub buy: bool,
    /// Fill price.
    pub price: f64,
    /// Quantity.
    pub qty: f64,
}

/// Everything a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The engine at the end (positions, counters).
    pub engine: Engine,
    /// Symbol names in id order.
    pub names: Vec<String>,
    /// Venue counters.
    pub sim: FillStats,
    /// Venue rejections per [`crate::types::RejectReason::index`].
    pub sim_rejects: [u64; crate::types::RejectReason::COUNT],
    /// Strategy equity.
    pub strategy: EquitySummary,
    /// Buy-and-hold equity.
    pub baseline: EquitySummary,
    /// Closed round trips.
    pub trips: Vec<RoundTrip>,
    /// Every intent, in decision order.
    pub intents: Vec<OrderIntent>,
    /// Every fill.
    pub fills: Vec<FillMark>,
    /// Price curve per symbol (bounded), for plots.
    pub prices: Vec<Vec<(u64, f64)>>,
    /// Exact realized + unrealized PnL before fees (positions marked at their last trade).
    pub gross_pnl: f64,
    /// Net PnL: gross − fees (incl. the exit fee of positions open at the end) − funding.
    pub net_pnl: f64,
    /// Trades replayed.
    pub ticks: u64,
    /// Bar length used for the returns, s.
    pub bar_s: u64,
}

/// The running backtest.
#[derive(Debug)]
pub struct Replay {
    engine: Engine,
    venue: DelayedFills,
    equity: Equity,
    baseline: BuyHold,
    trips: RoundTrips,
    intents: Vec<OrderIntent>,
    fills: Vec<FillMark>,
    prices: Vec<Decimator>,
    instruments: Vec<Instrument>,
    names: Vec<String>,
    taker_fee: Decimal,
    ticks: u64,
    bar_s: u64,
}

impl Replay {
    /// A fresh engine, venue and accounts for `setup`.
    pub fn new(setup: &Setup) -> Self {
        let n = setup.instruments.len();
        let bar_ms = setup.bt.bar_s * 1_000;
        let equity = || Equity::new(setup.balance, n, bar_ms, setup.bt.funding_rate_8h);
        Self {
            engine: Engine::new(setup.params, &setup.instruments),
            venue: DelayedFills::new(
                setup.instruments.clone(),
                setup.symbols.names().to_vec(),
                setup.model,
            ),
            equity: equity(),
            baseline: BuyHold::new(
                setup.instruments.clone(),
                crate::risk::Sizing {
                    order_notional: setup.params.risk.sizing.order_notional,
                    balance: setup.params.risk.balance,
                    max_leverage: setup.params.risk.sizing.max_leverage,
                },
                &setup.model,
                equity(),
            ),
            trips: RoundTrips::new(n),
            intents: Vec::new(),
            fills: Vec::new(),
            prices: (0..n).map(|_| Decimator::new(1_000, 4_096)).collect(),
            instruments: setup.instruments.clone(),
            names: setup.symbols.names().to_vec(),
            taker_fee: setup.taker_fee,
            ticks: 0,
            bar_s: setup.bt.bar_s,
        }
    }

    /// One historical trade: mark the accounts, fill due orders, decide, submit.
    #[inline]
    pub fn on_tick(&mut self, t: &Tick) {
        let i = t.symbol.index();
        if i >= self.instruments.len() {
            return;
        }
        self.ticks += 1;
        self.equity.mark(i, t.price, t.exch_ts_ms);
        self.baseline.on_tick(t);
        self.prices[i].push(t.exch_ts_ms, t.price);
        let Self {
            engine,
            venue,
            equity,
            trips,
            fills,
            intents,
            ..
        } = self;
        let ts = t.exch_ts_ms;
        venue.on_trade(t, |r, _| apply(engine, equity, trips, fills, r, ts));
        if let Some(intent) = engine.on_tick(t) {
            intents.push(intent);
            venue.submit(intent, t, |r, _| apply(engine, equity, trips, fills, r, ts));
        }
    }

    /// Replays a slice of trades.
    pub fn run(&mut self, ticks: &[Tick]) {
        for t in ticks {
            self.on_tick(t);
        }
    }

    /// Intents so far.
    pub fn intents(&self) -> &[OrderIntent] {
        &self.intents
    }

    /// Closes the run: positions still open pay the taker exit fee at their last trade price.
    pub fn finish(mut self) -> Outcome {
        let mut gross = Decimal::ZERO;
        let mut fees = Decimal::ZERO;
        for i in 0..self.engine.n_symbols() {
            let p = self.engine.position(i).copied().unwrap_or_default();
            let mark = self.instruments[i].price_on_tick(self.equity.last_price(i));
            gross += p.realized + p.unrealized(mark);
            fees += p.fees;
            if !p.qty.is_zero() {
                let exit_fee = (mark * p.qty.abs() * self.taker_fee).round_dp(8);
                fees += exit_fee;
                self.equity.charge_fee(exit_fee.to_f64().unwrap_or(0.0));
            }
        }
        let strategy = self.equity.finish();
        let net = (gross - fees).to_f64().unwrap_or(0.0) - strategy.funding;
        Outcome {
            sim: self.venue.finish(),
            sim_rejects: self.venue.rejects_by_reason(),
            engine: self.engine,
            names: self.names,
            strategy,
            baseline: self.baseline.finish(),
            trips: self.trips.into_closed(),
            intents: self.intents,
            fills: self.fills,
            prices: self.prices.iter().map(|d| d.points().to_vec()).collect(),
            gross_pnl: gross.to_f64().unwrap_or(0.0),
            net_pnl: net,
            ticks: self.ticks,
            bar_s: self.bar_s,
        }
    }
}

/// Hands a venue report to the engine (as the compute thread does) and books it.
#[inline]
fn apply(
    engine: &mut Engine,
    equity: &mut Equity,
    trips: &mut RoundTrips,
    fills: &mut Vec<FillMark>,
    r: &ExecReport,
    ts_ms: u64,
) {
    let i = r.symbol.index();
    let before = engine.position(i).copied().unwrap_or_default();
    engine.on_report(r);
    if r.status != ReportStatus::Filled {
        return;
    }
    let after = engine.position(i).copied().unwrap_or_default();
    trips.on_fill(i, ts_ms, &before, &after, r.price, r.fee);
    let price = r.price.to_f64().unwrap_or(0.0);
    let qty = r.qty.to_f64().unwrap_or(0.0);
    equity.fill(
        i,
        r.side,
        price,
        qty,
        r.fee.to_f64().unwrap_or(0.0),
        after.qty.to_f64().unwrap_or(0.0),
    );
    fills.push(FillMark {
        ts_ms,
        symbol: r.symbol.0,
        buy: r.side == Side::Buy,
        price,
        qty,
    });
}

/// Runs `setup` over `ticks` in one go.
pub fn run_ticks(setup: &Setup, ticks: &[Tick]) -> Outcome {
    let mut r = Replay::new(setup);
    r.run(ticks);
    r.finish()
}

/// Data files of the config's `[replay]` section (the bundled recordings by default).
pub fn default_data(cfg: &Config) -> Vec<PathBuf> {
    cfg.replay.files.iter().map(|f| resolve_path(f)).collect()
}
