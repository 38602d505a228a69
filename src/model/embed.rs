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

/// One embedding per text; texts are batched `batch` at a time, padded to the longest in the
/// batch and truncated to `max_len`.
#[cfg(not(target_arch = "wasm32"))]
pub fn embed_texts(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    texts: &[String],
    max_len: usize,
    pool: Pooling,
    batch: usize,
) -> Result<Vec<Vec<f32>>, GpuError> {
    pollster::block_on(embed_texts_async(gpu, model, tok, texts, max_len, pool, batch))
}

/// `embed_texts`, awaiting each batch's read-back (the browser cannot block on one).
pub async fn embed_texts_async(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    texts: &[String],
    max_len: usize,
    pool: Pooling,
    batch: usize,
) -> Result<Vec<Vec<f32>>, GpuError> {
    let encs: Vec<Encoding> = texts.iter().map(|t| tok.encode_for_model(t, max_len)).collect();
    embed_encodings_async(gpu, model, &encs, pool, batch).await
}

/// One embedding per sentence pair, encoded `[CLS] a [SEP] b [SEP]` (token types 0 then 1,
/// the longer side truncated first).
#[cfg(not(target_arch = "wasm32"))]
pub fn embed_pairs(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    tok: &Tokenizer,
    pairs: &[(String, String)],
    max_len: usize,
    pool: Pooling,
    batch: usize,
) -> Result<Vec<Vec<f32>>, GpuError> {
    let encs: Vec<Encoding> = pairs.iter().map(|(a, b)| tok.encode_pair(a, b, max_len)).collect();
    pollster::block_on(embed_encodings_async(gpu, model, &encs, pool, batch))
}

async fn embed_encodings_async(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    encodings: &[Encoding],
    pool: Pooling,
    batch: usize,
) -> Result<Vec<Vec<f32>>, GpuError> {
    let c = model.config.hidden_size;
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
        let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
        if pool == Pooling::Mean {
            let h = model.encode(&mut tape, &tb, &mask_t, none, Rows::All)?.value.to_vec_async().await?;
            for (rows, m) in h.chunks(t * c).zip(mask.chunks(t)) {
                let n = m.iter().sum::<f32>().max(1e-9);
                let mut v = vec![0.0f32; c];
                for (j, w) in m.iter().enumerate() {
                    for k in 0..c {
                        v[k] += w * rows[j * c + k];
                    }
                }
                out.push(v.iter().map(|x| x / n).collect());
            }
            continue;
        }
        // [CLS] and pooler need token 0 alone: its last layer is all that runs.
        let mut cls = model.encode(&mut tape, &tb, &mask_t, none, Rows::Cls)?;
        if pool == Pooling::Pooler {
            cls = model.pool(&mut tape, &cls)?;
        }
        out.extend(cls.value.to_vec_async().await?.chunks(c).map(|r| r.to_vec()));
    }
    Ok(out)
}
