//! A feed that cannot be blinded, over loopback against the embedded exchange, with bad trades
//! injected into real recorded frames (`Fault::Tamper`): a Binance trade id of `u64::MAX` (with
//! and without a reconnect after it), a trade poisoning de-duplication until the symbol turns
//! stale and heals, a Bybit trade stamped an hour ahead, a trade 4 s ahead of the stream, a
//! symbol whose every trade is rejected turning stale and recovering, and WebSocket connects
//! honouring `Retry-After`. Every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::exchange::server::{Fault, TradeTime};
use calculus_trader::exchange::{EmbeddedExchange, Recording};
use calculus_trader::feed::liveness::SymbolState;
use calculus_trader::feed::protocol::{bybit_trade_id, Venue};
use calculus_trader::feed::settings::FeedConfig;
use calculus_trader::feed::stage::FeedStage;
use calculus_trader::feed::SymbolTable;
use calculus_trader::telemetry::{Clock, Counter, StageHistograms};
use calculus_trader::types::{SymbolId, Tick};

mod common;
use common::feed::{binance_replay, delivered, fast_settings, run_to_end, start_feed, LIMIT};
use common::files::{replay_file, BYBIT_CAPTURE};

const HOUR_MS: u64 = 3_600_000;

fn bybit() -> Recording {
    Recording::load(&[replay_file(BYBIT_CAPTURE)]).unwrap()
}

/// Recorded trades per symbol, in order: (id, trade time ms). Bybit ids as the feed maps them.
fn recorded(r: &Recording) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut out: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for f in &r.frames {
        let stream = &r.streams[f.stream as usize];
        let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
        if stream.ends_with("@trade") {
            let d = &v["data"];
            out.entry(d["s"].as_str().unwrap().to_string())
                .or_default()
                .push((d["t"].as_u64().unwrap(), d["T"].as_u64().unwrap()));
        } else if stream.starts_with("publicTrade.") {
            for d in v["data"].as_array().unwrap() {
                out.entry(d["s"].as_str().unwrap().to_string())
                    .or_default()
                    .push((
                        bybit_trade_id(d["i"].as_str().unwrap()),
                        d["T"].as_u64().unwrap(),
                    ));
            }
        }
    }
    out
}

/// [`fast_settings`] with `stale_after_ms` and the REST fallback on or off.
fn settings(stale_after_ms: u64, rest_fallback: bool) -> FeedConfig {
    FeedConfig {
        stale_after_ms,
        rest_fallback,
        ..fast_settings()
    }
}

/// The first 20 s of the Binance replay served at 10x, its recorded trades, and a Binance
/// feed of BTCUSDT + ETHUSDT on it.
struct Run {
    trades: BTreeMap<String, Vec<(u64, u64)>>,
    ex: EmbeddedExchange,
    symbols: SymbolTable,
    f: FeedStage,
}

fn binance_run(cfg: FeedConfig) -> Run {
    let rec = binance_replay(20.0);
    let trades = recorded(&rec);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let f = start_feed(&ex, Venue::Binance, &symbols, cfg, &Clock::new());
    Run {
        trades,
        ex,
        symbols,
        f,
    }
}

/// One trade frame rewritten: trade id `id` (`None`: kept), trade time per `time`.
fn tamper_one(id: Option<u64>, time: TradeTime) -> Fault {
    Fault::Tamper {
        frames: 1,
        id,
        time,
    }
}

/// Runs `f` to the end of replay, injecting `fault` once after the 300th tick.
fn run_with_fault(f: &mut FeedStage, ex: &EmbeddedExchange, fault: Fault) -> Vec<Tick> {
    let mut fault = Some(fault);
    let ticks = run_to_end(f, |_, ticks| {
        if ticks.len() >= 300 {
            if let Some(fault) = fault.take() {
                ex.inject(fault);
            }
        }
    });
    assert!(fault.is_none(), "the fault was injected");
    ticks
}

