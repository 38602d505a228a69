//! The tape, the BERT model and AdamW against PyTorch: the tiny_bert_grad fixture holds a
//! 2-layer BERT classifier's loss, every parameter gradient and the parameters after one
//! clipped AdamW step, computed in float64 by PyTorch (see its README).

mod common;
use common::*;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use wgbert::autograd::Tape;
use wgbert::checkpoint::{load_safetensors, BertConfig};
use wgbert::model::{BertClassifier, Dropouts, Head, Rows};
use wgbert::ops::embedding::TokenBatch;
use wgbert::optim::{AdamW, AdamWConfig};
use wgbert::selftest::{tolerance as tol, training};

const DIR: &str = "tests/fixtures/tiny_bert_grad";

/// Every tensor of a fixture file as f64 (F64, F32 and I64 are what the fixtures hold).
fn read_fixture(file: &str) -> HashMap<String, (Vec<usize>, Vec<f64>)> {
    let bytes = std::fs::read(Path::new(DIR).join(file)).unwrap();
    training::read_tensors((file, &bytes)).unwrap()
}

/// The fixture's model after forward and backward on its batch (the self-test's training check).
fn forward_backward() -> training::Step {
    training::forward_backward(&gpu()).unwrap()
}

/// ‖got − want‖∞ / ‖want‖∞ over one tensor: the relative error the parity check bounds.
fn rel_inf(got: &[f32], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    max_abs_err(got, want).0 / scale
}

#[test]
fn loss_and_every_gradient_match_pytorch() {
    let run = forward_backward();
    let out = read_fixture("outputs.safetensors");
    let (lt, ls) = (tol::LOGITS_VS_PYTORCH, tol::LOSS_VS_PYTORCH);
    assert_close("logits", &run.logits, &out["logits_f64"].1, lt.atol, lt.rtol);
    assert_close("loss", &[run.loss], &out["loss_f64"].1, ls.atol, ls.rtol);

    let want = read_fixture("grads_f64.safetensors");
    let got = run.model.export_tensors(true).unwrap();
    assert_eq!(got.len(), want.len(), "one gradient per PyTorch parameter");
    let mut worst = (0.0, String::new());
    for (name, t) in &got {
        let (shape, w) = want.get(name).unwrap_or_else(|| panic!("PyTorch has no parameter {name}"));
        assert_eq!(&t.shape, shape, "{name}");
        let e = rel_inf(&t.data, w);
        let scale = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let abs = max_abs_err(&t.data, w).0;
        let tol = tol::gradient_vs_pytorch(w);
        assert!(abs <= tol.atol, "gradient of {name}: max abs error {abs:.3e}, relative {e:.3e}, tolerance {tol}");
        if scale >= 1e-6 && e > worst.0 {
            worst = (e, name.clone()); // a relative error means little for an exact zero
        }
    }
    eprintln!("largest relative gradient error: {:.3e} ({})", worst.0, worst.1);
}

#[test]
fn one_clipped_adamw_step_matches_pytorch() {
    let run = forward_backward();
    let g = gpu();
    let mut opt = training::fixture_adamw(&g, &run).unwrap();
    opt.update(&g, &run.model.params, 1e-3).unwrap();
    let norm = (opt.norm_sq.to_vec().unwrap()[0] as f64).sqrt();
    let want_norm = read_fixture("outputs.safetensors")["grad_norm_f64"].1[0];
    let tn = tol::GRAD_NORM_VS_PYTORCH;
    assert!((norm - want_norm).abs() <= tn.rtol * want_norm, "gradient norm {norm} vs PyTorch {want_norm}");

    let want = read_fixture("after_adamw_f64.safetensors");
    let grads = read_fixture("grads_f64.safetensors");
    let mut worst = 0.0f64;
    for (name, t) in run.model.export_tensors(false).unwrap() {
        let e = max_abs_err(&t.data, &want[&name].1).0;
        // Where the gradient is zero in exact arithmetic (the key biases), the check is that our
        // rounding stays small, not parity with PyTorch's noise (`after_adamw_tolerance`).
        let tol = training::after_adamw_tolerance(&grads[&name].1);
        if tol == tol::PARAM_AFTER_ADAMW {
            worst = worst.max(e);
        }
        assert!(e <= tol.atol, "{name} after one AdamW step: max abs error {e:.3e}");
    }
    eprintln!("largest parameter error after one AdamW step: {worst:.3e}");
}

