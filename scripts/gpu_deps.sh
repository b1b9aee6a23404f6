#!/usr/bin/env bash
# scripts/gpu_deps.sh DEB_DIR: source this on a lent GPU machine that cannot reach a package
# mirror, before scripts/gpu_check.sh. For each library kiln builds against that the machine lacks,
# it unpacks the Debian packages carried in DEB_DIR into /tmp/kiln-sysroot (never into /) and
# exports what CMake, the linker and the loader need to find them there. cairo is not carried
# (its dependency tree is large): without it kiln is configured with -DKILN_WITH_PLOT=OFF.
#
#   here:   mkdir -p .devdeps && (cd .devdeps && apt-get download libopenblas0-pthread \
#             libopenblas-pthread-dev libgfortran5 libquadmath0 libcli11-dev nlohmann-json3-dev \
#             libyaml-dev libyaml-0-2)          # and `echo /.devdeps/ >> .git/info/exclude`
#   there:  source scripts/gpu_deps.sh .devdeps && scripts/gpu_check.sh   (carry: .devdeps)
#
# KILN_DEPS_FORCE=1 takes every carried library from the sysroot even where the machine has its
# own (to test this script on a machine that has them all). Prints one line per library.
deb_dir="${1:?usage: source scripts/gpu_deps.sh DEB_DIR}"
sysroot=/tmp/kiln-sysroot
arch_lib=usr/lib/x86_64-linux-gnu
force="${KILN_DEPS_FORCE:-0}"

kiln_deps_unpack() {  # kiln_deps_unpack PACKAGE...: dpkg -x each carried .deb named PACKAGE_*.deb
  local p f
  for p in "$@"; do
    f="$(ls "$deb_dir/${p}"_*.deb 2>/dev/null | head -1)"
    if [ -z "$f" ]; then
      echo "gpu_deps: $p is missing from $deb_dir (see scripts/gpu_deps.sh's header)" >&2
      return 1
    fi
    dpkg -x "$f" "$sysroot"
  done
}

kiln_deps_have_lib() {  # kiln_deps_have_lib NAME: libNAME.so in the system's library folders
  ldconfig -p 2>/dev/null | grep -q "lib$1\.so " || ls /usr/lib/x86_64-linux-gnu/lib"$1".so /usr/lib/x86_64-linux-gnu/*/lib"$1".so \
    /usr/lib/lib"$1".so /usr/local/lib/lib"$1".so 2>/dev/null | grep -q .
}

mkdir -p "$sysroot"
used=0
ld_extra=""
if [ "$force" = 1 ] || [ ! -f /usr/include/CLI/CLI.hpp ]; then
  kiln_deps_unpack libcli11-dev && used=1 && echo "gpu_deps: CLI11 from $deb_dir"
else echo "gpu_deps: CLI11 from the system"; fi
if [ "$force" = 1 ] || [ ! -f /usr/include/nlohmann/json.hpp ]; then
  kiln_deps_unpack nlohmann-json3-dev && used=1 && echo "gpu_deps: nlohmann-json from $deb_dir"
else echo "gpu_deps: nlohmann-json from the system"; fi
if [ "$force" = 1 ] || [ ! -f /usr/include/yaml.h ] || ! kiln_deps_have_lib yaml; then
  kiln_deps_unpack libyaml-dev libyaml-0-2 && used=1 && ld_extra+=":$sysroot/$arch_lib" && echo "gpu_deps: libyaml from $deb_dir"
else echo "gpu_deps: libyaml from the system"; fi
cblas_found=0
for d in /usr/include /usr/include/openblas /usr/include/x86_64-linux-gnu/openblas-pthread; do
  [ -f "$d/cblas.h" ] && cblas_found=1
done
if [ "$force" = 1 ] || [ "$cblas_found" = 0 ] || ! kiln_deps_have_lib openblas; then
  if kiln_deps_unpack libopenblas0-pthread libopenblas-pthread-dev; then
    # Debian points libopenblas.so at this folder through update-alternatives, which dpkg -x skips.
    ln -sf openblas-pthread/libopenblas.so.0 "$sysroot/$arch_lib/libopenblas.so"
    ld_extra+=":$sysroot/$arch_lib/openblas-pthread"
    if [ "$force" = 1 ] || ! ldconfig -p 2>/dev/null | grep -q 'libgfortran\.so\.5 '; then
      # Only where the machine has no libgfortran.so.5: an older copy must not shadow a newer one.
      kiln_deps_unpack libgfortran5 libquadmath0 && mkdir -p "$sysroot/gfortran" &&
        cp -a "$sysroot/$arch_lib"/libgfortran.so.5* "$sysroot/$arch_lib"/libquadmath.so.0* "$sysroot/gfortran/" &&
        ld_extra+=":$sysroot/gfortran"
    fi
    used=1
    echo "gpu_deps: OpenBLAS from $deb_dir"
  fi
else echo "gpu_deps: OpenBLAS from the system"; fi
# The shared libraries of the sysroot's own lib folder stay off the loader path unless a library
# above needs it, so nothing there shadows the machine's own copies by accident.
rm -f "$sysroot/$arch_lib"/libgfortran.so* "$sysroot/$arch_lib"/libquadmath.so*

if [ "$used" = 1 ]; then
  export CMAKE_PREFIX_PATH="$sysroot/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  ld_extra="${ld_extra#:}"
  export LD_LIBRARY_PATH="$ld_extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if ! pkg-config --exists cairo 2>/dev/null; then
  export KILN_CMAKE_ARGS="${KILN_CMAKE_ARGS:-} -DKILN_WITH_PLOT=OFF"
  echo "gpu_deps: cairo not found: kiln plot is built without it (KILN_WITH_PLOT=OFF)"
fi
for h in hdf5.h yaml-cpp/yaml.h gtest/gtest.h mpi.h; do
  ls /usr/include/"$h" /usr/include/*/"$h" /usr/include/*/*/"$h" /usr/lib/x86_64-linux-gnu/openmpi/include/"$h" \
    2>/dev/null | grep -q . || echo "gpu_deps: $h not found on this machine (not carried): the build will fail" >&2
done
echo "gpu_deps: CMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-} KILN_CMAKE_ARGS=${KILN_CMAKE_ARGS:-}"
