//! Waiting for the GPU: `Gpu::sync`, and reading tensors back to the host. Natively a read-back
//! blocks (in slices, under `wait.rs`'s deadline and interrupt); in a browser, where nothing may
//! block, it is awaited (`oneshot.rs` carries the map callback's result).

use std::time::Duration;

use super::device::Gpu;
use super::lock::lock;
use super::oneshot;
use super::tensor::{DType, Tensor};
use super::wait::{no_blocking_in_browser, Wait, INTERRUPT};
use super::{GpuError, Result};

/// A wait for the GPU polls in slices this long, checking between them for a lost device, its
/// deadline and an interrupt (and letting other threads submit).
const POLL_SLICE: Duration = Duration::from_millis(100);

impl Gpu {
    /// Submits and waits until the GPU has finished everything recorded so far (not in a
    /// browser, where `poll` returns at once: there it would wait for nothing).
    pub fn sync(&self) -> Result<()> {
        no_blocking_in_browser("Gpu::sync")?;
        let idx = {
            let mut rec = lock(&self.rec);
            self.submit(&mut rec)
        };
        if idx.is_some() {
            self.wait("the work recorded so far (Gpu::sync)", idx, || true)?;
        }
        self.check_errors()
    }

    /// Polls until submission `idx` (every submission when None) is done and `ready()` holds
    /// (a map callback has run, which happens inside `poll`). In slices, so that a lost device,
    /// the deadline or an interrupt (`wait.rs`) ends it with an error naming `what`.
    fn wait(&self, what: &str, idx: Option<wgpu::SubmissionIndex>, ready: impl Fn() -> bool) -> Result<()> {
        let longest = *lock(&self.longest_wait);
        let w =
            Wait { what, adapter: &self.info().name, limit: *lock(&self.wait_limit), longest, interrupt: &INTERRUPT };
        let took = w.run(|| {
            self.check_lost()?;
            let turn = lock(&self.maintain);
            let r = self.device.poll(wgpu::PollType::Wait { submission_index: idx.clone(), timeout: Some(POLL_SLICE) });
            drop(turn);
            match r {
                Ok(_) => Ok(ready()),
                Err(wgpu::PollError::Timeout) => Ok(false),
                Err(e) => {
                    // A submission that failed validation never completes: report why.
                    self.check_errors()?;
                    Err(self.lost_error(e.to_string()))
                }
            }
        })?;
        let mut l = lock(&self.longest_wait);
        *l = (*l).max(took);
        Ok(())
    }

    /// Reads a tensor's bytes back: submits pending work and waits for it. Blocks: in a
    /// browser, await [`Gpu::read_bytes_async`].
    pub(crate) fn read_bytes(&self, t: &Tensor) -> Result<Vec<u8>> {
        no_blocking_in_browser("a GPU read-back (await the _async one)")
            .map_err(|e| GpuError::ReadBack(t.name().into(), e.to_string()))?;
        pollster::block_on(self.read_bytes_async(t))
    }

    /// [`Gpu::read_bytes`] as a future. Natively it waits here (polling the device, which runs
    /// the map callback) and is ready when first polled; in a browser the future resolves when
    /// the browser has mapped the buffer.
    pub(crate) async fn read_bytes_async(&self, t: &Tensor) -> Result<Vec<u8>> {
        Ok(self.read_many_async(&[t]).await?.pop().unwrap_or_default())
    }

    /// The bytes of several tensors from one copy, one submission and one wait: a training
    /// step reads its loss and, in mixed precision, the optimizer's skip flag together.
    pub async fn read_many_async(&self, ts: &[&Tensor]) -> Result<Vec<Vec<u8>>> {
        let pending = self.start_read(ts)?;
        self.finish_read(pending).await
    }

