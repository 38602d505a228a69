#!/usr/bin/env bash
# tools/ci/web_check.sh [--out DIR]: the engine in a real browser. Builds the native binary and the
# browser package (tools/web.sh), serves the page, and runs tools/ci/web/check.mjs in headless
# Chromium (WebGPU on SwiftShader, a CPU adapter): embed parity with `wgbert embed`
# (all-MiniLM-L6-v2 in models/), training-step parity with `wgbert train` (the tiny test model),
# and the predict / export round trip through `wgbert predict`. Exits non-zero on any failure.
# Installs what is missing: chromium (apt-get), node's packages (npm ci in tools/ci/web),
# wasm-bindgen-cli (cargo install, in tools/web.sh). Results and page.png go to DIR
# (default target/web/check). --bench N adds N training steps of all-MiniLM-L6-v2 (batch 8,
# max len 64) on both sides: losses compared, step times printed (minutes on a CPU adapter).
# --demo runs the README's demo (tools/demo.sh's recipe on the bundled sample) in the tab and
# checks that it learned (many minutes on a CPU adapter).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/web/check
bench=0
demo=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --bench) bench="$2"; shift 2 ;;
    --demo) demo=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tools/ci/web_check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

chromium=""
for c in /usr/lib/chromium/chromium /usr/bin/chromium /usr/bin/chromium-browser; do
  [ -x "$c" ] && chromium=$c && break
done
if [ -z "$chromium" ]; then
  echo "installing chromium" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null
  chromium=/usr/lib/chromium/chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing nodejs and npm" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
[ -d tools/ci/web/node_modules/ws ] || (cd tools/ci/web && npm ci --no-audit --no-fund)
if [ ! -f models/all-MiniLM-L6-v2/model.safetensors ]; then
  tools/fetch_model.sh
fi

cargo build --release
tools/web.sh --build-only
site=target/web/site
# The tiny test model with a vocabulary: served at /tiny/, trained natively from the same folder.
mkdir -p "$site/tiny"
cp tests/fixtures/tiny_bert/safetensors/config.json tests/fixtures/tiny_bert/safetensors/model.safetensors \
  tests/fixtures/tiny_bert/tf/vocab.txt "$site/tiny/"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
PY
mkdir -p "$out"
node tools/ci/web/check.mjs --url "http://127.0.0.1:$port/" --bin target/release/wgbert --out "$out" \
  --chromium "$chromium" --minilm models/all-MiniLM-L6-v2 --tiny "$site/tiny" --bench "$bench" --demo "$demo"
