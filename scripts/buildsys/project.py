"""Facts about the source tree: where it is, its version, its commit."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself may run on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
# INFERCORE_BUILD_DIR lets tests (and parallel checkouts) use a build tree of their own.
BUILD_DIR = Path(os.environ.get("INFERCORE_BUILD_DIR", ROOT / "build")).resolve()


def load_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


@functools.cache
def pyproject() -> dict[str, Any]:
    return load_toml(ROOT / "pyproject.toml")


def version() -> str:
    return str(pyproject()["project"]["version"])


def build_requires() -> list[str]:
    """The PEP 517 build requirements (pinned in pyproject.toml)."""
    return list(pyproject()["build-system"]["requires"])


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return out or None


def git_sha() -> str:
    """The commit being built, with '+dirty' when the work tree has changes."""
    sha = _git("rev-parse", "HEAD")
    if sha is None:
        return "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{sha}+dirty" if dirty else sha


def source_date_epoch() -> str:
    """SOURCE_DATE_EPOCH for reproducible archives: the environment's, else the commit time."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    # A fixed fallback (2020-01-01) outside git keeps builds reproducible anyway.
    return _git("log", "-1", "--format=%ct") or "1577836800"
