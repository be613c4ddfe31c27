//! How the thread that reads the socket waits when there is nothing to read.

use std::time::Duration;

use crate::config::WaitKind;

/// Socket wait policy: `spin` and `spin_yield` read without waiting (one non-blocking read per
/// loop); `park` blocks in `poll` up to the park timeout.
#[derive(Clone, Copy, Debug)]
pub struct FeedWait {
    kind: WaitKind,
    spins: u32,
    park: Duration,
    empty: u32,
}

impl FeedWait {
    /// A policy of `kind`, yielding every `spins` empty polls (`spin_yield`) or blocking up to
    /// `park` (`park`).
    pub fn new(kind: WaitKind, spins: u32, park: Duration) -> Self {
        Self {
            kind,
            spins: spins.max(1),
            park,
            empty: 0,
        }
    }

    /// The timeout to pass to the socket poll.
    #[inline]
    pub fn timeout(&self) -> Option<Duration> {
        match self.kind {
            WaitKind::Park => Some(self.park),
            WaitKind::Spin | WaitKind::SpinYield => None,
        }
    }

    /// Called after each poll with whether it produced anything.
    #[inline]
    pub fn after_poll(&mut self, got: bool) {
        if got {
            self.empty = 0;
            return;
        }
        match self.kind {
            WaitKind::Spin => std::hint::spin_loop(),
            WaitKind::SpinYield => {
                self.empty += 1;
                if self.empty >= self.spins {
                    self.empty = 0;
                    std::thread::yield_now();
                }
            }
            WaitKind::Park => {}
        }
    }
}
