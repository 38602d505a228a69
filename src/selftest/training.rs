//! One training step of a tiny BERT classifier against PyTorch: logits, loss, every parameter's
//! gradient, the clipped gradient norm and the parameters after one AdamW step, from the
//! `tests/fixtures/tiny_bert_grad` fixture (PyTorch in f64; its README says how it was made),
//! embedded in the binary so the check needs nothing beside the executable.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::tolerance as tol;
use super::{Checker, Tol};
use crate::autograd::Tape;
use crate::checkpoint::{parse_safetensors, BertConfig};
use crate::gpu::Gpu;
use crate::model::{BertClassifier, Dropouts};
use crate::ops::embedding::TokenBatch;
use crate::optim::{AdamW, AdamWConfig};

macro_rules! fixture {
    ($file:literal) => {
        ($file, include_bytes!(concat!("../../tests/fixtures/tiny_bert_grad/", $file)).as_slice())
    };
}
type Fixture = (&'static str, &'static [u8]);
pub const CONFIG: Fixture = fixture!("config.json");
pub const MODEL: Fixture = fixture!("model.safetensors");
pub const INPUTS: Fixture = fixture!("inputs.safetensors");
pub const OUTPUTS: Fixture = fixture!("outputs.safetensors");
pub const GRADS: Fixture = fixture!("grads_f64.safetensors");
pub const AFTER_ADAMW: Fixture = fixture!("after_adamw_f64.safetensors");

/// Every tensor of a fixture file as (shape, values in f64); F64, F32 and I64 are what they hold.
pub fn read_tensors((file, bytes): (&str, &[u8])) -> Result<HashMap<String, (Vec<usize>, Vec<f64>)>> {
    let st = safetensors::SafeTensors::deserialize(bytes).with_context(|| format!("fixture {file}"))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let d = view.data();
        let le8 = |c: &[u8]| <[u8; 8]>::try_from(c).expect("chunks_exact(8)");
        let vals: Vec<f64> = match view.dtype() {
            safetensors::Dtype::F64 => d.chunks_exact(8).map(|c| f64::from_le_bytes(le8(c))).collect(),
            safetensors::Dtype::I64 => d.chunks_exact(8).map(|c| i64::from_le_bytes(le8(c)) as f64).collect(),
            safetensors::Dtype::F32 => {
                d.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64).collect()
            }
            other => bail!("fixture {file}: {name} has dtype {other:?}"),
        };
        out.insert(name, (view.shape().to_vec(), vals));
    }
    Ok(out)
}

/// The tiny model with the fixture's weights, after forward and backward on its batch of 4.
pub struct Step {
    pub model: BertClassifier,
    pub logits: Vec<f32>,
    pub loss: f32,
}

pub fn forward_backward(gpu: &Arc<Gpu>) -> Result<Step> {
    let config = BertConfig::parse(Path::new(CONFIG.0), CONFIG.1)?;
    let (ckpt, _) = parse_safetensors(Path::new(MODEL.0), MODEL.1)?;
    let model =
        BertClassifier::from_checkpoint(gpu, &config, &ckpt, crate::model::Head::Train { num_labels: 1, seed: 0 })?;
    let inputs = read_tensors(INPUTS)?;
    let (b, t) = (4, 8);
    let u32s = |n: &str| inputs[n].1.iter().map(|&v| v as u32).collect::<Vec<_>>();
    let f32s = |n: &str| inputs[n].1.iter().map(|&v| v as f32).collect::<Vec<_>>();
    let (ids, types) = (u32s("input_ids"), u32s("token_type_ids"));
    let batch = Arc::new(TokenBatch::upload(gpu, &ids, &types, b, t, config.vocab_size, config.type_vocab_size)?);
    let mask = gpu.upload("mask", &[b, t], &f32s("attention_mask"))?;
    let labels = gpu.upload("labels", &[b], &f32s("labels"))?;
    let mut tape = Tape::new(gpu, 0);
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let logits = model.forward(&mut tape, &batch, &mask, none)?;
    let loss = tape.loss(&logits, &labels, 1.0)?;
    tape.backward()?;
    Ok(Step { loss: loss.to_vec()?[0], logits: logits.value.to_vec()?, model })
}

