//! Configuration: TOML, every field documented in `config/default.toml`. Unknown keys and bad
//! values are rejected with a message naming the key; nothing falls back silently.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::control::server as control;
use crate::model::DerivParams;
use crate::ring::WaitStrategy;
use crate::risk::config::RiskConfig;
use crate::risk::limits::LimitParams;
use crate::risk::{DriftParams, ExitParams, SizingParams};
use crate::strategy::{Action, CaseActions, RiskParams, StrategyParams};
use crate::types::Case;

/// The configuration as written in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[run]`: topology, status and dumps.
    pub run: RunConfig,
    /// `[venue]`: where market data comes from and orders go.
    pub venue: VenueConfig,
    /// `[replay]`: the embedded exchange.
    pub replay: ReplayConfig,
    /// `[cores]`: pinning.
    pub cores: CoresConfig,
    /// `[wait]`: how each hot thread waits when idle.
    pub wait: WaitConfig,
    /// `[rings]`: ring capacities.
    pub rings: RingsConfig,
    /// `[model]`: smoothing and derivatives.
    pub model: ModelConfig,
    /// `[strategy]`: decision matrix.
    pub strategy: StrategyConfig,
    /// `[risk]`: sizing limits.
    pub risk: RiskConfig,
    /// `[paper]`: simulated fills.
    pub paper: PaperConfig,
    /// `[kalman]`: the Kalman filter (defaults when absent).
    #[serde(default)]
    pub kalman: crate::model::KalmanParams,
    /// `[signal]`: derivative source and entry thresholds (defaults when absent).
    #[serde(default)]
    pub signal: crate::strategy::SignalParams,
    /// `[layers]`: confirmation layers (defaults when absent).
    #[serde(default)]
    pub layers: crate::model::layers::LayersConfig,
    /// `[indicators]`: classic indicators on time bars (defaults when absent).
    #[serde(default)]
    pub indicators: crate::model::indicators::IndicatorParams,
    /// `[scalper]`: the indicator scalper's rules (defaults when absent).
    #[serde(default)]
    pub scalper: crate::strategy::ScalperParams,
    /// `[validation]`: stateful market-data checks (optional section).
    #[serde(default)]
    pub validation: crate::feed::ValidationConfig,
    /// `[feed]`: market-data connections, liveness, REST fallback (optional section).
    #[serde(default)]
    pub feed: crate::feed::settings::FeedConfig,
    /// `[backtest]` (optional section; every key has a default).
    #[serde(default)]
    pub backtest: crate::backtest::BacktestConfig,
    /// `[exec]`: order route (embedded exchange, paper, live), journal, reconciliation.
    #[serde(default)]
    pub exec: crate::exec::ExecConfig,
    /// `[control]`: operator API, dashboard, metrics (optional section).
    #[serde(default)]
    pub control: ControlConfig,
}

/// `[control]`: the control server (see [`crate::control::server`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Serve the dashboard, control API and metrics.
    pub enabled: bool,
    /// Address of the dashboard and every endpoint (loopback unless a token is set explicitly).
    pub listen: SocketAddr,
    /// Address serving only the read-only endpoints; "" = none.
    pub read_only_listen: String,
    /// Bearer token file (mode 0600; generated at first start); relative to the working directory.
    pub token_file: PathBuf,
    /// Environment variable that holds the token (wins over the file).
    pub token_env: String,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], control::DEFAULT_PORT)),
            read_only_listen: String::new(),
            token_file: PathBuf::from(control::DEFAULT_TOKEN_FILE),
            token_env: control::DEFAULT_TOKEN_ENV.into(),
        }
    }
}

impl ControlConfig {
    /// `read_only_listen` parsed; `None` when "".
    fn read_only(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let v = self.read_only_listen.trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse().map(Some).map_err(|e| {
            bad(
                "control.read_only_listen",
                format!("{v:?} is not an address ip:port ({e}); \"\" = none"),
            )
        })
    }

    /// Every key checked; the error names it.
    fn validate(&self) -> Result<(), ConfigError> {
        let ro = self.read_only()?;
        if ro.is_some_and(|a| a == self.listen && a.port() != 0) {
            return Err(bad(
                "control.read_only_listen",
                "must differ from control.listen",
            ));
        }
        if self.token_file.as_os_str().is_empty() {
            return Err(bad("control.token_file", "must not be empty"));
        }
        let name_ok = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
        if self.token_env.is_empty() || !self.token_env.chars().all(name_ok) {
            return Err(bad(
                "control.token_env",
                format!(
                    "{:?} is not an environment variable name ([A-Z0-9_]+)",
                    self.token_env
                ),
            ));
        }
        Ok(())
    }
}

