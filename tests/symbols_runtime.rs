//! Symbols added and removed at run time, over loopback against the embedded exchange replaying
//! the bundled real BTCUSDT + ETHUSDT trades, on both venues: a feed started with only BTCUSDT
//! subscribed gets ETHUSDT's trades once the control handle adds it (and keeps them across a
//! reconnect), and none after it removes it (the exchange's unsubscribe ack ends the stream;
//! a reconnect re-subscribes only what is still active).

use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::control::ControlHandle;
use calculus_trader::exchange::EmbeddedExchange;
use calculus_trader::feed::liveness::SymbolState;
use calculus_trader::feed::protocol::Venue;
use calculus_trader::feed::stage::FeedStage;
use calculus_trader::feed::ws::WsStatus;
use calculus_trader::feed::SymbolTable;
use calculus_trader::ring::{channel, Consumer};
use calculus_trader::telemetry::{Clock, Counter, StageHistograms};
use calculus_trader::types::control::Command;
use calculus_trader::types::SymbolId;

mod common;
use common::feed::{binance_replay, fast_settings, plan_on, LIMIT};

const BTC: SymbolId = SymbolId(0);
const ETH: SymbolId = SymbolId(1);

/// A feed on `venue` with BTCUSDT + ETHUSDT known and only BTCUSDT subscribed, the handle that
/// adds and removes symbols, the engine's end of the command ring, and the exchange (the first
/// 90 s of the recording at 10× pace).
struct Run {
    ex: EmbeddedExchange,
    feed: FeedStage,
    handle: ControlHandle,
    engine: Consumer<Command>,
    hists: StageHistograms,
    /// Ticks delivered per symbol.
    ticks: [u64; 2],
    t0: Instant,
}

impl Run {
    fn start(venue: Venue) -> Self {
        let rec = binance_replay(90.0);
        let rec = match venue {
            Venue::Binance => rec,
            Venue::Bybit => rec.to_bybit().0,
        };
        let ex = EmbeddedExchange::start_venue(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(rec),
            venue,
            10.0,
        )
        .unwrap();
        let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
        let mut feed = FeedStage::start_active(
            plan_on(&ex, venue, fast_settings()),
            symbols.clone(),
            &[BTC],
            Clock::new(),
        )
        .unwrap();
        let (tx, engine) = channel::<Command>(16).unwrap();
        let handle = ControlHandle::new(tx);
        handle.set_symbols(symbols, &[BTC], feed.control().unwrap());
        Self {
            ex,
            feed,
            handle,
            engine,
            hists: StageHistograms::new(),
            ticks: [0; 2],
            t0: Instant::now(),
        }
    }

    /// One poll; false once the feed ended.
    fn poll(&mut self) -> bool {
        let ticks = &mut self.ticks;
        let (_, status) = self
            .feed
            .poll(Some(Duration::from_millis(2)), &mut self.hists, |t, _| {
                ticks[t.symbol.index()] += 1
            })
            .unwrap();
        assert!(
            self.t0.elapsed() < LIMIT,
            "run did not finish: {:?}",
            self.feed.counters()
        );
        status == WsStatus::Open
    }

    /// Polls until `done` (panics if the feed ends first).
    fn poll_until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        while !done(self) {
            assert!(self.poll(), "feed ended before {what}: {:?}", self.ticks);
        }
    }

    fn counter(&self, c: Counter) -> u64 {
        self.feed.counters().get(c)
    }

    fn eth_market_ms(&self) -> Option<u64> {
        self.ex.stats().market.last("ETHUSDT").map(|l| l.ts_ms)
    }
}

