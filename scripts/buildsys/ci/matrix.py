"""`nox -s ci-matrix`: the CI matrix, derived from the noxfile and build-matrix.toml.

Which sessions CI runs is the noxfile's tags (`nox -l --json -t ci gpu release`: a plain
`nox -l --json` lists only the default sessions): one cell per session tagged "ci",
per [ci.sessions.NAME] target where it names targets; kernels-GROUP sessions (one per
[kernel-archs] group, as the noxfile makes them) share [ci.sessions.kernels]. Sessions
tagged "gpu" run on [ci] gpu-runs-on. A session tagged "release" (wheels) gets one cell
per [release] cell with build = true, run through cibuildwheel in its release-PLATFORM
image. Each cell carries its runner labels, image ([images.sessions], or the target's
platform), the Python it runs with (its image's), timeout, the arguments of its
`nox -s SESSION` and a cache key: a digest of what its outputs depend on
(sources.lock.toml, conan.lock, build-matrix.toml, the image's docker/images.lock
inputs, the session and its arguments), so a runner restores ccache and the sources
cache of the same inputs and nothing stale.

The workflows read this JSON (`fromJSON(needs.setup.outputs.build)`) and never name a
session, Python, arch or cell themselves; tests/buildsys/test_ci_matrix.py checks it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import BuildMatrix
from ..config.values import did_you_mean
from ..container import imagelock
from ..container import session as container
from ..errors import ConfigError
from ..util import runner

CI, GPU, RELEASE = "ci", "gpu", "release"
TAGS = (CI, GPU, RELEASE)
KERNELS = "kernels"  # [ci.sessions.kernels] covers every kernels-GROUP session
# What every cell's outputs depend on, besides its image and session.
INPUT_FILES = ("sources.lock.toml", "conan.lock", "build-matrix.toml")
CONTAINER_ARGS = ("--container", "always")
IMAGES_SESSION = "images"  # builds and records the images (not a CI-tagged session)


@dataclass(frozen=True)
class NoxSession:
    name: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Cell:
    """One job of a workflow's matrix (the JSON keys are the field names)."""

    name: str  # unique in its matrix: the job's display name
    session: str
    args: str  # what follows `nox -s SESSION --`
    runs_on: list[str]
    timeout_minutes: int
    image: str | None  # ROLE-PLATFORM (docker/images.lock); None: on the runner itself
    image_ref: str | None  # the lock's local reference, which the session checks
    image_pull: str | None  # REGISTRY/REPOSITORY:TAG, pushed by images.yml
    python: str | None  # the interpreter the session runs with
    cache_key: str
    gpu: bool = False
    target: str | None = None
    group: str | None = None  # kernels-GROUP's arch group
    shard: str | None = None  # "I/N": a shard cell, compiling into the ccache remote only
    release_cell: str | None = None
    pythons: list[str] = field(default_factory=list)  # a release cell's wheels


@dataclass(frozen=True)
class ImageJob:
    """One image images.yml builds and pushes."""

    image: str  # ROLE-PLATFORM
    role: str
    platform: str
    session: str  # `nox -s images`
    args: str  # its arguments: this one image, with docker (the runners' engine)
    push: str  # the tags pushed, space-separated: the version tag and ROLE-PLATFORM-latest


def nox_sessions(root: Path) -> list[NoxSession]:
    """The noxfile's sessions tagged ci, gpu or release, as `nox -l --json` lists them."""
    cmd = [sys.executable, "-m", "nox", "-f", str(root / "noxfile.py"), "-l", "--json"]
    done = runner.call(
        [*cmd, "-t", *TAGS],
        what="listing the CI sessions",
        cwd=root,
        capture=True,
        stderr_to_log=True,
        check=False,
        echo=False,
    )
    try:
        rows = json.loads(done.output) if done.returncode == 0 else None
    except json.JSONDecodeError:
        rows = None
    if not isinstance(rows, list):
        raise ConfigError(
            "`nox -l --json` did not list the noxfile's sessions",
            why=f"exit {done.returncode}: {done.output.strip()[-400:] or 'no output'}",
            fix=f"run `{' '.join(cmd)}` and fix what it reports (nox must be installed "
            "where buildsys runs)",
        )
    return [NoxSession(r["session"], tuple(r.get("tags") or ())) for r in rows]


