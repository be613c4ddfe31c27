//! Stateful market-data checks after parsing: reject-and-count, never crash.
//!
//! The parsers already reject malformed JSON, missing fields, non-numeric or non-finite
//! numbers, prices/sizes ≤ 0 and unknown symbols ([`super::ParseError`]). This module rejects
//! what needs memory of earlier events, per symbol and in O(1):
//! - a timestamp more than `max_future_ms` ahead of the wall clock;
//! - a trade older than the symbol's newest accepted trade by more than
//!   `out_of_order_tolerance_ms` (and a quote likewise against the newest quote), where "newest"
//!   is `max(min(T, wall))`: an accepted event stamped ahead of our clock (within
//!   `max_future_ms`) counts as stamped now, so it cannot push genuine later events out of order;
//! - a trade id seen among the symbol's last [`DEDUP_WINDOW`] accepted trades;
//! - a price spike: `|r| > k · max(σ, σ_min)` with `r = ln(p / p_last)` and the EWMA variance
//!   `σ²_t = α·r_t² + (1 − α)·σ²_{t−1}` of accepted trade-to-trade log returns.

use serde::Deserialize;

use crate::types::event::MarketEvent;
use crate::types::{Quote, Tick};

/// Trade ids remembered per symbol for duplicate detection.
pub const DEDUP_WINDOW: usize = 64;

/// `[validation]`: thresholds of the stateful checks. Defaults are documented in
/// `config/default.toml`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// Run the checks at all (false: every parsed event passes).
    pub enabled: bool,
    /// Reject events whose venue time is more than this ahead of our wall clock, ms.
    pub max_future_ms: u64,
    /// Reject a trade older than the symbol's newest accepted trade by more than this, ms.
    pub out_of_order_tolerance_ms: u64,
    /// Spike band width `k` in σ of trade-to-trade log returns; 0 disables the spike check.
    pub spike_sigmas: f64,
    /// EWMA weight `α` of the newest squared log return, in (0, 1].
    pub spike_ewma_alpha: f64,
    /// Floor `σ_min` of the σ used in the band (log-return units; 5e-4 = 5 bp).
    pub spike_min_sigma: f64,
    /// Accepted trades of a symbol before the spike check applies.
    pub spike_warmup_trades: u32,
    /// After this many consecutive spike rejections the new level is accepted (a real jump,
    /// not a bad print) and the symbol's spike state restarts.
    pub spike_reset_after: u32,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_future_ms: 5_000,
            out_of_order_tolerance_ms: 1_000,
            spike_sigmas: 8.0,
            spike_ewma_alpha: 0.02,
            spike_min_sigma: 5e-4,
            spike_warmup_trades: 20,
            spike_reset_after: 3,
        }
    }
}

impl ValidationConfig {
    /// Checks the values; the error names the key.
    pub fn check(&self) -> Result<(), String> {
        let bad = |key: &str, why: String| Err(format!("config key `validation.{key}`: {why}"));
        if !(self.spike_sigmas.is_finite() && self.spike_sigmas >= 0.0) {
            return bad(
                "spike_sigmas",
                format!("must be ≥ 0, got {}", self.spike_sigmas),
            );
        }
        if !(self.spike_ewma_alpha > 0.0 && self.spike_ewma_alpha <= 1.0) {
            return bad(
                "spike_ewma_alpha",
                format!("must be in (0, 1], got {}", self.spike_ewma_alpha),
            );
        }
        if !(self.spike_min_sigma.is_finite() && self.spike_min_sigma > 0.0) {
            return bad(
                "spike_min_sigma",
                format!("must be > 0, got {}", self.spike_min_sigma),
            );
        }
        if self.spike_reset_after == 0 {
            return bad("spike_reset_after", "must be ≥ 1".into());
        }
        Ok(())
    }
}

/// Why a parsed event was rejected. Each variant has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Venue time too far ahead of the wall clock.
    FutureTimestamp,
    /// Older than the symbol's newest accepted event minus the tolerance.
    OutOfOrder,
    /// Trade id already accepted.
    Duplicate,
    /// Price outside the sigma band.
    Spike,
}

