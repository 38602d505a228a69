#!/usr/bin/env bash
# Every WGSL module and specialization the engine can build, through every shader compiler we
# can reach (issue: portability is tested, not assumed):
#   1. `wgbert shaders --translate`: naga's MSL (Metal), HLSL (DX12), SPIR-V (Vulkan) and GLSL ES
#      (GL) translations, as wgpu makes them at run time;
#   2. spirv-val (Debian's spirv-tools) on every SPIR-V specialization, Vulkan 1.0 rules;
#   3. tools/tint/check.sh: Tint (Chrome's compiler, Dawn for Node) on its null back end (every
#      feature) and its OpenGL ES back end on Mesa (which also compiles Tint's GLSL).
# Any error or warning fails. Installs spirv-tools when missing (apt-get; root or sudo -n).
#
#   tools/shader_check.sh [--bin PATH] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/wgbert"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "shader_check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$bin" ] || (cd "$root" && cargo build --release)
[ -n "$out" ] || { out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; }

"$bin" shaders --translate --out "$out"

if ! command -v spirv-val >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq spirv-tools >/dev/null 2>&1 || { $sudo apt-get update -qq && $sudo apt-get install -y -qq spirv-tools >/dev/null; }
fi
n=0
bad=0
for f in "$out"/spirv/*.spv; do
  n=$((n + 1))
  if ! msg=$(spirv-val --target-env vulkan1.0 "$f" 2>&1); then
    bad=$((bad + 1))
    echo "spirv-val: $(basename "$f"): $msg" >&2
  fi
done
echo "spirv-val (vulkan1.0): $n modules, $bad invalid"
[ "$bad" -eq 0 ] || exit 1

"$root/tools/tint/check.sh" "$out"
