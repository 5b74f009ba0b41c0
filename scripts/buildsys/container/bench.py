"""`nox -s bench -- containers`: the figures of docs/BENCHMARKS.md's Containers section.

Per image (the ones given, built FROM --base): the build time cold (no layer cache,
the base already imported) and with the layer cache warm (a forced rebuild that the
cache serves), its size; then the per-session overhead (`nox -s plan` in its container
against the host, best of five each) and, with --with-tests, `nox -s tests` wall time
in the container against the host.
"""

from __future__ import annotations

import sys
import time

from ..config import BuildMatrix, SourcesLock
from ..util import console, runner
from ..util.paths import Paths
from . import imagelock
from . import images as image_builds
from .engine import Engine


def _timed(cmd: list[str], paths: Paths, what: str, env: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    runner.call(
        cmd, what=what, cwd=paths.root, log=paths.build / "bench" / "containers.log", env=env
    )
    return time.monotonic() - start


def _nox(*args: str) -> list[str]:
    return [sys.executable, "-m", "nox", "--no-color", *args]


def run(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    engine: Engine,
    *,
    names: list[str],
    base: str,
    python: str,
    with_tests: bool,
) -> dict[str, float]:
    from rich.table import Table

    figures: dict[str, float] = {}
    table = Table(title=f"containers ({engine.describe()}, base {base})")
    for col in ("figure", "seconds / MiB"):
        table.add_column(col)
    for name in names:
        role, platform = name.split("-", 1)
        common = dict(roles=[role], platforms=[platform], base=base, python=python)
        start = time.monotonic()
        image_builds.build(paths, matrix, lock, engine, rebuild=True, no_cache=True, **common)
        cold = time.monotonic() - start
        start = time.monotonic()
        image_builds.build(paths, matrix, lock, engine, rebuild=True, **common)
        warm = time.monotonic() - start
        size = imagelock.read(paths.root)[name].size_mib
        figures |= {f"{name}_cold_s": cold, f"{name}_warm_s": warm, f"{name}_mib": size}
        table.add_row(f"{name}: build, cold (no layer cache)", f"{cold:.1f}")
        table.add_row(f"{name}: build, layer cache warm", f"{warm:.1f}")
        table.add_row(f"{name}: image size", f"{size:.0f}")
    image = names[0]
    plan_host = plan_box = float("inf")
    for _ in range(5):  # best of five: the overhead, not the machine's noise
        plan_host = min(
            plan_host,
            _timed(_nox("-s", "plan", "--", "--container", "never"), paths, "plan on the host"),
        )
        plan_box = min(
            plan_box,
            _timed(
                _nox("-s", "plan", "--", "--container", "always", "--image", image),
                paths,
                "plan in its container",
            ),
        )
    figures |= {"plan_host_s": plan_host, "plan_container_s": plan_box}
    figures["session_overhead_s"] = plan_box - plan_host
    table.add_row("nox -s plan on the host (best of 5)", f"{plan_host:.2f}")
    table.add_row(f"nox -s plan in {image} (best of 5)", f"{plan_box:.2f}")
    table.add_row("per-session container overhead (target < 3 s)", f"{plan_box - plan_host:.2f}")
    if with_tests:
        host = _timed(_nox("-s", "tests", "--", "--container", "never"), paths, "tests on the host")
        box = _timed(
            _nox("-s", "tests", "--", "--container", "always", "--image", image),
            paths,
            "tests in its container",
        )
        figures |= {"tests_host_s": host, "tests_container_s": box}
        table.add_row("nox -s tests on the host", f"{host:.1f}")
        table.add_row(f"nox -s tests in {image}", f"{box:.1f}")
    console.print(table)
    return figures
