#!/usr/bin/env bash
# tests/kernels/simd_objects_export_only_tables.sh LIBRARY
# Guards the trap of per-level files (kernels/cpu/simd/vec.h): code compiled with -mavx2 or
# -mavx512f must never be reachable from outside its level's table. An inline function shared with
# other files (a weak symbol) could be the copy the linker keeps for every caller and crash a CPU
# without that instruction set. So the per-level objects may define, as global symbols, only their
# table (kernels::cpu::simd::<level>::kKernels) and the C++ runtime's personality reference.
set -euo pipefail
lib="$1"
bad=$(nm -A --defined-only "$lib" | grep -E 'isa_(baseline|avx2|avx512)\.cpp\.o:' |
      awk '$2 !~ /^[trbdn]$/ && $3 != "DW.ref.__gxx_personality_v0" && $3 !~ /^_ZN7kernels3cpu4simd[0-9]+[a-z0-9]+8kKernelsE$/')
found=$(nm -A --defined-only "$lib" | grep -cE 'isa_(baseline|avx2|avx512)\.cpp\.o:.* D _ZN7kernels3cpu4simd[0-9]+[a-z0-9]+8kKernelsE' || true)
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
