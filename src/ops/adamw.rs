//! One AdamW step (adamw.wgsl) in two launches: `adamw_begin` settles what the step is (skipped
//! or not, its count t, its loss-scale unscaling and bias corrections) in the optimizer's control
//! words on the GPU; `adamw_update` then updates a buffer of parameters, with the global-norm
//! clip folded in and the weight decay chosen per 64-element slot.

use super::{expect_numel, f, grid_1d};
use crate::gpu::{shape_err, Arg, Gpu, GpuError, Kernel, Shader, Tensor};

/// The optimizer's control words (u32; f32 values by their bits), as adamw.wgsl lays them out.
pub mod control {
    /// 1 when `adamw_begin` skipped this step.
    pub const SKIPPED: usize = 0;
    /// f32: what the next step's loss is multiplied by (1 without loss scaling).
    pub const LOSS_SCALE: usize = 1;
    /// Clean steps since the loss scale last changed, and skipped steps in a row.
    pub const CLEAN_STEPS: usize = 2;
    pub const SKIPPED_IN_A_ROW: usize = 3;
    /// Optimizer steps taken (t).
    pub const STEPS: usize = 4;
    /// f32: what this step's gradients are multiplied by (1 / loss scale), and its bias
    /// corrections 1 − β1ᵗ, 1 − β2ᵗ.
    pub const UNSCALE: usize = 5;
    pub const BC1: usize = 6;
    pub const BC2: usize = 7;
    pub const WORDS: usize = 8;

    /// Control words before a first step, with the loss scale `scale`.
    pub fn initial(scale: f32) -> [u32; WORDS] {
        let mut w = [0; WORDS];
        w[LOSS_SCALE] = scale.to_bits();
        w
    }
}

/// 1 − β1ᵗ and 1 − β2ᵗ for t = 1..=steps, interleaved: `adamw_begin`'s table. In f64, as the
/// host computed them for every step before: 1 − β2ᵗ is small, and an f32 pow on the GPU would
/// lose digits to the cancellation.
pub fn bias_corrections(beta1: f32, beta2: f32, steps: u32) -> Vec<f32> {
    (1..=steps.max(1) as i32)
        .flat_map(|t| [(1.0 - (beta1 as f64).powi(t)) as f32, (1.0 - (beta2 as f64).powi(t)) as f32])
        .collect()
}

/// Loss scaling's part of `adamw_begin`: the norm check, the halving on a skip and the doubling
/// after `growth` clean steps in a row.
#[derive(Clone, Copy, Debug)]
pub struct Scaling {
    pub growth: u32,
}

/// Settles step t + 1 in `control` (`control::WORDS` u32): skipped when, with `scaling`,
/// `norm_sq` (Σ g², 1) is inf or NaN (a gradient overflowed f16); otherwise t advances and the
/// bias corrections come from `corrections` (`bias_corrections`; the last pair serves past its
/// end). With `scaling` the loss scale halves after a skip and doubles after `growth` clean steps.
pub fn adamw_begin(
    gpu: &Gpu,
    scaling: Option<Scaling>,
    norm_sq: &Tensor,
    control: &Tensor,
    corrections: &Tensor,
) -> Result<(), GpuError> {
    expect_numel("adamw control words", control, control::WORDS)?;
    expect_numel("adamw gradient norm²", norm_sq, 1)?;
    if corrections.numel() < 2 || !corrections.numel().is_multiple_of(2) {
        return Err(shape_err(format!("adamw bias corrections: {} values, not pairs", corrections.numel())));
    }
    let params = [scaling.is_some() as u32, scaling.map_or(0, |s| s.growth)];
    gpu.launch(
        &Kernel::new(Shader::Adamw, "adamw_begin"),
        &params,
        &[Arg::R(norm_sq), Arg::W(control), Arg::R(corrections)],
        [1, 1, 1],
    )
}

/// Hyper-parameters of one arena's update.
#[derive(Clone, Copy, Debug)]
pub struct AdamwStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    /// Clip to this global gradient norm; 0 turns clipping off.
    pub max_norm: f32,
    /// Update elements [first, n) only: the ones before are frozen (a parameter prefix).
    pub first: usize,
}

/// Updates param, m and v in place from grad, as `control` (after `adamw_begin`) says: nothing
/// when the step is skipped, else with its unscaling and bias corrections. `norm_sq` (1) holds
/// Σ g² over all parameters; `decay` (⌈n / 64⌉) scales the weight decay of each 64-element slot
/// (1 or 0: a parameter store's arena puts each parameter in slots of its own).
#[allow(clippy::too_many_arguments)]
pub fn adamw_update(
    gpu: &Gpu,
    h: &AdamwStep,
    param: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    decay: &Tensor,
    norm_sq: &Tensor,
    control: &Tensor,
) -> Result<(), GpuError> {
    let n = param.numel();
    expect_numel("adamw control words", control, control::WORDS)?;
    for t in [grad, m, v] {
        expect_numel(&format!("adamw on {}", param.name()), t, n)?;
    }
    expect_numel(&format!("adamw decay of {}", param.name()), decay, n.div_ceil(DECAY_SLOT))?;
    #[rustfmt::skip]
    let params = [
        n as u32, f(h.lr), f(h.beta1), f(h.beta2), f(h.eps), f(h.weight_decay), f(h.max_norm), h.first.min(n) as u32,
    ];
    gpu.launch(
        &Kernel::new(Shader::Adamw, "adamw_step"),
        &params,
        &[Arg::R(grad), Arg::R(norm_sq), Arg::W(param), Arg::W(m), Arg::W(v), Arg::R(decay), Arg::R(control)],
        grid_1d((n - h.first.min(n)).max(1), 256),
    )
}

/// Elements that share one weight-decay factor (adamw.wgsl).
pub const DECAY_SLOT: usize = 64;
