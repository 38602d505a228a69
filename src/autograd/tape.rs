//! The tape: variables, the ops BERT needs (forward and backward side by side) and `backward`.

use std::collections::HashMap;
use std::sync::Arc;

use super::Param;
use crate::gpu::{Gpu, GpuError, Tensor};
use crate::ops::adamw::control;
use crate::ops::attention::{
    attention_backward, attention_forward, cls_backward, cls_forward, AttentionShape, ProbDropout,
};
use crate::ops::embedding::{embedding_backward, embedding_forward, TokenBatch};
use crate::ops::gelu::{gelu_backward, GeluKind};
use crate::ops::layernorm::{
    add_layernorm_backward, add_layernorm_forward, layernorm_backward, layernorm_forward, AddDropout,
};
use crate::ops::loss::{loss_backward, loss_backward_scaled, loss_forward};
use crate::ops::{elementwise, matmul};

type Result<T> = std::result::Result<T, GpuError>;

/// A value on the tape. Cloning shares the tensor.
#[derive(Clone, Debug)]
pub struct Var {
    id: usize,
    pub value: Tensor,
    /// Made while the tape recorded: a gradient can flow back through it. Values computed in
    /// a `without_recording` segment (frozen layers) are constants.
    needs_grad: bool,
}

/// Gradients of the variables, filled as the backward pass reaches them.
struct Grads {
    gpu: Arc<Gpu>,
    map: HashMap<usize, Tensor>,
}

impl Grads {
    /// The gradient of `v`, handed over to its consumer (and freed with it).
    fn take(&mut self, v: usize) -> Option<Tensor> {
        self.map.remove(&v)
    }

    /// The gradient of `v` so far, handed over to be added into in place, when nothing else
    /// holds its buffer (the same gradient tensor may be handed to several inputs: residual
    /// adds); else None, and the consumer makes a new one for `add`.
    fn take_to_add_into(&mut self, v: usize) -> Option<Tensor> {
        if self.map.get(&v).is_some_and(|t| t.is_sole_owner()) {
            return self.map.remove(&v);
        }
        None
    }

    /// Adds `g` to the gradient of `v`. A new sum is made rather than writing into either
    /// tensor: the same gradient tensor may be handed to several inputs (residual adds).
    fn add(&mut self, v: usize, g: Tensor) -> Result<()> {
        let g = match self.map.remove(&v) {
            Some(prev) => elementwise::add(&self.gpu, &prev, &g)?,
            None => g,
        };
        self.map.insert(v, g);
        Ok(())
    }
}

type Backward = Box<dyn FnOnce(&mut Grads) -> Result<()>>;

/// Passes a linear layer's input gradient on, when its input needs one (a constant, such as
/// the output of frozen layers, gets none, and none was computed).
fn add_input_grad(g: &mut Grads, xid: usize, need_dx: bool, dx: Option<Tensor>) -> Result<()> {
    if !need_dx {
        return Ok(());
    }
    g.add(xid, dx.ok_or_else(|| unsaved("linear", "input gradient"))?)
}

/// `t` as the linear layers' products read it: rounded to f16 in mixed precision (`half`).
fn operand(half: bool, t: &Tensor) -> Tensor {
    if half {
        t.read_as_f16()
    } else {
        t.clone()
    }
}

/// A backward closure found missing what its forward should have kept: a bug, reported as an
/// error naming the op rather than a panic.
fn unsaved(op: &str, what: &str) -> GpuError {
    GpuError::Validation(format!("{op} backward: the forward kept no {what}"))
}

pub struct Tape {
    gpu: Arc<Gpu>,
    recording: bool,
    next_id: usize,
    ops: Vec<Backward>,
    /// Dropout seeds: each dropout site of a step gets its own, derived from this.
    seed: u32,
    sites: u32,
    /// Mixed precision: the linear layers' products read their input, weight and output
    /// gradient rounded to f16 (`Tensor::read_as_f16`), accumulating in f32.
    half: bool,
    /// Training in mixed precision: the optimizer's control words (`ops::adamw::control`), which
    /// hold the loss scale the loss is multiplied by.
    control: Option<Tensor>,
}

