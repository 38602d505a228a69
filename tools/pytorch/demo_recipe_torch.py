#!/usr/bin/env python3
"""Measures candidate recipes for the README demo (tools/demo.sh) in PyTorch.

Each candidate fine-tunes all-MiniLM-L6-v2 with wgbert's recipe — AdamW (betas 0.9/0.999,
eps 1e-6, weight decay 0.01 except biases and LayerNorm weights), global gradient clipping at 1.0,
linear warm-up over the first --warmup of the steps then linear decay to 0, dropout, a one-logit
head with binary cross-entropy on logits (class 1 = pos) — and varies what the head reads
(--pool pooler: tanh(W·h_CLS); mean: the masked mean of the last hidden state), the number and
length of the training reviews, epochs, learning rate, batch size and how many lower layers are
frozen. Like `wgbert train`, 20% of the training reviews (a seeded split) are held out for
validation and evaluated after every epoch; that time counts in the training wall time.

Data: training reviews are a seeded, class-balanced sample of aclImdb/train (or the bundled
tests/fixtures/imdb_sample/train.jsonl with --train-fixture); test reviews are a seeded,
class-balanced random sample of aclImdb/test (never trained on). --short-only N keeps only reviews
of at most N tokens (with [CLS]/[SEP]) when drawing the training sample; the test is then reported
twice: on a random test sample (unselected) and on test reviews selected the same way.

--test-fixture FILE tests on a JSONL file instead (e.g. the bundled test.jsonl).
--freeze K freezes the embeddings and layers 0..K-1; with --cache-frozen that part runs once, in
eval mode (no dropout), before training, and its outputs are reused in every epoch.

It prints one JSON line per (candidate, seed): wall and CPU times (training incl. validation,
test inference), the number of training tokens × epochs, test accuracy and the five tutorial
sentences' probabilities of "pos". Wall times depend on the machine's load; with --threads 1 the
CPU time (process_time) is a steadier measure of the work.

By hand, never in CI (needs torch and transformers), from the repository root; the recipe
that tools/demo.sh uses:

    HF_HUB_OFFLINE=1 /work/venvs/torch/bin/python tools/pytorch/demo_recipe_torch.py \\
        --train-fixture tests/fixtures/imdb_sample/train.jsonl \\
        --test-fixture tests/fixtures/imdb_sample/test.jsonl --train 640 --max-len 64 \\
        --pool mean --freeze 3 --cache-frozen --epochs 2 --lr 2e-4 --batch 16 --seeds 42,1,2

(without the fixture options it draws --train reviews from aclImdb/train and --test from
aclImdb/test in --data, the tarball).

The reviews read from the tarball are cached in --cache (default /tmp/recipe/imdb.pkl).
"""

import argparse
import json
import os
import pickle
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imdb_io import labeled_reviews  # noqa: E402  (tools/lib/imdb_io.py)

SENTENCES = [
    "this is such an amazing movie!",
    "The movie was great!",
    "The movie was meh.",
    "The movie was okish.",
    "The movie was terrible...",
]


def load_imdb(tarball, cache):
    if cache and os.path.isfile(cache):
        return pickle.load(open(cache, "rb"))
    out = {("train", "pos"): [], ("train", "neg"): [], ("test", "pos"): [], ("test", "neg"): []}
    for name, text in labeled_reviews(tarball).items():
        parts = name.split("/")
        out[(parts[1], parts[2])].append((name, text))
    for v in out.values():
        v.sort()
    if cache:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        pickle.dump(out, open(cache, "wb"))
    return out


