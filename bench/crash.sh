#!/usr/bin/env bash
# Crash test (issue 7): archive a generated corpus while killing newsvault with SIGKILL at random
# moments, rerunning after each kill, then check that nothing was lost, doubled or left broken.
#
#   bench/crash.sh                 KILLS=25 SEED=$RANDOM STEPS=10 FEEDS=50 ITEMS=100
#
# What it does (a few minutes at most; exits non-zero on failure, the last line says which):
#
#   1. Builds newsvault (release; BIN=/path/to/newsvault skips the build), generates a corpus
#      with ../shared/bench/gen_corpus.py (SHARED=… to point elsewhere; without it, a smaller
#      corpus generated here) and serves it on loopback (serve.py, else python's http.server).
#   2. A clean run of the whole corpus into one archive: the reference.
#   3. Into a second archive, the same corpus in STEPS growing slices of its feeds, so that every
#      run has new articles to store and posts to write. Each run is killed with SIGKILL after a
#      random delay (up to 1.5 times the last uninterrupted run, growing after each kill) and
#      run again, until it gets through; at least KILLS runs must have been killed mid-way.
#   4. A last run, then: the store passes PRAGMA integrity_check; it holds every distinct item
#      exactly once, each with its own post; no temporary file (.newsvault-tmp-*) is left; and
#      _posts/, lists/ and search.json are byte-identical to the clean run's.
#
# NEWSVAULT_NOW is fixed, so both archives see the same "now". python3 (standard library only)
# drives the kills and reads the stores.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SHARED=${SHARED:-$ROOT/../shared}
KILLS=${KILLS:-25}
SEED=${SEED:-$RANDOM}
STEPS=${STEPS:-10}
FEEDS=${FEEDS:-50}
ITEMS=${ITEMS:-100}
WORK=$(mktemp -d /tmp/newsvault-crash.XXXXXX)
export NEWSVAULT_NOW=2024-06-02T00:00:00Z
SERVER=

fail() { echo "crash test: FAILED: $*"; exit 1; }
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" || fail "cargo build"
  BIN=$ROOT/target/release/newsvault
fi

# The corpus: feed-NNN.xml files and how many distinct items they hold.
mkdir -p "$WORK/corpus"
if [ -f "$SHARED/bench/gen_corpus.py" ]; then
  python3 "$SHARED/bench/gen_corpus.py" --out "$WORK/corpus" --feeds "$FEEDS" --items "$ITEMS" \
    --seed 7 >/dev/null
else
  echo "crash test: no $SHARED/bench/gen_corpus.py; generating a simpler corpus"
  python3 - "$WORK/corpus" "$FEEDS" "$ITEMS" <<'PY'
import json, os, random, sys
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
out, feeds, items = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
words = ["北京", "上海", "外交部", "发布", "新规", "回应", "关切", "市场", "数据", "“清零”", "a/b", "🔥"]
pool, distinct = [], set()
for f in range(feeds):
    entries = []
    for i in range(items):
        if pool and rng.random() < 0.05:
            entry = rng.choice(pool)  # the same item in two feeds
        else:
            n = len(pool)
            title = "".join(rng.choice(words) for _ in range(rng.choice([4, 8, 90]))) + f" {n}"
            when = datetime(2024, 6, 1, tzinfo=timezone.utc) - timedelta(minutes=rng.randrange(86400))
            entry = (f"https://example.com/story-{n}", title, format_datetime(when), f"<p>{title}</p>" * 3)
            pool.append(entry)
        distinct.add(entry[0])
        entries.append(entry)
    with open(os.path.join(out, "feed-%03d.xml" % f), "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title>')
        for link, title, date, body in entries:
            fh.write(f"<item><title><![CDATA[{title}]]></title><link>{link}</link><guid>{link}</guid>"
                     f"<pubDate>{date}</pubDate><description><![CDATA[{body}]]></description></item>\n")
        fh.write("</channel></rss>\n")
with open(os.path.join(out, "manifest.json"), "w") as fh:
    json.dump({"distinct_items": len(distinct)}, fh)
PY
fi

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ -f "$SHARED/bench/serve.py" ]; then
  python3 "$SHARED/bench/serve.py" "$WORK/corpus" --port "$PORT" >/dev/null 2>&1 &
else
  python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/corpus" >/dev/null 2>&1 &
fi
SERVER=$!
python3 - "$PORT" <<'PY' || fail "the feed server did not start"
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY

