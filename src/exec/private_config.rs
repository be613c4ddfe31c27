//! `[exec.private_stream]`: the venue's private stream (Bybit `/v5/private`, Binance user data
//! stream) on venue order routes.

use serde::Deserialize;

/// `[exec.private_stream]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PrivateStreamConfig {
    /// Connect the private stream (venue routes only: embedded, loopback, live); absent: on in
    /// `live` mode, off otherwise. Off: fills, venue-side closes and the balance are learnt by
    /// polling alone.
    pub enabled: Option<bool>,
    /// WebSocket base URL (`wss://stream.bybit.com`, `wss://fstream.binance.com`); empty: the
    /// venue's own in live mode, the order route's host (`ws://` on loopback) otherwise. The
    /// path (`/v5/private`, `/ws/<listenKey>`) is added.
    pub url: String,
    /// Client heartbeat period, s (Bybit asks for a ping every 20 s).
    pub heartbeat_s: f64,
    /// No frame (data or pong) for this long → the link is dead and reconnects, s.
    pub dead_after_s: f64,
    /// Binance listenKey keepalive (`PUT`) period, s (the venue: every 30 min; a key lapses 60
    /// min after its last keepalive).
    pub keepalive_s: f64,
    /// First reconnect delay, ms.
    pub backoff_base_ms: u64,
    /// Longest reconnect delay, ms.
    pub backoff_cap_ms: u64,
}

impl Default for PrivateStreamConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            url: String::new(),
            heartbeat_s: 20.0,
            dead_after_s: 60.0,
            keepalive_s: 1_800.0,
            backoff_base_ms: 200,
            backoff_cap_ms: 10_000,
        }
    }
}

impl PrivateStreamConfig {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v, lo, hi) in [
            ("heartbeat_s", self.heartbeat_s, 0.05, 600.0),
            ("dead_after_s", self.dead_after_s, 0.1, 3_600.0),
            ("keepalive_s", self.keepalive_s, 0.1, 3_000.0),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(format!(
                    "config key `exec.private_stream.{key}`: {v} is outside [{lo}, {hi}]"
                ));
            }
        }
        if self.dead_after_s <= self.heartbeat_s {
            return Err(
                "config key `exec.private_stream.dead_after_s`: must exceed heartbeat_s".into(),
            );
        }
        if self.backoff_base_ms == 0 || self.backoff_cap_ms < self.backoff_base_ms {
            return Err(
                "config key `exec.private_stream.backoff_cap_ms`: must be ≥ backoff_base_ms ≥ 1"
                    .into(),
            );
        }
        Ok(())
    }
}
