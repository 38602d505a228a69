#!/usr/bin/env python3
"""The five-seed table: wgbert runs against PyTorch runs of the same recipe on the same reviews.

Each seed is a wgbert run folder (its run.json, history.json, test.json) and the JSON that
tools/pytorch/recipe_torch.py printed for that run folder with the same --seed. Prints a Markdown table,
one row per seed, then each side's mean and standard error (sample standard deviation / √n) and
the difference of the means against the standard error of that difference; the pairs share their
reviews, so the paired difference's standard error is printed too.

Where a seed also names two replays of its run (tools/pytorch/replay_torch.py --test --json: one with
--same-masks, one without), a second table splits the difference of test accuracy in two: the
replay with the engine's masks must score what the run scored (the engine computes what PyTorch
computes, dropout included); the replay with PyTorch's own masks keeps the run's initial weights
and batch order, so its gap to the run is the masks' part and its gap to the recipe the part of
the head's initialization and the batch order. A fifth file, a replay with --torch-head (PyTorch's
head, the run's batch order, PyTorch's masks), splits that part in turn: head, then order.

Only the standard library; by hand, after the runs (see benches/RESULTS.md, "Five seeds"):

    tools/pytorch/seed_table.py RUN_42:TORCH_42.json[:SAME_MASKS_42.json:OWN_MASKS_42.json[:TORCH_HEAD_42.json]] ...
"""

import json
import math
import os
import sys


def mean_se(xs):
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, math.sqrt(var / len(xs))


def positive_rate(confusion):
    """The share of test examples predicted as the second class, from [true][predicted] counts."""
    if not confusion:
        return None
    return sum(row[1] for row in confusion) / sum(sum(row) for row in confusion)


def replay_test(path):
    """(test accuracy, steps over the replay's tolerance or None) of a replay_torch.py --json."""
    s = json.load(open(path))["summary"]
    if "test" not in s:
        raise SystemExit(f"{path}: a replay without --test")
    return s["test"]["accuracy"], s.get("first_over_tolerance"), s.get("max_abs_difference")


def load(arg):
    parts = arg.split(":")
    if len(parts) not in (2, 4, 5):
        raise SystemExit(f"{arg}: RUN:TORCH.json[:SAME_MASKS.json:OWN_MASKS.json[:TORCH_HEAD.json]]")
    run, torch_json = parts[:2]
    opts = json.load(open(os.path.join(run, "run.json")))
    hist = json.load(open(os.path.join(run, "history.json")))
    test = json.load(open(os.path.join(run, "test.json")))
    t = json.load(open(torch_json))
    last = hist["epochs"][-1]
    return {
        "seed": opts["options"]["seed"],
        "ours": {
            "train_loss": last["loss"],
            "val": last["val_accuracy"],
            "test": test["accuracy"],
            "test_loss": test["loss"],
            "n": test["examples"],
            "positive": positive_rate(test.get("confusion")),
            "seconds": sum(e["seconds"] for e in hist["epochs"]),
        },
        "torch": {
            "train_loss": t["epochs"][-1]["loss"],
            "val": t["epochs"][-1]["validation"]["accuracy"],
            "test": t["test"]["accuracy"],
            "test_loss": t["test"]["loss"],
            "n": t["test"]["examples"],
            "positive": positive_rate(t["test"].get("confusion")),
            "seconds": t["train_and_validation_s"],
        },
        "replays": tuple(replay_test(q) for q in parts[2:]) if len(parts) > 2 else None,
    }


