#!/usr/bin/env python3
"""Assemble NVIDIA's CUDA wheels (nvidia-cuda-nvcc, -crt, -runtime, -cccl, nvidia-nvvm)
into one prefix that works as a CUDA_HOME: bin/nvcc, include/, lib/, nvvm/.

Standard library only, and self-contained: buildsys imports it (cuda/toolchain.py,
for `--toolchain pinned`) and the image build copies this very file into its build
context and runs it there,

    python3 toolchain_unpack.py --prefix /opt/cuda-13.0 [--sha256sums SHA256SUMS] WHEEL...

so that a host build and a container build use byte-identical trees.

What it does, and why:
- only the files under --root (nvidia/cu13 in the CUDA 13 wheels) are taken, each at
  its path below the root; nothing may leave the prefix (no absolute paths, no '..',
  no link that points outside);
- two wheels may ship the same path only with the same bytes and mode;
- every wheel that one of them requires (Requires-Dist) must be among them: nvcc
  without its cicc (nvidia-nvvm) or its headers (nvidia-cuda-crt) compiles nothing;
- modes: zipfile.extractall drops them, so the executable bit is read from each entry
  (external_attr >> 16) and widened to 0755 (else 0644) as git does, whatever the
  umask: the wheels ship 0744, and a toolchain in a cache shared by several users or
  CI jobs must run for all of them; a symlink entry stays a symlink;
- two links that a CUDA toolkit's own installer lays out and the wheels lack:
  `lib64 -> lib` (nvcc.profile links from $(TOP)/lib64) and `lib/libX.so ->
  libX.so.N` for every versioned library without one (CMake's FindCUDAToolkit
  requires libcudart.so);
- deterministic: entries are written in sorted order and every mtime is FIXED_MTIME,
  so the same wheels always give the same tree; its digest (paths, types, modes,
  contents) is recorded in the manifest;
- atomic: the tree is built beside the prefix and renamed into place with its
  manifest (MARKER) inside, so a prefix that exists is complete; an interrupted run
  leaves only its temporary directory, which it removes.

Exit codes follow buildsys's: 0 done, 2 bad arguments, 5 a wheel that is not what was
pinned or not a usable wheel, 1 anything else that went wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

FORMAT = 1  # of the tree and its manifest; part of the cache key (cuda/toolchain.py)
MARKER = ".infercore-toolchain.json"
FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z, the oldest time a zip entry can hold
DEFAULT_ROOT = "nvidia/cu13"
CHUNK = 1 << 20
_VERSIONED_SO = re.compile(r"^lib/(lib[^/]+\.so)\.[0-9]+$")


class UnpackError(Exception):
    """A failure with what went wrong, why, and the fix: buildsys.errors.BuildError's shape
    (cuda/toolchain.py turns it into one), written again because this file stands alone."""

    exit_code = 1

    def __init__(self, what: str, *, why: str = "", fix: str = "") -> None:
        super().__init__(what)
        self.what, self.why, self.fix = what, why, fix

    def __str__(self) -> str:
        lines = [self.what]
        if self.why:
            lines.append(f"  why: {self.why}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class WheelError(UnpackError):
    """A wheel that is not the pinned file, not a valid wheel, or not a usable one."""

    exit_code = 5


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str  # normalized (PEP 503): nvidia-cuda-nvcc
    version: str
    sha256: str
    requires: tuple[str, ...]  # normalized names of its unconditional Requires-Dist


@dataclass(frozen=True)
class Entry:
    """One path of the tree: a file or a link, from a wheel or added here."""

    path: str  # relative, POSIX
    kind: str  # "file" or "link"
    mode: int  # 0o755 or 0o644 for files
    wheel: Wheel | None = None
    info: zipfile.ZipInfo | None = None
    target: str = ""  # a link's target


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_file(path: Path) -> str:
    # util.fs has the same function: this file must stand alone in an image build context.
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _requirement_name(line: str) -> str | None:
    """The project a Requires-Dist line names, or None when a marker makes it optional
    (an extra) or conditional: only what nvcc always needs is checked."""
    if ";" in line:
        return None
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return normalize(match.group(1)) if match else None


def read_wheel(path: Path, *, sha256: str | None = None) -> Wheel:
    """The wheel's name, version and requirements from its METADATA."""
    digest = sha256 or sha256_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            metadata = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            if len(metadata) != 1:
                raise WheelError(
                    f"{path} is not a wheel: it has {len(metadata)} .dist-info/METADATA files",
                    fix="pass the nvidia-* wheel files pinned in sources.lock.toml",
                )
            message = email.parser.Parser().parsestr(zf.read(metadata[0]).decode("utf-8"))
    except (OSError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError) as err:
        raise WheelError(
            f"{path} cannot be read as a wheel: {err}",
            fix="pass the nvidia-* wheel files pinned in sources.lock.toml",
        ) from None
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        raise WheelError(f"{path}: its METADATA names no Name or Version", fix="pass real wheels")
    requires = [_requirement_name(r) for r in message.get_all("Requires-Dist") or []]
    return Wheel(
        path=path,
        name=normalize(name),
        version=version,
        sha256=digest,
        requires=tuple(sorted({r for r in requires if r})),
    )


