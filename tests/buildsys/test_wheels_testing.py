"""buildsys.wheels.testing: junit counts, and content-keyed engine-test results that are
reused only for exactly the same inputs."""

import shutil
from pathlib import Path

import pytest
from buildsys.host.interpreters import Interpreter
from buildsys.util import project
from buildsys.util.paths import ROOT, Paths
from buildsys.wheels import testing as wheeltest
from buildsys.wheels.testing import TestCounts as Counts

INTERP = Interpreter(version="3.11", path=Path("/usr/bin/python3.11"), full_version="3.11.7")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "checkout"
    tests = root / "tests" / "engine"
    tests.mkdir(parents=True)
    (tests / "test_a.py").write_text("def test_a():\n    assert 1\n")
    shutil.copyfile(ROOT / "pyproject.toml", root / "pyproject.toml")
    paths = Paths(root=root, build=tmp_path / "build", source_cache=tmp_path / "cache")
    wheel = tmp_path / "infercore-0.1.0-cp311-cp311-linux_x86_64.whl"
    wheel.write_bytes(b"wheel bytes")
    yield paths, wheel
    project.pyproject.cache_clear()


def test_a_pass_is_reused_for_identical_inputs(tree):
    paths, wheel = tree
    key = wheeltest.result_key(paths, wheel, INTERP)
    assert wheeltest.cached_result(paths, key) is None
    wheeltest.remember_pass(paths, key, Counts(5, 0, 1))
    assert (wheeltest.results_dir(paths) / f"{key}.json").is_file()
    assert wheeltest.results_dir(paths) == paths.build / "test-results"
    again = wheeltest.result_key(paths, wheel, INTERP)
    assert wheeltest.cached_result(paths, again) == Counts(5, 0, 1)


@pytest.mark.parametrize("change", ["wheel", "tests", "new-test", "interpreter", "test-extra"])
def test_any_changed_input_means_a_new_key(tree, change):
    paths, wheel = tree
    before = wheeltest.result_key(paths, wheel, INTERP)
    interp = INTERP
    if change == "wheel":
        wheel.write_bytes(b"other wheel bytes")
    elif change == "tests":
        (paths.engine_tests / "test_a.py").write_text("def test_a():\n    assert 2\n")
    elif change == "new-test":
        (paths.engine_tests / "sub").mkdir()
        (paths.engine_tests / "sub" / "test_b.py").write_text("def test_b():\n    pass\n")
    elif change == "interpreter":
        interp = Interpreter(version="3.11", path=INTERP.path, full_version="3.11.8")
    else:
        text = paths.pyproject.read_text().replace(
            '"pytest==', '"pytest-xdist==3.8.0", "pytest==', 1
        )
        assert text != paths.pyproject.read_text()
        paths.pyproject.write_text(text)
        project.pyproject.cache_clear()
    assert wheeltest.result_key(paths, wheel, interp) != before


def test_junit_counts(tmp_path):
    junit = tmp_path / "j.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest" tests="10" failures="1" errors="1" skipped="3">'
        "</testsuite></testsuites>"
    )
    counts = wheeltest.read_junit(junit)
    assert (counts.passed, counts.failed, counts.skipped) == (5, 2, 3)
    assert str(counts) == "5 passed, 2 failed, 3 skipped"


def test_junit_with_one_suite_at_the_top(tmp_path):
    junit = tmp_path / "j.xml"
    junit.write_text('<testsuite name="pytest" tests="4" failures="0" errors="0" skipped="1"/>')
    assert wheeltest.read_junit(junit) == Counts(3, 0, 1)
