//! `exec.mode = "live"` end to end over TLS: the embedded exchange behind TLS proxies on
//! loopback (market data `wss://localhost`, orders and REST `https://localhost`) with a test CA
//! given as `venue.ca_file`. Every venue connection trusts it; the run sets each symbol's
//! leverage, sizes from the wallet it read (not `risk.balance`), trades on the specs the venue
//! serves (not the bundled ones), gives every entry its venue-side stop; positions end equal
//! to the exchange's. A CA that did not sign the venue's certificate fails as a TLS failure
//! naming the host.

use std::path::Path;

use calculus_trader::config::Config;
use calculus_trader::feed::protocol::Venue;
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::telemetry::Counter;

mod common;
use calculus_trader::exchange::orders::{OrderKind, OrderStatus};
use calculus_trader::types::SymbolId;
use common::exchange::{hosted_on, hosted_toml, key_env, on_venue, Hosted, Options};
use common::files::temp_dir;
use common::run::write_key_file;
use common::tls::{TestCa, TlsProxy};
use common::values::d;

/// The venue's wallet, USDT (the config's `risk.balance` is 10 000).
const WALLET: &str = "12345.67";
/// The venue's BTCUSDT maximum quantity, unlike the bundled table's.
const VENUE_MAX_QTY: &str = "987";

/// The venue behind TLS: proxies in front of the replay (WebSocket + REST) and order entry.
struct TlsVenue {
    hosted: Hosted,
    feed: TlsProxy,
    orders: TlsProxy,
}

impl TlsVenue {
    /// The venue behind TLS; its wallet holds [`WALLET`] and its BTCUSDT `max_qty` is
    /// [`VENUE_MAX_QTY`] (the bundled table says otherwise).
    fn start(venue: Venue, ca: &TestCa) -> Self {
        let hosted = hosted_on(
            venue,
            0.0,
            "0",
            Options {
                balance: d(WALLET),
                ..Options::default()
            },
        );
        hosted.rest.venue().with(|m| {
            let mut btc = *m.instrument("BTCUSDT").unwrap();
            assert_ne!(btc.max_qty, d(VENUE_MAX_QTY));
            btc.max_qty = d(VENUE_MAX_QTY);
            assert!(m.set_instrument("BTCUSDT", btc));
        });
        let feed = TlsProxy::start(ca, hosted.replay.addr());
        let orders = TlsProxy::start(ca, hosted.rest.addr());
        Self {
            hosted,
            feed,
            orders,
        }
    }

    /// A live config for `venue` on this venue, trusting `ca_file`, keys from a 0600 key file,
    /// dumps under `dir`.
    fn config(&self, venue: Venue, ca_file: &Path, dir: &Path) -> Config {
        let (replay, rest) = (&self.hosted.replay, &self.hosted.rest);
        let wss = format!(
            "wss://localhost:{}{}",
            self.feed.port,
            venue.embedded_ws_path()
        );
        let text = hosted_toml(replay, rest)
            .replace(&replay.url(), &wss)
            .replace(
                &rest.url(),
                &format!("https://localhost:{}", self.orders.port),
            )
            .replace("mode = \"embedded\"", "mode = \"live\"")
            .replace("hot = \"spin\"", "hot = \"park\"")
            .replace("listen = \"127.0.0.1:8787\"", "listen = \"127.0.0.1:0\"");
        let mut cfg = Config::parse(&on_venue(venue, text)).unwrap();
        assert_eq!(cfg.venue(), venue);
        cfg.venue.ca_file = ca_file.display().to_string();
        cfg.venue.symbols = vec!["BTCUSDT".into(), "ETHUSDT".into()];
        cfg.feed.rest_url = format!("https://localhost:{}", self.feed.port);
        cfg.exec.key_file = write_key_file(venue, rest.credentials(), dir);
        cfg.exec.journal_dir = dir.join("journals");
        cfg.venue.specs.cache = dir.join("instruments_{venue}.json");
        cfg.run.dump_dir = dir.join("dumps");
        cfg.control.token_file = dir.join("control.token");
        cfg
    }
}

