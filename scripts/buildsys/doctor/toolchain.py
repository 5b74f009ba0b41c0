"""nvcc against the target's archs and kernel profile (the resolver), and the GPU driver."""

from __future__ import annotations

import re
import shutil

from ..config import version_tuple
from ..errors import BuildError, ConfigError, SourceError, ToolMissing
from ..host import nvcc as nvcc_tool
from ..kernels import build as kernels
from ..kernels.profile import KernelPlan
from ..sources import cache as sources
from ..util import runner
from .context import AUTO, Context
from .result import Result

NVCC = "nvcc"
DRIVER = "GPU driver"


def _plan_text(plans: list[KernelPlan]) -> str:
    """'sm80: fa2 80; sm90: fa2 90, cutlass-sm90 90a; 13 TUs'."""
    groups = "; ".join(
        f"{p.group.name}: " + ", ".join(f"{f} {'/'.join(p.arch_plan.families[f])}" for f in p.units)
        for p in plans
    )
    units = sum(len(u) for p in plans for u in p.units.values())
    return f"{groups}; {units} kernel TUs" if plans else "no kernel groups"


def nvcc(ctx: Context) -> Result:
    """The resolver's plan of (target archs, kernel profile, CUDA), then the nvcc a build
    would use: there, of the target's CUDA version, compiling every arch the plan needs."""
    t = ctx.target
    if not t.is_cuda:
        why = (
            " (`auto` found no nvcc, so it builds the CPU target)"
            if ctx.target_name == AUTO
            else ""
        )
        return Result(NVCC, "skip", f"target {t.name} is CPU-only: no nvcc needed{why}")
    cuda = str(t.cuda)
    try:
        plans = ctx.kernel_plans
    except BuildError as err:
        return Result.from_error(NVCC, err)  # the resolver's own what and fix
    what = f"{t.name}, profile {ctx.profile}: {_plan_text(plans)}"
    compiler = ctx.compiler
    if compiler.is_pinned:
        try:
            tc = compiler.toolchain(cuda)
        except BuildError as err:
            return Result.from_error(NVCC, err)
        if not tc.assembled:
            missing = sources.missing_offline(ctx.paths, list(tc.sources), list(ctx.mirrors))
            state = f"pinned {tc.name} (nvcc {tc.nvcc_version}) not assembled yet"
            if not missing:
                return Result(
                    NVCC,
                    "ok",
                    f"{state}: the first build assembles it from the cached wheels; {what}",
                )
            names = ", ".join(s.name for s in missing)
            if ctx.offline:
                err = SourceError(
                    f"{state}, and offline its wheels are missing: {names}",
                    fix="run `python -m buildsys toolchain` where the network is "
                    "reachable, or pass --mirror",
                )
                return Result.from_error(NVCC, err)
            return Result(
                NVCC,
                "warn",
                f"{state}; the first build fetches {names}; {what}",
                "fetch and assemble it now: `python -m buildsys toolchain`",
            )
        found = tc.nvcc
    else:
        try:
            found = kernels.require_nvcc(f"the {t.name} build", cuda, compiler)
        except BuildError as err:
            return Result.from_error(NVCC, err)
    wanted = {a.rstrip("a") for p in plans for ts in p.arch_plan.families.values() for a in ts}
    wanted |= set(t.sass_archs)
    have = nvcc_tool.sass_targets(found)
    lacking = sorted(wanted - set(have), key=int) if have else []
    if lacking:
        err = ConfigError(
            f"{found} (CUDA {cuda}) does not compile sm_{', sm_'.join(lacking)}, which "
            f"{t.name} needs",
            why=f"`nvcc --list-gpu-code` lists sm_{', sm_'.join(have)}, though build-matrix.toml "
            f'[cuda-toolkits."{cuda}"] says CUDA {cuda} compiles sm_{", sm_".join(lacking)}',
            fix=f'make [cuda-toolkits."{cuda}"] sass what this nvcc lists, or install a '
            f"complete CUDA {cuda} toolkit (--toolchain pinned)",
        )
        return Result.from_error(NVCC, err)
    return Result(NVCC, "ok", f"{found} (CUDA {nvcc_tool.version(found)}) for {what}")


def driver_cuda(header: str) -> str | None:
    """The CUDA version the driver supports, from nvidia-smi's banner ("CUDA Version: 13.0")."""
    m = re.search(r"CUDA Version:\s*(\d+\.\d+)", header)
    return m.group(1) if m else None


def gpus(csv: str) -> list[tuple[str, int]]:
    """(name, compute capability as 90) per line of `--query-gpu=name,compute_cap`."""
    out = []
    for line in csv.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and re.fullmatch(r"\d+\.\d", parts[1]):
            out.append((parts[0], int(parts[1].replace(".", ""))))
    return out


def driver(ctx: Context) -> Result:
    """Where a GPU is present: its driver runs the CUDA target's build (the GPU tests, the
    wheels), and the kernels compiled for it run on each GPU."""
    smi = shutil.which("nvidia-smi", path=ctx.env.get("PATH"))
    if smi is None:
        return Result(
            DRIVER, "skip", "no GPU here (nvidia-smi not found): the GPU tests do not run here"
        )
    cuda = driver_cuda(runner.probe([smi]))
    if cuda is None:
        return Result(
            DRIVER,
            "warn",
            f"{smi} reports no CUDA version: no GPU, or the driver is not loaded",
            "check `nvidia-smi`: the GPU tests need a working driver",
        )
    t = ctx.cuda_target
    need = str(t.cuda)
    if version_tuple(cuda)[0] < version_tuple(need)[0]:
        err = ToolMissing(
            f"the driver supports CUDA {cuda}, and {t.name} is built with CUDA {need}",
            why=f"a CUDA {need} build needs a driver of CUDA {version_tuple(need)[0]} or newer",
            fix=f"install an NVIDIA driver for CUDA {need} or newer",
        )
        return Result.from_error(DRIVER, err)
    found = gpus(runner.probe([smi, "--query-gpu=name,compute_cap", "--format=csv,noheader"]))
    try:
        plans = ctx.kernel_plans
    except BuildError:
        plans = []  # the nvcc row says why
    ranges = [p.cc_range(f) for p in plans for f in p.units]
    idle = [
        f"{n} (sm_{cc})" for n, cc in found if ranges and not any(a <= cc <= b for a, b in ranges)
    ]
    listed = ", ".join(f"{n} (sm_{cc})" for n, cc in found) or "no GPU listed"
    if idle:
        return Result(
            DRIVER,
            "warn",
            f"CUDA {cuda}; none of {t.name}'s kernels runs on {', '.join(idle)}",
            f"add an arch group for it to [targets.{t.name}] kernel-archs",
        )
    if version_tuple(cuda) < version_tuple(need):
        return Result(
            DRIVER,
            "warn",
            f"the driver supports CUDA {cuda}, below {need}: {listed} run the build through "
            "minor-version compatibility (no PTX JIT of newer code)",
            f"install a driver for CUDA {need}",
        )
    return Result(DRIVER, "ok", f"CUDA {cuda} (>= {need} for {t.name}); {listed}")
