//! Sentence embeddings from the encoder: [CLS] hidden state, pooler output, or the mean of the
//! token states under the attention mask (sentence-transformers' pooling).

use std::sync::Arc;

use super::{BertClassifier, Dropouts, Rows};
use crate::autograd::Tape;
use crate::gpu::{Gpu, GpuError};
use crate::ops::embedding::TokenBatch;
use crate::tokenizer::{Encoding, Tokenizer};

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
    let c = model.config.hidden_size;
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let mut out = Vec::with_capacity(encodings.len());
    for encs in encodings.chunks(batch.max(1)) {
        let t = encs.iter().map(|e| e.real_len()).max().unwrap_or(2).max(1);
        let b = encs.len();
        let (mut ids, mut types, mut mask) =
            (Vec::with_capacity(b * t), Vec::with_capacity(b * t), Vec::with_capacity(b * t));
        for e in encs {
            ids.extend_from_slice(&e.ids[..t]);
            types.extend_from_slice(&e.type_ids[..t]);
            mask.extend(e.attention_mask[..t].iter().map(|&m| m as f32));
        }
        let tb = Arc::new(TokenBatch::upload(
            gpu,
            &ids,
            &types,
            b,
            t,
            model.config.vocab_size,
            model.config.type_vocab_size,
        )?);
        let mask_t = gpu.upload("attention mask", &[b, t], &mask)?;
        let mut tape = Tape::inference(gpu);
        // Pooled on the GPU: only (B, C) comes back.
        let v = model.summarize(&mut tape, &tb, &mask_t, none, Rows::Cls, pool)?;
        out.extend(v.value.to_vec_async().await?.chunks(c).map(|r| r.to_vec()));
    }
    Ok(out)
}
