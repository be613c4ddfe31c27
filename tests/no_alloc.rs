//! After warm-up, the hot path allocates nothing: parse → compute → execution (order build,
//! rounding, signing, paper fill) → position update → histogram recording and hand-off, over
//! real recorded frames. Proved with the counting global allocator (per thread) of
//! `tests/common/alloc.rs`.

use calculus_trader::exchange::Recording;
use calculus_trader::feed::{MarketEvent, SymbolTable};
use calculus_trader::strategy::{Engine, StrategyParams};
use calculus_trader::telemetry::{handoff, Clock, Counter, Epoch, Stage};
use calculus_trader::venue::binance::market::BinanceParser;

mod common;
use common::alloc::counted;
use common::files::{bybit_capture_lines, root};
use common::setup::{eager_params, fill, paper_executor, Replay};

// The counting global allocator, and the test that it counts.
common::alloc::install!();

#[test]
fn hot_path_allocates_nothing_after_warm_up() {
    let Replay {
        rec,
        symbols,
        instruments,
        ..
    } = Replay::load();
    // The eager strategy with the risk layer on (exit levels, sizing, gate, drift monitor) and
    // limits loose enough that its fee losses do not pause it before the measured part.
    let mut engine = Engine::new(eager_params(), &instruments);
    let mut exec = paper_executor(instruments.clone(), &symbols);
    let mut parser = BinanceParser::new();
    let clock = Clock::new();
    let epoch = Epoch::default();
    let (mut publisher, mut collector) = handoff("hot", &epoch);
    let mut bufs: Vec<Vec<u8>> = rec
        .frames
        .iter()
        .map(|f| f.text.clone().into_bytes())
        .collect();
    let warm = 5_000;
    let mut run = |range: std::ops::Range<usize>, bufs: &mut Vec<Vec<u8>>| {
        let mut orders = 0u64;
        for (k, buf) in bufs[range].iter_mut().enumerate() {
            let t0 = clock.now_ns();
            let mut trade = None;
            let _ = parser.parse(buf, &symbols, |ev| {
                if let MarketEvent::Trade(t) = ev {
                    trade = Some(t);
                }
            });
            if let Some(mut t) = trade {
                t.recv_ns = t0;
                t.parsed_ns = clock.now_ns();
                let h = publisher.hists();
                h.record(Stage::Parse, t.parsed_ns - t0);
                if let Some(it) = engine.on_tick(&t) {
                    let r = exec.execute(&it, 1_723_161_256_322, |_bytes| {
                        orders += 1;
                    });
                    h.record(Stage::TickToOrder, clock.now_ns() - t0);
                    engine.on_report(&r);
                }
            }
            if k % 1000 == 0 {
                publisher.maybe_publish(|c| c.set(Counter::Ticks, k as u64));
            }
        }
        orders
    };
    run(0..warm, &mut bufs);
    // The monitor asks for snapshots during the measured run (its side may allocate: not counted here).
    epoch.bump();
    let (orders, allocations) = counted(|| run(warm..bufs.len(), &mut bufs));
    let mut sink = calculus_trader::telemetry::StageHistograms::new();
    collector.collect(&mut sink);
    assert!(
        orders > 20,
        "execution must run in the measured part, got {orders} orders"
    );
    assert!(engine.stats().ticks > 30_000);
    assert!(
        sink.total_count(Stage::Parse) > 0,
        "a snapshot was handed over during the run"
    );
    assert_eq!(allocations, 0, "hot path allocated {allocations} times");
}

