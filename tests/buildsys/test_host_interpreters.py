"""buildsys.host.interpreters: CPython interpreters on this machine."""

import sys
from pathlib import Path

from buildsys.host import interpreters
from buildsys.host.interpreters import Interpreter

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_finds_the_running_interpreter_version():
    interp = interpreters.find(RUNNING)
    assert interp is not None
    assert interp.version == RUNNING
    assert interp.full_version.startswith(RUNNING + ".")
    assert interp.tag == "cp" + RUNNING.replace(".", "")
    assert interp.path.exists()


def test_missing_versions_are_reported_not_invented():
    found, missing = interpreters.find_all(["2.1"])
    assert found == [] and missing == ["2.1"]
    found, missing = interpreters.find_all([RUNNING, "2.1"])
    assert [i.version for i in found] == [RUNNING] and missing == ["2.1"]


def test_candidates_look_on_path_behind_pyenv_shims_and_in_manylinux(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    on_path = bin_dir / "python3.99"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    pyenv = tmp_path / "pyenv"
    for full in ("3.99.1", "3.99.10"):
        exe = pyenv / "versions" / full / "bin" / "python3.99"
        exe.parent.mkdir(parents=True)
        exe.write_text("")
    found = interpreters.candidates("3.99", {"PATH": str(bin_dir), "PYENV_ROOT": str(pyenv)})
    assert found[0] == on_path
    assert set(found[1:3]) == {
        pyenv / "versions" / "3.99.1" / "bin" / "python3.99",
        pyenv / "versions" / "3.99.10" / "bin" / "python3.99",
    }
    assert found[-1] == Path("/opt/python/cp399-cp399/bin/python")


def test_a_candidate_that_does_not_run_is_skipped(tmp_path, monkeypatch):
    shim = tmp_path / "python3.99"
    shim.write_text("#!/bin/sh\nexit 1\n")  # like a pyenv shim of a version not installed
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    assert interpreters.find("3.99") is None


def test_interpreter_tag():
    assert Interpreter("3.10", Path("/x"), "3.10.4").tag == "cp310"
