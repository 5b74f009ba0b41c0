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
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from . import proc
from .errors import BuildError
from .project import BUILD_DIR, ROOT, load_toml

LOCK_FILE = ROOT / "sources.lock.toml"
KINDS = ("wheel", "sdist", "tarball")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    name: str
    version: str
    kind: str
    filename: str
    sha256: str
    urls: tuple[str, ...]
    root: str = ""
    upstream: str = ""


def parse_lock(data: dict) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for i, entry in enumerate(data.get("source", [])):
        where = f"sources.lock.toml [[source]] #{i + 1} ({entry.get('name', '?')})"
        missing = [
            k for k in ("name", "version", "kind", "filename", "sha256", "urls") if k not in entry
        ]
        if missing:
            raise BuildError(
                f"{where} lacks {', '.join(missing)}",
                fix="every source needs name, version, kind, filename, sha256, urls",
            )
        sha = str(entry["sha256"]).lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise BuildError(f"{where}: sha256 {entry['sha256']!r} is not 64 hex digits")
        if entry["kind"] not in KINDS:
            raise BuildError(f"{where}: kind {entry['kind']!r}", why=f"expected one of {KINDS}")
        if not entry["urls"]:
            raise BuildError(f"{where} has no urls", fix="list at least one URL")
        if entry["name"] in sources:
            raise BuildError(f"{where}: the name {entry['name']!r} is pinned twice")
        sources[entry["name"]] = Source(
            name=entry["name"],
            version=str(entry["version"]),
            kind=entry["kind"],
            filename=entry["filename"],
            sha256=sha,
            urls=tuple(entry["urls"]),
            root=entry.get("root", ""),
            upstream=entry.get("upstream", ""),
        )
    return sources


def load_lock(path: Path | None = None) -> dict[str, Source]:
    return parse_lock(load_toml(path or LOCK_FILE))


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "infercore" / "sources"
    return Path(os.environ.get("INFERCORE_SOURCE_CACHE", default))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
                proc.say(label, f"{done / 2**20:.1f} / {total / 2**20:.1f} MiB")
                last_report = done
    return digest.hexdigest()


def _from_mirror(src: Source, mirrors: list[Path], dest: Path) -> bool:
    for mirror in mirrors:
        for candidate in (mirror / src.filename, mirror / src.sha256):
            if candidate.is_file():
                # Copy, never move or link: the mirror may be read-only or shared.
                shutil.copyfile(candidate, dest)
                if sha256_of(dest) == src.sha256:
                    return True
                proc.say(
                    src.name,
                    f"{candidate} does not match its pinned sha256: ignored",
                    style="yellow",
                )
    return False


def fetch(src: Source, *, offline: bool = False, mirrors: list[Path] | None = None) -> Path:
    """The verified file for src, from the cache, a mirror, or its URLs (in order)."""
    cache = cache_dir()
    final = cache / "sha256" / src.sha256
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    (cache / "locks").mkdir(parents=True, exist_ok=True)
    with FileLock(cache / "locks" / f"{src.sha256}.lock"):
        if final.is_file():  # another session fetched it while we waited
            return final
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{src.sha256[:12]}-")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            if _from_mirror(src, mirrors or [], tmp):
                os.replace(tmp, final)
                proc.say(src.name, f"{src.filename} from a mirror, verified")
                return final
            if offline:
                raise BuildError(
                    f"{src.filename} ({src.name} {src.version}) is not available offline"
                )
            errors = []
            for url in src.urls:
                proc.say(src.name, f"downloading {url}")
                try:
                    actual = _download(url, tmp, src.name)
                except OSError as err:
                    errors.append(f"{url}: {err}")
                    continue
                if actual == src.sha256:
                    os.replace(tmp, final)
                    proc.say(src.name, f"{src.filename} verified (sha256 {actual[:12]}...)")
                    return final
                errors.append(
                    f"{url}: sha256 mismatch for {src.filename}: expected "
                    f"{src.sha256}, got {actual}; the bytes were discarded"
                )
            raise BuildError(
                f"could not fetch a verified {src.filename} ({src.name} {src.version})",
                why="\n    " + "\n    ".join(errors),
                fix="check the network or the URL; if the upstream file really changed, "
                "review it and update sha256 in sources.lock.toml",
            )
        finally:
            tmp.unlink(missing_ok=True)


def fetch_all(
    names: list[str] | None = None, *, offline: bool = False, mirrors: list[Path] | None = None
) -> dict[str, Path]:
    lock = load_lock()
    wanted = names or list(lock)
    unknown = [n for n in wanted if n not in lock]
    if unknown:
        raise BuildError(
            f"unknown source(s): {', '.join(unknown)}",
            why=f"sources.lock.toml pins: {', '.join(lock)}",
        )
    if offline:
        missing = [
            lock[n]
            for n in wanted
            if not (cache_dir() / "sha256" / lock[n].sha256).is_file()
            and not any(
                (m / lock[n].filename).is_file() or (m / lock[n].sha256).is_file()
                for m in mirrors or []
            )
        ]
        if missing:
            listing = "\n    ".join(
                f"{s.name} {s.version}: {s.filename} (sha256 {s.sha256}) from {s.urls[0]}"
                for s in missing
            )
            raise BuildError(
                f"offline, and {len(missing)} pinned source(s) are neither in the "
                f"cache ({cache_dir()}) nor in a mirror",
                why="\n    " + listing,
                fix="run `nox -s sources` where the network is reachable, or pass "
                "--mirror DIR holding these files (see `nox -s sources -- "
                "--fill-mirror DIR`)",
            )
    return {n: fetch(lock[n], offline=offline, mirrors=mirrors) for n in wanted}


def fill_mirror(directory: Path, names: list[str] | None = None) -> list[Path]:
    """Copy verified sources into directory (by file name) with a SHA256SUMS list."""
    files = fetch_all(names)
    lock = load_lock()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, cached in files.items():
        dest = directory / lock[name].filename
        shutil.copyfile(cached, dest)
        written.append(dest)
    sums = "".join(f"{lock[n].sha256}  {lock[n].filename}\n" for n in files)
    (directory / "SHA256SUMS").write_text(sums)
    return written


def unpack(src: Source, archive: Path) -> Path:
    """Extract once into build/sources/NAME-VERSION-SHA; return the source's root inside."""
    dest = BUILD_DIR / "sources" / f"{src.name}-{src.version}-{src.sha256[:12]}"
    done = dest / ".infercore-unpacked"
    if not done.exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
        try:
            if src.kind == "wheel":
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
            (tmp / ".infercore-unpacked").write_text(src.sha256 + "\n")
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    root = dest / src.root
    if not root.is_dir():
        raise BuildError(
            f"{src.filename} has no {src.root}/ inside",
            fix="fix `root` for this source in sources.lock.toml",
        )
    return root


def report(fetched: dict[str, Path]) -> dict[str, Path]:
    """Unpack each fetched source and print what the build will use."""
    from rich.table import Table

    lock = load_lock()
    roots = {name: unpack(lock[name], path) for name, path in fetched.items()}
    table = Table(title=f"pinned sources (cache: {cache_dir()})")
    for column in ("source", "version", "file", "sha256", "unpacked"):
        table.add_column(column)
    for name, root in roots.items():
        src = lock[name]
        shown = root.relative_to(ROOT) if root.is_relative_to(ROOT) else root
        table.add_row(name, src.version, src.filename, src.sha256[:16] + "...", str(shown))
    proc.console.print(table)
    return roots
