//! Exponential smoothing of log price and its finite-difference velocity and acceleration
//! over real elapsed time (MATH.md §1–2).

/// Smoothing and time parameters (validated by the config loader).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DerivParams {
    /// Weight of the new observation, `0 < λ ≤ 1`, used when `tau_s` is `None`.
    pub lambda: f64,
    /// Time-aware smoothing: `λ_t = 1 − exp(−dt/τ)` with `τ` in seconds (irregular ticks).
    pub tau_s: Option<f64>,
    /// A gap between ticks longer than this (seconds) resets the state.
    pub reset_gap_s: f64,
}

impl Default for DerivParams {
    fn default() -> Self {
        Self {
            lambda: 0.75,
            tau_s: None,
            reset_gap_s: 60.0,
        }
    }
}

impl DerivParams {
    /// The weight of the new observation for a step of `dt` seconds.
    #[inline]
    fn weight(&self, dt: f64) -> f64 {
        match self.tau_s {
            Some(tau) => 1.0 - (-dt / tau).exp(),
            None => self.lambda,
        }
    }
}

/// The estimate after one tick. Rates are of log price: `v` in 1/s, `a` in 1/s².
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Smoothed log price `s_t`.
    pub smoothed: f64,
    /// Smoothed velocity `d(ln p)/dt`, 1/s.
    pub velocity: f64,
    /// Smoothed acceleration `d²(ln p)/dt²`, 1/s².
    pub acceleration: f64,
    /// True once two time steps have been seen since the last (re)start, so `a` is defined.
    pub ready: bool,
}

/// Incremental smoothing and derivatives for one symbol. 48 bytes, no heap.
#[derive(Clone, Copy, Debug, Default)]
pub struct Derivatives {
    /// Exchange time of the last tick, Unix ms; 0 before the first tick.
    last_ts_ms: u64,
    /// `s_t = λ·x_t + (1 − λ)·s_{t−1}` on `x = ln p`.
    s: f64,
    /// `v_t = EMA((s_t − s_{t−1}) / dt)`.
    v: f64,
    /// `a_t = EMA((v_t − v_{t−1}) / dt)`.
    a: f64,
    /// Time steps (ticks with `dt > 0`) since the last (re)start; saturates.
    steps: u32,
    started: bool,
}

impl Derivatives {
    /// Feeds one trade at `price` (> 0) and exchange time `ts_ms`.
    ///
    /// Ticks with the same timestamp (`dt = 0`) update the level but not the rates; ticks older
    /// than the last one are treated as `dt = 0` (time never runs backwards); a gap longer than
    /// `reset_gap_s` restarts from this tick.
    #[inline]
    pub fn update(&mut self, p: &DerivParams, price: f64, ts_ms: u64) -> Estimate {
        self.update_log(p, price.ln(), ts_ms)
    }

    /// [`Derivatives::update`] with the log price `x = ln(price)` already computed.
    #[inline]
    pub fn update_log(&mut self, p: &DerivParams, x: f64, ts_ms: u64) -> Estimate {
        if !self.started || !x.is_finite() {
            self.restart(x, ts_ms);
            return self.estimate();
        }
        let dt = ts_ms.saturating_sub(self.last_ts_ms) as f64 * 1e-3;
        if dt > p.reset_gap_s {
            self.restart(x, ts_ms);
            return self.estimate();
        }
        if dt == 0.0 {
            if p.tau_s.is_none() {
                self.s += p.lambda * (x - self.s);
            }
            return self.estimate();
        }
        let w = p.weight(dt);
        let s_prev = self.s;
        self.s += w * (x - self.s);
        let v_raw = (self.s - s_prev) / dt;
        let v_prev = self.v;
        self.v = if self.steps == 0 {
            v_raw
        } else {
            v_prev + w * (v_raw - v_prev)
        };
        if self.steps >= 1 {
            let a_raw = (self.v - v_prev) / dt;
            self.a = if self.steps == 1 {
                a_raw
            } else {
                self.a + w * (a_raw - self.a)
            };
        }
        self.steps = self.steps.saturating_add(1);
        self.last_ts_ms = ts_ms;
        self.estimate()
    }

