//! Every kernel, forward and backward, against the CPU reference (f64) on random inputs.
//! Sizes include ones that are no multiple of any tile. Tolerances sit next to each check.

mod common;
use common::*;

use wgbert::gpu::{Gpu, GpuOptions};
use wgbert::ops::attention::{
    attention_backward, attention_forward_with, cls_backward, cls_forward, softmax_backward, softmax_forward,
    AttentionSaved, AttentionShape, ProbDropout,
};
use wgbert::ops::layernorm::LnVariant;
use wgbert::ops::matmul::{
    gemm_epilogue, gemm_with, linear, linear_act, linear_backward, Dims, Epilogue, Layout, Variant,
};
use wgbert::ops::{adamw, attention_fused, elementwise, embedding, gelu, layernorm, loss, reduce};
use wgbert::reference as r;

/// The row counts the issue names: none is a multiple of a tile except 384 and 1536.
const ROWS: [usize; 8] = [1, 7, 33, 127, 129, 384, 1536, 30522];

#[test]
fn matmul_all_variants_and_transposes_match_reference() {
    let g = gpu();
    let mut rng = Rng::new(1);
    let shapes = [
        (1, 1, 1),
        (7, 33, 5),
        (33, 7, 129),
        (127, 129, 33),
        (129, 127, 64),
        (384, 16, 24),
        (1536, 9, 12),
        (30522, 8, 16),
        // K > 4 panel chunks: the panel variant accumulates over several dispatches.
        (40, 36, 1100),
        // Three blocks of columns, the last partial, over 3 K chunks (one of them partial).
        (40, 300, 300),
    ];
    for (m, n, k) in shapes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = rng.vec(m * k, 1.0);
            let b = rng.vec(k * n, 1.0);
            let bias = rng.vec(n, 1.0);
            let c0 = rng.vec(m * n, 1.0);
            let la = Layout { trans: ta, ..Layout::rows(if ta { m } else { k }) };
            let lb = Layout { trans: tb, ..Layout::rows(if tb { k } else { n }) };
            let d = Dims { m, n, k, nb1: 1, nb2: 1 };
            let mut want = f64s(&c0);
            r::matmul::gemm(d, &f64s(&a), la, &f64s(&b), lb, Some(&f64s(&bias)), &mut want, Layout::rows(n), 0.5, true);
            for v in Variant::ALL {
                let (ta_, tb_, tbias, tc) =
                    (up("a", &[a.len()], &a), up("b", &[b.len()], &b), up("bias", &[n], &bias), up("c", &[m, n], &c0));
                gemm_with(&g, v, d, (&ta_, la), (&tb_, lb), Some(&tbias), (&tc, Layout::rows(n)), 0.5, true).unwrap();
                // f32 accumulation over K terms of size ~1: error grows like √K·ε; 1e-5·K is generous.
                assert_close(
                    &format!("matmul {} {m}x{n}x{k} ta={ta} tb={tb}", v.name()),
                    &tc.to_vec().unwrap(),
                    &want,
                    1e-5 * k as f64,
                    1e-5,
                );
            }
        }
    }
}

#[test]
fn matmul_two_level_batches_read_heads_in_place() {
    // The attention layout: (B·T, 3C) with B = 3, NH = 2, T = 5, HS = 4.
    let g = gpu();
    let mut rng = Rng::new(2);
    let (b, nh, t, hs) = (3, 2, 5, 4);
    let c = nh * hs;
    let qkv = rng.vec(b * t * 3 * c, 1.0);
    let lq = Layout { off: 0, ld: 3 * c, s1: t * 3 * c, s2: hs, trans: false };
    let lk = Layout { off: c, ..lq }.t();
    let ls = Layout { off: 0, ld: t, s1: nh * t * t, s2: t * t, trans: false };
    let d = Dims { m: t, n: t, k: hs, nb1: b, nb2: nh };
    let mut want = vec![0.0; b * nh * t * t];
    r::matmul::gemm(d, &f64s(&qkv), lq, &f64s(&qkv), lk, None, &mut want, ls, 1.0, false);
    for v in Variant::ALL {
        let tq = up("qkv", &[b * t, 3 * c], &qkv);
        let out = g.zeros("scores", &[b * nh, t, t]).unwrap();
        gemm_with(&g, v, d, (&tq, lq), (&tq, lk), None, (&out, ls), 1.0, false).unwrap();
        assert_close(&format!("batched matmul {}", v.name()), &out.to_vec().unwrap(), &want, 1e-5, 1e-5);
    }
}

#[test]
fn linear_forward_and_backward_match_reference() {
    let g = gpu();
    let mut rng = Rng::new(3);
    for (rows, in_f, out_f) in [(1, 3, 2), (33, 32, 37), (129, 64, 1), (384, 48, 96)] {
        let x = rng.vec(rows * in_f, 1.0);
        let w = rng.vec(out_f * in_f, 0.5);
        let bias = rng.vec(out_f, 0.5);
        let dy = rng.vec(rows * out_f, 1.0);
        let dw0 = rng.vec(out_f * in_f, 0.1); // parameter gradients accumulate onto what is there
        let db0 = rng.vec(out_f, 0.1);
        let (tx, tw, tb) = (up("x", &[rows, in_f], &x), up("w", &[out_f, in_f], &w), up("b", &[out_f], &bias));
        let y = linear(&g, &tx, &tw, Some(&tb)).unwrap();
        let want_y = r::matmul::linear(&f64s(&x), &f64s(&w), Some(&f64s(&bias)), rows, in_f, out_f);
        assert_close("linear y", &y.to_vec().unwrap(), &want_y, 1e-5 * in_f as f64, 1e-5);

        let (tdw, tdb) = (up("dw", &[out_f, in_f], &dw0), up("db", &[out_f], &db0));
        let tdy = up("dy", &[rows, out_f], &dy);
        let dx = linear_backward(&g, &tdy, &tx, &tw, &tdw, Some(&tdb), true).unwrap().unwrap();
        let (rdx, rdw, rdb) = r::matmul::linear_backward(&f64s(&dy), &f64s(&x), &f64s(&w), rows, in_f, out_f);
        let add = |a: Vec<f64>, b: &[f32]| a.iter().zip(b).map(|(x, y)| x + *y as f64).collect::<Vec<_>>();
        assert_close("linear dx", &dx.to_vec().unwrap(), &rdx, 1e-5 * out_f as f64, 1e-5);
        assert_close("linear dw (accumulated)", &tdw.to_vec().unwrap(), &add(rdw, &dw0), 1e-5 * rows as f64, 1e-5);
        assert_close("linear db (accumulated)", &tdb.to_vec().unwrap(), &add(rdb, &db0), 1e-5 * rows as f64, 1e-5);
    }
}

