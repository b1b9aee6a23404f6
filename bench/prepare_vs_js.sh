#!/usr/bin/env bash
# bench/prepare_vs_js.sh: `kiln prepare --tokenizer gpt2` at 1 and 2 threads (MB/s, peak memory)
# against the reference, tiktoken's r50k_base (npm tiktoken: Rust compiled to WASM, run by node;
# what the GPT-2 tests compare ids with), on the same text, and whether every id is the same.
#
#   bench/prepare_vs_js.sh [FOLDER...]      default: $KILN_CACHE/corpora/moby-dick
#   bench/mixed_corpus.sh /tmp/mixed && bench/prepare_vs_js.sh /tmp/mixed    the ~80 MB mixed corpus
#
# Every regular file under a folder (recursively, hidden names skipped, sorted by path as kiln
# sorts them) is one document for both sides. kiln: the whole command, wall clock, best of RUNS
# (process start, loading the tokenizer, reading, tokenizing on --threads, writing and fsyncing
# the HDF5 shard), and its peak resident memory (/usr/bin/time). tiktoken: one node process
# encoding each file whole, timed around the encode calls only (node start-up and loading its
# tables are excluded, which favours it). "ids" compares kiln's shard with tiktoken's ids for every
# document (tests/data/tiktoken_reference.js compare): "all equal", or the first difference.
# Token counts include one end-of-text token per document.
# Env: KILN (the binary; default $KILN_BUILD_DIR/bin/kiln or build/bin/kiln), THREADS (default
# "1 2"), RUNS (default 3), KILN_CACHE (default <repo>/.cache, filled by scripts/setup.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KILN_CACHE="${KILN_CACHE:-$root/.cache}"
kiln="${KILN:-${KILN_BUILD_DIR:-$root/build}/bin/kiln}"
threads_list="${THREADS:-1 2}"
runs="${RUNS:-3}"
ref="$KILN_CACHE/reference/tiktoken"
js="$root/tests/data/tiktoken_reference.js"
[ -x "$kiln" ] || { echo "prepare_vs_js: no kiln binary at $kiln (build it, or set KILN=...)" >&2; exit 2; }
[ -f "$ref/lite/tiktoken.cjs" ] || { echo "prepare_vs_js: no tiktoken in $ref (run scripts/setup.sh)" >&2; exit 2; }
command -v node >/dev/null || { echo "prepare_vs_js: node is not installed" >&2; exit 2; }
command -v h5dump >/dev/null || { echo "prepare_vs_js: h5dump is not installed (apt-get install hdf5-tools)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "prepare_vs_js: /usr/bin/time is not installed (apt-get install time)" >&2; exit 2; }
[ $# -gt 0 ] || set -- "$KILN_CACHE/corpora/moby-dick"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
calc() { awk "BEGIN { print $1 }"; }  # floating point without bc

echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1 /proc/loadavg); node $(node --version); best of $runs"
header="| corpus | input MB | docs | tokens |"
rule="|---|---:|---:|---:|"
for t in $threads_list; do
  header+=" kiln ${t}t s | ${t}t MB/s | ${t}t peak MB |"
  rule+="---:|---:|---:|"
done
echo "$header tiktoken s | tiktoken MB/s | ids |"
echo "$rule---:|---:|---|"
for dir in "$@"; do
  [ -d "$dir" ] || { echo "prepare_vs_js: $dir is not a folder" >&2; exit 2; }
  mapfile -t files < <(find "$dir" -type f -not -path '*/.*' | LC_ALL=C sort)
  [ ${#files[@]} -gt 0 ] || { echo "prepare_vs_js: no files in $dir" >&2; exit 2; }
  bytes=$(cat "${files[@]}" | wc -c)
  mb=$(calc "$bytes / 1000000")
  row=""
  for t in $threads_list; do
    best="" peak=0
    for ((run = 1; run <= runs; run++)); do
      rm -rf "$tmp/out"
      /usr/bin/time -o "$tmp/time" -f "%e %M" "$kiln" prepare --input "$dir" --out "$tmp/out" --tokenizer gpt2 \
        --threads "$t" --val-fraction 0 --shard-tokens 1000000000 --quiet >"$tmp/summary"
      read -r s kb <"$tmp/time"
      if [ -z "$best" ] || [ "$(calc "($s < $best) ? 1 : 0")" = 1 ]; then best=$s; fi
      [ "$kb" -gt "$peak" ] && peak=$kb
    done
    row+=" $(printf '%.2f | %.2f | %.0f' "$best" "$(calc "$mb / $best")" "$(calc "$peak / 1024")") |"
  done
  kiln_tokens=$(sed -n 's/.*train: [0-9]* docs, \([0-9]*\) tokens.*/\1/p' "$tmp/summary")
  shard="$tmp/out/train_000000.h5"
  h5dump -d /tokens -b LE -o "$tmp/tokens.bin" "$shard" >/dev/null
  h5dump -d /doc_offsets -b LE -o "$tmp/offsets.bin" "$shard" >/dev/null
  cmp_json=$(node "$js" "$ref" compare "$tmp/tokens.bin" "$tmp/offsets.bin" "${files[@]}")
  equal=$(echo "$cmp_json" | sed -n 's/.*"equal":\([0-9]*\).*/\1/p')
  if [ "$equal" = "${#files[@]}" ] && echo "$cmp_json" | grep -q '"first_difference":null'; then
    ids="all $equal docs equal"
  else
    ids="DIFFER: $cmp_json"
  fi
  bench_json=$(node "$js" "$ref" bench "${files[@]}")
  js_s=$(echo "$bench_json" | sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p')
  printf '| %s | %.2f | %d | %d |%s %.2f | %.2f | %s |\n' "$(basename "$dir")" "$mb" "${#files[@]}" "$kiln_tokens" \
    "$row" "$js_s" "$(calc "$mb / $js_s")" "$ids"
  case "$ids" in DIFFER*) exit 1 ;; esac
done
