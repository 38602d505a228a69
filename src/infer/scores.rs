//! Logits to what a user reads: each input's class and score, and every class's probability.
//! One logit (a binary head trained here) is σ(z) for the second class; two or more are a
//! softmax, as transformers scores `BertForSequenceClassification`.

use std::sync::Arc;

use anyhow::Result;

use super::{batched_rows, Encoded, Inputs};
use crate::gpu::Gpu;
use crate::model::{BertClassifier, Dropouts};
use crate::tokenizer::Tokenizer;

/// The logits (N, labels) of every encoded example, in their order (see `batched_rows`).
pub async fn logits_async(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    enc: &Encoded,
    pad_id: u32,
    batch_size: usize,
    progress: impl FnMut(usize),
) -> Result<Vec<f32>> {
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let logits = batched_rows(gpu, model, enc, pad_id, batch_size, model.num_labels, progress, |tape, b| {
        model.forward(tape, &b.tokens, &b.mask, none)
    });
    Ok(logits.await?)
}

/// [`logits_async`], blocking until the last batch is read back.
#[cfg(not(target_arch = "wasm32"))]
pub fn logits(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    enc: &Encoded,
    pad_id: u32,
    batch_size: usize,
    progress: impl FnMut(usize),
) -> Result<Vec<f32>> {
    pollster::block_on(logits_async(gpu, model, enc, pad_id, batch_size, progress))
}

/// Predictions of a batch of logits (B, labels): the class and the score of the predicted
/// class (one logit: σ(z) is the score of class 1, as the seed tutorial prints it).
pub fn predictions(logits: &[f32], num_labels: usize) -> Vec<(usize, f32)> {
    probabilities(logits, num_labels)
        .into_iter()
        .zip(logits.chunks(num_labels))
        .map(|(p, z)| {
            if num_labels == 1 {
                ((z[0] > 0.0) as usize, p[1])
            } else {
                // The first of equal logits wins, as argmax does.
                let k = z.iter().enumerate().fold(0, |k, (i, &v)| if v > z[k] { i } else { k });
                (k, p[k])
            }
        })
        .collect()
}

/// Every class's probability for each row of logits (N, labels): softmax, or for one logit
/// [1 − σ(z), σ(z)].
pub fn probabilities(logits: &[f32], num_labels: usize) -> Vec<Vec<f32>> {
    logits
        .chunks(num_labels)
        .map(|z| {
            if num_labels == 1 {
                let p = 1.0 / (1.0 + (-z[0]).exp());
                vec![1.0 - p, p]
            } else {
                let mx = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = z.iter().map(|v| (v - mx).exp()).collect();
                let sum: f32 = e.iter().sum();
                e.iter().map(|v| v / sum).collect()
            }
        })
        .collect()
}

/// (class, score) for each input; batches of `batch_size`, truncated to `max_len`.
#[cfg(not(target_arch = "wasm32"))]
pub fn predict(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    inputs: Inputs,
    max_len: usize,
    batch_size: usize,
) -> Result<Vec<(usize, f32)>> {
    pollster::block_on(predict_async(gpu, model, tok, inputs, max_len, batch_size))
}

/// [`predict`], awaiting each batch's read-back.
pub async fn predict_async(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    inputs: Inputs<'_>,
    max_len: usize,
    batch_size: usize,
) -> Result<Vec<(usize, f32)>> {
    let enc = inputs.encode(tok, max_len);
    let logits = logits_async(gpu, model, &enc, tok.pad_id(), batch_size, |_| {}).await?;
    Ok(predictions(&logits, model.num_labels))
}
