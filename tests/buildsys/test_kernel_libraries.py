"""The sm90 and sm100 kernel libraries, linked whole into one C++ program that walks their
dispatch tables without a GPU (tests/cpp/test_kernel_libraries.cc): every undefined symbol
of every member resolves against the CUDA runtime, the C++ runtime and libc alone, the
two groups define no symbol twice, and every FA4 variant takes exactly the calls it was
compiled for.

The libraries are the ci profile's, built in the user's build tree as `nox -s kernels`
builds them (ninja makes it a no-op when they are there; otherwise sm100's two FA2 TUs
and the FA4 exports the cache lacks are compiled, a few minutes on 2 cores, seconds once
ccache and the export cache are warm).
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from buildsys import config
from buildsys.errors import ToolMissing
from buildsys.host import nvcc as nvcc_tool
from buildsys.kernels import build as kernels
from buildsys.util.paths import ROOT, Paths

CFG = config.load(ROOT)
NVCC = nvcc_tool.find()
GROUPS = ["sm90", "sm100"]


def cudart_static(nvcc: Path) -> Path:
    prefix = nvcc_tool.real(nvcc).parent.parent
    for lib in (prefix / "lib64", prefix / "lib", prefix / "targets" / "x86_64-linux" / "lib"):
        if (lib / "libcudart_static.a").is_file():
            return lib / "libcudart_static.a"
    pytest.skip(f"no libcudart_static.a under {prefix}")


@pytest.mark.skipif(NVCC is None, reason="needs nvcc")
def test_the_sm90_and_sm100_libraries_link_whole_and_hold_their_tables(tmp_path):
    try:
        built = kernels.run(
            Paths.from_env(),
            CFG.matrix,
            CFG.lock,
            groups=GROUPS,
            profile="ci",
            cuda=None,
            jobs=None,
            offline=False,
        )
    except ToolMissing as err:  # no CPython 3.11 or CPU torch for the FA4 exports
        pytest.skip(f"the kernel libraries cannot be built here: {err}")
    cxx = shutil.which("c++") or shutil.which("g++")
    assert cxx, "no C++ compiler"
    exe = tmp_path / "test_kernel_libraries"
    groups = " ".join(f"X({g})" for g in GROUPS)
    cuda_include = nvcc_tool.real(NVCC).parent.parent / "include"
    link = subprocess.run(
        [
            cxx,
            "-std=c++17",
            f"-DINFERCORE_TEST_GROUPS={groups}",
            "-I",
            str(ROOT / "csrc" / "kernels" / "include"),
            "-I",
            str(cuda_include),
            str(ROOT / "tests" / "cpp" / "test_kernel_libraries.cc"),
            "-Wl,--whole-archive",
            *(str(b.library) for b in built),
            "-Wl,--no-whole-archive",
            str(cudart_static(NVCC)),
            "-ldl",
            "-lpthread",
            "-lrt",
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
    )
    assert link.returncode == 0, link.stderr[-6000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-6000:]
    out = run.stdout
    assert "4 fa4 variant(s), 0 failure(s)" in out, out
    assert "sm90 fa4 bf16 hdim128 causal q/kv heads 1 sm_90" in out
    assert "sm100 fa4 bf16 hdim128 q/kv heads 1 sm_100" in out
