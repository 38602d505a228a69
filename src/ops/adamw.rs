//! One AdamW step over a buffer of parameters (adamw.wgsl), with the global-norm clip folded in
//! and the weight decay chosen per 64-element slot.

use std::sync::Arc;

use super::{expect_numel, f, grid_1d};
use crate::gpu::{Arg, Gpu, GpuError, Kernel, Shader, Tensor};

/// Hyper-parameters of one step. `bc1`/`bc2` are the bias corrections 1 − βᵗ for step t.
#[derive(Clone, Copy, Debug)]
pub struct AdamwStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub step: u32,
    /// Clip to this global gradient norm; 0 turns clipping off.
    pub max_norm: f32,
    /// Multiplies every gradient (and the norm) first: 1, or 1 / loss scale.
    pub grad_scale: f32,
    /// Skip the step when the global norm is inf or NaN (mixed precision).
    pub check_finite: bool,
    /// Update elements [first, n) only: the ones before are frozen (a parameter prefix).
    pub first: usize,
}

impl AdamwStep {
    fn corrections(&self) -> (f32, f32) {
        let t = self.step.max(1) as i32;
        ((1.0 - (self.beta1 as f64).powi(t)) as f32, (1.0 - (self.beta2 as f64).powi(t)) as f32)
    }
}

/// Updates param, m and v in place from grad; `norm_sq` (1) holds Σ g² over all parameters;
/// `decay` (⌈n / 64⌉) scales the weight decay of each 64-element slot (1 or 0: a parameter store's
/// arena puts each parameter in slots of its own).
#[allow(clippy::too_many_arguments)]
pub fn adamw_update(
    gpu: &Arc<Gpu>,
    h: &AdamwStep,
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    decay: &Tensor,
    norm_sq: &Tensor,
) -> Result<(), GpuError> {
    let status = gpu.upload_u32("adamw status", &[2], &[0, 0])?;
    adamw_update_guarded(gpu, h, param, grad, m, v, decay, norm_sq, &status)
}

/// `adamw_update` that leaves everything as it is when `status[0]` (u32, set by
/// `convert::to_f16_checked`) is non-zero or, with `check_finite`, the norm is not finite; it
/// writes 1 to `status[1]` when it skipped, else 0.
#[allow(clippy::too_many_arguments)]
pub fn adamw_update_guarded(
    gpu: &Gpu,
    h: &AdamwStep,
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    decay: &Tensor,
    norm_sq: &Tensor,
    status: &Tensor,
) -> Result<(), GpuError> {
    let n = param.numel();
    expect_numel("adamw status", status, 2)?;
    for t in [grad, m, v] {
        expect_numel(&format!("adamw on {}", param.name()), t, n)?;
    }
    expect_numel(&format!("adamw decay of {}", param.name()), decay, n.div_ceil(DECAY_SLOT))?;
    let (bc1, bc2) = h.corrections();
    #[rustfmt::skip]
    let params = [
        n as u32, f(h.lr), f(h.beta1), f(h.beta2), f(h.eps), f(h.weight_decay), f(bc1), f(bc2), f(h.max_norm),
        f(h.grad_scale), h.check_finite as u32, h.first.min(n) as u32,
    ];
    gpu.launch(
        &Kernel::new(Shader::Adamw, "adamw_step"),
        &params,
        &[Arg::R(grad), Arg::R(norm_sq), Arg::W(param), Arg::W(m), Arg::W(v), Arg::R(decay), Arg::W(status)],
        grid_1d((n - h.first.min(n)).max(1), 256),
    )
}

/// Elements that share one weight-decay factor (adamw.wgsl).
pub const DECAY_SLOT: usize = 64;
