"""The summary's per-arch device-code sizes, read from a real nvcc-built module."""

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from buildsys.errors import ToolMissing
from buildsys.kernels.verify import nvidia_tool
from buildsys.wheels import devicecode

NVCC = shutil.which("nvcc") or (
    "/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None
)


def _cuobjdump() -> bool:
    try:
        nvidia_tool("cuobjdump")
    except ToolMissing:
        return False
    return True


def _wheel(tmp_path: Path, so: Path) -> Path:
    wheel = tmp_path / "x-1-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(so, "x/_core.so")
    return wheel


@pytest.mark.skipif(NVCC is None or not _cuobjdump(), reason="needs nvcc and cuobjdump")
def test_device_code_is_summed_per_arch(tmp_path):
    src = tmp_path / "k.cu"
    src.write_text(
        "__global__ void k(float* x) { x[threadIdx.x] *= 2.0f; }\n"
        'extern "C" void launch(float* x) { k<<<1, 32>>>(x); }\n'
    )
    so = tmp_path / "m.so"
    gencode = ["-gencode", "arch=compute_80,code=sm_80"]
    gencode += ["-gencode", "arch=compute_90,code=[sm_90,compute_90]"]
    subprocess.run([NVCC, "-shared", "-Xcompiler", "-fPIC", "-o", so, src, *gencode], check=True)
    sizes = devicecode.breakdown(_wheel(tmp_path, so))
    assert set(sizes) == {"sm_80", "sm_90", "ptx"}
    assert all(size > 0 for size in sizes.values())
    assert devicecode.describe(sizes).startswith("ptx 0.00, sm_80 0.00")


def test_a_cpu_wheel_has_no_device_code(tmp_path):
    so = tmp_path / "m.so"
    shutil.copy(shutil.which("true"), so)
    assert devicecode.breakdown(_wheel(tmp_path, so)) == {}
    assert devicecode.describe({}) == ""
