"""`nox -s wheels` through cibuildwheel: one release cell, every Python, into dist/.

The host exports the tree, writes cibuildwheel's configuration (cibw.py) and runs the
pinned cibuildwheel with the cell's release image from docker/images.lock. In the
container, before-all builds the core and kernels once (prepare.py); each Python builds
its binding, auditwheel repairs it to the cell's policy and the engine tests run against
the installed wheel. cibuildwheel's output goes to a staging directory: only wheels that
then pass the same checks as the host pipeline's (libraries, exports, size, the SBOM
prepare.py wrote) are published into dist/, all at once, and an interrupted run
publishes nothing and leaves no container behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..config import BuildMatrix, SourcesLock, policy_glibc, version_tuple
from ..container import imagelock
from ..container import session as container_session
from ..container.engine import Engine
from ..errors import BuildError, ToolMissing, UsageError
from ..host import memory
from ..util import console, runner
from ..util.fs import clean_stale_temps, owner_is_dead, owner_tag, temp_dir
from ..util.paths import Paths
from ..util.project import GIT_SHA_ENV, git_sha, source_date_epoch
from ..wheels import devicecode, pipeline, publish, repair
from ..wheels.testing import read_junit
from . import cells, cibw, export

VIA = ("auto", "host", "cibuildwheel")
# --via, as the sessions' --container modes (INFERCORE_CONTAINER applies to both).
MODES = {"host": "never", "cibuildwheel": "always"}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BUILDING = re.compile(r"Building (\S+) wheel")
FINISHED = re.compile(r"(\S+) finished in (.+)$")


def choose(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    *,
    via: str,
    cell: str | None,
    target: str,
    env: Mapping[str, str] | None = None,
) -> tuple[cells.Cell, container_session.Choice] | None:
    """The cell and its image when this run goes through cibuildwheel; None for the host
    pipeline (having said why in one line, unless --via host asked for it)."""
    env = os.environ if env is None else env
    if via == "host":
        if cell is not None:
            raise UsageError("--cell is a cibuildwheel option", fix="drop --via host or --cell")
        return None
    mode = MODES.get(via) or env.get("INFERCORE_CONTAINER") or "auto"
    if mode == "never":
        return None
    chosen = cells.choose(matrix, cell=cell, target=target)
    choice = container_session.resolve(
        paths,
        matrix,
        lock,
        "wheels",
        ["--container", mode, "--image", chosen.image_name],
        env=env,
    )
    return (chosen, choice) if choice.engine is not None else None


def _cache_dir(var: str, name: str) -> Path:
    """The host's pip, uv or ccache cache, shared with the container."""
    path = Path(os.environ.get(var) or Path.home() / ".cache" / name)
    path.mkdir(parents=True, exist_ok=True)
    return path


def environment(
    paths: Paths, entry: imagelock.Entry, image_name: str, env: Mapping[str, str]
) -> dict[str, str]:
    """What every step in the container gets: the container's paths, the commit, the
    reproducibility epoch, the image for the SBOM; the memory override passes through."""
    values = {
        "INFERCORE_BUILD_DIR": str(cibw.BUILD),
        "INFERCORE_SOURCE_CACHE": str(cibw.SOURCES),
        "INFERCORE_IN_CONTAINER": image_name,
        "INFERCORE_BUILD_IMAGE": f"{entry.ref}@{entry.id}",
        GIT_SHA_ENV: git_sha(paths.root, env),
        "SOURCE_DATE_EPOCH": source_date_epoch(paths.root, env),
        "PIP_CACHE_DIR": str(cibw.PIP_CACHE),
        "UV_CACHE_DIR": str(cibw.UV_CACHE),
        "CCACHE_DIR": str(cibw.CCACHE),
        "INFERCORE_EXPORT_CACHE": str(cibw.EXPORTS),
        "PYTHONUNBUFFERED": "1",
    }
    if container_session.host_ca(env) is not None:
        values.update(dict.fromkeys(container_session.CA_ENV, str(cibw.CA)))
    for var in ("INFERCORE_BUILD_MEMORY_GIB", "INFERCORE_JOBS"):
        if env.get(var):
            values[var] = env[var]
    return values


