//! Elementwise ops, dropout, tanh, the [CLS]-row gather and mean pooling (elementwise.wgsl).

use std::sync::Arc;

use super::{expect_numel, f, grid_1d};
use crate::gpu::{Arg, Gpu, GpuError, Kernel, Shader, Tensor};

fn params(n: usize, alpha: f32) -> [u32; 8] {
    [n as u32, f(alpha), 0, 0, 0, 0, 0, f(1.0)]
}

/// out = a + b.
pub fn add(gpu: &Arc<Gpu>, a: &Tensor, b: &Tensor) -> Result<Tensor, GpuError> {
    expect_numel("add", b, a.numel())?;
    let out = gpu.empty("sum", a.shape())?;
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "add"),
        &params(a.numel(), 0.0),
        &[Arg::R(a), Arg::R(b), Arg::W(&out)],
        grid_1d(a.numel(), 256),
    )?;
    Ok(out)
}

/// y += alpha · x (in place).
pub fn axpy(gpu: &Gpu, alpha: f32, x: &Tensor, y: &Tensor) -> Result<(), GpuError> {
    expect_numel("axpy", y, x.numel())?;
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "axpy"),
        &params(x.numel(), alpha),
        &[Arg::R(x), Arg::W(y)],
        grid_1d(x.numel(), 256),
    )
}

/// alpha · x.
pub fn scale(gpu: &Arc<Gpu>, alpha: f32, x: &Tensor) -> Result<Tensor, GpuError> {
    let y = gpu.empty("scaled", x.shape())?;
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "scale"),
        &params(x.numel(), alpha),
        &[Arg::R(x), Arg::W(&y)],
        grid_1d(x.numel(), 256),
    )?;
    Ok(y)
}

/// Dropout with drop probability `p`: x · keep(seed, i) / (1 − p). The backward is the same
/// call on dy with the same seed. p = 0 returns x itself (no copy).
pub fn dropout(gpu: &Arc<Gpu>, x: &Tensor, p: f32, seed: u32) -> Result<Tensor, GpuError> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    if !(p < 1.0) {
        return Err(GpuError::Shape(format!("dropout probability {p} must be in [0, 1)")));
    }
    let y = gpu.empty("dropout output", x.shape())?;
    let threshold = crate::kernel_args::dropout_threshold(p);
    let prm = [x.numel() as u32, 0, threshold, seed, 0, 0, 0, f(1.0 / (1.0 - p))];
    gpu.launch(&Kernel::new(Shader::Elementwise, "dropout"), &prm, &[Arg::R(x), Arg::W(&y)], grid_1d(x.numel(), 256))?;
    Ok(y)
}

pub fn tanh_forward(gpu: &Arc<Gpu>, x: &Tensor) -> Result<Tensor, GpuError> {
    let y = gpu.empty("tanh output", x.shape())?;
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "tanh_fwd"),
        &params(x.numel(), 0.0),
        &[Arg::R(x), Arg::W(&y)],
        grid_1d(x.numel(), 256),
    )?;
    Ok(y)
}

/// dx = dy · (1 − y²) (assigned), from the forward's output y.
pub fn tanh_backward(gpu: &Arc<Gpu>, dy: &Tensor, y: &Tensor) -> Result<Tensor, GpuError> {
    expect_numel("tanh backward", dy, y.numel())?;
    let dx = gpu.empty("tanh input gradient", y.shape())?;
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "tanh_bwd"),
        &params(y.numel(), 0.0),
        &[Arg::R(y), Arg::R(dy), Arg::W(&dx)],
        grid_1d(y.numel(), 256),
    )?;
    Ok(dx)
}

/// Row 0 of every sequence: x (B, T, C) → out (B, C). The pooler reads [CLS] this way.
pub fn first_token(gpu: &Arc<Gpu>, x: &Tensor, b: usize, t: usize) -> Result<Tensor, GpuError> {
    let c = x.shape().last().copied().unwrap_or(0);
    expect_numel("first token", x, b * t * c)?;
    let out = gpu.empty("first-token rows", &[b, c])?;
    let prm = [0, 0, 0, 0, b as u32, c as u32, (t * c) as u32, 0];
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "gather_rows"),
        &prm,
        &[Arg::R(x), Arg::W(&out)],
        grid_1d(b * c, 256),
    )?;
    Ok(out)
}

/// Backward of `first_token`: dx[b, 0, :] += dout[b, :] (dx accumulates; other rows untouched).
pub fn first_token_backward(gpu: &Gpu, dout: &Tensor, dx: &Tensor, b: usize, t: usize) -> Result<(), GpuError> {
    let c = dout.numel() / b.max(1);
    expect_numel("first token backward", dout, b * c)?;
    expect_numel("first token backward", dx, b * t * c)?;
    let prm = [0, 0, 0, 0, b as u32, c as u32, (t * c) as u32, 0];
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "scatter_rows_add"),
        &prm,
        &[Arg::R(dout), Arg::W(dx)],
        grid_1d(b * c, 256),
    )
}

/// Mean of each sequence's token rows under the attention mask: x (B, T, C), mask (B, T) →
/// (B, C). The classifier head reads this with `--pooling mean` (sentence-transformers' pooling).
pub fn mean_tokens(gpu: &Arc<Gpu>, x: &Tensor, mask: &Tensor, b: usize, t: usize) -> Result<Tensor, GpuError> {
    let c = x.shape().last().copied().unwrap_or(0);
    expect_numel("mean pooling", x, b * t * c)?;
    expect_numel("mean pooling mask", mask, b * t)?;
    let out = gpu.empty("mean-pooled rows", &[b, c])?;
    let prm = [0, 0, 0, 0, b as u32, c as u32, t as u32, 0];
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "mean_rows"),
        &prm,
        &[Arg::R(x), Arg::R(mask), Arg::W(&out)],
        grid_1d(b * c, 256),
    )?;
    Ok(out)
}

/// Backward of `mean_tokens`: dx[b, t, :] = mask[b, t] · dout[b, :] / Σ mask[b, ·] (assigned).
pub fn mean_tokens_backward(
    gpu: &Arc<Gpu>,
    dout: &Tensor,
    mask: &Tensor,
    b: usize,
    t: usize,
) -> Result<Tensor, GpuError> {
    let c = dout.numel() / b.max(1);
    expect_numel("mean pooling backward", dout, b * c)?;
    expect_numel("mean pooling mask", mask, b * t)?;
    let dx = gpu.empty("mean-pooling input gradient", &[b * t, c])?;
    let prm = [0, 0, 0, 0, b as u32, c as u32, t as u32, 0];
    gpu.launch(
        &Kernel::new(Shader::Elementwise, "mean_rows_bwd"),
        &prm,
        &[Arg::R(dout), Arg::R(mask), Arg::W(&dx)],
        // One workgroup per token row.
        grid_1d(b * t * 256, 256),
    )?;
    Ok(dx)
}
