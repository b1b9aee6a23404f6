#!/usr/bin/env bash
# bench/cpu_vs_torch.sh: kiln's fp32 CPU training step against PyTorch's, same model, same machine.
#
#   bench/cpu_vs_torch.sh [--rounds R] [--steps S] [--shapes demo,gpt2-124m] [--threads 1,2]
#                         [--torch-blas same|one]
#
# Shapes (bench/cpu_step_bench.cpp and bench/torch_gpt2_step.py build the same GPT-2):
#   demo       configs/tiny-cpu.yaml's model: 4 layers, 4 heads, 128 wide, byte vocab, B16 T128
#   gpt2-124m  12 layers, 12 heads, 768 wide, vocab 50304, B4 T256
# Each measurement is one process running warm-up steps and then S timed steps (zero grads,
# forward, backward, gradient clip, AdamW); its median step is the run's number. kiln and PyTorch
# runs alternate (kiln, torch, kiln, torch, ...) R times per (shape, threads), so a change in the
# machine's load hits both; the table shows the median over rounds of the wall-clock and of the
# process CPU time per step ("cpu": all threads; time-slicing by other processes does not inflate
# it, so on a shared machine it is the robust number at one thread, while at two threads it also
# counts barrier waits), and the load average is printed before and after. The OpenMP environment
# (e.g. OMP_WAIT_POLICY, docs/CPU.md) is passed to both sides unchanged.
# Threads: kiln gets OMP_NUM_THREADS=N (its one pool, BLAS inside it); PyTorch gets
# torch.set_num_threads(N) and, by default (--torch-blas same), OPENBLAS_NUM_THREADS=N for the
# OpenBLAS its matrix products call, as a user would run it; --torch-blas one keeps PyTorch's BLAS
# single-threaded instead (its other pool still has N threads). Each process is pinned to cores
# 0..N-1 (taskset) so 1-thread runs do not migrate.
# Installs Debian's python3-torch (PyTorch 1.13, CPU) with apt when it is missing; CI never runs this.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=3 steps=5 shapes="demo,gpt2-124m" threads="1,2" torch_blas=same
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2;;
    --steps) steps="$2"; shift 2;;
    --shapes) shapes="$2"; shift 2;;
    --threads) threads="$2"; shift 2;;
    --torch-blas) torch_blas="$2"; shift 2;;
    -h|--help) sed -n '2,23p' "$0"; exit 0;;
    *) echo "cpu_vs_torch.sh: unknown argument $1 (see --help)" >&2; exit 2;;
  esac
done
case "$torch_blas" in
  same|one) ;;
  *) echo "cpu_vs_torch.sh: --torch-blas is same or one, got $torch_blas" >&2; exit 2;;
esac

python=/usr/bin/python3  # Debian's interpreter: python3-torch installs into its dist-packages
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "cpu_vs_torch.sh: installing python3-torch (Debian's PyTorch, CPU only)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi
"$root/scripts/build.sh" kiln_bench_cpu >/dev/null
kiln_bench="${KILN_BUILD_DIR:-$root/build}/bin/kiln_bench_cpu"
torch_step="$root/bench/torch_gpt2_step.py"

median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
# "wall cpu": the median wall-clock and process-CPU ms/step of one run (the last line of either
# program: "ms/step median M mean A min m cpu-median c").
run_ms() { "$@" 2>&1 | awk '/^ms\/step median/ {print $3, $9}'; }

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "cpu_vs_torch: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load average $(load)"
echo "cpu_vs_torch: $rounds rounds x $steps timed steps per run, kiln and PyTorch alternating;" \
     "PyTorch's BLAS threads: $torch_blas"
rows=()
IFS=, read -r -a shape_list <<<"$shapes"
IFS=, read -r -a thread_list <<<"$threads"
for shape in "${shape_list[@]}"; do
  warmup=2
  [ "$shape" = gpt2-124m ] && warmup=1
  for n in "${thread_list[@]}"; do
    cores="0-$((n - 1))"
    blas_threads=$n
    [ "$torch_blas" = one ] && blas_threads=1
    kiln_wall=() kiln_cpu=() torch_wall=() torch_cpu=()
    for ((r = 1; r <= rounds; r++)); do
      read -r kw kc < <(OMP_NUM_THREADS=$n run_ms taskset -c "$cores" "$kiln_bench" --shape "$shape" \
                          --warmup "$warmup" --steps "$steps")
      read -r tw tc < <(OMP_NUM_THREADS=$n OPENBLAS_NUM_THREADS=$blas_threads run_ms taskset -c "$cores" "$python" \
                          "$torch_step" --shape "$shape" --threads "$n" --warmup "$warmup" --steps "$steps")
      echo "  $shape, $n thread(s), round $r: kiln ${kw} ms/step (cpu ${kc}), PyTorch ${tw} ms/step (cpu ${tc})"
      kiln_wall+=("$kw") kiln_cpu+=("$kc") torch_wall+=("$tw") torch_cpu+=("$tc")
    done
    kw=$(printf '%s\n' "${kiln_wall[@]}" | median) kc=$(printf '%s\n' "${kiln_cpu[@]}" | median)
    tw=$(printf '%s\n' "${torch_wall[@]}" | median) tc=$(printf '%s\n' "${torch_cpu[@]}" | median)
    rows+=("$(awk -v s="$shape" -v n="$n" -v kw="$kw" -v tw="$tw" -v kc="$kc" -v tc="$tc" 'BEGIN {
      printf "| %-9s | %7d | %12.1f | %15.1f | %13.2fx | %8.1f | %11.1f | %9.2fx |",
             s, n, kw, tw, tw / kw, kc, tc, tc / kc}')")
  done
done
echo "cpu_vs_torch: load average after $(load)"
echo
header="| shape     | threads | kiln ms/step | PyTorch ms/step | PyTorch / kiln |"
header+=" kiln cpu | PyTorch cpu | cpu ratio |"
echo "$header"
echo "$header" | sed 's/[^|]/-/g'
printf '%s\n' "${rows[@]}"
