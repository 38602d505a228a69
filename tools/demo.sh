#!/usr/bin/env bash
# The README's main job: fine-tune all-MiniLM-L6-v2 on the bundled IMDB sample
# (tests/fixtures/imdb_sample: 240 training reviews, 100 test reviews), evaluate it on the test
# reviews, and score the seed tutorial's five example sentences. Sized to finish in minutes on a
# CPU-only machine (Mesa's lavapipe); on a GPU raise --epochs / --max-len and use the full set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh
cargo build --release --quiet
run=runs/demo
n=1
while [ -e "$run" ]; do run="runs/demo-$n"; n=$((n + 1)); done  # never overwrite an earlier run
./target/release/wgbert train \
  --data tests/fixtures/imdb_sample/train.jsonl --test-data tests/fixtures/imdb_sample/test.jsonl \
  --out "$run" --epochs 2 --max-len 64 --batch-size 16 --lr 2e-4 "$@"
./target/release/wgbert predict --model "$run" \
  "this is such an amazing movie!" "The movie was great!" "The movie was meh." \
  "The movie was okish." "The movie was terrible..."
echo "run folder: $run (history.json, history.csv, train.log, model/)"
