#!/usr/bin/env bash
# The GPU proof in one command, on a machine with an NVIDIA GPU, nvcc, CMake, ninja and
# PyTorch (e.g. the H200 lent by the `device` tool: no registry there, so Python packages
# and the pinned sources arrive with the tree).
#
#   tests/gpu/run-on-gpu.sh [--profile NAME] [--groups "sm80 sm90"] [--compile-groups "sm100"]
#                           [--wheel FILE] [--out DIR] [--steps build,tests,bench]
#
# Without --wheel it builds the kernel libraries of the profile for each arch group
# (buildsys kernels: timed, memory-sized, verified, with the per-TU report), the core
# against them, and the binding for this python3, then imports infercore from the tree.
# With --wheel it installs that wheel instead. Then: the fast-kernel tests against the
# GPU float32 reference, the reference-kernel and engine tests, and the benchmark.
# --steps runs a subset (default: all three); a step after an earlier call's build reuses
# that build (ninja and the kernels' stamps make it a no-op), e.g. to split a long run
# across calls with a time limit. --compile-groups are built in the same one-pool kernel
# build (and reported) but not linked into the core: an arch this GPU cannot run.
#
# Environment: INFERCORE_SOURCE_CACHE (pinned source archives, default ~/.cache/infercore),
# INFERCORE_EXPORT_CACHE (FlashAttention-4's exported variants: the H200 machine has no CuTe
# DSL environment, so they are exported elsewhere and carried), INFERCORE_BUILD_MEMORY_GIB
# (memory the compiles may use), WHEELHOUSE (wheels of missing Python packages:
# pip-installed with --no-index into a private target).
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=release groups="sm80 sm90" compile_groups="" wheel="" out="${OUT:-build/gpu-run}" steps="build,tests,bench"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --groups) groups="$2"; shift 2 ;;
    --compile-groups) compile_groups="$2"; shift 2 ;;
    --wheel) wheel="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "run-on-gpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for step in ${steps//,/ }; do
  case "$step" in
    build|tests|bench) ;;
    *) echo "run-on-gpu.sh: unknown step '$step' in --steps (expected build, tests, bench)" >&2; exit 2 ;;
  esac
done
step() { [[ ",$steps," == *",$1,"* ]]; }
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if [[ -n "${WHEELHOUSE:-}" ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/infercore-site \
    "$WHEELHOUSE"/*.whl
  export PYTHONPATH="/tmp/infercore-site${PYTHONPATH:+:$PYTHONPATH}"
fi
nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader

if [[ -n "$wheel" ]]; then
  python3 -m pip install -q --no-index --no-deps --force-reinstall --target /tmp/infercore-wheel "$wheel"
  export PYTHONPATH="/tmp/infercore-wheel${PYTHONPATH:+:$PYTHONPATH}"
elif step build; then
  start=$(date +%s)
  prefixes=()
  # All groups in one memory-sized pool (needs buildsys's pinned tools: rich, filelock,
  # pydantic, the nvidia cuobjdump/nvdisasm wheels).
  # shellcheck disable=SC2086  # one word per group
  PYTHONPATH="scripts:$PYTHONPATH" python3 -m buildsys kernels $groups $compile_groups --profile "$profile"
  for group in $groups $compile_groups; do
    cp "build/kernels/$profile/$group/install/share/infercore/infercore_kernels_$group.json" "$out/"
  done
  for group in $groups; do
    prefixes+=("$PWD/build/kernels/$profile/$group/install")
  done
  cp build/kernels/"$profile"/schedule-*.json "$out/"
  echo "kernel libraries ($profile: $groups) built in $(( $(date +%s) - start )) s"
  archs=$(python3 -c 'import tomllib; print(";".join(tomllib.load(open("build-matrix.toml","rb"))["targets"]["cuda-x86_64"]["sass-archs"]))')
  # shellcheck disable=SC2086  # word splitting normalises the spaces
  group_list=$(echo $groups | tr ' ' ';')
  prefix_list=$(IFS=';'; echo "${prefixes[*]}")
  cmake -S . -B build/gpu-dev -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DINFERCORE_CUDA_ARCHS="$archs" -DINFERCORE_KERNEL_GROUPS="$group_list" \
    -DINFERCORE_KERNEL_PREFIXES="$prefix_list" -DPython_EXECUTABLE="$(command -v python3)" \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" > "$out/cmake.log"
  cmake --build build/gpu-dev --parallel >> "$out/cmake.log"
fi
if [[ -z "$wheel" ]]; then
  # The binding lives in the (ignored, kept) build tree; the package dir gets a copy each time.
  if ! ls build/gpu-dev/csrc/python/_core*.so >/dev/null 2>&1; then
    echo "run-on-gpu.sh: no built core under build/gpu-dev: include the build step" >&2
    exit 2
  fi
  cp build/gpu-dev/csrc/python/_core*.so python/infercore/
  export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
fi

# One build_info() read: the libraries line, the whole of it as JSON, and for a release
# wheel what built it (its SBOM, and the image by reference and digest).
OUT_JSON="$out/build_info.json" CHECK_WHEEL="${wheel:+1}" python3 - <<'PY'
import json, os, sys
import infercore
info = infercore.build_info()
print(json.dumps(info["kernels"]["libraries"]))
with open(os.environ["OUT_JSON"], "w") as f:
    json.dump(info, f, indent=2, default=str)
if os.environ["CHECK_WHEEL"]:
    print(f"sbom: {info['sbom']}\nbuild image: {info['build_image']}")
    if not info["sbom"] or "@sha256:" not in (info["build_image"] or ""):
        sys.exit("run-on-gpu.sh: the installed wheel's build_info() names no SBOM or no image digest")
PY
export INFERCORE_REQUIRE_CUDA=1
if step tests; then
  python3 -m pytest -q -p no:cacheprovider tests/gpu/test_fast_kernels.py --junitxml="$out/fast-kernels.xml"
  python3 -m pytest -q -p no:cacheprovider tests/gpu/test_cuda_ops.py tests/engine --junitxml="$out/engine.xml"
fi
if step bench; then
  python3 tests/gpu/bench_kernels.py --json "$out/bench.json"
fi
