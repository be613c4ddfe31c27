//! The feed against the embedded exchange over loopback, with faults injected on command:
//! a dropped connection (reconnect + resubscribe, every trade exactly once), a stalled stream
//! (stale detection, trading paused, REST fallback, switch back), garbage and duplicate frames,
//! symbols without data, several connections per venue. Real recorded Binance trades; short
//! backoff / heartbeat / stale settings; every wait is bounded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::exchange::server::Fault;
use calculus_trader::exchange::{EmbeddedExchange, Recording};
use calculus_trader::feed::liveness::SymbolState;
use calculus_trader::feed::protocol::Venue;
use calculus_trader::feed::settings::FeedConfig;
use calculus_trader::feed::stage::FeedStage;
use calculus_trader::feed::SymbolTable;
use calculus_trader::telemetry::{Clock, Counter, StageHistograms};
use calculus_trader::types::SymbolId;

mod common;
use common::feed::{binance_replay, delivered, fast_settings, plan, run_to_end, start_feed, LIMIT};

/// Recorded trade ids per symbol, in order.
fn recorded_trades(r: &Recording) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for f in &r.frames {
        if !r.streams[f.stream as usize].ends_with("@trade") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&f.text).unwrap();
        out.entry(v["data"]["s"].as_str().unwrap().to_string())
            .or_default()
            .push(v["data"]["t"].as_u64().unwrap());
    }
    out
}

#[test]
fn dropped_connection_reconnects_resubscribes_and_delivers_every_trade_once() {
    let rec = binance_replay(50.0);
    let expected = recorded_trades(&rec);
    let n_expected: usize = expected.values().map(Vec::len).sum();
    assert!(n_expected > 2500, "enough real trades: {n_expected}");
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    // REST off so every repeat counted below comes from the duplicate fault (the REST/WS
    // overlap is exercised by the stall test).
    let cfg = FeedConfig {
        rest_fallback: false,
        ..fast_settings()
    };
    let mut f = start_feed(&ex, Venue::Binance, &symbols, cfg, &Clock::new());
    let (mut dropped, mut duplicated, mut garbled) = (false, false, false);
    let mut connects_at_dup = 0;
    let mut reconnected_at: Option<usize> = None;
    let mut dup_at = 0;
    let ticks = run_to_end(&mut f, |f, ticks| {
        let n = ticks.len();
        if !dropped && n >= 500 {
            dropped = true;
            ex.inject(Fault::Drop);
        }
        let c = f.counters();
        if dropped && reconnected_at.is_none() && c.get(Counter::FeedConnects) >= 2 {
            reconnected_at = Some(n);
        }
        // Well after the new session started, so it has sent more than 40 frames.
        if let (false, Some(r)) = (duplicated, reconnected_at) {
            if n >= r + 300 {
                duplicated = true;
                dup_at = n;
                connects_at_dup = c.get(Counter::FeedConnects);
                ex.inject(Fault::Duplicate(40));
            }
        }
        if duplicated && !garbled && n >= dup_at + 300 {
            garbled = true;
            ex.inject(Fault::Garbage(3));
        }
    });
    assert!(dropped && duplicated && garbled, "all faults were injected");
    let c = f.counters();
    // Every recorded trade exactly once, in trade order per symbol.
    assert_eq!(delivered(&ticks, &symbols), expected);
    assert_eq!(c.get(Counter::Ticks), n_expected as u64);
    assert_eq!(c.get(Counter::FeedMissedTrades), 0);
    // Reconnected and re-subscribed: one SUBSCRIBE per connection.
    assert!(c.get(Counter::FeedConnects) >= 2, "{c:?}");
    assert!(c.get(Counter::FeedDisconnects) >= 1);
    assert_eq!(c.get(Counter::FeedSubscribes), c.get(Counter::FeedConnects));
    assert_eq!(c.get(Counter::VenueAcks), c.get(Counter::FeedConnects));
    // The 40 re-sent frames were recognised as repeats (no reconnect in between).
    assert_eq!(c.get(Counter::FeedConnects), connects_at_dup);
    assert_eq!(c.get(Counter::DedupDropped), 40);
    // Garbage frames were counted and skipped.
    assert_eq!(c.get(Counter::RejectJson), 3);
    assert!(
        ex.stats()
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
}

#[test]
fn stalled_stream_goes_stale_falls_back_to_rest_and_switches_back() {
    let rec = binance_replay(30.0);
    let expected = recorded_trades(&rec);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let mut f = start_feed(
        &ex,
        Venue::Binance,
        &symbols,
        fast_settings(),
        &Clock::new(),
    );
    let health = f.health();
    let btc = SymbolId(0);
    let mut stalled = false;
    let mut saw_paused = false;
    let mut rest_during_pause = 0u64;
    let mut tradable_after = false;
    let ticks = run_to_end(&mut f, |f, ticks| {
        if !stalled && ticks.len() >= 500 {
            stalled = true;
            ex.inject(Fault::Stall(Duration::from_millis(1500)));
        }
        let c = f.counters();
        if health.state(btc) == SymbolState::Stale {
            saw_paused = true;
            assert!(!health.tradable(btc));
            rest_during_pause = c.get(Counter::RestTicks);
        }
        if saw_paused && health.tradable(btc) {
            tradable_after = true;
        }
    });
    let c = f.counters();
    assert!(stalled && saw_paused, "BTCUSDT went stale: {c:?}");
    assert!(tradable_after, "and became tradable again");
    assert!(c.get(Counter::FeedStale) >= 1);
    assert!(c.get(Counter::RestFallbackOn) >= 1);
    assert!(c.get(Counter::RestFallbackOff) >= 1, "switched back: {c:?}");
    assert!(c.get(Counter::FeedRecovered) >= 1);
    assert!(c.get(Counter::RestPolls) >= 1);
    assert!(
        rest_during_pause > 0,
        "REST delivered trades while stalled: {c:?}"
    );
    // The link stayed up (the stall was shorter than dead_after): no reconnect needed.
    assert_eq!(c.get(Counter::FeedConnects), 1);
    // REST ticks and the WS backlog after the stall overlap: still every trade exactly once.
    assert_eq!(delivered(&ticks, &symbols), expected);
    assert!(
        c.get(Counter::DedupDropped) > 0,
        "the backlog repeated REST trades"
    );
    assert_eq!(c.get(Counter::FeedMissedTrades), 0);
}

#[test]
fn dead_link_is_detected_by_heartbeat_and_replaced() {
    let rec = binance_replay(20.0);
    let expected = recorded_trades(&rec);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 10.0).unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let cfg = FeedConfig {
        heartbeat_ms: 50,
        dead_after_ms: 300,
        ..fast_settings()
    };
    let mut f = start_feed(&ex, Venue::Binance, &symbols, cfg, &Clock::new());
    let mut stalled = false;
    let ticks = run_to_end(&mut f, |_, ticks| {
        if !stalled && ticks.len() >= 300 {
            stalled = true;
            // Longer than dead_after: pings go unanswered, the client gives up on the link.
            ex.inject(Fault::Stall(Duration::from_millis(1200)));
        }
    });
    let c = f.counters();
    assert!(c.get(Counter::FeedDeadLinks) >= 1, "{c:?}");
    assert!(c.get(Counter::FeedConnects) >= 2);
    assert!(c.get(Counter::FeedHeartbeats) >= 1);
    assert_eq!(delivered(&ticks, &symbols), expected);
}

