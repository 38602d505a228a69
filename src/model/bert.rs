//! BERT for sequence classification, the same maths as HF `BertForSequenceClassification`:
//!
//!   x = LayerNorm(word[ids] + pos[t] + type[types]) → dropout
//!   L × { qkv = x·Wqkvᵀ (one fused projection) → attention → dense → LayerNorm(dropout(·) + x)
//!         → GELU(dense) → dense → LayerNorm(dropout(·) + x) }
//!   (add & norm: one kernel; GELU: the dense layer's matmul epilogue)
//!   pooled = tanh(dense(x[:, 0])) → dropout → logits = dense(pooled)     (B, labels)
//!   (or, by `pooling`, pooled = x[:, 0], or the mean of x's rows under the attention mask)
//!
//! Q, K and V are stored fused as one (3C, C) weight; `export_tensors` splits them back into
//! HF's names, so checkpoints go in and out in the Hugging Face layout.

use std::sync::Arc;

use crate::autograd::{Param, ParamStore, Tape, Var};
use crate::checkpoint::{BertConfig, Checkpoint, HiddenAct, HostTensor};
use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::attention::AttentionShape;
use crate::ops::embedding::TokenBatch;
use crate::ops::gelu::GeluKind;

use super::{normal_init, Pooling};

/// Indices into the parameter store of one encoder layer.
struct Layer {
    qkv_w: usize,
    qkv_b: usize,
    attn_out_w: usize,
    attn_out_b: usize,
    attn_ln_w: usize,
    attn_ln_b: usize,
    inter_w: usize,
    inter_b: usize,
    out_w: usize,
    out_b: usize,
    out_ln_w: usize,
    out_ln_b: usize,
}

/// Which tokens' hidden states the encoder returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// Every token's: (B·T, C).
    All,
    /// Token 0's ([CLS]) alone: (B, C).
    Cls,
}

/// Dropout probabilities while training (all 0 for inference, which the tape enforces anyway).
#[derive(Clone, Copy, Debug)]
pub struct Dropouts {
    pub hidden: f32,
    pub attention: f32,
    pub classifier: f32,
}

pub struct BertClassifier {
    pub config: BertConfig,
    pub num_labels: usize,
    /// What the classification head reads (the pooler output unless the caller sets another).
    pub pooling: Pooling,
    /// Trained on sentence pairs: each input is two texts, `[CLS] a [SEP] b [SEP]`.
    pub text_pairs: bool,
    /// The embeddings and the first `frozen_layers` encoder layers are frozen (0: none): they
    /// run without recording, in inference mode (no dropout), and the optimizer skips them.
    frozen_layers: usize,
    pub params: ParamStore,
    word: usize,
    pos: usize,
    ttype: usize,
    emb_ln_w: usize,
    emb_ln_b: usize,
    layers: Vec<Layer>,
    /// The pooler's (weight, bias): absent when an encoder-only checkpoint has none.
    pooler: Option<(usize, usize)>,
    /// The classification head's (weight (labels, C), bias): absent for an encoder.
    classifier: Option<(usize, usize)>,
    /// The parts initialised here rather than read from the checkpoint (`Head::Train`).
    fresh: Vec<String>,
    /// Inference runs the linear layers' products on their inputs and weights rounded to f16
    /// (`infer::run_half`); training's own validation runs in f32, as its figures always have.
    pub half_inference: bool,
}

/// Where the pooler and the classification head come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// The encoder alone (`embed`): the checkpoint's pooler where it has one, no classifier.
    Encoder,
    /// The checkpoint's own head with however many outputs it has (`predict`, `eval`,
    /// serving): `classifier.weight` and `.bias` must be there, and the pooler where it is stored.
    Stored,
    /// A head of `num_labels` outputs to fine-tune: the checkpoint's where it has that shape,
    /// else a fresh one, N(0, initializer_range²) weights and zero biases drawn from `seed`;
    /// a missing pooler is fresh too (`BertClassifier::fresh` names what was).
    Train { num_labels: usize, seed: u64 },
}

fn activation(act: HiddenAct) -> GeluKind {
    match act {
        HiddenAct::Gelu => GeluKind::Erf,
        HiddenAct::GeluNew => GeluKind::Tanh,
        HiddenAct::Relu => GeluKind::Relu,
    }
}

/// Rows stacked: the fused Q/K/V weight (3C, C) or bias (3C).
fn concat(parts: [&HostTensor; 3]) -> HostTensor {
    let mut shape = parts[0].shape.clone();
    shape[0] *= 3;
    HostTensor::new(shape, parts.iter().flat_map(|t| t.data.iter().copied()).collect())
}

