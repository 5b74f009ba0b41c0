"""Shared by the Conan tests: a Conan context with a home, sources cache and build tree of
the test's own, and whether the pinned conan can run here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from buildsys import config
from buildsys.deps import conan
from buildsys.errors import BuildError
from buildsys.util.paths import ROOT, Paths


def have_conan() -> bool:
    try:
        conan.conan_exe(ROOT)
    except BuildError:
        return False
    return True


needs_conan = pytest.mark.skipif(
    not have_conan(), reason="the pinned conan ([dependency-groups] conan) is not installed"
)


def context(
    tmp_path: Path,
    *,
    root: Path = ROOT,
    matrix: config.BuildMatrix | None = None,
    lock: config.SourcesLock | None = None,
    **env: str,
) -> conan.Conan:
    """The repository's configuration, or the one given, with nothing shared."""
    cfg = config.load(ROOT)
    base = {k: v for k, v in os.environ.items() if k not in (conan.REMOTES_ENV, conan.BACKUP_ENV)}
    base["CONAN_HOME"] = str(tmp_path / "conan-home")
    return conan.Conan(
        paths=Paths(root=root, build=tmp_path / "build", source_cache=tmp_path / "sources-cache"),
        matrix=matrix or cfg.matrix,
        lock=lock or cfg.lock,
        env={**base, **env},
    )


@pytest.fixture
def conan_ctx(tmp_path: Path) -> conan.Conan:
    return context(tmp_path)
