//! `parse` and `feed_delay` per venue: the feed records each value into the all-venue stage and
//! into `parse.<venue>` / `feed_delay.<venue>`. Real Binance USD-M and Bybit v5 recordings over
//! loopback (embedded exchange, as fast as possible); the dump written from both feeds' histograms
//! reads back with one tag per stage and venue. Every wait is bounded; nothing is timed.

use std::sync::Arc;

use calculus_trader::exchange::{EmbeddedExchange, Recording};
use calculus_trader::feed::protocol::Venue;
use calculus_trader::feed::settings::FeedConfig;
use calculus_trader::feed::stage::{venue_stages, FeedPlan, FeedStage};
use calculus_trader::feed::SymbolTable;
use calculus_trader::telemetry::{
    read_interval_logs, Clock, Counter, CounterSet, IntervalLog, Stage, StageHistograms,
};

mod common;
use common::feed::{plan_on, poll_to_end, LIMIT};
use common::files::{replay_file, temp_dir, BYBIT_CAPTURE};

/// Runs `venue`'s feed over the whole of `rec` (feed delay recorded, as for a live venue);
/// returns its histograms and counters.
fn run_feed(venue: Venue, rec: Recording) -> (StageHistograms, CounterSet) {
    let ex =
        EmbeddedExchange::start_venue("127.0.0.1:0".parse().unwrap(), Arc::new(rec), venue, 0.0)
            .unwrap();
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let mut feed = FeedStage::start(
        FeedPlan {
            record_feed_delay: true,
            ..plan_on(
                &ex,
                venue,
                FeedConfig {
                    rest_fallback: false,
                    ..FeedConfig::default()
                },
            )
        },
        symbols,
        Clock::new(),
    )
    .unwrap();
    let mut hists = StageHistograms::new();
    poll_to_end(&mut feed, &mut hists, LIMIT, |_, _| {});
    (hists, feed.counters())
}

fn binance() -> (StageHistograms, CounterSet) {
    let mut rec = Recording::load(&[
        replay_file("binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        replay_file("binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ])
    .unwrap();
    let end = rec.frames[0].recv_ns + 10_000_000_000;
    rec.frames.retain(|f| f.recv_ns < end);
    run_feed(Venue::Binance, rec)
}

fn bybit() -> (StageHistograms, CounterSet) {
    let rec = Recording::load(&[replay_file(BYBIT_CAPTURE)]).unwrap();
    run_feed(Venue::Bybit, rec)
}

/// Each tick is in `parse`, `feed_delay` and its own venue's breakdowns, in no other venue's.
fn assert_split(venue: Venue, other: Venue, hists: &StageHistograms, c: &CounterSet) {
    let ticks = c.get(Counter::Ticks);
    assert!(ticks > 50, "{venue:?}: real trades parsed: {c:?}");
    let (parse, delay) = venue_stages(venue);
    let (other_parse, other_delay) = venue_stages(other);
    assert_eq!(parse.venue_total(), Some(Stage::Parse));
    assert_eq!(delay.venue_total(), Some(Stage::FeedDelay));
    for stage in [Stage::Parse, Stage::FeedDelay, parse, delay] {
        assert_eq!(hists.total_count(stage), ticks, "{stage}");
    }
    assert_eq!(hists.total_count(other_parse), 0);
    assert_eq!(hists.total_count(other_delay), 0);
    // The breakdown is the same recordings, not a different measurement.
    assert_eq!(hists.get(parse), hists.get(Stage::Parse));
    assert_eq!(hists.get(delay), hists.get(Stage::FeedDelay));
}

#[test]
fn binance_and_bybit_feeds_record_parse_and_feed_delay_per_venue_and_the_dump_keeps_them_apart() {
    let (hb, cb) = binance();
    assert_split(Venue::Binance, Venue::Bybit, &hb, &cb);
    let (hy, cy) = bybit();
    assert_split(Venue::Bybit, Venue::Binance, &hy, &cy);
    assert_eq!(venue_stages(Venue::Binance).0.name(), "parse.binance");
    assert_eq!(venue_stages(Venue::Bybit).1.name(), "feed_delay.bybit");

    // Both venues in one dump (as a process running both feeds would write it).
    let mut both = StageHistograms::new();
    both.add(&hb);
    both.add(&hy);
    let dir = temp_dir("venue-stages");
    let path = dir.join("stages.hlog");
    let mut log = IntervalLog::create(&path, "venue-stages").unwrap();
    log.write_interval(0.0, 1.0, &both).unwrap();
    drop(log);
    let logs = read_interval_logs(&path).unwrap();
    let (nb, ny) = (cb.get(Counter::Ticks), cy.get(Counter::Ticks));
    for (tag, n) in [
        ("parse", nb + ny),
        ("feed_delay", nb + ny),
        ("parse.binance", nb),
        ("parse.bybit", ny),
        ("feed_delay.binance", nb),
        ("feed_delay.bybit", ny),
    ] {
        assert_eq!(logs[tag].len(), n, "{tag}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