/// The AdamW settings of the fixture (adamw.json): lr 1e-3, clipping at norm 1.
pub fn fixture_adamw(gpu: &Arc<Gpu>, step: &Step) -> Result<AdamW> {
    let config = AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.01, max_grad_norm: 1.0 };
    Ok(AdamW::new(gpu, &step.model.params, config)?)
}

pub fn tiny_bert_step(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let step = forward_backward(&g)?;
    let out = read_tensors(OUTPUTS)?;
    let shape = "L2 C32 NH2, B4 T8";
    c.close(
        "tiny BERT vs PyTorch: logits",
        "f64 fixture",
        shape,
        &step.logits,
        &out["logits_f64"].1,
        tol::LOGITS_VS_PYTORCH,
    );
    c.close("tiny BERT vs PyTorch: loss", "f64 fixture", shape, &[step.loss], &out["loss_f64"].1, tol::LOSS_VS_PYTORCH);

    // Every gradient, each against its own tensor's scale: one row for all of them.
    let want = read_tensors(GRADS)?;
    let got = step.model.export_tensors(true)?;
    let per_tensor = got.iter().map(|(name, t)| {
        let w =
            want.get(name).map(|(_, w)| w.as_slice()).with_context(|| format!("PyTorch has no parameter {name}"))?;
        Ok((name.clone(), t.data.clone(), w.to_vec(), tol::gradient_vs_pytorch(w)))
    });
    let rows = per_tensor.collect::<Result<Vec<_>>>()?;
    let count = format!("{} tensors", rows.len());
    all_tensors(
        c,
        "tiny BERT vs PyTorch: every gradient",
        &count,
        rows,
        "1e-3·max|grad| + 1e-6 per tensor",
        got.len() == want.len(),
    );

    // One clipped AdamW step.
    let mut opt = fixture_adamw(&g, &step)?;
    opt.update(&g, &step.model.params, 1e-3)?;
    let norm = (opt.norm_sq.to_vec()?[0] as f64).sqrt();
    let want_norm = out["grad_norm_f64"].1[0];
    c.close(
        "tiny BERT vs PyTorch: gradient norm",
        "f64 fixture",
        shape,
        &[norm as f32],
        &[want_norm],
        tol::GRAD_NORM_VS_PYTORCH,
    );
    let after = read_tensors(AFTER_ADAMW)?;
    let mut rows = Vec::new();
    for (name, t) in step.model.export_tensors(false)? {
        let w = after.get(&name).with_context(|| format!("PyTorch has no parameter {name}"))?.1.clone();
        rows.push((name.clone(), t.data, w, after_adamw_tolerance(&want[&name].1)));
    }
    let count = format!("{} tensors", rows.len());
    all_tensors(c, "tiny BERT vs PyTorch: parameters after AdamW", &count, rows, "1e-5", true);
    Ok(())
}

/// Where a gradient is zero in exact arithmetic (the key biases), AdamW's first step turns f32
/// rounding into a small step: the check there is that it stays small, not parity with noise.
pub fn after_adamw_tolerance(grad: &[f64]) -> Tol {
    if grad.iter().all(|g| g.abs() < 1e-12) {
        tol::PARAM_AFTER_ADAMW_EXACT_ZERO_GRAD
    } else {
        tol::PARAM_AFTER_ADAMW
    }
}

/// One row over many tensors, each with its own tolerance; the note names the worst.
fn all_tensors(
    c: &mut Checker,
    kernel: &str,
    shape: &str,
    rows: Vec<(String, Vec<f32>, Vec<f64>, Tol)>,
    demand: &str,
    complete: bool,
) {
    let (mut max_err, mut passed, mut worst) = (0.0f64, complete, (0.0f64, String::new()));
    for (name, got, want, tol) in &rows {
        let cmp = tol.compare(got, want);
        max_err = max_err.max(cmp.max_err);
        passed &= cmp.passed;
        let ratio = cmp.max_err / tol.atol.max(1e-30);
        if ratio > worst.0 || ratio.is_nan() {
            worst = (ratio, name.clone());
        }
    }
    let note = if complete {
        format!("worst: {} at {:.2} of its tolerance", worst.1, worst.0)
    } else {
        "the model's parameters and PyTorch's differ".into()
    };
    c.record(kernel, "f64 fixture", shape, max_err, demand.into(), passed, note);
}
