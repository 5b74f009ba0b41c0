"""buildsys.engine.core: the core's CMake definitions, and the checks before it compiles."""

from pathlib import Path

import pytest
from buildsys import config
from buildsys.engine import core
from buildsys.errors import BuildError, ToolMissing
from buildsys.kernels import build as kernels
from buildsys.util import project
from buildsys.util.paths import ROOT, Paths

MATRIX = config.load(ROOT).matrix
CPU = MATRIX.target("cpu-x86_64")
CUDA = MATRIX.target("cuda-x86_64")
PATHS = Paths.from_env({}, root=ROOT)


def fake_nvcc(tmp_path: Path, release: str) -> Path:
    # One directory per version: nvcc.version() is cached per path.
    (tmp_path / release).mkdir()
    path = tmp_path / release / "nvcc"
    path.write_text(f'#!/bin/sh\necho "Cuda compilation tools, release {release}, V{release}.1"\n')
    path.chmod(0o755)
    return path


def test_cmake_defines_of_the_cpu_target():
    assert core.cmake_defines(PATHS, CPU, nvcc=None) == {
        "CMAKE_BUILD_TYPE": "Release",
        "INFERCORE_VERSION": project.version(ROOT),
        "INFERCORE_GIT_SHA": project.git_sha(ROOT),
        "INFERCORE_BUILD_PYTHON": "OFF",
        "INFERCORE_CUDA_ARCHS": "",
        "INFERCORE_CUDA_PTX_ARCHS": "",
    }
    # An nvcc on the machine does not make the CPU target a CUDA build.
    assert "CMAKE_CUDA_COMPILER" not in core.cmake_defines(PATHS, CPU, nvcc=Path("/x/nvcc"))


def test_cmake_defines_of_the_cuda_target():
    d = core.cmake_defines(PATHS, CUDA, nvcc=Path("/cuda/bin/nvcc"))
    assert d["INFERCORE_CUDA_ARCHS"] == "80;90" and d["INFERCORE_CUDA_PTX_ARCHS"] == "90"
    assert d["CMAKE_CUDA_COMPILER"] == "/cuda/bin/nvcc"


def test_check_cuda_refuses_a_cuda_target_without_nvcc():
    core.check_cuda(MATRIX, CPU, None)  # nothing to check
    with pytest.raises(ToolMissing, match=r"needs CUDA 13\.0, but nvcc was not found") as info:
        core.check_cuda(MATRIX, CUDA, None)
    assert info.value.exit_code == 4
    assert "--target auto" in info.value.fix


def test_check_cuda_refuses_an_nvcc_of_another_version(tmp_path):
    with pytest.raises(ToolMissing, match=r"is pinned to CUDA 13\.0, but .* is CUDA 12\.4"):
        core.check_cuda(MATRIX, CUDA, fake_nvcc(tmp_path, "12.4"))
    core.check_cuda(MATRIX, CUDA, fake_nvcc(tmp_path, "13.0"))


def test_kernel_plans_follow_the_target_and_profile():
    assert core.kernel_plans(MATRIX, CPU, None) == []
    plans = core.kernel_plans(MATRIX, CUDA, None)
    assert [p.group.name for p in plans] == ["sm80", "sm90"]
    assert {p.profile.name for p in plans} == {"ci"}
    assert {p.profile.name for p in core.kernel_plans(MATRIX, CUDA, "release")} == {"release"}
    with pytest.raises(BuildError, match="unknown kernel profile 'nightly'"):
        core.kernel_plans(MATRIX, CUDA, "nightly")


def test_kernel_defines_name_each_group_and_its_prefix(tmp_path):
    built = [
        kernels.KernelBuild(plan=p, build_dir=tmp_path, prefix=tmp_path / p.group.name)
        for p in core.kernel_plans(MATRIX, CUDA, None)
    ]
    assert core.kernel_defines(built) == {
        "INFERCORE_KERNEL_GROUPS": "sm80;sm90",
        "INFERCORE_KERNEL_PREFIXES": f"{tmp_path / 'sm80'};{tmp_path / 'sm90'}",
    }
    assert core.kernel_defines([]) == {
        "INFERCORE_KERNEL_GROUPS": "",
        "INFERCORE_KERNEL_PREFIXES": "",
    }


def test_build_core_fails_before_conan_without_nvcc(tmp_paths, tmp_path):
    lock = config.load(ROOT).lock
    with pytest.raises(ToolMissing):
        core.build_core(
            tmp_paths, MATRIX, lock, CUDA, nvcc=None, jobs=1, log_dir=tmp_path / "logs", env={}
        )
    assert not tmp_paths.build.exists()
