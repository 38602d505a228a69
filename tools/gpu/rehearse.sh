#!/usr/bin/env bash
# CI's check of the GPU kit (tools/gpu/README.md): packs it (tools/gpu/pack.sh), copies it alone
# into an empty temp folder, runs `./run.sh --rehearse` there on this machine's Vulkan (lavapipe)
# at tiny sizes, and checks the eight result files; also that run.sh refuses a kit with a file
# missing. A few minutes on 2 cores once the release binary is built.
#
#   tools/gpu/rehearse.sh              # REHEARSE_OUT=DIR keeps the results there
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
t0=$(date +%s)
tools/gpu/pack.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r target/gpu-kit "$tmp/kit"
export OUT=${REHEARSE_OUT:-$tmp/out}
rm -rf "$OUT"
mkdir -p "$OUT"
echo "rehearse: ./run.sh --rehearse in $tmp/kit (nothing of the repository beside it), OUT=$OUT"
rc=0
(cd "$tmp/kit" && ./run.sh --rehearse) || rc=$?
cat "$OUT/summary.md" 2>/dev/null || true
[ "$rc" -eq 0 ] || {
  echo "rehearse: run.sh --rehearse failed (exit $rc); its log: $OUT/log.txt" >&2
  tail -n 40 "$OUT/log.txt" >&2 || true
  exit 1
}
for f in summary.md results.json log.txt info.txt selftest.json kernels.json train_bench.json recipe.json; do
  [ -s "$OUT/$f" ] || {
    echo "rehearse: $OUT/$f is missing or empty" >&2
    exit 1
  }
done
n=$(find "$OUT" -type f | wc -l)
[ "$n" -le 8 ] || {
  echo "rehearse: $n files in OUT; the device returns 8 at most" >&2
  exit 1
}
# A kit with a file missing stops at once, saying which.
rm "$tmp/kit/data/imdb_test.jsonl.xz"
if (cd "$tmp/kit" && OUT="$tmp/out-missing" ./run.sh --rehearse 2>/dev/null); then
  echo "rehearse: run.sh ran with data/imdb_test.jsonl.xz missing" >&2
  exit 1
fi
grep -q "missing: data/imdb_test.jsonl.xz" "$tmp/out-missing/summary.md"
echo "rehearse: ok in $(($(date +%s) - t0)) s"
