//! Orderly shutdown: Ctrl-C / SIGTERM set a flag that every loop checks; rings are then drained.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared stop flag, set by SIGINT/SIGTERM or by code.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A flag that SIGINT and SIGTERM will set. Registration failure is reported, not fatal.
    pub fn with_signals() -> Self {
        let s = Self::default();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            if let Err(e) = signal_hook::flag::register(sig, s.0.clone()) {
                eprintln!("warning: cannot handle signal {sig}: {e}");
            }
        }
        s
    }

    /// Asks everything to stop.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was asked for (one relaxed load: cheap enough for every loop iteration).
    #[inline]
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
