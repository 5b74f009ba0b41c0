"""buildsys.kernels.build: pools, the profile tree's CMake inputs, verification expectations
and the schedule report (the real configure and compile: test_kernel_configure.py)."""

import copy
import json
import os
from pathlib import Path

import pytest
from buildsys import ccache, config
from buildsys.errors import BuildError, ConfigError, ToolMissing
from buildsys.host import nvcc as nvcc_tool
from buildsys.kernels import build as kernels
from buildsys.kernels import verify as kernelverify
from buildsys.util.fs import sha256_file
from buildsys.util.paths import ROOT

DATA = config.read_toml(ROOT / "build-matrix.toml")
CFG = config.load(ROOT)
MATRIX, LOCK = CFG.matrix, CFG.lock
NVCC = nvcc_tool.find()
SRCS = {"flash-attention": Path("/src/fa"), "cutlass": Path("/src/cutlass")}


def plans(*groups, profile="ci", cuda="13.0", matrix=MATRIX):
    return kernels.plans_for(matrix, list(groups), profile=profile, cuda=cuda)


def inputs(plan_list, pools=None):
    report = Path("/b/tu-report.jsonl")
    return kernels.cmake_inputs(
        plan_list,
        nvcc=Path("/cuda/bin/nvcc"),
        srcs=SRCS,
        pools=pools or {"light": 1, "heavy": 1},
        report=report,
        launcher=kernels.launcher(report, None),
    )


def with_hopperonly():
    data = copy.deepcopy(DATA)
    data["kernel-archs"]["hopperonly"] = {
        "description": "Hopper CUTLASS kernels only",
        "archs": ["90"],
        "families": ["cutlass-sm90"],
    }
    return config.parse_matrix(data)


# -- pools ----------------------------------------------------------------------------------

MEMORY = {"fa2": 4.5, "cutlass-sm90": 11.0, "core": 1.0}


@pytest.mark.parametrize(
    ("budget", "cpus", "expected"),
    [
        (23.0, 2, {"light": 2, "heavy": 2}),  # a small machine: 2 x 11 fit in 22
        (126.0, 16, {"light": 16, "heavy": 11}),  # the H200 machine: memory-bound
        (126.0, 4, {"light": 4, "heavy": 4}),  # CPU-bound
        (6.0, 8, {"light": 8, "heavy": 1}),  # too small: serial, never zero
    ],
)
def test_one_heavy_pool_fits_in_memory(budget, cpus, expected):
    pools = kernels.job_pools(
        ["fa2", "cutlass-sm90"], memory_gib=MEMORY, budget_gib=budget, cpus=cpus
    )
    assert pools == expected
    if budget > 20:
        # Every heavy slot may hold the largest TU of any family present.
        assert pools["heavy"] * MEMORY["cutlass-sm90"] <= budget - MEMORY["core"]


def test_pools_size_to_the_families_present():
    # Only FA2: its own peak sizes the pool.
    assert kernels.job_pools(["fa2"], memory_gib=MEMORY, budget_gib=23.0, cpus=16) == {
        "light": 16,
        "heavy": 4,
    }
    # No heavy family: no heavy pool at all.
    assert kernels.job_pools(["reference"], memory_gib=MEMORY, budget_gib=23.0, cpus=3) == {
        "light": 3
    }
    # The repository's own figures.
    pools = kernels.job_pools(
        ["fa2", "cutlass-sm90"], memory_gib=dict(MATRIX.kernel_memory), budget_gib=10.0, cpus=8
    )
    assert pools == {"light": 8, "heavy": 2}


# -- plans ----------------------------------------------------------------------------------


def test_a_group_listed_twice_is_refused():
    with pytest.raises(ConfigError, match="arch group listed twice: sm90, sm90"):
        plans("sm90", "sm90")


def test_the_tree_is_configured_with_every_group_that_resolves():
    configured = kernels.configured_plans(MATRIX, plans("sm90"))
    assert [p.group.name for p in configured] == ["sm90", "sm80", "sm100"]  # requested first
    # CUDA 12.4 cannot build sm_100, nor fa4 (the DSL's CUDA 13 flavour) of sm90: those
    # groups are left out, the others stay.
    older = kernels.configured_plans(MATRIX, plans("sm80", cuda="12.4"))
    assert [p.group.name for p in older] == ["sm80"]


