"""Kernel library verification (buildsys.kernels.verify): real objects from nvcc, read back
with cuobjdump and nm; and the TU monitor every kernel compile runs through."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from buildsys.errors import BuildError, ToolMissing
from buildsys.host.nvcc import find as find_nvcc
from buildsys.kernels import verify as kernelverify

NVCC = find_nvcc()
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="needs nvcc")

KERNEL = """
__global__ void scale(float* x, float a) { x[threadIdx.x] *= a; }
void launch(float* x) { scale<<<1, 32>>>(x, 2.f); }
"""


def cuobjdump_available() -> bool:
    try:
        kernelverify.nvidia_tool("cuobjdump")
    except BuildError:
        return False
    return True


def archive(tmp_path: Path, name: str, *gencode: str, source: str = KERNEL) -> Path:
    cu = tmp_path / f"{name}.cu"
    cu.write_text(source)
    obj = tmp_path / f"{name}.cu.o"
    subprocess.run([str(NVCC), *gencode, "-c", str(cu), "-o", str(obj)], check=True)
    lib = tmp_path / f"lib{name}.a"
    subprocess.run(["ar", "rcs", str(lib), str(obj)], check=True)
    return lib


@needs_nvcc
@pytest.mark.skipif(not cuobjdump_available(), reason="needs cuobjdump (the kernels group)")
def test_sass_and_ptx_are_read_per_object(tmp_path):
    lib = archive(
        tmp_path,
        "k",
        "-gencode=arch=compute_80,code=sm_80",
        "-gencode=arch=compute_90,code=[sm_90,compute_90]",
    )
    v = kernelverify.inspect(lib, count_wgmma=False)
    assert v.sass == {"k.cu.o": {"sm_80", "sm_90"}}
    assert v.ptx == {"k.cu.o": {"sm_90"}}
    assert (
        kernelverify.check(
            v,
            expect_sass={"k.cu.o": {"sm_80", "sm_90"}},
            expect_ptx={"k.cu.o": {"sm_90"}},
            hopper_objects=[],
        )
        == []
    )
    problems = kernelverify.check(
        v,
        expect_sass={"k.cu.o": {"sm_80", "sm_90", "sm_100"}},
        expect_ptx={"k.cu.o": set()},
        hopper_objects=["k.cu.o"],
    )
    assert "k.cu.o: no SASS for sm_100" in problems
    only_80 = kernelverify.check(
        v, expect_sass={"k.cu.o": {"sm_80"}}, expect_ptx={"k.cu.o": {"sm_90"}}, hopper_objects=[]
    )
    assert only_80 == ["k.cu.o: unexpected SASS for sm_90"]
    assert any("carries PTX (sm_90) that was not asked for" in p for p in problems)
    # Built for sm_90 (not 90a): no wgmma, which a Hopper CUTLASS kernel must have.
    assert any("no wgmma (HGMMA)" in p and "sm_90a" in p for p in problems)


@needs_nvcc
@pytest.mark.skipif(not cuobjdump_available(), reason="needs cuobjdump (the kernels group)")
def test_wgmma_is_counted_in_sm90a_code(tmp_path):
    # One warpgroup MMA in inline PTX: what CUTLASS's Hopper collectives emit.
    source = r"""
    #include <cstdint>
    __global__ void k(float* out, uint64_t da, uint64_t db) {
      float d[8] = {};
      asm volatile("wgmma.fence.sync.aligned;\n"
        "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 "
        "{%0,%1,%2,%3,%4,%5,%6,%7}, %8, %9, 1, 1, 1, 0, 0;\n"
        "wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]),
          "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
        : "l"(da), "l"(db));
      for (int i = 0; i < 8; ++i) out[threadIdx.x * 8 + i] = d[i];
    }
    """
    lib = archive(
        tmp_path, "fmha_sm90_probe", "-gencode=arch=compute_90a,code=sm_90a", source=source
    )
    v = kernelverify.inspect(lib, count_wgmma=True)
    assert v.sass == {"fmha_sm90_probe.cu.o": {"sm_90a"}}
    assert v.wgmma.get("fmha_sm90_probe.cu.o", 0) >= 1


def test_symbol_allowlist():
    v = kernelverify.Verification(
        undefined=[
            "cudaLaunchKernel",
            "__cudaRegisterFatBinary",
            "_ZNSt6chrono3_V212steady_clock3nowEv",
            "memcpy",
            "_ZN3c1019UndefinedTensorImpl10_singletonE",
            "_Z9my_helperv",
        ]
    )
    problems = kernelverify.check(v, expect_sass={}, expect_ptx={}, hopper_objects=[])
    assert problems == [
        "undefined symbol from PyTorch: _ZN3c1019UndefinedTensorImpl10_singletonE",
        "undefined symbol outside the allowlist: _Z9my_helperv",
    ]


def test_a_missing_tool_says_where_it_looked():
    with pytest.raises(ToolMissing, match="infercore-no-such-tool was not found") as info:
        kernelverify.nvidia_tool("infercore-no-such-tool")
    assert "nvidia-cuda-*" in info.value.why
    assert issubclass(kernelverify.VerificationFailed, BuildError)


def test_verification_round_trips_through_json():
    v = kernelverify.Verification(
        sass={"a.o": {"sm_90a", "sm_80"}}, ptx={"a.o": {"sm_90"}}, wgmma={"a.o": 2}, undefined=["x"]
    )
    again = kernelverify.Verification(**json.loads(json.dumps(v.as_json())))
    assert again == v and again.sass["a.o"] == {"sm_80", "sm_90a"}


MONITOR = Path(kernelverify.__file__).with_name("tu_monitor.py")


def test_tu_monitor_records_time_memory_and_the_exit_code(tmp_path):
    report = tmp_path / "report.jsonl"
    hog = "b = bytearray(200 * 2**20); import sys; sys.exit(3)"
    rc = subprocess.call(
        [sys.executable, str(MONITOR), str(report), sys.executable, "-c", hog, "-o", "x.o"]
    )
    assert rc == 3
    record = json.loads(report.read_text())
    assert record["object"] == "x.o" and record["rc"] == 3
    assert record["peak_mib"] >= 200
    assert record["cache"] == "uncached"


def test_tu_monitor_runs_by_its_own_shebang_and_appends(tmp_path):
    # CMake runs it as the compiler launcher directly (kernels.build.launcher).
    report = tmp_path / "report.jsonl"
    for name in ("a.o", "b.o"):
        rc = subprocess.call([str(MONITOR), str(report), "true", "-o", name])
        assert rc == 0
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["object"], r["rc"]) for r in records] == [("a.o", 0), ("b.o", 0)]
    assert all(r["wall_s"] >= 0 for r in records)
