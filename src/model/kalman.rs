//! Constant-acceleration Kalman filter on log price (MATH.md §3): state `s = [x, v, a]ᵀ` with
//! `x = ln p`, `v = dx/dt` in 1/s and `a = d²x/dt²` in 1/s². The 3×3 algebra is written out by
//! hand on the six unique entries of the symmetric covariance: no matrix library, no heap.
//!
//! # Calibration (noise from the data, per symbol)
//!
//! Every noise is a multiple of one level `L`, the variance of `ln p` that one trade adds
//! (dimensionless, log-price², so independent of the price scale):
//!
//! - process noise per trade: `Q = L·[(1 − w) + w·dt/m_dt]` on `x` (a share `1 − w` per trade,
//!   a share `w` growing with the time `dt` since the last trade, `m_dt` the mean time per trade)
//!   plus a white jerk of intensity `q_j = L/(m_dt·τ⁴)` (1/s⁵) entering `Q` through
//!   `[[dt⁵/20, dt⁴/8, dt³/6], [dt⁴/8, dt³/3, dt²/2], [dt³/6, dt²/2, dt]]`: `τ` is the memory of
//!   the velocity estimate, in seconds;
//! - measurement noise (bid-ask bounce, several prices in one millisecond): `R = ρ·L`.
//!
//! The gains depend only on the shape (`ρ`, `w`, `τ`, `m_dt`), not on `L`: scaling `Q`, `R`
//! and `P` by one factor leaves `K` unchanged and scales `S` and `P` by it. So the filter runs
//! in units of `L` (`P₁`, `S₁ = P₁⁻ₓₓ + ρ`) and `L` is estimated by covariance matching with an
//! exponential window of `1/α` trades, without feedback on the state:
//! `L ← L + α_n·(y²/S₁ − L)`, `α_n = max(α, 1/(n + n₀))` (a running mean over the first
//! trades, the prior `level0` counting as `n₀` trades); `m_dt` is the same kind of mean of `dt`.
//! Reported variances are `S = L⁻·S₁` (with the level before this trade, so the normalised
//! innovation `NIS = y²/S` is a one-step prediction check) and `P = L·P₁`. Both estimates
//! survive a restart after a gap (they describe the symbol, not the current path).
//!
//! On the bundled Binance trades the variance of a trade-to-trade move hardly grows with `dt`
//! (trades cluster when the price moves), hence the per-trade share; half of it still scales
//! with `dt` so a long quiet gap widens the band. `L` is bounded by `[level_min, level_max]`,
//! a safety bound that the calibration does not reach on real data.

use serde::Deserialize;

/// `[kalman]`: noise shape, calibration windows, initial uncertainty and safety limits.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KalmanParams {
    /// `ρ`: measurement noise `R = ρ·L` as a multiple of the per-trade variance, ≥ 0.
    pub r_ratio: f64,
    /// `w`: share of the per-trade variance that grows with `dt` (`dt/m_dt`), in [0, 1].
    pub dt_share: f64,
    /// `τ`: memory of the velocity estimate, seconds (jerk intensity `L/(m_dt·τ⁴)`), > 0.
    pub memory_s: f64,
    /// Calibrate `L` and `m_dt` from the data; `false` keeps `level0` and `dt0_s`.
    pub adaptive: bool,
    /// `α`: weight of each trade's `y²/S₁` in `L` (a window of `1/α` trades), in (0, 1].
    pub level_alpha: f64,
    /// Weight of each trade's `dt` in the mean time per trade `m_dt`, in (0, 1].
    pub dt_alpha: f64,
    /// `n₀`: trades the priors `level0` and `dt0_s` count for at the start, ≥ 1.
    pub prior_trades: f64,
    /// Prior per-trade variance of `ln p`, `L` before any data (> 0).
    pub level0: f64,
    /// Prior mean time per trade, seconds (> 0); `m_dt` never goes below 1 ms.
    pub dt0_s: f64,
    /// Safety bounds of `L` (never the calibration): `0 < level_min ≤ level_max`.
    pub level_min: f64,
    /// Upper safety bound of `L`.
    pub level_max: f64,
    /// Initial standard deviation of `v`, 1/s.
    pub sigma_v0: f64,
    /// Initial standard deviation of `a`, 1/s².
    pub sigma_a0: f64,
    /// Output clamp of `|v|`, 1/s (a 100 %/s move is not a market, it is a bad tick).
    pub v_max: f64,
    /// Output clamp of `|a|`, 1/s².
    pub a_max: f64,
}

