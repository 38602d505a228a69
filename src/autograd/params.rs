//! Named parameters with their gradient buffers, packed into a few arenas.
//!
//! After `ParamStore::pack`, every value is a view into one buffer of an arena and every
//! gradient a view into another, at the same element offset (slots rounded up to 128 floats:
//! 512 bytes, a multiple of any storage-binding alignment WebGPU allows). Ops see ordinary
//! tensors; the optimizer sees a whole arena at once: one clip-norm reduction and one AdamW
//! dispatch per arena instead of a few per parameter.

use std::sync::Arc;

use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::adamw::DECAY_SLOT;

/// A trainable tensor and the buffer its gradient accumulates into.
#[derive(Clone, Debug)]
pub struct Param {
    /// Hugging Face spelling, without the `bert.` prefix (`encoder.layer.0.output.dense.weight`).
    pub name: String,
    pub value: Tensor,
    pub grad: Tensor,
    /// Whether AdamW's weight decay applies: not to biases nor LayerNorm weights (BERT's rule).
    pub decay: bool,
    /// Where `pack` put it: (arena, first element).
    pub slot: Option<(usize, usize)>,
}

impl Param {
    pub fn new(gpu: &Arc<Gpu>, name: &str, shape: &[usize], data: &[f32]) -> Result<Param, GpuError> {
        let value = gpu.upload(name, shape, data)?;
        let grad = gpu.zeros(&format!("{name} (gradient)"), shape)?;
        let decay = !(name.contains("bias") || name.contains("LayerNorm.weight"));
        Ok(Param { name: name.to_string(), value, grad, decay, slot: None })
    }
}

/// Elements per slot alignment: 128 floats = 512 bytes, twice the largest storage-binding offset
/// alignment WebGPU allows an adapter to ask (256).
const SLOT_ALIGN: usize = 128;

/// Consecutive parameters in one buffer of values and one of gradients, each at most the
/// adapter's storage-binding size.
#[derive(Debug)]
pub struct Arena {
    pub values: Tensor,
    pub grads: Tensor,
    /// (len / 64): 1 where the slot's parameter takes weight decay, else 0.
    pub decay: Tensor,
    /// Elements before this one belong to frozen parameters (`ParamStore::freeze_prefix`):
    /// the optimizer leaves them alone. 0 when nothing is frozen.
    first_trainable: usize,
    /// `grads[first_trainable..]`, made once when the frozen prefix is set (zero_grad and the
    /// optimizer take it every step); None when everything is frozen.
    trainable: Option<Tensor>,
}

impl Arena {
    fn new(values: Tensor, grads: Tensor, decay: Tensor) -> Arena {
        let trainable = (grads.numel() > 0).then(|| grads.clone());
        Arena { values, grads, decay, first_trainable: 0, trainable }
    }

    pub fn first_trainable(&self) -> usize {
        self.first_trainable
    }

    /// The gradients of the trainable part, `[first_trainable, len)`; None when all is frozen.
    pub fn trainable_grads(&self) -> Option<&Tensor> {
        self.trainable.as_ref()
    }

    fn set_first_trainable(&mut self, first: usize) -> Result<(), GpuError> {
        let n = self.grads.numel();
        self.first_trainable = first;
        self.trainable = match first {
            f if f >= n => None,
            0 => Some(self.grads.clone()),
            f => Some(self.grads.view(&format!("{} (trainable)", self.grads.name()), f, &[n - f])?),
        };
        Ok(())
    }
}

/// All parameters of a model, in a fixed order (the optimizer's state follows it).
#[derive(Default, Debug)]
pub struct ParamStore {
    pub params: Vec<Param>,
    pub arenas: Vec<Arena>,
}

impl ParamStore {
    /// Adds a parameter and returns its index.
    pub fn add(&mut self, p: Param) -> usize {
        self.params.push(p);
        self.params.len() - 1
    }

    pub fn get(&self, i: usize) -> &Param {
        &self.params[i]
    }

    pub fn by_name(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.params.iter()
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.params.iter().map(|p| p.value.numel()).sum()
    }

    /// Freezes the first `n` parameters (in store order): the optimizer skips them. A frozen
    /// set is a prefix, so that each arena's trainable part is one range; the model runs the
    /// frozen layers without recording (no gradients reach them).
    pub fn freeze_prefix(&mut self, n: usize) -> Result<(), GpuError> {
        if self.arenas.is_empty() || self.params.iter().any(|p| p.slot.is_none()) {
            return Err(GpuError::Shape("freezing needs a packed parameter store (ParamStore::pack)".into()));
        }
        for (k, a) in self.arenas.iter_mut().enumerate() {
            let trainable = self.params.iter().enumerate().filter(|(i, p)| *i >= n && p.slot.is_some_and(|s| s.0 == k));
            a.set_first_trainable(trainable.map(|(_, p)| p.slot.expect("packed").1).min().unwrap_or(a.values.numel()))?;
        }
        Ok(())
    }

