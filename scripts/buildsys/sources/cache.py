"""Pinned downloads: sources.lock.toml, a content-addressed cache, mirrors, offline use.

Every file is downloaded to a temp file in the cache, hashed while it streams,
and renamed to its sha256 only when the hash matches, so the cache never holds
bytes that were not verified. A file lock per hash keeps concurrent sessions
from racing on the same download.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from ..config import Source, SourcesLock
from ..errors import SourceError, UsageError
from ..util import console, runner
from ..util.fs import (
    CHUNK,
    atomic_write,
    clean_stale_temps,
    copy_verified,
    inside,
    locked,
    sha256_file,
    temp_dir,
    temp_file,
)
from ..util.paths import Paths


def _request(url: str, method: str = "GET") -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": "infercore-buildsys"}, method=method)


def reachable(url: str, *, timeout: float = 10.0) -> str:
    """What a HEAD request for `url` ran into, in words; "" when it succeeded (redirects
    followed). `doctor --network` asks this of each source the cache lacks."""
    try:
        with urllib.request.urlopen(_request(url, "HEAD"), timeout=timeout):
            return ""
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} {err.reason}"
    except (OSError, ValueError) as err:
        return str(getattr(err, "reason", err))


def _download(url: str, dest: Path, label: str) -> str:
    """Stream url into dest, return its sha256."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(_request(url), timeout=60) as response, dest.open("wb") as out:
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


def _record_path(final: Path) -> Path:
    return final.with_name(final.name + ".verified.json")


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _remember(final: Path) -> None:
    """Record the size and mtime of an entry just verified: later hits compare those
    (cheap) and hash again only when they changed."""
    atomic_write(_record_path(final), json.dumps(_stat_key(final)) + "\n")


def quarantine(paths: Paths, final: Path, src: Source, actual: str) -> Path:
    """Move a corrupt cache entry aside (never delete evidence, never use it)."""
    dest = paths.source_cache / "quarantine" / f"{final.name}.{time.strftime('%Y%m%d%H%M%S')}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(final, dest)
    _record_path(final).unlink(missing_ok=True)
    console.say(
        src.name,
        f"the cached {src.filename} is corrupt (sha256 {actual[:16]}..., pinned "
        f"{src.sha256[:16]}...): moved to {dest}, fetching it again",
        style="yellow",
    )
    return dest


def _trusted(paths: Paths, final: Path, src: Source, *, full: bool = False) -> bool:
    """Whether the cache entry holds the pinned bytes: its recorded size and mtime
    still match (cheap), or else (and always with `full`) its sha256 does. A corrupt
    entry is quarantined and reported as absent."""
    if not final.is_file():
        return False
    if not full:
        try:
            if json.loads(_record_path(final).read_text()) == _stat_key(final):
                return True
        except (OSError, ValueError):
            pass
    actual = sha256_file(final)
    if actual == src.sha256:
        _remember(final)
        return True
    quarantine(paths, final, src, actual)
    return False


def _insert(tmp: Path, final: Path) -> Path:
    os.replace(tmp, final)
    _remember(final)
    return final