#[test]
fn layernorm_forward_and_backward_match_reference() {
    let g = gpu();
    let mut rng = Rng::new(4);
    for &rows in &ROWS {
        for cols in [7usize, 384] {
            if rows * cols > 2_000_000 {
                continue; // 30522 rows are tested at C = 7: the row count is what matters
            }
            // An offset and scale as real activations have them.
            let x: Vec<f32> = rng.vec(rows * cols, 3.0).iter().map(|v| v + 1.5).collect();
            let gamma = rng.vec(cols, 1.0);
            let beta = rng.vec(cols, 1.0);
            let dy = rng.vec(rows * cols, 1.0);
            let (tx, tg, tb) = (up("x", &[rows, cols], &x), up("gamma", &[cols], &gamma), up("beta", &[cols], &beta));
            let (ry, rs) = r::layernorm::forward(&f64s(&x), &f64s(&gamma), &f64s(&beta), cols, 1e-12);
            let (rdx, rdg, rdb) = r::layernorm::backward(&f64s(&dy), &f64s(&x), &f64s(&gamma), &rs, cols);
            for v in [LnVariant::Workgroup, LnVariant::Rows] {
                if v == LnVariant::Rows && cols % 4 != 0 {
                    let e = layernorm::layernorm_forward_with(&g, v, &tx, &tg, &tb, 1e-12).err().expect("refused");
                    assert!(e.to_string().contains("C % 4 == 0"), "{e}");
                    continue;
                }
                let name = format!("{rows}x{cols} {v:?}");
                let (y, saved) = layernorm::layernorm_forward_with(&g, v, &tx, &tg, &tb, 1e-12).unwrap();
                assert_close(&format!("layernorm y {name}"), &y.to_vec().unwrap(), &ry, 1e-5, 1e-5);

                let (dg, db) = (g.zeros("dgamma", &[cols]).unwrap(), g.zeros("dbeta", &[cols]).unwrap());
                let tdy = up("dy", &[rows, cols], &dy);
                let dx = layernorm::layernorm_backward_with(&g, v, &tdy, &tx, &tg, &saved, &dg, &db).unwrap();
                assert_close(&format!("layernorm dx {name}"), &dx.to_vec().unwrap(), &rdx, 1e-4, 1e-4);
                // Column sums over `rows` terms.
                let tol = 1e-6 * rows as f64 + 1e-5;
                assert_close(&format!("layernorm dgamma {name}"), &dg.to_vec().unwrap(), &rdg, tol, 1e-5);
                assert_close(&format!("layernorm dbeta {name}"), &db.to_vec().unwrap(), &rdb, tol, 1e-5);
            }
        }
    }
}

#[test]
fn add_layernorm_matches_dropout_add_then_reference_layernorm() {
    // BERT's add & norm in one kernel: LayerNorm(dropout(a) + residual), with the dropout mask
    // of elementwise.wgsl (the backward drops the gradient with that kernel).
    let g = gpu();
    let mut rng = Rng::new(21);
    for (rows, cols) in [(1, 8), (33, 12), (129, 384), (7, 7)] {
        let a = rng.vec(rows * cols, 2.0);
        let res: Vec<f32> = rng.vec(rows * cols, 3.0).iter().map(|v| v + 1.0).collect();
        let (gamma, beta) = (rng.vec(cols, 1.0), rng.vec(cols, 1.0));
        let (ta, tr) = (up("a", &[rows, cols], &a), up("residual", &[rows, cols], &res));
        let (tg, tb) = (up("gamma", &[cols], &gamma), up("beta", &[cols], &beta));
        for drop in [None, Some(layernorm::AddDropout { p: 0.25, seed: 11 })] {
            let da = match drop {
                Some(d) => r::elementwise::dropout(&f64s(&a), d.p, d.seed),
                None => f64s(&a),
            };
            let sum: Vec<f64> = da.iter().zip(&res).map(|(x, r)| x + *r as f64).collect();
            let (ry, rs) = r::layernorm::forward(&sum, &f64s(&gamma), &f64s(&beta), cols, 1e-12);
            for v in [LnVariant::Workgroup, LnVariant::Rows] {
                let name = format!("{rows}x{cols} {v:?} dropout {}", drop.is_some());
                let run = |save| layernorm::add_layernorm_forward_with(&g, v, &ta, &tr, drop, &tg, &tb, 1e-12, save);
                if v == LnVariant::Rows && cols % 4 != 0 {
                    assert!(run(true).is_err(), "{name}: the rows variant needs C % 4 == 0");
                    continue;
                }
                let (y, saved_sum, saved) = run(true).unwrap();
                assert_close(&format!("add & norm y {name}"), &y.to_vec().unwrap(), &ry, 1e-5, 1e-5);
                assert_close(
                    &format!("add & norm sum {name}"),
                    &saved_sum.unwrap().to_vec().unwrap(),
                    &sum,
                    1e-6,
                    1e-6,
                );
                assert_close(&format!("add & norm rstd {name}"), &saved.rstd.to_vec().unwrap(), &rs.rstd, 1e-5, 1e-4);
                // Inference saves no sum and gives the same output.
                let (y2, none, _) = run(false).unwrap();
                assert!(none.is_none());
                assert_eq!(y2.to_vec().unwrap(), y.to_vec().unwrap(), "{name}: with and without the saved sum");
            }
        }
    }
    let wrong = up("residual", &[3, 8], &[0.0; 24]);
    let (tg, tb) = (up("gamma", &[8], &[1.0; 8]), up("beta", &[8], &[0.0; 8]));
    let e = layernorm::add_layernorm_forward(&g, &up("a", &[2, 8], &[0.0; 16]), &wrong, None, &tg, &tb, 1e-12, true);
    assert!(e.err().expect("shapes differ").to_string().contains("residual"));
}

