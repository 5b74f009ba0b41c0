"""The pinned CUDA toolchain (`--toolchain pinned`), and the one choice of a command's nvcc.

sources.lock.toml pins NVIDIA's wheels of a CUDA version under `toolchain = "cuda-X.Y"`
(nvcc, the parts it requires, the CUDA runtime, CCCL). ensure() fetches them through
the sources cache (each verified by its sha256; --offline and --mirror as for every
pinned source) and assembles them with toolchain_unpack, the same file the images run,
into one prefix that works as a CUDA_HOME:

    $INFERCORE_SOURCE_CACHE/toolchains/cuda-X.Y-HASH/
        bin/nvcc (ptxas, nvlink, fatbinary, cudafe++)   nvvm/bin/cicc, nvvm/libdevice/
        include/ (cuda_runtime.h, crt/, cccl/)          lib/libcudart_static.a, lib64 -> lib

HASH is of the wheels' sha256s, their root and the unpacker's FORMAT: other pins give
another directory, so a directory that exists is the tree of exactly those wheels. It
is built beside its final name, checked (its nvcc must report the pinned version) and
renamed into place with its manifest inside, under a lock, so that every checkout and
session on the machine shares one complete tree and an interrupt leaves nothing that
could be taken for one.

Compiler is the `--toolchain host|pinned` choice of one command (default
$INFERCORE_TOOLCHAIN, else host): every step that needs nvcc asks it, so a command uses
one compiler throughout.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import Source, SourcesLock
from ..config.lock import TOOLCHAIN_COMPILER
from ..errors import BuildError, SourceError, UsageError
from ..host import nvcc as nvcc_tool
from ..sources import cache as sources
from ..util import console, runner
from ..util.fs import atomic_write, clean_stale_temps, copy_verified, locked, temp_dir
from ..util.paths import Paths
from . import toolchain_unpack as unpack

HOST = "host"
PINNED = "pinned"
CHOICES = (HOST, PINNED)
ENV_VAR = "INFERCORE_TOOLCHAIN"
NVCC_WHEEL = TOOLCHAIN_COMPILER  # the wheel whose version nvcc --version must report
# This file, as the images copy it into their build context and run it.
UNPACK_SCRIPT = Path(unpack.__file__).resolve()
SHA256SUMS = "SHA256SUMS"
LABEL = "cuda"


def default_choice(env: Mapping[str, str] | None = None) -> str:
    """--toolchain's default: $INFERCORE_TOOLCHAIN, else host (today's behaviour)."""
    env = os.environ if env is None else env
    if ENV_VAR not in env:
        return HOST
    value = env[ENV_VAR]
    if value not in CHOICES:
        raise UsageError(
            f"{ENV_VAR}={value!r} is not a toolchain",
            why=f"{ENV_VAR} is the default of --toolchain: host (nvcc from $CUDACXX, PATH or "
            "/usr/local/cuda) or pinned (the CUDA wheels pinned in sources.lock.toml)",
            fix=f"set {ENV_VAR}=host or {ENV_VAR}=pinned, or unset it",
        )
    return value


@dataclass(frozen=True)
class PinnedToolchain:
    """A CUDA version's pinned wheels and the prefix they are (or will be) assembled in."""

    cuda: str
    sources: tuple[Source, ...]
    prefix: Path

    @property
    def name(self) -> str:
        return f"cuda-{self.cuda}"

    @property
    def root(self) -> str:
        return self.sources[0].root  # one for all (checked when the lock loads)

    @property
    def nvcc(self) -> Path:
        return self.prefix / "bin" / "nvcc"

    @property
    def nvcc_version(self) -> str:
        """The full version the pinned nvcc reports ("13.0.88")."""
        return next(s.version for s in self.sources if s.name == NVCC_WHEEL)

    def manifest(self) -> dict | None:
        """The manifest of the assembled tree, if it is assembled from exactly these wheels."""
        found = unpack.read_manifest(self.prefix)
        if found is None:
            return None
        pinned = sorted(s.sha256 for s in self.sources)
        used = sorted(w.get("sha256", "") for w in found.get("wheels", []))
        return found if used == pinned and found.get("root") == self.root else None

    @property
    def assembled(self) -> bool:
        return self.manifest() is not None


