//! Multi-head self-attention on the fused Q/K/V projection, forward and backward.
//!
//! Q, K and V are read in place from qkv (B·T, 3C) — columns [0, C) are Q, [C, 2C) K, [2C, 3C)
//! V, head h owning columns h·HS..(h+1)·HS of each — by strided batched matmuls, so no permute
//! kernel runs. The forward saves only the probabilities P (B·NH, T, T); the backward recomputes
//! nothing else.
//!
//!   S = Q·Kᵀ  →  P = softmax(S/√HS + mask)  →  P' = dropout(P)  →  ctx = P'·V     ctx: (B·T, C)
//!   dP' = dctx·Vᵀ, dV = P'ᵀ·dctx, dP = dropout(dP'), dS = softmax_bwd(P, dP)/√HS,
//!   dQ = dS·K, dK = dSᵀ·Q
//!
//! The dropped-out P' is never stored: the backward recomputes it from P and the seed.
//!
//! `cls_forward` / `cls_backward` are the same path for the first query of each sequence alone
//! (Q = 1 instead of T): a classifier's last layer, whose output only [CLS] reaches.

use std::sync::Arc;

pub use crate::kernel_args::{AttentionShape, ProbDropout};

use super::elementwise::dropout;
use super::matmul::{gemm, Dims, Layout};
use super::{f, tune};
use crate::gpu::{shape_err, Arg, Gpu, GpuError, Kernel, Shader, Tensor, TuneMode};

impl AttentionShape {
    fn check(&self, qkv: &Tensor, mask: &Tensor) -> Result<(), GpuError> {
        let AttentionShape { b, t, .. } = *self;
        qkv.expect_shape("attention", &[b * t, 3 * self.c()])?;
        if mask.numel() != b * t {
            return Err(shape_err(format!(
                "attention: mask {} {:?} should hold B·T = {}",
                mask.name(),
                mask.shape(),
                b * t
            )));
        }
        Ok(())
    }

    /// Head (b, h) of Q, K or V (`which` = 0, 1, 2) inside qkv: a (T, HS) matrix.
    fn qkv_layout(&self, which: usize) -> Layout {
        let c3 = 3 * self.c();
        Layout { off: which * self.c(), ld: c3, s1: self.t * c3, s2: self.hs, trans: false }
    }

    fn dims(&self, m: usize, n: usize, k: usize) -> Dims {
        Dims { m, n, k, nb1: self.b, nb2: self.nh }
    }
}

/// P' = dropout(P), or P itself without dropout.
fn dropped(gpu: &Arc<Gpu>, probs: &Tensor, pdrop: Option<ProbDropout>) -> Result<Tensor, GpuError> {
    match pdrop {
        Some(d) => dropout(gpu, probs, d.p, d.seed),
        None => Ok(probs.clone()),
    }
}

/// What the forward keeps for the backward: the probabilities (matmul path) or the row
/// log-sum-exps (fused path of attention_fused.rs, which never stores the T×T matrix).
pub enum AttentionSaved {
    Probs(Tensor),
    Stats(Tensor),
}

/// Which implementation runs: `WGBERT_ATTENTION=fused|matmul` decides, else the measured
/// choice for the shape (measured now when tuning is on and the shape is new), else the fused
/// kernel on CPU adapters where the shape allows it.
pub fn use_fused(gpu: &Arc<Gpu>, s: &AttentionShape) -> Result<bool, GpuError> {
    let ok = super::attention_fused::supported(gpu, s);
    match gpu.variant("attention").as_deref() {
        Some("fused") => return Ok(ok),
        Some("matmul") => return Ok(false),
        _ => {}
    }
    if !ok || gpu.tuning() == TuneMode::Off {
        return Ok(ok && gpu.is_cpu());
    }
    let key = format!(
        "attention@{:016x}.{:016x} b{} t{} nh{} hs{}",
        super::attention_fused::rows_shader(gpu).source_hash(),
        super::matmul::kernels_hash(gpu, super::matmul::Operands::F32),
        s.b,
        s.t,
        s.nh,
        s.hs
    );
    if let Some(c) = gpu.tuned(&key) {
        return Ok(c == "fused");
    }
    Ok(tune_attention(gpu, &key, *s)? == "fused")
}

