"""Free memory and disk against what the build will take: the kernel pool's measured
peaks ([kernel-memory], sized as kernels.build.job_pools sizes it) and an estimate of
the build tree's size (docs/BENCHMARKS.md, "Doctor")."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from ..errors import BuildError
from ..host import memory as host_memory
from ..kernels import build as kernels
from .context import Context
from .result import Result

# The build tree's size, measured here (du of a fresh clone's build/ after `.ci/run`):
# 398 MiB for the host pipeline's tree and one cibuildwheel cell's tree of its own, each
# with the unpacked sources (147 MiB), the core, Conan's packages built from source and
# the wheels; the ci profile's 13 kernel TUs took 13 MiB (objects, archives, install).
# The estimate is about 2.5x that, for a second target's Conan packages, one test venv
# per Python and the logs: 1 GiB, plus 8 MiB per kernel TU (release TUs are larger than
# ci's: 64 of them archive into 50 MiB of libraries, once more as objects and again in
# each install prefix and the cell's own tree).
BASE_GIB = 1.0
PER_TU_GIB = 8 / 1024
# Below this many times the estimate the build fits, but a second tree or the local
# ccache growing toward its max-size would not: a warning.
TIGHT = 2.0


def _families(ctx: Context) -> list[str]:
    """The kernel families the build's tree compiles: every group that resolves for the
    profile is configured (kernels.build.configured_plans); [] for a CPU target."""
    plans = ctx.kernel_plans
    if not plans:
        return []
    return sorted({f for p in kernels.configured_plans(ctx.matrix, plans) for f in p.units})


def memory_need(
    families: Sequence[str], *, memory_gib: dict[str, float], budget_gib: float, cpus: int
) -> tuple[int, float, float]:
    """(heavy TUs at once, GiB at the pool's peak, GiB of the smallest build): what
    job_pools runs at once, at the measured peak of each, plus one core TU."""
    pools = kernels.job_pools(families, memory_gib=memory_gib, budget_gib=budget_gib, cpus=cpus)
    depth = pools.get("heavy", 0)
    peak, core = kernels.heavy_peak_gib(families, memory_gib), kernels.core_gib(memory_gib)
    return depth, core + depth * peak, core + peak


def memory(ctx: Context, *, available_gib: float | None = None) -> Result:
    """available_gib: what may be allocated now (default: MemAvailable, or the cgroup's
    room); the pool is sized by total memory (budget_gib), so other processes' use is
    what this catches."""
    try:
        families = _families(ctx)
    except BuildError:
        return Result("memory", "skip", "no kernel plan to size (see the nvcc row)")
    available = host_memory.available_gib() if available_gib is None else available_gib
    table = dict(ctx.matrix.kernel_memory)
    budget = host_memory.budget_gib(ctx.env)
    cpus = ctx.jobs or host_memory.cpus()
    depth, need, smallest = memory_need(families, memory_gib=table, budget_gib=budget, cpus=cpus)
    peak = kernels.heavy_peak_gib(families, table)
    pool = (
        f"{depth} heavy TU(s) at once x {peak} GiB (the largest peak of "
        f"{', '.join(families)}) + core {kernels.core_gib(table)} GiB = {need:.1f} GiB"
        if depth
        else f"no kernel TUs (target {ctx.target.name}); core {need:.1f} GiB"
    )
    detail = f"{pool}; {available:.1f} GiB available (pool sized for {budget:.1f} GiB, {cpus} CPUs)"
    if available < smallest:
        return Result(
            "memory",
            "fail",
            f"not even one TU at a time fits: {smallest:.1f} GiB needed, {detail}",
            "free memory (stop other builds), or build on a machine with more",
        )
    if available < need:
        fits, _, _ = memory_need(families, memory_gib=table, budget_gib=available, cpus=cpus)
        return Result(
            "memory",
            "warn",
            f"the pool may not fit now: {detail}",
            f"set {host_memory.ENV}={available:.0f} (then {fits} heavy TU(s) at once), or free "
            "memory",
        )
    return Result("memory", "ok", detail)


def disk_need_gib(units: int) -> float:
    return BASE_GIB + units * PER_TU_GIB


def _existing(path: Path) -> Path:
    """The build tree, or the nearest directory above it that exists yet."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk(ctx: Context, *, free_gib: float | None = None) -> Result:
    """free_gib: free space on the build tree's filesystem (default: what statvfs says)."""
    try:
        units = sum(len(u) for p in ctx.kernel_plans for u in p.units.values())
    except BuildError:
        units = 0  # the nvcc row says why; the rest of the build still needs its space
    where = _existing(ctx.paths.build)
    free = shutil.disk_usage(where).free / 2**30 if free_gib is None else free_gib
    need = disk_need_gib(units)
    detail = (
        f"{free:.1f} GiB free at {where}; the build tree needs about {need:.1f} GiB "
        f"({BASE_GIB:.0f} GiB + {units} kernel TUs)"
    )
    fix = "free space there, or point INFERCORE_BUILD_DIR at a larger filesystem"
    if free < need:
        return Result("disk", "fail", detail, fix)
    if free < TIGHT * need:
        return Result("disk", "warn", f"tight: {detail}", fix)
    return Result("disk", "ok", detail)
