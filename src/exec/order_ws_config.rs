//! `[exec] order_transport` and `[exec.order_ws]`: whether entries and exits go over the
//! venue's order-entry WebSocket (Bybit `/v5/trade`, Binance `/ws-fapi/v1`) with REST as the
//! fall-back, or over REST alone; with an Ed25519 key (Binance) the order WebSocket logs on
//! once per connection (`session.logon`) instead of signing each request.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::keys::check_key_file_mode;
use crate::venue::ed25519::Ed25519Signer;
use crate::venue::Venue;

/// The environment variable naming the Ed25519 key file (wins over `exec.order_ws.ed25519_key_file`).
pub const ED25519_KEY_ENV: &str = "BINANCE_ED25519_KEY_FILE";

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
    /// Binance only: the Ed25519 private key (PKCS#8, PEM or DER, mode 0600 or 0400) of an API
    /// key of type Ed25519; set, the order WebSocket sends `session.logon` on every connect and
    /// its orders carry no per-request signature. Empty: HMAC-signed requests.
    pub ed25519_key_file: PathBuf,
    /// The API key registered with that Ed25519 key; empty = the order route's API key.
    pub ed25519_api_key: String,
}

impl Default for OrderWsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            heartbeat_s: 20.0,
            open_timeout_s: 5.0,
            ed25519_key_file: PathBuf::new(),
            ed25519_api_key: String::new(),
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

    /// The Ed25519 key file: `BINANCE_ED25519_KEY_FILE` when set, else `ed25519_key_file`;
    /// `None` when neither is.
    pub fn ed25519_key_path(&self) -> Option<PathBuf> {
        std::env::var_os(ED25519_KEY_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                (!self.ed25519_key_file.as_os_str().is_empty())
                    .then(|| self.ed25519_key_file.clone())
            })
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

/// The Ed25519 private key of `path`: refused unless the file is owner-only (0600 or 0400),
/// like the key file; the error names the file, never the key.
pub fn load_ed25519_key(path: &Path) -> Result<Ed25519Signer, String> {
    check_key_file_mode(path).map_err(|e| e.to_string())?;
    let doc = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("Ed25519 key file {}: {e}", path.display()))?,
    );
    Ed25519Signer::from_pkcs8(&doc).map_err(|e| format!("Ed25519 key file {}: {e}", path.display()))
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

    #[test]
    fn the_ed25519_key_file_must_be_owner_only_and_pkcs8() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ct-ed25519-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ed25519.der");
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        std::fs::write(&path, doc.as_ref()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_ed25519_key(&path).unwrap_err();
        assert!(e.contains("0644") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let key = load_ed25519_key(&path).unwrap();
        let want = ring::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        use ring::signature::KeyPair;
        assert_eq!(&key.public_key()[..], want.public_key().as_ref());
        std::fs::write(&path, b"not a key").unwrap();
        let e = load_ed25519_key(&path).unwrap_err();
        assert!(e.contains("not an Ed25519 PKCS#8 private key"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
