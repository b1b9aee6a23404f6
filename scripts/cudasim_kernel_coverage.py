#!/usr/bin/env python3
"""Checks that the simulator test suite ran every __global__ kernel of kernels/cuda.

usage: scripts/cudasim_kernel_coverage.py TRACE [--markdown]

TRACE is the launch trace the simulator writes (KILN_CUDASIM_TRACE=FILE, one line per launch:
"name<template args> grid=(x,y,z) block=(x,y,z) shared=N test=Suite.Test"), as ctest's
test_kernels_cudasim produces it. Prints one line per kernel with the tests that launched it (or a
markdown table with --markdown) and exits 1 naming every kernel no test ran.
The kernel list comes from the sources: every function declared __global__ in kernels/cuda.
"""
import collections
import pathlib
import re
import sys


def kernels_in_sources(root):
    names = set()
    for path in sorted((root / "kernels" / "cuda").glob("*.cu*")):
        text = path.read_text()
        for m in re.finditer(r"__global__", text):
            rest = text[m.end():]
            rest = re.sub(r"^\s*void\s*", "", rest)
            # Skip __launch_bounds__(...) (its argument may hold parentheses itself).
            if rest.startswith("__launch_bounds__"):
                depth, i = 0, len("__launch_bounds__")
                while i < len(rest):
                    depth += {"(": 1, ")": -1}.get(rest[i], 0)
                    i += 1
                    if depth == 0:
                        break
                rest = rest[i:]
            name = re.match(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*\(", rest)
            if name is None:
                sys.exit(f"{path}: cannot read the kernel name after __global__: {rest[:60]!r}")
            names.add(name.group(1))
    return names


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    trace = pathlib.Path(sys.argv[1])
    markdown = "--markdown" in sys.argv[2:]
    root = pathlib.Path(__file__).resolve().parent.parent
    wanted = kernels_in_sources(root)
    if not trace.exists():
        sys.exit(f"{trace}: no launch trace (run test_kernels_cudasim with KILN_CUDASIM_TRACE={trace} first)")
    tests = collections.defaultdict(set)
    launches = collections.Counter()
    for line in trace.read_text().splitlines():
        name = line.split("<", 1)[0].split(" ", 1)[0]
        launches[name] += 1
        m = re.search(r" test=(\S+)", line)
        tests[name].add(m.group(1) if m else "(no test name)")
    if markdown:
        print("| kernel | launches | tests |\n|---|---|---|")
    for k in sorted(wanted):
        ran = ", ".join(sorted(tests.get(k, []))) or "NONE"
        print(f"| `{k}` | {launches[k]} | {ran} |" if markdown else f"{k:34s} {launches[k]:6d} launches  {ran}")
    missing = sorted(wanted - set(tests))
    print(f"{len(wanted) - len(missing)} of {len(wanted)} __global__ kernels in kernels/cuda ran in the simulator suite")
    if missing:
        print("never launched: " + ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
