//! Finite-difference checks of every backward pass.
//!
//! Two layers of proof: (1) each CPU reference backward against central differences of the
//! reference forward, in f64 (tight); (2) each GPU backward kernel against central differences of
//! the GPU forward kernel, in f32 (looser: the step must be large enough for f32 outputs).
//! The scalar differentiated is L = Σ w ⊙ y with fixed random weights w.

mod common;
use common::*;

use std::sync::Arc;
use wgbert::gpu::{Gpu, Tensor};
use wgbert::ops::attention::{
    attention_backward, attention_forward_with, cls_backward, cls_forward, AttentionShape, ProbDropout,
};
use wgbert::ops::{elementwise, embedding, gelu, layernorm, loss, matmul};
use wgbert::reference as r;
use wgbert::selftest::tolerance as tol;

fn dot(a: &[f64], w: &[f64]) -> f64 {
    a.iter().zip(w).map(|(x, y)| x * y).sum()
}

/// Central differences of `f` at every coordinate of x (f64).
fn fd64(x: &[f64], h: f64, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let mut xp = x.to_vec();
            xp[i] += h;
            let mut xm = x.to_vec();
            xm[i] -= h;
            (f(&xp) - f(&xm)) / (2.0 * h)
        })
        .collect()
}

fn assert_grad64(what: &str, analytic: &[f64], numeric: &[f64]) {
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let t = tol::FINITE_DIFFERENCE_F64;
        assert!((a - n).abs() <= t.atol + t.rtol * n.abs(), "{what}[{i}]: analytic {a}, numeric {n}");
    }
}

/// Checks `coords` coordinates of a GPU gradient against central differences of the GPU forward.
fn check_gpu(what: &str, x: &[f32], grad: &[f32], coords: usize, h: f32, f: impl Fn(&[f32]) -> f64) {
    let mut rng = Rng::new(99);
    for _ in 0..coords.min(x.len()) {
        let i = rng.below(x.len() as u32) as usize;
        let mut xp = x.to_vec();
        xp[i] += h;
        let mut xm = x.to_vec();
        xm[i] -= h;
        let numeric = (f(&xp) - f(&xm)) / (2.0 * h as f64);
        let a = grad[i] as f64;
        let t = tol::FINITE_DIFFERENCE;
        assert!(
            (a - numeric).abs() <= t.atol + t.rtol * numeric.abs(),
            "{what}[{i}]: GPU backward {a}, finite difference {numeric}"
        );
    }
}

fn weighted(t: &Tensor, w: &[f64]) -> f64 {
    dot(&f64s(&t.to_vec().unwrap()), w)
}

#[test]
fn linear_gradients() {
    let (rows, in_f, out_f) = (3, 4, 5);
    let mut rng = Rng::new(1);
    let (x, w, b) = (f64s(&rng.vec(rows * in_f, 1.0)), f64s(&rng.vec(out_f * in_f, 1.0)), f64s(&rng.vec(out_f, 1.0)));
    let wy = f64s(&rng.vec(rows * out_f, 1.0));
    let (dx, dw, db) = r::matmul::linear_backward(&wy, &x, &w, rows, in_f, out_f);
    let l = |x: &[f64], w: &[f64], b: &[f64]| dot(&r::matmul::linear(x, w, Some(b), rows, in_f, out_f), &wy);
    assert_grad64("linear dx", &dx, &fd64(&x, 1e-5, |v| l(v, &w, &b)));
    assert_grad64("linear dw", &dw, &fd64(&w, 1e-5, |v| l(&x, v, &b)));
    assert_grad64("linear db", &db, &fd64(&b, 1e-5, |v| l(&x, &w, v)));

    let g = gpu();
    let (x32, w32) = (rng.vec(rows * in_f, 1.0), rng.vec(out_f * in_f, 1.0));
    let wy32 = rng.vec(rows * out_f, 1.0);
    let fwd = |x: &[f32], w: &[f32]| {
        weighted(
            &matmul::linear(&g, &up("x", &[rows, in_f], x), &up("w", &[out_f, in_f], w), None).unwrap(),
            &f64s(&wy32),
        )
    };
    let dw_t = g.zeros("dw", &[out_f, in_f]).unwrap();
    let dx_t = matmul::linear_backward(
        &g,
        &up("dy", &[rows, out_f], &wy32),
        &up("x", &[rows, in_f], &x32),
        &up("w", &[out_f, in_f], &w32),
        &dw_t,
        None,
        true,
    )
    .unwrap()
    .unwrap();
    check_gpu("gpu linear dx", &x32, &dx_t.to_vec().unwrap(), 8, 1e-2, |v| fwd(v, &w32));
    check_gpu("gpu linear dw", &w32, &dw_t.to_vec().unwrap(), 8, 1e-2, |v| fwd(&x32, v));
}

