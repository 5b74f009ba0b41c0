"""Every arch group's kernel project configures and compiles its dispatch table.

The real CMake project (csrc/kernels) is configured once, as `nox -s kernels-<group>` and
the wheel builds configure it: every group of build-matrix.toml in one tree, ci profile,
CUDA 13.0, through kernels.build.configured_plans and cmake_inputs (the TU monitor as the
compiler launcher). Then only each group's registry.cu, which carries the group's
generated kernel lists and its arch text, is compiled (seconds, not the minutes of an FA2
translation unit). A group whose arch list holds PTX once broke here: the ';' of
"100-real;100-virtual" split a compile definition.

Requirement: a group of only cutlass-sm90 (or only a future family) plans, configures
and builds; its registry is built for the union of its families' archs.
"""

import copy
import json
import subprocess
from pathlib import Path

import pytest
from buildsys import config
from buildsys.errors import BuildError
from buildsys.host import nvcc as nvcc_tool
from buildsys.kernels import build as kernels
from buildsys.kernels import dsl_env, fa4, profile
from buildsys.util.paths import ROOT, Paths

CUDA = "13.0"
PROFILE = "ci"
POOLS = {"light": 1, "heavy": 1}
DATA = config.read_toml(ROOT / "build-matrix.toml")
CFG = config.load(ROOT)
MATRIX, LOCK = CFG.matrix, CFG.lock
GROUPS = sorted(MATRIX.kernel_archs)
NVCC = nvcc_tool.find()

needs_nvcc = pytest.mark.skipif(NVCC is None, reason="needs nvcc")


def hopperonly_matrix() -> config.BuildMatrix:
    data = copy.deepcopy(DATA)
    data["kernel-archs"]["hopperonly"] = {
        "description": "Hopper CUTLASS kernels only, no FA2",
        "archs": ["90"],
        "families": ["cutlass-sm90"],
    }
    return config.parse_matrix(data)


@pytest.fixture(scope="module")
def srcs(tmp_path_factory) -> dict[str, Path]:
    """The pinned sources from the user's cache, unpacked into a tree of the test's own."""
    cache = Paths.from_env().source_cache
    paths = Paths(root=ROOT, build=tmp_path_factory.mktemp("sources"), source_cache=cache)
    try:
        return kernels.source_dirs(paths, LOCK, offline=True)
    except BuildError:
        pytest.skip("the pinned sources are not in the cache (nox -s sources fetches them)")


def fa4_inputs(srcs: dict[str, Path], build_dir: Path) -> fa4.Fa4Inputs:
    """What the FA4 export commands are configured with; configuring exports nothing, so
    the tool environment need not exist."""
    return fa4.Fa4Inputs(
        source=fa4.source_dir(srcs[fa4.SOURCE]),
        fa4_sha256=LOCK[fa4.SOURCE].sha256,
        env=dsl_env.planned(Paths.from_env()),
        cache=build_dir / "exports",
    )


def configure(plans, build_dir: Path, srcs: dict[str, Path]) -> Path:
    report = build_dir / "tu-report.jsonl"
    defines = kernels.cmake_inputs(
        plans,
        nvcc=nvcc_tool.real(NVCC),
        srcs=srcs,
        pools=POOLS,
        report=report,
        launcher=kernels.launcher(report, None),
        fa4_inputs=fa4_inputs(srcs, build_dir),
    )
    cmd = ["cmake", "-S", str(ROOT / "csrc" / "kernels"), "-B", str(build_dir), "-G", "Ninja"]
    cmd += [f"-D{k}={v}" for k, v in defines.items()]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return build_dir