fn keys_in_env(venue: Venue) -> bool {
    let (k, s) = key_env(venue);
    std::env::var_os(k).is_some() || std::env::var_os(s).is_some()
}

fn live() -> RunOptions {
    RunOptions {
        live: true,
        print_status: false,
        ..RunOptions::default()
    }
}

fn live_run_over_tls_trades_and_ends_flat_with_the_exchange(venue: Venue) {
    if keys_in_env(venue) {
        eprintln!("skipped: {venue:?} keys are set in this environment");
        return;
    }
    let dir = temp_dir(&format!("live-tls-{}", venue.name()));
    let ca = TestCa::new();
    let ca_file = dir.join("ca.pem");
    ca.write(&ca_file);
    let v = TlsVenue::start(venue, &ca);
    let cfg = v.config(venue, &ca_file, &dir);
    let r = runtime::run(&cfg, &live(), Shutdown::default()).unwrap();
    let c = runtime::counters(&r);
    assert!(c.get(Counter::Ticks) > 1000, "market data came over wss://");
    assert!(c.get(Counter::Orders) > 0, "orders went over https://");
    assert_eq!(c.get(Counter::Fills), c.get(Counter::Orders));
    for (i, name) in ["BTCUSDT", "ETHUSDT"].into_iter().enumerate() {
        let ours = r.engine.position(i).unwrap().qty;
        let theirs = v.hosted.rest.venue().with(|m| m.position(name).qty);
        assert_eq!(ours, theirs, "{name}");
        // Leverage set at the venue before the first entry (risk.max_leverage = 5).
        let lev = v.hosted.rest.venue().with(|m| m.book().leverage_set(name));
        assert_eq!(lev, Some(5), "{name}");
    }
    // Sized from the wallet the venue reported, not risk.balance.
    assert_eq!(r.engine.risk_gate().balance(), d(WALLET));
    assert!(r.engine.risk_gate().venue_balance().is_some());
    // Traded on the venue's specs, fetched at start-up and cached.
    let btc = r.engine.instrument(SymbolId(0)).unwrap();
    assert_eq!(btc.max_qty, d(VENUE_MAX_QTY));
    assert!(dir
        .join(format!("instruments_{}.json", venue.name()))
        .exists());
    assert_venue_side_stops(&v.hosted.rest);
    std::fs::remove_dir_all(&dir).ok();
}

/// Every entry the trader filled got its stop at the venue (Binance: a `STOP_MARKET` algo
/// order `<client id>-sl`; Bybit: the position stop-loss `<orderLinkId>-sl` sent with the
/// entry), closing the position; every position open at the end has an open stop.
fn assert_venue_side_stops(rest: &calculus_trader::exchange::RestExchange) {
    rest.venue().with(|m| {
        let orders = m.orders();
        let entries: Vec<_> = orders
            .iter()
            .filter(|o| o.kind == OrderKind::Market && o.client_id.starts_with("ct"))
            .filter(|o| !o.reduce_only && o.status == OrderStatus::Filled)
            .collect();
        assert!(!entries.is_empty(), "entries were filled");
        for e in &entries {
            let id = format!("{}-sl", e.client_id);
            let sl = orders.iter().find(|o| o.client_id == id);
            let sl = sl.unwrap_or_else(|| panic!("no venue-side stop for {}", e.client_id));
            assert_eq!(
                (sl.kind, sl.symbol.as_str()),
                (OrderKind::StopMarket, e.symbol.as_str())
            );
            assert!(sl.close_position && sl.side != e.side, "{sl:?}");
        }
        for (name, p, _) in m.positions() {
            if p.qty.is_zero() {
                continue;
            }
            assert!(
                orders.iter().any(|o| o.symbol == name
                    && o.kind == OrderKind::StopMarket
                    && o.status == OrderStatus::New),
                "{name}: open position {} without an open stop",
                p.qty
            );
        }
    });
}

