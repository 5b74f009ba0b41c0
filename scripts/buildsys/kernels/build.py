"""`nox -s kernels-smXX` and the wheels' kernels: arch-group libraries, built, verified.

Every group of a kernel profile is configured in one CMake tree
(build/kernels/PROFILE/build), so that building several groups (the CUDA target links
sm80 and sm90) compiles all their translation units in one ninja and one memory-sized
pool instead of one group after the other. Resolve (groups, profile, CUDA) against
build-matrix.toml, fetch the pinned sources, size the pool to the memory budget,
compile through the pinned ccache (buildsys.ccache) behind a launcher that records
every TU's cost,
install each group's library into its own prefix, verify it (SASS/PTX per arch,
wgmma, symbols) and print the build report with the schedule's efficiency.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from .. import ccache
from ..config import BuildMatrix, SourcesLock
from ..cuda.toolchain import Compiler
from ..errors import ConfigError, ToolMissing
from ..host import memory
from ..host import nvcc as nvcc_tool
from ..sources import cache as sources
from ..util import cmake, console, runner
from ..util.fs import atomic_write, locked, sha256_file
from ..util.paths import Paths
from . import fa4
from . import shard as sharding
from . import verify as kernelverify
from .profile import KernelPlan, plan

# The pinned sources (sources.lock.toml) every kernel library is compiled from: FA2's
# kernels, CUTLASS (CuTe, the Hopper FMHA and GEMM) and FA4's CuTe DSL sources. The
# wheels' SBOM lists them.
SOURCES = ("cutlass", "flash-attention", fa4.SOURCE)
# Generated CUTLASS TUs are named after what they hold (cmake/cutlass.cmake).
CUTLASS_OBJECT = re.compile(r"^(fmha|gemm)_sm90")
REGISTRY_OBJECT = "registry.cu.o"
HEAVY_FAMILIES = ("fa2", "cutlass-sm90", fa4.FAMILY)
# CMake target names of a group's code (csrc/kernels/CMakeLists.txt), longest first.
TARGET_PREFIXES = (
    "infercore_cutlass_sm90_",
    "infercore_fa2_entry_",
    "infercore_registry_",
    "infercore_kernels_",
    "infercore_fa2_",
    "infercore_fa4_",
)


@dataclass(frozen=True)
class KernelBuild:
    plan: KernelPlan
    build_dir: Path  # the profile's tree, shared by its groups
    prefix: Path  # this group's install prefix: lib/libinfercore_kernels_<group>.a

    @property
    def library(self) -> Path:
        return self.prefix / "lib" / f"lib{self.plan.library}.a"

    @property
    def report_file(self) -> Path:
        return self.prefix / "share" / "infercore" / f"{self.plan.library}.json"


def heavy_peak_gib(families: Sequence[str], memory_gib: dict[str, float]) -> float:
    """The largest measured peak of one heavy TU among `families` ([kernel-memory]); 0.0
    when none of them is heavy."""
    return max((memory_gib.get(f, 4.5) for f in families if f in HEAVY_FAMILIES), default=0.0)


def core_gib(memory_gib: dict[str, float]) -> float:
    """The peak of one of the engine's own TUs ([kernel-memory] core)."""
    return memory_gib.get("core", 1.0)


def job_pools(
    families: Sequence[str], *, memory_gib: dict[str, float], budget_gib: float, cpus: int
) -> dict[str, int]:
    """Ninja pool depths: `heavy` for every FA2 and CUTLASS TU of every group at once,
    as many as fit in the memory budget at the largest measured peak among the families
    present ([kernel-memory]); `light` (wrappers, registries) by CPU count. At least one
    heavy TU always runs, so a machine too small for one still builds, serially."""
    pools = {"light": cpus}
    if peak := heavy_peak_gib(families, memory_gib):
        budget = max(budget_gib - core_gib(memory_gib), 1.0)
        pools["heavy"] = max(1, min(cpus, math.floor(budget / peak)))
    return pools


