//! `config/bybit.toml` end to end against the embedded exchange: the Bybit v5 public stream
//! replaying real trades, and Bybit v5 signed orders (`POST /v5/order/create` with position
//! TP/SL, fills learnt from `/v5/order/realtime`) to the embedded exchange's Bybit order entry.

use std::path::Path;

use calculus_trader::config::Config;
use calculus_trader::runtime::{self, RunOptions, RunReport, Shutdown};
use calculus_trader::telemetry::{Counter, Stage};

mod common;
use common::files::root;

/// `config/bybit.toml` with the replay at full speed, a wide recv window, parking waits and
/// dumps in `dump`, plus `extra` appended; runs it.
fn run(dump: &Path, extra: &str) -> RunReport {
    std::fs::create_dir_all(dump).unwrap();
    let text = std::fs::read_to_string(root().join("config/bybit.toml"))
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
    let cfg = Config::parse(&format!("{text}\n{extra}")).unwrap();
    let opts = RunOptions {
        print_status: false,
        ..RunOptions::default()
    };
    runtime::run(&cfg, &opts, Shutdown::default()).unwrap()
}

/// Every order the engine decided was sent, filled and reported; nothing refused or lost.
fn assert_every_order_filled(r: &RunReport) {
    let c = runtime::counters(r);
    let s = r.engine.stats();
    assert!(c.get(Counter::Orders) > 0, "the real data produces orders");
    assert_eq!(
        c.get(Counter::Fills),
        c.get(Counter::Orders),
        "every order filled: {:?} {s:?}",
        c.nonzero().collect::<Vec<_>>()
    );
    assert_eq!(
        c.get(Counter::RejectVenue) + c.get(Counter::RejectLost),
        0,
        "{:?}",
        c.nonzero().collect::<Vec<_>>()
    );
    assert_eq!(s.rejects, 0);
    assert_eq!(s.intents, s.fills);
    for i in 0..r.engine.n_symbols() {
        assert_eq!(
            r.engine.working(i),
            r.engine.position(i).unwrap().qty,
            "nothing left in flight"
        );
    }
}

#[test]
fn bybit_config_run_sends_bybit_orders_that_the_embedded_exchange_fills() {
    let dump = std::env::temp_dir().join(format!("ct-bybit-run-{}", std::process::id()));
    let r = run(&dump, "");
    assert_every_order_filled(&r);
    let c = runtime::counters(&r);
    // Bybit acks every order before its fill: one ack (and one status query) per order.
    assert_eq!(c.get(Counter::ExecAcks), c.get(Counter::Orders));
    assert_eq!(
        runtime::latencies(&r).total_count(Stage::OrderRtt),
        c.get(Counter::Orders)
    );
    std::fs::remove_dir_all(dump).ok();
}

/// Tight exits (0.04 % / 0.02 %) so that the real prices reach them: every entry carries them as
/// position TP/SL, the embedded exchange closes positions on its own, and the engine's own
/// reduce-only exits on the same trades either fill first (the venue's TP/SL then expire) or
/// are refused (110017) and booked as the venue's close. Either way nothing is rejected and
/// every order the engine sent is reported filled.
#[test]
fn bybit_run_with_venue_tp_sl_books_every_exit() {
    let dump = std::env::temp_dir().join(format!("ct-bybit-tpsl-{}", std::process::id()));
    let r = run(
        &dump,
        "[risk.exits]\nmode = \"percent\"\ntp_fraction = 0.0004\nsl_fraction = 0.0002\n",
    );
    let s = r.engine.stats();
    assert!(
        s.exit_take_profit + s.exit_stop_loss > 0,
        "the real prices reach the tight exits: {s:?}"
    );
    assert_every_order_filled(&r);
    std::fs::remove_dir_all(dump).ok();
}

/// `exec.order_transport = "websocket"`: the Bybit orders go over `/v5/trade` (authenticated
/// once), their fills are learnt from the same REST status queries, and every order fills.
#[test]
fn bybit_run_over_the_order_websocket_fills_every_order() {
    let dump = std::env::temp_dir().join(format!("ct-bybit-ws-{}", std::process::id()));
    let r = run(&dump, "[exec]\norder_transport = \"websocket\"\n");
    assert_every_order_filled(&r);
    let c = runtime::counters(&r);
    assert_eq!(
        c.get(Counter::WsOrders),
        c.get(Counter::Orders),
        "all over the WebSocket"
    );
    assert_eq!(c.get(Counter::WsDrops), 0);
    std::fs::remove_dir_all(dump).ok();
}
