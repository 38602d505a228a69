#!/usr/bin/env python3
"""A wgbert run's recipe repeated in PyTorch + transformers, on the very same examples.

`wgbert train` writes RUN/examples.json: the source and label of every training, validation and
test example it drew. This script reads those reviews from the same data (an IMDB folder or
tarball), fine-tunes the same model with the same recipe — the pooled output, dropout, a one-logit
head, binary cross-entropy on logits; AdamW (betas 0.9/0.999, eps 1e-6, weight decay 0.01 except
on biases and LayerNorm weights), global gradient clipping at 1.0, linear warm-up over the first
10% of the steps then linear decay to 0, batch 32, 128 tokens — and prints one JSON object with
validation and test loss and accuracy and the wall times. What differs is only what a different
framework draws at random: the head's initial weights, the dropout masks and the batch order.

By hand, never in CI (needs torch and transformers; see tools/pytorch/bench_torch_step.py):

    /work/venvs/torch/bin/python tools/pytorch/recipe_torch.py --run runs/imdb --data aclImdb_v1.tar.gz
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imdb_io import read_reviews  # noqa: E402  (tools/lib/imdb_io.py: IMDB folders and tarballs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="a wgbert run folder (its examples.json and run.json)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default=None, help="default: the run's model")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    import torch
    from transformers import BertForSequenceClassification, BertTokenizerFast

    if a.device == "cpu":
        torch.set_num_threads(a.threads or os.cpu_count())
    dev = torch.device(a.device)
    run = json.load(open(os.path.join(a.run, "run.json")))
    o = run["options"]
    ex = json.load(open(os.path.join(a.run, "examples.json")))
    classes = ex["classes"]
    assert len(classes) == 2, "binary runs only"
    texts = read_reviews(a.data, [e["source"] for part in ("train", "validation", "test") for e in ex[part] or []])
    model_dir = a.model or run["model"]
    tok = BertTokenizerFast.from_pretrained(model_dir)
    torch.manual_seed(a.seed)
    p = o["dropout"]
    model = BertForSequenceClassification.from_pretrained(
        model_dir, num_labels=1, hidden_dropout_prob=p, attention_probs_dropout_prob=p, classifier_dropout=p
    ).to(dev)

    def encode(part):
        items = ex[part] or []
        enc = tok([texts[e["source"]] for e in items], truncation=True, max_length=o["max_len"])
        labels = [float(classes.index(e["label"])) for e in items]
        return enc["input_ids"], labels

    def batches(ids, labels, order):
        bs = o["batch_size"]
        for i in range(0, len(order), bs):
            rows = order[i : i + bs]
            t = max(len(ids[r]) for r in rows)
            x = torch.zeros(len(rows), t, dtype=torch.long)
            m = torch.zeros(len(rows), t, dtype=torch.long)
            for j, r in enumerate(rows):
                x[j, : len(ids[r])] = torch.tensor(ids[r])
                m[j, : len(ids[r])] = 1
            yield x.to(dev), m.to(dev), torch.tensor([labels[r] for r in rows]).to(dev)

    train_ids, train_y = encode("train")
    steps = -(-len(train_ids) // o["batch_size"]) * o["epochs"]
    warmup = int(o["warmup_fraction"] * steps)
    decay = [q for n, q in model.named_parameters() if not ("bias" in n or "LayerNorm.weight" in n)]
    no_decay = [q for n, q in model.named_parameters() if "bias" in n or "LayerNorm.weight" in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=o["lr"],
        betas=(0.9, 0.999),
        eps=1e-6,
    )
    # As wgbert's WarmupLinear: step s uses lr·s/warmup during warm-up, then lr·(1 − s/steps).
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / warmup if s < warmup else max(0.0, 1.0 - s / steps)
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")

    def evaluate(part):
        ids, y = encode(part)
        if not ids:
            return None
        model.eval()
        loss, correct = 0.0, 0
        confusion = [[0, 0], [0, 0]]  # [true class][predicted class], as wgbert's test.json
        with torch.no_grad():
            for x, m, t in batches(ids, y, list(range(len(ids)))):
                z = model(input_ids=x, attention_mask=m).logits.squeeze(-1)
                loss += loss_fn(z, t).item()
                correct += ((z > 0).float() == t).sum().item()
                for truth, pred in zip(t.int().tolist(), (z > 0).int().tolist()):
                    confusion[truth][pred] += 1
        return {"loss": loss / len(ids), "accuracy": correct / len(ids), "examples": len(ids), "confusion": confusion}

    g = torch.Generator().manual_seed(a.seed)
    t0 = time.perf_counter()
    history = []
    for epoch in range(o["epochs"]):
        model.train()
        order = torch.randperm(len(train_ids), generator=g).tolist()
        loss_sum, correct = 0.0, 0
        for x, m, t in batches(train_ids, train_y, order):
            z = model(input_ids=x, attention_mask=m).logits.squeeze(-1)
            loss = loss_fn(z, t)
            opt.zero_grad(set_to_none=True)
            (loss / len(t)).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), o["max_grad_norm"])
            opt.step()
            sched.step()
            loss_sum += loss.item()
            correct += ((z.detach() > 0).float() == t).sum().item()
        val = evaluate("validation")
        history.append({"epoch": epoch + 1, "loss": loss_sum / len(train_ids), "accuracy": correct / len(train_ids), "validation": val})
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    test = evaluate("test")
    print(
        json.dumps(
            {
                "implementation": f"PyTorch {torch.__version__}",
                "device": a.device if a.device != "cpu" else f"cpu, {torch.get_num_threads()} threads",
                "epochs": history,
                "test": test,
                "train_and_validation_s": train_s,
                "test_s": time.perf_counter() - t1,
            }
        )
    )


if __name__ == "__main__":
    main()
