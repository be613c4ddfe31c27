//! The operator's vocabulary: commands applied on the compute thread between ticks, the
//! settings an operator may change at run time, and the status view the control server serves.
//!
//! Commands are `Copy` and heap-free so they travel through an SPSC ring; the status view is
//! built on cold threads (the monitor) from snapshots the hot threads publish.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::SymbolId;

/// An operator command. Applied by the compute thread at its next check (never mid-tick).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    /// Entries allowed again after a start-up in `stopped` state or a `Stop`.
    Start,
    /// No new entries; exits and venue-side stops keep working. Lifted by `Resume`/`Start`.
    Pause,
    /// Clears an operator pause, a losing-streak or drawdown pause, a circuit breaker and an
    /// emergency halt (the only way out of one).
    Resume,
    /// Trading stopped (no entries) until `Start`; positions are left to their exits.
    Stop,
    /// Cancel open orders, close every position reduce-only, halt entries until `Resume`.
    EmergencyStop,
    /// No entries until the wall clock reaches `until_ms` (Unix ms); lifts itself.
    CircuitBreaker {
        /// Unix ms at which entries are allowed again.
        until_ms: u64,
    },
    /// Changes some settings (already validated with [`SettingsPatch::validate`]).
    Settings(SettingsPatch),
    /// Close one symbol's position reduce-only.
    ClosePosition(SymbolId),
    /// Close every position reduce-only (entries stay allowed).
    CloseAll,
    /// Start trading a symbol already known to the symbol table (subscribed, spec loaded).
    AddSymbol(SymbolId),
    /// Stop entries on a symbol and close its position.
    RemoveSymbol(SymbolId),
    /// The venue's spec of a symbol changed (the cold spec refresh,
    /// [`crate::exec::spec_refresh`]): sizing and rounding use `inst` from now on; `trading`
    /// false (the venue stopped it) blocks its entries, exits still run. Back to trading does
    /// not re-activate it: an operator adds it.
    Spec {
        /// The symbol.
        id: SymbolId,
        /// Its new filters.
        inst: crate::types::Instrument,
        /// Whether the venue lists it as trading.
        trading: bool,
    },
    /// The venue's wallet, read by the account thread (venue order routes): entries are sized
    /// from `available`, the status shows `wallet`. Quote currency.
    Balance {
        /// Wallet balance (Binance `balance`, Bybit `totalWalletBalance`).
        wallet: Decimal,
        /// Available for new margin (Binance `availableBalance`, Bybit `totalAvailableBalance`).
        available: Decimal,
    },
    /// The venue refused the symbol (leverage cap below the configured leverage, or a
    /// leverage / risk-limit error): no more entries on it; its position keeps its exits.
    RefuseSymbol(SymbolId),
}

/// The settings an operator may read and change at run time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Take-profit distance, percent of the entry price.
    pub tp_pct: f64,
    /// Stop-loss distance, percent of the entry price.
    pub sl_pct: f64,
    /// Open positions allowed at once.
    pub max_positions: u32,
    /// Notional of one entry, quote currency.
    pub position_notional: f64,
    /// Highest leverage the sizing may use.
    pub leverage_cap: f64,
    /// Fraction of equity risked per trade (stop distance × size).
    pub risk_per_trade: f64,
}

/// A partial settings change: `None` leaves a setting as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// See [`Settings::tp_pct`].
    pub tp_pct: Option<f64>,
    /// See [`Settings::sl_pct`].
    pub sl_pct: Option<f64>,
    /// See [`Settings::max_positions`].
    pub max_positions: Option<u32>,
    /// See [`Settings::position_notional`].
    pub position_notional: Option<f64>,
    /// See [`Settings::leverage_cap`].
    pub leverage_cap: Option<f64>,
    /// See [`Settings::risk_per_trade`].
    pub risk_per_trade: Option<f64>,
}

/// Accepted range of each setting, inclusive: `(name, min, max)`.
pub const SETTING_BOUNDS: [(&str, f64, f64); 6] = [
    ("tp_pct", 0.01, 50.0),
    ("sl_pct", 0.01, 50.0),
    ("max_positions", 0.0, 1000.0),
    ("position_notional", 1.0, 10_000_000.0),
    ("leverage_cap", 1.0, 125.0),
    ("risk_per_trade", 0.0001, 0.1),
];

