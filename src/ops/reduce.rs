//! Deterministic reductions: column sums (bias and LayerNorm gradients), sums of squares
//! (gradient norm) and scalar sums (loss, accuracy).

use std::sync::Arc;

use super::f;
use crate::gpu::{Arg, Gpu, GpuError, Kernel, Shader, Tensor};

/// Rows summed by one invocation in the first pass of a column sum.
pub const CHUNK_ROWS: usize = 256;

/// Workgroups of `sumsq_partial` per tensor: the partial sums it leaves per tensor.
pub const SUMSQ_GROUPS: usize = 64;

/// out (C) = Σ_rows x (R, C), or out += … when `accumulate`. Two passes, fixed order.
pub fn col_sum(gpu: &Arc<Gpu>, x: &Tensor, out: &Tensor, accumulate: bool) -> Result<(), GpuError> {
    let cols = out.numel();
    let rows = super::rows_of("column sum", x, cols)?;
    let chunks = rows.div_ceil(CHUNK_ROWS).max(1);
    let part = gpu.empty("column sum partials", &[chunks, cols])?;
    let params = [rows as u32, cols as u32, CHUNK_ROWS as u32, chunks as u32, 0, 0, f(1.0), 0];
    gpu.launch(
        &Kernel::new(Shader::Reduce, "col_sum_partial"),
        &params,
        &[Arg::R(x), Arg::W(&part)],
        [cols.div_ceil(64) as u32, chunks as u32, 1],
    )?;
    col_sum_final(gpu, &part, out, chunks, accumulate)
}

/// out (C) (+)= Σ_chunk part (chunks, C): the second pass of every column sum.
pub fn col_sum_final(gpu: &Gpu, part: &Tensor, out: &Tensor, chunks: usize, accumulate: bool) -> Result<(), GpuError> {
    let cols = out.numel();
    super::expect_numel("column sum", part, chunks * cols)?;
    let params = [0, cols as u32, 0, chunks as u32, 0, 0, f(1.0), 0];
    let acc = [("ACCUMULATE", if accumulate { 1.0 } else { 0.0 })];
    gpu.launch(
        &Kernel { shader: Shader::Reduce, entry: "col_sum_final", constants: &acc },
        &params,
        &[Arg::R(part), Arg::W(out)],
        [cols.div_ceil(64) as u32, 1, 1],
    )
}

/// Writes SUMSQ_GROUPS partial sums of x² into `partials` starting at `offset`.
pub fn sumsq_partial(gpu: &Gpu, x: &Tensor, partials: &Tensor, offset: usize) -> Result<(), GpuError> {
    if offset + SUMSQ_GROUPS > partials.numel() {
        return Err(GpuError::Shape(format!("sum of squares: {} too small for offset {offset}", partials.name())));
    }
    let params = [0, 0, 0, 0, x.numel() as u32, 0, f(1.0), offset as u32];
    gpu.launch(
        &Kernel::new(Shader::Reduce, "sumsq_partial"),
        &params,
        &[Arg::R(x), Arg::W(partials)],
        [SUMSQ_GROUPS as u32, 1, 1],
    )
}

/// out[index] (+)= alpha · Σ x, in one workgroup (x is small: per-example losses, partials).
pub fn sum_into(
    gpu: &Gpu,
    x: &Tensor,
    out: &Tensor,
    index: usize,
    alpha: f32,
    accumulate: bool,
) -> Result<(), GpuError> {
    if index >= out.numel() {
        return Err(GpuError::Shape(format!("sum: index {index} outside {}", out.name())));
    }
    let params = [0, 0, 0, 0, x.numel() as u32, index as u32, f(alpha), 0];
    let acc = [("ACCUMULATE", if accumulate { 1.0 } else { 0.0 })];
    gpu.launch(
        &Kernel { shader: Shader::Reduce, entry: "sum_final", constants: &acc },
        &params,
        &[Arg::R(x), Arg::W(out)],
        [1, 1, 1],
    )
}

/// Σ x² over several tensors into out[0] (assigned): the squared global gradient norm.
pub fn global_sumsq(gpu: &Arc<Gpu>, xs: &[&Tensor], out: &Tensor) -> Result<(), GpuError> {
    let partials = gpu.zeros("gradient norm partials", &[xs.len().max(1) * SUMSQ_GROUPS])?;
    for (i, x) in xs.iter().enumerate() {
        sumsq_partial(gpu, x, &partials, i * SUMSQ_GROUPS)?;
    }
    sum_into(gpu, &partials, out, 0, 1.0, false)
}
