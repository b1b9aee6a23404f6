#!/usr/bin/env bash
# scripts/test.sh: the whole test suite. Sets up, builds, runs ctest (GPU tests skip without a GPU).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KILN_CACHE="${KILN_CACHE:-$root/.cache}"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
# mpirun as root on a 2-core box (CI): allow root and more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 GTEST_COLOR=no
ctest --test-dir "${KILN_BUILD_DIR:-$root/build}" --output-on-failure -j 2 "$@"
