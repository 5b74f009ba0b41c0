"""Two clean builds of the same commit, in different build trees, must give identical wheels."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import proc
from .errors import BuildError
from .project import ROOT
from .sources import sha256_of


def check(*, python: str, target: str) -> str:
    """Build twice from scratch (ccache off, fresh build trees); return the common sha256."""
    digests = []
    with tempfile.TemporaryDirectory(prefix="infercore-repro-") as tmp:
        for name in ("first", "second"):
            tree = Path(tmp) / name
            env = {
                **os.environ,
                "CCACHE_DISABLE": "1",
                "INFERCORE_BUILD_DIR": str(tree / "b"),
                "PYTHONPATH": str(ROOT / "scripts"),
            }
            proc.say("repro", f"clean build {name} in {tree}")
            cmd = [
                sys.executable,
                "-m",
                "buildsys",
                "wheels",
                "--python",
                python,
                "--target",
                target,
                "--dist",
                str(tree / "dist"),
            ]
            result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise BuildError(f"the {name} clean build failed", why=result.stderr[-3000:])
            (wheel,) = (tree / "dist").glob("*.whl")
            digests.append((wheel.name, sha256_of(wheel)))
            proc.say("repro", f"{wheel.name} sha256 {digests[-1][1]}")
    if digests[0] != digests[1]:
        raise BuildError(
            "two clean builds of the same commit gave different wheels",
            why=f"{digests[0]} vs {digests[1]}",
            fix="diff the unpacked wheels (diffoscope) to find the varying bytes",
        )
    proc.say("repro", "identical: the build is reproducible", style="green")
    return digests[0][1]
