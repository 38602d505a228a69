#!/usr/bin/env python3
"""run.sh's bookkeeping (standard library only): after each stage it appends that stage's
section to $OUT/summary.md and merges its figures into $OUT/results.json, so that a run cut short
still returns what it had; `plan` sizes the recipe from the measured training step.

    summarize.py start  MODE WORK NOTE
    summarize.py stage  NAME STATUS RC SECONDS WORK      (info, selftest, kernels, bench_f32,
                                                          bench_mixed, bench_torch, serve, switches,
                                                          recipe)
    summarize.py plan   MODE WORK SECONDS_LEFT           prints: EPOCHS LIMIT_TRAIN TRAIN_BOX LIMIT_TEST
    summarize.py end    FAILURES SECONDS

$OUT holds eight files, no more (the device tool returns eight): summary.md, results.json,
log.txt, info.txt, selftest.json, kernels.json, train_bench.json, recipe.json.
"""

import json
import math
import os
import sys
import time

OUT = os.environ["OUT"]
# The H200 SXM's datasheet rates (device README's H200.md): plain f32 arithmetic and HBM3e.
PEAK_TFLOPS = float(os.environ.get("KIT_PEAK_TFLOPS", "67"))
# f16 arithmetic without tensor cores (what matmul.wgsl's f16-operand kernels can reach: they
# widen to f32, so f32's rate is their real ceiling), and f16 on tensor cores (dense).
PEAK_F16_TFLOPS = float(os.environ.get("KIT_PEAK_F16_TFLOPS", "134"))
PEAK_TENSOR_TFLOPS = float(os.environ.get("KIT_PEAK_TENSOR_TFLOPS", "989"))
PEAK_GBPS = float(os.environ.get("KIT_PEAK_GBPS", "4800"))
# The seed tutorial (small BERT L-4/H-512 on its GPU, ../shared/FACTS.md).
TUTORIAL_ACCURACY, TUTORIAL_EPOCH_S = 0.8537, 205.0
# The recipe's sizes: 25,000 training reviews split 20,000 / 5,000, 25,000 test, batch 32.
TRAIN, VAL, TEST, BATCH = 20000, 5000, 25000, 32


