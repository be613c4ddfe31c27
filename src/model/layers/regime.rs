//! Regime (trending vs ranging) from the efficiency ratio of time bars, and the rolling
//! volatility of the same bars (MATH.md §7).
//!
//! Bars of `window_s / 32` seconds; per bar the return `Δ = close − previous close` of log price
//! (bars without trades have `Δ = 0`). Over the window: efficiency ratio
//! `ER = |ΣΔ| / Σ|Δ|` (net move over path length, in [0, 1]) and variance per second
//! `σ² = ΣΔ² / window_s`.

use crate::model::params::{bucket_ms, WINDOW_BUCKETS};
use crate::model::window::{BarCloses, BucketRing};

crate::model::params::params! {
    /// `[layers.regime]`.
    pub struct RegimeParams in "layers.regime" {
        /// Use this layer (the volatility is computed either way: the take-profit layer uses it).
        pub enabled: bool = true,
        /// Window, seconds (32 bars).
        pub window_s: f64 = 64.0 => window,
        /// Trending when `ER ≥ er_min`; trend entries (cases 1 and 4) need a trending regime.
        pub er_min: f64 = 0.2 => unit_closed,
    }
}

/// Per bar `[Δ, |Δ|, Δ²]` plus the previous bar's close. 800 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegimeState {
    ring: BucketRing<WINDOW_BUCKETS, 3>,
    closes: BarCloses,
}

impl RegimeState {
    /// Feeds log price `x` at `ts_ms`.
    #[inline]
    pub fn update(&mut self, p: &RegimeParams, x: f64, ts_ms: u64) {
        if let Some(d) = self
            .closes
            .update(&mut self.ring, x, ts_ms, bucket_ms(p.window_s))
        {
            self.ring.set(0, d);
            self.ring.set(1, d.abs());
            self.ring.set(2, d * d);
        }
    }

    /// `ER = |ΣΔ|/Σ|Δ|` in `[0, 1]`; 0 without movement.
    #[inline]
    pub fn efficiency(&self) -> f64 {
        let path = self.ring.sum(1);
        if path > 0.0 {
            (self.ring.sum(0).abs() / path).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Volatility of log price per √s: `sqrt(ΣΔ² / window_s)`.
    #[inline]
    pub fn sigma(&self, p: &RegimeParams) -> f64 {
        let v = (self.ring.sum(2).max(0.0) / p.window_s).sqrt();
        if v.is_finite() {
            v
        } else {
            0.0
        }
    }

    /// Net log-price move over the window `ΣΔ`.
    #[inline]
    pub fn net_move(&self) -> f64 {
        self.ring.sum(0)
    }

    /// Bars closed since the last reset.
    #[inline]
    pub fn bars(&self) -> u32 {
        self.ring.filled()
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Trending when `ER ≥ er_min`.
#[inline]
pub fn is_trending(p: &RegimeParams, er: f64) -> bool {
    er >= p.er_min
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_line_is_fully_efficient_and_zigzag_is_not() {
        let p = RegimeParams {
            window_s: 32.0,
            ..RegimeParams::default()
        };
        let mut up = RegimeState::default();
        let mut zz = RegimeState::default();
        for k in 0..100u64 {
            up.update(&p, 1e-4 * k as f64, k * 1000);
            zz.update(&p, if k % 2 == 0 { 1e-4 } else { 0.0 }, k * 1000);
        }
        assert!((up.efficiency() - 1.0).abs() < 1e-9);
        assert!(zz.efficiency() < 0.05);
        assert!(is_trending(&p, up.efficiency()) && !is_trending(&p, zz.efficiency()));
        // Σ Δ² over 32 bars of 1e-4 each, per second of a 32 s window.
        assert!((up.sigma(&p) - 1e-4).abs() < 1e-9, "{}", up.sigma(&p));
        assert!((up.net_move() - 32e-4).abs() < 1e-12);
    }
}