def plans_for(
    matrix: BuildMatrix, groups: Sequence[str], *, profile: str, cuda: str
) -> list[KernelPlan]:
    """Every requested group's plan, all checked before anything compiles."""
    if len(set(groups)) != len(groups):
        raise ConfigError(f"arch group listed twice: {', '.join(groups)}")
    return [plan(group=g, profile=profile, cuda=cuda, matrix=matrix) for g in groups]


def configured_plans(matrix: BuildMatrix, requested: list[KernelPlan]) -> list[KernelPlan]:
    """The groups the profile's tree is configured with: every group of the matrix that
    resolves for this profile and CUDA version. The configure step then does not change
    between `kernels-sm90` and a wheel build of sm80+sm90, and only the requested
    libraries are compiled."""
    first = requested[0]
    out = {p.group.name: p for p in requested}
    for name in matrix.kernel_archs:
        if name in out:
            continue
        try:
            out[name] = plan(group=name, profile=first.profile.name, cuda=first.cuda, matrix=matrix)
        except ConfigError:
            continue  # e.g. a group this CUDA version cannot build: not configured
    return list(out.values())


def cmake_inputs(
    plans: list[KernelPlan],
    *,
    nvcc: Path,
    srcs: dict[str, Path],
    pools: dict[str, int],
    report: Path,
    launcher: list[str],
    fa4_inputs: fa4.Fa4Inputs | None = None,
) -> dict[str, str]:
    """The -D definitions of the profile's tree: shared profile lists, then per group."""
    profile_defines: dict[str, str] = {}
    for p in plans:
        profile_defines |= p.cmake_defines()
    groups = [p.group.name for p in plans]
    union = sorted({t for p in plans for ts in p.arch_plan.families.values() for t in ts})
    defines = {
        "CMAKE_BUILD_TYPE": "Release",
        "CMAKE_CUDA_COMPILER": str(nvcc),
        # Each target sets its own archs; this only satisfies CUDA's language check.
        "CMAKE_CUDA_ARCHITECTURES": ";".join(f"{t}-real" for t in union),
        "INFERCORE_KERNEL_GROUPS": ";".join(groups),
        "INFERCORE_FA2_SOURCE_DIR": str(srcs["flash-attention"] / "csrc" / "flash_attn" / "src"),
        "INFERCORE_CUTLASS_DIR": str(srcs["cutlass"]),
        "INFERCORE_JOB_POOLS": ";".join(f"{k}={v}" for k, v in pools.items()),
        "CMAKE_CUDA_COMPILER_LAUNCHER": ";".join(launcher),
        "CMAKE_CXX_COMPILER_LAUNCHER": ";".join(launcher),
        **profile_defines,
    }
    if fa4_inputs is not None:
        defines |= fa4.cmake_inputs(fa4_inputs, plans, report=report)
    for p in plans:
        g = p.group.name
        defines[f"INFERCORE_{g}_FAMILIES"] = ";".join(p.units)
        defines[f"INFERCORE_{g}_REGISTRY_ARCHITECTURES"] = p.arch_plan.union_architectures()
        for family in p.units:
            key = family.upper().replace("-", "_")
            lo, hi = p.cc_range(family)
            defines[f"INFERCORE_{g}_{key}_ARCHITECTURES"] = p.arch_plan.cmake_architectures(family)
            defines[f"INFERCORE_{g}_{key}_CC_RANGE"] = f"{lo};{hi}"
    return defines


def launcher(report: Path, cache: ccache.CompilerCache | None) -> list[str]:
    """Every compile goes through the TU monitor (time, memory, cache verdicts), then
    the pinned ccache unless it is turned off. The monitor runs by its own shebang
    (standard library only), not by this venv's Python: the compile commands, and so
    ninja's view of what is up to date, must not depend on which nox session
    configured the build."""
    out = [str(Path(__file__).with_name("tu_monitor.py")), str(report)]
    return out + (cache.launcher() if cache else [])


def source_dirs(paths: Paths, lock: SourcesLock, *, offline: bool = False) -> dict[str, Path]:
    return {
        name: sources.unpack(paths, lock[name], sources.fetch(paths, lock[name], offline=offline))
        for name in SOURCES
    }


