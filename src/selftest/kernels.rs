//! The kernels other than matmul (`matmul.rs`), attention (`attention.rs`) and the optimizer
//! (`optimizer.rs`) against the f64 CPU reference (`crate::reference`), on random inputs at
//! sizes that are no multiple of any tile. One function per op family; `tests/kernels.rs` runs
//! the same functions at `Size::Full`.

use anyhow::Result;

use super::tolerance as tol;
use super::{Checker, Size};
use crate::ops::gelu::GeluKind;
use crate::ops::layernorm::{AddDropout, LnVariant};
use crate::ops::{convert, elementwise, embedding, gelu, layernorm, loss, reduce};
use crate::reference as r;
use crate::reference::to_f64 as f64s;

/// Each value rounded to f16 and back: what f16 operands hold.
pub(super) fn round_f16(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect()
}

pub(super) const ACTIVATIONS: [GeluKind; 3] = [GeluKind::Erf, GeluKind::Tanh, GeluKind::Relu];

/// Row counts: none is a multiple of a tile except 384 and 1536; 30522 is BERT's vocabulary.
pub(super) fn rows(size: Size) -> &'static [usize] {
    match size {
        Size::Quick => &[1, 7, 33, 129, 384],
        Size::Full => &[1, 7, 33, 127, 129, 384, 1536, 30522],
    }
}

