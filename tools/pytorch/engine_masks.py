"""wgbert's dropout masks in numpy, and a patch that makes transformers' BERT drop exactly them.

With it, a replay of a run trained with dropout > 0 (tools/pytorch/replay_torch.py --same-masks) can be
followed step for step, as a run with --dropout 0 can: what is left to compare is the forward
and backward of every dropout site, not the draw.

The engine's rule (src/kernel_args.rs, elementwise.wgsl, attention.wgsl, layernorm.wgsl):

  * pcg(v): the PCG RXS-M-XS hash of a u32;
  * a training step at global step g (0 for the first) of a run with seed S draws from
    step_seed = pcg(S ^ pcg(g)); its k-th dropout site (k = 1, 2, ... in forward order) from
    seed_k = pcg(step_seed ^ pcg(k));
  * element i of the site's tensor (row-major index) is dropped when
    pcg(pcg(i) ^ seed_k) < trunc(p · 2³²), else scaled by 1/(1 − p) (f32).

The sites in forward order, with the tensor each one indexes (B sequences, T tokens padded to the
batch's longest, C hidden, NH heads):

  1. the embeddings' LayerNorm output: (B·T, C);
  then per encoder layer except the last:
  2. the attention probabilities: (B·NH, T, T);
  3. the attention output before its add & norm: (B·T, C);
  4. the feed-forward output before its add & norm: (B·T, C);
  the last layer runs for token 0 alone (only [CLS] reaches the pooler), so its three sites
  index (B·NH, 1, T) and (B, C) twice;
  last: the pooled output before the classifier: (B, C).

HF's BertForSequenceClassification drops at the same places in the same order; in its last
layer the rows of tokens 1.. are left undropped here, as nothing of them reaches the logits.
"""

import numpy as np

U32 = np.uint32


def pcg(v):
    """The PCG hash of elementwise.wgsl on u32 arrays (or numpy u32 scalars), wrapping."""
    v = np.asarray(v, dtype=U32)
    with np.errstate(over="ignore"):
        state = v * U32(747796405) + U32(2891336453)
        word = ((state >> ((state >> U32(28)) + U32(4))) ^ state) * U32(277803737)
    return (word >> U32(22)) ^ word


def threshold(p):
    """src/kernel_args.rs dropout_threshold: f32 p times 2³², truncated."""
    return min(int(float(np.float32(p)) * 4294967296.0), 0xFFFFFFFF)


def keep_scale(p):
    return float(np.float32(1.0) / (np.float32(1.0) - np.float32(p)))


class EngineMasks:
    """Hands out the engine's dropout factors (0 or 1/(1 − p)) site by site, step by step."""

    def __init__(self, run_seed, p):
        self.run_seed, self.p = U32(run_seed & 0xFFFFFFFF), p
        self.th, self.scale = U32(threshold(p)), keep_scale(p)
        self.base = np.zeros(0, dtype=U32)  # pcg(i) for i < len: the same for every site
        self.step_seed, self.site = None, 0

    def begin_step(self, global_step):
        self.step_seed = pcg(self.run_seed ^ pcg(U32(global_step)))
        self.site = 0

    def sites(self):
        return self.site

    def factors(self, n):
        """The next site's n factors (float32, row-major over that site's tensor)."""
        if self.step_seed is None:
            raise RuntimeError("EngineMasks: begin_step was not called")
        self.site += 1
        seed = pcg(self.step_seed ^ pcg(U32(self.site)))
        if len(self.base) < n:
            self.base = pcg(np.arange(n, dtype=np.uint64).astype(U32))
        kept = pcg(self.base[:n] ^ seed) >= self.th
        return np.where(kept, np.float32(self.scale), np.float32(0.0)).astype(np.float32)


def patch(model, masks):
    """Makes `model` (a transformers BertForSequenceClassification, eager attention, train mode)
    drop with `masks` at every dropout site. Returns the number of sites a step draws."""
    import torch
    from torch import nn
    import transformers.models.bert.modeling_bert as mb

    layers = model.bert.encoder.layer
    last = len(layers) - 1

    class SiteDropout(nn.Module):
        """x · factors; `cls_only`: x is (B, T, C) but the site indexes token 0's rows (B, C)."""

        def __init__(self, cls_only=False):
            super().__init__()
            self.cls_only = cls_only

        def forward(self, x):
            if not self.training:
                return x
            if self.cls_only:
                b, c = x.shape[0], x.shape[-1]
                f = torch.ones(x.shape, dtype=x.dtype)
                f[:, 0, :] = torch.from_numpy(masks.factors(b * c).reshape(b, c))
                return x * f
            f = torch.from_numpy(masks.factors(x.numel()).reshape(x.shape))
            return x * f

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        # eager_attention_forward of modeling_bert, with the engine's mask on the probabilities.
        if scaling is None:
            scaling = query.size(-1) ** -0.5
        w = torch.matmul(query, key.transpose(2, 3)) * scaling
        if attention_mask is not None:
            w = w + attention_mask
        w = nn.functional.softmax(w, dim=-1)
        if module.training and dropout > 0.0:
            b, nh, t, _ = w.shape
            f = torch.ones(w.shape, dtype=w.dtype)
            if module.wgbert_cls_only:
                f[:, :, 0, :] = torch.from_numpy(masks.factors(b * nh * t).reshape(b, nh, t))
            else:
                f = torch.from_numpy(masks.factors(w.numel()).reshape(w.shape))
            w = w * f
        out = torch.matmul(w, value).transpose(1, 2).contiguous()
        return out, w

    if model.config._attn_implementation != "eager":
        raise SystemExit("--same-masks needs --attn eager")
    mb.eager_attention_forward = attention
    model.bert.embeddings.dropout = SiteDropout()
    for i, layer in enumerate(layers):
        layer.attention.self.wgbert_cls_only = i == last
        layer.attention.output.dropout = SiteDropout(cls_only=i == last)
        layer.output.dropout = SiteDropout(cls_only=i == last)
    model.dropout = SiteDropout()
    model.train()
    return 2 + 3 * len(layers)