def read_sha256sums(path: Path) -> dict[str, str]:
    """`sha256  filename` lines (sha256sum's format, as `nox -s sources -- --fill-mirror`
    writes them) -> {filename: sha256}."""
    sums: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise UnpackError(f"cannot read {path}: {err}", fix="pass an existing SHA256SUMS") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line.strip())
        if not match:
            raise UnpackError(
                f"{path}:{number} is not a `SHA256  FILENAME` line: {line!r}",
                fix="write it with sha256sum, or as buildsys stages it",
            )
        sums[match.group(2)] = match.group(1)
    return sums


def check_pinned(wheels: Sequence[Wheel], sums: dict[str, str]) -> None:
    """Every wheel is listed in SHA256SUMS by its file name, with its bytes' sha256."""
    for w in wheels:
        expected = sums.get(w.path.name)
        if expected is None:
            raise WheelError(
                f"{w.path.name} is not listed in SHA256SUMS",
                why=f"listed: {', '.join(sorted(sums)) or '(nothing)'}",
                fix="stage only the pinned wheels, with the SHA256SUMS written beside them",
            )
        if expected != w.sha256:
            raise WheelError(
                f"{w.path.name} is not the pinned file: sha256 {w.sha256}, pinned {expected}",
                why="the bytes changed after they were verified (or the wrong file was staged)",
                fix="stage the wheels again from the verified sources cache",
            )


def check_complete(wheels: Sequence[Wheel]) -> None:
    """Each wheel's requirements are among the wheels, and no project is there twice."""
    names = [w.name for w in wheels]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise WheelError(
            f"more than one wheel of {', '.join(twice)}",
            fix="pass one wheel per project (one version of each)",
        )
    missing = sorted({(r, w.name) for w in wheels for r in w.requires if r not in names})
    if missing:
        raise WheelError(
            "the toolchain lacks wheels that its wheels require: "
            + ", ".join(f"{r} (required by {w})" for r, w in missing),
            why="nvcc needs them at run time (cicc from nvidia-nvvm, the crt headers, the runtime)",
            fix="pin them in sources.lock.toml with the same `toolchain` key",
        )


def _safe(rel: str, origin: str) -> str:
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise WheelError(
            f"{origin}: the entry {rel!r} would land outside the prefix",
            fix="this is not one of NVIDIA's wheels: check sources.lock.toml",
        )
    return rel


def _entries_of(wheel: Wheel, zf: zipfile.ZipFile, root: str) -> Iterator[Entry]:
    """The wheel's entries under `root`, and its license files under licenses/NAME/
    (NVIDIA's license asks that it travel with the files)."""
    prefix = root.strip("/") + "/"
    for info in zf.infolist():
        if info.is_dir():
            continue
        top, _, rest = info.filename.partition("/")
        if info.filename.startswith(prefix):
            rel = _safe(info.filename[len(prefix) :], wheel.path.name)
        elif top.endswith(".dist-info") and rest.startswith("licenses/"):
            rel = _safe(f"licenses/{wheel.name}/{rest[len('licenses/') :]}", wheel.path.name)
        else:
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            target = zf.read(info).decode("utf-8")
            landing = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if target.startswith("/") or landing == ".." or landing.startswith("../"):
                raise WheelError(
                    f"{wheel.path.name}: the link {rel} -> {target} points outside the prefix",
                    fix="this is not one of NVIDIA's wheels: check sources.lock.toml",
                )
            yield Entry(rel, "link", 0o777, wheel=wheel, info=info, target=target)
        else:
            executable = bool(mode & 0o111)
            yield Entry(rel, "file", 0o755 if executable else 0o644, wheel=wheel, info=info)


def _same(a: Entry, b: Entry, archives: dict[Path, zipfile.ZipFile]) -> bool:
    if (a.kind, a.mode, a.target) != (b.kind, b.mode, b.target):
        return False
    assert a.info is not None and b.info is not None and a.wheel and b.wheel
    if a.info.file_size != b.info.file_size:
        return False
    return archives[a.wheel.path].read(a.info) == archives[b.wheel.path].read(b.info)


