//! The GPU context: the device (opened on the adapter `adapter.rs` chooses), tensors on it, and
//! the recorder that batches kernel launches.
//!
//! Launches are recorded into one pending command encoder and submitted together when something
//! must be read back (or the parameter arena fills up); nothing waits on the GPU except an
//! explicit read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::adapter::{candidates, requested_limits, summarize, AdapterSummary, GpuOptions};
use super::kernel::{Arg, Kernel, KernelCache};
use super::pool::{BufferPool, MemoryStats};
use super::profiler::{durations, Profiler};
use super::tensor::{DType, Tensor};
use super::tuning::{default_cache_dir, TuneMode, Tuned, TuningTable};
use super::wait::{limit_from_env, Wait, INTERRUPT};
use super::{GpuError, Result};

/// Each launch's parameters live in one 256-byte slot of a uniform arena (256 is the largest
/// `min_uniform_buffer_offset_alignment` any adapter asks for).
const PARAM_SLOT: u64 = 256;
const PARAM_SLOTS: u64 = 2048;
/// At most this many storage buffers per kernel: the portable limit per shader stage.
const MAX_STORAGE_ARGS: usize = 8;
/// A wait for the GPU polls in slices this long, checking between them for a lost device, its
/// deadline and an interrupt (and letting other threads submit).
const POLL_SLICE: Duration = Duration::from_millis(100);

pub struct Gpu {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    pub(super) features: wgpu::Features,
    pub(super) pool: BufferPool,
    kernels: Mutex<KernelCache>,
    pub(super) rec: Mutex<Recorder>,
    /// Submits and polls take turns: wgpu-core 30's `Device::maintain` asserts when one
    /// thread's waiting poll reads the fence before another's submit or poll empties the queue
    /// (gfx-rs/wgpu#9958, fixed after 30.0.2). Threads that share a `Gpu` (the tests) hit it.
    maintain: Mutex<()>,
    lost: Arc<Mutex<Option<String>>>,
    /// How long one wait for the GPU may take (`wait::limit_from_env`).
    wait_limit: Mutex<Duration>,
    /// The longest wait that finished: an interrupted wait gets twice this to finish.
    longest_wait: Mutex<Duration>,
    errors: Arc<Mutex<Vec<String>>>,
    pub(super) profiler: Mutex<Option<Profiler>>,
    /// Kernel variant per op family ("matmul" -> "reg"), filled by tuning or by the user.
    variants: Mutex<HashMap<String, String>>,
    /// Measured per-shape choices (`ops::tune`), cached on disk.
    tuning: Mutex<TuningTable>,
}

pub(super) struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    params: Vec<u8>,
    slot: u64,
    arena: wgpu::Buffer,
    submissions: u64,
    launches: u64,
}

impl Gpu {
    /// Opens the best adapter (discrete, then integrated, then CPU), or the one `opts` names.
    /// Blocks: in a browser, await [`Gpu::new_async`].
    pub fn new(opts: &GpuOptions) -> Result<Arc<Gpu>> {
        no_blocking_in_browser("opening the GPU (await Gpu::new_async)")?;
        pollster::block_on(Self::new_async(opts))
    }

