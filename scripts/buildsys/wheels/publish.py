"""Moving verified wheels into dist/: atomically, and only complete ones."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from packaging.utils import parse_wheel_filename

from ..util import runner

PARTIAL = ".partial"


def _python_tags(wheel: Path) -> set[str]:
    return {t.interpreter for t in parse_wheel_filename(wheel.name)[3]}


def clean_partials(dist: Path) -> None:
    """Drop leftovers of an interrupted publish (never named *.whl, so never mistaken)."""
    for leftover in dist.glob(f".*{PARTIAL}"):
        leftover.unlink(missing_ok=True)


def publish(wheels: list[Path], dist: Path, *, project: str = "infercore") -> list[Path]:
    """Copy each wheel to a hidden temp name in dist/, then rename it into place.

    A rename within one directory is atomic, so dist/ holds either the old
    wheel or the new one, never part of one, even if the run is killed here.
    Older wheels of this project for the same Python are removed afterwards.
    """
    dist.mkdir(parents=True, exist_ok=True)
    clean_partials(dist)
    staged = []
    try:
        for wheel in wheels:  # the slow part (copies), interruptible: nothing is published
            tmp = dist / f".{wheel.name}{PARTIAL}"
            shutil.copyfile(wheel, tmp)
            staged.append((tmp, dist / wheel.name))
        runner.debug_pause("publish")
        # The renames take microseconds: with SIGINT/SIGTERM held for them, a run
        # publishes all of its wheels or none.
        with runner.signals_deferred():
            runner.check_interrupted()
            for tmp, final in staged:
                os.replace(tmp, final)
            published = [final for _, final in staged]
            new_tags = set().union(*(_python_tags(w) for w in published)) if published else set()
            for old in dist.glob(f"{project}-*.whl"):
                if old not in published and _python_tags(old) & new_tags:
                    old.unlink()
    finally:
        clean_partials(dist)
    return published