/// `[run]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `auto`, `fused` or `pipeline`.
    pub topology: Topology,
    /// Seconds between status lines.
    pub status_interval_s: f64,
    /// Seconds between histogram dumps.
    pub dump_interval_s: f64,
    /// Directory for dumps; each run writes a sub-directory.
    pub dump_dir: PathBuf,
}

/// Thread topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// `fused` on small hosts, `pipeline` when enough cores are free.
    Auto,
    /// One hot thread runs network → compute → execution back to back.
    Fused,
    /// Three pinned threads joined by SPSC rings.
    Pipeline,
}

/// `[venue]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// Venue name: `binance` (USD-M futures) or `bybit` (v5 linear).
    pub name: String,
    /// `embedded` to start the loopback exchange, a `ws://` loopback URL, or a `wss://` URL.
    pub ws_url: String,
    /// Host header of signed REST requests.
    pub rest_host: String,
    /// `recvWindow` of signed requests, ms.
    pub recv_window_ms: u64,
    /// Symbols to trade from the start (subscribed, active).
    pub symbols: Vec<String>,
    /// Trade the `top_symbols` most liquid symbols of the venue's 24 h tickers instead of
    /// `symbols` (also `--symbols N`; needs the venue's specs); 0 = `symbols`.
    #[serde(default)]
    pub top_symbols: usize,
    /// Symbols that may be added at run time (optional; default `"specs"`).
    #[serde(default)]
    pub universe: UniverseConfig,
    /// Instrument spec table (tick size, step, minimums).
    pub instruments: PathBuf,
    /// `[venue.specs]`: fetch instrument specs from the venue at start-up (optional section).
    #[serde(default)]
    pub specs: crate::exec::specs::SpecsConfig,
    /// Extra trusted CA certificates (PEM) for every venue connection: market data, orders,
    /// REST fallback, spec/account queries. Empty = Mozilla roots only. `feed.ca_file` is its
    /// older name, still read.
    #[serde(default)]
    pub ca_file: String,
    /// Set only by the `--live` command-line flag (never from a file): real order endpoints
    /// are refused without it.
    #[serde(skip)]
    pub live: bool,
}

/// `venue.universe`: which symbols the run knows (ids fixed for the run) besides
/// `venue.symbols`; only these can be added at run time.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum UniverseConfig {
    /// `"specs"`: every symbol of the venue in the instrument spec table; `"symbols"`:
    /// `venue.symbols` only (nothing can be added).
    Named(String),
    /// An explicit list (each needs an instrument spec).
    List(Vec<String>),
}

impl Default for UniverseConfig {
    fn default() -> Self {
        UniverseConfig::Named("specs".into())
    }
}

impl UniverseConfig {
    /// Checks the value; the error says what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            UniverseConfig::Named(n) if n == "specs" || n == "symbols" => Ok(()),
            UniverseConfig::Named(n) => Err(format!(
                "{n:?}: use \"specs\" (every symbol with an instrument spec), \"symbols\" (venue.symbols only) or a list of symbols"
            )),
            UniverseConfig::List(v) => {
                for n in v {
                    if !crate::types::symbols::valid_name(n) {
                        return Err(format!(
                            "symbol {n:?} must be ASCII letters and digits (and `-` or `_` after the first)"
                        ));
                    }
                }
                Ok(())
            }
        }
    }
}

/// `[replay]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// Recording files replayed by the embedded exchange, merged by receive time.
    pub files: Vec<PathBuf>,
    /// 1 = recorded pace, N = N× faster, 0 = as fast as the socket takes frames.
    pub speed: f64,
    /// Loopback address to bind (port 0 = any free port).
    pub bind: String,
}

/// `[cores]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoresConfig {
    /// Core of the fused hot thread.
    pub hot: usize,
    /// Core of the pipeline's network thread.
    pub network: usize,
    /// Core of the pipeline's compute thread.
    pub compute: usize,
    /// Core of the pipeline's execution thread.
    pub execution: usize,
    /// `auto` picks `pipeline` only with at least this many allowed cores.
    pub min_cores_for_pipeline: usize,
}

/// `[wait]`: `spin`, `spin_yield` or `park` per hot thread.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitConfig {
    /// The fused hot thread.
    pub hot: WaitKind,
    /// The pipeline's network thread.
    pub network: WaitKind,
    /// The pipeline's compute thread.
    pub compute: WaitKind,
    /// The pipeline's execution thread.
    pub execution: WaitKind,
    /// `spin_yield`: empty polls before each `yield_now`.
    pub spin_yield_spins: u32,
    /// `park`: longest sleep before re-checking, µs (a safety net; producers wake parked consumers).
    pub park_timeout_us: u64,
}

