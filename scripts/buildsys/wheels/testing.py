"""Testing a wheel the way a user gets it: a fresh virtualenv, then the engine tests."""

from __future__ import annotations

import hashlib
import json
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import BuildError
from ..host.interpreters import Interpreter
from ..util import runner
from ..util.fs import atomic_write, sha256_file
from ..util.paths import Paths
from ..util.project import pyproject
from .build import uv


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


def test_wheel(
    paths: Paths, wheel: Path, interp: Interpreter, *, work_dir: Path, log: Path
) -> TestCounts:
    """Install `wheel` (with its [test] extra) into a new venv and run tests/engine there.

    uv makes the fresh venv cheap (about a second, from its cache), which keeps
    a repeated `nox -s wheels` fast without ever reusing an environment.
    """
    venv = work_dir / "venv"
    python = venv / "bin" / "python"
    runner.call(
        [uv(), "venv", "--quiet", "--python", interp.path, venv],
        log=log,
        what=f"creating a test venv for {interp.tag}",
    )
    runner.call(
        [
            uv(),
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
    runner.debug_pause("engine-tests")
    runner.call(
        [
            python,
            "-m",
            "pytest",
            paths.engine_tests,
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


def result_key(paths: Paths, wheel: Path, interp: Interpreter) -> str:
    """Everything a test result depends on: the wheel's bytes, the test files, the
    interpreter and the pinned test requirements."""
    digest = hashlib.sha256()
    digest.update(sha256_file(wheel).encode())
    for path in sorted(paths.engine_tests.rglob("*.py")):
        digest.update(f"{path.relative_to(paths.root)}:{sha256_file(path)}".encode())
    digest.update(f"{interp.path}:{interp.full_version}".encode())
    test_extra = pyproject(paths.root)["project"]["optional-dependencies"]["test"]
    digest.update(json.dumps(test_extra).encode())
    return digest.hexdigest()


def results_dir(paths: Paths) -> Path:
    return paths.build / "test-results"


def cached_result(paths: Paths, key: str) -> TestCounts | None:
    """The counts of an earlier passing run with exactly the same inputs, if any."""
    record = results_dir(paths) / f"{key}.json"
    if not record.exists():
        return None
    data = json.loads(record.read_text())
    return TestCounts(data["passed"], data["failed"], data["skipped"])


def remember_pass(paths: Paths, key: str, counts: TestCounts) -> None:
    record = {**asdict(counts), "at": time.strftime("%Y-%m-%d %H:%M:%S")}
    atomic_write(results_dir(paths) / f"{key}.json", json.dumps(record) + "\n")