impl BertClassifier {
    /// Uploads a checkpoint, with the pooler and head that `head` asks for. A tensor the model
    /// needs that is missing or of another shape is an error naming it.
    pub fn from_checkpoint(
        gpu: &Arc<Gpu>,
        config: &BertConfig,
        ckpt: &Checkpoint,
        head: Head,
    ) -> Result<BertClassifier, anyhow::Error> {
        config.validate()?;
        let (c, inter) = (config.hidden_size, config.intermediate_size);
        let mut params = ParamStore::default();
        let add = |params: &mut ParamStore, name: &str, t: &HostTensor| -> Result<usize, GpuError> {
            Ok(params.add(Param::new(gpu, name, &t.shape, &t.data)?))
        };
        let get = |name: &str, shape: &[usize]| ckpt.tensor_with_shape(name, shape);
        let word = add(
            &mut params,
            "embeddings.word_embeddings.weight",
            get("embeddings.word_embeddings.weight", &[config.vocab_size, c])?,
        )?;
        let pos = add(
            &mut params,
            "embeddings.position_embeddings.weight",
            get("embeddings.position_embeddings.weight", &[config.max_position_embeddings, c])?,
        )?;
        let ttype = add(
            &mut params,
            "embeddings.token_type_embeddings.weight",
            get("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, c])?,
        )?;
        let emb_ln_w = add(&mut params, "embeddings.LayerNorm.weight", get("embeddings.LayerNorm.weight", &[c])?)?;
        let emb_ln_b = add(&mut params, "embeddings.LayerNorm.bias", get("embeddings.LayerNorm.bias", &[c])?)?;
        let mut layers = Vec::new();
        for l in 0..config.num_hidden_layers {
            let n = |s: &str| format!("encoder.layer.{l}.{s}");
            let qkv = |part: &str, shape: &[usize]| -> Result<HostTensor, anyhow::Error> {
                let q = get(&n(&format!("attention.self.query.{part}")), shape)?;
                let k = get(&n(&format!("attention.self.key.{part}")), shape)?;
                let v = get(&n(&format!("attention.self.value.{part}")), shape)?;
                Ok(concat([q, k, v]))
            };
            let mut p = |name: &str, shape: &[usize]| -> Result<usize, anyhow::Error> {
                Ok(add(&mut params, &n(name), get(&n(name), shape)?)?)
            };
            let attn_out_w = p("attention.output.dense.weight", &[c, c])?;
            let attn_out_b = p("attention.output.dense.bias", &[c])?;
            let attn_ln_w = p("attention.output.LayerNorm.weight", &[c])?;
            let attn_ln_b = p("attention.output.LayerNorm.bias", &[c])?;
            let inter_w = p("intermediate.dense.weight", &[inter, c])?;
            let inter_b = p("intermediate.dense.bias", &[inter])?;
            let out_w = p("output.dense.weight", &[c, inter])?;
            let out_b = p("output.dense.bias", &[c])?;
            let out_ln_w = p("output.LayerNorm.weight", &[c])?;
            let out_ln_b = p("output.LayerNorm.bias", &[c])?;
            let qkv_w = add(&mut params, &n("attention.self.qkv.weight"), &qkv("weight", &[c, c])?)?;
            let qkv_b = add(&mut params, &n("attention.self.qkv.bias"), &qkv("bias", &[c])?)?;
            layers.push(Layer {
                qkv_w,
                qkv_b,
                attn_out_w,
                attn_out_b,
                attn_ln_w,
                attn_ln_b,
                inter_w,
                inter_b,
                out_w,
                out_b,
                out_ln_w,
                out_ln_b,
            });
        }
        let (pooler, classifier, fresh) = head_tensors(config, ckpt, head)?;
        let add_pair = |params: &mut ParamStore, names: [&str; 2], t: Option<(HostTensor, HostTensor)>| {
            t.map(|(w, b)| -> Result<(usize, usize), GpuError> {
                Ok((add(params, names[0], &w)?, add(params, names[1], &b)?))
            })
            .transpose()
        };
        let pooler = add_pair(&mut params, ["pooler.dense.weight", "pooler.dense.bias"], pooler)?;
        let classifier = add_pair(&mut params, ["classifier.weight", "classifier.bias"], classifier)?;
        params.pack(gpu)?;
        let num_labels = classifier.map_or(0, |(w, _)| params.get(w).value.shape()[0]);
        Ok(BertClassifier {
            config: config.clone(),
            num_labels,
            pooling: Pooling::Pooler,
            text_pairs: false,
            frozen_layers: 0,
            params,
            word,
            pos,
            ttype,
            emb_ln_w,
            emb_ln_b,
            layers,
            pooler,
            classifier,
            fresh,
            half_inference: false,
        })
    }

    fn p(&self, i: usize) -> &Param {
        self.params.get(i)
    }

    /// The encoder's last hidden state: (B·T, C) for `Rows::All`, (B, C) for `Rows::Cls`.
    pub fn encode(
        &self,
        tape: &mut Tape,
        batch: &Arc<TokenBatch>,
        mask: &Tensor,
        drop: Dropouts,
        rows: Rows,
    ) -> Result<Var, GpuError> {
        let cfg = &self.config;
        let eps = cfg.layer_norm_eps;
        if batch.t > cfg.max_position_embeddings {
            return Err(GpuError::Shape(format!(
                "sequence length {} exceeds max_position_embeddings {}",
                batch.t, cfg.max_position_embeddings
            )));
        }
        let shape = AttentionShape { b: batch.b, t: batch.t, nh: cfg.num_attention_heads, hs: cfg.head_size() };
        let act = activation(cfg.hidden_act);
        let frozen = self.frozen_layers;
        let embed = |tape: &mut Tape| -> Result<Var, GpuError> {
            let x = tape.embedding(batch, self.p(self.word), self.p(self.pos), self.p(self.ttype))?;
            let x = tape.layernorm(&x, self.p(self.emb_ln_w), self.p(self.emb_ln_b), eps)?;
            tape.dropout(&x, drop.hidden)
        };
        let mut x = if frozen > 0 { tape.without_recording(embed)? } else { embed(tape)? };
        for (i, l) in self.layers.iter().enumerate() {
            let layer = |tape: &mut Tape, x: Var| self.layer(tape, l, x, mask, shape, drop, act, i, rows, batch);
            x = if i < frozen { tape.without_recording(|t| layer(t, x))? } else { layer(tape, x)? };
        }
        if rows == Rows::Cls && self.layers.is_empty() {
            x = tape.first_token(&x, batch.b, batch.t)?;
        }
        Ok(x)
    }

    /// Encoder layer `i` (`l`) on x.
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &self,
        tape: &mut Tape,
        l: &Layer,
        x: Var,
        mask: &Tensor,
        shape: AttentionShape,
        drop: Dropouts,
        act: GeluKind,
        i: usize,
        rows: Rows,
        batch: &Arc<TokenBatch>,
    ) -> Result<Var, GpuError> {
        let eps = self.config.layer_norm_eps;
        let qkv = tape.linear(&x, self.p(l.qkv_w), self.p(l.qkv_b))?;
        // Keys and values come from every token; in the last layer of `Rows::Cls` only token
        // 0's query, residual and feed-forward are computed, as nothing else reaches the output.
        let cls_only = rows == Rows::Cls && i + 1 == self.layers.len();
        let (ctx, residual) = if cls_only {
            let ctx = tape.attention_cls(&qkv, mask, shape, drop.attention)?;
            (ctx, tape.first_token(&x, batch.b, batch.t)?)
        } else {
            (tape.attention(&qkv, mask, shape, drop.attention)?, x)
        };
        let a = tape.linear(&ctx, self.p(l.attn_out_w), self.p(l.attn_out_b))?;
        let x1 = tape.add_layernorm(&a, &residual, drop.hidden, self.p(l.attn_ln_w), self.p(l.attn_ln_b), eps)?;
        let o = tape.feed_forward(&x1, self.p(l.inter_w), self.p(l.inter_b), self.p(l.out_w), self.p(l.out_b), act)?;
        tape.add_layernorm(&o, &x1, drop.hidden, self.p(l.out_ln_w), self.p(l.out_ln_b), eps)
    }

