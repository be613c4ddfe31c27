//! A feed stage against the embedded exchange over loopback: fast liveness settings, the
//! bundled Binance replay cut to its first seconds, and a bounded run to the end of replay.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use calculus_trader::exchange::server::END_OF_REPLAY;
use calculus_trader::exchange::{EmbeddedExchange, Recording};
use calculus_trader::feed::protocol::Venue;
use calculus_trader::feed::settings::FeedConfig;
use calculus_trader::feed::stage::{FeedPlan, FeedStage};
use calculus_trader::feed::ws::WsStatus;
use calculus_trader::feed::SymbolTable;
use calculus_trader::telemetry::{Clock, StageHistograms};
use calculus_trader::types::Tick;

use super::files::replay_file;

/// Upper bound on any single test's run (a loaded 2-core machine is slow, never this slow).
pub const LIMIT: Duration = Duration::from_secs(90);

/// The first `seconds` of the real Binance BTCUSDT + ETHUSDT recordings (all streams; clients
/// subscribe to `@trade` only).
pub fn binance_replay(seconds: f64) -> Recording {
    let mut r = Recording::load(&[
        replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        replay_file("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ])
    .unwrap();
    let t0 = r.frames[0].recv_ns;
    let end = t0 + (seconds * 1e9) as u64;
    r.frames.retain(|f| f.recv_ns < end);
    r
}

/// Short heartbeat / stale / REST settings: a 1.5 s stall makes the symbols stale (150 ms) and
/// the REST fallback (every 40 ms) delivers trades during it; reconnects back off 10–200 ms.
pub fn fast_settings() -> FeedConfig {
    FeedConfig {
        heartbeat_ms: 200,
        dead_after_ms: 5_000,
        connect_timeout_ms: 5_000,
        stale_after_ms: 150,
        reconnect_base_ms: 10,
        reconnect_max_ms: 200,
        reconnect_jitter: 0.5,
        rest_poll_ms: 40,
        rest_limit: 1000,
        ..FeedConfig::default()
    }
}

/// A plan for `venue` at `ws_url` / `rest_url` over plain TCP, ending on end-of-replay, no
/// feed delay recorded, default validation.
pub fn plan(venue: Venue, ws_url: String, rest_url: String, cfg: FeedConfig) -> FeedPlan {
    FeedPlan {
        venue,
        ws_url,
        rest_url,
        feed: cfg,
        tls: None,
        rest_tls: Default::default(),
        end_close_code: Some(END_OF_REPLAY),
        record_feed_delay: false,
        validation: Default::default(),
    }
}

/// [`plan`] on `ex`'s WebSocket and REST endpoints.
pub fn plan_on(ex: &EmbeddedExchange, venue: Venue, cfg: FeedConfig) -> FeedPlan {
    plan(venue, ex.url(), ex.rest_url(), cfg)
}

/// A feed stage for `venue` on `ex`'s WebSocket and REST endpoints ([`plan_on`]).
pub fn start_feed(
    ex: &EmbeddedExchange,
    venue: Venue,
    symbols: &SymbolTable,
    cfg: FeedConfig,
    clock: &Clock,
) -> FeedStage {
    FeedStage::start(plan_on(ex, venue, cfg), symbols.clone(), clock.clone()).unwrap()
}

/// Polls until the feed ends (every link closed with end-of-replay), recording stage
/// latencies in `hists` and calling `step` after each poll with the ticks so far. Panics past
/// `limit`.
pub fn poll_to_end(
    feed: &mut FeedStage,
    hists: &mut StageHistograms,
    limit: Duration,
    mut step: impl FnMut(&mut FeedStage, &[Tick]),
) -> Vec<Tick> {
    let mut ticks = Vec::new();
    let t0 = Instant::now();
    loop {
        let (_, status) = feed
            .poll(Some(Duration::from_millis(2)), hists, |t, _| ticks.push(*t))
            .unwrap();
        step(feed, &ticks);
        if status == WsStatus::Closed {
            return ticks;
        }
        assert!(
            t0.elapsed() < limit,
            "feed did not finish: {:?}",
            feed.counters()
        );
    }
}

/// [`poll_to_end`] within [`LIMIT`], histograms discarded.
pub fn run_to_end(feed: &mut FeedStage, step: impl FnMut(&mut FeedStage, &[Tick])) -> Vec<Tick> {
    poll_to_end(feed, &mut StageHistograms::new(), LIMIT, step)
}

/// Delivered trade ids per symbol name, in delivery order.
pub fn delivered(ticks: &[Tick], symbols: &SymbolTable) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for t in ticks {
        out.entry(symbols.name(t.symbol).to_string())
            .or_default()
            .push(t.trade_id);
    }
    out
}
