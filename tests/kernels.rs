//! Every kernel, forward and backward, against the CPU reference (f64) on random inputs: the
//! checks of `wgbert selftest` (`src/selftest/`), run here at full size, plus what a self-test
//! cannot show as a row: shape and limit errors, refusals, and the reference itself.

mod common;
use common::*;

use wgbert::gpu::{Gpu, GpuOptions, Tensor};
use wgbert::ops::attention::{attention_backward, attention_forward_with, AttentionShape, ProbDropout};
use wgbert::ops::layernorm::LnVariant;
use wgbert::ops::matmul::{gemm_epilogue, gemm_with, linear, Dims, Epilogue, Layout, Variant};
use wgbert::ops::{elementwise, embedding, gelu, layernorm};
use wgbert::reference as r;
use wgbert::selftest::{self, attention::mask_with_padding, Size};

/// Runs one self-test group at full size and fails with every row out of tolerance.
fn assert_group(name: &str) {
    let rows = selftest::run_group(&gpu(), selftest::group(name), Size::Full);
    assert!(rows.len() > 1, "{name}: no checks ran");
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.passed)
        .map(|r| {
            format!(
                "{} [{}] {}: max err {:.3e}, tolerance {}: {}",
                r.kernel, r.variant, r.shape, r.max_err, r.tolerance, r.note
            )
        })
        .collect();
    assert!(failed.is_empty(), "{name}: {} of {} checks failed:\n{}", failed.len(), rows.len(), failed.join("\n"));
    for r in rows.iter().filter(|r| r.note.starts_with("skipped")) {
        eprintln!("{name}: {} [{}] {}", r.kernel, r.variant, r.note);
    }
}

#[test]
fn matmul_all_variants_transposes_and_operand_types_match_reference() {
    assert_group("matmul");
}

#[test]
fn linear_forward_and_backward_match_reference() {
    assert_group("linear");
}

#[test]
fn matmul_activation_epilogue_matches_linear_then_activation() {
    assert_group("epilogue");
    // An epilogue cannot accumulate: C would be act(old C + product).
    let g = gpu();
    let t = up("t", &[4, 4], &[1.0; 16]);
    let e = Epilogue { act: gelu::GeluKind::Erf, pre: None };
    let d = Dims { m: 4, n: 4, k: 4, nb1: 1, nb2: 1 };
    let l = Layout::rows(4);
    let c = up("c", &[4, 4], &[0.0; 16]);
    let err = gemm_epilogue(&g, Variant::Register, d, (&t, l), (&t, l), None, (&c, l), 1.0, true, Some(e));
    assert!(err.unwrap_err().to_string().contains("epilogue"));
}

#[test]
fn layernorm_and_add_norm_match_reference() {
    assert_group("layernorm");
    let g = gpu();
    // The rows variant needs C % 4 == 0 and says so.
    let (x, gm, bt) = (up("x", &[3, 7], &[1.0; 21]), up("gamma", &[7], &[1.0; 7]), up("beta", &[7], &[0.0; 7]));
    let e = layernorm::layernorm_forward_with(&g, LnVariant::Rows, &x, &gm, &bt, 1e-12).err().expect("refused");
    assert!(e.to_string().contains("C % 4 == 0"), "{e}");
    let e = layernorm::add_layernorm_forward_with(&g, LnVariant::Rows, &x, &x, None, &gm, &bt, 1e-12, true);
    assert!(e.is_err(), "add & norm: the rows variant needs C % 4 == 0");
    // Add & norm names the residual whose shape differs.
    let wrong = up("residual", &[3, 8], &[0.0; 24]);
    let (tg, tb) = (up("gamma", &[8], &[1.0; 8]), up("beta", &[8], &[0.0; 8]));
    let e = layernorm::add_layernorm_forward(&g, &up("a", &[2, 8], &[0.0; 16]), &wrong, None, &tg, &tb, 1e-12, true);
    assert!(e.err().expect("shapes differ").to_string().contains("residual"));
}