# -- CMake inputs ---------------------------------------------------------------------------


def test_cmake_inputs_carry_every_group_of_the_tree():
    d = inputs(kernels.configured_plans(MATRIX, plans("sm80", "sm90")))
    assert d["INFERCORE_KERNEL_GROUPS"] == "sm80;sm90;sm100"
    assert d["INFERCORE_KERNEL_PROFILE"] == "ci"
    assert d["INFERCORE_JOB_POOLS"] == "light=1;heavy=1"
    assert d["CMAKE_CUDA_COMPILER"] == "/cuda/bin/nvcc"
    assert d["CMAKE_CUDA_ARCHITECTURES"] == "100-real;100a-real;80-real;90-real;90a-real"
    assert d["INFERCORE_FA2_SOURCE_DIR"] == "/src/fa/csrc/flash_attn/src"
    assert d["INFERCORE_CUTLASS_DIR"] == "/src/cutlass"
    assert d["INFERCORE_FA2_HEADDIMS"] == "128" and d["INFERCORE_CUTLASS_SM90_FMHA_HEADDIMS"]

    assert d["INFERCORE_sm80_FAMILIES"] == "fa2"
    assert d["INFERCORE_sm80_FA2_ARCHITECTURES"] == "80-real"
    assert d["INFERCORE_sm80_FA2_CC_RANGE"] == "80;89"
    assert d["INFERCORE_sm80_REGISTRY_ARCHITECTURES"] == "80-real"

    assert d["INFERCORE_sm90_FAMILIES"] == "fa2;cutlass-sm90;fa4"
    assert d["INFERCORE_sm90_FA4_ARCHITECTURES"] == "90a-real"
    assert d["INFERCORE_sm90_FA2_ARCHITECTURES"] == "90-real"
    assert d["INFERCORE_sm90_CUTLASS_SM90_ARCHITECTURES"] == "90a-real"
    assert d["INFERCORE_sm90_CUTLASS_SM90_CC_RANGE"] == "90;90"
    assert d["INFERCORE_sm90_REGISTRY_ARCHITECTURES"] == "90-real;90a-real"

    # PTX: a ';' list that CMakeLists.txt must keep in one piece.
    assert d["INFERCORE_sm100_FA2_ARCHITECTURES"] == "100-real;100-virtual"
    assert d["INFERCORE_sm100_REGISTRY_ARCHITECTURES"] == "100-real;100a-real;100-virtual"
    assert d["INFERCORE_sm100_FA2_CC_RANGE"] == "100;999"
    assert not any(k.startswith(("INFERCORE_sm80_CUTLASS", "INFERCORE_sm100_CUTLASS")) for k in d)


def test_every_compile_goes_through_the_tu_monitor():
    report = Path("/b/tu-report.jsonl")
    launcher = kernels.launcher(report, None)
    monitor = Path(launcher[0])
    assert monitor.name == "tu_monitor.py" and os.access(monitor, os.X_OK)
    assert launcher == [str(monitor), str(report)]  # the cache off: the compiler next
    d = inputs(plans("sm80"))
    assert (
        d["CMAKE_CUDA_COMPILER_LAUNCHER"] == d["CMAKE_CXX_COMPILER_LAUNCHER"] == ";".join(launcher)
    )
    # With the cache on, the pinned ccache comes after the monitor, reading its config.
    cache = ccache.CompilerCache(
        binary=Path("/c/ccache"),
        config_file=Path("/b/ccache.conf"),
        settings=ccache.resolve(MATRIX, {}),
    )
    with_cache = kernels.launcher(report, cache)
    assert with_cache[:2] == launcher and with_cache[2:] == cache.launcher()
    assert cache.launcher() == ["/usr/bin/env", "CCACHE_CONFIGPATH=/b/ccache.conf", "/c/ccache"]


