//! BERT's input embeddings (embedding.wgsl): word + position + token type per token.
//!
//! A batch of ids is uploaded once together with, for the backward, the tokens grouped by the
//! table row they read (CSR). The host has the ids anyway, so grouping costs no read-back and
//! lets the backward sum each row's gradient in a fixed order, without atomics.

use std::sync::Arc;

use super::grid_1d;
use crate::gpu::{shape_err, Arg, Gpu, GpuError, Kernel, Shader, Tensor};

/// Tokens grouped by table row: group g reads row `rows[g]`; its tokens are
/// `members[start[g]..start[g+1]]`, in increasing token order.
pub struct RowGroups {
    pub rows: Tensor,
    pub start: Tensor,
    pub members: Tensor,
    pub count: usize,
}

impl RowGroups {
    /// Groups token indices 0..keys.len() by key (the table row each token reads).
    pub fn build(gpu: &Arc<Gpu>, keys: &[u32]) -> Result<RowGroups, GpuError> {
        let (mut rows, mut start, members) = group_by_key(keys);
        let count = rows.len();
        // Sized for the most groups a batch can have (one per token), not for this batch's
        // count: every batch of a shape then takes the same buffers from the pool, and memory
        // stays flat however the data's vocabulary varies. Only `count` groups are read.
        rows.resize(keys.len().max(1), 0);
        start.resize(keys.len() + 1, keys.len() as u32);
        Ok(RowGroups {
            count,
            rows: gpu.upload_u32("embedding group rows", &[rows.len()], &rows)?,
            start: gpu.upload_u32("embedding group starts", &[start.len()], &start)?,
            members: gpu.upload_u32("embedding group members", &[members.len()], &members)?,
        })
    }
}

/// (rows, start, members) of the CSR grouping; stable, so members stay in token order.
pub fn group_by_key(keys: &[u32]) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_by_key(|&i| keys[i as usize]);
    let mut rows = Vec::new();
    let mut start = Vec::new();
    for (j, &i) in order.iter().enumerate() {
        let k = keys[i as usize];
        if rows.last() != Some(&k) {
            rows.push(k);
            start.push(j as u32);
        }
    }
    start.push(order.len() as u32);
    (rows, start, order)
}

/// One batch of token ids on the GPU, with what the embedding backward needs.
pub struct TokenBatch {
    pub b: usize,
    pub t: usize,
    pub ids: Tensor,
    pub type_ids: Tensor,
    pub word_groups: RowGroups,
    pub position_groups: RowGroups,
    pub type_groups: RowGroups,
}

impl TokenBatch {
    /// Uploads ids and token types (B·T each, row-major), checking them against the tables.
    pub fn upload(
        gpu: &Arc<Gpu>,
        ids: &[u32],
        type_ids: &[u32],
        b: usize,
        t: usize,
        vocab: usize,
        types: usize,
    ) -> Result<TokenBatch, GpuError> {
        if ids.len() != b * t || type_ids.len() != b * t {
            return Err(shape_err(format!(
                "token batch: {} ids and {} type ids for B·T = {b}·{t}",
                ids.len(),
                type_ids.len()
            )));
        }
        if let Some((i, id)) = ids.iter().enumerate().find(|(_, &id)| id as usize >= vocab) {
            return Err(shape_err(format!("token id {id} at position {i} is outside the vocabulary of {vocab}")));
        }
        if let Some((i, ty)) = type_ids.iter().enumerate().find(|(_, &ty)| ty as usize >= types) {
            return Err(shape_err(format!("token type {ty} at position {i} is outside the {types} token types")));
        }
        let positions: Vec<u32> = (0..b * t).map(|i| (i % t) as u32).collect();
        Ok(TokenBatch {
            b,
            t,
            ids: gpu.upload_u32("token ids", &[b, t], ids)?,
            type_ids: gpu.upload_u32("token type ids", &[b, t], type_ids)?,
            word_groups: RowGroups::build(gpu, ids)?,
            position_groups: RowGroups::build(gpu, &positions)?,
            type_groups: RowGroups::build(gpu, type_ids)?,
        })
    }
}

/// out (B·T, C) = word[ids] + pos[t] + type[type_ids].
pub fn embedding_forward(
    gpu: &Arc<Gpu>,
    batch: &TokenBatch,
    word: &Tensor,
    pos: &Tensor,
    ttype: &Tensor,
) -> Result<Tensor, GpuError> {
    let c = word.shape().last().copied().unwrap_or(0);
    let vocab = super::rows_of("embedding", word, c)?;
    let positions = super::rows_of("embedding", pos, c)?;
    let types = super::rows_of("embedding", ttype, c)?;
    if batch.t > positions {
        return Err(shape_err(format!("sequence length {} exceeds the {positions} position embeddings", batch.t)));
    }
    let tokens = batch.b * batch.t;
    let out = gpu.empty("embeddings", &[tokens, c])?;
    let params = [tokens as u32, c as u32, batch.t as u32, vocab as u32, 0, types as u32];
    gpu.launch(
        &Kernel::new(Shader::Embedding, "embed_fwd"),
        &params,
        &[Arg::R(&batch.ids), Arg::R(&batch.type_ids), Arg::R(word), Arg::R(pos), Arg::R(ttype), Arg::W(&out)],
        grid_1d(tokens * c, 256),
    )?;
    Ok(out)
}

/// dtable[row] += Σ dout[token] over the tokens of each group (accumulates).
pub fn embedding_backward(gpu: &Gpu, groups: &RowGroups, dout: &Tensor, dtable: &Tensor) -> Result<(), GpuError> {
    let c = dtable.shape().last().copied().unwrap_or(0);
    let tokens = super::rows_of("embedding backward", dout, c)?;
    if groups.members.numel() != tokens {
        return Err(shape_err(format!(
            "embedding backward: {} grouped tokens, gradient has {tokens}",
            groups.members.numel()
        )));
    }
    let params = [tokens as u32, c as u32, 0, 0, groups.count as u32, 0];
    gpu.launch(
        &Kernel::new(Shader::Embedding, "embed_bwd"),
        &params,
        &[Arg::R(&groups.rows), Arg::R(&groups.start), Arg::R(&groups.members), Arg::R(dout), Arg::W(dtable)],
        grid_1d(groups.count * c, 256),
    )
}
