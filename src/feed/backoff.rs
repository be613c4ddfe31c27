//! Reconnect delays: exponential backoff with jitter.
//!
//! Attempt `n` (0-based) waits `d_n = min(cap, base · 2^n)` scaled by a uniform factor in
//! `[1 − jitter, 1]`: with base 1 s, cap 32 s the nominal delays are 1, 2, 4, 8, 16, 32, 32, … s,
//! and jitter spreads reconnecting clients so they do not hit the venue in lock-step.
//! A refused connect (HTTP 429 / 418) waits `max(d_n, Retry-After)`
//! ([`Backoff::next_delay_at_least_ns`]).

/// Backoff state of one connection.
#[derive(Clone, Debug)]
pub struct Backoff {
    base_ns: u64,
    cap_ns: u64,
    jitter: f64,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// `base_ms`, `cap_ms` > 0; `jitter` in [0, 1] (fraction of the delay that is random);
    /// `seed` makes the jitter sequence reproducible (any value; 0 is remapped).
    pub fn new(base_ms: u64, cap_ms: u64, jitter: f64, seed: u64) -> Self {
        Self {
            base_ns: base_ms.max(1) * 1_000_000,
            cap_ns: cap_ms.max(base_ms).max(1) * 1_000_000,
            jitter: jitter.clamp(0.0, 1.0),
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// The nominal delay of attempt `n`: `min(cap, base · 2^n)`, ns.
    pub fn nominal_ns(&self, n: u32) -> u64 {
        let shift = n.min(62);
        self.base_ns
            .checked_mul(1u64 << shift)
            .map_or(self.cap_ns, |d| d.min(self.cap_ns))
    }

    /// The delay before the next attempt (ns), then counts the attempt.
    pub fn next_delay_ns(&mut self) -> u64 {
        let d = self.nominal_ns(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*: uniform u in [0, 1).
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let u = (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        (d as f64 * (1.0 - self.jitter * u)) as u64
    }

    /// [`Backoff::next_delay_ns`], but at least `floor_ns` (the venue's `Retry-After`).
    pub fn next_delay_at_least_ns(&mut self, floor_ns: u64) -> u64 {
        self.next_delay_ns().max(floor_ns)
    }

    /// The longest nominal delay, ns.
    pub fn cap_ns(&self) -> u64 {
        self.cap_ns
    }

    /// Attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to the base delay (after a connection proved healthy).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_delays_double_up_to_the_cap() {
        let b = Backoff::new(1000, 32_000, 0.0, 7);
        let secs: Vec<u64> = (0..8).map(|n| b.nominal_ns(n) / 1_000_000_000).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 32, 32]);
        assert_eq!(b.nominal_ns(200), 32_000_000_000, "no overflow far out");
    }

    #[test]
    fn jittered_delays_stay_in_band_and_vary() {
        let mut b = Backoff::new(10, 320, 0.5, 42);
        let mut seen = Vec::new();
        for n in 0..40 {
            let nominal = b.nominal_ns(n);
            let d = b.next_delay_ns();
            assert!(
                d <= nominal && d >= nominal / 2,
                "attempt {n}: {d} vs {nominal}"
            );
            seen.push(d);
        }
        // At the cap the nominal is constant, so differing delays are the jitter.
        let capped: std::collections::HashSet<_> = seen[10..].iter().collect();
        assert!(capped.len() > 20, "jitter should spread delays: {capped:?}");
        b.reset();
        assert_eq!(b.attempts(), 0);
        let d = b.next_delay_ns();
        assert!((5_000_000..=10_000_000).contains(&d));
    }

    #[test]
    fn a_retry_after_floor_outlasts_the_backoff_and_never_shortens_it() {
        let mut b = Backoff::new(10, 200, 0.5, 3);
        assert_eq!(b.next_delay_at_least_ns(30_000_000_000), 30_000_000_000);
        assert_eq!(b.attempts(), 1, "a refusal counts as an attempt");
        let mut c = Backoff::new(1000, 32_000, 0.0, 3);
        assert_eq!(c.next_delay_at_least_ns(1), 1_000_000_000);
    }

    #[test]
    fn zero_jitter_is_exactly_nominal() {
        let mut b = Backoff::new(1000, 32_000, 0.0, 1);
        let got: Vec<u64> = (0..7).map(|_| b.next_delay_ns() / 1_000_000).collect();
        assert_eq!(got, vec![1000, 2000, 4000, 8000, 16000, 32000, 32000]);
    }
}
