"""Testing a wheel the way a user gets it: a fresh virtualenv, then the engine tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from . import proc
from .errors import BuildError
from .project import ROOT
from .toolchain import Interpreter

ENGINE_TESTS = ROOT / "tests" / "engine"


@dataclass(frozen=True)
class TestCounts:
    passed: int
    failed: int
    skipped: int

    def __str__(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def read_junit(path: Path) -> TestCounts:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return TestCounts(passed=total - failed - skipped, failed=failed, skipped=skipped)


def test_wheel(wheel: Path, interp: Interpreter, *, work_dir: Path, log: Path) -> TestCounts:
    """Install `wheel` (with its [test] extra) into a new venv and run tests/engine there.

    uv makes the fresh venv cheap (about a second, from its cache), which keeps
    a repeated `nox -s wheels` fast without ever reusing an environment.
    """
    venv = work_dir / "venv"
    python = venv / "bin" / "python"
    proc.run(
        ["uv", "venv", "--quiet", "--python", interp.path, venv],
        log=log,
        what=f"creating a test venv for {interp.tag}",
    )
    proc.run(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            f"infercore[test] @ {wheel.resolve().as_uri()}",
        ],
        log=log,
        what=f"installing {wheel.name} into a fresh venv",
    )
    junit = work_dir / "junit.xml"
    # From a scratch cwd, so `import infercore` can only find the installed wheel.
    proc.run(
        [
            python,
            "-m",
            "pytest",
            ENGINE_TESTS,
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
        ],
        log=log,
        cwd=work_dir,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        what=f"engine tests against {wheel.name}",
    )
    counts = read_junit(junit)
    if counts.passed == 0:
        raise BuildError(f"no engine test ran against {wheel.name}", fix=f"read {log}")
    return counts
