#!/usr/bin/env bash
# The Windows executable under Wine (Debian 12's wine 8.0), on Vulkan and on GL: one script for CI.
#
#   tools/ci/wine/check.sh [--no-install] [--fresh-prefix] [--strict-timing] [--timeout S]
#                       [--embed-model DIR|tiny]
#
# 1. installs what is missing (apt-get, non-interactive, --no-install-recommends; `apt-get update`
#    only when a first install fails; root or passwordless sudo): wine, wine64, xvfb, and where
#    absent the Mesa drivers both backends end in (mesa-vulkan-drivers, libvulkan1, libgl1,
#    libglx-mesa0, libgl1-mesa-dri), gcc-mingw-w64-x86-64 and python3;
# 2. takes target/x86_64-pc-windows-gnu/release/wgbert.exe (builds it with
#    tools/ci/cross_check.sh --only windows when absent) and, for the embed comparison, the native
#    target/release/wgbert (cargo build --release when absent);
# 3. builds tools/ci/wine/bcryptprimitives.c into bcryptprimitives.dll (Wine 8 lacks the DLL; Rust's
#    std imports ProcessPrng from it) and puts exe + dll in target/wine/bin/;
# 4. starts Xvfb on a free display (-displayfd) and a persistent wineserver, both stopped on exit,
#    failure and Ctrl-C included; WINEPREFIX=target/wine/prefix, kept between runs (wineboot only
#    when it is new); WINEDEBUG=-all;
# 5. for --backend vulkan and gl: `info`, `selftest --quick --json`, `bench train` on
#    tests/fixtures/tiny_bert_grad (batch 4, 8 tokens, 2 steps, --profile --json) and
#    `bench kernels --quick --json`; DX12 once (`info --backend dx12`), expected to fail, reported,
#    never failing the run;
# 6. `embed` (tune off, 32 tokens) of a few sentences with models/all-MiniLM-L6-v2 (the tiny
#    fixture when absent, or --embed-model), Wine on each backend against the native binary on Vulkan:
#    max |difference| <= 1e-5;
# 7. checks that bench times are physical: GPU-timestamp times whose sum is under 1% of the
#    wall-clock step, or kernels above 1,000 GFLOP/s or under 1 us on this CPU adapter, are
#    reported as WRONG TIMING (Wine's GL returns such timestamps); a warning unless --strict-timing;
# 8. prints a summary and exits non-zero when a Vulkan or GL stage fails.
#
# Every wine call runs under `timeout` (--timeout S, default 300 s; env WINE_CHECK_TIMEOUT).
# Logs: target/wine/logs/. Respects CARGO_TARGET_DIR.
set -uo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root" || exit 1

no_install=0
fresh_prefix=0
strict_timing=0
call_timeout=${WINE_CHECK_TIMEOUT:-300}
embed_model=models/all-MiniLM-L6-v2
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) no_install=1 ;;
    --fresh-prefix) fresh_prefix=1 ;;
    --strict-timing) strict_timing=1 ;;
    --timeout) call_timeout="${2:?--timeout needs seconds}"; shift ;;
    --embed-model) embed_model="${2:?--embed-model needs a folder or tiny}"; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "wine/check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir=$root/$target_dir ;; esac
exe_src=$target_dir/x86_64-pc-windows-gnu/release/wgbert.exe
native=$target_dir/release/wgbert
work=$target_dir/wine
bin=$work/bin
logs=$work/logs
prefix=$work/prefix
mkdir -p "$bin" "$logs" || exit 1

say() { echo "wine/check: $*"; }
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# One run at a time per target dir: the prefix and bin/ are shared.
exec 9>"$work/lock"
if ! flock -w 900 9; then
  say "another tools/ci/wine/check.sh holds $work/lock for 15 min; giving up" >&2
  exit 1
fi

t_start=$(now)
failures=()   # Vulkan/GL stages that failed: the exit status
warnings=()   # reported, not failing
times=()      # "stage: seconds"

fail() { failures+=("$1"); say "FAILED: $1" >&2; }
warn() { warnings+=("$1"); say "WARNING: $1" >&2; }

# ---------------------------------------------------------------- 1. packages
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
fi
pkg_installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
missing=()
if command -v dpkg-query >/dev/null; then
  for p in wine wine64 xvfb gcc-mingw-w64-x86-64 python3 \
    mesa-vulkan-drivers libvulkan1 libgl1 libglx-mesa0 libgl1-mesa-dri; do
    pkg_installed "$p" || missing+=("$p")
  done