def _digest(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of each of INPUT_FILES (a missing file counts as empty)."""
    out = {}
    for name in INPUT_FILES:
        path = root / name
        data = path.read_bytes() if path.is_file() else b""
        out[name] = hashlib.sha256(data).hexdigest()
    return out


def cache_key(
    name: str, files: Mapping[str, str], image_inputs: str | None, args: str, session: str
) -> str:
    """`ci-NAME-<16 hex>`: changes whenever an input of the cell's outputs changes."""
    parts = [f"{k}={v}" for k, v in sorted(files.items())]
    parts += [f"image={image_inputs or '-'}", f"session={session}", f"args={args}"]
    return f"ci-{name}-{_digest(parts)[:16]}"


def _settings_key(session: str) -> str:
    return KERNELS if session.startswith(f"{KERNELS}-") else session


def _image(
    matrix: BuildMatrix, locked: Mapping[str, imagelock.Entry], name: str
) -> tuple[str, imagelock.Entry]:
    entry = locked.get(name)
    if entry is None:
        role, platform = name.split("-", 1)
        raise ConfigError(
            f"docker/images.lock records no {name} image, which a CI cell runs in",
            why="the matrix pins each cell's image by the lock's tag and inputs digest",
            fix=f"build and record it: nox -s images -- --role {role} --platform {platform}",
        )
    return f"{matrix.ci.registry}/{matrix.images.repository}:{entry.tag}", entry


def build_cells(
    matrix: BuildMatrix,
    sessions: Iterable[NoxSession],
    locked: Mapping[str, imagelock.Entry],
    files: Mapping[str, str],
) -> list[Cell]:
    """The ci.yml cells: every session tagged ci, per target where [ci.sessions] says."""
    ci = matrix.ci
    cells: list[Cell] = []
    sessions = [s for s in sessions if CI in s.tags]
    known = {_settings_key(s.name) for s in sessions}
    for name in ci.sessions:
        if name not in known:
            hint = did_you_mean(name, known)
            raise ConfigError(
                f"build-matrix.toml [ci.sessions.{name}]: no session tagged {CI!r} is "
                f"called so" + (f" ({hint})" if hint else ""),
                why=f"the CI sessions (noxfile.py, tags=[{CI!r}]): {', '.join(sorted(known))}",
                fix=f"tag the session with {CI!r} in noxfile.py, or rename or remove the table",
            )
    for s in sessions:
        settings = ci.sessions.get(_settings_key(s.name))
        gpu = GPU in s.tags
        runs_on = list(
            (settings.runs_on if settings and settings.runs_on else None)
            or (ci.gpu_runs_on if gpu else ci.runs_on)
        )
        timeout = (settings.timeout_minutes if settings else None) or ci.timeout_minutes
        group = s.name.removeprefix(f"{KERNELS}-") if s.name.startswith(f"{KERNELS}-") else None
        if group is not None:
            matrix.group(group)  # a kernels-GROUP session whose group is gone: say so
        in_container = _settings_key(s.name) in matrix.images.sessions
        targets: list[str | None] = (
            list(settings.targets) if settings and settings.targets else [None]
        )
        for target in targets:
            args = [*CONTAINER_ARGS] if in_container else []
            if target is not None:
                args += ["--target", target]
            image = ref = pull = python = inputs = None
            if in_container:
                image = container.image_name(matrix, s.name, args, None)
                pull, entry = _image(matrix, locked, image)
                ref, python, inputs = entry.ref, entry.python, entry.inputs
            cell_name = s.name if target is None else f"{s.name}-{target}"
            arg_text = " ".join(args)
            cells.append(
                Cell(
                    name=cell_name,
                    session=s.name,
                    args=arg_text,
                    runs_on=runs_on,
                    timeout_minutes=timeout,
                    image=image,
                    image_ref=ref,
                    image_pull=pull,
                    python=python,
                    cache_key=cache_key(cell_name, files, inputs, arg_text, s.name),
                    gpu=gpu,
                    target=target,
                    group=group,
                )
            )
    return cells


def shard_cells(matrix: BuildMatrix, build: Iterable[Cell]) -> list[Cell]:
    """The shard cells of ci.yml's `shards` job, which runs before `build`: for each
    kernels-GROUP cell, [ci.sessions.kernels] shards cells of `--shard I/N`. They fill
    the ccache remote; the group's own cell then builds from it (docs/CACHE.md)."""
    settings = matrix.ci.sessions.get(KERNELS)
    count = settings.shards if settings else 1
    if count < 2:
        return []
    out = []
    for cell in build:
        if cell.group is None:
            continue
        for i in range(1, count + 1):
            args = f"{cell.args} --shard {i}/{count}".strip()
            name = f"{cell.name}-shard{i}of{count}"
            out.append(
                replace(
                    cell,
                    name=name,
                    args=args,
                    shard=f"{i}/{count}",
                    cache_key=f"ci-{name}-{_digest([cell.cache_key, args])[:16]}",
                )
            )
    return out


def release_cells(
    matrix: BuildMatrix,
    sessions: Iterable[NoxSession],
    locked: Mapping[str, imagelock.Entry],
    files: Mapping[str, str],
) -> list[Cell]:
    """The release.yml cells: per session tagged release, one per built [release] cell."""
    from ..release.cells import Cell as ReleaseCell

    cells = []
    for s in sessions:
        if RELEASE not in s.tags:
            continue
        for name, cell in matrix.release.items():
            if not cell.build:
                continue
            image = ReleaseCell(name, cell, matrix.target(cell.target)).image_name
            pull, entry = _image(matrix, locked, image)
            args = f"--via cibuildwheel --cell {name}"
            cells.append(
                Cell(
                    name=name,
                    session=s.name,
                    args=args,
                    runs_on=list(matrix.ci.runs_on),
                    timeout_minutes=matrix.ci.release_timeout_minutes,
                    image=image,
                    image_ref=entry.ref,
                    image_pull=pull,
                    python=entry.python,
                    cache_key=cache_key(f"release-{name}", files, entry.inputs, args, s.name),
                    target=cell.target,
                    release_cell=name,
                    pythons=list(matrix.python_versions),
                )
            )
    return cells


def image_jobs(
    matrix: BuildMatrix, cells: Iterable[Cell], locked: Mapping[str, imagelock.Entry]
) -> list[ImageJob]:
    """The images the cells run in, once each, in order of first use."""
    jobs: dict[str, ImageJob] = {}
    for cell in cells:
        if cell.image is None or cell.image in jobs:
            continue
        pull, _ = _image(matrix, locked, cell.image)
        role, platform = cell.image.split("-", 1)
        latest = f"{matrix.ci.registry}/{matrix.images.repository}:{cell.image}-latest"
        args = f"--role {role} --platform {platform} --engine docker"
        jobs[cell.image] = ImageJob(
            cell.image, role, platform, IMAGES_SESSION, args, f"{pull} {latest}"
        )
    return list(jobs.values())


def make(
    root: Path,
    matrix: BuildMatrix,
    sessions: Iterable[NoxSession] | None = None,
    locked: Mapping[str, imagelock.Entry] | None = None,
) -> dict[str, Any]:
    """{"build": {"include": cells}, "shards": {...}, "release": {...}, "images": {...}}:
    the workflows' matrices, each in the form `strategy.matrix` takes (ci.yml runs
    "shards" before "build")."""
    sessions = list(nox_sessions(root) if sessions is None else sessions)
    locked = imagelock.read(root) if locked is None else locked
    files = file_digests(root)
    build = build_cells(matrix, sessions, locked, files)
    release = release_cells(matrix, sessions, locked, files)
    return {
        "build": {"include": [asdict(c) for c in build]},
        "shards": {"include": [asdict(c) for c in shard_cells(matrix, build)]},
        "release": {"include": [asdict(c) for c in release]},
        "images": {"include": [asdict(j) for j in image_jobs(matrix, [*build, *release], locked)]},
    }


def show(data: dict[str, Any], *, as_json: bool, only: str | None) -> None:
    if as_json:
        # Compact: a GitHub Actions output is one line (`echo "build=$(...)" >> $GITHUB_OUTPUT`).
        print(json.dumps(data[only] if only else data, separators=(",", ":")))
        return
    from rich.table import Table

    from ..util import console

    for part in [only] if only else list(data):
        rows = data[part]["include"]
        table = Table(title=f"{part} ({len(rows)} cells)")
        if part == "images":
            for col in ("image", "nox", "push"):
                table.add_column(col)
            for r in rows:
                table.add_row(r["image"], f"nox -s {r['session']} -- {r['args']}", r["push"])
        else:
            for col in ("cell", "nox", "runs on", "image", "python", "timeout", "cache key"):
                table.add_column(col)
            for r in rows:
                table.add_row(
                    r["name"],
                    f"nox -s {r['session']} -- {r['args']}".rstrip(" -"),
                    ",".join(r["runs_on"]),
                    r["image"] or "(runner)",
                    ", ".join(r["pythons"]) or r["python"] or "-",
                    f"{r['timeout_minutes']} min",
                    r["cache_key"],
                )
        console.print(table)
