"""`nox -s wheels` on the host: core once, then per Python build, repair, test, publish."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from ..config import BuildMatrix, SourcesLock, Target
from ..cuda.toolchain import Compiler
from ..engine.core import CoreBuild, build_core
from ..errors import BuildError, ToolMissing, UsageError
from ..host import interpreters, memory
from ..host.interpreters import Interpreter
from ..util import console, runner
from ..util.fs import clean_stale_temps, temp_dir
from ..util.paths import Paths
from ..util.project import source_date_epoch
from . import devicecode, elfinfo, publish, repair, sbom
from . import testing as wheeltest
from .build import build_env, build_wheel
from .testing import TestCounts, test_wheel

AUTO = "auto"


@dataclass(frozen=True)
class WheelResult:
    python: str  # the full version (host) or X.Y (cibuildwheel)
    wheel: Path
    policy: str
    why_not_release: str | None
    size_bytes: int
    tests: TestCounts
    seconds: float
    device: str = ""  # the device code per arch (devicecode.describe); "" for CPU wheels


def choose_target(bm: BuildMatrix, name: str, cuda_available: bool) -> Target:
    """`name`'s target; `auto`: the CUDA one when a CUDA compiler is available, else CPU."""
    if name != AUTO:
        return bm.target(name)
    target = bm.default_target(cuda_available=cuda_available)
    if not cuda_available:
        console.say(
            "core",
            "nvcc not found ($CUDACXX, PATH, /usr/local/cuda): building CPU-only "
            f"wheels ({target.name}); install CUDA, or pass --toolchain pinned, for GPU kernels",
            style="yellow",
        )
    return target


def target_and_nvcc(
    bm: BuildMatrix, name: str, compiler: Compiler | None = None
) -> tuple[Target, Path | None]:
    """The target to build (see choose_target) and, for a CUDA target, the nvcc of the
    --toolchain choice (the host's is looked for once, the pinned one assembled once)."""
    compiler = compiler or Compiler()
    target = choose_target(bm, name, compiler.available())
    return target, compiler.nvcc(str(target.cuda)) if target.is_cuda else None


def check_versions(bm: BuildMatrix, requested: Sequence[str]) -> list[str]:
    """--python's versions, checked against [python]; none given: every [python] one."""
    unsupported = [v for v in requested if v not in bm.python_versions]
    if unsupported:
        raise UsageError(
            f"--python {', '.join(unsupported)}: not a version this project builds",
            why=f"build-matrix.toml [python] versions: {', '.join(bm.python_versions)}",
            fix="pick one of them, or add the version to build-matrix.toml",
        )
    if len(set(requested)) != len(requested):
        raise UsageError(
            f"--python lists a version twice ({', '.join(requested)})",
            fix="name each version once",
        )
    return list(requested) or list(bm.python_versions)


def choose_interpreters(bm: BuildMatrix, requested: list[str]) -> list[Interpreter]:
    versions = check_versions(bm, requested)
    found, missing = interpreters.find_all(versions)
    if missing and requested:
        raise ToolMissing(
            f"Python {', '.join(missing)} not found on this machine",
            why="looked for pythonX.Y on PATH, under $PYENV_ROOT/versions and /opt/python",
            fix="install it (e.g. `pyenv install 3.12`) or leave out --python to build "
            "for every version found",
        )
    for version in missing:
        console.say(
            "python",
            f"CPython {version} not found: no {version} wheel this run (install it to build one)",
            style="yellow",
        )
    if not found:
        raise ToolMissing(
            f"none of CPython {', '.join(versions)} was found",
            fix="install one of them, e.g. `pyenv install 3.11`",
        )
    return found


def check_wheel(
    wheel: Path, *, budget_mib: float | None, work_dir: Path, sbom_text: str | None = None
) -> None:
    """The repaired wheel's checks: allowed shared libraries and exports, the size budget
    and, given sbom_text, that it carries that SBOM byte for byte (repair kept it)."""
    problems = []
    for so in repair.extension_modules(wheel, work_dir / "unpacked"):
        found = elfinfo.dependency_problems(so) + elfinfo.export_problems(so)
        problems += [f"{so.name}: {p}" for p in found]
    size_mib = wheel.stat().st_size / 2**20
    if budget_mib is not None and size_mib > budget_mib:
        problems.append(
            f"wheel is {size_mib:.1f} MiB, over its {budget_mib:g} MiB budget "
            "([wheels.size-budget-mib] in build-matrix.toml)"
        )
    if sbom_text is not None:
        found = sbom.read_from_wheel(wheel)
        where = f".dist-info/sboms/{sbom.FILENAME}"
        if found is None:
            problems.append(f"no {where}: the SBOM did not reach the wheel")
        elif found != sbom_text:
            problems.append(f"its {where} is not the SBOM written for it")
    if problems:
        raise BuildError(
            f"{wheel.name} failed its checks",
            why="\n    ".join(["", *problems]),
            fix="remove the offending dependency, or raise the budget knowingly",
        )


