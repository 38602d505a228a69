//! f32 <-> f16 (shaders/convert.wgsl), for f16 storage on adapters with shader-f16. Each is the
//! other's backward: the gradient of `to_f16(x)` is `to_f32(dy)` and vice versa.

use std::sync::Arc;

use super::grid_1d;
use crate::gpu::{shape_err, Arg, DType, Gpu, GpuError, Kernel, Shader, Tensor};

fn convert(gpu: &Arc<Gpu>, x: &Tensor, from: DType, entry: &'static str, out: Tensor) -> Result<Tensor, GpuError> {
    if x.dtype() != from {
        return Err(shape_err(format!("{entry}: {} is {:?}, expected {from:?}", x.name(), x.dtype())));
    }
    let n = x.numel();
    gpu.launch(&Kernel::new(Shader::Convert, entry), &[n as u32], &[Arg::R(x), Arg::W(&out)], grid_1d(n, 256))?;
    Ok(out)
}

/// An f16 copy of the f32 tensor `x`, rounded to nearest even.
pub fn to_f16(gpu: &Arc<Gpu>, x: &Tensor) -> Result<Tensor, GpuError> {
    let out = gpu.empty_f16(&format!("{} (f16)", x.name()), x.shape())?;
    convert(gpu, x, DType::F32, "to_f16", out)
}

/// An f32 copy of the f16 tensor `x` (exact).
pub fn to_f32(gpu: &Arc<Gpu>, x: &Tensor) -> Result<Tensor, GpuError> {
    let out = gpu.empty(&format!("{} (f32)", x.name()), x.shape())?;
    convert(gpu, x, DType::F16, "to_f32", out)
}
