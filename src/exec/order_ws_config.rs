//! `[exec] order_transport` and `[exec.order_ws]`: whether entries and exits go over the
//! venue's order-entry WebSocket (Bybit `/v5/trade`, Binance `/ws-fapi/v1`) with REST as the
//! fall-back, or over REST alone.

use serde::Deserialize;

use crate::venue::Venue;

/// How orders travel (status and position queries always go over REST).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderTransport {
    /// HTTP keep-alive lanes ([`crate::exec::lanes::OrderLanes`]).
    #[default]
    Rest,
    /// The order-entry WebSocket while it is up, REST while it is down.
    Websocket,
}

/// `[exec.order_ws]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OrderWsConfig {
    /// Full WebSocket URL (`wss://stream.bybit.com/v5/trade`,
    /// `wss://ws-fapi.binance.com/ws-fapi/v1`); empty: from the order route's host (the
    /// venues' mainnet and testnet hosts are known; `ws://<host:port>` on loopback).
    pub url: String,
    /// Heartbeat after this much silence, s (Bybit asks for a ping every 20 s); three
    /// heartbeats without a byte drop the link.
    pub heartbeat_s: f64,
    /// Start-up wait for the link to come up before trading begins (REST meanwhile), s.
    pub open_timeout_s: f64,
}

impl Default for OrderWsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            heartbeat_s: 20.0,
            open_timeout_s: 5.0,
        }
    }
}

impl OrderWsConfig {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v, lo, hi) in [
            ("heartbeat_s", self.heartbeat_s, 0.05, 600.0),
            ("open_timeout_s", self.open_timeout_s, 0.0, 60.0),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(format!(
                    "config key `exec.order_ws.{key}`: {v} is outside [{lo}, {hi}]"
                ));
            }
        }
        Ok(())
    }

    /// The order WebSocket URL for the order route `rest_url` of `venue`: `url` when set, the
    /// venue's host for a known REST host, `ws://` + the host of a loopback route; an unknown
    /// `https://` host is an error (set `exec.order_ws.url`).
    pub fn resolve(&self, venue: Venue, rest_url: &str) -> Result<String, String> {
        if !self.url.is_empty() {
            return Ok(self.url.clone());
        }
        let path = match venue {
            Venue::Bybit => "/v5/trade",
            Venue::Binance => "/ws-fapi/v1",
        };
        if let Some(host) = rest_url.strip_prefix("http://") {
            return Ok(format!("ws://{}{path}", host.trim_end_matches('/')));
        }
        let host = rest_url
            .strip_prefix("https://")
            .unwrap_or(rest_url)
            .trim_end_matches('/');
        let ws_host = match host {
            "api.bybit.com" | "api.bytick.com" | "" if venue == Venue::Bybit => "stream.bybit.com",
            "api-testnet.bybit.com" => "stream-testnet.bybit.com",
            "fapi.binance.com" | "" if venue == Venue::Binance => "ws-fapi.binance.com",
            "testnet.binancefuture.com" => "testnet.binancefuture.com",
            _ => {
                return Err(format!(
                "config key `exec.order_ws.url`: no known order WebSocket for {rest_url:?}; set it"
            ))
            }
        };
        Ok(format!("wss://{ws_host}{path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_order_route() {
        let c = OrderWsConfig::default();
        for (venue, rest, want) in [
            (
                Venue::Bybit,
                "https://api.bybit.com",
                "wss://stream.bybit.com/v5/trade",
            ),
            (
                Venue::Bybit,
                "https://api-testnet.bybit.com",
                "wss://stream-testnet.bybit.com/v5/trade",
            ),
            (
                Venue::Binance,
                "https://fapi.binance.com",
                "wss://ws-fapi.binance.com/ws-fapi/v1",
            ),
            (
                Venue::Binance,
                "https://testnet.binancefuture.com",
                "wss://testnet.binancefuture.com/ws-fapi/v1",
            ),
            (
                Venue::Binance,
                "http://127.0.0.1:9000",
                "ws://127.0.0.1:9000/ws-fapi/v1",
            ),
        ] {
            assert_eq!(c.resolve(venue, rest).unwrap(), want);
        }
        assert!(c.resolve(Venue::Bybit, "https://example.com").is_err());
        let set = OrderWsConfig {
            url: "wss://x/v5/trade".into(),
            ..c
        };
        assert_eq!(
            set.resolve(Venue::Bybit, "https://example.com").unwrap(),
            "wss://x/v5/trade"
        );
    }
}