def key(sources: Sequence[Source]) -> str:
    """12 hex digits that name the tree: what goes into it, nothing about where it is."""
    data = {
        "format": unpack.FORMAT,
        "root": sources[0].root,
        "wheels": sorted(s.sha256 for s in sources),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def pinned(paths: Paths, lock: SourcesLock, cuda: str) -> PinnedToolchain:
    """The pinned toolchain of `cuda` (nothing is fetched or assembled)."""
    toolchains = lock.toolchains
    if cuda not in toolchains:
        raise UsageError(
            f"sources.lock.toml pins no CUDA {cuda} toolchain",
            why="pinned toolchains: "
            + (", ".join(f"cuda-{v}" for v in sorted(toolchains)) or "(none)"),
            fix=f'pin its wheels in sources.lock.toml with toolchain = "cuda-{cuda}", or use '
            "--toolchain host",
        )
    wheels = toolchains[cuda]
    return PinnedToolchain(
        cuda=cuda,
        sources=wheels,
        prefix=paths.source_cache / "toolchains" / f"cuda-{cuda}-{key(wheels)}",
    )


def wheel_files(
    paths: Paths,
    lock: SourcesLock,
    cuda: str,
    *,
    offline: bool = False,
    mirrors: Sequence[Path] = (),
) -> list[tuple[Source, Path]]:
    """Each pinned wheel of the CUDA `cuda` toolchain with its verified file in the sources
    cache (named by its sha256 there: Source.filename is its real name)."""
    tc = pinned(paths, lock, cuda)
    names = [s.name for s in tc.sources]
    files = sources.fetch_all(paths, lock, names, offline=offline, mirrors=list(mirrors))
    return [(s, files[s.name]) for s in tc.sources]


def _check_nvcc(tc: PinnedToolchain, tree: Path) -> None:
    """The assembled nvcc runs and is the pinned version (before the tree is published)."""
    nvcc = tree / "bin" / "nvcc"  # there: the unpacker refuses a tree without it
    result = runner.call(
        [nvcc, "--version"], what="the pinned nvcc --version", capture=True, check=False
    )
    wanted = f"V{tc.nvcc_version}"
    if result.returncode != 0 or wanted not in result.output.split():
        raise SourceError(
            f"the assembled {tc.name} nvcc is not {NVCC_WHEEL} {tc.nvcc_version}",
            why=f"`nvcc --version` (exit {result.returncode}) says: "
            + (" ".join(result.output.split()[-8:]) or "nothing"),
            fix=f"pin the version of {NVCC_WHEEL} that its wheel holds in sources.lock.toml "
            "(a version that does not run here needs another platform's wheel)",
        )


def _checked(tc: PinnedToolchain, tree: Path) -> None:
    _check_nvcc(tc, tree)
    # The interrupt tests stop here: the tree is complete but not yet in place.
    runner.debug_pause("toolchain-assembled")


def _aside(paths: Paths, tree: Path, why: str) -> None:
    """Move a tree that is not what its name says out of the way (kept as evidence)."""
    dest = paths.source_cache / "quarantine" / f"{tree.name}.{time.strftime('%Y%m%d%H%M%S')}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tree, dest)
    console.say(LABEL, f"{tree} {why}: moved to {dest}, assembling it again", style="yellow")


def ensure(
    paths: Paths,
    lock: SourcesLock,
    cuda: str,
    *,
    offline: bool = False,
    mirrors: Sequence[Path] = (),
    verify: bool = False,
) -> PinnedToolchain:
    """The pinned CUDA `cuda` toolchain, assembled and checked (see the module docstring).

    verify: hash the assembled tree against its manifest even when it is there (a tree
    that differs is set aside and assembled again)."""
    tc = pinned(paths, lock, cuda)
    if tc.assembled and not verify:
        return tc  # a tree is published whole (renamed with its manifest): no lock needed
    tc.prefix.parent.mkdir(parents=True, exist_ok=True)
    with locked(
        paths.source_cache / "locks" / f"toolchain-{tc.prefix.name}.lock",
        label=LABEL,
        what=f"assembling the {tc.name} toolchain",
    ):
        clean_stale_temps(tc.prefix.parent)
        if (manifest := tc.manifest()) is not None:
            if not verify or unpack.tree_digest(tc.prefix) == manifest.get("tree_sha256"):
                return tc
            _aside(paths, tc.prefix, "differs from its manifest (a file was changed)")
        elif tc.prefix.exists():
            _aside(paths, tc.prefix, "is not a complete toolchain")
        files = wheel_files(paths, lock, cuda, offline=offline, mirrors=mirrors)
        start = time.monotonic()
        console.say(LABEL, f"assembling the {tc.name} toolchain into {tc.prefix}")
        try:
            made = unpack.assemble(
                tc.prefix,
                [path for _, path in files],
                root=tc.root,
                # The cache names a file by its sha256: only verified bytes are unpacked.
                expect={path.name: src.sha256 for src, path in files},
                temp=temp_dir(tc.prefix.parent, tc.prefix.name),
                check=functools.partial(_checked, tc),
            )
        except unpack.UnpackError as err:
            cls = SourceError if isinstance(err, unpack.WheelError) else BuildError
            raise cls(err.what, why=err.why, fix=err.fix) from None
        console.say(
            LABEL,
            f"{tc.name}: {made['files']} files ({made['bytes'] / 2**20:.0f} MiB), nvcc "
            f"{tc.nvcc_version}, in {time.monotonic() - start:.1f}s",
            style="green",
        )
    return tc


def stage(
    paths: Paths,
    lock: SourcesLock,
    cuda: str,
    directory: Path,
    *,
    offline: bool = False,
    mirrors: Sequence[Path] = (),
) -> list[Path]:
    """Copy what an image build needs to assemble the same tree into `directory` (a
    build context): the verified wheels under their own file names, SHA256SUMS for
    them, and toolchain_unpack.py. Returns the wheels' paths; unpack_command() gives
    the command to run on them."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for src, cached in wheel_files(paths, lock, cuda, offline=offline, mirrors=mirrors):
        dest = directory / src.filename
        if not copy_verified(cached, dest, src.sha256):
            raise SourceError(
                f"{cached} changed while it was copied into {directory}",
                fix="run `nox -s sources -- --verify`, then stage the toolchain again",
            )
        out.append(dest)
    lines = "".join(f"{s.sha256}  {s.filename}\n" for s in pinned(paths, lock, cuda).sources)
    atomic_write(directory / SHA256SUMS, lines)
    shutil.copyfile(UNPACK_SCRIPT, directory / UNPACK_SCRIPT.name)
    return out


def unpack_command(
    prefix: str,
    wheels: Sequence[str],
    *,
    root: str = unpack.DEFAULT_ROOT,
    sha256sums: str | None = SHA256SUMS,
    script: str = UNPACK_SCRIPT.name,
    python: str = "python3",
) -> list[str]:
    """The command line that assembles `wheels` into `prefix` (paths as the place that
    runs it sees them, e.g. inside an image build)."""
    cmd = [python, script, "--prefix", prefix, "--root", root]
    if sha256sums is not None:
        cmd += ["--sha256sums", sha256sums]
    return [*cmd, *wheels]


@dataclass(frozen=True)
class Compiler:
    """Where one command's nvcc comes from (--toolchain): the host's CUDA (CUDACXX, PATH,
    /usr/local/cuda) or the pinned wheels, fetched and assembled on first use.

    One per command (it remembers the host's nvcc once looked up, so that the choice of
    the target and the build agree): Compiler() is the host's, as before --toolchain."""

    choice: str = HOST
    paths: Paths | None = None  # the sources cache, for pinned
    lock: SourcesLock | None = None
    offline: bool = False
    mirrors: tuple[Path, ...] = ()

    @property
    def is_pinned(self) -> bool:
        return self.choice == PINNED

    @functools.cached_property
    def _host(self) -> Path | None:
        return nvcc_tool.find()  # once per command: the choice and the build agree

    def available(self) -> bool:
        """Whether an `auto` target is the CUDA one: the host's nvcc is found, or the
        pinned toolchain was asked for (it is fetched when it is needed)."""
        return self.is_pinned or self._host is not None

    def toolchain(self, cuda: str) -> PinnedToolchain:
        assert self.paths is not None and self.lock is not None, "a pinned Compiler needs both"
        return pinned(self.paths, self.lock, cuda)

    def nvcc(self, cuda: str) -> Path | None:
        """The nvcc that compiles CUDA `cuda`; pinned: assembled now if it is not yet."""
        if not self.is_pinned:
            return self._host
        assert self.paths is not None and self.lock is not None, "a pinned Compiler needs both"
        tc = ensure(self.paths, self.lock, cuda, offline=self.offline, mirrors=self.mirrors)
        console.say(LABEL, f"pinned toolchain {tc.name}: {tc.nvcc}")
        return tc.nvcc

    def where(self) -> str:
        """Where this choice looks for nvcc, for messages."""
        if self.is_pinned:
            return "the pinned toolchain (sources.lock.toml)"
        return "looked at $CUDACXX, PATH and /usr/local/cuda/bin/nvcc"
