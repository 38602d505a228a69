//! Masked softmax and attention against the f64 reference: the matmul path, the fused kernel
//! where the head size allows it, and the [CLS]-only path.

use anyhow::Result;

use super::tolerance as tol;
use super::Checker;
use super::Size;
use crate::ops::attention::{
    attention_backward, attention_forward_with, cls_backward, cls_forward, softmax_backward, softmax_backward_dropout,
    softmax_forward, softmax_forward_dropout, AttentionSaved, AttentionShape, ProbDropout,
};
use crate::ops::attention_fused::{self, Kind};
use crate::reference as r;
use crate::reference::to_f64 as f64s;

/// Sequence 0 is full, the last all padding, the others ragged.
pub fn mask_with_padding(b: usize, t: usize) -> Vec<f32> {
    (0..b * t)
        .map(|i| {
            let (s, j) = (i / t, i % t);
            let len = if s == 0 {
                t
            } else if s == b - 1 {
                0
            } else {
                t - s.min(t - 1)
            };
            (j < len) as u32 as f32
        })
        .collect()
}

/// Masked softmax of scores up to ±1000 (a naive exp overflows at 89), forward and backward, a
/// row per invocation and, where the adapter has subgroups, a row per subgroup.
pub fn softmax(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    if g.subgroup_sizes().is_none() {
        c.skip("softmax", "subgroup", "no subgroups of at most 64 on this adapter");
    }
    let variants: &[&str] = if g.subgroup_sizes().is_some() { &["rows", "subgroup"] } else { &["rows"] };
    for &v in variants {
        g.set_variant("softmax", v);
        let run = softmax_rows(c, v);
        g.clear_variant("softmax");
        run?;
    }
    Ok(())
}

/// `softmax` with the variant `v` set.
fn softmax_rows(c: &mut Checker, v: &str) -> Result<()> {
    let g = c.gpu.clone();
    let (b, nh) = (3, 2);
    for t in [1usize, 7, 33, 129] {
        let s = AttentionShape { b, t, nh, hs: 4 };
        let mask = mask_with_padding(b, t);
        let scores = c.vec(b * nh * t * t, 1000.0);
        let ts = c.up("scores", &[b * nh, t, t], &scores)?;
        softmax_forward(&g, &ts, &c.up("mask", &[b, t], &mask)?, nh, 0.5)?;
        let p = ts.to_vec()?;
        let want = r::attention::softmax(&f64s(&scores), &f64s(&mask), &s, 0.5);
        let shape = format!("B{b} NH{nh} T{t}");
        c.close("softmax", v, &shape, &p, &want, tol::SOFTMAX);
        let dp = c.vec(p.len(), 1.0);
        let tdp = c.up("dp", &[b * nh, t, t], &dp)?;
        softmax_backward(&g, &ts, &tdp, nh, 0.5)?;
        let wds = r::attention::softmax_backward(&f64s(&p), &f64s(&dp), t, 0.5);
        c.close("softmax backward", v, &shape, &tdp.to_vec()?, &wds, tol::SOFTMAX);
        // With dropout on the probabilities: P and P' from one pass, and dP' dropped in the
        // backward's, with elementwise.wgsl's mask.
        let d = ProbDropout { p: 0.25, seed: 5 };
        let ts = c.up("scores", &[b * nh, t, t], &scores)?;
        let mask_t = c.up("mask", &[b, t], &mask)?;
        let kept = softmax_forward_dropout(&g, &ts, &mask_t, nh, 0.5, Some(d))?;
        let kept = kept.map(|k| k.to_vec()).transpose()?.unwrap_or_default();
        c.close("softmax + dropout (P)", v, &shape, &ts.to_vec()?, &want, tol::SOFTMAX);
        c.close("softmax + dropout (P')", v, &shape, &kept, &r::elementwise::dropout(&want, d.p, d.seed), tol::SOFTMAX);
        let tdp = c.up("dp", &[b * nh, t, t], &dp)?;
        softmax_backward_dropout(&g, &ts, &tdp, nh, 0.5, Some(d))?;
        let wds = r::attention::softmax_backward(&f64s(&p), &r::elementwise::dropout(&f64s(&dp), d.p, d.seed), t, 0.5);
        c.close("softmax + dropout backward", v, &shape, &tdp.to_vec()?, &wds, tol::SOFTMAX);
    }
    Ok(())
}