impl Tape {
    /// A tape that records (training).
    pub fn new(gpu: &Arc<Gpu>, seed: u32) -> Tape {
        Tape {
            gpu: gpu.clone(),
            recording: true,
            next_id: 0,
            ops: Vec::new(),
            seed,
            sites: 0,
            half: false,
            control: None,
        }
    }

    /// A training tape in mixed precision (see `half`, `control`): `control` is the optimizer's
    /// (`AdamW::control`). The adapter needs shader-f16 (`train::check_precision` checks).
    pub fn mixed(gpu: &Arc<Gpu>, seed: u32, control: &Tensor) -> Tape {
        Tape { half: true, control: Some(control.clone()), ..Tape::new(gpu, seed) }
    }

    pub fn is_mixed(&self) -> bool {
        self.half
    }

    /// A tape that records and saves nothing (inference): ops only run forward.
    pub fn inference(gpu: &Arc<Gpu>) -> Tape {
        Tape { recording: false, ..Tape::new(gpu, 0) }
    }

    /// `inference` in mixed precision: the linear layers' products read their input and weight
    /// rounded to f16.
    pub fn inference_half(gpu: &Arc<Gpu>) -> Tape {
        Tape { half: true, ..Tape::inference(gpu) }
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    fn var(&mut self, value: Tensor) -> Var {
        self.next_id += 1;
        Var { id: self.next_id, value, needs_grad: self.recording }
    }

    /// Runs `f` with recording off: its ops run forward only, as in inference (no dropout, no
    /// saved activations), and their results are constants to the rest of the tape. Frozen
    /// layers run this way; the first recorded op after them computes no input gradient.
    pub fn without_recording<R>(&mut self, f: impl FnOnce(&mut Tape) -> R) -> R {
        let was = std::mem::replace(&mut self.recording, false);
        let r = f(self);
        self.recording = was;
        r
    }

    /// A leaf that needs no gradient (inputs).
    pub fn input(&mut self, value: Tensor) -> Var {
        self.var(value)
    }

    fn record(&mut self, f: impl FnOnce(&mut Grads) -> Result<()> + 'static) {
        if self.recording {
            self.ops.push(Box::new(f));
        }
    }

    /// A fresh seed for the next dropout site of this step.
    fn next_seed(&mut self) -> u32 {
        self.sites += 1;
        crate::kernel_args::pcg(self.seed ^ crate::kernel_args::pcg(self.sites))
    }

    /// word[ids] + pos[t] + type[type_ids]: (B·T, C).
    pub fn embedding(&mut self, batch: &Arc<TokenBatch>, word: &Param, pos: &Param, ttype: &Param) -> Result<Var> {
        let out = self.var(embedding_forward(&self.gpu, batch, &word.value, &pos.value, &ttype.value)?);
        let (id, batch, gpu) = (out.id, batch.clone(), self.gpu.clone());
        let grads = [word.grad.clone(), pos.grad.clone(), ttype.grad.clone()];
        self.record(move |g| {
            let Some(dout) = g.take(id) else { return Ok(()) };
            embedding_backward(&gpu, &batch.word_groups, &dout, &grads[0])?;
            embedding_backward(&gpu, &batch.position_groups, &dout, &grads[1])?;
            embedding_backward(&gpu, &batch.type_groups, &dout, &grads[2])
        });
        Ok(out)
    }

    pub fn layernorm(&mut self, x: &Var, gamma: &Param, beta: &Param, eps: f32) -> Result<Var> {
        let (y, saved) = layernorm_forward(&self.gpu, &x.value, &gamma.value, &beta.value, eps)?;
        let out = self.var(y);
        let (id, xid, xv, gpu) = (out.id, x.id, x.value.clone(), self.gpu.clone());
        let (gv, dg, db) = (gamma.value.clone(), gamma.grad.clone(), beta.grad.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            let dx = layernorm_backward(&gpu, &dy, &xv, &gv, &saved, &dg, &db)?;
            g.add(xid, dx)
        });
        Ok(out)
    }

