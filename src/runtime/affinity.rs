//! Core pinning. `core_affinity::get_core_ids()` returns the *calling thread's* allowed CPUs,
//! so it is called once, before any thread pins itself, and the list is passed around.

use core_affinity::CoreId;

/// The CPUs this process may run on, read once at start-up.
#[derive(Clone, Debug)]
pub struct AllowedCores(Vec<CoreId>);

impl AllowedCores {
    /// Reads the allowed CPUs (call before any thread pins itself).
    pub fn detect() -> Self {
        Self(core_affinity::get_core_ids().unwrap_or_default())
    }

    /// A fixed list (tests).
    pub fn from_ids(ids: &[usize]) -> Self {
        Self(ids.iter().map(|&id| CoreId { id }).collect())
    }

    /// Number of allowed CPUs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the list could not be read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `core` is allowed.
    pub fn contains(&self, core: usize) -> bool {
        self.0.iter().any(|c| c.id == core)
    }

    /// The allowed core ids.
    pub fn ids(&self) -> Vec<usize> {
        self.0.iter().map(|c| c.id).collect()
    }
}

/// Pins the calling thread to `core`. On failure (core not allowed, or the OS refuses) prints
/// one clear warning and leaves the thread unpinned: the run goes on, slower but correct.
pub fn pin_current(role: &str, core: usize, allowed: &AllowedCores) -> bool {
    if !allowed.contains(core) {
        eprintln!(
            "warning: {role} thread: core {core} is not among the allowed cores {:?}; running unpinned",
            allowed.ids()
        );
        return false;
    }
    if core_affinity::set_for_current(CoreId { id: core }) {
        true
    } else {
        eprintln!("warning: {role} thread: pinning to core {core} failed; running unpinned");
        false
    }
}

/// The calling thread's CPU mask as it was when taken; put back on drop. `runtime::run` pins its
/// caller to the cold core; a program that calls it again (a bench, a test) gets its whole
/// mask back instead of inheriting that pin.
#[derive(Debug)]
pub struct MaskGuard(Option<rustix::thread::CpuSet>);

impl MaskGuard {
    /// Takes the calling thread's current mask (none kept if it cannot be read).
    pub fn take() -> Self {
        Self(rustix::thread::sched_getaffinity(None).ok())
    }
}

impl Drop for MaskGuard {
    fn drop(&mut self) {
        if let Some(set) = &self.0 {
            let _ = rustix::thread::sched_setaffinity(None, set);
        }
    }
}
