//! Saving and restoring a run's state: parameters, optimizer moments, position and history.
//!
//! Each save goes to a new folder `checkpoints/step-N/`; only when all of it is on disk does
//! the file `checkpoints/latest` (written atomically) name it, and older folders are removed.
//! A run killed at any moment therefore leaves the previous complete checkpoint loadable.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::{History, Trainer};

/// Where in the run the state was taken, with the running sums of the current epoch.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Position {
    pub epoch: usize,
    pub step_in_epoch: usize,
    pub global_step: u64,
    pub loss_sum: f64,
    pub correct: f64,
    pub seen: usize,
    pub epoch_seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct Progress {
    position: Position,
    history: History,
    /// Mixed precision's loss scale (absent in f32 runs and in runs saved before it existed).
    #[serde(default)]
    loss_scale: Option<crate::optim::LossScale>,
}

fn checkpoints(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

pub fn save_state(run: &Path, t: &Trainer) -> Result<()> {
    let name = format!("step-{}", t.pos.global_step);
    let dir = checkpoints(run).join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    t.model
        .params
        .save(&dir.join("params.safetensors"))
        .with_context(|| format!("saving step {}", t.pos.global_step))?;
    t.opt.save(&dir.join("optimizer.safetensors"), &t.model.params)?;
    let progress = Progress { position: t.pos.clone(), history: t.history.clone(), loss_scale: t.loss_scale.clone() };
    crate::fsio::write_atomic(&dir.join("progress.json"), &serde_json::to_vec_pretty(&progress)?)?;
    crate::fsio::write_atomic(&checkpoints(run).join("latest"), name.as_bytes())?;
    // Older checkpoints are no longer needed once `latest` names the new one; the initial
    // weights (step-0, in the Hugging Face layout) are kept for replays.
    for e in std::fs::read_dir(checkpoints(run))?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("step-") && n != name && n != super::INITIAL_CHECKPOINT {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}

/// Restores the latest checkpoint of `run` into the trainer; false when the run has none.
pub fn load_state(run: &Path, t: &mut Trainer) -> Result<bool> {
    let latest = checkpoints(run).join("latest");
    if !latest.is_file() {
        return Ok(false);
    }
    let name = std::fs::read_to_string(&latest).with_context(|| format!("reading {}", latest.display()))?;
    let dir = checkpoints(run).join(name.trim());
    let progress: Progress = serde_json::from_slice(
        &std::fs::read(dir.join("progress.json"))
            .with_context(|| format!("reading {}", dir.join("progress.json").display()))?,
    )
    .with_context(|| format!("{}: not a progress file", dir.join("progress.json").display()))?;
    t.model.params.load(&t.gpu, &dir.join("params.safetensors"))?;
    t.opt.load(&t.gpu, &dir.join("optimizer.safetensors"), &t.model.params)?;
    t.pos = progress.position;
    t.history = progress.history;
    if t.loss_scale.is_some() {
        t.loss_scale = progress.loss_scale.or(t.loss_scale.take());
        if let Some(ls) = &t.loss_scale {
            t.opt.scale_loss(&t.gpu, ls)?;
        }
    }
    Ok(true)
}
