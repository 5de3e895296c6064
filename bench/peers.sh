#!/usr/bin/env bash
# Benchmark of `newsvault build` against its peers (issue 6): Debian's `jekyll build` (minima
# theme) on the Jekyll tree newsvault writes, and Debian's `hugo` on a Hugo site made from the
# same posts, all on the same articles, in one sitting.
#
#   bench/peers.sh [SIZES] [RUNS]
#       SIZES  feeds of 200 items each (default "50 250": ~9,500 and ~47,500 articles)
#       RUNS   runs per figure for newsvault and hugo, median reported (default 3)
#   JEKYLL_RUNS=1     runs of jekyll per size (default 1: it takes minutes)
#   JEKYLL_LIMIT=600  seconds before jekyll is stopped (`timeout`); reported as "> LIMIT s"
#   BIN_READY=1       use target/release/newsvault as it is (no cargo build)
#   KEEP=1            keep the work folder ($WORK) for inspection
#
# Needs python3, sqlite3, /usr/bin/time, jekyll + jekyll-theme-minima and hugo
# (apt-get install jekyll jekyll-theme-minima hugo), and the shared bench material
# (../shared/bench/gen_corpus.py and serve.py, or SHARED=/path/to/shared).
#
# For each size: generate the corpus (--long-rate 0, as bench/site.sh), archive it with
# `newsvault run` from serve.py on loopback (which writes the Jekyll tree: _posts/, lists/,
# search.json), then make:
#   - a Jekyll site: a copy of that tree plus a _config.yml with `theme: minima` (and its
#     plugins jekyll-feed, jekyll-seo-tag) and an index.md with minima's `home` layout;
#   - a Hugo site: the same post files as content/posts/*.md (newsvault's front matter is
#     valid YAML for Hugo as it is: titles' quotes are escaped), minimal layouts
#     _default/single.html and _default/list.html, `paginate = 100` (newsvault's list pages
#     hold 100 articles too), raw HTML allowed in Markdown (as kramdown does in Jekyll).
# Then, alternating tools run by run, each into a fresh output folder (a full build; nothing
# is deleted just before a measured run): `newsvault build --out`, `jekyll build -d` (cold
# cache), `hugo -d`. Wall time and peak RSS from /usr/bin/time. Pages written are counted in
# each output: article pages (distinct files, so overwritten ones are not counted) and all
# .html files. The binary is built from the work tree: "-dirty" in the header means it
# carried uncommitted changes.
set -euo pipefail
SIZES=${1:-"50 250"}
RUNS=${2:-3}
JEKYLL_RUNS=${JEKYLL_RUNS:-1}
JEKYLL_LIMIT=${JEKYLL_LIMIT:-600}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SHARED=${SHARED:-$ROOT/../shared}
WORK=${WORK:-$(mktemp -d /tmp/newsvault-peers.XXXXXX)}
BIN=${BIN:-$ROOT/target/release/newsvault}
PORT=${PORT:-18767}
export NEWSVAULT_NOW=2024-06-02T00:00:00Z
export LC_ALL=C.UTF-8

for tool in jekyll hugo python3 sqlite3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing: $tool"; exit 1; }
done

# The release build; others may be editing the tree, so retry once, then fall back to an
# existing binary (said in the output).
BUILT="cargo build --release"
if ! { [ -x "$BIN" ] && [ -n "${BIN_READY:-}" ]; }; then
  if ! cargo build --release --manifest-path "$ROOT/Cargo.toml" >/dev/null 2>&1; then
    sleep 60
    if ! cargo build --release --manifest-path "$ROOT/Cargo.toml" >/dev/null 2>&1; then
      [ -x "$BIN" ] || { echo "cargo build --release failed"; exit 1; }
      BUILT="cargo build --release FAILED; existing binary of $(date -r "$BIN" '+%F %T') used"
    fi
  fi
else
  BUILT="existing binary of $(date -r "$BIN" '+%F %T') (BIN_READY)"
fi

python3 "$SHARED/bench/serve.py" "$WORK" --port "$PORT" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
sleep 1

INDEX_ON_RUN=false  # the search index is not measured here
source "$HERE/corpus-config.sh"

