"""Kernel profiles and arch groups: from build-matrix.toml to TUs, CMake inputs and pools."""

import copy
import re

import pytest
from buildsys import kernelprofile, kernels
from buildsys.errors import BuildError
from buildsys.project import ROOT, load_toml

DATA = load_toml(ROOT / "build-matrix.toml")


def plan(group="sm90", profile="ci", cuda="13.0", data=DATA):
    return kernelprofile.plan(group=group, profile=profile, cuda=cuda, data=data)


def raises(message):
    return pytest.raises(BuildError, match=re.escape(message))


def test_release_profile_has_what_the_engine_ships():
    p = plan(profile="release")
    fa2 = p.units["fa2"]
    # FA2 forward, head dims 64/128/256 x bf16/fp16 x causal or not: 12 upstream TUs,
    # and as many split-KV ones (decode, small batches).
    assert len(fa2) == 24
    assert "flash_fwd_split_hdim128_bf16_sm80" in fa2
    assert "flash_fwd_hdim256_fp16_causal_sm80" in fa2
    assert "flash_fwd_hdim64_bf16_sm80" in fa2
    assert "gemm_sm90_bf16" in p.units["cutlass-sm90"]
    assert "fmha_sm90_hdim128_fp16_causal" in p.units["cutlass-sm90"]


def test_ci_profile_is_small():
    assert sum(len(u) for u in plan(group="sm80").units.values()) == 2
    assert sum(len(u) for u in plan(group="sm90").units.values()) <= 5


def test_groups_compile_only_their_families():
    assert set(plan(group="sm80").units) == {"fa2"}
    assert set(plan(group="sm90").units) == {"fa2", "cutlass-sm90"}
    assert set(plan(group="sm100").units) == {"fa2"}


def test_hopper_kernels_are_arch_specific_and_fa2_is_not():
    p = plan(group="sm90")
    assert p.arch_plan.families == {"fa2": ("90",), "cutlass-sm90": ("90a",)}
    assert p.cmake_defines()["INFERCORE_FA2_ARCHITECTURES"] == "90-real"


def test_compute_capability_ranges_follow_the_binary_compatibility_rules():
    assert plan(group="sm80").cc_range("fa2") == (80, 89)  # sm_80 SASS runs on 8.x
    assert plan(group="sm90").cc_range("cutlass-sm90") == (90, 90)  # sm_90a: exactly 9.0
    assert plan(group="sm100").cc_range("fa2") == (100, 999)  # PTX: newer GPUs JIT it


def test_cmake_defines_carry_the_profile_lists():
    d = plan(profile="release").cmake_defines()
    assert d["INFERCORE_FA2_HEADDIMS"] == "64;128;256"
    assert d["INFERCORE_FA2_CAUSAL"] == "OFF;ON"
    assert d["INFERCORE_KERNEL_FAMILIES"] == "fa2;cutlass-sm90"
    assert "UNEVEN_K" in d["INFERCORE_FA2_DISABLE"]


def test_unknown_profile_and_group_list_what_exists():
    with raises("unknown kernel profile 'nightly'") as info:
        plan(profile="nightly")
    assert "ci, release" in str(info.value)
    with raises("unknown kernel arch group 'sm70'"):
        plan(group="sm70")


def test_an_impossible_arch_fails_before_compiling():
    data = copy.deepcopy(DATA)
    data["kernel-archs"]["sm90"]["archs"] = ["90"]
    with raises("sm_90 is not a target of CUDA 9.9"):
        plan(
            cuda="9.9",
            data={
                **data,
                "cuda-toolkits": {"9.9": {**data["cuda-toolkits"]["12.4"], "sass": ["80"]}},
            },
        )
    data["kernel-archs"]["old"] = {"archs": ["75"], "families": ["fa2"]}
    with raises("kernel family fa2 runs on sm_80 and newer"):
        plan(group="old", data=data)


def test_bad_profile_values_are_named():
    data = copy.deepcopy(DATA)
    data["kernel-profiles"]["ci"]["fa2"]["headdims"] = [128, 100]
    with raises("[kernel-profiles.ci.fa2].headdims has 100"):
        plan(data=data)
    data = copy.deepcopy(DATA)
    data["kernel-profiles"]["ci"]["fa2"]["dtypes"] = []
    with raises("must be a non-empty list of str"):
        plan(data=data)
    data = copy.deepcopy(DATA)
    data["kernel-profiles"]["ci"]["fa2"]["split"] = [True]
    with raises("split = [True]: split-KV kernels complement the plain ones"):
        plan(data=data)


def test_split_kv_adds_upstreams_split_units():
    data = copy.deepcopy(DATA)
    data["kernel-profiles"]["ci"]["fa2"]["split"] = [False, True]
    p = plan(data=data)
    units = p.units["fa2"]
    assert len(units) == 2 * len(plan().units["fa2"])
    assert "flash_fwd_split_hdim128_bf16_causal_sm80" in units
    assert "flash_fwd_hdim128_bf16_causal_sm80" in units
    assert p.cmake_defines()["INFERCORE_FA2_SPLIT"] == "OFF;ON"


def test_a_profile_without_the_groups_families_says_so():
    data = copy.deepcopy(DATA)
    del data["kernel-profiles"]["ci"]["fa2"]
    with raises("profile 'ci' builds nothing for sm80"):
        plan(group="sm80", data=data)


MEMORY = {"fa2": 4.5, "cutlass-sm90": 11.0, "core": 1.0}


@pytest.mark.parametrize(
    ("avail", "cpus", "expected"),
    [
        (23.0, 2, {"light": 2, "fmha": 1, "fa2": 2}),  # this machine: 11 + 2 x 4.5 < 22
        (126.0, 16, {"light": 16, "fmha": 5, "fa2": 15}),  # the H200 machine
        (6.0, 8, {"light": 8, "fmha": 1, "fa2": 1}),  # too small: serial, never zero
    ],
)
def test_job_pools_fit_in_memory(avail, cpus, expected):
    pools = kernels.job_pools(["fa2", "cutlass-sm90"], memory=MEMORY, avail_gib=avail, cpus=cpus)
    assert pools == expected
    if avail > 20:
        used = pools["fmha"] * MEMORY["cutlass-sm90"] + pools["fa2"] * MEMORY["fa2"]
        assert used <= avail - MEMORY["core"]


def test_memory_override(monkeypatch):
    monkeypatch.setenv("INFERCORE_BUILD_MEMORY_GIB", "100")
    assert kernels.available_gib() == 100.0
    monkeypatch.setenv("INFERCORE_BUILD_MEMORY_GIB", "lots")
    with raises("INFERCORE_BUILD_MEMORY_GIB='lots' is not a number"):
        kernels.available_gib()


def test_real_nvcc_sees_through_a_wrapper_script(tmp_path):
    from buildsys.toolchain import find_nvcc

    nvcc = find_nvcc()
    if nvcc is None:
        pytest.skip("no nvcc here")
    wrapper = tmp_path / "nvcc"
    wrapper.write_text(f'#!/bin/sh\nexec {kernels.real_nvcc(nvcc)} "$@"\n')
    wrapper.chmod(0o755)
    real = kernels.real_nvcc(wrapper)
    assert real != wrapper and real.name == "nvcc" and real.parent.name == "bin"