#[test]
fn gelu_exact_and_tanh_match_reference() {
    let g = gpu();
    // A dense sweep of [-10, 10] plus the tails.
    let mut x: Vec<f32> = (0..20001).map(|i| -10.0 + i as f32 * 0.001).collect();
    x.extend([-30.0, -15.0, 15.0, 30.0, 0.0, 1e-6, -1e-6]);
    let dy = Rng::new(5).vec(x.len(), 1.0);
    for kind in [gelu::GeluKind::Erf, gelu::GeluKind::Tanh, gelu::GeluKind::Relu] {
        let tx = up("x", &[x.len()], &x);
        let y = gelu::gelu_forward(&g, &tx, kind).unwrap().to_vec().unwrap();
        let want: Vec<f64> = x.iter().map(|&v| r::gelu::gelu(v as f64, kind)).collect();
        // The bound: erf to 1e-6 absolute. GELU values reach 10, so allow f32 rounding.
        assert_close(&format!("gelu {kind:?}"), &y, &want, 1e-6, 2e-7);
        let dx = gelu::gelu_backward(&g, &up("dy", &[x.len()], &dy), &tx, kind).unwrap().to_vec().unwrap();
        let wdx: Vec<f64> = x.iter().zip(&dy).map(|(&v, &d)| d as f64 * r::gelu::gelu_grad(v as f64, kind)).collect();
        assert_close(&format!("gelu backward {kind:?}"), &dx, &wdx, 2e-6, 1e-6);
    }
}

#[test]
fn matmul_activation_epilogue_matches_linear_then_activation() {
    // act(x · wᵀ + bias) in the matmul's epilogue, every variant: K = 1100 takes three panel
    // dispatches per block (the activation only on the last), 33 x 37 leaves ragged edges.
    let g = gpu();
    let mut rng = Rng::new(22);
    for (rows, in_f, out_f) in [(33, 32, 37), (129, 1100, 64), (256, 384, 1536)] {
        let x = rng.vec(rows * in_f, 1.0);
        let w = rng.vec(out_f * in_f, 2.0 / (in_f as f32).sqrt());
        let bias = rng.vec(out_f, 0.5);
        let (tx, tw, tb) = (up("x", &[rows, in_f], &x), up("w", &[out_f, in_f], &w), up("b", &[out_f], &bias));
        let h = r::matmul::linear(&f64s(&x), &f64s(&w), Some(&f64s(&bias)), rows, in_f, out_f);
        let d = Dims { m: rows, n: out_f, k: in_f, nb1: 1, nb2: 1 };
        let (la, lb, lc) = (Layout::rows(in_f), Layout::rows(in_f).t(), Layout::rows(out_f));
        for act in [gelu::GeluKind::Erf, gelu::GeluKind::Tanh, gelu::GeluKind::Relu] {
            let want: Vec<f64> = h.iter().map(|&v| r::gelu::gelu(v, act)).collect();
            for v in Variant::ALL {
                let what = format!("{} {rows}x{in_f}x{out_f} {act:?}", v.name());
                let (y, pre) = (g.empty("y", &[rows, out_f]).unwrap(), g.empty("pre", &[rows, out_f]).unwrap());
                let e = Epilogue { act, pre: Some(&pre) };
                gemm_epilogue(&g, v, d, (&tx, la), (&tw, lb), Some(&tb), (&y, lc), 1.0, false, Some(e)).unwrap();
                let tol = 1e-5 * in_f as f64;
                assert_close(&format!("epilogue y {what}"), &y.to_vec().unwrap(), &want, tol, 1e-5);
                assert_close(&format!("epilogue pre {what}"), &pre.to_vec().unwrap(), &h, tol, 1e-5);
            }
        }
        // The op the model calls: the tuned variant, with and without the saved input.
        let (y, pre) = linear_act(&g, &tx, &tw, Some(&tb), gelu::GeluKind::Erf, false).unwrap();
        assert!(pre.is_none());
        let want: Vec<f64> = h.iter().map(|&v| r::gelu::gelu(v, gelu::GeluKind::Erf)).collect();
        assert_close("linear_act", &y.to_vec().unwrap(), &want, 1e-5 * in_f as f64, 1e-5);
    }
    // An epilogue cannot accumulate: C would be act(old C + product).
    let t = up("t", &[4, 4], &[1.0; 16]);
    let e = Epilogue { act: gelu::GeluKind::Erf, pre: None };
    let d = Dims { m: 4, n: 4, k: 4, nb1: 1, nb2: 1 };
    let l = Layout::rows(4);
    let err = gemm_epilogue(
        &g,
        Variant::Register,
        d,
        (&t, l),
        (&t, l),
        None,
        (&up("c", &[4, 4], &[0.0; 16]), l),
        1.0,
        true,
        Some(e),
    );
    assert!(err.unwrap_err().to_string().contains("epilogue"));
}

#[test]
fn reference_erf_is_accurate() {
    // Values from tables of erf (Abramowitz & Stegun 7.1).
    for (x, want) in
        [(0.5, 0.5204998778130465), (1.0, 0.8427007929497149), (2.0, 0.9953222650189527), (3.0, 0.9999779095030014)]
    {
        assert!((r::gelu::erf(x) - want).abs() < 1e-14, "erf({x}) = {}", r::gelu::erf(x));
        assert!((r::gelu::erf(-x) + want).abs() < 1e-14);
    }
}