impl Default for KalmanParams {
    fn default() -> Self {
        Self {
            r_ratio: 1.0,
            dt_share: 0.5,
            memory_s: 30.0,
            adaptive: true,
            level_alpha: 0.001,
            dt_alpha: 0.01,
            prior_trades: 20.0,
            level0: 1e-10,
            dt0_s: 0.1,
            level_min: 1e-18,
            level_max: 1e-4,
            sigma_v0: 1e-3,
            sigma_a0: 1e-4,
            v_max: 1.0,
            a_max: 1.0,
        }
    }
}

/// Smallest mean time per trade, seconds (the trade stamps' resolution).
const MIN_MEAN_DT: f64 = 1e-3;

impl KalmanParams {
    /// Checks every key; the error names it (`kalman.<key>`).
    pub fn validate(&self) -> Result<(), String> {
        let pos = |k: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("kalman.{k}: must be a positive number, got {v}"))
            }
        };
        let unit = |k: &str, v: f64| {
            if v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(format!("kalman.{k}: must be in (0, 1], got {v}"))
            }
        };
        if !(self.r_ratio.is_finite() && self.r_ratio >= 0.0) {
            return Err(format!("kalman.r_ratio: must be ≥ 0, got {}", self.r_ratio));
        }
        if !(0.0..=1.0).contains(&self.dt_share) {
            return Err(format!(
                "kalman.dt_share: must be in [0, 1], got {}",
                self.dt_share
            ));
        }
        pos("memory_s", self.memory_s)?;
        unit("level_alpha", self.level_alpha)?;
        unit("dt_alpha", self.dt_alpha)?;
        if !(self.prior_trades.is_finite() && self.prior_trades >= 1.0) {
            return Err(format!(
                "kalman.prior_trades: must be ≥ 1, got {}",
                self.prior_trades
            ));
        }
        pos("level0", self.level0)?;
        pos("dt0_s", self.dt0_s)?;
        pos("level_min", self.level_min)?;
        pos("level_max", self.level_max)?;
        pos("sigma_v0", self.sigma_v0)?;
        pos("sigma_a0", self.sigma_a0)?;
        pos("v_max", self.v_max)?;
        pos("a_max", self.a_max)?;
        if !(self.level_min <= self.level0 && self.level0 <= self.level_max) {
            return Err(format!(
                "kalman.level_min/level0/level_max: need level_min ≤ level0 ≤ level_max, got {}, {} and {}",
                self.level_min, self.level0, self.level_max
            ));
        }
        Ok(())
    }
}

/// The filter output after one tick. Rates are of log price.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KalmanEstimate {
    /// Filtered log price `x`.
    pub x: f64,
    /// Velocity `v`, 1/s (clamped to `±v_max`).
    pub v: f64,
    /// Acceleration `a`, 1/s² (clamped to `±a_max`).
    pub a: f64,
    /// Variance of `v`, `P_vv = L·P₁,vv` (1/s²).
    pub p_vv: f64,
    /// Variance of `a`, `P_aa = L·P₁,aa` (1/s⁴).
    pub p_aa: f64,
    /// Innovation `y = z − x⁻` of this tick (log price).
    pub innovation: f64,
    /// Innovation variance of the one-step prediction, `S = L⁻·(P₁⁻ₓₓ + ρ)` (log price²).
    pub innovation_var: f64,
    /// Normalised innovation squared `y²/S` (≈ 1 on average when calibrated).
    pub nis: f64,
    /// Calibrated per-trade variance `L` of `ln p`.
    pub level: f64,
    /// Measurement noise `R = ρ·L` (log price²).
    pub r: f64,
    /// Jerk intensity `q_j = L/(m_dt·τ⁴)` (1/s⁵).
    pub q_jerk: f64,
    /// Mean time per trade `m_dt`, seconds.
    pub mean_dt: f64,
    /// `L` sits at `level_min` or `level_max`.
    pub clamped: bool,
    /// Time steps (`dt > 0`) since the last (re)start.
    pub steps: u32,
}

