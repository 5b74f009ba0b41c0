"""Finding the host's tools: CPython interpreters and the CUDA compiler."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Interpreter:
    version: str  # "3.11"
    path: Path
    full_version: str  # "3.11.7"

    @property
    def tag(self) -> str:
        return "cp" + self.version.replace(".", "")


def _probe(path: Path) -> str | None:
    """The interpreter's full version, or None when it does not run (e.g. a pyenv shim)."""
    try:
        out = subprocess.run(
            [str(path), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _candidates(version: str) -> list[Path]:
    names = [f"python{version}"]
    found = [Path(p) for name in names if (p := shutil.which(name))]
    # pyenv installs every version but shims only the global ones; look behind them.
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += sorted(
        (pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"), reverse=True
    )
    tag = "cp" + version.replace(".", "")
    found.append(Path(f"/opt/python/{tag}-{tag}/bin/python"))  # manylinux images
    return found


def find_interpreter(version: str) -> Interpreter | None:
    for path in _candidates(version):
        full = _probe(path) if path.exists() else None
        if full and full.startswith(version + "."):
            return Interpreter(version=version, path=path, full_version=full)
    return None


def find_interpreters(versions: list[str] | tuple[str, ...]) -> tuple[list[Interpreter], list[str]]:
    """(found interpreters, versions not found) for the requested versions."""
    found, missing = [], []
    for version in versions:
        interp = find_interpreter(version)
        if interp is None:
            missing.append(version)
        else:
            found.append(interp)
    return found, missing


def find_nvcc() -> Path | None:
    """nvcc from CUDACXX, PATH or the default toolkit location."""
    if os.environ.get("CUDACXX"):
        return Path(os.environ["CUDACXX"])
    if path := shutil.which("nvcc"):
        return Path(path)
    default = Path("/usr/local/cuda/bin/nvcc")
    return default if default.exists() else None


def nvcc_version(nvcc: Path) -> str:
    """'13.0' from `nvcc --version`."""
    out = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"release (\d+\.\d+)", out)
    return match.group(1) if match else "unknown"
