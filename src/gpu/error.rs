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
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("GPU error: {0}")]
    Validation(String),
    #[error("shader {shader} entry {entry} failed to compile: {message}")]
    Compile { shader: &'static str, entry: &'static str, message: String },
    #[error("reading back tensor {0} from the GPU failed: {1}")]
    ReadBack(String, String),
}

/// Shorthand for shape errors in op argument checks.
pub fn shape_err(msg: impl Into<String>) -> GpuError {
    GpuError::Shape(msg.into())
}