    /// [`Gpu::new`] as a future: the browser's adapter and device requests are promises.
    pub async fn new_async(opts: &GpuOptions) -> Result<Arc<Gpu>> {
        // An adapter that fails to open (a broken driver) gives way to the next.
        let mut first_err = None;
        let tune = match opts.tune.as_deref() {
            None => TuneMode::Off,
            Some(s) => TuneMode::parse(s).ok_or_else(|| GpuError::BadSetting {
                name: "--tune (or WGBERT_TUNE)",
                value: s.to_string(),
                expected: "auto, off or retune",
            })?,
        };
        if cfg!(target_arch = "wasm32") && tune != TuneMode::Off {
            return Err(GpuError::BadSetting {
                name: "tune",
                value: format!("{tune:?}"),
                expected: "off in a browser (tuning times kernels by waiting for the GPU)",
            });
        }
        for adapter in candidates(opts).await? {
            match Self::open(adapter, tune, opts.tune_cache.clone().or_else(default_cache_dir)).await {
                Ok(gpu) => return Ok(gpu),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        // candidates() is never empty, so first_err is set; the fallback keeps that a non-panic.
        Err(first_err.unwrap_or_else(|| GpuError::NoAdapter(String::new())))
    }

    async fn open(adapter: wgpu::Adapter, tune: TuneMode, cache: Option<std::path::PathBuf>) -> Result<Arc<Gpu>> {
        let info = adapter.get_info();
        let limits = requested_limits(&adapter)?;
        let mut wanted = wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY;
        // WGBERT_NO_F16=1 stands in for an adapter without shader-f16 (tests, comparisons).
        if std::env::var("WGBERT_NO_F16").is_ok_and(|v| v == "1") {
            wanted.remove(wgpu::Features::SHADER_F16);
        }
        // WGBERT_NO_SUBGROUP=1: the device without SUBGROUP, to measure whether merely asking
        // for it slows pipeline creation or kernels (reported on some drivers).
        if std::env::var("WGBERT_NO_SUBGROUP").is_ok_and(|v| v == "1") {
            wanted.remove(wgpu::Features::SUBGROUP);
        }
        // Tensor cores (wgpu's experimental cooperative matrices) only where the adapter lists
        // the one shape matmul_coop.wgsl uses: 16x16x16, f16 operands, f32 accumulation.
        let coop = coop_matrix_offered(&adapter);
        if coop {
            wanted |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
        }
        let features = adapter.features() & wanted;
        let wait_limit = limit_from_env(info.device_type == wgpu::DeviceType::Cpu)?;
        let idle_floor = idle_floor_from_env()?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgbert"),
                required_features: features,
                required_limits: limits.clone(),
                // SAFETY: wgpu asks callers of experimental features to accept that its
                // implementation may have bugs; only the cooperative matrices are requested,
                // and only matmul_coop.wgsl uses them (selftest checks it against f32).
                experimental_features: if coop {
                    unsafe { wgpu::ExperimentalFeatures::enabled() }
                } else {
                    wgpu::ExperimentalFeatures::disabled()
                },
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| GpuError::RequestDevice { adapter: info.name.clone(), message: e.to_string() })?;

        let lost = Arc::new(Mutex::new(None));
        let lost_cb = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *lock(&lost_cb) = Some(format!("{reason:?}: {msg}"));
        });
        // Validation errors become `GpuError`s at the next check instead of wgpu's default panic.
        let errors = Arc::new(Mutex::new(Vec::new()));
        let errors_cb = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| lock(&errors_cb).push(e.to_string())));

        let adapter_key = format!(
            "{} | {:?} | {} {} | {:04x}:{:04x}",
            info.name, info.backend, info.driver, info.driver_info, info.vendor, info.device
        );
        let arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgbert kernel parameters"),
            size: PARAM_SLOT * PARAM_SLOTS,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Arc::new(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            pool: BufferPool::new(idle_floor),
            kernels: Mutex::new(KernelCache::default()),
            rec: Mutex::new(Recorder {
                encoder: None,
                params: vec![0; (PARAM_SLOT * PARAM_SLOTS) as usize],
                slot: 0,
                arena,
                submissions: 0,
                launches: 0,
            }),
            maintain: Mutex::new(()),
            lost,
            wait_limit: Mutex::new(wait_limit),
            longest_wait: Mutex::new(Duration::ZERO),
            errors,
            profiler: Mutex::new(None),
            variants: Mutex::new(HashMap::new()),
            tuning: Mutex::new(TuningTable::new(tune, cache.clone(), adapter_key)),
        }))
    }

    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }
    pub fn features(&self) -> wgpu::Features {
        self.features
    }
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }
    pub fn is_cpu(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
    pub fn summary(&self) -> AdapterSummary {
        summarize(0, &self.info)
    }
    pub(crate) fn pool(&self) -> &BufferPool {
        &self.pool
    }
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
    /// Sets how long one wait for the GPU may take (`WGBERT_READBACK_TIMEOUT`).
    pub fn set_wait_limit(&self, limit: Duration) {
        *lock(&self.wait_limit) = limit;
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
    /// (submissions, kernel launches) since the device was opened.
    pub fn counters(&self) -> (u64, u64) {
        let r = lock(&self.rec);
        (r.submissions, r.launches)
    }
    pub fn pipeline_count(&self) -> usize {
        lock(&self.kernels).pipeline_count()
    }

    /// (shader, entry point, override constants) of every pipeline this device has built.
    pub fn specializations(&self) -> Vec<(super::Shader, &'static str, Vec<(&'static str, f64)>)> {
        lock(&self.kernels).specializations()
    }

    /// The kernel variant chosen for an op family: the tuning table's entry, else the
    /// `WGBERT_<FAMILY>` environment variable (e.g. `WGBERT_MATMUL=tiled`).
    pub fn variant(&self, family: &str) -> Option<String> {
        if let Some(v) = lock(&self.variants).get(family) {
            return Some(v.clone());
        }
        std::env::var(format!("WGBERT_{}", family.to_ascii_uppercase())).ok().filter(|s| !s.is_empty())
    }

    pub fn set_variant(&self, family: &str, name: &str) {
        lock(&self.variants).insert(family.to_string(), name.to_string());
    }
    /// Undoes `set_variant`: the family's choice is the environment's or the tuner's again.
    pub fn clear_variant(&self, family: &str) {
        lock(&self.variants).remove(family);
    }

    /// Whether kernel choices are measured (`--tune auto|retune`).
    pub fn tuning(&self) -> TuneMode {
        lock(&self.tuning).mode()
    }
    /// Whether `family`'s kernel is picked by measurement: tuning is on and the user forced no
    /// variant (`WGBERT_<FAMILY>`).
    pub fn tunes(&self, family: &str) -> bool {
        self.tuning() != TuneMode::Off && self.variant(family).is_none()
    }
    /// Where measured choices are kept, if anywhere.
    pub fn tuning_cache(&self) -> Option<std::path::PathBuf> {
        lock(&self.tuning).path().map(Into::into)
    }
    /// The measured choice for `key` (e.g. "matmul@<kernel hash> 4096x384x1536 …").
    pub fn tuned(&self, key: &str) -> Option<String> {
        lock(&self.tuning).get(key).map(Into::into)
    }
    pub fn record_tuned(&self, key: &str, tuned: &Tuned) {
        lock(&self.tuning).insert(key, tuned)
    }

    /// Errors if a tensor of `bytes` cannot exist on this adapter, naming it and the limit.
    pub fn check_fits(&self, name: &str, bytes: u64) -> Result<()> {
        let checks = [
            ("max_buffer_size", self.limits.max_buffer_size),
            ("max_storage_buffer_binding_size", self.limits.max_storage_buffer_binding_size),
        ];
        for (limit_name, limit) in checks {
            if super::pool::size_class(bytes) > limit {
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

    /// Whether this adapter stores and computes f16 (WGSL `enable f16`).
    pub fn has_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// Whether matmul_coop.wgsl (tensor cores) can run here: f16 and the cooperative matrices.
    pub fn has_coop_matrix(&self) -> bool {
        self.has_f16() && self.features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
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
                self.info.name
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
        if bytes.is_empty() {
            return Ok(());
        }
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
                enc.copy_buffer_to_buffer(&staging, 0, t.buffer(), t.offset(), bytes.len() as u64);
            }
            None => self.queue.write_buffer(t.buffer(), t.offset(), bytes),
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
        self.check_own([src, dst].into_iter())?;
        let mut rec = lock(&self.rec);
        let enc = rec.encoder(&self.device);
        enc.copy_buffer_to_buffer(src.buffer(), src.offset(), dst.buffer(), dst.offset(), src.bytes());
        Ok(())
    }

    fn check_own<'t>(&self, mut tensors: impl Iterator<Item = &'t Tensor>) -> Result<()> {
        match tensors.find(|t| !t.is_on(self)) {
            Some(t) => Err(GpuError::Validation(format!("tensor {} belongs to another GPU device", t.name()))),
            None => Ok(()),
        }
    }

    /// Records one kernel launch. `groups` is the workgroup grid.
    pub fn launch(&self, kernel: &Kernel, params: &[u32], args: &[Arg], groups: [u32; 3]) -> Result<()> {
        let uniforms = args.iter().filter(|a| matches!(a, Arg::U(..))).count();
        let storage = args.len() - uniforms;
        // The parameter block is a uniform binding too.
        if params.len() * 4 > PARAM_SLOT as usize
            || storage > MAX_STORAGE_ARGS
            || uniforms + 1 > self.limits.max_uniform_buffers_per_shader_stage as usize
        {
            return Err(GpuError::Validation(format!("{}: too many parameters or arguments", kernel.entry)));
        }
        self.check_own(args.iter().map(|a| a.tensor()))?;
        let max = self.limits.max_compute_workgroups_per_dimension;
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
        let (pipeline, layout) = lock(&self.kernels).get(&self.device, kernel, args)?;

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

    fn submit(&self, rec: &mut Recorder) -> Option<wgpu::SubmissionIndex> {
        let enc = rec.encoder.take()?;
        if rec.slot > 0 {
            self.queue.write_buffer(&rec.arena, 0, &rec.params[..(rec.slot * PARAM_SLOT) as usize]);
        }
        rec.slot = 0;
        rec.submissions += 1;
        let _turn = lock(&self.maintain);
        Some(self.queue.submit([enc.finish()]))
    }

    /// Submits everything recorded so far without waiting.
    pub fn flush(&self) -> Result<()> {
        let mut rec = lock(&self.rec);
        self.submit(&mut rec);
        drop(rec);
        self.check_errors()
    }

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
        let w = Wait { what, adapter: &self.info.name, limit: *lock(&self.wait_limit), longest, interrupt: &INTERRUPT };
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

    fn lost_error(&self, message: String) -> GpuError {
        GpuError::DeviceLost { adapter: self.info.name.clone(), message }
    }

    fn check_lost(&self) -> Result<()> {
        match lock(&self.lost).clone() {
            Some(m) => Err(self.lost_error(m)),
            None => Ok(()),
        }
    }

    fn check_errors(&self) -> Result<()> {
        self.check_lost()?;
        if lock(&self.errors).is_empty() {
            return Ok(());
        }
        // Every call on a destroyed device fails validation, and wgpu tells of the loss only
        // when polled: poll once, so that the loss is what the error names.
        if !cfg!(target_arch = "wasm32") {
            let _turn = lock(&self.maintain);
            let _ = self.device.poll(wgpu::PollType::Poll);
        }
        self.check_lost()?;
        let mut errs = lock(&self.errors);
        let msg = errs.join("\n");
        errs.clear();
        Err(GpuError::Validation(msg))
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
        let size = t.bytes();
        if size == 0 {
            return Ok(Vec::new());
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
            rec.encoder(&self.device).copy_buffer_to_buffer(t.buffer(), t.offset(), &staging, 0, size);
            self.submit(&mut rec)
        };
        let (tx, rx) = super::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| tx.send(r));
        if !cfg!(target_arch = "wasm32") {
            self.wait(&format!("the read-back of tensor {}", t.name()), idx, || rx.is_ready())?;
        }
        self.check_errors()?;
        let status =
            rx.await.ok_or_else(|| GpuError::ReadBack(t.name().into(), "the map callback was dropped".into()))?;
        status.map_err(|e| GpuError::ReadBack(t.name().into(), e.to_string()))?;
        let view =
            staging.slice(..).get_mapped_range().map_err(|e| GpuError::ReadBack(t.name().into(), e.to_string()))?;
        let out = view.to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

impl Recorder {
    pub(super) fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("wgbert") })
        })
    }
}

