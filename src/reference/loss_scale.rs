//! Dynamic loss scaling's rules, as `torch.cuda.amp.GradScaler` applies them after each step:
//! a skipped step (its gradients overflowed f16) halves the scale; `growth` clean steps in a row
//! double it. adamw.wgsl's `adamw_begin` applies them on the GPU; the selftest compares the two.

/// The scale and its counters between steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaler {
    pub scale: f32,
    /// Clean steps since the scale last changed, skipped steps in a row.
    pub clean_steps: u32,
    pub skipped_in_a_row: u32,
}

/// The scaler after one step. The scale never leaves f32's normal range.
pub fn after_step(s: Scaler, skipped: bool, growth: u32) -> Scaler {
    if skipped {
        return Scaler {
            scale: (s.scale * 0.5).max(f32::MIN_POSITIVE),
            clean_steps: 0,
            skipped_in_a_row: s.skipped_in_a_row + 1,
        };
    }
    let clean = s.clean_steps + 1;
    if clean == growth {
        return Scaler { scale: (s.scale * 2.0).min(f32::MAX / 2.0), clean_steps: 0, skipped_in_a_row: 0 };
    }
    Scaler { scale: s.scale, clean_steps: clean, skipped_in_a_row: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_overflow_and_doubles_after_a_clean_stretch() {
        let growth = 2000;
        let mut s = Scaler { scale: 65536.0, clean_steps: 0, skipped_in_a_row: 0 };
        s = after_step(after_step(s, true, growth), true, growth);
        assert_eq!((s.scale, s.skipped_in_a_row), (16384.0, 2));
        for _ in 0..growth - 1 {
            s = after_step(s, false, growth);
        }
        assert_eq!((s.scale, s.skipped_in_a_row), (16384.0, 0));
        s = after_step(s, false, growth);
        assert_eq!((s.scale, s.clean_steps), (32768.0, 0));
        // A skip resets the clean stretch.
        for _ in 0..10 {
            s = after_step(s, false, growth);
        }
        s = after_step(s, true, growth);
        assert_eq!((s.scale, s.clean_steps), (16384.0, 0));
        // Neither way past f32's normal range.
        let tiny = Scaler { scale: f32::MIN_POSITIVE, clean_steps: 0, skipped_in_a_row: 0 };
        assert_eq!(after_step(tiny, true, growth).scale, f32::MIN_POSITIVE);
        let huge = Scaler { scale: f32::MAX / 2.0, clean_steps: growth - 1, skipped_in_a_row: 0 };
        assert_eq!(after_step(huge, false, growth).scale, f32::MAX / 2.0);
    }
}
