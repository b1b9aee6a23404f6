#!/usr/bin/env bash
# launch/mpirun_local.sh NPROC CONFIG [section.key=value ...]
# Runs `kiln train CONFIG [overrides]` as NPROC ranks on this machine with Open MPI's mpirun.
# Every rank finds its place from OMPI_COMM_WORLD_* (launch/world.h); with GPUs, rank r drives
# GPU (local rank % GPU count), so use NPROC = number of GPUs for real runs. dp x tp comes from
# the config: dp = NPROC / parallel.tp (docs/PARALLEL.md).
#
# Flags, and why:
#   --bind-to none        mpirun binds each rank to one core by default; a rank runs OpenMP
#                         threads and a data-loader thread, which a one-core binding would serialize
#   --allow-run-as-root   only when run as root (containers, CI): Open MPI refuses root otherwise
#   --oversubscribe       only when NPROC > cores: Open MPI counts one slot per core and refuses
#                         more ranks than slots (fine for tests and CPU demos, slow for training)
#   -x VAR                forwards the variables kiln and NCCL read to every rank
# OMP_NUM_THREADS defaults to cores / NPROC (at least 1) so the ranks do not fight over cores.
#
# Environment: KILN_BIN (default: <repo>/build/bin/kiln, or $KILN_BUILD_DIR/bin/kiln),
# MPIRUN (default: mpirun), MPIRUN_ARGS (extra mpirun flags, e.g. "--hostfile hosts").
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 NPROC CONFIG [section.key=value ...]" >&2
  echo "  e.g. $0 4 configs/tiny-cpu.yaml parallel.tp=2 train.max_steps=50" >&2
  exit 2
fi
nproc_arg="$1"
config="$2"
shift 2
if ! [[ "$nproc_arg" =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: NPROC must be a positive integer, got '$nproc_arg'" >&2
  exit 2
fi
if [ ! -f "$config" ]; then
  echo "$0: config file '$config' not found" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kiln="${KILN_BIN:-${KILN_BUILD_DIR:-$root/build}/bin/kiln}"
if [ ! -x "$kiln" ]; then
  echo "$0: kiln binary '$kiln' not found (build it with scripts/build.sh kiln, or set KILN_BIN)" >&2
  exit 2
fi
mpirun_bin="${MPIRUN:-mpirun}"

cores="$(nproc)"
flags=(-np "$nproc_arg" --bind-to none)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
[ "$nproc_arg" -gt "$cores" ] && flags+=(--oversubscribe)

if [ -z "${OMP_NUM_THREADS:-}" ]; then
  threads=$(( cores / nproc_arg ))
  [ "$threads" -lt 1 ] && threads=1
  export OMP_NUM_THREADS="$threads"
fi
# Forward what kiln and NCCL read; a variable that is unset here is simply not forwarded.
flags+=(-x OMP_NUM_THREADS)
for v in KILN_CACHE KILN_COMM_BACKEND KILN_CUDA_SYNC_CHECK CUDA_VISIBLE_DEVICES \
         NCCL_DEBUG NCCL_DEBUG_SUBSYS NCCL_SOCKET_IFNAME NCCL_IB_HCA NCCL_P2P_DISABLE; do
  [ -n "${!v:-}" ] && flags+=(-x "$v")
done

# shellcheck disable=SC2086  # MPIRUN_ARGS is a list of flags on purpose
set -x
exec "$mpirun_bin" "${flags[@]}" ${MPIRUN_ARGS:-} "$kiln" train "$config" "$@"