def _group_of(obj: str, groups: Sequence[str]) -> str | None:
    for prefix in TARGET_PREFIXES:
        for g in groups:
            if f"CMakeFiles/{prefix}{g}.dir/" in obj:
                return g
    return None


class _Progress:
    """ninja's [n/m] lines as progress output (the TUs take minutes)."""

    PATTERN = re.compile(r"\[(\d+)/(\d+) ([\d.]+)s\] Building (\w+) object (\S+)")

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, line: str) -> None:
        if m := self.PATTERN.match(line):
            done, total, _, lang, obj = m.groups()
            console.say(self.label, f"[{done}/{total}] {lang} {Path(obj).name}")


def build(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    plans: list[KernelPlan],
    *,
    nvcc: Path,
    jobs: int | None = None,
    offline: bool = False,
    shard: sharding.Shard | None = None,
) -> list[KernelBuild]:
    """Build the libraries of `plans` (one profile, one CUDA version) in one pool.
    With `shard`, compile only that share of their TUs into the compiler cache and
    stop (no library: the unsharded build makes it, from the cache)."""
    start = time.monotonic()
    profile = plans[0].profile.name
    root = paths.tree("kernels", profile)
    tree = root / "build"
    label = "+".join(p.group.name for p in plans)
    log = paths.logs / f"kernels-{profile}-{label}.log"
    cpus = jobs or memory.cpus()
    budget = memory.budget_gib()
    configured = configured_plans(matrix, plans)
    families = sorted({f for p in configured for f in p.units})
    pools = job_pools(families, memory_gib=dict(matrix.kernel_memory), budget_gib=budget, cpus=cpus)
    units = sum(len(u) for p in plans for u in p.units.values())
    console.say(
        label,
        f"profile {profile}: {units} kernel TU(s) in one pool: "
        + "; ".join(
            f"{p.group.name} "
            + ", ".join(f"{f} for {'/'.join(p.arch_plan.families[f])}" for f in p.units)
            for p in plans
        )
        + f"; CUDA {plans[0].cuda}; pools {pools} for {budget:.0f} GiB, {cpus} CPUs",
    )
    srcs = source_dirs(paths, lock, offline=offline)
    cache = ccache.prepare(paths, matrix, lock, offline=offline)
    records_file = tree / "tu-report.jsonl"
    fa4_inputs = fa4.prepare(paths, lock, configured, plans, srcs=srcs, offline=offline, log=log)
    defines = cmake_inputs(
        configured,
        nvcc=nvcc_tool.real(nvcc),
        srcs=srcs,
        pools=pools,
        report=records_file,
        launcher=launcher(records_file, cache),
        fa4_inputs=fa4_inputs,
    )
    configure = [
        "cmake",
        "-S",
        paths.kernels_source,
        "-B",
        tree,
        "-G",
        "Ninja",
        *cmake.define_args(defines),
    ]
    builds = [
        KernelBuild(
            plan=p, build_dir=tree, prefix=paths.tree("kernels", profile, p.group.name, "install")
        )
        for p in plans
    ]
    # Two sessions building the same profile at once (nox -s tests beside nox -s wheels)
    # would write the same objects: the second waits for the first.
    with locked(root / ".build.lock", label=label, what=f"building the {profile} kernels"):
        cmake.configure(
            configure,
            tree,
            what=f"configuring the {profile} kernels (cmake)",
            log=log,
            fresh_cache=False,
        )
        records_file.unlink(missing_ok=True)
        if shard is not None:
            _compile_shard(tree, builds, shard, cache, cpus=cpus, label=label, log=log)
            return []
        compile_start = time.monotonic()
        for b in builds:  # a library that is rebuilt is unverified until verified again
            b.library.unlink(missing_ok=True)
        targets = [a for p in plans for a in ("--target", p.library)]
        runner.call(
            ["cmake", "--build", tree, "--parallel", str(cpus), *targets],
            what=f"compiling the {label} kernels",
            log=log,
            env={**ccache.build_env(cache, tree), "NINJA_STATUS": "[%f/%t %es] "},
            on_line=_Progress(label),
        )
        compile_s = time.monotonic() - compile_start
        ccache.report(label, ccache.summary(cache, tree))
        for b in builds:
            runner.call(
                [
                    "cmake",
                    "--install",
                    tree,
                    "--component",
                    b.plan.group.name,
                    "--prefix",
                    b.prefix,
                ],
                what=f"installing the {b.plan.group.name} kernels",
                log=log,
                echo=False,
            )
        records = _records(records_file)
        groups = [p.group.name for p in plans]
        for b in builds:
            mine = [r for r in records if _group_of(r["object"], groups) == b.plan.group.name]
            report(b, mine, verify(b), time.monotonic() - start)
        fig = schedule_report(records, wall_s=compile_s, cpus=cpus, label=label)
        atomic_write(root / f"schedule-{label}.json", json.dumps(fig, indent=2) + "\n")
    return builds