    /// Freezes the embeddings and the first `k` encoder layers (`wgbert train --freeze-layers`):
    /// they keep their pretrained weights, run in inference mode, and the backward pass stops
    /// above them. 0 unfreezes everything; the pooler and the classifier always train.
    pub fn freeze_layers(&mut self, k: usize) -> Result<(), GpuError> {
        if k > self.layers.len() {
            return Err(GpuError::Shape(format!(
                "--freeze-layers {k}: the model has {} encoder layers",
                self.layers.len()
            )));
        }
        // The parameters were added in model order: embeddings, layer 0, 1, …, pooler, head.
        let first_trainable = match k {
            0 => 0,
            k if k < self.layers.len() => self.layers[k].attn_out_w,
            _ => self.pooler.or(self.classifier).map_or(self.params.len(), |(w, _)| w),
        };
        self.params.freeze_prefix(first_trainable)?;
        self.frozen_layers = k;
        Ok(())
    }

    pub fn frozen_layers(&self) -> usize {
        self.frozen_layers
    }

    /// The pooler output tanh(dense(h₀)) (B, C) of the first tokens' hidden states h₀ (B, C).
    pub fn pool(&self, tape: &mut Tape, cls: &Var) -> Result<Var, GpuError> {
        let (w, b) = self.pooler.ok_or_else(|| {
            GpuError::Shape(
                "the checkpoint has no pooler weights (pooler.dense.weight, pooler.dense.bias): pool by cls or mean instead".into(),
            )
        })?;
        let pooled = tape.linear(cls, self.p(w), self.p(b))?;
        tape.tanh(&pooled)
    }

