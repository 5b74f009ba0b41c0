#!/bin/sh
# The pinned CUDA toolchain: install-cuda.sh CUDA_VERSION FILES_DIR. FILES_DIR holds
# NVIDIA's wheels (nvcc, runtime, CCCL, ...) that `nox -s images` verified against
# sources.lock.toml, and toolchain_unpack.py, the same unpacker the host uses for
# `--toolchain pinned`: the image's compiler is byte for byte the host's.
set -eu
version=${1:?usage: install-cuda.sh CUDA_VERSION FILES_DIR}
files=${2:?usage: install-cuda.sh CUDA_VERSION FILES_DIR}
prefix="/opt/cuda-$version"
python3 "$files/toolchain_unpack.py" --prefix "$prefix" "$files"/cuda/*.whl
ln -sfn "$prefix" /opt/cuda
/opt/cuda/bin/nvcc --version | tail -n 2