def one_python(
    paths: Paths,
    interp: Interpreter,
    core: CoreBuild,
    bm: BuildMatrix,
    lock: SourcesLock,
    *,
    staging: Path,
    jobs: int,
    env: Mapping[str, str],
    log_dir: Path,
    retest: bool,
    image: str | None = None,
) -> WheelResult:
    start = time.monotonic()
    tag = interp.tag
    log = log_dir / f"wheel-{tag}.log"
    work = staging / tag
    console.say(tag, f"building with Python {interp.full_version} ({interp.path})")
    document = wheel_sbom(paths, lock, core, interp, env, image)
    raw = build_wheel(
        paths, interp, core, out_dir=work / "raw", jobs=jobs, env=env, log=log, sbom=document
    )
    fixed = repair.repair(
        raw,
        out_dir=work / "repaired",
        exclude=bm.repair_exclude,
        release=core.target.release_policy,
        arch=core.target.arch,
        log=log,
        env=env,
    )
    console.say(tag, f"repaired: {fixed.wheel.name}")
    budget = bm.size_budget_mib.get("cuda" if core.target.is_cuda else "cpu")
    check_wheel(fixed.wheel, budget_mib=budget, work_dir=work, sbom_text=document)
    # Test results are cached by content, like Bazel's: a byte-identical wheel that
    # already passed the same tests on the same interpreter is not tested again.
    key = wheeltest.result_key(paths, fixed.wheel, interp)
    cached = None if retest else wheeltest.cached_result(paths, key)
    if cached is not None:
        counts = cached
        console.say(
            tag,
            f"identical wheel and tests already passed in a fresh venv: {counts} "
            "(--retest runs them again)",
            style="green",
        )
    else:
        counts = test_wheel(paths, fixed.wheel, interp, work_dir=work / "test", log=log)
        wheeltest.remember_pass(paths, key, counts)
        console.say(tag, f"tested in a fresh venv: {counts}", style="green")
    return WheelResult(
        python=interp.full_version,
        wheel=fixed.wheel,
        policy=fixed.policy,
        why_not_release=fixed.why_not_release,
        size_bytes=fixed.wheel.stat().st_size,
        tests=counts,
        seconds=time.monotonic() - start,
        device=devicecode.describe(devicecode.breakdown(fixed.wheel)),
    )


def summary(
    results: list[WheelResult], dist: Path, core_seconds: float, total: float, release: str
) -> None:
    table = Table(title=f"wheels in {dist}", show_lines=False)
    device = any(r.device for r in results)
    columns = ["python", "wheel", "policy", "size"]
    columns += ["device code (uncompressed)"] if device else []
    for column in [*columns, "engine tests", "time"]:
        table.add_column(column)
    for r in results:
        table.add_row(
            r.python,
            r.wheel.name,
            r.policy,
            f"{r.size_bytes / 2**20:.2f} MiB",
            *([r.device] if device else []),
            str(r.tests),
            f"{r.seconds:.1f}s",
        )
    console.print(table)
    policies = {r.policy for r in results}
    whys = {r.why_not_release for r in results if r.why_not_release}
    for why in sorted(whys):
        console.print(
            f"policy {', '.join(sorted(policies))}, not {release}: {why}",
            markup=False,
            style="yellow",
        )
    console.print(f"core {core_seconds:.1f}s, total {total:.1f}s")


def sbom_image(env: Mapping[str, str]) -> str | None:
    """The build image the wheels' SBOMs name ($INFERCORE_BUILD_IMAGE of this process),
    checked with SOURCE_DATE_EPOCH before anything is built."""
    sbom.epoch_of(env["SOURCE_DATE_EPOCH"])
    return sbom.image_from(os.environ)


def wheel_sbom(
    paths: Paths,
    lock: SourcesLock,
    core: CoreBuild,
    interp: Interpreter,
    env: Mapping[str, str],
    image: str | None,
) -> str:
    """The SBOM of `interp`'s wheel (wheels/sbom.py)."""
    return sbom.for_wheel(
        paths, lock, core, python=interp.tag, epoch=env["SOURCE_DATE_EPOCH"], image=image
    )


