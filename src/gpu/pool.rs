//! A pool of storage buffers, so that steady-state training allocates nothing.
//!
//! Buffers are grouped by size class (sizes rounded up to a multiple of 1/16 of the next power of
//! two, so at most 12.5% is wasted) and a freed buffer is handed to the next request of its class. Reuse is
//! safe without waiting for the GPU: every command goes through the one queue, in order, and
//! wgpu puts barriers between dispatches that touch the same buffer.

use std::collections::HashMap;
use std::sync::Mutex;

/// Bytes held by the pool: `live` in tensors, `cached` free for reuse; peaks since the last reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub live: u64,
    pub cached: u64,
    pub peak_live: u64,
    pub peak_total: u64,
    pub buffers_created: u64,
}

pub(crate) struct BufferPool {
    inner: Mutex<PoolInner>,
}

struct PoolInner {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    stats: MemoryStats,
}

pub(crate) fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(16);
    let pow = 64 - (b - 1).leading_zeros();
    let step = (1u64 << pow.saturating_sub(4)).max(16);
    b.div_ceil(step) * step
}

impl BufferPool {
    pub fn new() -> Self {
        BufferPool { inner: Mutex::new(PoolInner { free: HashMap::new(), stats: MemoryStats::default() }) }
    }

    /// A buffer of at least `bytes` (its size class); reused when one is free.
    pub fn take(&self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = size_class(bytes);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let reused = inner.free.get_mut(&class).and_then(|v| v.pop());
        let s = &mut inner.stats;
        let buffer = match reused {
            Some(b) => {
                s.cached -= class;
                b
            }
            None => {
                s.buffers_created += 1;
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgbert tensor"),
                    size: class,
                    // UNIFORM too: CPU adapters read matmul panels faster through uniform bindings.
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::UNIFORM
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            }
        };
        s.live += class;
        s.peak_live = s.peak_live.max(s.live);
        s.peak_total = s.peak_total.max(s.live + s.cached);
        buffer
    }

    /// Returns a buffer for reuse.
    pub fn give(&self, buffer: wgpu::Buffer) {
        let class = buffer.size();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.stats.live -= class;
        inner.stats.cached += class;
        inner.free.entry(class).or_default().push(buffer);
    }

    /// Frees every cached buffer (memory goes back to the driver).
    pub fn trim(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.free.clear();
        inner.stats.cached = 0;
    }

    pub fn stats(&self) -> MemoryStats {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).stats
    }

    pub fn reset_peaks(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut inner.stats;
        s.peak_live = s.live;
        s.peak_total = s.live + s.cached;
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_round_up_by_at_most_an_eighth() {
        for bytes in [1u64, 4, 17, 1000, 1024, 1025, 1537, 4096 * 384, 30522 * 384 * 4] {
            let c = size_class(bytes);
            assert!(c >= bytes && c.is_multiple_of(16), "{bytes} -> {c}");
            assert!(c as f64 <= (bytes.max(16) as f64) * 1.125 + 16.0, "{bytes} -> {c}");
        }
        assert_eq!(size_class(1024), 1024);
    }
}