else
  for c in wine Xvfb x86_64-w64-mingw32-gcc python3; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
fi
install_note="nothing to install"
install_secs=0
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$no_install" -eq 1 ] || ! command -v apt-get >/dev/null || [ "$sudo" = none ]; then
    say "missing: ${missing[*]} (and --no-install given, no apt-get, or not root without passwordless sudo)" >&2
    exit 1
  fi
  t0=$(now)
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
  # shellcheck disable=SC2086
  if ! $sudo "${apt[@]}" >"$logs/apt.log" 2>&1; then
    say "install failed with the current package lists; apt-get update, then again"
    $sudo apt-get update -qq >>"$logs/apt.log" 2>&1
    # shellcheck disable=SC2086
    if ! $sudo "${apt[@]}" >>"$logs/apt.log" 2>&1; then
      tail -n 20 "$logs/apt.log" >&2
      say "apt-get install ${missing[*]} failed (log: $logs/apt.log)" >&2
      exit 1
    fi
  fi
  install_secs=$(since "$t0")
  install_note="installed ${missing[*]} in $install_secs s"
  say "$install_note"
fi
times+=("install: $install_note")
wine_version=$(WINEDEBUG=-all wine --version 2>/dev/null)
[ -n "$wine_version" ] || { say "wine --version fails after the install" >&2; exit 1; }

# ---------------------------------------------------------------- 2. binaries
t0=$(now)
if [ ! -x "$exe_src" ]; then
  say "no $exe_src: building it (tools/ci/cross_check.sh --only windows)"
  if ! tools/ci/cross_check.sh --only windows || [ ! -x "$exe_src" ]; then
    say "the Windows build failed" >&2
    exit 1
  fi
fi
if [ ! -x "$native" ]; then
  say "no $native: building it (cargo build --release)"
  if ! cargo build --release --bin wgbert || [ ! -x "$native" ]; then
    say "the native build failed" >&2
    exit 1
  fi
fi
times+=("binaries: $(since "$t0") s")

# ---------------------------------------------------------------- 3. the DLL shim, the bin folder
t0=$(now)
dll=$bin/bcryptprimitives.dll
if [ ! -f "$dll" ] || [ tools/ci/wine/bcryptprimitives.c -nt "$dll" ]; then
  if ! x86_64-w64-mingw32-gcc -O2 -shared -s -o "$dll" tools/ci/wine/bcryptprimitives.c -ladvapi32; then
    say "could not build bcryptprimitives.dll" >&2
    exit 1
  fi
fi
exe=$bin/wgbert.exe
cp -p "$exe_src" "$exe" || exit 1
exe_when=$(date -u -r "$exe_src" '+%Y-%m-%d %H:%M UTC')
times+=("shim + bin folder: $(since "$t0") s")