#[test]
fn backward_releases_what_the_forward_saved() {
    // A device of its own: the shared one's memory figures move with the tests running beside.
    let g = wgbert::gpu::Gpu::new(&wgbert::gpu::GpuOptions::from_env()).unwrap();
    let config = BertConfig::from_file(Path::new(DIR).join("config.json")).unwrap();
    let (ckpt, _) = load_safetensors(Path::new(DIR).join("model.safetensors")).unwrap();
    let model = BertClassifier::from_checkpoint(&g, &config, &ckpt, Head::Train { num_labels: 1, seed: 0 }).unwrap();
    let ids: Vec<u32> = (0..32).map(|i| (i * 7 % 300) as u32).collect();
    let batch = Arc::new(TokenBatch::upload(&g, &ids, &[0; 32], 4, 8, 300, 2).unwrap());
    let mask = g.upload("mask", &[4, 8], &[1.0; 32]).unwrap();
    let labels = g.upload("labels", &[4], &[1.0, 0.0, 1.0, 0.0]).unwrap();
    let dropouts = Dropouts { hidden: 0.1, attention: 0.1, classifier: 0.1 };

    // Two steps, so the second runs entirely on buffers the pool already holds.
    for step in 0..2 {
        g.sync().unwrap();
        let before = g.memory().live;
        let mut tape = Tape::new(&g, step);
        let logits = model.forward(&mut tape, &batch, &mask, dropouts).unwrap();
        let loss = tape.loss(&logits, &labels, 1.0).unwrap();
        assert!(!tape.is_empty());
        drop(logits);
        tape.backward().unwrap();
        assert!(tape.is_empty());
        drop(loss);
        g.sync().unwrap();
        assert_eq!(g.memory().live, before, "step {step}: everything the step allocated is released");
    }
    // Inference records nothing.
    let mut tape = Tape::inference(&g);
    model.forward(&mut tape, &batch, &mask, dropouts).unwrap();
    assert!(tape.is_empty());
}

/// The tiny model, a batch of 4 from the fixture, and a closure running forward + backward on
/// rows [lo, hi) with a loss scale.
fn tiny_setup() -> (BertClassifier, Vec<u32>, Vec<u32>, Vec<f32>, Vec<f32>) {
    let g = gpu();
    let config = BertConfig::from_file(Path::new(DIR).join("config.json")).unwrap();
    let (ckpt, _) = load_safetensors(Path::new(DIR).join("model.safetensors")).unwrap();
    let model = BertClassifier::from_checkpoint(&g, &config, &ckpt, Head::Train { num_labels: 1, seed: 0 }).unwrap();
    let inputs = read_fixture("inputs.safetensors");
    let u32s = |n: &str| inputs[n].1.iter().map(|&v| v as u32).collect::<Vec<_>>();
    let f32s = |n: &str| inputs[n].1.iter().map(|&v| v as f32).collect::<Vec<_>>();
    (model, u32s("input_ids"), u32s("token_type_ids"), f32s("attention_mask"), f32s("labels"))
}

