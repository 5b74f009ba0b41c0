"""The real `wheels` pipeline on this host (CPU target, so it takes seconds, not minutes)."""

import hashlib
import signal
import sys

import pytest

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
CPU = ["--target", "cpu-x86_64", "--python", PY]
# The engine-test results are cached by content: a wheel byte-identical to one tested
# before would pass at once, leaving no window to interrupt, and no test run to see.
RETEST = ["--retest"]

pytestmark = pytest.mark.integration


def _finish(proc, timeout=900):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_interrupted_run_publishes_nothing_then_a_full_run_publishes_a_tested_wheel(
    tmp_path, run_buildsys
):
    dist = tmp_path / "dist"
    proc = run_buildsys("wheels", *CPU, *RETEST, "--dist", str(dist), build_dir=tmp_path / "build")
    # Interrupt as soon as the wheel exists but before its tests have finished.
    for line in proc.stdout:
        if "repaired:" in line:
            proc.send_signal(signal.SIGINT)
            break
    code, out = _finish(proc)
    assert code != 0, out
    assert not list(dist.glob("*.whl")), "an untested wheel reached dist/"

    proc = run_buildsys("wheels", *CPU, *RETEST, "--dist", str(dist), build_dir=tmp_path / "build")
    code, out = _finish(proc)
    assert code == 0, out
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, out
    assert f"cp{PY.replace('.', '')}" in wheels[0].name and "manylinux" in wheels[0].name
    assert "tested in a fresh venv" in out and " passed, 0 failed" in out
    assert "not manylinux2014" in out  # the host policy is explained
    assert not list(dist.glob(".*")), "no temporary files are left in dist/"


def test_two_clean_builds_in_different_trees_give_identical_wheels(tmp_path, run_buildsys):
    digests = []
    for name in ("one", "two"):
        proc = run_buildsys(
            "wheels",
            *CPU,
            "--dist",
            str(tmp_path / name / "dist"),
            build_dir=tmp_path / name / "build",
            extra_env={"CCACHE_DISABLE": "1"},
        )  # truly clean compiles
        code, out = _finish(proc)
        assert code == 0, out
        (wheel,) = (tmp_path / name / "dist").glob("*.whl")
        digests.append(hashlib.sha256(wheel.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_unknown_target_fails_before_building(tmp_path, run_buildsys):
    proc = run_buildsys(
        "wheels", "--target", "sm75", "--dist", str(tmp_path / "d"), build_dir=tmp_path / "build"
    )
    code, out = _finish(proc, timeout=120)
    assert code == 1
    assert "unknown build target 'sm75'" in out and "fix:" in out
    assert not (tmp_path / "build" / "core").exists()
