//! Attention for the first query ([CLS]) of each sequence only: all the last encoder layer of a
//! classifier needs, since the pooler reads token 0 and nothing else. Keys and values are every
//! token's; the one query is row 0 of Q. The maths of attention.rs's matmul path with Q = 1:
//!
//!   s = q₀·Kᵀ (B·NH, 1, T) → p = softmax(s/√HS + mask) → p' = dropout(p) → ctx₀ = p'·V   (B, C)
//!   dp' = dctx₀·Vᵀ, dV = p'ᵀ·dctx₀, ds = softmax_bwd(p, dropout(dp')), dq₀ = ds·K, dK = dsᵀ·q₀
//!
//! Rows 1.. of dQ are zero: those queries do not exist. The forward saves p (B·NH·T floats).

use std::sync::Arc;

use super::attention::{dropped, softmax_backward, softmax_forward, AttentionShape, ProbDropout};
use super::matmul::{gemm, Layout};
use crate::gpu::{Gpu, GpuError, Tensor};

/// Head (b, h) of the (B·NH, 1, T) probabilities: a (1, T) matrix.
fn probs_layout(s: &AttentionShape) -> Layout {
    Layout { off: 0, ld: s.t, s1: s.nh * s.t, s2: s.t, trans: false }
}

/// Head (b, h) of a (B, C) tensor of one row per sequence: a (1, HS) matrix.
fn cls_layout(s: &AttentionShape) -> Layout {
    Layout { off: 0, ld: s.c(), s1: s.c(), s2: s.hs, trans: false }
}

fn scale(s: &AttentionShape) -> f32 {
    1.0 / (s.hs as f32).sqrt()
}

/// Returns ctx₀ (B, C), the context of each sequence's first token, and the probabilities
/// p (B·NH, 1, T) before dropout, which the backward needs.
pub fn forward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    qkv: &Tensor,
    mask: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    s.check(qkv, mask)?;
    let AttentionShape { b, t, nh, hs } = s;
    let (q, k, v) = (s.qkv_layout(0), s.qkv_layout(1), s.qkv_layout(2));
    let (lp, lc) = (probs_layout(&s), cls_layout(&s));
    let probs = gpu.empty("[CLS] attention probabilities", &[b * nh, 1, t])?;
    // M = 1: only row 0 of each head's Q is read.
    gemm(gpu, s.dims(1, t, hs), (qkv, q), (qkv, k.t()), None, (&probs, lp), 1.0, false)?;
    softmax_forward(gpu, &probs, mask, nh, scale(&s))?;
    let used = dropped(gpu, &probs, pdrop)?;
    let ctx = gpu.empty("[CLS] attention context", &[b, s.c()])?;
    gemm(gpu, s.dims(1, hs, t), (&used, lp), (qkv, v), None, (&ctx, lc), 1.0, false)?;
    Ok((ctx, probs))
}

/// dqkv (B·T, 3C), assigned, from dctx₀ (B, C) and the forward's probabilities; `pdrop` must be
/// the forward's.
pub fn backward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    dctx: &Tensor,
    qkv: &Tensor,
    probs: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<Tensor, GpuError> {
    let AttentionShape { b, t, nh, hs } = s;
    dctx.expect_shape("[CLS] attention backward", &[b, s.c()])?;
    qkv.expect_shape("[CLS] attention backward", &[b * t, 3 * s.c()])?;
    probs.expect_shape("[CLS] attention backward", &[b * nh, 1, t])?;
    let (q, k, v) = (s.qkv_layout(0), s.qkv_layout(1), s.qkv_layout(2));
    let (lp, lc) = (probs_layout(&s), cls_layout(&s));
    // Zeros: the gemms below write dK, dV and row 0 of dQ; the other rows of dQ stay 0.
    let dqkv = gpu.zeros("[CLS] attention qkv gradient", &[b * t, 3 * s.c()])?;
    let dp = gpu.empty("[CLS] attention score gradient", &[b * nh, 1, t])?;
    // dp' = dctx₀ · Vᵀ ; dV = p'ᵀ · dctx₀ (an outer product: depth 1)
    gemm(gpu, s.dims(1, t, hs), (dctx, lc), (qkv, v.t()), None, (&dp, lp), 1.0, false)?;
    let used = dropped(gpu, probs, pdrop)?;
    gemm(gpu, s.dims(t, hs, 1), (&used, lp.t()), (dctx, lc), None, (&dqkv, v), 1.0, false)?;
    drop(used);
    let dp = dropped(gpu, &dp, pdrop)?;
    softmax_backward(gpu, probs, &dp, nh, scale(&s))?;
    // dq₀ = ds · K ; dK = dsᵀ · q₀
    gemm(gpu, s.dims(1, hs, t), (&dp, lp), (qkv, k), None, (&dqkv, q), 1.0, false)?;
    gemm(gpu, s.dims(t, hs, 1), (&dp, lp.t()), (qkv, q), None, (&dqkv, k), 1.0, false)?;
    Ok(dqkv)
}
