#!/usr/bin/env bash
# tests/kernels/simd_objects_export_only_tables.sh OBJECT...
# (ctest passes kiln_kernels' object files: the library is shared, so its per-file symbols are read
# from the objects before linking.)
# Guards the trap of per-level files (kernels/cpu/simd/vec.h): code compiled with -mavx2 or
# -mavx512f must never be reachable from outside its level's table. An inline function shared with
# other files (a weak symbol) could be the copy the linker keeps for every caller and crash a CPU
# without that instruction set. So the per-level objects may define, as global symbols, only their
# table (kernels::cpu::simd::<level>::kKernels) and the C++ runtime's personality reference (and,
# in the AddressSanitizer build, ASan's own bookkeeping data for that table).
set -euo pipefail
objs=()
args=()
for a in "$@"; do IFS=';' read -ra parts <<<"$a"; args+=("${parts[@]}"); done  # ctest may pass the list as one
for o in "${args[@]}"; do case "$o" in *isa_baseline.cpp.o | *isa_avx2.cpp.o | *isa_avx512.cpp.o) objs+=("$o") ;; esac; done
lib="kiln_kernels' objects"
[ "${#objs[@]}" -eq 3 ] || { echo "expected the three per-level objects among the arguments, got ${#objs[@]}" >&2; exit 1; }
bad=$(nm -A --defined-only "${objs[@]}" | grep -E 'isa_(baseline|avx2|avx512)\.cpp\.o:' |
      awk '$2 !~ /^[trbdn]$/ && $3 != "DW.ref.__gxx_personality_v0" && $3 != "___asan_globals_registered" && $3 !~ /^__odr_asan_gen_/ && $3 !~ /^_ZN7kernels3cpu4simd[0-9]+[a-z0-9]+8kKernelsE$/')
found=$(nm -A --defined-only "${objs[@]}" | grep -cE 'isa_(baseline|avx2|avx512)\.cpp\.o:.* D _ZN7kernels3cpu4simd[0-9]+[a-z0-9]+8kKernelsE' || true)
if [ "$found" -ne 3 ]; then
  echo "expected the three level tables in $lib, found $found" >&2
  exit 1
fi
if [ -n "$bad" ]; then
  echo "per-level SIMD objects export symbols other than their tables:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "per-level SIMD objects export only their tables"
