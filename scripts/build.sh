#!/usr/bin/env bash
# scripts/build.sh [TARGET...]: configure and build kiln into build/ (Release); all targets when
# none is named. CUDA code is compiled whenever nvcc exists (set KILN_CMAKE_ARGS for extra flags,
# e.g. KILN_CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_BUILD_DIR:-$root/build}"
cuda_flags=()
if [ -x /usr/local/cuda/bin/nvcc ]; then
  cuda_flags=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCUDAToolkit_ROOT=/usr/local/cuda)
fi
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cuda_flags[@]}" ${KILN_CMAKE_ARGS:-} >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j "$(nproc)" "${targets[@]}"
