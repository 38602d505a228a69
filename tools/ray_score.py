#!/usr/bin/env python3
"""Scores a corpus on a Ray cluster with a wgbert classifier: one model per actor, one actor per
GPU (or per CPU slot with --gpus-per-actor 0), label/score/probability columns added to each row.

    tools/ray_score.py --address ray://head:10001 --model runs/imdb --data reviews.parquet --out scored/

--data: a .csv, .jsonl (.json) or .parquet file or folder of them; --out: a folder of Parquet
(or with --format jsonl, JSON lines) files, one per block. The model folder must be readable at
the same path on every node (a shared file system, or copied there first). Needs `pip install
./python[ray]` on every node (python/README.md).
"""

import argparse
import sys
import time
from pathlib import Path


def read(ray, path: str):
    lower = path.lower().rstrip("/")
    if lower.endswith(".csv"):
        return ray.data.read_csv(path)
    if lower.endswith(".jsonl") or lower.endswith(".json"):
        return ray.data.read_json(path, lines=True) if lower.endswith(".jsonl") else ray.data.read_json(path)
    if lower.endswith(".parquet") or Path(path).is_dir():
        return ray.data.read_parquet(path)
    sys.exit(f"--data {path}: name a .csv, .jsonl or .parquet file (or a folder of Parquet files)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", default=None, help="the cluster (ray://host:10001, host:6379 or auto); default: a local Ray")
    p.add_argument("--model", required=True, help="a run folder or a classifier's model folder")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["parquet", "jsonl"], default="parquet")
    p.add_argument("--text-column", default="text")
    p.add_argument("--text-pair-column", default=None)
    p.add_argument("--prefix", default="", help="before each added column's name (pred_ gives pred_label), for data that has a label column")
    p.add_argument("--batch-size", type=int, default=256, help="rows per Ray batch (the model batches 32 at a time within it)")
    p.add_argument("--concurrency", type=int, default=None, help="actors (default: one per GPU; without GPUs, one per CPU less one)")
    p.add_argument("--gpus-per-actor", type=float, default=None, help="default: 1 when the cluster has GPUs, else 0")
    p.add_argument("--cpus-per-actor", type=float, default=1)
    p.add_argument("--max-len", type=int, default=128)
    a = p.parse_args()

    import ray

    import wgbert.ray

    ray.init(address=a.address)
    gpus = ray.cluster_resources().get("GPU", 0)
    cpus = ray.cluster_resources().get("CPU", 1)
    per_actor = a.gpus_per_actor if a.gpus_per_actor is not None else (1 if gpus else 0)
    # Without GPUs, one CPU is left to the tasks that read and write the files: actors holding
    # every CPU would wait for rows that no task can read (the run would hang).
    concurrency = a.concurrency or (int(gpus // per_actor) if per_actor else max(1, int(cpus // a.cpus_per_actor) - 1))
    ds = read(ray, a.data)
    t0 = time.monotonic()
    scored = ds.map_batches(
        wgbert.ray.Scorer,
        fn_constructor_args=(str(Path(a.model).resolve()),),
        fn_constructor_kwargs={"text_column": a.text_column, "pair_column": a.text_pair_column, "max_len": a.max_len, "prefix": a.prefix},
        batch_size=a.batch_size,
        concurrency=concurrency,
        num_gpus=per_actor,
        num_cpus=a.cpus_per_actor,
    )
    if a.format == "parquet":
        scored.write_parquet(a.out)
    else:
        scored.write_json(a.out)
    seconds = time.monotonic() - t0
    rows = ray.data.read_parquet(a.out).count() if a.format == "parquet" else None
    what = f"{rows} rows" if rows is not None else "rows"
    print(f"scored {what} in {seconds:.1f} s with {concurrency} actor(s), {per_actor:g} GPU each; output in {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
