//! Recording one kernel launch: its arguments, its parameters in a slot of the uniform arena,
//! its bind group and compute pass; and per-launch GPU timings for `bench --profile`.

use std::sync::Arc;

use super::device::{Gpu, PARAM_SLOT, PARAM_SLOTS};
use super::kernel::{BindKind, Kernel};
use super::lock::lock;
use super::profiler::{durations, Profiler};
use super::tensor::{check_own, DType, Tensor};
use super::{GpuError, Result};

/// At most this many storage buffers per kernel: the portable limit per shader stage.
const MAX_STORAGE_ARGS: usize = 8;

/// A buffer argument: a read-only or read-write storage buffer, or a window of a tensor bound
/// as a uniform buffer (offset and size in bytes; the offset a multiple of 256).
pub enum Arg<'a> {
    R(&'a Tensor),
    W(&'a Tensor),
    U(&'a Tensor, u64, u64),
}

impl Arg<'_> {
    pub(crate) fn tensor(&self) -> &Tensor {
        match self {
            Arg::R(t) | Arg::W(t) | Arg::U(t, _, _) => t,
        }
    }
    /// (offset, size) of the bound range in bytes. Storage bindings are rounded up to 16 bytes
    /// (pool buffers are multiples of 16) so that a kernel may view any tensor as vec4s.
    pub(crate) fn range(&self) -> (u64, u64) {
        match self {
            Arg::R(t) | Arg::W(t) => (t.offset(), t.bytes().div_ceil(16).max(1) * 16),
            Arg::U(t, off, size) => (t.offset() + off, *size),
        }
    }
    /// How the argument is bound: its part of the pipeline's layout key.
    fn kind(&self) -> BindKind {
        match self {
            Arg::R(_) => BindKind::Read,
            Arg::W(_) => BindKind::Write,
            Arg::U(..) => BindKind::Uniform,
        }
    }
}

impl Gpu {
    /// Records one kernel launch. `groups` is the workgroup grid.
    pub fn launch(&self, kernel: &Kernel, params: &[u32], args: &[Arg], groups: [u32; 3]) -> Result<()> {
        let uniforms = args.iter().filter(|a| matches!(a, Arg::U(..))).count();
        let storage = args.len() - uniforms;
        // The parameter block is a uniform binding too.
        if params.len() * 4 > PARAM_SLOT as usize
            || storage > MAX_STORAGE_ARGS
            || uniforms + 1 > self.limits().max_uniform_buffers_per_shader_stage as usize
        {
            return Err(GpuError::Validation(format!("{}: too many parameters or arguments", kernel.entry)));
        }
        check_own(self, args.iter().map(|a| a.tensor()))?;
        let max = self.limits().max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(GpuError::OverLimit {
                name: format!("{} grid {:?}", kernel.entry, groups),
                bytes: groups.iter().map(|&g| g as u64).max().unwrap_or(0),
                limit_name: "max_compute_workgroups_per_dimension",
                limit: max as u64,
            });
        }
        // f16 tensors are read and written by the conversion and f16-operand matmul kernels alone.
        if !kernel.shader.takes_f16() {
            if let Some(t) = args.iter().map(|a| a.tensor()).find(|t| t.dtype() == DType::F16) {
                return Err(GpuError::Shape(format!(
                    "{}: tensor {} is f16; this kernel takes f32",
                    kernel.entry,
                    t.name()
                )));
            }
        }
        if groups.contains(&0) {
            return Ok(());
        }
        self.check_lost()?;
        let (pipeline, layout) = lock(&self.kernels).get(&self.device, kernel, args.iter().map(Arg::kind).collect())?;

        let mut rec = lock(&self.rec);
        if rec.slot == PARAM_SLOTS {
            self.submit(&mut rec);
        }
        let offset = rec.slot * PARAM_SLOT;
        let dst = &mut rec.params[offset as usize..offset as usize + params.len() * 4];
        dst.copy_from_slice(bytemuck::cast_slice(params));
        rec.slot += 1;
        rec.launches += 1;

        let mut entries = Vec::with_capacity(args.len() + 1);
        entries.push(wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &rec.arena,
                offset,
                size: wgpu::BufferSize::new(PARAM_SLOT),
            }),
        });
        for (i, a) in args.iter().enumerate() {
            let (offset, size) = a.range();
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: a.tensor().buffer(),
                    offset,
                    size: wgpu::BufferSize::new(size),
                }),
            });
        }
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        });

        let mut prof = lock(&self.profiler);
        let timestamp_writes =
            prof.as_mut().map(|p| p.next_pass(&self.pool, &self.device, rec.encoder(&self.device), kernel.entry));
        let enc = rec.encoder(&self.device);
        let mut pass =
            enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(kernel.entry), timestamp_writes });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        Ok(())
    }

    /// Submits everything recorded so far without waiting.
    pub fn flush(&self) -> Result<()> {
        let mut rec = lock(&self.rec);
        self.submit(&mut rec);
        drop(rec);
        self.check_errors()
    }
}

/// Per-launch GPU timings for `bench --profile` (profiler.rs keeps the queries).
impl Gpu {
    /// Starts timing every launch with GPU timestamps (when the adapter has them).
    /// Returns false when timestamps are unavailable.
    pub fn profile_begin(&self, capacity: u32) -> bool {
        if !self.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return false;
        }
        *lock(&self.profiler) = Some(Profiler::new(&self.device, capacity));
        true
    }

    /// Collects the timings recorded since the last collection: (kernel entry, milliseconds).
    pub fn profile_collect(self: &Arc<Self>) -> Result<Vec<(&'static str, f64)>> {
        let pending = {
            let mut rec = lock(&self.rec);
            let mut guard = lock(&self.profiler);
            let Some(p) = guard.as_mut() else { return Ok(Vec::new()) };
            p.spill(&self.pool, &self.device, rec.encoder(&self.device));
            p.take_pending()
        };
        let period = self.queue.get_timestamp_period() as f64;
        let mut results = Vec::new();
        for (buffer, labels) in pending {
            let n = labels.len();
            let words = Tensor::from_buffer(self.clone(), buffer, "timestamps", &[4 * n], DType::U32).to_vec_u32()?;
            results.extend(durations(&words, labels, period));
        }
        Ok(results)
    }

    pub fn profile_end(&self) {
        *lock(&self.profiler) = None;
    }
}
