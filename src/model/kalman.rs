//! Constant-acceleration Kalman filter on log price (MATH.md §3): state `s = [x, v, a]ᵀ` with
//! `x = ln p`, `v = dx/dt` in 1/s and `a = d²x/dt²` in 1/s². The 3×3 algebra is written out by
//! hand on the six unique entries of the symmetric covariance: no matrix library, no heap.

use serde::Deserialize;

/// `[kalman]`: filter noise, initial uncertainty, adaptation and safety limits.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KalmanParams {
    /// White-noise jerk intensity `q` (1/s⁵ · s = variance of `a` gained per second), ≥ 0.
    pub q: f64,
    /// Measurement noise `R`: variance of the log-price noise, > 0 (≈ (half-spread/price)²).
    pub r: f64,
    /// Initial standard deviation of `v`, 1/s.
    pub sigma_v0: f64,
    /// Initial standard deviation of `a`, 1/s².
    pub sigma_a0: f64,
    /// Scale `R` from the innovation sequence (normalised innovation `y²/S` kept near 1).
    pub adaptive: bool,
    /// EWMA weight of each tick's `y²/S` in the tracked normalised innovation, in (0, 1].
    pub adapt_alpha: f64,
    /// Gain of the `R` scale: `scale ← scale·(1 + gain·(nis − 1))`, step clamped to [½, 2].
    pub adapt_gain: f64,
    /// Lower bound of the `R` scale (MATH.md: 0.1×).
    pub min_scale: f64,
    /// Upper bound of the `R` scale (MATH.md: 10×).
    pub max_scale: f64,
    /// Output clamp of `|v|`, 1/s (a 100 %/s move is not a market, it is a bad tick).
    pub v_max: f64,
    /// Output clamp of `|a|`, 1/s².
    pub a_max: f64,
}

