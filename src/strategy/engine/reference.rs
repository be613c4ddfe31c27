//! Test-only reference: the decision path as it was before it moved to integer ticks and lots
//! (exit levels through `Decimal::from_f64` and decimal division, sizing's leverage guard through
//! `Decimal::from_f64`, the exposure cap through a decimal division), kept verbatim so the
//! replay test can require the same orders from both ([`ON`] switches the engine to it).

use std::cell::Cell;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use crate::risk::config::ExitMode;
use crate::risk::config::SizingMethod;
use crate::risk::sizing::{floor_to_step, SizeCap, SizedEntry};
use crate::risk::{
    BlockReason, EntryBlock, EntryRequest, ExitLevels, ExitParams, OrderCheck, RiskGate,
    SizingParams, TradeStats,
};
use crate::strategy::snapshot::TickState;
use crate::types::{Instrument, Side};

use super::RiskParams;

thread_local! {
    /// While true, the engine on this thread plans entries with this module's functions.
    pub(crate) static ON: Cell<bool> = const { Cell::new(false) };
}

/// The old `ExitLevels::plan`.
pub(crate) fn plan(
    p: &ExitParams,
    direction: i8,
    entry: Decimal,
    vol: f64,
    inst: &Instrument,
) -> Result<ExitLevels, BlockReason> {
    let e = entry.to_f64().unwrap_or(f64::NAN);
    let vol_ok = vol.is_finite() && vol >= 0.0;
    if !(e.is_finite() && e > 0.0) || (p.mode == ExitMode::Volatility && !vol_ok) {
        return Err(BlockReason::BadInput);
    }
    let (tp_d, sl_d) = p.distances(e, if vol_ok { vol } else { 0.0 });
    let (Some(tp_d), Some(sl_d)) = (Decimal::from_f64(tp_d), Decimal::from_f64(sl_d)) else {
        return Err(BlockReason::BadInput);
    };
    let tick = inst.tick_size;
    let (tp, sl, reward, risk) = match direction {
        1 => {
            let tp = ((entry + tp_d) / tick).floor() * tick;
            let sl = ((entry - sl_d) / tick).ceil() * tick;
            (tp, sl, tp - entry, entry - sl)
        }
        -1 => {
            let tp = ((entry - tp_d) / tick).ceil() * tick;
            let sl = ((entry + sl_d) / tick).floor() * tick;
            (tp, sl, entry - tp, sl - entry)
        }
        _ => return Err(BlockReason::BadInput),
    };
    if risk <= Decimal::ZERO || sl <= Decimal::ZERO || tp <= Decimal::ZERO {
        return Err(BlockReason::BadInput);
    }
    if reward < p.min_reward_risk * risk {
        return Err(BlockReason::RewardRisk);
    }
    Ok(ExitLevels::from_decimals(direction, entry, tp, sl))
}

