#!/usr/bin/env bash
# scripts/build.sh: configure and build kiln into build/ (Release). CUDA is compiled when nvcc exists.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_BUILD_DIR:-$root/build}"
cuda_flags=()
if [ -x /usr/local/cuda/bin/nvcc ]; then
  cuda_flags=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCUDAToolkit_ROOT=/usr/local/cuda)
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_flags[@]}" "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
