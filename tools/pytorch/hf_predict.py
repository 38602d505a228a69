#!/usr/bin/env python3
"""Scores texts with a model exported by wgbert, in PyTorch + transformers: the check that an
exported model means the same thing outside wgbert.

A model with BERT's pooler head (`wgbert train`'s default) is a plain
`BertForSequenceClassification`, and this script only loads it. A model trained with
`--pool mean` or `--pool cls` has `"wgbert_pooling"` in its config.json: transformers' class
would read the pooler output instead, so the script runs `BertModel` and applies the head
itself — the masked mean (or [CLS]'s hidden state), then `classifier.weight`/`classifier.bias`.
That is all such a model needs. A model trained on sentence pairs
(`"wgbert_text_pairs": true`) takes each line as two texts separated by a tab.

Prints one JSON object per text, as `wgbert predict --json` does (text, label, score; score is
σ(logit) for one-logit binary models, else the predicted class's probability), and with
`--compare FILE` (the output of `wgbert predict --json` on the same texts) the largest score
difference.

By hand, never in CI (needs torch, transformers and safetensors):

    /work/venvs/torch/bin/python tools/pytorch/hf_predict.py --model runs/demo/model "The movie was great!"
    printf 'a\\tb\\n' | /work/venvs/torch/bin/python tools/pytorch/hf_predict.py --model RUN/model
"""
import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoTokenizer, BertForSequenceClassification, BertModel  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="an exported model folder (RUN/model)")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--compare", help="wgbert predict --json output for the same texts")
    ap.add_argument("texts", nargs="*")
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    pooling = cfg.get("wgbert_pooling", "pooler")
    pairs = cfg.get("wgbert_text_pairs", False)
    classes = cfg.get("wgbert_classes") or [str(i) for i in range(max(2, cfg["num_labels"]))]
    lines = a.texts or [l.rstrip("\r\n") for l in sys.stdin]
    tok = AutoTokenizer.from_pretrained(a.model)
    if pairs:
        firsts, seconds = zip(*(l.split("\t", 1) for l in lines))
        enc = tok(list(firsts), list(seconds), truncation="longest_first", max_length=a.max_len,
                  padding=True, return_tensors="pt")
    else:
        enc = tok(lines, truncation=True, max_length=a.max_len, padding=True, return_tensors="pt")
    with torch.no_grad():
        if pooling == "pooler":
            logits = BertForSequenceClassification.from_pretrained(a.model).eval()(**enc).logits
        else:
            bert = BertModel.from_pretrained(a.model, add_pooling_layer=False).eval()
            hidden = bert(**enc).last_hidden_state
            if pooling == "mean":
                m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            else:
                pooled = hidden[:, 0]
            w = load_file(os.path.join(a.model, "model.safetensors"))
            logits = pooled @ w["classifier.weight"].T + w["classifier.bias"]
    out = []
    for text, z in zip(lines, logits):
        if z.numel() == 1:
            score = torch.sigmoid(z[0]).item()
            label = classes[-1] if z[0] > 0 else classes[0]
        else:
            p = torch.softmax(z, -1)
            score, k = p.max().item(), int(p.argmax())
            label = classes[k]
        out.append({"text": text, "label": label, "score": score})
        print(json.dumps(out[-1]))
    if a.compare:
        ours = [json.loads(l) for l in open(a.compare) if l.strip()]
        diff = max(abs(o["score"] - t["score"]) for o, t in zip(ours, out))
        same = all(o["label"] == t["label"] for o, t in zip(ours, out))
        print(f"compared with {a.compare}: max |score difference| {diff:.2e}, labels "
              f"{'all equal' if same else 'DIFFER'}", file=sys.stderr)


if __name__ == "__main__":
    main()
