import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Tests that import buildsys itself (test_pinned_toolchain.py), as tests/buildsys does.
sys.path.insert(0, str(ROOT / "scripts"))


def buildsys(*args: str, build_dir: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """Start `python -m buildsys ARGS` with its own build tree; output is captured."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "scripts"),
        "INFERCORE_BUILD_DIR": str(build_dir),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "buildsys", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def run_buildsys():
    return buildsys
