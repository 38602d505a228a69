//! A pool of storage buffers, so that steady-state training allocates nothing, and whose idle
//! memory stays bounded when shapes vary.
//!
//! Buffers are grouped by size class (sizes rounded up to a multiple of 1/16 of the next power of
//! two, so at most 12.5% is wasted) and a freed buffer is handed to the next request of its class. Reuse is
//! safe without waiting for the GPU: every command goes through the one queue, in order, and
//! wgpu puts barriers between dispatches that touch the same buffer.
//!
//! Padded batches of varying length (predict, eval, a server) need new size classes for every
//! new sequence length, and a pool that kept them all would grow with the number of shapes seen.
//! So the idle buffers have a byte limit, and past it the least recently returned ones go back
//! to the driver. The limit is the larger of a floor (`WGBERT_POOL_IDLE_MIB`, 256 MiB) and the
//! most bytes tensors have ever held at once: a loop of fixed shapes (a training step) frees at
//! its end what it held at its peak, so its idle buffers fit under that limit and it keeps
//! running on buffers the pool already has, while the pool's footprint stays under twice the
//! peak of what the tensors need.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

/// The idle floor when `WGBERT_POOL_IDLE_MIB` is not set.
pub(crate) const DEFAULT_IDLE_FLOOR: u64 = 256 << 20;

/// Bytes held by the pool: `live` in tensors, `cached` idle for reuse; peaks since the last reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub live: u64,
    pub cached: u64,
    pub peak_live: u64,
    /// The pool's largest footprint (live + cached) since the last reset.
    pub peak_total: u64,
    pub buffers_created: u64,
    /// Idle buffers freed to keep `cached` under `idle_limit`.
    pub buffers_freed: u64,
    /// The most bytes idle buffers may hold now (see the module comment).
    pub idle_limit: u64,
}

impl MemoryStats {
    /// What the pool holds on the device: tensors and idle buffers.
    pub fn footprint(&self) -> u64 {
        self.live + self.cached
    }
}

pub(crate) struct BufferPool {
    inner: Mutex<PoolInner>,
}

struct PoolInner {
    /// Idle buffers by size class, each with the tick it came back at, oldest first.
    free: HashMap<u64, VecDeque<(u64, wgpu::Buffer)>>,
    /// (tick, class) of every idle buffer: the order in which they are freed.
    by_age: BTreeSet<(u64, u64)>,
    tick: u64,
    idle_floor: u64,
    /// The most bytes tensors have held at once since the device opened (never reset).
    max_live: u64,
    stats: MemoryStats,
}

pub(crate) fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(16);
    let pow = 64 - (b - 1).leading_zeros();
    let step = (1u64 << pow.saturating_sub(4)).max(16);
    b.div_ceil(step) * step
}

impl PoolInner {
    fn idle_limit(&self) -> u64 {
        self.idle_floor.max(self.max_live)
    }

    /// Frees the least recently returned idle buffers until they fit under the limit.
    fn evict(&mut self) {
        let limit = self.idle_limit();
        self.stats.idle_limit = limit;
        while self.stats.cached > limit {
            let Some((_, class)) = self.by_age.pop_first() else { break };
            // The oldest of its class is at the front (returns go to the back).
            if let Some((_, buffer)) = self.free.get_mut(&class).and_then(|v| v.pop_front()) {
                self.stats.cached -= class;
                self.stats.buffers_freed += 1;
                // Dropping is enough: wgpu frees it once submitted work no longer uses it.
                drop(buffer);
            }
        }
    }
}

impl BufferPool {
    pub fn new(idle_floor: u64) -> Self {
        let stats = MemoryStats { idle_limit: idle_floor, ..MemoryStats::default() };
        BufferPool {
            inner: Mutex::new(PoolInner {
                free: HashMap::new(),
                by_age: BTreeSet::new(),
                tick: 0,
                idle_floor,
                max_live: 0,
                stats,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer of at least `bytes` (its size class); reused when one is free.
    pub fn take(&self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let class = size_class(bytes);
        let mut inner = self.lock();
        let reused = inner.free.get_mut(&class).and_then(|v| v.pop_back());
        let buffer = match reused {
            Some((tick, b)) => {
                inner.by_age.remove(&(tick, class));
                inner.stats.cached -= class;
                b
            }
            None => {
                inner.stats.buffers_created += 1;
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
        let s = &mut inner.stats;
        s.live += class;
        s.peak_live = s.peak_live.max(s.live);
        s.peak_total = s.peak_total.max(s.live + s.cached);
        inner.max_live = inner.max_live.max(inner.stats.live);
        buffer
    }

    /// Returns a buffer for reuse (or, past the idle limit, frees the oldest idle ones).
    pub fn give(&self, buffer: wgpu::Buffer) {
        let class = buffer.size();
        let mut inner = self.lock();
        inner.stats.live -= class;
        inner.stats.cached += class;
        inner.tick += 1;
        let tick = inner.tick;
        inner.by_age.insert((tick, class));
        inner.free.entry(class).or_default().push_back((tick, buffer));
        inner.evict();
    }

    /// Frees every idle buffer (memory goes back to the driver).
    pub fn trim(&self) {
        let mut inner = self.lock();
        inner.stats.buffers_freed += inner.by_age.len() as u64;
        inner.free.clear();
        inner.by_age.clear();
        inner.stats.cached = 0;
    }

    /// Sets the floor of the idle limit (bytes), freeing idle buffers above the new limit.
    pub fn set_idle_floor(&self, bytes: u64) {
        let mut inner = self.lock();
        inner.idle_floor = bytes;
        inner.evict();
    }

    pub fn stats(&self) -> MemoryStats {
        let inner = self.lock();
        MemoryStats { idle_limit: inner.idle_limit(), ..inner.stats }
    }

    pub fn reset_peaks(&self) {
        let mut inner = self.lock();
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