impl SettingsPatch {
    /// The patch's values in [`SETTING_BOUNDS`] order.
    fn values(&self) -> [Option<f64>; 6] {
        [
            self.tp_pct,
            self.sl_pct,
            self.max_positions.map(f64::from),
            self.position_notional,
            self.leverage_cap,
            self.risk_per_trade,
        ]
    }

    /// Every given value finite and within [`SETTING_BOUNDS`]; at least one value given.
    pub fn validate(&self) -> Result<(), String> {
        let values = self.values();
        if values.iter().all(Option::is_none) {
            return Err("no setting given".into());
        }
        for ((name, lo, hi), v) in SETTING_BOUNDS.iter().zip(values) {
            if let Some(v) = v {
                if !v.is_finite() || v < *lo || v > *hi {
                    return Err(format!("{name} = {v} is outside [{lo}, {hi}]"));
                }
            }
        }
        Ok(())
    }

    /// `s` with this patch's values applied.
    pub fn apply(&self, mut s: Settings) -> Settings {
        if let Some(v) = self.tp_pct {
            s.tp_pct = v;
        }
        if let Some(v) = self.sl_pct {
            s.sl_pct = v;
        }
        if let Some(v) = self.max_positions {
            s.max_positions = v;
        }
        if let Some(v) = self.position_notional {
            s.position_notional = v;
        }
        if let Some(v) = self.leverage_cap {
            s.leverage_cap = v;
        }
        if let Some(v) = self.risk_per_trade {
            s.risk_per_trade = v;
        }
        s
    }
}

/// Everything `GET /api/status` answers. Money is a decimal string (exact); model outputs are
/// numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// `embedded`, `paper` or `live`.
    pub mode: String,
    /// `binance` or `bybit`.
    pub venue: String,
    /// `fused` or `pipeline`.
    pub topology: String,
    /// Seconds since start.
    pub uptime_s: f64,
    /// `running`, `paused`, `stopped`, `halted` or `circuit_breaker`.
    pub state: String,
    /// Why entries are not allowed (`None` when running).
    pub state_reason: Option<String>,
    /// Unix ms at which a circuit breaker lifts itself.
    pub circuit_breaker_until_ms: Option<u64>,
    /// Account balance, quote currency (the venue's wallet balance on a venue order route).
    pub balance: String,
    /// The venue's available balance entries are sized from (venue order routes).
    pub available_balance: Option<String>,
    /// Balance plus unrealized PnL.
    pub equity: String,
    /// PnL of the current UTC day (realized − fees + unrealized).
    pub day_pnl: String,
    /// Realized PnL net of fees since start of the account's journal.
    pub realized_pnl: String,
    /// Unrealized PnL of the open positions.
    pub unrealized_pnl: String,
    /// `(peak − equity) / peak`.
    pub drawdown: String,
    /// Losing trades in a row.
    pub loss_streak: u32,
    /// One row per venue connection / symbol feed.
    pub feeds: Vec<FeedView>,
    /// One row per configured symbol.
    pub symbols: Vec<SymbolView>,
    /// Each risk limit and how much of it is used.
    pub limits: Vec<LimitView>,
    /// Counter totals by name (rejects and blocks by reason among them).
    pub counters: BTreeMap<String, u64>,
    /// Stage latencies of the last status interval.
    pub stages: Vec<StageView>,
    /// The settings in force.
    pub settings: Settings,
    /// VaR and ES of the open book (zero while flat or warming up).
    #[serde(default)]
    pub portfolio: PortfolioRisk,
}

/// VaR and Expected Shortfall of the open book, quote currency over the VaR horizon; index 0 =
/// 95 %, 1 = 99 % (see `risk::var`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PortfolioRisk {
    /// Joint bar returns the figures come from (0 = not enough history).
    pub samples: u32,
    /// `Σ |notional|` of the book.
    pub gross: f64,
    /// σ of the book's P&L over the horizon.
    pub sigma: f64,
    /// Parametric VaR `z·σ`.
    pub var_parametric: [f64; 2],
    /// Parametric ES `σ·φ(z)/(1 − α)`.
    pub es_parametric: [f64; 2],
    /// Historical VaR (the window's joint returns applied to the current notionals).
    pub var_historical: [f64; 2],
    /// Historical ES (mean of the losses beyond the historical VaR).
    pub es_historical: [f64; 2],
}