#[test]
fn layernorm_gradients() {
    let (rows, cols) = (3, 6);
    let mut rng = Rng::new(2);
    let (x, gm, bt) = (f64s(&rng.vec(rows * cols, 2.0)), f64s(&rng.vec(cols, 1.0)), f64s(&rng.vec(cols, 1.0)));
    let wy = f64s(&rng.vec(rows * cols, 1.0));
    let (_, saved) = r::layernorm::forward(&x, &gm, &bt, cols, 1e-5);
    let (dx, dg, db) = r::layernorm::backward(&wy, &x, &gm, &saved, cols);
    let l = |x: &[f64], g: &[f64], b: &[f64]| dot(&r::layernorm::forward(x, g, b, cols, 1e-5).0, &wy);
    assert_grad64("layernorm dx", &dx, &fd64(&x, 1e-5, |v| l(v, &gm, &bt)));
    assert_grad64("layernorm dgamma", &dg, &fd64(&gm, 1e-5, |v| l(&x, v, &bt)));
    assert_grad64("layernorm dbeta", &db, &fd64(&bt, 1e-5, |v| l(&x, &gm, v)));

    let g = gpu();
    let (x32, g32, b32, w32) =
        (rng.vec(rows * cols, 2.0), rng.vec(cols, 1.0), rng.vec(cols, 1.0), rng.vec(rows * cols, 1.0));
    let fwd = |x: &[f32], gm: &[f32]| {
        let (y, _) = layernorm::layernorm_forward(
            &g,
            &up("x", &[rows, cols], x),
            &up("g", &[cols], gm),
            &up("b", &[cols], &b32),
            1e-5,
        )
        .unwrap();
        weighted(&y, &f64s(&w32))
    };
    let tx = up("x", &[rows, cols], &x32);
    let tg = up("g", &[cols], &g32);
    let (_, saved) = layernorm::layernorm_forward(&g, &tx, &tg, &up("b", &[cols], &b32), 1e-5).unwrap();
    let (dg_t, db_t) = (g.zeros("dg", &[cols]).unwrap(), g.zeros("db", &[cols]).unwrap());
    let dx_t =
        layernorm::layernorm_backward(&g, &up("dy", &[rows, cols], &w32), &tx, &tg, &saved, &dg_t, &db_t).unwrap();
    check_gpu("gpu layernorm dx", &x32, &dx_t.to_vec().unwrap(), 10, 1e-2, |v| fwd(v, &g32));
    check_gpu("gpu layernorm dgamma", &g32, &dg_t.to_vec().unwrap(), 6, 1e-2, |v| fwd(&x32, v));
}

