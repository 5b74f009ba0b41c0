"""Building one Python's wheel against the prebuilt core (only the binding compiles)."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import proc
from .core import CoreBuild
from .errors import BuildError
from .project import BUILD_DIR, ROOT, build_requires, pyproject
from .toolchain import Interpreter


def frontend_requirement() -> str:
    """The pinned PEP 517 frontend (pypa/build), from pyproject's buildsys group."""
    for req in pyproject()["dependency-groups"]["buildsys"]:
        if req.startswith("build=="):
            return str(req)
    raise BuildError("pyproject.toml's [dependency-groups] buildsys has no build==VERSION pin")


def build_env(interp: Interpreter, *, log: Path) -> Path:
    """A per-interpreter venv holding the build requirements, reused while they are unchanged."""
    env_dir = BUILD_DIR / "envs" / interp.tag
    python = env_dir / "bin" / "python"
    wanted = "\n".join([*build_requires(), frontend_requirement(), str(interp.path)]) + "\n"
    stamp = env_dir / "infercore-requirements.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(env_dir, ignore_errors=True)
    proc.run(["uv", "venv", "--quiet", "--python", interp.path, env_dir], log=log,
             what=f"creating the {interp.tag} build environment")
    proc.run(["uv", "pip", "install", "--quiet", "--python", python, *build_requires(),
              frontend_requirement()], log=log, what=f"installing {interp.tag} build requirements")
    stamp.write_text(wanted)  # last: an interrupted setup is redone next time
    return python


def build_wheel(interp: Interpreter, core: CoreBuild, *, out_dir: Path, jobs: int,
                env: dict[str, str], log: Path) -> Path:
    python = build_env(interp, log=log)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A persistent per-Python build dir keeps re-runs incremental.
    build_dir = BUILD_DIR / "wheel" / core.target.name / interp.tag
    settings = {
        "build-dir": str(build_dir),
        "cmake.build-type": "Release",
        "cmake.define.INFERCORE_CORE_PREFIX": str(core.prefix),
    }
    cmd = [python, "-m", "build", "--wheel", "--no-isolation", "--outdir", out_dir]
    cmd += [f"-C{key}={value}" for key, value in settings.items()]
    proc.run([*cmd, ROOT], log=log, cwd=ROOT,
             env={**env, "CMAKE_BUILD_PARALLEL_LEVEL": str(jobs)},
             what=f"building the {interp.tag} wheel")
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"the {interp.tag} build produced {len(wheels)} wheels in {out_dir}",
                         fix=f"read {log}")
    return wheels[0]