/// One symbol's filter: 128 bytes, `Copy`, no heap.
///
/// Invariants: the covariance (in units of `L`) is stored as its six unique entries (so it is
/// symmetric by construction); its diagonal stays positive (a non-finite or non-positive
/// diagonal restarts the filter at the current measurement); `level_min ≤ L ≤ level_max`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kalman {
    x: [f64; 3],
    /// `P₁` entries `[p00, p01, p02, p11, p12, p22]`, in units of `L`.
    p: [f64; 6],
    /// Exchange time of the last tick that advanced time, Unix ms.
    last_ts_ms: u64,
    /// Per-trade variance `L` (0 until the first tick sets the prior).
    level: f64,
    /// Mean time per trade `m_dt`, seconds.
    mean_dt: f64,
    y: f64,
    /// `S = L⁻·S₁` of the last tick (log price²).
    s: f64,
    /// Trades seen by the calibration (saturating).
    n: u32,
    steps: u32,
    started: bool,
}

impl Kalman {
    /// Feeds one measurement `z = ln p` at exchange time `ts_ms`. `dt` is the time since the last
    /// tick in seconds; `dt = 0` (same millisecond, or an out-of-order tick) adds the per-trade
    /// noise without advancing time; `dt > reset_gap_s` restarts the state (the calibration is
    /// kept). A non-finite `z` is ignored.
    #[inline]
    pub fn update(
        &mut self,
        k: &KalmanParams,
        z: f64,
        ts_ms: u64,
        reset_gap_s: f64,
    ) -> KalmanEstimate {
        if !z.is_finite() {
            return self.estimate(k);
        }
        if !self.started {
            self.level = k.level0;
            self.mean_dt = k.dt0_s;
            self.restart(k, z, ts_ms);
            return self.estimate(k);
        }
        let dt = ts_ms.saturating_sub(self.last_ts_ms) as f64 * 1e-3;
        if dt > reset_gap_s {
            self.restart(k, z, ts_ms);
            return self.estimate(k);
        }
        // `1/(n + n₀)`, shared by the `m_dt` and `L` updates of this trade.
        let mut inv_n = 0.0;
        if k.adaptive {
            self.n = self.n.saturating_add(1);
            inv_n = 1.0 / (f64::from(self.n) + k.prior_trades);
            let w = inv_n.max(k.dt_alpha);
            self.mean_dt = (self.mean_dt + w * (dt - self.mean_dt)).max(MIN_MEAN_DT);
        }
        if dt > 0.0 {
            self.predict(k, dt);
            self.last_ts_ms = ts_ms;
            self.steps = self.steps.saturating_add(1);
        } else {
            // `dt = 0` (most trades share a millisecond with the one before): `A = I` and the
            // jerk block vanishes, so the prediction only adds the per-trade share `1 − w` to
            // `P₁,xx` (the same sums as `predict` with every `dt` term an exact zero).
            self.p[0] += 1.0 - k.dt_share;
        }
        self.correct(k, z, inv_n);
        // One sum is non-finite iff some term is (NaN and ±∞ propagate; an overflow to ∞ is
        // as much a reason to restart): cheaper than nine separate checks.
        let [x0, x1, x2] = self.x;
        let [p0, p1, p2, p3, p4, p5] = self.p;
        let finite = (x0 + x1 + x2 + p0 + p1 + p2 + p3 + p4 + p5).is_finite();
        if !finite || p0 <= 0.0 || p3 <= 0.0 || p5 <= 0.0 {
            self.restart(k, z, ts_ms);
        }
        self.estimate(k)
    }

