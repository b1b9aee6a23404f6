#!/usr/bin/env bash
# scripts/test.sh [--sanitize] [CTEST ARGS...]: the whole test suite. Sets up, builds, runs ctest
# (GPU tests skip without a GPU).
#  --sanitize: builds into build-sanitize/ with AddressSanitizer + UndefinedBehaviorSanitizer (gcc,
#  no CUDA) and runs the CPU suite (ctest -L cpu) there; any report fails the test that caused it.
#  Leaks inside third-party libraries are listed in scripts/sanitize/lsan.supp.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KILN_CACHE="${KILN_CACHE:-$root/.cache}"
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  shift
fi
"$root/scripts/setup.sh"
# mpirun as root on a 2-core box (CI): allow root and more ranks than cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 GTEST_COLOR=no
if [ "$sanitize" = 1 ]; then
  san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  export KILN_BUILD_DIR="${KILN_SANITIZE_BUILD_DIR:-$root/build-sanitize}"
  # CMake takes CXXFLAGS/CFLAGS/LDFLAGS when it first configures the folder.
  export CXXFLAGS="$san" CFLAGS="$san" LDFLAGS="$san"
  export KILN_CMAKE_ARGS="${KILN_CMAKE_ARGS:-} -DKILN_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
  export LSAN_OPTIONS="suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="suppressions=$root/scripts/sanitize/ubsan.supp:print_stacktrace=1:halt_on_error=1"
  "$root/scripts/build.sh"
  ctest --test-dir "$KILN_BUILD_DIR" --output-on-failure -j 2 -L cpu "$@"
  exit
fi
"$root/scripts/build.sh"
ctest --test-dir "${KILN_BUILD_DIR:-$root/build}" --output-on-failure -j 2 "$@"
