//! The GPU engine core: device selection, buffers, tensors and kernel launches.
//!
//! `ops` builds on this; nothing here knows about BERT or the tape.

mod adapter;
mod context;
mod error;
mod kernel;
mod oneshot;
mod pool;
mod profiler;
mod tensor;
#[cfg(not(target_arch = "wasm32"))]
pub mod translate;
mod tuning;
mod wait;

pub use adapter::{
    enumerate as enumerate_adapters, enumerate_async as enumerate_adapters_async, AdapterSummary, GpuOptions,
};
pub(crate) use context::no_blocking_in_browser;
pub use context::Gpu;
pub use error::{shape_err, GpuError};
pub use kernel::{shader_runtime_checks, Arg, Kernel, Shader};
pub use pool::MemoryStats;
pub use tensor::{DType, Tensor};
pub use tuning::{default_cache_dir, TuneMode, Tuned};
pub use wait::interrupt;

pub type Result<T, E = GpuError> = std::result::Result<T, E>;
