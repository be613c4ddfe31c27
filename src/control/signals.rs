//! SIGUSR1 = pause, SIGUSR2 = resume: the same commands as the API, for operators with only a
//! shell (`kill -USR1 <pid>`). A cold thread waits on the signals.

use std::sync::Arc;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGUSR1, SIGUSR2};
use signal_hook::iterator::{Handle, Signals};

use super::ControlHandle;
use crate::types::control::Command;

/// The signal thread; stopped by [`SignalControls::stop`] or when dropped.
#[derive(Debug)]
pub struct SignalControls {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl SignalControls {
    /// Stops listening for the signals and joins the thread.
    pub fn stop(self) {}
}

impl Drop for SignalControls {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the thread that turns SIGUSR1 into [`Command::Pause`] and SIGUSR2 into
/// [`Command::Resume`], each logged like an API call.
pub fn spawn_signal_controls(handle: Arc<ControlHandle>) -> Result<SignalControls, String> {
    let mut signals = Signals::new([SIGUSR1, SIGUSR2])
        .map_err(|e| format!("cannot register SIGUSR1/SIGUSR2: {e}"))?;
    let close = signals.handle();
    let thread = std::thread::Builder::new()
        .name("control-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let (name, action, cmd) = if sig == SIGUSR1 {
                    ("SIGUSR1", "pause", Command::Pause)
                } else {
                    ("SIGUSR2", "resume", Command::Resume)
                };
                let outcome = match handle.send(cmd) {
                    Ok(()) => "queued".to_string(),
                    Err(e) => format!("failed: {e}"),
                };
                let t = crate::telemetry::utc_timestamp(std::time::SystemTime::now());
                eprintln!("control {t} from signal {name}: {action}: {outcome}");
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(SignalControls {
        handle: close,
        thread: Some(thread),
    })
}