# measure KEY LIMIT CMD...: runs CMD (under `timeout LIMIT` unless LIMIT is 0) and appends
# "wall_s peak_kB status load" to $WORK/KEY; status is "ok", "limit" or "exit=N", load the
# 1-minute load average when CMD started. Output of CMD goes to $WORK/KEY.log (appended).
measure() {
  local key=$1 limit=$2; shift 2
  local status=ok rc=0 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [ "$limit" != 0 ]; then
    /usr/bin/time -f '%e %M' -o "$WORK/.time" timeout -k 10 "$limit" "$@" >>"$WORK/$key.log" 2>&1 || rc=$?
  else
    /usr/bin/time -f '%e %M' -o "$WORK/.time" "$@" >>"$WORK/$key.log" 2>&1 || rc=$?
  fi
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=limit; elif [ "$rc" != 0 ]; then status="exit=$rc"; fi
  echo "$(tail -n 1 "$WORK/.time" | awk '{print $1, $2}') $status $load" >> "$WORK/$key"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mb() { awk -v k="$1" 'BEGIN {m = k / 1024; if (m >= 1000) printf "%.2f GB", m / 1024; else printf "%.0f MB", m}'; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
NV_VERSION=$("$BIN" --version | cut -d' ' -f2)
JEKYLL_VERSION=$(jekyll --version | cut -d' ' -f2)
MINIMA_VERSION=$(dpkg-query -W -f '${Version}' jekyll-theme-minima 2>/dev/null || echo "?")
HUGO_VERSION=$(hugo version | cut -d' ' -f2)
RUBY_VERSION=$(ruby -e 'print RUBY_VERSION')

echo "# newsvault build vs jekyll build vs hugo"
echo
echo "$(date '+%F %T %Z'), $(nproc) cores, load average at start: $LOAD_START"
echo "newsvault $NV_VERSION ($(git -C "$ROOT" describe --always --dirty), $BUILT); jekyll $JEKYLL_VERSION (ruby $RUBY_VERSION, jekyll-theme-minima $MINIMA_VERSION); hugo $HUGO_VERSION"
echo "newsvault and hugo: median of $RUNS run(s), alternated run by run; jekyll: $JEKYLL_RUNS run(s), stopped after $JEKYLL_LIMIT s"

for n in $SIZES; do
  python3 "$SHARED/bench/gen_corpus.py" --out "$WORK/c$n" --feeds "$n" --items 200 --long-rate 0 >/dev/null
  dir=$WORK/a$n
  config "$dir" "c$n" "$n"
  "$BIN" --config "$dir/newsvault.toml" run >/dev/null 2>&1 || true
  articles=$(sqlite3 "$dir/archive/.newsvault/store.sqlite" 'select count(*) from article')
  posts=$(find "$dir/archive/_posts" -name '*.md' | wc -l)

  # The Jekyll site: the archive's Jekyll tree, minima.
  jk=$WORK/jekyll$n
  mkdir -p "$jk"
  cp -r "$dir/archive/_posts" "$dir/archive/lists" "$dir/archive/search.json" "$jk/"
  printf 'title: newsvault bench\ntheme: minima\nplugins:\n  - jekyll-feed\n  - jekyll-seo-tag\n' > "$jk/_config.yml"
  printf -- '---\nlayout: home\n---\n' > "$jk/index.md"

  # The Hugo site: the same posts.
  hg=$WORK/hugo$n
  mkdir -p "$hg/content/posts" "$hg/layouts/_default"
  cp -r "$dir/archive/_posts/." "$hg/content/posts/"
  cat > "$hg/config.toml" <<'EOF'
baseURL = "http://127.0.0.1/"
title = "newsvault bench"
paginate = 100
[markup.goldmark.renderer]
unsafe = true
EOF
  cat > "$hg/layouts/_default/single.html" <<'EOF'
<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><h1>{{ .Title }}</h1><p>{{ .Date.Format "2006-01-02 15:04" }} · {{ .Params.author }} · <a href="{{ .Params.from }}">原文</a></p>
{{ .Content }}</body></html>
EOF
  cat > "$hg/layouts/_default/list.html" <<'EOF'
<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body><h1>{{ .Title }}</h1><ul>{{ range .Paginator.Pages }}<li>{{ .Date.Format "2006-01-02" }} <a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>
{{ with .Paginator.Prev }}<a href="{{ .URL }}">newer</a>{{ end }} {{ with .Paginator.Next }}<a href="{{ .URL }}">older</a>{{ end }}</body></html>
EOF
  sync

  for ((r = 0; r < RUNS; r++)); do
    measure "nv$n" 0 "$BIN" --config "$dir/newsvault.toml" build --out "$WORK/nv$n-out$r"
    if ((r < JEKYLL_RUNS)); then
      rm -rf "$jk/.jekyll-cache"
      (cd "$jk" && measure "jk$n" "$JEKYLL_LIMIT" jekyll build -d "$WORK/jk$n-out$r")
    fi
    (cd "$hg" && measure "hg$n" 0 hugo -d "$WORK/hg$n-out$r")
  done

  # Pages written, counted in the first run's output of each tool.
  nv_articles=$(find "$WORK/nv$n-out0/a" -name '*.html' | wc -l)
  nv_html=$(find "$WORK/nv$n-out0" -name '*.html' | wc -l)
  jk_articles=$(find "$WORK/jk$n-out0" -regextype posix-extended -regex '.*/[0-9]{4}/[0-9]{2}/[0-9]{2}/[^/]+\.html' 2>/dev/null | wc -l || true)
  jk_html=$(find "$WORK/jk$n-out0" -name '*.html' 2>/dev/null | wc -l || true)
  hg_articles=$(find "$WORK/hg$n-out0/posts" -mindepth 2 -maxdepth 2 -name index.html ! -path '*/posts/page/*' | wc -l)
  hg_html=$(find "$WORK/hg$n-out0" -name '*.html' | wc -l)
  jk_conflicts=$(( $(grep -c 'Conflict:' "$WORK/jk$n.log" || true) / JEKYLL_RUNS ))
  jk_yaml=$(( $(grep -c -i -E 'YAML Exception|Error reading file|Invalid date' "$WORK/jk$n.log" || true) / JEKYLL_RUNS ))

  row() { # TOOL KEY ARTICLE_PAGES HTML NOTE
    local key=$2 wall mem status
    wall=$(awk '{print $1}' "$WORK/$key" | median)
    mem=$(awk '{print $2}' "$WORK/$key" | median)
    status=$(awk '{print $3}' "$WORK/$key" | sort -u | paste -sd, -)
    if [ "$status" = limit ]; then
      printf '| %s | %s | > %s s (limit; stopped at %s s) | ≥ %s | stopped with %s article pages of %s written; %s .html in all | %s |\n' "$1" "$posts" "$JEKYLL_LIMIT" "$wall" "$(mb "$mem")" "$3" "$articles" "$4" "$5"
    else
      [ "$status" = ok ] || wall="$wall ($status)"
      printf '| %s | %s | %s s | %s | %s of %s articles; %s .html in all | %s |\n' "$1" "$posts" "$wall" "$(mb "$mem")" "$3" "$articles" "$4" "$5"
    fi
  }
  echo
  echo "## $n feeds × 200 items: $articles articles ($posts posts in _posts)"
  echo
  echo "| tool | articles | wall (median) | peak memory | pages written | notes |"
  echo "| --- | --- | --- | --- | --- | --- |"
  row "newsvault build" "nv$n" "$nv_articles" "$nv_html" "$RUNS run(s)"
  # Jekyll checks URL conflicts when it starts writing; stopped before that, it checked none.
  if [ "$jk_html" = 0 ]; then jk_conflicts="stopped before writing, so URL conflicts not checked"
  else jk_conflicts="$jk_conflicts URL conflicts"; fi
  row "jekyll build (minima)" "jk$n" "$jk_articles" "$jk_html" "$JEKYLL_RUNS run(s); $jk_yaml front-matter errors, $jk_conflicts"
  row "hugo" "hg$n" "$hg_articles" "$hg_html" "$RUNS run(s); $((posts - hg_articles)) article pages overwritten (URL collisions)"

  nv_w=$(awk '{print $1}' "$WORK/nv$n" | median); nv_m=$(awk '{print $2}' "$WORK/nv$n" | median)
  hg_w=$(awk '{print $1}' "$WORK/hg$n" | median); hg_m=$(awk '{print $2}' "$WORK/hg$n" | median)
  jk_w=$(awk '{print $1}' "$WORK/jk$n" | median); jk_m=$(awk '{print $2}' "$WORK/jk$n" | median)
  jk_s=$(awk '{print $3}' "$WORK/jk$n" | sort -u | paste -sd, -)
  echo
  awk -v a="$hg_w" -v b="$nv_w" -v c="$hg_m" -v d="$nv_m" 'BEGIN {
    printf "- newsvault vs hugo: %.1f× faster, %.1f× less memory\n", a / b, c / d }'
  awk -v a="$jk_w" -v b="$nv_w" -v c="$jk_m" -v d="$nv_m" -v s="$jk_s" 'BEGIN {
    printf "- newsvault vs jekyll: %s%.0f× faster, %s%.1f× less memory%s\n",
      (s == "limit" ? "over " : ""), a / b, (s == "limit" ? "over " : ""), c / d,
      (s == "limit" ? " (jekyll stopped at the limit)" : "") }'
  echo "- each run (s, kB, status, load): newsvault $(paste -sd';' "$WORK/nv$n"); jekyll $(paste -sd';' "$WORK/jk$n"); hugo $(paste -sd';' "$WORK/hg$n")"
done

echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); whole script $(( $(date +%s) - START )) s"
