//! The venue clock: offset of the venue's time from ours, estimated from time-endpoint round
//! trips, behind every signed request's timestamp.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Venue clock offset from time-endpoint round trips (NTP-style midpoint estimate).
///
/// For a request sent at local `t0`, answered with server time `s`, received at local `t1`:
/// `offset = s − (t0 + t1) / 2`, uncertainty `± (t1 − t0) / 2`. The sample with the smallest
/// round trip among the last [`ClockSync::WINDOW`] wins (least queueing noise). Venue time is
/// `local + offset`; requests are stamped with it and sent with a recvWindow that must exceed
/// the one-way delay plus the uncertainty.
#[derive(Clone, Debug, Default)]
pub struct ClockSync {
    samples: Vec<(i64, u64)>,
    best: Option<(i64, u64)>,
}

impl ClockSync {
    /// Samples kept.
    pub const WINDOW: usize = 8;

    /// No samples yet (offset 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one round trip (`t0`, `t1` local Unix ms, `server_ms` from the reply). Returns the
    /// sample's offset. A round trip with `t1 < t0` (local clock stepped back) is ignored.
    pub fn add_sample(&mut self, t0_ms: u64, server_ms: u64, t1_ms: u64) -> Option<i64> {
        if t1_ms < t0_ms {
            return None;
        }
        let rtt = t1_ms - t0_ms;
        // offset = s − (t0 + t1)/2, in i128 to avoid overflow, rounded to nearest.
        let mid2 = t0_ms as i128 + t1_ms as i128;
        let off = ((2 * server_ms as i128 - mid2) as f64 / 2.0).round() as i64;
        if self.samples.len() == Self::WINDOW {
            self.samples.remove(0);
        }
        self.samples.push((off, rtt));
        self.best = self.samples.iter().copied().min_by_key(|&(_, r)| r);
        Some(off)
    }

    /// Current offset (venue − local), ms; 0 before the first sample.
    pub fn offset_ms(&self) -> i64 {
        self.best.map_or(0, |(o, _)| o)
    }

    /// Round trip of the sample in use, ms.
    pub fn best_rtt_ms(&self) -> Option<u64> {
        self.best.map(|(_, r)| r)
    }

    /// `true` once at least one sample was taken.
    pub fn is_synced(&self) -> bool {
        self.best.is_some()
    }

    /// Venue time for local Unix ms `local_ms`.
    pub fn venue_ms(&self, local_ms: u64) -> u64 {
        (local_ms as i64).saturating_add(self.offset_ms()).max(0) as u64
    }

    /// Forgets every sample (after a timestamp error: re-sync from scratch).
    pub fn reset(&mut self) {
        self.samples.clear();
        self.best = None;
    }

    /// Checks that `recv_window_ms` covers the measured round trip with margin (recvWindow
    /// must exceed one-way delay + offset uncertainty ≈ RTT); a clear error otherwise.
    pub fn check_recv_window(&self, recv_window_ms: u64) -> Result<(), String> {
        if recv_window_ms == 0 || recv_window_ms > 60_000 {
            return Err(format!(
                "recvWindow {recv_window_ms} ms must be in 1..=60000"
            ));
        }
        match self.best_rtt_ms() {
            Some(rtt) if rtt.saturating_mul(2) > recv_window_ms => Err(format!(
                "recvWindow {recv_window_ms} ms is too small for the measured round trip {rtt} ms"
            )),
            _ => Ok(()),
        }
    }
}

/// The venue clock offset shared between the cold thread that measures it and the hot path
/// that stamps requests with it: `venue ms = local ms + offset` (one atomic load, no lock).
/// A timestamp error asks for a re-sync ([`VenueClock::request_resync`]); every store of a new
/// offset bumps the generation, so a request waiting for the re-sync knows when it came.
#[derive(Debug, Default)]
pub struct VenueClock {
    offset_ms: AtomicI64,
    generation: AtomicU64,
    resync: AtomicBool,
}

impl VenueClock {
    /// Offset 0, generation 0, no re-sync asked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Venue − local, ms.
    #[inline]
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Acquire)
    }

    /// Venue time for local Unix ms `local_ms`.
    #[inline]
    pub fn venue_ms(&self, local_ms: u64) -> u64 {
        (local_ms as i64).saturating_add(self.offset_ms()).max(0) as u64
    }

    /// Number of offsets stored so far.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores a measured offset, clears a pending re-sync request and bumps the generation.
    pub fn store(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Release);
        self.resync.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Asks the clock thread for a re-sync (after a timestamp error); returns the generation
    /// the new offset will replace.
    #[inline]
    pub fn request_resync(&self) -> u64 {
        self.resync.store(true, Ordering::Release);
        self.generation()
    }

    /// `true` while a re-sync was asked for and not yet done.
    pub fn resync_requested(&self) -> bool {
        self.resync.load(Ordering::Acquire)
    }
}

