//! WebSocket / REST endpoint URLs: scheme, host, port, path. `ws://` and `http://` are accepted
//! for loopback hosts only (plain text never leaves the machine); real venues use `wss://` and
//! `https://`. Parsing never touches DNS; [`Endpoint::resolve`] does (cold path: start-up only).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// A parsed `ws://`, `wss://`, `http://` or `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL as given.
    pub url: String,
    /// `wss://` or `https://`.
    pub tls: bool,
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (default 80 / 443 by scheme).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

/// Whether `host` is a loopback name or address (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Endpoint {
    /// Parses `url`. Refuses plain `ws://` / `http://` to anything but a loopback host, with a
    /// message that says so.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url}: expected ws://, wss://, http:// or https://"))?;
        let (tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => (false, 80),
            "wss" | "https" => (true, 443),
            other => return Err(format!("{url}: unsupported scheme {other}://")),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{url}: missing or unsupported host"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url}: unclosed [ in host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("{url}: bad port {p:?}"))?,
                None if after.is_empty() => default_port,
                None => return Err(format!("{url}: bad authority {authority:?}")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("{url}: bad port {p:?}"))?,
                ),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(format!("{url}: missing host"));
        }
        if !tls && !is_loopback_host(&host) {
            return Err(format!(
                "{url}: plain {scheme}:// is accepted for loopback addresses only; use {}s:// for a real venue",
                scheme.to_ascii_lowercase()
            ));
        }
        Ok(Self {
            url: url.to_string(),
            tls,
            host,
            port,
            path,
        })
    }

    /// Resolves the host (DNS for names; blocking — start-up only). Every address is returned
    /// so reconnects can rotate through them without resolving again on the network thread.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, String> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("{}: cannot resolve {}: {e}", self.url, self.host))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{}: {} has no address", self.url, self.host));
        }
        Ok(addrs)
    }

    /// `host` or `host:port` when the port is not the scheme's default (the `Host` header).
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes_ports_and_paths() {
        let e = Endpoint::parse("wss://stream.bybit.com/v5/public/linear").unwrap();
        assert!(e.tls);
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("stream.bybit.com", 443, "/v5/public/linear")
        );
        let e = Endpoint::parse("ws://127.0.0.1:9001/stream?streams=a/b").unwrap();
        assert!(!e.tls);
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("127.0.0.1", 9001, "/stream?streams=a/b")
        );
        let e = Endpoint::parse("ws://[::1]:80").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("::1", 80, "/"));
        assert_eq!(e.host_header(), "[::1]");
        assert_eq!(
            Endpoint::parse("https://fapi.binance.com")
                .unwrap()
                .host_header(),
            "fapi.binance.com"
        );
    }

    #[test]
    fn plain_text_to_a_non_loopback_host_is_refused() {
        for url in [
            "ws://stream.bybit.com/v5/public/linear",
            "ws://10.0.0.1:80/",
            "http://api.bybit.com",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            assert!(err.contains("loopback"), "{url}: {err}");
        }
        assert!(Endpoint::parse("ws://localhost:1/x").is_ok());
        assert!(Endpoint::parse("ftp://x").unwrap_err().contains("scheme"));
        assert!(Endpoint::parse("ws://127.0.0.1:notaport/").is_err());
        assert!(Endpoint::parse("127.0.0.1:80").is_err());
    }
}