#[test]
fn binance_live_over_tls_with_a_test_ca() {
    live_run_over_tls_trades_and_ends_flat_with_the_exchange(Venue::Binance);
}

#[test]
fn bybit_live_over_tls_with_a_test_ca() {
    live_run_over_tls_trades_and_ends_flat_with_the_exchange(Venue::Bybit);
}

#[test]
fn a_ca_that_did_not_sign_the_venue_fails_as_tls_naming_the_host() {
    let venue = Venue::Binance;
    if keys_in_env(venue) {
        eprintln!("skipped: Binance keys are set in this environment");
        return;
    }
    let dir = temp_dir("live-tls-wrong-ca");
    let (served, other) = (TestCa::new(), TestCa::new());
    let ca_file = dir.join("other.pem");
    other.write(&ca_file);
    let v = TlsVenue::start(venue, &served);
    let cfg = v.config(venue, &ca_file, &dir);
    let Err(err) = runtime::run(&cfg, &live(), Shutdown::default()) else {
        panic!("an untrusted venue certificate stops the run");
    };
    assert!(err.contains("TLS"), "{err}");
    assert!(err.contains("localhost"), "{err}");
    assert!(!err.contains("no response"), "{err}");
    assert_eq!(
        v.hosted.rest.venue().with(|m| m.position("BTCUSDT").qty),
        0.into()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `calculus-trader check` (blocking ureq clients: clock, account, specs) against the venue
/// behind TLS: every venue row passes with the CA; without it the clock row fails on the
/// certificate (nothing else is attempted).
#[test]
fn check_queries_trust_the_extra_ca() {
    use calculus_trader::config::DEFAULT_TOML;
    use calculus_trader::exchange::rest_orders::SimCredentials;
    use calculus_trader::exec::keys::{ApiKeys, Secret};
    use calculus_trader::runtime::check::{self, CheckOptions, Verdict};
    use common::exchange::{listed_on, serve};
    const EIGHT: [&str; 8] = [
        "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT",
    ];
    for venue in [Venue::Binance, Venue::Bybit] {
        let dir = temp_dir(&format!("live-tls-check-{}", venue.name()));
        let ca = TestCa::new();
        let ca_file = dir.join("ca.pem");
        ca.write(&ca_file);
        let cred = SimCredentials::generate().unwrap();
        let server = serve(
            &Default::default(),
            listed_on(venue, &EIGHT),
            "0.0004",
            "0",
            Options {
                creds: Some(cred.clone()),
                ..Options::default()
            },
        );
        let proxy = TlsProxy::start(&ca, server.addr());
        let url = format!("https://localhost:{}", proxy.port);
        let mut text = DEFAULT_TOML
            .replace("rest_url = \"embedded\"", &format!("rest_url = \"{url}\""))
            .replace("mode = \"embedded\"", "mode = \"live\"");
        if venue == Venue::Bybit {
            text = text.replace("name = \"binance\" ", "name = \"bybit\"  ");
        }
        let opts = CheckOptions {
            keys: Some(ApiKeys {
                venue,
                api_key: Secret::new(cred.api_key.clone()),
                secret: Secret::new(cred.secret.clone()),
                origin: "the test".into(),
            }),
            ..CheckOptions::default()
        };
        let without = dir.join("without.toml");
        std::fs::write(&without, &text).unwrap();
        let r = check::run(Some(&without), &opts);
        let clock = r.row("venue clock").unwrap();
        assert_eq!(clock.verdict, Verdict::Fail, "{}", r.render());
        assert!(clock.detail.contains("certificate"), "{}", r.render());
        let with = dir.join("with.toml");
        let ca_line = format!("ca_file = {:?}", ca_file.display().to_string());
        std::fs::write(&with, text.replacen("ca_file = \"\"", &ca_line, 1)).unwrap();
        let r = check::run(Some(&with), &opts);
        for row in ["venue clock", "keys accepted", "balance", "specs"] {
            assert_eq!(
                r.row(row).unwrap().verdict,
                Verdict::Ok,
                "{row}:\n{}",
                r.render()
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
