#!/usr/bin/env bash
# Builds the GPU kit into target/gpu-kit/ (tools/gpu/README.md): everything `run.sh` needs on a
# lent GPU machine that has no Rust and no network, at most 64 MiB, and fails loudly, part by
# part, when it is larger or when the kit and the working tree together would not travel.
#
#   tools/gpu/pack.sh          # after tools/setup.sh (the model) and with the IMDB tarball at
#                              # ../shared/data/aclImdb_labeled.tar.gz (or IMDB_TARBALL=PATH)
#
# The kit: run.sh and its helpers, the release binary (gzipped), all-MiniLM-L6-v2 as f16
# safetensors (byte planes, gzipped: planes.py), the 50,000 IMDB reviews cut to their first 128
# word pieces (imdb_cut.py, checked id for id; xz), the Vulkan/EGL loader .debs (downloaded once into
# target/gpu-debs/, reused when there), tools/pytorch/bench_torch_step.py and kit.json (what and when).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
here=tools/gpu
kit=target/gpu-kit
model=models/all-MiniLM-L6-v2
tarball=${IMDB_TARBALL:-../shared/data/aclImdb_labeled.tar.gz}
debs_cache=target/gpu-debs
pieces=128 # word pieces kept per review: the recipe's --max-len 128 uses 126
limit=$((64 * 1024 * 1024))
die() {
  echo "pack.sh: $*" >&2
  exit 1
}

[ -f "$model/model.safetensors" ] || die "$model/model.safetensors is missing: run tools/setup.sh"
[ -f "$tarball" ] || die "$tarball is missing (the IMDB tarball; set IMDB_TARBALL=PATH)"
command -v python3 >/dev/null || die "python3 is needed (standard library only)"

echo "pack: cargo build --release"
log=$(mktemp)
if ! cargo build --release >"$log" 2>&1; then
  cat "$log" >&2
  die "cargo build --release failed"
fi
rm -f "$log"

# The loader packages (tools/gpu/README.md: the GPU machine may have no libvulkan.so.1).
pkgs="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"
mkdir -p "$debs_cache/lists/partial"
missing=""
for p in $pkgs; do
  compgen -G "$debs_cache/${p}_*_amd64.deb" >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "pack: downloading the amd64 loader packages:$missing"
  command -v apt-get >/dev/null || die "apt-get is needed to download$missing (or put their amd64 .debs in $debs_cache/)"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$root/$debs_cache/lists")
  [ "$(id -u)" -eq 0 ] && o+=(-oAPT::Sandbox::User=root)
  apt-get "${o[@]}" update -qq >/dev/null || die "apt-get update (amd64 lists) failed"
  # shellcheck disable=SC2086 # one word per package
  (cd "$debs_cache" && apt-get "${o[@]}" download -qq $missing) || die "apt-get download$missing failed"
fi

rm -rf "$kit"
mkdir -p "$kit/model" "$kit/data" "$kit/debs"
cp "$here/run.sh" "$here/summarize.py" "$here/planes.py" tools/pytorch/bench_torch_step.py tools/serve_load.py "$kit/"
gzip -9 -n -c target/release/wgbert >"$kit/wgbert.gz"
for p in $pkgs; do cp "$debs_cache/${p}"_*_amd64.deb "$kit/debs/"; done

echo "pack: the model as f16 safetensors"
for f in config.json vocab.txt tokenizer.json tokenizer_config.json special_tokens_map.json; do
  [ -f "$model/$f" ] && cp "$model/$f" "$kit/model/"
done
f16=$(mktemp --suffix .safetensors)
python3 "$here/f16_safetensors.py" "$model/model.safetensors" "$f16"
python3 "$here/planes.py" pack "$f16" "$kit/model/model.safetensors.planes.gz"
rm -f "$f16"

echo "pack: IMDB cut to the first $pieces word pieces of each review"
python3 "$here/imdb_cut.py" "$tarball" target/release/wgbert "$model" "$pieces" "$kit/data" >/dev/null

# Sizes: the kit's parts, and the kit with the working tree that travels beside it.
bytes() { du -sb "$@" | awk '{s += $1} END {print s + 0}'; }
total=$(bytes "$kit")
tree=$(git ls-files -z -c -o --exclude-standard 2>/dev/null |
  python3 -c "import os, sys; print(sum(os.path.getsize(p) for p in sys.stdin.read().split('\0') if os.path.isfile(p)))")
parts=$(
  printf '  %-34s %11s\n' "wgbert.gz" "$(bytes "$kit/wgbert.gz")"
  printf '  %-34s %11s\n' "model/ (f16 weights, planes gzipped)" "$(bytes "$kit/model")"
  printf '  %-34s %11s\n' "data/ (IMDB, cut)" "$(bytes "$kit/data")"
  printf '  %-34s %11s\n' "debs/" "$(bytes "$kit/debs")"
  printf '  %-34s %11s\n' "scripts" "$(bytes "$kit"/*.sh "$kit"/*.py)"
  printf '  %-34s %11s\n' "kit in all" "$total"
  printf '  %-34s %11s\n' "working tree that travels beside it" "$tree"
)
python3 - "$kit/kit.json" "$total" "$tree" "$pieces" <<'PY'
import json, subprocess, sys, time
path, total, tree, pieces = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
json.dump({
    "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": git("rev-parse", "--short=12", "HEAD"),
    "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
    "kit_bytes": total,
    "working_tree_bytes": tree,
    "word_pieces_kept": pieces,
}, open(path, "w"), indent=1)
PY
echo "pack: $kit, in bytes:"
echo "$parts"
[ "$total" -le "$limit" ] || die "the kit is $total bytes, over 64 MiB ($limit): see the parts above"
[ $((total + tree)) -le "$limit" ] ||
  die "the kit ($total) and the working tree ($tree) are over the device's 64 MiB ($limit) together"
echo "pack: $((limit - total - tree)) bytes to spare under the device's 64 MiB"
