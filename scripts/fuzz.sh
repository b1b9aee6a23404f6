#!/usr/bin/env bash
# scripts/fuzz.sh [--smoke] [SECONDS] [TARGET...]: build kiln's libFuzzer targets with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer into build-sanitize/ (scripts/sanitize/configure.sh),
# and fuzz each TARGET (default:
# all of config shard manifest safetensors tokenizer) for SECONDS (default 300) starting from the
# stored seed corpus tests/fuzz/corpus/<target>. --smoke: 10 s each (what CI runs).
# Findings (crash-*, leak-*, timeout-*, oom-*) land in build-sanitize/findings/<target>/; once fixed,
# copy the input into tests/fuzz/regressions/<target>/ so every test run replays it. Prints one
# line per target: executions, seconds, findings. Exit 1 when anything was found.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_SANITIZE_BUILD_DIR:-$root/build-sanitize}"  # shared with scripts/test.sh --sanitize
seconds=300
# --smoke fixes libFuzzer's seed, so CI mutates the stored corpus the same way on every run (a
# finding there is reproducible, not luck); longer runs draw a fresh seed each time.
seed=()
targets=()
for a in "$@"; do
  case "$a" in
    --smoke) seconds=10 seed=(-seed=1) ;;
    ''|*[!0-9]*) targets+=("$a") ;;
    *) seconds="$a" ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(config shard manifest safetensors tokenizer)

"$root/scripts/setup.sh"
"$root/scripts/sanitize/configure.sh" "$build"
cmake --build "$build" -j "$(nproc)" $(for t in "${targets[@]}"; do echo --target "fuzz_$t"; done)

# Leaks inside the system libraries (not built with ASan) are listed in the suppressions file.
source "$build/sanitizer_env.sh"
export TMPDIR="$build/tmp"
mkdir -p "$TMPDIR"
status=0
for t in "${targets[@]}"; do
  work="$build/corpus/$t" findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  log="$build/fuzz_$t.log"
  # The seed corpus is read, not written: new inputs go to the work folder.
  "$build/tests/fuzz/fuzz_$t" "$work" "$root/tests/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 "${seed[@]}" \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1 || true
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  found=$(find "$findings" -type f | wc -l)
  printf 'fuzz_%-12s %10s executions in %4s s, %s findings, corpus %s inputs\n' "$t" "${runs:-0}" "$seconds" "$found" \
    "$(find "$work" -type f | wc -l)"
  if [ "$found" -gt 0 ]; then
    status=1
    echo "  findings in $findings (log: $log):"
    grep -m 3 -E "ERROR|runtime error|==[0-9]+==" "$log" | sed 's/^/    /' || true
  fi
done
exit $status
