#!/usr/bin/env bash
# Cross-platform build check: links the Windows executable (x86_64-pc-windows-gnu, release profile,
# with Debian's mingw-w64) and type-checks macOS (aarch64-apple-darwin; `cargo check` only, there
# is no Apple SDK here to link against) and the library for the browser (wasm32-unknown-unknown,
# WebGPU; `cargo check --lib`).
#
# Installs what it needs when missing: the two rustup targets and gcc-mingw-w64-x86-64 (apt-get,
# non-interactive; `sudo -n` when not root). A target whose tools cannot be installed is skipped
# with a loud WARNING and does not fail the run, unless --strict (tools/release.sh) is given.
# A target that does not compile fails the run (non-zero exit).
#
#   tools/ci/cross_check.sh [--strict] [--no-link] [--only windows|macos|wasm] [extra cargo args: --locked]
#
# --no-link: `cargo check` Windows too instead of building the executable (on 2 idle cores, after
# the host's release build: about 45 s instead of 2 min; catches everything but link errors).
#
# Respects CARGO_TARGET_DIR. The executable ends up in
# <target dir>/x86_64-pc-windows-gnu/release/wgbert.exe, where tools/release.sh picks it up.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

strict=0
no_link=0
only=""
cargo_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --strict) strict=1 ;;
    --no-link) no_link=1 ;;
    --only)
      only="${2:-}"
      case "$only" in windows | macos | wasm) ;; *) echo "cross_check: --only needs windows, macos or wasm" >&2; exit 2 ;; esac
      shift
      ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) cargo_args+=("$1") ;;
  esac
  shift
done

win=x86_64-pc-windows-gnu
mac=aarch64-apple-darwin
wasm=wasm32-unknown-unknown
mingw_gcc=x86_64-w64-mingw32-gcc
skipped=()
failed=()
summary=()

say() { echo "cross_check: $*"; }
warn() {
  # Loud on purpose: a skipped platform must not go unnoticed in a CI log.
  {
    echo "########################################################################"
    echo "WARNING: cross_check: $*"
    echo "########################################################################"
  } >&2
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
fi

# Each ensure_* returns non-zero with the reason in $why when the tool cannot be had.
why=""

# rustup target add TARGET, when not installed yet.
ensure_target() {
  local t=$1
  if ! command -v rustup >/dev/null; then
    [ -d "$(rustc --print target-libdir --target "$t" 2>/dev/null)" ] && return 0
    why="no rustup here, and the Rust toolchain has no standard library for $t"
    return 1
  fi
  rustup target list --installed 2>/dev/null | grep -qx "$t" && return 0
  say "installing the Rust target $t (rustup)"
  rustup target add "$t" 2>&1 | tail -n 3
  rustup target list --installed 2>/dev/null | grep -qx "$t" && return 0
  why="rustup target add $t failed"
  return 1
}

# The mingw-w64 C toolchain: the linker of x86_64-pc-windows-gnu.
ensure_mingw() {
  command -v "$mingw_gcc" >/dev/null && return 0
  if ! command -v apt-get >/dev/null; then
    why="$mingw_gcc is missing, and there is no apt-get to install gcc-mingw-w64-x86-64 with"
    return 1
  fi
  if [ "$sudo" = none ]; then
    why="$mingw_gcc is missing, and installing gcc-mingw-w64-x86-64 needs root or passwordless sudo"
    return 1
  fi
  say "installing gcc-mingw-w64-x86-64 (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64)
  # With the package lists already there first; update them only when that fails.
  # shellcheck disable=SC2086
  if ! $sudo "${apt[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -qq 2>&1 | tail -n 3
    $sudo "${apt[@]}" 2>&1 | tail -n 5
  fi
  command -v "$mingw_gcc" >/dev/null && return 0
  why="apt-get install gcc-mingw-w64-x86-64 failed"
  return 1
}

# Runs "$@" (a cargo command); records the outcome under label $1.
build() {
  local label=$1
  shift
  local t0=$SECONDS
  say "$label: $*"
  if "$@"; then
    summary+=("$label: ok in $((SECONDS - t0)) s")
  else
    summary+=("$label: FAILED after $((SECONDS - t0)) s")
    failed+=("$label")
  fi
}

skip() {
  local label=$1 why=$2
  warn "$label SKIPPED, not checked: $why"
  skipped+=("$label ($why)")
}

if [ -z "$only" ] || [ "$only" = windows ]; then
  # No linker needed to check.
  if ensure_target "$win" && { [ "$no_link" -eq 1 ] || ensure_mingw; }; then
    if [ "$no_link" -eq 1 ]; then
      build "windows ($win, cargo check --release --all-targets)" \
        cargo check --release --all-targets --target "$win" "${cargo_args[@]}"
    else
      build "windows ($win, cargo build --release)" \
        cargo build --release --target "$win" --bin wgbert "${cargo_args[@]}"
    fi
  else
    skip "windows ($win)" "$why"
  fi
fi

if [ -z "$only" ] || [ "$only" = macos ]; then
  if ensure_target "$mac"; then
    # Check only (no Apple SDK to link against); --all-targets: the tests must compile there too.
    # --release shares the build scripts and proc macros built for the host by the release builds.
    build "macos ($mac, cargo check --release --all-targets)" \
      cargo check --release --all-targets --target "$mac" "${cargo_args[@]}"
  else
    skip "macos ($mac)" "$why"
  fi
fi

if [ -z "$only" ] || [ "$only" = wasm ]; then
  if ensure_target "$wasm"; then
    # The library only: the CLI and its crates are native only (Cargo.toml).
    build "browser ($wasm, cargo check --release --lib)" \
      cargo check --release --lib --target "$wasm" "${cargo_args[@]}"
  else
    skip "browser ($wasm)" "$why"
  fi
fi

echo "cross_check: summary"
for s in "${summary[@]}"; do echo "  $s"; done
for s in "${skipped[@]}"; do echo "  SKIPPED: $s"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "cross_check: FAILED: ${failed[*]}" >&2
  exit 1
fi
if [ ${#skipped[@]} -gt 0 ]; then
  warn "${#skipped[@]} platform(s) not checked: ${skipped[*]}"
  [ "$strict" -eq 1 ] && exit 2
fi
exit 0
