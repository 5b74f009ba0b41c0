"""Kernel profiles and arch groups (buildsys.kernels.profile): build-matrix.toml to TUs and
CMake definitions."""

import copy
import re

import pytest
from buildsys import config
from buildsys.config import ConfigError
from buildsys.errors import BuildError
from buildsys.kernels import profile
from buildsys.util.paths import ROOT

DATA = config.read_toml(ROOT / "build-matrix.toml")
MATRIX = config.parse_matrix(DATA)


def plan(group="sm90", profile_="ci", cuda="13.0", data=None):
    matrix = MATRIX if data is None else config.parse_matrix(data)
    return profile.plan(group=group, profile=profile_, cuda=cuda, matrix=matrix)


def raises(message):
    return pytest.raises(BuildError, match=re.escape(message))


def test_release_profile_has_what_the_engine_ships():
    p = plan(profile_="release")
    fa2 = p.units["fa2"]
    # FA2 forward, head dims 64/128/256 x bf16/fp16 x causal or not: 12 upstream TUs,
    # and as many split-KV ones (decode, small batches).
    assert len(fa2) == 24
    assert "flash_fwd_split_hdim128_bf16_sm80" in fa2
    assert "flash_fwd_hdim256_fp16_causal_sm80" in fa2
    assert "flash_fwd_hdim64_bf16_sm80" in fa2
    assert "gemm_sm90_bf16" in p.units["cutlass-sm90"]
    assert "fmha_sm90_hdim128_fp16_causal" in p.units["cutlass-sm90"]
    assert p.library == "infercore_kernels_sm90"


def test_ci_profile_is_small():
    assert sum(len(u) for u in plan(group="sm80").units.values()) == 2
    # 2 FA2, 3 CUTLASS, 2 FA4 exports.
    assert sum(len(u) for u in plan(group="sm90").units.values()) <= 7


def test_groups_compile_only_their_families():
    assert set(plan(group="sm80").units) == {"fa2"}
    assert set(plan(group="sm90").units) == {"fa2", "cutlass-sm90", "fa4"}
    assert set(plan(group="sm100").units) == {"fa2", "fa4"}


def test_hopper_kernels_are_arch_specific_and_fa2_is_not():
    p = plan(group="sm90")
    assert p.arch_plan.families == {"fa2": ("90",), "cutlass-sm90": ("90a",), "fa4": ("90a",)}
    assert plan(group="sm100").arch_plan.families["fa4"] == ("100a",)
    # The per-group archs reach CMake through kernels.build.cmake_inputs (one tree, all
    # groups); test_kernels_build checks INFERCORE_sm90_FA2_ARCHITECTURES there.
    assert p.arch_plan.cmake_architectures("fa2") == "90-real"
    assert "INFERCORE_FA2_ARCHITECTURES" not in p.cmake_defines()


def test_compute_capability_ranges_follow_the_binary_compatibility_rules():
    assert plan(group="sm80").cc_range("fa2") == (80, 89)  # sm_80 SASS runs on 8.x
    assert plan(group="sm90").cc_range("cutlass-sm90") == (90, 90)  # sm_90a: exactly 9.0
    assert plan(group="sm100").cc_range("fa2") == (100, 999)  # PTX: newer GPUs JIT it


def test_cmake_defines_carry_the_profile_lists():
    d = plan(profile_="release").cmake_defines()
    assert d["INFERCORE_FA2_HEADDIMS"] == "64;128;256"
    assert d["INFERCORE_FA2_CAUSAL"] == "OFF;ON"
    assert list(plan(profile_="release").units) == ["fa2", "cutlass-sm90", "fa4"]
    assert "UNEVEN_K" in d["INFERCORE_FA2_DISABLE"]
    assert d["INFERCORE_KERNEL_PROFILE"] == "release"
    assert d["INFERCORE_CUTLASS_SM90_FMHA_HEADDIMS"] == "64;128;256"
    assert d["INFERCORE_CUTLASS_SM90_FMHA_CAUSAL"] == "OFF;ON"
    sm80 = plan(group="sm80", profile_="release").cmake_defines()
    assert not any(k.startswith("INFERCORE_CUTLASS_SM90") for k in sm80)


def test_unknown_profile_and_group_list_what_exists():
    with raises("unknown kernel profile 'nightly'") as info:
        plan(profile_="nightly")
    assert "ci, release" in str(info.value)
    with raises("unknown kernel arch group 'sm70'"):
        plan(group="sm70")


def test_an_impossible_arch_fails_before_compiling():
    data = copy.deepcopy(DATA)
    data["kernel-archs"]["sm90"]["archs"] = ["90"]
    # A toolkit's arch-specific list must now be a subset of its sass (checked on load).
    data["cuda-toolkits"]["9.9"] = {
        **data["cuda-toolkits"]["12.4"],
        "sass": ["80"],
        "arch-specific": [],
    }
    with raises("sm_90 is not a target of CUDA 9.9"):
        plan(cuda="9.9", data=data)
    data["kernel-archs"]["old"] = {"description": "Turing", "archs": ["75"], "families": ["fa2"]}
    with raises("kernel family fa2 runs on sm_80 and newer"):
        plan(group="old", data=data)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("headdims", [128, 100], "[kernel-profiles.ci.fa2] headdims[1]: not allowed; found 100"),
        ("dtypes", [], "[kernel-profiles.ci.fa2] dtypes: empty"),
        ("split", [True], "split: split-KV kernels complement the plain ones"),
    ],
)
def test_bad_profile_values_are_named(key, value, message):
    # These used to fail in plan(); the typed matrix now refuses them when it loads.
    data = copy.deepcopy(DATA)
    data["kernel-profiles"]["ci"]["fa2"][key] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        config.parse_matrix(data)


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
    # sm90 still gets its CUTLASS and FA4 kernels, without FA2.
    assert set(plan(group="sm90", data=data).units) == {"cutlass-sm90", "fa4"}


def test_a_group_of_only_the_hopper_family_plans():
    data = copy.deepcopy(DATA)
    data["kernel-archs"]["hopperonly"] = {
        "description": "Hopper CUTLASS kernels only",
        "archs": ["90"],
        "families": ["cutlass-sm90"],
    }
    p = plan(group="hopperonly", data=data)
    assert p.units == {"cutlass-sm90": plan().units["cutlass-sm90"]}
    assert p.arch_plan.families == {"cutlass-sm90": ("90a",)}
    assert p.arch_plan.union_architectures() == "90a-real"
    d = p.cmake_defines()
    assert d["INFERCORE_CUTLASS_SM90_FMHA_HEADDIMS"] == "128"
    assert not any("FA2" in k for k in d)
