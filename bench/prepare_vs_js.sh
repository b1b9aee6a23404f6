#!/usr/bin/env bash
# bench/prepare_vs_js.sh: `kiln prepare --tokenizer gpt2` against the reference JS encoder (npm
# gpt-3-encoder, what the GPT-2 tests compare ids with) on the same text, in the same run.
#
#   bench/prepare_vs_js.sh [FOLDER...]      default: $KILN_CACHE/corpora/moby-dick
#
# Each *.txt file in a folder is one document for both sides. kiln: the whole command, wall clock,
# best of 5 (process start, loading the tokenizer, reading, tokenizing on --threads, writing the
# HDF5 shards). Reference: one node process encoding each file whole, as a user of the package
# would, timed around the encode calls only (node start-up and loading its tables are excluded,
# which favours it). "sliced" is the reference again, fed each document in slices of ~2000
# characters cut where no GPT-2 piece can cross (same ids): that avoids its per-call quadratic
# Array.concat, so it is the reference at its fastest, and the ratio against it the conservative one.
# All token counts include one end-of-text token per document and must agree.
# Env: KILN (the binary; default $KILN_BUILD_DIR/bin/kiln or build/bin/kiln), THREADS (default 2),
# KILN_CACHE (default <repo>/.cache, filled by scripts/setup.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KILN_CACHE="${KILN_CACHE:-$root/.cache}"
kiln="${KILN:-${KILN_BUILD_DIR:-$root/build}/bin/kiln}"
threads="${THREADS:-2}"
ref="$KILN_CACHE/reference/gpt-3-encoder"
js="$root/tests/data/gpt2_reference.js"
[ -x "$kiln" ] || { echo "prepare_vs_js: no kiln binary at $kiln (build it, or set KILN=...)" >&2; exit 2; }
[ -f "$ref/Encoder.js" ] || { echo "prepare_vs_js: no reference encoder in $ref (run scripts/setup.sh)" >&2; exit 2; }
command -v node >/dev/null || { echo "prepare_vs_js: node is not installed" >&2; exit 2; }
[ $# -gt 0 ] || set -- "$KILN_CACHE/corpora/moby-dick"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }  # floating point without bc

echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1); node $(node --version); kiln --threads $threads"
printf '| %-10s | %8s | %5s | %9s | %7s | %9s | %8s | %7s | %7s | %9s | %11s | %7s |\n' \
  corpus "input MB" docs tokens "kiln s" "kiln MB/s" "JS s" "JS MB/s" ratio "sliced s" "sliced MB/s" ratio
printf '|%s|\n' "------------|----------|-------|-----------|---------|-----------|----------|---------|---------|-----------|-------------|---------"
for dir in "$@"; do
  mapfile -t files < <(find "$dir" -maxdepth 1 -type f -name '*.txt' | LC_ALL=C sort)
  [ ${#files[@]} -gt 0 ] || { echo "prepare_vs_js: no *.txt files in $dir" >&2; exit 2; }
  bytes=$(cat "${files[@]}" | wc -c)

  best=""
  for run in 1 2 3 4 5; do
    rm -rf "$tmp/out"
    t0=$(now)
    summary=$("$kiln" prepare --input "${files[@]}" --out "$tmp/out" --tokenizer gpt2 --threads "$threads" \
              --val-fraction 0 --shard-tokens 100000000 --quiet)
    t1=$(now)
    s=$(calc "$t1 - $t0")
    if [ -z "$best" ] || [ "$(calc "($s < $best) ? 1 : 0")" = 1 ]; then best=$s; fi
  done
  kiln_tokens=$(echo "$summary" | sed -n 's/.*train: [0-9]* docs, \([0-9]*\) tokens.*/\1/p')

  declare -A js_s
  for mode in bench bench-sliced; do
    js_json=$(node "$js" "$ref" "$mode" "${files[@]}")
    js_s[$mode]=$(echo "$js_json" | sed -n 's/.*"seconds":\([0-9.e+-]*\).*/\1/p')
    js_tokens=$(echo "$js_json" | sed -n 's/.*"tokens":\([0-9]*\).*/\1/p')
    if [ "$js_tokens" != "$kiln_tokens" ]; then
      echo "prepare_vs_js: token counts differ on $dir ($mode): kiln $kiln_tokens, reference $js_tokens" >&2
      exit 1
    fi
  done
  mb=$(calc "$bytes / 1000000")
  whole=${js_s[bench]} sliced=${js_s[bench-sliced]}
  printf '| %-10s | %8.2f | %5d | %9d | %7.3f | %9.2f | %8.1f | %7.4f | %6.0fx | %9.2f | %11.3f | %6.0fx |\n' \
    "$(basename "$dir")" "$mb" "${#files[@]}" "$kiln_tokens" "$best" "$(calc "$mb / $best")" \
    "$whole" "$(calc "$mb / $whole")" "$(calc "$whole / $best")" \
    "$sliced" "$(calc "$mb / $sliced")" "$(calc "$sliced / $best")"
done
