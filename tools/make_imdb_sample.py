#!/usr/bin/env python3
"""Draws the small IMDB sample bundled for the README's main job (tests/fixtures/imdb_sample/).

Usage: tools/make_imdb_sample.py ../shared/data/aclImdb_labeled.tar.gz tests/fixtures/imdb_sample
Takes 320 positive + 320 negative reviews from aclImdb/train and 100 + 100 from aclImdb/test,
chosen with Python's random.Random(42) over the sorted file names. Plain standard library.
"""
import json
import random
import sys
import tarfile

src, out = sys.argv[1], sys.argv[2]
files = {}
with tarfile.open(src, "r:gz") as tar:
    for m in tar:
        parts = m.name.split("/")
        if m.isfile() and len(parts) == 4 and parts[1] in ("train", "test") and parts[2] in ("pos", "neg"):
            files[m.name] = tar.extractfile(m).read().decode("utf-8")
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