def _added_links(entries: dict[str, Entry]) -> dict[str, str]:
    """lib64 -> lib and lib/libX.so -> libX.so.N, where the wheels have none (see the
    module docstring)."""
    links: dict[str, str] = {}
    if any(p.startswith("lib/") for p in entries) and not any(
        p == "lib64" or p.startswith("lib64/") for p in entries
    ):
        links["lib64"] = "lib"
    for path in sorted(entries, key=lambda p: (len(p), p)):
        match = _VERSIONED_SO.match(path)
        if match and entries[path].kind == "file":
            dev = f"lib/{match.group(1)}"
            if dev not in entries and dev not in links:
                links[dev] = posixpath.basename(path)
    return links


def plan(wheels: Sequence[Wheel], archives: dict[Path, zipfile.ZipFile], root: str) -> list[Entry]:
    """Every path of the tree, sorted; a clash between two wheels is an error."""
    entries: dict[str, Entry] = {}
    for wheel in wheels:
        found = False
        for entry in _entries_of(wheel, archives[wheel.path], root):
            found = found or not entry.path.startswith("licenses/")
            if entry.path in entries:
                other = entries[entry.path]
                if not _same(entry, other, archives):
                    assert other.wheel is not None
                    raise WheelError(
                        f"{entry.path} is in {other.wheel.name} and in {wheel.name}, "
                        "with different contents",
                        fix="pin versions of these wheels that belong together",
                    )
                continue
            entries[entry.path] = entry
        if not found:
            raise WheelError(
                f"{wheel.path.name} ({wheel.name} {wheel.version}) has nothing under {root}/",
                fix="set root (sources.lock.toml) / --root to the directory the wheel uses",
            )
    if "bin/nvcc" not in entries:
        raise WheelError(
            f"none of the wheels ({', '.join(w.name for w in wheels)}) has {root}/bin/nvcc",
            fix="add the nvidia-cuda-nvcc wheel (a toolchain is built around its compiler)",
        )
    for link, target in _added_links(entries).items():
        entries[link] = Entry(link, "link", 0o777, target=target)
    for path in entries:
        # A file where another entry needs a directory (lib/x and lib/x/y) is a clash.
        parent = path
        while parent := posixpath.dirname(parent):
            if parent in entries:
                raise WheelError(f"{parent} is both a file and a directory", fix="check the pins")
    return [entries[p] for p in sorted(entries)]


