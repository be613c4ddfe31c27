//! The engine side of operator control, on the bundled real replay:
//! - commands go through the real command ring into a `ComputeStage`: a pause refuses every
//!   entry from the next tick on (exits still go out), resume lets them go again; an emergency
//!   stop closes every open working position with one reduce-only order each and halts entries;
//!   a settings patch changes the next entry's notional; a removed symbol is closed and takes no
//!   entry (its models keep updating) until added back; a circuit breaker lifts itself;
//! - the persisted risk state: a losing-streak pause survives a restart until `Resume`; a UTC day
//!   boundary crossed while down resets the daily PnL (the same day keeps it); a corrupt state
//!   file refuses the start;
//! - a whole run against the embedded exchange (Binance fused, Bybit pipeline): an emergency stop sent through the
//!   `ControlHandle` closes every position (engine and exchange agree), the halt survives a
//!   restart on the same journal and state file (no entries) until `Resume`, then entries resume.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use calculus_trader::config::Config;
use calculus_trader::control::ControlHandle;
use calculus_trader::ring::channel;
use calculus_trader::risk::config::{SizingMethod, StateOnCorrupt};
use calculus_trader::risk::BlockReason;
use calculus_trader::runtime::{self, ControlHook, RunOptions, Shutdown};
use calculus_trader::strategy::{ComputeStage, Engine, StrategyParams};
use calculus_trader::telemetry::{Clock, Counter, StageHistograms};
use calculus_trader::types::control::{
    Command, EngineView, RiskState, RunState, SettingsPatch, StatusView,
};
use calculus_trader::types::{ExecReport, OrderIntent, ReportStatus, Side, Tick};
use rust_decimal::Decimal;

mod common;
use calculus_trader::venue::Venue;
use common::exchange::{hosted_binary_toml_on, hosted_on, key_env, Hosted, Options};
use common::files::temp_dir;
use common::run::{counter, eager_toml, flat, run_with, wait_status, write_key_file};
use common::setup::{eager_params, Replay};
use common::values::d;

/// A compute stage on `params` whose commands come through a real ring and handle.
fn stage(params: StrategyParams, replay: &Replay) -> (ComputeStage, ControlHandle) {
    let (tx, rx) = channel::<Command>(64).unwrap();
    let mut c = ComputeStage::new(Engine::new(params, &replay.instruments), Clock::new());
    c.set_commands(rx);
    (c, ControlHandle::new(tx))
}

/// Feeds `ticks`, filling every intent at once; returns the intents.
fn feed(c: &mut ComputeStage, ticks: &[Tick]) -> Vec<OrderIntent> {
    let mut h = StageHistograms::new();
    let mut out = Vec::new();
    for t in ticks {
        if let Some(it) = c.on_tick(t, 0, &mut h) {
            fill_stage(c, &it);
            out.push(it);
        }
    }
    out
}

/// Reports `it` filled in full at its reference price rounded to 2 dp, without fee (as
/// `common::setup::fill` does for an engine).
fn fill_stage(c: &mut ComputeStage, it: &OrderIntent) {
    c.on_report(&ExecReport {
        symbol: it.symbol,
        client_seq: it.client_seq,
        side: it.side(),
        status: ReportStatus::Filled,
        price: Decimal::from_f64_retain(it.ref_price).unwrap().round_dp(2),
        qty: it.qty(),
        fee: Decimal::ZERO,
        at: Default::default(),
    });
}

fn blocked(c: &ComputeStage, r: BlockReason) -> u64 {
    c.engine().stats().risk_blocked[r.index()]
}

fn view(c: &ComputeStage, n: usize) -> EngineView {
    let mut v = EngineView::new(n);
    c.fill_view(&mut v);
    v
}

#[test]
fn pause_refuses_entries_from_the_next_tick_and_resume_lets_them_go() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let (mut c, h) = stage(eager_params(), &replay);
    let before = feed(&mut c, &ticks[..10_000]);
    assert!(
        before.iter().any(|i| !i.reduce_only()),
        "entries before the pause"
    );

    h.send(Command::Pause).unwrap();
    assert_eq!(c.poll_commands(), 1);
    assert_eq!(view(&c, 2).state, RunState::Paused);
    let paused = feed(&mut c, &ticks[10_000..20_000]);
    assert!(
        paused.iter().all(|i| i.reduce_only()),
        "no entry after the pause was applied: {:?}",
        paused.iter().find(|i| !i.reduce_only())
    );
    assert!(
        blocked(&c, BlockReason::OperatorPause) > 0,
        "entries were wanted and refused for the pause"
    );

    h.send(Command::Resume).unwrap();
    c.poll_commands();
    assert_eq!(view(&c, 2).state, RunState::Running);
    let resumed = feed(&mut c, &ticks[20_000..]);
    assert!(
        resumed.iter().any(|i| !i.reduce_only()),
        "entries after resume"
    );
    assert_eq!(c.engine().operator_stats().commands, 2);
}

