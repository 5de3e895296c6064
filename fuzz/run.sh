#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 300), one after another, with the seed corpus
# in fuzz/seeds/ (the fixtures and malformed variants of them) and a working corpus in
# fuzz/corpus/. libFuzzer through cargo-fuzz, with AddressSanitizer (leaks reported).
#
#   cargo install cargo-fuzz && fuzz/run.sh [SECONDS] [TARGET…]
#
# cargo-fuzz wants a nightly compiler for the sanitizer flags; with the stable toolchain,
# RUSTC_BOOTSTRAP=1 (set below) lets it build. A crash leaves its input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-300}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(feed_parse clean_html simple_markup front_matter file_name import_post search_query)
export RUSTC_BOOTSTRAP=1
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target, ${SECONDS_EACH} s"
  cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|Done|==|SUMMARY|stat::number_of_executed_units|stat::peak_rss_mb)" || true
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "$target: crash inputs in fuzz/artifacts/$target"; exit 1
  fi
done
echo "fuzz: every target ran ${SECONDS_EACH} s without a crash, hang or leak"
