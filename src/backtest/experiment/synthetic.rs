//! Seeded synthetic markets with known answers, traded on BTCUSDT's 0.1 tick at ≈ 10 trades/s
//! (exponential inter-arrival times, mean 100 ms): the log price `x = ln p` follows
//! - a random walk `dx = σ dW` (no strategy can have an edge: the control),
//! - a trend `dx = μ dt + σ dW` (trend following makes money before fees),
//! - an Ornstein–Uhlenbeck process `dx = −θ (x − x̄) dt + σ dW` (fading moves makes money).
//!
//! `σ = 1.3e-4 /√s` is about BTC's (≈ 4e-5 per 100 ms).

use crate::types::{Side, SymbolId, Tick};

/// The process of a synthetic market.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Process {
    /// `dx = σ dW`.
    RandomWalk,
    /// `dx = μ dt + σ dW`, `μ` in 1/s; the sign alternates with the seed (odd up, even down).
    Trend {
        /// |drift|, 1/s.
        mu: f64,
    },
    /// `dx = −θ (x − x̄) dt + σ dW`.
    MeanReverting {
        /// Reversion rate θ, 1/s (half-life ln 2 / θ).
        theta: f64,
    },
}

/// Volatility σ of every synthetic market, 1/√s.
pub const SIGMA: f64 = 1.3e-4;
/// Start price (BTCUSDT-like), on the 0.1 tick.
pub const P0: f64 = 60_000.0;
/// Mean time between trades, ms.
pub const MEAN_DT_MS: f64 = 100.0;
/// First trade time, Unix ms (2024-08-09 00:00 UTC).
pub const T0_MS: u64 = 1_723_161_600_000;

/// SplitMix64: small, seeded, reproducible across platforms.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `duration_s` of trades of `process` from `seed`, symbol 0, prices on the 0.1 tick.
/// Exact discretisation over each inter-arrival time `dt`.
pub fn generate(process: Process, seed: u64, duration_s: f64) -> Vec<Tick> {
    let mut rng = SplitMix(seed);
    let x_bar = P0.ln();
    let mut x = x_bar;
    let mut t_ms = 0.0;
    let mut last = P0;
    let mut out = Vec::with_capacity((duration_s * 1e3 / MEAN_DT_MS) as usize + 1);
    while t_ms < duration_s * 1e3 {
        let dt_ms = (-rng.uniform().ln() * MEAN_DT_MS).max(1.0).round();
        t_ms += dt_ms;
        let dt = dt_ms / 1e3;
        let z = rng.normal();
        x = match process {
            Process::RandomWalk => x + SIGMA * dt.sqrt() * z,
            Process::Trend { mu } => {
                let sign = if seed % 2 == 1 { 1.0 } else { -1.0 };
                x + sign * mu * dt + SIGMA * dt.sqrt() * z
            }
            Process::MeanReverting { theta } => {
                let k = (-theta * dt).exp();
                let sd = SIGMA * ((1.0 - k * k) / (2.0 * theta)).sqrt();
                x_bar + (x - x_bar) * k + sd * z
            }
        };
        let price = (x.exp() * 10.0).round() / 10.0;
        let side = if price > last || (price == last && rng.uniform() < 0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        last = price;
        out.push(Tick {
            symbol: SymbolId(0),
            side,
            price,
            qty: 0.001 * (1.0 + (rng.uniform() * 20.0).floor()),
            exch_ts_ms: T0_MS + t_ms as u64,
            trade_id: out.len() as u64,
            ..Tick::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_on_the_tick() {
        let a = generate(Process::RandomWalk, 7, 60.0);
        assert_eq!(a, generate(Process::RandomWalk, 7, 60.0));
        assert!((450..750).contains(&a.len()), "{} trades in 60 s", a.len());
        assert!(a
            .iter()
            .all(|t| ((t.price * 10.0).round() - t.price * 10.0).abs() < 1e-6));
        assert!(a.windows(2).all(|w| w[0].exch_ts_ms < w[1].exch_ts_ms));
    }

    #[test]
    fn trend_drifts_and_ou_reverts() {
        // μ = 1e-4 /s over 600 s: E[Δx] = ±0.06, sd σ√600 ≈ 0.003.
        let up = generate(Process::Trend { mu: 1e-4 }, 1, 600.0);
        let down = generate(Process::Trend { mu: 1e-4 }, 2, 600.0);
        let dx = |v: &[Tick]| (v[v.len() - 1].price / P0).ln();
        assert!((dx(&up) - 0.06).abs() < 0.015, "{}", dx(&up));
        assert!((dx(&down) + 0.06).abs() < 0.015, "{}", dx(&down));
        // OU, θ = 0.01 /s: stationary sd σ/√(2θ) ≈ 9.2e-4; the walk wanders further over 1 h.
        let ou = generate(Process::MeanReverting { theta: 0.01 }, 3, 3_600.0);
        let max_dev = ou
            .iter()
            .map(|t| (t.price / P0).ln().abs())
            .fold(0.0, f64::max);
        assert!(max_dev < 6.0 * 9.2e-4, "{max_dev}");
    }
}