/// Times forward + backward of both paths on zero inputs with fewer sequences (to the trial
/// budget). The matmul path's own products are tuned during its first (untimed) run.
fn tune_attention(gpu: &Arc<Gpu>, key: &str, s: AttentionShape) -> Result<String, GpuError> {
    let per_sequence = 4 * (s.nh * s.t * s.t * s.hs) as u64;
    let b = ((tune::trial_flops(gpu) / per_sequence.max(1)) as usize).clamp(1, s.b);
    let t = AttentionShape { b, ..s };
    let qkv = gpu.zeros("tuning qkv", &[b * s.t, 3 * s.c()])?;
    let mask = gpu.zeros("tuning mask", &[b * s.t])?;
    let dctx = gpu.zeros("tuning dctx", &[b * s.t, s.c()])?;
    let (qkv, mask, dctx) = (&qkv, &mask, &dctx);
    let both = move |fused: bool| {
        move || -> Result<(), GpuError> {
            let (ctx, saved) = attention_forward_with(gpu, fused, t, qkv, mask, None)?;
            attention_backward(gpu, t, dctx, qkv, mask, &ctx, &saved, None).map(drop)
        }
    };
    let candidates = [("fused", true), ("matmul", false)]
        .into_iter()
        .map(|(name, fused)| tune::Candidate { name, warm: Box::new(both(fused)), run: Box::new(both(fused)) })
        .collect();
    tune::pick(gpu, key, candidates)
}

/// Returns ctx (B·T, C) and what the backward needs.
pub fn attention_forward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    qkv: &Tensor,
    mask: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<(Tensor, AttentionSaved), GpuError> {
    attention_forward_with(gpu, use_fused(gpu, &s)?, s, qkv, mask, pdrop)
}

/// `attention_forward` with the implementation chosen by the caller (tests try both).
pub fn attention_forward_with(
    gpu: &Arc<Gpu>,
    fused: bool,
    s: AttentionShape,
    qkv: &Tensor,
    mask: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<(Tensor, AttentionSaved), GpuError> {
    s.check(qkv, mask)?;
    if fused {
        let (ctx, stats) = super::attention_fused::forward(gpu, s, qkv, mask, pdrop)?;
        return Ok((ctx, AttentionSaved::Stats(stats)));
    }
    let (ctx, probs) = matmul_forward(gpu, s, qkv, mask, pdrop)?;
    Ok((ctx, AttentionSaved::Probs(probs)))
}

/// Returns dqkv (B·T, 3C), assigned; `ctx`, `saved` and `pdrop` are the forward's.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    dctx: &Tensor,
    qkv: &Tensor,
    mask: &Tensor,
    ctx: &Tensor,
    saved: &AttentionSaved,
    pdrop: Option<ProbDropout>,
) -> Result<Tensor, GpuError> {
    match saved {
        AttentionSaved::Stats(stats) => super::attention_fused::backward(gpu, s, dctx, qkv, mask, ctx, stats, pdrop),
        AttentionSaved::Probs(probs) => matmul_backward(gpu, s, dctx, qkv, probs, pdrop),
    }
}

/// The matmul path: returns ctx (B·T, C) and the probabilities P (B·NH, T, T), before dropout.
pub fn matmul_forward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    qkv: &Tensor,
    mask: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    forward_queries(gpu, s, s.t, qkv, mask, pdrop)
}

/// The matmul path's backward: dqkv (B·T, 3C), assigned. `pdrop` must be the forward's.
pub fn matmul_backward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    dctx: &Tensor,
    qkv: &Tensor,
    probs: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<Tensor, GpuError> {
    backward_queries(gpu, s, s.t, dctx, qkv, probs, pdrop)
}

/// Attention for each sequence's first query ([CLS]) alone, over all its keys and values: all
/// the last encoder layer of a classifier needs, since the pooler reads token 0 and nothing
/// else. Returns ctx₀ (B, C) and p (B·NH, 1, T) before dropout.
pub fn cls_forward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    qkv: &Tensor,
    mask: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    forward_queries(gpu, s, 1, qkv, mask, pdrop)
}

