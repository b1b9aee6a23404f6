#!/usr/bin/env bash
# scripts/demo.sh: kiln's main job on its embedded default. Sets up, builds, prepares the default
# corpus (Moby-Dick, byte tokenizer) and trains the small default model on the CPU (or the GPU when
# one is usable), then prints where the run folder and its curves are. An optional first argument
# names another config (configs/llama-tiny-cpu.yaml: the same demo as a Llama; the run folder is
# runs/<file name>); the other arguments are config overrides, e.g. `scripts/demo.sh train.max_steps=50`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KILN_CACHE="${KILN_CACHE:-$root/.cache}"
cache="$KILN_CACHE"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" kiln
kiln="${KILN_BUILD_DIR:-$root/build}/bin/kiln"
data="$cache/data/moby-dick-byte"
# Prepared once; again when the shards are from an older kiln that this one refuses (kiln inspect
# exits 2 naming the fix), so an old cache never stops the demo.
if [ ! -f "$data/train_000000.h5" ] || ! "$kiln" inspect "$data/train_000000.h5" >/dev/null 2>&1; then
  rm -rf "$data"
  "$kiln" prepare --input "$cache/corpora/moby-dick" --out "$data" --tokenizer byte --val-fraction 0.05 --seed 1337
fi
cd "$root"
config=configs/tiny-cpu.yaml
case "${1:-}" in *.yaml) config="$1"; shift;; esac
"$kiln" train "$config" "data.train=$data/train_*.h5" "data.val=$data/val_*.h5" "$@"
# What the run made: its curves as a picture, and a sample from the final checkpoint.
run_dir="runs/$(basename "$config" .yaml)"
for a in "$@"; do case "$a" in run.name=*) run_dir="runs/${a#run.name=}";; esac; done
"$kiln" plot "$run_dir" --out "$run_dir/curves.png"
echo "--- a sample (kiln sample --checkpoint $run_dir --prompt 'Call me Ishmael.' --temperature 0.8 --top-k 40):"
"$kiln" sample --checkpoint "$run_dir" --prompt "Call me Ishmael." --max-new-tokens 300 --temperature 0.8 --top-k 40 2>/dev/null
echo