fn micro_step(
    model: &BertClassifier,
    ids: &[u32],
    types: &[u32],
    mask: &[f32],
    labels: &[f32],
    rows: std::ops::Range<usize>,
    scale: f32,
) {
    let g = gpu();
    let (b, t) = (rows.len(), 8);
    let r = rows.start * t..rows.end * t;
    let batch = Arc::new(TokenBatch::upload(&g, &ids[r.clone()], &types[r.clone()], b, t, 300, 2).unwrap());
    let mask = g.upload("mask", &[b, t], &mask[r]).unwrap();
    let labels = g.upload("labels", &[b], &labels[rows]).unwrap();
    let mut tape = Tape::new(&g, 0);
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let logits = model.forward(&mut tape, &batch, &mask, none).unwrap();
    tape.loss(&logits, &labels, scale).unwrap();
    tape.backward().unwrap();
}

#[test]
fn gradients_accumulate_across_micro_batches() {
    // Two micro-batches of 2 with loss scale ½ give the gradients of one batch of 4.
    let (model, ids, types, mask, labels) = tiny_setup();
    micro_step(&model, &ids, &types, &mask, &labels, 0..4, 1.0);
    let whole = model.export_tensors(true).unwrap();
    model.params.zero_grad(&gpu()).unwrap();
    micro_step(&model, &ids, &types, &mask, &labels, 0..2, 0.5);
    micro_step(&model, &ids, &types, &mask, &labels, 2..4, 0.5);
    for ((name, a), (_, b)) in whole.iter().zip(model.export_tensors(true).unwrap()) {
        let scale = a.data.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let err = max_abs_err(&b.data, &f64s(&a.data)).0;
        assert!(err <= 1e-5 * scale + 1e-7, "{name}: accumulated gradient differs by {err}");
    }
}

#[test]
fn cls_only_last_layer_gives_the_full_encoders_logits_and_gradients() {
    // forward() runs the last layer for token 0 alone; forward_rows(All) runs it for every
    // token. The logits and every parameter gradient agree (the other rows never reach the loss).
    let g = gpu();
    let (model, ids, types, mask, labels) = tiny_setup();
    let batch = Arc::new(TokenBatch::upload(&g, &ids, &types, 4, 8, 300, 2).unwrap());
    let (mask, labels) = (g.upload("mask", &[4, 8], &mask).unwrap(), g.upload("labels", &[4], &labels).unwrap());
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let run = |rows: Rows| {
        model.params.zero_grad(&g).unwrap();
        let mut tape = Tape::new(&g, 0);
        let logits = model.forward_rows(&mut tape, &batch, &mask, none, rows).unwrap();
        tape.loss(&logits, &labels, 1.0).unwrap();
        tape.backward().unwrap();
        (logits.value.to_vec().unwrap(), model.export_tensors(true).unwrap())
    };
    let (full_logits, full_grads) = run(Rows::All);
    let (cls_logits, cls_grads) = run(Rows::Cls);
    assert_close("logits", &cls_logits, &f64s(&full_logits), 1e-6, 1e-5);
    for ((name, a), (_, b)) in full_grads.iter().zip(&cls_grads) {
        let scale = a.data.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        let err = max_abs_err(&b.data, &f64s(&a.data)).0;
        assert!(err <= 1e-5 * scale + 1e-7, "{name}: gradient differs by {err} (scale {scale})");
    }
}

