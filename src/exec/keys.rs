//! API keys and the live-trading gate.
//!
//! Keys come from the environment (`BYBIT_API_KEY`/`BYBIT_API_SECRET`,
//! `BINANCE_API_KEY`/`BINANCE_API_SECRET`) or from a TOML key file readable by its owner only
//! (mode 0600 or 0400; anything else is refused). The secret lives in [`Secret`], which prints
//! `***` and is wiped on drop. The gate: real (non-loopback) order endpoints need the explicit
//! `--live` flag and keys; plain `http://` / `ws://` is accepted for loopback hosts only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::venue::Venue;

/// A secret string: `Debug`/`Display` print `***`; the memory is zeroed on drop.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    /// The secret bytes, for building the HMAC key (and nothing else).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// One venue's API credentials.
#[derive(Clone)]
pub struct ApiKeys {
    /// Venue the keys belong to.
    pub venue: Venue,
    /// API key (sent in a header; not secret, but not printed either).
    pub api_key: Secret,
    /// API secret (HMAC key material).
    pub secret: Secret,
    /// Where they came from (`env` or the key file path), for messages.
    pub origin: String,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("venue", &self.venue)
            .field("api_key", &self.api_key)
            .field("secret", &self.secret)
            .field("origin", &self.origin)
            .finish()
    }
}

/// Why keys could not be loaded or an endpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Only one of the key/secret pair is set.
    Incomplete {
        /// The variable or file key that is missing.
        missing: String,
    },
    /// The key file is readable by group or others.
    Permissions {
        /// Key file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The key file cannot be read or parsed.
    File {
        /// Key file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Incomplete { missing } => {
                write!(f, "API credentials incomplete: {missing} is not set")
            }
            KeyError::Permissions { path, mode } => write!(
                f,
                "key file {} has mode {:04o}; it must be readable by its owner only (chmod 600 {})",
                path.display(),
                mode,
                path.display()
            ),
            KeyError::File { path, why } => write!(f, "key file {}: {why}", path.display()),
        }
    }
}

impl std::error::Error for KeyError {}

impl ApiKeys {
    /// Keys from a variable lookup (`std::env::var` in production): `Ok(None)` when neither
    /// variable is set, an error when only one is.
    pub fn from_lookup(
        venue: Venue,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, KeyError> {
        let (k, s) = venue.key_env_names();
        let key = get(k).filter(|v| !v.is_empty());
        let secret = get(s).filter(|v| !v.is_empty());
        match (key, secret) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(KeyError::Incomplete {
                missing: s.to_string(),
            }),
            (None, Some(_)) => Err(KeyError::Incomplete {
                missing: k.to_string(),
            }),
            (Some(key), Some(secret)) => Ok(Some(Self {
                venue,
                api_key: Secret::new(key),
                secret: Secret::new(secret),
                origin: "environment".to_string(),
            })),
        }
    }

    /// Keys from the process environment.
    pub fn from_env(venue: Venue) -> Result<Option<Self>, KeyError> {
        Self::from_lookup(venue, |n| std::env::var(n).ok())
    }

    /// Keys from a TOML key file (mode 0600 or 0400):
    /// `[bybit]` / `[binance]` tables with `api_key` and `api_secret`. `Ok(None)` when the file
    /// has no table for `venue`.
    pub fn from_file(venue: Venue, path: &Path) -> Result<Option<Self>, KeyError> {
        check_key_file_mode(path)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| KeyError::File {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?);
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Pair {
            api_key: String,
            api_secret: String,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            bybit: Option<Pair>,
            binance: Option<Pair>,
        }
        let file: File = toml::from_str(&text).map_err(|e| KeyError::File {
            path: path.to_path_buf(),
            // toml's message quotes the offending line; keep only the first line (position).
            why: e.message().to_string(),
        })?;
        let pair = match venue {
            Venue::Bybit => file.bybit,
            Venue::Binance => file.binance,
        };
        Ok(pair.map(|p| Self {
            venue,
            api_key: Secret::new(p.api_key),
            secret: Secret::new(p.api_secret),
            origin: path.display().to_string(),
        }))
    }

    /// Environment first, then the key file when one is given.
    pub fn load(venue: Venue, key_file: Option<&Path>) -> Result<Option<Self>, KeyError> {
        if let Some(k) = Self::from_env(venue)? {
            return Ok(Some(k));
        }
        match key_file {
            Some(p) => Self::from_file(venue, p),
            None => Ok(None),
        }
    }
}

