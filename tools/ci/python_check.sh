#!/usr/bin/env bash
# The Python package (python/README.md) as a user installs it, then its tests: embeddings against
# `wgbert embed` and transformers, predictions against `wgbert predict`, a short train, each
# error type, two threads on one model, the GPU mapping for Ray, and Ray Data on a local
# two-node cluster. Needs python3 (>= 3.10, with venv) and the release binary (cargo build
# --release) that the tests compare with. Usage: tools/ci/python_check.sh [pytest args...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=target/py-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check maturin pytest numpy 'ray[data]'
[ -x target/release/wgbert ] || cargo build --release
# `pip install ./python` compiles the engine again (its own Cargo.lock, PyO3 features): into
# the main target folder, so that a second run rebuilds only what changed.
t0=$(date +%s)
CARGO_TARGET_DIR="$root/target" "$venv/bin/python" -m pip install -q --disable-pip-version-check ./python
echo "python package built and installed in $(( $(date +%s) - t0 )) s"
# From outside the source tree, so that the installed package is what is tested.
cd python/tests
WGBERT_BIN="$root/target/release/wgbert" "../../$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