def registry_object(build_dir: Path, group: str) -> str:
    targets = subprocess.run(
        ["ninja", "-C", str(build_dir), "-t", "targets", "all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    prefix = f"CMakeFiles/infercore_registry_{group}.dir/"
    found = [
        name
        for name in (line.split(":")[0] for line in targets.splitlines())
        if name.startswith(prefix) and name.endswith("registry.cu.o")
    ]
    assert len(found) == 1, f"no single registry object for {group}: {found}"
    return found[0]


def compile_registry(build_dir: Path, group: str) -> dict:
    obj = registry_object(build_dir, group)
    built = subprocess.run(["ninja", "-C", str(build_dir), obj], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-4000:]
    assert (build_dir / obj).is_file()
    # The TU monitor recorded the compile (it is the launcher, as in the real build).
    records = [
        json.loads(line) for line in (build_dir / "tu-report.jsonl").read_text().splitlines()
    ]
    mine = [r for r in records if r["object"] == obj]
    assert mine and mine[-1]["rc"] == 0
    return mine[-1]


@pytest.fixture(scope="module")
def tree(srcs, tmp_path_factory) -> Path:
    """The ci profile's tree, configured once with every group of build-matrix.toml."""
    plans = kernels.configured_plans(
        MATRIX, kernels.plans_for(MATRIX, GROUPS, profile=PROFILE, cuda=CUDA)
    )
    assert sorted(p.group.name for p in plans) == GROUPS
    return configure(plans, tmp_path_factory.mktemp("kernels") / "build", srcs)


@needs_nvcc
@pytest.mark.parametrize("group", GROUPS)
def test_group_configures_and_compiles_its_registry(tree, group):
    compile_registry(tree, group)


@needs_nvcc
def test_the_tree_holds_every_groups_libraries(tree):
    cache = (tree / "CMakeCache.txt").read_text()
    assert f"INFERCORE_KERNEL_GROUPS:UNINITIALIZED={';'.join(GROUPS)}" in cache
    targets = subprocess.run(
        ["ninja", "-C", str(tree), "-t", "targets", "all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for group in GROUPS:
        assert f"libinfercore_kernels_{group}.a" in targets


@needs_nvcc
@pytest.mark.parametrize("group", ["sm90", "sm100"])
def test_fa4_exports_are_heavy_pool_jobs_through_the_tu_monitor(tree, group):
    """One custom command per variant, in the heavy pool beside the FA2/CUTLASS TUs, run
    by the TU monitor (time, peak memory, cache verdict in the build report)."""
    ninja = (tree / "build.ninja").read_text()
    blocks = [b for b in ninja.split("\n\n") if f"Building FA4 object infercore_fa4_{group}/" in b]
    assert len(blocks) == 2, f"{len(blocks)} FA4 export command(s) for {group}"
    for block in blocks:
        assert "pool = heavy" in block
        assert "tu_monitor.py" in block and "fa4_export.py" in block
        assert f"--arch sm_{group[2:]}a" in block
    # The dispatch table reads the generated list of the group's variants.
    listing = tree / f"infercore_fa4_{group}_entries" / "infercore_fa4_kernels.h"
    assert listing.read_text().count(f"X(infercore_{group}_fa4_hdim128_bf16") == 2


def test_a_hopper_only_group_plans_without_fa2():
    matrix = hopperonly_matrix()
    plan = profile.plan(group="hopperonly", profile=PROFILE, cuda=CUDA, matrix=matrix)
    assert set(plan.units) == {"cutlass-sm90"}
    assert plan.arch_plan.families == {"cutlass-sm90": ("90a",)}
    defines = kernels.cmake_inputs(
        kernels.configured_plans(matrix, [plan]),
        nvcc=Path("/usr/local/cuda/bin/nvcc"),
        srcs={"flash-attention": Path("/fa"), "cutlass": Path("/cutlass")},
        pools=POOLS,
        report=Path("/r.jsonl"),
        launcher=[],
    )
    assert defines["INFERCORE_hopperonly_REGISTRY_ARCHITECTURES"] == "90a-real"
    assert defines["INFERCORE_hopperonly_FAMILIES"] == "cutlass-sm90"
    assert not [k for k in defines if k.startswith("INFERCORE_hopperonly_FA2")]


@needs_nvcc
def test_a_hopper_only_group_configures_and_compiles_its_registry(srcs, tmp_path):
    matrix = hopperonly_matrix()
    (plan,) = kernels.plans_for(matrix, ["hopperonly"], profile=PROFILE, cuda=CUDA)
    # Alone in its tree: no FA2 definition reaches CMake at all.
    build_dir = configure([plan], tmp_path / "build", srcs)
    cache = (build_dir / "CMakeCache.txt").read_text()
    assert "INFERCORE_FA2_HEADDIMS" not in cache
    assert "INFERCORE_hopperonly_REGISTRY_ARCHITECTURES:UNINITIALIZED=90a-real" in cache
    compile_registry(build_dir, "hopperonly")
    ninja = (build_dir / "build.ninja").read_text()
    registry_rule = next(
        block
        for block in ninja.split("\n\n")
        if "infercore_registry_hopperonly.dir/registry.cu.o:" in block
    )
    assert "sm_90a" in registry_rule and "code=[sm_90]" not in registry_rule


@needs_nvcc
def test_every_groups_tus_are_split_among_the_shards(tree):
    """--shard I/N (kernels/shard.py) reads the TUs from the configured tree's ninja graph:
    every FA2, CUTLASS and registry TU of every group lands in exactly one share."""
    from buildsys.kernels import shard

    objects = shard.compile_outputs(tree)
    keys = [shard.key(o) for o in objects if kernels._group_of(o, GROUPS)]
    assert len(keys) == len(set(keys)), "a TU key must name one TU"
    for group in GROUPS:
        assert f"infercore_registry_{group}/registry.cu.o" in keys
    fa2 = [k for k in keys if k.startswith("infercore_fa2_sm80/")]
    assert fa2 and all("hdim128_bf16" in k for k in fa2)
    # The key holds no path of this checkout, though the FA2 objects' paths do.
    assert any(str(tree.parent) in o or "/tmp" in o for o in objects if "flash_fwd" in o)
    assert not any("/" in k.split("/", 1)[1] for k in keys)
    parts = shard.partition(keys, {}, 3)
    assert sorted(k for p in parts for k in p) == sorted(keys)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # by count, with no report
