#!/usr/bin/env bash
# scripts/sanitize/configure.sh BUILD_DIR: installs clang 19 (with libFuzzer and the sanitizer
# runtimes) and LLVM's OpenMP from Debian when missing, then configures BUILD_DIR with clang,
# AddressSanitizer + UndefinedBehaviorSanitizer on every object, libFuzzer coverage on every object
# (-fsanitize=fuzzer-no-link) and the fuzz binaries on (-DKILN_FUZZ=ON), CUDA off. One build serves
# `scripts/test.sh --sanitize` (the CPU suite) and `scripts/fuzz.sh` (the fuzz targets).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$1"
need=()
# clang 19: Debian's default clang 14 cannot capture structured bindings in lambdas (C++20), which
# kiln's kernels do; bookworm ships clang-19 beside it.
for p in clang-19 libclang-rt-19-dev libomp-19-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "sanitize: installing ${need[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# -O1 -gline-tables-only: the usual sanitizer build (file:line in reports, a fraction of full
# debug info's compile time), so the CI run that rebuilds the tree with clang stays short.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DKILN_WITH_CUDA=OFF -DKILN_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="$san -fsanitize=fuzzer-no-link" -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" >/dev/null
# Every sanitizer report fails the process; leaks inside system libraries are suppressed by name.
# allocator_may_return_null: a huge malloc returns NULL as glibc's does, instead of an ASan report:
# libhdf5 asks for petabytes when a crafted object header says so, gets NULL in production and
# fails cleanly (kiln then exits 2 naming the file; tests/fuzz/regressions/shard).
symbolizer=$(command -v llvm-symbolizer-19 || command -v llvm-symbolizer || true)
echo "export ASAN_SYMBOLIZER_PATH='$symbolizer' \
ASAN_OPTIONS='suppressions=$root/scripts/sanitize/asan.supp:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:allocator_may_return_null=1' \
LSAN_OPTIONS='suppressions=$root/scripts/sanitize/lsan.supp:print_suppressions=0' \
UBSAN_OPTIONS='suppressions=$root/scripts/sanitize/ubsan.supp:print_stacktrace=1:halt_on_error=1'" > "$build/sanitizer_env.sh"
