//! The GPU engine core: device selection, buffers, tensors and kernel launches.
//!
//! `ops` builds on this; nothing here knows about BERT or the tape.
//!
//! Imports point one way, from the top of this list to the bottom:
//! - `readback`, `launch`, `memory`: what is done with tensors on the device (read them back
//!   and wait, launch kernels on them, make, write and copy them), each an `impl Gpu` block;
//! - `tensor`: a shape, an element type and a pooled buffer of one device;
//! - `device`: the `Gpu` itself (opening it, its settings, the command recorder, error checks);
//! - what the device is made of: `adapter`, `kernel`, `pool`, `profiler`, `tuning`, `wait`,
//!   `oneshot`, `lock`, `error`.
//!
//! `translate` (WGSL to other shading languages) needs only `kernel`.

mod adapter;
mod device;
mod error;
mod kernel;
mod launch;
mod lock;
mod memory;
mod oneshot;
mod pool;
mod profiler;
mod readback;
mod tensor;
#[cfg(not(target_arch = "wasm32"))]
pub mod translate;
mod tuning;
mod wait;

pub use adapter::{
    enumerate as enumerate_adapters, enumerate_async as enumerate_adapters_async, AdapterSummary, GpuOptions,
};
pub use device::Gpu;
pub use error::{shape_err, GpuError};
pub use kernel::{shader_runtime_checks, Kernel, Shader};
pub use launch::Arg;
pub use pool::MemoryStats;
pub use readback::PendingRead;
pub use tensor::{DType, Tensor};
pub use tuning::{default_cache_dir, TuneMode, Tuned};
pub use wait::interrupt;
pub(crate) use wait::no_blocking_in_browser;

pub type Result<T, E = GpuError> = std::result::Result<T, E>;
