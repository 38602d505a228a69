//! Errors of the GPU layer. Every message names what was at fault (tensor, limit, adapter).

use thiserror::Error;

#[cfg(target_os = "linux")]
const NO_ADAPTER_HINT: &str = "install a Vulkan driver; on a machine without a GPU, Mesa's software one: `sudo apt-get install mesa-vulkan-drivers` (Debian/Ubuntu)";
#[cfg(target_os = "windows")]
const NO_ADAPTER_HINT: &str =
    "update the GPU driver; Windows' DX12 software renderer (WARP) is used when no GPU is present: try --backend dx12";
#[cfg(target_os = "macos")]
const NO_ADAPTER_HINT: &str = "Metal needs macOS 10.13 or newer on a Mac with a Metal-capable GPU";
#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
const NO_ADAPTER_HINT: &str = "install a Vulkan driver for this machine";

#[derive(Debug, Error)]
pub enum GpuError {
    #[error("no GPU adapter found{0}.\nhint: {hint}", hint = NO_ADAPTER_HINT)]
    NoAdapter(String),
    #[error("no adapter matches {0:?}; available adapters:\n{1}")]
    AdapterNotFound(String, String),
    #[error("unknown backend {0:?}: choose vulkan, metal, dx12 or gl")]
    UnknownBackend(String),
    #[error("could not open the device on adapter {adapter}: {message}")]
    RequestDevice { adapter: String, message: String },
    #[error("tensor {name} needs {bytes} bytes, over this adapter's {limit_name} of {limit} bytes; use a smaller batch or sequence length, or a GPU with more memory")]
    OverLimit { name: String, bytes: u64, limit_name: &'static str, limit: u64 },
    #[error("{name}={value:?} is not valid: expected {expected}")]
    BadSetting { name: &'static str, value: String, expected: &'static str },
    #[error("{0}")]
    Shape(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the GPU device on adapter {adapter} was lost: {message}")]
    DeviceLost { adapter: String, message: String },
    #[error("waited {seconds:.0} s for the GPU ({adapter}) to finish {what}, past the deadline: the device or its queue is hung.\nhint: if the work is just slow, set WGBERT_READBACK_TIMEOUT=SECONDS")]
    Timeout { what: String, adapter: String, seconds: f64 },
    #[error("interrupted while waiting for the GPU ({adapter}) to finish {what} (waited {seconds:.0} s): it did not finish after the interrupt")]
    Interrupted { what: String, adapter: String, seconds: f64 },
    #[error("GPU error: {0}")]
    Validation(String),
    #[error("shader {shader} entry {entry} failed to compile: {message}")]
    Compile { shader: &'static str, entry: &'static str, message: String },
    #[error("reading back tensor {0} from the GPU failed: {1}")]
    ReadBack(String, String),
}

impl GpuError {
    /// Whether the device can take no more work from this run: lost, hung, or the user stopped
    /// waiting for it. Callers that try alternatives (tuning) stop on these.
    pub fn is_fatal(&self) -> bool {
        matches!(self, GpuError::DeviceLost { .. } | GpuError::Timeout { .. } | GpuError::Interrupted { .. })
    }
}

/// Shorthand for shape errors in op argument checks.
pub fn shape_err(msg: impl Into<String>) -> GpuError {
    GpuError::Shape(msg.into())
}