def _compile_shard(
    tree: Path,
    builds: list[KernelBuild],
    shard: sharding.Shard,
    cache: ccache.CompilerCache | None,
    *,
    cpus: int,
    label: str,
    log: Path,
) -> None:
    """Compile this shard's TUs of the groups (their objects, no archive) and say what
    went where."""
    start = time.monotonic()
    groups = [b.plan.group.name for b in builds]
    objects = {sharding.key(o): o for o in sharding.compile_outputs(tree) if _group_of(o, groups)}
    times = sharding.measured_times(b.report_file for b in builds)
    parts = sharding.partition(list(objects), times, shard.count)
    mine = parts[shard.index - 1]
    basis = f"balanced by {len(times)} measured TU time(s)" if times else "split by count"
    console.say(
        label,
        f"shard {shard}: {len(mine)} of {len(objects)} TU(s), {basis} "
        f"(partition {sharding.fingerprint(parts)}: every shard must print the same)",
    )
    if cache is None:
        raise ConfigError(
            f"--shard {shard} with the compiler cache turned off would compile for nothing",
            fix="unset INFERCORE_CCACHE=off (or set [ccache] enabled = true)",
        )
    if not cache.settings.remote:
        console.say(
            label,
            "warning: no ccache remote storage is configured, so this shard's objects "
            "stay in this machine's cache (set INFERCORE_CCACHE_REMOTE or [ccache] "
            "remote-storage to share them with the other shards' machines)",
            style="yellow",
        )
    if mine:
        runner.call(
            ["cmake", "--build", tree, "--parallel", str(cpus)]
            + [a for k in mine for a in ("--target", objects[k])],
            what=f"compiling shard {shard} of the {label} kernels",
            log=log,
            env={**ccache.build_env(cache, tree), "NINJA_STATUS": "[%f/%t %es] "},
            on_line=_Progress(label),
        )
    ccache.report(label, ccache.summary(cache, tree))
    console.say(
        label,
        f"shard {shard} done in {time.monotonic() - start:.1f}s: {len(mine)} TU(s) in the "
        "cache; the unsharded build links the libraries",
        style="green",
    )


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def schedule_figures(records: list[dict], *, wall_s: float, cpus: int) -> dict[str, float]:
    """How well the pool used the machine: the lower bound on the compile's wall time is
    max(longest TU, CPU-seconds / CPUs); efficiency = lower bound / wall time."""
    cpu_s = sum(r["wall_s"] for r in records)
    longest = max((r["wall_s"] for r in records), default=0.0)
    bound = max(longest, cpu_s / max(cpus, 1))
    return {
        "tus": len(records),
        "cpu_s": round(cpu_s, 1),
        "longest_tu_s": round(longest, 1),
        "lower_bound_s": round(bound, 1),
        "wall_s": round(wall_s, 1),
        "ratio": round(wall_s / bound, 3) if bound else 0.0,
        "efficiency": round(bound / wall_s, 3) if wall_s and bound else 0.0,
    }