/// No counter anywhere near wrapping.
fn assert_no_wrapped_counter(feed: &FeedStage) {
    let c = feed.counters();
    for (name, v) in c.nonzero() {
        assert!(v < 1 << 40, "{name} = {v}");
    }
}

/// For every symbol: the trades not delivered all lie in `[from_ms, to_ms]` of trade time, and
/// everything delivered besides `extra` is recorded, once, in recorded order.
fn assert_only_lost_within(
    rec: &BTreeMap<String, Vec<(u64, u64)>>,
    got: &BTreeMap<String, Vec<u64>>,
    extra: &[u64],
    from_ms: u64,
    to_ms: u64,
) {
    for (sym, trades) in rec {
        let got: Vec<u64> = got
            .get(sym)
            .map(|v| v.iter().copied().filter(|id| !extra.contains(id)).collect())
            .unwrap_or_default();
        let set: BTreeSet<u64> = got.iter().copied().collect();
        assert_eq!(set.len(), got.len(), "{sym}: a trade delivered twice");
        let order: Vec<u64> = trades
            .iter()
            .map(|t| t.0)
            .filter(|id| set.contains(id))
            .collect();
        assert_eq!(
            order, got,
            "{sym}: delivered out of recorded order or unrecorded"
        );
        for (id, ts) in trades {
            if !set.contains(id) {
                assert!(
                    (from_ms..=to_ms).contains(ts),
                    "{sym}: trade {id} at {ts} lost outside [{from_ms}, {to_ms}]"
                );
            }
        }
    }
}

/// Every symbol's last recorded trade was delivered last (`why`: what that proves).
fn assert_last_trades_arrived(
    trades: &BTreeMap<String, Vec<(u64, u64)>>,
    got: &BTreeMap<String, Vec<u64>>,
    why: &str,
) {
    for (s, t) in trades {
        assert_eq!(got[s].last(), t.last().map(|x| &x.0), "{s}: {why}");
    }
}

/// The trade time of the first trade of `symbol` not delivered (None: all delivered).
fn first_lost(trades: &[(u64, u64)], got: &[u64]) -> Option<(u64, u64)> {
    let set: BTreeSet<u64> = got.iter().copied().collect();
    trades.iter().copied().find(|(id, _)| !set.contains(id))
}

#[test]
fn a_binance_trade_with_id_u64_max_does_not_blind_its_symbol() {
    let Run {
        trades,
        ex,
        symbols,
        mut f,
    } = binance_run(settings(60_000, false));
    let ticks = run_with_fault(&mut f, &ex, tamper_one(Some(u64::MAX), TradeTime::Recorded));
    let got = delivered(&ticks, &symbols);
    let bad: Vec<&Tick> = ticks.iter().filter(|t| t.trade_id == u64::MAX).collect();
    assert_eq!(bad.len(), 1, "the bad trade itself is delivered once");
    let sym = symbols.name(bad[0].symbol).to_string();
    // Only the tampered trade and the trades of its own millisecond are lost.
    let (_, ts) = first_lost(&trades[&sym], &got[&sym]).expect("the tampered trade");
    assert_only_lost_within(&trades, &got, &[u64::MAX], ts, ts);
    assert_last_trades_arrived(&trades, &got, "the stream went on");
    let c = f.counters();
    assert_eq!(
        c.get(Counter::FeedMissedTrades),
        0,
        "no 1.8e19 missed trades"
    );
    assert!(c.get(Counter::DedupResets) >= 1, "{c:?}");
    assert_no_wrapped_counter(&f);
}