def fetch(
    paths: Paths,
    src: Source,
    *,
    offline: bool = False,
    mirrors: list[Path] | None = None,
    verify: bool = False,
) -> Path:
    """The verified file for src, from the cache, a mirror, or its URLs (in order).

    verify: hash a cache hit in full even when its size and mtime are unchanged (bit rot
    changes neither)."""
    final = cached_path(paths, src)
    final.parent.mkdir(parents=True, exist_ok=True)
    with locked(
        paths.source_cache / "locks" / f"{src.sha256}.lock", label=src.name, what="fetching it"
    ):
        clean_stale_temps(final.parent)
        if _trusted(paths, final, src, full=verify):
            return final
        tmp = temp_file(final.parent, src.sha256[:12])
        try:
            if _from_mirror(src, mirrors or [], tmp):
                console.say(src.name, f"{src.filename} from a mirror, verified")
                return _insert(tmp, final)
            if offline:
                raise SourceError(
                    f"{src.filename} ({src.name} {src.version}) is not available offline",
                    why=f"it is not in the cache ({paths.source_cache}) as a verified file, "
                    "nor in a --mirror directory",
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
                    console.say(src.name, f"{src.filename} verified (sha256 {actual[:12]}...)")
                    return _insert(tmp, final)
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


def offline_error(paths: Paths, missing: list[Source]) -> SourceError:
    """What an offline run says of the sources missing_offline found."""
    listing = "\n    ".join(
        f"{s.name} {s.version}: {s.filename} (sha256 {s.sha256}) from {s.urls[0]}" for s in missing
    )
    return SourceError(
        f"offline, and {len(missing)} pinned source(s) are neither in the "
        f"cache ({paths.source_cache}) nor in a mirror",
        why="\n    " + listing,
        fix="run `nox -s sources` where the network is reachable, or pass "
        "--mirror DIR holding these files (see `nox -s sources -- "
        "--fill-mirror DIR`)",
    )


def fetch_all(
    paths: Paths,
    lock: SourcesLock,
    names: list[str] | None = None,
    *,
    offline: bool = False,
    mirrors: list[Path] | None = None,
    verify: bool = False,
) -> dict[str, Path]:
    mirrors = mirrors or []
    check_mirrors(mirrors)
    wanted = _select(lock, names)
    if offline and (missing := missing_offline(paths, wanted, mirrors)):
        raise offline_error(paths, missing)
    return {
        s.name: fetch(paths, s, offline=offline, mirrors=mirrors, verify=verify) for s in wanted
    }


def fill_mirror(
    paths: Paths, lock: SourcesLock, directory: Path, names: list[str] | None = None
) -> list[Path]:
    """Copy verified sources into directory (by file name) with a SHA256SUMS list."""
    if not str(directory).strip():
        raise UsageError("--fill-mirror '' names no directory", fix="pass a directory")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--fill-mirror {directory} is a file", fix="pass a directory")
    # verify=True: every file is hashed in full before it is copied, and copied only if
    # the copy hashes right too: a mirror never spreads a corrupt cache entry.
    files = fetch_all(paths, lock, names, verify=True)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, cached in files.items():
        src = lock[name]
        dest = inside(directory, directory / src.filename, what=f"mirror file of {name}")
        if not copy_verified(cached, dest, src.sha256):
            raise SourceError(
                f"{cached} changed while it was copied into the mirror",
                fix="run `nox -s sources -- --verify`, then fill the mirror again",
            )
        written.append(dest)
    sums = "".join(f"{lock[n].sha256}  {lock[n].filename}\n" for n in files)
    atomic_write(directory / "SHA256SUMS", sums)
    return written


def unpack(paths: Paths, src: Source, archive: Path) -> Path:
    """Extract once into build/sources/NAME-VERSION-SHA; return the source's root inside."""
    base = paths.unpacked_sources
    dest = inside(base, base / f"{src.name}-{src.version}-{src.sha256[:12]}", what=src.name)
    done = dest / ".infercore-unpacked"
    if not done.exists():
        with locked(base / f".{dest.name}.lock", label=src.name, what="unpacking it"):
            clean_stale_temps(base)
            if not done.exists():
                # Only verified bytes are unpacked (the hash costs little beside the
                # extraction, which happens once).
                actual = sha256_file(archive)
                if actual != src.sha256:
                    raise SourceError(
                        f"{archive} ({src.filename}) is not the pinned file (sha256 "
                        f"{actual[:16]}..., pinned {src.sha256[:16]}...): nothing was unpacked",
                        fix="run `nox -s sources -- --verify` (it quarantines the bad copy and "
                        "fetches it again)",
                    )
                _extract(src, archive, dest)
    root = dest / src.root
    if not root.is_dir():
        raise SourceError(
            f"{src.filename} has no {src.root}/ inside",
            fix="fix `root` for this source in sources.lock.toml",
        )
    return root


def _deb_data(archive: Path) -> io.BytesIO:
    """The data.tar.* member of a Debian package (an `ar` archive), so that any base,
    whatever its package manager, can take files out of a pinned .deb (tini-static)."""
    data = archive.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise tarfile.TarError("not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        name, size = header[:16].strip().rstrip(b"/"), int(header[48:58])
        if name.startswith(b"data.tar"):
            return io.BytesIO(data[offset + 60 : offset + 60 + size])
        offset += 60 + size + (size & 1)  # members are 2-byte aligned
    raise tarfile.TarError("the Debian package has no data.tar member")


def _extract(src: Source, archive: Path, dest: Path) -> None:
    """Into a temporary tree, then renamed into place with its done-marker inside: a
    tree that exists is complete."""
    shutil.rmtree(dest, ignore_errors=True)
    tmp = temp_dir(dest.parent, dest.name)
    try:
        try:
            if src.kind == "wheel":
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)
            elif src.kind == "deb":
                with tarfile.open(fileobj=_deb_data(archive)) as tf:
                    tf.extractall(tmp, filter="data")
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError) as err:
            raise SourceError(
                f"{archive} ({src.filename}) could not be unpacked: {err}",
                why=f"its bytes match the pin, so the pinned file is not a valid {src.kind} "
                "(or the disk failed while unpacking)",
                fix=f"check sources.lock.toml's entry for {src.name} (kind, URL, sha256) and "
                f"the free space under {dest.parent}",
            ) from None
        (tmp / ".infercore-unpacked").write_text(src.sha256 + "\n")
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(paths: Paths, lock: SourcesLock, fetched: dict[str, Path]) -> dict[str, Path]:
    """Unpack each fetched source and print what the build will use. A toolchain's wheels
    are not unpacked here: `python -m buildsys toolchain` assembles them (keeping file
    modes, which a plain unpack drops)."""
    from rich.table import Table

    roots = {
        name: unpack(paths, lock[name], path)
        for name, path in fetched.items()
        if lock[name].toolchain is None
    }
    table = Table(title=f"pinned sources (cache: {paths.source_cache})")
    for column in ("source", "version", "file", "sha256", "unpacked"):
        table.add_column(column)
    for name in fetched:
        src = lock[name]
        if name in roots:
            root = roots[name]
            shown = str(root.relative_to(paths.root) if root.is_relative_to(paths.root) else root)
        else:
            shown = f"toolchain {src.toolchain} (python -m buildsys toolchain)"
        table.add_row(name, src.version, src.filename, src.sha256[:16] + "...", shown)
    console.print(table)
    return roots