def split_table(rows):
    """The difference of test accuracy split into the masks' part, the head's and the order's."""
    heads = all(len(r["replays"]) == 3 for r in rows)
    print()
    print("| seed | wgbert | PyTorch, the engine's masks (max step difference) | PyTorch, own masks, the run's head and order "
          + ("| PyTorch, own masks and head, the run's order " if heads else "")
          + "| PyTorch recipe (own head, order, masks) |")
    print("|---|---|---|---|---|" + ("---|" if heads else ""))
    for r in rows:
        (same, _, worst), (own, _, _) = r["replays"][:2]
        head = f" {r['replays'][2][0]:.4f} |" if heads else ""
        print(f"| {r['seed']} | {r['ours']['test']:.4f} | {same:.4f} ({worst:.1e}) | {own:.4f} |{head} {r['torch']['test']:.4f} |")
    cols = [[r["ours"]["test"] for r in rows], [r["replays"][0][0] for r in rows], [r["replays"][1][0] for r in rows]]
    if heads:
        cols.append([r["replays"][2][0] for r in rows])
    cols.append([r["torch"]["test"] for r in rows])
    cell = lambda xs: "{:.4f} ± {:.4f}".format(*mean_se(xs))
    print("| mean ± SE | " + " | ".join(cell(c) for c in cols) + " |")
    print()
    d = lambda a, b: "{:+.4f} ± {:.4f}".format(*mean_se([x - y for x, y in zip(a, b)]))
    ours, same, own, recipe = cols[0], cols[1], cols[2], cols[-1]
    line = (f"paired differences: engine − PyTorch with the engine's masks {d(ours, same)}; "
            f"the masks (engine − PyTorch's own masks on the same head and order) {d(ours, own)}; ")
    if heads:
        line += f"the head (run's head − PyTorch's, own masks) {d(own, cols[3])}; the order (run's − recipe's) {d(cols[3], recipe)}"
    else:
        line += f"the head and order (own masks − recipe) {d(own, recipe)}"
    print(line)


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 else 2
    rows = [load(p) for p in sys.argv[1:]]
    for r in rows:
        if r["ours"]["n"] != r["torch"]["n"]:
            raise SystemExit(f"seed {r['seed']}: {r['ours']['n']} test examples against {r['torch']['n']}")
    print("| seed | wgbert: training loss | validation | test accuracy | test loss | predicted positive "
          "| PyTorch: training loss | validation | test accuracy | test loss | predicted positive |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    share = lambda v: "–" if v is None else f"{v:.3f}"
    for r in rows:
        o, t = r["ours"], r["torch"]
        print(f"| {r['seed']} | {o['train_loss']:.4f} | {o['val']:.3f} | {o['test']:.4f} | {o['test_loss']:.4f} | {share(o['positive'])} "
              f"| {t['train_loss']:.4f} | {t['val']:.3f} | {t['test']:.4f} | {t['test_loss']:.4f} | {share(t['positive'])} |")
    summary = {}
    for key in ("train_loss", "val", "test", "test_loss"):
        summary[key] = (mean_se([r["ours"][key] for r in rows]), mean_se([r["torch"][key] for r in rows]))
    cells = lambda k, side: "{:.4f} ± {:.4f}".format(*summary[k][side])
    print(f"| mean ± SE | {cells('train_loss', 0)} | {cells('val', 0)} | {cells('test', 0)} | {cells('test_loss', 0)} | "
          f"| {cells('train_loss', 1)} | {cells('val', 1)} | {cells('test', 1)} | {cells('test_loss', 1)} | |")
    (mo, so), (mt, st) = summary["test"]
    diff = mo - mt
    se_diff = math.sqrt(so**2 + st**2)
    paired = mean_se([r["ours"]["test"] - r["torch"]["test"] for r in rows])
    print()
    print(f"test accuracy, wgbert − PyTorch: {diff:+.4f}; SE of wgbert's mean {so:.4f}, of PyTorch's {st:.4f}, "
          f"of the difference {se_diff:.4f}; paired (same reviews per seed): {paired[0]:+.4f} ± {paired[1]:.4f}")
    within = abs(diff) <= min(so, st)
    print(f"within one standard error (of either mean): {'yes' if within else 'no'}; "
          f"|difference| / SE of the difference = {abs(diff) / se_diff:.2f}")
    secs = mean_se([r["ours"]["seconds"] for r in rows])[0], mean_se([r["torch"]["seconds"] for r in rows])[0]
    print(f"mean training + validation time: wgbert {secs[0]:.0f} s, PyTorch {secs[1]:.0f} s")
    if all(r["replays"] for r in rows):
        split_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
