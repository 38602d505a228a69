//! Sentence embeddings from the encoder: [CLS] hidden state, pooler output, or the mean of the
//! token states under the attention mask (sentence-transformers' pooling).

use std::sync::Arc;

use super::{batched_rows, Encoded, Inputs};
use crate::gpu::{Gpu, GpuError};
use crate::model::{BertClassifier, Dropouts, Pooling, Rows};
use crate::tokenizer::Tokenizer;

/// One embedding per input; inputs are batched `batch` at a time, padded to the longest in the
/// batch and truncated to `max_len`.
#[cfg(not(target_arch = "wasm32"))]
pub fn embed(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    inputs: Inputs,
    max_len: usize,
    pool: Pooling,
    batch: usize,
) -> Result<Vec<Vec<f32>>, GpuError> {
    pollster::block_on(embed_async(gpu, model, tok, inputs, max_len, pool, batch))
}

/// `embed`, awaiting each batch's read-back (the browser cannot block on one).
pub async fn embed_async(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    inputs: Inputs<'_>,
    max_len: usize,
    pool: Pooling,
    batch: usize,
) -> Result<Vec<Vec<f32>>, GpuError> {
    let enc = inputs.encode(tok, max_len);
    let flat = embed_encoded_async(gpu, model, &enc, tok.pad_id(), pool, batch).await?;
    let c = model.config.hidden_size;
    Ok(flat.chunks(c).map(|r| r.to_vec()).collect())
}

/// The pooled embeddings (N·C) of examples already encoded, in their order: the step `embed`
/// and the server's batches share.
pub async fn embed_encoded_async(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    enc: &Encoded,
    pad_id: u32,
    pool: Pooling,
    batch: usize,
) -> Result<Vec<f32>, GpuError> {
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    // Pooled on the GPU: only (B, C) comes back.
    batched_rows(
        gpu,
        model,
        enc,
        pad_id,
        batch,
        model.config.hidden_size,
        |_| {},
        |tape, b| model.summarize(tape, &b.tokens, &b.mask, none, Rows::Cls, pool),
    )
    .await
}

/// Scales each vector to unit length (sentence-transformers' `Normalize`, TEI's `normalize`);
/// a zero vector stays zero.
pub fn normalize(vectors: &mut [Vec<f32>]) {
    for v in vectors {
        let norm = v.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
        }
    }
}
