//! The compute stage hands an intent over before booking it (issue 16, compute p99): the
//! booking into the decision book and the risk gate waits for `book_pending`, and every `&mut`
//! entry point (the next tick, a report, a command) books first. This must decide exactly as
//! booking at once: over three passes of the bundled real trades with the budget table's
//! trade-heavy configuration, for strategy = calculus, both, and both with the learned filter,
//! with fills coming back 0, 10 or 20 ticks late and one order in 21 rejected at once (so the
//! undo of a rejected booking is exercised), the stage path — booking right after the hand-over,
//! a report applied before the booking, or no explicit booking at all — gives the same
//! intents, counters, gate (equity, realized, unrealized, open risk, streak, state), trade
//! statistics, exit levels, working positions and learned weights as `Engine::on_tick`.

use std::collections::VecDeque;

use calculus_trader::strategy::{ComputeStage, Engine, StrategyParams};
use calculus_trader::telemetry::{Clock, StageHistograms};
use calculus_trader::types::{ExecReport, OrderIntent, RejectReason, ReportStatus, Tick};
use rust_decimal::Decimal;

mod common;
use common::setup::Replay;
use common::trade_heavy::trade_heavy_params;

/// When the intent's booking happens relative to the hand-over and the reports.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `Engine::on_tick`: booked before the intent is returned.
    Immediate,
    /// Stage: hand-over, `book_pending`, then the reports due.
    BookFirst,
    /// Stage: hand-over, the reports due (the first one books), then `book_pending`.
    ReportFirst,
    /// Stage: never `book_pending`; the next tick or report books.
    Implicit,
}

/// Everything a decision can depend on, as text (Decimals exact, floats as bits).
fn summary(e: &Engine, intents: &[OrderIntent]) -> Vec<String> {
    let g = e.risk_gate();
    let ts = e.trade_stats();
    let mut out: Vec<String> = intents.iter().map(|it| format!("{it:?}")).collect();
    out.push(format!("{:?}", e.stats()));
    out.push(format!(
        "equity {} realized {} unrealized {} open_risk {} streak {} state {:?} positions {}",
        g.equity(),
        g.realized(),
        g.unrealized(),
        g.open_risk(),
        g.losing_streak(),
        g.state(),
        g.open_positions()
    ));
    out.push(format!(
        "trades {} {} {:x} {:x}",
        ts.wins,
        ts.losses,
        ts.sum_win.to_bits(),
        ts.sum_loss.to_bits()
    ));
    for i in 0..e.n_symbols() {
        out.push(format!(
            "{i}: working {} position {:?} exits {:?}",
            e.working(i),
            e.position(i),
            e.exit_levels(i)
        ));
    }
    let w: Vec<u64> = e
        .learned()
        .snapshot()
        .model
        .w
        .iter()
        .map(|v| v.to_bits())
        .collect();
    out.push(format!("weights {w:?}"));
    out
}

/// The report of `it`, due 0, 10 or 20 ticks after tick `k` (`client_seq mod 3`): one order
/// in 21 rejected at once (so the rejection undoes the symbol's latest booking), the others
/// filled at the reference price rounded to 2 dp.
fn report_of(it: &OrderIntent, k: usize) -> (usize, ExecReport) {
    let status = if it.client_seq % 21 == 3 {
        ReportStatus::Rejected(RejectReason::BelowMinNotional)
    } else {
        ReportStatus::Filled
    };
    let r = ExecReport {
        symbol: it.symbol,
        client_seq: it.client_seq,
        side: it.side(),
        status,
        price: Decimal::from_f64_retain(it.ref_price).unwrap().round_dp(2),
        qty: it.qty(),
        fee: Decimal::ZERO,
        at: Default::default(),
    };
    (k + (it.client_seq % 3) as usize * 10, r)
}

fn run(replay: &Replay, ticks: &[Tick], params: StrategyParams, mode: Mode) -> Vec<String> {
    let engine = Engine::new(params, &replay.instruments);
    let mut immediate = matches!(mode, Mode::Immediate).then_some(engine);
    let mut stage = match immediate {
        Some(_) => None,
        None => Some(ComputeStage::new(
            Engine::new(params, &replay.instruments),
            Clock::new(),
        )),
    };
    let mut h = StageHistograms::new();
    let first = ticks.iter().map(|t| t.exch_ts_ms).min().unwrap();
    let last = ticks.iter().map(|t| t.exch_ts_ms).max().unwrap();
    let cycle = last - first + 1_000;
    let mut intents = Vec::new();
    let mut due: VecDeque<(usize, ExecReport)> = VecDeque::new();
    let mut k = 0;
    for pass in 0..3 {
        for t in ticks {
            let t = Tick {
                exch_ts_ms: t.exch_ts_ms + pass * cycle,
                ..*t
            };
            let it = match (&mut immediate, &mut stage) {
                (Some(e), _) => e.on_tick(&t),
                (None, Some(s)) => s.on_tick(&t, 0, &mut h),
                _ => unreachable!(),
            };
            if let Some(it) = it {
                // The stage stamps its clock; everything else must match.
                let mut unstamped = it;
                unstamped.set_decided_ns(0);
                intents.push(unstamped);
                due.push_back(report_of(&it, k));
                if matches!(mode, Mode::BookFirst) {
                    stage.as_mut().unwrap().book_pending();
                }
            }
            // Reports due by now, in order of their due tick.
            let mut now: Vec<(usize, ExecReport)> = Vec::new();
            due.retain(|&(d, r)| {
                let ready = d <= k;
                if ready {
                    now.push((d, r));
                }
                !ready
            });
            now.sort_by_key(|&(d, r)| (d, r.client_seq));
            for (_, r) in now {
                match (&mut immediate, &mut stage) {
                    (Some(e), _) => e.on_report(&r),
                    (None, Some(s)) => s.on_report(&r),
                    _ => unreachable!(),
                }
            }
            if matches!(mode, Mode::ReportFirst) {
                stage.as_mut().unwrap().book_pending();
            }
            k += 1;
        }
    }
    let e = match (immediate, stage) {
        (Some(e), _) => e,
        (None, Some(s)) => s.into_engine(),
        _ => unreachable!(),
    };
    summary(&e, &intents)
}

#[test]
fn booking_after_the_hand_over_decides_exactly_as_booking_at_once() {
    let replay = Replay::load();
    let ticks = replay.ticks();
    let [calculus, both] = trade_heavy_params();
    let mut learned = both;
    learned.learned.enabled = true;
    learned.learned.warmup_labels = 50;
    // The learned filter refuses most entries (as in `compute_golden`): fewer intents.
    for (name, p, min) in [
        ("calculus", calculus, 1_000),
        ("both", both, 1_000),
        ("learned", learned, 50),
    ] {
        let want = run(&replay, &ticks, p, Mode::Immediate);
        let n = want.len() - 4 - replay.instruments.len();
        assert!(
            n > min,
            "{name}: {n} intents, want a trade-heavy run: {}",
            want[n]
        );
        assert!(
            !want[n].contains("rejects: 0,") && !want[n].contains("fills: 0,"),
            "{name}: fills and rejections both exercised: {}",
            want[n]
        );
        for mode in [Mode::BookFirst, Mode::ReportFirst, Mode::Implicit] {
            let got = run(&replay, &ticks, p, mode);
            assert_eq!(got.len(), want.len(), "{name} {mode:?}: intent count");
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "{name} {mode:?}: line {j} differs");
            }
        }
    }
}
