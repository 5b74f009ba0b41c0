"""The CUDA compiler: where it is, its version, what it compiles."""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError
from ..util import runner

DEFAULT = Path("/usr/local/cuda/bin/nvcc")


def find(env: Mapping[str, str] | None = None) -> Path | None:
    """nvcc from CUDACXX, PATH or the default toolkit location."""
    env = os.environ if env is None else env
    if "CUDACXX" in env:
        value = env["CUDACXX"]
        path = Path(value)
        if not value.strip() or not path.is_file() or not os.access(path, os.X_OK):
            raise UsageError(
                f"CUDACXX={value!r} is not an executable file",
                why="CUDACXX names the nvcc to use",
                fix="point CUDACXX at nvcc (e.g. /usr/local/cuda/bin/nvcc), or unset it",
            )
        return path
    if path := shutil.which("nvcc", path=env.get("PATH")):
        return Path(path)
    return DEFAULT if DEFAULT.exists() else None


@functools.cache  # a toolkit does not change while buildsys runs
def version(nvcc: Path) -> str:
    """'13.0' from `nvcc --version`."""
    match = re.search(r"release (\d+\.\d+)", runner.probe([nvcc, "--version"]))
    return match.group(1) if match else "unknown"


@functools.cache
def real(nvcc: Path) -> Path:
    """See through wrapper scripts (e.g. /usr/local/bin/nvcc that execs the toolkit's):
    nvcc's dry run names the toolkit it belongs to."""
    dry_run = [nvcc, "-dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull]
    result = runner.call(dry_run, what="nvcc -dryrun", capture=True, check=False, echo=False)
    if m := re.search(r"^#\$ TOP=(.+)$", result.output, re.MULTILINE):
        candidate = (Path(m.group(1).strip()) / "bin" / "nvcc").resolve()
        if candidate.is_file():
            return candidate
    return nvcc.resolve()


def sass_targets(nvcc: Path) -> tuple[str, ...]:
    """What the installed nvcc says it compiles (`--list-gpu-code`), as arch numbers."""
    out = runner.probe([nvcc, "--list-gpu-code"])
    return tuple(sorted(set(re.findall(r"sm_(\d+)\b", out)), key=int))