#[test]
fn emergency_stop_closes_every_working_position_once_and_halts_entries() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let (mut c, h) = stage(eager_params(), &replay);
    // Until both symbols hold a position.
    let mut k = 0;
    let mut hist = StageHistograms::new();
    while k < ticks.len() && (c.engine().working(0).is_zero() || c.engine().working(1).is_zero()) {
        if let Some(it) = c.on_tick(&ticks[k], 0, &mut hist) {
            fill_stage(&mut c, &it);
        }
        k += 1;
    }
    let held = [c.engine().working(0), c.engine().working(1)];
    assert!(
        held.iter().all(|q| !q.is_zero()),
        "both symbols held: {held:?}"
    );

    h.send(Command::EmergencyStop).unwrap();
    assert_eq!(c.poll_commands(), 1);
    let mut closes = Vec::new();
    while let Some(it) = c.next_operator_close() {
        closes.push(it);
    }
    assert_eq!(closes.len(), 2, "one close per open symbol: {closes:?}");
    for it in &closes {
        let i = it.symbol.index();
        assert!(it.reduce_only());
        assert_eq!(it.qty(), held[i].abs(), "closes the whole working position");
        assert_eq!(
            it.side() == Side::Sell,
            held[i] > Decimal::ZERO,
            "against the position"
        );
        fill_stage(&mut c, it);
    }
    assert!(c.engine().working(0).is_zero() && c.engine().working(1).is_zero());
    assert!(c.next_operator_close().is_none(), "nothing left to close");
    assert_eq!(c.engine().operator_stats().closes, 2);
    let v = view(&c, 2);
    assert_eq!((v.state, v.reason), (RunState::Halted, "emergency_stop"));
    assert!(v.risk.halted);

    let after = feed(&mut c, &ticks[k..k + 20_000]);
    assert!(
        after.is_empty(),
        "halted and flat: nothing to send, {after:?}"
    );
    assert!(blocked(&c, BlockReason::EmergencyStop) > 0);
    h.send(Command::Resume).unwrap();
    c.poll_commands();
    assert!(feed(&mut c, &ticks[k + 20_000..])
        .iter()
        .any(|i| !i.reduce_only()));
}

#[test]
fn a_removed_symbol_is_closed_and_takes_no_entries_until_added_back() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let (mut c, h) = stage(eager_params(), &replay);
    let mut hist = StageHistograms::new();
    let mut k = 0;
    while k < ticks.len() && c.engine().working(1).is_zero() {
        if let Some(it) = c.on_tick(&ticks[k], 0, &mut hist) {
            fill_stage(&mut c, &it);
        }
        k += 1;
    }
    assert!(!c.engine().working(1).is_zero(), "ETHUSDT held");
    h.send(Command::RemoveSymbol(calculus_trader::types::SymbolId(1)))
        .unwrap();
    c.poll_commands();
    let close = c
        .next_operator_close()
        .expect("the removed symbol is closed");
    assert!(close.reduce_only() && close.symbol.index() == 1);
    fill_stage(&mut c, &close);
    let removed = feed(&mut c, &ticks[k..k + 20_000]);
    assert!(
        removed.iter().all(|i| i.symbol.index() == 0),
        "no ETHUSDT order while removed"
    );
    assert!(
        removed.iter().any(|i| !i.reduce_only()),
        "BTCUSDT still trades"
    );
    assert!(blocked(&c, BlockReason::Inactive) > 0);
    let v = view(&c, 2);
    assert!(v.symbols[0].active && !v.symbols[1].active);
    assert!(v.symbols[1].price > 0.0, "its models keep updating");

    h.send(Command::AddSymbol(calculus_trader::types::SymbolId(1)))
        .unwrap();
    c.poll_commands();
    let added = feed(&mut c, &ticks[k + 20_000..]);
    assert!(added
        .iter()
        .any(|i| i.symbol.index() == 1 && !i.reduce_only()));
}

