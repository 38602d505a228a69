//! Errors of the GPU layer. Every message names what was at fault (tensor, limit, adapter).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum GpuError {
    #[error("no GPU adapter found{0}.\nhint: on a machine without a GPU install a software Vulkan driver: `sudo apt-get install mesa-vulkan-drivers` (Debian/Ubuntu)")]
    NoAdapter(String),
    #[error("no adapter matches {0:?}; available adapters:\n{1}")]
    AdapterNotFound(String, String),
    #[error("unknown backend {0:?}: choose vulkan, metal, dx12 or gl")]
    UnknownBackend(String),
    #[error("could not open the device on adapter {adapter}: {message}")]
    RequestDevice { adapter: String, message: String },
    #[error("tensor {name} needs {bytes} bytes, over this adapter's {limit_name} of {limit} bytes; use a smaller batch or sequence length, or a GPU with more memory")]
    OverLimit { name: String, bytes: u64, limit_name: &'static str, limit: u64 },
    #[error("{0}")]
    Shape(String),
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
