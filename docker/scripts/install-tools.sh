#!/bin/sh
# The pinned tools (nox, pydantic for the noxfile, Conan, CMake, Ninja) in their own
# virtualenv: install-tools.sh LOCKFILE [CONAN_VERSION]. pip installs by hash only
# (--require-hashes), from the lock that `nox -s images` generates from pyproject.toml.
set -eu
lock=${1:?usage: install-tools.sh LOCKFILE [CONAN_VERSION]}
conan=${2:-}
# A CA bundle handed in as a build secret (networks whose TLS is intercepted).
if [ -s /run/secrets/ca ]; then
  export PIP_CERT=/run/secrets/ca
fi

python3 -m venv /opt/infercore/tools
/opt/infercore/tools/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
  --require-hashes --only-binary :all: -r "$lock"
if [ -n "$conan" ]; then
  have=$(/opt/infercore/tools/bin/conan --version | sed 's/.* //')
  if [ "$have" != "$conan" ]; then
    echo "error: CONAN_VERSION=$conan, and the tools lock installs Conan $have" >&2
    exit 3
  fi
fi
for tool in nox conan cmake ctest ninja; do
  ln -sf "/opt/infercore/tools/bin/$tool" "/usr/local/bin/$tool"
done
nox --version
