//! The learned filter's state file at run time: restored at start-up (a corrupt file refuses
//! the start), written by the monitor whenever the compute thread published new labels —
//! including its last round, after the compute thread stopped, which writes the run's final
//! state (see [`crate::strategy::learned::state`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::strategy::learned::{state, LearnedFilter, Published, Snapshot};

/// The state file and the compute thread's published state (cold side).
#[derive(Clone, Debug)]
pub struct LearnedFile {
    path: PathBuf,
    published: Arc<Published>,
    /// Labels in the file (0: none written, or a fresh model).
    saved_labels: u64,
    save_failed: bool,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// With `strategy.learned.enabled`: restores `filter` from `<journal>.learned.json` (an error,
/// start refused, when the file is corrupt) and makes it publish its state for the monitor.
pub fn setup(
    cfg: &Config,
    journal: &Path,
    filter: &mut LearnedFilter,
) -> Result<Option<LearnedFile>, String> {
    if !cfg.strategy.learned.enabled {
        return Ok(None);
    }
    let path = state::default_path(journal);
    let saved = state::load(&path)
        .map_err(|e| format!("{e}: refusing to start (inspect or move the file away)"))?;
    let labels = saved.as_ref().map_or(0, Snapshot::total_labels);
    if let Some(s) = &saved {
        filter.restore(s);
        println!(
            "start-up: learned filter restored from {}: {} signal + {} trade labels",
            path.display(),
            s.labels[0],
            s.labels[1]
        );
    }
    let published = Arc::new(Published::default());
    filter.publish_to(published.clone());
    Ok(Some(LearnedFile {
        path,
        published,
        saved_labels: labels,
        save_failed: false,
    }))
}

impl LearnedFile {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the published state when it learnt something since the last write (monitor).
    pub fn save_if_changed(&mut self) {
        let Some(s) = self.published.load() else {
            return;
        };
        if self.saved_labels == s.total_labels() {
            return;
        }
        match state::save(&self.path, &s, unix_ms()) {
            Ok(()) => {
                self.saved_labels = s.total_labels();
                self.save_failed = false;
            }
            Err(e) if !self.save_failed => {
                self.save_failed = true;
                eprintln!(
                    "warning: cannot write the learned filter state {}: {e} (retried each status interval)",
                    self.path.display()
                );
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_TOML;
    use crate::strategy::learned::LearnedParams;

    /// Off: no file read. On: a missing file is a cold model; a saved one is restored and the
    /// monitor's save writes only new labels; a corrupt one refuses the start, naming the file.
    #[test]
    fn start_up_restores_saves_and_refuses_a_corrupt_file() {
        let d = std::env::temp_dir().join(format!("learned-rt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let journal = d.join("orders.journal");
        let mut cfg = Config::parse(DEFAULT_TOML).unwrap();
        let p = LearnedParams {
            enabled: true,
            ..LearnedParams::default()
        };
        let mut f = LearnedFilter::new(p, 0.0004, 1);
        assert!(setup(&cfg, &journal, &mut f).unwrap().is_none(), "off");
        cfg.strategy.learned.enabled = true;
        let mut file = setup(&cfg, &journal, &mut f).unwrap().expect("on");
        file.save_if_changed();
        assert!(!file.path().exists(), "nothing learnt, nothing written");
        let mut s = Snapshot::default();
        s.model.w[3] = 0.25;
        s.labels = [7, 2];
        f.restore(&s);
        file.save_if_changed();
        assert_eq!(state::load(file.path()).unwrap(), Some(s));
        let mut g = LearnedFilter::new(p, 0.0004, 1);
        setup(&cfg, &journal, &mut g).unwrap();
        assert_eq!(g.snapshot(), &s, "restored");
        std::fs::write(file.path(), "{\"version\": 1").unwrap();
        let e = setup(&cfg, &journal, &mut g).unwrap_err();
        assert!(
            e.contains("orders.journal.learned.json") && e.contains("refusing to start"),
            "{e}"
        );
        std::fs::remove_dir_all(&d).ok();
    }
}