/// Per-symbol memory of the checks.
#[derive(Clone, Debug)]
struct SymbolState {
    last_trade_ms: u64,
    last_quote_ms: u64,
    last_price: f64,
    /// EWMA of squared log returns.
    var: f64,
    accepted: u32,
    spikes_in_row: u32,
    ids: [u64; DEDUP_WINDOW],
    ids_len: usize,
    ids_next: usize,
}

impl Default for SymbolState {
    fn default() -> Self {
        Self {
            last_trade_ms: 0,
            last_quote_ms: 0,
            last_price: 0.0,
            var: 0.0,
            accepted: 0,
            spikes_in_row: 0,
            ids: [0; DEDUP_WINDOW],
            ids_len: 0,
            ids_next: 0,
        }
    }
}

/// `ts_ms` capped at `wall_ms` (when known, i.e. > 0).
#[inline]
fn at_most_wall(ts_ms: u64, wall_ms: u64) -> u64 {
    if wall_ms > 0 {
        ts_ms.min(wall_ms)
    } else {
        ts_ms
    }
}

/// The stateful checks of one feed. One writer (the network thread); no allocation after
/// construction.
#[derive(Clone, Debug)]
pub struct Validator {
    cfg: ValidationConfig,
    symbols: Vec<SymbolState>,
    /// Trade order is the venue's sequential trade id (enforced by the de-duplication): no
    /// trade-time order check.
    id_order: bool,
}

impl Validator {
    /// Checks for `n_symbols` interned symbols.
    pub fn new(cfg: ValidationConfig, n_symbols: usize) -> Self {
        Self {
            cfg,
            symbols: vec![SymbolState::default(); n_symbols],
            id_order: false,
        }
    }

