#!/usr/bin/env python3
"""Replays a wgbert training run step for step in PyTorch + transformers and compares the losses.

`wgbert train` keeps, in its run folder RUN, the weights it starts from (RUN/checkpoints/step-0,
in the Hugging Face BertForSequenceClassification layout: pretrained encoder + the fresh one-logit
head), the examples and each epoch's batch order (RUN/examples.json, "order") and each step's
batch loss (RUN/history.json, "steps"). This script loads step-0 with
BertForSequenceClassification.from_pretrained (and its tokenizer from the same folder), reads the
reviews back from the same data by their "source", and trains on exactly the same batches with
the engine's recipe:

  * the loss: BCE-with-logits on the one logit, mean over the batch (label 1 = the last class);
  * batches padded to their longest sequence, attention mask 1 on the real tokens, token type 0,
    position ids 0..T-1; texts truncated to max_len with [CLS] … [SEP];
  * AdamW (betas 0.9/0.999, eps 1e-6, weight decay on every parameter whose name holds neither
    "bias" nor "LayerNorm.weight", bias-corrected as torch.optim.AdamW), after clipping the
    global gradient norm to max_grad_norm (0: no clipping);
  * the learning rate of src/optim/schedule.rs (WarmupLinear), evaluated at the global step
    *before* the update (so the first update uses lr(0) = 0): steps = ceil(train/batch)·epochs,
    warm-up steps = trunc(f32(warmup_fraction)·steps), lr(s) = lr·s/warmup while s < warmup,
    else lr·(1 − min(s, steps)/steps), all in f32 as the engine computes it;
  * dropout at RUN's value. A run with --dropout 0 can be followed step for step as it is. With
    dropout > 0, --same-masks makes every dropout site of the model drop exactly the engine's
    elements (tools/pytorch/engine_masks.py reproduces its counter-based masks), so such a run can be
    followed step for step too; without it PyTorch draws its own masks and the losses only agree
    in distribution.

It prints one row per step — step, ours (the engine's loss from history.json), PyTorch's loss, the
difference (ours − PyTorch) — then the largest |difference| and the first step over the tolerance (1e-3).
--json FILE also writes the table (with PyTorch's learning rate and gradient norm per step).
--wgbert BIN additionally compares the token ids of every replayed example with `BIN tokenize`.
--torch-head starts from the head tools/pytorch/recipe_torch.py draws for the run's seed (the rest from step-0).
--test additionally scores the replayed model on the run's test list (inference: no dropout) and
prints its accuracy, loss and predicted-positive share beside RUN/test.json's: with --same-masks
this tells whether a difference of test accuracy comes from the masks drawn or from the engine.

By hand, never in CI (needs torch and transformers; MiniLM at batch 32 × 128 tokens takes ~7 s a step on
2 CPU threads, ~8 minutes for the 63 steps of 2,000 reviews):

    HF_HUB_OFFLINE=1 /work/venvs/torch/bin/python tools/pytorch/replay_torch.py \\
        --run RUN --data aclImdb_v1.tar.gz [--steps N] [--json table.json]

where RUN is a run folder of `wgbert train ... --dropout 0` (e.g. --epochs 1 --limit-train 2000).
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imdb_io import read_reviews  # noqa: E402  (tools/lib/imdb_io.py: IMDB folders and tarballs)


def f32(x):
    import numpy as np

    return np.float32(x)


class WarmupLinear:
    """src/optim/schedule.rs, in f32 as there."""

    def __init__(self, init_lr, total_steps, fraction):
        self.init_lr = f32(init_lr)
        self.total = max(int(total_steps), 1)
        self.warmup = int(f32(fraction) * f32(total_steps))  # `as u32` truncates

    def lr(self, step):
        if step < self.warmup:
            return float(self.init_lr * f32(step) / f32(self.warmup))
        return float(self.init_lr * (f32(1.0) - f32(min(step, self.total)) / f32(self.total)))


def engine_ids(wgbert, model_dir, texts, max_len):
    """Token ids of `texts` from `wgbert tokenize` (one text a line)."""
    flat = [t.replace("\r", " ").replace("\n", " ") for t in texts]
    out = subprocess.run(
        [wgbert, "tokenize", "--model", model_dir, "--max-len", str(max_len)],
        input="\n".join(flat) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [[int(x) for x in line.split()] for line in out.splitlines() if line.strip()], flat != texts


def score_test(model, tok, ex, classes, data, max_len, bs, ours_path):
    """The replayed model on the run's test list, in inference; printed beside the run's own."""
    import torch

    test = ex["test"]
    texts = read_reviews(data, [e["source"] for e in test])
    y = torch.tensor([float(classes.index(e["label"])) for e in test])
    model.eval()
    logits = []
    with torch.no_grad():
        for k in range(0, len(test), bs):
            enc = tok([texts[e["source"]] for e in test[k : k + bs]], truncation=True, max_length=max_len,
                      padding=True, return_tensors="pt")
            logits.append(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                token_type_ids=torch.zeros_like(enc["input_ids"])).logits.squeeze(-1))
    z = torch.cat(logits)
    pred = (z > 0).float()
    r = {
        "examples": len(test),
        "accuracy": (pred == y).float().mean().item(),
        "loss": torch.nn.functional.binary_cross_entropy_with_logits(z.double(), y.double()).item(),
        "predicted_positive": pred.mean().item(),
    }
    print(f"test ({r['examples']} reviews), replayed model: accuracy {r['accuracy']:.4f}, loss {r['loss']:.4f}, "
          f"predicted positive {r['predicted_positive']:.3f}")
    if os.path.isfile(ours_path):
        t = json.load(open(ours_path))
        c = t.get("confusion")
        pos = sum(row[-1] for row in c) / t["examples"] if c else float("nan")
        print(f"test, the run's own (test.json):  accuracy {t['accuracy']:.4f}, loss {t['loss']:.4f}, "
              f"predicted positive {pos:.3f}")
        r["ours"] = {"accuracy": t["accuracy"], "loss": t["loss"], "predicted_positive": pos}
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="a wgbert run folder (run.json, examples.json, history.json, checkpoints/step-0)")
    ap.add_argument("--data", required=True, help="the run's data: an IMDB folder or tarball")
    ap.add_argument("--steps", type=int, default=0, help="replay only the first N steps (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--attn", default="eager", help="transformers attn_implementation (eager or sdpa)")
    ap.add_argument("--json", default=None, help="also write the table to this JSON file")
    ap.add_argument("--wgbert", default=None, help="a wgbert binary: compare token ids with its `tokenize`")
    ap.add_argument("--same-masks", action="store_true", help="drop the engine's elements (tools/pytorch/engine_masks.py)")
    ap.add_argument("--test", action="store_true", help="score the replayed model on the run's test list")
    ap.add_argument("--torch-head", action="store_true",
                    help="start from the head PyTorch draws (tools/pytorch/recipe_torch.py's, same seed) instead of step-0's")
    a = ap.parse_args()

    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.set_num_threads(a.threads)
    run = json.load(open(os.path.join(a.run, "run.json")))
    o = run["options"]
    # Draws nothing with dropout 0 or --same-masks; else PyTorch's own masks, from the run's seed.
    torch.manual_seed(int(o["seed"]))
    ex = json.load(open(os.path.join(a.run, "examples.json")))
    hist_path = os.path.join(a.run, "history.json")
    ours = {}
    if os.path.isfile(hist_path):
        ours = {int(s): float(l) for s, l in json.load(open(hist_path)).get("steps", [])}
    else:
        print(f"note: {hist_path} not there yet (the run has not finished an epoch): PyTorch's column only")
    classes = ex["classes"]
    if len(classes) != 2:
        raise SystemExit("binary runs only (one logit, BCE)")
    if "order" not in ex:
        raise SystemExit(f"{a.run}/examples.json has no batch order: a run of an older wgbert")
    if o.get("pool", "pooler") != "pooler" or o.get("freeze_layers", 0) or run.get("text_pair_column"):
        raise SystemExit("the replay follows BertForSequenceClassification: a run with the pooler head "
                         "(no --pool mean/cls), no --freeze-layers and single texts")
    if o.get("precision", "f32") != "f32":
        print(f"warning: the run trained in {o['precision']} precision; the replay is f32")
    p = float(o["dropout"])
    if p > 0 and not a.same_masks:
        print(f"warning: dropout {p}: PyTorch draws its own masks (no --same-masks), so the losses only agree in distribution")
    bs, max_len, epochs = o["batch_size"], o["max_len"], o["epochs"]

    step0 = os.path.join(a.run, "checkpoints", "step-0")
    tok = AutoTokenizer.from_pretrained(step0)
    model, info = BertForSequenceClassification.from_pretrained(
        step0,
        num_labels=1,
        hidden_dropout_prob=p,
        attention_probs_dropout_prob=p,
        classifier_dropout=p,
        torch_dtype=torch.float32,
        attn_implementation=a.attn,
        output_loading_info=True,
    )
    missing = [k for k in info.get("missing_keys", []) if "position_ids" not in k]
    if missing:
        raise SystemExit(f"{step0}: weights missing from the checkpoint (they would be initialized at random): {missing}")
    if a.torch_head:
        # What tools/pytorch/recipe_torch.py --seed S starts from: transformers' own draw of the head.
        torch.manual_seed(int(o["seed"]))
        fresh = BertForSequenceClassification.from_pretrained(run["model"], num_labels=1, torch_dtype=torch.float32)
        with torch.no_grad():
            model.classifier.weight.copy_(fresh.classifier.weight)
            model.classifier.bias.copy_(fresh.classifier.bias)
        del fresh
        torch.manual_seed(int(o["seed"]))
        print(f"head: PyTorch's draw for seed {o['seed']}, not step-0's")
    model.train()
    masks = None
    if a.same_masks and p > 0:
        from engine_masks import EngineMasks, patch

        masks = EngineMasks(int(o["seed"]), p)
        sites = patch(model, masks)
        print(f"dropout {p} with the engine's masks (seed {o['seed']}): {sites} sites a step")

    train = ex["train"]
    texts = read_reviews(a.data, [e["source"] for e in train])
    enc = tok([texts[e["source"]] for e in train], truncation=True, max_length=max_len)
    ids = enc["input_ids"]
    labels = [float(classes.index(e["label"])) for e in train]

    steps_per_epoch = -(-len(train) // bs)
    total = steps_per_epoch * epochs
    sched = WarmupLinear(o["lr"], total, o["warmup_fraction"])
    todo = min(a.steps, total) if a.steps > 0 else total

    if a.wgbert:
        needed = []
        for g in range(todo):
            e, k = divmod(g, steps_per_epoch)
            needed.extend(ex["order"][e][k * bs : (k + 1) * bs])
        rows = sorted(set(needed))
        theirs, flattened = engine_ids(a.wgbert, run["model"] if os.path.isdir(run["model"]) else step0,
                                       [texts[train[r]["source"]] for r in rows], max_len)
        if flattened:
            print("note: some texts hold line breaks, replaced by spaces for `wgbert tokenize`")
        bad = [r for r, t in zip(rows, theirs) if t != ids[r]]
        print(f"token ids: {len(rows) - len(bad)} of {len(rows)} replayed examples identical to wgbert tokenize's")
        for r in bad[:5]:
            t = theirs[rows.index(r)]
            j = next((i for i, (x, y) in enumerate(zip(ids[r], t)) if x != y), min(len(ids[r]), len(t)))
            print(f"  {train[r]['source']}: first difference at {j}: HF {ids[r][j:j+5]} vs wgbert {t[j:j+5]}")

    decay = [q for n, q in model.named_parameters() if not ("bias" in n or "LayerNorm.weight" in n)]
    no_decay = [q for n, q in model.named_parameters() if "bias" in n or "LayerNorm.weight" in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=0.0,
        betas=(0.9, 0.999),
        eps=1e-6,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="mean")
    print(
        f"replaying {todo} of {total} steps: batch {bs}, max_len {max_len}, lr {o['lr']}, warm-up {sched.warmup} steps, "
        f"weight decay {o['weight_decay']} on {len(decay)} tensors (not on {len(no_decay)}), clip {o['max_grad_norm']}, dropout {p}"
    )
    print(f"{'step':>5} {'ours':>10} {'PyTorch':>10} {'difference':>11} {'lr':>10} {'grad norm':>10}")
    table = []
    for g in range(todo):
        e, k = divmod(g, steps_per_epoch)
        rows = ex["order"][e][k * bs : (k + 1) * bs]
        t = max(len(ids[r]) for r in rows)
        x = torch.zeros(len(rows), t, dtype=torch.long)  # [PAD] = 0
        m = torch.zeros(len(rows), t, dtype=torch.long)
        for j, r in enumerate(rows):
            x[j, : len(ids[r])] = torch.tensor(ids[r])
            m[j, : len(ids[r])] = 1
        y = torch.tensor([labels[r] for r in rows])
        if masks is not None:
            masks.begin_step(g)
        z = model(input_ids=x, attention_mask=m, token_type_ids=torch.zeros_like(x)).logits.squeeze(-1)
        loss = loss_fn(z, y)
        if masks is not None and masks.sites() != sites:
            raise SystemExit(f"step {g + 1}: {masks.sites()} dropout sites drawn, {sites} expected")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if o["max_grad_norm"] > 0:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), o["max_grad_norm"]).item()
        else:
            norm = torch.norm(torch.stack([q.grad.norm() for q in model.parameters() if q.grad is not None])).item()
        lr = sched.lr(g)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        step = g + 1
        theirs = loss.item()
        mine = ours.get(step)
        diff = None if mine is None else mine - theirs
        table.append({"step": step, "ours": mine, "pytorch": theirs, "difference": diff, "lr": lr, "grad_norm": norm})
        ours_s = f"{mine:>10.7f}" if mine is not None else f"{'-':>10}"
        diff_s = f"{diff:>+11.2e}" if diff is not None else f"{'-':>11}"
        print(f"{step:>5} {ours_s} {theirs:>10.7f} {diff_s} {lr:>10.3e} {norm:>10.4f}", flush=True)

    diffs = [(r["step"], abs(r["difference"])) for r in table if r["difference"] is not None]
    summary = {"steps": len(table), "compared": len(diffs), "tolerance": a.tolerance}
    if diffs:
        worst = max(diffs, key=lambda d: d[1])
        first = next((s for s, d in diffs if d > a.tolerance), None)
        summary.update({"max_abs_difference": worst[1], "max_at_step": worst[0], "first_over_tolerance": first})
        print(f"max |difference| {worst[1]:.3e} at step {worst[0]}; "
              + (f"first step over {a.tolerance:g}: {first}" if first else f"every step within {a.tolerance:g}"))
    if a.test:
        summary["test"] = score_test(model, tok, ex, classes, a.data, max_len, bs, os.path.join(a.run, "test.json"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"run": os.path.abspath(a.run), "summary": summary, "table": table}, f, indent=1)
    return 0 if diffs and summary.get("first_over_tolerance") is None else 1


if __name__ == "__main__":
    sys.exit(main())