impl Default for KalmanParams {
    fn default() -> Self {
        Self {
            q: 1e-18,
            r: 1e-10,
            sigma_v0: 1e-3,
            sigma_a0: 1e-4,
            adaptive: true,
            adapt_alpha: 0.02,
            adapt_gain: 0.01,
            min_scale: 0.1,
            max_scale: 10.0,
            v_max: 1.0,
            a_max: 1.0,
        }
    }
}

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
        if !(self.q.is_finite() && self.q >= 0.0) {
            return Err(format!("kalman.q: must be ≥ 0, got {}", self.q));
        }
        pos("r", self.r)?;
        pos("sigma_v0", self.sigma_v0)?;
        pos("sigma_a0", self.sigma_a0)?;
        pos("v_max", self.v_max)?;
        pos("a_max", self.a_max)?;
        pos("min_scale", self.min_scale)?;
        pos("max_scale", self.max_scale)?;
        if !(self.adapt_alpha > 0.0 && self.adapt_alpha <= 1.0) {
            return Err(format!(
                "kalman.adapt_alpha: must be in (0, 1], got {}",
                self.adapt_alpha
            ));
        }
        if !(self.adapt_gain.is_finite() && self.adapt_gain >= 0.0) {
            return Err(format!(
                "kalman.adapt_gain: must be ≥ 0, got {}",
                self.adapt_gain
            ));
        }
        if self.min_scale > 1.0 || self.max_scale < 1.0 {
            return Err(format!(
                "kalman.min_scale/max_scale: need min_scale ≤ 1 ≤ max_scale, got {} and {}",
                self.min_scale, self.max_scale
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
    /// Variance of `v`, `P_vv` (1/s²).
    pub p_vv: f64,
    /// Variance of `a`, `P_aa` (1/s⁴).
    pub p_aa: f64,
    /// Innovation `y = z − x⁻` of this tick (log price).
    pub innovation: f64,
    /// Innovation variance `S = P⁻_xx + R·scale`.
    pub innovation_var: f64,
    /// Current adaptive scale of `R`, in `[min_scale, max_scale]`.
    pub r_scale: f64,
    /// Time steps (`dt > 0`) since the last (re)start.
    pub steps: u32,
}

/// One symbol's filter: 120 bytes, `Copy`, no heap.
///
/// Invariants: the covariance is stored as its six unique entries (so it is symmetric by
/// construction); its diagonal stays positive (a non-finite or non-positive diagonal restarts
/// the filter at the current measurement).
#[derive(Clone, Copy, Debug, Default)]
pub struct Kalman {
    x: [f64; 3],
    /// `P` entries `[p00, p01, p02, p11, p12, p22]`.
    p: [f64; 6],
    /// Exchange time of the last tick that advanced time, Unix ms.
    last_ts_ms: u64,
    /// EWMA of the normalised innovation `y²/S` (1 when the noise model is right).
    nis: f64,
    r_scale: f64,
    y: f64,
    s: f64,
    steps: u32,
    started: bool,
}

impl Kalman {
    /// Feeds one measurement `z = ln p` at exchange time `ts_ms`. `dt` is the time since the last
    /// tick in seconds; `dt = 0` (same millisecond, or an out-of-order tick) updates without
    /// predicting; `dt > reset_gap_s` restarts. A non-finite `z` is ignored.
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
            self.restart(k, z, ts_ms);
            return self.estimate(k);
        }
        let dt = ts_ms.saturating_sub(self.last_ts_ms) as f64 * 1e-3;
        if dt > reset_gap_s {
            self.restart(k, z, ts_ms);
            return self.estimate(k);
        }
        if dt > 0.0 {
            self.predict(k.q, dt);
            self.last_ts_ms = ts_ms;
            self.steps = self.steps.saturating_add(1);
        }
        self.correct(k, z);
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

    /// `x⁻ = A·x`, `P⁻ = A·P·Aᵀ + Q` with `A = [[1, dt, dt²/2], [0, 1, dt], [0, 0, 1]]` and
    /// `Q = q·[[dt⁵/20, dt⁴/8, dt³/6], [dt⁴/8, dt³/3, dt²/2], [dt³/6, dt²/2, dt]]`.
    #[inline]
    fn predict(&mut self, q: f64, dt: f64) {
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
        // P⁻ = M·Aᵀ.
        let dt2 = dt * dt;
        let dt3 = dt2 * dt;
        let dt4 = dt3 * dt;
        let dt5 = dt4 * dt;
        self.p = [
            m00 + dt * m01 + h * m02 + q * dt5 / 20.0,
            m01 + dt * m02 + q * dt4 / 8.0,
            m02 + q * dt3 / 6.0,
            m11 + dt * m12 + q * dt3 / 3.0,
            m12 + q * dt2 / 2.0,
            p22 + q * dt,
        ];
    }

    /// Update with `H = [1, 0, 0]`: `y = z − x⁻₀`, `S = P⁻₀₀ + R`, `K = P⁻·Hᵀ/S`, `x = x⁻ + K·y`,
    /// Joseph form `P = (I − KH)·P⁻·(I − KH)ᵀ + K·R·Kᵀ`, which for this `H` is
    /// `P_ij − K_i·P_0j − P_i0·K_j + S·K_i·K_j`, evaluated on the symmetric entries.
    #[inline]
    fn correct(&mut self, k: &KalmanParams, z: f64) {
        let r = k.r * self.r_scale;
        let [p00, p01, p02, p11, p12, p22] = self.p;
        let s = p00 + r;
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
        self.s = s;
        if k.adaptive {
            let nis = y * y * inv_s;
            self.nis += k.adapt_alpha * (nis - self.nis);
            let step = (1.0 + k.adapt_gain * (self.nis - 1.0)).clamp(0.5, 2.0);
            self.r_scale = (self.r_scale * step).clamp(k.min_scale, k.max_scale);
        }
    }

    /// Restarts at `z`: `x = [z, 0, 0]`, `P = diag(r, σ_v0², σ_a0²)`.
    fn restart(&mut self, k: &KalmanParams, z: f64, ts_ms: u64) {
        *self = Self {
            x: [z, 0.0, 0.0],
            p: [
                k.r,
                0.0,
                0.0,
                k.sigma_v0 * k.sigma_v0,
                0.0,
                k.sigma_a0 * k.sigma_a0,
            ],
            last_ts_ms: ts_ms,
            nis: 1.0,
            r_scale: 1.0,
            y: 0.0,
            s: k.r,
            steps: 0,
            started: true,
        };
    }

    /// Exchange time of the last tick that advanced time, Unix ms (0 before the first).
    #[inline]
    pub fn last_ts_ms(&self) -> u64 {
        self.last_ts_ms
    }

    /// The full covariance `[p00, p01, p02, p11, p12, p22]` (tests, diagnostics).
    pub fn covariance(&self) -> [f64; 6] {
        self.p
    }

    #[inline]
    fn estimate(&self, k: &KalmanParams) -> KalmanEstimate {
        KalmanEstimate {
            x: self.x[0],
            v: self.x[1].clamp(-k.v_max, k.v_max),
            a: self.x[2].clamp(-k.a_max, k.a_max),
            p_vv: self.p[3],
            p_aa: self.p[5],
            innovation: self.y,
            innovation_var: self.s,
            r_scale: self.r_scale,
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

    #[test]
    fn noisy_constant_velocity_converges_within_three_sigma() {
        // Deterministic noise (LCG), σ = 1e-5 in log price, i.e. R matched.
        let k = KalmanParams::default();
        let c = 1e-4;
        let mut seed = 12345u64;
        let mut noise = move || {
            let mut u = 0.0;
            for _ in 0..12 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                u += (seed >> 11) as f64 / (1u64 << 53) as f64;
            }
            (u - 6.0) * 1e-5
        };
        let mut kf = Kalman::default();
        let mut e = KalmanEstimate::default();
        for i in 0..20_000u64 {
            let t = i as f64 * 0.1;
            e = kf.update(&k, 100f64.ln() + c * t + noise(), T0 + i * 100, 60.0);
        }
        let sd = e.p_vv.sqrt();
        assert!(
            (e.v - c).abs() < 3.0 * sd.max(1e-6) && (e.v - c).abs() < 2e-5,
            "v = {}, sd = {sd}",
            e.v
        );
        assert!(e.r_scale >= 0.1 && e.r_scale <= 10.0);
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
    fn gap_and_non_finite_input_restart_or_are_ignored() {
        let k = KalmanParams::default();
        let mut kf = Kalman::default();
        for i in 0..10 {
            kf.update(&k, 100f64.ln() + 1e-3 * i as f64, T0 + i * 1000, 60.0);
        }
        let e = kf.update(&k, f64::NAN, T0 + 11_000, 60.0);
        assert!(e.v.is_finite() && e.steps == 9);
        let e = kf.update(&k, 200f64.ln(), T0 + 100_000, 60.0);
        assert_eq!(e.steps, 0);
        assert_eq!(e.v, 0.0);
        assert_eq!(e.x, 200f64.ln());
    }

    #[test]
    fn adaptation_raises_r_scale_when_noise_exceeds_r() {
        let k = KalmanParams {
            r: 1e-12,
            ..KalmanParams::default()
        };
        let (_, e) = run(&k, 5000, 100, |_, i| {
            100f64.ln() + if i % 2 == 0 { 1e-4 } else { -1e-4 }
        });
        assert!(e.r_scale > 5.0, "scale = {}", e.r_scale);
        assert!(e.r_scale <= 10.0);
    }

    #[test]
    fn size_is_small() {
        assert!(std::mem::size_of::<Kalman>() <= 128);
    }
}
