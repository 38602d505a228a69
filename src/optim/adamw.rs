//! AdamW over a parameter store: global-norm clip, decoupled weight decay on the parameters
//! marked for it, bias correction — all on the GPU, no read-back.

use std::sync::Arc;

use crate::autograd::ParamStore;
use crate::checkpoint::{load_tensors, save_tensors, HostTensor};
use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::adamw::{adamw_update_guarded, AdamwStep};
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
    /// First and second moments, one view per parameter in the order of the parameter store,
    /// into buffers laid out like the store's arenas.
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// The moment buffers, one per arena: what each step updates in one dispatch.
    m_arenas: Vec<Tensor>,
    v_arenas: Vec<Tensor>,
    /// Σ g² over all gradients of the last step (1).
    pub norm_sq: Tensor,
    /// (2) u32: [0] set when a loss-scaled gradient overflowed f16 this step
    /// (`convert::to_f16_checked`), [1] set by the update when it skipped the step.
    pub status: Tensor,
}

impl AdamW {
    /// Moments at zero for every parameter of a packed store (`ParamStore::pack`).
    pub fn new(gpu: &Arc<Gpu>, params: &ParamStore, config: AdamWConfig) -> Result<AdamW, GpuError> {
        let (mut m_arenas, mut v_arenas) = (Vec::new(), Vec::new());
        for (k, a) in params.arenas.iter().enumerate() {
            m_arenas.push(gpu.zeros(&format!("adam m (arena {k})"), a.values.shape())?);
            v_arenas.push(gpu.zeros(&format!("adam v (arena {k})"), a.values.shape())?);
        }
        let (mut m, mut v) = (Vec::with_capacity(params.len()), Vec::with_capacity(params.len()));
        for p in params.iter() {
            let Some((k, start)) = p.slot else {
                return Err(GpuError::Shape(format!("optimizer: parameter {} is not packed into an arena", p.name)));
            };
            m.push(m_arenas[k].view(&format!("{} (adam m)", p.name), start, p.value.shape())?);
            v.push(v_arenas[k].view(&format!("{} (adam v)", p.name), start, p.value.shape())?);
        }
        Ok(AdamW {
            config,
            step: 0,
            m,
            v,
            m_arenas,
            v_arenas,
            norm_sq: gpu.zeros("gradient norm²", &[1])?,
            status: gpu.upload_u32("optimizer status (overflow, skipped)", &[2], &[0, 0])?,
        })
    }

    /// One update of every parameter from its gradient, at learning rate `lr`: the global
    /// gradient norm, then one AdamW dispatch per arena.
    pub fn update(&mut self, gpu: &Arc<Gpu>, params: &ParamStore, lr: f32) -> Result<(), GpuError> {
        self.update_scaled(gpu, params, lr, None)
    }

    /// Clears `status` before a step's backward.
    pub fn clear_status(&self, gpu: &Gpu) -> Result<(), GpuError> {
        gpu.fill_zero(&self.status)
    }

    /// `update` for gradients of a loss multiplied by `loss_scale` (mixed precision): they are
    /// divided by it, and the step is skipped on the GPU when one overflowed (see `status`).
    /// The host learns of a skip from `status[1]` and calls `undo_skipped`.
    pub fn update_scaled(
        &mut self,
        gpu: &Arc<Gpu>,
        params: &ParamStore,
        lr: f32,
        loss_scale: Option<f32>,
    ) -> Result<(), GpuError> {
        if params.len() != self.m.len() || params.arenas.len() != self.m_arenas.len() {
            return Err(GpuError::Shape(format!(
                "optimizer holds {} states in {} arenas for {} parameters in {}",
                self.m.len(),
                self.m_arenas.len(),
                params.len(),
                params.arenas.len()
            )));
        }
        // The norm over the trainable gradients only: a frozen prefix holds zeros.
        let grads: Vec<&Tensor> = params.arenas.iter().filter_map(|a| a.trainable_grads()).collect();
        reduce::global_sumsq(gpu, &grads, &self.norm_sq)?;
        self.step += 1;
        let c = self.config;
        let h = AdamwStep {
            lr,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
            step: self.step,
            max_norm: c.max_grad_norm,
            grad_scale: loss_scale.map_or(1.0, |s| 1.0 / s),
            check_finite: loss_scale.is_some(),
            first: 0,
        };
        for (k, a) in params.arenas.iter().enumerate() {
            if a.first_trainable() >= a.values.numel() {
                continue; // all frozen
            }
            let (m, v) = (&self.m_arenas[k], &self.v_arenas[k]);
            let h = AdamwStep { first: a.first_trainable(), ..h };
            adamw_update_guarded(gpu, &h, &a.values, &a.grads, m, v, &a.decay, &self.norm_sq, &self.status)?;
        }
        Ok(())
    }

    /// A step the GPU skipped does not count: the next one uses this one's bias correction.
    pub fn undo_skipped(&mut self) {
        self.step = self.step.saturating_sub(1);
    }
}

impl AdamW {
    /// Writes the moments and the step count to `path` (atomically), keyed by parameter name.
    pub fn save(&self, path: &std::path::Path, params: &ParamStore) -> anyhow::Result<()> {
        let mut tensors = Vec::with_capacity(2 * params.len());
        for (i, p) in params.iter().enumerate() {
            let shape = p.value.shape().to_vec();
            tensors.push((format!("m/{}", p.name), HostTensor::new(shape.clone(), self.m[i].to_vec()?)));
            tensors.push((format!("v/{}", p.name), HostTensor::new(shape, self.v[i].to_vec()?)));
        }
        let meta = std::collections::HashMap::from([("step".to_string(), self.step.to_string())]);
        save_tensors(path, &tensors, meta)?;
        Ok(())
    }

    /// Restores what `save` wrote, checking every parameter's moments are there with its shape.
    pub fn load(&mut self, gpu: &Arc<Gpu>, path: &std::path::Path, params: &ParamStore) -> anyhow::Result<()> {
        let (tensors, meta) = load_tensors(path)?;
        // Check everything before writing anything: a bad file leaves the state as it was.
        let mut found = Vec::with_capacity(2 * params.len());
        for (i, p) in params.iter().enumerate() {
            for (kind, dst) in [("m", &self.m[i]), ("v", &self.v[i])] {
                let name = format!("{kind}/{}", p.name);
                let t = tensors
                    .get(&name)
                    .ok_or_else(|| anyhow::anyhow!("{}: optimizer state {name} is missing", path.display()))?;
                if t.shape != p.value.shape() {
                    anyhow::bail!(
                        "{}: optimizer state {name} has shape {:?}, the parameter {:?}",
                        path.display(),
                        t.shape,
                        p.value.shape()
                    );
                }
                found.push((dst, t));
            }
        }
        let step = meta.get("step").and_then(|s| s.parse().ok());
        let step = step.ok_or_else(|| anyhow::anyhow!("{}: no step count in the metadata", path.display()))?;
        for (dst, t) in found {
            gpu.write(dst, bytemuck::cast_slice(&t.data))?;
        }
        self.step = step;
        Ok(())
    }
}