    /// Trades are ordered by the venue's sequential ids (Binance `t` / `a`), checked by
    /// [`super::dedupe::TradeDedup`]: the trade-time order check is skipped (one trade stamped
    /// ahead must not put the genuine trades after it out of order).
    pub fn with_id_order(mut self) -> Self {
        self.id_order = true;
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &ValidationConfig {
        &self.cfg
    }

    /// Checks `ev` against `wall_ms` (Unix ms, our clock) and, if accepted, remembers it.
    #[inline]
    pub fn check(&mut self, ev: &MarketEvent, wall_ms: u64) -> Result<(), Reject> {
        match ev {
            MarketEvent::Trade(t) => self.check_trade(t, wall_ms),
            MarketEvent::Quote(q) => self.check_quote(q, wall_ms),
        }
    }

    /// Quote checks: future timestamp, out of order against the newest quote.
    #[inline]
    pub fn check_quote(&mut self, q: &Quote, wall_ms: u64) -> Result<(), Reject> {
        if !self.cfg.enabled {
            return Ok(());
        }
        self.future(q.exch_ts_ms, wall_ms)?;
        let tol = self.cfg.out_of_order_tolerance_ms;
        let Some(s) = self.symbols.get_mut(q.symbol.index()) else {
            return Ok(());
        };
        if q.exch_ts_ms.saturating_add(tol) < s.last_quote_ms {
            return Err(Reject::OutOfOrder);
        }
        s.last_quote_ms = s.last_quote_ms.max(at_most_wall(q.exch_ts_ms, wall_ms));
        Ok(())
    }

    /// Trade checks, in order: future timestamp, out of order, duplicate id, spike.
    #[inline]
    pub fn check_trade(&mut self, t: &Tick, wall_ms: u64) -> Result<(), Reject> {
        if !self.cfg.enabled {
            return Ok(());
        }
        self.future(t.exch_ts_ms, wall_ms)?;
        let cfg = &self.cfg;
        let Some(s) = self.symbols.get_mut(t.symbol.index()) else {
            return Ok(());
        };
        if !self.id_order
            && t.exch_ts_ms.saturating_add(cfg.out_of_order_tolerance_ms) < s.last_trade_ms
        {
            return Err(Reject::OutOfOrder);
        }
        if s.ids[..s.ids_len].contains(&t.trade_id) {
            return Err(Reject::Duplicate);
        }
        let r = if s.accepted > 0 {
            (t.price / s.last_price).ln()
        } else {
            0.0
        };
        if cfg.spike_sigmas > 0.0 && s.accepted > cfg.spike_warmup_trades {
            let band = cfg.spike_sigmas * s.var.sqrt().max(cfg.spike_min_sigma);
            if r.abs() > band {
                s.spikes_in_row = s.spikes_in_row.saturating_add(1);
                if s.spikes_in_row < cfg.spike_reset_after {
                    return Err(Reject::Spike);
                }
                // A persistent new level: accept it and learn the volatility afresh.
                s.accepted = 0;
                s.var = 0.0;
            }
        }
        if s.accepted > 0 {
            s.var = cfg.spike_ewma_alpha * r * r + (1.0 - cfg.spike_ewma_alpha) * s.var;
        }
        s.spikes_in_row = 0;
        s.accepted = s.accepted.saturating_add(1);
        s.last_price = t.price;
        s.last_trade_ms = s.last_trade_ms.max(at_most_wall(t.exch_ts_ms, wall_ms));
        s.ids[s.ids_next] = t.trade_id;
        s.ids_next = (s.ids_next + 1) % DEDUP_WINDOW;
        s.ids_len = (s.ids_len + 1).min(DEDUP_WINDOW);
        Ok(())
    }

    #[inline]
    fn future(&self, ts_ms: u64, wall_ms: u64) -> Result<(), Reject> {
        if wall_ms > 0 && ts_ms > wall_ms.saturating_add(self.cfg.max_future_ms) {
            Err(Reject::FutureTimestamp)
        } else {
            Ok(())
        }
    }

    /// The EWMA σ of `symbol`'s accepted log returns (for reports and tests).
    pub fn sigma(&self, symbol: crate::types::SymbolId) -> f64 {
        self.symbols
            .get(symbol.index())
            .map_or(0.0, |s| s.var.sqrt())
    }

    /// Forgets the order/duplicate/spike memory of `symbol`.
    pub fn reset_symbol(&mut self, symbol: crate::types::SymbolId) {
        if let Some(s) = self.symbols.get_mut(symbol.index()) {
            *s = SymbolState::default();
        }
    }

    /// Forgets the order/duplicate/spike memory of every symbol (e.g. after a long outage).
    pub fn reset(&mut self) {
        self.symbols.fill(SymbolState::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Side, SymbolId};

    fn tick(id: u64, ts: u64, price: f64) -> Tick {
        Tick {
            symbol: SymbolId(0),
            side: Side::Buy,
            price,
            qty: 1.0,
            exch_ts_ms: ts,
            trade_id: id,
            recv_ns: 0,
            parsed_ns: 0,
        }
    }

    const WALL: u64 = 1_000_000;

    #[test]
    fn future_timestamps_beyond_the_limit_are_rejected() {
        let mut v = Validator::new(ValidationConfig::default(), 1);
        assert_eq!(v.check_trade(&tick(1, WALL + 5_000, 100.0), WALL), Ok(()));
        assert_eq!(
            v.check_trade(&tick(2, WALL + 5_001, 100.0), WALL),
            Err(Reject::FutureTimestamp)
        );
    }

    #[test]
    fn out_of_order_means_older_than_newest_minus_tolerance() {
        let mut v = Validator::new(ValidationConfig::default(), 1);
        v.check_trade(&tick(1, 10_000, 100.0), WALL).unwrap();
        assert_eq!(v.check_trade(&tick(2, 9_000, 100.0), WALL), Ok(()));
        assert_eq!(
            v.check_trade(&tick(3, 8_999, 100.0), WALL),
            Err(Reject::OutOfOrder)
        );
    }

    #[test]
    fn a_trade_ahead_within_the_skew_does_not_put_later_trades_out_of_order() {
        let mut v = Validator::new(ValidationConfig::default(), 1);
        v.check_trade(&tick(1, WALL + 4_000, 100.0), WALL).unwrap();
        // Genuine trades of the next seconds, stamped at our clock.
        for k in 1..=30u64 {
            let now = WALL + k * 100;
            assert_eq!(v.check_trade(&tick(1 + k, now, 100.0), now), Ok(()), "{k}");
        }
        assert_eq!(
            v.check_trade(&tick(99, WALL + 2_000, 100.0), WALL + 3_000),
            Ok(()),
            "within the tolerance of the newest genuine trade"
        );
        assert_eq!(
            v.check_trade(&tick(100, WALL + 1_000, 100.0), WALL + 3_000),
            Err(Reject::OutOfOrder)
        );
    }

    #[test]
    fn with_id_order_trade_times_do_not_decide_the_order() {
        let mut v = Validator::new(ValidationConfig::default(), 1).with_id_order();
        v.check_trade(&tick(1, 14_000, 100.0), WALL).unwrap();
        assert_eq!(v.check_trade(&tick(2, 10_001, 100.0), WALL), Ok(()));
    }

    #[test]
    fn a_repeated_trade_id_is_a_duplicate_within_the_window() {
        let mut v = Validator::new(ValidationConfig::default(), 1);
        for id in 0..DEDUP_WINDOW as u64 {
            v.check_trade(&tick(id, 1, 100.0), WALL).unwrap();
        }
        assert_eq!(
            v.check_trade(&tick(0, 1, 100.0), WALL),
            Err(Reject::Duplicate)
        );
        v.check_trade(&tick(1_000, 1, 100.0), WALL).unwrap();
        // Id 0 has left the window.
        assert_eq!(v.check_trade(&tick(0, 1, 100.0), WALL), Ok(()));
    }

    #[test]
    fn spike_band_is_k_times_the_floored_ewma_sigma() {
        let cfg = ValidationConfig::default();
        let mut v = Validator::new(cfg.clone(), 1);
        // Alternating ±1 bp returns: σ → 1e-4, below the 5e-4 floor, so the band is 8 · 5e-4.
        let mut p = 100.0;
        for i in 0..200u64 {
            p *= if i % 2 == 0 { 1.0001 } else { 1.0 / 1.0001 };
            v.check_trade(&tick(i, 1, p), WALL).unwrap();
        }
        let sigma = v.sigma(SymbolId(0));
        assert!((sigma - 1e-4).abs() < 2e-6, "σ = {sigma}");
        let band = cfg.spike_sigmas * cfg.spike_min_sigma;
        assert_eq!(
            v.check_trade(&tick(1000, 1, p * (band * 1.01).exp()), WALL),
            Err(Reject::Spike)
        );
        assert_eq!(
            v.check_trade(&tick(1001, 1, p / (band * 1.01).exp()), WALL),
            Err(Reject::Spike)
        );
        // The rejected prints did not move the reference price: just inside the band passes.
        assert_eq!(
            v.check_trade(&tick(1002, 1, p * (band * 0.99).exp()), WALL),
            Ok(())
        );
    }

    #[test]
    fn a_persistent_new_level_is_accepted_after_reset_after_rejections() {
        let mut v = Validator::new(ValidationConfig::default(), 1);
        for i in 0..50u64 {
            v.check_trade(&tick(i, 1, 100.0), WALL).unwrap();
        }
        assert_eq!(
            v.check_trade(&tick(100, 1, 110.0), WALL),
            Err(Reject::Spike)
        );
        assert_eq!(
            v.check_trade(&tick(101, 1, 110.0), WALL),
            Err(Reject::Spike)
        );
        assert_eq!(v.check_trade(&tick(102, 1, 110.0), WALL), Ok(()));
        assert_eq!(v.check_trade(&tick(103, 1, 110.1), WALL), Ok(()));
    }

    #[test]
    fn disabled_validation_passes_everything() {
        let cfg = ValidationConfig {
            enabled: false,
            ..Default::default()
        };
        let mut v = Validator::new(cfg, 1);
        v.check_trade(&tick(1, 5, 1.0), WALL).unwrap();
        assert_eq!(v.check_trade(&tick(1, u64::MAX, 1e9), WALL), Ok(()));
    }

    #[test]
    fn config_values_are_checked_by_name() {
        let bad = ValidationConfig {
            spike_ewma_alpha: 0.0,
            ..Default::default()
        };
        assert!(bad
            .check()
            .unwrap_err()
            .contains("validation.spike_ewma_alpha"));
        assert!(ValidationConfig::default().check().is_ok());
        let parsed: ValidationConfig = toml::from_str("max_future_ms = 10").unwrap();
        assert_eq!(parsed.max_future_ms, 10);
        assert_eq!(parsed.spike_sigmas, 8.0);
        assert!(toml::from_str::<ValidationConfig>("nope = 1").is_err());
    }
}
