#!/usr/bin/env bash
# Release artifacts into dist/ (git-ignored): the Linux binary and the Windows executable, release
# profile (stripped, see Cargo.toml), each saying its version and git commit in `--version`;
# macOS (aarch64-apple-darwin) is type-checked only (no Apple SDK here to link against).
#
#   tools/release.sh [--allow-dirty]
#
#   dist/<host triple>/wgbert                 e.g. dist/x86_64-unknown-linux-gnu/wgbert
#   dist/x86_64-pc-windows-gnu/wgbert.exe
#   dist/SHA256SUMS
#
# Cross targets and mingw-w64 are installed as needed by tools/ci/cross_check.sh (run here with
# --strict: a release without the Windows executable is an error). Builds with --locked, so
# Cargo.lock must be up to date. Refuses a working tree with uncommitted changes (the binaries
# would name a commit they do not match) unless --allow-dirty. Respects CARGO_TARGET_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

allow_dirty=0
for a in "$@"; do
  case "$a" in
    --allow-dirty) allow_dirty=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "release: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  if [ "$allow_dirty" -eq 1 ]; then
    echo "release: WARNING: uncommitted changes; the binaries say commit $commit but include them" >&2
  else
    echo "release: the working tree has uncommitted changes; commit them or pass --allow-dirty" >&2
    exit 1
  fi
fi

host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
  *-linux-*) ;;
  *) echo "release: WARNING: host is $host, not Linux: dist/$host/ will hold a $host binary" >&2 ;;
esac
win=x86_64-pc-windows-gnu
target_dir=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)

t0=$SECONDS
echo "release: wgbert $version (commit $commit): $host"
cargo build --release --locked --bin wgbert
echo "release: $host built in $((SECONDS - t0)) s"

# The Windows executable and the macOS check; fails when either cannot be done.
tools/ci/cross_check.sh --strict --locked

rm -rf "dist/$host" "dist/$win" dist/SHA256SUMS
mkdir -p "dist/$host" "dist/$win"
cp "$target_dir/release/wgbert" "dist/$host/wgbert"
cp "$target_dir/$win/release/wgbert.exe" "dist/$win/wgbert.exe"

# The version line must carry the version and this commit, in both binaries.
want="$version (commit $commit)"
got=$("dist/$host/wgbert" --version)
case "$got" in
  *"$want"*) ;;
  *) echo "release: dist/$host/wgbert --version says '$got', expected '$want'" >&2; exit 1 ;;
esac
if ! grep -qaF "$want" "dist/$win/wgbert.exe"; then
  echo "release: dist/$win/wgbert.exe does not contain '$want'" >&2
  exit 1
fi

(cd dist && sha256sum "$host/wgbert" "$win/wgbert.exe" >SHA256SUMS)
echo "release: $got; done in $((SECONDS - t0)) s"
for f in "dist/$host/wgbert" "dist/$win/wgbert.exe"; do
  printf '  %-45s %6.1f MB\n' "$f" "$(($(stat -c %s "$f") / 1000))e-3"
done
echo "  dist/SHA256SUMS"
