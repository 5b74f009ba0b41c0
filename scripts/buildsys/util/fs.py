"""Files: atomic writes, sha256, file locks, input stamps, paths that must stay inside."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..errors import BuildError
from . import console

CHUNK = 1 << 20
# Temporaries carry their owner: `.STEM.HOST.PID.RANDOM`, so that a later run can delete
# those of a process that died (SIGKILL, OOM, power loss) and leave a live one's alone.
_TEMP = re.compile(r"^\.(?P<stem>.+)\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[^.]+(?:\.tmp)?$")


def _host() -> str:
    return socket.gethostname().split(".")[0].replace(".", "_") or "host"


def temp_prefix(stem: str) -> str:
    return f".{stem}.{_host()}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _gone(host: str, pid: int) -> bool:
    """The owner (host, pid) of a temporary or a container is a process of this host that
    has ended: what it left behind is no live run's."""
    return host == _host() and not _alive(pid)


def owner_tag(unique: str) -> str:
    """`HOST.PID.UNIQUE`: names a thing (a container) by the process that made it, so
    that a later run can tell one a killed process left behind from a live run's."""
    return f"{_host()}.{os.getpid()}.{unique}"


def owner_is_dead(tag: str) -> bool:
    """True when `tag` (from owner_tag) names a process of this host that has gone;
    False for a live process, another host's, or a tag of another form."""
    host, _, rest = tag.partition(".")
    pid, _, unique = rest.partition(".")
    return pid.isdigit() and bool(unique) and _gone(host, int(pid))


def clean_stale_temps(directory: Path) -> list[Path]:
    """Delete the temporaries (files or trees) that dead processes of this host left in
    `directory`; return what was removed."""
    removed = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or not _gone(m["host"], int(m["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def usual_mode(path: Path | str, *, directory: bool = False) -> None:
    """mkstemp/mkdtemp create 0600/0700; a cache or tree shared by several users or CI
    jobs needs the process's usual permissions (its umask) instead."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def temp_file(directory: Path, stem: str) -> Path:
    """A new empty owner-tagged temporary file in `directory`, with the usual permissions."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=temp_prefix(stem))
    os.close(fd)
    usual_mode(name)
    return Path(name)


def temp_dir(directory: Path, stem: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = tempfile.mkdtemp(dir=directory, prefix=temp_prefix(stem))
    usual_mode(name, directory=True)
    return Path(name)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write to a temporary file beside `path`, then rename over it: readers see the old
    content or the new, never part of one, even if the run is killed mid-write."""
    tmp = temp_file(path.parent, path.name)
    try:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def copy_verified(src: Path, dest: Path, sha256: str) -> bool:
    """Copy src to dest atomically if its bytes have the pinned sha256 (else leave dest
    alone and return False). Copies, never moves or links: src may be read-only or shared."""
    tmp = temp_file(dest.parent, sha256[:12])
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