fn mask_with_padding(b: usize, t: usize) -> Vec<f32> {
    // Sequence 0 is full, the last is all padding, the others have ragged lengths.
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

#[test]
fn softmax_is_stable_and_matches_reference() {
    let g = gpu();
    let mut rng = Rng::new(6);
    let (b, nh) = (3, 2);
    for t in [1usize, 7, 33, 129] {
        let s = AttentionShape { b, t, nh, hs: 4 };
        let mask = mask_with_padding(b, t);
        // Large magnitudes: a naive exp overflows at 89.
        let scores = rng.vec(b * nh * t * t, 1000.0);
        let ts = up("scores", &[b * nh, t, t], &scores);
        softmax_forward(&g, &ts, &up("mask", &[b, t], &mask), nh, 0.5).unwrap();
        let p = ts.to_vec().unwrap();
        assert!(p.iter().all(|v| v.is_finite()));
        let want = r::attention::softmax(&f64s(&scores), &f64s(&mask), &s, 0.5);
        assert_close(&format!("softmax T={t}"), &p, &want, 1e-6, 1e-5);

        let dp = rng.vec(p.len(), 1.0);
        let tdp = up("dp", &[b * nh, t, t], &dp);
        softmax_backward(&g, &ts, &tdp, nh, 0.5).unwrap();
        let wds = r::attention::softmax_backward(&f64s(&p), &f64s(&dp), t, 0.5);
        assert_close(&format!("softmax backward T={t}"), &tdp.to_vec().unwrap(), &wds, 1e-6, 1e-5);
    }
}

#[test]
fn attention_forward_and_backward_match_reference() {
    // Both implementations: the matmul path (GPUs) and the fused one (CPU adapters).
    let g = gpu();
    let mut rng = Rng::new(7);
    for (b, t, nh, hs) in [(1, 1, 1, 1), (2, 7, 2, 4), (3, 33, 3, 8), (2, 129, 2, 32), (1, 128, 1, 64)] {
        let s = AttentionShape { b, t, nh, hs };
        let qkv = rng.vec(b * t * 3 * s.c(), 1.0);
        let mask = mask_with_padding(b, t);
        let (tq, tm) = (up("qkv", &[b * t, 3 * s.c()], &qkv), up("mask", &[b, t], &mask));
        let (rctx, rp) = r::attention::forward(&f64s(&qkv), &f64s(&mask), &s);
        let dctx = rng.vec(b * t * s.c(), 1.0);
        let tdctx = up("dctx", &[b * t, s.c()], &dctx);
        let rdqkv = r::attention::backward(&f64s(&dctx), &f64s(&qkv), &rp, &s);
        for fused in [false, true] {
            if fused && !attention_fused::supported(&g, &s) {
                continue;
            }
            let what = format!("attention {} {b}x{t}x{nh}x{hs}", if fused { "fused" } else { "matmul" });
            let (ctx, saved) = attention_forward_with(&g, fused, s, &tq, &tm, None).unwrap();
            assert_close(&format!("{what} ctx"), &ctx.to_vec().unwrap(), &rctx, 1e-5, 1e-5);
            if let AttentionSaved::Probs(p) = &saved {
                assert_close(&format!("{what} probs"), &p.to_vec().unwrap(), &rp, 1e-6, 1e-5);
            }
            let dqkv = attention_backward(&g, s, &tdctx, &tq, &tm, &ctx, &saved, None).unwrap();
            assert_close(&format!("{what} dqkv"), &dqkv.to_vec().unwrap(), &rdqkv, 1e-5, 1e-4);
        }
    }
}

#[test]
fn cls_attention_matches_row_0_of_full_attention() {
    // The [CLS]-only path of a classifier's last layer: ctx₀ is row 0 of each sequence's full
    // context, and its dqkv is the full backward's for a dctx that is zero outside rows 0.
    let g = gpu();
    let mut rng = Rng::new(18);
    for (b, t, nh, hs) in [(1, 1, 1, 1), (2, 7, 2, 4), (3, 33, 3, 8), (2, 129, 2, 32), (4, 128, 2, 64)] {
        let s = AttentionShape { b, t, nh, hs };
        let c = s.c();
        let qkv = rng.vec(b * t * 3 * c, 1.0);
        let mask = mask_with_padding(b, t);
        let (tq, tm) = (up("qkv", &[b * t, 3 * c], &qkv), up("mask", &[b, t], &mask));
        let (rctx, rp) = r::attention::forward(&f64s(&qkv), &f64s(&mask), &s);
        let first_rows =
            |x: &[f64], width: usize| -> Vec<f64> { x.chunks(t * width).flat_map(|r| r[..width].to_vec()).collect() };
        let what = format!("[CLS] attention {b}x{t}x{nh}x{hs}");
        let (ctx, probs) = cls_forward(&g, s, &tq, &tm, None).unwrap();
        assert_close(&format!("{what} ctx"), &ctx.to_vec().unwrap(), &first_rows(&rctx, c), 1e-5, 1e-5);
        assert_close(&format!("{what} probs"), &probs.to_vec().unwrap(), &first_rows(&rp, t), 1e-6, 1e-5);

        let dctx0 = rng.vec(b * c, 1.0);
        let mut dctx = vec![0.0; b * t * c];
        for i in 0..b {
            dctx[i * t * c..i * t * c + c].copy_from_slice(&dctx0[i * c..(i + 1) * c]);
        }
        let rdqkv = r::attention::backward(&f64s(&dctx), &f64s(&qkv), &rp, &s);
        let dqkv = cls_backward(&g, s, &up("dctx0", &[b, c], &dctx0), &tq, &probs, None).unwrap();
        assert_close(&format!("{what} dqkv"), &dqkv.to_vec().unwrap(), &rdqkv, 1e-5, 1e-4);
    }
}

#[test]
fn attention_dropout_is_the_same_in_both_implementations() {
    let g = gpu();
    let mut rng = Rng::new(17);
    let s = AttentionShape { b: 2, t: 40, nh: 2, hs: 8 };
    let (tq, tm) = (up("qkv", &[80, 48], &rng.vec(80 * 48, 1.0)), up("mask", &[2, 40], &mask_with_padding(2, 40)));
    let tdctx = up("dctx", &[80, 16], &rng.vec(80 * 16, 1.0));
    let drop = Some(ProbDropout { p: 0.25, seed: 99 });
    let run = |fused: bool| {
        let (ctx, saved) = attention_forward_with(&g, fused, s, &tq, &tm, drop).unwrap();
        let dqkv = attention_backward(&g, s, &tdctx, &tq, &tm, &ctx, &saved, drop).unwrap();
        (ctx.to_vec().unwrap(), dqkv.to_vec().unwrap())
    };
    let (c0, d0) = run(false);
    let (c1, d1) = run(true);
    assert_close("dropout ctx fused vs matmul", &c1, &f64s(&c0), 1e-5, 1e-5);
    assert_close("dropout dqkv fused vs matmul", &d1, &f64s(&d0), 1e-5, 1e-4);
    let (c2, _) = {
        let (ctx, _) = attention_forward_with(&g, true, s, &tq, &tm, None).unwrap();
        (ctx.to_vec().unwrap(), ())
    };
    assert_ne!(c1, c2, "dropout changes the output");
}

#[test]
fn embedding_forward_and_backward_match_reference() {
    let g = gpu();
    let mut rng = Rng::new(8);
    let (v, p, tv, c) = (300, 16, 2, 24);
    for (b, t) in [(1, 1), (3, 7), (4, 16)] {
        let ids: Vec<u32> = (0..b * t).map(|i| if i % 5 == 0 { 7 } else { rng.below(v as u32) }).collect(); // repeats
        let types: Vec<u32> = (0..b * t).map(|_| rng.below(tv as u32)).collect();
        let (word, pos, tt) = (rng.vec(v * c, 1.0), rng.vec(p * c, 1.0), rng.vec(tv * c, 1.0));
        let batch = embedding::TokenBatch::upload(&g, &ids, &types, b, t, v, tv).unwrap();
        let out = embedding::embedding_forward(
            &g,
            &batch,
            &up("word", &[v, c], &word),
            &up("pos", &[p, c], &pos),
            &up("type", &[tv, c], &tt),
        )
        .unwrap();
        let want = r::embedding::forward(&ids, &types, &f64s(&word), &f64s(&pos), &f64s(&tt), t, c);
        assert_close("embedding forward", &out.to_vec().unwrap(), &want, 1e-6, 1e-6);

        let dout = rng.vec(b * t * c, 1.0);
        let tdout = up("dout", &[b * t, c], &dout);
        let (dw, dp, dt) = (
            g.zeros("dword", &[v, c]).unwrap(),
            g.zeros("dpos", &[p, c]).unwrap(),
            g.zeros("dtype", &[tv, c]).unwrap(),
        );
        embedding::embedding_backward(&g, &batch.word_groups, &tdout, &dw).unwrap();
        embedding::embedding_backward(&g, &batch.position_groups, &tdout, &dp).unwrap();
        embedding::embedding_backward(&g, &batch.type_groups, &tdout, &dt).unwrap();
        let (rw, rp, rt) = r::embedding::backward(&ids, &types, &f64s(&dout), t, c, (v, p, tv));
        assert_close("embedding dword", &dw.to_vec().unwrap(), &rw, 1e-5, 1e-5);
        assert_close("embedding dpos", &dp.to_vec().unwrap(), &rp, 1e-5, 1e-5);
        assert_close("embedding dtype", &dt.to_vec().unwrap(), &rt, 1e-5, 1e-5);
    }
}

#[test]
fn embedding_rejects_ids_outside_the_vocabulary() {
    let g = gpu();
    let err = embedding::TokenBatch::upload(&g, &[1, 2, 300], &[0, 0, 0], 1, 3, 300, 2)
        .err()
        .expect("id 300 must be rejected");
    assert!(err.to_string().contains("token id 300 at position 2"), "{err}");
}

#[test]
fn dropout_mask_matches_reference_and_rate() {
    let g = gpu();
    let x = Rng::new(9).vec(100_000, 1.0);
    let tx = up("x", &[x.len()], &x);
    let y = elementwise::dropout(&g, &tx, 0.1, 1234).unwrap().to_vec().unwrap();
    let want = r::elementwise::dropout(&f64s(&x), 0.1, 1234);
    assert_close("dropout", &y, &want, 1e-7, 1e-6);
    let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!((dropped - 0.1).abs() < 0.005, "dropped fraction {dropped}");
    // Another seed gives another mask; p = 0 is the identity.
    let y2 = elementwise::dropout(&g, &tx, 0.1, 99).unwrap().to_vec().unwrap();
    assert_ne!(y, y2);
    assert!(elementwise::dropout(&g, &tx, 0.0, 1).unwrap().same_storage(&tx));
}

#[test]
fn tanh_and_rows_match_reference() {
    let g = gpu();
    let mut rng = Rng::new(10);
    let mut x = rng.vec(1000, 5.0);
    x.extend([-100.0, 100.0, 0.0]);
    let tx = up("x", &[x.len()], &x);
    let y = elementwise::tanh_forward(&g, &tx).unwrap();
    let ry: Vec<f64> = x.iter().map(|&v| (v as f64).tanh()).collect();
    assert_close("tanh", &y.to_vec().unwrap(), &ry, 1e-6, 1e-6);
    let dy = rng.vec(x.len(), 1.0);
    let dx = elementwise::tanh_backward(&g, &up("dy", &[x.len()], &dy), &y).unwrap();
    let rdx: Vec<f64> = ry.iter().zip(&dy).map(|(t, d)| *d as f64 * (1.0 - t * t)).collect();
    assert_close("tanh backward", &dx.to_vec().unwrap(), &rdx, 1e-6, 1e-5);

    let (b, t, c) = (3, 5, 4);
    let h = rng.vec(b * t * c, 1.0);
    let cls = elementwise::first_token(&g, &up("h", &[b, t, c], &h), b, t).unwrap().to_vec().unwrap();
    let want: Vec<f64> = (0..b).flat_map(|i| h[i * t * c..i * t * c + c].to_vec()).map(|v| v as f64).collect();
    assert_close("first token", &cls, &want, 0.0, 0.0);
    let dh = g.zeros("dh", &[b, t, c]).unwrap();
    elementwise::first_token_backward(&g, &up("dcls", &[b, c], &cls), &dh, b, t).unwrap();
    let dh = dh.to_vec().unwrap();
    for i in 0..b * t * c {
        let want = if (i / c) % t == 0 { h[i] } else { 0.0 };
        assert_eq!(dh[i], want, "first token backward at {i}");
    }
    let s = elementwise::add(&g, &tx, &tx).unwrap().to_vec().unwrap();
    assert!(s.iter().zip(&x).all(|(a, b)| *a == 2.0 * b));
    let acc = up("acc", &[x.len()], &x);
    elementwise::axpy(&g, -3.0, &tx, &acc).unwrap();
    assert!(acc.to_vec().unwrap().iter().zip(&x).all(|(a, b)| (*a - -2.0 * b).abs() <= 1e-5 * b.abs()));
}

#[test]
fn losses_match_reference() {
    let g = gpu();
    let mut rng = Rng::new(11);
    for (n, classes) in [(1, 1), (7, 1), (129, 1), (5, 3), (33, 4)] {
        let logits: Vec<f32> = rng.vec(n * classes, 4.0).into_iter().chain([]).collect();
        let mut logits = logits;
        if classes == 1 && n > 1 {
            logits[0] = 80.0; // large logits must not overflow
            logits[1] = -80.0;
        }
        let labels: Vec<f32> = (0..n).map(|_| rng.below(classes.max(2) as u32) as f32).collect();
        let (tl, ty) = (up("logits", &[n, classes], &logits), up("labels", &[n], &labels));
        let out = loss::loss_forward(&g, &tl, &ty).unwrap().to_vec().unwrap();
        let (rl, rc, rd) = r::loss::loss(&f64s(&logits), &f64s(&labels), classes);
        assert_close(&format!("loss {n}x{classes}"), &out[..1], &[rl], 1e-5, 1e-5);
        assert_eq!(out[1] as f64, rc, "correct count {n}x{classes}");
        let d = loss::loss_backward(&g, &tl, &ty, 1.0).unwrap().to_vec().unwrap();
        assert_close(&format!("loss backward {n}x{classes}"), &d, &rd, 1e-7, 1e-5);
    }
}

#[test]
fn reductions_match_reference() {
    let g = gpu();
    let mut rng = Rng::new(12);
    for &rows in &ROWS {
        let cols = 5;
        let x = rng.vec(rows * cols, 1.0);
        let out = up("out", &[cols], &[1.0; 5]);
        reduce::col_sum(&g, &up("x", &[rows, cols], &x), &out, true).unwrap();
        let want: Vec<f64> = (0..cols).map(|c| 1.0 + (0..rows).map(|r| x[r * cols + c] as f64).sum::<f64>()).collect();
        assert_close(&format!("column sum {rows}"), &out.to_vec().unwrap(), &want, 1e-6 * rows as f64, 1e-6);
    }
    let xs: Vec<Vec<f32>> = [1usize, 1000, 300_001].iter().map(|&n| rng.vec(n, 1.0)).collect();
    let ts: Vec<_> = xs.iter().map(|x| up("x", &[x.len()], x)).collect();
    let out = g.zeros("norm", &[1]).unwrap();
    reduce::global_sumsq(&g, &ts.iter().collect::<Vec<_>>(), &out).unwrap();
    let want: f64 = xs.iter().flatten().map(|&v| (v as f64) * (v as f64)).sum();
    assert_close("global sum of squares", &out.to_vec().unwrap(), &[want], 0.0, 1e-5);
}

/// BERT's AdamW settings at step 3 with clipping at norm 1.
fn adamw_step_3(grad_scale: f32, check_finite: bool) -> adamw::AdamwStep {
    adamw::AdamwStep {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-6,
        weight_decay: 0.01,
        step: 3,
        max_norm: 1.0,
        grad_scale,
        check_finite,
    }
}

#[test]
fn adamw_with_clipping_matches_reference() {
    let g = gpu();
    let mut rng = Rng::new(13);
    let n = 1000;
    let (p0, g0, m0) = (rng.vec(n, 1.0), rng.vec(n, 1.0), rng.vec(n, 0.1));
    let v0: Vec<f32> = rng.vec(n, 0.01).iter().map(|v| v.abs()).collect();
    let (tp, tg, tm, tv) = (up("p", &[n], &p0), up("g", &[n], &g0), up("m", &[n], &m0), up("v", &[n], &v0));
    let norm_sq = g.zeros("norm", &[1]).unwrap();
    reduce::global_sumsq(&g, &[&tg], &norm_sq).unwrap();
    let h = adamw_step_3(1.0, false);
    // Weight decay per 64-element slot, as a parameter arena lays it out: on, off, on, ...
    let slots = n.div_ceil(adamw::DECAY_SLOT);
    let decay: Vec<f32> = (0..slots).map(|s| (s % 2 == 0) as u32 as f32).collect();
    adamw::adamw_update(&g, &h, &tp, &tg, &tm, &tv, &up("decay", &[slots], &decay), &norm_sq).unwrap();
    let (mut rp, mut rm, mut rv) = (f64s(&p0), f64s(&m0), f64s(&v0));
    let norm = g0.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
    let g64 = f64s(&g0);
    for (s, &d) in decay.iter().enumerate() {
        let r = s * adamw::DECAY_SLOT..((s + 1) * adamw::DECAY_SLOT).min(n);
        r::adamw::step(
            &mut rp[r.clone()],
            &g64[r.clone()],
            &mut rm[r.clone()],
            &mut rv[r],
            1e-3,
            0.9,
            0.999,
            1e-6,
            0.01 * d as f64,
            3,
            r::adamw::clip_coefficient(norm, 1.0),
        );
    }
    assert_close("adamw param", &tp.to_vec().unwrap(), &rp, 1e-6, 1e-6);
    assert_close("adamw m", &tm.to_vec().unwrap(), &rm, 1e-7, 1e-6);
    assert_close("adamw v", &tv.to_vec().unwrap(), &rv, 1e-9, 1e-5);
}

#[test]
fn shape_errors_name_the_tensors() {
    let g = gpu();
    let a = up("activations", &[4, 3], &[0.0; 12]);
    let w = up("encoder.layer.0.weight", &[5, 4], &[0.0; 20]);
    let e = linear(&g, &a, &w, None).unwrap_err().to_string();
    assert!(e.contains("activations") && e.contains("[4, 3]"), "{e}");
    let e = g.upload("ids", &[2, 3], &[0.0; 5]).unwrap_err().to_string();
    assert!(e.contains("ids") && e.contains("6 values, 5 given"), "{e}");
}

#[test]
fn tensors_over_the_adapter_limits_are_errors_naming_them() {
    let g = gpu();
    let limit = g.limits().max_storage_buffer_binding_size.min(g.limits().max_buffer_size);
    let too_many = (limit / 4 + 1024) as usize;
    let e = g.empty("attention scores", &[too_many]).unwrap_err().to_string();
    assert!(e.contains("attention scores") && e.contains("max_"), "{e}");
}

/// f16 storage: the conversion kernels against the half crate's round-to-nearest-even, at odd
/// lengths (half a word left over) and with values f16 cannot hold exactly: subnormals, ties,
/// overflow to infinity, NaN. Tolerance: exact (both sides are IEEE conversions).
#[test]
fn f16_storage_converts_exactly_both_ways() {
    let Some(g) = gpu_with_f16() else { return };
    let mut rng = Rng::new(16);
    let specials = [0.0, -0.0, 1.0, 65504.0, 65520.0, -1e6, 6e-8, 3e-5, 1.0 + 1.0 / 2048.0, f32::INFINITY, f32::NAN];
    for n in ROWS {
        let mut x = rng.vec(n, 8.0);
        for (i, v) in specials.iter().enumerate().take(n) {
            x[i] = *v;
        }
        let want: Vec<half::f16> = x.iter().map(|&v| half::f16::from_f32(v)).collect();
        let xt = up("x", &[n], &x);
        let h = wgbert::ops::convert::to_f16(&g, &xt).unwrap();
        assert_eq!(h.dtype(), wgbert::gpu::DType::F16);
        let got = h.to_vec().unwrap();
        for (i, (g16, w)) in got.iter().zip(&want).enumerate() {
            let w = w.to_f32();
            assert!(
                g16.to_bits() == w.to_bits() || (g16.is_nan() && w.is_nan()),
                "n {n}, element {i}: {} -> {g16}, expected {w}",
                x[i]
            );
        }
        // Back to f32 exactly, from the GPU's f16 and from an upload of the host's.
        let back = wgbert::ops::convert::to_f32(&g, &h).unwrap().to_vec().unwrap();
        let uploaded = g.upload_f16("h", &[n], &x).unwrap();
        let back2 = wgbert::ops::convert::to_f32(&g, &uploaded).unwrap().to_vec().unwrap();
        for i in 0..n {
            let w = want[i].to_f32();
            assert!(back[i].to_bits() == w.to_bits() || w.is_nan() && back[i].is_nan(), "n {n}, element {i}");
            assert!(back2[i].to_bits() == w.to_bits() || w.is_nan() && back2[i].is_nan(), "n {n}, element {i}");
        }
    }
    // An f16 tensor given to an f32 kernel is refused, naming it.
    let h = g.upload_f16("weights", &[4], &[1.0; 4]).unwrap();
    let err =
        wgbert::ops::gelu::gelu_forward(&g, &h, wgbert::ops::gelu::GeluKind::Erf).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("weights") && err.contains("f16"), "{err}");
}

