#!/usr/bin/env bash
# Scores `newsvault extract` (fulltext = "auto") on the real article pages of ../shared/extract
# with that folder's rule: 4-token shingles of \w+ tokens, per-page TP/FP/FN normalised by their
# sum, added over pages; prints precision, recall and F1.
#
#   bench/extract.sh            (SHARED=/path/to/shared to point elsewhere)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SHARED=${SHARED:-$ROOT/../shared}
BIN=$ROOT/target/release/newsvault
cargo build --release --manifest-path "$ROOT/Cargo.toml" >/dev/null 2>&1 || { echo "cargo build --release failed"; exit 1; }
python3 - "$BIN" "$SHARED/extract" <<'PY'
import json, os, re, subprocess, sys, time
from collections import Counter
binary, folder = sys.argv[1], sys.argv[2]
reference = json.load(open(os.path.join(folder, "reference.json")))
word = re.compile(r"\w+")

def shingles(text):
    tokens = word.findall(text)
    if len(tokens) < 4:
        return Counter([" ".join(tokens)])
    return Counter(" ".join(tokens[i:i + 4]) for i in range(len(tokens) - 3))

tp = fp = fn = 0.0
failed, started = 0, time.time()
for key, ref in sorted(reference.items()):
    page = os.path.join(folder, "pages", key + ".html.gz")
    run = subprocess.run([binary, "extract", page, "--json"], capture_output=True, text=True)
    if run.returncode != 0:
        failed += 1
        text = ""
    else:
        text = json.loads(run.stdout)["text"]
    got, want = shingles(text), shingles(ref["articleBody"])
    t = sum((got & want).values())
    p = sum((got - want).values())
    n = sum((want - got).values())
    total = t + p + n or 1
    tp, fp, fn = tp + t / total, fp + p / total, fn + n / total
precision, recall = tp / (tp + fp), tp / (tp + fn)
f1 = 2 * precision * recall / (precision + recall)
print("pages %d, failed %d, %.1f s" % (len(reference), failed, time.time() - started))
print("precision %.4f  recall %.4f  F1 %.4f" % (precision, recall, f1))
PY
