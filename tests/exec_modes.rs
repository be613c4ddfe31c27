//! `[exec] mode`: the default run trades over loopback HTTP against the embedded exchange;
//! `paper` fills in-process with the same decisions; `live` refuses to start without `--live`.

use std::path::Path;

use calculus_trader::config::{Config, DEFAULT_TOML};
use calculus_trader::exec::journal::{self, RecordKind};
use calculus_trader::exec::order_ws_config::OrderTransport;
use calculus_trader::runtime::{self, RunOptions, RunReport, Shutdown};
use calculus_trader::telemetry::{Counter, Stage};

mod common;
use common::files::temp_dir;

fn config(mode: &str, dump: &Path) -> Config {
    let text = DEFAULT_TOML
        .replace("topology = \"auto\"", "topology = \"fused\"")
        .replace("speed = 10.0", "speed = 0.0")
        .replace("hot = \"spin\"", "hot = \"spin_yield\"")
        .replace("recv_window_ms = 5000", "recv_window_ms = 60000")
        .replace("mode = \"embedded\"", &format!("mode = \"{mode}\""))
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dump.display().to_string()),
        );
    Config::parse(&text).unwrap()
}

/// A run in `mode` and the `Exits` records of its journal (the venue-side exits of entries).
fn run(mode: &str) -> (RunReport, usize) {
    let dump = std::env::temp_dir().join(format!("ct-modes-{mode}-{}", std::process::id()));
    let r = runtime::run(
        &config(mode, &dump),
        &RunOptions::default(),
        Shutdown::default(),
    )
    .unwrap();
    let run_dir = std::fs::read_dir(&dump)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let scan = journal::inspect(&run_dir.join("orders.journal")).unwrap();
    let exits = scan
        .good
        .iter()
        .filter(|(r, _)| r.kind == RecordKind::Exits)
        .count();
    std::fs::remove_dir_all(&dump).ok();
    (r, exits)
}

#[test]
fn paper_and_embedded_modes_make_the_same_decisions_only_embedded_goes_over_http() {
    let (embedded, exits_e) = run("embedded");
    let (paper, exits_p) = run("paper");
    assert_eq!(embedded.engine.stats(), paper.engine.stats());
    for i in 0..paper.engine.n_symbols() {
        let (e, p) = (
            embedded.engine.position(i).unwrap(),
            paper.engine.position(i).unwrap(),
        );
        assert_eq!(e.qty, p.qty, "symbol {i}");
        assert_eq!(e.fills, p.fills, "symbol {i}");
    }
    let (ce, cp) = (runtime::counters(&embedded), runtime::counters(&paper));
    assert!(ce.get(Counter::Orders) > 0);
    assert_eq!(ce.get(Counter::Orders), cp.get(Counter::Orders));
    assert_eq!(ce.get(Counter::Fills), ce.get(Counter::Orders));
    // Intent and fill journaled for every order in both modes, and the venue-side exits of
    // every entry (the strategy gives each one its take-profit and stop-loss).
    assert_eq!(exits_e, exits_p);
    assert_eq!(exits_e as u64, ce.get(Counter::Entries));
    assert_eq!(
        ce.get(Counter::JournalRecords),
        2 * ce.get(Counter::Orders) + exits_e as u64
    );
    assert_eq!(
        cp.get(Counter::JournalRecords),
        2 * cp.get(Counter::Orders) + exits_p as u64
    );
    // Only the embedded run sent requests and timed their round trips.
    assert_eq!(
        runtime::latencies(&embedded).total_count(Stage::OrderRtt),
        ce.get(Counter::Orders)
    );
    assert_eq!(runtime::latencies(&paper).total_count(Stage::OrderRtt), 0);
}