#[test]
fn gelu_and_tanh_gradients() {
    let mut rng = Rng::new(3);
    let x = f64s(&rng.vec(20, 4.0));
    for kind in [gelu::GeluKind::Erf, gelu::GeluKind::Tanh] {
        let analytic: Vec<f64> = x.iter().map(|&v| r::gelu::gelu_grad(v, kind)).collect();
        let numeric = fd64(&x, 1e-5, |v| v.iter().map(|&a| r::gelu::gelu(a, kind)).sum());
        assert_grad64(&format!("gelu {kind:?}"), &analytic, &numeric);

        let g = gpu();
        let x32 = rng.vec(50, 4.0);
        let ones = vec![1.0f32; x32.len()];
        let tx = up("x", &[x32.len()], &x32);
        let d = gelu::gelu_backward(&g, &up("dy", &[x32.len()], &ones), &tx, kind).unwrap().to_vec().unwrap();
        check_gpu(&format!("gpu gelu {kind:?}"), &x32, &d, 20, 1e-2, |v| {
            weighted(&gelu::gelu_forward(&g, &up("x", &[v.len()], v), kind).unwrap(), &f64s(&ones))
        });
    }
    let g = gpu();
    let x32 = rng.vec(30, 3.0);
    let w32 = rng.vec(30, 1.0);
    let y = elementwise::tanh_forward(&g, &up("x", &[30], &x32)).unwrap();
    let d = elementwise::tanh_backward(&g, &up("dy", &[30], &w32), &y).unwrap().to_vec().unwrap();
    check_gpu("gpu tanh", &x32, &d, 15, 1e-2, |v| {
        weighted(&elementwise::tanh_forward(&g, &up("x", &[30], v)).unwrap(), &f64s(&w32))
    });
}

#[test]
fn attention_gradients() {
    let s = AttentionShape { b: 2, t: 3, nh: 2, hs: 2 };
    let mut rng = Rng::new(4);
    let n = s.b * s.t * 3 * s.c();
    let mask = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0];
    let qkv = f64s(&rng.vec(n, 1.0));
    let wy = f64s(&rng.vec(s.b * s.t * s.c(), 1.0));
    let (_, p) = r::attention::forward(&qkv, &mask, &s);
    let analytic = r::attention::backward(&wy, &qkv, &p, &s);
    let numeric = fd64(&qkv, 1e-5, |v| dot(&r::attention::forward(v, &mask, &s).0, &wy));
    assert_grad64("attention dqkv", &analytic, &numeric);

    let g: Arc<Gpu> = gpu();
    let m32: Vec<f32> = mask.iter().map(|&v| v as f32).collect();
    let tm = up("mask", &[s.b, s.t], &m32);
    // The GPU check at head size 4, which both implementations support.
    let s = AttentionShape { hs: 4, ..s };
    let n = s.b * s.t * 3 * s.c();
    let q32 = rng.vec(n, 1.0);
    let w32 = rng.vec(s.b * s.t * s.c(), 1.0);
    for fused in [false, true] {
        let fwd = |v: &[f32]| {
            let (ctx, _) =
                attention_forward_with(&g, fused, s, &up("qkv", &[s.b * s.t, 3 * s.c()], v), &tm, None).unwrap();
            weighted(&ctx, &f64s(&w32))
        };
        let tq = up("qkv", &[s.b * s.t, 3 * s.c()], &q32);
        let (ctx, saved) = attention_forward_with(&g, fused, s, &tq, &tm, None).unwrap();
        let dctx = up("dctx", &[s.b * s.t, s.c()], &w32);
        let d = attention_backward(&g, s, &dctx, &tq, &tm, &ctx, &saved, None).unwrap().to_vec().unwrap();
        check_gpu(&format!("gpu attention dqkv (fused: {fused})"), &q32, &d, 24, 1e-2, fwd);
    }
}