/// The whole per-tick compute with the Kalman filter, every confirmation layer, the indicators
/// and their composite gate on (cross-asset state shared by BTC and ETH) allocates nothing
/// after warm-up, including the ticks that emit intents and the fills that come back.
#[test]
fn full_compute_with_every_layer_allocates_nothing_after_warm_up() {
    let replay = Replay::load();
    let mut params = StrategyParams::from_config(&replay.cfg);
    params.layers.indicators.confirm = true;
    params.layers.indicators.threshold = 0.3;
    params.cooldown_ms = 0;
    // Risk on and busy: tight exit levels, a drift check every 2 s, one position at a time (so
    // the gate refuses the other symbol's entries).
    params.risk.exits.tp_fraction = 0.002;
    params.risk.exits.sl_fraction = 0.001;
    params.risk.drift.check_ms = 2_000;
    params.risk.limits.max_positions = 1;
    // The calibrated filter's 30 s drift seldom beats a 9 bp round trip on these six minutes:
    // with no cost in the drift and TP-first layers (still evaluated) orders keep flowing.
    params.layers.drift.cost = 0.0;
    params.layers.tp_first.cost = 0.0;
    assert!(
        params.layers.ou.enabled
            && params.layers.drift.enabled
            && params.layers.flow.enabled
            && params.layers.cross.enabled
            && params.layers.regime.enabled
            && params.layers.tp_first.enabled
            && params.layers.indicators.enabled
    );
    let ticks = replay.ticks();
    let mut engine = Engine::new(params, &replay.instruments);
    let run = |engine: &mut Engine, ticks: &[calculus_trader::types::Tick]| {
        let mut intents = 0u64;
        for t in ticks {
            if let Some(it) = engine.on_tick(t) {
                intents += 1;
                fill(engine, &it);
            }
        }
        intents
    };
    let warm = 5_000;
    run(&mut engine, &ticks[..warm]);
    let before = *engine.stats();
    let (intents, allocations) = counted(|| run(&mut engine, &ticks[warm..]));
    let s = *engine.stats();
    eprintln!("measured part: {intents} intents, stats {s:?}");
    assert!(
        intents > 0,
        "the decision path must run in the measured part"
    );
    assert!(
        s.drift_reduces + s.drift_exits + s.exit_stop_loss + s.exit_take_profit
            > before.drift_reduces
                + before.drift_exits
                + before.exit_stop_loss
                + before.exit_take_profit,
        "a risk exit must run in the measured part"
    );
    assert!(
        s.risk_blocked.iter().sum::<u64>() > before.risk_blocked.iter().sum::<u64>(),
        "the risk gate must refuse an entry in the measured part"
    );
    assert_eq!(allocations, 0, "compute allocated {allocations} times");
}

#[test]
fn parsers_and_validation_allocate_nothing_per_message_after_warm_up() {
    use calculus_trader::feed::{ValidationConfig, Validator, VenueParser};

    let root = root();
    let mut bybit = bybit_capture_lines();
    bybit.extend(
        std::fs::read_to_string(
            root.join("tests/fixtures/bybit/bybit_v5_linear_orderbook1_2025-06-13.jsonl"),
        )
        .unwrap()
        .lines()
        .map(|l| {
            l.replace("BANDUSDT", "BTCUSDT")
                .replace("RADUSDT", "ETHUSDT")
        }),
    );
    let rec =
        Recording::load(&[root.join("data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz")])
            .unwrap();
    let mut binance: Vec<String> = rec
        .frames
        .iter()
        .take(20_000)
        .map(|f| f.text.clone())
        .collect();
    binance.push(
        std::fs::read_to_string(
            root.join("tests/fixtures/binance/ws_combined_aggtrade_real_2021.json"),
        )
        .unwrap()
        .replace("AKROUSDT", "BTCUSDT"),
    );
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    for (venue, frames, min_events) in [("bybit", &bybit, 400), ("binance", &binance, 10_000)] {
        let mut parser = VenueParser::for_venue(venue, &symbols).unwrap();
        let mut validator = Validator::new(ValidationConfig::default(), symbols.len());
        let mut run = |bufs: &mut Vec<Vec<u8>>| {
            let mut events = 0u64;
            for b in bufs.iter_mut() {
                let _ = parser.parse(b, &symbols, |ev| {
                    let _ = validator.check(&ev, 1_786_400_000_000);
                    events += 1;
                });
            }
            events
        };
        let mut warm: Vec<Vec<u8>> = frames.iter().map(|f| f.clone().into_bytes()).collect();
        run(&mut warm);
        let mut bufs: Vec<Vec<u8>> = frames.iter().map(|f| f.clone().into_bytes()).collect();
        let (events, allocations) = counted(|| run(&mut bufs));
        assert!(events > min_events, "{venue}: {events} events");
        assert_eq!(
            allocations, 0,
            "{venue} parser allocated {allocations} times"
        );
    }
}

