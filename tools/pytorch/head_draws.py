#!/usr/bin/env python3
"""How much the fresh classifier head decides a short run, and whether wgbert draws it as PyTorch does.

In the tutorial's one-epoch recipe (63 steps at lr 3e-5) the one-logit head barely moves from its
random start (seed 4: 1.6e-4 per weight on average, 6.7e-4 at most, against a start of std
0.02; cosine 0.99996 between the start and the end), so the test accuracy a run ends with leans
on the direction its head was drawn in. This script:

  1. reproduces wgbert's head draw (src/model/init.rs: splitmix64, Box-Muller, f32, std
     initializer_range, seed = run seed ^ 0x5eed) and checks it bit for bit against the
     classifier.weight of each RUN's checkpoints/step-0;
  2. scores N heads of each kind on the *untrained* model's pooled output of a run's test
     reviews: wgbert's draws for seeds 0..N-1, and torch.normal draws (what transformers'
     _init_weights does) for torch seeds 0..N-1; prints both accuracy distributions, which must
     agree if the engine draws its heads as PyTorch does;
  3. prints, for each RUN, the untrained accuracy of its head beside the test accuracy the run
     ended with (RUN/test.json), and where RUN:TORCH.json names tools/pytorch/recipe_torch.py's output
     for that run, the same for the head that script drew (transformers' init after
     torch.manual_seed(seed)): how much the start decides the end, on both sides. All heads
     are scored on the first run's test reviews (a head's alignment with the sentiment of the
     pooled output hardly depends on which 2,000 reviews score it).

By hand, never in CI (needs torch and transformers; ~3 minutes on 2 CPU threads):

    HF_HUB_OFFLINE=1 /work/venvs/torch/bin/python tools/pytorch/head_draws.py --data aclImdb_labeled.tar.gz \\
        --runs /work/seeds/s42:/work/seeds/torch-s42.json /work/seeds/s1:... [--n 1000]
"""

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imdb_io import read_reviews  # noqa: E402

M64 = (1 << 64) - 1


def engine_normal(n, std, seed):
    """src/model/init.rs normal_init: n draws of N(0, std²) as f32."""
    state = seed & M64
    out = np.empty(n, dtype=np.float32)

    def unit():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        return (z >> 11) / float(1 << 53)

    for i in range(n):
        u1, u2 = max(unit(), 1e-300), unit()
        out[i] = np.float32(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)) * np.float32(std)
    return out


def summary(xs):
    xs = np.sort(np.asarray(xs))
    q = lambda f: xs[min(int(f * len(xs)), len(xs) - 1)]
    return f"mean {xs.mean():.4f} sd {xs.std(ddof=1):.4f}  quartiles {q(0.25):.4f} {q(0.5):.4f} {q(0.75):.4f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", nargs="+", required=True, help="wgbert run folders (the first one's test reviews are scored)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import torch
    from safetensors.numpy import load_file
    from transformers import BertForSequenceClassification, BertModel, BertTokenizerFast

    torch.set_num_threads(a.threads)
    pairs = [(r.split(":", 1) + [None])[:2] for r in a.runs]
    a.runs = [r for r, _ in pairs]
    run0 = json.load(open(os.path.join(a.runs[0], "run.json")))
    model_dir = run0["model"]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    std, c = cfg.get("initializer_range", 0.02), cfg["hidden_size"]

    # 1. The engine's draw, bit for bit.
    for run in a.runs:
        seed = json.load(open(os.path.join(run, "run.json")))["options"]["seed"]
        step0 = os.path.join(run, "checkpoints", "step-0")
        w = next(load_file(os.path.join(step0, f))["classifier.weight"] for f in os.listdir(step0) if f.endswith(".safetensors"))
        mine = engine_normal(c, std, seed ^ 0x5EED)
        if not np.array_equal(w.reshape(-1), mine):
            raise SystemExit(f"{run}: step-0's head differs from the reproduced draw (max {np.abs(w.reshape(-1) - mine).max():.3e})")
    print(f"wgbert's head draw reproduced bit for bit for {len(a.runs)} runs")

    # 2. The untrained model's pooled output on the first run's test reviews.
    ex = json.load(open(os.path.join(a.runs[0], "examples.json")))
    classes = ex["classes"]
    test = ex["test"]
    texts = read_reviews(a.data, [e["source"] for e in test])
    y = np.array([classes.index(e["label"]) for e in test], dtype=np.float64)
    tok = BertTokenizerFast.from_pretrained(model_dir)
    bert = BertModel.from_pretrained(model_dir).eval()
    pooled = []
    with torch.no_grad():
        for k in range(0, len(test), 32):
            enc = tok([texts[e["source"]] for e in test[k : k + 32]], truncation=True, max_length=run0["options"]["max_len"],
                      padding=True, return_tensors="pt")
            pooled.append(bert(**enc).pooler_output.double().numpy())
    pooled = np.concatenate(pooled)  # (N, C)

    def accuracy(heads):  # heads (H, C), bias 0
        z = pooled @ np.asarray(heads, dtype=np.float64).T  # (N, H)
        return ((z > 0) == (y[:, None] > 0.5)).mean(axis=0)

    ours = accuracy(np.stack([engine_normal(c, std, s ^ 0x5EED) for s in range(a.n)]))
    theirs = []
    for s in range(a.n):
        g = torch.Generator().manual_seed(s)
        theirs.append(torch.empty(c, dtype=torch.float32).normal_(0.0, std, generator=g).numpy())
    theirs = accuracy(np.stack(theirs))
    print(f"untrained accuracy of {a.n} heads on {len(test)} test reviews of {a.runs[0]}:")
    print(f"  wgbert's draws (seeds 0..{a.n - 1}): {summary(ours)}")
    print(f"  torch.normal   (seeds 0..{a.n - 1}): {summary(theirs)}")
    diff = ours.mean() - theirs.mean()
    se = math.sqrt(ours.var(ddof=1) / len(ours) + theirs.var(ddof=1) / len(theirs))
    print(f"  difference of the means {diff:+.4f} ± {se:.4f} (SE)")

    # 3. Each run's own head at the start against the run's end.
    print("seed | wgbert: head untrained, run's test accuracy | PyTorch recipe: head untrained, test accuracy")
    for run, torch_json in pairs:
        seed = json.load(open(os.path.join(run, "run.json")))["options"]["seed"]
        start = accuracy(engine_normal(c, std, seed ^ 0x5EED)[None, :])[0]
        end = json.load(open(os.path.join(run, "test.json")))["accuracy"]
        row = f"{seed} | {start:.4f} {end:.4f}"
        if torch_json:
            torch.manual_seed(seed)  # as tools/pytorch/recipe_torch.py --seed S, before from_pretrained
            head = BertForSequenceClassification.from_pretrained(model_dir, num_labels=1).classifier.weight
            t_start = accuracy(head.detach().double().numpy())[0]
            t_end = json.load(open(torch_json))["test"]["accuracy"]
            row += f" | {t_start:.4f} {t_end:.4f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
