"""Shared by the Conan tests: an isolated Conan home, and whether conan can run here."""

from __future__ import annotations

from pathlib import Path

import pytest
from buildsys import conan
from buildsys.errors import BuildError


def have_conan() -> bool:
    try:
        conan.conan_exe()
    except BuildError:
        return False
    return True


needs_conan = pytest.mark.skipif(
    not have_conan(), reason="the pinned conan ([dependency-groups] conan) is not installed"
)


@pytest.fixture
def conan_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Conan home, sources cache and build tree of the test's own (nothing shared)."""
    home = tmp_path / "conan-home"
    monkeypatch.setenv("CONAN_HOME", str(home))
    monkeypatch.setenv("INFERCORE_SOURCE_CACHE", str(tmp_path / "sources-cache"))
    monkeypatch.delenv(conan.REMOTES_ENV, raising=False)
    monkeypatch.delenv(conan.BACKUP_ENV, raising=False)
    monkeypatch.setattr(conan, "BUILD_DIR", tmp_path / "build")
    return home
