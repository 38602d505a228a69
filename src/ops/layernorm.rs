//! LayerNorm over the last dimension, forward and backward (layernorm.wgsl).

use std::sync::Arc;

use super::{f, grid_1d, reduce};
use crate::gpu::{shape_err, Arg, Gpu, GpuError, Kernel, Shader, Tensor};

/// What the forward saves for the backward: per-row mean and 1/std (R).
pub struct LayerNormSaved {
    pub mean: Tensor,
    pub rstd: Tensor,
}

/// How the kernels cover the rows (layernorm.wgsl): a workgroup per row, a row per invocation,
/// or a row per subgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LnVariant {
    Workgroup,
    /// Needs C to be a multiple of 4.
    Rows,
    /// Needs subgroups (`Gpu::subgroup_sizes`; layernorm_subgroup.wgsl).
    Subgroup,
}

impl LnVariant {
    pub const ALL: [LnVariant; 3] = [LnVariant::Workgroup, LnVariant::Rows, LnVariant::Subgroup];

    /// The name `WGBERT_LAYERNORM` takes.
    pub fn name(self) -> &'static str {
        match self {
            LnVariant::Workgroup => "wg",
            LnVariant::Rows => "rows",
            LnVariant::Subgroup => "subgroup",
        }
    }

    /// `WGBERT_LAYERNORM=wg|rows|subgroup` where it can run, else rows on CPU adapters (where C
    /// allows it; a barrier costs more there than the arithmetic), a subgroup per row on GPUs
    /// with subgroups, a workgroup per row on the rest.
    pub fn for_gpu(gpu: &Gpu, cols: usize) -> LnVariant {
        let runs = |v: &LnVariant| v.runs(gpu, cols);
        if let Some(v) = gpu.variant("layernorm").and_then(|s| LnVariant::ALL.into_iter().find(|v| v.name() == s)) {
            if runs(&v) {
                return v;
            }
        }
        let default = if gpu.is_cpu() { LnVariant::Rows } else { LnVariant::Subgroup };
        Some(default).filter(runs).unwrap_or(LnVariant::Workgroup)
    }

    /// Whether the variant can normalize rows of `cols` on this adapter.
    pub fn runs(self, gpu: &Gpu, cols: usize) -> bool {
        match self {
            LnVariant::Workgroup => true,
            LnVariant::Rows => cols.is_multiple_of(4),
            LnVariant::Subgroup => gpu.subgroup_sizes().is_some(),
        }
    }

    fn check(self, gpu: &Gpu, cols: usize) -> Result<(), GpuError> {
        match self {
            _ if self.runs(gpu, cols) => Ok(()),
            LnVariant::Rows => {
                Err(GpuError::Unsupported(format!("layernorm: the rows variant needs C % 4 == 0, C is {cols}")))
            }
            _ => Err(GpuError::Unsupported(format!(
                "layernorm: the {} variant needs subgroups of at most 64, which {} lacks",
                self.name(),
                gpu.info().name
            ))),
        }
    }

    /// The module, entry point (of [workgroup, rows, subgroup] `entries`) and grid for `rows` rows.
    fn launch(self, gpu: &Gpu, entries: [&'static str; 3], rows: usize) -> (Shader, &'static str, [u32; 3]) {
        match self {
            LnVariant::Workgroup => (Shader::Layernorm, entries[0], grid_1d(rows, 1)),
            LnVariant::Rows => (Shader::Layernorm, entries[1], grid_1d(rows, 64)),
            LnVariant::Subgroup => {
                // Rows per workgroup with the largest subgroups the adapter may run.
                let max = gpu.subgroup_sizes().map_or(64, |(_, max)| max as usize);
                (Shader::LayernormSubgroup, entries[2], grid_1d(rows, 64 / max))
            }
        }
    }
}

