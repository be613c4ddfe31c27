//! Start-up reconciliation in a real run: the venue holds a BTCUSDT position no journal knows
//! about (the original system's "phantom position"). With `[risk.reconcile] policy = "report"`
//! the run reports it and refuses every new BTCUSDT entry for the whole run, while ETHUSDT
//! trades normally. Keys come from a 0600 key file, as an operator would give them.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::exchange::orders::{Matching, OrderKind, OrderRequest, SimVenue};
use calculus_trader::exchange::rest_orders::RestOptions;
use calculus_trader::exchange::{EmbeddedExchange, Recording, RestExchange};
use calculus_trader::exec::FillModel;
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::telemetry::Counter;
use calculus_trader::types::{instrument::load_specs, Side};
use rust_decimal::Decimal;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn reported_phantom_blocks_entries_on_its_symbol_only() {
    if std::env::var_os("BINANCE_API_KEY").is_some() {
        eprintln!(
            "skipped: BINANCE_API_KEY is set in this environment (it would win over the key file)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("ct-reconcile-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        root().join("data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz"),
        root().join("data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz"),
    ];
    let replay = EmbeddedExchange::start(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(Recording::load(&files).unwrap()),
        0.0,
    )
    .unwrap();
    let names = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
    let inst = load_specs(
        &root().join("data/instruments/instrument_specs_8_symbols.json"),
        "binance",
        &names,
    )
    .unwrap();
    let venue = Arc::new(SimVenue::new(Matching::new(
        names.iter().cloned().zip(inst).collect(),
        FillModel {
            taker_fee: d("0.0004"),
            slippage_bps: d("0"),
        },
        d("10000"),
    )));
    let stats = replay.stats();
    let rest = RestExchange::start(
        "127.0.0.1:0".parse().unwrap(),
        venue,
        Some(&stats.market),
        RestOptions::default(),
    )
    .unwrap();
    // The phantom: 0.030 BTC bought by hand at a real price before the run starts.
    stats
        .market
        .on_trade("BTCUSDT", d("61800.30"), 1_723_161_256_322);
    rest.venue()
        .with(|m| {
            m.place(
                &OrderRequest {
                    symbol: "BTCUSDT",
                    side: Side::Buy,
                    kind: OrderKind::Market,
                    qty: Some(d("0.030")),
                    stop_price: None,
                    reduce_only: false,
                    close_position: false,
                    client_id: "manual-1",
                },
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
    let text = DEFAULT_TOML
        .replace(
            "ws_url = \"embedded\"",
            &format!("ws_url = \"{}\"", replay.url()),
        )
        .replace(
            "rest_url = \"embedded\"",
            &format!("rest_url = \"{}\"", rest.url()),
        )
        .replace("topology = \"auto\"", "topology = \"fused\"")
        .replace("hot = \"spin\"", "hot = \"spin_yield\"")
        .replace("recv_window_ms = 5000", "recv_window_ms = 60000")
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
