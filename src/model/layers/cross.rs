//! Cross-asset confirmation (MATH.md §7): the leaders' (BTC, ETH) log-price momentum over a
//! short window must not point strongly against the trade.

use serde::Deserialize;

use crate::model::params::{bucket_ms, check, unit_open, window, WINDOW_BUCKETS};
use crate::model::window::{BarCloses, BucketRing};

/// Maximum number of leader symbols.
pub const MAX_LEADERS: usize = 2;

/// `[layers.cross]` as written in the config (leaders by name).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrossConfig {
    /// Use this layer.
    pub enabled: bool,
    /// Momentum window, seconds.
    pub window_s: f64,
    /// Reject a long when a leader fell more than this fraction, a short when it rose more.
    pub max_move: f64,
    /// Leader symbols (at most 2; those not traded are ignored).
    pub leaders: Vec<String>,
}

impl Default for CrossConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_s: 10.0,
            max_move: 0.01,
            leaders: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        }
    }
}

impl CrossConfig {
    /// Checks every key (`layers.cross.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        check(&[
            window("layers.cross.window_s", self.window_s),
            unit_open("layers.cross.max_move", self.max_move),
        ])?;
        if self.leaders.len() > MAX_LEADERS {
            return Err(format!(
                "layers.cross.leaders: at most {MAX_LEADERS} symbols, got {}",
                self.leaders.len()
            ));
        }
        Ok(())
    }

    /// The runtime parameters, leaders resolved to symbol indices in `symbols`.
    pub fn params<S: AsRef<str>>(&self, symbols: &[S]) -> CrossParams {
        let mut leaders = [None; MAX_LEADERS];
        for (slot, name) in leaders.iter_mut().zip(&self.leaders) {
            *slot = symbols
                .iter()
                .position(|s| s.as_ref() == name)
                .map(|i| i as u16);
        }
        CrossParams {
            enabled: self.enabled,
            window_s: self.window_s,
            max_move: self.max_move,
            leaders,
        }
    }
}

/// `[layers.cross]` resolved: leaders as symbol indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossParams {
    /// Use this layer.
    pub enabled: bool,
    /// Momentum window, seconds.
    pub window_s: f64,
    /// Largest adverse leader move tolerated, fraction.
    pub max_move: f64,
    /// Leader symbol indices.
    pub leaders: [Option<u16>; MAX_LEADERS],
}

impl Default for CrossParams {
    fn default() -> Self {
        CrossConfig::default().params(&["BTCUSDT", "ETHUSDT"])
    }
}

/// A symbol's momentum: per bucket the log return `Δ` since the previous bucket's close.
/// 288 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MomentumState {
    ring: BucketRing<WINDOW_BUCKETS, 1>,
    closes: BarCloses,
}

impl MomentumState {
    /// Feeds log price `x` at `ts_ms`.
    #[inline]
    pub fn update(&mut self, p: &CrossParams, x: f64, ts_ms: u64) {
        if let Some(d) = self
            .closes
            .update(&mut self.ring, x, ts_ms, bucket_ms(p.window_s))
        {
            self.ring.set(0, d);
        }
    }

    /// Move over the window as a fraction: `exp(ΣΔ) − 1` (0 before any tick).
    #[inline]
    pub fn momentum(&self) -> f64 {
        move_of(self.log_move())
    }

    /// Log move over the window `ΣΔ` (0 before any tick); [`move_of`] turns it into a fraction.
    #[inline]
    pub fn log_move(&self) -> f64 {
        self.ring.sum(0)
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// A log move `ΣΔ` as a fraction: `exp(clamp(ΣΔ, −1, 1)) − 1` (0 when not finite).
#[inline]
pub fn move_of(log_move: f64) -> f64 {
    let m = log_move.clamp(-1.0, 1.0).exp_m1();
    if m.is_finite() {
        m
    } else {
        0.0
    }
}

/// Confirms a long unless a leader's move ([`move_of`] its log move) is below `−max_move`, a
/// short unless above.
#[inline]
pub fn confirms(p: &CrossParams, side: f64, leader_log_moves: &[f64; MAX_LEADERS]) -> bool {
    leader_log_moves.iter().all(|&l| {
        // `move_of(±0) = ±0`: absent leaders and the symbol itself skip the `exp_m1`.
        let m = if l == 0.0 { 0.0 } else { move_of(l) };
        !(side > 0.0 && m < -p.max_move || side < 0.0 && m > p.max_move)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_is_the_move_over_the_window() {
        let p = CrossParams::default();
        let mut m = MomentumState::default();
        let x0 = 60_000f64.ln();
        for k in 0..=20u64 {
            // +0.1 % per second for 20 s; the 10 s window sees ~10 of them.
            m.update(&p, x0 + 1e-3 * k as f64, k * 1000);
        }
        let got = m.momentum();
        assert!(got > 0.009 && got < 0.0115, "{got}");
    }

    #[test]
    fn leaders_resolve_by_name_and_veto_against_moves() {
        let c = CrossConfig::default();
        let p = c.params(&["ETHUSDT", "SOLUSDT"]);
        assert_eq!(p.leaders, [None, Some(0)]);
        // Log moves: −0.02 is a −1.98 % move, 0.015 a +1.51 %.
        assert!(!confirms(&p, 1.0, &[0.0, -0.02]));
        assert!(confirms(&p, -1.0, &[0.0, -0.02]));
        assert!(!confirms(&p, -1.0, &[0.015, 0.0]));
        assert!(confirms(&p, 1.0, &[0.005, -0.005]));
    }
}
