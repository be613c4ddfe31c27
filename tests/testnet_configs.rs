//! The shipped testnet configs (`config/testnet_binance.toml`, `config/testnet_bybit.toml`,
//! README "Going live, step by step") parse and validate, and point every venue connection at
//! the venue's testnet: market data, the REST fallback, orders and account, specs. Nothing is
//! contacted.

use calculus_trader::config::Config;
use calculus_trader::exec::exec_config::ExecMode;
use calculus_trader::runtime::private_stream;
use calculus_trader::venue::Venue;

mod common;
use common::files::root;

fn config(file: &str) -> Config {
    let text = std::fs::read_to_string(root().join("config").join(file)).unwrap();
    Config::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn testnet_configs_point_every_connection_at_the_testnet() {
    for (file, venue, ws, rest, private) in [
        (
            "testnet_binance.toml",
            Venue::Binance,
            "wss://stream.binancefuture.com/stream",
            "https://testnet.binancefuture.com",
            "wss://stream.binancefuture.com",
        ),
        (
            "testnet_bybit.toml",
            Venue::Bybit,
            "wss://stream-testnet.bybit.com/v5/public/linear",
            "https://api-testnet.bybit.com",
            "wss://stream-testnet.bybit.com",
        ),
    ] {
        let cfg = config(file);
        assert_eq!(cfg.venue(), venue, "{file}");
        assert_eq!(cfg.exec.mode, ExecMode::Live, "{file}");
        assert_eq!(cfg.venue.ws_url, ws, "{file}");
        assert_eq!(cfg.feed.rest_url, rest, "{file}");
        assert_eq!(cfg.exec.rest_url, rest, "{file}");
        assert_eq!(
            cfg.venue.rest_host,
            rest.trim_start_matches("https://"),
            "{file}"
        );
        // Specs come from the order endpoint's host: the testnet's, not mainnet's.
        let specs = cfg.venue.specs.with_exec_url(&cfg.exec.rest_url);
        assert_eq!(specs.base_url(venue), rest, "{file}");
        // The order WebSocket (exec.order_transport = "websocket") is the testnet's too.
        let order_ws = match venue {
            Venue::Bybit => "wss://stream-testnet.bybit.com/v5/trade",
            Venue::Binance => "wss://testnet.binancefuture.com/ws-fapi/v1",
        };
        assert_eq!(cfg.exec.order_ws.url, order_ws, "{file}");
        assert_eq!(
            cfg.exec
                .order_ws
                .resolve(venue, &cfg.exec.rest_url)
                .unwrap(),
            order_ws,
            "{file}: the url derived from the testnet's REST host is the same"
        );
        // The private stream (on in live mode) is the testnet's too.
        assert_eq!(cfg.exec.private_stream.enabled, None, "{file}");
        assert_eq!(
            private_stream::base_url(&cfg.exec.private_stream, venue, true, &cfg.exec.rest_url),
            private,
            "{file}"
        );
    }
}

#[test]
fn the_private_stream_follows_the_order_routes_host() {
    let ps = calculus_trader::exec::private_config::PrivateStreamConfig::default();
    for (venue, rest, want) in [
        (
            Venue::Binance,
            "https://fapi.binance.com",
            "wss://fstream.binance.com",
        ),
        (
            Venue::Bybit,
            "https://api.bybit.com",
            "wss://stream.bybit.com",
        ),
        (Venue::Binance, "", "wss://fstream.binance.com"),
        (
            Venue::Bybit,
            "https://127.0.0.1:4443",
            "wss://127.0.0.1:4443",
        ),
        (
            Venue::Binance,
            "http://127.0.0.1:8080/",
            "ws://127.0.0.1:8080",
        ),
    ] {
        assert_eq!(
            private_stream::base_url(&ps, venue, true, rest),
            want,
            "{rest}"
        );
    }
}

/// `(section, key) → line` of every key line of a TOML config (comments and layout included).
fn key_lines(text: &str) -> Vec<((String, String), String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(s) = line.strip_prefix('[') {
            section = s.trim_end_matches(']').to_string();
        } else if let Some((k, _)) = line.split_once('=') {
            let k = k.trim();
            if !k.is_empty() && !k.starts_with('#') && !line.starts_with(' ') {
                out.push(((section.clone(), k.to_string()), line.to_string()));
            }
        }
    }
    out
}

#[test]
fn testnet_configs_differ_from_the_default_only_in_their_endpoints() {
    let default = std::fs::read_to_string(root().join("config/default.toml")).unwrap();
    for (file, own) in [
        (
            "testnet_binance.toml",
            &["ws_url", "rest_host", "rest_url", "mode", "url"][..],
        ),
        (
            "testnet_bybit.toml",
            &["name", "ws_url", "rest_host", "rest_url", "mode", "url"][..],
        ),
    ] {
        let text = std::fs::read_to_string(root().join("config").join(file)).unwrap();
        let theirs = key_lines(&text);
        let ours = key_lines(&default);
        let keys =
            |v: &[((String, String), String)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
        assert_eq!(
            keys(&theirs),
            keys(&ours),
            "{file}: same keys in the same order as default.toml (regenerate it)"
        );
        for ((key, line), (_, default_line)) in theirs.iter().zip(&ours) {
            if !own.contains(&key.1.as_str()) {
                assert_eq!(
                    line, default_line,
                    "{file}: [{}] {} differs from default.toml",
                    key.0, key.1
                );
            }
        }
    }
}