/// Feed health of one symbol.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedView {
    /// Venue symbol.
    pub symbol: String,
    /// `live`, `stale` or `down`.
    pub state: String,
}

/// One symbol's model state, last decision and position.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SymbolView {
    /// Venue symbol.
    pub symbol: String,
    /// Trading this symbol (false after `RemoveSymbol`).
    pub active: bool,
    /// Last trade price.
    pub price: f64,
    /// Velocity of log price, 1/s.
    pub v: f64,
    /// Acceleration of log price, 1/s².
    pub a: f64,
    /// Signal-to-noise ratio of the velocity.
    pub snr: f64,
    /// Matrix case 1–6 (`None` while warming up or in the dead band).
    pub case: Option<u8>,
    /// Last decision: `long`, `short`, `flat` or `none`.
    pub signal: String,
    /// Why the last tick produced no order (`none` when it did).
    pub gate: String,
    /// Each confirmation layer's last verdict: `(layer, passed)`.
    pub layers: Vec<(String, bool)>,
    /// Signed position, base quantity (decimal string).
    pub position: String,
    /// Average entry price (decimal string; empty when flat).
    pub entry_price: String,
    /// Unrealized PnL, quote currency (decimal string).
    pub unrealized_pnl: String,
}

/// One risk limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitView {
    /// Limit name, e.g. `daily_loss`, `max_positions`, `portfolio_risk`, `drawdown_pause`.
    pub name: String,
    /// The limit (decimal string or count).
    pub limit: String,
    /// How much of it is used now (same unit).
    pub used: String,
}

/// Latency of one stage over the last status interval, ns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    /// Stage name (`parse`, `compute`, `sign`, …).
    pub stage: String,
    /// Samples in the interval.
    pub count: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
}

/// Whether the engine takes new entries, and what stops it (most severe first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Entries allowed.
    #[default]
    Running,
    /// Operator `Pause`, or a losing-streak / drawdown pause (lifted by `Resume`).
    Paused,
    /// Operator `Stop` (lifted by `Start`).
    Stopped,
    /// Emergency stop (lifted by `Resume` only).
    Halted,
    /// Circuit breaker until a time (lifts itself).
    CircuitBreaker,
}

impl RunState {
    /// The status spelling (`running`, `paused`, `stopped`, `halted`, `circuit_breaker`).
    pub fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Stopped => "stopped",
            RunState::Halted => "halted",
            RunState::CircuitBreaker => "circuit_breaker",
        }
    }
}

/// Layers a [`SymbolRow`] has room for (the engine has fewer).
pub const MAX_LAYER_ROWS: usize = 8;

/// One symbol's row of the engine view: fixed size, `Copy`, filled by the compute thread at
/// publish time without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SymbolRow {
    /// Trading the symbol (false after `RemoveSymbol`).
    pub active: bool,
    /// Last trade price.
    pub price: f64,
    /// Velocity of log price, 1/s.
    pub v: f64,
    /// Acceleration of log price, 1/s².
    pub a: f64,
    /// `SNR_v`.
    pub snr: f64,
    /// Matrix case 1–6, 0 while warming up or outside the six cases.
    pub case: u8,
    /// Last order direction: +1 buy, −1 sell, 0 none.
    pub signal: i8,
    /// Target direction after the gates (−1, 0, +1).
    pub target: i8,
    /// Why the last tick produced no order (`none` when it did).
    pub gate: &'static str,
    /// Per layer (engine order): `Some(passed)` when it judged the last entry, else `None`.
    pub layers: [Option<bool>; MAX_LAYER_ROWS],
    /// Signed filled position, base quantity.
    pub position: Decimal,
    /// Average entry price (0 when flat).
    pub entry: Decimal,
    /// Unrealized PnL at the last price, quote currency.
    pub unrealized: Decimal,
}

/// One risk limit and its use, filled by the compute thread.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LimitRow {
    /// Limit name (`daily_loss`, `max_positions`, …).
    pub name: &'static str,
    /// The limit, same unit as `used`.
    pub limit: Decimal,
    /// How much is used now.
    pub used: Decimal,
}

