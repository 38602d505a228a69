#!/usr/bin/env python3
"""Draws the small IMDB sample bundled for the README's main job (tests/fixtures/imdb_sample/).

Usage: tools/make_imdb_sample.py ../shared/data/aclImdb_labeled.tar.gz tests/fixtures/imdb_sample
Takes 320 positive + 320 negative reviews from aclImdb/train and 100 + 100 from aclImdb/test,
chosen with Python's random.Random(42) over the sorted file names. Plain standard library.
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imdb_io import labeled_reviews  # noqa: E402  (tools/imdb_io.py)

src, out = sys.argv[1], sys.argv[2]
files = labeled_reviews(src)
rng = random.Random(42)
for split, per_class in (("train", 320), ("test", 100)):
    rows = []
    for label in ("neg", "pos"):
        names = sorted(n for n in files if n.split("/")[1] == split and n.split("/")[2] == label)
        for n in rng.sample(names, per_class):
            rows.append({"text": files[n], "label": label, "source": n})
    rng.shuffle(rows)
    with open(f"{out}/{split}.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
print("wrote", out)
