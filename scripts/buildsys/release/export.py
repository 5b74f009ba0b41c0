"""The tree cibuildwheel copies into its container: the checkout's files, nothing built.

cibuildwheel copies its whole working directory into the container (tar of `.`), so it
runs from an export: the files git tracks plus untracked ones it does not ignore, which
leaves out build/, dist/, .nox and caches (gigabytes). The commit is handed over in
$INFERCORE_GIT_SHA, since the export has no .git.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import UsageError
from ..util import runner


def files(root: Path) -> list[str]:
    """Paths relative to root: tracked, plus untracked and not ignored."""
    out = runner.probe(
        ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    )
    names = sorted({n for n in out.split("\0") if n})
    if not names:
        raise UsageError(
            f"{root} is not a git checkout (or git is missing)",
            why="the release build copies the files git knows into cibuildwheel's container",
            fix="run it from a clone of the repository, with git installed",
        )
    return names


def export(root: Path, dest: Path) -> int:
    """A fresh copy of `root`'s files in `dest` (modes and symlinks kept); the count."""
    shutil.rmtree(dest, ignore_errors=True)
    count = 0
    for name in files(root):
        src = root / name
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the work tree, not yet in git
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)
        count += 1
    return count
