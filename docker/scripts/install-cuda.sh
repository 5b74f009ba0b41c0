#!/bin/sh
# The pinned CUDA toolchain: install-cuda.sh CUDA_VERSION FILES_DIR. FILES_DIR/cuda holds
# NVIDIA's wheels (nvcc, crt, nvvm, runtime, CCCL) that `nox -s images` verified against
# sources.lock.toml, their SHA256SUMS, toolchain_unpack.py (the same unpacker the host
# runs for `--toolchain pinned`, so the image's compiler is byte for byte the host's)
# and assemble.sh, the one command line that runs it.
set -eu
version=${1:?usage: install-cuda.sh CUDA_VERSION FILES_DIR}
files=${2:?usage: install-cuda.sh CUDA_VERSION FILES_DIR}
sh "$files/cuda/assemble.sh"
ln -sfn "/opt/cuda-$version" /opt/cuda
/opt/cuda/bin/nvcc --version | tail -n 2
