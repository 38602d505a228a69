//! LayerNorm over the last dimension, forward and backward (layernorm.wgsl).

use std::sync::Arc;

use super::{f, grid_1d, reduce};
use crate::gpu::{Arg, Gpu, GpuError, Kernel, Shader, Tensor};

/// What the forward saves for the backward: per-row mean and 1/std (R).
pub struct LayerNormSaved {
    pub mean: Tensor,
    pub rstd: Tensor,
}

/// y = LayerNorm(x) · gamma + beta over the last dimension C of x (…, C).
pub fn layernorm_forward(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Result<(Tensor, LayerNormSaved), GpuError> {
    let cols = gamma.numel();
    super::expect_numel("layernorm beta", beta, cols)?;
    let rows = super::rows_of("layernorm", x, cols)?;
    let y = gpu.empty("layernorm output", x.shape())?;
    let mean = gpu.empty("layernorm mean", &[rows])?;
    let rstd = gpu.empty("layernorm rstd", &[rows])?;
    gpu.launch(
        &Kernel::new(Shader::Layernorm, "ln_fwd"),
        &[rows as u32, cols as u32, f(eps), 0],
        &[Arg::R(x), Arg::R(gamma), Arg::R(beta), Arg::W(&y), Arg::W(&mean), Arg::W(&rstd)],
        grid_1d(rows, 1),
    )?;
    Ok((y, LayerNormSaved { mean, rstd }))
}

/// Returns dx (assigned); accumulates dgamma += Σ dy·xhat and dbeta += Σ dy.
pub fn layernorm_backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    gamma: &Tensor,
    saved: &LayerNormSaved,
    dgamma: &Tensor,
    dbeta: &Tensor,
) -> Result<Tensor, GpuError> {
    let cols = gamma.numel();
    let rows = super::rows_of("layernorm backward", x, cols)?;
    super::expect_numel("layernorm backward dy", dy, rows * cols)?;
    super::expect_numel("layernorm backward dgamma", dgamma, cols)?;
    super::expect_numel("layernorm backward dbeta", dbeta, cols)?;
    let dx = gpu.empty("layernorm input gradient", x.shape())?;
    gpu.launch(
        &Kernel::new(Shader::Layernorm, "ln_bwd_input"),
        &[rows as u32, cols as u32, 0, 0],
        &[Arg::R(x), Arg::R(gamma), Arg::R(&saved.mean), Arg::R(&saved.rstd), Arg::R(dy), Arg::W(&dx)],
        grid_1d(rows, 1),
    )?;
    let chunks = rows.div_ceil(reduce::CHUNK_ROWS).max(1);
    let part_g = gpu.empty("layernorm dgamma partials", &[chunks, cols])?;
    let part_b = gpu.empty("layernorm dbeta partials", &[chunks, cols])?;
    gpu.launch(
        &Kernel::new(Shader::Layernorm, "ln_bwd_params_partial"),
        &[rows as u32, cols as u32, 0, reduce::CHUNK_ROWS as u32],
        &[Arg::R(x), Arg::R(&saved.mean), Arg::R(&saved.rstd), Arg::R(dy), Arg::W(&part_g), Arg::W(&part_b)],
        [cols.div_ceil(64) as u32, chunks as u32, 1],
    )?;
    reduce::col_sum_final(gpu, &part_g, dgamma, chunks, true)?;
    reduce::col_sum_final(gpu, &part_b, dbeta, chunks, true)?;
    Ok(dx)
}