#[test]
fn a_circuit_breaker_refuses_entries_and_lifts_itself_at_its_time() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let (mut c, h) = stage(eager_params(), &replay);
    feed(&mut c, &ticks[..5_000]);
    let until_ms = common::values::now_ms() + 300;
    h.send(Command::CircuitBreaker { until_ms }).unwrap();
    c.poll_commands();
    assert_eq!(view(&c, 2).state, RunState::CircuitBreaker);
    assert_eq!(view(&c, 2).risk.circuit_until_ms, until_ms);
    let during = feed(&mut c, &ticks[5_000..15_000]);
    assert!(during.iter().all(|i| i.reduce_only()));
    assert!(blocked(&c, BlockReason::CircuitBreaker) > 0);
    std::thread::sleep(Duration::from_millis(350));
    c.poll_commands();
    let v = view(&c, 2);
    assert_eq!((v.state, v.risk.circuit_until_ms), (RunState::Running, 0));
    assert!(feed(&mut c, &ticks[15_000..])
        .iter()
        .any(|i| !i.reduce_only()));
}

#[test]
fn a_settings_patch_changes_the_next_entrys_notional() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let mut params = eager_params();
    params.risk.sizing.method = SizingMethod::FixedNotional;
    params.risk.sizing.order_notional = 1_000.0;
    let (mut c, h) = stage(params, &replay);
    // Entries from flat: notional = qty × price, floored to the step (so ≤ N, > N − step·price).
    let entries_from_flat = |c: &mut ComputeStage, ticks: &[Tick]| {
        let mut hist = StageHistograms::new();
        let mut out = Vec::new();
        for t in ticks {
            let flat = c.engine().working(t.symbol.index()).is_zero();
            if let Some(it) = c.on_tick(t, 0, &mut hist) {
                if flat && !it.reduce_only() {
                    out.push(it);
                }
                fill_stage(c, &it);
            }
        }
        out
    };
    let check = |it: &OrderIntent, n: f64| {
        let step: f64 = replay.instruments[it.symbol.index()]
            .qty_step
            .to_string()
            .parse()
            .unwrap();
        let notional = it.qty().to_string().parse::<f64>().unwrap() * it.ref_price;
        assert!(
            notional <= n + 1e-6 && notional > n - step * it.ref_price,
            "notional {notional} for {n}"
        );
    };
    let before = entries_from_flat(&mut c, &ticks[..15_000]);
    assert!(!before.is_empty());
    before.iter().for_each(|it| check(it, 1_000.0));

    let patch = SettingsPatch {
        position_notional: Some(400.0),
        tp_pct: Some(1.0),
        ..SettingsPatch::default()
    };
    h.send(Command::Settings(patch)).unwrap();
    c.poll_commands();
    let s = c.engine().settings();
    assert_eq!((s.position_notional, s.tp_pct), (400.0, 1.0));
    assert_eq!(c.engine().params().risk.exits.tp_fraction, 0.01);
    let after = entries_from_flat(&mut c, &ticks[15_000..]);
    assert!(!after.is_empty());
    after.iter().for_each(|it| check(it, 400.0));
    assert_eq!(
        view(&c, 2).risk.settings,
        s,
        "the view shows the settings in force"
    );
}

