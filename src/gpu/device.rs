//! The device: opening it on the adapter `adapter.rs` chooses, what it offers and how it is
//! set, the recorder that batches its commands, and the checks for a lost device and validation
//! errors.
//!
//! Commands are recorded into one pending command encoder and submitted together when something
//! must be read back (`readback.rs`) or the parameter arena fills up (`launch.rs`); nothing
//! waits on the GPU except an explicit read. Tensors (`tensor.rs`) and everything made of them
//! build on this module, not it on them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::adapter::{candidates, requested_limits, summarize, AdapterSummary, GpuOptions};
use super::kernel::{KernelCache, Shader};
use super::lock::lock;
use super::pool::BufferPool;
use super::profiler::Profiler;
use super::tuning::{default_cache_dir, TuneMode, Tuned, TuningTable};
use super::wait::{limit_from_env, no_blocking_in_browser};
use super::{GpuError, Result};

/// Each launch's parameters live in one 256-byte slot of a uniform arena (256 is the largest
/// `min_uniform_buffer_offset_alignment` any adapter asks for).
pub(super) const PARAM_SLOT: u64 = 256;
pub(super) const PARAM_SLOTS: u64 = 2048;

pub struct Gpu {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    pub(super) features: wgpu::Features,
    pub(super) pool: BufferPool,
    pub(super) kernels: Mutex<KernelCache>,
    pub(super) rec: Mutex<Recorder>,
    /// Submits and polls take turns: wgpu-core 30's `Device::maintain` asserts when one
    /// thread's waiting poll reads the fence before another's submit or poll empties the queue
    /// (gfx-rs/wgpu#9958, fixed after 30.0.2). Threads that share a `Gpu` (the tests) hit it.
    pub(super) maintain: Mutex<()>,
    lost: Arc<Mutex<Option<String>>>,
    /// How long one wait for the GPU may take (`wait::limit_from_env`).
    pub(super) wait_limit: Mutex<Duration>,
    /// The longest wait that finished: an interrupted wait gets twice this to finish.
    pub(super) longest_wait: Mutex<Duration>,
    errors: Arc<Mutex<Vec<String>>>,
    pub(super) profiler: Mutex<Option<Profiler>>,
    /// Kernel variant per op family ("matmul" -> "reg"), filled by tuning or by the user.
    variants: Mutex<HashMap<String, String>>,
    /// Measured per-shape choices (`ops::tune`), cached on disk.
    tuning: Mutex<TuningTable>,
}

/// The commands recorded since the last submission, and the parameter arena their launches
/// read (`launch.rs` fills a slot per launch).
pub(super) struct Recorder {
    pub(super) encoder: Option<wgpu::CommandEncoder>,
    pub(super) params: Vec<u8>,
    pub(super) slot: u64,
    pub(super) arena: wgpu::Buffer,
    pub(super) submissions: u64,
    pub(super) launches: u64,
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
        let runtime_checks = super::kernel::shader_runtime_checks(info.device_type == wgpu::DeviceType::Cpu);
        Ok(Arc::new(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            pool: BufferPool::new(idle_floor),
            kernels: Mutex::new(KernelCache::new(runtime_checks)),
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

    /// Whether this device's kernels keep wgpu's runtime checks (`gpu::shader_runtime_checks`).
    pub fn shader_runtime_checks(&self) -> bool {
        super::lock::lock(&self.kernels).runtime_checks()
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
    /// Sets how long one wait for the GPU may take (`WGBERT_READBACK_TIMEOUT`).
    pub fn set_wait_limit(&self, limit: Duration) {
        *lock(&self.wait_limit) = limit;
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
    pub fn specializations(&self) -> Vec<(Shader, &'static str, Vec<(&'static str, f64)>)> {
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

    /// Whether this adapter stores and computes f16 (WGSL `enable f16`).
    pub fn has_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// The smallest and largest subgroup the adapter may run, where the device has subgroups
    /// and a subgroup fits the 64-invocation workgroups of the kernels that use them (else None;
    /// `WGBERT_NO_SUBGROUP=1` opens the device without them).
    pub fn subgroup_sizes(&self) -> Option<(u32, u32)> {
        let (min, max) = (self.info.subgroup_min_size, self.info.subgroup_max_size);
        (self.features.contains(wgpu::Features::SUBGROUP) && min >= 1 && min <= max && max <= 64).then_some((min, max))
    }

    /// Whether the CPU-adapter kernels that share loads through subgroups run here (the panel
    /// matmul's matmul_panel_sg, the fused attention's subgroup build): they are written for
    /// subgroups of exactly 8 lanes (lavapipe on 256-bit SIMD). `WGBERT_SUBGROUP_SHARING=0`
    /// keeps the kernels without (comparisons, tests).
    pub fn shares_through_subgroups(&self) -> bool {
        self.subgroup_sizes() == Some((8, 8)) && self.variant("subgroup_sharing").as_deref() != Some("0")
    }

    /// Whether training steps and inference batches are queued (the next one submitted before
    /// the last one is read back): on GPUs, where the host records while the GPU computes; not
    /// on CPU adapters, where host and "GPU" share the cores and there is nothing to overlap
    /// (measured on lavapipe: no gain, at times slower). `WGBERT_QUEUE=0|1` decides by hand.
    pub fn queues_work(&self) -> bool {
        match self.variant("queue").as_deref() {
            Some("1") => true,
            Some("0") => false,
            _ => !self.is_cpu(),
        }
    }

    /// Whether matmul_coop.wgsl (tensor cores) can run here: f16 and the cooperative matrices.
    pub fn has_coop_matrix(&self) -> bool {
        self.has_f16() && self.features.contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
    }

    /// Submits what the recorder holds, with the parameter slots it used; None when it holds
    /// nothing.
    pub(super) fn submit(&self, rec: &mut Recorder) -> Option<wgpu::SubmissionIndex> {
        let enc = rec.encoder.take()?;
        if rec.slot > 0 {
            self.queue.write_buffer(&rec.arena, 0, &rec.params[..(rec.slot * PARAM_SLOT) as usize]);
        }
        rec.slot = 0;
        rec.submissions += 1;
        let _turn = lock(&self.maintain);
        Some(self.queue.submit([enc.finish()]))
    }

    pub(super) fn lost_error(&self, message: String) -> GpuError {
        GpuError::DeviceLost { adapter: self.info.name.clone(), message }
    }

    pub(super) fn check_lost(&self) -> Result<()> {
        match lock(&self.lost).clone() {
            Some(m) => Err(self.lost_error(m)),
            None => Ok(()),
        }
    }

    pub(super) fn check_errors(&self) -> Result<()> {
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
}

impl Recorder {
    pub(super) fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("wgbert") })
        })
    }
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
