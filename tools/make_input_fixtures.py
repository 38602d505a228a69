#!/usr/bin/env python3
"""Draws two small real-text fixtures from IMDB for the inputs users bring (issue #23):

tests/fixtures/imdb_pairs/   sentence pairs, `same` / `other`: the first text is a review's
                             opening sentence; the second is the same review's closing sentence
                             (`same`) or the closing sentence of a review of the opposite
                             polarity (`other`): does the ending belong to this opening? Real
                             sentences of 5 to 30 words. train.jsonl 400 pairs (from
                             aclImdb/train), test.jsonl 200 (from aclImdb/test), half of each
                             label; fields first, second, label, source.
tests/fixtures/imdb_ratings/ three classes by the reviewer's own star rating (in the file name
                             <id>_<rating>.txt): `negative` (1-2 stars), `mixed` (4 or 7 stars:
                             the ratings nearest the middle that the labelled set has), `positive`
                             (9-10 stars). train.csv 300 reviews (100 per class, aclImdb/train),
                             test.csv 150 (50 per class, aclImdb/test); columns text, label, source.

Usage: tools/make_input_fixtures.py ../shared/data/aclImdb_labeled.tar.gz tests/fixtures
Plain standard library; Python's random.Random(7) (pairs) and random.Random(11) (ratings)
over sorted file names.
"""
import csv
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imdb_io import labeled_reviews, rating  # noqa: E402  (tools/imdb_io.py)

src, out = sys.argv[1], sys.argv[2]
reviews = labeled_reviews(src)  # name -> text
rng = random.Random(7)


def sentences(text):
    """Sentences of a review: HTML breaks removed, split after . ! ? before a capital letter."""
    text = re.sub(r"<br\s*/?>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text) if s.strip()]


def usable(s):
    return 5 <= len(s.split()) <= 30


# Sentence pairs: a review's opening sentence against its closing sentence ("same"), or against
# the closing sentence of a review of the opposite polarity ("other").
def ends(name):
    ss = [x for x in sentences(reviews[name]) if usable(x)]
    return (ss[0], ss[-1]) if len(ss) >= 3 else None


for split, n in (("train", 400), ("test", 200)):
    names = sorted(k for k in reviews if k.split("/")[1] == split)
    rng.shuffle(names)
    by_polarity = {"pos": [], "neg": []}
    for nm in names[: n * 6]:
        e = ends(nm)
        if e:
            by_polarity[nm.split("/")[2]].append((nm, e))
    rows = []
    for i in range(n):
        polarity = ("pos", "neg")[i % 2]
        nm, (opening, closing) = by_polarity[polarity][i // 2]
        if (i // 2) % 2 == 0:
            rows.append({"first": opening, "second": closing, "label": "same", "source": nm})
        else:
            other_pol = "neg" if polarity == "pos" else "pos"
            other, (_, other_closing) = by_polarity[other_pol][-(i // 2) - 1]
            rows.append({"first": opening, "second": other_closing, "label": "other", "source": f"{nm} + {other}"})
    rng.shuffle(rows)
    with open(f"{out}/imdb_pairs/{split}.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

# Three rating bands (a generator of their own: the pairs' draws do not move them).
rng = random.Random(11)
bands = {"negative": (1, 2), "mixed": (4, 7), "positive": (9, 10)}
for split, per in (("train", 100), ("test", 50)):
    rows = []
    for label, stars in bands.items():
        names = sorted(k for k in reviews if k.split("/")[1] == split and rating(k) in stars)
        for nm in rng.sample(names, per):
            text = re.sub(r"<br\s*/?>", " ", reviews[nm])
            rows.append({"text": re.sub(r"\s+", " ", text).strip(), "label": label, "source": nm})
    rng.shuffle(rows)
    with open(f"{out}/imdb_ratings/{split}.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["text", "label", "source"])
        w.writeheader()
        w.writerows(rows)
