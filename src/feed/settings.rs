//! `[feed]`: connection, liveness and fallback settings of the market-data feed. Every key is
//! optional; the defaults are documented in `config/default.toml`.

use serde::Deserialize;

use super::endpoint::Endpoint;
use super::protocol::Venue;

/// `[feed]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// Per-symbol topic kinds (`trade`, `aggTrade`, `bookTicker`; `publicTrade`, `tickers`,
    /// `orderbook.1`); empty = the venue's default.
    pub topics: Vec<String>,
    /// Most topics on one connection; 0 = the venue's limit (Binance 200, Bybit 100).
    pub topics_per_connection: usize,
    /// Client heartbeat period, ms; 0 = the venue's (20 000).
    pub heartbeat_ms: u64,
    /// A connection with no frame at all (data, pong) for this long is dead → reconnect, ms.
    pub dead_after_ms: u64,
    /// TCP + TLS + WebSocket upgrade must complete within this, ms.
    pub connect_timeout_ms: u64,
    /// A symbol with no message for this long is stale → paused + REST fallback, ms.
    pub stale_after_ms: u64,
    /// First reconnect delay, ms (delays double up to `reconnect_max_ms`).
    pub reconnect_base_ms: u64,
    /// Reconnect delay cap, ms.
    pub reconnect_max_ms: u64,
    /// Random fraction taken off each delay, in [0, 1].
    pub reconnect_jitter: f64,
    /// Poll recent trades over REST for symbols whose stream is down or stale.
    pub rest_fallback: bool,
    /// REST base URL; empty = the venue's mainnet (the embedded exchange's own when replaying).
    pub rest_url: String,
    /// REST poll period per degraded symbol, ms.
    pub rest_poll_ms: u64,
    /// Trades requested per REST poll (Binance ≤ 1000, Bybit linear ≤ 1000).
    pub rest_limit: u32,
    /// REST request timeout, ms.
    pub rest_timeout_ms: u64,
    /// Extra trusted CA certificates for `wss://` (PEM file); empty = Mozilla roots only.
    pub ca_file: String,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            topics_per_connection: 0,
            heartbeat_ms: 0,
            dead_after_ms: 45_000,
            connect_timeout_ms: 10_000,
            stale_after_ms: 10_000,
            reconnect_base_ms: 1_000,
            reconnect_max_ms: 32_000,
            reconnect_jitter: 0.5,
            rest_fallback: true,
            rest_url: String::new(),
            rest_poll_ms: 2_000,
            rest_limit: 500,
            rest_timeout_ms: 3_000,
            ca_file: String::new(),
        }
    }
}

impl FeedConfig {
    /// The topic kinds to subscribe for `venue`.
    pub fn topic_kinds(&self, venue: Venue) -> Vec<String> {
        if self.topics.is_empty() {
            venue
                .default_topics()
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            self.topics.clone()
        }
    }

    /// Heartbeat period for `venue`, ms.
    pub fn heartbeat_ms(&self, venue: Venue) -> u64 {
        if self.heartbeat_ms == 0 {
            venue.default_heartbeat_ms()
        } else {
            self.heartbeat_ms
        }
    }

    /// Topic limit per connection for `venue`.
    pub fn topics_per_connection(&self, venue: Venue) -> usize {
        if self.topics_per_connection == 0 {
            venue.default_topics_per_connection()
        } else {
            self.topics_per_connection
        }
    }

