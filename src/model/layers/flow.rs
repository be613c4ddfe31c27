//! Order-flow imbalance from the trades' aggressor side (MATH.md §7):
//! `I = (B − S)/(B + S)` over a time window, `B`, `S` the taker-buy and taker-sell volumes.

use serde::Deserialize;

use crate::model::window::BucketRing;

/// Buckets of the flow window.
pub const FLOW_BUCKETS: usize = 32;

/// `[layers.flow]`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowParams {
    /// Use this layer.
    pub enabled: bool,
    /// Window, seconds (split into 32 buckets).
    pub window_s: f64,
    /// Reject a long when `I < −max_against`, a short when `I > max_against`.
    pub max_against: f64,
}

impl Default for FlowParams {
    fn default() -> Self {
        Self {
            enabled: true,
            window_s: 30.0,
            max_against: 0.3,
        }
    }
}

impl FlowParams {
    /// Checks every key (`layers.flow.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        if !(self.window_s.is_finite() && self.window_s >= 0.032) {
            return Err(format!(
                "layers.flow.window_s: must be ≥ 0.032 s, got {}",
                self.window_s
            ));
        }
        if !(self.max_against >= 0.0 && self.max_against <= 1.0) {
            return Err(format!(
                "layers.flow.max_against: must be in [0, 1], got {}",
                self.max_against
            ));
        }
        Ok(())
    }

    fn bucket_ms(&self) -> u64 {
        ((self.window_s * 1000.0 / FLOW_BUCKETS as f64).ceil() as u64).max(1)
    }
}

/// Taker volumes per bucket: value 0 = buy volume, 1 = sell volume. 528 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowState {
    ring: BucketRing<FLOW_BUCKETS, 2>,
}

impl FlowState {
    /// Adds a trade of `qty` whose taker side is `side` (+1 buy, −1 sell).
    #[inline]
    pub fn update(&mut self, p: &FlowParams, side: f64, qty: f64, ts_ms: u64) {
        self.ring.advance(ts_ms, p.bucket_ms());
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