def schedule_report(records: list[dict], *, wall_s: float, cpus: int, label: str) -> dict:
    fig = schedule_figures(records, wall_s=wall_s, cpus=cpus)
    if records:
        console.say(
            label,
            f"schedule: {fig['tus']} TU(s), {fig['cpu_s']} CPU-s on {cpus} CPUs, longest TU "
            f"{fig['longest_tu_s']} s: lower bound {fig['lower_bound_s']} s, compile wall "
            f"{fig['wall_s']} s = {fig['ratio']}x the bound ({fig['efficiency']:.0%} efficiency)",
        )
    return fig


def verify(build: KernelBuild) -> kernelverify.Verification:
    # A library byte-identical to one already verified is not inspected again (keeps a
    # no-op run fast: the SASS dump for the wgmma check takes seconds).
    stamp = build.prefix / "share" / "infercore" / f"{build.plan.library}.verified.json"
    digest = sha256_file(build.library)
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("sha256") == digest:
            return kernelverify.Verification(**saved["verification"])
    v = _verify(build)
    atomic_write(stamp, json.dumps({"sha256": digest, "verification": v.as_json()}))
    return v


def expectations(
    build: KernelBuild, objects: Sequence[str]
) -> tuple[dict[str, set[str]], dict[str, set[str]], list[str]]:
    """Per object: the SASS and PTX it must carry, and which are Hopper (wgmma) kernels."""
    families = build.plan.arch_plan.families
    ptx = {f"sm_{a}" for a in build.plan.arch_plan.ptx}

    def sass(targets: Sequence[str]) -> set[str]:
        return {f"sm_{t}" for t in targets}

    union = sorted({t for ts in families.values() for t in ts})
    expect_sass, expect_ptx, hopper = {}, {}, []
    for obj in objects:
        if CUTLASS_OBJECT.match(obj):
            expect_sass[obj], expect_ptx[obj] = sass(families.get("cutlass-sm90", ())), set()
            hopper.append(obj)
        elif fa4.is_object(obj):
            # Its device code is the DSL's embedded fatbins, which cuobjdump does not list:
            # checked one by one (verify.check_fatbins).
            expect_sass[obj], expect_ptx[obj] = set(), set()
        elif obj == REGISTRY_OBJECT:
            expect_sass[obj] = sass(union)
            expect_ptx[obj] = {p for p in ptx if p[3:] in union}
        else:
            fa2 = families.get("fa2", ())
            expect_sass[obj] = sass(fa2)
            expect_ptx[obj] = {p for p in ptx if p[3:] in fa2}
    return expect_sass, expect_ptx, hopper


def _verify(build: KernelBuild) -> kernelverify.Verification:
    plan = build.plan
    v = kernelverify.inspect(build.library, count_wgmma="cutlass-sm90" in plan.units)
    expect_sass, expect_ptx, hopper = expectations(build, list(v.sass))
    problems = kernelverify.check(
        v, expect_sass=expect_sass, expect_ptx=expect_ptx, hopper_objects=hopper
    )
    if variants := fa4.variants(plan):
        members = [m for m in kernelverify.archive_members(build.library) if fa4.is_object(m)]
        v.fatbins = kernelverify.inspect_fatbins(build.library, members, mma=fa4.MMA)
        expected = [variant.arch for variant in variants]
        problems += kernelverify.check_fatbins(v.fatbins, expected, mma=fa4.MMA)
    if problems:
        build.library.unlink()  # never leave an unverified library where the wheels look
        raise kernelverify.VerificationFailed(
            f"the {plan.group.name} kernel library failed verification",
            why="\n    ".join(["", *problems]),
            fix="read the build log; the library was removed so that nothing links it",
        )
    return v


