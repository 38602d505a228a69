//! The seed tutorial's schedule (official.nlp `create_optimizer`): the learning rate rises
//! linearly from 0 over the warm-up steps, then follows PolynomialDecay(power 1) to 0 at the last
//! step — evaluated at the global step, as TF's WarmUp wrapper does.

#[derive(Clone, Copy, Debug)]
pub struct WarmupLinear {
    pub init_lr: f32,
    pub total_steps: u32,
    pub warmup_steps: u32,
}

impl WarmupLinear {
    /// The usual split: warm-up over the first `fraction` of the steps (the seed: 0.1).
    pub fn new(init_lr: f32, total_steps: u32, fraction: f32) -> WarmupLinear {
        WarmupLinear { init_lr, total_steps: total_steps.max(1), warmup_steps: (fraction * total_steps as f32) as u32 }
    }

    /// Learning rate used for optimizer step `step` (0-based).
    pub fn lr(&self, step: u32) -> f32 {
        if step < self.warmup_steps {
            return self.init_lr * step as f32 / self.warmup_steps as f32;
        }
        self.init_lr * (1.0 - step.min(self.total_steps) as f32 / self.total_steps as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::WarmupLinear;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let s = WarmupLinear::new(3e-5, 100, 0.1);
        assert_eq!(s.warmup_steps, 10);
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 1.5e-5).abs() < 1e-12);
        assert!((s.lr(10) - 2.7e-5).abs() < 1e-11);
        assert!(s.lr(50) < s.lr(20));
        assert_eq!(s.lr(100), 0.0);
    }
}
