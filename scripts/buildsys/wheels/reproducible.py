"""Two clean builds of the same commit, in different build trees, must give identical wheels."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ..errors import BuildError
from ..util import console, runner
from ..util.fs import sha256_file
from ..util.paths import Paths


def check(
    paths: Paths, *, python: str, target: str, toolchain: str = "host", via: str = "host"
) -> str:
    """Build twice from scratch (ccache off, fresh build trees) with the same --toolchain
    and pipeline (`via`: host, or cibuildwheel in the release image); return the common
    sha256. (The pinned toolchain lives in the sources cache, outside the build trees:
    both builds use the one assembled tree.)"""
    digests = []
    with tempfile.TemporaryDirectory(prefix="infercore-repro-") as tmp:
        for name in ("first", "second"):
            tree = Path(tmp) / name
            env = {
                "CCACHE_DISABLE": "1",
                "INFERCORE_BUILD_DIR": str(tree / "b"),
                "PYTHONPATH": str(paths.root / "scripts"),
            }
            console.say("repro", f"clean build {name} in {tree} ({via})")
            cmd = [
                sys.executable,
                "-m",
                "buildsys",
                "wheels",
                "--python",
                python,
                "--target",
                target,
                "--toolchain",
                toolchain,
                "--via",
                via,
                "--dist",
                tree / "dist",
            ]
            runner.call(
                cmd,
                what=f"the {name} clean build",
                cwd=paths.root,
                env=env,
                log=paths.logs / f"reproducible-{name}.log",
            )
            (wheel,) = (tree / "dist").glob("*.whl")
            digests.append((wheel.name, sha256_file(wheel)))
            console.say("repro", f"{wheel.name} sha256 {digests[-1][1]}")
    if digests[0] != digests[1]:
        raise BuildError(
            "two clean builds of the same commit gave different wheels",
            why=f"{digests[0]} vs {digests[1]}",
            fix="diff the unpacked wheels (diffoscope) to find the varying bytes",
        )
    console.say("repro", "identical: the build is reproducible", style="green")
    return digests[0][1]
