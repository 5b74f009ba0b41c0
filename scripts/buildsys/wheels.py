"""`nox -s wheels` on the host: core once, then per Python build, repair, test, publish."""

from __future__ import annotations

import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from . import elfinfo, matrix, proc, publish, repair, wheeltest
from .core import CoreBuild, build_core
from .errors import BuildError
from .project import BUILD_DIR, source_date_epoch
from .toolchain import Interpreter, find_interpreters, find_nvcc
from .wheelbuild import build_env, build_wheel
from .wheeltest import TestCounts, test_wheel


@dataclass(frozen=True)
class WheelResult:
    interp: Interpreter
    wheel: Path
    policy: str
    why_not_release: str | None
    size_bytes: int
    tests: TestCounts
    seconds: float


def choose_target(bm: matrix.BuildMatrix, name: str, nvcc: Path | None) -> matrix.Target:
    if name != matrix.AUTO:
        return bm.target(name)
    target = bm.default_target(cuda_available=nvcc is not None)
    if nvcc is None:
        proc.say(
            "core",
            "nvcc not found ($CUDACXX, PATH, /usr/local/cuda): building CPU-only "
            f"wheels ({target.name}); install CUDA for GPU kernels",
            style="yellow",
        )
    return target


def choose_interpreters(bm: matrix.BuildMatrix, requested: list[str]) -> list[Interpreter]:
    versions = requested or list(bm.python_versions)
    found, missing = find_interpreters(versions)
    if missing and requested:
        raise BuildError(
            f"Python {', '.join(missing)} not found on this machine",
            why="looked for pythonX.Y on PATH, under $PYENV_ROOT/versions and /opt/python",
            fix="install it (e.g. `pyenv install 3.12`) or leave out --python to build "
            "for every version found",
        )
    for version in missing:
        proc.say(
            "python",
            f"CPython {version} not found: no {version} wheel this run (install it to build one)",
            style="yellow",
        )
    if not found:
        raise BuildError(
            f"none of CPython {', '.join(versions)} was found",
            fix="install one of them, e.g. `pyenv install 3.11`",
        )
    return found


def check_wheel(wheel: Path, *, budget_mib: float | None, work_dir: Path) -> None:
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
    if problems:
        raise BuildError(
            f"{wheel.name} failed its checks",
            why="\n    ".join(["", *problems]),
            fix="remove the offending dependency, or raise the budget knowingly",
        )


def one_python(
    interp: Interpreter,
    core: CoreBuild,
    bm: matrix.BuildMatrix,
    *,
    staging: Path,
    jobs: int,
    env: dict[str, str],
    log_dir: Path,
    retest: bool,
) -> WheelResult:
    start = time.monotonic()
    tag = interp.tag
    log = log_dir / f"wheel-{tag}.log"
    work = staging / tag
    proc.say(tag, f"building with Python {interp.full_version} ({interp.path})")
    raw = build_wheel(interp, core, out_dir=work / "raw", jobs=jobs, env=env, log=log)
    fixed = repair.repair(
        raw,
        out_dir=work / "repaired",
        exclude=bm.repair_exclude,
        release=bm.manylinux,
        arch=core.target.arch,
        log=log,
    )
    proc.say(tag, f"repaired: {fixed.wheel.name}")
    budget = bm.size_budget_mib.get("cuda" if core.target.is_cuda else "cpu")
    check_wheel(fixed.wheel, budget_mib=budget, work_dir=work)
    # Test results are cached by content, like Bazel's: a byte-identical wheel that
    # already passed the same tests on the same interpreter is not tested again.
    key = wheeltest.result_key(fixed.wheel, interp)
    cached = None if retest else wheeltest.cached_result(key)
    if cached is not None:
        counts = cached
        proc.say(
            tag,
            f"identical wheel and tests already passed in a fresh venv: {counts} "
            "(--retest runs them again)",
            style="green",
        )
    else:
        counts = test_wheel(fixed.wheel, interp, work_dir=work / "test", log=log)
        wheeltest.remember_pass(key, counts)
        proc.say(tag, f"tested in a fresh venv: {counts}", style="green")
    return WheelResult(
        interp=interp,
        wheel=fixed.wheel,
        policy=fixed.policy,
        why_not_release=fixed.why_not_release,
        size_bytes=fixed.wheel.stat().st_size,
        tests=counts,
        seconds=time.monotonic() - start,
    )


