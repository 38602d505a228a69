#!/usr/bin/env bash
# Compile every WGSL module and every (entry point, override set) of a `wgbert shaders --out DIR`
# folder through Dawn/Tint, on each backend named (default: null and opengles). Installs the
# pinned npm packages (npm ci) when node_modules is missing or older than package-lock.json.
#
#   tools/ci/tint/check.sh DIR [null] [opengles] [--verbose]
#   tools/ci/tint/check.sh --selftest      # the checker must find exactly the faults of selftest/
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { echo "usage: $0 DIR [null] [opengles] [--verbose] | $0 --selftest" >&2; exit 2; }

command -v node >/dev/null || { echo "tools/ci/tint: node (>= 18) is needed" >&2; exit 2; }
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 18 ] || { echo "tools/ci/tint: node >= 18 is needed (found $(node --version))" >&2; exit 2; }

# node_modules is current when npm ci ran on this very package-lock.json.
stamp="$here/node_modules/.wgbert-lock-sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "tools/ci/tint: npm ci (node_modules missing or stale)" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
fi

if [ "${1:-}" = "--selftest" ]; then
    [ $# -eq 1 ] || usage
    status=0
    for backend in null opengles; do
        expected="$(grep "^tint ($backend): .* checked" "$here/selftest/expected.txt")"
        set +e
        out="$(node "$here/check.mjs" "$here/selftest" "$backend" 2>&1)"
        rc=$?
        set -e
        got="$(grep "^tint ($backend): .* checked" <<<"$out" || true)"
        if [ "$rc" -eq 1 ] && [ "$got" = "$expected" ]; then
            echo "selftest ($backend): ok: $got"
        else
            echo "$out"
            echo "selftest ($backend): FAILED (exit $rc): expected '$expected', got '$got'"
            status=1
        fi
    done
    exit $status
fi

dir=""
backends=()
flags=()
for a in "$@"; do
    case "$a" in
        null|opengles) backends+=("$a") ;;
        --verbose) flags+=("$a") ;;
        -*) usage ;;
        *) [ -z "$dir" ] || usage; dir="$a" ;;
    esac
done
[ -n "$dir" ] || usage
[ ${#backends[@]} -gt 0 ] || backends=(null opengles)

status=0
for backend in "${backends[@]}"; do
    node "$here/check.mjs" "$dir" "$backend" "${flags[@]}" || status=1
done
exit $status