#[test]
fn gradients_through_hidden_dropout_match_finite_differences() {
    // With a fixed tape seed the dropout masks are fixed, so the loss is a function of the
    // parameters: central differences check the backward through every add & norm's dropout
    // (the fused kernel draws the mask forward, elementwise dropout applies it backward).
    let g = gpu();
    let (model, ids, types, mask, labels) = tiny_setup();
    let batch = Arc::new(TokenBatch::upload(&g, &ids, &types, 4, 8, 300, 2).unwrap());
    let (mask, labels) = (g.upload("mask", &[4, 8], &mask).unwrap(), g.upload("labels", &[4], &labels).unwrap());
    let drop = Dropouts { hidden: 0.3, attention: 0.0, classifier: 0.0 };
    let loss = |backward: bool| -> f64 {
        let mut tape = Tape::new(&g, 5);
        let logits = model.forward(&mut tape, &batch, &mask, drop).unwrap();
        let l = tape.loss(&logits, &labels, 1.0).unwrap();
        if backward {
            tape.backward().unwrap();
        }
        l.to_vec().unwrap()[0] as f64
    };
    model.params.zero_grad(&g).unwrap();
    let l0 = loss(true);
    let none = Dropouts { hidden: 0.0, ..drop };
    let mut plain = Tape::new(&g, 5);
    let logits = model.forward(&mut plain, &batch, &mask, none).unwrap();
    let l_plain = plain.loss(&logits, &labels, 1.0).unwrap().to_vec().unwrap()[0] as f64;
    assert_ne!(l0, l_plain, "dropout changes the loss");
    // A weight whose output is dropped before the first add & norm, and one after it.
    for name in ["encoder.layer.0.attention.output.dense.weight", "encoder.layer.0.output.dense.bias"] {
        let p = model.params.by_name(name).unwrap();
        let (value, grad) = (p.value.to_vec().unwrap(), p.grad.to_vec().unwrap());
        let mut rng = Rng::new(3);
        for _ in 0..6 {
            let i = rng.below(value.len() as u32) as usize;
            let h = 1e-2f32;
            let at = |d: f32| {
                let mut v = value.clone();
                v[i] += d;
                g.write(&p.value, bytemuck::cast_slice(&v)).unwrap();
                loss(false)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h as f64);
            g.write(&p.value, bytemuck::cast_slice(&value)).unwrap();
            let a = grad[i] as f64;
            assert!(
                (a - numeric).abs() <= 2e-4 + 2e-2 * numeric.abs(),
                "{name}[{i}]: backward {a}, finite difference {numeric}"
            );
        }
    }
}

#[test]
fn parameters_split_over_several_arenas_train_the_same() {
    // A small arena limit (as a GPU with small storage bindings would impose) gives several
    // arenas; one step, clipped over all of them, gives the same parameters as one arena.
    let g = gpu();
    let (one, ids, types, mask, labels) = tiny_setup();
    let (mut many, ..) = tiny_setup();
    many.params.pack_within(&g, 40 * 1024).unwrap();
    assert_eq!(one.params.arenas.len(), 1);
    assert!(many.params.arenas.len() > 2, "{} arenas", many.params.arenas.len());
    for a in &many.params.arenas {
        assert!(a.values.numel() * 4 <= 40 * 1024, "an arena of {} floats", a.values.numel());
    }
    for m in [&one, &many] {
        let mut opt = AdamW::new(&g, &m.params, AdamWConfig::default()).unwrap();
        micro_step(m, &ids, &types, &mask, &labels, 0..4, 1.0);
        opt.update(&g, &m.params, 1e-3).unwrap();
    }
    // The clip norm sums the squares in another order: equal to f32 rounding.
    for ((name, x), (_, y)) in one.export_tensors(false).unwrap().iter().zip(many.export_tensors(false).unwrap()) {
        let err = max_abs_err(&y.data, &f64s(&x.data)).0;
        assert!(err <= 1e-6, "{name}: one arena and several differ by {err}");
    }
    // Padding between parameters never leaks into them: every value is a parameter's own.
    let total: usize = many.params.arenas.iter().map(|a| a.values.numel()).sum();
    assert!(total >= many.params.numel());
}