def test_a_group_of_only_the_hopper_family_gets_its_archs_and_no_fa2():
    matrix = with_hopperonly()
    (hopper,) = plans("hopperonly", matrix=matrix)
    alone = inputs([hopper])
    assert alone["INFERCORE_hopperonly_REGISTRY_ARCHITECTURES"] == "90a-real"
    assert alone["INFERCORE_hopperonly_FAMILIES"] == "cutlass-sm90"
    assert alone["INFERCORE_hopperonly_CUTLASS_SM90_ARCHITECTURES"] == "90a-real"
    assert alone["CMAKE_CUDA_ARCHITECTURES"] == "90a-real"
    assert not [k for k in alone if "FA2" in k and k != "INFERCORE_FA2_SOURCE_DIR"]
    # In the tree of every group, it keeps its own archs and still no FA2 of its own.
    every = inputs(kernels.configured_plans(matrix, [hopper]))
    assert every["INFERCORE_KERNEL_GROUPS"].split(";")[0] == "hopperonly"
    assert every["INFERCORE_hopperonly_REGISTRY_ARCHITECTURES"] == "90a-real"
    assert not [k for k in every if k.startswith("INFERCORE_hopperonly_FA2")]


# -- verification expectations ---------------------------------------------------------------


def build_of(plan, tmp_path):
    return kernels.KernelBuild(plan=plan, build_dir=tmp_path / "b", prefix=tmp_path / "install")


OBJECTS = [
    "registry.cu.o",
    "flash_fwd_hdim128_bf16_sm80.cu.o",
    "fa2_forward.cu.o",
    "gemm_sm90_bf16.cu.o",
    "fmha_sm90_hdim128_bf16_causal.cu.o",
]


def test_the_registry_is_expected_to_carry_the_union_of_the_groups_archs(tmp_path):
    (sm90,) = plans("sm90")
    sass, ptx, hopper = kernels.expectations(build_of(sm90, tmp_path), OBJECTS)
    assert sass["registry.cu.o"] == {"sm_90", "sm_90a"} and ptx["registry.cu.o"] == set()
    assert sass["flash_fwd_hdim128_bf16_sm80.cu.o"] == {"sm_90"}
    assert sass["fa2_forward.cu.o"] == {"sm_90"}
    assert sass["gemm_sm90_bf16.cu.o"] == sass["fmha_sm90_hdim128_bf16_causal.cu.o"] == {"sm_90a"}
    assert ptx["gemm_sm90_bf16.cu.o"] == set()  # never PTX for Hopper-only code
    assert hopper == ["gemm_sm90_bf16.cu.o", "fmha_sm90_hdim128_bf16_causal.cu.o"]

    # FA4's object: its device code is the DSL's embedded fatbins, checked one by one.
    sass, ptx, _ = kernels.expectations(build_of(sm90, tmp_path), ["infercore_fa4_sm90.o"])
    assert sass == {"infercore_fa4_sm90.o": set()} and ptx == {"infercore_fa4_sm90.o": set()}

    (sm100,) = plans("sm100")
    sass, ptx, hopper = kernels.expectations(build_of(sm100, tmp_path), OBJECTS[:3])
    assert sass["registry.cu.o"] == {"sm_100", "sm_100a"} and ptx["registry.cu.o"] == {"sm_100"}
    assert ptx["fa2_forward.cu.o"] == {"sm_100"} and hopper == []

    (only,) = plans("hopperonly", matrix=with_hopperonly())
    sass, ptx, hopper = kernels.expectations(build_of(only, tmp_path), ["registry.cu.o"])
    assert sass == {"registry.cu.o": {"sm_90a"}} and ptx == {"registry.cu.o": set()}


def test_kernel_build_paths(tmp_path):
    (sm90,) = plans("sm90")
    b = build_of(sm90, tmp_path)
    assert b.library == tmp_path / "install" / "lib" / "libinfercore_kernels_sm90.a"
    assert b.report_file == tmp_path / "install" / "share" / "infercore" / (
        "infercore_kernels_sm90.json"
    )


def test_a_library_identical_to_a_verified_one_is_not_inspected_again(tmp_path):
    (sm90,) = plans("sm90")
    b = build_of(sm90, tmp_path)
    b.library.parent.mkdir(parents=True)
    b.library.write_bytes(b"!<arch>\nnot inspected\n")
    saved = kernelverify.Verification(sass={"registry.cu.o": {"sm_90"}}, wgmma={"x.o": 3})
    stamp = b.prefix / "share" / "infercore" / "infercore_kernels_sm90.verified.json"
    stamp.parent.mkdir(parents=True)
    stamp.write_text(
        json.dumps({"sha256": sha256_file(b.library), "verification": saved.as_json()})
    )
    v = kernels.verify(b)  # cuobjdump would fail on these bytes: it is not run
    assert v.sass == {"registry.cu.o": {"sm_90"}} and v.wgmma == {"x.o": 3}