/// Attention forward and backward in both implementations (the matmul path and the fused
/// kernel where the head size allows it), and the [CLS]-only path of a classifier's last layer.
pub fn attention(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let mut shapes = vec![(1, 1, 1, 1), (2, 7, 2, 4), (3, 33, 3, 8), (2, 129, 2, 32)];
    if c.size == Size::Full {
        shapes.extend([(1, 128, 1, 64), (4, 128, 2, 64)]);
    }
    for (b, t, nh, hs) in shapes {
        let s = AttentionShape { b, t, nh, hs };
        let cc = s.c();
        let qkv = c.vec(b * t * 3 * cc, 1.0);
        let mask = mask_with_padding(b, t);
        let (tq, tm) = (c.up("qkv", &[b * t, 3 * cc], &qkv)?, c.up("mask", &[b, t], &mask)?);
        let (rctx, rp) = r::attention::forward(&f64s(&qkv), &f64s(&mask), &s);
        let dctx = c.vec(b * t * cc, 1.0);
        let tdctx = c.up("dctx", &[b * t, cc], &dctx)?;
        let rdqkv = r::attention::backward(&f64s(&dctx), &f64s(&qkv), &rp, &s);
        let shape = format!("B{b} T{t} NH{nh} HS{hs}");
        // With dropout on the probabilities, each fused kind against the matmul path: the same
        // mask (elementwise.wgsl's hash of the probability's index) in all three.
        let drop = Some(ProbDropout { p: 0.2, seed: 9 });
        let (mctx, msaved) = attention_forward_with(&g, false, s, &tq, &tm, drop)?;
        let mdqkv = attention_backward(&g, s, &tdctx, &tq, &tm, &mctx, &msaved, drop)?.to_vec()?;
        let (mctx, mdqkv) = (f64s(&mctx.to_vec()?), f64s(&mdqkv));
        for kind in [None, Some(Kind::Windows), Some(Kind::Tiles)] {
            let variant = kind.map_or("matmul".to_string(), |k| format!("fused {}", k.name()));
            if let Some(k) = kind {
                if !attention_fused::supported_as(&g, k, &s) {
                    c.skip("attention", &variant, &format!("head size {hs} or this adapter's limits"));
                    continue;
                }
                g.set_variant("fused_attention", k.name());
            }
            let fused = kind.is_some();
            let ran = (|| -> Result<()> {
                let (ctx, saved) = attention_forward_with(&g, fused, s, &tq, &tm, None)?;
                c.close("attention", &variant, &shape, &ctx.to_vec()?, &rctx, tol::ATTENTION_CTX);
                if let AttentionSaved::Probs(p) = &saved {
                    c.close("attention (probabilities)", &variant, &shape, &p.to_vec()?, &rp, tol::ATTENTION_PROBS);
                }
                let dqkv = attention_backward(&g, s, &tdctx, &tq, &tm, &ctx, &saved, None)?;
                c.close("attention backward", &variant, &shape, &dqkv.to_vec()?, &rdqkv, tol::ATTENTION_DQKV);
                if fused {
                    let (ctx, saved) = attention_forward_with(&g, true, s, &tq, &tm, drop)?;
                    c.close(
                        "attention, dropout 0.2 (vs matmul)",
                        &variant,
                        &shape,
                        &ctx.to_vec()?,
                        &mctx,
                        tol::ATTENTION_CTX,
                    );
                    let dqkv = attention_backward(&g, s, &tdctx, &tq, &tm, &ctx, &saved, drop)?;
                    c.close(
                        "attention backward, dropout 0.2 (vs matmul)",
                        &variant,
                        &shape,
                        &dqkv.to_vec()?,
                        &mdqkv,
                        tol::ATTENTION_DQKV,
                    );
                }
                Ok(())
            })();
            g.clear_variant("fused_attention");
            ran?;
        }
        // [CLS] only: ctx₀ is row 0 of each sequence's context; its dqkv is the full backward's
        // for a dctx that is zero outside rows 0.
        let first_rows =
            |x: &[f64], width: usize| -> Vec<f64> { x.chunks(t * width).flat_map(|r| r[..width].to_vec()).collect() };
        let (ctx, probs) = cls_forward(&g, s, &tq, &tm, None)?;
        c.close("attention [CLS] only", "matmul", &shape, &ctx.to_vec()?, &first_rows(&rctx, cc), tol::ATTENTION_CTX);
        c.close(
            "attention [CLS] only (probabilities)",
            "matmul",
            &shape,
            &probs.to_vec()?,
            &first_rows(&rp, t),
            tol::ATTENTION_PROBS,
        );
        let dctx0 = c.vec(b * cc, 1.0);
        let mut dctx = vec![0.0; b * t * cc];
        for i in 0..b {
            dctx[i * t * cc..i * t * cc + cc].copy_from_slice(&dctx0[i * cc..(i + 1) * cc]);
        }
        let rdqkv = r::attention::backward(&f64s(&dctx), &f64s(&qkv), &rp, &s);
        let dqkv = cls_backward(&g, s, &c.up("dctx0", &[b, cc], &dctx0)?, &tq, &probs, None)?;
        c.close("attention [CLS] only backward", "matmul", &shape, &dqkv.to_vec()?, &rdqkv, tol::ATTENTION_DQKV);
    }
    Ok(())
}
