//! The operator surface, on cold threads only: the handle through which operators reach the
//! running engine (commands in, status out), and the HTTP control API, dashboard and metrics
//! built on it. Nothing here runs on a pinned thread.

pub mod auth;
pub mod ctl;
pub mod handle;
pub mod metrics;
mod routes;
pub mod server;
pub mod signals;

pub use handle::ControlHandle;
pub use routes::MAX_BREAKER_MINUTES;
pub use server::{spawn, Server, ServerConfig};
pub use signals::{spawn_signal_controls, SignalControls};