/// Operator control on the compute thread allocates nothing after warm-up: commands taken from
/// the ring and applied between ticks (pause, resume, stop, start, circuit breaker, settings,
/// symbol removal and re-adding, closes, emergency stop), the operator closes drained, and the
/// engine's status view filled into the hand-off snapshot.
#[test]
fn operator_commands_and_status_publishing_allocate_nothing_after_warm_up() {
    use calculus_trader::control::ControlHandle;
    use calculus_trader::ring::channel;
    use calculus_trader::strategy::ComputeStage;
    use calculus_trader::telemetry::handoff_with_view;
    use calculus_trader::types::control::{Command, SettingsPatch};
    use calculus_trader::types::SymbolId;

    let replay = Replay::load();
    let ticks = replay.ticks();
    let (tx, rx) = channel::<Command>(64).unwrap();
    let handle = ControlHandle::new(tx);
    let mut c = ComputeStage::new(
        Engine::new(eager_params(), &replay.instruments),
        Clock::new(),
    );
    c.set_commands(rx);
    let epoch = Epoch::default();
    let (mut publisher, mut collector) = handoff_with_view("compute", &epoch, 2);
    let now_ms = common::values::now_ms();
    let script = [
        Command::Pause,
        Command::Resume,
        Command::Settings(SettingsPatch {
            tp_pct: Some(0.9),
            position_notional: Some(800.0),
            ..SettingsPatch::default()
        }),
        Command::CloseAll,
        Command::Stop,
        Command::Start,
        Command::CircuitBreaker {
            until_ms: now_ms + 3_600_000,
        },
        Command::Resume,
        Command::RemoveSymbol(SymbolId(1)),
        Command::AddSymbol(SymbolId(1)),
        Command::ClosePosition(SymbolId(0)),
        Command::EmergencyStop,
        Command::Resume,
    ];
    let fill_stage = |c: &mut ComputeStage, it: &calculus_trader::types::OrderIntent| {
        c.on_report(&calculus_trader::types::ExecReport {
            symbol: it.symbol,
            client_seq: it.client_seq,
            side: it.side(),
            status: calculus_trader::types::ReportStatus::Filled,
            price: rust_decimal::Decimal::from_f64_retain(it.ref_price)
                .unwrap()
                .round_dp(2),
            qty: it.qty(),
            fee: rust_decimal::Decimal::ZERO,
            at: Default::default(),
        });
    };
    // One segment: ticks, then one command applied and its closes drained, then a hand-off.
    let segment = |c: &mut ComputeStage,
                   publisher: &mut calculus_trader::telemetry::Publisher,
                   ticks: &[calculus_trader::types::Tick],
                   cmd: Option<Command>| {
        for t in ticks {
            c.poll_commands();
            let h = publisher.hists();
            if let Some(it) = c.on_tick(t, t.parsed_ns, h) {
                fill_stage(c, &it);
            }
        }
        if let Some(cmd) = cmd {
            handle.send(cmd).unwrap();
        }
        c.poll_commands();
        while let Some(it) = c.next_operator_close() {
            fill_stage(c, &it);
        }
        publisher.maybe_publish_with(|cs| c.fill_counters(cs), |v| c.fill_view(v));
    };
    let warm = 5_000;
    epoch.bump();
    segment(&mut c, &mut publisher, &ticks[..warm], Some(Command::Pause));
    handle.send(Command::Resume).unwrap();
    let mut sink = calculus_trader::telemetry::StageHistograms::new();
    collector.collect(&mut sink);
    let per = (ticks.len() - warm) / script.len();
    let mut allocations = 0;
    for (k, cmd) in script.iter().enumerate() {
        let part = &ticks[warm + k * per..warm + (k + 1) * per];
        epoch.bump();
        let ((), n) = counted(|| segment(&mut c, &mut publisher, part, Some(*cmd)));
        allocations += n;
        // The monitor's side (cold, may allocate) between segments.
        collector.collect(&mut sink);
    }
    let o = *c.engine().operator_stats();
    assert_eq!(o.commands, script.len() as u64 + 2, "every command applied");
    assert_eq!(o.settings, 1);
    assert!(
        o.closes > 0,
        "operator closes ran in the measured part: {o:?}"
    );
    let view = collector.view().expect("the engine view was handed over");
    assert_eq!(view.risk.settings.position_notional, 800.0);
    assert_eq!(view.commands, o.commands);
    assert_eq!(
        allocations, 0,
        "operator control allocated {allocations} times"
    );
}

