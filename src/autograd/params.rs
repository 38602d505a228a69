//! Named parameters with their gradient buffers.

use std::sync::Arc;

use crate::gpu::{Gpu, GpuError, Tensor};

/// A trainable tensor and the buffer its gradient accumulates into.
#[derive(Clone, Debug)]
pub struct Param {
    /// Hugging Face spelling, without the `bert.` prefix (`encoder.layer.0.output.dense.weight`).
    pub name: String,
    pub value: Tensor,
    pub grad: Tensor,
    /// Whether AdamW's weight decay applies: not to biases nor LayerNorm weights (BERT's rule).
    pub decay: bool,
}

impl Param {
    pub fn new(gpu: &Arc<Gpu>, name: &str, shape: &[usize], data: &[f32]) -> Result<Param, GpuError> {
        let value = gpu.upload(name, shape, data)?;
        let grad = gpu.zeros(&format!("{name} (gradient)"), shape)?;
        let decay = !(name.contains("bias") || name.contains("LayerNorm.weight"));
        Ok(Param { name: name.to_string(), value, grad, decay })
    }
}

/// All parameters of a model, in a fixed order (the optimizer's state follows it).
#[derive(Default, Debug)]
pub struct ParamStore {
    pub params: Vec<Param>,
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

    /// Sets every gradient to zero (recorded; no wait).
    pub fn zero_grad(&self, gpu: &Gpu) -> Result<(), GpuError> {
        for p in &self.params {
            gpu.fill_zero(&p.grad)?;
        }
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
