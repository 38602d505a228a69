//! AdamW over a parameter store: global-norm clip, decoupled weight decay on the parameters
//! marked for it, bias correction — all on the GPU, no read-back.

use std::sync::Arc;

use crate::autograd::ParamStore;
use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::adamw::{adamw_update, AdamwStep};
use crate::ops::reduce;

#[derive(Clone, Copy, Debug)]
pub struct AdamWConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Global gradient-norm clip; 0 turns it off.
    pub max_grad_norm: f32,
}

impl Default for AdamWConfig {
    /// BERT fine-tuning's values.
    fn default() -> Self {
        AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.01, max_grad_norm: 1.0 }
    }
}

pub struct AdamW {
    pub config: AdamWConfig,
    /// Steps taken so far.
    pub step: u32,
    /// First and second moments, in the order of the parameter store.
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// Σ g² over all gradients of the last step (1).
    pub norm_sq: Tensor,
}

impl AdamW {
    pub fn new(gpu: &Arc<Gpu>, params: &ParamStore, config: AdamWConfig) -> Result<AdamW, GpuError> {
        let mut m = Vec::with_capacity(params.len());
        let mut v = Vec::with_capacity(params.len());
        for p in params.iter() {
            m.push(gpu.zeros(&format!("{} (adam m)", p.name), p.value.shape())?);
            v.push(gpu.zeros(&format!("{} (adam v)", p.name), p.value.shape())?);
        }
        Ok(AdamW { config, step: 0, m, v, norm_sq: gpu.zeros("gradient norm²", &[1])? })
    }

    /// One update of every parameter from its gradient, at learning rate `lr`.
    pub fn update(&mut self, gpu: &Arc<Gpu>, params: &ParamStore, lr: f32) -> Result<(), GpuError> {
        if params.len() != self.m.len() {
            return Err(GpuError::Shape(format!(
                "optimizer holds {} states for {} parameters",
                self.m.len(),
                params.len()
            )));
        }
        let grads: Vec<&Tensor> = params.iter().map(|p| &p.grad).collect();
        reduce::global_sumsq(gpu, &grads, &self.norm_sq)?;
        self.step += 1;
        let c = self.config;
        for (i, p) in params.iter().enumerate() {
            let h = AdamwStep {
                lr,
                beta1: c.beta1,
                beta2: c.beta2,
                eps: c.eps,
                weight_decay: if p.decay { c.weight_decay } else { 0.0 },
                step: self.step,
                max_norm: c.max_grad_norm,
            };
            adamw_update(gpu, &h, &p.value, &p.grad, &self.m[i], &self.v[i], &self.norm_sq)?;
        }
        Ok(())
    }
}
