//! Per-launch GPU timings from timestamp queries, for `wgbert bench --profile`: each launch gets
//! its own compute pass with begin/end timestamps; a full query set is resolved into a buffer of
//! its own and reused, so a step of any length is timed whole.

use super::pool::BufferPool;

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
    /// A query set for `capacity` launches (2 timestamps each) and the buffer it resolves into.
    pub(super) fn new(device: &wgpu::Device, capacity: u32) -> Profiler {
        let capacity = capacity.clamp(1, 2048);
        let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("wgbert profile"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * capacity,
        });
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgbert profile resolve"),
            size: 16 * capacity as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Profiler { queries, resolve, labels: Vec::new(), capacity, pending: Vec::new() }
    }

    /// The timestamp writes of the next launch's pass, labelled with its entry point.
    pub(super) fn next_pass(
        &mut self,
        pool: &BufferPool,
        device: &wgpu::Device,
        enc: &mut wgpu::CommandEncoder,
        entry: &'static str,
    ) -> wgpu::ComputePassTimestampWrites<'_> {
        if self.labels.len() as u32 == self.capacity {
            self.spill(pool, device, enc);
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
    pub(super) fn spill(&mut self, pool: &BufferPool, device: &wgpu::Device, enc: &mut wgpu::CommandEncoder) {
        let n = self.labels.len() as u32;
        if n == 0 {
            return;
        }
        let copy = pool.take(device, 16 * n as u64);
        enc.resolve_query_set(&self.queries, 0..2 * n, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &copy, 0, 16 * n as u64);
        self.pending.push((copy, std::mem::take(&mut self.labels)));
    }

    /// The resolved buffers and their launches' labels, in order, handed over to be read.
    pub(super) fn take_pending(&mut self) -> Vec<(wgpu::Buffer, Vec<&'static str>)> {
        std::mem::take(&mut self.pending)
    }
}

/// (label, milliseconds) per launch from resolved timestamps (two u64 per launch, as u32 words).
pub(super) fn durations(words: &[u32], labels: Vec<&'static str>, period_ns: f64) -> Vec<(&'static str, f64)> {
    let ts = |j: usize| words[2 * j] as u64 | (words[2 * j + 1] as u64) << 32;
    labels
        .into_iter()
        .enumerate()
        .map(|(i, l)| (l, ts(2 * i + 1).saturating_sub(ts(2 * i)) as f64 * period_ns / 1e6))
        .collect()
}
