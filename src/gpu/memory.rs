//! Tensors in device memory: allocated from the buffer pool, zeroed, written from the host and
//! copied, each recorded in order with the kernel launches; and what the pool and the driver hold.

use std::sync::Arc;

use super::device::Gpu;
use super::lock::lock;
use super::pool::{size_class, MemoryStats};
use super::tensor::{check_own, DType, Tensor};
use super::{GpuError, Result};

impl Gpu {
    /// What the buffer pool holds: tensors (`live`), idle buffers (`cached`), peaks.
    pub fn memory(&self) -> MemoryStats {
        self.pool.stats()
    }
    /// Bytes the driver's allocator has reserved for this device (every buffer, the pool's and
    /// wgpu's own, plus free space in its memory blocks), where the backend reports it (Vulkan
    /// and DX12 do).
    pub fn device_reserved_bytes(&self) -> Option<u64> {
        self.device.generate_allocator_report().map(|r| r.total_reserved_bytes)
    }
    /// Sets the floor of the pool's idle-buffer limit (`WGBERT_POOL_IDLE_MIB`; see `pool.rs`).
    pub fn set_pool_idle_floor(&self, bytes: u64) {
        self.pool.set_idle_floor(bytes)
    }
    pub fn reset_memory_peaks(&self) {
        self.pool.reset_peaks()
    }
    /// Frees the pool's cached buffers.
    pub fn trim_memory(&self) {
        self.pool.trim()
    }

    /// Errors if a tensor of `bytes` cannot exist on this adapter, naming it and the limit.
    pub fn check_fits(&self, name: &str, bytes: u64) -> Result<()> {
        let checks = [
            ("max_buffer_size", self.limits().max_buffer_size),
            ("max_storage_buffer_binding_size", self.limits().max_storage_buffer_binding_size),
        ];
        for (limit_name, limit) in checks {
            if size_class(bytes) > limit {
                return Err(GpuError::OverLimit { name: name.to_string(), bytes, limit_name, limit });
            }
        }
        Ok(())
    }

    fn alloc(self: &Arc<Self>, name: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let bytes = dtype.bytes_for(n.max(1));
        // The name with the shape is formatted only for the error: alloc is on every op's path.
        self.check_fits(name, bytes).map_err(|e| match e {
            GpuError::OverLimit { bytes, limit_name, limit, .. } => {
                GpuError::OverLimit { name: format!("{name} {shape:?}"), bytes, limit_name, limit }
            }
            other => other,
        })?;
        let buffer = self.pool.take(&self.device, bytes);
        Ok(Tensor::from_buffer(self.clone(), buffer, name, shape, dtype))
    }

    /// A tensor whose contents a kernel will assign (not initialised).
    pub fn empty(self: &Arc<Self>, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.alloc(name, shape, DType::F32)
    }

    pub fn zeros(self: &Arc<Self>, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.alloc(name, shape, DType::F32)?;
        let mut rec = lock(&self.rec);
        let enc = rec.encoder(&self.device);
        enc.clear_buffer(t.buffer(), t.offset(), Some(t.bytes().max(4)));
        Ok(t)
    }

    /// Sets a tensor to zero, in order with recorded launches.
    pub fn fill_zero(&self, t: &Tensor) -> Result<()> {
        let mut rec = lock(&self.rec);
        rec.encoder(&self.device).clear_buffer(t.buffer(), t.offset(), Some(t.bytes().max(4)));
        Ok(())
    }

    pub fn upload(self: &Arc<Self>, name: &str, shape: &[usize], data: &[f32]) -> Result<Tensor> {
        self.upload_words(name, shape, DType::F32, bytemuck::cast_slice(data), data.len())
    }
    /// An f16 tensor of `data` rounded to nearest, ties to even (values past ±65504 become ±inf).
    pub fn upload_f16(self: &Arc<Self>, name: &str, shape: &[usize], data: &[f32]) -> Result<Tensor> {
        self.require_f16(name)?;
        let mut halves: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
        halves.resize(data.len().div_ceil(2) * 2, half::f16::ZERO);
        self.upload_words(name, shape, DType::F16, bytemuck::cast_slice(&halves), data.len())
    }