def report(
    build: KernelBuild, records: list[dict], v: kernelverify.Verification, seconds: float
) -> dict:
    """Print one group's build report and return it (also written beside the library)."""
    table = Table(title=f"kernels {build.plan.group.name} (profile {build.plan.profile.name})")
    # "cache": ccache's verdict for a compiled TU, the export cache's for an FA4 variant.
    for col in ("translation unit", "wall s", "peak MiB", "cache"):
        table.add_column(col, justify="left" if col == "translation unit" else "right")
    slowest = sorted(records, key=lambda r: -r["wall_s"])
    for r in slowest:
        table.add_row(
            Path(r["object"]).name, f"{r['wall_s']:.1f}", f"{r['peak_mib']:.0f}", r["cache"]
        )
    hits = sum(r["cache"] == "hit" for r in records)
    summary = {
        "group": build.plan.group.name,
        "profile": build.plan.profile.name,
        "cuda": build.plan.cuda,
        "archs": dict(build.plan.arch_plan.families),
        "units": build.plan.units,
        "compiled": len(records),
        "cache_hits": hits,
        "compile_cpu_s": round(sum(r["wall_s"] for r in records), 1),
        "peak_tu_mib": max((r["peak_mib"] for r in records), default=0),
        "wall_s": round(seconds, 1),
        "library": str(build.library),
        "library_mib": round(build.library.stat().st_size / 2**20, 2),
        "sass": {k: sorted(s) for k, s in v.sass.items()},
        "wgmma": v.wgmma,
        "fa4": v.fatbins,
        "slowest": [Path(r["object"]).name for r in slowest[:3]],
        "tus": records,
    }
    if records:
        console.print(table)
    console.say(
        build.plan.group.name,
        f"{len(records)} TU(s) compiled ({hits} cache hits: ccache or FA4 exports), "
        f"{summary['compile_cpu_s']} s compile time, peak TU {summary['peak_tu_mib']:.0f} MiB; "
        f"library {summary['library_mib']} MiB, verified "
        f"(SASS per arch{', PTX' if build.plan.arch_plan.ptx else ''}"
        f"{', wgmma' if v.wgmma else ''}{', FA4 fatbins' if v.fatbins else ''}, symbols)",
        style="green",
    )
    atomic_write(build.report_file, json.dumps(summary, indent=2) + "\n")
    return summary


def require_nvcc(what: str, cuda: str, compiler: Compiler | None = None) -> Path:
    """The --toolchain choice's nvcc for CUDA `cuda`, of that version."""
    compiler = compiler or Compiler()
    found = compiler.nvcc(cuda)
    if found is None:
        raise ToolMissing(
            f"{what} needs nvcc",
            why=compiler.where(),
            fix="install the CUDA toolkit (the version in build-matrix.toml's CUDA target), "
            "or use the pinned one (--toolchain pinned)",
        )
    found_version = nvcc_tool.version(found)
    if cuda != found_version:
        raise ToolMissing(
            f"CUDA {cuda} was asked for, but {found} is CUDA {found_version}",
            fix=f"point CUDACXX at a CUDA {cuda} nvcc, or pass --cuda {found_version}",
        )
    return found


def run(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    *,
    groups: list[str],
    profile: str | None,
    cuda: str | None,
    jobs: int | None,
    offline: bool,
    compiler: Compiler | None = None,
    shard: sharding.Shard | None = None,
) -> list[KernelBuild]:
    """`nox -s kernels-<group>`: defaults from the CUDA target `nox -s wheels` would build."""
    plans = requested_plans(matrix, groups, profile=profile, cuda=cuda)  # before any tool
    label = "+".join(p.group.name for p in plans)
    nvcc = require_nvcc(f"kernels-{label}", plans[0].cuda, compiler)
    return build(paths, matrix, lock, plans, nvcc=nvcc, jobs=jobs, offline=offline, shard=shard)


def requested_plans(
    matrix: BuildMatrix, groups: Sequence[str], *, profile: str | None, cuda: str | None
) -> list[KernelPlan]:
    """The plans `buildsys kernels` asks for: unnamed groups, profile and CUDA version
    default to those of the CUDA target that `nox -s wheels` would build."""
    cuda_target = matrix.default_target(cuda_available=True)
    return plans_for(
        matrix,
        list(groups) or list(cuda_target.kernel_archs),
        profile=profile or cuda_target.kernel_profile or "ci",
        cuda=cuda or str(cuda_target.cuda),
    )