/// LayerNorm forward and backward in both variants, and add & norm (with and without dropout).
pub fn layernorm(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    if g.subgroup_sizes().is_none() {
        c.skip("layernorm", "subgroup", "no subgroups of at most 64 on this adapter");
    }
    for &rows in rows(c.size) {
        for cols in [7usize, 384] {
            if rows * cols > 2_000_000 {
                continue; // 30522 rows are checked at C = 7: the row count is what matters
            }
            // An offset and scale as real activations have them.
            let x: Vec<f32> = c.vec(rows * cols, 3.0).iter().map(|v| v + 1.5).collect();
            let (gamma, beta, dy) = (c.vec(cols, 1.0), c.vec(cols, 1.0), c.vec(rows * cols, 1.0));
            let (tx, tg, tb) =
                (c.up("x", &[rows, cols], &x)?, c.up("gamma", &[cols], &gamma)?, c.up("beta", &[cols], &beta)?);
            let (ry, rs) = r::layernorm::forward(&f64s(&x), &f64s(&gamma), &f64s(&beta), cols, 1e-12);
            let (rdx, rdg, rdb) = r::layernorm::backward(&f64s(&dy), &f64s(&x), &f64s(&gamma), &rs, cols);
            let shape = format!("{rows}x{cols}");
            for v in LnVariant::ALL {
                if !v.runs(&g, cols) {
                    continue; // rows takes C % 4 == 0 (and says so: tests/kernels.rs); subgroups, below
                }
                let name = v.name();
                let (y, saved) = layernorm::layernorm_forward_with(&g, v, &tx, &tg, &tb, 1e-12)?;
                c.close("layernorm", name, &shape, &y.to_vec()?, &ry, tol::LAYERNORM_Y);
                let (dg, db) = (g.zeros("dgamma", &[cols])?, g.zeros("dbeta", &[cols])?);
                let tdy = c.up("dy", &[rows, cols], &dy)?;
                let dx = layernorm::layernorm_backward_with(&g, v, &tdy, &tx, &tg, &saved, &dg, &db)?;
                c.close("layernorm backward dx", name, &shape, &dx.to_vec()?, &rdx, tol::LAYERNORM_DX);
                c.close("layernorm backward dgamma", name, &shape, &dg.to_vec()?, &rdg, tol::layernorm_param(rows));
                c.close("layernorm backward dbeta", name, &shape, &db.to_vec()?, &rdb, tol::layernorm_param(rows));
            }
        }
    }
    // Add & norm: LayerNorm(dropout(a) + residual) in one kernel, with elementwise.wgsl's mask.
    for (rows, cols) in [(1, 8), (33, 12), (129, 384), (7, 7)] {
        let a = c.vec(rows * cols, 2.0);
        let res: Vec<f32> = c.vec(rows * cols, 3.0).iter().map(|v| v + 1.0).collect();
        let (gamma, beta) = (c.vec(cols, 1.0), c.vec(cols, 1.0));
        let (ta, tr) = (c.up("a", &[rows, cols], &a)?, c.up("residual", &[rows, cols], &res)?);
        let (tg, tb) = (c.up("gamma", &[cols], &gamma)?, c.up("beta", &[cols], &beta)?);
        for drop in [None, Some(AddDropout { p: 0.25, seed: 11 })] {
            let da = match drop {
                Some(d) => r::elementwise::dropout(&f64s(&a), d.p, d.seed),
                None => f64s(&a),
            };
            let sum: Vec<f64> = da.iter().zip(&res).map(|(x, r)| x + *r as f64).collect();
            let (ry, rs) = r::layernorm::forward(&sum, &f64s(&gamma), &f64s(&beta), cols, 1e-12);
            let shape = format!("{rows}x{cols}{}", if drop.is_some() { " dropout 0.25" } else { "" });
            for v in LnVariant::ALL {
                if !v.runs(&g, cols) {
                    continue;
                }
                let run = |save| layernorm::add_layernorm_forward_with(&g, v, &ta, &tr, drop, &tg, &tb, 1e-12, save);
                let (y, saved_sum, saved) = run(true)?;
                c.close("add & norm", v.name(), &shape, &y.to_vec()?, &ry, tol::LAYERNORM_Y);
                let saved_sum = saved_sum.map(|s| s.to_vec()).transpose()?.unwrap_or_default();
                c.close("add & norm (saved sum)", v.name(), &shape, &saved_sum, &sum, tol::ADD_SUM);
                c.close(
                    "add & norm (saved rstd)",
                    v.name(),
                    &shape,
                    &saved.rstd.to_vec()?,
                    &rs.rstd,
                    tol::LAYERNORM_RSTD,
                );
                // Inference saves no sum and gives the same output.
                let (y2, none, _) = run(false)?;
                let same = none.is_none() && y2.to_vec()? == y.to_vec()?;
                let note = "inference differs from training, or saved a sum".to_string();
                c.holds("add & norm (inference)", v.name(), &shape, "same as training, no sum", same, note);
                // Backward: ds for the residual and da = dropout(ds) for a, from one pass.
                let dy = c.vec(rows * cols, 1.0);
                let (rds, _, _) = r::layernorm::backward(&f64s(&dy), &sum, &f64s(&gamma), &rs, cols);
                let rda = match drop {
                    Some(d) => r::elementwise::dropout(&rds, d.p, d.seed),
                    None => rds.clone(),
                };
                let (dg, db, tdy) =
                    (g.zeros("dgamma", &[cols])?, g.zeros("dbeta", &[cols])?, c.up("dy", &[rows, cols], &dy)?);
                let sum_t = c.up("sum", &[rows, cols], &saved_sum)?;
                let (ds, da) =
                    layernorm::add_layernorm_backward_with(&g, v, &tdy, &sum_t, &tg, &saved, &dg, &db, drop)?;
                c.close("add & norm backward (residual)", v.name(), &shape, &ds.to_vec()?, &rds, tol::LAYERNORM_DX);
                c.close("add & norm backward (sub-layer)", v.name(), &shape, &da.to_vec()?, &rda, tol::LAYERNORM_DX);
            }
        }
    }
    Ok(())
}

/// GELU (erf and tanh forms) and ReLU, forward and backward, over a dense sweep of [-10, 10].
pub fn gelu(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let step = if c.size == Size::Quick { 0.01 } else { 0.001 };
    let n = (20.0 / step) as usize + 1;
    let mut x: Vec<f32> = (0..n).map(|i| -10.0 + i as f32 * step).collect();
    x.extend([-30.0, -15.0, 15.0, 30.0, 0.0, 1e-6, -1e-6]);
    let dy = c.vec(x.len(), 1.0);
    let shape = format!("{} values", x.len());
    for kind in ACTIVATIONS {
        let tx = c.up("x", &[x.len()], &x)?;
        let y = gelu::gelu_forward(&g, &tx, kind)?.to_vec()?;
        let want: Vec<f64> = x.iter().map(|&v| r::gelu::gelu(v as f64, kind)).collect();
        c.close("activation", &format!("{kind:?}"), &shape, &y, &want, tol::GELU);
        let dx = gelu::gelu_backward(&g, &c.up("dy", &[x.len()], &dy)?, &tx, kind)?.to_vec()?;
        let wdx: Vec<f64> = x.iter().zip(&dy).map(|(&v, &d)| d as f64 * r::gelu::gelu_grad(v as f64, kind)).collect();
        c.close("activation backward", &format!("{kind:?}"), &shape, &dx, &wdx, tol::GELU_BACKWARD);
    }
    Ok(())
}