# ---------------------------------------------------------------- 4. X server, prefix
xvfb_pid=""
wineserver_started=0
child=""      # the wine call in flight
cleanup() {
  # A wine process does not end on SIGTERM at once; `wineserver -k` kills every process of the
  # prefix (and the server).
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  if [ "$wineserver_started" -eq 1 ] || [ -n "$child" ]; then
    WINEPREFIX=$prefix timeout 20 wineserver -k >/dev/null 2>&1
  fi
  [ -n "$child" ] && wait "$child" 2>/dev/null
  if [ -n "$xvfb_pid" ]; then
    kill "$xvfb_pid" 2>/dev/null
    wait "$xvfb_pid" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$(now)
: >"$work/display"
Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$work/display" 2>"$logs/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do
  [ -s "$work/display" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || break
  sleep 0.1
done
display=$(tr -dc 0-9 <"$work/display")
if [ -z "$display" ]; then
  tail -n 5 "$logs/xvfb.log" >&2
  say "Xvfb did not start (log: $logs/xvfb.log)" >&2
  exit 1
fi
export DISPLAY=":$display"
times+=("Xvfb on $DISPLAY: $(since "$t0") s")

export WINEPREFIX=$prefix WINEDEBUG=-all WINEARCH=win64
# No Mono/Gecko install prompts in a new prefix; wgbert needs neither.
export WINEDLLOVERRIDES="mscoree,mshtml="
# The exe's tuning cache stays in target/wine, not in the prefix's AppData (a relative path: the
# exe runs with Z:\<repository> as its working directory).
export WGBERT_CACHE_DIR=${WGBERT_CACHE_DIR:-${work#"$root"/}/cache}
unset WGBERT_BACKEND WGBERT_ADAPTER

# Written once wineboot has ended well: a prefix whose initialisation was interrupted is redone.
ready=$prefix/.wgbert-wineboot-done
[ "$fresh_prefix" -eq 1 ] && rm -rf "$prefix"
t0=$(now)
if [ ! -f "$ready" ]; then
  rm -rf "$prefix"
  say "initialising the Wine prefix $prefix (once; kept between runs)"
  if ! timeout -k 10 "$call_timeout" wine wineboot --init >"$logs/wineboot.log" 2>&1; then
    tail -n 20 "$logs/wineboot.log" >&2
    say "wineboot --init failed (log: $logs/wineboot.log)" >&2
    exit 1
  fi
  timeout 120 wineserver -w
  : >"$ready"
  prefix_note="initialised in $(since "$t0") s"
else
  prefix_note="reused"
fi
times+=("prefix: $prefix_note")
# One wineserver for all the calls below, instead of one started and stopped per call.
wineserver -p 60 && wineserver_started=1

# ---------------------------------------------------------------- runners
sentences=$work/sentences.txt
printf '%s\n' \
  "this is such an amazing movie!" \
  "The plot was thin, but the acting saved it." \
  "I would not watch it again, not even for free." \
  "Wine runs the Windows build on lavapipe." >"$sentences"

# run_wine NAME STDIN ARGS...: the exe under timeout; stdout, stderr in logs/NAME.{out,err};
# sets $rc and $secs.
run_wine() {
  local name=$1 input=$2 t0 try
  shift 2
  t0=$(now)
  for try in 1 2; do
    # In the background, so that a signal to this script runs its trap at once, not after the call.
    timeout -k 10 "$call_timeout" wine "$exe" "$@" <"$input" >"$logs/$name.out" 2>"$logs/$name.err" &
    child=$!
    wait "$child"
    rc=$?
    child=""
    # Wine itself now and then dies under a call (a page fault in its loader, or a SIGKILL well
    # before the timeout; seen about once in 15 runs, never the same stage twice): once more.
    local died=0
    if [ "$rc" -ge 128 ] && [ "$(since "$t0" | cut -d. -f1)" -lt "$call_timeout" ]; then died=1; fi
    grep -qE 'Unhandled (page fault|exception)' "$logs/$name.err" && [ "$rc" -ne 0 ] && died=1
    if [ "$try" -eq 1 ] && [ "$died" -eq 1 ]; then
      warn "$name: wine died (exit $rc) after $(since "$t0") s; running it once more"
      continue
    fi
    break
  done
  secs=$(since "$t0")
  times+=("$name: $secs s (exit $rc)")
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && say "$name: killed after the ${call_timeout} s timeout" >&2
  if ! kill -0 "$xvfb_pid" 2>/dev/null; then
    # Without X, winevulkan and WGL find no adapter: every later stage would fail the same way.
    fail "$name: Xvfb on $DISPLAY has exited (log: $logs/xvfb.log); stopping"
    exit 1
  fi
  if grep -qE 'Unhandled (page fault|exception)' "$logs/$name.err"; then
    warn "$name: Wine reported a crash ($(grep -m1 -E 'Unhandled (page fault|exception)' "$logs/$name.err")), exit $rc"
  fi
  return 0
}
show_err() { sed 's/^/    /' "$logs/$1.err" | tail -n "${2:-10}" >&2; }

# python3 helpers over JSON files.
py() { python3 -c "$@"; }

declare -A r_info r_selftest r_train r_kernels r_embed r_timing

pattern_of() { case "$1" in vulkan) echo "(Vulkan," ;; gl) echo "(Gl," ;; esac; }

# ---------------------------------------------------------------- 5-7. per backend
native_emb=$logs/native-vulkan-embed.out
if [ "$embed_model" = tiny ] || [ ! -f "$embed_model/vocab.txt" ]; then
  # The tiny random BERT of the fixtures; its vocabulary is in the TF copy.
  embed_model=${work#"$root"/}/tiny_embed
  mkdir -p "$embed_model"
  cp tests/fixtures/tiny_bert/safetensors/config.json tests/fixtures/tiny_bert/safetensors/model.safetensors \
    tests/fixtures/tiny_bert/tf/vocab.txt "$embed_model/"
fi
embed_args=(embed --tune off --max-len 32 --model "$embed_model")
t0=$(now)
"$native" "${embed_args[@]}" --backend vulkan <"$sentences" >"$native_emb" 2>"$logs/native-vulkan-embed.err"
native_rc=$?
times+=("native-vulkan-embed: $(since "$t0") s (exit $native_rc)")

for b in vulkan gl; do
  say "== $b"
  # info
  run_wine "$b-info" /dev/null info --backend "$b"
  chosen=$(grep -m1 '^chosen:' "$logs/$b-info.out")
  if [ "$rc" -eq 0 ] && [[ "$chosen" == *"$(pattern_of "$b")"* ]]; then
    r_info[$b]="OK"
    say "$b info: ${chosen#chosen: }"
  else
    r_info[$b]="FAILED (exit $rc)"
    fail "$b info (exit $rc)"
    show_err "$b-info"
    continue   # nothing else can run on this backend
  fi

  # selftest
  run_wine "$b-selftest" /dev/null selftest --quick --json --backend "$b"
  counts=$(py 'import json,sys
d = json.load(open(sys.argv[1]))
bad = ["%s %s %s" % (r["kernel"], r["variant"], r["shape"]) for r in d["rows"] if not r["passed"]]
print("%d passed, %d failed, %d skipped in %.1f s" % (d["passed"], d["failed"], d["skipped"], d["seconds"]) + ("; failed: " + ", ".join(bad[:5]) if bad else ""))' \
    "$logs/$b-selftest.out" 2>/dev/null)
  if [ "$rc" -eq 0 ] && [ -n "$counts" ]; then
    r_selftest[$b]="$counts"
  else
    r_selftest[$b]="FAILED (exit $rc${counts:+; $counts})"
    fail "$b selftest (exit $rc${counts:+; $counts})"
    show_err "$b-selftest"
  fi
  say "$b selftest: ${r_selftest[$b]}"

  # bench train, with a per-family GPU profile (timestamp queries) to check the timing
  run_wine "$b-bench-train" /dev/null bench train --backend "$b" --model tests/fixtures/tiny_bert_grad \
    --batch-size 4 --max-len 8 --steps 2 --profile --json
  train=$(py 'import json,sys
d = json.load(open(sys.argv[1]))
profile = (d.get("profile") or {}).get("families") or []
gpu = sum(p["ms"] for p in profile)
step = d["step_s_median"] * 1000
print("%.4f s/step (first %.2f s), %.0f seq/s inference|%.6f|%.3f|%d" % (d["step_s_median"], d["first_step_s"], d["inference_seq_per_s"], gpu, step, len(profile)))' \
    "$logs/$b-bench-train.out" 2>/dev/null)
  timing_notes=()
  if [ "$rc" -eq 0 ] && [ -n "$train" ]; then
    r_train[$b]=${train%%|*}
    gpu_ms=$(cut -d'|' -f2 <<<"$train")
    step_ms=$(cut -d'|' -f3 <<<"$train")
    # No profile at all is right where bench found the timestamps are not time (it says so).
    if [ "$(cut -d'|' -f4 <<<"$train")" -eq 0 ]; then
      grep -q "timestamps are not time" "$logs/$b-bench-train.err" && say "$b bench train: no GPU profile (bench: timestamps are not time)"
    elif awk -v g="$gpu_ms" -v s="$step_ms" 'BEGIN { exit !(g < 0.01 * s) }'; then
      timing_notes+=("bench train --profile: GPU timestamps add up to ${gpu_ms} ms for a ${step_ms} ms step")
    fi
  else
    r_train[$b]="FAILED (exit $rc)"
    fail "$b bench train (exit $rc)"
    show_err "$b-bench-train"
  fi
  say "$b bench train: ${r_train[$b]}"

  # bench kernels --quick: GFLOP/s and times must be physical on a CPU adapter
  run_wine "$b-bench-kernels" /dev/null bench kernels --quick --json --backend "$b"
  kern=$(py 'import json,sys
rows = json.load(open(sys.argv[1]))
odd = [r for r in rows if (r.get("gflops") or 0) > 1000 or r["ms_median"] < 0.001]
timing = sorted(set(r.get("timing", "?") for r in rows))
worst = max(rows, key=lambda r: r.get("gflops") or 0)
print("%d cases, timing %s|%d|%s %s %s: %.2f GFLOP/s, median %.5f ms" % (len(rows), "/".join(timing), len(odd),
      worst["kernel"], worst["pass"], worst["shape"], worst.get("gflops") or 0, worst["ms_median"]))' \
    "$logs/$b-bench-kernels.out" 2>/dev/null)
  if [ "$rc" -eq 0 ] && [ -n "$kern" ]; then
    r_kernels[$b]=${kern%%|*}
    odd=$(cut -d'|' -f2 <<<"$kern")
    if [ "$odd" -gt 0 ]; then
      timing_notes+=("bench kernels --quick: $odd of ${r_kernels[$b]%% cases*} cases above 1000 GFLOP/s or under 1 us, e.g. $(cut -d'|' -f3 <<<"$kern")")
    fi
  else
    r_kernels[$b]="FAILED (exit $rc)"
    fail "$b bench kernels --quick (exit $rc)"
    show_err "$b-bench-kernels"
  fi
  say "$b bench kernels: ${r_kernels[$b]}"
  if [ ${#timing_notes[@]} -gt 0 ]; then
    notes=$(printf '%s; ' "${timing_notes[@]}")
    notes=${notes%; }
    r_timing[$b]="WRONG: $notes"
    msg="$b: GPU timestamps are not physical and bench does not fall back to wall-clock timing: $notes"
    if [ "$strict_timing" -eq 1 ]; then fail "$msg"; else warn "$msg (known rough edge; --strict-timing fails on it)"; fi
  elif [[ "${r_kernels[$b]}" == FAILED* || "${r_train[$b]}" == FAILED* ]]; then
    r_timing[$b]="not checked"
  else
    r_timing[$b]="plausible"
  fi

  # embed against the native binary on Vulkan
  run_wine "$b-embed" "$sentences" "${embed_args[@]}" --backend "$b"
  parity=""
  if [ "$native_rc" -ne 0 ]; then
    parity="FAILED: the native embed failed (exit $native_rc)"
    show_err native-vulkan-embed
  elif [ "$rc" -ne 0 ]; then
    parity="FAILED (exit $rc)"
    show_err "$b-embed"
  else
    parity=$(py 'import json,sys
a = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
b = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
if len(a) != len(b) or any(len(u) != len(v) for u, v in zip(a, b)):
    print("FAILED: shapes differ (%d vs %d lines)" % (len(a), len(b))); sys.exit()
d = max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v))
print("%s max |diff| %.2e over %d x %d (tolerance 1e-5)" % ("OK" if d <= 1e-5 else "FAILED:", d, len(a), len(a[0])))' \
      "$logs/$b-embed.out" "$native_emb" 2>&1 | tail -n 1)
  fi
  r_embed[$b]=$parity
  [[ "$parity" == OK* ]] || fail "$b embed parity ($parity)"
  say "$b embed vs native vulkan: $parity"
done

# ---------------------------------------------------------------- DX12, once, expected to fail
dx12_note=""
WINEDEBUG=-all,fixme+vkd3d,err+d3dcompiler run_wine dx12-info /dev/null info --backend dx12
if [ "$rc" -eq 0 ]; then
  dx12_note="ran (exit 0): DX12 works under this Wine; add it to the checked backends"
elif grep -q 'cs_5_1' "$logs/dx12-info.err"; then
  dx12_note="DX12 not available under Wine 8 (no cs_5_1): $(grep -m1 '^error:' "$logs/dx12-info.err")"
else
  dx12_note="DX12 not available under Wine (exit $rc): $(grep -m1 '^error:' "$logs/dx12-info.err" || tail -n 1 "$logs/dx12-info.err")"
fi
say "dx12: $dx12_note"

# ---------------------------------------------------------------- 8. summary
total=$(since "$t_start")
echo
echo "wine/check summary: $wine_version, wgbert.exe built $exe_when, display $DISPLAY, embed model $embed_model"
for b in vulkan gl; do
  echo "  $b"
  echo "    info:          ${r_info[$b]:-not run}"
  echo "    selftest:      ${r_selftest[$b]:-not run}"
  echo "    bench train:   ${r_train[$b]:-not run}"
  echo "    bench kernels: ${r_kernels[$b]:-not run}"
  echo "    bench timing:  ${r_timing[$b]:-not run}"
  echo "    embed parity:  ${r_embed[$b]:-not run}"
done
echo "  dx12: $dx12_note"
echo "  times:"
for t in "${times[@]}"; do echo "    $t"; done
echo "    total (without the install): $(awk -v t="$total" -v i="$install_secs" 'BEGIN { printf "%.1f", t - i }') s"
for w in "${warnings[@]}"; do echo "  WARNING: $w"; done
if [ ${#failures[@]} -gt 0 ]; then
  for f in "${failures[@]}"; do echo "  FAILED: $f"; done
  echo "wine/check: FAILED (logs: $logs)" >&2
  exit 1
fi
echo "wine/check: OK (logs: $logs)"
exit 0