/// A wait strategy name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// Busy-poll (needs a dedicated core).
    Spin,
    /// Busy-poll, yielding the core every `spin_yield_spins` empty polls.
    SpinYield,
    /// Sleep until woken (or `park_timeout_us`).
    Park,
}

/// `[rings]`: capacities, powers of two.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingsConfig {
    /// network → compute ticks.
    pub md: usize,
    /// compute → execution intents.
    pub order: usize,
    /// execution → compute fills.
    pub fill: usize,
}

/// `[model]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Weight of the new price in `s_t = λ·x_t + (1 − λ)·s_{t−1}`, in (0, 1].
    pub lambda: f64,
    /// Time-aware smoothing `λ_t = 1 − exp(−dt/τ)`, τ in seconds; 0 = off (use λ).
    pub tau_s: f64,
    /// A gap longer than this (s) resets a symbol's state.
    pub reset_gap_s: f64,
}

/// `[strategy]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// `v ≈ 0` when `|v|` is below this, 1/s.
    pub v_band: f64,
    /// `a ≈ 0` when `|a|` is below this, 1/s².
    pub a_band: f64,
    /// Time steps after a (re)start before a symbol may trade.
    pub warmup_steps: u32,
    /// Minimum exchange time between two orders of one symbol, ms.
    pub cooldown_ms: u64,
    /// Action per case (missing cases keep MATH.md's defaults).
    #[serde(default)]
    pub actions: ActionsConfig,
    /// `[strategy.learned]`: the learned entry filter (defaults when absent: off).
    #[serde(default)]
    pub learned: crate::strategy::learned::LearnedParams,
    /// `calculus` (default), `scalper` or `both` (see `strategy::choice`).
    #[serde(default)]
    pub strategy: crate::strategy::StrategyKind,
}

/// `[strategy.actions]`: `buy`, `sell`, `exit_long`, `exit_short` or `hold` per case.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsConfig {
    /// Case 1.
    pub accelerating_up: Option<Action>,
    /// Case 2.
    pub decelerating_up: Option<Action>,
    /// Case 3.
    pub decelerating_down: Option<Action>,
    /// Case 4.
    pub accelerating_down: Option<Action>,
    /// Case 5.
    pub bottoming: Option<Action>,
    /// Case 6.
    pub topping: Option<Action>,
    /// v ≉ 0, a ≈ 0.
    pub steady: Option<Action>,
    /// v ≈ 0, a ≈ 0.
    pub neutral: Option<Action>,
}

/// `[paper]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    /// Taker fee, fraction of notional, as a decimal string (exact).
    pub taker_fee: String,
    /// Adverse slippage, basis points.
    pub slippage_bps: f64,
}

/// A configuration error naming the file and key.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn bad(key: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("config key `{key}`: {why}"))
}

/// `Ok` when `v` is a finite number > 0, else an error naming `key`.
fn positive(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(bad(key, format!("must be a positive number, got {v}")))
    }
}

/// `Ok` when `lo ≤ v ≤ hi` (a NaN is outside); else an error naming the key, the value and the
/// allowed range.
fn within<T: PartialOrd + std::fmt::Display>(
    key: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<(), ConfigError> {
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(bad(
            key,
            format!("{v} is outside the allowed range [{lo}, {hi}]"),
        ))
    }
}

/// Largest `recvWindow`, ms: Binance documents 60 000 as its maximum; Bybit documents a
/// 5 000 ms default and no maximum, and the same cap is kept (a longer window only widens the
/// replay window of a signed request).
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;

impl Config {
    /// Reads, parses and validates `path`; relative data paths are resolved (see [`resolve_path`]).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The extra CA file of every venue connection: `venue.ca_file`, else the older
    /// `feed.ca_file`; resolved like every data path.
    pub fn ca_file(&self) -> Option<PathBuf> {
        [&self.venue.ca_file, &self.feed.ca_file]
            .into_iter()
            .find(|f| !f.is_empty())
            .map(|f| resolve_path(Path::new(f)))
    }

    /// The trust of every venue connection (see [`crate::feed::tls::VenueTrust`]).
    pub fn venue_trust(&self) -> Result<crate::feed::tls::VenueTrust, String> {
        crate::feed::tls::VenueTrust::load(self.ca_file().as_deref())
            .map_err(|e| format!("venue.ca_file: {e}"))
    }