    /// Whether the checkpoint gave (or training initialised) BERT's pooler.
    pub fn has_pooler(&self) -> bool {
        self.pooler.is_some()
    }

    /// Whether there is a classification head (an encoder loaded with `Head::Encoder` has none).
    pub fn has_classifier(&self) -> bool {
        self.classifier.is_some()
    }

    /// The parts `Head::Train` initialised fresh rather than read from the checkpoint, each
    /// with the reason ("classifier: the checkpoint has none").
    pub fn fresh(&self) -> &[String] {
        &self.fresh
    }

    /// Logits (B, labels). The last layer runs for token 0 alone (`Rows::Cls`): the same
    /// logits as the full encoder, for about an eighth less arithmetic with MiniLM's 6 layers.
    pub fn forward(
        &self,
        tape: &mut Tape,
        batch: &Arc<TokenBatch>,
        mask: &Tensor,
        drop: Dropouts,
    ) -> Result<Var, GpuError> {
        self.forward_rows(tape, batch, mask, drop, Rows::Cls)
    }

    /// `forward` with the encoder's rows chosen by the caller (`Rows::All` computes every
    /// token's last layer too: the benchmark and the tests compare both).
    pub fn forward_rows(
        &self,
        tape: &mut Tape,
        batch: &Arc<TokenBatch>,
        mask: &Tensor,
        drop: Dropouts,
        rows: Rows,
    ) -> Result<Var, GpuError> {
        let (w, b) = self.classifier.ok_or_else(|| {
            GpuError::Shape("the checkpoint has no classification head (classifier.weight, classifier.bias)".into())
        })?;
        let pooled = self.summarize(tape, batch, mask, drop, rows, self.pooling)?;
        let pooled = tape.dropout(&pooled, drop.classifier)?;
        tape.linear(&pooled, self.p(w), self.p(b))
    }

    /// One vector (B, C) per sequence, as `pooling` says: what the head reads, and what
    /// `embed` returns. `Rows::Cls` runs the last layer for token 0 alone where the pooling
    /// allows it (the mean reads every token's last layer).
    pub fn summarize(
        &self,
        tape: &mut Tape,
        batch: &Arc<TokenBatch>,
        mask: &Tensor,
        drop: Dropouts,
        rows: Rows,
        pooling: Pooling,
    ) -> Result<Var, GpuError> {
        let rows = if pooling == Pooling::Mean { Rows::All } else { rows };
        let hidden = self.encode(tape, batch, mask, drop, rows)?;
        match (pooling, rows) {
            (Pooling::Mean, _) => tape.mean_tokens(&hidden, mask, batch.b, batch.t),
            (Pooling::Cls, Rows::Cls) => Ok(hidden),
            (Pooling::Cls, Rows::All) => tape.first_token(&hidden, batch.b, batch.t),
            (Pooling::Pooler, Rows::Cls) => self.pool(tape, &hidden),
            (Pooling::Pooler, Rows::All) => {
                let cls = tape.first_token(&hidden, batch.b, batch.t)?;
                self.pool(tape, &cls)
            }
        }
    }

    /// Every parameter (or, with `grads`, its gradient) under Hugging Face's
    /// `BertForSequenceClassification` names: `bert.*` and `classifier.*`, Q/K/V split again.
    pub fn export_tensors(&self, grads: bool) -> Result<Vec<(String, HostTensor)>, GpuError> {
        crate::gpu::no_blocking_in_browser("exporting tensors (await export_tensors_async)")?;
        pollster::block_on(self.export_tensors_async(grads))
    }

