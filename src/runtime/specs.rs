//! Wires the cold spec refresh ([`crate::exec::spec_refresh`]) into a run: the execution
//! stage's spec ring and the control handle's command ring.

use std::sync::Arc;

use crate::config::Config;
use crate::control::ControlHandle;
use crate::exec::spec_refresh::{self, SpecRefresh, Watched};
use crate::exec::specs::{SpecOrigin, SpecSource};
use crate::exec::stage::ExecStage;
use crate::exec::ExecMode;

use super::symbols::Universe;

/// Spec changes queued for the execution thread at most.
const SPEC_RING: usize = 1024;

/// Starts the refresh when the run's specs come from the venue (`venue.specs.refresh_s` >
/// 0 and the start-up specs were the venue's or its cache, not the bundled table); returns
/// `exec` with the spec ring attached and the refresh (dropping it stops the thread).
pub fn start_refresh(
    cfg: &Config,
    universe: &Universe,
    handle: &Arc<ControlHandle>,
    exec: ExecStage,
) -> Result<(ExecStage, Option<SpecRefresh>), String> {
    let s = &super::symbols::specs_config(cfg);
    let live = cfg.exec.mode == ExecMode::Live;
    let from_venue = !matches!(universe.origin, SpecOrigin::Bundled(_));
    if s.effective(live) != SpecSource::Venue || s.refresh_s <= 0.0 || !from_venue {
        return Ok((exec, None));
    }
    let (tx, rx) = crate::ring::channel(SPEC_RING).map_err(|e| format!("spec ring: {e}"))?;
    let h = handle.clone();
    let watched = Watched {
        names: universe.table.names().to_vec(),
        instruments: universe.instruments.clone(),
    };
    let refresh = spec_refresh::start(cfg.venue(), s, watched, tx, Box::new(move |c| h.send(c)))
        .map_err(|e| format!("spec refresh thread: {e}"))?;
    println!(
        "specs: refreshed from the venue every {} s on a cold thread",
        s.refresh_s
    );
    Ok((exec.with_specs(rx), Some(refresh)))
}
