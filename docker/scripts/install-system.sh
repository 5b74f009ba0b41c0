#!/bin/sh
# System packages of the images: install-system.sh apt|dnf|yum system|test
#   system: what every build needs (C/C++ compilers, make, git, patch, unzip, ...)
#   test:   what the test suites use beyond a build (ps, pkill for the interrupt tests)
# INFERCORE_IMAGE_BINDIR (default /usr/local/bin): where tool links go (tests use a
# directory of their own).
set -eu
here=$(dirname "$0")
pkg_manager=${1:?usage: install-system.sh apt|dnf|yum ...}
# shellcheck source=pkg.sh
. "$here/pkg.sh"
layer=${2:?usage: install-system.sh apt|dnf|yum system|test}

case "$layer:$pkg_manager" in
  system:apt)
    pkgs="ca-certificates gcc g++ make libc6-dev git patch file unzip xz-utils"
    ;;
  system:dnf)
    # gcc-toolset-12 (GCC 12): EL8's own GCC 8 is older than the engine's C++17 needs
    # and than what the manylinux_2_28 images carry (gcc-toolset-14).
    pkgs="ca-certificates gcc-toolset-12-gcc gcc-toolset-12-gcc-c++ make git patch file unzip xz which findutils"
    ;;
  system:yum)
    pkgs="ca-certificates gcc gcc-c++ make git patch file unzip xz which findutils"
    ;;
  test:apt) pkgs="procps psmisc" ;;
  test:dnf | test:yum) pkgs="procps-ng psmisc" ;;
  *)
    echo "error: unknown layer '$layer' (system or test)" >&2
    exit 2
    ;;
esac

pkg_refresh
# shellcheck disable=SC2086 # the package list is meant to split
pkg_install $pkgs
pkg_clean

if [ "$layer:$pkg_manager" = system:dnf ]; then
  # The toolset's compilers first on every PATH, without `scl enable`.
  bindir=${INFERCORE_IMAGE_BINDIR:-/usr/local/bin}
  for tool in gcc g++ cc c++ cpp; do
    ln -sf "/opt/rh/gcc-toolset-12/root/usr/bin/$tool" "$bindir/$tool"
  done
fi
