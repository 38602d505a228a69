#!/usr/bin/env bash
# wgbert against Burn 0.22.1 (benches/burn) on the same adapter, in the same run, interleaved:
# each round runs wgbert then Burn, for ROUNDS rounds (2 by default), on
#   - the f32 matmul 1024³ (and 512³), warm GFLOP/s;
#   - a MiniLM-shaped training step at batch 8 x seq 128 (fwd + bwd + AdamW), median seconds;
#   - inference at the same batch, sequences/s.
# Then a table: each round's figures and the ratio wgbert / Burn (higher is wgbert's lead).
#
#   tools/bench_burn.sh                 # on whatever adapter wgpu picks for each
#   ROUNDS=3 tools/bench_burn.sh
#
# Environment: BURN_TARGET_DIR (where the Burn bench builds; default benches/burn/target; its
# first build takes ~18 min on 2 cores), WGBERT (the wgbert binary; default target/release/wgbert,
# built if missing), MODEL (default models/all-MiniLM-L6-v2). Raw outputs go to
# runs/bench_burn-<time>/. Not run by CI: the Burn build alone is longer than CI's budget.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

die() { echo "bench_burn: $*" >&2; exit 1; }

rounds=${ROUNDS:-2}
model=${MODEL:-models/all-MiniLM-L6-v2}
wgbert=${WGBERT:-target/release/wgbert}
burn_target=${BURN_TARGET_DIR:-$root/benches/burn/target}
burn=$burn_target/release/burn-peer-bench

command -v python3 >/dev/null || die "python3 is missing (it reads the JSON and prints the table)"
[ -f "$model/config.json" ] || die "no model at $model (fetch it with tools/fetch_model.sh)"

if [ ! -x "$wgbert" ]; then
  [ "$wgbert" = target/release/wgbert ] || die "WGBERT=$wgbert is not an executable"
  echo "bench_burn: building wgbert (cargo build --release)" >&2
  cargo build --release || die "wgbert's build failed"
fi
if [ ! -x "$burn" ]; then
  echo "bench_burn: building the Burn bench into $burn_target: the first build takes ~18 min on 2 cores" >&2
  CARGO_TARGET_DIR=$burn_target cargo build --release --locked --manifest-path benches/burn/Cargo.toml \
    || die "the Burn bench's build failed"
fi

out=runs/bench_burn-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
echo "bench_burn: raw outputs in $out" >&2

# run NAME CMD...: stdout to $out/NAME.json, stderr to $out/NAME.log; a failure names the log.
run() {
  local name=$1; shift
  echo "bench_burn: $name: $*" >&2
  "$@" >"$out/$name.json" 2>"$out/$name.log" || die "$name failed (see $out/$name.log)"
}

for r in $(seq 1 "$rounds"); do
  run "r$r-wgbert-matmul512" "$wgbert" bench kernels --filter "matmul fwd 512x512x512" --reps 5 --json
  run "r$r-wgbert-matmul1024" "$wgbert" bench kernels --filter "matmul fwd 1024x1024x1024" --reps 5 --json
  run "r$r-wgbert-train" "$wgbert" bench train --model "$model" --batch-size 8 --max-len 128 --steps 3 --json
  # Like for like: every token through the last layer, as Burn's encoder runs it.
  run "r$r-wgbert-train-full" "$wgbert" bench train --model "$model" --batch-size 8 --max-len 128 --steps 3 \
    --full-last-layer --json
  run "r$r-burn-matmul" "$burn" matmul --sizes 512,1024 --reps 5
  run "r$r-burn-train" "$burn" train --batch-size 8 --max-len 128 --steps 3
done

python3 - "$out" "$rounds" <<'EOF'
import json, statistics, sys

out, rounds = sys.argv[1], int(sys.argv[2])

def load(name):
    with open(f"{out}/{name}.json") as f:
        return json.load(f)

def lines(name):
    with open(f"{out}/{name}.json") as f:
        return [json.loads(l) for l in f if l.strip()]

