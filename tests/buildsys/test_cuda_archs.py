"""The arch/CUDA resolver (buildsys.cuda.archs) over the repository's own data table."""

import re

import pytest
from buildsys import config
from buildsys.cuda import archs
from buildsys.errors import BuildError, ConfigError
from buildsys.host import nvcc as nvcc_tool
from buildsys.util.paths import ROOT

BM = config.load(ROOT).matrix
NVCC = nvcc_tool.find()


def resolve(cuda="13.0", archs_=("80", "90"), ptx=("90",), families=("fa2",)):
    return archs.resolve(
        cuda=cuda,
        archs=archs_,
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
    assert plan.cuda == "13.0" and plan.ptx == ("90",)


def test_union_architectures_cover_every_family_for_family_free_code():
    plan = resolve(families=("fa2", "cutlass-sm90"))
    assert plan.union_architectures() == "80-real;90-real;90a-real;90-virtual"
    hopper = resolve(archs_=("90",), ptx=(), families=("cutlass-sm90",))
    assert hopper.union_architectures() == "90a-real"  # never plain sm_90 or its PTX
    blackwell = resolve(archs_=("100",), ptx=("100",))
    assert blackwell.union_architectures() == "100-real;100-virtual"


def test_cuda13_rejects_volta_before_compiling_and_says_why():
    with raises("sm_70 is not a target of CUDA 13.0") as info:
        resolve(archs_=("70", "80"), ptx=())
    assert "dropped GPUs older than sm_75" in str(info.value)
    assert resolve(cuda="12.4", archs_=("70",), ptx=(), families=()).cuda == "12.4"


def test_blackwell_needs_a_newer_toolkit():
    with raises("sm_100 needs a newer CUDA than 12.4"):
        resolve(cuda="12.4", archs_=("100",), ptx=(), families=("reference",))


def test_fa2_refuses_turing_and_hopper_family_needs_sm90():
    with raises("fa2 runs on sm_80 and newer"):
        resolve(archs_=("75",), ptx=())
    with raises("cutlass-sm90 runs on sm_90") as info:
        resolve(archs_=("80",), ptx=(), families=("cutlass-sm90",))
    assert "add one of them" in str(info.value)


def test_family_minimum_cuda_and_unknowns():
    with raises("fa4 needs CUDA >= 13.0"):
        resolve(cuda="12.4", archs_=("90",), ptx=(), families=("fa4",))
    with raises("unknown kernel family 'fa9'"):
        resolve(families=("fa9",))
    with raises("CUDA 11.0 is not in build-matrix.toml"):
        resolve(cuda="11.0")
    with raises("PTX for sm_100 was asked for"):
        resolve(ptx=("100",))


def test_resolver_errors_are_config_errors():
    with pytest.raises(ConfigError):
        resolve(cuda="11.0")
    assert archs.toolkit(BM.toolkits, "13.0") is BM.toolkits["13.0"]


def test_platform_limits():
    tk13 = BM.toolkits["13.0"]
    with raises("needs glibc >= 2.28, and manylinux2014 has glibc 2.17"):
        archs.check_platform(tk13, policy="manylinux2014")
    archs.check_platform(tk13, policy="manylinux_2_28", gcc="12.2.0")
    with raises("gcc 14.1 is newer than CUDA 12.4 supports"):
        archs.check_platform(BM.toolkits["12.4"], gcc="14.1")
    # The policy -> glibc table itself is buildsys.config's (test_config.py).


@pytest.mark.skipif(NVCC is None, reason="needs nvcc")
def test_table_matches_the_installed_nvcc():
    version = nvcc_tool.version(NVCC)
    if version not in BM.toolkits:
        pytest.skip(f"nvcc {version} is not in the table")
    assert set(nvcc_tool.sass_targets(NVCC)) == set(BM.toolkits[version].sass)