#[test]
fn after_a_bad_trade_and_a_reconnect_every_later_trade_arrives_once() {
    // The u64::MAX trade, then the link drops: the new session's trades (and the backlog the
    // embedded exchange sends after a reconnect) are delivered once each.
    let Run {
        trades,
        ex,
        symbols,
        mut f,
    } = binance_run(settings(60_000, false));
    let (mut injected, mut dropped) = (false, false);
    let ticks = run_to_end(&mut f, |_, ticks| {
        if !injected && ticks.len() >= 300 {
            injected = true;
            ex.inject(Fault::Tamper {
                frames: 1,
                id: Some(u64::MAX),
                time: TradeTime::Recorded,
            });
        }
        if !dropped && ticks.iter().any(|t| t.trade_id == u64::MAX) {
            dropped = true;
            ex.inject(Fault::Drop);
        }
    });
    assert!(dropped);
    let got = delivered(&ticks, &symbols);
    let bad = ticks.iter().find(|t| t.trade_id == u64::MAX).unwrap();
    let sym = symbols.name(bad.symbol).to_string();
    let (_, ts) = first_lost(&trades[&sym], &got[&sym]).expect("the tampered trade");
    assert_only_lost_within(&trades, &got, &[u64::MAX], ts, ts);
    assert_last_trades_arrived(&trades, &got, "the stream went on");
    let c = f.counters();
    assert!(c.get(Counter::FeedConnects) >= 2, "{c:?}");
    assert!(c.get(Counter::DedupResets) >= 1, "{c:?}");
    assert_eq!(c.get(Counter::FeedMissedTrades), 0);
    assert_no_wrapped_counter(&f);
}

#[test]
fn a_symbol_blinded_by_a_bad_trade_turns_stale_and_heals_without_a_reconnect() {
    let Run {
        trades,
        ex,
        symbols,
        mut f,
    } = binance_run(settings(150, false));
    let ticks = run_with_fault(
        &mut f,
        &ex,
        tamper_one(Some(u64::MAX), TradeTime::Later(HOUR_MS)),
    );
    let got = delivered(&ticks, &symbols);
    assert_last_trades_arrived(&trades, &got, "healed");
    let c = f.counters();
    assert_eq!(c.get(Counter::FeedConnects), 1, "no reconnect needed");
    assert!(c.get(Counter::FeedBlinded) >= 1, "{c:?}");
    assert!(c.get(Counter::FeedRecovered) >= 1, "{c:?}");
    let h = f.health();
    assert!(h.tradable(SymbolId(0)) && h.tradable(SymbolId(1)));
    assert_no_wrapped_counter(&f);
}

#[test]
fn a_trade_4_s_ahead_of_the_stream_does_not_put_the_next_trades_out_of_order() {
    let Run {
        trades,
        ex,
        symbols,
        mut f,
    } = binance_run(settings(60_000, false));
    let ticks = run_with_fault(&mut f, &ex, tamper_one(None, TradeTime::Later(4_000)));
    let expected: BTreeMap<String, Vec<u64>> = trades
        .iter()
        .map(|(s, t)| (s.clone(), t.iter().map(|x| x.0).collect()))
        .collect();
    assert_eq!(
        delivered(&ticks, &symbols),
        expected,
        "every trade, once, in order"
    );
    let c = f.counters();
    assert_eq!(c.get(Counter::RejectOutOfOrder), 0);
    assert_eq!(c.get(Counter::DedupDropped), 0);
}

#[test]
fn a_bybit_trade_an_hour_ahead_is_rejected_and_moves_nothing() {
    let rec = bybit();
    let trades = recorded(&rec);
    let ex = EmbeddedExchange::start_venue(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(rec),
        Venue::Bybit,
        10.0,
    )
    .unwrap();
    // The first trade frame sent is stamped an hour ahead of our clock.
    ex.inject(Fault::Tamper {
        frames: 1,
        id: None,
        time: TradeTime::AheadOfWall(HOUR_MS),
    });
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let mut f = start_feed(
        &ex,
        Venue::Bybit,
        &symbols,
        settings(60_000, false),
        &Clock::new(),
    );
    let ticks = run_to_end(&mut f, |_, _| {});
    let got = delivered(&ticks, &symbols);
    let c = f.counters();
    let rejected = c.get(Counter::RejectFutureTs);
    let total: usize = trades.values().map(Vec::len).sum();
    assert!(rejected >= 1, "{c:?}");
    assert_eq!(ticks.len() as u64 + rejected, total as u64, "{c:?}");
    // Exactly the first frame's trades were lost: everything after it arrived, in order.
    let lost: Vec<(u64, u64)> = trades
        .iter()
        .flat_map(|(s, t)| {
            let g: BTreeSet<u64> = got.get(s).into_iter().flatten().copied().collect();
            t.iter().copied().filter(move |x| !g.contains(&x.0))
        })
        .collect();
    let first_ts = lost.iter().map(|x| x.1).min().unwrap();
    assert!(lost.iter().all(|x| x.1 == first_ts), "one frame: {lost:?}");
    assert_only_lost_within(&trades, &got, &[], first_ts, first_ts);
    assert_eq!(c.get(Counter::DedupDropped), 0);
}