#[test]
fn optimizer_and_parameters_resume_from_saved_state() {
    let g = gpu();
    let dir = std::env::temp_dir().join(format!("wgbert-resume-{}", std::process::id()));
    let (a, ids, types, mask, labels) = tiny_setup();
    let (b, ..) = tiny_setup();
    let mut opt_a = AdamW::new(&g, &a.params, AdamWConfig::default()).unwrap();
    // Step 1 on model a, then save.
    micro_step(&a, &ids, &types, &mask, &labels, 0..4, 1.0);
    opt_a.update(&g, &a.params, 1e-3).unwrap();
    a.params.save(&dir.join("params.safetensors")).unwrap();
    opt_a.save(&dir.join("optimizer.safetensors"), &a.params).unwrap();
    // Model b resumes from the files; both take step 2.
    let mut opt_b = AdamW::new(&g, &b.params, AdamWConfig::default()).unwrap();
    b.params.load(&g, &dir.join("params.safetensors")).unwrap();
    opt_b.load(&g, &dir.join("optimizer.safetensors"), &b.params).unwrap();
    assert_eq!(opt_b.steps().unwrap(), 1);
    for (m, opt) in [(&a, &mut opt_a), (&b, &mut opt_b)] {
        m.params.zero_grad(&g).unwrap();
        micro_step(m, &ids, &types, &mask, &labels, 0..4, 1.0);
        opt.update(&g, &m.params, 1e-3).unwrap();
    }
    for ((name, x), (_, y)) in a.export_tensors(false).unwrap().iter().zip(b.export_tensors(false).unwrap()) {
        assert_eq!(x.data, y.data, "{name} after resuming");
    }
    // A state file that lacks a tensor is an error naming it.
    let err = opt_b.load(&g, &dir.join("params.safetensors"), &b.params).unwrap_err().to_string();
    assert!(err.contains("optimizer state m/") && err.contains("missing"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Mixed precision on the tiny BERT: the linear layers read f16 copies of their input, weight and
/// (loss-scaled) output gradient. Loss and every gradient, divided by the loss scale, stay within
/// f16 rounding of PyTorch's f64 values — 1e-2 of each tensor's largest gradient, where f32 gets
/// 1e-3 — and the logits differ from f32's (the f16 path really ran).
#[test]
fn mixed_precision_gradients_match_pytorch_within_f16_rounding() {
    let Some(g) = gpu_with_f16() else { return };
    let f32_logits = forward_backward().logits;
    let (model, ids, types, mask, labels) = tiny_setup();
    wgbert::train::check_precision(&g, wgbert::train::Precision::Mixed).unwrap();
    let batch = Arc::new(TokenBatch::upload(&g, &ids, &types, 4, 8, 300, 2).unwrap());
    let (mask, labels) = (g.upload("mask", &[4, 8], &mask).unwrap(), g.upload("labels", &[4], &labels).unwrap());
    // The loss scale comes from the optimizer's control words, on the GPU.
    let scale = 1024.0;
    let words = wgbert::ops::adamw::control::initial(scale);
    let control = g.upload_u32("control", &[words.len()], &words).unwrap();
    let mut tape = Tape::mixed(&g, 0, &control);
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let logits = model.forward(&mut tape, &batch, &mask, none).unwrap();
    let loss = tape.loss(&logits, &labels, 1.0).unwrap();
    tape.backward().unwrap();
    let logits = logits.value.to_vec().unwrap();
    assert_ne!(logits, f32_logits, "mixed precision must round something");

    let out = read_fixture("outputs.safetensors");
    assert_close("mixed logits", &logits, &out["logits_f64"].1, 1e-3, 1e-2);
    assert_close("mixed loss", &loss.to_vec().unwrap()[..1], &out["loss_f64"].1, 1e-3, 1e-3);
    let want = read_fixture("grads_f64.safetensors");
    let mut worst = (0.0, String::new());
    for (name, t) in model.export_tensors(true).unwrap() {
        let w = &want[&name].1;
        let got: Vec<f32> = t.data.iter().map(|v| v / scale).collect();
        let max = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let abs = max_abs_err(&got, w).0;
        assert!(abs <= 1e-2 * max + 1e-5, "mixed gradient of {name}: max abs error {abs:.3e} (largest {max:.3e})");
        if max >= 1e-6 && abs / max > worst.0 {
            worst = (abs / max, name);
        }
    }
    eprintln!("largest relative gradient error in mixed precision: {:.3e} ({})", worst.0, worst.1);
}
