//! Backward kernels against central differences of their own forward kernels (f32 on the GPU),
//! at a few coordinates: a check of the chain rule that needs no reference implementation.
//! The scalar differentiated is L = Σ w ⊙ y with fixed random weights w.

use anyhow::Result;

use super::tolerance as tol;
use super::Checker;
use crate::gpu::Tensor;
use crate::ops::attention::{
    attention_backward, attention_forward_with, cls_backward, cls_forward, AttentionShape, ProbDropout,
};
use crate::ops::attention_fused::Kind;
use crate::ops::gelu::GeluKind;
use crate::ops::{attention_fused, gelu, layernorm, matmul};

/// Step of the central differences: large enough for f32 outputs.
const H: f32 = 1e-2;

fn weighted(t: &Tensor, w: &[f32]) -> Result<f64> {
    Ok(t.to_vec()?.iter().zip(w).map(|(a, b)| *a as f64 * *b as f64).sum())
}

/// Compares `coords` coordinates of `grad` with (f(x + h) − f(x − h)) / 2h and records one row.
fn check(
    c: &mut Checker,
    kernel: &str,
    variant: &str,
    x: &[f32],
    grad: &[f32],
    coords: usize,
    f: impl Fn(&[f32]) -> Result<f64>,
) -> Result<()> {
    let (mut got, mut want) = (Vec::new(), Vec::new());
    for _ in 0..coords.min(x.len()) {
        let i = c.below(x.len() as u32) as usize;
        let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
        xp[i] += H;
        xm[i] -= H;
        want.push((f(&xp)? - f(&xm)?) / (2.0 * H as f64));
        got.push(grad[i]);
    }
    let shape = format!("{} of {} coordinates", got.len(), x.len());
    c.close(kernel, variant, &shape, &got, &want, tol::FINITE_DIFFERENCE);
    Ok(())
}

