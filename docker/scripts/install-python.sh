#!/bin/sh
# The interpreter nox runs with: install-python.sh apt|dnf|yum X.Y
# Order: a manylinux image's /opt/python/cpXY-cpXY; else the base's own package
# (python3.X, with venv support); else the pinned uv (FILES_DIR/uv, verified by
# `nox -s images`) installs a python-build-standalone interpreter, which uv checks
# against the sha256 its release carries. The image never runs an unverified Python.
# install-python.sh apt|dnf|yum X.Y [FILES_DIR]
set -eu
here=$(dirname "$0")
pkg_manager=${1:?usage: install-python.sh apt|dnf|yum ...}
# shellcheck source=pkg.sh
. "$here/pkg.sh"
version=${2:?usage: install-python.sh apt|dnf|yum X.Y}
tag=cp$(echo "$version" | tr -d .)
python=

if [ -x "/opt/python/$tag-$tag/bin/python$version" ]; then
  python="/opt/python/$tag-$tag/bin/python$version"
else
  case "$pkg_manager" in
    # -dev(el): the headers the binding module compiles against.
    apt) pkgs="python$version python$version-venv python$version-dev" ;;
    dnf | yum) pkgs="python$version python$version-pip python$version-devel" ;;
  esac
  pkg_refresh
  first=${pkgs%% *}
  if pkg_available "$first"; then
    # shellcheck disable=SC2086 # the package list is meant to split
    pkg_install $pkgs
    pkg_clean
    python=$(command -v "python$version")
  elif [ -x "${3:-}/uv" ]; then
    echo "python$version is not packaged by this base ($pkg_manager): uv python install" >&2
    if [ -s /run/secrets/ca ]; then
      export SSL_CERT_FILE=/run/secrets/ca
    fi
    export UV_PYTHON_INSTALL_DIR=/opt/python-standalone UV_NO_CACHE=1
    "$3/uv" python install "$version"
    python=$("$3/uv" python find --managed-python "$version")
  else
    echo "error: PYTHON_VERSION=$version: this base ($pkg_manager) packages no $first," >&2
    echo "  and no pinned uv was handed in to install it" >&2
    echo "  fix: build with a Python it packages (nox -s images -- --python X.Y)" >&2
    exit 3
  fi
fi
ln -sf "$python" "${INFERCORE_IMAGE_BINDIR:-/usr/local/bin}/python3"
"$python" -c 'import sys, venv; print("python", sys.version.split()[0])'