    /// Checks every value; the error names the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_run_venue_replay()?;
        self.validate_rings_wait()?;
        self.validate_model_strategy_risk()?;
        self.kalman.validate().map_err(ConfigError)?;
        self.signal.validate().map_err(ConfigError)?;
        self.layers.validate().map_err(ConfigError)?;
        self.indicators.validate().map_err(ConfigError)?;
        self.strategy.learned.validate().map_err(ConfigError)?;
        self.scalper
            .validate(self.indicators.sma)
            .map_err(ConfigError)?;
        self.validation.check().map_err(ConfigError)?;
        self.backtest.validate().map_err(ConfigError)?;
        self.exec.validate().map_err(ConfigError)?;
        self.control.validate()?;
        if self.exec.mode == crate::exec::ExecMode::Embedded
            && self.exec.rest_url == "embedded"
            && self.venue.ws_url != "embedded"
        {
            return Err(bad(
                "exec.rest_url",
                "the embedded order exchange fills at the embedded replay's prices: it needs venue.ws_url = \"embedded\"",
            ));
        }
        self.validate_bounds()
    }

    /// `[run]`, `[venue]`, `[feed]` and `[replay]`.
    fn validate_run_venue_replay(&self) -> Result<(), ConfigError> {
        let pos = positive;
        pos("run.status_interval_s", self.run.status_interval_s)?;
        pos("run.dump_interval_s", self.run.dump_interval_s)?;
        let venue = crate::feed::protocol::Venue::from_name(&self.venue.name).ok_or_else(|| {
            bad(
                "venue.name",
                format!(
                    "{:?} is not supported by this build (use \"binance\" or \"bybit\")",
                    self.venue.name
                ),
            )
        })?;
        if self.venue.ws_url != "embedded" {
            crate::feed::ws::check_url(&self.venue.ws_url).map_err(|e| bad("venue.ws_url", e))?;
        }
        self.feed
            .validate(venue)
            .map_err(|(key, why)| bad(key, why))?;
        crate::types::SymbolTable::new(&self.venue.symbols).map_err(|e| bad("venue.symbols", e))?;
        self.venue
            .universe
            .validate()
            .map_err(|e| bad("venue.universe", e))?;
        self.venue
            .specs
            .validate()
            .map_err(|e| bad("venue.specs", e))?;
        if !self.venue.ca_file.is_empty()
            && !self.feed.ca_file.is_empty()
            && self.venue.ca_file != self.feed.ca_file
        {
            return Err(bad(
                "feed.ca_file",
                "moved to venue.ca_file (trusted by every venue connection); set only venue.ca_file",
            ));
        }
        if self.replay.files.is_empty() && self.venue.ws_url == "embedded" {
            return Err(bad(
                "replay.files",
                "the embedded exchange needs at least one recording",
            ));
        }
        if !(self.replay.speed.is_finite() && self.replay.speed >= 0.0) {
            return Err(bad(
                "replay.speed",
                format!(
                    "must be ≥ 0 (0 = as fast as possible), got {}",
                    self.replay.speed
                ),
            ));
        }
        let bind = SocketAddr::from_str(&self.replay.bind)
            .map_err(|e| bad("replay.bind", format!("{:?}: {e}", self.replay.bind)))?;
        if !bind.ip().is_loopback() {
            return Err(bad("replay.bind", "must be a loopback address"));
        }
        Ok(())
    }

    /// `[rings]` and `[wait]`.
    fn validate_rings_wait(&self) -> Result<(), ConfigError> {
        for (key, cap) in [
            ("rings.md", self.rings.md),
            ("rings.order", self.rings.order),
            ("rings.fill", self.rings.fill),
        ] {
            if cap < 2 || !cap.is_power_of_two() {
                return Err(bad(key, format!("must be a power of two ≥ 2, got {cap}")));
            }
        }
        if self.wait.spin_yield_spins == 0 {
            return Err(bad("wait.spin_yield_spins", "must be ≥ 1"));
        }
        if self.wait.park_timeout_us == 0 {
            return Err(bad("wait.park_timeout_us", "must be ≥ 1"));
        }
        Ok(())
    }

    /// `[model]`, `[strategy]`, `[risk]` and `[paper]`.
    fn validate_model_strategy_risk(&self) -> Result<(), ConfigError> {
        let pos = positive;
        if !(self.model.lambda > 0.0 && self.model.lambda <= 1.0) {
            return Err(bad(
                "model.lambda",
                format!("must be in (0, 1], got {}", self.model.lambda),
            ));
        }
        if !(self.model.tau_s.is_finite() && self.model.tau_s >= 0.0) {
            return Err(bad(
                "model.tau_s",
                format!("must be ≥ 0 (0 = off), got {}", self.model.tau_s),
            ));
        }
        pos("model.reset_gap_s", self.model.reset_gap_s)?;
        for (key, v) in [
            ("strategy.v_band", self.strategy.v_band),
            ("strategy.a_band", self.strategy.a_band),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(key, format!("must be ≥ 0, got {v}")));
            }
        }
        pos("risk.balance", self.risk.balance)?;
        pos("risk.order_notional", self.risk.order_notional)?;
        pos("risk.max_leverage", self.risk.max_leverage)?;
        if self.risk.max_leverage > 125.0 {
            return Err(bad("risk.max_leverage", "above any venue's maximum (125)"));
        }
        crate::risk::config::validate(&self.risk).map_err(|e| bad(e.key, e.why))?;
        let fee = self.taker_fee()?;
        if fee < Decimal::ZERO || fee >= Decimal::ONE {
            return Err(bad(
                "paper.taker_fee",
                format!("must be in [0, 1), got {fee}"),
            ));
        }
        if !(self.paper.slippage_bps.is_finite() && self.paper.slippage_bps >= 0.0) {
            return Err(bad("paper.slippage_bps", "must be ≥ 0"));
        }
        Ok(())
    }

    /// Upper (and lower) bounds of every numeric key of this file's own sections: a value
    /// outside is a typo or a unit mistake (e.g. seconds given in ms), never a setting.
    fn validate_bounds(&self) -> Result<(), ConfigError> {
        within(
            "run.status_interval_s",
            self.run.status_interval_s,
            1e-3,
            3_600.0,
        )?;
        within(
            "run.dump_interval_s",
            self.run.dump_interval_s,
            1e-3,
            86_400.0,
        )?;
        within(
            "venue.recv_window_ms",
            self.venue.recv_window_ms,
            1,
            MAX_RECV_WINDOW_MS,
        )?;
        within("replay.speed", self.replay.speed, 0.0, 1e6)?;
        for (key, core) in [
            ("cores.hot", self.cores.hot),
            ("cores.network", self.cores.network),
            ("cores.compute", self.cores.compute),
            ("cores.execution", self.cores.execution),
        ] {
            // CPU_SETSIZE: the largest CPU set `sched_setaffinity` takes by default.
            within(key, core, 0, 1023)?;
        }
        within(
            "cores.min_cores_for_pipeline",
            self.cores.min_cores_for_pipeline,
            1,
            1024,
        )?;
        for (key, cap) in [
            ("rings.md", self.rings.md),
            ("rings.order", self.rings.order),
            ("rings.fill", self.rings.fill),
        ] {
            within(key, cap, 2, 1 << 24)?;
        }
        within(
            "wait.spin_yield_spins",
            self.wait.spin_yield_spins,
            1,
            1_000_000,
        )?;
        within(
            "wait.park_timeout_us",
            self.wait.park_timeout_us,
            1,
            1_000_000,
        )?;
        within("model.tau_s", self.model.tau_s, 0.0, 3_600.0)?;
        within("model.reset_gap_s", self.model.reset_gap_s, 1e-3, 86_400.0)?;
        within("strategy.v_band", self.strategy.v_band, 0.0, 1.0)?;
        within("strategy.a_band", self.strategy.a_band, 0.0, 1.0)?;
        within(
            "strategy.warmup_steps",
            self.strategy.warmup_steps,
            0,
            1_000_000,
        )?;
        within(
            "strategy.cooldown_ms",
            self.strategy.cooldown_ms,
            0,
            86_400_000,
        )?;
        within("risk.balance", self.risk.balance, 1e-8, 1e12)?;
        within("risk.order_notional", self.risk.order_notional, 1e-8, 1e12)?;
        within("paper.slippage_bps", self.paper.slippage_bps, 0.0, 1_000.0)?;
        Ok(())
    }

    /// The control server's settings; a relative token file is taken from the working directory.
    pub fn control_server(&self) -> crate::control::ServerConfig {
        let c = &self.control;
        let token_file = if c.token_file.is_absolute() {
            c.token_file.clone()
        } else {
            std::env::current_dir()
                .unwrap_or_default()
                .join(&c.token_file)
        };
        crate::control::ServerConfig {
            listen: c.listen,
            read_only_listen: c.read_only().ok().flatten(),
            token_file,
            token_env: c.token_env.clone(),
        }
    }

    /// The venue named by `venue.name` (validated at load; `binance` if not a known name).
    pub fn venue(&self) -> crate::feed::protocol::Venue {
        crate::feed::protocol::Venue::from_name(&self.venue.name)
            .unwrap_or(crate::feed::protocol::Venue::Binance)
    }

    /// The taker fee as an exact decimal.
    pub fn taker_fee(&self) -> Result<Decimal, ConfigError> {
        Decimal::from_str(&self.paper.taker_fee).map_err(|e| {
            bad(
                "paper.taker_fee",
                format!("{:?} is not a decimal: {e}", self.paper.taker_fee),
            )
        })
    }

    /// The wait strategy of `kind` with this config's spin and park settings.
    pub fn wait_strategy(&self, kind: WaitKind) -> WaitStrategy {
        match kind {
            WaitKind::Spin => WaitStrategy::Spin,
            WaitKind::SpinYield => WaitStrategy::SpinYield {
                spins: self.wait.spin_yield_spins,
            },
            WaitKind::Park => WaitStrategy::Park {
                timeout_us: self.wait.park_timeout_us,
            },
        }
    }

    /// The case → action table, defaults for cases the file leaves out.
    pub fn case_actions(&self) -> CaseActions {
        let mut t = CaseActions::default();
        let a = &self.strategy.actions;
        let overrides = [
            (Case::AcceleratingUp, a.accelerating_up),
            (Case::DeceleratingUp, a.decelerating_up),
            (Case::DeceleratingDown, a.decelerating_down),
            (Case::AcceleratingDown, a.accelerating_down),
            (Case::Bottoming, a.bottoming),
            (Case::Topping, a.topping),
            (Case::Steady, a.steady),
            (Case::Neutral, a.neutral),
        ];
        for (case, action) in overrides {
            if let Some(action) = action {
                t.0[case.index()] = action;
            }
        }
        t
    }
}