fn add_trade_remove(venue: Venue) {
    let mut r = Run::start(venue);
    let health = r.feed.health();
    assert_eq!(r.handle.available_symbols(), vec!["ETHUSDT"]);

    // Only BTCUSDT flows; ETHUSDT is neither silent nor stale, and never polled over REST.
    r.poll_until("BTCUSDT ticks", |r| r.ticks[0] >= 300);
    let quiet = Instant::now();
    r.poll_until("a quiet ETHUSDT for 3 × stale_after", |_| {
        quiet.elapsed() > Duration::from_millis(450)
    });
    assert_eq!(r.ticks[1], 0, "ETHUSDT is not subscribed");
    assert_eq!(health.state(ETH), SymbolState::Unsubscribed);
    assert!(!health.rest_wanted(ETH) && !health.tradable(ETH));
    assert_eq!(r.counter(Counter::FeedSilent), 0);
    assert_eq!(
        r.eth_market_ms(),
        None,
        "the exchange sent no ETHUSDT frame"
    );

    // Added: subscribed first, then the engine is told.
    let e = r.handle.add_symbol("DOGEUSDT").unwrap_err();
    assert!(
        e.contains("DOGEUSDT") && e.contains("no instrument spec"),
        "{e}"
    );
    assert_eq!(r.handle.add_symbol("ethusdt"), Ok(ETH));
    assert_eq!(r.engine.pop(), Some(Command::AddSymbol(ETH)));
    r.poll_until("ETHUSDT ticks", |r| r.ticks[1] >= 200);
    r.poll_until("ETHUSDT live", |_| health.state(ETH) == SymbolState::Live);
    let eth_topic = match venue {
        Venue::Binance => "\"ethusdt@trade\"",
        Venue::Bybit => "\"publicTrade.ETHUSDT\"",
    };
    let resubscribe = r.feed.subscriptions(0).join("\n");
    assert!(resubscribe.contains(eth_topic), "{resubscribe}");

    // A reconnect re-subscribes the current set: ETHUSDT keeps coming.
    let connects = r.counter(Counter::FeedConnects);
    r.feed.kill_link(0, "test: reconnect with ETHUSDT added");
    r.poll_until("the reconnect", |r| {
        r.counter(Counter::FeedConnects) > connects
    });
    let eth_at_reconnect = r.ticks[1];
    r.poll_until("ETHUSDT ticks after the reconnect", |r| {
        r.ticks[1] >= eth_at_reconnect + 100
    });

    // Removed: the engine first, then the feed; nothing of ETHUSDT is handed on any more, and
    // after the exchange's acknowledgement it sends no ETHUSDT frame either.
    let acks = r.counter(Counter::VenueAcks);
    let btc_at_remove = r.ticks[0];
    let eth_at_remove = r.ticks[1];
    assert_eq!(r.handle.remove_symbol("ETHUSDT"), Ok(ETH));
    assert_eq!(r.engine.pop(), Some(Command::RemoveSymbol(ETH)));
    r.poll_until("the unsubscribe ack", |r| {
        r.counter(Counter::VenueAcks) > acks
    });
    assert_eq!(r.counter(Counter::FeedUnsubscribes), 1);
    assert_eq!(health.state(ETH), SymbolState::Unsubscribed);
    let eth_market_at_ack = r.eth_market_ms();
    assert!(eth_market_at_ack.is_some());
    assert!(!r.feed.subscriptions(0).join("\n").contains(eth_topic));
    r.poll_until("more BTCUSDT", |r| r.ticks[0] >= btc_at_remove + 300);
    // A reconnect now subscribes BTCUSDT only.
    let connects = r.counter(Counter::FeedConnects);
    r.feed.kill_link(0, "test: reconnect with ETHUSDT removed");
    r.poll_until("the second reconnect", |r| {
        r.counter(Counter::FeedConnects) > connects
    });
    while r.poll() {}
    assert_eq!(
        r.ticks[1], eth_at_remove,
        "no ETHUSDT tick after the remove"
    );
    assert!(r.ticks[0] > btc_at_remove + 300);
    assert_eq!(
        r.eth_market_ms(),
        eth_market_at_ack,
        "no ETHUSDT frame sent after the unsubscribe ack"
    );
    assert_eq!(health.state(ETH), SymbolState::Unsubscribed);
    assert_eq!(r.handle.available_symbols(), vec!["ETHUSDT"]);
    assert_eq!(r.ticks[0] + r.ticks[1], r.counter(Counter::Ticks));
    assert!(health.state(BTC) != SymbolState::Unsubscribed);
}

#[test]
fn binance_symbol_added_mid_run_streams_and_removed_stops() {
    add_trade_remove(Venue::Binance);
}

#[test]
fn bybit_symbol_added_mid_run_streams_and_removed_stops() {
    add_trade_remove(Venue::Bybit);
}

/// At start-up, a universe symbol that is not configured but holds a journaled position is
/// subscribed (its exits need its prices); flat ones stay unsubscribed.
#[test]
fn a_journaled_position_on_an_unconfigured_symbol_is_subscribed_at_start() {
    use calculus_trader::config::{Config, DEFAULT_TOML};
    use calculus_trader::runtime::symbols;
    use calculus_trader::types::Position;
    let cfg = Config::parse(&DEFAULT_TOML.replacen(
        r#"symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT"]"#,
        r#"symbols = ["BTCUSDT"]"#,
        1,
    ))
    .unwrap();
    let u = symbols::resolve(&cfg).unwrap();
    assert_eq!(u.active, vec![BTC]);
    let ex = common::exchange::replay_server(1.0);
    let mut feed = FeedStage::start_active(
        plan_on(&ex, Venue::Binance, fast_settings()),
        u.table.clone(),
        &u.active,
        Clock::new(),
    )
    .unwrap();
    let mut positions = vec![Position::default(); u.table.len()];
    let sol = u.table.lookup("SOLUSDT").unwrap();
    positions[sol.index()].qty = "-0.5".parse().unwrap();
    assert_eq!(
        symbols::subscribe_held(&u, &mut feed, &positions),
        vec!["SOLUSDT"]
    );
    assert_eq!(u.active, vec![BTC], "subscribed for its exits, not active");
    assert!(feed.subscribed(sol) && !feed.subscribed(ETH));
    let subs = feed.subscriptions(0).join("\n");
    assert!(
        subs.contains("\"btcusdt@trade\",\"solusdt@trade\""),
        "{subs}"
    );
}

