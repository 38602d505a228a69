#!/usr/bin/env bash
# One training step of the same model, batch and length in wgbert and in PyTorch, one after the
# other on this machine, printed side by side (the reference for the README's CPU figures).
#
#   tools/pytorch/bench_vs_torch.sh [PYTHON] [-- options for both, e.g. --batch-size 8]
#
# PYTHON is a python with torch and transformers (default /work/venvs/torch/bin/python; see
# tools/pytorch/bench_torch_step.py). By hand only, never in CI. On a GPU machine pass --device cuda
# through TORCH_ARGS="--device cuda".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
py=${1:-/work/venvs/torch/bin/python}
shift || true
[ "${1:-}" = "--" ] && shift
wgbert=${WGBERT:-target/release/wgbert}
[ -x "$wgbert" ] || cargo build --release
ours=$("$wgbert" bench train --json "$@" 2>/dev/null)
theirs=$("$py" tools/pytorch/bench_torch_step.py ${TORCH_ARGS:-} "$@" 2>/dev/null | tail -n 1)
"$py" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"batch {a['batch']} x seq {a['seq']}, {a['parameters']:,} parameters")
print(f"{'measure':<28}{'wgbert (' + a['adapter'] + ')':>40}{b['implementation'] + ' (' + b['device'] + ')':>40}")
def row(name, k, fmt="{:.3f}"):
    f = lambda d: fmt.format(d[k]) if d.get(k) is not None else "-"
    print(f"{name:<28}{f(a):>40}{f(b):>40}")
row("step s (median)", "step_s_median"); row("step s (min)", "step_s_min"); row("step s (max)", "step_s_max")
row("first step s", "first_step_s"); row("inference seq/s", "inference_seq_per_s", "{:.1f}")
row("peak GPU MiB", "peak_gpu_mib", "{:.0f}"); row("host peak RSS MiB", "host_peak_rss_mib", "{:.0f}")
PY