def _write_file(entry: Entry, dest: Path, zf: zipfile.ZipFile) -> str:
    assert entry.info is not None
    digest = hashlib.sha256()
    with zf.open(entry.info) as src, dest.open("xb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
    os.chmod(dest, entry.mode)
    return digest.hexdigest()


def _line(kind: str, mode: int, path: str, content: str) -> bytes:
    return f"{kind} {mode:o} {path} {content}\n".encode()


def assemble_into(
    dest: Path,
    wheel_files: Sequence[Path],
    *,
    root: str = DEFAULT_ROOT,
    expect: dict[str, str] | None = None,
) -> dict:
    """Write the tree of `wheel_files` into the empty directory `dest`, manifest last;
    return the manifest. Not atomic by itself: see assemble().

    expect: {file name: sha256} that every wheel must be listed in with its bytes'
    hash (checked before anything is written)."""
    if any(dest.iterdir()):
        raise UnpackError(f"{dest} is not empty", fix="assemble into a new directory")
    wheels = sorted((read_wheel(p) for p in wheel_files), key=lambda w: w.name)
    if not wheels:
        raise UnpackError("no wheels given", fix="pass the toolchain's wheel files")
    if expect is not None:
        check_pinned(wheels, expect)
    check_complete(wheels)
    os.chmod(dest, 0o755)
    with contextlib.ExitStack() as stack:
        archives = {w.path: stack.enter_context(zipfile.ZipFile(w.path)) for w in wheels}
        entries = plan(wheels, archives, root)
        digest = hashlib.sha256()
        total = 0
        made = {dest}
        for entry in entries:
            target = dest / entry.path
            for parent in reversed(target.parents):
                if parent not in made and parent.is_relative_to(dest):
                    parent.mkdir(exist_ok=True)
                    os.chmod(parent, 0o755)  # not the umask: the same tree everywhere
                    made.add(parent)
            if entry.kind == "link":
                os.symlink(entry.target, target)
                digest.update(_line("l", 0o777, entry.path, entry.target))
                continue
            assert entry.wheel is not None and entry.info is not None
            try:
                content = _write_file(entry, target, archives[entry.wheel.path])
            except (zipfile.BadZipFile, zlib.error) as err:
                raise WheelError(
                    f"{entry.wheel.path.name}: {entry.info.filename} is corrupt: {err}",
                    fix="fetch the wheel again (nox -s sources -- --verify)",
                ) from None
            total += entry.info.file_size
            digest.update(_line("f", entry.mode, entry.path, content))
    manifest = {
        "format": FORMAT,
        "root": root,
        "wheels": [
            {"name": w.name, "version": w.version, "sha256": w.sha256, "requires": list(w.requires)}
            for w in wheels
        ],
        "added_links": {e.path: e.target for e in entries if e.wheel is None},
        "files": sum(e.kind == "file" for e in entries),
        "bytes": total,
        "tree_sha256": digest.hexdigest(),
    }
    (dest / MARKER).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.chmod(dest / MARKER, 0o644)
    _fix_mtimes(dest)
    return manifest


def _fix_mtimes(top: Path) -> None:
    """Every entry's mtime (and atime) to FIXED_MTIME, directories after their contents
    (writing into a directory changes its mtime)."""
    for dirpath, dirnames, filenames in os.walk(top, topdown=False):
        for name in [*filenames, *dirnames]:
            os.utime(Path(dirpath, name), (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    os.utime(top, (FIXED_MTIME, FIXED_MTIME))


def read_manifest(prefix: Path) -> dict | None:
    """The manifest of a complete tree at `prefix`, or None."""
    try:
        data = json.loads((prefix / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def tree_digest(prefix: Path) -> str:
    """The digest assemble_into() records, recomputed from the tree on disk (everything
    but the manifest): equal digests mean the same paths, types, modes and bytes."""
    digest = hashlib.sha256()
    paths = []
    for dirpath, dirnames, filenames in os.walk(prefix):
        rel = Path(dirpath).relative_to(prefix).as_posix()
        for name in [*filenames, *dirnames]:
            full = Path(dirpath, name)
            if full.is_symlink() or not full.is_dir():
                paths.append("/".join(p for p in (rel, name) if p != "."))
    for path in sorted(paths):
        if path == MARKER:
            continue
        full = prefix / path
        if full.is_symlink():
            digest.update(_line("l", 0o777, path, os.readlink(full)))
        else:
            mode = stat.S_IMODE(full.stat().st_mode)
            digest.update(_line("f", mode, path, sha256_file(full)))
    return digest.hexdigest()


def assemble(
    prefix: Path,
    wheel_files: Sequence[Path],
    *,
    root: str = DEFAULT_ROOT,
    expect: dict[str, str] | None = None,
    temp: Path | None = None,
    check: Callable[[Path], None] | None = None,
) -> dict:
    """Assemble into `temp` (a new empty directory on prefix's file system; default: one
    made beside prefix), run `check` on it, then rename it to `prefix`. Whatever stops
    it on the way (an error, Ctrl-C) removes the temporary tree."""
    if prefix.exists():
        raise UnpackError(
            f"{prefix} already exists",
            fix="remove it first, or assemble into another prefix",
        )
    prefix.parent.mkdir(parents=True, exist_ok=True)
    if temp is None:
        temp = prefix.parent / f".{prefix.name}.tmp-{os.getpid()}"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
    try:
        manifest = assemble_into(temp, wheel_files, root=root, expect=expect)
        if check is not None:
            check(temp)
        os.replace(temp, prefix)
        return manifest
    finally:
        shutil.rmtree(temp, ignore_errors=True)  # gone after the rename, else partial


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="toolchain_unpack.py",
        description="Assemble NVIDIA's CUDA wheels into one CUDA_HOME prefix "
        "(bin/nvcc, include/, lib/, nvvm/), deterministically and atomically.",
    )
    p.add_argument("--prefix", required=True, type=Path, help="the new prefix (must not exist)")
    p.add_argument(
        "--root",
        default=DEFAULT_ROOT,
        help=f"the directory inside every wheel that becomes the prefix (default {DEFAULT_ROOT})",
    )
    p.add_argument(
        "--sha256sums",
        type=Path,
        default=None,
        metavar="FILE",
        help="`SHA256  FILENAME` lines: each wheel must be listed with its bytes' sha256",
    )
    p.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        sums = None if args.sha256sums is None else read_sha256sums(args.sha256sums)
        manifest = assemble(args.prefix, args.wheels, root=args.root, expect=sums)
    except UnpackError as err:
        sys.stderr.write(f"error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing was left behind\n")
        return 130
    wheels = ", ".join(f"{w['name']} {w['version']}" for w in manifest["wheels"])
    print(
        f"{args.prefix}: {manifest['files']} files, {manifest['bytes'] / 2**20:.0f} MiB from "
        f"{wheels}; tree sha256 {manifest['tree_sha256']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