    /// [`export_tensors`](Self::export_tensors), awaiting each read-back (the browser cannot block).
    pub async fn export_tensors_async(&self, grads: bool) -> Result<Vec<(String, HostTensor)>, GpuError> {
        let c = self.config.hidden_size;
        let mut out = Vec::new();
        for p in self.params.iter() {
            let t = if grads { &p.grad } else { &p.value };
            let data = t.to_vec_async().await?;
            let prefix = if p.name.starts_with("classifier.") { "" } else { "bert." };
            if let Some(stem) = p
                .name
                .strip_suffix("attention.self.qkv.weight")
                .or_else(|| p.name.strip_suffix("attention.self.qkv.bias"))
            {
                let kind = if p.name.ends_with("weight") { "weight" } else { "bias" };
                let per = data.len() / 3;
                for (i, part) in ["query", "key", "value"].iter().enumerate() {
                    let shape = if kind == "weight" { vec![c, c] } else { vec![c] };
                    out.push((
                        format!("{prefix}{stem}attention.self.{part}.{kind}"),
                        HostTensor::new(shape, data[i * per..(i + 1) * per].to_vec()),
                    ));
                }
            } else {
                out.push((format!("{prefix}{}", p.name), HostTensor::new(t.shape().to_vec(), data)));
            }
        }
        Ok(out)
    }
}

type Pair = (HostTensor, HostTensor);

/// The pooler's and the head's tensors as `head` asks for them, and what was made fresh (with
/// why). Whatever is taken from the checkpoint has exactly the shape the model needs.
fn head_tensors(
    config: &BertConfig,
    ckpt: &Checkpoint,
    head: Head,
) -> anyhow::Result<(Option<Pair>, Option<Pair>, Vec<String>)> {
    let c = config.hidden_size;
    // Both tensors of a pair, or neither; a half or a mis-shaped one is an error naming it.
    let stored = |w: &str, b: &str, rows: Option<usize>| -> anyhow::Result<Option<Pair>> {
        match (ckpt.get(w), ckpt.get(b)) {
            (None, None) => Ok(None),
            (Some(wt), Some(bt)) => {
                let r = rows.unwrap_or(wt.shape[0]);
                for (name, t, want) in [(w, wt, vec![r, c]), (b, bt, vec![r])] {
                    if t.shape != want || r == 0 {
                        anyhow::bail!("tensor {name}: expected shape {want:?}, found {:?}", t.shape);
                    }
                }
                Ok(Some((wt.clone(), bt.clone())))
            }
            (Some(_), None) => anyhow::bail!("tensor {b} is missing from the checkpoint (it has {w})"),
            (None, Some(_)) => anyhow::bail!("tensor {w} is missing from the checkpoint (it has {b})"),
        }
    };
    let pooler = stored("pooler.dense.weight", "pooler.dense.bias", Some(c))?;
    let std = config.initializer_range;
    let fresh_pair = |rows: usize, seed: u64| {
        (HostTensor::new(vec![rows, c], normal_init(rows * c, std, seed)), HostTensor::new(vec![rows], vec![0.0; rows]))
    };
    match head {
        Head::Encoder => Ok((pooler, None, vec![])),
        Head::Stored => {
            let classifier = stored("classifier.weight", "classifier.bias", None)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no classifier weights (classifier.weight): this is an encoder, not a classifier; fine-tune one first with `wgbert train`"
                )
            })?;
            Ok((pooler, Some(classifier), vec![]))
        }
        Head::Train { num_labels, seed } => {
            let mut fresh = vec![];
            let pooler = pooler.unwrap_or_else(|| {
                fresh.push("pooler: the checkpoint has none".to_string());
                fresh_pair(c, seed)
            });
            let classifier = match (ckpt.get("classifier.weight"), ckpt.get("classifier.bias")) {
                (Some(w), Some(b)) if w.shape == [num_labels, c] && b.shape == [num_labels] => (w.clone(), b.clone()),
                (Some(w), _) => {
                    fresh.push(format!(
                        "classifier: the checkpoint's has {} outputs (shape {:?}), this run needs {num_labels}",
                        w.shape.first().copied().unwrap_or(0),
                        w.shape
                    ));
                    fresh_pair(num_labels, seed ^ 0x5eed)
                }
                (None, _) => {
                    fresh.push("classifier: the checkpoint has none".to_string());
                    fresh_pair(num_labels, seed ^ 0x5eed)
                }
            };
            Ok((Some(pooler), Some(classifier), fresh))
        }
    }
}