/// Resolves a relative data path: as given if it exists (relative to the working directory),
/// else relative to the crate root, so `cargo run` works from any directory of the checkout.
pub fn resolve_path(p: &Path) -> PathBuf {
    if p.is_absolute() || p.exists() {
        return p.to_path_buf();
    }
    let alt = Path::new(env!("CARGO_MANIFEST_DIR")).join(p);
    if alt.exists() {
        alt
    } else {
        p.to_path_buf()
    }
}

/// The bundled default configuration, compiled into the binary.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

// The config assembles each module's parameters (config → modules, never the reverse).

impl RiskParams {
    /// From a validated config.
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            balance: cfg.risk.balance,
            fee_rate: cfg.taker_fee().unwrap_or_default(),
            sizing: SizingParams::from_config(&cfg.risk),
            exits: ExitParams::from_config(&cfg.risk.exits),
            drift: DriftParams::from_config(&cfg.risk.drift),
            limits: LimitParams::from_config(&cfg.risk.limits),
            corr: (
                cfg.risk.limits.corr_bar_s,
                cfg.risk.limits.corr_window_bars,
                cfg.risk.limits.corr_min_bars,
            ),
        }
    }
}

impl Default for StrategyParams {
    /// The documented defaults of `config/default.toml` for BTCUSDT and ETHUSDT.
    fn default() -> Self {
        let cfg = Config::parse(DEFAULT_TOML).expect("bundled config is valid");
        Self::from_config(&cfg)
    }
}

