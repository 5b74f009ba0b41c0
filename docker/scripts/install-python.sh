#!/bin/sh
# The interpreter nox runs with: install-python.sh apt|dnf|yum X.Y
# Order: a manylinux image's /opt/python/cpXY-cpXY; else the base's own package
# (python3.X, with venv support). A base that has neither is refused with the fix
# (pick a PYTHON_VERSION it packages): an image never downloads an unpinned Python.
set -eu
here=$(dirname "$0")
. "$here/pkg.sh" "$1"
version=${2:?usage: install-python.sh apt|dnf|yum X.Y}
tag=cp$(echo "$version" | tr -d .)
python=

if [ -x "/opt/python/$tag-$tag/bin/python$version" ]; then
  python="/opt/python/$tag-$tag/bin/python$version"
else
  case "$pkg_manager" in
    apt) pkgs="python$version python$version-venv" ;;
    dnf | yum) pkgs="python$version python$version-pip" ;;
  esac
  pkg_refresh
  first=${pkgs%% *}
  if ! pkg_available "$first"; then
    echo "error: PYTHON_VERSION=$version: this base ($pkg_manager) packages no $first" >&2
    echo "  fix: build with a Python it packages (nox -s images -- --python X.Y)" >&2
    exit 3
  fi
  # shellcheck disable=SC2086 # the package list is meant to split
  pkg_install $pkgs
  pkg_clean
  python=$(command -v "python$version")
fi
ln -sf "$python" /usr/local/bin/python3
"$python" -c 'import sys, venv; print("python", sys.version.split()[0])'
