//! Cheap monotonic nanosecond timestamps for the hot path, and their mapping to wall-clock time.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Raw counter value that every non-mock [`Clock`] in the process measures from, so timestamps
/// taken on one thread can be subtracted from timestamps taken on another (the `*_hop` stages).
static PROCESS_EPOCH_RAW: OnceLock<u64> = OnceLock::new();

/// Monotonic clock returning nanoseconds since a process-wide epoch.
///
/// Reads the TSC (through [`quanta`]) and scales it with quanta's one-off calibration, so a
/// reading is an `rdtsc` plus a multiply and shift: no syscall, no lock, no allocation. Where no
/// invariant TSC exists quanta falls back to `CLOCK_MONOTONIC`, which is still nanoseconds.
///
/// All clocks made with [`Clock::new`] (and their clones) share the epoch, so their readings are
/// directly comparable across threads.
#[derive(Debug, Clone)]
pub struct Clock {
    source: quanta::Clock,
    epoch_raw: u64,
}

impl Clock {
    /// Creates a clock on the process-wide epoch.
    ///
    /// The first call in a process calibrates the TSC (up to ~200 ms): do it at start-up, not on
    /// a hot thread.
    pub fn new() -> Self {
        let source = quanta::Clock::new();
        let epoch_raw = *PROCESS_EPOCH_RAW.get_or_init(|| source.raw());
        Self { source, epoch_raw }
    }

    /// Creates a clock driven by hand, for deterministic tests: it reads the mock's value in
    /// nanoseconds, starting at 0.
    pub fn mock() -> (Self, Arc<quanta::Mock>) {
        let (source, mock) = quanta::Clock::mock();
        (
            Self {
                source,
                epoch_raw: 0,
            },
            mock,
        )
    }

    /// Nanoseconds since the process-wide epoch; successive readings never decrease.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        // quanta keeps the nanoseconds of its own `Instant` private; `delta_as_nanos` is the
        // public route to the same multiply-and-shift, and it clamps a counter read behind the
        // epoch (TSC skew between cores) to 0 instead of wrapping.
        self.source
            .delta_as_nanos(self.epoch_raw, self.source.raw())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Maps [`Clock::now_ns`] readings to Unix time without a syscall per call.
///
/// Anchored once at construction. The calibrated TSC and the NTP-disciplined system clock then
/// drift apart by some parts per million (milliseconds per hour or worse), so rebuild it off the
/// hot path (e.g. from the monitor thread every minute) when it stamps exchange requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    anchor_unix_ns: u64,
    anchor_now_ns: u64,
}

impl WallClock {
    /// Anchors `clock` to the current system time.
    pub fn new(clock: &Clock) -> Self {
        // Bracketing the syscall and taking the midpoint halves the anchor error when the thread
        // is preempted around `SystemTime::now`.
        let before = clock.now_ns();
        let unix_time = SystemTime::now();
        let after = clock.now_ns();
        Self::from_anchor(unix_time, before + after.saturating_sub(before) / 2)
    }

