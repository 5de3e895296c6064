#!/usr/bin/env bash
# Benchmark of fetching (issue 3): 1,000 feeds x 10 items behind a server that waits 100 ms
# before every answer, 304s included.
#
#   bench/fetch.sh [RUNS]          (default 3; medians reported)
#
# Needs python3 and the shared bench material (../shared/bench/gen_corpus.py and serve.py, or
# SHARED=/path/to/shared). Builds newsvault in release mode, serves the corpus on loopback with
# `serve.py --delay-ms 100`, and alternates, RUNS times:
#
#   1. a first run into a fresh archive (every feed answered 200, every item new);
#   2. a repeat run over that archive (every feed answered 304: the validators of run 1 are sent).
#
# All 1,000 feeds sit on one loopback host, so the config sets both the global and the per-host
# limit to 64 ([fetch] concurrency = 64, per_host = 64); the latency floor of a run is then
# 1,000 x 0.1 s / 64 = 1.6 s. Wall time and peak RSS come from /usr/bin/time; bytes are the run
# summary's "N bytes received" (feed bodies after decompression; headers not counted).
set -euo pipefail
RUNS=${1:-3}
FEEDS=1000
ITEMS=10
SOURCES=10
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SHARED=${SHARED:-$ROOT/../shared}
WORK=${WORK:-$(mktemp -d /tmp/newsvault-fetch-bench.XXXXXX)}
BIN=$ROOT/target/release/newsvault
PORT=${PORT:-18766}
export NEWSVAULT_NOW=2024-06-02T00:00:00Z

cargo build --release --manifest-path "$ROOT/Cargo.toml" >/dev/null 2>&1
python3 "$SHARED/bench/gen_corpus.py" --out "$WORK/corpus" --feeds $FEEDS --items $ITEMS >/dev/null

python3 "$SHARED/bench/serve.py" "$WORK/corpus" --port "$PORT" --delay-ms 100 >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 1

# config DIR: SOURCES sources of FEEDS/SOURCES feeds each, limits 64/64.
config() {
  mkdir -p "$1"
  { echo "archive = \"archive\""
    echo "[fetch]"; echo "concurrency = 64"; echo "per_host = 64"
    local per=$((FEEDS / SOURCES))
    for ((s = 0; s < SOURCES; s++)); do
      echo "[[source]]"; echo "name = \"来源$s\""; echo "content = \"verbatim\""
      printf 'feeds = ['
      for ((i = s * per; i < (s + 1) * per; i++)); do
        printf '"http://127.0.0.1:%s/feed-%03d.xml",' "$PORT" "$i"
      done
      echo ']'
    done
  } > "$1/newsvault.toml"
}

# measure LABEL CONFIG: appends "wall_seconds peak_kb bytes posts_written" to $WORK/LABEL.
measure() {
  local label=$1 config=$2
  /usr/bin/time -f '%e %M' -o "$WORK/.time" "$BIN" run --config "$config" >"$WORK/.out" 2>"$WORK/.err" || {
    echo "newsvault run failed:"; cat "$WORK/.out" "$WORK/.err"; return 1; }
  local bytes posts
  bytes=$(awk '/ bytes received$/ {print $1}' "$WORK/.out")
  posts=$(awk '/ post\(s\) written to / {print $1}' "$WORK/.out")
  echo "$(tail -n 1 "$WORK/.time") ${bytes:-?} ${posts:-?}" >> "$WORK/$label"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
column_median() { awk -v c="$2" '{print $c}' "$WORK/$1" | median; }

for ((r = 0; r < RUNS; r++)); do
  config "$WORK/a-$r"
  measure first "$WORK/a-$r/newsvault.toml"
  measure repeat "$WORK/a-$r/newsvault.toml"
done

FIRST_WALL=$(column_median first 1); FIRST_KB=$(column_median first 2)
FIRST_BYTES=$(column_median first 3); FIRST_POSTS=$(column_median first 4)
REPEAT_WALL=$(column_median repeat 1); REPEAT_KB=$(column_median repeat 2)
REPEAT_BYTES=$(column_median repeat 3); REPEAT_POSTS=$(column_median repeat 4)

echo "newsvault $("$BIN" --version | cut -d' ' -f2), $(nproc) cores, medians of $RUNS runs"
echo "$FEEDS feeds x $ITEMS items in $SOURCES sources, serve.py --delay-ms 100, concurrency = per_host = 64"
printf '%-34s %7.2f s %8.1f MB %12d bytes %6d posts\n' "first run (fresh archive)" \
  "$FIRST_WALL" "$(echo "$FIRST_KB / 1024" | bc -l)" "$FIRST_BYTES" "$FIRST_POSTS"
printf '%-34s %7.2f s %8.1f MB %12d bytes %6d posts\n' "repeat run (304s)" \
  "$REPEAT_WALL" "$(echo "$REPEAT_KB / 1024" | bc -l)" "$REPEAT_BYTES" "$REPEAT_POSTS"
echo "all runs (wall s, peak KB, bytes, posts):"
sed 's/^/  first  /' "$WORK/first"
sed 's/^/  repeat /' "$WORK/repeat"

check() { if awk "BEGIN {exit !($2)}"; then echo "  ok    $1"; else echo "  MISSED $1"; fi; }
echo "targets:"
check "first run < 4 s ($FIRST_WALL s)" "$FIRST_WALL < 4"
check "repeat run < 2.5 s ($REPEAT_WALL s)" "$REPEAT_WALL < 2.5"
check "repeat bytes < 1 % of first ($REPEAT_BYTES of $FIRST_BYTES)" "$REPEAT_BYTES * 100 < $FIRST_BYTES"
check "peak memory < 200 MB (first $FIRST_KB KB, repeat $REPEAT_KB KB)" \
  "$FIRST_KB < 200 * 1024 && $REPEAT_KB < 200 * 1024"
