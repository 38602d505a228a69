//! Which adapter to open and what to ask of it: the adapters of the chosen backends, the best
//! first (discrete, integrated, virtual, CPU) or the one the user names, and the limits to
//! request (the adapter's own, capped by `WGBERT_MAX_BUFFER`).

use super::wait::no_blocking_in_browser;
use super::{GpuError, Result};

#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// vulkan, metal, dx12 or gl; all backends when None.
    pub backend: Option<String>,
    /// Index into the adapter list, or a substring of the adapter's name (case-insensitive).
    pub adapter: Option<String>,
    /// Kernel tuning: off, auto or retune (`TuneMode::parse`); off when None.
    pub tune: Option<String>,
    /// Folder of the tuning cache; `tuning::default_cache_dir()` when None.
    pub tune_cache: Option<std::path::PathBuf>,
}

impl GpuOptions {
    /// Options with `WGBERT_ADAPTER` / `WGBERT_BACKEND` from the environment as defaults.
    pub fn from_env() -> Self {
        GpuOptions {
            backend: std::env::var("WGBERT_BACKEND").ok().filter(|s| !s.is_empty()),
            adapter: std::env::var("WGBERT_ADAPTER").ok().filter(|s| !s.is_empty()),
            tune: std::env::var("WGBERT_TUNE").ok().filter(|s| !s.is_empty()),
            tune_cache: None,
        }
    }
}

impl GpuOptions {
    /// What a front end (the CLI's flags, the Python package's arguments) asks for, with
    /// `WGBERT_BACKEND` / `WGBERT_ADAPTER` / `WGBERT_TUNE` filling what it leaves out, and
    /// kernel tuning `auto` when neither says.
    pub fn given(backend: Option<String>, adapter: Option<String>, tune: Option<String>) -> Self {
        let env = GpuOptions::from_env();
        GpuOptions {
            backend: backend.or(env.backend),
            adapter: adapter.or(env.adapter),
            tune: tune.or(env.tune).or(Some("auto".into())),
            tune_cache: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub index: usize,
    pub name: String,
    pub backend: String,
    pub device_type: wgpu::DeviceType,
    pub driver: String,
    /// The PCI bus id ("0000:41:00.0") where the backend gives one (Vulkan, DX12), else empty:
    /// what maps a scheduler's GPU (Ray, CUDA_VISIBLE_DEVICES) onto an adapter.
    pub pci_bus_id: String,
}

fn parse_backends(name: Option<&str>) -> Result<wgpu::Backends> {
    Ok(match name.map(|s| s.to_ascii_lowercase()) {
        None => wgpu::Backends::all(),
        Some(s) => match s.as_str() {
            "vulkan" | "vk" => wgpu::Backends::VULKAN,
            "metal" => wgpu::Backends::METAL,
            "dx12" | "d3d12" => wgpu::Backends::DX12,
            "gl" | "gles" | "opengl" => wgpu::Backends::GL,
            _ => return Err(GpuError::UnknownBackend(s)),
        },
    })
}

fn device_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

pub(super) fn summarize(index: usize, info: &wgpu::AdapterInfo) -> AdapterSummary {
    let driver = format!("{} {}", info.driver, info.driver_info).trim().to_string();
    AdapterSummary {
        index,
        name: info.name.clone(),
        backend: format!("{:?}", info.backend).to_lowercase(),
        device_type: info.device_type,
        driver,
        pci_bus_id: info.device_pci_bus_id.clone(),
    }
}

/// All adapters the chosen backends offer, in the order `--adapter N` indexes them. Blocks: in a
/// browser, await [`enumerate_async`] (which gives the one adapter WebGPU offers).
pub fn enumerate(opts: &GpuOptions) -> Result<Vec<(wgpu::Adapter, AdapterSummary)>> {
    no_blocking_in_browser("listing adapters (await enumerate_adapters_async)")?;
    pollster::block_on(enumerate_async(opts))
}

pub async fn enumerate_async(opts: &GpuOptions) -> Result<Vec<(wgpu::Adapter, AdapterSummary)>> {
    let backends = parse_backends(opts.backend.as_deref())?;
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let adapters = instance.enumerate_adapters(backends).await;
    Ok(adapters
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let s = summarize(i, &a.get_info());
            (a, s)
        })
        .collect())
}

/// `WGBERT_MAX_BUFFER` (bytes, or with a K/M/G suffix) caps the buffer limits asked of the
/// device: a run can be tried against a smaller GPU's limits (WebGPU's defaults are 256M and
/// 128M) before it meets one. At least 1M, which every real adapter exceeds, so that the
/// engine's own buffers (the 512 KiB parameter arena) always fit.
fn buffer_cap_from_env() -> Result<Option<u64>> {
    let Ok(raw) = std::env::var("WGBERT_MAX_BUFFER") else { return Ok(None) };
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_uppercase()),
        _ => (s, 'B'),
    };
    let scale: u64 = match unit {
        'B' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        _ => 0,
    };
    match digits.trim().parse::<u64>() {
        Ok(n) if scale > 0 && n.saturating_mul(scale) >= 1 << 20 => Ok(Some(n.saturating_mul(scale))),
        _ => Err(GpuError::BadSetting {
            name: "WGBERT_MAX_BUFFER",
            value: raw.clone(),
            expected: "a number of bytes of at least 1M, optionally with K, M or G (e.g. 256M)",
        }),
    }
}

/// The adapters to try, in order: the one `opts` names, else all of them best first.
pub(super) async fn candidates(opts: &GpuOptions) -> Result<Vec<wgpu::Adapter>> {
    let mut adapters = enumerate_async(opts).await?;
    if adapters.is_empty() {
        let which = opts.backend.as_ref().map(|b| format!(" for backend {b}")).unwrap_or_default();
        return Err(GpuError::NoAdapter(which));
    }
    if let Some(want) = &opts.adapter {
        let list = adapters
            .iter()
            .map(|(_, s)| format!("  {}: {} ({})", s.index, s.name, s.backend))
            .collect::<Vec<_>>()
            .join("\n");
        let pos = match want.parse::<usize>() {
            Ok(i) if i < adapters.len() => Some(i),
            _ => adapters.iter().position(|(_, s)| s.name.to_lowercase().contains(&want.to_lowercase())),
        };
        let chosen = pos.ok_or_else(|| GpuError::AdapterNotFound(want.clone(), list))?;
        return Ok(vec![adapters.swap_remove(chosen).0]);
    }
    adapters.sort_by_key(|(_, s)| (device_rank(s.device_type), s.index));
    Ok(adapters.into_iter().map(|(a, _)| a).collect())
}

/// The adapter's real limits, not WebGPU's small defaults (a 30522 x 768 embedding is 94 MB and
/// a training step's activations are larger still), with the buffer limits capped by
/// `WGBERT_MAX_BUFFER` when it is set.
pub(super) fn requested_limits(adapter: &wgpu::Adapter) -> Result<wgpu::Limits> {
    let mut limits = adapter.limits();
    if let Some(cap) = buffer_cap_from_env()? {
        limits.max_buffer_size = limits.max_buffer_size.min(cap);
        limits.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size.min(cap);
    }
    Ok(limits)
}
