"""Building one Python's wheel against the prebuilt core (only the binding compiles)."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import proc
from .core import CoreBuild
from .errors import BuildError
from .project import BUILD_DIR, ROOT, build_requires, pyproject
from .toolchain import Interpreter


def buildsys_pin(name: str) -> str:
    """A tool's pinned requirement from pyproject's [dependency-groups] buildsys."""
    for req in pyproject()["dependency-groups"]["buildsys"]:
        if req.startswith(f"{name}=="):
            return str(req)
    raise BuildError(f"pyproject.toml's [dependency-groups] buildsys has no {name}==VERSION pin")


def env_requirements() -> list[str]:
    """What a wheel build env holds: the PEP 517 requires, the frontend, and ninja
    (--no-isolation builds do not get scikit-build-core's on-demand ninja)."""
    return [*build_requires(), buildsys_pin("build"), buildsys_pin("ninja")]


def build_env(interp: Interpreter, *, log: Path) -> Path:
    """A per-interpreter venv holding the build requirements, reused while they are unchanged."""
    env_dir = BUILD_DIR / "envs" / interp.tag
    python = env_dir / "bin" / "python"
    wanted = "\n".join([*env_requirements(), str(interp.path)]) + "\n"
    stamp = env_dir / "infercore-requirements.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(env_dir, ignore_errors=True)
    proc.run(
        ["uv", "venv", "--quiet", "--python", interp.path, env_dir],
        log=log,
        what=f"creating the {interp.tag} build environment",
    )
    proc.run(
        ["uv", "pip", "install", "--quiet", "--python", python, *env_requirements()],
        log=log,
        what=f"installing {interp.tag} build requirements",
    )
    stamp.write_text(wanted)  # last: an interrupted setup is redone next time
    return python


def build_wheel(
    interp: Interpreter,
    core: CoreBuild,
    *,
    out_dir: Path,
    jobs: int,
    env: dict[str, str],
    log: Path,
) -> Path:
    python = build_env(interp, log=log)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A persistent per-Python build dir keeps re-runs incremental.
    build_dir = BUILD_DIR / "wheel" / core.target.name / interp.tag
    settings = {
        "build-dir": str(build_dir),
        "cmake.build-type": "Release",
        "cmake.define.INFERCORE_CORE_PREFIX": str(core.prefix),
        # glog (the core's) and pybind11 from Conan, not from the host or the build env.
        **{f"cmake.define.{key}": value for key, value in core.conan_defines.items()},
    }
    # Settings changed since the last build here: start from a fresh CMake cache, since
    # CMake reads a toolchain file (Conan's) only when it creates the cache.
    stamp = build_dir / "infercore-settings.txt"
    if not stamp.exists() or stamp.read_text() != repr(settings):
        (build_dir / "CMakeCache.txt").unlink(missing_ok=True)
    cmd = [python, "-m", "build", "--wheel", "--no-isolation", "--outdir", out_dir]
    cmd += [f"-C{key}={value}" for key, value in settings.items()]
    proc.run(
        [*cmd, ROOT],
        log=log,
        cwd=ROOT,
        env={**env, "CMAKE_BUILD_PARALLEL_LEVEL": str(jobs)},
        what=f"building the {interp.tag} wheel",
    )
    stamp.write_text(repr(settings))
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(
            f"the {interp.tag} build produced {len(wheels)} wheels in {out_dir}", fix=f"read {log}"
        )
    return wheels[0]