/// With `venue.specs.source = "venue"` the universe is every tradable symbol of the venue's
/// reply (here its cache: the venue URL is dead), ids of the configured symbols first.
#[test]
fn venue_specs_make_the_venue_listing_the_universe() {
    use calculus_trader::config::{Config, DEFAULT_TOML};
    use calculus_trader::exec::specs::{read_maybe_gz, SpecOrigin, VenueSpecs};
    use calculus_trader::runtime::symbols;
    let dir = common::files::temp_dir("symbols-venue-specs");
    let capture = common::files::root()
        .join("data/instruments/bybit_v5_instruments_info_linear_2026-08-09.json.gz");
    let cache = dir.join("instruments_bybit.json.gz");
    std::fs::copy(&capture, &cache).unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let text = DEFAULT_TOML
        .replacen(
            r#"symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT"]"#,
            r#"symbols = ["ETHUSDT"]"#,
            1,
        )
        .replacen("name = \"binance\"", "name = \"bybit\"", 1)
        .replacen(r#"source = "bundled""#, r#"source = "venue""#, 1)
        .replacen(r#"rest_url = """#, &format!("rest_url = {url:?}"), 1)
        .replacen(
            r#"cache = "cache/instruments_{venue}.json""#,
            &format!("cache = {:?}", cache.display().to_string()),
            1,
        );
    let cfg = Config::parse(&text).unwrap();
    let u = symbols::resolve(&cfg).unwrap();
    assert_eq!(u.origin, SpecOrigin::Cache(cache.clone()));
    assert!(u.notes[0].contains("trying the cache"), "{:?}", u.notes);
    let listing = VenueSpecs::parse(
        calculus_trader::feed::protocol::Venue::Bybit,
        &read_maybe_gz(&capture).unwrap(),
    )
    .unwrap();
    // Every plain symbol of the listing (dated futures such as BTCUSDT-14AUG26 left out).
    let plain = listing
        .tradable()
        .filter(|n| n.bytes().all(|b| b.is_ascii_alphanumeric()))
        .count();
    assert!(plain < listing.tradable().count());
    assert_eq!(u.table.len(), plain);
    assert!(u.notes[1].contains("not plain symbols"), "{:?}", u.notes);
    assert!(u.table.len() >= 700, "{}", u.table.len());
    assert_eq!(u.table.name(SymbolId(0)), "ETHUSDT");
    assert_eq!(u.active, vec![SymbolId(0)]);
    let sol = u.table.lookup("SOLUSDT").unwrap();
    assert_eq!(u.instruments[sol.index()], listing.get("SOLUSDT").unwrap());
    assert!(u.instruments.len() == u.table.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// ETHUSDT's price a little after its removal and 1.5 s later, or what went wrong.
type Outcome = Result<(f64, f64), String>;

/// The status row of `name`.
fn view(
    s: &calculus_trader::types::control::StatusView,
    name: &str,
) -> Option<calculus_trader::types::control::SymbolView> {
    s.symbols.iter().find(|v| v.symbol == name).cloned()
}

/// ETHUSDT's position in the status (0 before it shows).
fn qty(s: &calculus_trader::types::control::StatusView) -> rust_decimal::Decimal {
    view(s, "ETHUSDT")
        .map(|v| v.position.parse().unwrap())
        .unwrap_or_default()
}

/// The whole trader on the embedded exchange (`venue`), started with BTCUSDT only: ETHUSDT,
/// added through the handle mid-run, is subscribed, warms up and trades; removed, its position
/// is closed and its price stops moving (no more ticks) while BTCUSDT's keeps moving.
fn full_run_add_trade_remove(venue: Venue, topology: &str) {
    use calculus_trader::config::{Config, DEFAULT_TOML};
    use calculus_trader::runtime::{self, ControlHook, RunOptions, Shutdown};
    use calculus_trader::types::control::StatusView;
    use std::sync::Mutex;

    let dump = common::files::temp_dir(&format!("symbols-run-{}", venue.name()));
    let mut text = DEFAULT_TOML
        .replacen(
            r#"symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT"]"#,
            r#"symbols = ["BTCUSDT"]"#,
            1,
        )
        .replacen("topology = \"auto\"", &format!("topology = \"{topology}\""), 1)
        .replacen("hot = \"spin\"", "hot = \"park\"", 1)
        .replacen("status_interval_s = 1.0", "status_interval_s = 0.1", 1)
        .replacen("recv_window_ms = 5000", "recv_window_ms = 60000", 1)
        .replacen(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dump.display().to_string()),
            1,
        );
    if venue == Venue::Bybit {
        text = text.replacen("name = \"binance\"", "name = \"bybit\"", 1);
    }
    let cfg = Config::parse(&text).unwrap();
    let eth = SymbolId(1);
    let shutdown = Shutdown::default();
    let outcome: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let (sd, out) = (shutdown.clone(), outcome.clone());
    let opts = RunOptions {
        max_duration: Some(Duration::from_secs(80)),
        control: Some(ControlHook::new(move |h| {
            let (sd, out) = (sd.clone(), out.clone());
            std::thread::spawn(move || {
                let wait =
                    |what: &str, f: &dyn Fn(&StatusView) -> bool| -> Result<StatusView, String> {
                        let t0 = Instant::now();
                        loop {
                            let s = h.status();
                            if f(&s) {
                                return Ok(s);
                            }
                            if t0.elapsed() > Duration::from_secs(60) || sd.requested() {
                                return Err(format!("no {what}: {:?}", view(&s, "ETHUSDT")));
                            }
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    };
                let script = || -> Result<(f64, f64), String> {
                    wait("BTCUSDT price", &|s| {
                        view(s, "BTCUSDT").is_some_and(|v| v.price > 0.0)
                    })?;
                    let s = h.status();
                    let e = view(&s, "ETHUSDT").ok_or("ETHUSDT not in the status")?;
                    if e.active || e.price != 0.0 {
                        return Err(format!("ETHUSDT before its add: {e:?}"));
                    }
                    if h.add_symbol("ETHUSDT")? != eth {
                        return Err("ETHUSDT id".into());
                    }
                    wait("ETHUSDT trade", &|s| !qty(s).is_zero())?;
                    h.remove_symbol("ETHUSDT")?;
                    wait("ETHUSDT closed", &|s| {
                        qty(s).is_zero() && view(s, "ETHUSDT").is_some_and(|v| !v.active)
                    })?;
                    std::thread::sleep(Duration::from_millis(500));
                    let before = h.status();
                    std::thread::sleep(Duration::from_millis(1500));
                    let after = h.status();
                    let p = |s: &StatusView, n: &str| view(s, n).map_or(0.0, |v| v.price);
                    if p(&before, "BTCUSDT") == p(&after, "BTCUSDT") {
                        return Err("BTCUSDT stopped moving: the check proves nothing".into());
                    }
                    Ok((p(&before, "ETHUSDT"), p(&after, "ETHUSDT")))
                };
                *out.lock().unwrap() = Some(script());
                sd.request();
            });
            Ok(())
        })),
        ..RunOptions::default()
    };
    let r = runtime::run(&cfg, &opts, shutdown).unwrap();
    let t0 = Instant::now();
    while outcome.lock().unwrap().is_none() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (eth_before, eth_after) = outcome.lock().unwrap().take().unwrap().unwrap();
    assert!(eth_before > 0.0);
    assert_eq!(eth_before, eth_after, "an ETHUSDT tick after its removal");
    let p = r.engine.position(eth.index()).unwrap();
    assert!(p.fills >= 2, "opened and closed: {p:?}");
    assert!(p.qty.is_zero(), "closed on removal: {p:?}");
    assert_eq!(r.symbols.name(eth), "ETHUSDT");
    let c = runtime::counters(&r);
    assert_eq!(c.get(Counter::FeedUnsubscribes), 1);
    assert!(
        c.get(Counter::FeedSubscribes) >= 2,
        "initial + the added symbol"
    );
    assert_eq!(c.get(Counter::RejectUnknownSymbol), 0);
    let _ = std::fs::remove_dir_all(&dump);
}

#[test]
fn full_run_binance_fused_adds_trades_and_removes_a_symbol() {
    full_run_add_trade_remove(Venue::Binance, "fused");
}

#[test]
fn full_run_bybit_pipeline_adds_trades_and_removes_a_symbol() {
    full_run_add_trade_remove(Venue::Bybit, "pipeline");
}