def md(text):
    with open(f"{OUT}/summary.md", "a") as f:
        f.write(text.rstrip("\n") + "\n\n")


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def save(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def results_merge(key, value):
    r = load(f"{OUT}/results.json") or {}
    r[key] = value
    save(f"{OUT}/results.json", r)


def err_tail(work, name, n=12):
    try:
        with open(f"{work}/{name}.err", errors="replace") as f:
            lines = [l.rstrip() for l in f if l.strip()]
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def fmt(v, spec="{:.3f}"):
    return "-" if v is None else spec.format(v)


# ---- stages ----


def info(work):
    try:
        lines = open(f"{OUT}/info.txt").read().splitlines()
    except OSError:
        return {}, ""
    keep = [l for l in lines if l.startswith(("wgbert ", "chosen:", "  vulkan", "  gl ", "  shader-f16", "  subgroups", "  timestamp"))]
    keep += [l for l in lines if "max_buffer_size" in l or "max_storage_buffer_binding_size" in l]
    chosen = next((l[len("chosen: ") :] for l in lines if l.startswith("chosen:")), None)
    feats = {l.split()[0]: l.split()[1] for l in lines if l.startswith(("  shader-f16", "  subgroups", "  timestamp"))}
    return {"adapter": chosen, "features": feats}, "```\n" + "\n".join(keep) + "\n```"


def selftest(work):
    d = load(f"{OUT}/selftest.json")
    if not isinstance(d, dict):
        return {}, ""
    fig = {k: d.get(k) for k in ("size", "passed", "failed", "skipped", "seconds")}
    text = f"{d.get('passed')} passed, {d.get('failed')} failed, {d.get('skipped')} skipped ({d.get('size')} sizes)"
    bad = [r for r in d.get("rows", []) if not r.get("passed", True)]
    if bad:
        rows = [[r.get("kernel"), r.get("variant"), r.get("shape"), fmt(r.get("max_err"), "{:.2e}"), r.get("tolerance"), r.get("note")] for r in bad[:20]]
        text += "\n\n" + table(["kernel", "variant", "shape", "max err", "tolerance", "note"], rows)
        fig["failed_rows"] = [f"{r.get('kernel')} {r.get('variant')} {r.get('shape')}" for r in bad]
    return fig, text


def peak_tflops(r):
    """The datasheet rate a row's arithmetic can at best reach: f32's, or f16 on tensor cores
    for the cooperative-matrix variant."""
    return PEAK_TENSOR_TFLOPS if r.get("variant") == "coop" else PEAK_TFLOPS


def kernels(work):
    rows = load(f"{OUT}/kernels.json")
    if not isinstance(rows, list):
        # Cut short: the rows `bench kernels --json` wrote to stderr as it timed them.
        try:
            with open(f"{work}/kernels.err") as f:
                rows = [json.loads(l[len("row: "):]) for l in f if l.startswith("row: {")]
        except (OSError, ValueError):
            rows = []
        if not rows:
            return {}, ""
        cut = True
    else:
        cut = False
    flops = sorted((r for r in rows if r.get("gflops")), key=lambda r: -r["gflops"])
    mem = sorted((r for r in rows if r.get("gbps") and not r.get("gflops")), key=lambda r: -r["gbps"])
    name = lambda r: f"{r['kernel']} {r['pass']} {r['shape']} ({r.get('variant', '')})"
    pct = lambda r: 100 * r["gflops"] / (peak_tflops(r) * 1e3)
    t1 = table(
        ["case", "GFLOP/s", "% of peak", "peak TFLOP/s", "ms median"],
        [[name(r), f"{r['gflops']:.0f}", f"{pct(r):.1f}", f"{peak_tflops(r):g}", f"{r['ms_median']:.3f}"] for r in flops[:14]],
    )
    t2 = table(
        ["case", "GB/s", f"% of {PEAK_GBPS:g} GB/s", "ms median"],
        [[name(r), f"{r['gbps']:.0f}", f"{100 * r['gbps'] / PEAK_GBPS:.1f}", f"{r['ms_median']:.3f}"] for r in mem[:8]],
    )
    text = f"{len(rows)} cases{' (cut short: the rows timed before the box closed)' if cut else ''}; the fastest by arithmetic, then by bytes:\n\n{t1}\n\n{t2}"
    # `--variant all`: every matmul case once per variant, side by side (GFLOP/s), the best marked.
    variants = sorted({r.get("variant") for r in rows if r["kernel"].startswith("matmul")} - {None})
    by_case = {}
    for r in rows:
        if r["kernel"].startswith("matmul") and r.get("gflops"):
            by_case.setdefault((r["kernel"], r["pass"], r["shape"]), {})[r.get("variant")] = r["gflops"]
    best_by_case = {}
    if len(variants) > 1 and by_case:
        vrows = []
        for (k, p, sh), got in by_case.items():
            best = max(got, key=got.get)
            best_by_case[f"{k} {p} {sh}"] = {"best": best, "gflops": got}
            vrows.append([f"{k} {p} {sh}"] + [("**{:.0f}**" if v == best else "{:.0f}").format(got[v]) if v in got else "-" for v in variants])
        text += "\n\nEvery matmul variant (GFLOP/s; the best in bold):\n\n" + table(["case"] + variants, vrows)
    best = flops[0] if flops else None
    fig = {
        "rows": len(rows),
        "best_gflops": best and best["gflops"],
        "best_case": best and name(best),
        "best_percent_of_peak": best and pct(best),
        "peak_tflops_assumed": {"f32": PEAK_TFLOPS, "f16": PEAK_F16_TFLOPS, "tensor_f16": PEAK_TENSOR_TFLOPS},
        "matmul_variants": best_by_case,
    }
    return fig, text


BENCH_KEYS = [
    ("step s, median", "step_s_median", "{:.4f}"),
    ("step s, min", "step_s_min", "{:.4f}"),
    ("step s, back to back (pipelined)", "pipelined_step_s", "{:.4f}"),
    ("host s recording a step", "host_record_s", "{:.4f}"),
    ("first step s (tuning, compiling)", "first_step_s", "{:.2f}"),
    ("inference seq/s", "inference_seq_per_s", "{:.0f}"),
    ("peak GPU MiB", "peak_gpu_mib", "{:.0f}"),
    ("host peak RSS MiB", "host_peak_rss_mib", "{:.0f}"),
    ("launches per step", "launches_per_step", "{}"),
    ("µs a launch, host recording", "launch_host_us", "{:.1f}"),
    ("µs a launch, device", "launch_gpu_us", "{:.1f}"),
]


def bench(name, status, work):
    which = name[len("bench_") :]
    src = {"f32": "bench_f32.json", "mixed": "bench_mixed.json", "torch": "bench_torch.json"}[which]
    d = None
    try:
        with open(f"{work}/{src}") as f:
            # bench_torch_step.py prints one JSON object on its last line; wgbert prints one.
            text = f.read().strip()
        d = json.loads(text) if text.startswith("{") and which != "torch" else json.loads(text.splitlines()[-1])
    except (OSError, ValueError, IndexError):
        pass
    all_ = load(f"{OUT}/train_bench.json") or {}
    all_[which] = {"status": status, "result": d}
    save(f"{OUT}/train_bench.json", all_)
    fig = {k: d.get(k) for _, k, _ in BENCH_KEYS} if d else {}
    text = ""
    if d:
        who = d.get("adapter") or d.get("device")
        text = f"{who}: batch {d.get('batch')} x {d.get('seq')}, step {fmt(d.get('step_s_median'), '{:.4f}')} s (median), inference {fmt(d.get('inference_seq_per_s'), '{:.0f}')} seq/s"
        # What launches and the host's recording weigh in a step: whether fusing more pays.
        step, launch_us, n = d.get("step_s_median"), d.get("launch_gpu_us"), d.get("launches_per_step")
        if step and launch_us is not None and n:
            share = launch_us * 1e-6 * n / step
            fig["launch_share_of_step"] = share
            text += (f"; launches: {n} x {launch_us:.1f} µs = {100 * share:.1f}% of the step; "
                     f"the host records a step in {fmt(d.get('host_record_s'), '{:.4f}')} s")
    prof = (d or {}).get("profile") or {}
    for key, rows in [("kernel family", prof.get("families")), ("entry point", prof.get("entries"))]:
        # `--profile`: GPU time per kernel family and per entry point over one step
        # (timestamps), the largest first; the launch-by-launch timeline stays in the json.
        if not rows:
            continue
        fig.setdefault("profile", {})[key] = rows
        text += f"\n\nper {key}, one training step:\n\n" + table(
            [key, "GPU ms", "share", "launches"],
            [[f.get("family"), fmt(f.get("ms"), "{:.2f}"), fmt(100 * f.get("share", 0), "{:.1f}%"), f.get("launches")] for f in rows[:24]],
        )
    if which == "torch":  # the last of the three: the side-by-side table
        torch_d = all_.get("torch", {}).get("result") or {}
        torch_dev = torch_d.get("device", "not run")
        cols = [("wgbert f32", all_.get("f32", {}).get("result")), ("wgbert mixed", all_.get("mixed", {}).get("result"))]
        modes = torch_d.get("modes") or ({"f32": torch_d} if torch_d else {})
        for m, r in modes.items():
            label = {"f32": "eager f32", "tf32": "TF32", "f16": "autocast f16"}.get(m, m)
            cols.append((f"PyTorch {label}", r if "error" not in r else None))
        head = ["measure"] + [c for c, _ in cols]
        rows = [[label] + [fmt(c.get(key), spec) if c else "-" for _, c in cols] for label, key, spec in BENCH_KEYS]
        ours, theirs = cols[0][1], (modes.get("f32") if modes else None)
        text += f"\n\nPyTorch on {torch_dev}\n\n" + table(head, rows)
        found = torch_d.get("torch")
        if found:
            text += (
                f"\n\nPyTorch {found.get('version')}, CUDA {found.get('cuda')}, cuDNN {found.get('cudnn')}; as found: "
                f"allow_tf32 {found.get('allow_tf32_default')}, float32 matmul precision {found.get('float32_matmul_precision_default')!r}"
            )
            for m, r in modes.items():
                text += f"\n- {m}: " + (r["error"] if "error" in r else f"allow_tf32 {r.get('allow_tf32')}, precision {r.get('float32_matmul_precision')!r}, autocast {r.get('autocast_dtype')}")
        mixed = cols[1][1]
        t16 = modes.get("f16") if modes else None
        if mixed and t16 and mixed.get("step_s_median") and t16.get("step_s_median"):
            fig["wgbert_mixed_over_torch_autocast_step"] = mixed["step_s_median"] / t16["step_s_median"]
        if ours and theirs and ours.get("step_s_median") and theirs.get("step_s_median"):
            ratio = ours["step_s_median"] / theirs["step_s_median"]
            text += f"\n\nwgbert f32 step / PyTorch step: {ratio:.2f}"
            fig["wgbert_f32_over_torch_step"] = ratio
    return fig, text


def recipe(work):
    plan = load(f"{work}/recipe_plan.json") or {}
    hist = load(f"{work}/run/history.json") or {}
    test = load(f"{work}/recipe_eval.json")
    epochs = hist.get("epochs", [])
    doc = {"plan": plan, "history_epochs": epochs, "test": test}
    save(f"{OUT}/recipe.json", doc)
    rows = [[e.get("epoch"), fmt(e.get("loss"), "{:.4f}"), fmt(e.get("val_accuracy"), "{:.4f}"), fmt(e.get("seconds"), "{:.1f}")] for e in epochs]
    text = f"plan: {plan.get('why', '-')}\n\n" + table(["epoch", "training loss", "validation accuracy", "seconds"], rows)
    acc = test.get("accuracy") if isinstance(test, dict) else None
    per_epoch = [e["seconds"] for e in epochs if e.get("seconds")]
    text += "\n\n" + table(
        ["", "wgbert (this run)", "the tutorial (BERT L-4/H-512, its GPU, 5 epochs)"],
        [
            ["test accuracy", f"{fmt(acc, '{:.4f}')} on {test.get('examples') if isinstance(test, dict) else '-'} reviews", f"{TUTORIAL_ACCURACY}"],
            ["seconds per epoch", fmt(sum(per_epoch) / len(per_epoch), "{:.1f}") if per_epoch else "-", f"{TUTORIAL_EPOCH_S:g}"],
            ["epochs", f"{len(epochs)} of {plan.get('epochs', '-')} planned", "5"],
        ],
    )
    fig = {"epochs": len(epochs), "test_accuracy": acc, "seconds_per_epoch": per_epoch, "plan": plan}
    return fig, text


def serve(work):
    """The server's throughput under 64 clients (or the rehearsal's few) beside the engine's own
    batch inference rate at the same length (stage 4a's)."""
    d = f32 = None
    try:
        d = json.loads(open(f"{work}/serve.json").read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        f32 = json.loads(open(f"{work}/bench_f32.json").read())
    except (OSError, ValueError):
        pass
    if not d:
        return {}, ""
    rows = d["stages"]
    engine = f32 and f32.get("inference_seq_per_s")
    top = rows[-1]
    fig = {"tokens": d.get("tokens"), "stages": rows, "engine_seq_per_s": engine,
           "server_over_engine": top["seq_per_s"] / engine if engine else None}
    head = ["clients", "seq/s", "p50 ms", "p99 ms", "429s", "errors", "wrong", "server RSS MiB"]
    body = [[r["clients"], fmt(r["seq_per_s"], "{:.1f}"), fmt(r["p50_s"] * 1e3, "{:.0f}"), fmt(r["p99_s"] * 1e3, "{:.0f}"),
             r["overloaded"], r["errors"], r["wrong"], fmt(r["rss_mib"], "{:.0f}")] for r in rows]
    text = f"`POST /embed` of one {d.get('tokens')}-token text per request, {d.get('seconds')} s per row.\n\n" + table(head, body)
    if engine:
        text += (f"\n\nThe engine's own inference (stage 4a, batch {f32.get('batch')} x {f32.get('seq')}): "
                 f"{engine:.1f} seq/s; the server at {top['clients']} clients: {top['seq_per_s']:.1f} seq/s, "
                 f"{100 * fig['server_over_engine']:.0f}% of it (goal: 80% on a GPU).")
    return fig, text


def switches(work):
    """4e: the f32 step under each switch (run.sh's SWITCHES), the baseline first."""
    names = os.environ.get("SWITCHES", "").split()
    rows, fig = [], {}
    for s in names:
        d = load(f"{work}/switch_{s.replace('=', '_')}.json")
        if not isinstance(d, dict):
            rows.append([s, "failed: " + (err_tail(work, f"switch_{s.replace('=', '_')}", 1) or "no output")] + ["-"] * 4)
            continue
        fig[s] = {k: d.get(k) for k in ("step_s_median", "step_s_min", "first_step_s", "inference_seq_per_s", "launches_per_step")}
        rows.append([s] + [fmt(d.get(k), spec) for k, spec in [("step_s_median", "{:.4f}"), ("step_s_min", "{:.4f}"),
                                                               ("first_step_s", "{:.2f}"), ("inference_seq_per_s", "{:.0f}"),
                                                               ("launches_per_step", "{}")]])
    base = (fig.get("default") or {}).get("step_s_median")
    for s, f in fig.items():
        f["step_vs_default"] = f["step_s_median"] / base if base and f.get("step_s_median") else None
    text = table(["setting", "step s, median", "step s, min", "first step s", "inference seq/s", "launches"], rows)
    all_ = load(f"{OUT}/train_bench.json") or {}
    all_["switches"] = fig
    save(f"{OUT}/train_bench.json", all_)
    return fig, text


STAGES = {
    "info": ("1. `wgbert info`", info),
    "selftest": ("2. `wgbert selftest`", selftest),
    "kernels": ("3. `wgbert bench kernels --variant all`", kernels),
    "bench_f32": ("4a. `wgbert bench train --profile` (f32)", None),
    "bench_mixed": ("4b. `wgbert bench train --profile --precision mixed`", None),
    "bench_torch": ("4c. PyTorch, the same step (`bench_torch_step.py`: eager f32, TF32, autocast f16)", None),
    "serve": ("4d. `wgbert serve` under load, beside the engine's batch inference (`serve_load.py`)", serve),
    "switches": ("4e. The f32 step under switches: SUBGROUP, subgroup kernels, one-launch linear backward, runtime checks, forced matmul variants, attention", switches),
    "recipe": ("5. The recipe: `wgbert train` on IMDB, then `wgbert eval`", recipe),
}


def stage(name, status, rc, seconds, work):
    title, fn = STAGES[name]
    fig, text = bench(name, status, work) if name.startswith("bench_") else fn(work)
    head = f"## {title}\n\n**{status}** (exit {rc}, {float(seconds):.1f} s)"
    if not status.startswith(("ok", "skipped")):
        tail = err_tail(work, name)
        if tail:
            head += "\n\n```\n" + tail + "\n```"
    md(head + ("\n\n" + text if text else ""))
    results_merge(name, {"status": status, "rc": int(rc), "seconds": float(seconds), **fig})


def plan(mode, work, left):
    """Epochs of the recipe (and a training sample when not even one epoch fits) that end, with
    the test evaluation, inside the seconds left; sized from stage 4's f32 step."""
    left = float(left)
    d = None
    try:
        d = json.loads(open(f"{work}/bench_f32.json").read())
    except (OSError, ValueError):
        pass
    step = d and d.get("step_s_median")
    inf = d and d.get("inference_seq_per_s")
    p = {"mode": mode, "seconds_left": left}
    if step and inf and mode == "gpu":
        epoch_s = TRAIN / BATCH * step + VAL / inf
        test_s = TEST / inf
        p.update(predicted_epoch_s=epoch_s, predicted_test_s=test_s)
    if mode == "rehearse":
        # Tiny and fixed: a pipeline check. The GPU figures above are still worked out.
        why = "rehearsal: --limit-train 48 (and 12 validation), --limit-test 32, 1 epoch, --max-len 32, batch 8"
        p.update(epochs=1, limit_train=48, limit_test=32, train_box=int(left * 0.6), why=why)
    elif "predicted_epoch_s" in p:
        overhead = 60.0  # start, reading and tokenizing 50,000 reviews, shaders, export
        avail = left - test_s - overhead
        epochs = max(0, min(5, math.floor(avail / epoch_s)))
        if epochs >= 1:
            limit = None
            why = f"{epochs} of the recipe's 5 epochs fit ({epoch_s:.0f} s predicted each, {test_s:.0f} s test, {left:.0f} s left); the schedule is over {epochs}"
        else:
            per_example = step / BATCH + 0.25 / inf  # a training review and its quarter of validation
            limit = max(BATCH * 10, int(avail * 0.8 / per_example) // BATCH * BATCH)
            epochs = 1
            why = f"not one epoch fits ({epoch_s:.0f} s predicted, {left:.0f} s left): 1 epoch on --limit-train {limit}"
        p.update(epochs=epochs, limit_train=limit, limit_test=None, train_box=int(left - test_s - 30), why=why)
    else:
        p.update(epochs=1, limit_train=None, limit_test=None, train_box=int(left * 0.7),
                 why="no f32 step measured in stage 4: 1 epoch, stopped (Ctrl-C, checkpoint) at 70% of the time left")
    save(f"{work}/recipe_plan.json", p)
    z = lambda v: 0 if v is None else v
    print(p["epochs"], z(p["limit_train"]), max(30, p["train_box"]), z(p["limit_test"]))


def start(mode, work, note):
    kit = load("kit.json") or {}
    md(
        f"# wgbert GPU kit: {'rehearsal on this machine' if mode == 'rehearse' else 'the GPU run'}\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; kit built {kit.get('built', '?')} from commit "
        f"{kit.get('commit', '?')}{' with uncommitted changes' if kit.get('uncommitted_changes') else ''}; {note}"
    )
    save(f"{OUT}/results.json", {"mode": mode, "kit": kit, "note": note, "started": time.time()})


def end(failures, seconds):
    md(f"## End\n\n{seconds} s in all; {failures} stage(s) not ok.")
    results_merge("end", {"failures": int(failures), "seconds": int(seconds)})


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"start": start, "stage": stage, "plan": plan, "end": end}[cmd](*args)
