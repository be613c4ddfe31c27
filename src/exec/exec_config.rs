//! `[exec]` configuration: where orders go, the journal, start-up reconciliation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::journal::FsyncPolicy;
use super::transport::OrderEndpoint;

/// Where orders go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecMode {
    /// Signed HTTP requests to an exchange on loopback: the embedded one (`rest_url =
    /// "embedded"`) or another process's (`http://127.0.0.1:PORT`, keys from the environment).
    Embedded,
    /// Filled in-process with the same fill model; nothing is sent.
    Paper,
    /// A real venue over HTTPS; needs the `--live` flag and keys from the environment.
    Live,
}

/// What triggers the venue-side stops (Binance `workingType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopTrigger {
    /// The mark price (`MARK_PRICE`): no stop run on a thin last-trade print.
    Mark,
    /// The last traded price (`CONTRACT_PRICE`, the venue's default).
    Contract,
}

impl StopTrigger {
    /// The order-model trigger.
    pub fn trigger_by(self) -> crate::venue::order::TriggerBy {
        match self {
            StopTrigger::Mark => crate::venue::order::TriggerBy::MarkPrice,
            StopTrigger::Contract => crate::venue::order::TriggerBy::LastPrice,
        }
    }
}

/// `fsync` policy name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncSetting {
    /// After every record.
    Every,
    /// At most every `fsync_interval_ms`.
    Interval,
    /// Never (the OS writes back).
    Never,
}

/// `[exec]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecConfig {
    /// `embedded` | `paper` | `live`.
    pub mode: ExecMode,
    /// Order endpoint base URL: `embedded` (start the loopback REST exchange), a loopback
    /// `http://` URL, or an `https://` venue URL (live).
    pub rest_url: String,
    /// Journal file, replayed at start (crash recovery) and locked while the process runs.
    /// Empty: in live mode the account's persistent journal in `journal_dir` (see
    /// [`account_journal`]); in embedded and paper mode `<dump_dir>/<run-id>/orders.journal`
    /// (fresh per run, matching a fresh embedded exchange).
    pub journal: PathBuf,
    /// Directory of the per-account live journals (`journal = ""` in live mode).
    pub journal_dir: PathBuf,
    /// `every` | `interval` | `never`.
    pub fsync: FsyncSetting,
    /// Interval of `fsync = "interval"`, ms.
    pub fsync_interval_ms: u64,
    /// A sent order with no reply after this long is queried by client order id, ms.
    pub response_timeout_ms: u64,
    /// At the end of a run, wait this long for replies to orders in flight, ms.
    pub drain_timeout_ms: u64,
    /// Orders in flight at most (pre-allocated; more are refused and counted).
    pub max_in_flight: usize,
    /// While the private stream is not up (off, or down), one venue position is read this
    /// often, ms (the symbols this run traded or holds in turn, each with nothing in flight;
    /// it goes through the query lane's rate limiter), and a difference settled from the
    /// venue's own executions ([`crate::exec::Executor::set_position_audit`]); 0 = off.
    pub position_audit_ms: u64,
    /// While the hot thread is idle, a round of shadow orders (one per active symbol, built
    /// and signed, never sent) starts this often, µs; 0 = off ([`crate::exec::Executor::warm`]).
    pub warm_every_us: u64,
    /// Order connections for entries (exits and queries have their own lanes), 1..=16, for
    /// [`crate::exec::lanes::OrderLanes`]. Not yet read by the executor, which still sends over
    /// one connection (issue 13, deliverable 2).
    pub order_connections: usize,
    /// Embedded exchange: close each REST connection after this many responses (0 = never).
    pub sim_max_requests_per_connection: usize,
    /// Key file (TOML, `[bybit]` / `[binance]` with `api_key` and `api_secret`, mode 0600 or
    /// 0400) read when the environment has no keys; empty = environment only.
    pub key_file: PathBuf,
    /// Trigger price of the venue-side stops (Binance algo orders): `mark` | `contract`.
    pub stop_trigger: StopTrigger,
    /// `[exec.account]`: leverage, margin mode, balance and clock refresh.
    pub account: super::account_config::AccountConfig,
    /// `[exec.private_stream]`: the venue's private stream.
    pub private_stream: super::private_config::PrivateStreamConfig,
    /// `rest` | `websocket`: entries and exits over the venue's order WebSocket (REST while it
    /// is down) or REST alone.
    pub order_transport: super::order_ws_config::OrderTransport,
    /// `[exec.order_ws]`: the order WebSocket.
    pub order_ws: super::order_ws_config::OrderWsConfig,
}

