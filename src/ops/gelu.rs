//! The feed-forward activation, forward and backward (gelu.wgsl): GELU exact (erf) or
//! tanh-approximated, or ReLU.

use std::sync::Arc;

use super::grid_1d;
use crate::gpu::{Arg, Gpu, GpuError, Kernel, Shader, Tensor};
pub use crate::kernel_args::GeluKind;

fn constants(kind: GeluKind) -> [(&'static str, f64); 1] {
    [("ACT", kind as u32 as f64)]
}

pub fn gelu_forward(gpu: &Arc<Gpu>, x: &Tensor, kind: GeluKind) -> Result<Tensor, GpuError> {
    let y = gpu.empty("gelu output", x.shape())?;
    let c = constants(kind);
    gpu.launch(
        &Kernel { shader: Shader::Gelu, entry: "gelu_fwd", constants: &c },
        &[x.numel() as u32],
        &[Arg::R(x), Arg::W(&y)],
        grid_1d(x.numel(), 256),
    )?;
    Ok(y)
}

/// dx = dy · gelu'(x) (assigned), from the forward's input x.
pub fn gelu_backward(gpu: &Arc<Gpu>, dy: &Tensor, x: &Tensor, kind: GeluKind) -> Result<Tensor, GpuError> {
    super::expect_numel("gelu backward", dy, x.numel())?;
    let dx = gpu.empty("gelu input gradient", x.shape())?;
    let c = constants(kind);
    gpu.launch(
        &Kernel { shader: Shader::Gelu, entry: "gelu_bwd", constants: &c },
        &[x.numel() as u32],
        &[Arg::R(x), Arg::R(dy), Arg::W(&dx)],
        grid_1d(x.numel(), 256),
    )?;
    Ok(dx)
}
