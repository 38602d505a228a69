//! A tensor on the GPU: a shape, an element type and a pooled storage buffer.
//!
//! Clones share the buffer; the buffer goes back to the pool when the last clone drops.
//! Making, writing and launching on tensors are `memory.rs`'s and `launch.rs`'s; reading one back
//! (`Tensor::to_vec`) is `readback.rs`'s, where waiting for the GPU lives.

use std::sync::Arc;

use super::device::Gpu;
use super::error::shape_err;
use super::{GpuError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    U32,
    /// IEEE half precision, where the adapter has shader-f16 (`Gpu::has_f16`). Only the
    /// conversion kernels (ops::convert) read or write it; every other kernel takes f32.
    F16,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::U32 => 4,
            DType::F16 => 2,
        }
    }

    /// Bytes of `n` elements, rounded up to whole 4-byte words (an odd number of f16 values ends
    /// in half a word: buffers and bindings come in multiples of 4 bytes).
    pub fn bytes_for(self, n: usize) -> u64 {
        ((n * self.size()).div_ceil(4) * 4) as u64
    }
}

pub(crate) struct Storage {
    buffer: Option<wgpu::Buffer>,
    gpu: Arc<Gpu>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.gpu.pool().give(b);
        }
    }
}

#[derive(Clone)]
pub struct Tensor {
    storage: Arc<Storage>,
    /// Where the tensor starts in its buffer, in bytes: 0, or for a view (`Tensor::view`) a
    /// multiple of the storage-binding alignment.
    offset: u64,
    shape: Vec<usize>,
    dtype: DType,
    name: Arc<str>,
    /// Matrix products read this f32 tensor's elements rounded to f16 (`Tensor::read_as_f16`).
    as_f16: bool,
}

/// Errors unless every tensor lives on `gpu`, naming the first that does not.
pub(super) fn check_own<'t>(gpu: &Gpu, mut tensors: impl Iterator<Item = &'t Tensor>) -> Result<()> {
    match tensors.find(|t| !t.is_on(gpu)) {
        Some(t) => Err(GpuError::Validation(format!("tensor {} belongs to another GPU device", t.name()))),
        None => Ok(()),
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({} {:?} {:?})", self.name, self.shape, self.dtype)
    }
}

impl Tensor {
    /// Whether the tensor lives on `gpu` (a buffer of one device means nothing on another).
    pub(crate) fn is_on(&self, gpu: &Gpu) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.storage.gpu), gpu)
    }

    /// Whether this is the only handle on its buffer (no clone, no view of it is alive): then
    /// writing into it changes nothing anyone else reads.
    pub(crate) fn is_sole_owner(&self) -> bool {
        Arc::strong_count(&self.storage) == 1
    }

    pub(crate) fn from_buffer(gpu: Arc<Gpu>, buffer: wgpu::Buffer, name: &str, shape: &[usize], dtype: DType) -> Self {
        Tensor {
            storage: Arc::new(Storage { buffer: Some(buffer), gpu }),
            offset: 0,
            shape: shape.to_vec(),
            dtype,
            name: name.into(),
            as_f16: false,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// Bytes of the logical contents in whole words (the buffer may be larger: pool size class).
    pub fn bytes(&self) -> u64 {
        self.dtype.bytes_for(self.numel())
    }
    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.storage.gpu
    }
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        self.storage.buffer.as_ref().expect("tensor buffer is present until drop")
    }
    /// True when both tensors share one buffer.
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The same buffer seen with another shape of the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != self.numel() {
            return Err(shape_err(format!("cannot reshape {} {:?} to {:?}", self.name, self.shape, shape)));
        }
        Ok(Tensor { shape: shape.to_vec(), ..self.clone() })
    }

    /// Elements [start, start + numel(shape)) of this tensor as a tensor of its own, sharing
    /// the buffer (parameters live in a few such arenas: see autograd::ParamStore). `start`
    /// must keep the view on the adapter's storage-binding alignment (256 bytes at most).
    pub fn view(&self, name: &str, start: usize, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if start + n > self.numel() {
            return Err(shape_err(format!(
                "view {name} of {}: elements {start}..{} lie outside its {}",
                self.name,
                start + n,
                self.numel()
            )));
        }
        let offset = self.offset + (start * self.dtype.size()) as u64;
        let align = self.gpu().limits().min_storage_buffer_offset_alignment as u64;
        if !offset.is_multiple_of(align.max(4)) {
            return Err(shape_err(format!(
                "view {name} of {}: offset {offset} is not a multiple of {align} bytes",
                self.name
            )));
        }
        Ok(Tensor {
            storage: self.storage.clone(),
            offset,
            shape: shape.to_vec(),
            dtype: self.dtype,
            name: name.into(),
            as_f16: false,
        })
    }

    /// Byte offset of the tensor in its buffer (non-zero for views).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// This f32 tensor as mixed precision's products read it: each element rounded to f16 as
    /// the matmul loads it (f32 accumulation), with no f16 copy made. Other kernels read it as
    /// it is.
    pub fn read_as_f16(&self) -> Tensor {
        Tensor { as_f16: true, ..self.clone() }
    }

    /// Whether matrix products read this tensor rounded to f16 (`read_as_f16`).
    pub fn reads_as_f16(&self) -> bool {
        self.as_f16
    }

    /// A renamed handle (error messages and profiles use the name).
    pub fn named(mut self, name: &str) -> Tensor {
        self.name = name.into();
        self
    }

    /// Checks the shape, naming the tensor and the op when it differs.
    pub fn expect_shape(&self, op: &str, shape: &[usize]) -> Result<()> {
        if self.shape != shape {
            return Err(shape_err(format!("{op}: {} has shape {:?}, expected {:?}", self.name, self.shape, shape)));
        }
        Ok(())
    }
}
