#!/usr/bin/env python3
"""Ray Data scaling on this machine: the same rows embedded by one process (wgbert.Encoder), then
by a local Ray cluster of 1 node and of 2 nodes (one Embedder actor per node), wall time end to
end (actor start and model load included) and rows/s. docs/python.md quotes its output.

    target/py-venv/bin/python tools/ray_scaling.py --model models/all-MiniLM-L6-v2 --rows 200
"""

import argparse
import json
import sys
import time
from pathlib import Path

import wgbert
import wgbert.ray


def rows(path: Path, n: int) -> list:
    texts = [json.loads(line)["text"] for line in path.read_text().split("\n") if line.strip()]
    return [{"row": i, "text": texts[i % len(texts)]} for i in range(n)]


def on_cluster(nodes: int, items: list, model: str, batch: int) -> float:
    import ray
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args=dict(num_cpus=1, include_dashboard=False))
    for _ in range(nodes - 1):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        ds = ray.data.from_items(items, override_num_blocks=4 * nodes)
        t0 = time.monotonic()
        out = ds.map_batches(
            wgbert.ray.Embedder, fn_constructor_args=(model,), batch_size=batch, concurrency=nodes,
            num_cpus=1, scheduling_strategy="SPREAD",
        ).materialize()
        assert out.count() == len(items)
        return time.monotonic() - t0
    finally:
        ray.shutdown()
        c.shutdown()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/all-MiniLM-L6-v2")
    p.add_argument("--data", default="tests/fixtures/imdb_sample/test.jsonl")
    p.add_argument("--rows", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=25)
    p.add_argument("--nodes", type=int, nargs="+", default=[1, 2])
    a = p.parse_args()
    model = str(Path(a.model).resolve())
    items = rows(Path(a.data), a.rows)
    t0 = time.monotonic()
    enc = wgbert.Encoder(model)
    loaded = time.monotonic() - t0
    enc.embed([r["text"] for r in items])
    alone = time.monotonic() - t0
    print(f"one process: {a.rows} rows in {alone:.1f} s ({a.rows / alone:.1f} rows/s; load {loaded:.1f} s)")
    for n in a.nodes:
        s = on_cluster(n, items, model, a.batch_size)
        print(f"Ray, {n} node(s), {n} actor(s): {a.rows} rows in {s:.1f} s ({a.rows / s:.1f} rows/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
