//! Instrument specs parsed from the real captured venue replies bundled in data/instruments
//! (Bybit instruments-info 2026-08-09, Binance exchangeInfo 2021-07-21), cross-checked against
//! the derived 8-symbol table, and the fetch → cache → bundled fallback over a loopback server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use calculus_trader::exec::specs::{
    load_instruments, SpecOrigin, SpecSource, SpecsConfig, VenueSpecs,
};
use calculus_trader::exec::Venue;
use calculus_trader::types::instrument::load_specs;

mod common;
use common::files::{root, temp_dir};
use common::runs::capture;
use common::values::d;

const SYMBOLS: [&str; 8] = [
    "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT",
];

fn symbols() -> Vec<String> {
    SYMBOLS.iter().map(|s| s.to_string()).collect()
}

fn bundled() -> PathBuf {
    root().join("data/instruments/instrument_specs_8_symbols.json")
}

#[test]
fn all_eight_default_symbols_resolve_from_both_real_captures() {
    for venue in [Venue::Bybit, Venue::Binance] {
        let specs = VenueSpecs::parse(venue, &capture(venue)).unwrap();
        let expected_len = if venue == Venue::Bybit { 800 } else { 122 };
        assert_eq!(specs.len(), expected_len, "{venue:?}");
        let from_capture = specs.resolve(&symbols()).unwrap();
        // The derived table was copied from these two replies: every field must agree.
        let from_table = load_specs(&bundled(), venue.name(), &symbols()).unwrap();
        for (i, sym) in SYMBOLS.iter().enumerate() {
            let (a, b) = (&from_capture[i], &from_table[i]);
            assert_eq!(a.tick_size, b.tick_size, "{venue:?} {sym} tick");
            assert_eq!(a.qty_step, b.qty_step, "{venue:?} {sym} step");
            assert_eq!(a.min_qty, b.min_qty, "{venue:?} {sym} min qty");
            assert_eq!(
                a.max_market_qty, b.max_market_qty,
                "{venue:?} {sym} max mkt"
            );
            assert_eq!(a.max_qty, b.max_qty, "{venue:?} {sym} max qty");
            assert_eq!(
                a.min_notional, b.min_notional,
                "{venue:?} {sym} min notional"
            );
            assert_eq!(
                a.max_leverage, b.max_leverage,
                "{venue:?} {sym} max leverage"
            );
        }
    }
}

#[test]
fn known_values_from_the_captures() {
    let bybit = VenueSpecs::parse(Venue::Bybit, &capture(Venue::Bybit)).unwrap();
    let ada = bybit.get("ADAUSDT").unwrap();
    assert_eq!(
        (ada.tick_size, ada.qty_step, ada.max_leverage),
        (d("0.0001"), d("1"), Some(d("75.00")))
    );
    let binance = VenueSpecs::parse(Venue::Binance, &capture(Venue::Binance)).unwrap();
    let sol = binance.get("solusdt").unwrap();
    assert_eq!(
        (sol.tick_size, sol.qty_step, sol.max_market_qty),
        (d("0.0010"), d("1"), d("20000"))
    );
    assert_eq!(sol.max_leverage, None, "exchangeInfo publishes no leverage");
    // The docs' single-instrument example parses too.
    let doc = std::fs::read(
        root().join("tests/fixtures/bybit_rest/rest_instruments_info_linear_btcusdt.json"),
    )
    .unwrap();
    let btc = VenueSpecs::parse(Venue::Bybit, &doc)
        .unwrap()
        .get("BTCUSDT")
        .unwrap();
    assert_eq!(
        (btc.max_qty, btc.max_market_qty),
        (d("1190.000"), d("500.000"))
    );
}

