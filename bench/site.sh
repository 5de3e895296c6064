#!/usr/bin/env bash
# Benchmark of the HTML site and search (issue 6): `newsvault build` (full, nothing changed,
# after 100 new articles), the search index build, and search latency through `serve`.
#
#   bench/site.sh [SIZES]     (default "50 250": feeds of 200 items, ~9,500 and ~47,500 articles)
#
# Needs python3 and the shared bench material (../shared/bench/gen_corpus.py and serve.py, or
# SHARED=/path/to/shared). Builds newsvault in release mode, archives the corpora from a loopback
# server, and measures with /usr/bin/time (wall time, peak RSS). Jekyll and Hugo on the same
# articles: bench/peers.sh. On ext4 without a journal, start it a few minutes after deleting
# many files (another benchmark's clean-up): file creation is slow for that long.
set -euo pipefail
SIZES=${1:-"50 250"}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SHARED=${SHARED:-$ROOT/../shared}
WORK=${WORK:-$(mktemp -d /tmp/newsvault-site-bench.XXXXXX)}
BIN=${BIN:-$ROOT/target/release/newsvault}
PORT=${PORT:-18766}
export NEWSVAULT_NOW=2024-06-02T00:00:00Z

[ -x "$BIN" ] && [ -n "${BIN_READY:-}" ] || cargo build --release --manifest-path "$ROOT/Cargo.toml" >/dev/null 2>&1 || { echo "cargo build --release failed"; exit 1; }
python3 "$SHARED/bench/serve.py" "$WORK" --port "$PORT" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; [ -n "${SERVE:-}" ] && kill $SERVE 2>/dev/null; rm -rf "$WORK"' EXIT

source "$HERE/corpus-config.sh"

measure() { # LABEL CMD...: prints "LABEL wall_s peak_MB"
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$WORK/.time" "$@" >"$WORK/.out" 2>"$WORK/.err" || {
    cat "$WORK/.err"; return 1; }
  awk -v l="$label" '{printf "%-44s %6.2f s %6.0f MB\n", l, $1, $2/1024}' "$WORK/.time"
}

python3 "$SHARED/bench/gen_corpus.py" --out "$WORK/new100" --feeds 1 --items 100 --seed 7 >/dev/null
for n in $SIZES; do
  python3 "$SHARED/bench/gen_corpus.py" --out "$WORK/c$n" --feeds "$n" --items 200 --long-rate 0 >/dev/null
  dir=$WORK/a$n
  config "$dir" "c$n" "$n"
  "$BIN" --config "$dir/newsvault.toml" run >/dev/null 2>&1 || true
  articles=$(sqlite3 "$dir/archive/.newsvault/store.sqlite" 'select count(*) from article' 2>/dev/null || echo "?")
  echo "== $n feeds x 200 items: $articles articles"
  rm -rf "$dir/archive/.newsvault/index"
  measure "search index, built from scratch" "$BIN" --config "$dir/newsvault.toml" search 冬奥
  measure "build, empty output" "$BIN" --config "$dir/newsvault.toml" build
  measure "build, nothing changed" "$BIN" --config "$dir/newsvault.toml" build
  config "$dir" "c$n" "$n" new100
  measure "run with 100 new articles (index included)" "$BIN" --config "$dir/newsvault.toml" run
  measure "build after 100 new articles" "$BIN" --config "$dir/newsvault.toml" build
  cat "$WORK/.out"
  du -sh "$dir/archive/.newsvault/site" "$dir/archive/.newsvault/index" | sed 's/^/  size /'

  # Search latency through serve: 200 queries of 1-2 words, client-side timings.
  "$BIN" --config "$dir/newsvault.toml" serve --addr "127.0.0.1:$((PORT + 1))" >/dev/null 2>&1 &
  SERVE=$!
  sleep 1
  python3 - "$((PORT + 1))" <<'EOF'
import json, statistics, sys, time, urllib.parse, urllib.request
port = sys.argv[1]
words = ["冬奥", "韩国", "北京", "经济", "美国 中国", "疫情", "外长 会谈", "新加坡", "政府", "香港 选举"]
times = []
for i in range(200):
    q = urllib.parse.quote(words[i % len(words)])
    t = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q={q}") as r:
        json.load(r)
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"  search over HTTP: p50 {times[len(times)//2]:.1f} ms, p99 {times[int(len(times)*0.99)-1]:.1f} ms")
EOF
  kill $SERVE; wait $SERVE 2>/dev/null || true; SERVE=
done
