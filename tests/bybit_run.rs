//! `config/bybit.toml` end to end against the embedded exchange: the Bybit v5 public stream
//! replaying real trades, and Bybit v5 signed orders (`POST /v5/order/create` with position
//! TP/SL, fills learnt from `/v5/order/realtime`) to the embedded exchange's Bybit order entry.

use std::path::PathBuf;

use calculus_trader::config::Config;
use calculus_trader::runtime::{self, RunOptions, Shutdown};
use calculus_trader::telemetry::{Counter, Stage};

#[test]
fn bybit_config_run_sends_bybit_orders_that_the_embedded_exchange_fills() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dump = std::env::temp_dir().join(format!("ct-bybit-run-{}", std::process::id()));
    std::fs::create_dir_all(&dump).unwrap();
    let text = std::fs::read_to_string(root.join("config/bybit.toml"))
        .unwrap()
        .replace("speed = 1.0 ", "speed = 0.0 ")
        // A loaded test host can delay a request by seconds; the exchange checks the window.
        .replace("recv_window_ms = 5000", "recv_window_ms = 60000")
        .replace("hot = \"spin\"", "hot = \"park\"")
        .replace(
            "dump_dir = \"dumps\"",
            &format!("dump_dir = {:?}", dump.display().to_string()),
        );
    assert!(
        text.contains("speed = 0.0 "),
        "the test runs the replay at full speed"
    );
    let cfg = Config::parse(&text).unwrap();
    let opts = RunOptions {
        print_status: false,
        ..RunOptions::default()
    };
    let r = runtime::run(&cfg, &opts, Shutdown::default()).unwrap();
    let c = runtime::counters(&r);
    let s = r.engine.stats();
    assert!(c.get(Counter::Orders) > 0, "the real data produces orders");
    assert_eq!(
        c.get(Counter::Fills),
        c.get(Counter::Orders),
        "every order filled"
    );
    assert_eq!(
        c.get(Counter::RejectVenue) + c.get(Counter::RejectLost),
        0,
        "{:?}",
        c.nonzero().collect::<Vec<_>>()
    );
    assert_eq!(s.intents, s.fills + s.rejects);
    // Bybit acks every order before its fill: one ack and one status query per order.
    assert_eq!(c.get(Counter::ExecAcks), c.get(Counter::Orders));
    assert_eq!(
        runtime::latencies(&r).total_count(Stage::OrderRtt),
        c.get(Counter::Orders)
    );
    for i in 0..r.engine.n_symbols() {
        assert_eq!(
            r.engine.working(i),
            r.engine.position(i).unwrap().qty,
            "nothing left in flight"
        );
    }
    std::fs::remove_dir_all(dump).ok();
}