    /// The first half of `read_many_async`: records the copies and submits everything recorded
    /// so far, without waiting. Work recorded after this runs after the copy, so a training
    /// loop can submit its next step before it reads this one's loss (`finish_read`).
    pub fn start_read(&self, ts: &[&Tensor]) -> Result<PendingRead> {
        // Every tensor's size is a whole number of 4-byte words (DType::bytes_for), so each
        // copy lands at an offset wgpu accepts.
        let spans: Vec<(u64, u64)> =
            ts.iter().scan(0, |at, t| Some((std::mem::replace(at, *at + t.bytes()), t.bytes()))).collect();
        let size: u64 = ts.iter().map(|t| t.bytes()).sum();
        let names = ts.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ");
        if size == 0 {
            return Ok(PendingRead { staging: None, spans, names });
        }
        self.check_lost()?;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgbert read-back"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let idx = {
            let mut rec = lock(&self.rec);
            let enc = rec.encoder(&self.device);
            for (t, &(at, bytes)) in ts.iter().zip(&spans) {
                if bytes > 0 {
                    enc.copy_buffer_to_buffer(t.buffer(), t.offset(), &staging, at, bytes);
                }
            }
            self.submit(&mut rec)
        };
        let (tx, rx) = oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| tx.send(r));
        Ok(PendingRead { staging: Some((staging, idx, rx)), spans, names })
    }

    /// Waits for a read-back `start_read` began (natively; in a browser awaits the map) and
    /// returns each tensor's bytes.
    pub async fn finish_read(&self, pending: PendingRead) -> Result<Vec<Vec<u8>>> {
        let PendingRead { staging, spans, names } = pending;
        let Some((staging, idx, rx)) = staging else { return Ok(vec![Vec::new(); spans.len()]) };
        if !cfg!(target_arch = "wasm32") {
            self.wait(&format!("the read-back of tensor {names}"), idx, || rx.is_ready())?;
        }
        self.check_errors()?;
        let status =
            rx.await.ok_or_else(|| GpuError::ReadBack(names.clone(), "the map callback was dropped".into()))?;
        status.map_err(|e| GpuError::ReadBack(names.clone(), e.to_string()))?;
        let view =
            staging.slice(..).get_mapped_range().map_err(|e| GpuError::ReadBack(names.clone(), e.to_string()))?;
        let out = spans.iter().map(|&(at, bytes)| view[at as usize..(at + bytes) as usize].to_vec()).collect();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

/// A read-back submitted and not yet waited for: `Gpu::start_read`, then `Gpu::finish_read`.
pub struct PendingRead {
    /// The staging buffer, the submission that fills it and its map callback's result; None
    /// when every tensor is empty.
    staging: Option<(
        wgpu::Buffer,
        Option<wgpu::SubmissionIndex>,
        oneshot::Receiver<std::result::Result<(), wgpu::BufferAsyncError>>,
    )>,
    /// (offset, bytes) of each tensor in the staging buffer.
    spans: Vec<(u64, u64)>,
    names: String,
}

/// Read-backs of a tensor's contents (the methods are `Tensor`'s: they wait like `Gpu::sync`).
impl Tensor {
    /// Copies the tensor to the host (waits for the GPU); f16 comes back widened to f32 (exactly).
    /// Blocks: in a browser, await [`Tensor::to_vec_async`].
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        Ok(self.f32s(&self.gpu().read_bytes(self)?))
    }

    /// [`Tensor::to_vec`] as a future (for the browser, where nothing may block).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        Ok(self.f32s(&self.gpu().read_bytes_async(self).await?))
    }

    fn f32s(&self, bytes: &[u8]) -> Vec<f32> {
        if self.dtype() == DType::F16 {
            let halves: &[half::f16] = bytemuck::cast_slice(bytes);
            return halves[..self.numel()].iter().map(|h| h.to_f32()).collect();
        }
        bytemuck::cast_slice::<u8, f32>(bytes).to_vec()
    }

    pub fn to_vec_u32(&self) -> Result<Vec<u32>> {
        let bytes = self.gpu().read_bytes(self)?;
        Ok(bytemuck::cast_slice::<u8, u32>(&bytes).to_vec())
    }

    pub async fn to_vec_u32_async(&self) -> Result<Vec<u32>> {
        let bytes = self.gpu().read_bytes_async(self).await?;
        Ok(bytemuck::cast_slice::<u8, u32>(&bytes).to_vec())
    }
}