class Progress:
    """cibuildwheel's step lines, as one line per wheel and the time each took."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.started = time.monotonic()
        self.seconds: dict[str, float] = {}  # per Python tag: build, repair, test
        self.before_all = 0.0

    def __call__(self, raw: str) -> None:
        line = ANSI.sub("", raw).strip()
        if line.startswith("Running before_all"):
            self.started = time.monotonic()
            console.say("cibuildwheel", "before-all: the core and kernels, once for the cell")
        elif m := BUILDING.search(line):
            if self.current is None:
                self.before_all = time.monotonic() - self.started
            self.current, self.started = m.group(1), time.monotonic()
            console.say("cibuildwheel", f"{self.current}: build, repair, test")
        elif (m := FINISHED.search(line)) and self.current:
            self.seconds[self.current.split("-")[0]] = time.monotonic() - self.started
            console.say("cibuildwheel", f"{self.current}: done in {m.group(2)}", style="green")


def _export_fa4(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    chosen: cells.Cell,
    *,
    jobs: int,
    profile: str | None,
) -> None:
    """FA4's variants exported here, into the export cache the container mounts: the
    export needs the CuTe DSL tool environment (a CPU torch and the DSL, gigabytes, made
    for this host's CPython 3.11), which the release image does not carry. A cache that
    holds them already makes this a check of a few files."""
    from ..engine.core import kernel_plans
    from ..kernels import fa4

    if not chosen.target.is_cuda:
        return
    plans = kernel_plans(matrix, chosen.target, profile)
    if any(fa4.FAMILY in p.units for p in plans):
        paths.export_cache.mkdir(parents=True, exist_ok=True)
        fa4.fill_cache(paths, lock, plans, jobs=jobs, offline=False)


def _check_cibuildwheel() -> None:
    import importlib.util

    if importlib.util.find_spec("cibuildwheel") is None:
        raise ToolMissing(
            "cibuildwheel is not installed in this environment",
            why="the release path runs the pinned cibuildwheel (pyproject's release group)",
            fix="run it through `nox -s wheels` (which installs it), or pass --via host",
        )


def _without_cibw_settings(env: Mapping[str, str]) -> dict[str, str | None]:
    """CIBW_* of the caller's environment would override the generated configuration
    (cibuildwheel reads the environment first): unset them, saying so."""
    found = sorted(k for k in env if k.startswith("CIBW_"))
    if found:
        console.say(
            "release",
            f"ignoring {', '.join(found)}: cibuildwheel's configuration comes from "
            "build-matrix.toml and docker/images.lock (docs/RELEASE.md)",
            style="yellow",
        )
    return dict.fromkeys(found)


def fresh_build_tree(paths: Paths, cell: str, entry: imagelock.Entry) -> Path:
    """The cell's build tree for this image; those of images it replaced are removed."""
    tree = paths.tree("release", cell, entry.id.split(":")[-1][:12])
    if tree.parent.is_dir():
        for old in tree.parent.iterdir():
            if old != tree and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    return tree


def _release_containers(engine: Engine, label: str | None = None) -> list[str]:
    """The ids of the release containers (of one run's label, or all)."""
    # Not runner.probe: after an interrupt it refuses to start anything.
    value = f"={label}" if label is not None else ""
    return runner.cleanup_query(
        [engine.path, "ps", "-aq", "--filter", f"label={cibw.LABEL}{value}"]
    ).split()


def remove_containers(engine: Engine, label: str) -> None:
    """Containers of this run left behind by an interrupted cibuildwheel."""
    if ids := _release_containers(engine, label):
        runner.cleanup([engine.path, "rm", "-f", *ids])


def remove_stale_containers(engine: Engine) -> list[str]:
    """Containers that a killed run of this host left behind (SIGKILL, OOM, a lost
    terminal: no `finally` ran); their owner is in the label. A live run's are kept."""
    ids = _release_containers(engine)
    if not ids:
        return []
    fmt = f'{{{{.Id}}}} {{{{index .Config.Labels "{cibw.LABEL}"}}}}'
    owners = runner.cleanup_query([engine.path, "inspect", "--format", fmt, *ids])
    pairs = [line.split() for line in owners.splitlines()]
    stale = [p[0][:12] for p in pairs if len(p) == 2 and owner_is_dead(p[1])]
    if stale:
        runner.cleanup([engine.path, "rm", "-f", *stale])
        console.say(
            "release",
            f"removed {len(stale)} container(s) that a killed run left behind: {' '.join(stale)}",
        )
    return stale


def run(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    chosen: cells.Cell,
    choice: container_session.Choice,
    *,
    pythons: Sequence[str],
    jobs: int | None,
    dist: Path | None,
    profile: str | None,
) -> list[Path]:
    start = time.monotonic()
    assert choice.engine is not None and choice.entry is not None
    engine, entry = choice.engine, choice.entry
    dist = dist if dist is not None else paths.dist(matrix.wheels.dist_dir)
    pipeline.check_dist(dist)
    # In [python]'s order: cibuildwheel builds them one after another.
    wanted = pipeline.check_versions(matrix, pythons)
    versions = [v for v in matrix.python_versions if v in wanted]
    reach = cells.reach(matrix, chosen, entry)
    jobs = jobs or memory.cpus()
    console.say(
        "release",
        f"cell {chosen.name}: {chosen.target.name} for {', '.join(versions)} in {entry.ref} "
        f"({engine.describe()}), repaired to {reach.plat}",
    )
    if reach.stand_in:
        console.say(
            "release",
            f"{chosen.image_name} is built FROM the stand-in base {reach.base_name} (glibc "
            f"{reach.base.glibc}), not {chosen.cell.image}: its wheels meet {reach.policy} at "
            f"most (the summary names the policy reached), not {chosen.cell.manylinux}; users "
            f"build in the pinned {chosen.cell.image}",
            style="yellow",
        )
    _check_cibuildwheel()
    _export_fa4(paths, matrix, lock, chosen, jobs=jobs, profile=profile)
    remove_stale_containers(engine)
    label = owner_tag(uuid.uuid4().hex[:12])
    build_tree = fresh_build_tree(paths, chosen.name, entry)
    clean_stale_temps(paths.build / "staging")
    staging = temp_dir(paths.build / "staging", f"cibw-{chosen.name}")
    log = paths.logs / f"cibuildwheel-{chosen.name}.log"
    log.unlink(missing_ok=True)
    try:
        project, out, results = staging / "project", staging / "out", staging / "results"
        for d in (build_tree, results, paths.source_cache):
            d.mkdir(parents=True, exist_ok=True)
        count = export.export(paths.root, project)
        console.say("release", f"exported {count} files of the checkout for cibuildwheel")
        mounts = [
            cibw.Mount(build_tree, cibw.BUILD),
            cibw.Mount(paths.source_cache, cibw.SOURCES),
            cibw.Mount(results, cibw.RESULTS),
            cibw.Mount(_cache_dir("PIP_CACHE_DIR", "pip"), cibw.PIP_CACHE),
            cibw.Mount(_cache_dir("UV_CACHE_DIR", "uv"), cibw.UV_CACHE),
            cibw.Mount(_cache_dir("CCACHE_DIR", "ccache"), cibw.CCACHE),
            cibw.Mount(paths.export_cache, cibw.EXPORTS),
        ]
        if (ca := container_session.host_ca(os.environ)) is not None:
            mounts.append(cibw.Mount(ca, cibw.CA, "ro"))
        table = cibw.table(
            matrix,
            cell=chosen.name,
            arch=chosen.target.arch,
            versions=versions,
            image_ref=entry.ref,
            engine=engine.name,
            plat=reach.plat,
            mounts=mounts,
            environment=environment(paths, entry, chosen.image_name, os.environ),
            label=label,
            jobs=jobs,
            profile=profile,
        )
        config_file = staging / "cibuildwheel.toml"
        config_file.write_text(cibw.render(table))
        log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config_file, log.with_suffix(".toml"))  # kept for reading
        progress = Progress()
        runner.call(
            [
                sys.executable,
                "-m",
                "cibuildwheel",
                "--platform",
                "linux",
                "--config-file",
                config_file,
                "--output-dir",
                out,
                ".",
            ],
            what=f"cibuildwheel for {chosen.name}",
            log=log,
            cwd=project,
            env={
                **_without_cibw_settings(os.environ),
                "PATH": f"{engine.path.parent}{os.pathsep}{engine.env['PATH']}",
                "NO_COLOR": "1",
                "CIBW_CACHE_PATH": str(paths.build / "cibuildwheel-cache"),
            },
            on_line=progress,
            fix=f"read the whole log: {log}",
        )
        checked = collect(
            matrix, chosen, reach, out, results, build_tree, versions, progress.seconds
        )
        runner.check_interrupted()
        published = publish.publish([r.wheel for r in checked], dist)
    finally:
        remove_containers(engine, label)
        shutil.rmtree(staging, ignore_errors=True)
    pipeline.summary(
        checked, dist, progress.before_all, time.monotonic() - start, chosen.cell.manylinux
    )
    return published