/// Word + position + type embeddings, forward and the row-grouped backward (repeated ids).
pub fn embedding(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let (v, p, tv, cc) = (300, 16, 2, 24);
    for (b, t) in [(1, 1), (3, 7), (4, 16)] {
        let ids: Vec<u32> = (0..b * t).map(|i| if i % 5 == 0 { 7 } else { c.below(v as u32) }).collect();
        let types: Vec<u32> = (0..b * t).map(|_| c.below(tv as u32)).collect();
        let (word, pos, tt) = (c.vec(v * cc, 1.0), c.vec(p * cc, 1.0), c.vec(tv * cc, 1.0));
        let batch = embedding::TokenBatch::upload(&g, &ids, &types, b, t, v, tv)?;
        let (tw, tp, ttt) =
            (c.up("word", &[v, cc], &word)?, c.up("pos", &[p, cc], &pos)?, c.up("type", &[tv, cc], &tt)?);
        let out = embedding::embedding_forward(&g, &batch, &tw, &tp, &ttt)?;
        let want = r::embedding::forward(&ids, &types, &f64s(&word), &f64s(&pos), &f64s(&tt), t, cc);
        let shape = format!("B{b} T{t} C{cc} V{v}");
        c.close("embedding", "-", &shape, &out.to_vec()?, &want, tol::EMBEDDING);

        let dout = c.vec(b * t * cc, 1.0);
        let tdout = c.up("dout", &[b * t, cc], &dout)?;
        let (dw, dp, dt) = (g.zeros("dword", &[v, cc])?, g.zeros("dpos", &[p, cc])?, g.zeros("dtype", &[tv, cc])?);
        embedding::embedding_backward(&g, &batch.word_groups, &tdout, &dw)?;
        embedding::embedding_backward(&g, &batch.position_groups, &tdout, &dp)?;
        embedding::embedding_backward(&g, &batch.type_groups, &tdout, &dt)?;
        let (rw, rp, rt) = r::embedding::backward(&ids, &types, &f64s(&dout), t, cc, (v, p, tv));
        c.close("embedding backward", "words", &shape, &dw.to_vec()?, &rw, tol::EMBEDDING_GRAD);
        c.close("embedding backward", "positions", &shape, &dp.to_vec()?, &rp, tol::EMBEDDING_GRAD);
        c.close("embedding backward", "token types", &shape, &dt.to_vec()?, &rt, tol::EMBEDDING_GRAD);
    }
    Ok(())
}