/// Limit rows in an [`EngineView`].
pub const LIMIT_ROWS: usize = 7;

/// The risk state that survives a restart (written by the monitor, restored at start).
/// Money as exact decimals; times as Unix ms; the UTC day is `ts_ms / 86 400 000`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RiskState {
    /// UTC day of `day_start_equity` (`u64::MAX` = not started).
    pub day: u64,
    /// Equity at the first event of `day`.
    pub day_start_equity: Decimal,
    /// Peak equity.
    pub peak_equity: Decimal,
    /// Losing trades in a row.
    pub loss_streak: u32,
    /// Entries blocked until the next UTC day (daily loss reached).
    pub daily_blocked: bool,
    /// Losing-streak pause.
    pub loss_pause: bool,
    /// Drawdown pause.
    pub drawdown_pause: bool,
    /// Emergency halt.
    pub halted: bool,
    /// Operator `Stop`.
    pub stopped: bool,
    /// Operator `Pause`.
    pub paused: bool,
    /// Circuit breaker end, Unix ms (0 = none).
    pub circuit_until_ms: u64,
    /// The settings in force.
    pub settings: Settings,
}

/// What the compute thread publishes for the status view: filled in place at each hand-off
/// (no allocation after [`EngineView::new`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EngineView {
    /// Entries allowed, and what stops them.
    pub state: RunState,
    /// The reason's stable name (`operator_pause`, `consecutive_losses`, …; empty when running).
    pub reason: &'static str,
    /// Balance, quote currency: the venue's wallet once read (venue order routes), else the
    /// starting balance.
    pub balance: Decimal,
    /// The venue's available balance (entries are sized from it), once read.
    pub available: Option<Decimal>,
    /// `balance + realized + unrealized`.
    pub equity: Decimal,
    /// `equity − equity at the UTC day's start`.
    pub day_pnl: Decimal,
    /// Realized PnL net of fees (decision book plus restored journal).
    pub realized: Decimal,
    /// Unrealized PnL.
    pub unrealized: Decimal,
    /// `(peak − equity) / peak`.
    pub drawdown: Decimal,
    /// Each limit and its use.
    pub limits: [LimitRow; LIMIT_ROWS],
    /// VaR and ES of the open book.
    pub portfolio: PortfolioRisk,
    /// Operator commands applied so far.
    pub commands: u64,
    /// The persisted part.
    pub risk: RiskState,
    /// One row per symbol, in `SymbolId` order (sized at start).
    pub symbols: Vec<SymbolRow>,
}

impl EngineView {
    /// A view with `n_symbols` rows (the only allocation).
    pub fn new(n_symbols: usize) -> Self {
        Self {
            symbols: vec![SymbolRow::default(); n_symbols],
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_bounds_are_enforced_and_apply_changes_only_given_values() {
        assert!(SettingsPatch::default().validate().is_err());
        let p = SettingsPatch {
            tp_pct: Some(1.5),
            ..Default::default()
        };
        assert!(p.validate().is_ok());
        for bad in [f64::NAN, f64::INFINITY, -1.0, 51.0] {
            let p = SettingsPatch {
                sl_pct: Some(bad),
                ..Default::default()
            };
            assert!(p.validate().unwrap_err().contains("sl_pct"), "{bad}");
        }
        let s = Settings {
            tp_pct: 1.0,
            sl_pct: 0.5,
            max_positions: 3,
            position_notional: 100.0,
            leverage_cap: 2.0,
            risk_per_trade: 0.01,
        };
        let out = SettingsPatch {
            max_positions: Some(7),
            ..Default::default()
        }
        .apply(s);
        assert_eq!(out.max_positions, 7);
        assert_eq!(
            Settings {
                max_positions: 3,
                ..out
            },
            s
        );
    }

    #[test]
    fn patch_json_rejects_unknown_keys() {
        let e = serde_json::from_str::<SettingsPatch>(r#"{"tp":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"));
        let p: SettingsPatch = serde_json::from_str(r#"{"leverage_cap":3}"#).unwrap();
        assert_eq!(p.leverage_cap, Some(3.0));
    }
}
