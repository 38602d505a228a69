#!/usr/bin/env python3
"""The reference for `wgbert bench train`: the same training step in PyTorch + transformers.

Same model (a BERT folder, all-MiniLM-L6-v2 by default) with a one-logit head on the pooled
output, the same batch of random token ids (full attention mask), dropout 0.1, binary
cross-entropy on logits, AdamW (weight decay 0.01) with gradient clipping at 1.0; then inference
sequences/s at the same batch and length (eval mode, no grad). Prints one JSON object with the
fields wgbert's `--json` uses, so both can be tabulated side by side.

Each of `--modes` runs from the same weights with a fresh optimizer: `f32` (eager, PyTorch's
default: `torch.backends.cuda.matmul.allow_tf32` False, float32 matmul precision "highest"),
`tf32` (allow_tf32 True, precision "high": f32 matmuls on tensor cores) and `f16`
(`torch.autocast(dtype=torch.float16)` with a GradScaler, as wgbert's `--precision mixed` scales
its loss). The top-level figures are the first mode's; `modes` holds each one's, with the
settings in force while it ran, and `torch` the versions and the defaults as found, so the
comparison says what PyTorch was doing. On the CUDA device the default is all three; on the CPU
f32 alone (TF32 is a CUDA setting; f16 autocast on a CPU measures nothing useful).

Run by hand, never in CI (it needs torch and transformers, about 6 GB with their CUDA wheels):

    python3 -m venv /work/venvs/torch && /work/venvs/torch/bin/pip install torch transformers safetensors
    /work/venvs/torch/bin/python tools/pytorch/bench_torch_step.py --model models/all-MiniLM-L6-v2 [--device cuda]

On the CPU it uses --threads threads (default: all cores, as `wgbert` on lavapipe does).
"""

import argparse
import json
import resource
import statistics
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    ap.add_argument("--modes", default="", help="comma-separated: f32, tf32, f16 (default: all three on cuda, f32 on cpu)")
    a = ap.parse_args()
    modes = [m for m in (a.modes or ("f32,tf32,f16" if a.device == "cuda" else "f32")).split(",") if m]
    bad = [m for m in modes if m not in ("f32", "tf32", "f16")]
    if bad:
        ap.error(f"unknown mode(s) {bad}: choose among f32, tf32, f16")

    import copy
    import os

    import torch
    from transformers import BertForSequenceClassification

    if a.threads or a.device == "cpu":
        torch.set_num_threads(a.threads or os.cpu_count())
    dev = torch.device(a.device)
    # As found, before any mode changes them: what "PyTorch's default" means on this install.
    found = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "allow_tf32_default": torch.backends.cuda.matmul.allow_tf32,
        "float32_matmul_precision_default": torch.get_float32_matmul_precision(),
    }
    torch.manual_seed(0)
    # .float(): an f16 checkpoint (the GPU kit's) would otherwise stay f16 under transformers 5,
    # whose default dtype is the checkpoint's; every mode starts from f32 weights, as wgbert's.
    base = BertForSequenceClassification.from_pretrained(
        a.model, num_labels=1, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, classifier_dropout=0.1
    ).float()
    b, t = a.batch_size, a.max_len
    vocab = base.config.vocab_size

    def batch(seed):
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, vocab, (b, t), generator=g).to(dev)
        labels = (torch.arange(b) % 2).float().to(dev)
        return ids, torch.ones(b, t, dtype=torch.long, device=dev), labels

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def run_mode(mode):
        tf32 = mode == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        half = mode == "f16"
        autocast = lambda: torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=half)
        model = copy.deepcopy(base).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
        scaler = torch.amp.GradScaler(dev.type, enabled=half)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def step(seed):
            ids, mask, labels = batch(seed)
            sync()
            t0 = time.perf_counter()
            model.train()
            opt.zero_grad(set_to_none=True)
            with autocast():
                logits = model(input_ids=ids, attention_mask=mask).logits.squeeze(-1)
                loss = loss_fn(logits.float(), labels)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            loss.item()  # the one read-back, as in wgbert
            sync()
            return time.perf_counter() - t0

        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        first = step(0)
        for i in range(a.warmup):
            step(1 + i)
        times = [step(100 + i) for i in range(max(1, a.steps))]

        ids, mask, _ = batch(7)
        model.eval()

        def infer():
            sync()
            t0 = time.perf_counter()
            with torch.no_grad(), autocast():
                model(input_ids=ids, attention_mask=mask).logits.cpu()
            sync()
            return time.perf_counter() - t0

        infer()
        it = min(infer(), infer())
        r = {
            "mode": mode,
            "allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "autocast_dtype": "float16" if half else None,
            "step_s_median": statistics.median(times),
            "step_s_min": min(times),
            "step_s_max": max(times),
            "first_step_s": first,
            "inference_seq_per_s": b / it,
        }
        if dev.type == "cuda":
            r["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
        del model, opt
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return r

    results = {}
    for m in modes:
        try:
            results[m] = run_mode(m)
        except Exception as e:  # one mode failing (e.g. out of memory) leaves the others' figures
            results[m] = {"mode": m, "error": f"{type(e).__name__}: {e}"}
    # Back to the defaults as found.
    torch.backends.cuda.matmul.allow_tf32 = found["allow_tf32_default"]
    torch.set_float32_matmul_precision(found["float32_matmul_precision_default"])
    first_mode = results[modes[0]]
    out = {
        "implementation": f"PyTorch {torch.__version__}",
        "device": torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu, {torch.get_num_threads()} threads",
        "batch": b,
        "seq": t,
        "parameters": sum(p.numel() for p in base.parameters()),
        **{k: v for k, v in first_mode.items() if k != "mode"},
        "torch": found,
        "modes": results,
        # Linux reports ru_maxrss in KiB.
        "host_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
