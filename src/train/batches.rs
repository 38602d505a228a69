//! Texts to token ids once, then batches padded to their longest sequence (padding beyond it
//! would change nothing: padded keys are masked and [CLS] never sees them).

use std::sync::Arc;

use crate::data::Dataset;
use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::embedding::TokenBatch;
use crate::tokenizer::Tokenizer;

/// A dataset as token ids ([CLS] a [SEP], or [CLS] a [SEP] b [SEP] for pairs, truncated to
/// max_len, unpadded), their token type ids, and labels.
pub struct Encoded {
    pub ids: Vec<Vec<u32>>,
    /// 0 for the first text's tokens, 1 for the pair's (all 0 without pairs).
    pub type_ids: Vec<Vec<u32>>,
    pub labels: Vec<usize>,
}

impl Encoded {
    /// Encodes every example; examples with a `pair` as pairs (longest-first truncation, as HF).
    pub fn new(tok: &Tokenizer, data: &Dataset, max_len: usize) -> Encoded {
        let encodings = if data.examples.iter().any(|e| e.pair.is_some()) {
            let pairs: Vec<(&str, &str)> =
                data.examples.iter().map(|e| (e.text.as_str(), e.pair.as_deref().unwrap_or(""))).collect();
            tok.encode_pair_batch(&pairs, max_len)
        } else {
            let texts: Vec<&str> = data.examples.iter().map(|e| e.text.as_str()).collect();
            tok.encode_batch(&texts, max_len)
        };
        let (mut ids, mut type_ids) = (Vec::with_capacity(data.len()), Vec::with_capacity(data.len()));
        for e in encodings {
            ids.push(e.ids[..e.real_len()].to_vec());
            type_ids.push(e.type_ids[..e.real_len()].to_vec());
        }
        Encoded { ids, type_ids, labels: data.examples.iter().map(|e| e.label).collect() }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One batch on the GPU.
pub struct Batch {
    pub tokens: Arc<TokenBatch>,
    pub mask: Tensor,
    /// f32: 0/1 for binary, the class index otherwise.
    pub labels: Tensor,
    pub host_labels: Vec<usize>,
}

/// Uploads examples `rows` of `enc`, padded with `pad_id` to the longest among them.
pub fn make_batch(
    gpu: &Arc<Gpu>,
    enc: &Encoded,
    rows: &[usize],
    pad_id: u32,
    vocab: usize,
    types: usize,
) -> Result<Batch, GpuError> {
    let b = rows.len();
    let t = rows.iter().map(|&r| enc.ids[r].len()).max().unwrap_or(2).max(1);
    let mut ids = vec![pad_id; b * t];
    let mut type_ids = vec![0u32; b * t];
    let mut mask = vec![0.0f32; b * t];
    for (i, &r) in rows.iter().enumerate() {
        let s = &enc.ids[r];
        ids[i * t..i * t + s.len()].copy_from_slice(s);
        type_ids[i * t..i * t + s.len()].copy_from_slice(&enc.type_ids[r]);
        mask[i * t..i * t + s.len()].fill(1.0);
    }
    let host_labels: Vec<usize> = rows.iter().map(|&r| enc.labels[r]).collect();
    let labels: Vec<f32> = host_labels.iter().map(|&l| l as f32).collect();
    Ok(Batch {
        tokens: Arc::new(TokenBatch::upload(gpu, &ids, &type_ids, b, t, vocab, types)?),
        mask: gpu.upload("attention mask", &[b, t], &mask)?,
        labels: gpu.upload("labels", &[b], &labels)?,
        host_labels,
    })
}