/// Backward of `cls_forward`: dqkv (B·T, 3C), assigned; rows 1.. of dQ are zero, as those
/// queries do not exist.
pub fn cls_backward(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    dctx: &Tensor,
    qkv: &Tensor,
    probs: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<Tensor, GpuError> {
    backward_queries(gpu, s, 1, dctx, qkv, probs, pdrop)
}

/// Layouts of the matmul path for the first `q` queries of each sequence (q = T or 1): head
/// (b, h) of the scores (B·NH, q, T) is a (q, T) matrix, of the context (B·q, C) a (q, HS) one.
fn query_layouts(s: &AttentionShape, q: usize) -> (Layout, Layout) {
    let scores = Layout { off: 0, ld: s.t, s1: s.nh * q * s.t, s2: q * s.t, trans: false };
    let ctx = Layout { off: 0, ld: s.c(), s1: q * s.c(), s2: s.hs, trans: false };
    (scores, ctx)
}

fn forward_queries(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    nq: usize,
    qkv: &Tensor,
    mask: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<(Tensor, Tensor), GpuError> {
    s.check(qkv, mask)?;
    let AttentionShape { b, t, nh, hs } = s;
    let probs = gpu.empty("attention probabilities", &[b * nh, nq, t])?;
    let (q, k, v) = (s.qkv_layout(0), s.qkv_layout(1), s.qkv_layout(2));
    let (ls, lc) = query_layouts(&s, nq);
    // With nq < T only the first nq rows of each head's Q are read.
    gemm(gpu, s.dims(nq, t, hs), (qkv, q), (qkv, k.t()), None, (&probs, ls), 1.0, false)?;
    let used = softmax_forward_dropout(gpu, &probs, mask, nh, 1.0 / (hs as f32).sqrt(), pdrop)?
        .unwrap_or_else(|| probs.clone());
    let ctx = gpu.empty("attention context", &[b * nq, s.c()])?;
    gemm(gpu, s.dims(nq, hs, t), (&used, ls), (qkv, v), None, (&ctx, lc), 1.0, false)?;
    Ok((ctx, probs))
}

#[allow(clippy::too_many_arguments)]
fn backward_queries(
    gpu: &Arc<Gpu>,
    s: AttentionShape,
    nq: usize,
    dctx: &Tensor,
    qkv: &Tensor,
    probs: &Tensor,
    pdrop: Option<ProbDropout>,
) -> Result<Tensor, GpuError> {
    let AttentionShape { b, t, nh, hs } = s;
    dctx.expect_shape("attention backward", &[b * nq, s.c()])?;
    qkv.expect_shape("attention backward", &[b * t, 3 * s.c()])?;
    probs.expect_shape("attention backward", &[b * nh, nq, t])?;
    let (q, k, v) = (s.qkv_layout(0), s.qkv_layout(1), s.qkv_layout(2));
    let (ls, lc) = query_layouts(&s, nq);
    // With nq < T, rows nq.. of dQ are never written: they start at zero.
    let dqkv = if nq < t {
        gpu.zeros("attention qkv gradient", &[b * t, 3 * s.c()])?
    } else {
        gpu.empty("attention qkv gradient", &[b * t, 3 * s.c()])?
    };
    let dp = gpu.empty("attention score gradient", &[b * nh, nq, t])?;
    // dP' = dctx · Vᵀ ; dV = P'ᵀ · dctx
    gemm(gpu, s.dims(nq, t, hs), (dctx, lc), (qkv, v.t()), None, (&dp, ls), 1.0, false)?;
    let used = dropped(gpu, probs, pdrop)?;
    gemm(gpu, s.dims(t, hs, nq), (&used, ls.t()), (dctx, lc), None, (&dqkv, v), 1.0, false)?;
    drop(used);
    // dP = dropout(dP'), then dS (over dP) = P ⊙ (dP − rowsum(P ⊙ dP)) / √HS, in one pass
    softmax_backward_dropout(gpu, probs, &dp, nh, 1.0 / (hs as f32).sqrt(), pdrop)?;
    // dQ = dS · K ; dK = dSᵀ · Q
    gemm(gpu, s.dims(nq, hs, t), (&dp, ls), (qkv, k), None, (&dqkv, q), 1.0, false)?;
    gemm(gpu, s.dims(t, hs, nq), (&dp, ls.t()), (qkv, q), None, (&dqkv, k), 1.0, false)?;
    Ok(dqkv)
}

/// In place: scores (B·NH, Q, T) become softmax(scores·scale + mask) over the last dimension.
/// Q is the number of query rows per head: T for full attention, 1 for the [CLS]-only path.
pub fn softmax_forward(gpu: &Arc<Gpu>, scores: &Tensor, mask: &Tensor, nh: usize, scale: f32) -> Result<(), GpuError> {
    softmax_forward_dropout(gpu, scores, mask, nh, scale, None).map(drop)
}

/// `softmax_forward`, and with `pdrop` P' = dropout(P) in a new tensor from the same pass.
pub fn softmax_forward_dropout(
    gpu: &Arc<Gpu>,
    scores: &Tensor,
    mask: &Tensor,
    nh: usize,
    scale: f32,
    pdrop: Option<ProbDropout>,
) -> Result<Option<Tensor>, GpuError> {
    let (z, q, cols) = score_dims(scores)?;
    let b = z / nh;
    if b * nh != z || mask.numel() != b * cols {
        return Err(shape_err(format!(
            "softmax: scores {:?} and mask {:?} disagree for {nh} heads",
            scores.shape(),
            mask.shape()
        )));
    }
    // Without dropout the binding is still declared: a one-word stand-in, never written.
    let out = gpu.empty("attention probabilities, dropped", if pdrop.is_some() { scores.shape() } else { &[1] })?;
    let (threshold, seed, keep, constants) = dropout_args(pdrop);
    let (shader, entry, grid) = softmax_kernel(gpu, ["softmax_fwd", "softmax_fwd_sg"], z * q);
    gpu.launch(
        &Kernel { shader, entry, constants: &constants },
        &[(z * q) as u32, cols as u32, (nh * q) as u32, f(scale), threshold, seed, f(keep)],
        &[Arg::R(mask), Arg::W(scores), Arg::W(&out)],
        grid,
    )?;
    Ok(pdrop.map(|_| out))
}

/// The dropout words of softmax.wgsl's Params (threshold, seed, keep scale) and its constant.
fn dropout_args(pdrop: Option<ProbDropout>) -> (u32, u32, f32, [(&'static str, f64); 1]) {
    let (threshold, seed, keep) = crate::kernel_args::dropout_words(pdrop.map(|d| (d.p, d.seed)));
    (threshold, seed, keep, [("DROPOUT", if pdrop.is_some() { 1.0 } else { 0.0 })])
}

/// In place: dprobs becomes the score gradient P ⊙ (dP − Σ P ⊙ dP) · scale.
pub fn softmax_backward(gpu: &Gpu, probs: &Tensor, dprobs: &Tensor, nh: usize, scale: f32) -> Result<(), GpuError> {
    softmax_backward_dropout(gpu, probs, dprobs, nh, scale, None)
}

/// `softmax_backward` where dprobs holds dP' (the gradient of the dropped probabilities): it is
/// dropped with `pdrop`'s mask first, in the same pass.
pub fn softmax_backward_dropout(
    gpu: &Gpu,
    probs: &Tensor,
    dprobs: &Tensor,
    nh: usize,
    scale: f32,
    pdrop: Option<ProbDropout>,
) -> Result<(), GpuError> {
    let (z, q, cols) = score_dims(probs)?;
    if dprobs.shape() != probs.shape() {
        return Err(shape_err(format!("softmax backward: {:?} vs {:?}", dprobs.shape(), probs.shape())));
    }
    let (threshold, seed, keep, constants) = dropout_args(pdrop);
    let (shader, entry, grid) = softmax_kernel(gpu, ["softmax_bwd", "softmax_bwd_sg"], z * q);
    gpu.launch(
        &Kernel { shader, entry, constants: &constants },
        &[(z * q) as u32, cols as u32, (nh * q) as u32, f(scale), threshold, seed, f(keep)],
        &[Arg::R(probs), Arg::W(dprobs)],
        grid,
    )
}

/// The softmax's module, entry point (of [row per invocation, row per subgroup] `entries`) and
/// grid for `rows` rows: a row per subgroup on GPUs with subgroups (neighbouring lanes read
/// neighbouring keys, where a row per invocation reads addresses a row apart), a row per
/// invocation elsewhere. `WGBERT_SOFTMAX=rows|subgroup` picks by hand where it can run.
fn softmax_kernel(gpu: &Gpu, entries: [&'static str; 2], rows: usize) -> (Shader, &'static str, [u32; 3]) {
    let sizes = gpu.subgroup_sizes();
    let subgroup = match gpu.variant("softmax").as_deref() {
        Some("rows") => false,
        Some("subgroup") => sizes.is_some(),
        _ => sizes.is_some() && !gpu.is_cpu(),
    };
    match sizes.filter(|_| subgroup) {
        // Rows per workgroup with the largest subgroups the adapter may run.
        Some((_, max)) => (Shader::SoftmaxSubgroup, entries[1], super::grid_1d(rows, 64 / max as usize)),
        None => (Shader::Softmax, entries[0], super::grid_1d(rows, 64)),
    }
}

/// (B·NH, Q, T) of a score matrix, where Q is T (every query) or 1 (the first query only).
fn score_dims(scores: &Tensor) -> Result<(usize, usize, usize), GpuError> {
    match scores.shape() {
        [z, q, t] if q == t || *q == 1 => Ok((*z, *q, *t)),
        s => {
            Err(shape_err(format!("softmax: scores {} must be (B·NH, T, T) or (B·NH, 1, T), has {s:?}", scores.name())))
        }
    }
}
