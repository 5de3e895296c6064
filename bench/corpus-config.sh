# Sourced by the benchmarks that archive gen_corpus.py corpora served by serve.py on $PORT.
#
# config DIR CORPUS NFEEDS [EXTRA_CORPUS]: writes DIR/newsvault.toml, one source (联合早报,
# content verbatim) following NFEEDS feeds of CORPUS, and feed-000 of EXTRA_CORPUS when given.
# INDEX_ON_RUN, when set, becomes `[site] index_on_run`.
config() {
  mkdir -p "$1"
  { echo "archive = \"archive\""
    [ -n "${INDEX_ON_RUN:-}" ] && printf '[site]\nindex_on_run = %s\n' "$INDEX_ON_RUN"
    echo "[[source]]"; echo "name = \"联合早报\""; echo "content = \"verbatim\""
    printf 'feeds = ['
    for ((i = 0; i < $3; i++)); do printf '"http://127.0.0.1:%s/%s/feed-%03d.xml",' "$PORT" "$2" "$i"; done
    [ -n "${4:-}" ] && printf '"http://127.0.0.1:%s/%s/feed-000.xml",' "$PORT" "$4"
    echo ']'
  } > "$1/newsvault.toml"
}