/// An error on wasm32, where blocking on a future would never return (the browser resolves its
/// promises only when control goes back to its event loop); Ok natively.
pub(crate) fn no_blocking_in_browser(what: &str) -> Result<()> {
    if cfg!(target_arch = "wasm32") {
        return Err(GpuError::Unsupported(format!("{what}: a browser cannot block on the GPU")));
    }
    Ok(())
}

/// The pool's idle floor: `WGBERT_POOL_IDLE_MIB` mebibytes, else `pool::DEFAULT_IDLE_FLOOR`.
fn idle_floor_from_env() -> Result<u64> {
    match std::env::var("WGBERT_POOL_IDLE_MIB").ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(super::pool::DEFAULT_IDLE_FLOOR),
        Some(v) => v.trim().parse::<u64>().map(|mib| mib << 20).map_err(|_| GpuError::BadSetting {
            name: "WGBERT_POOL_IDLE_MIB",
            value: v,
            expected: "a whole number of mebibytes (0 frees idle buffers down to the peak tensor bytes)",
        }),
    }
}

/// Locks a mutex, carrying on with the data if another thread panicked while holding it.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

/// Whether the adapter offers cooperative matrices in the shape matmul_coop.wgsl is written for
/// (16x16x16, f16 A and B, f32 C); `WGBERT_NO_COOP=1` refuses them (comparisons, a driver bug).
fn coop_matrix_offered(adapter: &wgpu::Adapter) -> bool {
    use wgpu::CooperativeScalarType as T;
    if std::env::var("WGBERT_NO_COOP").is_ok_and(|v| v == "1")
        || !adapter.features().contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
    {
        return false;
    }
    adapter
        .cooperative_matrix_properties()
        .iter()
        .any(|p| (p.m_size, p.n_size, p.k_size) == (16, 16, 16) && p.ab_type == T::F16 && p.cr_type == T::F32)
}
