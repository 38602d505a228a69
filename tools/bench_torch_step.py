#!/usr/bin/env python3
"""The reference for `wgbert bench train`: the same training step in PyTorch + transformers.

Same model (a BERT folder, all-MiniLM-L6-v2 by default) with a one-logit head on the pooled
output, the same batch of random token ids (full attention mask), dropout 0.1, binary
cross-entropy on logits, AdamW (weight decay 0.01) with gradient clipping at 1.0; then inference
sequences/s at the same batch and length (eval mode, no grad). Prints one JSON object with the
fields wgbert's `--json` uses, so both can be tabulated side by side.

Run by hand, never in CI (it needs torch and transformers, about 6 GB with their CUDA wheels):

    python3 -m venv /work/venvs/torch && /work/venvs/torch/bin/pip install torch transformers safetensors
    /work/venvs/torch/bin/python tools/bench_torch_step.py --model models/all-MiniLM-L6-v2 [--device cuda]

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
    a = ap.parse_args()

    import os

    import torch
    from transformers import BertForSequenceClassification

    if a.threads or a.device == "cpu":
        torch.set_num_threads(a.threads or os.cpu_count())
    dev = torch.device(a.device)
    torch.manual_seed(0)
    # .float(): an f16 checkpoint (the GPU kit's) would otherwise stay f16 under transformers 5,
    # whose default dtype is the checkpoint's; the step measured here is f32, as wgbert's default.
    model = (
        BertForSequenceClassification.from_pretrained(
            a.model, num_labels=1, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, classifier_dropout=0.1
        )
        .float()
        .to(dev)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    b, t = a.batch_size, a.max_len
    vocab = model.config.vocab_size

    def batch(seed):
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, vocab, (b, t), generator=g).to(dev)
        labels = (torch.arange(b) % 2).float().to(dev)
        return ids, torch.ones(b, t, dtype=torch.long, device=dev), labels

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step(seed):
        ids, mask, labels = batch(seed)
        sync()
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad(set_to_none=True)
        logits = model(input_ids=ids, attention_mask=mask).logits.squeeze(-1)
        loss = loss_fn(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
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
        with torch.no_grad():
            model(input_ids=ids, attention_mask=mask).logits.cpu()
        sync()
        return time.perf_counter() - t0

    infer()
    it = min(infer(), infer())
    out = {
        "implementation": f"PyTorch {torch.__version__}",
        "device": torch.cuda.get_device_name() if dev.type == "cuda" else f"cpu, {torch.get_num_threads()} threads",
        "batch": b,
        "seq": t,
        "parameters": sum(p.numel() for p in model.parameters()),
        "step_s_median": statistics.median(times),
        "step_s_min": min(times),
        "step_s_max": max(times),
        "first_step_s": first,
        "inference_seq_per_s": b / it,
        # Linux reports ru_maxrss in KiB.
        "host_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if dev.type == "cuda":
        out["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main()