/// What the execution thread and the account thread (cold) share, lock-free: the venue clock,
/// the balance generation (bumped by every balance read the engine was given), a balance
/// refresh request (after an insufficient-margin refusal), and the symbols the venue refused
/// for their leverage or risk limit (Binance -2027/-2028/-4028, Bybit 110013/110016).
#[derive(Debug)]
pub struct AccountLink {
    /// The venue clock requests are stamped with.
    pub clock: VenueClock,
    balance_generation: AtomicU64,
    refresh: AtomicBool,
    refused: Vec<AtomicBool>,
}

impl AccountLink {
    /// A link for `n_symbols` symbols (allocated here, never on the hot path).
    pub fn new(n_symbols: usize) -> Self {
        Self {
            clock: VenueClock::new(),
            balance_generation: AtomicU64::new(0),
            refresh: AtomicBool::new(false),
            refused: (0..n_symbols).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Balance reads handed to the engine so far.
    #[inline]
    pub fn balance_generation(&self) -> u64 {
        self.balance_generation.load(Ordering::Acquire)
    }

    /// A new balance was handed to the engine: clears the refresh request.
    pub fn balance_read(&self) {
        self.refresh.store(false, Ordering::Release);
        self.balance_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Asks the account thread to read the balance now.
    #[inline]
    pub fn request_balance(&self) {
        self.refresh.store(true, Ordering::Release);
    }

    /// `true` while a balance read was asked for.
    pub fn balance_requested(&self) -> bool {
        self.refresh.load(Ordering::Acquire)
    }

    /// Marks symbol `i` refused by the venue for its leverage / risk limit.
    #[inline]
    pub fn refuse(&self, i: usize) {
        if let Some(f) = self.refused.get(i) {
            f.store(true, Ordering::Release);
        }
    }

    /// Takes the refused mark of symbol `i` (the account thread reports each once).
    pub fn take_refused(&self, i: usize) -> bool {
        self.refused
            .get(i)
            .is_some_and(|f| f.swap(false, Ordering::AcqRel))
    }

    /// Number of symbols.
    pub fn n_symbols(&self) -> usize {
        self.refused.len()
    }
}

/// Local wall clock, Unix ms (cold path: request stamping before sync, tests).
pub fn local_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offset_is_the_midpoint_of_the_fastest_round_trip() {
        let mut c = ClockSync::new();
        assert_eq!(c.venue_ms(1000), 1000);
        // Sent at 1000, server says 1600, received at 1100: offset 550 ± 50.
        assert_eq!(c.add_sample(1000, 1600, 1100), Some(550));
        // A slower sample (rtt 400) does not replace it.
        assert_eq!(c.add_sample(2000, 2900, 2400), Some(700));
        assert_eq!(c.offset_ms(), 550);
        assert_eq!(c.best_rtt_ms(), Some(100));
        // A faster one does.
        assert_eq!(c.add_sample(3000, 3520, 3010), Some(515));
        assert_eq!(c.offset_ms(), 515);
        assert_eq!(c.venue_ms(10_000), 10_515);
        // Negative offsets (local clock ahead).
        let mut n = ClockSync::new();
        n.add_sample(10_000, 9_000, 10_020);
        assert_eq!(n.offset_ms(), -1010);
        assert_eq!(n.add_sample(5, 5, 4), None);
        n.reset();
        assert!(!n.is_synced());
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut c = ClockSync::new();
        c.add_sample(0, 100, 2); // best rtt 2, offset 99
        for i in 0..ClockSync::WINDOW as u64 {
            c.add_sample(1000 * (i + 1), 1000 * (i + 1) + 10, 1000 * (i + 1) + 20);
        }
        assert_eq!(c.offset_ms(), 0, "the rtt-2 sample was pushed out");
        assert_eq!(c.best_rtt_ms(), Some(20));
    }

    #[test]
    fn recv_window_must_cover_the_round_trip() {
        let mut c = ClockSync::new();
        assert!(c.check_recv_window(5000).is_ok());
        assert!(c.check_recv_window(0).is_err());
        assert!(c.check_recv_window(60_001).is_err());
        c.add_sample(0, 0, 3000);
        let e = c.check_recv_window(5000).unwrap_err();
        assert!(e.contains("3000"), "{e}");
        assert!(c.check_recv_window(10_000).is_ok());
    }
}
