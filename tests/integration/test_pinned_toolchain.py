"""The real pinned CUDA toolchain: NVIDIA's wheels from sources.lock.toml, assembled into the
shared sources cache (downloaded once, ~100 MiB; assembled in seconds), then used with no
host CUDA in sight: nvcc compiles for sm_80 and sm_90a (Hopper wgmma included), the
project's own verifier reads the SASS with the pinned cuobjdump (the `kernels` group),
and a CMake project with the CUDA language links CUDA::cudart_static from the prefix.
The same files staged into a build context and unpacked by the script alone, as the
images do, give the identical tree.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from buildsys import config
from buildsys.cuda import toolchain
from buildsys.cuda import toolchain_unpack as unpack
from buildsys.kernels import verify as kernelverify
from buildsys.util.paths import Paths
from buildsys.wheels import elfinfo

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CUDA = "13.0"

# sm_80 gets a plain kernel; sm_90a a warpgroup MMA (wgmma.mma_async, m64n8k16, f16 in,
# f32 accumulate), which exists only for the arch-specific target: its HGMMA in the SASS
# shows that the pinned ptxas compiled real Hopper code.
KERNEL = r"""
#include <cuda_runtime.h>
#include <cuda/std/cstdint>

__global__ void scale(float* x, float by) { x[threadIdx.x] *= by; }

__global__ void hopper_mma(float* out, cuda::std::uint64_t desc_a, cuda::std::uint64_t desc_b) {
  float d0 = 0.f, d1 = 0.f, d2 = 0.f, d3 = 0.f;
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %4, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 "
      "{%0, %1, %2, %3}, %5, %6, p, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
      : "r"(0), "l"(desc_a), "l"(desc_b));
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#endif
  out[threadIdx.x] = d0 + d1 + d2 + d3;
}
"""

MAIN = r"""
#include <cstdio>
#include <cuda_runtime.h>
int main() {
  int version = 0;
  cudaRuntimeGetVersion(&version);  // from libcudart_static.a: no GPU needed
  std::printf("runtime %d\n", version);
  return version > 0 ? 0 : 1;
}
"""

CMAKE = """
cmake_minimum_required(VERSION 3.25)
project(pinned_probe LANGUAGES CXX CUDA)
find_package(CUDAToolkit REQUIRED)
add_executable(probe main.cu kernel.cu)
set_target_properties(probe PROPERTIES CUDA_ARCHITECTURES "80-real;90a-real"
                                       CUDA_RUNTIME_LIBRARY Static)
target_link_libraries(probe PRIVATE CUDA::cudart_static)
file(WRITE "${CMAKE_BINARY_DIR}/found.txt"
     "compiler=${CMAKE_CUDA_COMPILER}\\n"
     "compiler_version=${CMAKE_CUDA_COMPILER_VERSION}\\n"
     "toolkit_version=${CUDAToolkit_VERSION}\\n"
     "bin=${CUDAToolkit_BIN_DIR}\\n"
     "include=${CUDAToolkit_INCLUDE_DIRS}\\n"
     "cudart_static=${CUDA_cudart_static_LIBRARY}\\n")
"""


@pytest.fixture(scope="module")
def pinned():
    """The real toolchain in the shared sources cache (where every build looks for it)."""
    lock = config.load(ROOT).lock
    return toolchain.ensure(Paths.from_env(), lock, CUDA)


def hermetic_env(tmp_path: Path) -> dict[str, str]:
    """No host CUDA: no CUDACXX/CUDA_HOME/CUDA_PATH, nothing CUDA on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUDA", "NVCC"))}
    env["PATH"] = "/usr/bin:/bin"
    env["HOME"] = str(tmp_path)
    return env