/// A loopback HTTP server answering every request with `status` and `body`; returns its base
/// URL. It stops after `max` connections (or a 10 s accept timeout).
fn serve(status: &'static str, body: Vec<u8>, max: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut served = 0;
        while served < max && std::time::Instant::now() < deadline {
            match l.accept() {
                Ok((mut s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(head.as_bytes());
                    let _ = s.write_all(&body);
                    served += 1;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    url
}

/// The bundled (2021) BTCUSDT spec of Binance.
fn bundled_btc() -> calculus_trader::types::Instrument {
    load_specs(&bundled(), "binance", &["BTCUSDT".to_string()]).unwrap()[0]
}

fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    url
}

fn cfg(url: String, dir: &Path) -> SpecsConfig {
    SpecsConfig {
        source: SpecSource::Venue,
        rest_url: url,
        cache: dir.join("instruments_{venue}.json"),
        timeout_s: 5.0,
        ..SpecsConfig::default()
    }
}

#[test]
fn fetch_then_cache_then_bundled() {
    let dir = temp_dir("specs-fallback");
    let body = capture(Venue::Bybit);
    let url = serve("200 OK", body, 1);
    let c = cfg(url.clone(), &dir);
    let (fresh, origin, notes) =
        load_instruments(Venue::Bybit, &c, &bundled(), &symbols()).unwrap();
    assert_eq!(origin, SpecOrigin::Venue(url));
    assert!(notes.is_empty(), "{notes:?}");
    let cache = dir.join("instruments_bybit.json");
    assert!(cache.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp file left behind");

    // The venue is gone: the cache answers, with the same instruments.
    let c = cfg(dead_url(), &dir);
    let (cached, origin, notes) =
        load_instruments(Venue::Bybit, &c, &bundled(), &symbols()).unwrap();
    assert_eq!(origin, SpecOrigin::Cache(cache.clone()));
    assert_eq!(cached, fresh);
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("trying the cache"), "{notes:?}");

    // No cache either: the bundled table.
    std::fs::remove_file(&cache).unwrap();
    let (b, origin, notes) = load_instruments(Venue::Bybit, &c, &bundled(), &symbols()).unwrap();
    assert_eq!(origin, SpecOrigin::Bundled(bundled()));
    assert_eq!(notes.len(), 2);
    assert_eq!(b[0].tick_size, d("0.10"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_venue_error_reply_is_not_cached() {
    let dir = temp_dir("specs-error");
    let url = serve(
        "403 Forbidden",
        br#"{"retCode":10024,"retMsg":"Compliance rules triggered","result":{}}"#.to_vec(),
        1,
    );
    let c = cfg(url, &dir);
    let (_, origin, notes) = load_instruments(Venue::Bybit, &c, &bundled(), &symbols()).unwrap();
    assert_eq!(origin, SpecOrigin::Bundled(bundled()));
    assert!(notes[0].contains("403"), "{notes:?}");
    assert!(!dir.join("instruments_bybit.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binance_exchange_info_over_loopback() {
    let dir = temp_dir("specs-binance");
    let url = serve("200 OK", capture(Venue::Binance), 1);
    let c = cfg(url, &dir);
    let (v, origin, _) = load_instruments(Venue::Binance, &c, &bundled(), &symbols()).unwrap();
    assert!(matches!(origin, SpecOrigin::Venue(_)));
    assert_eq!(v.len(), 8);
    assert_eq!(v[1].min_notional, d("5"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bundled_source_never_touches_the_network() {
    let c = SpecsConfig {
        rest_url: "https://203.0.113.1".into(), // TEST-NET-3: would hang if contacted
        ..SpecsConfig::default()
    };
    let (v, origin, notes) = load_instruments(Venue::Binance, &c, &bundled(), &symbols()).unwrap();
    assert_eq!(origin, SpecOrigin::Bundled(bundled()));
    assert!(notes.is_empty());
    assert_eq!(v.len(), 8);
}

// ---------------------------------------------------------------------------------------------
// Runs against the embedded exchange serving the venue's endpoints (specs, tickers, orders).

mod runs {
    use std::time::{Duration, Instant};

    use calculus_trader::exchange::RestExchange;
    use calculus_trader::exec::specs::{read_cache, SpecOrigin, SpecSource, VenueSpecs};
    use calculus_trader::exec::{ExecMode, Venue};
    use calculus_trader::runtime::{self, symbols, RunOptions, Shutdown};
    use calculus_trader::types::{Instrument, SymbolId};

    use super::common::exchange::{serve, Options};
    use super::common::files::temp_dir;
    use super::common::runs::{assert_positions_equal, config, env_has_keys, listing, replay};
    use super::common::values::d;

    /// Orders the exchange received but refused (client ids received minus orders accepted).
    fn refused(rest: &RestExchange) -> usize {
        rest.venue().with(|m| {
            let received: u32 = m.received_client_ids().values().sum();
            received as usize - m.orders().len()
        })
    }

    #[test]
    fn specs_fetched_from_the_venue_drive_a_run_and_the_cache_keeps_the_fetch_time() {
        if env_has_keys() {
            return;
        }
        let dir = temp_dir("specs-run-venue");
        let replay = replay(Venue::Binance, None, 0.0);
        let mut listed = listing(Venue::Binance, &["BTCUSDT", "ETHUSDT"]);
        // The venue's BTCUSDT today (a 2022 exchangeInfo): tick 0.10, min notional 10, not
        // the bundled 2021 table's 0.01 / 5.
        let btc = listed[0].1;
        listed[0].1 = Instrument::new(
            d("0.10"),
            btc.qty_step,
            btc.min_qty,
            btc.max_market_qty,
            d("10"),
        )
        .unwrap()
        .with_limits(btc.max_qty, None);
        let rest = serve(
            &replay.stats().market,
            listed.clone(),
            "0.0004",
            "0",
            Options::default(),
        );
        let cfg = config(
            Venue::Binance,
            &replay,
            &rest,
            &dir,
            &["BTCUSDT", "ETHUSDT"],
        );
        let before = calculus_trader::exec::specs::now_ms();
        let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
        assert_eq!(r.engine.instrument(SymbolId(0)), Some(&listed[0].1));
        assert_ne!(listed[0].1, super::bundled_btc());
        assert!(r.engine.position(0).unwrap().fills + r.engine.position(1).unwrap().fills > 0);
        assert_eq!(refused(&rest), 0, "no order broke the venue's filters");
        assert_positions_equal(&r, &rest);
        let (body, fetched) = read_cache(&dir.join("instruments_binance.json")).unwrap();
        let fetched = fetched.expect("the cache keeps its fetch time");
        assert!(fetched >= before && fetched <= calculus_trader::exec::specs::now_ms());
        let cached = VenueSpecs::parse(Venue::Binance, &body).unwrap();
        assert_eq!(cached.get("BTCUSDT").unwrap(), listed[0].1);
        assert_eq!(cached.len(), listed.len());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn live_mode_trades_only_symbols_with_a_fresh_spec_and_says_why_for_the_others() {
        let dir = temp_dir("specs-live-policy");
        let replay = replay(Venue::Binance, None, 0.0);
        let listed = listing(Venue::Binance, &["BTCUSDT", "ETHUSDT"]);
        let rest = serve(
            &replay.stats().market,
            listed,
            "0.0004",
            "0",
            Options::default(),
        );
        rest.venue().with(|m| m.set_trading("ETHUSDT", false));
        let mut cfg = config(
            Venue::Binance,
            &replay,
            &rest,
            &dir,
            &["BTCUSDT", "ETHUSDT", "NOPEUSDT"],
        );
        cfg.exec.mode = ExecMode::Live;
        cfg.venue.specs.source = SpecSource::Auto; // live: the venue by default
        let u = symbols::resolve(&cfg).unwrap();
        assert_eq!(u.origin, SpecOrigin::Venue(rest.url()));
        assert_eq!(u.active, vec![SymbolId(0)]);
        assert_eq!(u.table.name(SymbolId(0)), "BTCUSDT");
        let notes = u.notes.join("\n");
        assert!(
            notes.contains("ETHUSDT not traded: ETHUSDT: status \"SETTLING\", not TRADING"),
            "{notes}"
        );
        assert!(
            notes.contains("NOPEUSDT not traded: binance lists no instrument NOPEUSDT"),
            "{notes}"
        );
        // --offline-specs: the bundled table, whatever the venue says.
        let mut offline = cfg.clone();
        offline.venue.specs.offline = true;
        let u = symbols::resolve(&offline).unwrap();
        assert!(matches!(u.origin, SpecOrigin::Bundled(_)));
        assert_eq!(
            u.active.len(),
            2,
            "offline: ETHUSDT's venue status is not read"
        );
        assert!(
            u.notes[0].starts_with("NOPEUSDT not traded"),
            "{:?}",
            u.notes
        );

        // The venue is down: a cache younger than max_cache_age_s answers (with its fetch time).
        let cache = dir.join("instruments_binance.json");
        let mut down = cfg.clone();
        down.venue.specs.rest_url = super::dead_url();
        let u = symbols::resolve(&down).unwrap();
        assert_eq!(u.origin, SpecOrigin::Cache(cache.clone()));
        assert_eq!(u.active.len(), 1);
        // Too old (two days): live mode trades nothing and names every symbol and why.
        let (body, t) = read_cache(&cache).unwrap();
        let old =
            calculus_trader::exec::specs::cache_doc(&body, t.unwrap() - 2 * 86_400_000).unwrap();
        std::fs::write(&cache, old).unwrap();
        let e = symbols::resolve(&down).unwrap_err();
        assert!(
            e.contains("BTCUSDT not traded") && e.contains("ETHUSDT not traded"),
            "{e}"
        );
        assert!(
            e.contains("max_cache_age_s") && e.contains("--offline-specs"),
            "{e}"
        );
        // Outside live mode the same stale cache is still used.
        down.exec.mode = ExecMode::Embedded;
        down.venue.symbols = vec!["BTCUSDT".into()];
        down.venue.specs.source = SpecSource::Venue;
        assert_eq!(
            symbols::resolve(&down).unwrap().origin,
            SpecOrigin::Cache(cache)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Accepted orders of `symbol` filled at or after wall ms `t`.
    fn orders_since(rest: &RestExchange, symbol: &str, t: u64) -> Vec<rust_decimal::Decimal> {
        rest.venue().with(|m| {
            m.orders()
                .iter()
                .filter(|o| o.symbol == symbol && o.update_ms >= t)
                .map(|o| o.qty)
                .collect()
        })
    }

    #[test]
    fn a_spec_change_mid_run_reaches_sizing_and_filters_without_a_restart() {
        if env_has_keys() {
            return;
        }
        let dir = temp_dir("specs-run-change");
        let replay = replay(Venue::Binance, None, 100.0);
        let listed = listing(Venue::Binance, &["BTCUSDT", "ETHUSDT"]);
        let rest = serve(
            &replay.stats().market,
            listed.clone(),
            "0.0004",
            "0",
            Options::default(),
        );
        let mut cfg = config(
            Venue::Binance,
            &replay,
            &rest,
            &dir,
            &["BTCUSDT", "ETHUSDT"],
        );
        cfg.venue.specs.refresh_s = 0.1;
        let old = listed[0].1;
        // At the first BTCUSDT order: tick 0.01 → 0.10 and a min notional no entry meets.
        let new = Instrument::new(
            d("0.10"),
            old.qty_step,
            old.min_qty,
            old.max_market_qty,
            d("1000000"),
        )
        .unwrap()
        .with_limits(old.max_qty, None);
        let venue = rest.venue().clone();
        let changer = std::thread::spawn(move || {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(20) {
                if venue.with(|m| m.orders().iter().any(|o| o.symbol == "BTCUSDT")) {
                    venue.with(|m| m.set_instrument("BTCUSDT", new));
                    return Some(calculus_trader::exec::specs::now_ms());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            None
        });
        let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
        let changed_at = changer.join().unwrap().expect("BTCUSDT traded");
        // The engine (and the executor) hold the new filters: the refresh ran, no restart.
        assert_eq!(r.engine.instrument(SymbolId(0)), Some(&new));
        let c = runtime::counters(&r);
        use calculus_trader::telemetry::Counter;
        // After the refresh (100 ms + a fetch; 1 s allowed) only reduce-only orders reached
        // the exchange for BTCUSDT, and it refused none.
        let later_entries = rest.venue().with(|m| {
            m.orders()
                .iter()
                .filter(|o| {
                    o.symbol == "BTCUSDT" && o.update_ms >= changed_at + 1_000 && !o.reduce_only
                })
                .count()
        });
        assert_eq!(later_entries, 0);
        assert!(
            c.get(Counter::OperatorCommands) >= 1,
            "the Spec command reached compute"
        );
        assert!(refused(&rest) <= 1, "{} refused", refused(&rest));
        assert_positions_equal(&r, &rest);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn top_100_symbols_by_volume_get_venue_specs_and_subscriptions_and_trade() {
        if env_has_keys() {
            return;
        }
        let dir = temp_dir("specs-run-top100");
        let replay = replay(Venue::Bybit, None, 0.0);
        let listed = listing(Venue::Bybit, &["BTCUSDT", "ETHUSDT"]);
        assert!(listed.len() >= 700);
        let rest = serve(
            &replay.stats().market,
            listed.clone(),
            "0.00055",
            "0",
            Options::default(),
        );
        let mut cfg = config(Venue::Bybit, &replay, &rest, &dir, &["BTCUSDT"]);
        cfg.venue.top_symbols = 100;
        cfg.risk.max_leverage = 1.0;
        let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
        // The 100 highest 24 h turnovers (the exchange ranks them in listing order), ids 0..100.
        assert_eq!(r.active, 100);
        for (i, (name, inst)) in listed.iter().take(100).enumerate() {
            assert_eq!(r.symbols.name(SymbolId(i as u16)), name);
            assert_eq!(
                r.engine.instrument(SymbolId(i as u16)),
                Some(inst),
                "{name}"
            );
        }
        let bundled: Vec<&str> = super::SYMBOLS.to_vec();
        let outside = listed[..100]
            .iter()
            .filter(|(n, _)| !bundled.contains(&n.as_str()))
            .count();
        assert!(
            outside >= 92,
            "specs of symbols outside the bundled eight: {outside}"
        );
        // Every one subscribed: one subscribe acknowledged per symbol (in batches) at least.
        let subs = replay
            .stats()
            .subscribes
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(subs >= 1, "{subs}");
        assert!(r.engine.position(0).unwrap().fills > 0, "BTCUSDT traded");
        assert_eq!(refused(&rest), 0);
        assert_positions_equal(&r, &rest);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A dated contract is an ordinary symbol: its spec fetched, its trades parsed, its orders
    /// accepted (Binance `BTCUSDT_251226`, on the BTCUSDT tape renamed).
    #[test]
    fn a_dated_contract_trades_end_to_end() {
        if env_has_keys() {
            return;
        }
        let (venue, dated) = (Venue::Binance, "BTCUSDT_251226");
        let dir = temp_dir("specs-run-dated");
        let replay = replay(venue, Some(dated), 0.0);
        let mut listed = listing(venue, &["ETHUSDT"]);
        let btc = listed.iter().find(|(n, _)| n == "BTCUSDT").unwrap().1;
        let spec = Instrument::new(d("0.1"), btc.qty_step, btc.min_qty, d("10"), d("5"))
            .unwrap()
            .with_limits(d("10"), None);
        listed.insert(1, (dated.to_string(), spec));
        let rest = serve(
            &replay.stats().market,
            listed,
            "0.0004",
            "0",
            Options::default(),
        );
        let mut cfg = config(venue, &replay, &rest, &dir, &[dated, "ETHUSDT"]);
        cfg.venue.universe = calculus_trader::config::UniverseConfig::Named("symbols".into());
        let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
        assert_eq!(r.symbols.name(SymbolId(0)), dated);
        assert_eq!(r.engine.instrument(SymbolId(0)), Some(&spec));
        assert!(r.engine.position(0).unwrap().fills > 0, "{dated}: no fill");
        assert!(!orders_since(&rest, dated, 0).is_empty());
        assert_eq!(refused(&rest), 0);
        assert_positions_equal(&r, &rest);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Bybit's dated `BTCUSDT-14AUG26` (listed in the 2026 capture) resolves from the fetched
    /// listing, is subscribed and its trades are parsed.
    #[test]
    fn a_bybit_dated_contract_gets_its_listed_spec_and_its_trades() {
        if env_has_keys() {
            return;
        }
        let dated = "BTCUSDT-14AUG26";
        let dir = temp_dir("specs-run-dated-bybit");
        let replay = replay(Venue::Bybit, Some(dated), 0.0);
        let listed = listing(Venue::Bybit, &["ETHUSDT"]);
        let spec = listed.iter().find(|(n, _)| n == dated).unwrap().1;
        assert_eq!(spec.max_market_qty, d("10.000"));
        let rest = serve(
            &replay.stats().market,
            listed,
            "0.00055",
            "0",
            Options::default(),
        );
        let mut cfg = config(Venue::Bybit, &replay, &rest, &dir, &[dated, "ETHUSDT"]);
        cfg.venue.universe = calculus_trader::config::UniverseConfig::Named("symbols".into());
        let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
        assert_eq!(r.symbols.name(SymbolId(0)), dated);
        assert_eq!(r.engine.instrument(SymbolId(0)), Some(&spec));
        let c = runtime::counters(&r);
        use calculus_trader::telemetry::Counter;
        assert_eq!(c.get(Counter::RejectUnknownSymbol), 0);
        assert!(
            c.get(Counter::Ticks) + 1 >= c.get(Counter::Frames),
            "every trade parsed"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The execution thread takes a spec change from its ring before the next intent: an order
/// that fits only the old min notional is refused locally (never sent).
#[test]
fn the_execution_stage_applies_a_spec_change_before_the_next_intent() {
    use calculus_trader::exec::stage::{ExecStage, SpecUpdate};
    use calculus_trader::telemetry::{Clock, StageHistograms};
    use calculus_trader::types::report::{RejectReason, ReportStatus};
    use calculus_trader::types::{Side, SymbolId, SymbolTable};
    use common::rig::intent;

    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let old = bundled_btc();
    assert_eq!(old.min_notional, d("5"));
    let exec = common::setup::paper_executor(vec![old], &symbols);
    let (mut tx, rx) = calculus_trader::ring::channel::<SpecUpdate>(4).unwrap();
    let mut stage = ExecStage::new(exec, Clock::new()).with_specs(rx);
    let mut h = StageHistograms::new();
    // 0.001 BTC at 60 000 = 60 USDT ≥ 5.
    let r = stage
        .on_intent(
            &intent(0, 1, Side::Buy, "0.001", false, 60_000.0),
            0,
            &mut h,
        )
        .unwrap();
    assert_eq!(r.status, ReportStatus::Filled);
    let new = calculus_trader::types::Instrument::new(
        d("0.10"),
        old.qty_step,
        old.min_qty,
        old.max_market_qty,
        d("100"),
    )
    .unwrap();
    tx.push((SymbolId(0), new)).unwrap();
    let r = stage
        .on_intent(
            &intent(0, 2, Side::Buy, "0.001", false, 60_000.0),
            0,
            &mut h,
        )
        .unwrap();
    assert_eq!(
        r.status,
        ReportStatus::Rejected(RejectReason::BelowMinNotional)
    );
    assert_eq!(stage.executor().instruments()[0], new);
    // Reduce-only exits are not held to the min notional.
    let r = stage
        .on_intent(
            &intent(0, 3, Side::Sell, "0.001", true, 60_000.0),
            0,
            &mut h,
        )
        .unwrap();
    assert_eq!(r.status, ReportStatus::Filled);
}
