//! Texts to token ids once, then batches padded to their longest sequence (padding beyond it
//! would change nothing: padded keys are masked and [CLS] never sees them).

use std::sync::Arc;

use crate::autograd::{Tape, Var};
use crate::data::Dataset;
use crate::gpu::{DType, Gpu, GpuError, PendingRead, Tensor};
use crate::model::BertClassifier;
use crate::ops::embedding::TokenBatch;
use crate::tokenizer::{Encoding, Tokenizer};

/// A dataset as token ids ([CLS] a [SEP], or [CLS] a [SEP] b [SEP] for pairs, truncated to
/// max_len, unpadded), their token type ids, and labels.
pub struct Encoded {
    pub ids: Vec<Vec<u32>>,
    /// 0 for the first text's tokens, 1 for the pair's (all 0 without pairs).
    pub type_ids: Vec<Vec<u32>>,
    pub labels: Vec<usize>,
}

/// What a model reads: single texts, or sentence pairs encoded `[CLS] a [SEP] b [SEP]` (token
/// types 0 then 1, the longer side truncated first, as HF).
#[derive(Clone, Copy, Debug)]
pub enum Inputs<'a> {
    Texts(&'a [String]),
    Pairs(&'a [(String, String)]),
}

impl Inputs<'_> {
    pub fn len(&self) -> usize {
        match self {
            Inputs::Texts(t) => t.len(),
            Inputs::Pairs(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The inputs as token ids, truncated to `max_len` (labels all 0).
    pub fn encode(self, tok: &Tokenizer, max_len: usize) -> Encoded {
        let encodings = match self {
            Inputs::Texts(texts) => tok.encode_batch(&texts.iter().map(String::as_str).collect::<Vec<_>>(), max_len),
            Inputs::Pairs(pairs) => {
                tok.encode_pair_batch(&pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>(), max_len)
            }
        };
        let n = encodings.len();
        Encoded::from_encodings(encodings, vec![0; n])
    }
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
        Encoded::from_encodings(encodings, data.examples.iter().map(|e| e.label).collect())
    }

    /// The tokenizer's padded encodings, unpadded, with their labels.
    pub fn from_encodings(encodings: Vec<Encoding>, labels: Vec<usize>) -> Encoded {
        let (mut ids, mut type_ids) = (Vec::with_capacity(encodings.len()), Vec::with_capacity(encodings.len()));
        for e in encodings {
            ids.push(e.ids[..e.real_len()].to_vec());
            type_ids.push(e.type_ids[..e.real_len()].to_vec());
        }
        Encoded { ids, type_ids, labels }
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

/// Inference over every example of `enc`: `f` turns each batch into a (B, width) result, and
/// the rows come back (N·width) in the examples' order. Batches take examples of similar length
/// together (sorted by length), so that little of a batch is padding; `progress` hears how many
/// examples are done after each batch. Where the adapter queues work (GPUs), each batch is
/// submitted before the one before it is read back, so the GPU does not wait while the host
/// uploads and records.
#[allow(clippy::too_many_arguments)]
pub async fn batched_rows(
    gpu: &Arc<Gpu>,
    model: &BertClassifier,
    enc: &Encoded,
    pad_id: u32,
    batch_size: usize,
    width: usize,
    mut progress: impl FnMut(usize),
    f: impl Fn(&mut Tape, &Batch) -> Result<Var, GpuError>,
) -> Result<Vec<f32>, GpuError> {
    let mut order: Vec<usize> = (0..enc.len()).collect();
    order.sort_by_key(|&i| enc.ids[i].len());
    let mut out = vec![0.0f32; enc.len() * width];
    let mut done = 0;
    // The batch submitted whose result is unread, and its rows.
    let mut queued: Option<(PendingRead, &[usize])> = None;
    for rows in order.chunks(batch_size.max(1)) {
        let batch = make_batch(gpu, enc, rows, pad_id, model.config.vocab_size, model.config.type_vocab_size)?;
        let mut tape = if model.half_inference { Tape::inference_half(gpu) } else { Tape::inference(gpu) };
        let result = f(&mut tape, &batch)?.value;
        if result.dtype() != DType::F32 {
            return Err(GpuError::Shape(format!("inference: {} is {:?}, not f32", result.name(), result.dtype())));
        }
        let read = gpu.start_read(&[&result])?;
        let ready = if gpu.queues_work() { queued.replace((read, rows)) } else { Some((read, rows)) };
        if let Some((read, rows)) = ready {
            done += place(gpu, read, rows, width, &mut out).await?;
            progress(done);
        }
    }
    if let Some((read, rows)) = queued {
        done += place(gpu, read, rows, width, &mut out).await?;
        progress(done);
    }
    Ok(out)
}

/// Waits for a batch's (B, width) result and puts its rows in their examples' places; returns B.
async fn place(gpu: &Gpu, read: PendingRead, rows: &[usize], width: usize, out: &mut [f32]) -> Result<usize, GpuError> {
    let bytes = gpu.finish_read(read).await?.pop().unwrap_or_default();
    let v: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
    if v.len() != rows.len() * width {
        return Err(GpuError::Shape(format!("inference: {} values for {} rows of {width}", v.len(), rows.len())));
    }
    for (&r, z) in rows.iter().zip(v.chunks(width)) {
        out[r * width..(r + 1) * width].copy_from_slice(z);
    }
    Ok(rows.len())
}