#[test]
fn a_tensor_of_another_device_is_refused() {
    let other = Gpu::new(&GpuOptions::from_env()).unwrap();
    let a = up("a", &[4, 4], &[1.0; 16]);
    let b = other.upload("b", &[4, 4], &[1.0; 16]).unwrap();
    let c = other.zeros("c", &[4, 4]).unwrap();
    let d = Dims { m: 4, n: 4, k: 4, nb1: 1, nb2: 1 };
    let l = Layout::rows(4);
    let e = gemm_with(&other, Variant::Register, d, (&a, l), (&b, l), None, (&c, l), 1.0, false).unwrap_err();
    assert!(e.to_string().contains("tensor a belongs to another GPU device"), "{e}");
}

/// Mixed precision's products: every variant with f16 A and B (f32 accumulation, bias, C and
/// epilogue in f32) against the f64 reference on the same f16-rounded inputs, so only the f32
/// accumulation differs (same tolerance as the f32 test). Mixed operand types are refused.
#[test]
fn matmul_with_f16_operands_matches_reference_on_rounded_inputs() {
    let Some(g) = gpu_with_f16() else { return };
    let mut rng = Rng::new(17);
    let round = |x: &[f32]| x.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect::<Vec<f32>>();
    for (m, n, k) in [(1, 1, 1), (7, 33, 5), (127, 129, 33), (40, 36, 1100), (40, 300, 300)] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (a, b) = (rng.vec(m * k, 1.0), rng.vec(k * n, 1.0));
            let (bias, c0) = (rng.vec(n, 1.0), rng.vec(m * n, 1.0));
            let la = Layout { trans: ta, ..Layout::rows(if ta { m } else { k }) };
            let lb = Layout { trans: tb, ..Layout::rows(if tb { k } else { n }) };
            let d = Dims { m, n, k, nb1: 1, nb2: 1 };
            let mut want = f64s(&c0);
            let (a16, b16) = (f64s(&round(&a)), f64s(&round(&b)));
            r::matmul::gemm(d, &a16, la, &b16, lb, Some(&f64s(&bias)), &mut want, Layout::rows(n), 0.5, true);
            let (ta_, tb_) = (g.upload_f16("a", &[a.len()], &a).unwrap(), g.upload_f16("b", &[b.len()], &b).unwrap());
            for v in Variant::ALL {
                let (tbias, tc) = (up("bias", &[n], &bias), up("c", &[m, n], &c0));
                gemm_with(&g, v, d, (&ta_, la), (&tb_, lb), Some(&tbias), (&tc, Layout::rows(n)), 0.5, true).unwrap();
                assert_close(
                    &format!("f16 matmul {} {m}x{n}x{k} ta={ta} tb={tb}", v.name()),
                    &tc.to_vec().unwrap(),
                    &want,
                    1e-5 * k as f64,
                    1e-5,
                );
            }
        }
    }
    // The GELU epilogue with f16 operands, pre-activation saved, all variants.
    let (m, n, k) = (33, 130, 300);
    let (x, w, bias) = (rng.vec(m * k, 1.0), rng.vec(n * k, 0.1), rng.vec(n, 1.0));
    let (xt, wt) = (g.upload_f16("x", &[m, k], &x).unwrap(), g.upload_f16("w", &[n, k], &w).unwrap());
    let mut pre = vec![0.0; m * n];
    let d = Dims { m, n, k, nb1: 1, nb2: 1 };
    let (lx, lw) = (Layout::rows(k), Layout::rows(k).t());
    r::matmul::gemm(
        d,
        &f64s(&round(&x)),
        lx,
        &f64s(&round(&w)),
        lw,
        Some(&f64s(&bias)),
        &mut pre,
        Layout::rows(n),
        1.0,
        false,
    );
    let want: Vec<f64> = pre.iter().map(|&h| r::gelu::gelu(h, gelu::GeluKind::Erf)).collect();
    for v in Variant::ALL {
        let (y, p) = (g.zeros("y", &[m, n]).unwrap(), g.zeros("pre", &[m, n]).unwrap());
        let e = Epilogue { act: gelu::GeluKind::Erf, pre: Some(&p) };
        let tb = up("bias", &[n], &bias);
        gemm_epilogue(&g, v, d, (&xt, lx), (&wt, lw), Some(&tb), (&y, Layout::rows(n)), 1.0, false, Some(e)).unwrap();
        assert_close(&format!("f16 gelu epilogue {}", v.name()), &y.to_vec().unwrap(), &want, 1e-4, 1e-4);
        assert_close(&format!("f16 pre-activation {}", v.name()), &p.to_vec().unwrap(), &pre, 1e-4, 1e-4);
    }
    // f16 A with f32 B: an error naming both, not a wrong product.
    let bt = up("b32", &[n, k], &w);
    let y = g.zeros("y", &[m, n]).unwrap();
    let e = gemm_with(&g, Variant::Register, d, (&xt, lx), (&bt, lw), None, (&y, Layout::rows(n)), 1.0, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("x") && e.contains("b32") && e.contains("both"), "{e}");
}

