//! f32 <-> f16 (shaders/convert.wgsl), for f16 storage on adapters with shader-f16. Each is the
//! other's backward: the gradient of `to_f16(x)` is `to_f32(dy)` and vice versa.

use std::sync::Arc;

use super::grid_1d;
use crate::gpu::{shape_err, Arg, DType, Gpu, GpuError, Kernel, Shader, Tensor};

fn check(entry: &str, t: &Tensor, want: DType) -> Result<(), GpuError> {
    if t.dtype() != want {
        return Err(shape_err(format!("{entry}: {} is {:?}, expected {want:?}", t.name(), t.dtype())));
    }
    Ok(())
}

fn convert(gpu: &Arc<Gpu>, x: &Tensor, from: DType, entry: &'static str, out: Tensor) -> Result<Tensor, GpuError> {
    check(entry, x, from)?;
    launch(gpu, entry, &[Arg::R(x), Arg::W(&out)], x.numel())?;
    Ok(out)
}

/// One invocation per element, or per 4 (the f32 → f16 kernels' `_x4` entries) when `n` allows.
fn launch(gpu: &Arc<Gpu>, entry: &'static str, args: &[Arg], n: usize) -> Result<(), GpuError> {
    let x4 = match entry {
        "to_f16" if n.is_multiple_of(4) => Some("to_f16_x4"),
        _ => None,
    };
    match x4 {
        Some(e) => gpu.launch(&Kernel::new(Shader::Convert, e), &[n as u32], args, grid_1d(n / 4, 256)),
        None => gpu.launch(&Kernel::new(Shader::Convert, entry), &[n as u32], args, grid_1d(n, 256)),
    }
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
