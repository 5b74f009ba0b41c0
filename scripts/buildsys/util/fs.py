"""Files: atomic writes, sha256, file locks, input stamps, paths that must stay inside."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..errors import BuildError
from . import console

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write to a temporary file beside `path`, then rename over it: readers see the old
    content or the new, never part of one, even if the run is killed mid-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        # mkstemp creates 0600; a shared tree needs the process's usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def copy_verified(src: Path, dest: Path, sha256: str) -> bool:
    """Copy src to dest atomically if its bytes have the pinned sha256 (else leave dest
    alone and return False). Copies, never moves or links: src may be read-only or shared."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{sha256[:12]}-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(src, tmp)
        if sha256_file(tmp) != sha256:
            return False
        os.replace(tmp, dest)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` unless the file already holds it (timestamps then mean something)."""
    if path.is_file() and path.read_text() == text:
        return False
    atomic_write(path, text)
    return True


@contextlib.contextmanager
def locked(path: Path, *, label: str, what: str) -> Iterator[None]:
    """An exclusive lock on `path` (flock: released by the kernel even if the process is
    killed). Says so when it has to wait for another run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=1)
    except Timeout:
        console.say(label, f"waiting for another run that is {what} ({path})")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def inside(base: Path, path: Path, *, what: str) -> Path:
    """`path`, resolved, after checking that it lies under `base` (a name from a config
    file must never make a write land elsewhere)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise BuildError(
            f"{what}: {path} is outside {base}",
            why="a name from the configuration would make the write land outside its directory",
            fix="use a plain name (no '/', no '..') in build-matrix.toml / sources.lock.toml",
        )
    return resolved


class Stamp:
    """A record of the inputs a step last ran with ("configure again only if they changed").

    `current(inputs)` is true when the stamp holds exactly `inputs` (and every file in
    `outputs` exists); `record(inputs)` is written last, after the step succeeded, so an
    interrupted step is redone next time.
    """

    def __init__(self, path: Path, *, outputs: tuple[Path, ...] = ()) -> None:
        self.path = path
        self.outputs = outputs

    @staticmethod
    def _text(inputs: Any) -> str:
        return json.dumps(inputs, sort_keys=True, default=str, indent=1) + "\n"

    def current(self, inputs: Any) -> bool:
        try:
            same = self.path.read_text() == self._text(inputs)
        except OSError:
            return False
        return same and all(p.exists() for p in self.outputs)

    def invalidate(self) -> None:
        self.path.unlink(missing_ok=True)

    def record(self, inputs: Any) -> None:
        atomic_write(self.path, self._text(inputs))
