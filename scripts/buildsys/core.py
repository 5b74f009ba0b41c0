"""The engine core: configured, built and installed once per target.

The core (C++ ops, CUDA kernels) does not depend on the Python version, so
every wheel links this one static library and compiles only its binding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import conan, cudaarch, kernelprofile, kernels, matrix, proc
from .errors import BuildError
from .matrix import Target
from .project import BUILD_DIR, ROOT, git_sha, load_toml, version
from .toolchain import nvcc_version


@dataclass(frozen=True)
class CoreBuild:
    target: Target
    build_dir: Path
    prefix: Path  # holds lib/cmake/infercore_core: INFERCORE_CORE_PREFIX for the wheels
    conan_defines: dict[str, str]  # Conan's toolchain (glog, pybind11): the wheels use it too


def cmake_defines(target: Target, *, nvcc: Path | None) -> dict[str, str]:
    defines = {
        "CMAKE_BUILD_TYPE": "Release",
        "INFERCORE_VERSION": version(),
        "INFERCORE_GIT_SHA": git_sha(),
        "INFERCORE_BUILD_PYTHON": "OFF",
        "INFERCORE_CUDA_ARCHS": ";".join(target.sass_archs),
        "INFERCORE_CUDA_PTX_ARCHS": ";".join(target.ptx_archs),
    }
    if target.is_cuda and nvcc is not None:
        defines["CMAKE_CUDA_COMPILER"] = str(nvcc)
    return defines


def check_cuda(target: Target, nvcc: Path | None) -> None:
    """A CUDA target needs a possible arch plan and nvcc of its CUDA version; fail before
    compiling."""
    if not target.is_cuda:
        return
    bm = matrix.load()
    cudaarch.resolve(
        cuda=str(target.cuda),
        archs=target.sass_archs,
        ptx=target.ptx_archs,
        families=["reference"],
        toolkits=bm.toolkits,
        family_table=bm.families,
    )
    if nvcc is None:
        raise BuildError(
            f"target {target.name} needs CUDA {target.cuda}, but nvcc was not found",
            why="looked at $CUDACXX, PATH and /usr/local/cuda/bin/nvcc",
            fix=f"install the CUDA {target.cuda} toolkit, or build the CPU target (--target auto)",
        )
    found = nvcc_version(nvcc)
    if found != target.cuda:
        raise BuildError(
            f"target {target.name} is pinned to CUDA {target.cuda}, but {nvcc} is CUDA {found}",
            fix=f"point CUDACXX at a CUDA {target.cuda} nvcc, or change cuda in build-matrix.toml",
        )


def build_kernels(
    target: Target, *, nvcc: Path, jobs: int, profile: str | None
) -> list[kernels.KernelBuild]:
    """The target's fast-kernel libraries, one per arch group (nox -s kernels-<group>)."""
    data = load_toml(matrix.MATRIX_FILE)
    profile = profile or target.kernel_profile
    if not target.kernel_archs or profile is None:
        return []
    plans = [
        kernelprofile.plan(group=g, profile=profile, cuda=str(target.cuda), data=data)
        for g in target.kernel_archs
    ]  # every plan is checked before anything compiles
    return [kernels.build(p, nvcc=nvcc, jobs=jobs) for p in plans]


def build_core(
    target: Target, *, nvcc: Path | None, jobs: int, log_dir: Path, profile: str | None = None
) -> CoreBuild:
    check_cuda(target, nvcc)
    deps = conan.install(target.name, jobs=jobs, log_dir=log_dir)  # seconds once cached
    built = build_kernels(target, nvcc=nvcc, jobs=jobs, profile=profile) if nvcc else []
    build_dir = BUILD_DIR / "core" / target.name
    prefix = BUILD_DIR / "core-install" / target.name
    defines = cmake_defines(target, nvcc=nvcc)
    defines["INFERCORE_KERNEL_GROUPS"] = ";".join(k.plan.group.name for k in built)
    defines["INFERCORE_KERNEL_PREFIXES"] = ";".join(str(k.prefix) for k in built)
    defines["CMAKE_INSTALL_PREFIX"] = str(prefix)
    log = log_dir / f"core-{target.name}.log"
    env = {"SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "")}
    configure = ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", *deps.cmake_args]
    configure += [f"-D{key}={value}" for key, value in defines.items()]
    # Same settings as last time: ninja re-runs CMake by itself if a CMake file changed.
    stamp = build_dir / "infercore-configure.txt"
    if not (
        stamp.exists()
        and stamp.read_text() == str(configure)
        and (build_dir / "build.ninja").exists()
    ):
        stamp.unlink(missing_ok=True)
        # New settings, fresh cache: CMake reads a toolchain file (Conan's) only when it
        # creates the cache, so a tree configured before would silently ignore it.
        (build_dir / "CMakeCache.txt").unlink(missing_ok=True)
        proc.run(configure, log=log, env=env, what="configuring the core (cmake)")
        stamp.write_text(str(configure))
    proc.run(
        ["cmake", "--build", build_dir, "--parallel", str(jobs)],
        log=log,
        env=env,
        what="compiling the core",
    )
    proc.run(["cmake", "--install", build_dir], log=log, what="installing the core")
    return CoreBuild(
        target=target, build_dir=build_dir, prefix=prefix, conan_defines=deps.cmake_defines
    )
