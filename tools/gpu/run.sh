#!/usr/bin/env bash
# The GPU kit's one command (tools/gpu/README.md), run from inside the kit (target/gpu-kit/):
#
#   OUT=DIR ./run.sh              # on the lent GPU machine: five stages, under 8 minutes
#   OUT=DIR ./run.sh --rehearse   # here, on lavapipe: the same stages at tiny sizes
#
# Stages, by importance, each under `timeout`, each appending to $OUT/summary.md and
# $OUT/results.json as it ends (summarize.py), so that a run cut short returns what it had:
#   1 wgbert info   2 wgbert selftest --json
#   3 wgbert bench kernels --large --variant all --json: every matmul variant, f32 and f16
#     operands, forward and backward, at the step's shapes and square ones
#   4 wgbert bench train --profile --json, f32 and --precision mixed (per-kernel profile);
#     PyTorch's same step (--device cuda) in eager f32, TF32 and autocast f16
#     4d wgbert serve under 64 clients (serve_load.py), beside 4's batch-32 inference rate
#   5 the recipe on IMDB (20,000 / 5,000 / 25,000, batch 32, 128 tokens, AdamW 3e-5): as many
#     epochs as the time left allows (sized from stage 4's step), then wgbert eval on the test set
# $OUT gets eight files: summary.md results.json log.txt info.txt selftest.json kernels.json
# train_bench.json recipe.json. Exit status: 0 when every stage is ok (PyTorch absent counts as
# skipped), 1 otherwise; a missing kit file stops it at once.
set -uo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
mode=gpu
case "${1:-}" in
  --rehearse) mode=rehearse ;;
  "") ;;
  *)
    echo "usage: OUT=DIR ./run.sh [--rehearse]" >&2
    exit 2
    ;;
esac
[ -n "${OUT:-}" ] || {
  echo "run.sh: set OUT to the folder for the results" >&2
  exit 2
}
mkdir -p "$OUT"
export OUT
start=$(date +%s)
# The whole run's box: 470 s on the GPU (the device call gets 600 s), generous when rehearsing.
if [ "$mode" = gpu ]; then budget=${KIT_BUDGET_S:-470}; else budget=${KIT_BUDGET_S:-1500}; fi
deadline=$((start + budget))
work=$kit/work
wg=$work/wgbert
log=$OUT/log.txt
export WGBERT_CACHE_DIR=$work/cache
# No network there: transformers reads the local model folder and must not try the hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
failures=0
left() { echo $((deadline - $(date +%s))); }
say() { echo "run.sh: $*" | tee -a "$log" >&2; }

# ---- the kit's files, present before anything runs ----
missing=""
for f in wgbert.gz summarize.py planes.py bench_torch_step.py serve_load.py kit.json \
  model/config.json model/vocab.txt model/model.safetensors.planes.gz \
  data/imdb_train.jsonl.xz data/imdb_test.jsonl.xz; do
  [ -s "$f" ] || missing="$missing $f"
done
for p in libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2; do
  compgen -G "debs/${p}_*.deb" >/dev/null || missing="$missing debs/$p"
done
if [ -n "$missing" ]; then
  echo "run.sh: the kit is incomplete, missing:$missing (build it with tools/gpu/pack.sh)" | tee "$OUT/summary.md" >&2
  exit 1
fi

