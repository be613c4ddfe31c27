//! The operator surface, on cold threads only: the handle through which operators reach the
//! running engine (commands in, status out), and the HTTP control API, dashboard and metrics
//! built on it. Nothing here runs on a pinned thread.

pub mod handle;

pub use handle::ControlHandle;