def summary(results: list[WheelResult], dist: Path, core_seconds: float, total: float) -> None:
    table = Table(title=f"wheels in {dist}", show_lines=False)
    for column in ("python", "wheel", "policy", "size", "engine tests", "time"):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.interp.full_version,
            r.wheel.name,
            r.policy,
            f"{r.size_bytes / 2**20:.2f} MiB",
            str(r.tests),
            f"{r.seconds:.1f}s",
        )
    proc.console.print(table)
    policies = {r.policy for r in results}
    whys = {r.why_not_release for r in results if r.why_not_release}
    for why in sorted(whys):
        proc.console.print(
            f"policy {', '.join(sorted(policies))}, not manylinux2014: {why}",
            markup=False,
            style="yellow",
        )
    proc.console.print(f"core {core_seconds:.1f}s, total {total:.1f}s")


def _core(
    target: matrix.Target,
    nvcc: Path | None,
    *,
    jobs: int,
    log_dir: Path,
    profile: str | None = None,
) -> CoreBuild:
    start = time.monotonic()
    proc.say("core", f"target {target.name}: {target.description}")
    core = build_core(target, nvcc=nvcc, jobs=jobs, log_dir=log_dir, profile=profile)
    proc.say("core", f"built in {time.monotonic() - start:.1f}s -> {core.prefix}")
    return core


def _env() -> dict[str, str]:
    env = {"SOURCE_DATE_EPOCH": source_date_epoch()}
    os.environ.update(env)
    return env


def build_for_running_python(
    *, out: Path, target_name: str, jobs: int | None, profile: str | None = None
) -> Path:
    """Core plus an unrepaired wheel for the interpreter running this (nox -s tests)."""
    bm = matrix.load()
    jobs = jobs or os.cpu_count() or 1
    nvcc = find_nvcc()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    interp = choose_interpreters(bm, [version])[0]
    env = _env()
    target = choose_target(bm, target_name, nvcc)
    core = _core(target, nvcc, jobs=jobs, log_dir=BUILD_DIR / "logs", profile=profile)
    shutil.rmtree(out, ignore_errors=True)
    wheel = build_wheel(
        interp,
        core,
        out_dir=out,
        jobs=jobs,
        env=env,
        log=BUILD_DIR / "logs" / f"wheel-{interp.tag}.log",
    )
    proc.say(interp.tag, f"built {wheel}")
    return wheel


def run(
    *,
    pythons: list[str],
    target_name: str,
    jobs: int | None,
    dist: Path | None = None,
    retest: bool = False,
    profile: str | None = None,
) -> list[Path]:
    start = time.monotonic()
    bm = matrix.load()
    dist = dist or bm.dist_dir
    jobs = jobs or os.cpu_count() or 1
    log_dir = BUILD_DIR / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)
    nvcc = find_nvcc()
    target = choose_target(bm, target_name, nvcc)
    interps = choose_interpreters(bm, pythons)
    proc.say(
        "host",
        "no container engine in use: building on this host "
        f"for {', '.join(i.tag for i in interps)}",
    )
    env = _env()
    # The per-Python build envs need no compiler: set them up while the core compiles.
    with ThreadPoolExecutor(max_workers=len(interps)) as pool:
        envs = [pool.submit(build_env, i, log=log_dir / f"wheel-{i.tag}.log") for i in interps]
        core = _core(target, nvcc, jobs=jobs, log_dir=log_dir, profile=profile)
        for future in envs:
            future.result()
    core_seconds = time.monotonic() - start

    staging = BUILD_DIR / "staging" / target.name
    shutil.rmtree(staging, ignore_errors=True)
    workers = min(len(interps), jobs)
    per_wheel_jobs = max(1, jobs // workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            i.tag: pool.submit(
                one_python,
                i,
                core,
                bm,
                staging=staging,
                jobs=per_wheel_jobs,
                env=env,
                log_dir=log_dir,
                retest=retest,
            )
            for i in interps
        }
    failures, results = [], []
    for tag, future in futures.items():
        try:
            results.append(future.result())
        except BuildError as err:
            failures.append(f"{tag}: {err}")
    if failures:
        raise BuildError(
            f"{len(failures)} of {len(interps)} wheels failed; dist/ left unchanged",
            why="\n" + "\n".join(failures),
        )
    published = publish.publish([r.wheel for r in results], dist)
    summary(results, dist, core_seconds, time.monotonic() - start)
    return published
