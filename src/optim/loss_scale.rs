//! Dynamic loss scaling for mixed precision, as `torch.cuda.amp.GradScaler` does it: the loss
//! is multiplied by `scale` so that small gradients survive rounding to f16; a step whose
//! gradients overflowed f16 is skipped on the GPU and halves the scale; 2000 clean steps in a
//! row double it.

use serde::{Deserialize, Serialize};

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

    /// Accounts for one step: halves the scale after a skipped one, doubles it after
    /// `GROWTH_INTERVAL` clean ones in a row. Never leaves the normal f32 range.
    pub fn after_step(&mut self, skipped: bool) {
        if skipped {
            self.scale = (self.scale * 0.5).max(f32::MIN_POSITIVE);
            self.clean_steps = 0;
            self.skipped_in_a_row += 1;
            self.skipped += 1;
        } else {
            self.skipped_in_a_row = 0;
            self.clean_steps += 1;
            if self.clean_steps == GROWTH_INTERVAL {
                self.scale = (self.scale * 2.0).min(f32::MAX / 2.0);
                self.clean_steps = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_overflow_and_doubles_after_a_clean_stretch() {
        let mut s = LossScale::new(65536.0);
        s.after_step(true);
        s.after_step(true);
        assert_eq!((s.scale, s.skipped, s.skipped_in_a_row), (16384.0, 2, 2));
        for _ in 0..GROWTH_INTERVAL - 1 {
            s.after_step(false);
        }
        assert_eq!((s.scale, s.skipped_in_a_row), (16384.0, 0));
        s.after_step(false);
        assert_eq!((s.scale, s.clean_steps), (32768.0, 0));
        // A skip resets the clean stretch.
        for _ in 0..10 {
            s.after_step(false);
        }
        s.after_step(true);
        assert_eq!((s.scale, s.clean_steps, s.skipped), (16384.0, 0, 3));
    }
}