def test_records_are_attributed_to_their_group():
    groups = ["sm80", "sm90", "sm100"]
    of = kernels._group_of
    assert of("CMakeFiles/infercore_registry_sm100.dir/registry.cu.o", groups) == "sm100"
    assert of("CMakeFiles/infercore_fa2_sm90.dir/x/flash_fwd.cu.o", groups) == "sm90"
    assert of("CMakeFiles/infercore_fa2_entry_sm80.dir/fa2_entry.cu.o", groups) == "sm80"
    assert of("CMakeFiles/infercore_cutlass_sm90_sm90.dir/gemm_sm90_bf16.cu.o", groups) == "sm90"
    assert of("CMakeFiles/other.dir/x.o", groups) is None


# -- the schedule -------------------------------------------------------------------------


def records(*walls):
    return [
        {"object": f"t{i}.o", "wall_s": w, "peak_mib": 100, "cache": "miss"}
        for i, w in enumerate(walls)
    ]


def test_the_lower_bound_is_the_longest_tu_or_the_cpu_seconds_per_cpu():
    fig = kernels.schedule_figures(records(10.0, 30.0, 20.0), wall_s=40.0, cpus=2)
    assert fig["tus"] == 3 and fig["cpu_s"] == 60.0 and fig["longest_tu_s"] == 30.0
    assert fig["lower_bound_s"] == 30.0  # 60 CPU-s on 2 CPUs = 30 = the longest TU
    assert fig["ratio"] == 1.333 and fig["efficiency"] == 0.75
    # Many CPUs: the longest TU bounds the wall time.
    assert (
        kernels.schedule_figures(records(10.0, 30.0, 20.0), wall_s=30.0, cpus=16)["efficiency"]
        == 1.0
    )
    # One CPU: the CPU-seconds do.
    one = kernels.schedule_figures(records(10.0, 30.0, 20.0), wall_s=75.0, cpus=1)
    assert one["lower_bound_s"] == 60.0 and one["efficiency"] == 0.8


def test_an_empty_schedule_has_no_figures():
    fig = kernels.schedule_figures([], wall_s=0.0, cpus=4)
    assert fig == {
        "tus": 0,
        "cpu_s": 0.0,
        "longest_tu_s": 0.0,
        "lower_bound_s": 0.0,
        "wall_s": 0.0,
        "ratio": 0.0,
        "efficiency": 0.0,
    }


# -- run(): everything is checked before a tool runs ----------------------------------------


def run(paths, **kw):
    args = {"groups": ["sm90"], "profile": None, "cuda": None, "jobs": 1, "offline": True}
    return kernels.run(paths, MATRIX, LOCK, **{**args, **kw})


def test_bad_requests_fail_before_anything_is_built(tmp_paths):
    with pytest.raises(BuildError, match="unknown kernel arch group 'sm75'"):
        run(tmp_paths, groups=["sm75"])
    with pytest.raises(ConfigError, match="listed twice"):
        run(tmp_paths, groups=["sm90", "sm90"])
    with pytest.raises(BuildError, match="unknown kernel profile 'nightly'"):
        run(tmp_paths, profile="nightly")
    with pytest.raises(ConfigError, match=r"sm_100 needs a newer CUDA than 12\.4"):
        run(tmp_paths, groups=["sm100"], cuda="12.4")
    assert not tmp_paths.build.exists()


@pytest.mark.skipif(NVCC is None, reason="needs nvcc")
def test_a_cuda_version_other_than_the_installed_nvccs_is_refused(tmp_paths):
    installed = nvcc_tool.version(NVCC)
    other = "12.4" if installed != "12.4" else "12.8"
    with pytest.raises(ToolMissing, match=f"CUDA {other} was asked for") as info:
        run(tmp_paths, groups=["sm80"], cuda=other)
    assert f"--cuda {installed}" in info.value.fix
    assert not tmp_paths.build.exists()
