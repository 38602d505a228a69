//! Per-launch GPU timings from timestamp queries, for `wgbert bench --profile`: each launch gets
//! its own compute pass with begin/end timestamps; a full query set is resolved into a buffer of
//! its own and reused, so a step of any length is timed whole.

use std::sync::Arc;

use super::context::{lock, Gpu};
use super::tensor::{DType, Tensor};
use super::Result;

/// Per-launch GPU timestamps, for `bench --profile`.
pub(super) struct Profiler {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    labels: Vec<&'static str>,
    capacity: u32,
    /// Resolved timestamps copied out of a full query set, waiting to be read.
    pending: Vec<(wgpu::Buffer, Vec<&'static str>)>,
}

impl Profiler {
    /// The timestamp writes of the next launch's pass, labelled with its entry point.
    pub(super) fn next_pass(
        &mut self,
        gpu: &Gpu,
        enc: &mut wgpu::CommandEncoder,
        entry: &'static str,
    ) -> wgpu::ComputePassTimestampWrites<'_> {
        if self.labels.len() as u32 == self.capacity {
            self.spill(gpu, enc);
        }
        let i = self.labels.len() as u32;
        self.labels.push(entry);
        wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: Some(2 * i),
            end_of_pass_write_index: Some(2 * i + 1),
        }
    }

    /// Resolves the recorded queries into a buffer of their own so the set can be reused.
    pub(super) fn spill(&mut self, gpu: &Gpu, enc: &mut wgpu::CommandEncoder) {
        let n = self.labels.len() as u32;
        if n == 0 {
            return;
        }
        let copy = gpu.pool.take(&gpu.device, 16 * n as u64);
        enc.resolve_query_set(&self.queries, 0..2 * n, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &copy, 0, 16 * n as u64);
        self.pending.push((copy, std::mem::take(&mut self.labels)));
    }
}

impl Gpu {
    /// Starts timing every launch with GPU timestamps (when the adapter has them).
    /// Returns false when timestamps are unavailable.
    pub fn profile_begin(&self, capacity: u32) -> bool {
        if !self.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return false;
        }
        let capacity = capacity.clamp(1, 2048);
        let queries = self.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("wgbert profile"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * capacity,
        });
        let resolve = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgbert profile resolve"),
            size: 16 * capacity as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        *lock(&self.profiler) = Some(Profiler { queries, resolve, labels: Vec::new(), capacity, pending: Vec::new() });
        true
    }

    /// Collects the timings recorded since the last collection: (kernel entry, milliseconds).
    pub fn profile_collect(self: &Arc<Self>) -> Result<Vec<(&'static str, f64)>> {
        let pending = {
            let mut rec = lock(&self.rec);
            let mut guard = lock(&self.profiler);
            let Some(p) = guard.as_mut() else { return Ok(Vec::new()) };
            p.spill(self, rec.encoder(&self.device));
            std::mem::take(&mut p.pending)
        };
        let period = self.queue.get_timestamp_period() as f64;
        let mut results = Vec::new();
        for (buffer, labels) in pending {
            let n = labels.len();
            let words = Tensor::from_buffer(self.clone(), buffer, "timestamps", &[4 * n], DType::U32).to_vec_u32()?;
            let ts = |j: usize| words[2 * j] as u64 | (words[2 * j + 1] as u64) << 32;
            for (i, label) in labels.into_iter().enumerate() {
                results.push((label, ts(2 * i + 1).saturating_sub(ts(2 * i)) as f64 * period / 1e6));
            }
        }
        Ok(results)
    }

    pub fn profile_end(&self) {
        *lock(&self.profiler) = None;
    }
}