def wgbert_matmul(r, n):
    rows = [x for x in load(f"r{r}-wgbert-matmul{n}")
            if x["kernel"] == "matmul" and x["pass"] == "fwd" and x["shape"] == f"{n}x{n}x{n}"]
    if len(rows) != 1:
        sys.exit(f"bench_burn: wgbert printed {len(rows)} rows for matmul fwd {n}³, expected 1")
    return rows[0]["gflops"]

def burn_matmul(r, n):
    rows = [x for x in lines(f"r{r}-burn-matmul") if x["n"] == n]
    if len(rows) != 1:
        sys.exit(f"bench_burn: Burn printed {len(rows)} rows for matmul {n}³, expected 1")
    return rows[0]

rows = []  # (what, unit, wgbert per round, Burn per round, True where higher is better)
per = {"w512": [], "b512": [], "w1024": [], "b1024": [], "wstep": [], "bstep": [], "wfull": [], "winf": [], "binf": []}
firsts, adapters = [], set()
for r in range(1, rounds + 1):
    wt, bt = load(f"r{r}-wgbert-train"), lines(f"r{r}-burn-train")[0]
    b512, b1024 = burn_matmul(r, 512), burn_matmul(r, 1024)
    per["w512"].append(wgbert_matmul(r, 512)); per["b512"].append(b512["gflops"])
    per["w1024"].append(wgbert_matmul(r, 1024)); per["b1024"].append(b1024["gflops"])
    per["wstep"].append(wt["step_s_median"]); per["bstep"].append(bt["step_s_median"])
    per["wfull"].append(load(f"r{r}-wgbert-train-full")["step_s_median"])
    per["winf"].append(wt["inference_seq_per_s"]); per["binf"].append(bt["inference_seq_per_s"])
    firsts.append((r, wt["first_step_s"], bt["first_step_s"], bt.get("warmup_steps_s", []), bt["inference_first_s"],
                   b512["first_call_s"], b1024["first_call_s"]))
    adapters |= {wt["adapter"], bt["adapter"]}

print(f"adapter: {' / '.join(sorted(adapters))}" + ("" if len(adapters) == 1 else "  (they differ!)"))
print(f"wgbert last layer: {wt['last_layer']} (Burn runs every token through every layer; the row below")
print("the step's runs wgbert so too: like for like)")
print()
print(f"{'what':<34} {'round':>5} {'wgbert':>10} {'Burn':>10} {'wgbert/Burn':>12}")
table = [
    ("matmul 512³ GFLOP/s", "w512", "b512", True),
    ("matmul 1024³ GFLOP/s", "w1024", "b1024", True),
    ("train step b8 x 128, s (median)", "wstep", "bstep", False),
    ("  same, every token in last layer", "wfull", "bstep", False),
    ("inference b8 x 128, seq/s", "winf", "binf", True),
]
for what, w, b, higher in table:
    ratios = []
    for i in range(rounds):
        ratio = per[w][i] / per[b][i] if higher else per[b][i] / per[w][i]
        ratios.append(ratio)
        print(f"{what:<34} {i + 1:>5} {per[w][i]:>10.3f} {per[b][i]:>10.3f} {ratio:>11.2f}x")
    print(f"{'':<34} {'med':>5} {statistics.median(per[w]):>10.3f} {statistics.median(per[b]):>10.3f}"
          f" {statistics.median(ratios):>11.2f}x  (ratio range {min(ratios):.2f}-{max(ratios):.2f})")
print()
print("(the step's ratio is Burn's seconds / wgbert's: above 1 means wgbert is faster; wgbert times its")
print(" matmul with GPU timestamps, Burn's is wall clock around a device sync)")
print("first calls, s: round, wgbert first step, Burn first step, Burn warm-up steps, Burn first inference, "
      "Burn first matmul 512³, 1024³")
for f in firsts:
    show = lambda x: f"{x:.1f}" if isinstance(x, float) else "[" + ", ".join(map(show, x)) + "]" if isinstance(x, list) else str(x)
    print("  " + ", ".join(map(show, f)))
EOF