echo "crash test: seed $SEED, $KILLS kills at least, $STEPS steps, corpus $FEEDS x $ITEMS, in $WORK"
python3 - "$BIN" "$WORK" "$PORT" "$FEEDS" "$STEPS" "$KILLS" "$SEED" <<'PY'
import json, os, random, sqlite3, subprocess, sys, time

BIN, WORK, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
FEEDS, STEPS, KILLS, SEED = (int(a) for a in sys.argv[4:8])
TEMP_PREFIX = ".newsvault-tmp-"
rng = random.Random(SEED)

def fail(why):
    print(f"crash test: FAILED: {why}")
    sys.exit(1)

def write_config(folder, feeds):
    os.makedirs(folder, exist_ok=True)
    urls = ", ".join(f'"http://127.0.0.1:{PORT}/feed-{i:03d}.xml"' for i in range(feeds))
    path = os.path.join(folder, "newsvault.toml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f'archive = "archive"\n[[source]]\nname = "联合早报"\ncontent = "verbatim"\n'
                 f"feeds = [{urls}]\n")
    return path

def run(config, kill_after=None):
    """Runs newsvault; returns (killed, seconds). A failed run ends the test."""
    started = time.monotonic()
    child = subprocess.Popen([BIN, "run", "-q", "--config", config],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = child.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        child.kill()  # SIGKILL
        child.communicate()
        return True, time.monotonic() - started
    if child.returncode != 0:
        fail(f"newsvault run exited {child.returncode}: {err.decode(errors='replace').strip()}")
    return False, time.monotonic() - started

# 2. The reference: one clean run of everything.
clean = os.path.join(WORK, "clean")
_, full = run(write_config(clean, FEEDS))
print(f"clean run: {full:.2f} s")

# 3. The same corpus in growing slices, each run killed at random until one gets through.
crashed = os.path.join(WORK, "crashed")
kills = runs = 0
estimate = full
step = 0
while step < STEPS or kills < KILLS:
    feeds = min(FEEDS, -(-FEEDS * (step + 1) // STEPS))
    config = write_config(crashed, feeds)
    delay = rng.uniform(0, 1.5 * estimate)
    killed, took = run(config, kill_after=delay)
    runs += 1
    if killed:
        # The next slice may take longer than the last run that got through: wait a bit
        # longer each time, so that every slice is eventually archived.
        kills += 1
        estimate *= 1.25
    else:
        estimate = took
        step += 1
    if runs > 10 * (STEPS + KILLS):
        fail(f"after {runs} runs ({kills} killed), step {step} of {STEPS} still not through")
print(f"{runs} runs, {kills} killed mid-way")

# 4. A last run over everything, then the checks.
killed, _ = run(write_config(crashed, FEEDS))
archive = os.path.join(crashed, "archive")
reference = os.path.join(clean, "archive")
with open(os.path.join(WORK, "corpus", "manifest.json")) as fh:
    distinct = json.load(fh)["distinct_items"]

store = sqlite3.connect(os.path.join(archive, ".newsvault", "store.sqlite"))
check = [row[0] for row in store.execute("PRAGMA integrity_check")]
if check != ["ok"]:
    fail(f"integrity_check: {check[:5]}")
articles, names = store.execute(
    "SELECT count(*), count(DISTINCT post_name) FROM article").fetchone()
if articles != distinct:
    fail(f"{articles} articles in the store for {distinct} distinct items")
if names != distinct:
    fail(f"{names} distinct post names for {distinct} articles")

left = []
for folder, dirs, files in os.walk(archive):
    left += [os.path.join(folder, f) for f in files + dirs if f.startswith(TEMP_PREFIX)]
if left:
    fail(f"temporary files left: {left[:5]}")

posts = sorted(os.listdir(os.path.join(archive, "_posts")))
if len(posts) != distinct:
    fail(f"{len(posts)} posts for {distinct} distinct items")

def tree(root):
    out = {}
    for name in ["_posts", "lists", "search.json"]:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            for entry in os.listdir(path):
                with open(os.path.join(path, entry), "rb") as fh:
                    out[f"{name}/{entry}"] = fh.read()
        elif os.path.exists(path):
            with open(path, "rb") as fh:
                out[name] = fh.read()
    return out

got, want = tree(archive), tree(reference)
differ = sorted(set(got) ^ set(want)) + sorted(k for k in set(got) & set(want) if got[k] != want[k])
if differ:
    fail(f"{len(differ)} output files differ from the clean run's, e.g. {differ[:3]}")
print(f"crash test: ok: {kills} kills in {runs} runs; {distinct} articles archived once each, "
      f"integrity ok, no temporary files, outputs equal to a clean run's")
PY