#[test]
fn gelu_exact_and_tanh_match_reference() {
    assert_group("activation");
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

#[test]
fn softmax_is_stable_and_matches_reference() {
    assert_group("softmax");
}

#[test]
fn attention_both_paths_and_cls_only_match_reference() {
    assert_group("attention");
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
    let (ctx, _) = attention_forward_with(&g, true, s, &tq, &tm, None).unwrap();
    assert_ne!(c1, ctx.to_vec().unwrap(), "dropout changes the output");
}

#[test]
fn embedding_forward_and_backward_match_reference() {
    assert_group("embedding");
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
fn dropout_tanh_and_row_ops_match_reference() {
    assert_group("elementwise");
    // Another seed gives another mask; p = 0 is the identity.
    let g = gpu();
    let x = Rng::new(9).vec(10_000, 1.0);
    let tx = up("x", &[x.len()], &x);
    let y1 = elementwise::dropout(&g, &tx, 0.1, 1234).unwrap().to_vec().unwrap();
    let y2 = elementwise::dropout(&g, &tx, 0.1, 99).unwrap().to_vec().unwrap();
    assert_ne!(y1, y2);
    assert!(elementwise::dropout(&g, &tx, 0.0, 1).unwrap().same_storage(&tx));
}

#[test]
fn losses_match_reference() {
    assert_group("loss");
}

#[test]
fn reductions_match_reference() {
    assert_group("reduce");
}

#[test]
fn adamw_with_clipping_and_loss_scale_skips_matches_reference() {
    assert_group("adamw");
}

#[test]
fn f16_casts_are_exact() {
    assert_group("casts");
    // An f16 tensor given to an f32 kernel is refused, naming it.
    let Some(g) = gpu_with_f16() else { return };
    let h = g.upload_f16("weights", &[4], &[1.0; 4]).unwrap();
    let err = gelu::gelu_forward(&g, &h, gelu::GeluKind::Erf).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("weights") && err.contains("f16"), "{err}");
    // A product reads f32 tensors: an f16 one is refused by name, not misread.
    let (m, n, k) = (3, 4, 5);
    let x16 = g.upload_f16("x16", &[m, k], &[0.5; 15]).unwrap();
    let bt = up("b32", &[n, k], &[0.5; 20]);
    let y = g.zeros("y", &[m, n]).unwrap();
    let d = Dims { m, n, k, nb1: 1, nb2: 1 };
    let (lx, lw) = (Layout::rows(k), Layout::rows(k).t());
    let product = |a: &Tensor, b: &Tensor| {
        gemm_with(&g, Variant::Register, d, (a, lx), (b, lw), None, (&y, Layout::rows(n)), 1.0, false)
            .unwrap_err()
            .to_string()
    };
    let e = product(&x16, &bt);
    assert!(e.contains("x16") && e.contains("F16"), "{e}");
    // One operand read as f16 and the other not: an error naming both, not a half-rounded product.
    let e = product(&up("x", &[m, k], &[0.5; 15]).read_as_f16(), &bt);
    assert!(e.contains("x") && e.contains("b32") && e.contains("both"), "{e}");
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

#[test]
fn a_check_out_of_tolerance_fails_its_row() {
    // The comparison behind every row: one element past atol + rtol·|ref| fails, NaN fails,
    // equal infinities and NaN against NaN pass (the exact checks of f16 casts).
    let t = selftest::Tol::new(1e-3, 1e-2);
    assert!(t.compare(&[1.0, 100.5], &[1.0005, 100.0]).passed);
    let c = t.compare(&[1.0, 2.0, 3.0], &[1.0, 2.05, 3.0]);
    assert!(!c.passed && c.worst.map(|w| w.0) == Some(1) && (c.max_err - 0.05).abs() < 1e-6);
    assert!(!t.compare(&[f32::NAN], &[0.0]).passed);
    assert!(!t.compare(&[1.0], &[1.0, 2.0]).passed, "lengths differ");
    assert!(selftest::Tol::EXACT.compare(&[f32::INFINITY, f32::NAN], &[f64::INFINITY, f64::NAN]).passed);
    assert!(!selftest::Tol::EXACT.compare(&[f32::INFINITY], &[f64::NEG_INFINITY]).passed);
}