    /// Sets every gradient to zero (recorded; no wait).
    pub fn zero_grad(&self, gpu: &Gpu) -> Result<(), GpuError> {
        for a in &self.arenas {
            // A frozen prefix gets no gradient (its layers record no backward): it stays zero.
            if let Some(g) = a.trainable_grads() {
                gpu.fill_zero(g)?;
            }
        }
        for p in self.params.iter().filter(|p| p.slot.is_none()) {
            gpu.fill_zero(&p.grad)?;
        }
        Ok(())
    }

    /// Moves every parameter into arenas (see the module comment): values copied on the GPU,
    /// gradients zero. Parameters are grouped in order, an arena closing when the next would
    /// take it past the adapter's storage-binding or buffer size.
    pub fn pack(&mut self, gpu: &Arc<Gpu>) -> Result<(), GpuError> {
        let limits = gpu.limits();
        self.pack_within(gpu, limits.max_storage_buffer_binding_size.min(limits.max_buffer_size))
    }

    /// `pack` with arenas of at most `max_bytes` (tests use small ones to get several).
    pub fn pack_within(&mut self, gpu: &Arc<Gpu>, max_bytes: u64) -> Result<(), GpuError> {
        let cap = max_bytes as usize / 4;
        let slot = |p: &Param| p.value.numel().div_ceil(SLOT_ALIGN).max(1) * SLOT_ALIGN;
        let mut groups: Vec<(usize, usize)> = Vec::new(); // (first param, floats)
        for (i, p) in self.params.iter().enumerate() {
            match groups.last_mut() {
                Some((_, len)) if *len + slot(p) <= cap => *len += slot(p),
                _ => groups.push((i, slot(p))),
            }
        }
        let mut arenas = Vec::with_capacity(groups.len());
        for (k, &(first, len)) in groups.iter().enumerate() {
            let end = groups.get(k + 1).map_or(self.params.len(), |g| g.0);
            let values = gpu.zeros(&format!("parameters (arena {k})"), &[len])?;
            let grads = gpu.zeros(&format!("gradients (arena {k})"), &[len])?;
            let mut decay = vec![0.0f32; len / DECAY_SLOT];
            let mut start = 0;
            for p in &mut self.params[first..end] {
                let shape = p.value.shape().to_vec();
                let value = values.view(&p.name, start, &shape)?;
                gpu.copy(&p.value, &value)?;
                p.value = value;
                p.grad = grads.view(&format!("{} (gradient)", p.name), start, &shape)?;
                p.slot = Some((k, start));
                let n = slot(p);
                decay[start / DECAY_SLOT..(start + n) / DECAY_SLOT].fill(if p.decay { 1.0 } else { 0.0 });
                start += n;
            }
            let decay = gpu.upload(&format!("weight decay per slot (arena {k})"), &[len / DECAY_SLOT], &decay)?;
            arenas.push(Arena::new(values, grads, decay));
        }
        self.arenas = arenas;
        Ok(())
    }
}

impl ParamStore {
    /// Writes every value to `path` (atomically) under its internal name.
    pub fn save(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let mut tensors = Vec::with_capacity(self.len());
        for p in &self.params {
            let data = p.value.to_vec()?;
            // A diverged step must never replace good weights on disk.
            if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
                anyhow::bail!(
                    "parameter {} holds {bad}: the run diverged; {} is not written and the last good checkpoint is kept",
                    p.name,
                    path.display()
                );
            }
            tensors.push((p.name.clone(), crate::checkpoint::HostTensor::new(p.value.shape().to_vec(), data)));
        }
        crate::checkpoint::save_tensors(path, &tensors, Default::default())?;
        Ok(())
    }

    /// Overwrites every value from a file written by `save`, checking names and shapes.
    pub fn load(&self, gpu: &Gpu, path: &std::path::Path) -> anyhow::Result<()> {
        let (tensors, _) = crate::checkpoint::load_tensors(path)?;
        // Check everything before writing anything: a bad file leaves the model as it was.
        let mut found = Vec::with_capacity(self.len());
        for p in &self.params {
            let t = tensors
                .get(&p.name)
                .ok_or_else(|| anyhow::anyhow!("{}: parameter {} is missing", path.display(), p.name))?;
            if t.shape != p.value.shape() {
                anyhow::bail!(
                    "{}: parameter {} has shape {:?}, the model {:?}",
                    path.display(),
                    p.name,
                    t.shape,
                    p.value.shape()
                );
            }
            found.push((&p.value, t));
        }
        for (dst, t) in found {
            gpu.write(dst, bytemuck::cast_slice(&t.data))?;
        }
        Ok(())
    }
}