#[test]
fn a_loss_streak_pause_survives_a_restart_until_resume() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let mut params = eager_params();
    params.risk.limits.max_consecutive_losses = 2;
    // The first run: the eager strategy loses its fees and pauses after two losing trades.
    let (mut c, _h) = stage(params, &replay);
    feed(&mut c, &ticks[..30_000]);
    let saved = c.engine().risk_state();
    assert!(saved.loss_pause && saved.loss_streak >= 2, "{saved:?}");
    assert_eq!(view(&c, 2).reason, "consecutive_losses");

    // Through the file, into a fresh engine: still paused, entries refused.
    let dir = temp_dir("control-loss-streak");
    let path = dir.join("risk.json");
    calculus_trader::risk::state::save(&path, &saved, 0).unwrap();
    let restored = calculus_trader::risk::state::load(&path).unwrap().unwrap();
    let (mut c2, h2) = stage(params, &replay);
    c2.restore_risk_state(&restored);
    assert_eq!(c2.engine().risk_state().loss_streak, saved.loss_streak);
    let paused = feed(&mut c2, &ticks[..20_000]);
    assert!(paused.iter().all(|i| i.reduce_only()));
    assert!(blocked(&c2, BlockReason::ConsecutiveLosses) > 0);

    h2.send(Command::Resume).unwrap();
    c2.poll_commands();
    let v = view(&c2, 2);
    assert_eq!(v.state, RunState::Running);
    assert_eq!(v.risk.loss_streak, 0);
    assert!(feed(&mut c2, &ticks[20_000..])
        .iter()
        .any(|i| !i.reduce_only()));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_utc_day_boundary_crossed_while_down_resets_the_daily_pnl() {
    let replay = Replay::load();
    const DAY: u64 = 86_400_000;
    let today = common::values::now_ms() / DAY;
    // Saved: the day started at 10 500, so the 10 000 balance is 500 down, daily limit hit.
    let saved = RiskState {
        day: today,
        day_start_equity: d("10500"),
        peak_equity: d("10600"),
        loss_streak: 1,
        daily_blocked: true,
        ..RiskState::default()
    };
    let (mut same, _) = stage(eager_params(), &replay);
    same.restore_risk_state(&saved);
    let g = same.engine().risk_gate();
    assert_eq!(
        g.day_pnl(),
        d("-500"),
        "same UTC day: the day's PnL is kept"
    );
    assert_eq!(
        g.run_state(),
        (RunState::Paused, Some(BlockReason::DailyLoss))
    );
    // Drawdown from the restored peak: (10 600 − 10 000) / 10 600.
    assert_eq!(g.drawdown(), d("600") / d("10600"));

    let yesterday = RiskState {
        day: today - 1,
        ..saved
    };
    let (mut next, _) = stage(eager_params(), &replay);
    next.restore_risk_state(&yesterday);
    let g = next.engine().risk_gate();
    assert_eq!(
        g.day_pnl(),
        Decimal::ZERO,
        "a new UTC day starts from the equity"
    );
    assert_eq!(g.run_state(), (RunState::Running, None));
    assert_eq!(next.engine().risk_state().day, today);
    assert_eq!(next.engine().risk_state().loss_streak, 1);
}

