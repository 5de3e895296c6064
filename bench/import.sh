#!/usr/bin/env bash
# Benchmark of `newsvault import jekyll` and `newsvault export jsonl` (the archive's memory).
#
#   bench/import.sh [RUNS]       (default 3; medians reported)
#
# Generates ~50,000 distinct articles with ../shared/bench/gen_corpus.py (264 feeds x 200 items),
# archives them once with `newsvault run` to get a real `_posts` folder, then imports that folder
# into a fresh store RUNS times and exports the store as JSON Lines RUNS times, measuring wall
# time and peak RSS with /usr/bin/time.
set -euo pipefail
RUNS=${1:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SHARED=${SHARED:-$ROOT/../shared}
WORK=${WORK:-$(mktemp -d /tmp/newsvault-import.XXXXXX)}
BIN=$ROOT/target/release/newsvault
export NEWSVAULT_NOW=2024-06-02T00:00:00Z
trap 'rm -rf "$WORK"' EXIT

cargo build --release --manifest-path "$ROOT/Cargo.toml" >/dev/null 2>&1 || { echo "cargo build --release failed"; exit 1; }
python3 "$SHARED/bench/gen_corpus.py" --out "$WORK/corpus" --feeds 264 --items 200 >/dev/null
mkdir -p "$WORK/source"
{ echo 'archive = "archive"'; echo '[[source]]'; echo 'name = "联合早报"'; printf 'feeds = ['
  for f in "$WORK"/corpus/feed-*.xml; do printf '"file://%s",' "$f"; done; echo ']'; } > "$WORK/source/newsvault.toml"
"$BIN" run --config "$WORK/source/newsvault.toml" >/dev/null
POSTS=$(ls "$WORK/source/archive/_posts" | wc -l)

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for ((r = 0; r < RUNS; r++)); do
  mkdir -p "$WORK/into-$r"
  # The import alone: by default an import then builds the search index, as a run does.
  printf 'archive = "archive"\n[site]\nindex_on_run = false\n' > "$WORK/into-$r/newsvault.toml"
  /usr/bin/time -f '%e %M' -o "$WORK/t" "$BIN" import jekyll "$WORK/source/archive/_posts" \
    --config "$WORK/into-$r/newsvault.toml" > "$WORK/out"
  cat "$WORK/t" >> "$WORK/import"
  /usr/bin/time -f '%e %M' -o "$WORK/t" "$BIN" export jsonl --out "$WORK/all.jsonl" \
    --config "$WORK/into-$r/newsvault.toml"
  cat "$WORK/t" >> "$WORK/export"
done
echo "import: $(tail -1 "$WORK/out")"
wall=$(awk '{print $1}' "$WORK/import" | median)
mem=$(awk '{print $2}' "$WORK/import" | median)
printf 'import jekyll, %d posts: %.2f s (%.0f posts/s), peak %.1f MB\n' "$POSTS" "$wall" \
  "$(echo "$POSTS / $wall" | bc -l)" "$(echo "$mem / 1024" | bc -l)"
wall=$(awk '{print $1}' "$WORK/export" | median)
mem=$(awk '{print $2}' "$WORK/export" | median)
printf 'export jsonl, %d lines (%s): %.2f s, peak %.1f MB\n' "$(wc -l < "$WORK/all.jsonl")" \
  "$(du -h "$WORK/all.jsonl" | cut -f1)" "$wall" "$(echo "$mem / 1024" | bc -l)"