/// Dropout (the reference's mask and its rate), tanh, the first-token gather, add and axpy.
pub fn elementwise(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let n = if c.size == Size::Quick { 20_000 } else { 100_000 };
    let x = c.vec(n, 1.0);
    let tx = c.up("x", &[n], &x)?;
    let y = elementwise::dropout(&g, &tx, 0.1, 1234)?.to_vec()?;
    let shape = format!("{n}, p 0.1");
    c.close("dropout", "-", &shape, &y, &r::elementwise::dropout(&f64s(&x), 0.1, 1234), tol::DROPOUT);
    let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
    let rate_ok = (dropped - 0.1).abs() < 0.01;
    c.holds("dropout (rate)", "-", &shape, "0.1 ± 0.01", rate_ok, format!("dropped {dropped:.4}"));

    let mut x = c.vec(1000, 5.0);
    x.extend([-100.0, 100.0, 0.0]);
    let tx = c.up("x", &[x.len()], &x)?;
    let y = elementwise::tanh_forward(&g, &tx)?;
    let ry: Vec<f64> = x.iter().map(|&v| (v as f64).tanh()).collect();
    c.close("tanh", "-", "1003", &y.to_vec()?, &ry, tol::TANH);
    let dy = c.vec(x.len(), 1.0);
    let dx = elementwise::tanh_backward(&g, &c.up("dy", &[x.len()], &dy)?, &y)?;
    let rdx: Vec<f64> = ry.iter().zip(&dy).map(|(t, d)| *d as f64 * (1.0 - t * t)).collect();
    c.close("tanh backward", "-", "1003", &dx.to_vec()?, &rdx, tol::TANH_BACKWARD);

    let (b, t, cc) = (3, 5, 4);
    let h = c.vec(b * t * cc, 1.0);
    let cls = elementwise::first_token(&g, &c.up("h", &[b, t, cc], &h)?, b, t)?.to_vec()?;
    let want: Vec<f64> = (0..b).flat_map(|i| h[i * t * cc..i * t * cc + cc].to_vec()).map(|v| v as f64).collect();
    c.close("first token", "-", "B3 T5 C4", &cls, &want, tol::EXACT);
    let dh = g.zeros("dh", &[b, t, cc])?;
    elementwise::first_token_backward(&g, &c.up("dcls", &[b, cc], &cls)?, &dh, b, t)?;
    let want: Vec<f64> = (0..b * t * cc).map(|i| if (i / cc) % t == 0 { h[i] as f64 } else { 0.0 }).collect();
    c.close("first token backward", "-", "B3 T5 C4", &dh.to_vec()?, &want, tol::EXACT);

    // Mean pooling under the mask: a padded sequence, a full one, and one all padding (zeros).
    let (b, t, cc) = (3, 7, 33);
    let h = c.vec(b * t * cc, 1.0);
    let mask: Vec<f32> = (0..b * t).map(|i| [(i % t < 4) as u8 as f32, 1.0, 0.0][i / t]).collect();
    let (th, tm) = (c.up("h", &[b * t, cc], &h)?, c.up("mask", &[b, t], &mask)?);
    let shape = "B3 T7 C33";
    let mean = elementwise::mean_tokens(&g, &th, &tm, b, t)?.to_vec()?;
    c.close(
        "mean pooling",
        "-",
        shape,
        &mean,
        &r::elementwise::mean_tokens(&f64s(&h), &f64s(&mask), b, t),
        tol::MEAN_POOL,
    );
    let dy = c.vec(b * cc, 1.0);
    let dx = elementwise::mean_tokens_backward(&g, &c.up("dy", &[b, cc], &dy)?, &tm, b, t)?.to_vec()?;
    let want = r::elementwise::mean_tokens_backward(&f64s(&dy), &f64s(&mask), b, t);
    c.close("mean pooling backward", "-", shape, &dx, &want, tol::MEAN_POOL);
    // Rows longer than a workgroup (T, C > 256): the backward's strided count and writes.
    let (b, t, cc) = (2, 300, 384);
    let mask: Vec<f32> = (0..b * t).map(|i| if i / t == 1 || i % t < 290 { 1.0 } else { 0.0 }).collect();
    let dy = c.vec(b * cc, 1.0);
    let dx = elementwise::mean_tokens_backward(&g, &c.up("dy", &[b, cc], &dy)?, &c.up("mask", &[b, t], &mask)?, b, t)?
        .to_vec()?;
    let want = r::elementwise::mean_tokens_backward(&f64s(&dy), &f64s(&mask), b, t);
    c.close("mean pooling backward", "-", "B2 T300 C384", &dx, &want, tol::MEAN_POOL);

    let s = elementwise::add(&g, &tx, &tx)?.to_vec()?;
    c.close("add", "-", "1003", &s, &x.iter().map(|&v| 2.0 * v as f64).collect::<Vec<_>>(), tol::EXACT);
    let acc = c.up("acc", &[x.len()], &x)?;
    elementwise::axpy(&g, -3.0, &tx, &acc)?;
    c.close("axpy", "-", "1003", &acc.to_vec()?, &x.iter().map(|&v| -2.0 * v as f64).collect::<Vec<_>>(), tol::AXPY);
    Ok(())
}