/// Gradients under loss scaling are rounded to f16 with an overflow check: a value past ±65504,
/// an infinity or a NaN sets the flag (scalar and vec4 paths) and is stored as 0; values f16
/// holds (65504 itself, subnormals) round as `to_f16` does and leave the flag alone.
#[test]
fn checked_f16_rounding_flags_overflow() {
    let Some(g) = gpu_with_f16() else { return };
    let mut rng = Rng::new(18);
    for n in [7, 384, 1025] {
        let clean = {
            let mut x = rng.vec(n, 100.0);
            x[0] = 65504.0;
            x[1] = -65504.0;
            x[2] = 6e-8;
            x
        };
        let flag = g.upload_u32("flag", &[2], &[0, 0]).unwrap();
        let h = wgbert::ops::convert::to_f16_checked(&g, &up("x", &[n], &clean), &flag).unwrap();
        assert_eq!(flag.to_vec_u32().unwrap(), [0, 0], "n {n}: no overflow in finite f16 values");
        for (i, (got, &x)) in h.to_vec().unwrap().iter().zip(&clean).enumerate() {
            assert_eq!(got.to_bits(), half::f16::from_f32(x).to_f32().to_bits(), "n {n}, element {i}");
        }
        for bad in [65520.0, -1e9, f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
            let mut x = clean.clone();
            let at = n - 1; // the last element: the tail of the vec4 path's last group
            x[at] = bad;
            let flag = g.upload_u32("flag", &[2], &[0, 0]).unwrap();
            let h = wgbert::ops::convert::to_f16_checked(&g, &up("x", &[n], &x), &flag).unwrap();
            assert_eq!(flag.to_vec_u32().unwrap()[0], 1, "n {n}: {bad} must set the overflow flag");
            assert_eq!(h.to_vec().unwrap()[at], 0.0, "n {n}: {bad} is stored as 0");
        }
    }
}

