"""Pinned downloads: sources.lock.toml, a content-addressed cache, mirrors, offline use.

Every file is downloaded to a temp file in the cache, hashed while it streams,
and renamed to its sha256 only when the hash matches, so the cache never holds
bytes that were not verified. A file lock per hash keeps concurrent sessions
from racing on the same download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from ..config import Source, SourcesLock
from ..errors import SourceError, UsageError
from ..util import console, runner
from ..util.fs import CHUNK, copy_verified, inside, locked
from ..util.paths import Paths


def _download(url: str, dest: Path, label: str) -> str:
    """Stream url into dest, return its sha256."""
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "infercore-buildsys"})
    with urllib.request.urlopen(request, timeout=60) as response, dest.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done, last_report = 0, 0
        while chunk := response.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if total and done - last_report >= total // 4 and done < total:
                console.say(label, f"{done / 2**20:.1f} / {total / 2**20:.1f} MiB")
                last_report = done
    return digest.hexdigest()


def _from_mirror(src: Source, mirrors: list[Path], dest: Path) -> bool:
    for mirror in mirrors:
        for candidate in (mirror / src.filename, mirror / src.sha256):
            if candidate.is_file():
                if copy_verified(candidate, dest, src.sha256):
                    return True
                console.say(
                    src.name,
                    f"{candidate} does not match its pinned sha256: ignored",
                    style="yellow",
                )
    return False


def cached_path(paths: Paths, src: Source) -> Path:
    return paths.source_cache / "sha256" / src.sha256


def check_mirrors(mirrors: list[Path]) -> None:
    for mirror in mirrors:
        if not str(mirror).strip() or not mirror.is_dir():
            raise UsageError(
                f"--mirror {str(mirror)!r} is not a directory",
                fix="pass an existing directory of pinned files (nox -s sources -- "
                "--fill-mirror DIR writes one)",
            )


def fetch(
    paths: Paths, src: Source, *, offline: bool = False, mirrors: list[Path] | None = None
) -> Path:
    """The verified file for src, from the cache, a mirror, or its URLs (in order)."""
    final = cached_path(paths, src)
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(
        paths.source_cache / "locks" / f"{src.sha256}.lock", label=src.name, what="fetching it"
    ):
        if final.is_file():  # another session fetched it while we waited
            return final
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{src.sha256[:12]}-")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if _from_mirror(src, mirrors or [], tmp):
                os.replace(tmp, final)
                console.say(src.name, f"{src.filename} from a mirror, verified")
                return final
            if offline:
                raise SourceError(
                    f"{src.filename} ({src.name} {src.version}) is not available offline",
                    fix="run `nox -s sources` where the network is reachable, or pass --mirror",
                )
            errors = []
            for url in src.urls:
                runner.check_interrupted()
                console.say(src.name, f"downloading {url}")
                try:
                    actual = _download(url, tmp, src.name)
                except OSError as err:
                    errors.append(f"{url}: {err}")
                    continue
                if actual == src.sha256:
                    os.replace(tmp, final)
                    console.say(src.name, f"{src.filename} verified (sha256 {actual[:12]}...)")
                    return final
                errors.append(
                    f"{url}: sha256 mismatch for {src.filename}: expected "
                    f"{src.sha256}, got {actual}; the bytes were discarded"
                )
            raise SourceError(
                f"could not fetch a verified {src.filename} ({src.name} {src.version})",
                why="\n    " + "\n    ".join(errors),
                fix="check the network or the URL; if the upstream file really changed, "
                "review it and update sha256 in sources.lock.toml",
            )
        finally:
            tmp.unlink(missing_ok=True)


def _select(lock: SourcesLock, names: list[str] | None) -> list[Source]:
    wanted = names or list(lock.keys())
    unknown = [n for n in wanted if n not in lock]
    if unknown:
        raise UsageError(
            f"unknown source(s): {', '.join(unknown)}",
            why=f"sources.lock.toml pins: {', '.join(lock.keys())}",
            fix="name sources as they appear in sources.lock.toml, or none for all",
        )
    return [lock[n] for n in wanted]


def missing_offline(paths: Paths, sources: list[Source], mirrors: list[Path]) -> list[Source]:
    return [
        s
        for s in sources
        if not cached_path(paths, s).is_file()
        and not any((m / s.filename).is_file() or (m / s.sha256).is_file() for m in mirrors)
    ]


def fetch_all(
    paths: Paths,
    lock: SourcesLock,
    names: list[str] | None = None,
    *,
    offline: bool = False,
    mirrors: list[Path] | None = None,
) -> dict[str, Path]:
    mirrors = mirrors or []
    check_mirrors(mirrors)
    wanted = _select(lock, names)
    if offline and (missing := missing_offline(paths, wanted, mirrors)):
        listing = "\n    ".join(
            f"{s.name} {s.version}: {s.filename} (sha256 {s.sha256}) from {s.urls[0]}"
            for s in missing
        )
        raise SourceError(
            f"offline, and {len(missing)} pinned source(s) are neither in the "
            f"cache ({paths.source_cache}) nor in a mirror",
            why="\n    " + listing,
            fix="run `nox -s sources` where the network is reachable, or pass "
            "--mirror DIR holding these files (see `nox -s sources -- "
            "--fill-mirror DIR`)",
        )
    return {s.name: fetch(paths, s, offline=offline, mirrors=mirrors) for s in wanted}


def fill_mirror(
    paths: Paths, lock: SourcesLock, directory: Path, names: list[str] | None = None
) -> list[Path]:
    """Copy verified sources into directory (by file name) with a SHA256SUMS list."""
    if not str(directory).strip():
        raise UsageError("--fill-mirror '' names no directory", fix="pass a directory")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--fill-mirror {directory} is a file", fix="pass a directory")
    files = fetch_all(paths, lock, names)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, cached in files.items():
        dest = inside(directory, directory / lock[name].filename, what=f"mirror file of {name}")
        shutil.copyfile(cached, dest)
        written.append(dest)
    sums = "".join(f"{lock[n].sha256}  {lock[n].filename}\n" for n in files)
    (directory / "SHA256SUMS").write_text(sums)
    return written


def unpack(paths: Paths, src: Source, archive: Path) -> Path:
    """Extract once into build/sources/NAME-VERSION-SHA; return the source's root inside."""
    base = paths.unpacked_sources
    dest = inside(base, base / f"{src.name}-{src.version}-{src.sha256[:12]}", what=src.name)
    done = dest / ".infercore-unpacked"
    if not done.exists():
        with locked(base / f".{dest.name}.lock", label=src.name, what="unpacking it"):
            if not done.exists():
                _extract(src, archive, dest)
    root = dest / src.root
    if not root.is_dir():
        raise SourceError(
            f"{src.filename} has no {src.root}/ inside",
            fix="fix `root` for this source in sources.lock.toml",
        )
    return root


def _extract(src: Source, archive: Path, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        try:
            if src.kind == "wheel":
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
        except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as err:
            raise SourceError(
                f"{archive} ({src.filename}) could not be unpacked: {err}",
                fix=f"delete {archive} and run `nox -s sources` to fetch it again",
            ) from None
        (tmp / ".infercore-unpacked").write_text(src.sha256 + "\n")
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(paths: Paths, lock: SourcesLock, fetched: dict[str, Path]) -> dict[str, Path]:
    """Unpack each fetched source and print what the build will use."""
    from rich.table import Table

    roots = {name: unpack(paths, lock[name], path) for name, path in fetched.items()}
    table = Table(title=f"pinned sources (cache: {paths.source_cache})")
    for column in ("source", "version", "file", "sha256", "unpacked"):
        table.add_column(column)
    for name, root in roots.items():
        src = lock[name]
        shown = root.relative_to(paths.root) if root.is_relative_to(paths.root) else root
        table.add_row(name, src.version, src.filename, src.sha256[:16] + "...", str(shown))
    console.print(table)
    return roots
