"""The arch/CUDA resolver over the repository's own data table."""

import re

import pytest
from buildsys import cudaarch, matrix
from buildsys.errors import BuildError
from buildsys.toolchain import find_nvcc, nvcc_version

BM = matrix.load()


def resolve(cuda="13.0", archs=("80", "90"), ptx=("90",), families=("fa2",)):
    return cudaarch.resolve(
        cuda=cuda,
        archs=archs,
        ptx=ptx,
        families=families,
        toolkits=BM.toolkits,
        family_table=BM.families,
    )


def raises(message):
    return pytest.raises(BuildError, match=re.escape(message))


def test_hopper_kernels_get_the_arch_specific_target_and_fa2_both():
    plan = resolve(families=("fa2", "cutlass-sm90"))
    # No compute_90 PTX for the Hopper family: JIT-ed, it would lack wgmma.
    assert plan.families == {"fa2": ("80", "90"), "cutlass-sm90": ("90a",)}
    assert plan.cmake_architectures("cutlass-sm90") == "90a-real"
    assert plan.cmake_architectures("fa2") == "80-real;90-real;90-virtual"


def test_cuda13_rejects_volta_before_compiling_and_says_why():
    with raises("sm_70 is not a target of CUDA 13.0") as info:
        resolve(archs=("70", "80"), ptx=())
    assert "dropped GPUs older than sm_75" in str(info.value)
    assert resolve(cuda="12.4", archs=("70",), ptx=(), families=()).cuda == "12.4"


def test_blackwell_needs_a_newer_toolkit():
    with raises("sm_100 needs a newer CUDA than 12.4"):
        resolve(cuda="12.4", archs=("100",), ptx=(), families=("reference",))


def test_fa2_refuses_turing_and_hopper_family_needs_sm90():
    with raises("fa2 runs on sm_80 and newer"):
        resolve(archs=("75",), ptx=())
    with raises("cutlass-sm90 runs on sm_90") as info:
        resolve(archs=("80",), ptx=(), families=("cutlass-sm90",))
    assert "add one of them" in str(info.value)


def test_family_minimum_cuda_and_unknowns():
    with raises("fa4 needs CUDA >= 12.8"):
        resolve(cuda="12.4", archs=("90",), ptx=(), families=("fa4",))
    with raises("unknown kernel family 'fa9'"):
        resolve(families=("fa9",))
    with raises("CUDA 11.0 is not in build-matrix.toml"):
        resolve(cuda="11.0")
    with raises("PTX for sm_100 was asked for"):
        resolve(ptx=("100",))


def test_platform_limits():
    tk13 = BM.toolkits["13.0"]
    with raises("needs glibc >= 2.28, and manylinux2014 has glibc 2.17"):
        cudaarch.check_platform(tk13, policy="manylinux2014")
    cudaarch.check_platform(tk13, policy="manylinux_2_28", gcc="12.2.0")
    with raises("gcc 14.1 is newer than CUDA 12.4 supports"):
        cudaarch.check_platform(BM.toolkits["12.4"], gcc="14.1")


@pytest.mark.skipif(find_nvcc() is None, reason="needs nvcc")
def test_table_matches_the_installed_nvcc():
    nvcc = find_nvcc()
    version = nvcc_version(nvcc)
    if version not in BM.toolkits:
        pytest.skip(f"nvcc {version} is not in the table")
    assert set(cudaarch.nvcc_sass_targets(nvcc)) == set(BM.toolkits[version].sass)
