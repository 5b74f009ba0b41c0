"""cibuildwheel's before-all, inside the release image: the core and kernels, once per cell.

Builds what every Python's wheel links (the core, and for a CUDA cell the kernel
libraries), then writes the static configuration the per-Python builds read: an initial
CMake cache (core prefix, Conan's toolchain, the SBOM directory) and one SBOM per Python.
Its build tree is mounted from the host, so a repeat run with nothing changed is served
from it, and the sources and pip caches are the host's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import ccache
from ..config import BuildMatrix, SourcesLock
from ..cuda.toolchain import Compiler
from ..engine.core import build_core
from ..util import console
from ..util.fs import atomic_write
from ..util.paths import Paths
from ..wheels import pipeline, sbom
from . import cells, cibw


def init_cache(settings: Mapping[str, str]) -> str:
    """An initial CMake cache (`cmake -C FILE`); FORCE, since the per-Python build trees
    persist and must follow a rebuilt core."""

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["# Written by release/prepare.py (cibuildwheel before-all): do not edit."]
    lines += [
        f'set({key} {quoted(value)} CACHE STRING "" FORCE)'
        for key, value in sorted(settings.items())
    ]
    return "\n".join(lines) + "\n"


def run(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    *,
    cell_name: str,
    pythons: Sequence[str],
    jobs: int,
    profile: str | None,
    compiler: Compiler,
) -> Path:
    """Build the cell's core; return the initial cache file every Python's build reads."""
    cell = cells.choose(matrix, cell=cell_name, target=cells.AUTO)
    target = cell.target
    nvcc = compiler.nvcc(str(cell.cell.cuda or target.cuda)) if target.is_cuda else None
    env = pipeline.build_environment(paths)
    image = pipeline.sbom_image(env)
    console.say("release", f"cell {cell.name}: the core, once for {', '.join(pythons)}")
    core = build_core(
        paths,
        matrix,
        lock,
        target,
        nvcc=nvcc,
        jobs=jobs,
        log_dir=paths.logs,
        env=env,
        profile=profile,
    )
    sbom_dir = paths.build / cibw.SBOM_DIR
    for version in pythons:
        tag = cibw.python_tag(version)
        document = sbom.for_wheel(
            paths, lock, core, python=tag, epoch=env["SOURCE_DATE_EPOCH"], image=image
        )
        atomic_write(sbom_dir / f"{tag}.cdx.json", document)
    settings = {
        "INFERCORE_CORE_PREFIX": str(core.prefix),
        "INFERCORE_SBOM_DIR": str(sbom_dir),
        **core.conan_defines,
        **ccache.cmake_defines(core.compiler_cache),
    }
    cache = paths.build / cibw.CORE_CACHE
    atomic_write(cache, init_cache(settings))
    console.say("release", f"core ready: {cache}", style="green")
    return cache