def build_environment(paths: Paths) -> dict[str, str]:
    """What every build step of a wheel run gets in its environment (never os.environ)."""
    return {"SOURCE_DATE_EPOCH": source_date_epoch(paths.root, os.environ)}


def build_for_running_python(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    *,
    out: Path,
    target_name: str,
    jobs: int | None,
    profile: str | None = None,
    compiler: Compiler | None = None,
) -> Path:
    """Core plus an unrepaired wheel for the interpreter running this (nox -s tests)."""
    jobs = jobs or memory.cpus()
    target, nvcc = target_and_nvcc(matrix, target_name, compiler)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    interp = choose_interpreters(matrix, [version])[0]
    env = build_environment(paths)
    image = sbom_image(env)
    core = build_core(
        paths,
        matrix,
        lock,
        target,
        nvcc=nvcc,
        jobs=jobs,
        log_dir=paths.logs,
        env=env,
        profile=profile,
    )
    shutil.rmtree(out, ignore_errors=True)
    wheel = build_wheel(
        paths,
        interp,
        core,
        out_dir=out,
        jobs=jobs,
        env=env,
        log=paths.logs / f"wheel-{interp.tag}.log",
        sbom=wheel_sbom(paths, lock, core, interp, env, image),
    )
    console.say(interp.tag, f"built {wheel}")
    return wheel


def check_dist(dist: Path) -> None:
    if not str(dist).strip():
        raise UsageError("--dist '' names no directory", fix="pass a directory, e.g. --dist dist")
    if dist.exists() and not dist.is_dir():
        raise UsageError(f"--dist {dist} is an existing file", fix="pass a directory")


def run(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    *,
    pythons: list[str],
    target_name: str,
    jobs: int | None,
    dist: Path | None = None,
    retest: bool = False,
    profile: str | None = None,
    compiler: Compiler | None = None,
) -> list[Path]:
    start = time.monotonic()
    dist = dist if dist is not None else paths.dist(matrix.wheels.dist_dir)
    check_dist(dist)
    jobs = jobs or memory.cpus()
    target, nvcc = target_and_nvcc(matrix, target_name, compiler)
    interps = choose_interpreters(matrix, pythons)
    log_dir = paths.logs
    for interp in interps:  # this run's logs start empty; other runs' logs stay
        (log_dir / f"wheel-{interp.tag}.log").unlink(missing_ok=True)
    console.say(
        "host",
        "no container engine in use: building on this host "
        f"for {', '.join(i.tag for i in interps)}",
    )
    env = build_environment(paths)
    image = sbom_image(env)
    # The per-Python build envs need no compiler: set them up while the core compiles.
    with ThreadPoolExecutor(max_workers=len(interps)) as pool:
        envs = [
            pool.submit(build_env, paths, i, log=log_dir / f"wheel-{i.tag}.log") for i in interps
        ]
        core = build_core(
            paths,
            matrix,
            lock,
            target,
            nvcc=nvcc,
            jobs=jobs,
            log_dir=log_dir,
            env=env,
            profile=profile,
        )
        for future in envs:
            future.result()
    core_seconds = time.monotonic() - start

    # A staging tree of this run's own (another run in this checkout may be staging too);
    # those of runs that died are removed, this one's when it ends.
    clean_stale_temps(paths.build / "staging")
    staging = temp_dir(paths.build / "staging", target.name)
    try:
        workers = min(len(interps), jobs)
        per_wheel_jobs = max(1, jobs // workers)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {
                i.tag: pool.submit(
                    one_python,
                    paths,
                    i,
                    core,
                    matrix,
                    lock,
                    staging=staging,
                    jobs=per_wheel_jobs,
                    env=env,
                    log_dir=log_dir,
                    retest=retest,
                    image=image,
                )
                for i in interps
            }
        failures, results = [], []
        for tag, future in futures.items():
            try:
                results.append(future.result())
            except BuildError as err:
                failures.append(f"{tag}: {err}")
        runner.check_interrupted()
        if failures:
            raise BuildError(
                f"{len(failures)} of {len(interps)} wheels failed; dist/ left unchanged",
                why="\n" + "\n".join(failures),
            )
        published = publish.publish([r.wheel for r in results], dist)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary(results, dist, core_seconds, time.monotonic() - start, target.release_policy)
    return published
