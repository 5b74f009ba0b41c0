"""Building one Python's wheel against the prebuilt core (only the binding compiles)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from .. import ccache
from ..engine.core import CoreBuild
from ..errors import BuildError
from ..host.interpreters import Interpreter
from ..util import runner
from ..util.fs import Stamp, atomic_write, locked
from ..util.paths import Paths
from ..util.project import build_requires, pin
from .sbom import FILENAME as SBOM_FILENAME


def uv() -> str:
    """The pinned uv of this environment (the buildsys group), found through its package
    rather than PATH, so a run outside nox uses the same one."""
    from uv import find_uv_bin

    return find_uv_bin()


def env_requirements(root: Path) -> list[str]:
    """What a wheel build env holds: the PEP 517 requires, the frontend, and ninja
    (--no-isolation builds do not get scikit-build-core's on-demand ninja)."""
    return [*build_requires(root), pin(root, "buildsys", "build"), pin(root, "buildsys", "ninja")]


def build_env(paths: Paths, interp: Interpreter, *, log: Path) -> Path:
    """A per-interpreter venv holding the build requirements, reused while they are unchanged."""
    env_dir = paths.tree("envs", interp.tag)
    python = env_dir / "bin" / "python"
    wanted = {"requirements": env_requirements(paths.root), "python": str(interp.path)}
    stamp = Stamp(env_dir / "infercore-requirements.json", outputs=(python,))
    # Another run in this checkout may be using or making the same env: one at a time.
    with locked(
        env_dir.parent / f".{interp.tag}.lock",
        label=interp.tag,
        what=f"setting up the {interp.tag} build environment",
    ):
        if not stamp.current(wanted):
            _make_env(paths, interp, env_dir, log=log)
            stamp.record(wanted)  # last: an interrupted setup is redone next time
    return python


def _make_env(paths: Paths, interp: Interpreter, env_dir: Path, *, log: Path) -> None:
    python = env_dir / "bin" / "python"
    shutil.rmtree(env_dir, ignore_errors=True)
    runner.call(
        [uv(), "venv", "--quiet", "--python", interp.path, env_dir],
        log=log,
        what=f"creating the {interp.tag} build environment",
    )
    runner.call(
        [uv(), "pip", "install", "--quiet", "--python", python, *env_requirements(paths.root)],
        log=log,
        what=f"installing {interp.tag} build requirements",
    )


def build_wheel(
    paths: Paths,
    interp: Interpreter,
    core: CoreBuild,
    *,
    out_dir: Path,
    jobs: int,
    env: Mapping[str, str],
    log: Path,
    sbom: str | None = None,
) -> Path:
    """One wheel of `interp` against `core`, into out_dir. sbom: the wheel's SBOM document
    (wheels/sbom.py), installed as .dist-info/sboms/infercore.cdx.json."""
    python = build_env(paths, interp, log=log)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A persistent per-Python build dir keeps re-runs incremental.
    build_dir = paths.tree("wheel", core.target.name, interp.tag)
    settings = {
        "build-dir": str(build_dir),
        "cmake.build-type": "Release",
        "cmake.define.INFERCORE_CORE_PREFIX": str(core.prefix),
        # glog (the core's) and pybind11 from Conan, not from the host or the build env.
        **{f"cmake.define.{key}": value for key, value in core.conan_defines.items()},
        **{
            f"cmake.define.{key}": value
            for key, value in ccache.cmake_defines(core.compiler_cache).items()
        },
    }
    sbom_file = build_dir / SBOM_FILENAME
    if sbom is not None:
        # csrc/python/CMakeLists.txt installs it into scikit-build-core's .dist-info.
        settings["cmake.define.INFERCORE_SBOM"] = str(sbom_file)
    # Settings changed since the last build here: start from a fresh CMake cache, since
    # CMake reads a toolchain file (Conan's) only when it creates the cache.
    stamp = Stamp(build_dir / "infercore-settings.json")
    cmd = [python, "-m", "build", "--wheel", "--no-isolation", "--outdir", out_dir]
    cmd += [f"-C{key}={value}" for key, value in settings.items()]
    with locked(
        build_dir.parent / f".{interp.tag}.lock",
        label=interp.tag,
        what=f"building the {interp.tag} wheel",
    ):
        if not stamp.current(settings):
            stamp.invalidate()
            (build_dir / "CMakeCache.txt").unlink(missing_ok=True)
        if sbom is not None:
            atomic_write(sbom_file, sbom)  # under the lock: this build's document
        runner.call(
            [*cmd, paths.root],
            log=log,
            cwd=paths.root,
            env={
                **env,
                **ccache.build_env(core.compiler_cache, build_dir),
                "CMAKE_BUILD_PARALLEL_LEVEL": str(jobs),
            },
            what=f"building the {interp.tag} wheel",
        )
        stamp.record(settings)
        ccache.report(interp.tag, ccache.summary(core.compiler_cache, build_dir))
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(
            f"the {interp.tag} build produced {len(wheels)} wheels in {out_dir}", fix=f"read {log}"
        )
    return wheels[0]