/// Spec changes on the hot threads: the execution stage draining its spec ring before each
/// intent and the engine applying `Command::Spec` allocate nothing (a ring pop, a copy).
#[test]
fn spec_changes_on_the_hot_threads_allocate_nothing() {
    use calculus_trader::exec::stage::{ExecStage, SpecUpdate};
    use calculus_trader::types::control::Command;
    use calculus_trader::types::{Side, SymbolId};
    use common::rig::intent;

    let Replay {
        symbols,
        instruments,
        ..
    } = Replay::load();
    let mut engine = Engine::new(eager_params(), &instruments);
    let exec = paper_executor(instruments.clone(), &symbols);
    let (mut tx, rx) = calculus_trader::ring::channel::<SpecUpdate>(64).unwrap();
    let mut stage = ExecStage::new(exec, Clock::new()).with_specs(rx);
    let mut h = calculus_trader::telemetry::StageHistograms::new();
    let inst = instruments[0];
    let side = |k: u64| if k % 2 == 0 { Side::Buy } else { Side::Sell };
    for k in 0..10 {
        let _ = stage.on_intent(
            &intent(0, k + 1, side(k), "0.001", false, 60_000.0),
            0,
            &mut h,
        );
    }
    let (filled, allocations) = counted(|| {
        let mut filled = 0;
        for k in 10..210u64 {
            if k % 10 == 0 {
                tx.push((SymbolId(0), inst)).unwrap();
                engine.apply_command(Command::Spec {
                    id: SymbolId(0),
                    inst,
                    trading: true,
                });
            }
            let it = intent(0, k + 1, side(k), "0.001", false, 60_000.0);
            filled += usize::from(stage.on_intent(&it, 0, &mut h).is_some());
        }
        filled
    });
    assert_eq!(filled, 200, "every intent answered at once (paper)");
    assert_eq!(stage.executor().instruments()[0], inst);
    assert_eq!(allocations, 0, "spec changes allocated {allocations} times");
}

/// The venue-side stop path allocates nothing after warm-up: arming a filled entry's stops,
/// taking the due requests, building and signing both `POST /fapi/v1/algoOrder` requests,
/// reading the venue's replies, disarming and building the cancels by `algoId`.
#[test]
fn venue_stop_placement_allocates_nothing_after_warm_up() {
    use calculus_trader::exec::stops::VenueStops;
    use calculus_trader::exec::{BinanceOrderBuilder, BinanceVenue, ExitOrder};
    use calculus_trader::types::{Side, SymbolId};
    use calculus_trader::venue::binance::algo::parse_algo_reply;
    use calculus_trader::venue::binance::error::binance_kind;
    use common::values::d;

    let inst = common::exchange::bundled_specs("binance", &["BTCUSDT"])[0];
    let mut v = BinanceVenue::new(BinanceOrderBuilder::new(
        "key",
        b"secret",
        "127.0.0.1",
        5000,
        "ct1-",
    ));
    let mut stops = VenueStops::new(1);
    let placed = br#"{"algoId":2146760,"clientAlgoId":"ct1-7-sl","algoType":"CONDITIONAL","orderType":"STOP_MARKET","symbol":"BTCUSDT","side":"SELL","algoStatus":"NEW","triggerPrice":"61200","closePosition":true}"#;
    let cancelled = br#"{"algoId":2146760,"clientAlgoId":"ct1-7-sl","code":"200","msg":"success"}"#;
    let (tp, sl) = (Some(d("62400.0")), Some(d("61200.0")));
    let mut cycle = |seq: u64, now: u64, bytes: &mut usize| {
        stops.arm(SymbolId(0), seq, Side::Buy, (tp, sl), now);
        while let Some(r) = stops.next_due(now) {
            let x = ExitOrder {
                symbol: "BTCUSDT",
                position_side: r.position_side,
                kind: r.kind,
                trigger_price: r.trigger,
                qty: None,
                trigger_by: stops.trigger_by,
                client_seq: Some(r.seq),
                timestamp_ms: 1_723_161_256_322 + seq,
            };
            *bytes += v.build_exit(&inst, &x).unwrap().len();
            stops.on_reply(r.tag, parse_algo_reply(200, placed), binance_kind, now);
        }
        assert!(stops.protected(SymbolId(0)));
        stops.disarm(SymbolId(0), now);
        while let Some(r) = stops.next_due(now) {
            *bytes += v.build_cancel_algo_id(r.algo_id, now).len();
            stops.on_reply(r.tag, parse_algo_reply(200, cancelled), binance_kind, now);
        }
        assert!(!stops.busy());
    };
    let mut bytes = 0;
    for seq in 1..=3 {
        cycle(seq, seq, &mut bytes);
    }
    let ((), n) = counted(|| {
        for seq in 4..=200 {
            cycle(seq, seq, &mut bytes);
        }
    });
    assert!(bytes > 0);
    assert_eq!(n, 0, "allocations on the stop path after warm-up");
}