/// y = LayerNorm(x) · gamma + beta over the last dimension C of x (…, C).
pub fn layernorm_forward(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Result<(Tensor, LayerNormSaved), GpuError> {
    layernorm_forward_with(gpu, LnVariant::for_gpu(gpu, gamma.numel()), x, gamma, beta, eps)
}

/// `layernorm_forward` with the variant chosen by the caller (tests try both).
pub fn layernorm_forward_with(
    gpu: &Arc<Gpu>,
    variant: LnVariant,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Result<(Tensor, LayerNormSaved), GpuError> {
    let cols = gamma.numel();
    variant.check(gpu, cols)?;
    super::expect_numel("layernorm beta", beta, cols)?;
    let rows = super::rows_of("layernorm", x, cols)?;
    let y = gpu.empty("layernorm output", x.shape())?;
    let mean = gpu.empty("layernorm mean", &[rows])?;
    let rstd = gpu.empty("layernorm rstd", &[rows])?;
    let (shader, entry, grid) = variant.launch(gpu, ["ln_fwd", "ln_fwd_rows", "ln_fwd_sg"], rows);
    gpu.launch(
        &Kernel::new(shader, entry),
        &[rows as u32, cols as u32, f(eps), 0, 0, 0, 0],
        &[Arg::R(x), Arg::R(gamma), Arg::R(beta), Arg::W(&y), Arg::W(&mean), Arg::W(&rstd)],
        grid,
    )?;
    Ok((y, LayerNormSaved { mean, rstd }))
}

/// Dropout on the sub-layer output before the residual add (elementwise.wgsl's mask).
#[derive(Clone, Copy, Debug)]
pub struct AddDropout {
    pub p: f32,
    pub seed: u32,
}

/// y = LayerNorm(dropout(a) + residual) · gamma + beta in one kernel: BERT's "add & norm".
/// Returns y, the sum s = dropout(a) + residual when `save_sum` (the backward's LayerNorm
/// input; inference needs none), and the statistics.
#[allow(clippy::too_many_arguments)]
pub fn add_layernorm_forward(
    gpu: &Arc<Gpu>,
    a: &Tensor,
    residual: &Tensor,
    drop: Option<AddDropout>,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
    save_sum: bool,
) -> Result<(Tensor, Option<Tensor>, LayerNormSaved), GpuError> {
    let variant = LnVariant::for_gpu(gpu, gamma.numel());
    add_layernorm_forward_with(gpu, variant, a, residual, drop, gamma, beta, eps, save_sum)
}

/// `add_layernorm_forward` with the variant chosen by the caller (tests try both).
#[allow(clippy::too_many_arguments)]
pub fn add_layernorm_forward_with(
    gpu: &Arc<Gpu>,
    variant: LnVariant,
    a: &Tensor,
    residual: &Tensor,
    drop: Option<AddDropout>,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
    save_sum: bool,
) -> Result<(Tensor, Option<Tensor>, LayerNormSaved), GpuError> {
    let cols = gamma.numel();
    variant.check(gpu, cols)?;
    super::expect_numel("layernorm beta", beta, cols)?;
    let rows = super::rows_of("add & layernorm", a, cols)?;
    if residual.shape() != a.shape() {
        return Err(shape_err(format!(
            "add & layernorm: {} {:?} and residual {} {:?} differ",
            a.name(),
            a.shape(),
            residual.name(),
            residual.shape()
        )));
    }
    let y = gpu.empty("layernorm output", a.shape())?;
    let mean = gpu.empty("layernorm mean", &[rows])?;
    let rstd = gpu.empty("layernorm rstd", &[rows])?;
    // Without save_sum the binding is still declared: a one-word stand-in, never written.
    let sum = gpu.empty("residual sum", if save_sum { a.shape() } else { &[1] })?;
    let (threshold, seed, keep) = crate::kernel_args::dropout_words(drop.map(|d| (d.p, d.seed)));
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let constants = [("DROPOUT", flag(drop.is_some())), ("SAVE_SUM", flag(save_sum))];
    let (shader, entry, grid) = variant.launch(gpu, ["ln_fwd_add", "ln_fwd_add_rows", "ln_fwd_add_sg"], rows);
    gpu.launch(
        &Kernel { shader, entry, constants: &constants },
        &[rows as u32, cols as u32, f(eps), 0, threshold, seed, f(keep)],
        &[
            Arg::R(a),
            Arg::R(gamma),
            Arg::R(beta),
            Arg::W(&y),
            Arg::W(&mean),
            Arg::W(&rstd),
            Arg::R(residual),
            Arg::W(&sum),
        ],
        grid,
    )?;
    Ok((y, save_sum.then_some(sum), LayerNormSaved { mean, rstd }))
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
    layernorm_backward_with(gpu, LnVariant::for_gpu(gpu, gamma.numel()), dy, x, gamma, saved, dgamma, dbeta)
}

/// `layernorm_backward` with the variant chosen by the caller.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward_with(
    gpu: &Arc<Gpu>,
    variant: LnVariant,
    dy: &Tensor,
    x: &Tensor,
    gamma: &Tensor,
    saved: &LayerNormSaved,
    dgamma: &Tensor,
    dbeta: &Tensor,
) -> Result<Tensor, GpuError> {
    Ok(backward(gpu, variant, dy, x, gamma, saved, dgamma, dbeta, None)?.0)
}

/// The backward of `add_layernorm_forward` (x is the saved sum s): returns ds, the residual's
/// gradient, and da = dropout(ds) with the forward's mask, the sub-layer output's, from the
/// same pass (ds itself without dropout); accumulates dgamma and dbeta.
#[allow(clippy::too_many_arguments)]
pub fn add_layernorm_backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    sum: &Tensor,
    gamma: &Tensor,
    saved: &LayerNormSaved,
    dgamma: &Tensor,
    dbeta: &Tensor,
    drop: Option<AddDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    let variant = LnVariant::for_gpu(gpu, gamma.numel());
    add_layernorm_backward_with(gpu, variant, dy, sum, gamma, saved, dgamma, dbeta, drop)
}