def collect(
    matrix: BuildMatrix,
    chosen: cells.Cell,
    reach: cells.Reach,
    out: Path,
    results: Path,
    build_tree: Path,
    versions: Sequence[str],
    seconds: Mapping[str, float],
) -> list[pipeline.WheelResult]:
    """cibuildwheel's wheels, checked as the host pipeline checks its own."""
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != len(versions):
        raise BuildError(
            f"cibuildwheel produced {len(wheels)} wheels for {len(versions)} Pythons",
            fix="read the cibuildwheel log",
        )
    budget = matrix.size_budget_mib.get("cuda" if chosen.target.is_cuda else "cpu")
    found = []
    for wheel in wheels:
        tag = wheel.name.split("-")[2]
        sbom_file = build_tree / cibw.SBOM_DIR / f"{tag}.cdx.json"
        work = out.parent / "check" / tag
        pipeline.check_wheel(
            wheel, budget_mib=budget, work_dir=work, sbom_text=sbom_file.read_text()
        )
        junit = results / f"{wheel.name.removesuffix('.whl')}.xml"
        if not junit.is_file():
            raise BuildError(f"no engine test results for {wheel.name}", why=f"{junit} missing")
        counts = read_junit(junit)
        if counts.passed == 0 or counts.failed:
            raise BuildError(f"the engine tests of {wheel.name} did not pass: {counts}")
        policy = repair.best_policy(wheel)
        why = None
        if version_tuple(policy_glibc(policy)) > version_tuple(policy_glibc(chosen.cell.manylinux)):
            why = (
                f"built in the stand-in {chosen.image_name} ({reach.base_name}, glibc "
                f"{reach.base.glibc}); {chosen.cell.manylinux} wheels come from the pinned "
                f"{chosen.cell.image} image"
                if reach.stand_in
                else repair.explain_policy_gap(wheel, chosen.cell.manylinux)
            )
        found.append(
            pipeline.WheelResult(
                python=f"{tag[2]}.{tag[3:]}",
                wheel=wheel,
                policy=policy,
                why_not_release=why,
                size_bytes=wheel.stat().st_size,
                tests=counts,
                seconds=seconds.get(tag, 0.0),
                device=devicecode.describe(devicecode.breakdown(wheel)),
            )
        )
    return found