    /// `x⁻ = A·x`, `P₁⁻ = A·P₁·Aᵀ + Q₁` with `A = [[1, dt, dt²/2], [0, 1, dt], [0, 0, 1]]`,
    /// `Q₁ = (1 − w + w·dt/m_dt)` on `xx` plus the white-jerk block of intensity `1/(m_dt·τ⁴)`.
    #[inline]
    fn predict(&mut self, k: &KalmanParams, dt: f64) {
        let inv_m = 1.0 / self.mean_dt;
        let q_trade = (1.0 - k.dt_share) + k.dt_share * dt * inv_m;
        let t2 = k.memory_s * k.memory_s;
        let q = inv_m / (t2 * t2);
        let h = 0.5 * dt * dt;
        let [x, v, a] = self.x;
        self.x = [x + v * dt + a * h, v + a * dt, a];
        let [p00, p01, p02, p11, p12, p22] = self.p;
        // M = A·P (rows 0 and 1; row 2 is P's row 2).
        let m00 = p00 + dt * p01 + h * p02;
        let m01 = p01 + dt * p11 + h * p12;
        let m02 = p02 + dt * p12 + h * p22;
        let m11 = p11 + dt * p12;
        let m12 = p12 + dt * p22;
        // P⁻ = M·Aᵀ + Q.
        let dt2 = dt * dt;
        let dt3 = dt2 * dt;
        let dt4 = dt3 * dt;
        let dt5 = dt4 * dt;
        self.p = [
            m00 + dt * m01 + h * m02 + q * dt5 / 20.0 + q_trade,
            m01 + dt * m02 + q * dt4 / 8.0,
            m02 + q * dt3 / 6.0,
            m11 + dt * m12 + q * dt3 / 3.0,
            m12 + q * dt2 / 2.0,
            p22 + q * dt,
        ];
    }

    /// Update with `H = [1, 0, 0]`: `y = z − x⁻₀`, `S₁ = P₁⁻₀₀ + ρ`, `K = P₁⁻·Hᵀ/S₁`,
    /// `x = x⁻ + K·y`, Joseph form `P₁ = (I − KH)·P₁⁻·(I − KH)ᵀ + K·ρ·Kᵀ`, which for this `H` is
    /// `P_ij − K_i·P_0j − P_i0·K_j + S₁·K_i·K_j`, evaluated on the symmetric entries. Then the
    /// level: `L ← clamp(L + α_n·(y²/S₁ − L))` (`inv_n = 1/(n + n₀)`, `α_n = max(α, inv_n)`).
    #[inline]
    fn correct(&mut self, k: &KalmanParams, z: f64, inv_n: f64) {
        let [p00, p01, p02, p11, p12, p22] = self.p;
        let s = p00 + k.r_ratio;
        let inv_s = 1.0 / s;
        let g = [p00 * inv_s, p01 * inv_s, p02 * inv_s];
        let y = z - self.x[0];
        self.x[0] += g[0] * y;
        self.x[1] += g[1] * y;
        self.x[2] += g[2] * y;
        let c = |i: usize, j: usize, pij: f64, p0i: f64, p0j: f64| {
            pij - g[i] * p0j - p0i * g[j] + s * g[i] * g[j]
        };
        self.p = [
            c(0, 0, p00, p00, p00),
            c(0, 1, p01, p00, p01),
            c(0, 2, p02, p00, p02),
            c(1, 1, p11, p01, p01),
            c(1, 2, p12, p01, p02),
            c(2, 2, p22, p02, p02),
        ];
        self.y = y;
        self.s = self.level * s;
        if k.adaptive {
            let w = inv_n.max(k.level_alpha);
            let u = y * y * inv_s;
            self.level = (self.level + w * (u - self.level)).clamp(k.level_min, k.level_max);
        }
    }

    /// Restarts the state at `z`: `x = [z, 0, 0]`, `P = diag(ρ·L, σ_v0², σ_a0²)` (in units of
    /// `L`: `diag(ρ, σ_v0²/L, σ_a0²/L)`). The calibration (`L`, `m_dt`) is kept.
    fn restart(&mut self, k: &KalmanParams, z: f64, ts_ms: u64) {
        let inv_l = 1.0 / self.level;
        self.x = [z, 0.0, 0.0];
        self.p = [
            k.r_ratio.max(f64::MIN_POSITIVE),
            0.0,
            0.0,
            k.sigma_v0 * k.sigma_v0 * inv_l,
            0.0,
            k.sigma_a0 * k.sigma_a0 * inv_l,
        ];
        self.last_ts_ms = ts_ms;
        self.y = 0.0;
        self.s = self.level * (self.p[0] + k.r_ratio);
        self.steps = 0;
        self.started = true;
    }

    /// Exchange time of the last tick that advanced time, Unix ms (0 before the first).
    #[inline]
    pub fn last_ts_ms(&self) -> u64 {
        self.last_ts_ms
    }