/// `add_layernorm_backward` with the variant chosen by the caller.
#[allow(clippy::too_many_arguments)]
pub fn add_layernorm_backward_with(
    gpu: &Arc<Gpu>,
    variant: LnVariant,
    dy: &Tensor,
    sum: &Tensor,
    gamma: &Tensor,
    saved: &LayerNormSaved,
    dgamma: &Tensor,
    dbeta: &Tensor,
    drop: Option<AddDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    let (ds, da) = backward(gpu, variant, dy, sum, gamma, saved, dgamma, dbeta, drop)?;
    Ok((ds.clone(), da.unwrap_or(ds)))
}

#[allow(clippy::too_many_arguments)]
fn backward(
    gpu: &Arc<Gpu>,
    variant: LnVariant,
    dy: &Tensor,
    x: &Tensor,
    gamma: &Tensor,
    saved: &LayerNormSaved,
    dgamma: &Tensor,
    dbeta: &Tensor,
    drop: Option<AddDropout>,
) -> Result<(Tensor, Option<Tensor>), GpuError> {
    let cols = gamma.numel();
    variant.check(gpu, cols)?;
    let rows = super::rows_of("layernorm backward", x, cols)?;
    super::expect_numel("layernorm backward dy", dy, rows * cols)?;
    super::expect_numel("layernorm backward dgamma", dgamma, cols)?;
    super::expect_numel("layernorm backward dbeta", dbeta, cols)?;
    let dx = gpu.empty("layernorm input gradient", x.shape())?;
    // Without dropout the binding is still declared: a one-word stand-in, never written.
    let dx_dropped = gpu.empty("layernorm input gradient, dropped", if drop.is_some() { x.shape() } else { &[1] })?;
    let (threshold, seed, keep) = crate::kernel_args::dropout_words(drop.map(|d| (d.p, d.seed)));
    let constants = [("DROPOUT", if drop.is_some() { 1.0 } else { 0.0 })];
    let (shader, entry, grid) = variant.launch(gpu, ["ln_bwd_input", "ln_bwd_input_rows", "ln_bwd_input_sg"], rows);
    gpu.launch(
        &Kernel { shader, entry, constants: &constants },
        &[rows as u32, cols as u32, 0, 0, threshold, seed, f(keep)],
        &[
            Arg::R(x),
            Arg::R(gamma),
            Arg::R(&saved.mean),
            Arg::R(&saved.rstd),
            Arg::R(dy),
            Arg::W(&dx),
            Arg::W(&dx_dropped),
        ],
        grid,
    )?;
    let chunks = rows.div_ceil(reduce::CHUNK_ROWS).max(1);
    let part_g = gpu.empty("layernorm dgamma partials", &[chunks, cols])?;
    let part_b = gpu.empty("layernorm dbeta partials", &[chunks, cols])?;
    gpu.launch(
        &Kernel::new(Shader::Layernorm, "ln_bwd_params_partial"),
        &[rows as u32, cols as u32, 0, reduce::CHUNK_ROWS as u32, 0, 0, 0],
        &[Arg::R(x), Arg::R(&saved.mean), Arg::R(&saved.rstd), Arg::R(dy), Arg::W(&part_g), Arg::W(&part_b)],
        [cols.div_ceil(64) as u32, chunks as u32, 1],
    )?;
    gpu.launch(
        &Kernel::new(Shader::Layernorm, "ln_bwd_params_final"),
        &[rows as u32, cols as u32, 0, chunks as u32, 0, 0, 0],
        &[Arg::R(&part_g), Arg::R(&part_b), Arg::W(dgamma), Arg::W(dbeta)],
        [cols.div_ceil(64) as u32, 1, 1],
    )?;
    Ok((dx, drop.is_some().then_some(dx_dropped)))
}
