"""CMake helpers: configure a build tree again only when its inputs changed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from . import runner
from .fs import Stamp


def define_args(defines: Mapping[str, str]) -> list[str]:
    return [f"-D{key}={value}" for key, value in defines.items()]


def configure(
    args: list[str],
    build_dir: Path,
    *,
    what: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    fresh_cache: bool = True,
) -> bool:
    """Run the CMake configure `args` unless the tree was configured with exactly these
    arguments and environment. Returns whether it ran.

    fresh_cache: start from an empty CMakeCache.txt when the inputs changed: CMake reads
    a toolchain file (Conan's) only when it creates the cache, so a tree configured
    before would silently keep the old settings. ninja re-runs CMake by itself when a
    CMake file changes, so that case needs nothing here.
    """
    inputs = {"args": [str(a) for a in args], "env": dict(env or {})}
    stamp = Stamp(build_dir / "infercore-configure.json", outputs=(build_dir / "build.ninja",))
    if stamp.current(inputs):
        return False
    stamp.invalidate()
    if fresh_cache:
        (build_dir / "CMakeCache.txt").unlink(missing_ok=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    runner.call(args, what=what, log=log, env=env)
    stamp.record(inputs)
    return True
