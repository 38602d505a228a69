"""wgbert.ray on a local Ray cluster of two nodes (two raylets on this machine): 200 reviews
scored across both give exactly `wgbert predict --data`'s rows, labels and scores, and a node
killed mid-run loses no rows (Ray restarts its actor on the other node and retries its batches)."""

import json
import os
import sys
import threading
import time

import numpy as np
import pytest

from conftest import jsonl, REVIEWS, TWO_LABELS, run_cli

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

import wgbert.ray  # noqa: E402


class SlowScorer(wgbert.ray.Scorer):
    """The Scorer, noting the node that scored each row, and slowed so that a node can be
    killed while batches are in flight."""

    delay = 0.0

    def __call__(self, batch):
        time.sleep(self.delay)
        out = super().__call__(batch)
        out["node"] = np.array([ray.get_runtime_context().get_node_id()] * len(out["label"]))
        return out


class KillScorer(SlowScorer):
    delay = 0.4


@pytest.fixture(scope="module")
def cluster():
    # The test module's classes travel to the workers by value (they cannot import it).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    node = dict(num_cpus=2, object_store_memory=80 * 2**20)
    c = Cluster(initialize_head=True, head_node_args=dict(node, include_dashboard=False))
    worker = c.add_node(**node)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c, worker
    ray.shutdown()
    c.shutdown()


def reviews():
    rows = jsonl(REVIEWS.read_text())
    return [{"row": i, "text": r["text"]} for i, r in enumerate(rows)]


def score(scorer, blocks, batch_size):
    ds = ray.data.from_items(reviews(), override_num_blocks=blocks)
    return ds.map_batches(
        scorer,
        fn_constructor_args=(str(TWO_LABELS),),
        batch_size=batch_size,
        concurrency=2,
        num_cpus=1,
        # One actor on each node.
        scheduling_strategy="SPREAD",
    )


@pytest.fixture(scope="module")
def cli_rows():
    rows = jsonl(run_cli(["predict", "--model", str(TWO_LABELS), "--data", str(REVIEWS)]))
    assert len(rows) == 200
    return rows


def check_equal(got, cli_rows):
    got = sorted(got, key=lambda r: r["row"])
    assert [r["row"] for r in got] == list(range(200)), "rows lost or repeated"
    assert [r["label"] for r in got] == [w["label"] for w in cli_rows]
    scores = np.array([r["score"] for r in got])
    assert np.abs(scores - np.array([w["score"] for w in cli_rows])).max() <= 1e-6
    for name in ("neg", "pos"):
        p = np.array([r[f"p_{name}"] for r in got])
        assert np.abs(p - np.array([w["probabilities"][name] for w in cli_rows])).max() <= 1e-6


def test_two_nodes_equal_one_machine(cluster, cli_rows):
    t0 = time.monotonic()
    got = score(SlowScorer, blocks=8, batch_size=25).take_all()
    print(f"2 nodes: 200 rows in {time.monotonic() - t0:.1f} s")
    check_equal(got, cli_rows)
    assert len({r["node"] for r in got}) == 2, "the rows were not scored on both nodes"


def test_node_killed_mid_run_loses_no_rows(cluster, cli_rows):
    c, worker = cluster
    ds = score(KillScorer, blocks=20, batch_size=10)
    seen, killed = [], threading.Event()
    # Kill the second node once both actors have scored a few batches.
    for row in ds.iter_rows():
        seen.append(row)
        if not killed.is_set() and len(seen) >= 40:
            c.remove_node(worker, allow_graceful=False)
            killed.set()
    assert killed.is_set()
    check_equal(seen, cli_rows)
    nodes = {r["node"] for r in seen}
    assert worker.node_id in nodes and len(nodes) == 2, "the killed node scored nothing: nothing was lost to test"