impl Default for ExecConfig {
    fn default() -> Self {
        Self {
            mode: ExecMode::Embedded,
            rest_url: "embedded".into(),
            journal: PathBuf::new(),
            journal_dir: PathBuf::from("journals"),
            fsync: FsyncSetting::Interval,
            fsync_interval_ms: 100,
            response_timeout_ms: 5_000,
            drain_timeout_ms: 5_000,
            position_audit_ms: 1_000,
            max_in_flight: 64,
            warm_every_us: 1_000,
            order_connections: 4,
            sim_max_requests_per_connection: 0,
            key_file: PathBuf::new(),
            stop_trigger: StopTrigger::Mark,
            account: Default::default(),
            private_stream: Default::default(),
            order_transport: Default::default(),
            order_ws: Default::default(),
        }
    }
}

impl ExecConfig {
    /// The warm-up cadence (`warm_every_us`; zero: off).
    pub fn warm_every(&self) -> Duration {
        Duration::from_micros(self.warm_every_us)
    }

    /// The journal's fsync policy.
    pub fn fsync_policy(&self) -> FsyncPolicy {
        match self.fsync {
            FsyncSetting::Every => FsyncPolicy::Every,
            FsyncSetting::Interval => {
                FsyncPolicy::Interval(Duration::from_millis(self.fsync_interval_ms))
            }
            FsyncSetting::Never => FsyncPolicy::Never,
        }
    }

    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        match self.mode {
            ExecMode::Paper => {}
            ExecMode::Embedded if self.rest_url == "embedded" => {}
            ExecMode::Embedded => {
                let ep = OrderEndpoint::parse(&self.rest_url)
                    .map_err(|e| format!("config key `exec.rest_url`: {e}"))?;
                if !ep.is_loopback() {
                    return Err(format!(
                        "config key `exec.rest_url`: mode \"embedded\" trades on loopback only, not {}; use mode = \"live\"",
                        ep.host
                    ));
                }
            }
            ExecMode::Live => {
                let ep = OrderEndpoint::parse(&self.rest_url)
                    .map_err(|e| format!("config key `exec.rest_url`: {e}"))?;
                if !ep.tls {
                    return Err(
                        "config key `exec.rest_url`: live trading needs an https:// venue URL"
                            .into(),
                    );
                }
            }
        }
        self.account.validate()?;
        self.private_stream.validate()?;
        self.order_ws.validate()?;
        if self.fsync == FsyncSetting::Interval && self.fsync_interval_ms == 0 {
            return Err("config key `exec.fsync_interval_ms`: must be ≥ 1".into());
        }
        if self.response_timeout_ms == 0 {
            return Err("config key `exec.response_timeout_ms`: must be ≥ 1".into());
        }
        if self.max_in_flight == 0 || self.max_in_flight > 4096 {
            return Err(format!(
                "config key `exec.max_in_flight`: must be in 1..=4096, got {}",
                self.max_in_flight
            ));
        }
        if !(1..=16).contains(&self.order_connections) {
            return Err(format!(
                "config key `exec.order_connections`: must be in 1..=16, got {}",
                self.order_connections
            ));
        }
        // Upper bounds: a journal unsynced for more than a minute, a reply awaited for more
        // than a minute or a drain longer than ten minutes is a unit mistake, not a setting.
        for (key, v, lo, hi) in [
            ("exec.fsync_interval_ms", self.fsync_interval_ms, 0, 60_000),
            (
                "exec.response_timeout_ms",
                self.response_timeout_ms,
                1,
                60_000,
            ),
            ("exec.drain_timeout_ms", self.drain_timeout_ms, 0, 600_000),
            ("exec.position_audit_ms", self.position_audit_ms, 0, 600_000),
            ("exec.warm_every_us", self.warm_every_us, 0, 10_000_000),
            (
                "exec.sim_max_requests_per_connection",
                self.sim_max_requests_per_connection as u64,
                0,
                1_000_000,
            ),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(format!(
                    "config key `{key}`: {v} is outside the allowed range [{lo}, {hi}]"
                ));
            }
        }
        Ok(())
    }
}

