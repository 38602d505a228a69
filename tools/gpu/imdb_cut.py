#!/usr/bin/env python3
"""The IMDB reviews of the GPU kit: every review of aclImdb_labeled.tar.gz cut to the shortest
prefix, ending before a space, that holds its first N word pieces (`wgbert tokenize --prefix N`),
written as two JSONL files (text, label) that `wgbert train --data` / `wgbert eval --data` read.
Standard library only.

    python3 tools/gpu/imdb_cut.py TARBALL WGBERT MODEL_DIR N OUT_DIR

A recipe at --max-len M <= N + 2 sees the same ids as on the whole reviews; this script checks
it: every original review and its cut are tokenized at --max-len N + 2 by the same binary and the
two id lists must be identical, line by line, or the script fails. The order of the reviews is
the order wgbert's tarball reader gives (by class, then as stored in the archive), so the seeded
train/validation split of a run on these files is the split of a run on the tarball itself.
Writes OUT_DIR/imdb_train.jsonl.xz, OUT_DIR/imdb_test.jsonl.xz and OUT_DIR/imdb_cut.json (counts,
sizes, the check's result).
"""

import json
import lzma
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor


def tokenize(wgbert, model, args, lines):
    p = subprocess.run(
        [wgbert, "tokenize", "--model", model, *args],
        input="".join(t + "\n" for t in lines).encode(),
        capture_output=True,
        check=False,
    )
    if p.returncode != 0:
        sys.exit(f"wgbert tokenize {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    out = p.stdout.decode().split("\n")
    assert out[-1] == "" and len(out) == len(lines) + 1, "one output line per input line"
    return out[:-1]


def main():
    tarball, wgbert, model, n, out_dir = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    # split -> class -> [text], in the archive's order within a class.
    reviews = {"train": {}, "test": {}}
    with tarfile.open(tarball) as tf:
        for m in tf:
            parts = m.name.split("/")
            if not m.isfile() or len(parts) < 3 or parts[-3] not in reviews or not parts[-1].endswith(".txt"):
                continue
            if parts[-2] == "unsup":
                continue
            text = tf.extractfile(m).read().decode("utf-8")
            if "\n" in text or "\r" in text:
                sys.exit(f"{m.name}: a line break inside a review; the one-text-per-line cut would split it")
            reviews[parts[-3]].setdefault(parts[-2], []).append(text)
    rows = [(split, label, t) for split in ("train", "test") for label in sorted(reviews[split]) for t in reviews[split][label]]
    texts = [t for _, _, t in rows]
    cut = tokenize(wgbert, model, ["--prefix", str(n)], texts)
    # The check: the same ids at --max-len N + 2 for each review and its cut.
    whole_ids = tokenize(wgbert, model, ["--max-len", str(n + 2)], texts)
    cut_ids = tokenize(wgbert, model, ["--max-len", str(n + 2)], cut)
    differ = [i for i, (a, b) in enumerate(zip(whole_ids, cut_ids)) if a != b]
    not_prefix = [i for i, (a, b) in enumerate(zip(texts, cut)) if not a.startswith(b)]
    if differ or not_prefix:
        sys.exit(f"cut check failed: {len(differ)} reviews encode differently, {len(not_prefix)} cuts are no prefix")
    report = {
        "source": tarball,
        "word_pieces_kept": n,
        "same_ids_at_max_len": n + 2,
        "check": f"all {len(texts)} reviews: the cut encodes to the same ids as the whole review at --max-len {n + 2}",
        "reviews_cut": sum(len(c) < len(t) for t, c in zip(texts, cut)),
        "chars_before": sum(map(len, texts)),
        "chars_after": sum(map(len, cut)),
    }
    def write(split):
        lines = [json.dumps({"text": c, "label": label}, ensure_ascii=False) + "\n" for (s, label, _), c in zip(rows, cut) if s == split]
        with open(f"{out_dir}/imdb_{split}.jsonl.xz", "wb") as f:
            f.write(lzma.compress("".join(lines).encode(), preset=9))

    # xz: 7.6 MB for both against gzip's 10.9, which the kit's 64 MiB wants; lzma releases the
    # GIL, so the two files compress on two cores at once (about 35 s).
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, ["train", "test"]))
    for split in ("train", "test"):
        report[split] = {label: len(reviews[split][label]) for label in sorted(reviews[split])}
    with open(f"{out_dir}/imdb_cut.json", "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
