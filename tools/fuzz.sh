#!/usr/bin/env bash
# Fuzzes the readers of untrusted bytes with libFuzzer (cargo fuzz): the tokenizer and the
# safetensors, pickle, zip and TF bundle readers (targets in tools/fuzz/fuzz_targets, checks in
# src/fuzzing.rs), each for SECONDS. An input that crashes a target, hangs it or blows its memory
# is copied to tools/fuzz/regressions/<target>/, which `cargo test` replays
# (tests/fuzz_regressions.rs) once the bug is fixed.
#
#   tools/fuzz.sh [SECONDS=600] [TARGET ...]        (by hand; not run by CI)
#
# cargo fuzz passes nightly-only flags (-Z); RUSTC_BOOTSTRAP=1 lets the stable toolchain take
# them. No sanitizer: the readers are safe Rust over slices, so the bugs to find are panics
# (bounds, overflow: debug assertions are on), hangs and runaway allocations, which libFuzzer
# catches itself, at several times ASan's speed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tokenizer safetensors pickle zip tf_bundle)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
[ -f models/all-MiniLM-L6-v2/vocab.txt ] || tools/fetch_model.sh
export RUSTC_BOOTSTRAP=1
fuzz=tools/fuzz
work=$fuzz/target/work
status=0
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t" "$work/logs"
  cp -n "$fuzz/seeds/$t"/* "$work/corpus/$t/" 2>/dev/null || true
  log="$work/logs/$t.log"
  echo "== $t: $secs s (log: $log)"
  set +e
  cargo fuzz run --fuzz-dir "$fuzz" --sanitizer none --debug-assertions "$t" "$work/corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|^#[0-9]+ +DONE" "$log" | sed "s/^/   /" || true
  echo "   corpus: $(ls "$work/corpus/$t" | wc -l) inputs"
  found=$(ls "$work/artifacts/$t" 2>/dev/null | wc -l)
  if [ "$found" -gt 0 ] || [ $rc -ne 0 ]; then
    status=1
    echo "   FOUND: exit $rc, $found input(s); kept in $fuzz/regressions/$t/:"
    cp "$work/artifacts/$t"/* "$fuzz/regressions/$t/" 2>/dev/null || true
    ls "$work/artifacts/$t" | sed "s/^/     /"
    tail -n 30 "$log"
  fi
done
exit $status