#[test]
fn a_corrupt_state_file_refuses_the_start() {
    let dir = temp_dir("control-corrupt");
    let path = dir.join("risk.json");
    std::fs::write(&path, "{\"version\": 1, \"day\": ").unwrap();
    let mut cfg = Config::parse(calculus_trader::config::DEFAULT_TOML).unwrap();
    cfg.risk.state_file = path.clone();
    cfg.run.dump_dir = dir.join("dumps");
    let e = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap_err();
    assert!(
        e.contains("corrupt") && e.contains("risk.json") && e.contains("refusing"),
        "{e}"
    );
    assert_eq!(cfg.risk.state_on_corrupt, StateOnCorrupt::Refuse);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_hook_gets_a_handle_that_knows_the_symbols_and_its_error_ends_the_run() {
    let dir = temp_dir("control-hook");
    let mut cfg = Config::parse(calculus_trader::config::DEFAULT_TOML).unwrap();
    cfg.run.dump_dir = dir.join("dumps");
    let known = Arc::new(Mutex::new(None));
    let k = known.clone();
    let opts = RunOptions {
        control: Some(ControlHook::new(move |h| {
            *k.lock().unwrap() = Some((h.symbol_id("ethusdt"), h.status().symbols.len()));
            Err("cannot bind 0.0.0.0:8080 without a token".into())
        })),
        ..RunOptions::default()
    };
    let e = runtime::run(&cfg, &opts, Shutdown::default()).unwrap_err();
    assert!(e.starts_with("control: cannot bind"), "{e}");
    let n = cfg.venue.symbols.len();
    assert_eq!(
        *known.lock().unwrap(),
        Some((Some(calculus_trader::types::SymbolId(1)), n))
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn emergency_stop_closes_every_position_and_the_halt_survives_a_restart_until_resume() {
    emergency_stop_across_a_restart(Venue::Binance, "fused");
}

#[test]
fn emergency_stop_across_a_restart_bybit_pipeline() {
    emergency_stop_across_a_restart(Venue::Bybit, "pipeline");
}

/// The whole-run scenario of the module doc on `venue`'s embedded exchange with `topology`.
fn emergency_stop_across_a_restart(venue: Venue, topology: &str) {
    let (key_var, _) = key_env(venue);
    if std::env::var_os(key_var).is_some() {
        eprintln!("skipped: {key_var} is set in this environment (it would win over the key file)");
        return;
    }
    let dir = temp_dir(&format!("control-engine-{}-{topology}", venue.name()));
    // 5x the recorded pace: the replay (6 minutes) outlasts the script on a loaded host, so the
    // run always ends by the script's stop, never by the end of the data.
    let Hosted { replay, rest } = hosted_on(venue, 5.0, "0", Options::default());
    let key_file = write_key_file(venue, rest.credentials(), &dir);
    let journal = dir.join("orders.journal");
    let text = hosted_binary_toml_on(venue, &replay, &rest, Some(&journal), &dir).replace(
        "topology = \"fused\"",
        &format!("topology = \"{topology}\""),
    );
    let mut cfg = Config::parse(&eager_toml(&text)).unwrap();
    cfg.venue.symbols = vec!["BTCUSDT".into(), "ETHUSDT".into()];
    cfg.exec.key_file = key_file;
    let l = &mut cfg.risk.limits;
    l.max_consecutive_losses = 0;
    (l.daily_loss, l.drawdown_reduce, l.drawdown_pause) = (0.5, 0.5, 0.5);
    l.emergency_drawdown = 0.0;
    let state_file = dir.join("orders.journal.risk.json");

    // Run 1: wait for an open position, emergency stop, wait until flat and halted.
    let (r1, seen) = run_with(&cfg, |h| {
        let open = wait_status(&h, Duration::from_secs(40), |s| {
            !s.symbols.is_empty() && !flat(s)
        });
        h.send(Command::EmergencyStop).unwrap();
        let halted = wait_status(&h, Duration::from_secs(30), |s| {
            s.state == "halted" && flat(s) && counter(s, "operator_closes") > 0
        });
        vec![open, halted]
    });
    let [open, halted] = <[StatusView; 2]>::try_from(seen).expect("the script ran");
    assert!(
        !flat(&open),
        "a position was open before the stop: {:?}",
        open.symbols
    );
    assert_eq!(halted.state, "halted", "{halted:?}");
    assert_eq!(halted.state_reason.as_deref(), Some("emergency_stop"));
    assert!(
        counter(&halted, "operator_closes") > 0,
        "{:?}",
        halted.counters
    );
    let c1 = runtime::counters(&r1);
    assert!(c1.get(Counter::OperatorCommands) >= 1);
    for (i, name) in ["BTCUSDT", "ETHUSDT"].iter().enumerate() {
        let ours = r1.engine.position(i).unwrap().qty;
        let venue = rest.venue().with(|m| m.position(name).qty);
        assert_eq!(
            (ours, venue),
            (Decimal::ZERO, Decimal::ZERO),
            "{name} closed on both sides"
        );
    }
    let saved = calculus_trader::risk::state::load(&state_file)
        .unwrap()
        .unwrap();
    assert!(saved.halted, "the halt is in the state file: {saved:?}");

    // Run 2, same journal and state file: halted from the start, no entry until Resume.
    let (r2, seen) = run_with(&cfg, |h| {
        let before = wait_status(&h, Duration::from_secs(20), |s| {
            counter(s, "ticks") > 1_000 && counter(s, "blocked_emergency_stop") > 0
        });
        h.send(Command::Resume).unwrap();
        let after = wait_status(&h, Duration::from_secs(20), |s| {
            s.state == "running" && counter(s, "orders") > 0
        });
        vec![before, after]
    });
    let [before, after] = <[StatusView; 2]>::try_from(seen).expect("the script ran");
    assert_eq!(before.state, "halted", "restored halted");
    assert!(
        counter(&before, "blocked_emergency_stop") > 0,
        "{:?}",
        before.counters
    );
    assert_eq!(counter(&before, "intents"), 0, "no entry while halted");
    assert_eq!(after.state, "running");
    assert!(
        counter(&after, "orders") > 0,
        "entries resumed: {:?}",
        after.counters
    );
    assert!(runtime::counters(&r2).get(Counter::Intents) > 0);
    let saved = calculus_trader::risk::state::load(&state_file)
        .unwrap()
        .unwrap();
    assert!(!saved.halted, "the resume is in the state file");
    std::fs::remove_dir_all(&dir).ok();
}
