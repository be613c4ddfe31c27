//! Start-up reconciliation in a real run: the venue holds a BTCUSDT position no journal knows
//! about (the original system's "phantom position"). With `[risk.reconcile] policy = "report"`
//! the run reports it and refuses every new BTCUSDT entry for the whole run, while ETHUSDT
//! trades normally. Keys come from a 0600 key file, as an operator would give them.

use calculus_trader::config::Config;
use calculus_trader::exchange::orders::OrderRequest;
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::telemetry::Counter;
use calculus_trader::types::Side;

mod common;
use common::exchange::{hosted, hosted_toml, Hosted, Options};
use common::files::temp_dir;
use common::values::d;

#[test]
fn reported_phantom_blocks_entries_on_its_symbol_only() {
    if std::env::var_os("BINANCE_API_KEY").is_some() {
        eprintln!(
            "skipped: BINANCE_API_KEY is set in this environment (it would win over the key file)"
        );
        return;
    }
    let dir = temp_dir("reconcile-run");
    let names = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
    let Hosted { replay, rest } = hosted(0.0, "0", Options::default());
    let stats = replay.stats();
    // The phantom: 0.030 BTC bought by hand at a real price before the run starts.
    stats
        .market
        .on_trade("BTCUSDT", d("61800.30"), 1_723_161_256_322);
    rest.venue()
        .with(|m| {
            m.place(
                &OrderRequest::market("BTCUSDT", Side::Buy, d("0.030"), false, "manual-1"),
                1_723_161_256_322,
            )
        })
        .unwrap();
    let c = rest.credentials().clone();
    let key_file = dir.join("keys.toml");
    std::fs::write(
        &key_file,
        format!(
            "[binance]\napi_key = \"{}\"\napi_secret = \"{}\"\n",
            c.api_key, c.secret
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text = hosted_toml(&replay, &rest)
        .replace("hot = \"spin\"", "hot = \"spin_yield\"")
        .replace("cooldown_ms = 5000", "cooldown_ms = 0");
    let mut cfg = Config::parse(&text).unwrap();
    cfg.venue.symbols = names.clone();
    cfg.exec.key_file = key_file.clone();
    cfg.run.dump_dir = dir.join("dumps");
    cfg.risk.limits.max_consecutive_losses = 0;
    let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
    let counters = runtime::counters(&r);
    // BTC wanted entries and every one was refused; ETH traded.
    assert!(counters.get(Counter::BlockedUnreconciled) > 0);
    let btc = r.engine.position(0).unwrap();
    let eth = r.engine.position(1).unwrap();
    assert_eq!(btc.fills, 0, "no BTCUSDT order while unreconciled");
    assert!(eth.fills > 0, "ETHUSDT is not affected");
    // The venue still holds the phantom untouched (report never trades it away).
    let venue_btc = rest.venue().with(|m| m.position("BTCUSDT").qty);
    assert_eq!(venue_btc, d("0.030"));
    std::fs::remove_dir_all(&dir).ok();
}
