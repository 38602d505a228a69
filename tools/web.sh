#!/usr/bin/env bash
# tools/web.sh [--port N] [--build-only]: builds the browser package (the library for
# wasm32-unknown-unknown + wasm-bindgen's JS glue) into target/web/site/ with the page
# (src/web/), and serves it at http://127.0.0.1:N/ (default 8080): the page at /, models/ at
# /models/, the IMDB sample (tests/fixtures/imdb_sample) at /data/.
# Installs what is missing: the wasm32 target (rustup), wasm-bindgen-cli of exactly the
# wasm-bindgen version in Cargo.lock (cargo install). Needs python3 to serve.
set -euo pipefail
cd "$(dirname "$0")/.."

port=8080
serve=1
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --build-only) serve=0; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tools/web.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

# The CLI that writes the JS glue must be the very version of the wasm-bindgen crate.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
  echo "installing wasm-bindgen-cli $version" >&2
  # --locked is the reproducible way; a lock file naming a yanked crate fails it, then unlocked.
  cargo install wasm-bindgen-cli --version "$version" --locked ||
    cargo install wasm-bindgen-cli --version "$version"
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# A cdylib for this build only (the native library stays an rlib). Not stripped: wasm-bindgen
# reads the wasm's target_features section.
CARGO_PROFILE_RELEASE_STRIP=false cargo rustc --release --lib --target wasm32-unknown-unknown --crate-type cdylib
site=target/web/site
rm -rf "$site"
mkdir -p "$site"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" target/wasm32-unknown-unknown/release/wgbert.wasm
cp src/web/index.html src/web/*.js src/web/*.css "$site/"
[ -e models ] && ln -s "$PWD/models" "$site/models"
ln -s "$PWD/tests/fixtures/imdb_sample" "$site/data"
echo "built $site ($(du -k "$site/pkg/wgbert_bg.wasm" | cut -f1) KiB of wasm)" >&2

if [ "$serve" = 1 ]; then
  echo "serving http://127.0.0.1:$port/ (Ctrl-C stops)" >&2
  exec python3 -m http.server "$port" --bind 127.0.0.1 --directory "$site"
fi