#[test]
fn cls_attention_gradients_with_dropout() {
    // The [CLS]-only attention with dropout on its probabilities: the backward must drop the
    // same probabilities as the forward (a fixed seed makes the forward a function of qkv).
    let g: Arc<Gpu> = gpu();
    let s = AttentionShape { b: 2, t: 6, nh: 2, hs: 4 };
    let mut rng = Rng::new(5);
    let q32 = rng.vec(s.b * s.t * 3 * s.c(), 1.0);
    let w32 = rng.vec(s.b * s.c(), 1.0);
    let tm = up("mask", &[s.b, s.t], &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    let drop = Some(ProbDropout { p: 0.3, seed: 7 });
    let fwd = |v: &[f32]| {
        let (ctx, _) = cls_forward(&g, s, &up("qkv", &[s.b * s.t, 3 * s.c()], v), &tm, drop).unwrap();
        weighted(&ctx, &f64s(&w32))
    };
    let tq = up("qkv", &[s.b * s.t, 3 * s.c()], &q32);
    let (ctx, probs) = cls_forward(&g, s, &tq, &tm, drop).unwrap();
    let (undropped, _) = cls_forward(&g, s, &tq, &tm, None).unwrap();
    assert_ne!(ctx.to_vec().unwrap(), undropped.to_vec().unwrap(), "dropout changes the context");
    let dctx = up("dctx0", &[s.b, s.c()], &w32);
    let d = cls_backward(&g, s, &dctx, &tq, &probs, drop).unwrap().to_vec().unwrap();
    check_gpu("gpu [CLS] attention dqkv with dropout", &q32, &d, 40, 1e-2, fwd);
    // Queries other than token 0 do not exist: their gradient is exactly zero.
    for (row, r) in d.chunks(3 * s.c()).enumerate() {
        if row % s.t != 0 {
            assert!(r[..s.c()].iter().all(|&v| v == 0.0), "dq of row {row} is not zero");
        }
    }
}

#[test]
fn embedding_gradients() {
    let g = gpu();
    let (v, p, tv, c, b, t) = (11, 4, 2, 3, 2, 4);
    let ids = [3u32, 3, 5, 0, 10, 3, 2, 2];
    let types = [0u32, 0, 1, 1, 0, 0, 0, 1];
    let mut rng = Rng::new(5);
    let (word, pos, tt) = (rng.vec(v * c, 1.0), rng.vec(p * c, 1.0), rng.vec(tv * c, 1.0));
    let w32 = rng.vec(b * t * c, 1.0);
    let batch = embedding::TokenBatch::upload(&g, &ids, &types, b, t, v, tv).unwrap();
    let (tp, tt_) = (up("pos", &[p, c], &pos), up("type", &[tv, c], &tt));
    let dword = g.zeros("dword", &[v, c]).unwrap();
    embedding::embedding_backward(&g, &batch.word_groups, &up("dy", &[b * t, c], &w32), &dword).unwrap();
    let fwd = |wv: &[f32]| {
        weighted(&embedding::embedding_forward(&g, &batch, &up("word", &[v, c], wv), &tp, &tt_).unwrap(), &f64s(&w32))
    };
    check_gpu("gpu embedding dword", &word, &dword.to_vec().unwrap(), 20, 1e-2, fwd);
}

#[test]
fn loss_gradients() {
    let mut rng = Rng::new(6);
    for classes in [1usize, 3] {
        let n = 4;
        let logits = f64s(&rng.vec(n * classes, 3.0));
        let labels: Vec<f64> = (0..n).map(|i| (i % classes.max(2)) as f64).collect();
        let (_, _, analytic) = r::loss::loss(&logits, &labels, classes);
        let numeric = fd64(&logits, 1e-5, |v| r::loss::loss(v, &labels, classes).0);
        assert_grad64(&format!("loss {classes}"), &analytic, &numeric);

        let g = gpu();
        let l32: Vec<f32> = logits.iter().map(|&v| v as f32).collect();
        let y32: Vec<f32> = labels.iter().map(|&v| v as f32).collect();
        let ty = up("labels", &[n], &y32);
        let d = loss::loss_backward(&g, &up("logits", &[n, classes], &l32), &ty, 1.0).unwrap().to_vec().unwrap();
        check_gpu(&format!("gpu loss {classes}"), &l32, &d, 12, 1e-2, |v| {
            loss::loss_forward(&g, &up("logits", &[n, classes], v), &ty).unwrap().to_vec().unwrap()[0] as f64
        });
    }
}
