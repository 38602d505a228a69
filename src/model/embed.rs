//! Sentence embeddings from the encoder: [CLS] hidden state, pooler output, or the mean of the
//! token states under the attention mask (sentence-transformers' pooling).

use std::sync::Arc;

use super::{BertClassifier, Dropouts, Rows};
use crate::gpu::{Gpu, GpuError};
use crate::tokenizer::{Encoding, Tokenizer};
use crate::train::{batched_rows, Encoded};

/// What summarizes a sequence: for `embed`, the vector returned; for the classifier, what its
/// head reads (`wgbert train --pool`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The last hidden state of [CLS].
    Cls,
    /// tanh(dense([CLS])): BERT's pooler output (HF `BertForSequenceClassification`'s head).
    #[default]
    Pooler,
    /// Mean of the token states where the attention mask is 1.
    Mean,
}

/// What `embed` encodes: single texts, or sentence pairs encoded `[CLS] a [SEP] b [SEP]`
/// (token types 0 then 1, the longer side truncated first).
#[derive(Clone, Copy, Debug)]
pub enum EmbedInputs<'a> {
    Texts(&'a [String]),
    Pairs(&'a [(String, String)]),
}

impl EmbedInputs<'_> {
    fn encode(self, tok: &Tokenizer, max_len: usize) -> Vec<Encoding> {
        match self {
            EmbedInputs::Texts(texts) => texts.iter().map(|t| tok.encode_for_model(t, max_len)).collect(),
            EmbedInputs::Pairs(pairs) => pairs.iter().map(|(a, b)| tok.encode_pair(a, b, max_len)).collect(),
        }
    }
}

/// One embedding per input; inputs are batched `batch` at a time, padded to the longest in the
/// batch and truncated to `max_len`.
#[cfg(not(target_arch = "wasm32"))]
pub fn embed(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    inputs: EmbedInputs,
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
    inputs: EmbedInputs<'_>,
    max_len: usize,
    pool: Pooling,
    batch: usize,
) -> Result<Vec<Vec<f32>>, GpuError> {
    let encodings = inputs.encode(tok, max_len);
    let n = encodings.len();
    let enc = Encoded::from_encodings(encodings, vec![0; n]);
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let c = model.config.hidden_size;
    // Pooled on the GPU: only (B, C) comes back.
    let flat = batched_rows(
        gpu,
        model,
        &enc,
        tok.pad_id(),
        batch,
        c,
        |_| {},
        |tape, b| model.summarize(tape, &b.tokens, &b.mask, none, Rows::Cls, pool),
    )
    .await?;
    Ok(flat.chunks(c).map(|r| r.to_vec()).collect())
}
