//! Start-up recovery of an executor from its journal, as the binary runs it.

use std::time::Duration;

use calculus_trader::exec::journal::{Journal, Replayed};
use calculus_trader::exec::recovery::{startup, StartupReport};
use calculus_trader::exec::Executor;
use calculus_trader::risk::config::ReconcilePolicy;

use super::values::now_ms;

/// Gives `exec` the journal `j` and runs start-up recovery of `replayed` under `policy`
/// (wall-clock timestamps, 20 s per venue query).
pub fn recover(
    exec: &mut Executor,
    j: Journal,
    replayed: &mut Replayed,
    policy: ReconcilePolicy,
) -> StartupReport {
    exec.set_journal(j);
    startup(exec, replayed, policy, &now_ms, Duration::from_secs(20)).unwrap()
}
