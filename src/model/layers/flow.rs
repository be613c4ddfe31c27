//! Order-flow imbalance from the trades' aggressor side (MATH.md §7):
//! `I = (B − S)/(B + S)` over a time window, `B`, `S` the taker-buy and taker-sell volumes.

use crate::model::params::{bucket_ms, WINDOW_BUCKETS};
use crate::model::window::BucketRing;

crate::model::params::params! {
    /// `[layers.flow]`.
    pub struct FlowParams in "layers.flow" {
        /// Use this layer.
        pub enabled: bool = true,
        /// Window, seconds (split into 32 buckets).
        pub window_s: f64 = 30.0 => window,
        /// Reject a long when `I < −max_against`, a short when `I > max_against`.
        pub max_against: f64 = 0.3 => unit_closed,
    }
}

/// Taker volumes per bucket: value 0 = buy volume, 1 = sell volume. 528 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowState {
    ring: BucketRing<WINDOW_BUCKETS, 2>,
}

impl FlowState {
    /// Adds a trade of `qty` whose taker side is `side` (+1 buy, −1 sell).
    #[inline]
    pub fn update(&mut self, p: &FlowParams, side: f64, qty: f64, ts_ms: u64) {
        self.ring.advance(ts_ms, bucket_ms(p.window_s));
        if qty.is_finite() && qty > 0.0 {
            self.ring.add(if side > 0.0 { 0 } else { 1 }, qty);
        }
    }

    /// `I = (B − S)/(B + S)` in `[−1, 1]`; 0 without volume.
    #[inline]
    pub fn imbalance(&self) -> f64 {
        let (b, s) = (self.ring.sum(0), self.ring.sum(1));
        let t = b + s;
        if t > 0.0 {
            ((b - s) / t).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.ring.reset();
    }
}

/// Confirms a long unless `I < −max_against`, a short unless `I > max_against`.
#[inline]
pub fn confirms(p: &FlowParams, side: f64, imbalance: f64) -> bool {
    !(side > 0.0 && imbalance < -p.max_against || side < 0.0 && imbalance > p.max_against)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imbalance_counts_taker_volume_inside_the_window() {
        let p = FlowParams::default();
        let mut f = FlowState::default();
        f.update(&p, 1.0, 3.0, 1_000);
        f.update(&p, -1.0, 1.0, 2_000);
        assert!((f.imbalance() - 0.5).abs() < 1e-12);
        // 40 s later the old trades left the 30 s window.
        f.update(&p, -1.0, 2.0, 42_000);
        assert!((f.imbalance() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn rejects_only_against_strong_flow() {
        let p = FlowParams::default();
        assert!(!confirms(&p, 1.0, -0.5));
        assert!(confirms(&p, 1.0, -0.2));
        assert!(!confirms(&p, -1.0, 0.5));
        assert!(confirms(&p, -1.0, -0.9));
    }
}