impl StrategyParams {
    /// Builds the parameters from a validated config; cross-asset leaders are resolved against
    /// `venue.symbols` (in `SymbolId` order).
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            deriv: DerivParams {
                lambda: cfg.model.lambda,
                tau_s: (cfg.model.tau_s > 0.0).then_some(cfg.model.tau_s),
                reset_gap_s: cfg.model.reset_gap_s,
            },
            v_band: cfg.strategy.v_band,
            a_band: cfg.strategy.a_band,
            warmup_steps: cfg.strategy.warmup_steps,
            cooldown_ms: cfg.strategy.cooldown_ms,
            actions: cfg.case_actions(),
            risk: RiskParams::from_config(cfg),
            kalman: cfg.kalman,
            signal: cfg.signal,
            layers: cfg.layers.params(&cfg.venue.symbols, cfg.indicators),
            learned: cfg.strategy.learned,
            strategy: cfg.strategy.strategy,
            scalper: cfg.scalper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_default_is_valid() {
        let c = Config::parse(DEFAULT_TOML).unwrap();
        assert_eq!(c.venue.ws_url, "embedded");
        assert!(c.risk.max_leverage <= 5.0, "default leverage must stay low");
    }

    #[test]
    fn bundled_bybit_config_loads_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bybit.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.venue.name, "bybit");
        assert_eq!(c.venue(), crate::feed::protocol::Venue::Bybit);
        assert_eq!(c.venue.symbols.len(), 8);
        assert!(resolve_path(&c.replay.files[0]).exists(), "bundled capture");
        let d = Config::parse(DEFAULT_TOML).unwrap();
        assert_eq!(d.venue.symbols.len(), 8, "8 symbols by default");
        assert_eq!(d.feed, crate::feed::settings::FeedConfig::default());
    }

    #[test]
    fn ws_urls_wss_anywhere_plain_ws_loopback_only() {
        let with = |url: &str| {
            // A real feed cannot price the embedded order exchange: paper fills instead.
            Config::parse(
                &DEFAULT_TOML
                    .replace("ws_url = \"embedded\"", &format!("ws_url = \"{url}\""))
                    .replace("mode = \"embedded\"", "mode = \"paper\""),
            )
        };
        assert!(with("wss://stream.bybit.com/v5/public/linear").is_ok());
        assert!(with("ws://127.0.0.1:9000/stream").is_ok());
        let err = with("ws://stream.bybit.com/v5/public/linear")
            .unwrap_err()
            .0;
        assert!(
            err.contains("venue.ws_url") && err.contains("loopback"),
            "{err}"
        );
        let err =
            Config::parse(&DEFAULT_TOML.replace("stale_after_ms = 10000", "stale_after_ms = 0"))
                .unwrap_err()
                .0;
        assert!(err.contains("feed.stale_after_ms"), "{err}");
        let err = Config::parse(&DEFAULT_TOML.replace("[feed]", "[feed]\nstale_ms = 5"))
            .unwrap_err()
            .0;
        assert!(err.contains("stale_ms"), "{err}");
    }

    /// Each bounded key: both bounds accepted, one step outside refused with the key, the value
    /// and the range in the message.
    #[test]
    fn every_numeric_key_is_bounded() {
        fn set(c: &mut Config, key: &str, v: f64) {
            let n = v as u64;
            match key {
                "run.status_interval_s" => c.run.status_interval_s = v,
                "run.dump_interval_s" => c.run.dump_interval_s = v,
                "venue.recv_window_ms" => c.venue.recv_window_ms = n,
                "replay.speed" => c.replay.speed = v,
                "cores.hot" => c.cores.hot = n as usize,
                "cores.network" => c.cores.network = n as usize,
                "cores.compute" => c.cores.compute = n as usize,
                "cores.execution" => c.cores.execution = n as usize,
                "cores.min_cores_for_pipeline" => c.cores.min_cores_for_pipeline = n as usize,
                "rings.md" => c.rings.md = n as usize,
                "rings.order" => c.rings.order = n as usize,
                "rings.fill" => c.rings.fill = n as usize,
                "wait.spin_yield_spins" => c.wait.spin_yield_spins = n as u32,
                "wait.park_timeout_us" => c.wait.park_timeout_us = n,
                "model.tau_s" => c.model.tau_s = v,
                "model.reset_gap_s" => c.model.reset_gap_s = v,
                "strategy.v_band" => c.strategy.v_band = v,
                "strategy.a_band" => c.strategy.a_band = v,
                "strategy.warmup_steps" => c.strategy.warmup_steps = n as u32,
                "strategy.cooldown_ms" => c.strategy.cooldown_ms = n,
                "risk.balance" => c.risk.balance = v,
                "risk.order_notional" => c.risk.order_notional = v,
                "paper.slippage_bps" => c.paper.slippage_bps = v,
                _ => unreachable!("{key}"),
            }
        }
        const RING: f64 = 16_777_216.0;
        // (key, lowest allowed, highest allowed, step outside)
        let cases = [
            ("run.status_interval_s", 1e-3, 3_600.0, 1.0),
            ("run.dump_interval_s", 1e-3, 86_400.0, 1.0),
            ("venue.recv_window_ms", 1.0, 60_000.0, 1.0),
            ("replay.speed", 0.0, 1e6, 1.0),
            ("cores.hot", 0.0, 1023.0, 1.0),
            ("cores.network", 0.0, 1023.0, 1.0),
            ("cores.compute", 0.0, 1023.0, 1.0),
            ("cores.execution", 0.0, 1023.0, 1.0),
            ("cores.min_cores_for_pipeline", 1.0, 1024.0, 1.0),
            ("rings.md", 2.0, RING, RING),
            ("rings.order", 2.0, RING, RING),
            ("rings.fill", 2.0, RING, RING),
            ("wait.spin_yield_spins", 1.0, 1e6, 1.0),
            ("wait.park_timeout_us", 1.0, 1e6, 1.0),
            ("model.tau_s", 0.0, 3_600.0, 1.0),
            ("model.reset_gap_s", 1e-3, 86_400.0, 1.0),
            ("strategy.v_band", 0.0, 1.0, 0.5),
            ("strategy.a_band", 0.0, 1.0, 0.5),
            ("strategy.warmup_steps", 0.0, 1e6, 1.0),
            ("strategy.cooldown_ms", 0.0, 86_400_000.0, 1.0),
            ("risk.balance", 1e-8, 1e12, 1.0),
            ("risk.order_notional", 1e-8, 1e12, 1.0),
            ("paper.slippage_bps", 0.0, 1_000.0, 1.0),
        ];
        let base = Config::parse(DEFAULT_TOML).unwrap();
        for (key, lo, hi, step) in cases {
            for ok in [lo, hi] {
                let mut c = base.clone();
                set(&mut c, key, ok);
                c.validate()
                    .unwrap_or_else(|e| panic!("{key} = {ok} refused: {}", e.0));
            }
            let mut outside = vec![hi + step];
            if lo >= step {
                outside.push(lo - step);
            } else if lo > 0.0 {
                outside.push(lo / 2.0);
            }
            for bad in outside {
                let mut c = base.clone();
                set(&mut c, key, bad);
                let err = c.validate().expect_err(key).0;
                assert!(err.contains(&format!("`{key}`")), "{key} = {bad}: {err}");
            }
        }
        let mut c = base.clone();
        c.venue.recv_window_ms = 0;
        let err = c.validate().unwrap_err().0;
        assert_eq!(
            err,
            "config key `venue.recv_window_ms`: 0 is outside the allowed range [1, 60000]"
        );
    }

    #[test]
    fn control_section_defaults_and_validation() {
        let c = Config::parse(DEFAULT_TOML).unwrap();
        let s = c.control_server();
        assert!(c.control.enabled);
        assert_eq!(
            s.listen,
            SocketAddr::from(([127, 0, 0, 1], control::DEFAULT_PORT))
        );
        assert_eq!(s.read_only_listen, None);
        assert!(s.token_file.is_absolute() && s.token_file.ends_with(control::DEFAULT_TOKEN_FILE));
        assert_eq!(s.token_env, control::DEFAULT_TOKEN_ENV);
        let set = |from: &str, to: &str| DEFAULT_TOML.replace(from, to);
        let ro = set(
            "read_only_listen = \"\"",
            "read_only_listen = \"0.0.0.0:9100\"",
        );
        let c = Config::parse(&ro).unwrap();
        assert_eq!(
            c.control_server().read_only_listen,
            Some(SocketAddr::from(([0, 0, 0, 0], 9100)))
        );
        for (text, key) in [
            (
                set("read_only_listen = \"\"", "read_only_listen = \"x\""),
                "control.read_only_listen",
            ),
            (
                set("listen = \"127.0.0.1:8787\"", "listen = \"nope\""),
                "listen",
            ),
            (
                set("token_env = \"CT_CONTROL_TOKEN\"", "token_env = \"a b\""),
                "control.token_env",
            ),
            (
                set("token_file = \"state/control.token\"", "token_file = \"\""),
                "control.token_file",
            ),
            (set("[control]\n", "[control]\nport = 1\n"), "port"),
        ] {
            let e = Config::parse(&text).unwrap_err().0;
            assert!(e.contains(key), "{key}: {e}");
        }
        let (head, rest) = DEFAULT_TOML.split_once("[control]\n").unwrap();
        let tail = &rest[rest.find("# ---- calculus engine").unwrap()..];
        let c = Config::parse(&format!("{head}{tail}")).unwrap();
        assert_eq!(
            c.control_server(),
            s,
            "a missing [control] section takes the defaults"
        );
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let text = DEFAULT_TOML.replace("[model]\n", "[model]\nlamda = 0.5\n");
        let err = Config::parse(&text).unwrap_err().0;
        assert!(err.contains("lamda"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("lambda = 0.75", "lambda = 1.5", "model.lambda"),
            ("md = 4096", "md = 1000", "rings.md"),
            ("speed = 10.0", "speed = -1.0", "replay.speed"),
            (
                "taker_fee = \"0.0004\"",
                "taker_fee = \"abc\"",
                "paper.taker_fee",
            ),
            (
                "bind = \"127.0.0.1:0\"",
                "bind = \"0.0.0.0:0\"",
                "replay.bind",
            ),
            ("name = \"binance\"", "name = \"kraken\"", "venue.name"),
        ];
        for (from, to, key) in cases {
            assert!(DEFAULT_TOML.contains(from), "default lacks {from}");
            let err = Config::parse(&DEFAULT_TOML.replace(from, to))
                .unwrap_err()
                .0;
            assert!(err.contains(key), "{to}: {err}");
        }
    }

    #[test]
    fn wrong_type_is_rejected_by_name() {
        let err = Config::parse(&DEFAULT_TOML.replace("cooldown_ms = ", "cooldown_ms = \"x\" #"))
            .unwrap_err()
            .0;
        assert!(err.contains("cooldown_ms"), "{err}");
    }

    #[test]
    fn action_overrides_apply() {
        let text = DEFAULT_TOML.replace(
            "[strategy.actions]\n",
            "[strategy.actions]\ntopping = \"hold\"\n",
        );
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.case_actions().of(Case::Topping), Action::Hold);
        assert_eq!(c.case_actions().of(Case::Bottoming), Action::Buy);
    }
}