# ---- unpack into work/: binary, model (f16), data ----
# xz by Python's lzma (standard library), else the xz tool.
unxz_to() {
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2" ||
    xz -dc "$1" >"$2"
}
rm -rf "$work"
mkdir -p "$work/model" "$work/data" "$WGBERT_CACHE_DIR"
if ! {
  gunzip -c wgbert.gz >"$wg" && chmod +x "$wg" &&
    cp model/*.json model/vocab.txt "$work/model/" &&
    python3 planes.py unpack model/model.safetensors.planes.gz "$work/model/model.safetensors" &&
    unxz_to data/imdb_train.jsonl.xz "$work/data/imdb_train.jsonl" &&
    unxz_to data/imdb_test.jsonl.xz "$work/data/imdb_test.jsonl"
} 2>>"$log"; then
  echo "run.sh: unpacking the kit into $work failed (see log.txt)" | tee -a "$OUT/summary.md" >&2
  exit 1
fi

# ---- the Vulkan loader (GPU machine only; a rehearsal never touches /) ----
note="mode $mode"
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json # where the GPU machine's driver has it
if [ "$mode" = gpu ]; then
  if ldconfig -p 2>/dev/null | grep libvulkan.so.1 >/dev/null; then
    note="$note; libvulkan.so.1 was installed"
  else
    for f in debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
    note="$note; unpacked debs/ into / (no libvulkan.so.1 was installed)"
  fi
  if [ -f "$nv" ] && ! grep -qsil nvidia /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; then
    export VK_DRIVER_FILES=$nv __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    note="$note; VK_DRIVER_FILES=$nv"
  fi
fi
python3 summarize.py start "$mode" "$work" "$note"

# stage NAME STDOUT_FILE BOX CMD...: CMD under `timeout BOX` (SIGINT for the recipe's training,
# so that it saves a checkpoint), stdout to STDOUT_FILE, stderr to work/NAME.err and the log.
# Sets rc, secs and status (ok, failed, timeout, absent: a wgbert without this subcommand).
stage() {
  local name=$1 file=$2 box=$3 sig=TERM
  shift 3
  [ "$name" = recipe_train ] && sig=INT
  echo "=== $name (box ${box} s): $*" >>"$log"
  local t0
  t0=$(date +%s.%N)
  timeout -s "$sig" -k 30 "$box" "$@" >"$file" 2>"$work/$name.err"
  rc=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  cat "$work/$name.err" >>"$log"
  echo "=== $name: exit $rc after $secs s" >>"$log"
  if [ "$rc" -eq 0 ]; then
    status=ok
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    status=timeout
  elif grep -q "unrecognized subcommand" "$work/$name.err"; then
    status="absent: this wgbert has no such subcommand"
  else
    status=failed
  fi
}
# record NAME: the stage's section of the summary; counts what is not ok.
record() {
  python3 summarize.py stage "$1" "$status" "$rc" "$secs" "$work" 2>>"$log" ||
    say "summarize.py failed on stage $1"
  case "$status" in ok* | skipped* | absent*) ;; *) failures=$((failures + 1)) ;; esac
}
# box WANT [KEEP]: WANT seconds, or what is left of the whole run less KEEP (held back for the
# stages after this one) when that is less; at least 10.
box() {
  local l
  l=$(($(left) - ${2:-0}))
  [ "$l" -lt "$1" ] && set -- "$l"
  [ "$1" -lt 10 ] && set -- 10
  echo "$1"
}

if [ "$mode" = gpu ]; then
  selftest_args=(--json)
  kernels_args=(--large --variant all --json)
  bench_args=(--json --profile)
  torch_args=(--device cuda)
  recipe_args=(--batch-size 32 --max-len 128)
else
  selftest_args=(--quick --json)
  kernels_args=(--quick --variant all --json --reps 1)
  bench_args=(--json --profile --batch-size 2 --max-len 16 --steps 1)
  torch_args=(--device cpu --batch-size 2 --max-len 16 --steps 1 --warmup 0)
  recipe_args=(--batch-size 8 --max-len 32)
fi

stage info "$OUT/info.txt" "$(box 60)" "$wg" info
# No GPU chosen (no Vulkan driver found, or only Mesa's CPU one): once more with NVIDIA's ICD file.
if [ "$mode" = gpu ] && [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nv" ] &&
  ! grep "^chosen:" "$OUT/info.txt" 2>/dev/null | grep -v ", Cpu," >/dev/null; then
  export VK_DRIVER_FILES=$nv __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  say "no GPU adapter chosen: again with VK_DRIVER_FILES=$nv"
  printf 'No GPU adapter was chosen at first: `wgbert info` again with VK_DRIVER_FILES=%s.\n\n' "$nv" >>"$OUT/summary.md"
  stage info "$OUT/info.txt" "$(box 60)" "$wg" info
fi
record info
if [ "$mode" = gpu ] && command -v nvidia-smi >/dev/null; then
  { echo; echo "nvidia-smi:"; timeout 20 nvidia-smi; } >>"$OUT/info.txt" 2>&1
fi

# Each box holds back time for what follows (the recipe needs 120 s at least), so that one slow
# stage never eats the rest.
stage selftest "$OUT/selftest.json" "$(box 90 330)" "$wg" selftest "${selftest_args[@]}"
record selftest

stage kernels "$OUT/kernels.json" "$(box 120 270)" "$wg" bench kernels "${kernels_args[@]}"
record kernels

stage bench_f32 "$work/bench_f32.json" "$(box 75 230)" "$wg" bench train --model "$work/model" "${bench_args[@]}"
record bench_f32
stage bench_mixed "$work/bench_mixed.json" "$(box 75 200)" "$wg" bench train --model "$work/model" --precision mixed "${bench_args[@]}"
record bench_mixed
if python3 -c "import torch, transformers" 2>/dev/null; then
  stage bench_torch "$work/bench_torch.json" "$(box 120 120)" python3 bench_torch_step.py --model "$work/model" "${torch_args[@]}"
else
  rc=0 secs=0 status="skipped: no torch"
  : >"$work/bench_torch.json"
fi
record bench_torch

# ---- 4d: the server under 64 clients, beside stage 4's batch-32 inference rate ----
if [ "$mode" = gpu ]; then serve_args=(--clients 1,64 --seconds 20 --tokens 128); else serve_args=(--clients 1,4 --seconds 3 --tokens 16); fi
stage serve "$work/serve.json" "$(box 60 120)" python3 serve_load.py --json --wgbert "$wg" --model "$work/model" "${serve_args[@]}"
record serve

# ---- 4e: switches, each the whole f32 step once more in a process of its own, the most
# telling first (the stage is time-boxed): SUBGROUP not requested (does asking for it slow
# pipelines? the subgroup kernels go with it), LayerNorm a workgroup per row and the softmax a
# row per invocation instead of a subgroup per row, a linear layer's dW and dX as two launches
# instead of one, wgpu's runtime checks back on, each GPU matmul variant forced for every shape,
# attention by matmuls and fused (the tiled kernels: every head in one launch). The baseline
# runs first, same stage.
# Eleven processes: a few seconds each on a GPU, up to ten on lavapipe (the rehearsal).
if [ "$mode" = gpu ]; then
  switch_args=(--json --steps 5) switch_box=75
else
  switch_args=(--json --batch-size 2 --max-len 16 --steps 1) switch_box=150
fi
# shellcheck disable=SC2016
switches_sh='wg=$1 work=$2; shift 2
for s in $SWITCHES; do
  if [ "$s" = default ]; then set_env=(); else set_env=("$s"); fi
  env "${set_env[@]}" "$wg" bench train "$@" >"$work/switch_${s//=/_}.json" 2>"$work/switch_${s//=/_}.err" ||
    echo "switch $s: exit $?" >&2
done'
export SWITCHES="default WGBERT_NO_SUBGROUP=1 WGBERT_LAYERNORM=wg WGBERT_SOFTMAX=rows WGBERT_LINEAR_BACKWARD=separate WGBERT_SHADER_CHECKS=1 WGBERT_MATMUL=wide WGBERT_MATMUL=wide64 WGBERT_MATMUL=tiled WGBERT_ATTENTION=matmul WGBERT_ATTENTION=fused"
stage switches "$work/switches.out" "$(box "$switch_box" 150)" bash -c "$switches_sh" _ "$wg" "$work" --model "$work/model" "${switch_args[@]}"
record switches

# ---- 5: the recipe, sized to the time left ----
read -r epochs limit_train train_box limit_test < <(python3 summarize.py plan "$mode" "$work" "$(left)" 2>>"$log")
epochs=${epochs:-1} train_box=${train_box:-60}
limits=()
[ "${limit_train:-0}" -gt 0 ] && limits+=(--limit-train "$limit_train")
stage recipe_train "$work/recipe_train.out" "$train_box" "$wg" train --model "$work/model" \
  --data "$work/data/imdb_train.jsonl" --out "$work/run" --epochs "$epochs" --lr 3e-5 \
  "${recipe_args[@]}" "${limits[@]}"
train_status=$status train_rc=$rc train_secs=$secs
# Stopped by the box (Ctrl-C: a checkpoint) or finished: the model folder eval reads.
if [ ! -f "$work/run/model/config.json" ] && [ -f "$work/run/checkpoints/latest" ]; then
  "$wg" export --run "$work/run" --out "$work/run/model" >>"$log" 2>&1 || say "export of the interrupted run failed"
fi
evals=()
[ "${limit_test:-0}" -gt 0 ] && evals+=(--limit-test "$limit_test")
stage recipe_eval "$work/recipe_eval.json" "$(box 600)" "$wg" eval --model "$work/run" \
  --data "$work/data/imdb_test.jsonl" --json "${recipe_args[@]}" "${evals[@]}"
# One section for both: the training's status unless it was ok, then the evaluation's.
cat "$work/recipe_train.err" "$work/recipe_eval.err" >"$work/recipe.err" 2>/dev/null
if [ "$train_status" = timeout ] && [ "$mode" = gpu ] && [ "$status" = ok ]; then
  status="ok: the training stopped at its time box and was evaluated at its checkpoint"
elif [ "$train_status" != ok ]; then
  status="training $train_status" rc=$train_rc
fi
secs=$(awk -v a="$train_secs" -v b="$secs" 'BEGIN { printf "%.1f", a + b }')
record recipe

python3 summarize.py end "$failures" "$(($(date +%s) - start))"
echo "run.sh: $failures stage(s) not ok; $OUT/summary.md" >&2
[ "$failures" -eq 0 ]
