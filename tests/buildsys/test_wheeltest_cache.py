"""Content-keyed engine-test results: reuse only for exactly the same inputs."""

from pathlib import Path

import pytest
from buildsys import wheeltest
from buildsys.toolchain import Interpreter
from buildsys.wheeltest import TestCounts as Counts


@pytest.fixture
def tree(tmp_path, monkeypatch):
    tests = tmp_path / "tests" / "engine"
    tests.mkdir(parents=True)
    (tests / "test_a.py").write_text("def test_a():\n    assert 1\n")
    monkeypatch.setattr(wheeltest, "ROOT", tmp_path)
    monkeypatch.setattr(wheeltest, "ENGINE_TESTS", tests)
    monkeypatch.setattr(wheeltest, "RESULTS", tmp_path / "results")
    wheel = tmp_path / "infercore-0.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"wheel bytes")
    return tmp_path, wheel


INTERP = Interpreter(version="3.11", path=Path("/usr/bin/python3.11"), full_version="3.11.7")


def test_a_pass_is_reused_for_identical_inputs(tree):
    _, wheel = tree
    key = wheeltest.result_key(wheel, INTERP)
    assert wheeltest.cached_result(key) is None
    wheeltest.remember_pass(key, Counts(5, 0, 1))
    assert wheeltest.cached_result(wheeltest.result_key(wheel, INTERP)) == Counts(5, 0, 1)


@pytest.mark.parametrize("change", ["wheel", "tests", "interpreter"])
def test_any_changed_input_means_a_new_key(tree, change):
    root, wheel = tree
    before = wheeltest.result_key(wheel, INTERP)
    interp = INTERP
    if change == "wheel":
        wheel.write_bytes(b"other wheel bytes")
    elif change == "tests":
        (root / "tests" / "engine" / "test_a.py").write_text("def test_a():\n    assert 2\n")
    else:
        interp = Interpreter(version="3.11", path=INTERP.path, full_version="3.11.8")
    assert wheeltest.result_key(wheel, interp) != before