/// `exec.order_transport = "websocket"`: the same run with entries and exits over the
/// embedded exchange's order WebSocket makes the same decisions and fills as over REST.
#[test]
fn websocket_order_transport_makes_the_same_decisions_and_fills_as_rest() {
    let run_with = |transport: &str| {
        let dump =
            std::env::temp_dir().join(format!("ct-modes-{transport}-{}", std::process::id()));
        let mut cfg = config("embedded", &dump);
        cfg.exec.order_transport = match transport {
            "websocket" => OrderTransport::Websocket,
            _ => OrderTransport::Rest,
        };
        let r = runtime::run(&cfg, &RunOptions::default(), Shutdown::default()).unwrap();
        std::fs::remove_dir_all(&dump).ok();
        r
    };
    let (rest, ws) = (run_with("rest"), run_with("websocket"));
    assert_eq!(rest.engine.stats(), ws.engine.stats());
    for i in 0..rest.engine.n_symbols() {
        let (a, b) = (
            rest.engine.position(i).unwrap(),
            ws.engine.position(i).unwrap(),
        );
        assert_eq!(a.qty, b.qty, "symbol {i}");
        assert_eq!(a.fills, b.fills, "symbol {i}");
    }
    let (cr, cw) = (runtime::counters(&rest), runtime::counters(&ws));
    assert!(cw.get(Counter::Orders) > 0);
    assert_eq!(cw.get(Counter::Fills), cw.get(Counter::Orders));
    assert_eq!(cr.get(Counter::WsOrders), 0, "REST run: no WebSocket");
    assert_eq!(cw.get(Counter::WsDrops), 0);
    assert_eq!(
        cw.get(Counter::WsOrders),
        cw.get(Counter::Orders),
        "every order went over the WebSocket"
    );
}

#[test]
fn live_mode_refuses_to_start_without_the_live_flag() {
    let dump = std::env::temp_dir().join(format!("ct-modes-live-{}", std::process::id()));
    let text = DEFAULT_TOML
        .replace("mode = \"embedded\"", "mode = \"live\"")
        .replace(
            "rest_url = \"embedded\"",
            "rest_url = \"https://testnet.binancefuture.com\"",
        );
    let mut cfg = Config::parse(&text).unwrap();
    cfg.run.dump_dir = dump.clone();
    let err = runtime::run(&cfg, &RunOptions::default(), Shutdown::default())
        .err()
        .unwrap();
    assert!(err.contains("--live"), "{err}");
    assert!(!dump.exists(), "nothing started");
    // Plain http to a non-loopback venue is refused by the config, naming the key.
    let bad = DEFAULT_TOML.replace(
        "rest_url = \"embedded\"",
        "rest_url = \"http://10.1.2.3:80\"",
    );
    let err = Config::parse(&bad).unwrap_err().0;
    assert!(
        err.contains("exec.rest_url") && err.contains("loopback"),
        "{err}"
    );
}

#[test]
fn live_keys_come_from_the_environment_or_a_private_key_file_and_are_never_shown() {
    if std::env::var_os("BINANCE_API_KEY").is_some()
        || std::env::var_os("BINANCE_API_SECRET").is_some()
    {
        eprintln!("skipped: BINANCE_API_KEY/SECRET are set in this environment");
        return;
    }
    let dir = temp_dir("modes-keys");
    let key_file = dir.join("keys.toml");
    std::fs::write(
        &key_file,
        "[binance]\napi_key = \"PUBKEY-abc123\"\napi_secret = \"hunter2-secret-value\"\n",
    )
    .unwrap();
    let text = DEFAULT_TOML
        .replace("mode = \"embedded\"", "mode = \"live\"")
        .replace(
            "rest_url = \"embedded\"",
            "rest_url = \"https://testnet.binancefuture.com\"",
        );
    let mut cfg = Config::parse(&text).unwrap();
    cfg.run.dump_dir = dir.join("dumps");
    // Live mode fetches specs from the venue by default: never contact one from a test.
    cfg.venue.specs.offline = true;
    let live = RunOptions {
        live: true,
        ..RunOptions::default()
    };
    // No keys anywhere: the error names the variables to set (nothing is sent).
    let err = runtime::run(&cfg, &live, Shutdown::default())
        .err()
        .unwrap();
    assert!(
        err.contains("BINANCE_API_KEY") && err.contains("exec.key_file"),
        "{err}"
    );
    // A key file others may read is refused, naming the fix, without showing its contents.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        cfg.exec.key_file = key_file.clone();
        let err = runtime::run(&cfg, &live, Shutdown::default())
            .err()
            .unwrap();
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("PUBKEY"), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