/// Binary (one logit, BCE with logits up to ±80) and multi-class (softmax cross-entropy) loss.
pub fn losses(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    for (n, classes) in [(1, 1), (7, 1), (129, 1), (5, 3), (33, 4)] {
        let mut logits = c.vec(n * classes, 4.0);
        if classes == 1 && n > 1 {
            logits[0] = 80.0; // large logits must not overflow
            logits[1] = -80.0;
        }
        let labels: Vec<f32> = (0..n).map(|_| c.below(classes.max(2) as u32) as f32).collect();
        let (tl, ty) = (c.up("logits", &[n, classes], &logits)?, c.up("labels", &[n], &labels)?);
        let out = loss::loss_forward(&g, &tl, &ty)?.to_vec()?;
        let (rl, rc, rd) = r::loss::loss(&f64s(&logits), &f64s(&labels), classes);
        let shape = format!("{n}x{classes}");
        c.close("loss", "-", &shape, &out[..1], &[rl], tol::LOSS);
        c.close("loss (correct count)", "-", &shape, &out[1..2], &[rc], tol::EXACT);
        let d = loss::loss_backward(&g, &tl, &ty, 1.0)?.to_vec()?;
        c.close("loss backward", "-", &shape, &d, &rd, tol::LOSS_BACKWARD);
    }
    Ok(())
}

/// Column sums (bias and LayerNorm gradients) and the global sum of squares (clipping).
pub fn reductions(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    for &rows in rows(c.size) {
        let cols = 5;
        let x = c.vec(rows * cols, 1.0);
        let out = c.up("out", &[cols], &[1.0; 5])?;
        reduce::col_sum(&g, &c.up("x", &[rows, cols], &x)?, &out, true)?;
        let want: Vec<f64> = (0..cols).map(|k| 1.0 + (0..rows).map(|r| x[r * cols + k] as f64).sum::<f64>()).collect();
        c.close(
            "column sum (accumulated)",
            "-",
            &format!("{rows}x{cols}"),
            &out.to_vec()?,
            &want,
            tol::column_sum(rows),
        );
    }
    let big = if c.size == Size::Quick { 30_001 } else { 300_001 };
    let xs: Vec<Vec<f32>> = [1usize, 1000, big].iter().map(|&n| c.vec(n, 1.0)).collect();
    let ts = xs.iter().map(|x| c.up("x", &[x.len()], x)).collect::<Result<Vec<_>>>()?;
    let out = g.zeros("norm", &[1])?;
    reduce::global_sumsq(&g, &ts.iter().collect::<Vec<_>>(), &out)?;
    let want: f64 = xs.iter().flatten().map(|&v| (v as f64) * (v as f64)).sum();
    c.close("sum of squares", "-", &format!("1 + 1000 + {big}"), &out.to_vec()?, &[want], tol::SUM_OF_SQUARES);
    Ok(())
}

/// f16 storage: the casts against the half crate's round-to-nearest-even, bit for bit, with
/// subnormals, ties, overflow and NaN.
pub fn casts(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    if !g.has_f16() {
        c.skip("f32 -> f16 -> f32", "-", "the adapter has no shader-f16");
        return Ok(());
    }
    let specials = [0.0, -0.0, 1.0, 65504.0, 65520.0, -1e6, 6e-8, 3e-5, 1.0 + 1.0 / 2048.0, f32::INFINITY, f32::NAN];
    for &n in rows(c.size) {
        let mut x = c.vec(n, 8.0);
        for (i, v) in specials.iter().enumerate().take(n) {
            x[i] = *v;
        }
        let want: Vec<f64> = x.iter().map(|&v| half::f16::from_f32(v).to_f32() as f64).collect();
        let h = convert::to_f16(&g, &c.up("x", &[n], &x)?)?;
        c.close("f32 -> f16", "-", &n.to_string(), &h.to_vec()?, &want, tol::EXACT);
        let back = convert::to_f32(&g, &h)?.to_vec()?;
        c.close("f16 -> f32", "-", &n.to_string(), &back, &want, tol::EXACT);
        let uploaded = convert::to_f32(&g, &g.upload_f16("h", &[n], &x)?)?.to_vec()?;
        c.close("f16 -> f32 (host-rounded upload)", "-", &n.to_string(), &uploaded, &want, tol::EXACT);
    }
    Ok(())
}