def balanced(imdb, split, n, seed, keep=None):
    """n reviews (n/2 per class) of `split`, seeded; `keep(text)` filters first. [(text, y)]"""
    rng = random.Random(seed)
    rows = []
    for y, label in ((0.0, "neg"), (1.0, "pos")):
        pool = [t for _, t in imdb[(split, label)] if keep is None or keep(t)]
        rows += [(t, y) for t in rng.sample(pool, n // 2)]
    rng.shuffle(rows)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/aclImdb_labeled.tar.gz")
    ap.add_argument("--cache", default="/tmp/recipe/imdb.pkl")
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--train-fixture", default=None, help="a JSONL file (text, label) instead of aclImdb/train")
    ap.add_argument("--test-fixture", default=None, help="a JSONL file (text, label) instead of aclImdb/test")
    ap.add_argument("--train", type=int, default=240, help="training reviews before the validation split")
    ap.add_argument("--val-frac", type=float, default=0.2)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--short-only", type=int, default=0, help="train only on reviews of <= N tokens")
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--pool", choices=["pooler", "mean", "cls"], default="mean")
    ap.add_argument("--freeze", type=int, default=0, help="freeze embeddings + the first N layers")
    ap.add_argument("--cache-frozen", action="store_true",
                    help="frozen part run once in eval mode (no dropout) and its outputs reused")
    ap.add_argument("--seeds", default="42")
    ap.add_argument("--data-seed", type=int, default=42, help="seed of the train/test samples")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoTokenizer, BertModel

    torch.set_num_threads(a.threads)
    tok = AutoTokenizer.from_pretrained(a.model)
    imdb = None if (a.train_fixture and a.test_fixture) else load_imdb(a.data, a.cache)

    def ntok(t):
        return len(tok(t, truncation=False)["input_ids"])

    keep = (lambda t: ntok(t) <= a.short_only) if a.short_only else None
    if a.train_fixture:
        rows = [json.loads(l) for l in open(a.train_fixture, encoding="utf-8")]
        train_all = [(r["text"], 1.0 if r["label"] == "pos" else 0.0) for r in rows][: a.train]
    else:
        # Pre-filter by characters first so the token count runs on few reviews.
        if keep:
            cheap = lambda t: len(t) <= a.short_only * 8 and keep(t)
            train_all = balanced(imdb, "train", a.train, a.data_seed, cheap)
        else:
            train_all = balanced(imdb, "train", a.train, a.data_seed)
    rng = random.Random(a.data_seed)
    train_all = train_all[:]
    rng.shuffle(train_all)
    n_val = round(len(train_all) * a.val_frac)
    train, val = train_all[: len(train_all) - n_val], train_all[len(train_all) - n_val :]
    if a.test_fixture:
        rows = [json.loads(l) for l in open(a.test_fixture, encoding="utf-8")]
        tests = {"fixture": [(r["text"], 1.0 if r["label"] == "pos" else 0.0) for r in rows]}
        a.test = len(tests["fixture"])
    else:
        tests = {"random": balanced(imdb, "test", a.test, a.data_seed + 1)}
    if a.short_only and imdb is not None:
        tests["selected"] = balanced(imdb, "test", a.test, a.data_seed + 1,
                                     lambda t: len(t) <= a.short_only * 8 and keep(t))

    def enc(rows):
        e = tok([t for t, _ in rows], truncation=True, max_length=a.max_len)
        return e["input_ids"], [y for _, y in rows]

    def batches(ids, ys, order, bs):
        for i in range(0, len(order), bs):
            rs = order[i : i + bs]
            t = max(len(ids[r]) for r in rs)
            x = torch.zeros(len(rs), t, dtype=torch.long)
            m = torch.zeros(len(rs), t, dtype=torch.long)
            for j, r in enumerate(rs):
                x[j, : len(ids[r])] = torch.tensor(ids[r])
                m[j, : len(ids[r])] = 1
            yield rs, x, m, torch.tensor([ys[r] for r in rs])

    tr_ids, tr_y = enc(train)
    va_ids, va_y = enc(val)
    te = {k: enc(v) for k, v in tests.items()}
    se_ids, _ = enc([(s, 0.0) for s in SENTENCES])
    mean_tok = sum(map(len, tr_ids)) / len(tr_ids)

    def ext_mask(m):
        # additive attention mask (batch, 1, 1, keys), as BERT's own
        return (1.0 - m[:, None, None, :].float()) * torch.finfo(torch.float32).min

    for seed in [int(s) for s in a.seeds.split(",")]:
        torch.manual_seed(seed)
        p = a.dropout
        bert = BertModel.from_pretrained(a.model, hidden_dropout_prob=p, attention_probs_dropout_prob=p,
                                         add_pooling_layer=(a.pool == "pooler"))
        head = torch.nn.Linear(384, 1)
        torch.nn.init.normal_(head.weight, std=0.02)
        torch.nn.init.zeros_(head.bias)
        drop = torch.nn.Dropout(p)
        layers = bert.encoder.layer
        frozen = list(bert.embeddings.parameters())
        for L in layers[: a.freeze]:
            frozen += list(L.parameters())
        if a.freeze:
            for q in frozen:
                q.requires_grad_(False)
        named = [(n, q) for n, q in bert.named_parameters() if q.requires_grad] + [
            ("head.weight", head.weight), ("head.bias", head.bias)]
        params = [q for _, q in named]
        nd = lambda n: "bias" in n or "LayerNorm.weight" in n
        opt = torch.optim.AdamW(
            [{"params": [q for n, q in named if not nd(n)], "weight_decay": 0.01},
             {"params": [q for n, q in named if nd(n)], "weight_decay": 0.0}],
            lr=a.lr, betas=(0.9, 0.999), eps=1e-6)
        steps = -(-len(tr_ids) // a.batch) * a.epochs
        warm = int(a.warmup * steps)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: s / warm if s < warm else max(0.0, 1.0 - s / steps))
        lossf = torch.nn.BCEWithLogitsLoss()

        def forward(x, m, train_mode, cached=None):
            ext = ext_mask(m)
            if cached is not None:
                h = cached
            else:
                h = bert.embeddings(input_ids=x)
                for L in layers[: a.freeze]:
                    h = L(h, attention_mask=ext)
                    h = h[0] if isinstance(h, tuple) else h
            for L in layers[a.freeze :]:
                h = L(h, attention_mask=ext)
                h = h[0] if isinstance(h, tuple) else h
            if a.pool == "mean":
                mf = m.unsqueeze(-1).float()
                v = (h * mf).sum(1) / mf.sum(1)
            elif a.pool == "cls":
                v = h[:, 0]
            else:
                v = bert.pooler(h)
            return head(drop(v)).squeeze(-1)

        def set_mode(train_mode):
            bert.train(train_mode)
            drop.train(train_mode)

        def predict(ids):
            set_mode(False)
            out = [0.0] * len(ids)
            with torch.no_grad():
                for rs, x, m, _ in batches(ids, [0.0] * len(ids), list(range(len(ids))), 64):
                    z = forward(x, m, False)
                    for r, v in zip(rs, torch.sigmoid(z).tolist()):
                        out[r] = v
            return out

        def acc(ids, ys):
            pr = predict(ids)
            return sum((q > 0.5) == (y > 0.5) for q, y in zip(pr, ys)) / len(ys)

        g = torch.Generator().manual_seed(seed)
        t0, c0 = time.perf_counter(), time.process_time()
        cache = None
        if a.cache_frozen and a.freeze:
            # Frozen part once, without dropout; batches keep their padded shapes per batch, so
            # cache per example (its own length) and pad per batch.
            set_mode(False)
            cache = []
            with torch.no_grad():
                for rs, x, m, _ in batches(tr_ids, tr_y, list(range(len(tr_ids))), 64):
                    ext = ext_mask(m)
                    h = bert.embeddings(input_ids=x)
                    for L in layers[: a.freeze]:
                        h = L(h, attention_mask=ext)
                        h = h[0] if isinstance(h, tuple) else h
                    for j, r in enumerate(rs):
                        cache.append((r, h[j, : len(tr_ids[r])].clone()))
            cache = [h for _, h in sorted(cache, key=lambda c: c[0])]
        hist = []
        for ep in range(a.epochs):
            set_mode(True)
            if a.freeze and not a.cache_frozen:
                # dropout stays on in the frozen layers too, as a plain frozen run would have it
                pass
            order = torch.randperm(len(tr_ids), generator=g).tolist()
            tl = 0.0
            for rs, x, m, y in batches(tr_ids, tr_y, order, a.batch):
                cached = None
                if cache is not None:
                    t = x.shape[1]
                    cached = torch.zeros(len(rs), t, 384)
                    for j, r in enumerate(rs):
                        cached[j, : cache[r].shape[0]] = cache[r]
                z = forward(x, m, True, cached)
                loss = lossf(z, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                tl += loss.item() * len(rs)
            va = acc(va_ids, va_y) if va_ids else None
            hist.append({"loss": round(tl / len(tr_ids), 4), "val_acc": va})
        train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
        t1, c1 = time.perf_counter(), time.process_time()
        test_acc = {k: acc(*v) for k, v in te.items()}
        test_s, test_cpu = time.perf_counter() - t1, time.process_time() - c1
        five = predict(se_ids)
        print(json.dumps({
            "tag": a.tag, "pool": a.pool, "train": len(tr_ids), "val": len(va_ids),
            "short_only": a.short_only, "max_len": a.max_len, "mean_tokens": round(mean_tok, 1),
            "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "warmup": a.warmup, "freeze": a.freeze,
            "cache_frozen": a.cache_frozen, "seed": seed, "train_s": round(train_s, 1),
            "train_cpu_s": round(train_cpu, 1), "test_s": round(test_s, 1), "test_cpu_s": round(test_cpu, 1),
            "threads": a.threads, "train_token_passes": sum(map(len, tr_ids)) * a.epochs, "test_n": a.test, "test_acc": test_acc,
            "five": [round(v, 2) for v in five], "history": hist,
        }), flush=True)


if __name__ == "__main__":
    main()
