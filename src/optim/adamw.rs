//! AdamW over a parameter store: global-norm clip, decoupled weight decay on the parameters
//! marked for it, bias correction, mixed precision's loss scale — all on the GPU, no read-back:
//! the step count and the loss scale live in control words on the GPU, so a step can be queued
//! before the host has read the one before.

use std::sync::Arc;

use crate::autograd::ParamStore;
use crate::checkpoint::{load_tensors, save_tensors, HostTensor};
use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::adamw::{adamw_begin, adamw_update, bias_corrections, control, AdamwStep, Scaling};
use crate::ops::reduce;
use crate::optim::{LossScale, GROWTH_INTERVAL};

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
    /// First and second moments, one view per parameter in the order of the parameter store,
    /// into buffers laid out like the store's arenas.
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// The moment buffers, one per arena: what each step updates in one dispatch.
    m_arenas: Vec<Tensor>,
    v_arenas: Vec<Tensor>,
    /// Σ g² over all gradients of the last step (1).
    pub norm_sq: Tensor,
    /// The control words (`ops::adamw::control`): the step count, the loss scale and its
    /// counters, this step's skip flag. The host reads them with a step's loss.
    pub control: Tensor,
    /// `adamw_begin`'s bias corrections for t = 1..=len/2, and an upper bound on t: steps taken
    /// before (restored) plus updates since, which the table is kept long enough for.
    corrections: Tensor,
    max_steps: u64,
    /// Loss scaling (mixed precision): what `adamw_begin` does to the scale.
    scaling: Option<Scaling>,
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
        let table = bias_corrections(config.beta1, config.beta2, CORRECTIONS_CHUNK);
        Ok(AdamW {
            config,
            m,
            v,
            m_arenas,
            v_arenas,
            norm_sq: gpu.zeros("gradient norm²", &[1])?,
            control: gpu.upload_u32("optimizer control words", &[control::WORDS], &control::initial(1.0))?,
            corrections: gpu.upload("adam bias corrections", &[table.len()], &table)?,
            max_steps: 0,
            scaling: None,
        })
    }

    /// Scales the loss (mixed precision) from the next step as `ls` says (a new scale, or a
    /// resumed run's with its counts): the loss is multiplied by the scale and the gradients
    /// divided by it; a step whose gradients overflowed f16 is skipped and halves the scale,
    /// `GROWTH_INTERVAL` clean steps in a row double it.
    pub fn scale_loss(&mut self, gpu: &Gpu, ls: &LossScale) -> Result<(), GpuError> {
        // Three consecutive control words, written at once.
        const _: () = assert!(
            control::CLEAN_STEPS == control::LOSS_SCALE + 1 && control::SKIPPED_IN_A_ROW == control::LOSS_SCALE + 2
        );
        let w = [ls.scale.to_bits(), ls.clean_steps, ls.skipped_in_a_row];
        gpu.write_at(&self.control, control::LOSS_SCALE, bytemuck::cast_slice(&w))?;
        self.scaling = Some(Scaling { growth: GROWTH_INTERVAL });
        Ok(())
    }

    /// Optimizer steps taken, read from the GPU.
    pub fn steps(&self) -> Result<u32, GpuError> {
        Ok(self.control.to_vec_u32()?[control::STEPS])
    }

    /// One update of every parameter from its gradient, at learning rate `lr`: the global
    /// gradient norm, `adamw_begin` (which settles the step in the control words), then one
    /// AdamW dispatch per arena. Under loss scaling (`scale_loss`) the gradients are divided by
    /// the scale and the step is skipped on the GPU when one overflowed; the host learns of a
    /// skip from the control words it reads with the loss.
    pub fn update(&mut self, gpu: &Arc<Gpu>, params: &ParamStore, lr: f32) -> Result<(), GpuError> {
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
        self.max_steps += 1;
        let c = self.config;
        if self.max_steps > (self.corrections.numel() / 2) as u64 {
            let len = (self.max_steps as u32).div_ceil(CORRECTIONS_CHUNK) * CORRECTIONS_CHUNK;
            let table = bias_corrections(c.beta1, c.beta2, len);
            self.corrections = gpu.upload("adam bias corrections", &[table.len()], &table)?;
        }
        adamw_begin(gpu, self.scaling, &self.norm_sq, &self.control, &self.corrections)?;
        let h = AdamwStep {
            lr,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
            max_norm: c.max_grad_norm,
            first: 0,
        };
        for (k, a) in params.arenas.iter().enumerate() {
            if a.first_trainable() >= a.values.numel() {
                continue; // all frozen
            }
            let (m, v) = (&self.m_arenas[k], &self.v_arenas[k]);
            let h = AdamwStep { first: a.first_trainable(), ..h };
            adamw_update(gpu, &h, &a.values, &a.grads, m, v, &a.decay, &self.norm_sq, &self.control)?;
        }
        Ok(())
    }
}

/// The bias-correction table grows by this many steps at a time.
const CORRECTIONS_CHUNK: u32 = 1024;

impl AdamW {
    /// Writes the moments and the step count to `path` (atomically), keyed by parameter name.
    pub fn save(&self, path: &std::path::Path, params: &ParamStore) -> anyhow::Result<()> {
        let mut tensors = Vec::with_capacity(2 * params.len());
        for (i, p) in params.iter().enumerate() {
            let shape = p.value.shape().to_vec();
            tensors.push((format!("m/{}", p.name), HostTensor::new(shape.clone(), self.m[i].to_vec()?)));
            tensors.push((format!("v/{}", p.name), HostTensor::new(shape, self.v[i].to_vec()?)));
        }
        let meta = std::collections::HashMap::from([("step".to_string(), self.steps()?.to_string())]);
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
        let step: u32 = meta
            .get("step")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{}: no step count in the metadata", path.display()))?;
        for (dst, t) in found {
            gpu.write(dst, bytemuck::cast_slice(&t.data))?;
        }
        gpu.write_at(&self.control, control::STEPS, bytemuck::cast_slice(&[step]))?;
        self.max_steps = step as u64;
        Ok(())
    }
}