    /// Anchors a [`Clock`] reading `now_ns` (nanoseconds) to the wall-clock instant `unix_time`.
    ///
    /// Times before the Unix epoch are treated as the epoch itself.
    pub fn from_anchor(unix_time: SystemTime, now_ns: u64) -> Self {
        let anchor_unix_ns = unix_time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since_epoch| {
                u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
            });
        Self {
            anchor_unix_ns,
            anchor_now_ns: now_ns,
        }
    }

    /// Unix time in milliseconds (rounded down) of the [`Clock`] reading `now_ns` (nanoseconds).
    #[inline]
    pub fn unix_ms(&self, now_ns: u64) -> u64 {
        self.unix_ns(now_ns) / 1_000_000
    }

    /// Unix time in nanoseconds of the [`Clock`] reading `now_ns` (nanoseconds).
    #[inline]
    pub fn unix_ns(&self, now_ns: u64) -> u64 {
        if now_ns >= self.anchor_now_ns {
            self.anchor_unix_ns
                .saturating_add(now_ns - self.anchor_now_ns)
        } else {
            self.anchor_unix_ns
                .saturating_sub(self.anchor_now_ns - now_ns)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::{Duration, Instant};

    #[test]
    fn clock_is_clone_and_send() {
        fn assert_clone_send<T: Clone + Send>() {}
        assert_clone_send::<Clock>();
        assert_clone_send::<WallClock>();
    }

    #[test]
    fn now_ns_never_decreases() {
        let clock = Clock::new();
        let mut previous = clock.now_ns();
        for _ in 0..100_000 {
            let now = clock.now_ns();
            assert!(now >= previous, "clock went back from {previous} to {now}");
            previous = now;
        }
    }

    #[test]
    fn clones_and_new_clocks_share_the_epoch() {
        let first = Clock::new();
        let before = first.now_ns();
        let from_other_thread = thread::spawn(|| Clock::new().now_ns()).join().unwrap();
        let clone_reading = first.clone().now_ns();
        assert!(from_other_thread >= before);
        assert!(clone_reading >= from_other_thread);
    }

    /// Fails if the TSC scaling were wrong (raw ticks instead of nanoseconds would be off by the
    /// TSC frequency in GHz, i.e. 2x or more). The tolerance is loose and the measurement is
    /// retried because the test machine has two noisy cores: only a consistently wrong scale fails.
    #[test]
    fn now_ns_advances_at_the_rate_of_std_instant() {
        let clock = Clock::new();
        let mut ratios = Vec::new();
        for _ in 0..5 {
            let instant_start = Instant::now();
            let clock_start = clock.now_ns();
            thread::sleep(Duration::from_millis(50));
            let clock_end = clock.now_ns();
            let instant_elapsed = instant_start.elapsed().as_nanos() as f64;
            let ratio = (clock_end - clock_start) as f64 / instant_elapsed;
            if (0.8..=1.2).contains(&ratio) {
                return;
            }
            ratios.push(ratio);
        }
        panic!("clock nanoseconds / Instant nanoseconds ratios out of 0.8..=1.2: {ratios:?}");
    }

    #[test]
    fn mock_clock_reads_the_mock_in_nanoseconds() {
        let (clock, mock) = Clock::mock();
        assert_eq!(clock.now_ns(), 0);
        mock.increment(1_500);
        assert_eq!(clock.now_ns(), 1_500);
    }

    #[test]
    fn wall_clock_maps_readings_relative_to_the_anchor() {
        let anchor = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let wall = WallClock::from_anchor(anchor, 5_000_000_000);
        assert_eq!(wall.unix_ms(5_000_000_000), 1_700_000_000_123);
        assert_eq!(wall.unix_ms(5_002_999_999), 1_700_000_000_125);
        assert_eq!(wall.unix_ms(5_003_000_000), 1_700_000_000_126);
        assert_eq!(wall.unix_ms(4_000_000_000), 1_699_999_999_123);
        assert_eq!(wall.unix_ns(5_000_000_007), 1_700_000_000_123_000_007);
    }

    #[test]
    fn wall_clock_saturates_instead_of_wrapping() {
        let wall = WallClock::from_anchor(UNIX_EPOCH + Duration::from_nanos(10), 100);
        assert_eq!(wall.unix_ns(0), 0);
        let wall = WallClock::from_anchor(UNIX_EPOCH + Duration::from_nanos(1_000), 0);
        assert_eq!(wall.unix_ns(u64::MAX), u64::MAX);
    }

    /// The tolerance only catches unit or offset mistakes (which are off by seconds or more), not
    /// anchor jitter from preemption on a noisy machine.
    #[test]
    fn wall_clock_agrees_with_system_time() {
        let clock = Clock::new();
        let wall = WallClock::new(&clock);
        thread::sleep(Duration::from_millis(50));
        let mapped = wall.unix_ms(clock.now_ns());
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(
            mapped.abs_diff(system) <= 500,
            "mapped {mapped} ms vs SystemTime {system} ms"
        );
    }
}