    /// Checks every value for `venue`; `Err((key, why))` names the offending key.
    pub fn validate(&self, venue: Venue) -> Result<(), (&'static str, String)> {
        let positive = |key: &'static str, v: u64| {
            if v == 0 {
                Err((key, "must be ≥ 1".to_string()))
            } else {
                Ok(())
            }
        };
        positive("feed.dead_after_ms", self.dead_after_ms)?;
        positive("feed.connect_timeout_ms", self.connect_timeout_ms)?;
        positive("feed.stale_after_ms", self.stale_after_ms)?;
        positive("feed.reconnect_base_ms", self.reconnect_base_ms)?;
        positive("feed.rest_poll_ms", self.rest_poll_ms)?;
        positive("feed.rest_timeout_ms", self.rest_timeout_ms)?;
        if self.reconnect_max_ms < self.reconnect_base_ms {
            return Err((
                "feed.reconnect_max_ms",
                format!(
                    "must be ≥ reconnect_base_ms ({}), got {}",
                    self.reconnect_base_ms, self.reconnect_max_ms
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.reconnect_jitter) {
            return Err((
                "feed.reconnect_jitter",
                format!("must be in [0, 1], got {}", self.reconnect_jitter),
            ));
        }
        if self.heartbeat_ms(venue) >= self.dead_after_ms {
            return Err((
                "feed.dead_after_ms",
                format!(
                    "must exceed the heartbeat period ({} ms), got {}",
                    self.heartbeat_ms(venue),
                    self.dead_after_ms
                ),
            ));
        }
        // Upper bounds: beyond these a value is a unit mistake (s given as ms), not a setting.
        // Binance allows 1024 streams per connection (its default here is 200), Bybit fewer.
        for (key, v, lo, hi) in [
            (
                "feed.topics_per_connection",
                self.topics_per_connection as u64,
                0,
                1024,
            ),
            ("feed.heartbeat_ms", self.heartbeat_ms, 0, 300_000),
            ("feed.dead_after_ms", self.dead_after_ms, 1, 600_000),
            (
                "feed.connect_timeout_ms",
                self.connect_timeout_ms,
                1,
                60_000,
            ),
            ("feed.stale_after_ms", self.stale_after_ms, 1, 3_600_000),
            ("feed.reconnect_base_ms", self.reconnect_base_ms, 1, 60_000),
            ("feed.reconnect_max_ms", self.reconnect_max_ms, 1, 3_600_000),
            ("feed.rest_poll_ms", self.rest_poll_ms, 1, 60_000),
            ("feed.rest_timeout_ms", self.rest_timeout_ms, 1, 60_000),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err((
                    key,
                    format!("{v} is outside the allowed range [{lo}, {hi}]"),
                ));
            }
        }
        if !(1..=1000).contains(&self.rest_limit) {
            return Err((
                "feed.rest_limit",
                format!("must be in 1..=1000, got {}", self.rest_limit),
            ));
        }
        let known = venue.known_topics();
        for t in &self.topics {
            if !known.contains(&t.as_str()) {
                return Err((
                    "feed.topics",
                    format!(
                        "{t:?} is not a {} topic this build knows ({known:?})",
                        venue.name()
                    ),
                ));
            }
        }
        if !self.rest_url.is_empty() {
            let e = Endpoint::parse(&self.rest_url).map_err(|e| ("feed.rest_url", e))?;
            if e.path != "/" {
                return Err(("feed.rest_url", "must be a base URL without a path".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_for_both_venues_and_bad_values_name_keys() {
        let d = FeedConfig::default();
        d.validate(Venue::Binance).unwrap();
        d.validate(Venue::Bybit).unwrap();
        assert_eq!(d.topic_kinds(Venue::Binance), vec!["trade"]);
        let cases: [(FeedConfig, &str); 5] = [
            (
                FeedConfig {
                    reconnect_max_ms: 10,
                    ..d.clone()
                },
                "feed.reconnect_max_ms",
            ),
            (
                FeedConfig {
                    heartbeat_ms: 60_000,
                    ..d.clone()
                },
                "feed.dead_after_ms",
            ),
            (
                FeedConfig {
                    topics: vec!["publicTrade".into()],
                    ..d.clone()
                },
                "feed.topics",
            ),
            (
                FeedConfig {
                    rest_url: "http://api.bybit.com".into(),
                    ..d.clone()
                },
                "feed.rest_url",
            ),
            (
                FeedConfig {
                    rest_limit: 0,
                    ..d.clone()
                },
                "feed.rest_limit",
            ),
        ];
        for (c, key) in cases {
            assert_eq!(c.validate(Venue::Binance).unwrap_err().0, key);
        }
    }

    #[test]
    fn numeric_keys_are_bounded() {
        type Set = fn(&mut FeedConfig, u64);
        let cases: [(&str, Set, u64); 9] = [
            (
                "feed.topics_per_connection",
                |c, v| c.topics_per_connection = v as usize,
                1024,
            ),
            ("feed.heartbeat_ms", |c, v| c.heartbeat_ms = v, 300_000),
            ("feed.dead_after_ms", |c, v| c.dead_after_ms = v, 600_000),
            (
                "feed.connect_timeout_ms",
                |c, v| c.connect_timeout_ms = v,
                60_000,
            ),
            (
                "feed.stale_after_ms",
                |c, v| c.stale_after_ms = v,
                3_600_000,
            ),
            (
                "feed.reconnect_base_ms",
                |c, v| c.reconnect_base_ms = v,
                60_000,
            ),
            (
                "feed.reconnect_max_ms",
                |c, v| c.reconnect_max_ms = v,
                3_600_000,
            ),
            ("feed.rest_poll_ms", |c, v| c.rest_poll_ms = v, 60_000),
            ("feed.rest_timeout_ms", |c, v| c.rest_timeout_ms = v, 60_000),
        ];
        for (key, set, hi) in cases {
            // At the bound: accepted (the heartbeat and reconnect-base bounds need a longer
            // dead-after and reconnect cap).
            let mut c = FeedConfig {
                dead_after_ms: 600_000,
                reconnect_max_ms: 3_600_000,
                ..FeedConfig::default()
            };
            set(&mut c, hi);
            assert!(c.validate(Venue::Binance).is_ok(), "{key} = {hi}");
            let mut c = FeedConfig {
                dead_after_ms: 600_000,
                reconnect_max_ms: 3_600_000,
                ..FeedConfig::default()
            };
            set(&mut c, hi + 1);
            let (k, why) = c.validate(Venue::Binance).unwrap_err();
            assert_eq!(k, key);
            assert!(
                why.contains(&format!("{}", hi + 1)) && why.contains(&format!("{hi}]")),
                "{why}"
            );
        }
    }
}
