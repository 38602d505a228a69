#!/usr/bin/env bash
# The README's main job: fine-tune all-MiniLM-L6-v2 on the bundled IMDB sample
# (tests/fixtures/imdb_sample: 640 training reviews, of which 128 validate, and 200 test reviews
# it never sees), evaluate it on the test reviews, and score the seed tutorial's five example
# sentences. The recipe was chosen by measurement in PyTorch (tools/pytorch/demo_recipe_torch.py,
# docs/training.md, "The demo's recipe"): the head reads the mean of the tokens (what all-MiniLM-L6-v2 was trained
# for), the embeddings and the first 3 of its 6 layers are frozen, 64 tokens, 2 epochs, lr 2e-4.
# Sized to finish within 5 minutes on a 2-core CPU without a GPU (Mesa's lavapipe).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/setup.sh
cargo build --release --quiet
run=runs/demo
n=1
while [ -e "$run" ]; do run="runs/demo-$n"; n=$((n + 1)); done  # never overwrite an earlier run
data=(--data tests/fixtures/imdb_sample/train.jsonl --test-data tests/fixtures/imdb_sample/test.jsonl)
recipe=(--pool mean --freeze-layers 3 --epochs 2 --max-len 64 --batch-size 16 --lr 2e-4)
# On a GPU adapter there is time for more: the full IMDB when a tarball is at hand (IMDB=PATH,
# else aclImdb_v1.tar.gz here or the shared copy), else every layer of the sample at 128 tokens.
chosen=$(./target/release/wgbert info 2>/dev/null | grep '^chosen:' || true)
if [ -n "$chosen" ] && [[ "$chosen" != *", Cpu,"* ]]; then
  imdb=${IMDB:-}
  for c in aclImdb_v1.tar.gz ../shared/data/aclImdb_labeled.tar.gz; do
    if [ -z "$imdb" ] && [ -f "$c" ]; then imdb=$c; fi
  done
  if [ -n "$imdb" ]; then
    echo "demo: a GPU adapter (${chosen#chosen: }): the seed tutorial's recipe on all of IMDB ($imdb), 2 epochs, tested on 5,000 reviews"
    data=(--data "$imdb" --limit-test 5000)
    recipe=(--epochs 2)
  else
    echo "demo: a GPU adapter (${chosen#chosen: }): every layer of the sample trains, at 128 tokens, 3 epochs (IMDB=PATH to train on all of IMDB)"
    recipe=(--pool mean --epochs 3 --max-len 128 --batch-size 16 --lr 1e-4)
  fi
fi
./target/release/wgbert train "${data[@]}" --out "$run" "${recipe[@]}" "$@"
./target/release/wgbert predict --model "$run" \
  "this is such an amazing movie!" "The movie was great!" "The movie was meh." \
  "The movie was okish." "The movie was terrible..."
echo "run folder: $run (history.json, history.csv, train.log, model/)"