/// The old `size_entry`.
#[allow(clippy::too_many_lines)]
pub(crate) fn size_entry(
    p: &SizingParams,
    stats: &TradeStats,
    req: &EntryRequest,
    inst: &Instrument,
) -> Result<SizedEntry, EntryBlock> {
    let bad = Err(EntryBlock::Risk(BlockReason::BadInput));
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if !ok(req.price) || !ok(req.balance) {
        return bad;
    }
    let has_stop = ok(req.stop_distance);
    if !(has_stop || req.stop_distance == 0.0) {
        return bad;
    }
    let m = if req.size_multiplier.is_finite() {
        req.size_multiplier.clamp(0.0, 1.0)
    } else {
        return bad;
    };
    let s = p.vol_scale(req.sigma);
    let r = p.risk_fraction(stats);
    let mut q = match p.method {
        SizingMethod::FixedFractional => {
            if !has_stop {
                return bad;
            }
            if r <= 0.0 {
                return Err(EntryBlock::Risk(BlockReason::NoEdge));
            }
            req.balance * r * s * m / req.stop_distance
        }
        SizingMethod::FixedNotional => {
            let k = p.kelly_multiplier(stats);
            if k <= 0.0 {
                return Err(EntryBlock::Risk(BlockReason::NoEdge));
            }
            p.order_notional * k * s * m / req.price
        }
    };
    let mut binding = SizeCap::Formula;
    if has_stop {
        let q_risk = req.balance * p.max_risk_per_trade / req.stop_distance;
        if q_risk < q {
            q = q_risk;
            binding = SizeCap::Risk;
        }
    }
    let lev = p.leverage_cap(req.balance, req.venue_max_leverage);
    let q_lev = req.balance * lev / req.price;
    if q_lev < q {
        q = q_lev;
        binding = SizeCap::Leverage;
    }
    let mut qty = inst.floor_qty(q);
    if qty > inst.max_market_qty {
        qty = floor_to_step(inst.max_market_qty, inst.qty_step);
        binding = SizeCap::MaxQty;
    }
    let price = inst.price_on_tick(req.price);
    // Exact guard: an f64 quotient one ulp above a whole number of steps must not push the
    // notional over the leverage cap.
    let (Some(b), Some(l)) = (Decimal::from_f64(req.balance), Decimal::from_f64(lev)) else {
        return bad;
    };
    let cap = b * l;
    if !price.is_zero() && qty * price > cap {
        qty = floor_to_step(cap / price, inst.qty_step);
        if qty * price > cap {
            // `cap / price` rounded up in its 28th digit.
            qty = (qty - inst.qty_step).max(Decimal::ZERO);
        }
        binding = SizeCap::Leverage;
    }
    if let Some(reason) = inst.violation(qty, req.price, false) {
        return Err(EntryBlock::Filter(reason));
    }
    let notional = qty * price;
    let qf = qty.to_f64().unwrap_or(0.0);
    Ok(SizedEntry {
        qty,
        notional,
        leverage: notional.to_f64().unwrap_or(f64::INFINITY) / req.balance,
        risk_fraction: r,
        risk: if has_stop {
            qf * req.stop_distance
        } else {
            0.0
        },
        binding,
    })
}

/// The old `entry_levels_and_size`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn entry_levels_and_size(
    rp: &RiskParams,
    gate: &RiskGate,
    trade_stats: &TradeStats,
    inst: &Instrument,
    venue_max_leverage: f64,
    vol: f64,
    st: &TickState,
    (i, target, side, close): (usize, i8, Side, Decimal),
) -> Result<(ExitLevels, Decimal), EntryBlock> {
    // The gate's state blocks (emergency, pause, daily loss, reconciliation, positions,
    // correlation) first: while one holds, skip the decimal work of planning and sizing.
    gate.check(&OrderCheck {
        symbol: i,
        side,
        notional: Decimal::ZERO,
        risk: Decimal::ZERO,
        reduce_only: false,
    })
    .map_err(EntryBlock::Risk)?;
    let entry = inst.price_on_tick(st.price);
    let sigma = st.layers.sigma;
    let lv = plan(&rp.exits, target, entry, vol, inst).map_err(EntryBlock::Risk)?;
    let sized = size_entry(
        &rp.sizing,
        trade_stats,
        &EntryRequest {
            price: st.price,
            stop_distance: lv.stop_distance().to_f64().unwrap_or(f64::NAN),
            balance: gate.sizing_balance().to_f64().unwrap_or(f64::NAN),
            sigma,
            venue_max_leverage,
            size_multiplier: gate.size_multiplier() * gate.correlation_multiplier(i),
        },
        inst,
    )?;
    // Size down to the per-symbol exposure cap rather than refuse: a tight stop can ask for more
    // than `max_symbol_exposure × E` even under the leverage cap.
    let mut qty = sized.qty;
    if !entry.is_zero() {
        let cap = rp.limits.max_symbol_exposure * gate.equity() / entry;
        let cap = inst.floor_qty_dec(cap.max(Decimal::ZERO));
        if qty > cap {
            qty = cap;
            if let Some(r) = inst.violation(qty, st.price, false) {
                return Err(EntryBlock::Filter(r));
            }
        }
    }
    gate.check(&OrderCheck {
        symbol: i,
        side,
        notional: (close + qty) * entry,
        risk: lv.risk(qty),
        reduce_only: false,
    })
    .map_err(EntryBlock::Risk)?;
    Ok((lv, qty))
}

