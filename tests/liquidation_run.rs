//! A liquidation injected by the embedded exchange's fault plan (`kind = "liquidation"`) in a
//! whole run, both venues: the venue closes the trader's first position right after filling
//! it, the trader finds out when its own exit (or the operator's emergency stop) is refused,
//! and at the end the engine's positions and the operator's status view equal the exchange's.

mod common;

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::config::Config;
use calculus_trader::exchange::fault_plan::{Fault, FaultPlan, RequestKind};
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::types::control::{Command, StatusView};
use calculus_trader::venue::Venue;
use rust_decimal::Decimal;

use common::exchange::{hosted_binary_toml_on, hosted_on, key_env, Hosted, Options};
use common::files::temp_dir;
use common::run::{counter, eager_toml, flat, run_with, wait_status, write_key_file};

const NAMES: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

/// A plan (as the configuration gives it) liquidating at the first order request and at no
/// other of the next 400.
fn liquidation_at_the_first_order() -> FaultPlan {
    for seed in 0..1_000_000u64 {
        let text = format!(
            "seed = {seed}\n[[rule]]\np = 0.002\non = [\"order\"]\nfault = {{ kind = \"liquidation\" }}\n"
        );
        let p = FaultPlan::from_toml(&text).unwrap();
        let f = |i| p.fault_for(i, RequestKind::Order);
        if f(0) == Fault::Liquidation && (1..400).all(|i| f(i) == Fault::None) {
            return p;
        }
    }
    panic!("no seed");
}

/// Signed position of `name` in a status (zero when flat).
fn status_qty(s: &StatusView, name: &str) -> Decimal {
    let v = s.symbols.iter().find(|v| v.symbol == name).unwrap();
    Decimal::from_str(&v.position).unwrap()
}

fn liquidation_in_a_run(venue: Venue) {
    let (key_var, _) = key_env(venue);
    if std::env::var_os(key_var).is_some() {
        eprintln!("skipped: {key_var} is set in this environment (it would win over the key file)");
        return;
    }
    let dir = temp_dir(&format!("liquidation-run-{}", venue.name()));
    let opts = Options {
        rest: RestOptions {
            faults: Some(Arc::new(liquidation_at_the_first_order())),
            ..RestOptions::default()
        },
        ..Options::default()
    };
    let Hosted { replay, rest } = hosted_on(venue, 5.0, "0", opts);
    let key_file = write_key_file(venue, rest.credentials(), &dir);
    let journal = dir.join("orders.journal");
    let text = hosted_binary_toml_on(venue, &replay, &rest, Some(&journal), &dir);
    let mut cfg = Config::parse(&eager_toml(&text)).unwrap();
    cfg.venue.symbols = NAMES.iter().map(|s| s.to_string()).collect();
    cfg.exec.key_file = key_file;
    let l = &mut cfg.risk.limits;
    l.max_consecutive_losses = 0;
    (l.daily_loss, l.drawdown_reduce, l.drawdown_pause) = (0.5, 0.5, 0.5);
    l.emergency_drawdown = 0.0;
    let stats = rest.stats_handle();
    let (r, seen) = run_with(&cfg, move |h| {
        // The first entry is filled and at once liquidated by the venue.
        let t0 = Instant::now();
        while stats.liquidations.load(Ordering::Relaxed) == 0
            && t0.elapsed() < Duration::from_secs(40)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Trading goes on; then the operator stops and closes what the engine holds.
        wait_status(&h, Duration::from_secs(5), |s| counter(s, "fills") > 4);
        h.send(Command::EmergencyStop).unwrap();
        let end = wait_status(&h, Duration::from_secs(30), |s| {
            s.state == "halted" && flat(s) && counter(s, "orders") == counter(s, "fills")
        });
        vec![end]
    });
    let [end] = <[StatusView; 1]>::try_from(seen).expect("the script ran");
    assert_eq!(rest.stats().liquidations.load(Ordering::Relaxed), 1);
    let liquidated = rest.venue().with(|m| {
        m.orders()
            .iter()
            .filter(|o| o.client_id.starts_with("autoclose-"))
            .count()
    });
    assert_eq!(
        liquidated, 1,
        "{venue:?}: one position liquidated at the venue"
    );
    assert_eq!(end.state, "halted", "{venue:?}: {end:?}");
    for (i, name) in NAMES.iter().enumerate() {
        let venue_qty = rest.venue().with(|m| m.position(name).qty);
        assert_eq!(
            status_qty(&end, name),
            venue_qty,
            "{venue:?} {name}: status view"
        );
        let ours = r.engine.position(i).unwrap().qty;
        assert_eq!(ours, venue_qty, "{venue:?} {name}: engine");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn binance_liquidation_leaves_engine_and_status_equal_to_the_exchange() {
    liquidation_in_a_run(Venue::Binance);
}

#[test]
fn bybit_liquidation_leaves_engine_and_status_equal_to_the_exchange() {
    liquidation_in_a_run(Venue::Bybit);
}