/// AdamW under loss scaling: gradients scaled by S with grad_scale 1/S give the unscaled step
/// (clip included); a set overflow flag, or a non-finite norm with check_finite, leaves
/// parameters and moments untouched and reports the skip in status[1].
#[test]
fn adamw_unscales_and_skips_overflowed_steps() {
    let g = gpu();
    let mut rng = Rng::new(19);
    let n = 777;
    let (p0, g0, m0) = (rng.vec(n, 1.0), rng.vec(n, 1.0), rng.vec(n, 0.1));
    let v0: Vec<f32> = rng.vec(n, 0.01).iter().map(|v| v.abs()).collect();
    let slots = n.div_ceil(adamw::DECAY_SLOT);
    let decay = up("decay", &[slots], &vec![1.0; slots]);
    let h = adamw_step_3;
    let run = |grads: &[f32], step: adamw::AdamwStep, status0: u32| {
        let (tp, tg, tm, tv) = (up("p", &[n], &p0), up("g", &[n], grads), up("m", &[n], &m0), up("v", &[n], &v0));
        let norm_sq = g.zeros("norm", &[1]).unwrap();
        reduce::global_sumsq(&g, &[&tg], &norm_sq).unwrap();
        let status = g.upload_u32("status", &[2], &[status0, 7]).unwrap();
        adamw::adamw_update_guarded(&g, &step, &tp, &tg, &tm, &tv, &decay, &norm_sq, &status).unwrap();
        let out = (tp.to_vec().unwrap(), tm.to_vec().unwrap(), tv.to_vec().unwrap());
        (out, status.to_vec_u32().unwrap()[1])
    };
    let (plain, skipped) = run(&g0, h(1.0, false), 0);
    assert_eq!(skipped, 0);
    let s = 4096.0;
    let scaled: Vec<f32> = g0.iter().map(|v| v * s).collect();
    let (unscaled, skipped) = run(&scaled, h(1.0 / s, true), 0);
    assert_eq!(skipped, 0);
    assert_close("parameters, scaled gradients", &unscaled.0, &f64s(&plain.0), 1e-6, 1e-6);
    assert_close("m, scaled gradients", &unscaled.1, &f64s(&plain.1), 1e-6, 1e-5);
    assert_close("v, scaled gradients", &unscaled.2, &f64s(&plain.2), 1e-7, 1e-5);
    // An overflow flag from the gradient casts: nothing moves.
    let (held, skipped) = run(&scaled, h(1.0 / s, true), 1);
    assert_eq!(skipped, 1);
    assert_eq!((held.0, held.1, held.2), (p0.clone(), m0.clone(), v0.clone()));
    // An infinite gradient (its norm is inf) with check_finite: nothing moves either.
    let mut inf = scaled.clone();
    inf[5] = f32::INFINITY;
    let (held, skipped) = run(&inf, h(1.0 / s, true), 0);
    assert_eq!(skipped, 1);
    assert_eq!((held.0, held.1, held.2), (p0.clone(), m0.clone(), v0.clone()));
}