/// Refuses a key file that group or others may read or write (mode must be 0600 or 0400).
pub fn check_key_file_mode(path: &Path) -> Result<(), KeyError> {
    let meta = std::fs::metadata(path).map_err(|e| KeyError::File {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    if !meta.is_file() {
        return Err(KeyError::File {
            path: path.to_path_buf(),
            why: "not a regular file".into(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode != 0o600 && mode != 0o400 {
            return Err(KeyError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(())
}

/// Why an endpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateError {
    /// Not a URL with a host.
    BadUrl {
        /// The URL.
        url: String,
        /// Parser message.
        why: String,
    },
    /// Scheme other than http, https, ws, wss.
    Scheme {
        /// The URL.
        url: String,
    },
    /// Plain-text `http://` / `ws://` to a non-loopback host.
    PlainText {
        /// The URL.
        url: String,
    },
    /// A real order endpoint without `--live`.
    LiveFlagRequired {
        /// The URL.
        url: String,
    },
    /// A real order endpoint without keys.
    KeysRequired {
        /// The venue.
        venue: Venue,
    },
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateError::BadUrl { url, why } => write!(f, "endpoint {url:?} is not a URL: {why}"),
            GateError::Scheme { url } => write!(
                f,
                "endpoint {url:?}: only http, https, ws and wss are supported"
            ),
            GateError::PlainText { url } => write!(
                f,
                "endpoint {url:?}: plain http:// and ws:// are accepted for loopback hosts only; use https:// or wss://"
            ),
            GateError::LiveFlagRequired { url } => write!(
                f,
                "endpoint {url:?} is a real exchange: real orders need the explicit --live flag"
            ),
            GateError::KeysRequired { venue } => {
                let (k, s) = venue.key_env_names();
                write!(
                    f,
                    "live trading on {} needs API keys: set {k} and {s} or a 0600 key file",
                    venue.name()
                )
            }
        }
    }
}

impl std::error::Error for GateError {}

/// `true` for 127.0.0.0/8, ::1 (and IPv4-mapped loopback) and `localhost`.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(a) => a.is_loopback(),
        url::Host::Ipv6(a) => {
            a.is_loopback()
                || a.to_ipv4_mapped()
                    .is_some_and(|v4| IpAddr::V4(v4).is_loopback())
        }
    }
}

/// Parses `url` and returns whether its host is loopback; refuses plain text to other hosts.
/// This is the transport rule for every endpoint (market data included).
pub fn check_transport(url: &str) -> Result<bool, GateError> {
    let u = url::Url::parse(url).map_err(|e| GateError::BadUrl {
        url: url.to_string(),
        why: e.to_string(),
    })?;
    let host = u.host().ok_or_else(|| GateError::BadUrl {
        url: url.to_string(),
        why: "no host".into(),
    })?;
    let loopback = is_loopback_host(&host);
    match u.scheme() {
        "https" | "wss" => Ok(loopback),
        "http" | "ws" if loopback => Ok(true),
        "http" | "ws" => Err(GateError::PlainText {
            url: url.to_string(),
        }),
        _ => Err(GateError::Scheme {
            url: url.to_string(),
        }),
    }
}

/// The order-endpoint rule: `embedded` and loopback URLs are always allowed (paper / embedded
/// exchange / test peers); a real host needs TLS and `live`.
pub fn check_endpoint(url: &str, live: bool) -> Result<(), GateError> {
    if url == "embedded" {
        return Ok(());
    }
    let loopback = check_transport(url)?;
    if !loopback && !live {
        return Err(GateError::LiveFlagRequired {
            url: url.to_string(),
        });
    }
    Ok(())
}

/// The live-trading gate: built from the `--live` flag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveGate {
    /// `--live` was given.
    pub live: bool,
}

impl LiveGate {
    /// Checks an order endpoint and, when it is a real one, that keys were loaded.
    pub fn check_orders(
        &self,
        venue: Venue,
        url: &str,
        keys: Option<&ApiKeys>,
    ) -> Result<(), GateError> {
        check_endpoint(url, self.live)?;
        let real = url != "embedded" && !check_transport(url)?;
        let usable = match keys {
            Some(k) => !k.secret.is_empty() && !k.api_key.is_empty(),
            None => false,
        };
        if real && !usable {
            return Err(GateError::KeysRequired { venue });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2-very-secret".into());
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        let k = ApiKeys {
            venue: Venue::Bybit,
            api_key: Secret::new("PUBLICKEY123".into()),
            secret: s.clone(),
            origin: "environment".into(),
        };
        let dbg = format!("{k:?} {k:#?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(!dbg.contains("PUBLICKEY123"), "{dbg}");
        assert_eq!(k.secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn env_pairs_must_be_complete() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(ApiKeys::from_lookup(Venue::Bybit, env(&[]))
            .unwrap()
            .is_none());
        let k = ApiKeys::from_lookup(
            Venue::Bybit,
            env(&[("BYBIT_API_KEY", "k"), ("BYBIT_API_SECRET", "s")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!((k.api_key.expose(), k.secret.expose()), ("k", "s"));
        let e = ApiKeys::from_lookup(Venue::Binance, env(&[("BINANCE_API_KEY", "k")])).unwrap_err();
        assert!(e.to_string().contains("BINANCE_API_SECRET"), "{e}");
        // Bybit variables do not leak into Binance.
        assert!(ApiKeys::from_lookup(
            Venue::Binance,
            env(&[("BYBIT_API_KEY", "k"), ("BYBIT_API_SECRET", "s")])
        )
        .unwrap()
        .is_none());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_must_be_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ct-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.toml");
        std::fs::write(
            &path,
            "[bybit]\napi_key = \"bk\"\napi_secret = \"bs\"\n[binance]\napi_key = \"nk\"\napi_secret = \"ns\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ApiKeys::from_file(Venue::Bybit, &path).unwrap_err();
        assert_eq!(
            e,
            KeyError::Permissions {
                path: path.clone(),
                mode: 0o644
            }
        );
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let k = ApiKeys::from_file(Venue::Binance, &path).unwrap().unwrap();
        assert_eq!((k.api_key.expose(), k.secret.expose()), ("nk", "ns"));
        std::fs::write(&path, "[bybit]\napi_key = \"bk\"\n").unwrap();
        let e = ApiKeys::from_file(Venue::Bybit, &path).unwrap_err();
        assert!(matches!(e, KeyError::File { .. }), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn plain_text_only_to_loopback() {
        assert_eq!(check_transport("ws://127.0.0.1:9000/stream"), Ok(true));
        assert_eq!(check_transport("http://localhost:8080"), Ok(true));
        assert_eq!(check_transport("http://[::1]:8080/"), Ok(true));
        assert_eq!(
            check_transport("wss://stream.bybit.com/v5/public/linear"),
            Ok(false)
        );
        assert!(matches!(
            check_transport("ws://10.0.0.5:9000/"),
            Err(GateError::PlainText { .. })
        ));
        assert!(matches!(
            check_transport("http://api.bybit.com"),
            Err(GateError::PlainText { .. })
        ));
        // A domain that merely starts with 127 or contains localhost is not loopback.
        assert!(matches!(
            check_transport("http://localhost.evil.com"),
            Err(GateError::PlainText { .. })
        ));
        assert!(matches!(
            check_transport("ftp://127.0.0.1/"),
            Err(GateError::Scheme { .. })
        ));
        assert!(matches!(
            check_transport("not a url"),
            Err(GateError::BadUrl { .. })
        ));
    }

    #[test]
    fn real_order_endpoints_need_live_and_keys() {
        assert_eq!(check_endpoint("embedded", false), Ok(()));
        assert_eq!(check_endpoint("http://127.0.0.1:8000", false), Ok(()));
        assert!(matches!(
            check_endpoint("https://api.bybit.com", false),
            Err(GateError::LiveFlagRequired { .. })
        ));
        assert_eq!(check_endpoint("https://api.bybit.com", true), Ok(()));
        assert!(matches!(
            check_endpoint("http://api.bybit.com", true),
            Err(GateError::PlainText { .. })
        ));
        let gate = LiveGate { live: true };
        assert_eq!(
            gate.check_orders(Venue::Bybit, "https://api.bybit.com", None),
            Err(GateError::KeysRequired {
                venue: Venue::Bybit
            })
        );
        let keys = ApiKeys {
            venue: Venue::Bybit,
            api_key: Secret::new("k".into()),
            secret: Secret::new("s".into()),
            origin: "test".into(),
        };
        assert_eq!(
            gate.check_orders(Venue::Bybit, "https://api.bybit.com", Some(&keys)),
            Ok(())
        );
        // Paper/embedded need neither flag nor keys.
        let paper = LiveGate::default();
        assert_eq!(paper.check_orders(Venue::Binance, "embedded", None), Ok(()));
        assert_eq!(
            paper.check_orders(Venue::Binance, "http://127.0.0.1:9/", None),
            Ok(())
        );
    }
}
