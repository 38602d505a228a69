#!/usr/bin/env python3
"""Time HF `tokenizers` (Rust core) on the 25,000 IMDB train reviews: the reference for
`wgbert bench tokenizer`. Encodes every review to ids with [CLS]/[SEP], no truncation, no
padding, with encode_batch on 1 thread and on all threads (each in a fresh process,
since the Rayon pool size is fixed at first use). Tokens counted include [CLS]/[SEP].

    python tools/pytorch/bench_hf_tokenizer.py --imdb /tmp/imdb/aclImdb --model models/all-MiniLM-L6-v2
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time


def load(imdb):
    files = sorted(glob.glob(os.path.join(imdb, "train", "pos", "*.txt")) + glob.glob(os.path.join(imdb, "train", "neg", "*.txt")))
    texts = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            texts.append(fh.read())
    return texts


def run_one(args):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    texts = load(args.imdb)
    tok.encode_batch(texts[:200])  # warm-up
    best = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        encs = tok.encode_batch(texts)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    tokens = sum(len(e.ids) for e in encs)
    print(json.dumps({"reviews": len(texts), "tokens": tokens, "secs": best}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imdb", required=True, help="unpacked aclImdb folder")
    ap.add_argument("--model", required=True, help="folder with tokenizer.json")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return run_one(args)
    import tokenizers

    print(f"HF tokenizers {tokenizers.__version__}, {os.cpu_count()} cpus")
    for label, threads in (("1 thread", "1"), ("all threads", str(os.cpu_count()))):
        env = dict(os.environ, RAYON_NUM_THREADS=threads, RAYON_RS_NUM_CPUS=threads, TOKENIZERS_PARALLELISM="true")
        cmd = [sys.executable, __file__, "--child", "--imdb", args.imdb, "--model", args.model, "--repeat", str(args.repeat)]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{label:>11}: {r['reviews']} reviews in {r['secs']:.2f} s = {r['reviews'] / r['secs']:,.0f} reviews/s, "
            f"{r['tokens'] / r['secs'] / 1e6:.3f} M tokens/s ({r['tokens']:,} tokens)"
        )


if __name__ == "__main__":
    main()
