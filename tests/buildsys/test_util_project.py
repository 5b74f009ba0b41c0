"""buildsys.util.project: version, pinned requirements and the commit, from the source tree."""

import re
import subprocess

import pytest
from buildsys.errors import ConfigError
from buildsys.util import project
from buildsys.util.paths import ROOT


def test_version_and_build_requires_come_from_pyproject():
    assert re.fullmatch(r"\d+\.\d+\.\d+", project.version(ROOT))
    assert project.version(ROOT) == project.pyproject(ROOT)["project"]["version"]
    assert any(r.startswith("scikit-build-core==") for r in project.build_requires(ROOT))
    assert any(r.startswith("pybind11==") for r in project.build_requires(ROOT))


def test_pin_reads_the_dependency_groups():
    assert re.fullmatch(r"ruff==\d+\.\d+\.\d+", project.pin(ROOT, "lint", "ruff"))
    assert re.fullmatch(r"conan==\d+\.\d+\.\d+", project.pin(ROOT, "conan", "conan"))
    with pytest.raises(ConfigError, match="lint has no black==VERSION pin") as info:
        project.pin(ROOT, "lint", "black")
    assert 'add "black==X.Y.Z" to the lint group' in info.value.fix


def test_source_date_epoch_prefers_the_environment():
    assert project.source_date_epoch(ROOT, {"SOURCE_DATE_EPOCH": "1234"}) == "1234"
    committed = project.source_date_epoch(ROOT, {})
    assert committed.isdigit()
    assert project.source_date_epoch(ROOT, {"SOURCE_DATE_EPOCH": ""}) == committed


def test_outside_git_the_fallbacks_are_fixed(tmp_path, monkeypatch):
    # The tmp dir may lie inside a checkout (nox puts it under .nox/): stop git there.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert project.source_date_epoch(tmp_path, {}) == project.DEFAULT_EPOCH
    assert project.git_sha(tmp_path) == "unknown"


def test_git_sha_names_the_commit_and_a_dirty_tree():
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")
    assert re.fullmatch(rf"{head}(\+dirty)?", project.git_sha(ROOT))


def test_git_sha_of_a_fresh_repository(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert project.git_sha(tmp_path) == sha.strip()
    (tmp_path / "f").write_text("2")
    assert project.git_sha(tmp_path) == sha.strip() + "+dirty"
    epoch = subprocess.run(
        [*git, "log", "-1", "--format=%ct"], capture_output=True, text=True
    ).stdout.strip()
    assert project.source_date_epoch(tmp_path, {}) == epoch
