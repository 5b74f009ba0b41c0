"""buildsys.wheels.pipeline: what `nox -s wheels` checks before it builds anything."""

import sys
from pathlib import Path

import pytest
from buildsys import config
from buildsys.errors import BuildError, UsageError
from buildsys.host.interpreters import Interpreter
from buildsys.util.paths import ROOT
from buildsys.wheels import pipeline

MATRIX = config.load(ROOT).matrix
RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_a_python_the_matrix_does_not_build_is_refused():
    with pytest.raises(UsageError, match=r"--python 3\.9: not a version this project builds") as i:
        pipeline.choose_interpreters(MATRIX, ["3.9"])
    assert "3.10, 3.11, 3.12" in i.value.why
    with pytest.raises(UsageError, match=r"3\.9, 3\.13"):
        pipeline.choose_interpreters(MATRIX, ["3.11", "3.9", "3.13"])


def test_the_same_python_twice_is_refused():
    with pytest.raises(UsageError, match=r"--python lists a version twice \(3\.11, 3\.11\)"):
        pipeline.choose_interpreters(MATRIX, ["3.11", "3.11"])


@pytest.mark.skipif(RUNNING not in MATRIX.python_versions, reason="not a matrix Python")
def test_a_requested_python_is_found():
    (interp,) = pipeline.choose_interpreters(MATRIX, [RUNNING])
    assert isinstance(interp, Interpreter) and interp.version == RUNNING


def test_check_dist_refuses_a_file_and_an_empty_name(tmp_path):
    (tmp_path / "dist").write_text("")
    with pytest.raises(UsageError, match="is an existing file"):
        pipeline.check_dist(tmp_path / "dist")
    with pytest.raises(UsageError, match="--dist '' names no directory"):
        pipeline.check_dist("")  # the raw option text; Path("") would already be "."
    with pytest.raises(UsageError, match="names no directory"):
        pipeline.check_dist(Path("  "))
    pipeline.check_dist(tmp_path / "new-dist")  # not there yet: created on publish
    pipeline.check_dist(tmp_path)


def test_choose_target_names_or_auto(capsys):
    assert pipeline.choose_target(MATRIX, "cpu-x86_64", False).name == "cpu-x86_64"
    assert pipeline.choose_target(MATRIX, "auto", True).name == "cuda-x86_64"
    assert pipeline.choose_target(MATRIX, "auto", False).name == "cpu-x86_64"
    assert "nvcc not found" in capsys.readouterr().out  # it says why it chose CPU
    with pytest.raises(BuildError, match="unknown build target 'gpu'"):
        pipeline.choose_target(MATRIX, "gpu", False)


def test_the_build_environment_is_reproducible(monkeypatch):
    from buildsys.util.paths import Paths

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert pipeline.build_environment(Paths.from_env({}, root=ROOT)) == {
        "SOURCE_DATE_EPOCH": "1700000000"
    }


def test_check_wheel_enforces_the_size_budget(tmp_path):
    import zipfile

    wheel = tmp_path / "infercore-0.1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("infercore/__init__.py", "x" * 4096)
    pipeline.check_wheel(wheel, budget_mib=1, work_dir=tmp_path / "w")
    with pytest.raises(BuildError, match=r"over its 0\.001 MiB budget") as info:
        pipeline.check_wheel(wheel, budget_mib=0.001, work_dir=tmp_path / "w")
    assert "size-budget-mib" in info.value.why