#[test]
fn eight_symbols_over_eight_connections_with_silent_symbols() {
    let rec = binance_replay(10.0);
    let expected = recorded_trades(&rec);
    let ex = EmbeddedExchange::start("127.0.0.1:0".parse().unwrap(), Arc::new(rec), 5.0).unwrap();
    let names = [
        "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT",
    ];
    let symbols = SymbolTable::new(&names).unwrap();
    let cfg = FeedConfig {
        topics_per_connection: 1,
        stale_after_ms: 300,
        ..fast_settings()
    };
    let mut f = start_feed(&ex, Venue::Binance, &symbols, cfg, &Clock::new());
    assert_eq!(f.links(), 8);
    let health = f.health();
    let ticks = run_to_end(&mut f, |_, _| {});
    let c = f.counters();
    assert_eq!(delivered(&ticks, &symbols), expected);
    assert_eq!(c.get(Counter::FeedConnects), 8);
    // The six symbols without data were reported once as silent, never as stale, and the
    // run ended normally.
    assert_eq!(c.get(Counter::FeedSilent), 6, "{c:?}");
    assert_eq!(c.get(Counter::FeedStale), 0);
    for i in 2..8 {
        assert_eq!(health.state(SymbolId(i)), SymbolState::Silent);
        assert!(!health.rest_wanted(SymbolId(i)));
    }
    assert!(health.tradable(SymbolId(0)));
}

#[test]
fn refused_connection_retries_with_backoff_and_marks_symbols_down() {
    // A port nobody listens on: every attempt fails; the feed keeps retrying with backoff and
    // the symbols are down (REST wanted).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let cfg = FeedConfig {
        rest_fallback: false,
        ..fast_settings()
    };
    let mut f = FeedStage::start(
        plan(
            Venue::Binance,
            format!("ws://{addr}/stream"),
            format!("http://{addr}"),
            cfg,
        ),
        symbols,
        Clock::new(),
    )
    .unwrap();
    let health = f.health();
    let mut hists = StageHistograms::new();
    let t0 = Instant::now();
    while f.counters().get(Counter::FeedConnectFailures) < 4 {
        f.poll(Some(Duration::from_millis(2)), &mut hists, |_, _| {})
            .unwrap();
        assert!(t0.elapsed() < LIMIT);
    }
    let c = f.counters();
    assert_eq!(c.get(Counter::FeedConnects), 0);
    assert!(c.get(Counter::FeedConnectAttempts) >= 4);
    assert_eq!(health.state(SymbolId(0)), SymbolState::Down);
    assert!(health.rest_wanted(SymbolId(0)));
}
