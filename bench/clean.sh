#!/usr/bin/env bash
# Cleaning benchmark (content = "clean"): 10,000 generated articles, articles/s and MB/s.
#
#   bench/clean.sh          (SHARED=/path/to/shared to point elsewhere)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SHARED=${SHARED:-$ROOT/../shared}
WORK=$(mktemp -d /tmp/newsvault-clean.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
python3 "$SHARED/bench/gen_corpus.py" --out "$WORK" --feeds 50 --items 200 >/dev/null
cargo bench --manifest-path "$ROOT/Cargo.toml" --bench clean -- "$WORK" 2>/dev/null | grep cleaned