    /// LayerNorm(dropout(a) + residual): BERT's add & norm after each sub-layer, one kernel
    /// forward. Backward: the LayerNorm backward gives ds, which the residual takes as it is
    /// and `a` through the same dropout mask.
    pub fn add_layernorm(
        &mut self,
        a: &Var,
        residual: &Var,
        p_drop: f32,
        gamma: &Param,
        beta: &Param,
        eps: f32,
    ) -> Result<Var> {
        let drop = (p_drop > 0.0 && self.recording).then(|| AddDropout { p: p_drop, seed: self.next_seed() });
        let (gv, bv) = (&gamma.value, &beta.value);
        let (y, sum, saved) =
            add_layernorm_forward(&self.gpu, &a.value, &residual.value, drop, gv, bv, eps, self.recording)?;
        let out = self.var(y);
        let (id, aid, rid, gpu) = (out.id, a.id, residual.id, self.gpu.clone());
        let (gv, dg, db) = (gamma.value.clone(), gamma.grad.clone(), beta.grad.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            let sum = sum.ok_or_else(|| unsaved("add & norm", "residual sum"))?;
            let (ds, da) = add_layernorm_backward(&gpu, &dy, &sum, &gv, &saved, &dg, &db, drop)?;
            g.add(rid, ds)?;
            g.add(aid, da)
        });
        Ok(out)
    }

    /// x · wᵀ + b, w stored (OUT, IN). In mixed precision the product reads x and w rounded to
    /// f16 and accumulates in f32 (bias and output in f32), as PyTorch's autocast computes it,
    /// without f16 copies; the backward's products read dy (loss-scaled) rounded likewise: one
    /// past f16's range is read as inf, which makes the gradients non-finite and the optimizer
    /// skip the step.
    pub fn linear(&mut self, x: &Var, w: &Param, b: &Param) -> Result<Var> {
        let half = self.half;
        let (xv, wv) = (operand(half, &x.value), operand(half, &w.value));
        let out = self.var(matmul::linear(&self.gpu, &xv, &wv, Some(&b.value))?);
        let (id, xid, gpu, need_dx) = (out.id, x.id, self.gpu.clone(), x.needs_grad);
        let (dw, db) = (w.grad.clone(), b.grad.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            let sum = if need_dx { g.take_to_add_into(xid) } else { None };
            let dy = operand(half, &dy);
            let dx = matmul::linear_backward_into(&gpu, &dy, &xv, &wv, &dw, Some(&db), need_dx, sum)?;
            add_input_grad(g, xid, need_dx, dx)
        });
        Ok(out)
    }

    /// act(x · wᵀ + b) with the activation in the matmul's epilogue (the FFN's first dense
    /// layer). The backward takes the activation's gradient at the saved input, then the
    /// linear's (in mixed precision as `linear`).
    pub fn linear_act(&mut self, x: &Var, w: &Param, b: &Param, act: GeluKind) -> Result<Var> {
        let half = self.half;
        let (xv, wv) = (operand(half, &x.value), operand(half, &w.value));
        let (y, pre) = matmul::linear_act(&self.gpu, &xv, &wv, Some(&b.value), act, self.recording)?;
        let out = self.var(y);
        let (id, xid, gpu, need_dx) = (out.id, x.id, self.gpu.clone(), x.needs_grad);
        let (dw, db) = (w.grad.clone(), b.grad.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            let pre = pre.ok_or_else(|| unsaved("linear_act", "pre-activation"))?;
            let dh = gelu_backward(&gpu, &dy, &pre, act)?;
            drop((dy, pre));
            let sum = if need_dx { g.take_to_add_into(xid) } else { None };
            let dx = matmul::linear_backward_into(&gpu, &operand(half, &dh), &xv, &wv, &dw, Some(&db), need_dx, sum)?;
            add_input_grad(g, xid, need_dx, dx)
        });
        Ok(out)
    }

    /// The feed-forward block, act(x · w1ᵀ + b1) · w2ᵀ + b2. Its backward runs the second
    /// layer's weight and input gradients as one launch where the matmul can, the activation's
    /// derivative applied as that input gradient is stored (no separate pass).
    pub fn feed_forward(
        &mut self,
        x: &Var,
        w1: &Param,
        b1: &Param,
        w2: &Param,
        b2: &Param,
        act: GeluKind,
    ) -> Result<Var> {
        // In mixed precision the products read x, the weights, h (the second layer's input) and
        // the gradients rounded to f16 (see `linear`).
        let half = self.half;
        let (w1v, w2v) = (operand(half, &w1.value), operand(half, &w2.value));
        let xv = operand(half, &x.value);
        let (h, pre) = matmul::linear_act(&self.gpu, &xv, &w1v, Some(&b1.value), act, self.recording)?;
        let h = operand(half, &h);
        let out = self.var(matmul::linear(&self.gpu, &h, &w2v, Some(&b2.value))?);
        let (id, xid, gpu, need_dx) = (out.id, x.id, self.gpu.clone(), x.needs_grad);
        let (dw1, db1, dw2, db2) = (w1.grad.clone(), b1.grad.clone(), w2.grad.clone(), b2.grad.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            let pre = pre.ok_or_else(|| unsaved("feed-forward", "pre-activation"))?;
            let dy = operand(half, &dy);
            let dpre = matmul::linear_backward_through(&gpu, &dy, &h, &w2v, &dw2, Some(&db2), act, &pre)?;
            drop((dy, pre, h));
            let sum = if need_dx { g.take_to_add_into(xid) } else { None };
            let dpre = operand(half, &dpre);
            let dx = matmul::linear_backward_into(&gpu, &dpre, &xv, &w1v, &dw1, Some(&db1), need_dx, sum)?;
            add_input_grad(g, xid, need_dx, dx)
        });
        Ok(out)
    }

    /// Self-attention over the fused projection qkv (B·T, 3C) with the (B, T) mask.
    pub fn attention(&mut self, qkv: &Var, mask: &Tensor, shape: AttentionShape, p_drop: f32) -> Result<Var> {
        let pdrop = (p_drop > 0.0 && self.recording).then(|| ProbDropout { p: p_drop, seed: self.next_seed() });
        let (ctx, saved) = attention_forward(&self.gpu, shape, &qkv.value, mask, pdrop)?;
        let out = self.var(ctx);
        let (id, qid, qv, gpu) = (out.id, qkv.id, qkv.value.clone(), self.gpu.clone());
        let (mask, ctx) = (mask.clone(), out.value.clone());
        self.record(move |g| {
            let Some(dctx) = g.take(id) else { return Ok(()) };
            let dqkv = attention_backward(&gpu, shape, &dctx, &qv, &mask, &ctx, &saved, pdrop)?;
            g.add(qid, dqkv)
        });
        Ok(out)
    }

    /// Self-attention of each sequence's first token ([CLS]) over all its tokens: (B, C). What
    /// a classifier's last layer needs; see ops::attention_cls.
    pub fn attention_cls(&mut self, qkv: &Var, mask: &Tensor, shape: AttentionShape, p_drop: f32) -> Result<Var> {
        let pdrop = (p_drop > 0.0 && self.recording).then(|| ProbDropout { p: p_drop, seed: self.next_seed() });
        let (ctx, probs) = cls_forward(&self.gpu, shape, &qkv.value, mask, pdrop)?;
        let out = self.var(ctx);
        let (id, qid, qv, gpu) = (out.id, qkv.id, qkv.value.clone(), self.gpu.clone());
        self.record(move |g| {
            let Some(dctx) = g.take(id) else { return Ok(()) };
            g.add(qid, cls_backward(&gpu, shape, &dctx, &qv, &probs, pdrop)?)
        });
        Ok(out)
    }

    /// Dropout with probability p while training; the identity at inference or p = 0.
    pub fn dropout(&mut self, x: &Var, p: f32) -> Result<Var> {
        if p <= 0.0 || !self.recording {
            return Ok(x.clone());
        }
        let seed = self.next_seed();
        let out = self.var(elementwise::dropout(&self.gpu, &x.value, p, seed)?);
        let (id, xid, gpu) = (out.id, x.id, self.gpu.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            g.add(xid, elementwise::dropout(&gpu, &dy, p, seed)?)
        });
        Ok(out)
    }

    /// Token 0 of each sequence: (B·T, C) → (B, C).
    pub fn first_token(&mut self, x: &Var, b: usize, t: usize) -> Result<Var> {
        let out = self.var(elementwise::first_token(&self.gpu, &x.value, b, t)?);
        let (id, xid, shape, gpu) = (out.id, x.id, x.value.shape().to_vec(), self.gpu.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            let dx = gpu.zeros("first-token gradient", &shape)?;
            elementwise::first_token_backward(&gpu, &dy, &dx, b, t)?;
            g.add(xid, dx)
        });
        Ok(out)
    }

    /// The mean of each sequence's token rows under `mask`: (B·T, C) → (B, C).
    pub fn mean_tokens(&mut self, x: &Var, mask: &Tensor, b: usize, t: usize) -> Result<Var> {
        let out = self.var(elementwise::mean_tokens(&self.gpu, &x.value, mask, b, t)?);
        let (id, xid, mask, gpu) = (out.id, x.id, mask.clone(), self.gpu.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            g.add(xid, elementwise::mean_tokens_backward(&gpu, &dy, &mask, b, t)?)
        });
        Ok(out)
    }

    pub fn tanh(&mut self, x: &Var) -> Result<Var> {
        let out = self.var(elementwise::tanh_forward(&self.gpu, &x.value)?);
        let (id, xid, yv, gpu) = (out.id, x.id, out.value.clone(), self.gpu.clone());
        self.record(move |g| {
            let Some(dy) = g.take(id) else { return Ok(()) };
            g.add(xid, elementwise::tanh_backward(&gpu, &dy, &yv)?)
        });
        Ok(out)
    }

    /// The mean loss of `logits` against `labels`, and the number of correct predictions, as a
    /// (2) tensor. Its backward seeds the pass with d(scale · loss): scale is 1, or 1/k when
    /// gradients of k micro-batches are accumulated; in mixed precision times the loss scale
    /// the GPU holds.
    pub fn loss(&mut self, logits: &Var, labels: &Tensor, scale: f32) -> Result<Tensor> {
        let out = loss_forward(&self.gpu, &logits.value, labels)?;
        let (lid, lv, labels, gpu) = (logits.id, logits.value.clone(), labels.clone(), self.gpu.clone());
        let control = self.control.clone();
        self.record(move |g| {
            let d = match &control {
                None => loss_backward(&gpu, &lv, &labels, scale)?,
                Some(c) => loss_backward_scaled(&gpu, &lv, &labels, scale, c, control::LOSS_SCALE)?,
            };
            g.add(lid, d)
        });
        Ok(out)
    }

    /// Runs the recorded backward closures in reverse, accumulating into the parameters'
    /// gradients. Each closure, and what it saved, is dropped as soon as it has run.
    pub fn backward(&mut self) -> Result<()> {
        let mut grads = Grads { gpu: self.gpu.clone(), map: HashMap::new() };
        while let Some(op) = self.ops.pop() {
            op(&mut grads)?;
        }
        Ok(())
    }

    /// Number of recorded backward closures.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
