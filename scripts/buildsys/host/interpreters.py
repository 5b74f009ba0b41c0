"""CPython interpreters on this machine (PATH, pyenv, manylinux's /opt/python)."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..util import runner


@dataclass(frozen=True)
class Interpreter:
    version: str  # "3.11"
    path: Path
    full_version: str  # "3.11.7"

    @property
    def tag(self) -> str:
        return "cp" + self.version.replace(".", "")


@functools.cache  # an interpreter's version does not change while buildsys runs
def _probe(path: Path) -> str | None:
    """The interpreter's full version, or None when it does not run (e.g. a pyenv shim)."""
    out = runner.probe([path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
    return out.strip() or None


def candidates(version: str, env: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if env is None else env
    found = [Path(p) for p in [shutil.which(f"python{version}", path=env.get("PATH"))] if p]
    # pyenv installs every version but shims only the global ones; look behind them.
    pyenv_root = Path(env.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += sorted(
        (pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"), reverse=True
    )
    tag = "cp" + version.replace(".", "")
    found.append(Path(f"/opt/python/{tag}-{tag}/bin/python"))  # manylinux images
    return found


def find(version: str) -> Interpreter | None:
    for path in candidates(version):
        full = _probe(path) if path.exists() else None
        if full and full.startswith(version + "."):
            return Interpreter(version=version, path=path, full_version=full)
    return None


def find_all(versions: list[str] | tuple[str, ...]) -> tuple[list[Interpreter], list[str]]:
    """(found interpreters, versions not found) for the requested versions."""
    found, missing = [], []
    for version in versions:
        interp = find(version)
        if interp is None:
            missing.append(version)
        else:
            found.append(interp)
    return found, missing