#[test]
fn a_symbol_whose_every_trade_is_rejected_turns_stale_and_recovers() {
    let Run {
        trades,
        ex,
        symbols,
        mut f,
    } = binance_run(settings(150, true));
    let health = f.health();
    let mut injected = false;
    let mut saw_paused = false;
    let ticks = run_to_end(&mut f, |f, ticks| {
        if !injected && ticks.len() >= 300 {
            injected = true;
            // About half a second of the stream (≈ 60 trades/s at 10×) stamped an hour ahead.
            ex.inject(Fault::Tamper {
                frames: 300,
                id: None,
                time: TradeTime::AheadOfWall(HOUR_MS),
            });
        }
        let c = f.counters();
        if injected && c.get(Counter::FeedBlinded) > 0 {
            saw_paused |= (0..2).any(|i| {
                let s = health.state(SymbolId(i));
                s == SymbolState::Stale && !health.tradable(SymbolId(i))
            });
        }
    });
    let c = f.counters();
    assert_eq!(c.get(Counter::RejectFutureTs), 300, "{c:?}");
    assert!(saw_paused, "paused while blinded: {c:?}");
    assert!(c.get(Counter::FeedBlinded) >= 1);
    assert!(
        c.get(Counter::RestFallbackOn) >= 1,
        "REST fallback while blinded"
    );
    assert!(c.get(Counter::FeedRecovered) >= 1);
    assert!(health.tradable(SymbolId(0)) && health.tradable(SymbolId(1)));
    // Trades after the episode came over the stream again, up to the last.
    let got = delivered(&ticks, &symbols);
    assert_last_trades_arrived(&trades, &got, "recovered");
    assert_no_wrapped_counter(&f);
}

#[test]
fn websocket_connects_wait_at_least_retry_after() {
    let rec = binance_replay(30.0);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 1.0).unwrap();
    ex.inject(Fault::RefuseUpgrade {
        status: 429,
        retry_after_s: 1,
    });
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let t0 = Instant::now();
    let mut f = start_feed(
        &ex,
        Venue::Binance,
        &symbols,
        settings(60_000, false),
        &Clock::new(),
    );
    let mut hists = StageHistograms::new();
    let mut poll_until = |f: &mut FeedStage, counter: Counter, n: u64| {
        while f.counters().get(counter) < n {
            f.poll(Some(Duration::from_millis(5)), &mut hists, |_, _| {})
                .unwrap();
            assert!(t0.elapsed() < LIMIT, "{:?}", f.counters());
        }
        Instant::now()
    };
    let up = poll_until(&mut f, Counter::FeedConnects, 1);
    assert!(
        up - t0 >= Duration::from_secs(1),
        "429 Retry-After 1 s: {:?}",
        up - t0
    );
    assert_eq!(f.counters().get(Counter::FeedConnectFailures), 1);
    // An IP ban (418) on the reconnect after a dropped link (dropped once the session runs:
    // data arrived).
    poll_until(&mut f, Counter::Ticks, 5);
    ex.inject(Fault::RefuseUpgrade {
        status: 418,
        retry_after_s: 2,
    });
    let down = Instant::now();
    ex.inject(Fault::Drop);
    let up = poll_until(&mut f, Counter::FeedConnects, 2);
    assert!(
        up - down >= Duration::from_secs(2),
        "418 Retry-After 2 s: {:?}",
        up - down
    );
    assert_eq!(f.counters().get(Counter::FeedConnectFailures), 2);
}
