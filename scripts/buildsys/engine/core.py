"""The engine core: configured, built and installed once per target.

The core (C++ ops, CUDA kernels) does not depend on the Python version, so every wheel
links this one static library and compiles only its binding.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import ccache
from ..config import BuildMatrix, SourcesLock, Target
from ..cuda import archs
from ..deps import conan
from ..errors import ToolMissing
from ..host import nvcc as nvcc_tool
from ..kernels import build as kernels
from ..util import cmake, console, runner
from ..util.fs import locked
from ..util.paths import Paths
from ..util.project import git_sha, version


@dataclass(frozen=True)
class CoreBuild:
    target: Target
    build_dir: Path
    prefix: Path  # holds lib/cmake/infercore_core: INFERCORE_CORE_PREFIX for the wheels
    conan_defines: dict[str, str]  # Conan's toolchain (glog, pybind11): the wheels use it too
    kernels: tuple[kernels.KernelBuild, ...] = ()
    deps: conan.Deps | None = None  # what Conan resolved (the wheels' SBOM lists it)
    # The launcher the core compiled with; the wheels' bindings compile with it too.
    compiler_cache: ccache.CompilerCache | None = None


def cmake_defines(paths: Paths, target: Target, *, nvcc: Path | None) -> dict[str, str]:
    defines = {
        "CMAKE_BUILD_TYPE": "Release",
        "INFERCORE_VERSION": version(paths.root),
        "INFERCORE_GIT_SHA": git_sha(paths.root),
        "INFERCORE_BUILD_PYTHON": "OFF",
        "INFERCORE_CUDA_ARCHS": ";".join(target.sass_archs),
        "INFERCORE_CUDA_PTX_ARCHS": ";".join(target.ptx_archs),
    }
    if target.is_cuda and nvcc is not None:
        defines["CMAKE_CUDA_COMPILER"] = str(nvcc)
    return defines


def check_cuda(matrix: BuildMatrix, target: Target, nvcc: Path | None) -> None:
    """A CUDA target needs a possible arch plan and nvcc of its CUDA version; fail before
    compiling."""
    if not target.is_cuda:
        return
    archs.resolve(
        cuda=str(target.cuda),
        archs=target.sass_archs,
        ptx=target.ptx_archs,
        families=["reference"],
        toolkits=matrix.toolkits,
        family_table=matrix.families,
    )
    if nvcc is None:
        raise ToolMissing(
            f"target {target.name} needs CUDA {target.cuda}, but nvcc was not found",
            why="looked at $CUDACXX, PATH and /usr/local/cuda/bin/nvcc",
            fix=f"install the CUDA {target.cuda} toolkit, use the pinned one (--toolchain "
            "pinned), or build the CPU target (--target auto)",
        )
    found = nvcc_tool.version(nvcc)
    if found != target.cuda:
        raise ToolMissing(
            f"target {target.name} is pinned to CUDA {target.cuda}, but {nvcc} is CUDA {found}",
            fix=f"point CUDACXX at a CUDA {target.cuda} nvcc, use the pinned one (--toolchain "
            "pinned), or change cuda in build-matrix.toml",
        )


def kernel_plans(matrix: BuildMatrix, target: Target, profile: str | None) -> list:
    """The plans of the target's fast-kernel libraries (checked before anything compiles)."""
    profile = profile or target.kernel_profile
    if not target.kernel_archs or profile is None:
        return []
    return kernels.plans_for(
        matrix, list(target.kernel_archs), profile=profile, cuda=str(target.cuda)
    )


def build_kernels(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    target: Target,
    *,
    nvcc: Path,
    jobs: int,
    profile: str | None,
) -> list[kernels.KernelBuild]:
    """The target's fast-kernel libraries, all its arch groups in one pool."""
    plans = kernel_plans(matrix, target, profile)
    return kernels.build(paths, matrix, lock, plans, nvcc=nvcc, jobs=jobs) if plans else []


def kernel_defines(built: list[kernels.KernelBuild]) -> dict[str, str]:
    return {
        "INFERCORE_KERNEL_GROUPS": ";".join(k.plan.group.name for k in built),
        "INFERCORE_KERNEL_PREFIXES": ";".join(str(k.prefix) for k in built),
    }


def build_core(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    target: Target,
    *,
    nvcc: Path | None,
    jobs: int,
    log_dir: Path,
    env: Mapping[str, str],
    profile: str | None = None,
) -> CoreBuild:
    start = time.monotonic()
    console.say("core", f"target {target.name}: {target.description}")
    check_cuda(matrix, target, nvcc)
    if nvcc is not None:
        kernel_plans(matrix, target, profile)  # an impossible profile fails before Conan
    c = conan.Conan(paths=paths, matrix=matrix, lock=lock)
    deps = conan.install(c, target.name, jobs=jobs, log_dir=log_dir)  # seconds once cached
    built = (
        build_kernels(paths, matrix, lock, target, nvcc=nvcc, jobs=jobs, profile=profile)
        if nvcc
        else []
    )
    build_dir = paths.tree("core", target.name)
    prefix = paths.tree("core-install", target.name)
    cache = ccache.prepare(paths, matrix, lock)
    defines = cmake_defines(paths, target, nvcc=nvcc) | kernel_defines(built)
    defines |= ccache.cmake_defines(cache)
    defines["CMAKE_INSTALL_PREFIX"] = str(prefix)
    log = log_dir / f"core-{target.name}.log"
    configure = ["cmake", "-S", paths.root, "-B", build_dir, "-G", "Ninja", *deps.cmake_args]
    configure += cmake.define_args(defines)
    with locked(
        build_dir.parent / f".{target.name}.lock",
        label="core",
        what=f"building the {target.name} core",
    ):
        cmake.configure(configure, build_dir, what="configuring the core (cmake)", log=log, env=env)
        runner.debug_pause("core-compile")
        runner.call(
            ["cmake", "--build", build_dir, "--parallel", str(jobs)],
            what="compiling the core",
            log=log,
            env={**env, **ccache.build_env(cache, build_dir)},
        )
        ccache.report("core", ccache.summary(cache, build_dir))
        runner.call(
            ["cmake", "--install", build_dir], what="installing the core", log=log, echo=False
        )
    console.say("core", f"built in {time.monotonic() - start:.1f}s -> {prefix}")
    return CoreBuild(
        target=target,
        build_dir=build_dir,
        prefix=prefix,
        conan_defines=deps.cmake_defines,
        kernels=tuple(built),
        deps=deps,
        compiler_cache=cache,
    )
