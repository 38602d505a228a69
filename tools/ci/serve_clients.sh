#!/usr/bin/env bash
# CI: `wgbert serve` through the real `openai` and `huggingface_hub` clients
# (tools/ci/serve_clients.py), in a venv of their own under target/ (git-ignored).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/ci-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check openai huggingface_hub numpy
[ -x "$root/target/release/wgbert" ] || cargo build --release --manifest-path "$root/Cargo.toml"
exec "$venv/bin/python" "$root/tools/ci/serve_clients.py" --wgbert "$root/target/release/wgbert"
