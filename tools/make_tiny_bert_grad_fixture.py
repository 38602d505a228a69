#!/usr/bin/env python3
"""Makes tests/fixtures/tiny_bert_grad/: the autograd and optimizer parity fixture.

A tiny BertForSequenceClassification shaped like our model (BertModel + pooler + dense(1) head,
all dropout 0, exact-erf GELU), a padded batch of 4 x 8 with 0/1 labels, BCEWithLogits (mean):
logits, loss, every parameter's gradient, then one AdamW step after global-norm clipping to 1.0,
computed in float64 and in float32 from the same float32 weights.

    /work/venvs/torch/bin/python tools/make_tiny_bert_grad_fixture.py      # torch, transformers, safetensors
"""
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import BertConfig, BertForSequenceClassification

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tiny_bert_grad")
SEED = 4321

CONFIG = dict(
    vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    max_position_embeddings=16, type_vocab_size=2, hidden_act="gelu", hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, classifier_dropout=0.0, layer_norm_eps=1e-12, initializer_range=0.02,
    num_labels=1, pad_token_id=0,
)
B, T = 4, 8
LENGTHS = [8, 6, 3, 5]
LABELS = [1.0, 0.0, 1.0, 0.0]
LR, BETAS, EPS, WEIGHT_DECAY, MAX_NORM = 1e-3, (0.9, 0.999), 1e-6, 0.01, 1.0
# Hugging Face's BERT fine-tuning recipe: no weight decay on biases and LayerNorm weights.
NO_DECAY = ["bias", "LayerNorm.weight"]


def make_inputs():
    g = torch.Generator().manual_seed(SEED)
    ids = torch.randint(5, CONFIG["vocab_size"], (B, T), generator=g)
    ids[:, 0] = 2  # [CLS]
    mask = torch.zeros(B, T, dtype=torch.long)
    types = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(LENGTHS):
        ids[b, n - 1] = 3  # [SEP]
        ids[b, n:] = 0  # [PAD]
        mask[b, :n] = 1
    types[0, 4:] = 1  # one sentence pair, so token type 1 gets a gradient
    return ids, mask, types, torch.tensor(LABELS)


def init_weights(model):
    # Larger than HF's std 0.02 so attention, GELU and LayerNorm are far from linear.
    torch.manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.2)


def run(model, dtype, inputs):
    """Forward, backward, clip, one AdamW step; returns everything to save."""
    model = model.to(dtype).train()  # dropout is 0 everywhere, so train() == eval() numerically
    ids, mask, types, labels = inputs
    model.zero_grad()
    logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits  # [B, 1]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), labels.to(dtype), reduction="mean")
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    decay = [p for n, p in model.named_parameters() if not any(k in n for k in NO_DECAY)]
    no_decay = [p for n, p in model.named_parameters() if any(k in n for k in NO_DECAY)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS, foreach=False)
    opt.step()
    after = {n: p.detach().clone() for n, p in model.named_parameters()}
    return logits.detach(), loss.detach(), norm.detach(), grads, after


def main():
    config = BertConfig(**CONFIG, attn_implementation="eager")
    torch.manual_seed(SEED)
    model = BertForSequenceClassification(config)
    init_weights(model)
    weights = {n: p.detach().clone().float().contiguous() for n, p in model.named_parameters()}
    names = list(weights)
    inputs = make_inputs()

    results = {}
    for tag, dtype in [("f64", torch.float64), ("f32", torch.float32)]:
        m = BertForSequenceClassification(config)
        m.load_state_dict(weights, strict=False)  # strict=False: buffers are not in `weights`
        results[tag] = run(m, dtype, inputs)

    os.makedirs(OUT, exist_ok=True)
    cfg = dict(CONFIG, architectures=["BertForSequenceClassification"], model_type="bert",
               position_embedding_type="absolute", id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_file(weights, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})
    ids, mask, types, labels = inputs
    save_file({"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels},
              os.path.join(OUT, "inputs.safetensors"))
    outputs = {}
    for tag, (logits, loss, norm, grads, after) in results.items():
        outputs[f"logits_{tag}"] = logits.contiguous()
        outputs[f"loss_{tag}"] = loss.reshape(())
        outputs[f"grad_norm_{tag}"] = norm.reshape(())
        save_file({n: g.contiguous() for n, g in grads.items()}, os.path.join(OUT, f"grads_{tag}.safetensors"))
        save_file({n: p.contiguous() for n, p in after.items()}, os.path.join(OUT, f"after_adamw_{tag}.safetensors"))
    save_file(outputs, os.path.join(OUT, "outputs.safetensors"))

    decay_names = [n for n in names if not any(k in n for k in NO_DECAY)]
    with open(os.path.join(OUT, "adamw.json"), "w") as f:
        json.dump({
            "lr": LR, "betas": BETAS, "eps": EPS, "weight_decay": WEIGHT_DECAY, "max_grad_norm": MAX_NORM,
            "no_decay_substrings": NO_DECAY, "decay": decay_names,
            "no_decay": [n for n in names if n not in decay_names],
            "loss": "binary_cross_entropy_with_logits(logits[:, 0], labels), mean over the batch",
            "gelu": "exact: 0.5 * x * (1 + erf(x / sqrt(2)))",
            "grad_norm_before_clip_f64": results["f64"][2].item(), "loss_f64": results["f64"][1].item(),
            "torch": torch.__version__, "transformers": transformers.__version__,
        }, f, indent=2)
        f.write("\n")
    l64, l32 = results["f64"][1].item(), results["f32"][1].item()
    gdiff = max((results["f64"][3][n] - results["f32"][3][n].double()).abs().max().item() for n in names)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}: {len(names)} parameters, "
          f"loss f64 {l64:.10f} f32 {l32:.10f}, grad norm {results['f64'][2].item():.6f}, "
          f"max |grad f64 - f32| {gdiff:.3e}")


if __name__ == "__main__":
    main()