def run(cmd, *, env, cwd=None):
    done = subprocess.run(
        [str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_pinned_nvcc_is_the_pinned_version(pinned):
    out = run([pinned.nvcc, "--version"], env=os.environ)
    assert f"V{pinned.nvcc_version}" in out.split() and "release 13.0," in out
    manifest = pinned.manifest()
    assert manifest is not None
    assert {w["name"]: w["version"] for w in manifest["wheels"]} == {
        s.name: s.version for s in pinned.sources
    }
    assert unpack.tree_digest(pinned.prefix) == manifest["tree_sha256"]


def test_compiles_sm80_and_sm90a_with_its_own_headers(pinned, tmp_path):
    env = hermetic_env(tmp_path)
    src = tmp_path / "kernel.cu"
    src.write_text(KERNEL)
    # Every header nvcc reads is the prefix's or the host C++ compiler's: none of
    # /usr/local/cuda.
    deps = run([pinned.nvcc, "-M", "-arch=sm_90a", src], env=env)
    cuda_headers = [h for h in re.findall(r"(/\S+\.h(?:pp)?)\b", deps) if "cuda" in h]
    assert cuda_headers and all(h.startswith(str(pinned.prefix)) for h in cuda_headers)
    lib = tmp_path / "libprobe.a"
    run(
        [
            pinned.nvcc,
            "-lib",
            "-gencode=arch=compute_80,code=sm_80",
            "-gencode=arch=compute_90a,code=sm_90a",
            "-o",
            lib,
            src,
        ],
        env=env,
    )
    v = kernelverify.inspect(lib, count_wgmma=True)
    assert set().union(*v.sass.values()) == {"sm_80", "sm_90a"}
    assert sum(v.wgmma.values()) > 0, "no HGMMA in the sm_90a SASS"
    assert set().union(*v.ptx.values()) == set()  # code=sm_XX only: no PTX


def test_cmake_accepts_the_prefix_and_links_cudart_static(pinned, tmp_path):
    env = hermetic_env(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(CMAKE)
    (project / "kernel.cu").write_text(KERNEL)
    (project / "main.cu").write_text(MAIN)
    build = tmp_path / "build"
    cmake = shutil.which("cmake")
    assert cmake, "cmake is needed (README's set-up)"
    run(
        [
            cmake,
            "-S",
            project,
            "-B",
            build,
            "-G",
            "Ninja",
            f"-DCMAKE_CUDA_COMPILER={pinned.nvcc}",
            f"-DCMAKE_MAKE_PROGRAM={shutil.which('ninja') or 'ninja'}",
        ],
        env=env,
    )
    found = dict(
        line.split("=", 1) for line in (build / "found.txt").read_text().splitlines() if line
    )
    prefix = str(pinned.prefix)
    assert found["compiler"] == str(pinned.nvcc)
    assert found["compiler_version"] == found["toolkit_version"] == pinned.nvcc_version
    assert found["bin"] == f"{prefix}/bin" and found["include"] == f"{prefix}/include"
    assert found["cudart_static"] == f"{prefix}/lib/libcudart_static.a"
    run([cmake, "--build", build], env=env)
    probe = build / "probe"
    deps = elfinfo.read(probe)
    assert not [n for n in deps.needed if "cudart" in n]  # the static runtime, linked in
    assert "runtime 13000" in run([probe], env=env)


def test_the_image_unpack_gives_the_identical_tree(pinned, tmp_path):
    """As the image build does it: stage the verified wheels, SHA256SUMS and the script
    into a context, then run the script there alone."""
    paths, lock = Paths.from_env(), config.load(ROOT).lock
    context = tmp_path / "context"
    staged = toolchain.stage(paths, lock, CUDA, context)
    prefix = tmp_path / "opt" / f"cuda-{CUDA}"
    cmd = toolchain.unpack_command(str(prefix), [p.name for p in staged], python=sys.executable)
    cmd.insert(1, "-I")  # isolated: the standard library only, as in an image
    run(cmd, env=hermetic_env(tmp_path), cwd=context)
    assert unpack.read_manifest(prefix) == pinned.manifest()
    assert unpack.tree_digest(prefix) == pinned.manifest()["tree_sha256"]
