#!/usr/bin/env python3
"""scripts/check_layering.py: fails when a source folder includes a folder it must not depend on.

The allowed dependencies are docs/LAYOUT.md's, one line per folder below (a folder may always
include itself). Run by ctest (test `layering`) on every build, so a new include of the run loop
from inference/ or formats/, or of trainer/ from anywhere but tools/, fails CI with the file and
line. Usage: check_layering.py REPO_ROOT
"""
import pathlib
import re
import sys

ALLOWED = {
    "kernels": set(),
    "configs": {"kernels"},
    "data": {"kernels", "configs"},
    "parallel": {"kernels", "configs"},
    "checkpoint": {"parallel", "kernels", "data", "configs"},
    "launch": {"parallel", "kernels", "configs"},
    "model": {"checkpoint", "parallel", "kernels", "configs"},
    "inference": {"model", "checkpoint", "data", "parallel", "kernels", "configs"},
    "formats": {"inference", "model", "checkpoint", "data", "parallel", "kernels", "configs"},
    "trainer": {"formats", "model", "checkpoint", "data", "parallel", "launch", "kernels", "configs"},
    "plot": {"kernels"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
SOURCES = {".h", ".cpp", ".cu", ".cuh"}


def violations(root: pathlib.Path):
    for folder, allowed in ALLOWED.items():
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in SOURCES:
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if m and m.group(1) in ALLOWED and m.group(1) != folder and m.group(1) not in allowed:
                    yield f"{path.relative_to(root)}:{n}: {folder}/ must not include {m.group(1)}/ ({line.strip()})"


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    bad = list(violations(root))
    for v in bad:
        print(v)
    print(f"layering: {len(bad)} forbidden include(s) in {len(ALLOWED)} folders")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