    /// Exchange time of the last tick that advanced time, Unix ms (0 before the first).
    #[inline]
    pub fn last_ts_ms(&self) -> u64 {
        self.last_ts_ms
    }

    fn restart(&mut self, x: f64, ts_ms: u64) {
        *self = Self {
            last_ts_ms: ts_ms,
            s: if x.is_finite() { x } else { 0.0 },
            v: 0.0,
            a: 0.0,
            steps: 0,
            started: x.is_finite(),
        };
    }

    #[inline]
    fn estimate(&self) -> Estimate {
        Estimate {
            smoothed: self.s,
            velocity: self.v,
            acceleration: self.a,
            ready: self.steps >= 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &DerivParams, n: usize, dt_ms: u64, ln_price: impl Fn(f64) -> f64) -> Estimate {
        let mut d = Derivatives::default();
        let mut e = Estimate::default();
        for i in 0..n {
            let t_ms = 1_700_000_000_000 + i as u64 * dt_ms;
            let t = (i as u64 * dt_ms) as f64 * 1e-3;
            e = d.update(p, ln_price(t).exp(), t_ms);
        }
        e
    }

    #[test]
    fn linear_log_price_gives_constant_velocity_and_zero_acceleration() {
        let c = 2e-4; // 1/s
        for p in [
            DerivParams::default(),
            DerivParams {
                tau_s: Some(2.0),
                ..DerivParams::default()
            },
        ] {
            let e = run(&p, 4000, 100, |t| (50_000.0f64).ln() + c * t);
            assert!(
                (e.velocity - c).abs() < 1e-9,
                "v = {} for {p:?}",
                e.velocity
            );
            assert!(
                e.acceleration.abs() < 1e-8,
                "a = {} for {p:?}",
                e.acceleration
            );
            assert!(e.ready);
        }
    }

    #[test]
    fn quadratic_log_price_gives_constant_acceleration() {
        let k = 1e-5; // 1/s²
        let p = DerivParams::default();
        let e = run(&p, 2000, 100, |t| (3_000.0f64).ln() + 0.5 * k * t * t);
        assert!((e.acceleration - k).abs() < 1e-8, "a = {}", e.acceleration);
        // Velocity lags the true k·t by a constant set by the smoothing; its sign and size hold.
        let t_end = 1999.0 * 0.1;
        assert!((e.velocity - k * t_end).abs() < 2e-3 * k * t_end);
    }

    #[test]
    fn same_timestamp_ticks_do_not_advance_time_or_blow_up() {
        let p = DerivParams::default();
        let mut d = Derivatives::default();
        d.update(&p, 100.0, 1_000);
        d.update(&p, 100.1, 2_000);
        let before = d.update(&p, 100.2, 3_000);
        let same = d.update(&p, 100.3, 3_000);
        assert_eq!(same.velocity, before.velocity);
        assert_eq!(same.acceleration, before.acceleration);
        assert!(same.smoothed > before.smoothed);
        assert!(same.velocity.is_finite() && same.acceleration.is_finite());
    }

    #[test]
    fn gap_longer_than_reset_restarts_the_state() {
        let p = DerivParams::default();
        let mut d = Derivatives::default();
        for i in 0..10 {
            d.update(&p, 100.0 + i as f64, 1_000 * i);
        }
        let e = d.update(&p, 200.0, 10_000 + 61_000);
        assert!(!e.ready);
        assert_eq!(e.velocity, 0.0);
        assert!((e.smoothed - 200f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn out_of_order_tick_is_treated_as_same_time() {
        let p = DerivParams::default();
        let mut d = Derivatives::default();
        d.update(&p, 100.0, 5_000);
        d.update(&p, 101.0, 6_000);
        let e1 = d.update(&p, 102.0, 7_000);
        let e2 = d.update(&p, 50.0, 6_500);
        assert_eq!(e1.velocity, e2.velocity);
        let e3 = d.update(&p, 102.0, 8_000);
        assert!(e3.velocity.is_finite());
    }
}