    /// The full covariance `[p00, p01, p02, p11, p12, p22]` in log-price units (`L·P₁`).
    pub fn covariance(&self) -> [f64; 6] {
        self.p.map(|p| p * self.level)
    }

    #[inline]
    fn estimate(&self, k: &KalmanParams) -> KalmanEstimate {
        let l = self.level;
        let s = self.s;
        let t2 = k.memory_s * k.memory_s;
        KalmanEstimate {
            x: self.x[0],
            v: self.x[1].clamp(-k.v_max, k.v_max),
            a: self.x[2].clamp(-k.a_max, k.a_max),
            p_vv: l * self.p[3],
            p_aa: l * self.p[5],
            innovation: self.y,
            innovation_var: s,
            nis: if s > 0.0 { self.y * self.y / s } else { 0.0 },
            level: l,
            r: k.r_ratio * l,
            q_jerk: if self.mean_dt > 0.0 {
                l / (self.mean_dt * t2 * t2)
            } else {
                0.0
            },
            mean_dt: self.mean_dt,
            clamped: l <= k.level_min || l >= k.level_max,
            steps: self.steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn run(
        k: &KalmanParams,
        n: usize,
        dt_ms: u64,
        f: impl Fn(f64, usize) -> f64,
    ) -> (Kalman, KalmanEstimate) {
        let mut kf = Kalman::default();
        let mut e = KalmanEstimate::default();
        for i in 0..n {
            let t = (i as u64 * dt_ms) as f64 * 1e-3;
            e = kf.update(k, f(t, i), T0 + i as u64 * dt_ms, 60.0);
        }
        (kf, e)
    }

    fn is_pd(p: [f64; 6]) -> bool {
        let [a, b, c, d, e, f] = p;
        let m2 = a * d - b * b;
        let det = a * (d * f - e * e) - b * (b * f - e * c) + c * (b * e - d * c);
        a > 0.0 && m2 > 0.0 && det > 0.0
    }

    /// Standard normal draws from a seeded LCG (Box–Muller).
    fn gauss(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        let mut uniform = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        move || {
            let (u1, u2) = (uniform(), uniform());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
    }

    #[test]
    fn kalman_tracks_constant_velocity_within_1e_9() {
        let k = KalmanParams {
            adaptive: false,
            ..KalmanParams::default()
        };
        let c = 3e-4;
        let (kf, e) = run(&k, 3000, 100, |t, _| 50_000f64.ln() + c * t);
        assert!((e.v - c).abs() < 1e-9, "v = {}", e.v);
        assert!(e.a.abs() < 1e-9, "a = {}", e.a);
        assert!(is_pd(kf.covariance()));
    }

    #[test]
    fn kalman_tracks_constant_acceleration_within_1e_9() {
        let k = KalmanParams {
            adaptive: false,
            ..KalmanParams::default()
        };
        let acc = 2e-6;
        let (_, e) = run(&k, 3000, 100, |t, _| 3_000f64.ln() + 0.5 * acc * t * t);
        assert!((e.a - acc).abs() < 1e-9, "a = {}", e.a);
        let t_end = 2999.0 * 0.1;
        assert!((e.v - acc * t_end).abs() < 1e-8, "v = {}", e.v);
    }

    /// Known noises: `x` = constant velocity plus a random walk adding `q` per trade, measured
    /// with white noise of variance `r = ρ·q`, 10 trades/s for 10⁵ trades. The calibrated level
    /// converges to `q` and `R` to `r` within 10 % (the window of 1000 trades has a relative
    /// standard error of ≈ 3 %); the mean NIS is within 0.1 of 1 and the 95 % band covers
    /// 94–96 % of the next measurements.
    #[test]
    fn calibration_recovers_known_process_and_measurement_noise() {
        for (q, rho) in [(1e-10f64, 1.0), (4e-12, 4.0), (2.5e-9, 0.25)] {
            let k = KalmanParams {
                r_ratio: rho,
                ..KalmanParams::default()
            };
            let mut n = gauss(7);
            let (mut kf, mut walk, c) = (Kalman::default(), 0.0, 2e-5);
            let (mut nis, mut covered, mut m) = (0.0, 0u32, 0u32);
            let mut e = KalmanEstimate::default();
            for i in 0..100_000u64 {
                walk += q.sqrt() * n();
                let t = i as f64 * 0.1;
                let z = 100f64.ln() + c * t + walk + (rho * q).sqrt() * n();
                e = kf.update(&k, z, T0 + i * 100, 60.0);
                if i >= 5_000 {
                    nis += e.nis;
                    covered += u32::from(e.innovation.abs() <= 1.96 * e.innovation_var.sqrt());
                    m += 1;
                }
            }
            let (nis, cover) = (nis / f64::from(m), f64::from(covered) / f64::from(m));
            assert!(
                (e.level / q - 1.0).abs() < 0.1,
                "L = {} vs q = {q}",
                e.level
            );
            assert!((e.r / (rho * q) - 1.0).abs() < 0.1, "R = {}", e.r);
            assert!((e.mean_dt - 0.1).abs() < 1e-9, "m_dt = {}", e.mean_dt);
            assert!((nis - 1.0).abs() < 0.1, "mean NIS = {nis}");
            assert!((0.94..=0.96).contains(&cover), "coverage = {cover}");
            assert!(!e.clamped && is_pd(kf.covariance()));
        }
    }

    #[test]
    fn noisy_constant_velocity_converges_within_three_sigma() {
        let k = KalmanParams::default();
        let c = 1e-4;
        let mut n = gauss(12345);
        let mut kf = Kalman::default();
        let mut e = KalmanEstimate::default();
        for i in 0..20_000u64 {
            let t = i as f64 * 0.1;
            e = kf.update(&k, 100f64.ln() + c * t + 1e-5 * n(), T0 + i * 100, 60.0);
        }
        let sd = e.p_vv.sqrt();
        assert!(
            (e.v - c).abs() < 3.0 * sd && (e.v - c).abs() < 2e-5,
            "v = {}, sd = {sd}",
            e.v
        );
        assert!(is_pd(kf.covariance()));
    }

    #[test]
    fn same_timestamp_updates_without_advancing_time() {
        let k = KalmanParams::default();
        let mut kf = Kalman::default();
        for i in 0..10 {
            kf.update(&k, 100f64.ln() + 1e-4 * i as f64, T0 + i * 1000, 60.0);
        }
        let before = kf.last_ts_ms();
        let steps = kf.update(&k, 100.5f64.ln(), before, 60.0).steps;
        let e = kf.update(&k, 100.6f64.ln(), before, 60.0);
        assert_eq!(kf.last_ts_ms(), before);
        assert_eq!(e.steps, steps);
        assert!(e.v.is_finite() && e.a.is_finite() && is_pd(kf.covariance()));
    }

    #[test]
    fn gap_restarts_the_state_but_keeps_the_calibration() {
        let k = KalmanParams::default();
        let mut kf = Kalman::default();
        for i in 0..10 {
            kf.update(&k, 100f64.ln() + 1e-3 * i as f64, T0 + i * 1000, 60.0);
        }
        let e = kf.update(&k, f64::NAN, T0 + 11_000, 60.0);
        assert!(e.v.is_finite() && e.steps == 9);
        let level = e.level;
        assert!(level != k.level0);
        let e = kf.update(&k, 200f64.ln(), T0 + 100_000, 60.0);
        assert_eq!(e.steps, 0);
        assert_eq!(e.v, 0.0);
        assert_eq!(e.x, 200f64.ln());
        assert_eq!(e.level, level);
    }

    #[test]
    fn level_follows_the_innovations_and_stays_in_its_safety_bounds() {
        let k = KalmanParams {
            level_max: 1e-9,
            ..KalmanParams::default()
        };
        // ±1e-4 bounce (variance 1e-8 per trade) needs a level above the 1e-9 bound.
        let (_, e) = run(&k, 5000, 100, |_, i| {
            100f64.ln() + if i % 2 == 0 { 1e-4 } else { -1e-4 }
        });
        assert!(e.clamped && e.level == 1e-9, "L = {}", e.level);
        let (_, e) = run(&KalmanParams::default(), 5000, 100, |_, i| {
            100f64.ln() + if i % 2 == 0 { 1e-4 } else { -1e-4 }
        });
        assert!(!e.clamped && e.level > 1e-9, "L = {}", e.level);
    }

    #[test]
    fn size_is_small() {
        assert!(std::mem::size_of::<Kalman>() <= 128);
    }
}