    /// An f16 tensor whose contents a kernel will assign.
    pub fn empty_f16(self: &Arc<Self>, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.require_f16(name)?;
        self.alloc(name, shape, DType::F16)
    }

    fn require_f16(&self, name: &str) -> Result<()> {
        if !self.has_f16() {
            return Err(GpuError::Unsupported(format!(
                "tensor {name} is f16, and adapter {} has no shader-f16 feature",
                self.info().name
            )));
        }
        Ok(())
    }

    pub fn upload_u32(self: &Arc<Self>, name: &str, shape: &[usize], data: &[u32]) -> Result<Tensor> {
        self.upload_words(name, shape, DType::U32, bytemuck::cast_slice(data), data.len())
    }

    fn upload_words(
        self: &Arc<Self>,
        name: &str,
        shape: &[usize],
        dtype: DType,
        bytes: &[u8],
        len: usize,
    ) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != len {
            return Err(GpuError::Shape(format!("upload of {name}: shape {shape:?} holds {n} values, {len} given")));
        }
        let t = self.alloc(name, shape, dtype)?;
        self.write(&t, bytes)?;
        Ok(t)
    }

    /// Overwrites a tensor's contents from the host, in order with recorded launches.
    pub fn write(&self, t: &Tensor, bytes: &[u8]) -> Result<()> {
        if bytes.len() as u64 != t.bytes() {
            return Err(GpuError::Shape(format!(
                "write to {}: {} bytes given, tensor holds {}",
                t.name(),
                bytes.len(),
                t.bytes()
            )));
        }
        self.write_at(t, 0, bytes)
    }

    /// Overwrites elements from `start` on with `bytes` (whole elements), in order with recorded
    /// launches: a few words of a control buffer, the rest kept.
    pub fn write_at(&self, t: &Tensor, start: usize, bytes: &[u8]) -> Result<()> {
        let at = (start * t.dtype().size()) as u64;
        if at + bytes.len() as u64 > t.bytes() || !bytes.len().is_multiple_of(t.dtype().size()) {
            return Err(GpuError::Shape(format!(
                "write to {}: {} bytes at element {start} do not fit its {} bytes as whole elements",
                t.name(),
                bytes.len(),
                t.bytes()
            )));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let offset = t.offset() + at;
        let mut rec = lock(&self.rec);
        match rec.encoder.as_mut() {
            // Pending launches may still read this buffer's old contents (a pooled buffer of a
            // dropped tensor): copy through the encoder so the write lands after them.
            Some(enc) => {
                let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgbert upload"),
                    size: bytes.len() as u64,
                    usage: wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: true,
                });
                staging
                    .slice(..)
                    .get_mapped_range_mut()
                    .map_err(|e| GpuError::Validation(format!("mapping upload buffer for {}: {e}", t.name())))?
                    .copy_from_slice(bytes);
                staging.unmap();
                enc.copy_buffer_to_buffer(&staging, 0, t.buffer(), offset, bytes.len() as u64);
            }
            None => self.queue.write_buffer(t.buffer(), offset, bytes),
        }
        Ok(())
    }

    /// Copies `src` into `dst` (same element count), recorded in order.
    pub fn copy(&self, src: &Tensor, dst: &Tensor) -> Result<()> {
        if src.numel() != dst.numel() {
            return Err(GpuError::Shape(format!(
                "copy {} {:?} -> {} {:?}",
                src.name(),
                src.shape(),
                dst.name(),
                dst.shape()
            )));
        }
        check_own(self, [src, dst].into_iter())?;
        let mut rec = lock(&self.rec);
        let enc = rec.encoder(&self.device);
        enc.copy_buffer_to_buffer(src.buffer(), src.offset(), dst.buffer(), dst.offset(), src.bytes());
        Ok(())
    }
}
