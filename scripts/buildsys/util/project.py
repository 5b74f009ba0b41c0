"""Facts about the source tree: its version, pinned build requirements, its commit."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import runner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself may run on 3.10
    import tomli as tomllib

# A fixed fallback outside git (2020-01-01) keeps builds reproducible anyway.
DEFAULT_EPOCH = "1577836800"


@functools.cache
def pyproject(root: Path) -> dict[str, Any]:
    with (root / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def version(root: Path) -> str:
    return str(pyproject(root)["project"]["version"])


def build_requires(root: Path) -> list[str]:
    """The PEP 517 build requirements (pinned in pyproject.toml)."""
    return list(pyproject(root)["build-system"]["requires"])


def pin(root: Path, group: str, name: str) -> str:
    """A tool's pinned requirement `name==X` from pyproject's [dependency-groups]."""
    from ..errors import ConfigError

    for req in pyproject(root)["dependency-groups"][group]:
        if isinstance(req, str) and req.startswith(f"{name}=="):
            return req
    raise ConfigError(
        f"pyproject.toml's [dependency-groups] {group} has no {name}==VERSION pin",
        fix=f'add "{name}==X.Y.Z" to the {group} group',
    )


def _git(root: Path, *args: str) -> str | None:
    out = runner.probe(["git", "-C", root, *args]).strip()
    return out or None


GIT_SHA_ENV = "INFERCORE_GIT_SHA"


def git_sha(root: Path, env: Mapping[str, str] | None = None) -> str:
    """The commit being built, with '+dirty' when the work tree has changes; a tree
    without .git (cibuildwheel's copy of an export) gets it from $INFERCORE_GIT_SHA."""
    given = (os.environ if env is None else env).get(GIT_SHA_ENV, "").strip()
    if given:
        return given
    sha = _git(root, "rev-parse", "HEAD")
    if sha is None:
        return "unknown"
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    return f"{sha}+dirty" if dirty else sha


def source_date_epoch(root: Path, env: Mapping[str, str]) -> str:
    """SOURCE_DATE_EPOCH for reproducible archives: the environment's, else the commit time."""
    if env.get("SOURCE_DATE_EPOCH"):
        return env["SOURCE_DATE_EPOCH"]
    return _git(root, "log", "-1", "--format=%ct") or DEFAULT_EPOCH
