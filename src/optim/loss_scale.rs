//! Dynamic loss scaling for mixed precision, as `torch.cuda.amp.GradScaler` does it: the loss
//! is multiplied by `scale` so that small gradients survive rounding to f16; a step whose
//! gradients overflowed f16 is skipped and halves the scale; 2000 clean steps in a row double
//! it. The GPU keeps the scale and applies these rules (`ops::adamw::adamw_begin`), so steps
//! can be queued; the host holds the copy it read back with the last step's loss, which a
//! checkpoint saves.

use serde::{Deserialize, Serialize};

use crate::ops::adamw::control;

/// Clean steps in a row before the scale doubles (GradScaler's growth_interval).
pub const GROWTH_INTERVAL: u32 = 2000;
/// Skipped steps in a row that end a run: the gradients are not finite at any scale.
pub const MAX_SKIPPED_IN_A_ROW: u32 = 64;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LossScale {
    pub scale: f32,
    /// Clean steps since the scale last changed.
    pub clean_steps: u32,
    /// Steps skipped in a row, and in the whole run.
    pub skipped_in_a_row: u32,
    pub skipped: u64,
}

impl LossScale {
    pub fn new(initial: f32) -> LossScale {
        LossScale { scale: initial, clean_steps: 0, skipped_in_a_row: 0, skipped: 0 }
    }

    /// Takes the scale from the optimizer's control words as a step left them
    /// (`ops::adamw::control`), counting the step if it was skipped.
    pub fn observe(&mut self, words: &[u32]) {
        self.scale = f32::from_bits(words[control::LOSS_SCALE]);
        self.clean_steps = words[control::CLEAN_STEPS];
        self.skipped_in_a_row = words[control::SKIPPED_IN_A_ROW];
        self.skipped += (words[control::SKIPPED] != 0) as u64;
    }
}