/// The proof: the engine over the bundled Binance replay (BTCUSDT 2023 and 2024, ETHUSDT 2024)
/// decides the same orders on the integer path as on the old decimal path, field for field.
mod tests {
    use std::path::{Path, PathBuf};

    use rust_decimal::prelude::ToPrimitive;
    use rust_decimal::Decimal;

    use super::ON;
    use crate::config::{Config, DEFAULT_TOML};
    use crate::exchange::Recording;
    use crate::feed::SymbolTable;
    use crate::risk::config::{ExitMode, SizingMethod};
    use crate::strategy::engine::{Engine, EngineStats};
    use crate::strategy::{StrategyKind, StrategyParams, VelocitySource};
    use crate::types::instrument::load_specs;
    use crate::types::{ExecReport, FillTime, Instrument, OrderIntent, ReportStatus, Tick};
    use crate::venue::binance::market::trades_of;

    const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn ticks() -> Vec<Tick> {
        let dir = root().join("data/replay");
        let runs = [
            vec![dir.join("binance_usdm_BTCUSDT_2023-04-05_0000-0007.gz")],
            vec![
                dir.join("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
                dir.join("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
            ],
        ];
        let symbols = SymbolTable::new(&SYMBOLS).unwrap();
        let mut out = Vec::new();
        for files in runs {
            let rec = Recording::load(&files).unwrap();
            out.extend(trades_of(
                rec.frames.iter().map(|f| f.text.as_str()),
                &symbols,
            ));
        }
        out
    }

    fn instruments() -> Vec<Instrument> {
        let specs = root().join("data/instruments/instrument_specs_8_symbols.json");
        let names: Vec<String> = SYMBOLS.iter().map(|s| s.to_string()).collect();
        load_specs(Path::new(&specs), "binance", &names).unwrap()
    }

    /// The budget table's trade-heavy configuration (benches/budgets.rs `bench_config`).
    fn heavy() -> Config {
        let mut cfg = Config::parse(DEFAULT_TOML).unwrap();
        cfg.signal.source = VelocitySource::FiniteDifference;
        cfg.model.tau_s = 0.0;
        cfg.strategy.cooldown_ms = 0;
        cfg.risk.exits.tp_fraction = 0.0012;
        cfg.risk.exits.sl_fraction = 0.0006;
        cfg.risk.exits.min_reward_risk = 1.0;
        cfg.layers.drift.enabled = false;
        cfg.layers.regime.enabled = false;
        cfg.layers.tp_first.enabled = false;
        let l = &mut cfg.risk.limits;
        l.max_consecutive_losses = 0;
        l.drawdown_pause = 1.0;
        l.emergency_drawdown = 0.0;
        l.daily_loss = 1.0;
        l.max_correlation = 1.0;
        cfg
    }

    /// Every intent of one run, each fill reported at once at the reference price on the tick.
    fn run(
        p: StrategyParams,
        inst: &[Instrument],
        ticks: &[Tick],
        reference: bool,
    ) -> (Vec<OrderIntent>, EngineStats) {
        ON.with(|c| c.set(reference));
        let mut e = Engine::new(p, inst);
        let mut out = Vec::new();
        for t in ticks {
            if let Some(it) = e.on_tick(t) {
                e.on_report(&ExecReport {
                    symbol: it.symbol,
                    client_seq: it.client_seq,
                    side: it.side(),
                    status: ReportStatus::Filled,
                    price: inst[it.symbol.index()].price_on_tick(it.ref_price),
                    qty: it.qty(),
                    fee: Decimal::ZERO,
                    at: FillTime::None,
                });
                out.push(it);
            }
        }
        ON.with(|c| c.set(false));
        (out, *e.stats())
    }

    /// Same value and same scale (the text sent to the venue).
    fn same(a: Option<Decimal>, b: Option<Decimal>) -> bool {
        a == b && a.map(|d| d.to_string()) == b.map(|d| d.to_string())
    }

    /// Runs both paths; asserts every intent identical; returns (intents, entries with levels).
    fn compare(
        name: &str,
        p: StrategyParams,
        inst: &[Instrument],
        ticks: &[Tick],
    ) -> (usize, usize) {
        let (new, new_stats) = run(p, inst, ticks, false);
        let (old, old_stats) = run(p, inst, ticks, true);
        assert_eq!(new.len(), old.len(), "{name}: intent count");
        for (k, (a, b)) in new.iter().zip(&old).enumerate() {
            let ok = a.symbol == b.symbol
                && a.side() == b.side()
                && same(Some(a.qty()), Some(b.qty()))
                && a.ref_price.to_bits() == b.ref_price.to_bits()
                && a.reduce_only() == b.reduce_only()
                && a.case() == b.case()
                && a.client_seq == b.client_seq
                && same(a.take_profit(), b.take_profit())
                && same(a.stop_loss(), b.stop_loss());
            assert!(ok, "{name}: intent {k} differs:\n new {a:?}\n old {b:?}");
        }
        assert_eq!(new_stats, old_stats, "{name}: engine counters");
        let entries = new.iter().filter(|i| i.take_profit().is_some()).count();
        (new.len(), entries)
    }

    #[test]
    fn the_integer_path_decides_todays_orders_on_the_bundled_replay() {
        let ticks = ticks();
        assert!(ticks.len() > 45_000, "{} ticks", ticks.len());
        let inst = instruments();
        let mut variants: Vec<(&str, Config)> = vec![("trade-heavy", heavy())];
        let mut c = heavy();
        c.risk.exits.mode = ExitMode::Volatility;
        variants.push(("volatility exits", c));
        let mut c = heavy();
        c.risk.sizing.method = SizingMethod::FixedNotional;
        c.risk.exits.min_reward_risk = 1.5;
        c.risk.exits.tp_fraction = 0.001;
        c.risk.exits.sl_fraction = 0.0005;
        variants.push(("fixed notional, round fractions", c));
        let mut c = heavy();
        c.risk.sizing.kelly_enabled = true;
        c.risk.sizing.kelly_min_trades = 10;
        c.risk.sizing.vol_target_enabled = true;
        variants.push(("kelly + vol target", c));
        let mut c = heavy();
        c.risk.sizing.vol_target_enabled = true;
        c.risk.max_leverage = 2.0;
        variants.push(("vol target + leverage cap 2", c));
        let mut c = heavy();
        c.strategy.strategy = StrategyKind::Both;
        variants.push(("strategy = both", c));
        let mut total = (0, 0);
        for (name, cfg) in &variants {
            let (n, e) = compare(name, StrategyParams::from_config(cfg), &inst, &ticks);
            eprintln!("{name}: {n} intents, {e} with levels");
            total = (total.0 + n, total.1 + e);
        }
        // Coarse ticks (BTC 0.5 to 10, ETH 0.05 to 1): round prices, distances near whole ticks.
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        for (bt, et) in [("0.5", "0.25"), ("1", "0.05"), ("5", "0.5"), ("10", "1")] {
            let coarse: Vec<Instrument> = inst
                .iter()
                .zip([bt, et])
                .map(|(i, t)| {
                    Instrument::new(
                        d(t),
                        i.qty_step,
                        i.min_qty,
                        i.max_market_qty,
                        i.min_notional,
                    )
                    .unwrap()
                })
                .collect();
            let mut c = heavy();
            c.risk.exits.tp_fraction = 0.002;
            c.risk.exits.sl_fraction = 0.001;
            let (n, e) = compare(
                "coarse ticks",
                StrategyParams::from_config(&c),
                &coarse,
                &ticks,
            );
            eprintln!("ticks {bt}/{et}: {n} intents, {e} with levels");
            total = (total.0 + n, total.1 + e);
        }
        assert!(total.1 > 1_000, "entries with levels compared: {total:?}");
    }

    /// Per-tick cost of `Engine::on_tick` (fill reported at once) on the trade-heavy
    /// configuration, old path vs integer path alternated in one process (a measurement, no
    /// assertion: `cargo test --release --lib -- --ignored decision_path_cost --nocapture`).
    #[test]
    #[ignore]
    fn decision_path_cost() {
        let ticks = ticks();
        let inst = instruments();
        let p = StrategyParams::from_config(&heavy());
        let clock = crate::telemetry::Clock::new();
        let mut all: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        let mut entries: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..10 {
            for reference in [round % 2 == 0, round % 2 == 1] {
                ON.with(|c| c.set(reference));
                let mut e = Engine::new(p, &inst);
                for t in &ticks {
                    let a = clock.now_ns();
                    let it = e.on_tick(std::hint::black_box(t));
                    if let Some(it) = it {
                        e.on_report(&ExecReport {
                            symbol: it.symbol,
                            client_seq: it.client_seq,
                            side: it.side(),
                            status: ReportStatus::Filled,
                            price: inst[it.symbol.index()].price_on_tick(it.ref_price),
                            qty: it.qty(),
                            fee: Decimal::ZERO,
                            at: FillTime::None,
                        });
                    }
                    let ns = clock.now_ns() - a;
                    all[usize::from(reference)].push(ns);
                    if it.is_some_and(|i| i.take_profit().is_some()) {
                        entries[usize::from(reference)].push(ns);
                    }
                }
                ON.with(|c| c.set(false));
            }
        }
        let q = |v: &mut Vec<u64>, f: f64| {
            v.sort_unstable();
            v[((v.len() - 1) as f64 * f) as usize]
        };
        for (k, name) in [(1, "old (decimal)"), (0, "new (integer)")] {
            let (a, e) = (&mut all[k].clone(), &mut entries[k].clone());
            eprintln!(
                "{name}: per tick p50 {} p99 {} p99.9 {} ns; entry ticks ({}) p50 {} p99 {} ns",
                q(a, 0.5),
                q(a, 0.99),
                q(a, 0.999),
                e.len(),
                q(e, 0.5),
                q(e, 0.99)
            );
        }
    }

    /// Per-call cost of exit levels + sizing on the replay's prices (trade-heavy exits, default
    /// sizing, balance 10 000): the old decimal functions vs the integer ones, alternated.
    /// A measurement, no assertion (`-- --ignored plan_and_size_cost --nocapture`).
    #[test]
    #[ignore]
    fn plan_and_size_cost() {
        use crate::risk::{size_entry, EntryRequest, ExitLevels, TradeStats};
        let ticks = ticks();
        let inst = instruments();
        let rp = StrategyParams::from_config(&heavy()).risk;
        let clock = crate::telemetry::Clock::new();
        let stats = TradeStats::default();
        let mut ns: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..6 {
            for old in [round % 2 == 0, round % 2 == 1] {
                for (k, t) in ticks.iter().enumerate() {
                    let i = &inst[t.symbol.index()];
                    let dir = if k % 2 == 0 { 1 } else { -1 };
                    let vol = t.price * 4e-4;
                    let a = clock.now_ns();
                    let r = if old {
                        let entry = i.price_on_tick(t.price);
                        super::plan(&rp.exits, dir, entry, vol, i).map(|lv| {
                            let stop = lv.stop_distance().to_f64().unwrap_or(f64::NAN);
                            (lv, stop)
                        })
                    } else {
                        let e = i.price_ticks(t.price).unwrap_or(0);
                        ExitLevels::plan_ticks(&rp.exits, dir, e, vol, i)
                            .map(|lv| (lv, lv.stop_distance_f64()))
                    };
                    let q = r.ok().map(|(_, stop)| {
                        let req = EntryRequest {
                            price: t.price,
                            stop_distance: stop,
                            balance: 10_000.0,
                            sigma: 1e-4,
                            venue_max_leverage: f64::NAN,
                            size_multiplier: 1.0,
                        };
                        if old {
                            super::size_entry(&rp.sizing, &stats, &req, i).ok()
                        } else {
                            size_entry(&rp.sizing, &stats, &req, i).ok()
                        }
                    });
                    std::hint::black_box(q);
                    ns[usize::from(old)].push(clock.now_ns() - a);
                }
            }
        }
        for (k, name) in [(1, "old (decimal)"), (0, "new (integer)")] {
            let v = &mut ns[k];
            v.sort_unstable();
            let q = |f: f64| v[((v.len() - 1) as f64 * f) as usize];
            eprintln!(
                "{name}: plan + size p50 {} p99 {} p99.9 {} ns ({} calls)",
                q(0.5),
                q(0.99),
                q(0.999),
                v.len()
            );
        }
    }
}