pub fn finite_differences(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    // linear: dx and dW.
    let (rows, in_f, out_f) = (3, 4, 5);
    let (x, w, wy) = (c.vec(rows * in_f, 1.0), c.vec(out_f * in_f, 1.0), c.vec(rows * out_f, 1.0));
    let (tx, tw) = (c.up("x", &[rows, in_f], &x)?, c.up("w", &[out_f, in_f], &w)?);
    let fwd = |x: &[f32], w: &[f32]| -> Result<f64> {
        let y = matmul::linear(&g, &g.upload("x", &[rows, in_f], x)?, &g.upload("w", &[out_f, in_f], w)?, None)?;
        weighted(&y, &wy)
    };
    let dw = g.zeros("dw", &[out_f, in_f])?;
    let dx = matmul::linear_backward(&g, &c.up("dy", &[rows, out_f], &wy)?, &tx, &tw, &dw, None, true)?;
    let dx = dx.expect("dx was asked for").to_vec()?;
    check(c, "linear backward dx", "finite differences", &x, &dx, 8, |v| fwd(v, &w))?;
    check(c, "linear backward dW", "finite differences", &w, &dw.to_vec()?, 8, |v| fwd(&x, v))?;

    // layernorm: dx and dgamma.
    let (rows, cols) = (3, 8);
    let (x, gm, bt, wy) = (c.vec(rows * cols, 2.0), c.vec(cols, 1.0), c.vec(cols, 1.0), c.vec(rows * cols, 1.0));
    let tb = c.up("beta", &[cols], &bt)?;
    let fwd = |x: &[f32], gm: &[f32]| -> Result<f64> {
        let (y, _) = layernorm::layernorm_forward(
            &g,
            &g.upload("x", &[rows, cols], x)?,
            &g.upload("g", &[cols], gm)?,
            &tb,
            1e-5,
        )?;
        weighted(&y, &wy)
    };
    let (tx, tg) = (c.up("x", &[rows, cols], &x)?, c.up("gamma", &[cols], &gm)?);
    let (_, saved) = layernorm::layernorm_forward(&g, &tx, &tg, &tb, 1e-5)?;
    let (dg, db) = (g.zeros("dgamma", &[cols])?, g.zeros("dbeta", &[cols])?);
    let dx = layernorm::layernorm_backward(&g, &c.up("dy", &[rows, cols], &wy)?, &tx, &tg, &saved, &dg, &db)?;
    check(c, "layernorm backward dx", "finite differences", &x, &dx.to_vec()?, 10, |v| fwd(v, &gm))?;
    check(c, "layernorm backward dgamma", "finite differences", &gm, &dg.to_vec()?, 6, |v| fwd(&x, v))?;

    // GELU (erf).
    let x = c.vec(50, 4.0);
    let wy = c.vec(50, 1.0);
    let d = gelu::gelu_backward(&g, &c.up("dy", &[50], &wy)?, &c.up("x", &[50], &x)?, GeluKind::Erf)?.to_vec()?;
    check(c, "activation backward", "Erf, finite differences", &x, &d, 20, |v| {
        weighted(&gelu::gelu_forward(&g, &g.upload("x", &[50], v)?, GeluKind::Erf)?, &wy)
    })?;

    // Attention, both implementations, the second sequence padded after 3 tokens. (Not a
    // sequence of padding alone: there the f32::MIN mask absorbs the scores, the forward is
    // constant in q and k, and the backward gives PyTorch's nonzero dq, dk all the same.)
    let s = AttentionShape { b: 2, t: 5, nh: 2, hs: 4 };
    let (n, cc) = (s.b * s.t * 3 * s.c(), s.c());
    let mask: Vec<f32> = (0..s.b * s.t).map(|i| (i < s.t || i % s.t < 3) as u32 as f32).collect();
    let tm = c.up("mask", &[s.b, s.t], &mask)?;
    let (q, wy) = (c.vec(n, 1.0), c.vec(s.b * s.t * cc, 1.0));
    let tq = c.up("qkv", &[s.b * s.t, 3 * cc], &q)?;
    for kind in [None, Some(Kind::Windows), Some(Kind::Tiles)] {
        let variant = kind
            .map_or("matmul, finite differences".to_string(), |k| format!("fused {}, finite differences", k.name()));
        if let Some(k) = kind {
            if !attention_fused::supported_as(&g, k, &s) {
                c.skip("attention backward", &variant, "not supported on this adapter");
                continue;
            }
            g.set_variant("fused_attention", k.name());
        }
        let fused = kind.is_some();
        let ran = (|| -> Result<()> {
            let (ctx, saved) = attention_forward_with(&g, fused, s, &tq, &tm, None)?;
            let d = attention_backward(&g, s, &c.up("dctx", &[s.b * s.t, cc], &wy)?, &tq, &tm, &ctx, &saved, None)?;
            check(c, "attention backward", &variant, &q, &d.to_vec()?, 24, |v| {
                let (ctx, _) =
                    attention_forward_with(&g, fused, s, &g.upload("qkv", &[s.b * s.t, 3 * cc], v)?, &tm, None)?;
                weighted(&ctx, &wy)
            })
        })();
        g.clear_variant("fused_attention");
        ran?;
    }

    // [CLS]-only attention with dropout on its probabilities: the backward must drop the same
    // probabilities as the forward (a fixed seed makes the forward a function of qkv).
    let drop = Some(ProbDropout { p: 0.3, seed: 7 });
    let wy = c.vec(s.b * cc, 1.0);
    let (_, probs) = cls_forward(&g, s, &tq, &tm, drop)?;
    let d = cls_backward(&g, s, &c.up("dctx0", &[s.b, cc], &wy)?, &tq, &probs, drop)?;
    check(c, "attention [CLS] only backward", "dropout 0.3, finite differences", &q, &d.to_vec()?, 40, |v| {
        let (ctx, _) = cls_forward(&g, s, &g.upload("qkv", &[s.b * s.t, 3 * cc], v)?, &tm, drop)?;
        weighted(&ctx, &wy)
    })?;
    Ok(())
}
