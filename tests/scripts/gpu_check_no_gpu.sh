#!/usr/bin/env bash
# tests/scripts/gpu_check_no_gpu.sh SOURCE_DIR TMP_DIR: scripts/gpu_check.sh on a machine without a
# GPU (forced with GPU_CHECK_ASSUME_GPU=0, so a GPU machine runs the same test in seconds): it must
# exit 0, write report.md and its logs, PASS preflight and roofline, and report every GPU step as
# SKIP (no GPU), the overlap step with "not measured: no tool".
set -uo pipefail
src="$1"
out="$2/gpu_check_no_gpu"
rm -rf "$out"
fail() { echo "FAIL: $*"; [ -f "$out/report.md" ] && cat "$out/report.md"; exit 1; }
GPU_CHECK_ASSUME_GPU=0 GPU_CHECK_PACK_LOGS=0 "$src/scripts/gpu_check.sh" "$out" || fail "exit status $?, want 0"
report="$out/report.md"
[ -f "$report" ] || fail "no report.md"
for s in preflight roofline; do
  grep -q "^| $s | \*\*PASS\*\* |" "$report" || fail "$s is not PASS"
done
gpu_steps=(build cli-on-gpu cuda-tests train-20 nccl-2ranks tp-dp-equivalence bench moby-dick-200 plot allreduce-overlap)
for s in "${gpu_steps[@]}"; do
  grep -q "^| $s | \*\*SKIP\*\* | 0 | [0-9]* | no GPU" "$report" || fail "$s is not 'SKIP (no GPU)'"
done
grep -q "not measured: no tool" "$report" || fail "the overlap step does not say 'not measured: no tool'"
[ "$(grep -c '^| [a-z0-9-]* | \*\*' "$report")" = 12 ] || fail "want 12 step rows"
[ "$(ls "$out"/logs/*.log | wc -l)" = 12 ] || fail "want 12 logs"
grep -q "B: flash attention" "$report" || fail "no roofline summary in the report"
echo "gpu_check without a GPU: exit 0, 2 PASS, ${#gpu_steps[@]} SKIP (no GPU), report.md and 12 logs"
