import re

from buildsys import project
from buildsys.errors import BuildError


def test_build_error_reads_what_why_fix():
    err = BuildError("no nvcc", why="looked on PATH", fix="install CUDA")
    assert str(err) == "no nvcc\n  why: looked on PATH\n  fix: install CUDA"


def test_version_and_build_requires_come_from_pyproject():
    assert re.fullmatch(r"\d+\.\d+\.\d+", project.version())
    assert any(r.startswith("scikit-build-core==") for r in project.build_requires())
    assert any(r.startswith("pybind11==") for r in project.build_requires())


def test_source_date_epoch_prefers_the_environment(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    assert project.source_date_epoch() == "1234"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert project.source_date_epoch().isdigit()
