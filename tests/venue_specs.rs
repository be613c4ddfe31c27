//! Instrument specs parsed from the real captured venue replies bundled in data/instruments
//! (Bybit instruments-info 2026-08-09, Binance exchangeInfo 2021-07-21), cross-checked against
//! the derived 8-symbol table, and the fetch → cache → bundled fallback over a loopback server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use calculus_trader::exec::specs::{
    load_instruments, read_maybe_gz, SpecOrigin, SpecSource, SpecsConfig, VenueSpecs,
};
use calculus_trader::exec::Venue;
use calculus_trader::types::instrument::load_specs;

mod common;
use common::files::{root, temp_dir};
use common::values::d;

const SYMBOLS: [&str; 8] = [
    "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT",
];

fn symbols() -> Vec<String> {
    SYMBOLS.iter().map(|s| s.to_string()).collect()
}

fn capture(venue: Venue) -> Vec<u8> {
    let name = match venue {
        Venue::Bybit => "bybit_v5_instruments_info_linear_2026-08-09.json.gz",
        Venue::Binance => "binance_usdm_exchangeInfo_2021-07-21.json.gz",
    };
    read_maybe_gz(&root().join("data/instruments").join(name)).unwrap()
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
