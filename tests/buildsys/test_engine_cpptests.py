"""buildsys.engine.cpptests: the target `nox -s cpp-tests` builds, and ctest's summary."""

import pytest
from buildsys import config
from buildsys.engine import cpptests
from buildsys.errors import BuildError, ToolMissing
from buildsys.host import nvcc as nvcc_tool
from buildsys.util.paths import ROOT

MATRIX = config.load(ROOT).matrix


def test_choose_target():
    assert cpptests.choose_target(MATRIX, "cpu").name == "cpu-x86_64"  # the default: no GPU
    expected = MATRIX.default_target(cuda_available=nvcc_tool.find() is not None)
    assert cpptests.choose_target(MATRIX, "auto") == expected
    assert cpptests.choose_target(MATRIX, "cpu-aarch64").name == "cpu-aarch64"
    with pytest.raises(BuildError, match="unknown build target 'cpu-x86'") as info:
        cpptests.choose_target(MATRIX, "cpu-x86")
    assert "did you mean 'cpu-x86_64'?" in str(info.value)


def test_a_cuda_target_without_nvcc_fails_before_conan(tmp_paths, tmp_path, monkeypatch):
    # A machine without CUDA: no CUDACXX, nothing on PATH, no default toolkit.
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CUDACXX", raising=False)
    monkeypatch.setattr(nvcc_tool, "DEFAULT", tmp_path / "no-cuda" / "nvcc")
    assert nvcc_tool.find() is None
    with pytest.raises(ToolMissing, match="nvcc was not found"):
        cpptests.run(tmp_paths, MATRIX, config.load(ROOT).lock, "cuda-x86_64", jobs=1)
    assert not tmp_paths.build.exists()


CTEST = """\
Test project /b/cpp-tests/cpu-x86_64
    Start 1: Ops.Add
1/3 Test #1: Ops.Add ..........................   Passed    0.01 sec
    Start 2: Ops.Mul
2/3 Test #2: Ops.Mul ..........................***Failed    0.02 sec
    Start 3: Log.Works
3/3 Test #3: Log.Works ........................   Passed    0.00 sec

67% tests passed, 1 tests failed out of 3

Total Test time (real) =   0.05 sec

The following tests FAILED:
\t  2 - Ops.Mul (Failed)
"""


def test_summary_drops_the_progress_of_passed_tests():
    summary = cpptests._summary(CTEST)
    assert "Start 1" not in summary and "Ops.Add ...." not in summary
    assert "Log.Works" not in summary
    assert "2/3 Test #2: Ops.Mul ..........................***Failed" in summary
    assert "67% tests passed, 1 tests failed out of 3" in summary
    assert "2 - Ops.Mul (Failed)" in summary
    assert summary.startswith("Test project") and summary == summary.strip()