/// The persistent journal of one account on one venue: `<dir>/<venue>-<h>.journal`, `h` the
/// first 8 bytes (hex) of SHA-256 of the API key id. The secret is never used.
pub fn account_journal(dir: &Path, venue: &str, api_key: &str) -> PathBuf {
    let h = ring::digest::digest(&ring::digest::SHA256, api_key.as_bytes());
    let hex: String = h.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{venue}-{hex}.journal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_journals_are_per_venue_and_key_and_hide_the_key() {
        let d = Path::new("j");
        let a = account_journal(d, "binance", "key-A");
        assert_eq!(a, account_journal(d, "binance", "key-A"));
        assert_ne!(a, account_journal(d, "binance", "key-B"));
        assert_ne!(a, account_journal(d, "bybit", "key-A"));
        let s = a.display().to_string();
        assert!(
            s.starts_with("j/binance-") && s.ends_with(".journal") && !s.contains("key-A"),
            "{s}"
        );
        // SHA-256("abc") = ba7816bf8f01cfea… (FIPS 180-2, appendix B.1).
        assert_eq!(
            account_journal(d, "x", "abc"),
            Path::new("j/x-ba7816bf8f01cfea.journal")
        );
    }

    #[test]
    fn defaults_are_valid_and_bad_urls_are_named() {
        assert!(ExecConfig::default().validate().is_ok());
        let c = ExecConfig {
            rest_url: "http://10.0.0.1:80".into(),
            ..ExecConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert!(e.contains("exec.rest_url") && e.contains("loopback"), "{e}");
        let c = ExecConfig {
            mode: ExecMode::Live,
            rest_url: "http://127.0.0.1:1".into(),
            ..ExecConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("https"));
    }

    #[test]
    fn order_connections_are_bounded() {
        for (n, ok) in [(0, false), (1, true), (4, true), (16, true), (17, false)] {
            let c = ExecConfig {
                order_connections: n,
                ..ExecConfig::default()
            };
            match c.validate() {
                Ok(()) => assert!(ok, "{n} accepted"),
                Err(e) => assert!(!ok && e.contains("exec.order_connections"), "{n}: {e}"),
            }
        }
    }

    #[test]
    fn numeric_keys_are_bounded() {
        type Set = fn(&mut ExecConfig, u64);
        let cases: [(&str, Set, u64, u64); 6] = [
            (
                "exec.fsync_interval_ms",
                |c, v| c.fsync_interval_ms = v,
                1,
                60_000,
            ),
            (
                "exec.response_timeout_ms",
                |c, v| c.response_timeout_ms = v,
                1,
                60_000,
            ),
            (
                "exec.drain_timeout_ms",
                |c, v| c.drain_timeout_ms = v,
                0,
                600_000,
            ),
            (
                "exec.position_audit_ms",
                |c, v| c.position_audit_ms = v,
                0,
                600_000,
            ),
            (
                "exec.warm_every_us",
                |c, v| c.warm_every_us = v,
                0,
                10_000_000,
            ),
            (
                "exec.sim_max_requests_per_connection",
                |c, v| c.sim_max_requests_per_connection = v as usize,
                0,
                1_000_000,
            ),
        ];
        for (key, set, lo, hi) in cases {
            for ok in [lo, hi] {
                let mut c = ExecConfig::default();
                set(&mut c, ok);
                assert!(c.validate().is_ok(), "{key} = {ok}");
            }
            let mut c = ExecConfig::default();
            set(&mut c, hi + 1);
            let e = c.validate().unwrap_err();
            assert!(
                e.contains(key)
                    && e.contains(&format!("{}", hi + 1))
                    && e.contains(&format!(", {hi}]")),
                "{e}"
            );
            if lo > 0 {
                let mut c = ExecConfig::default();
                set(&mut c, lo - 1);
                assert!(c.validate().unwrap_err().contains(key));
            }
        }
    }
}
